/*
 * se-broker.c — the test rig's embedded Kafka broker.
 *
 * No Kafka broker exists as a Debian package, so tests run against librdkafka's
 * mock cluster (rdkafka_mock.h): real Kafka-protocol listeners on 127.0.0.1 that
 * handle produce, fetch, metadata, consumer groups and offset commits.  This
 * program only wraps it in a process the harness can start, read the bootstrap
 * list from, drive into outages, and stop:
 *
 *   se-broker [--brokers N] [--topic NAME:PARTITIONS[:REPLICATION]]...
 *
 * The first line on stdout is the bootstrap list.  The broker runs until
 * SIGTERM or SIGINT.  SIGUSR1 takes every broker down, SIGUSR2 brings them back.
 * While stdin is open, lines on it are commands (see usage()), each answered by
 * one line "ok" or "error ..." on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64

/* Signals only set these; the main loop acts on them (librdkafka is not async-signal-safe). */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t down_requested;
static volatile sig_atomic_t up_requested;

static rd_kafka_mock_cluster_t *mcluster;
static int broker_count = 1;

static void
usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: se-broker [--brokers N] [--topic NAME:PARTITIONS[:REPLICATION]]... [--help]\n"
	    "\n"
	    "Runs librdkafka's mock Kafka cluster with N brokers (ids 1..N, default 1) on\n"
	    "127.0.0.1 and prints its bootstrap list (host:port,...) as the first line on\n"
	    "stdout.  Topics given with --topic are created at start (replication default 1,\n"
	    "at most N, though the mock lists every broker as a replica); other topics are\n"
	    "auto-created with 4 partitions when a client first asks for them.  Runs until\n"
	    "SIGTERM or SIGINT, then exits 0.\n"
	    "\n"
	    "Outages:  SIGUSR1  take all brokers down (connections closed, new ones refused)\n"
	    "          SIGUSR2  bring all brokers up again\n"
	    "Commands on stdin (one per line, each answered by \"ok\" or \"error ...\"):\n"
	    "          down all|ID       take all brokers or broker ID down\n"
	    "          up all|ID         bring them up again\n"
	    "          topic NAME PARTITIONS [REPLICATION]   create a topic\n"
	    "          leader TOPIC PARTITION ID|-1   move a partition's leadership (-1: no leader);\n"
	    "                            creates the topic if it does not exist\n"
	    "\n"
	    "Limits of the mock: each partition keeps only about 5 MiB or 100,000 message\n"
	    "sets (older ones are evicted); data lives in memory and is lost on exit; there\n"
	    "is no CreateTopics admin API (use --topic or the topic command).\n");
}

static void
on_signal(int sig)
{
	switch (sig)
	{
		case SIGUSR1:
			down_requested = 1;
			break;
		case SIGUSR2:
			up_requested = 1;
			break;
		default:
			stop_requested = 1;
			break;
	}
}

/* Parse a positive integer; returns -1 if s is not one. */
static int
parse_int(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v <= 0 || v > 100000)
		return -1;
	return (int)v;
}

/* Create a topic; on failure write the reason into err (size errsz) and return -1. */
static int
create_topic(const char *name, int partitions, int replication, char *err, size_t errsz)
{
	rd_kafka_resp_err_t rc;

	if (name[0] == '\0' || partitions <= 0 || replication <= 0)
	{
		snprintf(err, errsz, "invalid topic specification");
		return -1;
	}
	if (replication > broker_count)
	{
		snprintf(err, errsz, "replication %d exceeds the %d broker(s)", replication, broker_count);
		return -1;
	}
	rc = rd_kafka_mock_topic_create(mcluster, name, partitions, replication);
	if (rc)
	{
		snprintf(err, errsz, "cannot create topic %s: %s", name, rd_kafka_err2str(rc));
		return -1;
	}
	return 0;
}

