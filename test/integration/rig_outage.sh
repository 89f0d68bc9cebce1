#!/usr/bin/env bash
# Proves the broker's outage control: SIGUSR1 takes the brokers down (produce and metadata
# requests fail), SIGUSR2 brings them back (produce succeeds, nothing from before is lost);
# the same through stdin commands, also for one of two brokers and moving partition leadership;
# and se-broker exits 0 within 2 s of SIGTERM, also after stdin reached EOF.
. "$SE_LIB"; se_test_begin

produce() { "$SE_TOOLS/se-produce" --brokers "$1" --topic trucks "${@:2}" 2>>"$SE_WORK/produce.err"; }
count() { kcat -C -b "$1" -t trucks -e -q -f '%o\n' | wc -l; }
now_ms() { date +%s%3N; }

# --- signals -------------------------------------------------------------------------
se_broker_start --brokers 1 --topic trucks:2
produce "$SE_BOOTSTRAP" --count 100 --seed 1
se_assert_eq "messages before the outage" 100 "$(count "$SE_BOOTSTRAP")"

kill -USR1 "$SE_BROKER_PID"
sleep 0.3
if produce "$SE_BOOTSTRAP" --count 10 --seed 2 --timeout-ms 1500; then
	se_die "produce succeeded while the broker was down"
fi
grep -q "10 of 10 messages failed" "$SE_WORK/produce.err" || se_die "no delivery failure reported"
se_log "ok: produce fails while down"
if kcat -L -b "$SE_BOOTSTRAP" -m 1 >/dev/null 2>&1; then
	se_die "metadata request succeeded while the broker was down"
fi
se_log "ok: metadata request fails while down"

kill -USR2 "$SE_BROKER_PID"
produce "$SE_BOOTSTRAP" --count 100 --seed 3 --timeout-ms 20000
se_assert_eq "messages after the outage" 200 "$(count "$SE_BOOTSTRAP")"

# SIGTERM: exit status 0, within 2 s.  The broker is this shell's child, so wait works.
t0=$(now_ms)
kill -TERM "$SE_BROKER_PID"
rc=0
wait "$SE_BROKER_PID" || rc=$?
took=$(($(now_ms) - t0))
se_assert_eq "se-broker exit status on SIGTERM" 0 "$rc"
((took < 2000)) || se_die "se-broker took ${took} ms to exit on SIGTERM"
se_log "ok: exited in ${took} ms"

# --- stdin commands (through se_broker_cmd) ----------------------------------------------
se_broker_start --brokers 2 --topic trucks:4
bs=$SE_BOOTSTRAP
pid=$SE_BROKER_PID
[[ $bs =~ ^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$ ]] || se_die "bad bootstrap list '$bs'"

# command LINE EXPECTED: send one command and check (the start of) its one-line answer.
command() {
	se_assert_eq "answer to '$1'" "$2" "$(se_broker_cmd "$1" | cut -c1-${#2})"
}
command "topic extra 3" ok
command "topic extra2 3 3" "error replication 3 exceeds"
command "down 3" "error no broker 3"
command "frobnicate" "error unknown command"
se_assert_eq "partitions of the created topic" 3 \
	"$(kcat -L -b "$bs" -t extra -m 5 | grep -c 'partition [0-9]')"

command "down all" ok
if produce "$bs" --count 10 --timeout-ms 1500; then se_die "produce succeeded with all brokers down"; fi
command "up all" ok
produce "$bs" --count 100 --timeout-ms 20000
se_assert_eq "messages after 'up all'" 100 "$(count "$bs")"

# One broker down: partitions it leads fail, until their leadership moves to broker 1.
# (Messages for broker 1's partitions are delivered; se-produce reports the others.)
# The mock picks leaders at random: fix them first.
for p in 0 1; do command "leader trucks $p 1" ok; done
for p in 2 3; do command "leader trucks $p 2" ok; done
command "down 2" ok
: >"$SE_WORK/produce.err"
if produce "$bs" --count 40 --timeout-ms 1500; then se_die "produce succeeded with broker 2 down"; fi
failed=$(sed -nE 's/^se-produce: ([0-9]+) of 40 messages failed.*/\1/p' "$SE_WORK/produce.err")
((failed > 0 && failed < 40)) || se_die "expected some of 40 messages to fail, got '$failed'"
se_log "ok: $failed of 40 messages failed with broker 2 down"
for p in 0 1 2 3; do command "leader trucks $p 1" ok; done
command "leader trucks 0 7" "error no broker 7"
produce "$bs" --count 100 --timeout-ms 20000
se_assert_eq "messages after moving leadership to broker 1" $((200 + 40 - failed)) "$(count "$bs")"
command "up 2" ok

# EOF on stdin: the broker keeps serving until signalled.
exec {SE_BROKER_CTL}>&-
sleep 0.5
kill -0 "$pid" || se_die "se-broker exited at EOF on stdin"
grep -q "end of commands on stdin" "$SE_BROKER_OUT.err" || se_die "se-broker did not see EOF on stdin"
se_assert_eq "messages after stdin EOF" $((200 + 40 - failed)) "$(count "$bs")"
t0=$(now_ms)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
took=$(($(now_ms) - t0))
se_assert_eq "se-broker exit status on SIGTERM" 0 "$rc"
((took < 2000)) || se_die "se-broker took ${took} ms to exit on SIGTERM"
se_log "ok: exited in ${took} ms"
