/*
 * columnar_codec.c
 *		The column chunk codec of versioned_columnar: how one column's values
 *		of one segment are laid out (NULL bitmap, then the values, aligned as
 *		in a heap tuple so they decode in place) and compressed (zstd, or raw
 *		when that does not pay), and the encoding of a single value (min/max
 *		statistics).
 *
 * A chunk is a bytea: a method byte (CHUNK_RAW, CHUNK_ZSTD), the raw
 * payload's length, then the payload.  Min/max are computed by
 * columnar_stats.c and stored encoded as one value.
 */
#include "postgres.h"

#include <zstd.h>

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"
#include "columnar/columnar_codec.h"
#include "columnar/columnar_stats.h"

#include "access/detoast.h"
#include "access/tupmacs.h"
#include "miscadmin.h"
#include "utils/memutils.h"

int			columnar_compression_level = 3;

/* Chunk header: method byte, then the raw payload's length. */
#define CHUNK_RAW	0
#define CHUNK_ZSTD	1
#define CHUNK_HDR	5

/* Min/max values larger than this are not kept (they would not pay off). */
#define MAX_STAT_BYTES 256


/* varlenas always get a 4-byte aligned, 4-byte header */
static inline char
value_align(Form_pg_attribute att)
{
	if (att->attlen == -1 && att->attalign == TYPALIGN_CHAR)
		return TYPALIGN_INT;
	if (att->attlen == -1 && att->attalign == TYPALIGN_SHORT)
		return TYPALIGN_INT;
	return att->attalign;
}

/*
 * Values are laid out as in a tuple: each at its type's alignment relative
 * to the start of the (MAXALIGNed) decompressed buffer, varlenas with a
 * 4-byte header, so a decoded Datum can point straight into the buffer.
 */
static void
append_value(StringInfo buf, Datum value, Form_pg_attribute att)
{
	if (att->attbyval)
	{
		switch (att->attlen)
		{
			case 1:
				{
					char		v = DatumGetChar(value);

					appendBinaryStringInfo(buf, &v, 1);
					break;
				}
			case 2:
				{
					int16		v = DatumGetInt16(value);

					appendBinaryStringInfo(buf, (char *) &v, 2);
					break;
				}
			case 4:
				{
					int32		v = DatumGetInt32(value);

					appendBinaryStringInfo(buf, (char *) &v, 4);
					break;
				}
			default:
				{
					int64		v = DatumGetInt64(value);

					appendBinaryStringInfo(buf, (char *) &v, 8);
					break;
				}
		}
	}
	else
	{
		int			aligned = att_align_nominal(buf->len, value_align(att));

		while (buf->len < aligned)
			appendStringInfoCharMacro(buf, '\0');
		if (att->attlen > 0)
			appendBinaryStringInfo(buf, DatumGetPointer(value), att->attlen);
		else if (att->attlen == -1)
		{
			struct varlena *v = (struct varlena *) DatumGetPointer(value);
			bool		copied = false;
			Size		len;
			int			pos;

			/* a short header is read in place; only toasted values need copying */
			if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
			{
				v = detoast_attr(v);
				copied = true;
			}
			len = VARSIZE_ANY_EXHDR(v);
			pos = buf->len;
			enlargeStringInfo(buf, len + VARHDRSZ);
			SET_VARSIZE((struct varlena *) (buf->data + pos), len + VARHDRSZ);
			memcpy(buf->data + pos + VARHDRSZ, VARDATA_ANY(v), len);
			buf->len += len + VARHDRSZ;
			buf->data[buf->len] = '\0';
			if (copied)
				pfree(v);
		}
		else
			appendBinaryStringInfo(buf, DatumGetCString(value),
								   strlen(DatumGetCString(value)) + 1);
	}
}

/* Read one value at *pos of an aligned buffer; advance *pos. */
static inline Datum
read_value(const char *base, Size *pos, Form_pg_attribute att)
{
	const char *p;
	Datum		d;

	if (att->attbyval)
	{
		p = base + *pos;
		switch (att->attlen)
		{
			case 1:
				d = CharGetDatum(*p);
				break;
			case 2:
				{
					int16		v;

					memcpy(&v, p, 2);
					d = Int16GetDatum(v);
					break;
				}
			case 4:
				{
					int32		v;

					memcpy(&v, p, 4);
					d = Int32GetDatum(v);
					break;
				}
			default:
				{
					int64		v;

					memcpy(&v, p, 8);
					d = Int64GetDatum(v);
					break;
				}
		}
		*pos += att->attlen;
		return d;
	}
	*pos = att_align_nominal(*pos, value_align(att));
	p = base + *pos;
	if (att->attlen > 0)
		*pos += att->attlen;
	else if (att->attlen == -1)
		*pos += VARSIZE(p);
	else
		*pos += strlen(p) + 1;
	return PointerGetDatum(p);
}

