/*
 * columnar_vagg_group.c
 *		Grouping for the VectorizedAgg node: maps each selected row of a
 *		column vector to its group, in an open-addressing hash table of the
 *		groups (keys copied into the groups' memory, one VaggState per
 *		aggregate and group).
 *
 * By-value keys with bitwise equality (integers, dates, timestamps) are
 * hashed as their Datum; text keys of a deterministic collation are hashed
 * and compared as bytes (no per-row detoasting or collation call), and a row
 * whose text key has the previous row's bytes takes its group without
 * hashing; other types use their hash and equality functions.
 */
#include "postgres.h"

#include "columnar/columnar_vagg.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

void
vagg_key_setup(VaggKey *key, Form_pg_attribute att)
{
	Oid			type = att->atttypid;
	TypeCacheEntry *tc;

	key->attno = att->attnum - 1;
	key->collation = att->attcollation;
	key->typlen = att->attlen;
	key->typbyval = att->attbyval;
	switch (type)
	{
		case BOOLOID:
		case CHAROID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			key->mode = KEY_BITWISE;
			return;
		case TEXTOID:
		case VARCHAROID:
		case BYTEAOID:
			if (!OidIsValid(key->collation) ||
				get_collation_isdeterministic(key->collation))
			{
				key->mode = KEY_BYTES;
				return;
			}
			break;
	}
	key->mode = KEY_GENERIC;
	tc = lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a hash function for type %s",
						format_type_be(type))));
	fmgr_info_copy(&key->hash, &tc->hash_proc_finfo, CurrentMemoryContext);
	fmgr_info_copy(&key->eq, &tc->eq_opr_finfo, CurrentMemoryContext);
}

/* ---- groups ---- */

void
vagg_groups_reset(VaggGroups *state)
{
	MemoryContextReset(state->groupcxt);
	state->ngroups = 0;
	state->capgroups = 0;
	state->gkeys = NULL;
	state->gnulls = NULL;
	state->ghash = NULL;
	state->states = NULL;
	state->narrow = NULL;
	state->gshort = NULL;
	state->tabmask = 1023;
	state->table = MemoryContextAlloc(state->groupcxt, sizeof(VaggSlot) * (state->tabmask + 1));
	memset(state->table, 0xff, sizeof(VaggSlot) * (state->tabmask + 1));
	state->gidx = NULL;
	state->hashes = NULL;
	state->gcap = 0;
}

static void
grow_table(VaggGroups *state)
{
	uint32		newmask = state->tabmask * 2 + 1;
	VaggSlot   *t = MemoryContextAllocHuge(state->groupcxt, sizeof(VaggSlot) * ((Size) newmask + 1));
	int			g;

	memset(t, 0xff, sizeof(VaggSlot) * ((Size) newmask + 1));
	for (g = 0; g < state->ngroups; g++)
	{
		uint32		s = state->ghash[g] & newmask;

		while (t[s].group >= 0)
			s = (s + 1) & newmask;
		t[s].hash = state->ghash[g];
		t[s].group = g;
	}
	pfree(state->table);
	state->table = t;
	state->tabmask = newmask;
}

