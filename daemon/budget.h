/*
 * Budgets, enforced centrally: the effective policy of a user (from
 * [budget], [budget.group.X], [budget.user.X]), the checks a new lease or
 * a renewal must pass, and the accounting of sandbox-seconds per user over
 * a rolling window (warm-pool time is charged to the pool).  Accounting is
 * kept in the state directory so a restart resets no one's budget.
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
void		 budget_free(struct budget *);	/* writes what is pending */

/* The policy that applies to a user: user section, else group, else all. */
const struct config_budget *budget_policy(struct daemon *, uid_t, gid_t);

/*
 * May this caller take a new lease of `ttl_ms`?  0, or -1 after answering
 * budget_exceeded naming the budget, its limit and the current use.
 */
int	budget_check_acquire(struct rpc_req *, int64_t ttl_ms);
/* May a lease of this caller run until `new_end_ms` (wall clock)? */
struct lease;
int	budget_check_renew(struct rpc_req *, struct lease *, int64_t ttl_ms);

/* A lease ended: charge its owner from `since_ms` to now (wall clock). */
void	budget_charge(struct budget *, uid_t, int64_t since_ms);
/* A warm sandbox left its pool: charge the pool. */
void	budget_charge_pool(struct budget *, const char *pool, int64_t ms);

/* Sandbox-seconds a user used in the window, running leases included. */
int64_t	budget_used_s(struct daemon *, uid_t, int64_t window_ms);

/* budget.get: one user's use against limits. */
json_t	*budget_user_json(struct daemon *, uid_t, gid_t);
/* Everyone with accounting (root's view), and pool charges. */
json_t	*budget_all_json(struct daemon *);

#endif