/*
 * zstd contexts, made once per backend and reused: a context per call would
 * allocate and clear zstd's tables for every chunk.  (libzstd allocates
 * them itself, outside PostgreSQL's memory contexts.)
 */
static ZSTD_CCtx *zstd_cctx = NULL;
static ZSTD_DCtx *zstd_dctx = NULL;

static bytea *
make_chunk(StringInfo raw)
{
	size_t		bound = ZSTD_compressBound(raw->len);
	bytea	   *out = palloc(VARHDRSZ + CHUNK_HDR + bound);
	char	   *dst = VARDATA(out);
	size_t		clen;
	uint32		rawlen = raw->len;

	if (zstd_cctx == NULL && (zstd_cctx = ZSTD_createCCtx()) == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
						errmsg("could not create a zstd compression context")));
	clen = ZSTD_compressCCtx(zstd_cctx, dst + CHUNK_HDR, bound, raw->data, raw->len,
							 columnar_compression_level);
	/* incompressible (or tiny) data is stored as it is: cheaper to read */
	if (ZSTD_isError(clen) || clen >= (size_t) raw->len - raw->len / 16)
	{
		dst[0] = CHUNK_RAW;
		memcpy(dst + 1, &rawlen, 4);
		memcpy(dst + CHUNK_HDR, raw->data, raw->len);
		SET_VARSIZE(out, VARHDRSZ + CHUNK_HDR + raw->len);
	}
	else
	{
		dst[0] = CHUNK_ZSTD;
		memcpy(dst + 1, &rawlen, 4);
		SET_VARSIZE(out, VARHDRSZ + CHUNK_HDR + clen);
	}
	return out;
}

/*
 * The raw payload of a chunk, in a MAXALIGNed buffer: scratch's buffer for
 * this column when given (reused from segment to segment), else a new one.
 */
static char *
chunk_payload(bytea *data, Size *len, ColumnarScratch *scratch, int col)
{
	char	   *src = VARDATA_ANY(data);
	Size		srclen = VARSIZE_ANY_EXHDR(data);
	uint32		rawlen;
	char	   *raw;

	if (srclen < CHUNK_HDR)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk is truncated")));
	memcpy(&rawlen, src + 1, 4);
	if (scratch != NULL)
	{
		if (scratch->cap[col] < (Size) rawlen + 1)
		{
			if (scratch->buf[col])
				pfree(scratch->buf[col]);
			scratch->cap[col] = Max((Size) rawlen + 1, scratch->cap[col] * 2);
			scratch->buf[col] = MemoryContextAllocHuge(scratch->cxt, scratch->cap[col]);
		}
		raw = scratch->buf[col];
	}
	else
		raw = palloc(rawlen + 1);
	if (src[0] == CHUNK_RAW)
	{
		if (srclen - CHUNK_HDR != rawlen)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk has a wrong length")));
		memcpy(raw, src + CHUNK_HDR, rawlen);
	}
	else if (src[0] == CHUNK_ZSTD)
	{
		size_t		n;

		if (zstd_dctx == NULL && (zstd_dctx = ZSTD_createDCtx()) == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
							errmsg("could not create a zstd decompression context")));
		n = ZSTD_decompressDCtx(zstd_dctx, raw, rawlen, src + CHUNK_HDR, srclen - CHUNK_HDR);

		if (ZSTD_isError(n) || n != rawlen)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk does not decompress: %s",
								   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length")));
	}
	else
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk has unknown method %d", src[0])));
	*len = rawlen;
	return raw;
}

static bytea *
value_to_bytea(Datum value, Form_pg_attribute att)
{
	StringInfoData buf;
	bytea	   *b;

	initStringInfo(&buf);
	append_value(&buf, value, att);
	if (buf.len > MAX_STAT_BYTES)
		return NULL;
	b = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(b, VARHDRSZ + buf.len);
	memcpy(VARDATA(b), buf.data, buf.len);
	pfree(buf.data);
	return b;
}

Datum
columnar_decode_value(bytea *data, Form_pg_attribute att)
{
	Size		len = VARSIZE_ANY_EXHDR(data);
	char	   *buf = palloc(len + 1);
	Size		pos = 0;

	memcpy(buf, VARDATA_ANY(data), len);
	return read_value(buf, &pos, att);
}

/*
 * Encode one column of nrows values into a chunk; compute null count and,
 * when the type has a btree order, min and max.
 */
