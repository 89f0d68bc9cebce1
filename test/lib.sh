# test/lib.sh — shared shell functions of the test rig.
#
# Sourced by test/run.sh (the README's test command), test/demo.sh, benchmarks and
# every integration test.  It installs the dependencies, builds the extension into a
# private copy of PostgreSQL (so the system's installation is never touched by tests
# and parallel work trees never collide), starts throwaway clusters and the embedded
# Kafka broker, and guarantees that nothing it started outlives the script.
#
# PostgreSQL refuses to run as root; when the caller is root the servers run as the
# unprivileged role SE_USER, and everything they read is copied below SE_WORK.

SE_PG_MAJOR=${SE_PG_MAJOR:-15}
SE_USER=${SE_USER:-streamext_test}
SE_PKGS="postgresql-$SE_PG_MAJOR postgresql-server-dev-$SE_PG_MAJOR postgresql-$SE_PG_MAJOR-cron
         librdkafka-dev libzstd-dev kcat make gcc pkg-config procps psmisc python3
         prometheus prometheus-postgres-exporter curl"

se_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
se_die() { se_log "ERROR: $*"; exit 1; }

# libcurl: the webhooks of SQL alerts (src/monitor/alert_webhook.c)
SE_PKGS="$SE_PKGS libcurl4-openssl-dev"

# Install the Debian packages the project needs, asking apt only for missing ones.
se_install_deps() {
	local missing=() p
	for p in $SE_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return 0
	[ "$(id -u)" = 0 ] || se_die "missing packages: ${missing[*]} (run as root, or install them)"
	se_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || se_die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		se_die "apt-get install ${missing[*]} failed"
	# Debian's postgresql package may create and start a default cluster; tests never use it.
}

# Run a command as the unprivileged test role when we are root, else as ourselves.
se_as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$SE_USER" -- "$@"
	else
		"$@"
	fi
}

se_ensure_user() {
	[ "$(id -u)" = 0 ] || return 0
	id "$SE_USER" >/dev/null 2>&1 ||
		useradd --system --create-home --home-dir "/var/lib/$SE_USER" --shell /bin/bash "$SE_USER" ||
		se_die "cannot create user $SE_USER"
}

# se_prepare_work DIR: the work folder every server, broker and result lives in.
se_prepare_work() {
	SE_WORK=$1
	mkdir -p "$SE_WORK" || se_die "cannot create $SE_WORK"
	chmod 755 "$SE_WORK"
	SE_INST=$SE_WORK/install
	SE_BINDIR=$SE_INST/usr/lib/postgresql/$SE_PG_MAJOR/bin
	SE_TOOLS=$SE_WORK/tools
	export SE_WORK SE_INST SE_BINDIR SE_TOOLS SE_USER SE_PG_MAJOR
}

