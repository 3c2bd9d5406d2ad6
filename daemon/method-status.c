/* status: what the daemon is, and how its gateway and leases are. */
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "daemon.h"
#include "gw.h"
#include "lease.h"
#include "params.h"
#include "pool.h"
#include "rpc.h"
#include "state.h"

static const char *const no_params[] = { NULL };

/* One word for the pool of channels: the best any channel is in. */
static const char *
gateway_state(json_t *gw)
{
	json_t		*ch;
	const char	*st, *best = "unavailable";
	size_t		 i;

	json_array_foreach(json_object_get(gw, "channels"), i, ch) {
		st = json_string_value(json_object_get(ch, "state"));
		if (st == NULL)
			continue;
		if (strcmp(st, "ready") == 0)
			return "ready";
		if (strcmp(st, "connecting") == 0)
			best = "connecting";
		else if (strcmp(st, "idle") == 0 &&
		    strcmp(best, "unavailable") == 0)
			best = "idle";	/* not connected yet: connects on use */
	}
	return best;
}

static enum rpc_ret
status(struct rpc_req *req)
{
	struct daemon	*d = req->d;
	json_t		*gw, *o;

	if (params_only(req, no_params) == -1)
		return RPC_NORMAL;
	gw = gw_status_json(d->gw);
	json_object_set_new(gw, "address", json_string(d->cfg.gateway.address));
	json_object_set_new(gw, "state", json_string(gateway_state(gw)));
	o = json_pack("{s:s, s:i, s:f, s:f, s:i, s:s, s:o, s:i, "
	    "s:i, s:o, s:o, s:o}",
	    "version", SANDBOXD_VERSION,
	    "pid", (int)getpid(),
	    "uptime_s", (now_mono_ms() - d->started_ms) / 1000.0,
	    "time", now_wall_ms() / 1000.0,
	    "uid", (int)req->peer.uid,
	    "instance", d->instance_id,
	    "gateway", gw,
	    "leases", (int)lease_count(d->leases),
	    "clients", (int)rpc_server_nclients(d->server),
	    "pools", d->pools ? pools_to_json(d->pools) : json_array(),
	    "host", budget_host_json(d),
	    "expiry_stops", lease_expiry_stops_json(d->leases));
	/* How many times state.json was written: bursts coalesce. */
	json_object_set_new(o, "state_writes", json_integer(state_writes(d)));
	rpc_reply(req, o);
	return RPC_NORMAL;
}

const struct rpc_method method_status = {
	.name = "status",
	.summary = "daemon version, gateway state, lease count",
	.exec = status,
};
