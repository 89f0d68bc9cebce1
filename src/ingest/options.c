/*
 * options.c
 *		The table of source options and the allow-list of librdkafka
 *		properties, with the checks that use them.
 *
 * One place for every option's name, type, default, limits and who may set
 * it: streamext._check_source_options (ingest.sql) reads the table through
 * streamext._source_options(), the workers and the launcher take their
 * defaults from it, and docs/ingest.md lists the same (test/integration/
 * ingest_sec_options.sh compares the two).
 *
 * librdkafka properties are checked against an ALLOW-list: a role that is not
 * a superuser may set only the properties below that neither read files,
 * load code, run commands nor change what the server process does with its
 * signals, ports or logs.  Nobody, superusers included, may set librdkafka's
 * internal.*, test.*, ut_* and pointer/callback properties (they install
 * signal handlers in the worker, open listening ports, or take addresses),
 * nor the properties streamext sets itself.  Properties that size buffers
 * may not exceed the source's max_buffered_bytes, so that they cannot grow a
 * worker's memory past its budget.  Whatever passes is finally given to
 * librdkafka's own parser on a scratch configuration, so that typos and bad
 * values are refused by create_source/alter_source with librdkafka's message
 * rather than found later by the worker.
 */
#include "postgres.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "ingest/options.h"

#define ALL_FORMATS 0

const SourceOption source_options[] = {
	{"group_id", SOPT_STRING, NULL, 0, 0, ALL_FORMATS, false,
	"Kafka consumer group (default streamext-<name>); a group another role's source uses is refused"},
	{"parallelism", SOPT_INTEGER, NULL, 1, 64, ALL_FORMATS, false,
	"consumer workers of this source in this server (default: one per partition, at most one per core; always within streamext.max_workers_per_source)"},
	{"start_from", SOPT_STRING, "earliest", 0, 0, ALL_FORMATS, false,
	"earliest, latest or a finite timestamp: where a partition with no stored offset starts"},
	{"batch_max_messages", SOPT_INTEGER, "10000", 1, 1000000, ALL_FORMATS, false,
	"most messages per transaction"},
	{"batch_max_ms", SOPT_INTEGER, "500", 1, 600000, ALL_FORMATS, false,
	"longest wait for a batch to fill"},
	{"max_buffered_bytes", SOPT_INTEGER, "33554432", 65536, PG_INT32_MAX, ALL_FORMATS, false,
	"memory budget of a worker for messages (batch and librdkafka's prefetch queue)"},
	{"merge_schema", SOPT_BOOLEAN, "false", 0, 0, SOPT_FMT_JSON, false,
	"add a column for each new top-level JSON key"},
	{"column_map", SOPT_OBJECT, NULL, 0, 0, SOPT_FMT_JSON, false,
	"column name to JSON path"},
	{"on_unknown_key", SOPT_STRING, "ignore", 0, 0, SOPT_FMT_JSON, false,
	"ignore | dead_letter: a JSON key that matches no column"},
	{"on_missing_column", SOPT_STRING, "ignore", 0, 0, SOPT_FMT_JSON, false,
	"ignore | dead_letter: a column that no key fills"},
	{"time_partition", SOPT_OBJECT, NULL, 0, 0, ALL_FORMATS, false,
	"range partitions of the target on demand, ahead, and their retention"},
	{"kafka", SOPT_OBJECT, "{}", 0, 0, ALL_FORMATS, false,
	"librdkafka consumer properties (an allow-list for roles that are not superusers)"},
	{"delimiter", SOPT_STRING, ",", 0, 0, SOPT_FMT_CSV, false, "csv field delimiter"},
	{"quote", SOPT_STRING, "\"", 0, 0, SOPT_FMT_CSV, false, "csv quote character"},
	{"header", SOPT_BOOLEAN, "false", 0, 0, SOPT_FMT_CSV, false, "csv: skip a header line"},
	{"null", SOPT_STRING, NULL, 0, 0, SOPT_FMT_CSV, false, "csv: the text that stands for NULL"},
	{"columns", SOPT_ANY, NULL, 0, 0, SOPT_FMT_CSV, false, "csv: the columns of the fields, in order"},
	{"column", SOPT_STRING, NULL, 0, 0, SOPT_FMT_TEXT | SOPT_FMT_BYTES, false,
	"text and bytes: the column the payload goes to"},
};
const int	num_source_options = lengthof(source_options);

