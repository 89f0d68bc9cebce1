/*
 * options.h
 *		The one table of source options (name, type, default, limits, who may
 *		set it) and of the librdkafka properties a source may carry in its
 *		"kafka" option.  The SQL validator (streamext._check_source_options),
 *		the consumer workers and the launcher read their names, defaults and
 *		limits from here; docs/ingest.md lists the same (a test compares them).
 */
#ifndef STREAMEXT_INGEST_OPTIONS_H
#define STREAMEXT_INGEST_OPTIONS_H

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

typedef enum SourceOptionType
{
	SOPT_INTEGER,
	SOPT_BOOLEAN,
	SOPT_STRING,
	SOPT_OBJECT,
	SOPT_ANY					/* checked by its reader (decoder) */
} SourceOptionType;

/* The formats whose decoder reads an option; 0: every format (the consumer's). */
#define SOPT_FMT_JSON	0x01
#define SOPT_FMT_CSV	0x02
#define SOPT_FMT_TEXT	0x04
#define SOPT_FMT_BYTES	0x08

typedef struct SourceOption
{
	const char *name;
	SourceOptionType type;
	const char *default_value;	/* as text; NULL when there is none */
	int64		min;			/* SOPT_INTEGER: limits */
	int64		max;
	unsigned	formats;
	bool		superuser_only;
	const char *description;
} SourceOption;

extern const SourceOption source_options[];
extern const int num_source_options;

extern const SourceOption *source_option_find(const char *name);

/* The value of an integer option in options (may be NULL), else its default. */
extern int64 source_option_int(Jsonb *options, const char *name);

/* The value of a string option, else its default (may be NULL); palloc'd. */
extern char *source_option_string(Jsonb *options, const char *name);

/*
 * Who may set a librdkafka property.  Anything not in the allow-list is for
 * superusers only; some properties nobody may set (see options.c).
 */
typedef enum KafkaPropertyAccess
{
	KPROP_ANYONE,				/* any source owner */
	KPROP_BYTES,				/* any owner, at most the source's max_buffered_bytes */
	KPROP_TOKEN,				/* any owner; no shell metacharacters (kinit template) */
	KPROP_STREAMEXT,			/* set by streamext: nobody */
	KPROP_SUPERUSER				/* not in the allow-list */
} KafkaPropertyAccess;

typedef struct KafkaProperty
{
	const char *name;
	KafkaPropertyAccess access;
	const char *hint;			/* KPROP_STREAMEXT: what to use instead */
} KafkaProperty;

extern const KafkaProperty kafka_properties[];
extern const int num_kafka_properties;

/*
 * Check the "kafka" object of a source's options (may be NULL) as a role
 * that is or is not a superuser: the allow-list, the properties nobody may
 * set, the memory budget (max_buffered_bytes of the same options), shell
 * metacharacters, and librdkafka's own parser.  Raises an error naming the
 * property (and the source, when source_name is not NULL).
 */
extern void kafka_check_properties(Jsonb *options, bool superuser, const char *source_name);

/* The "kafka" object of options as a list of name, value, name, value, ... */
extern List *kafka_property_list(Jsonb *options);

#endif							/* STREAMEXT_INGEST_OPTIONS_H */
