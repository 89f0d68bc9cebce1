/*
 * decode_input.c
 *		Turning the text of a value into a Datum of its column's type: what
 *		the format decoders share (server encoding, the type's input
 *		function, the column DEFAULT), the fast path for timestamptz, and
 *		the UTF-8 check.
 *
 * A fast path gives exactly what the type's input function would give and
 * returns false for anything it is not sure of, so that the input function
 * stays the one definition of what a value means.
 */
#include "postgres.h"

#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "ingest/decode_internal.h"

/* s (UTF-8, len bytes) as a palloc'd NUL-terminated string in the server encoding */
char *
decoder_server_string(SourceDecoder *dec, const char *s, int len)
{
	char	   *copy = pnstrdup(s, len);

	if (!dec->need_conversion)
		return copy;
	return pg_any_to_server(copy, len, PG_UTF8);
}

Datum
decoder_text_datum(SourceDecoder *dec, const char *s, int len)
{
	if (!dec->need_conversion)
		return PointerGetDatum(cstring_to_text_with_len(s, len));
	return PointerGetDatum(cstring_to_text(decoder_server_string(dec, s, len)));
}

/* The column type's input function on s; its errors are the usual ERRORs. */
Datum
decoder_input(SourceDecoder *dec, DecodeColumn *col, const char *s, int len)
{
	return InputFunctionCall(&col->infunc, decoder_server_string(dec, s, len),
							 col->ioparam, col->typmod);
}

/* A column the message says nothing about: its DEFAULT, else NULL. */
void
decoder_fill_default(SourceDecoder *dec, int attno, Datum *values, bool *isnull)
{
	DecodeColumn *col = &dec->cols[attno];

	if (col->defexpr == NULL)
	{
		values[attno] = (Datum) 0;
		isnull[attno] = true;
		return;
	}
	values[attno] = ExecEvalExpr(col->defexpr, dec->econtext, &isnull[attno]);
}

/*
 * The common case of timestamptz input without the general parser: an
 * ISO-8601 date and time with an explicit zone, like 2024-05-01T12:30:00Z,
 * 2024-05-01 12:30:00.123+02 or 2024-05-01T12:30:00.5-03:30.  Returns false
 * for anything else (including values out of range), and the caller then
 * uses timestamptz_in, which gives the same result or the usual error.
 */
bool
fast_timestamptz(const char *s, int len, TimestampTz *result)
{
	const char *p = s;
	const char *end = s + len;
	struct pg_tm tm;
	fsec_t		fsec = 0;
	int			tz;
	int			i;

#define NUM(n, out) \
	do { \
		(out) = 0; \
		for (i = 0; i < (n); i++, p++) \
		{ \
			if (p >= end || *p < '0' || *p > '9') \
				return false; \
			(out) = (out) * 10 + (*p - '0'); \
		} \
	} while (0)
#define SEP(c) do { if (p >= end || *p != (c)) return false; p++; } while (0)

	memset(&tm, 0, sizeof(tm));
	NUM(4, tm.tm_year);
	SEP('-');
	NUM(2, tm.tm_mon);
	SEP('-');
	NUM(2, tm.tm_mday);
	if (p >= end || (*p != 'T' && *p != ' '))
		return false;
	p++;
	NUM(2, tm.tm_hour);
	SEP(':');
	NUM(2, tm.tm_min);
	SEP(':');
	NUM(2, tm.tm_sec);
	if (p < end && *p == '.')
	{
		int			scale = 100000;

		p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		while (p < end && *p >= '0' && *p <= '9')
		{
			if (scale == 0)
				return false;	/* more than microseconds: let the parser round */
			fsec += (*p++ - '0') * scale;
			scale /= 10;
		}
	}
	if (p < end && *p == 'Z')
	{
		p++;
		tz = 0;
	}
	else if (p < end && (*p == '+' || *p == '-'))
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			hh,
					mm = 0;

		p++;
		NUM(2, hh);
		if (p < end && *p == ':')
		{
			p++;
			NUM(2, mm);
		}
		else if (p < end)
			NUM(2, mm);
		if (hh > 15 || mm > 59)
			return false;
		/* PostgreSQL counts zone offsets west of Greenwich as positive */
		tz = -sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	else
		return false;			/* no zone: the session's time zone applies */
	if (p != end)
		return false;
#undef NUM
#undef SEP

	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	if (tm2timestamp(&tm, fsec, &tz, result) != 0 || !IS_VALID_TIMESTAMP(*result))
		return false;
	return true;
}

/*
 * Offset of the first byte of s that is not valid UTF-8 (or a zero byte,
 * which no PostgreSQL string can hold), or -1 when all of s is valid.
 */
int
utf8_invalid_at(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			l;

		if (*p < 0x80)
		{
			if (*p == 0)
				return (int) (p - (const unsigned char *) s);
			p++;
			continue;
		}
		l = pg_utf_mblen(p);
		if (l > end - p || !pg_utf8_islegal(p, l))
			return (int) (p - (const unsigned char *) s);
		p += l;
	}
	return -1;
}
