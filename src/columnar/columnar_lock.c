/*
 * columnar_lock.c
 *		Row locks of versioned_columnar tables and what writers need to
 *		follow concurrent changes: the state of a row as the lock holder sees
 *		it, the successors UPDATE leaves behind, and speculative insertion.
 *
 * A row lock is the table's writer lock (columnar_write.c): writers of one
 * table already serialize on it, so whoever holds it sees every other
 * transaction's changes of the table either committed or rolled back, and
 * nothing moves while it holds it.  Locking a row is then taking that lock
 * (in every FOR ... mode: a coarser lock than the heap's) and re-checking
 * the row under it.  Because an UPDATE is a deletion plus an insert, the
 * deletion vector of a committed UPDATE records the new row number of each
 * row it changed, so that READ COMMITTED writers can follow an updated row
 * to its latest version (EvalPlanQual) as they do on the heap.  The slots
 * of the table answer the executor's one question about a row's xmin (did
 * this transaction insert it?), which foreign keys and ON CONFLICT ask.
 */
#include "postgres.h"

#define COLUMNAR_INTERNAL
#include "columnar/columnar.h"

#include "access/sysattr.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "executor/tuptable.h"
#include "access/xact.h"
#include "storage/proc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

/*
 * Take the row lock of rel's rows (the writer lock), held to the end of the
 * (sub)transaction.  LockWaitError raises heap's "could not obtain lock on
 * row" (55P03) if another transaction holds it; LockWaitSkip returns false.
 */
bool
columnar_lock_rows(Relation rel, LockWaitPolicy wait_policy)
{
	if (columnar_write_state_lock(rel, wait_policy != LockWaitBlock) != NULL)
		return true;
	if (wait_policy == LockWaitError)
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("could not obtain lock on row in relation \"%s\"",
						RelationGetRelationName(rel))));
	return false;
}

/*
 * The state of a row for the holder of the writer lock: LIVE, deleted by
 * this transaction (in command *cmax), DELETED by a committed transaction
 * (*successor: its new version if an UPDATE made one, else -1), or MISSING
 * (rolled back, or never written).  *ours says whether this transaction
 * inserted it.
 */
ColumnarRowState
columnar_row_state(Relation rel, int64 rownum, CommandId *cmax, int64 *successor,
				   bool *ours)
{
	ColumnarWriteState *ws = columnar_write_state_lock(rel, false);
	ColumnarSegment *last_seg = columnar_ws_last_segment(ws);
	int64		storage_id = columnar_ws_storage_id(ws);
	int64		version = columnar_ws_version(ws);
	ColumnarSegment seg;
	ColumnarPendingDel *pd;
	int			r;

	*successor = -1;
	*ours = false;
	*cmax = InvalidCommandId;
	if ((r = columnar_ws_buffer_index(ws, rownum)) >= 0)
	{
		*ours = true;
		return columnar_ws_buffered_state(ws, r, cmax);
	}
	if (last_seg->row_count > 0 && rownum >= last_seg->segno &&
		rownum < last_seg->segno + last_seg->row_count)
		seg = *last_seg;
	else if (!columnar_find_segment(storage_id, rownum, SnapshotSelf, &seg))
		return COLUMNAR_ROW_MISSING;
	else
		*last_seg = seg;
	*ours = seg.added_version == version;
	if (seg.removed_version == version)
		return COLUMNAR_ROW_MISSING;	/* truncated by us: gone for this transaction */
	pd = columnar_pending_del_for(ws, &seg);
	r = rownum - seg.segno;
	if (pd->cids[r] != InvalidCommandId)
	{
		*cmax = pd->cids[r];
		return COLUMNAR_ROW_SELF_DELETED;
	}
	/*
	 * A deleted row's successor first, even in a removed segment: OPTIMIZE
	 * removes the segments it rewrote and records each of their rows' new
	 * row number, so that a writer with an older snapshot follows the row
	 * to its copy instead of losing its change.
	 */
	if (pd->committed[r / 8] & (1 << (r % 8)))
	{
		*successor = columnar_row_successor(storage_id, seg.segno, r);
		return COLUMNAR_ROW_DELETED;
	}
	if (seg.removed_version != 0 || pd->removed)
		return COLUMNAR_ROW_DELETED;
	return COLUMNAR_ROW_LIVE;
}

