/* metrics: the figures of the Prometheus endpoint, as JSON. */
#include "daemon.h"
#include "metrics.h"
#include "params.h"
#include "rpc.h"

static const char *const no_params[] = { NULL };

/* Same model as GET /metrics, plus where that endpoint listens. */
static enum rpc_ret
metrics(struct rpc_req *req)
{
	struct daemon	*d = req->d;
	json_t		*r;

	if (params_only(req, no_params) == -1)
		return RPC_NORMAL;
	r = metrics_json(d);
	json_object_set_new(r, "http", d->metrics_http ?
	    json_string(metrics_http_address(d->metrics_http)) : json_null());
	rpc_reply(req, r);
	return RPC_NORMAL;
}

const struct rpc_method method_metrics = {
	.name = "metrics",
	.summary = "counters, histograms and gauges (as GET /metrics)",
	.exec = metrics,
};
