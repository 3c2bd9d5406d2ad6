/* status: what the daemon is, and how its gateway and leases are. */
#include <unistd.h>

#include "daemon.h"
#include "gw.h"
#include "lease.h"
#include "params.h"
#include "rpc.h"

static const char *const no_params[] = { NULL };

static enum rpc_ret
status(struct rpc_req *req)
{
	struct daemon	*d = req->d;
	json_t		*gw;

	if (params_only(req, no_params) == -1)
		return RPC_NORMAL;
	gw = gw_status_json(d->gw);
	json_object_set_new(gw, "address", json_string(d->cfg.gateway.address));
	rpc_reply(req, json_pack("{s:s, s:i, s:f, s:i, s:s, s:o, s:i, s:i}",
	    "version", SANDBOXD_VERSION,
	    "pid", (int)getpid(),
	    "uptime_s", (now_mono_ms() - d->started_ms) / 1000.0,
	    "uid", (int)req->peer.uid,
	    "instance", d->instance_id,
	    "gateway", gw,
	    "leases", (int)lease_count(d->leases),
	    "clients", (int)rpc_server_nclients(d->server)));
	return RPC_NORMAL;
}

const struct rpc_method method_status = {
	.name = "status",
	.summary = "daemon version, gateway state, lease count",
	.exec = status,
};
