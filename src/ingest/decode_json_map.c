/*
 * decode_json_map.c
 *		Format json's mapping of keys to columns: the decoder's key lookup
 *		table (top-level key -> column, column_map root, or counter of an
 *		unknown key), and column_map paths, parsed once and followed through
 *		each validated message.
 *
 * column_map paths have this syntax (a subset of SQL/JSON paths):
 *		$				the whole message
 *		$.name			member "name" (any characters except . [ and space)
 *		$["any name"]	member with any name; also ['...']; \" and \\ escape
 *		$[3]			array element 3 (zero-based)
 * and any sequence of those, e.g. $.readings[0].speed.  The leading $ may
 * be left out: "readings[0].speed".  A path's first member is a top-level
 * key (its root), found while the message is validated; the rest of the
 * path is followed afterwards, over valid JSON.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "ingest/decode_json_internal.h"

/* one path step from the value at *v; false if the step leads nowhere */
bool
json_nav_step(SourceDecoder *dec, PathStep *step, const char **v, const char **vend)
{
	const char *p = *v;
	const char *end = *vend;
	bool		found = false;
	int			idx = 0;

	if (step->key != NULL ? *p != '{' : *p != '[')
		return false;
	p = json_nav_ws(p + 1, end);
	if (*p == '}' || *p == ']')
		return false;
	for (;;)
	{
		bool		match;
		const char *e;

		CHECK_FOR_INTERRUPTS();
		if (step->key != NULL)
		{
			const char *ks = p + 1;
			const char *ke = json_nav_string_end(p, end) - 1;

			if (memchr(ks, '\\', ke - ks) == NULL)
				match = (ke - ks) == step->keylen && memcmp(ks, step->key, step->keylen) == 0;
			else
				match = json_unescape(ks, (int) (ke - ks), &dec->scratch) &&
					dec->scratch.len == step->keylen &&
					memcmp(dec->scratch.data, step->key, step->keylen) == 0;
			p = json_nav_ws(ke + 1, end);
			p = json_nav_ws(p + 1, end); /* ':' */
		}
		else
			match = idx++ == step->index;
		e = json_nav_skip(p, end);
		if (match)
		{
			/* last one wins for keys; the first (only) one for indexes */
			*v = p;
			*vend = e;
			found = true;
			if (step->key == NULL)
				return true;
		}
		p = json_nav_ws(e, end);
		if (*p != ',')
			break;
		p = json_nav_ws(p + 1, end);
	}
	return found;
}

KeyEntry *
json_insert_key(SourceDecoder *dec, const char *s, int len)
{
	uint32		i = json_hash_key(s, len) & (dec->nbuckets - 1);

	for (;;)
	{
		KeyEntry   *e = &dec->buckets[i];

		if (e->name == NULL)
		{
			e->name = pnstrdup(s, len);
			e->len = len;
			e->col = -1;
			e->root = -1;
			e->unknown = -1;
			return e;
		}
		if (e->len == len && memcmp(e->name, s, len) == 0)
			return e;
		i = (i + 1) & (dec->nbuckets - 1);
	}
}

static void
path_error(const char *colname, const char *path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid JSON path \"%s\" for column \"%s\" in column_map: %s",
					path, colname, what),
			 errhint("Paths look like $.a.b, $.list[0].name or $[\"key with spaces\"].")));
}