bytea *
columnar_encode_chunk(Datum *values, bool *isnull, int nrows,
					  Form_pg_attribute att, int *null_count,
					  bytea **min_value, bytea **max_value)
{
	StringInfoData buf;
	int			nnull = 0;
	int			i;
	int			bitmap_len = (nrows + 7) / 8;
	Datum		minv = 0;
	Datum		maxv = 0;
	bytea	   *result;

	for (i = 0; i < nrows; i++)
		if (isnull[i])
			nnull++;

	initStringInfo(&buf);
	if (nnull > 0)
	{
		enlargeStringInfo(&buf, bitmap_len);
		memset(buf.data, 0, bitmap_len);
		for (i = 0; i < nrows; i++)
			if (isnull[i])
				buf.data[i / 8] |= (1 << (i % 8));
		buf.len = bitmap_len;
	}

	if (att->attbyval && nnull == 0 && att->attlen >= 1 && att->attlen <= 8)
	{
		/* fixed-width values without NULLs: a packed array, written in one go */
		char	   *dst;

		enlargeStringInfo(&buf, nrows * att->attlen);
		dst = buf.data + buf.len;
		switch (att->attlen)
		{
			case 8:
				for (i = 0; i < nrows; i++)
				{
					int64		v = DatumGetInt64(values[i]);

					memcpy(dst + (Size) i * 8, &v, 8);
				}
				break;
			case 4:
				for (i = 0; i < nrows; i++)
				{
					int32		v = DatumGetInt32(values[i]);

					memcpy(dst + (Size) i * 4, &v, 4);
				}
				break;
			case 2:
				for (i = 0; i < nrows; i++)
				{
					int16		v = DatumGetInt16(values[i]);

					memcpy(dst + (Size) i * 2, &v, 2);
				}
				break;
			default:
				for (i = 0; i < nrows; i++)
					append_value(&buf, values[i], att);
				break;
		}
		if (att->attlen == 8 || att->attlen == 4 || att->attlen == 2)
			buf.len += nrows * att->attlen;
		buf.data[buf.len] = '\0';
	}
	else
	{
		if (att->attlen > 0)
			enlargeStringInfo(&buf, (nrows - nnull) * att_align_nominal(att->attlen, value_align(att)));
		for (i = 0; i < nrows; i++)
		{
			if (isnull[i])
				continue;
			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			append_value(&buf, values[i], att);
		}
	}

	*null_count = nnull;
	*min_value = *max_value = NULL;
	if (columnar_stats_minmax(values, isnull, nrows, att, &minv, &maxv))
	{
		*min_value = value_to_bytea(minv, att);
		*max_value = value_to_bytea(maxv, att);
		if (*min_value == NULL || *max_value == NULL)
			*min_value = *max_value = NULL;
	}
	result = make_chunk(&buf);
	pfree(buf.data);
	return result;
}

void
columnar_decode_chunk(bytea *data, Form_pg_attribute att, int nrows,
					  int null_count, Datum *values, bool *isnull)
{
	columnar_decode_chunk_scratch(data, att, nrows, null_count, values, isnull, NULL);
}

void
columnar_decode_chunk_scratch(bytea *data, Form_pg_attribute att, int nrows,
							  int null_count, Datum *values, bool *isnull,
							  ColumnarScratch *scratch)
{
	Size		len;
	char	   *raw = chunk_payload(data, &len, scratch, att->attnum - 1);
	Size		pos = 0;
	const uint8 *bitmap = NULL;
	int			i;

	if (null_count > 0)
	{
		bitmap = (const uint8 *) raw;
		pos = (nrows + 7) / 8;
	}
	if (att->attbyval && bitmap == NULL && att->attlen == 8)
	{
		/* the common case, without per-value branches */
		if (len < (Size) nrows * 8)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk of column \"%s\" is too short",
								   NameStr(att->attname))));
		for (i = 0; i < nrows; i++)
		{
			int64		v;

			memcpy(&v, raw + (Size) i * 8, 8);
			values[i] = Int64GetDatum(v);
			isnull[i] = false;
		}
		return;
	}
	for (i = 0; i < nrows; i++)
	{
		if (bitmap && (bitmap[i / 8] & (1 << (i % 8))))
		{
			values[i] = (Datum) 0;
			isnull[i] = true;
			continue;
		}
		if (pos >= len)
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("versioned_columnar chunk of column \"%s\" is too short",
								   NameStr(att->attname))));
		values[i] = read_value(raw, &pos, att);
		isnull[i] = false;
	}
	if (pos > len)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("versioned_columnar chunk of column \"%s\" overruns its data",
							   NameStr(att->attname))));
}