/* A new group for the key of row i of the vector. */
int32
vagg_add_group(VaggGroups *state, uint32 hash, Datum **vals, bool **nulls, int i)
{
	int32		g = state->ngroups;
	int			k;
	int			a;
	MemoryContext old;

	if (g >= state->capgroups)
	{
		int			cap = Max(state->capgroups * 2, 64);

		old = MemoryContextSwitchTo(state->groupcxt);
		if (state->capgroups == 0)
		{
			state->gkeys = palloc_extended(sizeof(Datum) * cap * Max(state->nkeys, 1), MCXT_ALLOC_HUGE);
			state->gnulls = palloc_extended(sizeof(bool) * cap * Max(state->nkeys, 1), MCXT_ALLOC_HUGE);
			state->ghash = palloc_extended(sizeof(uint32) * cap, MCXT_ALLOC_HUGE);
			state->states = palloc_extended(sizeof(VaggState) * cap * Max(state->naggs, 1), MCXT_ALLOC_HUGE);
			state->gshort = palloc_extended(sizeof(VaggShortKey) * cap, MCXT_ALLOC_HUGE);
			state->narrow = palloc0(sizeof(VaggNarrow *) * Max(state->naggs, 1));
			for (a = 0; a < state->naggs; a++)
				if (state->narrow_ok && state->narrow_ok[a])
					state->narrow[a] = palloc_extended(sizeof(VaggNarrow) * cap, MCXT_ALLOC_HUGE);
		}
		else
		{
			state->gkeys = repalloc_huge(state->gkeys, sizeof(Datum) * cap * Max(state->nkeys, 1));
			state->gnulls = repalloc_huge(state->gnulls, sizeof(bool) * cap * Max(state->nkeys, 1));
			state->ghash = repalloc_huge(state->ghash, sizeof(uint32) * cap);
			state->states = repalloc_huge(state->states, sizeof(VaggState) * cap * Max(state->naggs, 1));
			state->gshort = repalloc_huge(state->gshort, sizeof(VaggShortKey) * cap);
			for (a = 0; a < state->naggs; a++)
				if (state->narrow[a])
					state->narrow[a] = repalloc_huge(state->narrow[a], sizeof(VaggNarrow) * cap);
		}
		MemoryContextSwitchTo(old);
		state->capgroups = cap;
	}
	old = MemoryContextSwitchTo(state->groupcxt);
	for (k = 0; k < state->nkeys; k++)
	{
		VaggKey    *key = &state->keys[k];
		bool		isnull = nulls[key->attno][i];
		Datum		v = vals[key->attno][i];

		state->gnulls[(Size) g * state->nkeys + k] = isnull;
		if (isnull)
			v = (Datum) 0;
		else if (key->mode == KEY_BYTES)
			v = PointerGetDatum(PG_DETOAST_DATUM_COPY(v));
		else if (!key->typbyval)
			v = datumCopy(v, false, key->typlen);
		state->gkeys[(Size) g * state->nkeys + k] = v;
	}
	MemoryContextSwitchTo(old);
	state->ghash[g] = hash;
	for (a = 0; a < state->naggs; a++)
	{
		vagg_state_init(&state->states[(Size) g * state->naggs + a]);
		if (state->narrow[a])
			memset(&state->narrow[a][g], 0, sizeof(VaggNarrow));
	}
	state->ngroups++;
	if ((uint32) state->ngroups * 2 > state->tabmask)
		grow_table(state);
	else
	{
		uint32		s = hash & state->tabmask;

		while (state->table[s].group >= 0)
			s = (s + 1) & state->tabmask;
		state->table[s].hash = hash;
		state->table[s].group = g;
	}
	return g;
}

/*
 * The bits of a by-value key that hold its value: a Datum of a narrow type
 * may carry anything in its other bits, depending on where it came from.
 */
static inline uint64
key_bits(VaggKey *key, Datum v)
{
	switch (key->typlen)
	{
		case 1:
			return (uint8) v;
		case 2:
			return (uint16) v;
		case 4:
			return (uint32) v;
		default:
			return (uint64) v;
	}
}

static inline bool
bytes_equal(Datum a, Datum b)
{
	struct varlena *x = (struct varlena *) DatumGetPointer(a);
	struct varlena *y = (struct varlena *) DatumGetPointer(b);
	Size		lx = VARSIZE_ANY_EXHDR(x);

	return lx == VARSIZE_ANY_EXHDR(y) && memcmp(VARDATA_ANY(x), VARDATA_ANY(y), lx) == 0;
}

/* Does key k of group g equal the value (v, isnull)? */
static inline bool
key_equal(VaggGroups *state, VaggKey *key, int g, int k, Datum v, bool isnull)
{
	bool		gnull = state->gnulls[(Size) g * state->nkeys + k];
	Datum		gv = state->gkeys[(Size) g * state->nkeys + k];

	if (gnull || isnull)
		return gnull && isnull;
	switch (key->mode)
	{
		case KEY_BITWISE:
			return key_bits(key, gv) == key_bits(key, v);
		case KEY_BYTES:
			if (VARATT_IS_EXTENDED(DatumGetPointer(v)) && !VARATT_IS_SHORT(DatumGetPointer(v)))
				v = PointerGetDatum(PG_DETOAST_DATUM_PACKED(v));
			return bytes_equal(gv, v);
		case KEY_GENERIC:
			return DatumGetBool(FunctionCall2Coll(&key->eq, key->collation, gv, v));
	}
	return false;
}

