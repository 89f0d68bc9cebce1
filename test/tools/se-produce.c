/*
 * se-produce.c — the test rig's producer of delivery-truck telemetry.
 *
 * Generates the seed's IoT example (one JSON object per event, key = device_id)
 * and sends it to Kafka, or prints it (--print) so that tests and benchmarks can
 * load exactly the same data with COPY as a baseline.  Everything derives from
 * --seed, so a run is reproducible: the same options give byte-identical
 * messages in the same order.  Knobs add what a real stream has: event-time
 * disorder, late events, exact duplicates and malformed messages.
 *
 * Message i (0-based) belongs to device i % devices and has the base event time
 * start + i * interval; disorder subtracts a random 0..D ms from it, a late
 * event subtracts L ms more.  A duplicate is a byte-identical re-send of one of
 * the last 1024 good messages; a malformed message is not valid JSON or has
 * wrongly typed fields.  Neither consumes a device sequence number.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define DUP_RING 1024 /* duplicates re-send one of the last DUP_RING good messages */
#define MSG_MAX  512

typedef struct Device
{
	int64_t seq;
	double lat, lon, speed, temperature, fuel, odometer;
	int driver, route;
} Device;

typedef struct Stored
{
	int len;
	int device;
	char data[MSG_MAX];
} Stored;

#define MAX_HEADERS 16

static uint64_t rng_state;
static char *header_names[MAX_HEADERS];
static char *header_values[MAX_HEADERS];
static int nheaders;
static int64_t delivered_ok;
static int64_t delivered_failed;
static char first_error[256];

/* splitmix64: small, fast and identical on every platform, unlike rand(). */
static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static double
rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static double
rng_range(double lo, double hi)
{
	return lo + (hi - lo) * rng_unit();
}

static void
usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: se-produce --brokers LIST --topic T --count N [options]\n"
	    "       se-produce --print --count N [options]        (write messages to stdout)\n"
	    "       se-produce --brokers LIST --topic T --stdin   (each stdin line is a message)\n"
	    "\n"
	    "Delivery-truck telemetry as JSON, one message per event, key = device_id:\n"
	    "  "
	    "{\"device_id\":\"truck-0042\",\"event_time\":\"2026-01-01T00:00:00.123456Z\",\"seq\":1,\n"
	    "   \"temperature\":4.3,\"speed\":61.2,\"lat\":52.520008,\"lon\":13.404954,\"fuel\":78.4,\n"
	    "   "
	    "\"odometer\":120345.6,\"engine_on\":true,\"driver_id\":\"driver-017\",\"route_id\":"
	    "\"route-05\"}\n"
	    "\n"
	    "  --seed S                 random seed (default 1); same seed and options = same "
	    "messages\n"
	    "  --devices N              number of trucks (default 10); message i is device i %% N\n"
	    "  --start TIMESTAMP        event time of message 0 (default 2026-01-01T00:00:00Z)\n"
	    "  --interval-ms M          event-time step between messages (default 100)\n"
	    "  --disorder-ms D          subtract a random 0..D ms from each event time (default 0)\n"
	    "  --late-fraction F        fraction of events made late by --late-ms (default 0)\n"
	    "  --late-ms L              how far behind late events are (default 60000)\n"
	    "  --duplicate-fraction F   fraction of messages that re-send an earlier message exactly\n"
	    "  --malformed-fraction F   fraction of messages that are invalid JSON or wrongly typed\n"
	    "  --rate R                 messages per second (default 0 = as fast as possible)\n"
	    "  --partition P            produce to partition P (default: by key)\n"
	    "  --timeout-ms T           message.timeout.ms: give up on a message after T ms (default "
	    "30000)\n"
	    "  -X PROP=VALUE            any librdkafka producer property (repeatable)\n"
	    "  -H, --header NAME=VALUE  add this Kafka header to every message (repeatable, at most "
	    "16)\n"
	    "  --stdin                  produce each stdin line as one message (no key), no "
	    "generation\n"
	    "  --key-delimiter C        with --stdin: the text before the first C is the key\n"
	    "  --print                  write the messages to stdout, one per line, instead of "
	    "producing\n"
	    "\n"
	    "Waits for every delivery report; exits 1 if any message failed.  Prints on stderr:\n"
	    "  produced N (good G, duplicates D, late L, malformed M)\n"
	    "where N = G + D + M and the late events are counted among the good ones.\n");
}

