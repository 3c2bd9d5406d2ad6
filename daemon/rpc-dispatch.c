/* The method table and the life of a request: find, check, run, answer. */
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "gw.h"
#include "log.h"
#include "methods.h"
#include "metrics.h"
#include "parse.h"
#include "rpc.h"
#include "xmalloc.h"

static const struct rpc_method *const methods[] = {
	&method_status,
	&method_lease_acquire,
	&method_lease_list,
	&method_lease_get,
	&method_lease_release,
	&method_lease_wait,
	&method_exec,
	&method_file_write,
	&method_file_read,
	&method_pool_list,
	&method_pool_resize,
	&method_lease_renew,
	&method_budget_get,
	&method_metrics,
	&method_gateway_check,
	&method_exec_start,
	&method_exec_write,
	&method_exec_close_stdin,
	&method_exec_resize,
	&method_exec_cancel,
	&method_exec_attach,
	&method_exec_detach,
	&method_exec_list,
	&method_tail_start,
	&method_tail_stop,
};

/* A request and when it came, for the latency histograms. */
struct timed_req {
	struct rpc_req	 req;	/* first: the two pointers are one */
	int64_t		 started_us;
};

static unsigned	pending;

/* Monotonic microseconds. */
static int64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const struct rpc_method *
method_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i]->name, name) == 0)
			return methods[i];
	}
	return NULL;
}

/*
 * Methods that subscribe their connection to a stream (max_streams): an
 * exec.start that is not detached, exec.attach, tail.start.
 */
static bool
opens_stream(const struct rpc_method *m, json_t *params)
{
	if (strcmp(m->name, "exec.start") == 0)
		return !json_is_true(json_object_get(params, "detach"));
	return strcmp(m->name, "exec.attach") == 0 ||
	    strcmp(m->name, "tail.start") == 0;
}

/*
 * The per-connection limits; false (and *why) when this request is one
 * too many.  The connection stays: the client may retry once it has less
 * in progress.
 */
static bool
within_limits(struct daemon *d, struct rpc_client *c,
    const struct rpc_method *m, json_t *params, char *why, size_t len)
{
	const struct config_daemon	*cd = &d->cfg.daemon;

	if ((int64_t)rpc_client_inflight(c) >= cd->max_inflight) {
		snprintf(why, len, "too many requests in flight on this "
		    "connection (max_inflight %lld)",
		    (long long)cd->max_inflight);
		return false;
	}
	if (opens_stream(m, params) &&
	    (int64_t)rpc_client_streams(c) >= cd->max_streams) {
		snprintf(why, len, "too many execs and tails on this "
		    "connection (max_streams %lld)", (long long)cd->max_streams);
		return false;
	}
	return true;
}

/* Answers a request that never became a struct rpc_req. */
static void
early_fail(struct rpc_client *c, json_t *id, enum rpc_err e, const char *msg)
{
	rpc_client_send(c, rpc_error_new(json_incref(id), e, NULL, "%s",
	    msg));
}

void
rpc_dispatch(struct daemon *d, struct rpc_client *c, json_t *id,
    const char *name, json_t *params)
{
	const struct rpc_method	*m;
	struct rpc_req		*req;
	struct timed_req	*tr;
	char			 msg[256];

	if ((m = method_find(name)) == NULL) {
		snprintf(msg, sizeof msg, "unknown method \"%.100s\"", name);
		return early_fail(c, id, RPC_ERR_METHOD_NOT_FOUND, msg);
	}
	if (params != NULL && !json_is_object(params))
		return early_fail(c, id, RPC_ERR_INVALID_PARAMS,
		    "params must be an object");
	if (d->stopping)
		return early_fail(c, id, RPC_ERR_OVERLOADED,
		    "sandboxd is shutting down");
	if (!within_limits(d, c, m, params, msg, sizeof msg))
		return early_fail(c, id, RPC_ERR_OVERLOADED, msg);

	tr = xcalloc(1, sizeof *tr);
	tr->started_us = mono_us();
	req = &tr->req;
	req->d = d;
	req->client = c;
	rpc_client_ref(c);
	req->id = json_incref(id);
	req->params = params != NULL ? json_incref(params) : json_object();
	req->method = m;
	req->peer = *rpc_client_peer(c);
	rpc_client_request_begin(c);
	pending++;

	if ((m->flags & RPC_ROOT_ONLY) && !rpc_is_admin(req)) {
		rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL,
		    "%s is for root or the admin group", m->name);
		return;
	}
	log_debug("client %llu: %s", (unsigned long long)rpc_client_id(c),
	    m->name);
	m->exec(req);	/* req may be gone now */
}

