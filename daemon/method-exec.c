/*
 * exec: run a command in a leased sandbox and answer with its output.
 * Without stdin this is the gateway's unary Exec.  With stdin it goes over
 * StreamExec (unary Exec has no stdin): the bytes are written, stdin is
 * closed, and the output is collected up to the same caps.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base64.h"
#include "daemon.h"
#include "lease.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

#define MAX_OUTPUT_DEFAULT	(4u << 20)
#define MAX_OUTPUT_LIMIT	(6u << 20)	/* base64 must fit a line */

struct exec_op {
	struct rpc_req		*req;
	struct evbuffer		*out[2];
	int64_t			 produced[2];
	size_t			 max_output;
};

static json_t *
exec_result(int exit_code, const unsigned char *out, size_t outlen,
    const unsigned char *err, size_t errlen, bool out_trunc, bool err_trunc,
    int64_t out_bytes, int64_t err_bytes)
{
	char	*o64 = b64_encode(out, outlen, NULL);
	char	*e64 = b64_encode(err, errlen, NULL);
	json_t	*r;

	r = json_pack("{s:i, s:s, s:s, s:b, s:b, s:I, s:I}",
	    "exit_code", exit_code, "stdout_b64", o64, "stderr_b64", e64,
	    "stdout_truncated", out_trunc, "stderr_truncated", err_trunc,
	    "stdout_bytes", (json_int_t)out_bytes,
	    "stderr_bytes", (json_int_t)err_bytes);
	free(o64);
	free(e64);
	return r;
}

/*
 * Unary Exec caps output in whole KiB; max_output counts bytes, as the
 * stdin path does: keep that many of each stream, flag the rest.
 */
struct unary_op {
	struct rpc_req	*req;
	size_t		 max_output;
};

static void
exec_done_unary(void *arg, const struct gw_error *err,
    const struct gw_exec_result *res)
{
	struct unary_op	*op = arg;
	size_t		 outlen, errlen;

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else {
		outlen = res->outlen < op->max_output ? res->outlen :
		    op->max_output;
		errlen = res->errlen < op->max_output ? res->errlen :
		    op->max_output;
		rpc_reply(op->req, exec_result(res->exit_code, res->out, outlen,
		    res->err, errlen, res->out_truncated || outlen <
		    res->outlen, res->err_truncated || errlen < res->errlen,
		    res->out_produced, res->err_produced));
	}
	free(op);
}

static void
stream_output(void *arg, int stream, const unsigned char *data, size_t len)
{
	struct exec_op	*op = arg;
	int		 i = stream == 2 ? 1 : 0;
	size_t		 have = evbuffer_get_length(op->out[i]);

	op->produced[i] += len;
	if (have < op->max_output)
		evbuffer_add(op->out[i], data, len < op->max_output - have ?
		    len : op->max_output - have);
}

static void
stream_done(void *arg, const struct gw_error *err, int exit_code)
{
	struct exec_op	*op = arg;
	size_t		 n0 = evbuffer_get_length(op->out[0]);
	size_t		 n1 = evbuffer_get_length(op->out[1]);

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else
		rpc_reply(op->req, exec_result(exit_code,
		    evbuffer_pullup(op->out[0], -1), n0,
		    evbuffer_pullup(op->out[1], -1), n1,
		    (int64_t)n0 < op->produced[0], (int64_t)n1 < op->produced[1],
		    op->produced[0], op->produced[1]));
	evbuffer_free(op->out[0]);
	evbuffer_free(op->out[1]);
	free(op);
}

static const struct gw_exec_stream_cbs exec_stream_cbs = {
	.on_output = stream_output,
	.on_done = stream_done,
};

static void
exec_with_stdin(struct rpc_req *req, struct lease *l, const char **argv,
    int argc, int64_t timeout, size_t max_output, unsigned char *in,
    size_t inlen)
{
	struct gw_exec_stream_request	 sr = { 0 };
	struct gw_exec_stream		*st;
	struct exec_op			*op = xcalloc(1, sizeof *op);

	op->req = req;
	op->out[0] = evbuffer_new();
	op->out[1] = evbuffer_new();
	op->max_output = max_output;
	sr.sandbox_id = l->sandbox_id;
	sr.argv = argv;
	sr.argc = argc;
	sr.timeout_ms = timeout;
	st = gw_exec_stream_start(req->d->gw, &sr, &exec_stream_cbs, op);
	if (inlen > 0)
		gw_exec_stream_write(st, in, inlen);
	gw_exec_stream_close_stdin(st);
}

static const char *const exec_params[] = {
	"lease", "argv", "stdin_b64", "timeout", "max_output", NULL
};

static enum rpc_ret
exec_method(struct rpc_req *req)
{
	struct gw_exec_request	 er = { 0 };
	struct unary_op		*uop;
	struct lease		*l;
	const char		**argv = NULL;
	unsigned char		*in = NULL;
	size_t			 inlen;
	int64_t			 timeout, max_output;
	int			 argc;
	enum rpc_ret		 ret = RPC_NORMAL;

	if (params_only(req, exec_params) == -1 ||
	    params_ready_lease(req, &l) == -1 ||
	    params_strings(req, "argv", true, &argv, &argc) == -1 ||
	    params_b64(req, "stdin_b64", false, &in, &inlen) == -1 ||
	    rpc_param_duration_ms(req, "timeout",
	    req->d->cfg.gateway.exec_timeout, &timeout) == -1 ||
	    params_int(req, "max_output", 0, MAX_OUTPUT_LIMIT,
	    MAX_OUTPUT_DEFAULT, &max_output) == -1)
		goto out;
	ret = RPC_WAIT;
	if (in != NULL) {
		exec_with_stdin(req, l, argv, argc, timeout, max_output, in,
		    inlen);
		goto out;
	}
	er.sandbox_id = l->sandbox_id;
	er.argv = argv;
	er.argc = argc;
	er.timeout_s = (int32_t)((timeout + 999) / 1000);
	er.max_output_kib = (uint32_t)((max_output + 1023) / 1024);
	uop = xcalloc(1, sizeof *uop);
	uop->req = req;
	uop->max_output = (size_t)max_output;
	gw_exec(req->d->gw, &er, exec_done_unary, uop);
out:
	free(argv);
	free(in);
	return ret;
}

const struct rpc_method method_exec = {
	.name = "exec",
	.summary = "run a command in a leased sandbox, output buffered",
	.exec = exec_method,
};