static void
die(const char *msg)
{
	fprintf(stderr, "se-produce: %s\n", msg);
	exit(2);
}

static double
parse_double(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
	{
		fprintf(stderr, "se-produce: invalid value \"%s\" for --%s (expected %g..%g)\n", s, opt, lo,
		        hi);
		exit(2);
	}
	return v;
}

/* Parse YYYY-MM-DD[THH:MM:SS[.ffffff]][Z] (UTC) into microseconds since the epoch. */
static int64_t
parse_timestamp(const char *s)
{
	struct tm tm;
	int n = 0;
	int64_t usec = 0;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3)
		goto bad;
	p = s + n;
	if (*p == 'T' || *p == ' ')
	{
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 3)
			goto bad;
		p += 1 + n;
		if (*p == '.')
		{
			int digits = 0;

			for (p++; isdigit((unsigned char)*p); p++, digits++)
				if (digits < 6)
					usec = usec * 10 + (*p - '0');
			if (digits == 0)
				goto bad;
			for (; digits < 6; digits++)
				usec *= 10;
		}
	}
	if (*p == 'Z')
		p++;
	if (*p != '\0')
		goto bad;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + usec;
bad:
	fprintf(stderr, "se-produce: invalid --start \"%s\" (expected e.g. 2026-01-01T00:00:00Z)\n", s);
	exit(2);
}

