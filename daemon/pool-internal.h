/*
 * The pools' insides, shared by pool.c (members, claims, refills: the life
 * of one pool) and pool-set.c (the set of pools: configuration, reloads,
 * shutdown, reports, what restarts and reconciliation need).
 */
#ifndef SBX_POOL_INTERNAL_H
#define SBX_POOL_INTERNAL_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "pool.h"
#include "pool-spec.h"

#define TICK_MS			1000
#define BACKOFF_FIRST_MS	1000
#define BACKOFF_MAX_MS		60000
#define COLD_SAMPLES		32
#define CLAIM_HISTORY		1024

struct pool_member {
	char			*sandbox_id;
	int64_t			 expires;	/* monotonic: gateway reclaims */
	int64_t			 ready;		/* monotonic: charged from */
	TAILQ_ENTRY(pool_member) entry;
};

struct pool_waiter {
	struct pool		*p;
	int64_t			 ttl_ms;
	pool_claim_cb		*cb;
	void			*arg;
	struct event		*timeout;
	TAILQ_ENTRY(pool_waiter) entry;
};

struct pool_start {
	struct pool		*p;
	struct starter		*st;
	int64_t			 sent;		/* monotonic */
	TAILQ_ENTRY(pool_start)	 entry;
};

struct pool {
	struct daemon		*d;
	char			*name;
	struct pool_spec	 ps;
	bool			 is_default;
	bool			 draining;
	int64_t			 lifetime_ms, min_remaining_ms, demand_window;
	int64_t			 warm, warm_min, warm_max, max, max_starting;
	int64_t			 target;

	TAILQ_HEAD(, pool_member) ready;
	TAILQ_HEAD(, pool_waiter) waiters;
	TAILQ_HEAD(, pool_start) starts;
	unsigned		 nready, nstarting, nleased, nwaiting;

	uint64_t		 claims, hits, misses, nstarts, nfailed;
	int64_t			 cold[COLD_SAMPLES];
	unsigned		 ncold;
	int64_t			 claim_at[CLAIM_HISTORY];	/* ring */
	unsigned		 claim_head, claim_count;

	struct event		*kick;		/* pool_refill_soon */
	char			*last_error;
	unsigned		 failures;	/* in a row */
	int64_t			 backoff_until;	/* monotonic */
	TAILQ_ENTRY(pool)	 entry;
};

struct pools {
	struct daemon		*d;
	struct event		*tick;
	TAILQ_HEAD(, pool)	 list;
};

int64_t	cold_median(const struct pool *);
void	pool_retarget(struct pool *);
void	pool_refill_kicked(evutil_socket_t, short, void *);
void	pool_refill(struct pool *);
void	pool_tick_one(struct pool *);
void	member_free(struct pool_member *);
void	member_discard(struct pool *, struct pool_member *, const char *why);
void	member_arrive(struct pool *, char *sandbox_id, int64_t expires);
void	waiter_fail(struct pool_waiter *, const struct gw_error *,
	    int64_t retry_after);

#endif
