/* pool.list and pool.resize: see and size the warm pools. */
#include <string.h>

#include "daemon.h"
#include "params.h"
#include "pool.h"
#include "rpc.h"

static const char *const no_params[] = { NULL };

static enum rpc_ret
pool_list(struct rpc_req *req)
{
	if (params_only(req, no_params) == -1)
		return RPC_NORMAL;
	rpc_reply(req, json_pack("{s:o}", "pools", req->d->pools ?
	    pools_to_json(req->d->pools) : json_array()));
	return RPC_NORMAL;
}

const struct rpc_method method_pool_list = {
	.name = "pool.list",
	.summary = "the warm pools: ready, starting, leased, waiting, hit rate",
	.exec = pool_list,
};

static const char *const resize_params[] = { "pool", "warm", NULL };

/* Sets how many sandboxes a pool keeps ready (a number, or "auto"). */
static enum rpc_ret
pool_resize_method(struct rpc_req *req)
{
	const char	*name;
	struct pool	*p;
	json_t		*w;
	int64_t		 warm;

	if (params_only(req, resize_params) == -1 ||
	    params_string(req, "pool", true, &name) == -1)
		return RPC_NORMAL;
	if (req->d->pools == NULL || (p = pool_find(req->d->pools, name)) ==
	    NULL) {
		rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "no pool named \"%.64s\"",
		    name);
		return RPC_NORMAL;
	}
	w = json_object_get(req->params, "warm");
	if (json_is_string(w) && strcmp(json_string_value(w), "auto") == 0)
		warm = -1;
	else if (json_is_integer(w) && json_integer_value(w) >= 0 &&
	    json_integer_value(w) <= 10000)
		warm = json_integer_value(w);
	else {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter \"warm\" "
		    "must be a number from 0 to 10000, or \"auto\"");
		return RPC_NORMAL;
	}
	pool_resize(p, warm);
	rpc_reply(req, pool_to_json(p));
	return RPC_NORMAL;
}

const struct rpc_method method_pool_resize = {
	.name = "pool.resize",
	.summary = "set how many sandboxes a pool keeps warm",
	.flags = RPC_ROOT_ONLY,
	.exec = pool_resize_method,
};
