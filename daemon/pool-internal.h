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
#define MIN_REMAINING_DEFAULT_MS (5 * 60 * 1000)

struct pool_member {
	char			*sandbox_id;
	int64_t			 expires;	/* monotonic: gateway reclaims */
	int64_t			 ready;		/* monotonic: charged from */
	TAILQ_ENTRY(pool_member) entry;
};

/*
 * A request in line.  `cold` ones wait for room under `max` to start a
 * sandbox of their own (per-lease env, or a ttl no member can live);
 * the others for a ready member.  The line is ordered by (round, arrival):
 * a client's k-th request in line is in round k, so one client with many
 * requests queued does not starve another (round-robin across clients).
 */
struct pool_waiter {
	struct pool		*p;
	const void		*client;
	uint64_t		 round;
	bool			 cold;
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
	unsigned		 spec_gen;	/* p->spec_gen when sent */
	TAILQ_ENTRY(pool_start)	 entry;
};

/*
 * A [pool.NAME] section checked and built, not yet applied: a reload
 * builds every pool's settings before it changes any pool.
 */
struct pool_settings {
	struct pool_spec	 ps;
	bool			 is_default;
	int64_t			 lifetime_ms, min_remaining_ms, demand_window;
	int64_t			 warm, warm_min, warm_max, max, max_starting;
	int64_t			 start_poll_ms;
};

struct pool {
	struct daemon		*d;
	char			*name;
	struct pool_spec	 ps;
	unsigned		 spec_gen;	/* bumped when the spec changes */
	bool			 is_default;
	bool			 draining;
	int64_t			 lifetime_ms, min_remaining_ms, demand_window;
	int64_t			 warm, warm_min, warm_max, max, max_starting;
	int64_t			 start_poll_ms;	/* first Get after a refill */
	int64_t			 target;

	TAILQ_HEAD(, pool_member) ready;
	TAILQ_HEAD(, pool_waiter) waiters;
	TAILQ_HEAD(, pool_start) starts;
	unsigned		 nready, nstarting, nleased, nwaiting;
	unsigned		 nwaiting_cold;

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
int	pool_settings_build(struct pool_settings *, const struct config *,
	    const struct config_pool *, char **err);
/* warm = auto's target for `claims` in the window; pure, for the tests. */
int64_t	pool_auto_target(unsigned claims, int64_t window_ms, int64_t cold_ms,
	    int64_t warm_min, int64_t warm_max);
void	pool_note_claim(struct pool *, int64_t now);
void	pool_retarget_at(struct pool *, int64_t now);
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