static void
parse_path(DecodeColumn *col, const char *path)
{
	const char *p = path;
	int			cap = 4;
	bool		relative = false;

	col->npath = 0;
	col->path = palloc(sizeof(PathStep) * cap);
	if (*p == '$')
		p++;
	else if (*p == '\0')
		path_error(col->name, path, "empty path");
	else if (*p != '.' && *p != '[')
		relative = true;		/* "a.b" is the same as "$.a.b" */
	while (*p != '\0')
	{
		PathStep   *st;

		if (col->npath == cap)
		{
			cap *= 2;
			col->path = repalloc(col->path, sizeof(PathStep) * cap);
		}
		st = &col->path[col->npath];
		if (relative || *p == '.')
		{
			const char *s = relative ? p : p + 1;

			relative = false;
			p = s;
			while (*p != '\0' && *p != '.' && *p != '[' && *p != ' ')
				p++;
			if (p == s)
				path_error(col->name, path, "expected a member name after '.'");
			st->key = pnstrdup(s, p - s);
			st->keylen = (int) (p - s);
		}
		else if (*p == '[' && (p[1] == '"' || p[1] == '\''))
		{
			char		q = p[1];
			StringInfoData name;

			initStringInfo(&name);
			p += 2;
			while (*p != '\0' && *p != q)
			{
				if (*p == '\\' && (p[1] == q || p[1] == '\\'))
					p++;
				appendStringInfoChar(&name, *p++);
			}
			if (*p != q || p[1] != ']')
				path_error(col->name, path, "unterminated quoted member name");
			p += 2;
			st->key = name.data;
			st->keylen = name.len;
		}
		else if (*p == '[')
		{
			long		idx = 0;

			p++;
			if (!IS_DIGIT(*p))
				path_error(col->name, path, "expected an array index (a number from 0) or a quoted name after '['");
			while (IS_DIGIT(*p))
			{
				idx = idx * 10 + (*p++ - '0');
				if (idx > PG_INT32_MAX)
					path_error(col->name, path, "array index too large");
			}
			if (*p != ']')
				path_error(col->name, path, "expected ']'");
			p++;
			st->key = NULL;
			st->index = (int) idx;
		}
		else
			path_error(col->name, path, "expected '.' or '['");
		col->npath++;
	}
	if (col->npath > 0 && col->path[0].key == NULL)
		path_error(col->name, path, "a message is an object, so the path must start with a member name");
}

void
json_decoder_prepare(SourceDecoder *dec, Jsonb *column_map)
{
	/* room for the keys seen that match no column, too (note_unmatched_key) */
	int			nentries = dec->natts + 1 + DECODE_MAX_UNKNOWN;
	int			i;

	if (column_map != NULL)
		nentries += JB_ROOT_COUNT(column_map);
	dec->nbuckets = 16;
	while (dec->nbuckets < nentries * 2)
		dec->nbuckets *= 2;
	dec->buckets = palloc0(sizeof(KeyEntry) * dec->nbuckets);
	for (i = 0; i < dec->natts; i++)
		dec->cols[i].root = -1;

	if (column_map != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&column_map->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		DecodeColumn *col = NULL;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				int			c = decoder_lookup_column(dec, v.val.string.val, v.val.string.len);

				if (c < 0)
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_COLUMN),
							 errmsg("column_map names column \"%.*s\", which the target does not have or which is a metadata column",
									v.val.string.len, v.val.string.val)));
				col = &dec->cols[c];
			}
			else if (tok == WJB_VALUE)
			{
				char	   *path;
				KeyEntry   *e;

				if (v.type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("column_map value for column \"%s\" must be a JSON path string",
									col->name)));
				path = pnstrdup(v.val.string.val, v.val.string.len);
				parse_path(col, path);
				col->mapped = true;
				if (col->npath > 0)
				{
					e = json_insert_key(dec, col->path[0].key, col->path[0].keylen);
					if (e->root < 0)
						e->root = dec->nroots++;
					col->root = e->root;
				}
			}
		}
	}
	dec->root_start = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	dec->root_end = palloc0(sizeof(char *) * Max(dec->nroots, 1));
	if (dec->merge_schema)
	{
		dec->unknown_cxt = AllocSetContextCreate(CurrentMemoryContext,
												 "streamext unknown keys",
												 ALLOCSET_SMALL_SIZES);
		dec->unknown = palloc0(sizeof(UnknownKey) * UNKNOWN_SLOTS);
	}

	/* columns by name; metadata and generated columns are known but not filled */
	for (i = 0; i < dec->natts; i++)
	{
		DecodeColumn *col = &dec->cols[i];
		KeyEntry   *e;

		if (col->name == NULL || (col->skip && strncmp(col->name, "........pg.dropped.", 19) == 0))
			continue;
		e = json_insert_key(dec, col->name, strlen(col->name));
		if (col->is_data && !col->mapped)
			e->col = i;
	}
}
