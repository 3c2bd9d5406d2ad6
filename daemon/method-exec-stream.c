/*
 * Streaming exec: exec.start and the methods that act on a live exec
 * (write, close_stdin, resize, cancel, attach, detach, list).  Output and
 * the exit travel as notifications from exec-session.c.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "exec-session.h"
#include "lease.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

#define TTY_DEFAULT_W	80
#define TTY_DEFAULT_H	24

/* The exec named by "exec", checked for existence and ownership. */
static int
find_exec(struct rpc_req *req, struct exec_session **out)
{
	struct exec_session	*x;
	const char		*id;

	if (params_string(req, "exec", true, &id) == -1)
		return -1;
	if ((x = exec_session_find(req->d, id)) == NULL) {
		rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "no exec %.32s", id);
		return -1;
	}
	if (!rpc_may_act_on(req, x->owner_uid)) {
		rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL,
		    "exec %s belongs to another user", x->id);
		return -1;
	}
	*out = x;
	return 0;
}

/* Refuses an exec that has ended. */
static int
need_running(struct rpc_req *req, struct exec_session *x)
{
	if (x->state == EXEC_RUNNING && x->gx != NULL)
		return 0;
	rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "exec %s has ended (%s)",
	    x->id, exec_state_name(x->state));
	return -1;
}

/* "env": {"K": "V"} into gw_kv pairs borrowing the request's strings. */
static int
params_env(struct rpc_req *req, struct gw_kv **out, int *n)
{
	json_t		*env = json_object_get(req->params, "env"), *v;
	const char	*k;
	struct gw_kv	*kv;
	int		 i = 0;

	*out = NULL;
	*n = 0;
	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_object(env)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "env: expected an object of strings");
		return -1;
	}
	kv = xcalloc(json_object_size(env) + 1, sizeof *kv);
	json_object_foreach(env, k, v) {
		if (!json_is_string(v) || *k == '\0' ||
		    strchr(k, '=') != NULL) {
			free(kv);
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
			    "env: \"%.64s\" must be a name without '=' and a "
			    "string value", k);
			return -1;
		}
		kv[i].key = k;
		kv[i++].value = json_string_value(v);
	}
	*out = kv;
	*n = i;
	return 0;
}

static const char *const start_params[] = {
	"lease", "argv", "env", "tty", "width", "height", "stdin", "detach",
	"timeout", NULL
};

static enum rpc_ret
exec_start_method(struct rpc_req *req)
{
	struct exec_start	 q = { 0 };
	struct exec_session	*x;
	struct lease		*l;
	struct gw_kv		*env = NULL;
	const char		**argv = NULL, *why;
	int64_t			 w, h;

	if (params_only(req, start_params) == -1 ||
	    params_ready_lease(req, &l) == -1 ||
	    params_strings(req, "argv", true, &argv, &q.argc) == -1 ||
	    params_env(req, &env, &q.nenv) == -1 ||
	    params_bool(req, "tty", false, &q.tty) == -1 ||
	    params_int(req, "width", 1, 65535, TTY_DEFAULT_W, &w) == -1 ||
	    params_int(req, "height", 1, 65535, TTY_DEFAULT_H, &h) == -1 ||
	    params_bool(req, "stdin", false, &q.want_stdin) == -1 ||
	    params_bool(req, "detach", false, &q.detach) == -1 ||
	    rpc_param_duration_ms(req, "timeout", 0, &q.timeout_ms) == -1)
		goto out;
	q.lease_id = l->id;
	q.sandbox_id = l->sandbox_id;
	q.owner_uid = req->peer.uid;
	q.argv = argv;
	q.env = env;
	q.width = (uint32_t)w;
	q.height = (uint32_t)h;
	if ((x = exec_session_start(req->d, &q, req->client, &why)) == NULL) {
		rpc_fail(req, RPC_ERR_OVERLOADED, NULL, "%s", why);
		goto out;
	}
	rpc_reply(req, json_pack("{s:s, s:s, s:b}", "exec", x->id,
	    "lease", x->lease_id, "detached", x->detached));
out:
	free(argv);
	free(env);
	return RPC_NORMAL;
}

static const char *const write_params[] = { "exec", "data_b64", NULL };

static enum rpc_ret
exec_write_method(struct rpc_req *req)
{
	struct exec_session	*x;
	unsigned char		*data = NULL;
	size_t			 len;

	if (params_only(req, write_params) == -1 ||
	    find_exec(req, &x) == -1 ||
	    params_b64(req, "data_b64", true, &data, &len) == -1 ||
	    need_running(req, x) == -1)
		goto out;
	if (!x->stdin_open) {
		rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "exec %s: stdin "
		    "is closed (or was not asked for with \"stdin\": true)",
		    x->id);
		goto out;
	}
	exec_session_write(x, req, data, len);
	free(data);
	return RPC_WAIT;
out:
	free(data);
	return RPC_NORMAL;
}

static const char *const id_params[] = { "exec", NULL };