/*
 * The librdkafka (2.0) consumer properties a source may set.  Anything not
 * listed here is for superusers only.
 */
const KafkaProperty kafka_properties[] = {
	/* set by streamext */
	{"bootstrap.servers", KPROP_STREAMEXT, "Use the brokers argument of create_source."},
	{"metadata.broker.list", KPROP_STREAMEXT, "Use the brokers argument of create_source."},
	{"group.id", KPROP_STREAMEXT, "Use the group_id option."},
	{"group.instance.id", KPROP_STREAMEXT, "The workers of a source would share it and fence each other."},
	{"enable.auto.commit", KPROP_STREAMEXT, "streamext commits offsets with the rows."},
	{"auto.commit.enable", KPROP_STREAMEXT, "streamext commits offsets with the rows."},
	{"enable.auto.offset.store", KPROP_STREAMEXT, "streamext commits offsets with the rows."},
	{"enable.partition.eof", KPROP_STREAMEXT, NULL},
	{"queued.max.messages.kbytes", KPROP_STREAMEXT, "Use the max_buffered_bytes option."},

	/* buffer sizes: at most max_buffered_bytes */
	{"fetch.max.bytes", KPROP_BYTES, NULL},
	{"receive.message.max.bytes", KPROP_BYTES, NULL},
	{"max.partition.fetch.bytes", KPROP_BYTES, NULL},
	{"fetch.message.max.bytes", KPROP_BYTES, NULL},
	{"message.max.bytes", KPROP_BYTES, NULL},
	{"message.copy.max.bytes", KPROP_BYTES, NULL},
	{"socket.send.buffer.bytes", KPROP_BYTES, NULL},
	{"socket.receive.buffer.bytes", KPROP_BYTES, NULL},

	/* interpolated into librdkafka's kinit command (a shell command line) */
	{"sasl.kerberos.principal", KPROP_TOKEN, NULL},
	{"sasl.kerberos.service.name", KPROP_TOKEN, NULL},

	/* security: credentials given inline, never file names */
	{"security.protocol", KPROP_ANYONE, NULL},
	{"sasl.mechanisms", KPROP_ANYONE, NULL},
	{"sasl.mechanism", KPROP_ANYONE, NULL},
	{"sasl.username", KPROP_ANYONE, NULL},
	{"sasl.password", KPROP_ANYONE, NULL},
	{"sasl.kerberos.min.time.before.relogin", KPROP_ANYONE, NULL},
	{"sasl.oauthbearer.method", KPROP_ANYONE, NULL},
	{"sasl.oauthbearer.client.id", KPROP_ANYONE, NULL},
	{"sasl.oauthbearer.client.secret", KPROP_ANYONE, NULL},
	{"sasl.oauthbearer.scope", KPROP_ANYONE, NULL},
	{"sasl.oauthbearer.extensions", KPROP_ANYONE, NULL},
	{"enable.sasl.oauthbearer.unsecure.jwt", KPROP_ANYONE, NULL},
	{"ssl.key.password", KPROP_ANYONE, NULL},
	{"ssl.key.pem", KPROP_ANYONE, NULL},
	{"ssl.certificate.pem", KPROP_ANYONE, NULL},
	{"ssl.ca.pem", KPROP_ANYONE, NULL},
	{"ssl.cipher.suites", KPROP_ANYONE, NULL},
	{"ssl.curves.list", KPROP_ANYONE, NULL},
	{"ssl.sigalgs.list", KPROP_ANYONE, NULL},
	{"enable.ssl.certificate.verification", KPROP_ANYONE, NULL},
	{"ssl.endpoint.identification.algorithm", KPROP_ANYONE, NULL},

	/* the consumer group and fetching */
	{"client.id", KPROP_ANYONE, NULL},
	{"client.rack", KPROP_ANYONE, NULL},
	{"session.timeout.ms", KPROP_ANYONE, NULL},
	{"heartbeat.interval.ms", KPROP_ANYONE, NULL},
	{"max.poll.interval.ms", KPROP_ANYONE, NULL},
	{"partition.assignment.strategy", KPROP_ANYONE, NULL},
	{"coordinator.query.interval.ms", KPROP_ANYONE, NULL},
	{"auto.offset.reset", KPROP_ANYONE, NULL},
	{"isolation.level", KPROP_ANYONE, NULL},
	{"check.crcs", KPROP_ANYONE, NULL},
	{"queued.min.messages", KPROP_ANYONE, NULL},
	{"fetch.wait.max.ms", KPROP_ANYONE, NULL},
	{"fetch.min.bytes", KPROP_ANYONE, NULL},
	{"fetch.error.backoff.ms", KPROP_ANYONE, NULL},
	{"allow.auto.create.topics", KPROP_ANYONE, NULL},

	/* connections and metadata */
	{"socket.timeout.ms", KPROP_ANYONE, NULL},
	{"socket.keepalive.enable", KPROP_ANYONE, NULL},
	{"socket.nagle.disable", KPROP_ANYONE, NULL},
	{"socket.max.fails", KPROP_ANYONE, NULL},
	{"socket.connection.setup.timeout.ms", KPROP_ANYONE, NULL},
	{"connections.max.idle.ms", KPROP_ANYONE, NULL},
	{"reconnect.backoff.ms", KPROP_ANYONE, NULL},
	{"reconnect.backoff.max.ms", KPROP_ANYONE, NULL},
	{"retry.backoff.ms", KPROP_ANYONE, NULL},
	{"broker.address.family", KPROP_ANYONE, NULL},
	{"broker.address.ttl", KPROP_ANYONE, NULL},
	{"metadata.max.age.ms", KPROP_ANYONE, NULL},
	{"topic.metadata.refresh.interval.ms", KPROP_ANYONE, NULL},
	{"topic.metadata.refresh.fast.interval.ms", KPROP_ANYONE, NULL},
	{"topic.metadata.refresh.sparse", KPROP_ANYONE, NULL},
	{"topic.metadata.propagation.max.ms", KPROP_ANYONE, NULL},
	{"api.version.request", KPROP_ANYONE, NULL},
	{"api.version.request.timeout.ms", KPROP_ANYONE, NULL},
	{"api.version.fallback.ms", KPROP_ANYONE, NULL},
	{"broker.version.fallback", KPROP_ANYONE, NULL},
	{"log.connection.close", KPROP_ANYONE, NULL},
};
const int	num_kafka_properties = lengthof(kafka_properties);