/* Format microseconds since the epoch as 2026-01-01T00:00:00.123456Z. */
static void
format_time(int64_t us, char *out, size_t outsz)
{
	time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	int frac = (int)(us - (int64_t)secs * 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void
device_init(Device *d, int id)
{
	/* Trucks start spread over a region around Berlin with their own driver and route. */
	d->seq = 0;
	d->lat = rng_range(52.3, 52.7);
	d->lon = rng_range(13.1, 13.7);
	d->speed = rng_range(0, 90);
	d->temperature = rng_range(2, 8);
	d->fuel = rng_range(40, 100);
	d->odometer = rng_range(10000, 300000);
	d->driver = 1 + id % 97;
	d->route = 1 + (int)(rng_next() % 20);
}

/* Advance a truck's state by one reading: a bounded random walk. */
static void
device_step(Device *d)
{
	d->speed += rng_range(-8, 8);
	if (d->speed < 0 || rng_unit() < 0.02)
		d->speed = 0; /* stopped at a light or a delivery */
	if (d->speed > 120)
		d->speed = 120;
	d->lat += rng_range(-0.0005, 0.0005) * (d->speed / 60 + 0.1);
	d->lon += rng_range(-0.0005, 0.0005) * (d->speed / 60 + 0.1);
	d->temperature += rng_range(-0.3, 0.3);
	if (d->temperature < -5 || d->temperature > 12)
		d->temperature = 4; /* the cooling unit caught up */
	d->fuel -= d->speed * 0.00005;
	if (d->fuel < 5)
		d->fuel = 100; /* refuelled */
	d->odometer += d->speed / 36.0;
	d->seq++;
}

/* Write one good event into out; returns its length. */
static int
format_event(char *out, int dev_id, Device *d, int64_t event_us)
{
	char ts[64];

	format_time(event_us, ts, sizeof(ts));
	return snprintf(out, MSG_MAX,
	                "{\"device_id\":\"truck-%04d\",\"event_time\":\"%s\",\"seq\":%" PRId64 ","
	                "\"temperature\":%.1f,\"speed\":%.1f,\"lat\":%.6f,\"lon\":%.6f,\"fuel\":%.1f,"
	                "\"odometer\":%.1f,\"engine_on\":%s,\"driver_id\":\"driver-%03d\",\"route_id\":"
	                "\"route-%02d\"}",
	                dev_id, ts, d->seq, d->temperature, d->speed, d->lat, d->lon, d->fuel,
	                d->odometer, d->speed > 0 || rng_unit() < 0.3 ? "true" : "false", d->driver,
	                d->route);
}

/* Write one malformed message: several kinds, so decoders see each. */
static int
format_malformed(char *out, int dev_id, int64_t event_us)
{
	char ts[64];

	format_time(event_us, ts, sizeof(ts));
	switch (rng_next() % 5)
	{
		case 0: /* truncated JSON */
			return snprintf(out, MSG_MAX,
			                "{\"device_id\":\"truck-%04d\",\"event_time\":\"%s\",\"temperature\":4",
			                dev_id, ts);
		case 1: /* wrong type for a number */
			return snprintf(out, MSG_MAX,
			                "{\"device_id\":\"truck-%04d\",\"event_time\":\"%s\",\"seq\":-1,"
			                "\"temperature\":\"hot\","
			                "\"speed\":\"fast\",\"engine_on\":\"maybe\"}",
			                dev_id, ts);
		case 2: /* unparseable timestamp */
			return snprintf(out, MSG_MAX,
			                "{\"device_id\":\"truck-%04d\",\"event_time\":\"not-a-time\",\"seq\":-"
			                "1,\"temperature\":4.0}",
			                dev_id);
		case 3: /* not JSON at all */
			return snprintf(out, MSG_MAX, "garbage from truck-%04d at %s", dev_id, ts);
		default: /* JSON, but not an object */
			return snprintf(out, MSG_MAX, "[\"truck-%04d\",\"%s\",4.0]", dev_id, ts);
	}
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err)
	{
		if (delivered_failed++ == 0)
			snprintf(first_error, sizeof(first_error), "%s", rd_kafka_err2str(m->err));
	}
	else
		delivered_ok++;
}

static void
set_conf(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		fprintf(stderr, "se-produce: %s=%s: %s\n", name, value, errstr);
		exit(2);
	}
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Queue one message, waiting while librdkafka's queue is full. */
static void
produce_one(rd_kafka_t *rk, const char *topic, int32_t partition, const char *data, size_t len,
            const char *key, size_t keylen)
{
	for (;;)
	{
		rd_kafka_resp_err_t err;
		rd_kafka_headers_t *hdrs = NULL;
		int i;

		if (nheaders > 0)
		{
			/* librdkafka takes ownership of the headers only when produce succeeds. */
			hdrs = rd_kafka_headers_new((size_t)nheaders);
			for (i = 0; i < nheaders; i++)
				rd_kafka_header_add(hdrs, header_names[i], -1, header_values[i], -1);
		}
		err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
		                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                        RD_KAFKA_V_VALUE((void *)data, len), RD_KAFKA_V_KEY(key, keylen),
		                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
		if (!err)
			break;
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
		{
			fprintf(stderr, "se-produce: cannot produce: %s\n", rd_kafka_err2str(err));
			exit(1);
		}
		rd_kafka_poll(rk, 50);
	}
	rd_kafka_poll(rk, 0);
}

int
main(int argc, char **argv)
{
	enum
	{
		O_SEED = 256,
		O_DEVICES,
		O_START,
		O_INTERVAL,
		O_DISORDER,
		O_LATEF,
		O_LATEMS,
		O_DUPF,
		O_MALF,
		O_RATE,
		O_PARTITION,
		O_TIMEOUT,
		O_STDIN,
		O_PRINT,
		O_KEYDELIM
	};
	static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
	                                     {"topic", required_argument, NULL, 't'},
	                                     {"count", required_argument, NULL, 'n'},
	                                     {"seed", required_argument, NULL, O_SEED},
	                                     {"devices", required_argument, NULL, O_DEVICES},
	                                     {"start", required_argument, NULL, O_START},
	                                     {"interval-ms", required_argument, NULL, O_INTERVAL},
	                                     {"disorder-ms", required_argument, NULL, O_DISORDER},
	                                     {"late-fraction", required_argument, NULL, O_LATEF},
	                                     {"late-ms", required_argument, NULL, O_LATEMS},
	                                     {"duplicate-fraction", required_argument, NULL, O_DUPF},
	                                     {"malformed-fraction", required_argument, NULL, O_MALF},
	                                     {"rate", required_argument, NULL, O_RATE},
	                                     {"partition", required_argument, NULL, O_PARTITION},
	                                     {"timeout-ms", required_argument, NULL, O_TIMEOUT},
	                                     {"stdin", no_argument, NULL, O_STDIN},
	                                     {"print", no_argument, NULL, O_PRINT},
	                                     {"header", required_argument, NULL, 'H'},
	                                     {"key-delimiter", required_argument, NULL, O_KEYDELIM},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *brokers = NULL;
	const char *topic = NULL;
	int64_t count = -1;
	uint64_t seed = 1;
	int ndevices = 10;
	int64_t start_us = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
	double interval_ms = 100, disorder_ms = 0, late_fraction = 0, late_ms = 60000, dup_fraction = 0,
	       mal_fraction = 0, rate = 0;
	int32_t partition = RD_KAFKA_PARTITION_UA;
	const char *timeout_ms = "30000";
	int from_stdin = 0, print = 0;
	int key_delim = -1;
	char *props[64];
	int nprops = 0;
	int c, i;
	rd_kafka_t *rk = NULL;
	Device *devices = NULL;
	Stored *ring = NULL;
	int64_t nring = 0;
	int64_t n_good = 0, n_dup = 0, n_late = 0, n_mal = 0, n;
	double t0, secs;
	char msg[MSG_MAX];
	char key[32];

	while ((c = getopt_long(argc, argv, "b:t:n:X:H:h", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'b':
				brokers = optarg;
				break;
			case 't':
				topic = optarg;
				break;
			case 'n':
				count = (int64_t)parse_double("count", optarg, 0, 1e12);
				break;
			case O_SEED:
				seed = (uint64_t)parse_double("seed", optarg, 0, 1e18);
				break;
			case O_DEVICES:
				ndevices = (int)parse_double("devices", optarg, 1, 9999);
				break;
			case O_START:
				start_us = parse_timestamp(optarg);
				break;
			case O_INTERVAL:
				interval_ms = parse_double("interval-ms", optarg, 0, 1e9);
				break;
			case O_DISORDER:
				disorder_ms = parse_double("disorder-ms", optarg, 0, 1e9);
				break;
			case O_LATEF:
				late_fraction = parse_double("late-fraction", optarg, 0, 1);
				break;
			case O_LATEMS:
				late_ms = parse_double("late-ms", optarg, 0, 1e12);
				break;
			case O_DUPF:
				dup_fraction = parse_double("duplicate-fraction", optarg, 0, 1);
				break;
			case O_MALF:
				mal_fraction = parse_double("malformed-fraction", optarg, 0, 1);
				break;
			case O_RATE:
				rate = parse_double("rate", optarg, 0, 1e9);
				break;
			case O_PARTITION:
				partition = (int32_t)parse_double("partition", optarg, 0, 100000);
				break;
			case O_TIMEOUT:
				parse_double("timeout-ms", optarg, 1, 2147483647);
				timeout_ms = optarg;
				break;
			case O_STDIN:
				from_stdin = 1;
				break;
			case O_PRINT:
				print = 1;
				break;
			case 'H':
			{
				char *eq = strchr(optarg, '=');

				if (nheaders == MAX_HEADERS || !eq || eq == optarg)
					die("--header needs NAME=VALUE (at most 16 of them)");
				*eq = '\0';
				header_names[nheaders] = optarg;
				header_values[nheaders++] = eq + 1;
			}
			break;
			case O_KEYDELIM:
				if (strlen(optarg) != 1)
					die("--key-delimiter needs exactly one character");
				key_delim = (unsigned char)optarg[0];
				break;
			case 'X':
				if (nprops == 64 || !strchr(optarg, '='))
					die("-X needs PROP=VALUE (at most 64 of them)");
				props[nprops++] = optarg;
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
		die("unexpected argument (see --help)");
	if (!print && (!brokers || !topic))
		die("--brokers and --topic are required (or --print)");
	if (from_stdin && print)
		die("--stdin and --print exclude each other");
	if (key_delim >= 0 && !from_stdin)
		die("--key-delimiter needs --stdin");
	if (!from_stdin && count < 0)
		die("--count is required");
	if (dup_fraction + mal_fraction > 1)
		die("--duplicate-fraction plus --malformed-fraction exceeds 1");

	if (!print)
	{
		rd_kafka_conf_t *conf = rd_kafka_conf_new();
		char errstr[512];

		set_conf(conf, "bootstrap.servers", brokers);
		/* Throughput: big batches, a short linger, a deep local queue. */
		set_conf(conf, "linger.ms", "5");
		set_conf(conf, "batch.num.messages", "10000");
		set_conf(conf, "queue.buffering.max.messages", "1000000");
		set_conf(conf, "queue.buffering.max.kbytes", "1048576");
		set_conf(conf, "message.timeout.ms", timeout_ms);
		for (i = 0; i < nprops; i++)
		{
			char *eq = strchr(props[i], '=');

			*eq = '\0';
			set_conf(conf, props[i], eq + 1);
		}
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
		rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
		if (!rk)
		{
			fprintf(stderr, "se-produce: %s\n", errstr);
			return 2;
		}
	}

	t0 = now_seconds();
	if (from_stdin)
	{
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		/* Raw lines: what a test wants is exactly these bytes in Kafka. */
		while ((len = getline(&line, &cap, stdin)) >= 0)
		{
			char *value = line;
			char *delim;
			size_t keylen = 0;

			if (len > 0 && line[len - 1] == '\n')
				len--;
			if (key_delim >= 0 && (delim = memchr(line, key_delim, (size_t)len)) != NULL)
			{
				keylen = (size_t)(delim - line);
				value = delim + 1;
				len -= (ssize_t)keylen + 1;
			}
			produce_one(rk, topic, partition, value, (size_t)len,
			            keylen > 0 || value != line ? line : NULL, keylen);
			n_good++;
			if (rate > 0)
			{
				double ahead = n_good / rate - (now_seconds() - t0);

				if (ahead > 0)
					usleep((useconds_t)(ahead * 1e6));
			}
		}
		free(line);
	}
	else
	{
		rng_state = seed;
		devices = calloc((size_t)ndevices, sizeof(Device));
		ring = calloc(DUP_RING, sizeof(Stored));
		if (!devices || !ring)
			die("out of memory");
		for (i = 0; i < ndevices; i++)
			device_init(&devices[i], i);

		for (n = 0; n < count; n++)
		{
			int dev_id = (int)(n % ndevices);
			int64_t event_us = start_us + (int64_t)(n * interval_ms * 1000);
			double kind = rng_unit();
			int len;
			int key_dev = dev_id;

			if (disorder_ms > 0)
				event_us -= (int64_t)(rng_unit() * disorder_ms * 1000);

			if (kind < dup_fraction && nring > 0)
			{
				/* Exact re-send: same bytes, same key, hence same partition. */
				Stored *s = &ring[(nring - 1 -
				                   (int64_t)(rng_next() %
				                             (uint64_t)(nring < DUP_RING ? nring : DUP_RING))) %
				                  DUP_RING];

				memcpy(msg, s->data, (size_t)s->len);
				len = s->len;
				key_dev = s->device;
				n_dup++;
			}
			else if (kind >= dup_fraction && kind < dup_fraction + mal_fraction)
			{
				len = format_malformed(msg, dev_id, event_us);
				n_mal++;
			}
			else
			{
				Device *d = &devices[dev_id];
				Stored *s = &ring[nring % DUP_RING];

				if (late_fraction > 0 && rng_unit() < late_fraction)
				{
					event_us -= (int64_t)(late_ms * 1000);
					n_late++;
				}
				device_step(d);
				len = format_event(msg, dev_id, d, event_us);
				memcpy(s->data, msg, (size_t)len);
				s->len = len;
				s->device = dev_id;
				nring++;
				n_good++;
			}

			if (print)
			{
				fwrite(msg, 1, (size_t)len, stdout);
				putchar('\n');
			}
			else
			{
				int keylen = snprintf(key, sizeof(key), "truck-%04d", key_dev);

				produce_one(rk, topic, partition, msg, (size_t)len, key, (size_t)keylen);
			}
			if (rate > 0)
			{
				double ahead = (n + 1) / rate - (now_seconds() - t0);

				if (ahead > 0)
				{
					if (print)
						fflush(stdout);
					usleep((useconds_t)(ahead * 1e6));
				}
			}
		}
	}

	if (!print)
	{
		/* Wait for every delivery report; message.timeout.ms bounds the wait. */
		while (rd_kafka_outq_len(rk) > 0)
			rd_kafka_poll(rk, 100);
		rd_kafka_destroy(rk);
	}
	else if (fflush(stdout) != 0)
	{
		perror("se-produce: stdout");
		return 1;
	}
	free(devices);
	free(ring);

	secs = now_seconds() - t0;
	fprintf(stderr,
	        "produced %" PRId64 " (good %" PRId64 ", duplicates %" PRId64 ", late %" PRId64
	        ", malformed %" PRId64 ")\n",
	        n_good + n_dup + n_mal, n_good, n_dup, n_late, n_mal);
	fprintf(stderr, "se-produce: %.2f s, %.0f messages/s\n", secs,
	        secs > 0 ? (n_good + n_dup + n_mal) / secs : 0.0);
	if (delivered_failed > 0)
	{
		fprintf(stderr, "se-produce: %" PRId64 " of %" PRId64 " messages failed: %s\n",
		        delivered_failed, delivered_failed + delivered_ok, first_error);
		return 1;
	}
	return 0;
}