static inline uint32
key_hash(VaggKey *key, Datum v, bool isnull)
{
	if (isnull)
		return 0x9e3779b9;
	switch (key->mode)
	{
		case KEY_BITWISE:
			{
				uint64		b = key_bits(key, v);

				return murmurhash32((uint32) b ^ murmurhash32((uint32) (b >> 32)));
			}
		case KEY_BYTES:
			{
				struct varlena *x = (struct varlena *) DatumGetPointer(v);

				if (VARATT_IS_EXTENDED(x) && !VARATT_IS_SHORT(x))
					x = PG_DETOAST_DATUM_PACKED(v);
				return hash_bytes((const unsigned char *) VARDATA_ANY(x),
								  (int) VARSIZE_ANY_EXHDR(x));
			}
		case KEY_GENERIC:
			return DatumGetUInt32(FunctionCall1Coll(&key->hash, key->collation, v));
	}
	return 0;
}

/* Find or add the group of row i, whose key hashes to h. */
static inline int32
lookup_group(VaggGroups *state, uint32 h, Datum **vals, bool **nulls, int i)
{
	uint32		s = h & state->tabmask;
	int32		g;
	int			k;

	while ((g = state->table[s].group) >= 0)
	{
		/* the slot keeps the hash: a miss costs no look at the group */
		if (state->table[s].hash == h)
		{
			bool		same = true;

			for (k = 0; k < state->nkeys && same; k++)
			{
				VaggKey    *key = &state->keys[k];

				same = key_equal(state, key, g, k, vals[key->attno][i], nulls[key->attno][i]);
			}
			if (same)
				return g;
		}
		s = (s + 1) & state->tabmask;
	}
	return vagg_add_group(state, h, vals, nulls, i);
}

/*
 * A text key of up to 16 bytes as two words (len -1: NULL): two loads that
 * overlap when it is shorter than 16 bytes and together cover every byte,
 * so equal words and lengths mean equal bytes, and no call of memcpy.
 */
static inline void
short_key(const char *data, int len, VaggShortKey *k)
{
	uint64		a = 0;
	uint64		b = 0;

	if (len >= 8)
	{
		memcpy(&a, data, 8);
		memcpy(&b, data + len - 8, 8);
	}
	else if (len >= 4)
	{
		uint32		x;
		uint32		y;

		memcpy(&x, data, 4);
		memcpy(&y, data + len - 4, 4);
		a = x;
		b = y;
	}
	else
	{
		int			i;

		for (i = 0; i < len; i++)
			a |= (uint64) (uint8) data[i] << (8 * i);
	}
	k->a = a;
	k->b = b;
	k->len = len;
}

static inline uint32
short_hash(const VaggShortKey *k)
{
	uint64		h = k->a * UINT64CONST(0x9E3779B97F4A7C15) ^
		(k->b + (uint64) (uint32) k->len) * UINT64CONST(0xC2B2AE3D27D4EB4F);

	h ^= h >> 29;
	h *= UINT64CONST(0xBF58476D1CE4E5B9);
	h ^= h >> 32;
	return (uint32) h;
}

/* The bytes of row i's text key (len -1: NULL). */
static inline const char *
row_bytes(Datum *kv, bool *kn, int i, int *len)
{
	struct varlena *x;

	if (kn[i])
	{
		*len = -1;
		return NULL;
	}
	x = (struct varlena *) DatumGetPointer(kv[i]);
	if (VARATT_IS_EXTENDED(x) && !VARATT_IS_SHORT(x))
		x = PG_DETOAST_DATUM_PACKED(kv[i]);
	*len = (int) VARSIZE_ANY_EXHDR(x);
	return VARDATA_ANY(x);
}

/* How many rows ahead the hash table slot of a short key is prefetched. */
#define PREFETCH_AHEAD 8

/*
 * One text key compared as bytes.  Keys of up to 16 bytes (region and
 * device names) are two machine words, hashed and compared as such against
 * the copy each group keeps next to its hash; longer ones go through
 * hash_bytes and memcmp.  A row whose key has the previous selected row's
 * bytes (runs of a key, as a table loaded in key order has them) takes its
 * group without a lookup.
 */
