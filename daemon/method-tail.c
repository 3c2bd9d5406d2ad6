/* tail.start and tail.stop: readers of a sandbox's log (see tail.c). */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "lease.h"
#include "params.h"
#include "parse.h"
#include "rpc.h"
#include "tail.h"

/* "since": unix seconds (number) or a duration ago ("10m"). */
static int
param_since(struct rpc_req *req, int64_t *out)
{
	json_t		*v = json_object_get(req->params, "since");
	const char	*err;
	int64_t		 ago;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_number(v) && json_number_value(v) > 0 &&
	    json_number_value(v) < 1e11) {
		*out = (int64_t)(json_number_value(v) * 1000);
		return 0;
	}
	if (json_is_string(v) &&
	    parse_duration(json_string_value(v), &ago, &err) == 0) {
		*out = now_wall_ms() - ago;
		if (*out < 1)
			*out = 1;
		return 0;
	}
	rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "since: expected unix "
	    "seconds or a duration ago such as \"10m\"");
	return -1;
}

static const char *const start_params[] = {
	"lease", "follow", "lines", "since", "timestamps", NULL
};

static enum rpc_ret
tail_start_method(struct rpc_req *req)
{
	struct tail_start	 q = { 0 };
	struct lease		*l;
	struct tail		*r;
	const char		*why;

	if (params_only(req, start_params) == -1 ||
	    params_lease(req, &l) == -1 ||
	    params_bool(req, "follow", false, &q.follow) == -1 ||
	    params_int(req, "lines", 0, INT32_MAX, -1, &q.lines) == -1 ||
	    param_since(req, &q.since_ms) == -1 ||
	    params_bool(req, "timestamps", false, &q.timestamps) == -1)
		return RPC_NORMAL;
	if (l->sandbox_id == NULL) {
		rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "lease %s has no "
		    "sandbox yet (%s)", l->id, lease_state_name(l->state));
		return RPC_NORMAL;
	}
	q.lease_id = l->id;
	q.sandbox_id = l->sandbox_id;
	q.owner_uid = req->peer.uid;
	if ((r = tail_start(req->d, &q, req->client, &why)) == NULL) {
		rpc_fail(req, RPC_ERR_OVERLOADED, NULL, "%s", why);
		return RPC_NORMAL;
	}
	rpc_reply(req, json_pack("{s:s, s:s, s:b}", "tail", tail_id(r),
	    "lease", l->id, "shared", tail_shared(r)));
	tail_pump(r);	/* a joiner's history follows the reply */
	return RPC_NORMAL;
}

static const char *const stop_params[] = { "tail", NULL };

static enum rpc_ret
tail_stop_method(struct rpc_req *req)
{
	struct tail	*r;
	const char	*id;
	json_t		*res;

	if (params_only(req, stop_params) == -1 ||
	    params_string(req, "tail", true, &id) == -1)
		return RPC_NORMAL;
	if ((r = tail_find(req->d, id)) == NULL) {
		rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "no tail %.32s", id);
		return RPC_NORMAL;
	}
	if (!rpc_may_act_on(req, tail_owner(r))) {
		rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL,
		    "tail %s belongs to another user", tail_id(r));
		return RPC_NORMAL;
	}
	res = json_pack("{s:s, s:b}", "tail", tail_id(r), "stopped", 1);
	rpc_reply(req, res);
	tail_stop(r);
	return RPC_NORMAL;
}

const struct rpc_method method_tail_start = {
	.name = "tail.start",
	.summary = "read a sandbox's log, optionally following it",
	.exec = tail_start_method,
};
const struct rpc_method method_tail_stop = {
	.name = "tail.stop",
	.summary = "stop a tail",
	.exec = tail_stop_method,
};
