/*
 * libFuzzer: gateway replies as the daemon reads them.  The first byte
 * picks a message; the rest are its wire bytes, handed as a gRPC byte
 * buffer to the daemon's own reply readers (the static *_done functions of
 * gw-calls.c, xs_message/xs_end of gw-exec-stream.c and ls_message/ls_end
 * of gw-log-stream.c, reached by including those files: they have no
 * other entry point without a live call).
 *
 * For StreamExec and StreamLogs the rest is a sequence of frames, each a
 * 2-byte big-endian length and that many bytes, followed by the call's
 * status (one byte): every frame goes through the stream's reader and the
 * stream then ends through the real gw_stream machinery, so its on_done
 * must run exactly once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/slice.h>

#include "gw-calls.c"
#include "gw-exec-stream.c"
#include "gw-log-stream.c"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct event_base	*base;
static struct gw		*gw;
static int			 ncalls;	/* callbacks run */

/* The gateway client the readers hang off; nothing ever connects. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gw_options	 o = { 0 };
	char			*err;

	log_init("fuzz-pb", -1);
	base = event_base_new();
	o.target = "unix:/nonexistent/fuzz-pb.sock";
	o.channels = 1;
	o.call_timeout_ms = 1000;
	o.keepalive_ms = 30000;
	if ((gw = gw_new(base, &o, &err)) == NULL)
		abort();
	return 0;
}

static grpc_byte_buffer *
bytes_bb(const uint8_t *data, size_t size)
{
	grpc_slice		 s = grpc_slice_from_copied_buffer(
				    (const char *)data, size);
	grpc_byte_buffer	*bb = grpc_raw_byte_buffer_create(&s, 1);

	grpc_slice_unref(s);
	return bb;
}

/* An error handed to a caller is always a full one. */
static void
check_error(const struct gw_error *e)
{
	if (e->message == NULL || strchr(e->message, '\n') != NULL ||
	    e->rpc < 0 || e->rpc >= RPC_ERR_COUNT)
		abort();
}

static void
check_sandbox(const struct gw_sandbox *sb)
{
	if (sb->id == NULL || sb->status_reason == NULL ||
	    gw_status_name(sb->status) == NULL)
		abort();
	(void)strlen(sb->id);
	(void)strlen(sb->status_reason);
}

static void
on_sandbox(void *arg, const struct gw_error *e, const struct gw_sandbox *sb)
{
	ncalls++;
	if ((e == NULL) == (sb == NULL))
		abort();
	if (e != NULL)
		check_error(e);
	else
		check_sandbox(sb);
}

static void
on_list(void *arg, const struct gw_error *e, const struct gw_sandbox *sb,
    size_t n)
{
	size_t	i;

	ncalls++;
	if (e != NULL) {
		check_error(e);
		return;
	}
	for (i = 0; i < n; i++)
		check_sandbox(&sb[i]);
}

static void
on_done(void *arg, const struct gw_error *e)
{
	ncalls++;
	if (e != NULL)
		check_error(e);
}

static void
on_bytes(void *arg, const struct gw_error *e, const unsigned char *data,
    size_t len)
{
	ncalls++;
	if (e != NULL) {
		check_error(e);
		return;
	}
	if (data == NULL)
		abort();
	if (len > 0)
		(void)((volatile const unsigned char *)data)[len - 1];
}

static void
on_exec(void *arg, const struct gw_error *e, const struct gw_exec_result *r)
{
	ncalls++;
	if ((e == NULL) == (r == NULL))
		abort();
	if (e != NULL) {
		check_error(e);
		return;
	}
	if ((r->outlen > 0 && r->out == NULL) ||
	    (r->errlen > 0 && r->err == NULL))
		abort();
	if (r->outlen > 0)
		(void)((volatile const unsigned char *)r->out)[r->outlen - 1];
	if (r->errlen > 0)
		(void)((volatile const unsigned char *)r->err)[r->errlen - 1];
}