const SourceOption *
source_option_find(const char *name)
{
	int			i;

	for (i = 0; i < num_source_options; i++)
	{
		if (strcmp(source_options[i].name, name) == 0)
			return &source_options[i];
	}
	return NULL;
}

static JsonbValue *
option_value(Jsonb *options, const char *name, JsonbValue *buf)
{
	if (options == NULL || !JB_ROOT_IS_OBJECT(options))
		return NULL;
	return getKeyJsonValueFromContainer(&options->root, name, strlen(name), buf);
}

int64
source_option_int(Jsonb *options, const char *name)
{
	const SourceOption *opt = source_option_find(name);
	JsonbValue	buf;
	JsonbValue *v;

	if (opt == NULL || opt->type != SOPT_INTEGER)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("\"%s\" is not an integer source option", name)));
	v = option_value(options, name, &buf);
	if (v != NULL && v->type == jbvNumeric)
		return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	return pg_strtoint64(opt->default_value);
}

char *
source_option_string(Jsonb *options, const char *name)
{
	const SourceOption *opt = source_option_find(name);
	JsonbValue	buf;
	JsonbValue *v;

	if (opt == NULL || opt->type != SOPT_STRING)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("\"%s\" is not a string source option", name)));
	v = option_value(options, name, &buf);
	if (v != NULL && v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	return opt->default_value ? pstrdup(opt->default_value) : NULL;
}