static enum rpc_ret
exec_close_stdin_method(struct rpc_req *req)
{
	struct exec_session	*x;

	if (params_only(req, id_params) == -1 || find_exec(req, &x) == -1 ||
	    need_running(req, x) == -1)
		return RPC_NORMAL;
	exec_session_close_stdin(x);
	rpc_reply(req, json_pack("{s:s}", "exec", x->id));
	return RPC_NORMAL;
}

static const char *const resize_params[] = {
	"exec", "width", "height", NULL
};

static enum rpc_ret
exec_resize_method(struct rpc_req *req)
{
	struct exec_session	*x;
	int64_t			 w, h;

	if (params_only(req, resize_params) == -1 ||
	    find_exec(req, &x) == -1 ||
	    params_int(req, "width", 1, 65535, TTY_DEFAULT_W, &w) == -1 ||
	    params_int(req, "height", 1, 65535, TTY_DEFAULT_H, &h) == -1 ||
	    need_running(req, x) == -1)
		return RPC_NORMAL;
	if (!x->tty || !x->stdin_open) {
		rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "exec %s: %s",
		    x->id, !x->tty ? "no tty to resize" : "stdin is closed, "
		    "so resizes cannot be sent");
		return RPC_NORMAL;
	}
	gw_exec_stream_resize(x->gx, (uint32_t)w, (uint32_t)h);
	rpc_reply(req, json_pack("{s:s}", "exec", x->id));
	return RPC_NORMAL;
}

static enum rpc_ret
exec_cancel_method(struct rpc_req *req)
{
	struct exec_session	*x;

	if (params_only(req, id_params) == -1 || find_exec(req, &x) == -1 ||
	    need_running(req, x) == -1)
		return RPC_NORMAL;
	exec_session_cancel(x, "exec.cancel");
	rpc_reply(req, json_pack("{s:s, s:b}", "exec", x->id,
	    "cancelled", 1));
	return RPC_NORMAL;
}

static const char *const attach_params[] = { "exec", "from", NULL };

static enum rpc_ret
exec_attach_method(struct rpc_req *req)
{
	struct exec_session	*x;
	json_t			*result;
	int64_t			 from;

	if (params_only(req, attach_params) == -1 ||
	    find_exec(req, &x) == -1 ||
	    params_int(req, "from", 0, INT64_MAX, 0, &from) == -1)
		return RPC_NORMAL;
	if (exec_session_attach(x, req->client, (uint64_t)from,
	    &result) == -1) {
		rpc_fail(req, RPC_ERR_INVALID_STATE, NULL, "exec %s: this "
		    "connection is already attached", x->id);
		return RPC_NORMAL;
	}
	rpc_reply(req, result);
	exec_session_pump(x);	/* the replay follows the reply */
	return RPC_NORMAL;
}

static enum rpc_ret
exec_detach_method(struct rpc_req *req)
{
	struct exec_session	*x;

	if (params_only(req, id_params) == -1 || find_exec(req, &x) == -1 ||
	    need_running(req, x) == -1)
		return RPC_NORMAL;
	exec_session_detach(x, req->client);
	rpc_reply(req, json_pack("{s:s, s:b}", "exec", x->id,
	    "detached", 1));
	return RPC_NORMAL;
}

static const char *const list_params[] = { "all", NULL };

static enum rpc_ret
exec_list_method(struct rpc_req *req)
{
	struct exec_session	*x;
	json_t			*a;
	bool			 all;

	if (params_only(req, list_params) == -1 ||
	    params_all(req, "execs", &all) == -1)
		return RPC_NORMAL;
	a = json_array();
	for (x = exec_session_first(req->d); x != NULL;
	    x = exec_session_next(x))
		if (all || x->owner_uid == req->peer.uid)
			json_array_append_new(a, exec_session_json(x));
	rpc_reply(req, json_pack("{s:o}", "execs", a));
	return RPC_NORMAL;
}

const struct rpc_method method_exec_start = {
	.name = "exec.start",
	.summary = "start a streaming exec in a leased sandbox",
	.exec = exec_start_method,
};
const struct rpc_method method_exec_write = {
	.name = "exec.write",
	.summary = "send stdin bytes to a streaming exec",
	.exec = exec_write_method,
};
const struct rpc_method method_exec_close_stdin = {
	.name = "exec.close_stdin",
	.summary = "end a streaming exec's stdin",
	.exec = exec_close_stdin_method,
};
const struct rpc_method method_exec_resize = {
	.name = "exec.resize",
	.summary = "resize a streaming exec's terminal",
	.exec = exec_resize_method,
};
const struct rpc_method method_exec_cancel = {
	.name = "exec.cancel",
	.summary = "cancel a streaming exec (kills the command)",
	.exec = exec_cancel_method,
};
const struct rpc_method method_exec_attach = {
	.name = "exec.attach",
	.summary = "watch an exec's retained and live output",
	.exec = exec_attach_method,
};
const struct rpc_method method_exec_detach = {
	.name = "exec.detach",
	.summary = "let an exec outlive this connection",
	.exec = exec_detach_method,
};
const struct rpc_method method_exec_list = {
	.name = "exec.list",
	.summary = "running and recently finished streaming execs",
	.exec = exec_list_method,
};
