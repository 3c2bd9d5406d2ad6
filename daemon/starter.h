/*
 * Starting a sandbox: Start, then Get with a backoff (first after
 * `poll_ms`, then ×1.5, capped at 2 s) on loop timers until it is
 * RUNNING, has ended, or the deadline passes.  Used by lease.acquire
 * (cold starts: gateway.start_poll, 200 ms by default, as the SDKs poll)
 * and by the pools (their own start_poll, 50 ms by default).
 */
#ifndef SBX_STARTER_H
#define SBX_STARTER_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"

struct daemon;
struct starter;

/*
 * Runs once.  Success: err NULL and `sb` RUNNING — or ended, for a job
 * (jobs may finish before anyone looks).  Failure: err set; `sandbox_id`
 * is non-NULL when Start succeeded, and the caller must stop it.
 */
typedef void starter_cb(void *arg, const struct gw_error *err,
		    const struct gw_sandbox *sb, const char *sandbox_id);

struct starter	*starter_start(struct daemon *, const struct gw_spec *,
		    int64_t wait_ms, int64_t poll_ms, starter_cb *, void *arg);
/* Gives up: the callback runs at once with RPC_ERR_CANCELLED. */
void		 starter_cancel(struct starter *, const char *why);
/* The wait before the next Get, after one of `delay_ms`. */
int64_t		 starter_next_delay_ms(int64_t delay_ms);
/* Cancelled starts whose Start is still in flight (shutdown waits). */
unsigned	 starter_orphans(void);
/*
 * Is this sandbox one a start in flight got from Start and has not
 * handed over yet (to its lease or pool, or to the reaper)?
 */
bool		 starter_holds(const char *sandbox_id);
/* Milliseconds from Start to RUNNING of the last success (for pools). */
int64_t		 starter_elapsed_ms(const struct starter *);

#endif