static const KafkaProperty *
kafka_property_find(const char *name)
{
	int			i;

	for (i = 0; i < num_kafka_properties; i++)
	{
		if (pg_strcasecmp(kafka_properties[i].name, name) == 0)
			return &kafka_properties[i];
	}
	return NULL;
}

/*
 * librdkafka's properties that nobody may set: internal.* (say
 * internal.termination.signal installs a signal handler in the worker, which
 * then ignores PostgreSQL's signals), test.* (test.mock.num.brokers opens
 * listening ports), ut_* (unit test hooks), and those that take a pointer or
 * a callback (every such name has an underscore, or is one of the three).
 */
static bool
kafka_property_forbidden(const char *name)
{
	return pg_strncasecmp(name, "internal.", 9) == 0 ||
		pg_strncasecmp(name, "test.", 5) == 0 ||
		strchr(name, '_') != NULL ||
		pg_strcasecmp(name, "opaque") == 0 ||
		pg_strcasecmp(name, "interceptors") == 0 ||
		pg_strcasecmp(name, "default.topic.conf") == 0;
}

/*
 * Is name one of librdkafka's properties?  From librdkafka's own list
 * (rd_kafka_conf_properties_show), read once per process: rd_kafka_conf_get()
 * cannot tell, it calls some set properties unknown.
 */
static bool
kafka_property_known(const char *name)
{
	static char *list = NULL;
	const char *line;
	size_t		len = strlen(name);

	if (list == NULL)
	{
		char	   *buf = NULL;
		size_t		size = 0;
		FILE	   *f = open_memstream(&buf, &size);

		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("cannot list librdkafka's properties: %m")));
		rd_kafka_conf_properties_show(f);
		fclose(f);
		list = MemoryContextStrdup(TopMemoryContext, buf ? buf : "");
		free(buf);
	}
	/* one property per line, its name first, then spaces and a '|' */
	for (line = list; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line))
	{
		if (strncmp(line, name, len) == 0 && (line[len] == ' ' || line[len] == '|'))
			return true;
	}
	return false;
}

/* The text of a property value: a string, number or boolean. */
static char *
kafka_value_text(JsonbValue *v, const char *name)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("kafka property \"%s\" must be a string, number or boolean", name)));
	}
	return NULL;				/* keep the compiler quiet */
}

/* Characters of a value that goes into a shell command line unquoted. */
static bool
is_shell_safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		if (!(isalnum((unsigned char) *s) || strchr("._/@-+=:_", *s) != NULL))
			return false;
	}
	return true;
}

/*
 * One property; errors are returned (palloc'd) so that the caller can free
 * librdkafka's configuration before raising them.
 */
typedef struct KafkaCheckError
{
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
} KafkaCheckError;

