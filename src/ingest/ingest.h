/*
 * ingest.h
 *		Kafka ingestion: the one entry point _PG_init calls.
 */
#ifndef STREAMEXT_INGEST_H
#define STREAMEXT_INGEST_H

/* GUCs, shared memory and the launcher worker; called from _PG_init. */
extern void ingest_init(void);

#endif							/* STREAMEXT_INGEST_H */