/* One unary reply through its reader, as gw-call.c would deliver it. */
static void
unary(int kind, const uint8_t *data, size_t size)
{
	grpc_byte_buffer	*bb = bytes_bb(data, size);
	struct gw_op		*op = op_new(gw, NULL, "sb-fuzz", "/tmp/f");

	switch (kind) {
	case 0: op->cb.sandbox = on_sandbox; start_done(op, NULL, bb); break;
	case 1: op->cb.sandbox = on_sandbox; get_done(op, NULL, bb); break;
	case 2: op->cb.done = on_done; stop_done(op, NULL, bb); break;
	case 3:
		/* The last page allowed: a next token ends it, never calls. */
		op->cb.list = on_list;
		op->pages = GW_LIST_MAX_PAGES - 1;
		list_done(op, NULL, bb);
		break;
	case 4: op->cb.exec = on_exec; exec_done(op, NULL, bb); break;
	case 5: op->cb.done = on_done; add_done(op, NULL, bb); break;
	case 6: op->cb.bytes = on_bytes; retrieve_done(op, NULL, bb); break;
	}
	grpc_byte_buffer_destroy(bb);
	if (ncalls != 1)
		abort();
}

static void
xs_ready(void *arg, const char *session_id)
{
	if (session_id == NULL)
		abort();
	(void)strlen(session_id);
}

static void
xs_output(void *arg, int stream, const unsigned char *data, size_t len)
{
	if ((stream != 1 && stream != 2) || data == NULL || len == 0)
		abort();
	(void)((volatile const unsigned char *)data)[len - 1];
}

static void
xs_done(void *arg, const struct gw_error *e, int exit_code)
{
	ncalls++;
	if (e != NULL) {
		check_error(e);
		if (exit_code != -1)
			abort();
	}
}

/*
 * Frames (2-byte length, bytes) through a stream's reader, then the
 * status byte ends the stream: its on_done must have run once after.
 */
static void
frames(const uint8_t *data, size_t size, void *x, const struct
    gw_stream_ops *ops, struct gw_stream **s)
{
	grpc_byte_buffer	*bb;
	size_t			 len;
	int			 status = 0, spins;

	if (size > 0)
		status = data[--size] % 17;
	*s = gw_stream_dead(gw, status, "fuzzed status", ops, x);
	while (size >= 2) {
		len = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		bb = bytes_bb(data, len);
		ops->message(x, bb);
		grpc_byte_buffer_destroy(bb);
		data += len;
		size -= len;
	}
	for (spins = 0; ncalls == 0 && spins < 100; spins++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (ncalls != 1)
		abort();
}

/* A StreamExec: frames through xs_message, then the stream's end. */
static void
exec_stream(const uint8_t *data, size_t size)
{
	static const struct gw_exec_stream_cbs cbs = { xs_ready, xs_output,
		xs_done };
	struct gw_exec_stream	*x = xcalloc(1, sizeof *x);

	x->gw = gw;
	x->cbs = cbs;
	frames(data, size, x, &xs_ops, &x->s);
}

static void
ls_data(void *arg, const char *session_id, uint64_t offset, int64_t ts_ms,
    const unsigned char *data, size_t len)
{
	if (ncalls != 0 || session_id == NULL || data == NULL || len == 0)
		abort();
	(void)strlen(session_id);
	(void)((volatile const unsigned char *)data)[len - 1];
}

static void
ls_done(void *arg, const struct gw_error *e)
{
	ncalls++;
	if (e != NULL)
		check_error(e);
}

/* A StreamLogs: frames through ls_message, then the stream's end. */
static void
log_stream(const uint8_t *data, size_t size)
{
	static const struct gw_log_stream_cbs cbs = { ls_data, ls_done };
	struct gw_log_stream	*x = xcalloc(1, sizeof *x);

	x->gw = gw;
	x->cbs = cbs;
	frames(data, size, x, &ls_ops, &x->s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	kind;

	if (size == 0)
		return 0;
	kind = data[0] % 9;
	ncalls = 0;
	if (kind < 7)
		unary(kind, data + 1, size - 1);
	else if (kind == 7)
		exec_stream(data + 1, size - 1);
	else
		log_stream(data + 1, size - 1);
	return 0;
}
