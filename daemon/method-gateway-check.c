/*
 * gateway.check: one cheap authenticated call (List for a tag no sandbox
 * carries, so one empty page) that tells `sbctl doctor` whether the
 * gateway is reachable and takes our key, without starting anything.
 */
#include <stdlib.h>

#include "daemon.h"
#include "gw.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

#define CHECK_TAG	"sandboxd-gateway-check"

static const char *const no_params[] = { NULL };

struct check {
	struct rpc_req	*req;
	int64_t		 started_ms;
};

/* Answers ok, or the error kind and message; the check itself succeeded. */
static void
check_done(void *arg, const struct gw_error *err, const struct gw_sandbox *sb,
    size_t n)
{
	struct check	*c = arg;
	struct daemon	*d = c->req->d;
	json_t		*r;

	/* Where the key came from ("none": no key), never the key. */
	r = json_pack("{s:b, s:s?, s:s?, s:s?, s:b, s:I, s:f}", "ok",
	    err == NULL, "address", d->cfg.gateway.address, "target",
	    d->gateway_target, "key_source", d->creds.source,
	    "bearer", d->creds.bearer != NULL,
	    "latency_ms", (json_int_t)(now_mono_ms() - c->started_ms),
	    "time", now_wall_ms() / 1000.0);	/* doctor's clock check */
	if (err != NULL) {
		json_object_set_new(r, "kind", json_string(rpc_err_kind(
		    err->rpc)));
		json_object_set_new(r, "message", json_string(err->message));
		json_object_set_new(r, "grpc_code", json_integer(
		    err->grpc_code));
	}
	rpc_reply(c->req, r);
	free(c);
}

static enum rpc_ret
gateway_check(struct rpc_req *req)
{
	static const char *const tags[] = { CHECK_TAG };
	struct check	*c;

	if (params_only(req, no_params) == -1)
		return RPC_NORMAL;
	c = xcalloc(1, sizeof *c);
	c->req = req;
	c->started_ms = now_mono_ms();
	gw_list(req->d->gw, tags, 1, false, check_done, c);
	return RPC_WAIT;
}

const struct rpc_method method_gateway_check = {
	.name = "gateway.check",
	.summary = "one cheap authenticated gateway call: ok or the error kind",
	.exec = gateway_check,
};
