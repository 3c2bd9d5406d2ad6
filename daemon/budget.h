/*
 * Budgets, enforced centrally: the effective policy of a user (from
 * [budget], [budget.group.X], [budget.user.X]), the checks a new lease or
 * a renewal must pass, and the accounting of sandbox-seconds per user over
 * a rolling window (warm-pool time is charged to the pool).  Accounting is
 * kept in the state file so a restart resets no one's budget.
 */
#ifndef SBX_BUDGET_H
#define SBX_BUDGET_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config.h"

struct daemon;
struct rpc_req;
struct budget;

struct budget	*budget_new(struct daemon *);
void		 budget_free(struct budget *);

/*
 * The accounting lives in the state file (state.c), so a charge is
 * durable in the same write that drops the lease it charges.
 */
json_t	*budget_to_json(struct budget *);
void	 budget_restore(struct budget *, const json_t *);
/* The state file was written: an older accounting.json is obsolete. */
void	 budget_state_saved(struct budget *);

/*
 * The policy that applies to a user: user section, else a group section
 * (groups from the user database), else [budget].
 */
const struct config_budget *budget_policy(struct daemon *, uid_t);

/*
 * May this caller take a new lease of *ttl_ms?  0, with *ttl_ms brought
 * in to what is left of the sandbox-seconds (*why: "sandbox_seconds",
 * else "ttl"); or -1 after answering budget_exceeded naming the budget,
 * its limit and the current use.
 */
int	budget_check_acquire(struct rpc_req *, int64_t *ttl_ms,
	    const char **why);
/* The same for renewing a lease to *ttl_ms from now (owner's budgets). */
struct lease;
int	budget_check_renew(struct rpc_req *, struct lease *, int64_t *ttl_ms,
	    const char **why);

/* A lease ended: charge its owner from `since_ms` to now (wall clock). */
void	budget_charge(struct budget *, uid_t, int64_t since_ms);
/* Sandbox time from `from_ms` to `to_ms` (wall clock). */
void	budget_charge_span(struct budget *, uid_t, int64_t from_ms,
	    int64_t to_ms);
/* Warm sandboxes' time: charged to the pool. */
void	budget_charge_pool(struct budget *, const char *pool, int64_t ms);

/* How much of [start, end] lies in [from, to], in ms. */
int64_t	budget_overlap_ms(int64_t start_ms, int64_t end_ms, int64_t from_ms,
	    int64_t to_ms);
/* Sandbox-seconds a user used in the window, running leases included. */
int64_t	budget_used_s(struct daemon *, uid_t, int64_t window_ms);

/* budget.get: one user's use against limits. */
json_t	*budget_user_json(struct daemon *, uid_t);
/* Everyone with accounting or leases (root's view), and pool charges. */
json_t	*budget_all_json(struct daemon *);
/* status: host totals — sandbox-seconds in the window, pools, sandboxes. */
json_t	*budget_host_json(struct daemon *);

#endif
