/*
 * streamext.h
 *		Declarations shared by every component: the module's load state.
 *
 * Components talk to each other only through their own headers; this one
 * holds what _PG_init knows and everyone may ask.
 */
#ifndef STREAMEXT_H
#define STREAMEXT_H

#define STREAMEXT_VERSION "0.1.0"

/*
 * True when the library was loaded through shared_preload_libraries, i.e.
 * background workers could be registered.  Functions that need workers
 * check this and tell the user how to fix the configuration.
 */
extern bool streamext_preloaded;

extern void streamext_warn_if_no_workers(const char *what, const char *detail,
										 bool *warned_database);

#endif							/* STREAMEXT_H */