/*
 * Rows this transaction inserted and then updated or deleted again: their
 * next version (-1: none).  Nobody else ever sees these rows, but a
 * committed row's successor may be one of them, and the commit records
 * the last version instead (see columnar_resolve_successors).  Kept in
 * TopTransactionContext; the local transaction id tells a table of an
 * earlier transaction, which is gone.  A rollback to a savepoint drops the
 * entries its subtransactions made (subtransaction ids only grow).
 */
typedef struct ChainKey
{
	int64		storage_id;
	int64		row;
} ChainKey;

typedef struct ChainEntry
{
	ChainKey	key;
	int64		next;
	SubTransactionId subid;
} ChainEntry;

static HTAB *own_chain = NULL;
static LocalTransactionId own_chain_lxid = InvalidLocalTransactionId;

static HTAB *
own_chain_table(bool create)
{
	HASHCTL		ctl;

	if (own_chain != NULL && own_chain_lxid == MyProc->lxid)
		return own_chain;
	own_chain = NULL;
	if (!create)
		return NULL;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ChainKey);
	ctl.entrysize = sizeof(ChainEntry);
	ctl.hcxt = TopTransactionContext;
	own_chain = hash_create("columnar own update chain", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	own_chain_lxid = MyProc->lxid;
	return own_chain;
}

static void
own_chain_subxact(SubXactEvent event, SubTransactionId mySubid,
				  SubTransactionId parentSubid, void *arg)
{
	HTAB	   *chain;
	HASH_SEQ_STATUS st;
	ChainEntry *e;

	if (event != SUBXACT_EVENT_ABORT_SUB || (chain = own_chain_table(false)) == NULL)
		return;
	hash_seq_init(&st, chain);
	while ((e = hash_seq_search(&st)) != NULL)
		if (e->subid >= mySubid)
			hash_search(chain, &e->key, HASH_REMOVE, NULL);
}

void
columnar_lock_init(void)
{
	RegisterSubXactCallback(own_chain_subxact, NULL);
}

/*
 * At commit, before the deletion vectors are written: a successor that
 * this transaction updated or deleted again becomes the version that
 * survives (or -1).
 */
void
columnar_resolve_successors(ColumnarWriteState *ws)
{
	HTAB	   *chain = own_chain_table(false);
	HASH_SEQ_STATUS st;
	ColumnarPendingDel *pd;
	int			i;

	if (chain == NULL)
		return;
	hash_seq_init(&st, columnar_ws_pending_dels(ws));
	while ((pd = hash_seq_search(&st)) != NULL)
	{
		if (pd->succ == NULL)
			continue;
		for (i = 0; i < pd->nrows; i++)
		{
			int64		s = pd->succ[i];
			int			hops = 0;

			while (s >= 0 && hops++ < 1000000)
			{
				ChainKey	key;
				ChainEntry *e;

				key.storage_id = columnar_ws_storage_id(ws);
				key.row = s;
				e = hash_search(chain, &key, HASH_FIND, NULL);
				if (e == NULL)
					break;
				s = e->next;
			}
			pd->succ[i] = s;
		}
	}
}

/*
 * Record that this transaction's UPDATE made newrow the new version of
 * oldrow (newrow -1: oldrow was simply deleted), which it has just deleted.
 * For a row this transaction inserted, only the chain above learns it.
 */