# Build the extension and the test tools, then install the extension into a private
# copy of PostgreSQL under $SE_INST.  PostgreSQL finds its share and lib folders
# relative to its binary, so this copy is a complete, relocated installation.
se_build_install() {
	local root=$1
	local pgbin
	pgbin=$(pg_config --bindir) || se_die "pg_config not found"
	make -C "$root" -s -j2 >"$SE_WORK/build.log" 2>&1 || { cat "$SE_WORK/build.log"; se_die "build failed"; }
	make -C "$root" -s tools >>"$SE_WORK/build.log" 2>&1 || { cat "$SE_WORK/build.log"; se_die "building test tools failed"; }
	rm -rf "$SE_INST"
	mkdir -p "$SE_INST"
	(cd / && tar -cf - "usr/lib/postgresql/$SE_PG_MAJOR" "usr/share/postgresql/$SE_PG_MAJOR") |
		tar -C "$SE_INST" -xf - || se_die "cannot copy PostgreSQL into $SE_INST"
	make -C "$root" -s install DESTDIR="$SE_INST" >>"$SE_WORK/build.log" 2>&1 ||
		{ cat "$SE_WORK/build.log"; se_die "install failed"; }
	# Tests run from a copy, readable by the test role wherever the clone lives.
	rm -rf "$SE_WORK/src"
	mkdir -p "$SE_WORK/src" "$SE_TOOLS"
	cp -r "$root/sql" "$root/expected" "$root/test" "$root/docs" "$SE_WORK/src/"
	[ -d "$root/test/tools/bin" ] && cp "$root"/test/tools/bin/* "$SE_TOOLS/" 2>/dev/null
	chmod -R a+rX "$SE_WORK"
	[ "$(id -u)" = 0 ] && chown -R "$SE_USER" "$SE_WORK"
	[ -x "$SE_BINDIR/postgres" ] || se_die "no postgres binary in $SE_BINDIR"
	SE_PG_REGRESS=$(dirname "$(pg_config --pgxs)")/../test/regress/pg_regress
	export SE_PG_REGRESS
}

# ---------------------------------------------------------------------------
# Used inside tests (running as the test role).
# ---------------------------------------------------------------------------

SE_PIDS=()          # brokers and other helpers this script started
SE_CLUSTERS=()      # data folders of clusters this script started

se_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# se_pg_initdb DIR: initdb DIR the way every test cluster is made.
se_pg_initdb() {
	"$SE_BINDIR/initdb" -D "$1" -A trust -U postgres --no-sync
}

# se_pg_init NAME [conf lines...]: initdb a cluster in $SE_WORK/pg/NAME (not started).  With
# SE_PG_TEMPLATE (a cluster test/run.sh made once with se_pg_initdb and never started) it is a
# copy of that: the same files initdb would write, in a tenth of the time (only the system
# identifier, which nothing but replication compares, is the same in every copy).
se_pg_init() {
	local name=$1; shift
	local dir=$SE_WORK/pg/$name port
	port=$(se_free_port)
	rm -rf "$dir"
	mkdir -p "$SE_WORK/pg"
	if [ -n "${SE_PG_TEMPLATE:-}" ] && [ -f "$SE_PG_TEMPLATE/PG_VERSION" ]; then
		cp -a "$SE_PG_TEMPLATE" "$dir" >"$SE_WORK/pg/$name.initdb.log" 2>&1
	else
		se_pg_initdb "$dir" >"$SE_WORK/pg/$name.initdb.log" 2>&1
	fi || { cat "$SE_WORK/pg/$name.initdb.log" >&2; return 1; }
	cat >>"$dir/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SE_WORK/pg'
shared_preload_libraries = 'streamext,pg_cron'
cron.database_name = 'postgres'
fsync = off
max_worker_processes = 32
log_line_prefix = '%m [%p] %b '
log_min_messages = info
CONF
	local line
	for line in "$@"; do echo "$line" >>"$dir/postgresql.conf"; done
	echo "$port" >"$dir/.se_port"
	return 0
}

se_pg_port() { cat "$SE_WORK/pg/$1/.se_port"; }
se_pg_dir() { echo "$SE_WORK/pg/$1"; }

se_pg_start() {
	local name=$1 dir=$SE_WORK/pg/$1
	[ -d "$dir" ] || se_pg_init "$@" || return 1
	SE_CLUSTERS+=("$dir")
	"$SE_BINDIR/pg_ctl" -D "$dir" -l "$dir.log" -w -t 60 start >/dev/null ||
		{ tail -20 "$dir.log" >&2; return 1; }
}

se_pg_stop() {
	local mode=${2:-fast}
	"$SE_BINDIR/pg_ctl" -D "$SE_WORK/pg/$1" -m "$mode" -w -t 60 stop >/dev/null
}

# se_psql NAME [psql args...]: quiet, unaligned, stop on error, database postgres.
se_psql() {
	local name=$1; shift
	"$SE_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SE_WORK/pg" -p "$(se_pg_port "$name")" \
		-U postgres -d "${SE_DB:-postgres}" "$@"
}

# se_broker_start ARGS...: start the embedded Kafka broker (test/tools/se-broker) and
# export SE_BOOTSTRAP (its bootstrap list) and SE_BROKER_PID.  ARGS are se-broker's.
# Its stdin is a FIFO held open by this shell, for se_broker_cmd.
se_broker_start() {
	local out=$SE_WORK/broker.$$.$RANDOM.out i
	mkfifo "$out.ctl" || return 1
	exec {SE_BROKER_CTL}<>"$out.ctl"   # read-write: never blocks, whoever opens first
	SE_BROKER_OUT=$out
	"$SE_TOOLS/se-broker" "$@" >"$out" 2>"$out.err" <"$out.ctl" {SE_BROKER_CTL}>&- &
	SE_BROKER_PID=$!
	SE_PIDS+=("$SE_BROKER_PID")
	for i in $(seq 1 300); do
		# (the broker may not have created $out yet: under set -e a failing head would end the test)
		SE_BOOTSTRAP=$(head -n1 "$out" 2>/dev/null || true)
		[ -n "$SE_BOOTSTRAP" ] && break
		kill -0 "$SE_BROKER_PID" 2>/dev/null || { cat "$out.err" >&2; return 1; }
		sleep 0.1
	done
	[ -n "$SE_BOOTSTRAP" ] || { se_log "broker printed no bootstrap list"; return 1; }
	export SE_BOOTSTRAP SE_BROKER_PID
}

# se_broker_cmd COMMAND...: send a command (down all|ID, up all|ID, topic NAME PARTITIONS,
# leader TOPIC PARTITION ID) to the broker se_broker_start started last; print its answer
# and succeed if it is "ok".
se_broker_cmd() {
	local want answer i
	want=$(($(wc -l <"$SE_BROKER_OUT") + 1))
	echo "$*" >&"$SE_BROKER_CTL"
	for ((i = 0; i < 100; i++)); do
		answer=$(sed -n "${want}p" "$SE_BROKER_OUT")
		[ -n "$answer" ] && break
		sleep 0.05
	done
	echo "${answer:-no answer}"
	[ "$answer" = ok ]
}

# Stop everything this script started: brokers, then clusters (immediately; tests
# that need a clean shutdown do it themselves).
se_cleanup() {
	local p d
	# Runs as an EXIT trap under set -e: a kill of an already-gone process must not fail it.
	for p in "${SE_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for d in "${SE_CLUSTERS[@]}"; do
		[ -f "$d/postmaster.pid" ] && "$SE_BINDIR/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
	done
	for p in "${SE_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	return 0
}

# Last resort, run by the runner after every test: stop every cluster and process
# that lives under the work folder, even if the test itself was killed.
se_sweep() {
	local work=$1 d
	for d in "$work"/pg/*/ "$work"/*/pg/*/ "$work"/regress/tmp_check/data/; do
		[ -f "$d/postmaster.pid" ] || continue
		se_as_user "$SE_BINDIR/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1
	done
	pkill -KILL -f -- "$work/" 2>/dev/null
	sleep 0.2
	return 0
}

