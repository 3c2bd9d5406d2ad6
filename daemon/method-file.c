/* file.write and file.read: copy bytes into and out of a leased sandbox. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "daemon.h"
#include "lease.h"
#include "metrics.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

struct file_op {
	struct rpc_req	*req;
	char		*path;
	size_t		 len;
};

static struct file_op *
file_op_new(struct rpc_req *req, const char *path, size_t len)
{
	struct file_op	*op = xcalloc(1, sizeof *op);

	op->req = req;
	op->path = xstrdup(path);
	op->len = len;
	return op;
}

static void
file_op_free(struct file_op *op)
{
	free(op->path);
	free(op);
}

static void
file_written(void *arg, const struct gw_error *err)
{
	struct file_op	*op = arg;

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else {
		metrics_bytes(op->req->d->metrics, "file_in", op->len);
		rpc_reply(op->req, json_pack("{s:s, s:I}", "path", op->path,
		    "bytes", (json_int_t)op->len));
	}
	file_op_free(op);
}

static const char *const write_params[] = {
	"lease", "path", "data_b64", NULL
};

static enum rpc_ret
file_write(struct rpc_req *req)
{
	struct lease	*l;
	const char	*path;
	unsigned char	*data = NULL;
	size_t		 len;

	if (params_only(req, write_params) == -1 ||
	    params_ready_lease(req, &l) == -1 ||
	    params_string(req, "path", true, &path) == -1 ||
	    params_b64(req, "data_b64", true, &data, &len) == -1)
		return RPC_NORMAL;
	gw_add_file(req->d->gw, l->sandbox_id, path, data, len, file_written,
	    file_op_new(req, path, len));
	free(data);
	return RPC_WAIT;
}

const struct rpc_method method_file_write = {
	.name = "file.write",
	.summary = "write a file into a leased sandbox",
	.exec = file_write,
};

static void
file_got(void *arg, const struct gw_error *err, const unsigned char *data,
    size_t len)
{
	struct file_op	*op = arg;
	char		*b64;

	if (err != NULL)
		rpc_fail_gw(op->req, err);
	else {
		metrics_bytes(op->req->d->metrics, "file_out", len);
		b64 = b64_encode(data, len, NULL);
		rpc_reply(op->req, json_pack("{s:s, s:s, s:I}", "path",
		    op->path, "data_b64", b64, "bytes", (json_int_t)len));
		free(b64);
	}
	file_op_free(op);
}

static const char *const read_params[] = { "lease", "path", NULL };

static enum rpc_ret
file_read(struct rpc_req *req)
{
	struct lease	*l;
	const char	*path;

	if (params_only(req, read_params) == -1 ||
	    params_ready_lease(req, &l) == -1 ||
	    params_string(req, "path", true, &path) == -1)
		return RPC_NORMAL;
	gw_retrieve_file(req->d->gw, l->sandbox_id, path, file_got,
	    file_op_new(req, path, 0));
	return RPC_WAIT;
}

const struct rpc_method method_file_read = {
	.name = "file.read",
	.summary = "read a file from a leased sandbox",
	.exec = file_read,
};