static bool
check_one(rd_kafka_conf_t *scratch, const char *name, const char *value, bool superuser,
		  int64 budget, KafkaCheckError *e)
{
	const KafkaProperty *kp;
	char		errstr[512];

	if (kafka_property_forbidden(name))
	{
		e->sqlerrcode = ERRCODE_INSUFFICIENT_PRIVILEGE;
		e->message = psprintf("kafka property \"%s\" cannot be set", name);
		e->detail = pstrdup("librdkafka's internal.*, test.*, ut_* and pointer or callback properties are refused for every role: they change how the server process handles signals, open ports or take addresses.");
		return false;
	}
	kp = kafka_property_find(name);
	if (kp && kp->access == KPROP_STREAMEXT)
	{
		e->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		e->message = psprintf("kafka property \"%s\" is set by streamext", name);
		e->hint = kp->hint ? pstrdup(kp->hint) : NULL;
		return false;
	}
	/*
	 * A name librdkafka does not know: its own message.  Setting a name that
	 * is no property runs no property's code.
	 */
	if (!kafka_property_known(name))
	{
		if (rd_kafka_conf_set(scratch, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		{
			e->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
			e->message = psprintf("invalid kafka property \"%s\": %s", name, errstr);
			e->hint = pstrdup("See librdkafka's CONFIGURATION.md for the consumer properties.");
			return false;
		}
	}
	/* Before librdkafka's parser: setting some properties runs code (loads plugins). */
	if (kp == NULL && !superuser)
	{
		e->sqlerrcode = ERRCODE_INSUFFICIENT_PRIVILEGE;
		e->message = psprintf("only superusers may set kafka property \"%s\"", name);
		e->detail = pstrdup("Other roles may set only the consumer properties listed in the Security section of docs/ingest.md; the others can make the server read files, load libraries, run commands or change its logging.");
		return false;
	}
	if (kp && kp->access == KPROP_TOKEN && !is_shell_safe(value))
	{
		e->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		e->message = psprintf("kafka property \"%s\" may contain only letters, digits and . _ / @ - + = :", name);
		e->detail = pstrdup("librdkafka puts it into the kinit command line it runs.");
		return false;
	}

	/*
	 * librdkafka's parser, for the value.  plugin.library.paths (superusers
	 * only) is not given to it: setting it loads the libraries, here in this
	 * backend.
	 */
	if (pg_strcasecmp(name, "plugin.library.paths") != 0 &&
		rd_kafka_conf_set(scratch, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
	{
		e->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		e->message = psprintf("invalid kafka property \"%s\": %s", name, errstr);
		return false;
	}
	if (kp && kp->access == KPROP_BYTES)
	{
		char	   *end;
		long long	n;

		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno != 0 || *end != '\0' || n > budget)
		{
			e->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
			e->message = psprintf("kafka property \"%s\" (%s) exceeds the source's memory budget, max_buffered_bytes = " INT64_FORMAT,
								  name, value, budget);
			e->hint = pstrdup("Raise the max_buffered_bytes option as well.");
			return false;
		}
	}
	return true;
}

void
kafka_check_properties(Jsonb *options, bool superuser, const char *source_name)
{
	JsonbValue	buf;
	JsonbValue *kafka = option_value(options, "kafka", &buf);
	int64		budget = source_option_int(options, "max_buffered_bytes");
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	rd_kafka_conf_t *scratch;
	KafkaCheckError e;
	bool		ok = true;
	char	   *name = NULL;

	if (kafka == NULL || kafka->type == jbvNull)
		return;
	if (kafka->type != jbvBinary || !JsonContainerIsObject(kafka->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source option \"kafka\" must be a JSON object of librdkafka properties")));

	memset(&e, 0, sizeof(e));
	scratch = rd_kafka_conf_new();
	PG_TRY();
	{
		it = JsonbIteratorInit(kafka->val.binary.data);
		while (ok && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				name = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE)
				ok = check_one(scratch, name, kafka_value_text(&v, name), superuser, budget, &e);
		}
	}
	PG_CATCH();
	{
		rd_kafka_conf_destroy(scratch);
		PG_RE_THROW();
	}
	PG_END_TRY();
	rd_kafka_conf_destroy(scratch);
	if (!ok)
		ereport(ERROR,
				(errcode(e.sqlerrcode),
				 source_name ? errmsg("source \"%s\": %s", source_name, e.message) : errmsg("%s", e.message),
				 e.detail ? errdetail("%s", e.detail) : 0,
				 e.hint ? errhint("%s", e.hint) : 0));
}

List *
kafka_property_list(Jsonb *options)
{
	JsonbValue	buf;
	JsonbValue *kafka = option_value(options, "kafka", &buf);
	List	   *result = NIL;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	if (kafka == NULL || kafka->type != jbvBinary || !JsonContainerIsObject(kafka->val.binary.data))
		return NIL;
	it = JsonbIteratorInit(kafka->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
			result = lappend(lappend(result, name), kafka_value_text(&v, name));
	}
	return result;
}

PG_FUNCTION_INFO_V1(streamext_check_kafka_properties);

/* streamext._check_kafka_properties(options jsonb, is_superuser boolean) */
Datum
streamext_check_kafka_properties(PG_FUNCTION_ARGS)
{
	kafka_check_properties(PG_GETARG_JSONB_P(0), PG_GETARG_BOOL(1), NULL);
	PG_RETURN_VOID();
}

static const char *
option_type_name(SourceOptionType t)
{
	switch (t)
	{
		case SOPT_INTEGER:
			return "integer";
		case SOPT_BOOLEAN:
			return "boolean";
		case SOPT_STRING:
			return "string";
		case SOPT_OBJECT:
			return "object";
		case SOPT_ANY:
			break;
	}
	return "any";
}

PG_FUNCTION_INFO_V1(streamext_source_options);

/*
 * streamext._source_options(): the table of source options, for the SQL
 * validator and the docs test.
 */
Datum
streamext_source_options(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < num_source_options; i++)
	{
		const SourceOption *o = &source_options[i];
		Datum		values[8];
		bool		nulls[8] = {0};
		Datum		fmts[4];
		int			nf = 0;

		values[0] = CStringGetTextDatum(o->name);
		values[1] = CStringGetTextDatum(option_type_name(o->type));
		values[2] = o->default_value ? CStringGetTextDatum(o->default_value) : (Datum) 0;
		nulls[2] = o->default_value == NULL;
		values[3] = Int64GetDatum(o->min);
		values[4] = Int64GetDatum(o->max);
		nulls[3] = nulls[4] = o->type != SOPT_INTEGER;
		if (o->formats == 0 || (o->formats & SOPT_FMT_JSON))
			fmts[nf++] = CStringGetTextDatum("json");
		if (o->formats == 0 || (o->formats & SOPT_FMT_CSV))
			fmts[nf++] = CStringGetTextDatum("csv");
		if (o->formats == 0 || (o->formats & SOPT_FMT_TEXT))
			fmts[nf++] = CStringGetTextDatum("text");
		if (o->formats == 0 || (o->formats & SOPT_FMT_BYTES))
			fmts[nf++] = CStringGetTextDatum("bytes");
		values[5] = PointerGetDatum(construct_array(fmts, nf, TEXTOID, -1, false, TYPALIGN_INT));
		values[6] = BoolGetDatum(o->superuser_only);
		values[7] = CStringGetTextDatum(o->description);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(streamext_kafka_properties);

/* streamext._kafka_properties(): the allow-list and the properties streamext sets. */
Datum
streamext_kafka_properties(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < num_kafka_properties; i++)
	{
		const KafkaProperty *p = &kafka_properties[i];
		Datum		values[2];
		bool		nulls[2] = {0};
		const char *access = "anyone";

		switch (p->access)
		{
			case KPROP_ANYONE:
				access = "anyone";
				break;
			case KPROP_BYTES:
				access = "anyone, at most max_buffered_bytes";
				break;
			case KPROP_TOKEN:
				access = "anyone, no shell metacharacters";
				break;
			case KPROP_STREAMEXT:
				access = "nobody (set by streamext)";
				break;
			case KPROP_SUPERUSER:
				access = "superusers";
				break;
		}
		values[0] = CStringGetTextDatum(p->name);
		values[1] = CStringGetTextDatum(access);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}