static void
assign_groups_bytes(VaggGroups *state, int nrows, Datum **vals, bool **nulls)
{
	VaggKey    *key = &state->keys[0];
	Datum	   *kv = vals[key->attno];
	bool	   *kn = nulls[key->attno];
	int32	   *gidx = state->gidx;
	uint32	   *hashes = state->hashes;
	int32		prev = -1;
	VaggShortKey pk = {0, 0, 0};
	const char *pdata = NULL;
	int			i;

	/*
	 * With thousands of groups (device names interleaved), first the hashes
	 * of the short keys, so that the second pass can ask for the table slot
	 * a few rows ahead: every row's slot is elsewhere in a table larger than
	 * the first-level cache, and the lookups would otherwise wait for each
	 * in turn.  A small table (region's 20 groups) stays cached: one pass.
	 */
	bool		prefetch = state->tabmask >= 4095;

	for (i = 0; prefetch && i < nrows; i++)
	{
		VaggShortKey sk;
		int			len;
		const char *data;

		if (gidx[i] < 0)
			continue;
		data = row_bytes(kv, kn, i, &len);
		if (len > 16)
			continue;
		short_key(data, len, &sk);
		hashes[i] = short_hash(&sk);
	}
	for (i = 0; i < nrows; i++)
	{
		const char *data;
		int			len;
		uint32		h;
		VaggShortKey sk;
		uint32		s;
		int32		g;

		if (gidx[i] < 0)
			continue;
		if (prefetch && i + PREFETCH_AHEAD < nrows && gidx[i + PREFETCH_AHEAD] >= 0)
			__builtin_prefetch(&state->table[hashes[i + PREFETCH_AHEAD] & state->tabmask]);
		data = row_bytes(kv, kn, i, &len);
		if (len <= 16)
		{
			short_key(data, len, &sk);
			if (prev >= 0 && sk.len == pk.len && sk.a == pk.a && sk.b == pk.b)
			{
				gidx[i] = prev;
				continue;
			}
			h = prefetch ? hashes[i] : short_hash(&sk);
		}
		else
		{
			if (prev >= 0 && len == pk.len && memcmp(data, pdata, len) == 0)
			{
				gidx[i] = prev;
				continue;
			}
			sk.len = len;
			sk.a = sk.b = 0;
			h = hash_combine(0, hash_bytes((const unsigned char *) data, len));
		}
		s = h & state->tabmask;
		while ((g = state->table[s].group) >= 0)
		{
			if (state->table[s].hash == h)
			{
				VaggShortKey *gk = &state->gshort[g];

				if (gk->len == sk.len &&
					(len <= 16 ? (gk->a == sk.a && gk->b == sk.b) :
					 key_equal(state, key, g, 0, kv[i], false)))
					break;
			}
			s = (s + 1) & state->tabmask;
		}
		if (g < 0)
		{
			g = vagg_add_group(state, h, vals, nulls, i);
			state->gshort[g] = sk;
		}
		prev = gidx[i] = g;
		pk = sk;
		pdata = data;
	}
}

/* Map the selected rows of a vector (gidx[i] >= 0) to their groups. */
void
vagg_assign_groups(VaggGroups *state, int nrows, Datum **vals, bool **nulls)
{
	int32	   *gidx = state->gidx;
	uint32	   *h = state->hashes;
	int			i;
	int			k;
	int32		prev = -1;
	int			prev_row = -1;

	if (state->nkeys == 0)
		return;					/* gidx is 0 for every selected row already */
	if (state->nkeys == 1 && state->keys[0].mode == KEY_BYTES)
	{
		assign_groups_bytes(state, nrows, vals, nulls);
		return;
	}
	for (i = 0; i < nrows; i++)
		h[i] = 0;
	for (k = 0; k < state->nkeys; k++)
	{
		VaggKey    *key = &state->keys[k];
		Datum	   *kv = vals[key->attno];
		bool	   *kn = nulls[key->attno];

		for (i = 0; i < nrows; i++)
			if (gidx[i] >= 0)
				h[i] = hash_combine(h[i], key_hash(key, kv[i], kn[i]));
	}
	for (i = 0; i < nrows; i++)
	{
		if (gidx[i] < 0)
			continue;
		/* a run of one key needs no lookup */
		if (prev >= 0 && h[i] == h[prev_row])
		{
			bool		same = true;

			for (k = 0; k < state->nkeys && same; k++)
			{
				VaggKey    *key = &state->keys[k];

				same = key_equal(state, key, prev, k, vals[key->attno][i], nulls[key->attno][i]);
			}
			if (same)
			{
				gidx[i] = prev;
				prev_row = i;
				continue;
			}
		}
		prev = gidx[i] = lookup_group(state, h[i], vals, nulls, i);
		prev_row = i;
	}
}
