/* lease.renew and budget.get: deadlines and what is left of a budget. */
#include <string.h>

#include "budget.h"
#include "daemon.h"
#include "lease.h"
#include "params.h"
#include "rpc.h"

static const char *const renew_params[] = { "lease", "ttl", NULL };

/*
 * Moves a lease's deadline to `ttl` from now (default: its ttl so far).
 * The loop runs one thing at a time, so a renewal racing the expiry timer
 * either lands first (the lease lives on) or finds the lease expired.
 */
static enum rpc_ret
lease_renew_method(struct rpc_req *req)
{
	struct lease	*l;
	int64_t		 ttl;
	const char	*why;

	if (params_only(req, renew_params) == -1 ||
	    params_ready_lease(req, &l) == -1 ||
	    rpc_param_duration_ms(req, "ttl", l->ttl_ms, &ttl) == -1)
		return RPC_NORMAL;
	if (ttl <= 0) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "ttl must be positive");
		return RPC_NORMAL;
	}
	if (budget_check_renew(req, l, &ttl, &why) == -1)
		return RPC_NORMAL;
	l->deadline_why = why;
	l->budget_warned = false;
	lease_renew(l, ttl);
	rpc_reply(req, lease_to_json(l));
	return RPC_NORMAL;
}

const struct rpc_method method_lease_renew = {
	.name = "lease.renew",
	.summary = "extend a lease's deadline, within the budgets",
	.exec = lease_renew_method,
};

static const char *const budget_params[] = { "all", NULL };

/* Your use against your limits; root and admins may see everyone's. */
static enum rpc_ret
budget_get(struct rpc_req *req)
{
	bool	 all;

	if (params_only(req, budget_params) == -1 ||
	    params_all(req, "budgets", &all) == -1)
		return RPC_NORMAL;
	rpc_reply(req, all ? budget_all_json(req->d) :
	    budget_user_json(req->d, req->peer.uid));
	return RPC_NORMAL;
}

const struct rpc_method method_budget_get = {
	.name = "budget.get",
	.summary = "your sandbox use against your budgets",
	.exec = budget_get,
};