/* Counts the request: method, outcome, a configured pool, latency. */
static void
req_count(struct rpc_req *req, json_t *msg)
{
	struct timed_req	*tr = (struct timed_req *)req;
	json_t			*err = json_object_get(msg, "error");
	const char		*kind = NULL, *pool;

	if (err != NULL && (kind = json_string_value(json_object_get(
	    json_object_get(err, "data"), "kind"))) == NULL)
		kind = "error";
	pool = json_string_value(json_object_get(req->params, "pool"));
	if (pool != NULL && config_pool_find(&req->d->cfg, pool) == NULL)
		pool = NULL;	/* only configured names become labels */
	metrics_rpc_done(req->d->metrics, req->method->name, pool, kind,
	    mono_us() - tr->started_us);
}

/* Sends the answer (if anyone still listens) and frees the request. */
static void
req_finish(struct rpc_req *req, json_t *msg)
{
	struct daemon	*d = req->d;

	if (req->answered)
		fatalx("request %s answered twice", req->method->name);
	req->answered = true;
	req_count(req, msg);
	rpc_client_send(req->client, msg);
	rpc_client_request_end(req->client);
	rpc_client_unref(req->client);
	json_decref(req->params);
	free(req);
	pending--;
	daemon_check_idle(d);	/* a shutdown may wait for this answer */
}

void
rpc_reply(struct rpc_req *req, json_t *result)
{
	req_finish(req, rpc_result_new(req->id, result));
}

void
rpc_fail(struct rpc_req *req, enum rpc_err e, json_t *data, const char *fmt,
    ...)
{
	va_list	 ap;
	char	 msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	req_finish(req, rpc_error_new(req->id, e, data, "%s", msg));
}

void
rpc_fail_gw(struct rpc_req *req, const struct gw_error *err)
{
	rpc_fail(req, err->rpc, NULL, "%s", err->message);
}

unsigned
rpc_pending(void)
{
	return pending;
}

/* Root, or a member of the configured admin group. */
bool
rpc_is_admin(const struct rpc_req *req)
{
	const char	*group = req->d->cfg.daemon.admin_group;
	struct group	*gr;
	struct passwd	*pw;
	char		**m;

	if (req->peer.uid == 0)
		return true;
	if (group == NULL || (gr = getgrnam(group)) == NULL)
		return false;
	if (req->peer.gid == gr->gr_gid)
		return true;
	if ((pw = getpwuid(req->peer.uid)) == NULL)
		return false;
	for (m = gr->gr_mem; *m != NULL; m++) {
		if (strcmp(*m, pw->pw_name) == 0)
			return true;
	}
	return false;
}

bool
rpc_may_act_on(const struct rpc_req *req, uid_t owner)
{
	return req->peer.uid == owner || rpc_is_admin(req);
}

/*
 * Reads a duration parameter given as seconds (number) or a string such
 * as "90s".  Absent: `dflt`.  On a bad value answers the request, -1.
 */
int
rpc_param_duration_ms(struct rpc_req *req, const char *key, int64_t dflt,
    int64_t *out)
{
	json_t		*v = json_object_get(req->params, key);
	const char	*err;

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= INT64_MAX / 1000) {
		*out = json_integer_value(v) * 1000;
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 &&
	    json_real_value(v) < 1e12) {
		*out = (int64_t)(json_real_value(v) * 1000);
		return 0;
	}
	if (json_is_string(v) &&
	    parse_duration(json_string_value(v), out, &err) == 0)
		return 0;
	rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "%s: expected seconds or "
	    "a duration such as \"90s\" or \"30m\"", key);
	return -1;
}
