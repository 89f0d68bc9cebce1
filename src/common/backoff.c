/*
 * backoff.c
 *		Restart delays: something that keeps failing (a worker whose
 *		"transient" error persists, a batch that cannot commit) is retried
 *		after 1 s, 2 s, 4 s ... up to a minute, not every second; what ran
 *		for a minute before failing starts from 1 s again.
 *
 * Jitter (a delay drawn from [delay / 2, delay]) keeps many workers that
 * failed together (a server restart, a lock) from retrying in lockstep; the
 * launcher restarts without it, so its delays stay predictable.
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "utils/timestamp.h"

#include "common/worker_common.h"

int
se_backoff_delay_ms(int failures, bool jitter)
{
	int delay = SE_BACKOFF_BASE_MS;
	int i;

	for (i = 1; i < failures && delay < SE_BACKOFF_MAX_MS; i++)
		delay *= 2;
	delay = Min(delay, SE_BACKOFF_MAX_MS);
	if (jitter)
		delay = delay / 2 + (int)(pg_prng_double(&pg_global_prng_state) * (delay / 2));
	return delay;
}

int
se_backoff_fail(SeBackoff *b, TimestampTz started_at, TimestampTz now, bool jitter)
{
	if (started_at != 0 && TimestampDifferenceExceeds(started_at, now, SE_BACKOFF_RESET_MS))
		b->failures = 0;
	b->failures++;
	return se_backoff_delay_ms(b->failures, jitter);
}
