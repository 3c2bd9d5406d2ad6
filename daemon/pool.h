/*
 * Warm pools: sandboxes started ahead of demand and kept RUNNING, so a
 * lease is answered from memory.  One pool is shared by every local
 * process.  A claimed sandbox leaves the pool for good: a released one is
 * stopped and replaced, never handed to someone else.
 */
#ifndef SBX_POOL_H
#define SBX_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "gw.h"

struct daemon;
struct pools;
struct pool;
struct pool_waiter;

/*
 * A claim that had to wait: on success `sandbox_id`, and `ms` is the life
 * it has left; otherwise `err`, and `ms` a retry-after hint (> 0 for
 * pool_exhausted).  A cold slot (pool_cold_slot) gets neither.
 */
typedef void pool_claim_cb(void *arg, const struct gw_error *err,
		    const char *sandbox_id, int64_t ms);

/* Builds every [pool.NAME]; -1 with *err (heap) on a bad pool spec. */
struct pools	*pools_new(struct daemon *, const struct config *, char **err);
void		 pools_free(struct pools *);
/* SIGHUP: new pools start, changed ones adopt, removed ones drain. */
int		 pools_reload(struct pools *, const struct config *, char **err);
/*
 * Shutdown: starts cancelled, waiters answered, and warm members stopped
 * unless `keep_ready` (they are then saved in the state file).
 */
void		 pools_shutdown(struct pools *, bool keep_ready);
/*
 * Starts still in flight, and cancelled ones whose Start has not answered
 * (shutdown waits for both: a sandbox may yet come of them).
 */
unsigned	 pools_busy(struct pools *);

struct pool	*pool_find(struct pools *, const char *name);
struct pool	*pool_default(struct pools *);
const char	*pool_name(const struct pool *);
/* The pool's start spec, for a cold start with per-lease env. */
const struct gw_spec *pool_gw_spec(const struct pool *);
/* Lifetime of the pool's sandboxes, in ms. */
int64_t		 pool_lifetime_ms(const struct pool *);

/*
 * Claims a ready sandbox for a lease of `ttl_ms`:
 *   0: *sandbox_id (heap) is the caller's now;
 *   1: none ready — the caller waits in line for `cb` (*w set);
 *  -1: no sandbox of this pool can live that long (start cold).
 */
int		 pool_claim(struct pool *, const void *client, int64_t ttl_ms,
		    int64_t wait_ms, pool_claim_cb *, void *arg,
		    char **sandbox_id, int64_t *left_ms, struct pool_waiter **w);
/*
 * Room under `max` for a lease started cold from this pool (per-lease
 * env, or a ttl longer than a member can live), taking a ready member's
 * place if need be:
 *   0: go ahead now (the start counts as leased: pool_count_cold);
 *   1: wait in line; `cb` runs with neither err nor sandbox_id when
 *      there is room, or with pool_exhausted when `wait_ms` runs out.
 * `client` identifies the connection: the line is fair across clients.
 */
int		 pool_cold_slot(struct pool *, const void *client,
		    int64_t wait_ms, pool_claim_cb *, void *arg,
		    struct pool_waiter **w);
/* Why the pool's last start failed, or NULL. */
const char	*pool_last_error(const struct pool *);
/* A restored lease came from this pool. */
void		 pool_count_leased(struct pools *, const char *pool_name);
/*
 * Ready members for the state file: [{pool, sandbox_id, expires_ms,
 * since_ms}] (since_ms: wall clock their pool is charged from).
 */
json_t		*pools_members_json(struct pools *);
/*
 * After a restart: charges each pool its members' time up to now, and
 * takes back members that were `kept` (still to be reconciled).
 */
void		 pools_adopt_members(struct pools *, json_t *members,
		    bool kept);
/* A running sandbox of ours found upstream: 0 taken as ready, -1 not. */
int		 pool_adopt(struct pool *, const char *sandbox_id,
		    int64_t left_ms);
/* Is this sandbox a ready member of some pool? */
bool		 pools_have(struct pools *, const char *sandbox_id);
/* Forgets a ready member that is gone upstream; false: none such. */
bool		 pools_forget(struct pools *, const char *sandbox_id);
/* The gateway answers again: no more waiting out a start backoff. */
void		 pools_gateway_back(struct pools *);
/* The i-th pool (reconciliation walks them), NULL past the end. */
struct pool	*pools_nth(struct pools *, int i);
/* After the first reconciliation: fill every pool. */
void		 pools_refill_all(struct pools *);
/* Sandboxes the pools hold: ready and starting (for max_sandboxes). */
unsigned	 pools_sandboxes(struct pools *);
/* The waiting client left: its place in line goes. */
void		 pool_waiter_cancel(struct pool_waiter *);
/* A lease that came from (or was counted in) a pool is gone. */
void		 pool_lease_gone(struct daemon *, const char *pool_name);
/* Counts a lease started cold for this pool (per-lease env). */
void		 pool_count_cold(struct pool *);

int		 pool_resize(struct pool *, int64_t warm);	/* -1: auto */
json_t		*pool_to_json(const struct pool *);
json_t		*pools_to_json(struct pools *);

#endif