void
columnar_set_successor(Relation rel, int64 oldrow, int64 newrow)
{
	ColumnarWriteState *ws = columnar_write_state_lock(rel, false);
	ColumnarSegment *last_seg = columnar_ws_last_segment(ws);
	ColumnarPendingDel *pd;
	int64		segno;
	int			i;
	bool		own;

	own = columnar_ws_buffer_index(ws, oldrow) >= 0;
	/* else columnar_delete_row just remembered the row's segment */
	if (!own && !(last_seg->row_count > 0 && oldrow >= last_seg->segno &&
				  oldrow < last_seg->segno + last_seg->row_count))
		return;
	if (own || last_seg->added_version == columnar_ws_version(ws))
	{
		ChainKey	key;
		ChainEntry *e;
		HTAB	   *chain = own_chain_table(newrow >= 0);

		if (chain == NULL)
			return;				/* nothing to resolve through this row */
		key.storage_id = columnar_ws_storage_id(ws);
		key.row = oldrow;
		e = hash_search(chain, &key, HASH_ENTER, NULL);
		e->next = newrow;
		e->subid = GetCurrentSubTransactionId();
		if (own)
			return;
	}
	segno = last_seg->segno;
	pd = columnar_ws_pending_del(ws, segno);
	if (pd == NULL)
		return;
	if (pd->succ == NULL)
	{
		if (newrow < 0)
			return;
		pd->succ = MemoryContextAlloc(columnar_ws_memory(ws), sizeof(int64) * pd->nrows);
		for (i = 0; i < pd->nrows; i++)
			pd->succ[i] = -1;
	}
	pd->succ[oldrow - segno] = newrow;
}

/*
 * INSERT ... ON CONFLICT found a conflict after inserting its row: the row
 * never existed.  It is treated like a row of a rolled-back subtransaction
 * (counted neither as added nor as removed: see columnar_xact.c).
 */
void
columnar_abort_speculative(Relation rel, int64 rownum)
{
	ColumnarWriteState *ws = columnar_write_state_lock(rel, false);
	CommandId	cmax;
	int			i = columnar_ws_buffer_index(ws, rownum);

	if (i >= 0)
	{
		columnar_ws_forget_buffered(ws, i);
		return;
	}
	/* already written as part of a segment: delete it there (counted as never added) */
	(void) columnar_delete_row(rel, rownum, GetCurrentCommandId(true), &cmax);
}

/*
 * The slots of versioned_columnar tables: virtual slots that can answer
 * the one system column the executor asks of a table's rows, xmin, with
 * what it needs to know from it (foreign key checks of an UPDATE, ON
 * CONFLICT under REPEATABLE READ): whether this transaction inserted the
 * row.  Our rows say "this transaction" (its xid), other rows "committed
 * long ago" (FrozenTransactionId).  The other system columns are refused.
 */
static TupleTableSlotOps columnar_slot_ops;
static bool columnar_slot_ops_ready = false;

static bool
row_inserted_by_us(Oid relid, ItemPointer tid)
{
	Relation	rel = RelationIdGetRelation(relid);
	int64		storage_id;
	int64		rownum = columnar_tid_to_row(tid);
	ColumnarWriteState *ws;
	ColumnarSegment seg;
	bool		ours = false;

	if (!RelationIsValid(rel))
		return false;
	storage_id = columnar_storage_id(rel, true);
	RelationClose(rel);
	ws = storage_id != 0 ? columnar_write_state_find(storage_id) : NULL;
	if (ws == NULL)
		return false;
	if (columnar_ws_buffer_index(ws, rownum) >= 0)
		ours = true;
	else if (columnar_find_segment(storage_id, rownum, SnapshotSelf, &seg))
		ours = seg.added_version == columnar_ws_version(ws);
	return ours;
}

static Datum
columnar_slot_getsysattr(TupleTableSlot *slot, int attnum, bool *isnull)
{
	*isnull = false;
	if (attnum == MinTransactionIdAttributeNumber && OidIsValid(slot->tts_tableOid) &&
		ItemPointerIsValid(&slot->tts_tid))
		return TransactionIdGetDatum(row_inserted_by_us(slot->tts_tableOid, &slot->tts_tid) ?
									 GetTopTransactionId() : FrozenTransactionId);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot retrieve a system column in this context")));
	return (Datum) 0;
}

const TupleTableSlotOps *
columnar_slot_ops_get(void)
{
	if (!columnar_slot_ops_ready)
	{
		columnar_slot_ops = TTSOpsVirtual;
		columnar_slot_ops.getsysattr = columnar_slot_getsysattr;
		columnar_slot_ops_ready = true;
	}
	return &columnar_slot_ops;
}