/* Take broker id (or all when id < 0) down or up. */
static int
set_brokers(int id, int up, char *err, size_t errsz)
{
	int first = id < 0 ? 1 : id;
	int last = id < 0 ? broker_count : id;
	int b;

	if (id == 0 || id > broker_count)
	{
		snprintf(err, errsz, "no broker %d (ids are 1..%d)", id, broker_count);
		return -1;
	}
	for (b = first; b <= last; b++)
	{
		rd_kafka_resp_err_t rc = up ? rd_kafka_mock_broker_set_up(mcluster, b)
		                            : rd_kafka_mock_broker_set_down(mcluster, b);

		if (rc)
		{
			snprintf(err, errsz, "broker %d: %s", b, rd_kafka_err2str(rc));
			return -1;
		}
	}
	if (id < 0)
		fprintf(stderr, "se-broker: all brokers %s\n", up ? "up" : "down");
	else
		fprintf(stderr, "se-broker: broker %d %s\n", id, up ? "up" : "down");
	return 0;
}

/* Execute one command line from stdin and answer it on stdout. */
static void
run_command(char *line)
{
	char err[256] = "";
	char *words[4] = {0};
	int n = 0;
	int rc = -1;
	int rc_ok = 0;
	char *tok;
	char *save = NULL;

	/* n counts every word, so that a line with too many is rejected below. */
	for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save))
		if (n++ < 4)
			words[n - 1] = tok;
	if (n == 0)
		return; /* blank lines get no answer */

	if ((strcmp(words[0], "down") == 0 || strcmp(words[0], "up") == 0) && n == 2)
	{
		int up = words[0][0] == 'u';
		int id = strcmp(words[1], "all") == 0 ? -1 : parse_int(words[1]);

		if (id == -1 && strcmp(words[1], "all") != 0)
			snprintf(err, sizeof(err), "invalid broker id \"%s\"", words[1]);
		else
			rc = set_brokers(id, up, err, sizeof(err));
	}
	else if (strcmp(words[0], "topic") == 0 && (n == 3 || n == 4))
	{
		int parts = parse_int(words[2]);
		int repl = n == 4 ? parse_int(words[3]) : 1;

		rc = create_topic(words[1], parts, repl, err, sizeof(err));
	}
	else if (strcmp(words[0], "leader") == 0 && n == 4)
	{
		int part = strcmp(words[2], "0") == 0 ? 0 : parse_int(words[2]);
		int id = strcmp(words[3], "-1") == 0 ? -1 : parse_int(words[3]);

		if (part < 0)
			snprintf(err, sizeof(err), "invalid partition \"%s\"", words[2]);
		else if (id == 0 || id > broker_count || (id < 0 && strcmp(words[3], "-1") != 0))
			snprintf(err, sizeof(err), "no broker %s (ids are 1..%d, or -1)", words[3],
			         broker_count);
		else
		{
			/* Note: the mock creates the topic if it does not exist. */
			rd_kafka_resp_err_t lrc =
			    rd_kafka_mock_partition_set_leader(mcluster, words[1], part, id);

			if (lrc)
				snprintf(err, sizeof(err), "%s", rd_kafka_err2str(lrc));
			else
				rc_ok = 1;
		}
		rc = rc_ok ? 0 : -1;
	}
	else
		snprintf(err, sizeof(err),
		         "unknown command (use: down all|ID, up all|ID, topic NAME PARTITIONS "
		         "[REPLICATION], leader TOPIC PARTITION ID)");

	if (rc == 0)
		printf("ok\n");
	else
		printf("error %s\n", err);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
	                                     {"topic", required_argument, NULL, 't'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	char *topics[MAX_TOPICS];
	int ntopics = 0;
	int c;
	int i;
	char errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	struct sigaction sa;
	sigset_t sigs;
	int stdin_open = 1;
	char buf[4096];
	size_t buflen = 0;

	/*
	 * The mock cluster builds every fetch response in a fresh large buffer;
	 * keep freed memory instead of mapping (and faulting in) new pages per
	 * response, so the broker costs the machine's two cores less.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);

	while ((c = getopt_long(argc, argv, "b:t:h", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				broker_count = parse_int(optarg);
				if (broker_count < 1 || broker_count > 64)
				{
					fprintf(stderr, "se-broker: --brokers must be 1..64\n");
					return 2;
				}
				break;
			case 't':
				if (ntopics == MAX_TOPICS)
				{
					fprintf(stderr, "se-broker: too many --topic options\n");
					return 2;
				}
				topics[ntopics++] = optarg;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "se-broker: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/*
	 * The mock cluster needs an rd_kafka_t for its bookkeeping; an idle producer
	 * with no bootstrap servers serves.  Keep its logging to real problems.
	 */
	/*
	 * Block our signals while librdkafka starts its threads (they inherit the
	 * mask), so that they are always delivered to the main thread and interrupt
	 * its poll() at once.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "se-broker: %s\n", errstr);
		return 1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk)
	{
		fprintf(stderr, "se-broker: cannot create librdkafka handle: %s\n", errstr);
		return 1;
	}
	mcluster = rd_kafka_mock_cluster_new(rk, broker_count);
	if (!mcluster)
	{
		fprintf(stderr, "se-broker: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}

	for (i = 0; i < ntopics; i++)
	{
		char *spec = strdup(topics[i]); /* not argv itself: ps shows argv */
		char *p1 = spec ? strchr(spec, ':') : NULL;
		char *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
		int parts, repl = 1;

		if (!p1)
		{
			fprintf(stderr, "se-broker: --topic needs NAME:PARTITIONS[:REPLICATION], got \"%s\"\n",
			        topics[i]);
			return 2;
		}
		*p1 = '\0';
		if (p2)
		{
			*p2 = '\0';
			repl = parse_int(p2 + 1);
		}
		parts = parse_int(p1 + 1);
		if (create_topic(spec, parts, repl, errstr, sizeof(errstr)) != 0)
		{
			fprintf(stderr, "se-broker: --topic %s: %s\n", topics[i], errstr);
			return 2;
		}
		free(spec);
	}

	/* No SA_RESTART: a signal must interrupt poll() so the loop reacts at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);

	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mcluster));
	fflush(stdout);
	fprintf(stderr, "se-broker: %d broker(s) at %s\n", broker_count,
	        rd_kafka_mock_cluster_bootstraps(mcluster));

	while (!stop_requested)
	{
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};

		if (down_requested)
		{
			down_requested = 0;
			set_brokers(-1, 0, errstr, sizeof(errstr));
		}
		if (up_requested)
		{
			up_requested = 0;
			set_brokers(-1, 1, errstr, sizeof(errstr));
		}

		/* At EOF on stdin, keep running: just wait for signals. */
		if (poll(&pfd, stdin_open ? 1 : 0, 200) > 0 && stdin_open)
		{
			ssize_t n = read(STDIN_FILENO, buf + buflen, sizeof(buf) - 1 - buflen);
			char *nl;

			if (n <= 0)
			{
				if (n == 0 || (errno != EINTR && errno != EAGAIN))
				{
					stdin_open = 0;
					fprintf(stderr, "se-broker: end of commands on stdin; running until SIGTERM\n");
				}
				continue;
			}
			buflen += (size_t)n;
			buf[buflen] = '\0';
			while ((nl = memchr(buf, '\n', buflen)) != NULL)
			{
				size_t used = (size_t)(nl - buf) + 1;

				*nl = '\0';
				run_command(buf);
				memmove(buf, nl + 1, buflen - used);
				buflen -= used;
				buf[buflen] = '\0';
			}
			if (buflen == sizeof(buf) - 1)
			{
				/* A line longer than the buffer is no command; drop it. */
				printf("error command too long\n");
				fflush(stdout);
				buflen = 0;
			}
		}
	}

	/*
	 * rd_kafka_mock_cluster_destroy() can take a second (the mock thread's poll
	 * timeout) once clients have connected.  Everything lives in this process's
	 * memory and the kernel closes the sockets, so exit at once instead: tests
	 * stop the broker often and must not wait for it.
	 */
	fprintf(stderr, "se-broker: stopping\n");
	fflush(stdout);
	fflush(stderr);
	_exit(0);
}
