/* lease.list, lease.get and lease.release. */
#include <stdlib.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

static const char *const list_params[] = { "all", NULL };

static enum rpc_ret
lease_list(struct rpc_req *req)
{
	struct lease	*l;
	json_t		*arr;
	bool		 all;

	if (params_only(req, list_params) == -1 ||
	    params_all(req, "leases", &all) == -1)
		return RPC_NORMAL;
	arr = json_array();
	for (l = lease_first(req->d->leases); l != NULL; l = lease_next(l)) {
		if (all || l->owner_uid == req->peer.uid)
			json_array_append_new(arr, lease_to_json(l));
	}
	rpc_reply(req, json_pack("{s:o}", "leases", arr));
	return RPC_NORMAL;
}

const struct rpc_method method_lease_list = {
	.name = "lease.list",
	.summary = "list your leases (all: everyone's, for admins)",
	.exec = lease_list,
};

struct lease_op {
	struct rpc_req	*req;
	struct lease	*l;
};

static struct lease_op *
lease_op_new(struct rpc_req *req, struct lease *l)
{
	struct lease_op	*op = xcalloc(1, sizeof *op);

	op->req = req;
	op->l = l;
	lease_ref(l);
	return op;
}

static void
lease_op_free(struct lease_op *op)
{
	lease_unref(op->l);
	free(op);
}

static void
lease_got(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct lease_op	*op = arg;

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else {
		if (!op->l->removed)
			lease_update(op->l, sb);
		rpc_reply(op->req, lease_to_json(op->l));
	}
	lease_op_free(op);
}

static const char *const lease_only[] = { "lease", NULL };

/* Answers with the lease refreshed from the gateway's Get. */
static enum rpc_ret
lease_get(struct rpc_req *req)
{
	struct lease	*l;

	if (params_only(req, lease_only) == -1 ||
	    params_lease(req, &l) == -1)
		return RPC_NORMAL;
	if (l->sandbox_id == NULL) {
		rpc_reply(req, lease_to_json(l));
		return RPC_NORMAL;
	}
	gw_get(req->d->gw, l->sandbox_id, lease_got, lease_op_new(req, l));
	return RPC_WAIT;
}

const struct rpc_method method_lease_get = {
	.name = "lease.get",
	.summary = "a lease with its sandbox's current status",
	.exec = lease_get,
};

static void
lease_released(void *arg, const struct gw_error *err)
{
	struct lease_op	*op = arg;

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else
		rpc_reply(op->req, json_pack("{s:s, s:b, s:b}", "lease",
		    op->l->id, "released", 1, "stopped", 1));
	lease_op_free(op);
}

static const char *const release_params[] = { "lease", "wait", NULL };

/*
 * Forgets the lease and has the reaper stop its sandbox (retrying until
 * the gateway confirms).  With wait, answers once the stop is confirmed.
 */
static enum rpc_ret
lease_release(struct rpc_req *req)
{
	struct lease	*l;
	uid_t		 uid;
	bool		 wait;

	if (params_only(req, release_params) == -1 ||
	    params_lease(req, &l) == -1 ||
	    params_bool(req, "wait", false, &wait) == -1)
		return RPC_NORMAL;
	if (l->state == LEASE_STARTING) {
		rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "lease %s is still "
		    "starting", l->id);
		return RPC_NORMAL;
	}
	if (wait) {
		lease_log(l, "released", "by uid %u", (unsigned)req->peer.uid);
		lease_stop(l, LEASE_RELEASING, lease_released,
		    lease_op_new(req, l));
		return RPC_WAIT;
	}
	/* The answer first (it frees req): the log and the Stop wait. */
	uid = req->peer.uid;
	rpc_reply(req, json_pack("{s:s, s:b, s:b}", "lease", l->id,
	    "released", 1, "stopped", l->sandbox_id == NULL));
	lease_log(l, "released", "by uid %u", (unsigned)uid);
	lease_stop(l, LEASE_RELEASING, NULL, NULL);
	return RPC_NORMAL;
}

const struct rpc_method method_lease_release = {
	.name = "lease.release",
	.summary = "stop a lease's sandbox and forget the lease",
	.exec = lease_release,
};