# se_wait_for NAME SECONDS SQL: poll until SQL returns 't' on cluster NAME.
se_wait_for() {
	local name=$1 secs=$2 sql=$3 i
	for ((i = 0; i < secs * 5; i++)); do
		[ "$(se_psql "$name" -c "$sql" 2>/dev/null)" = t ] && return 0
		sleep 0.2
	done
	return 1
}

# Assertion helpers: print what went wrong and fail the test.
se_assert_eq() {
	local what=$1 expected=$2 actual=$3
	if [ "$expected" != "$actual" ]; then
		se_log "FAIL: $what: expected '$expected', got '$actual'"
		exit 1
	fi
	se_log "ok: $what = $actual"
}

# se_isolation_specs NODE PREFIX COUNT: run PostgreSQL's isolationtester on every
# test/isolation/PREFIX*.spec against NODE (database postgres), compare each output with its
# .out beside the spec, and check that COUNT specs ran.  The tester synchronises the sessions
# itself (it waits until a step is seen blocked in pg_locks): no sleeps.
se_isolation_specs() {
	local node=$1 prefix=$2 count=$3 iso conn spec name n=0
	iso=$(dirname "$(pg_config --pgxs)")/../test/isolation/isolationtester
	[ -x "$iso" ] || se_die "isolationtester not found at $iso"
	conn="host=$SE_WORK/pg port=$(se_pg_port "$node") user=postgres dbname=postgres"
	for spec in "$SE_SRC"/test/isolation/"$prefix"*.spec; do
		name=$(basename "$spec" .spec)
		timeout 300 "$iso" "$conn" <"$spec" >"$SE_WORK/$name.out" 2>&1 ||
			{ cat "$SE_WORK/$name.out"; se_die "$name: isolationtester failed"; }
		diff -u "${spec%.spec}.out" "$SE_WORK/$name.out" || se_die "$name: output differs"
		se_log "ok: $name"
		n=$((n + 1))
	done
	se_assert_eq "specs run" "$count" "$n"
}

# Start of every integration test: stop on errors, clean up on any exit.
se_test_begin() {
	set -eo pipefail
	trap se_cleanup EXIT
	trap 'exit 130' INT TERM
	[ -n "${SE_WORK:-}" ] || se_die "run integration tests through test/run.sh (SE_WORK unset)"
}
