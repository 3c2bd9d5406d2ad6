/*
 * StreamExec over the generic bidi stream: init first, stdin in chunks of
 * at most 64 KiB, close as an ExecStreamClose message then a half-close;
 * responses become on_ready / on_output; on_done reports the exit frame,
 * an error frame, or the call's status — never a fake exit 0.
 */
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x

struct gw_exec_stream {
	struct gw		*gw;
	struct gw_stream	*s;
	struct gw_exec_stream_cbs cbs;
	void			*arg;
	bool			 has_exit;
	int			 exit_code;
	struct gw_error		 err;		/* first error seen, if any */
	bool			 stdin_closed;
};

static void	xs_message(void *, grpc_byte_buffer *);
static void	xs_end(void *, int, const char *);

static const struct gw_stream_ops xs_ops = { xs_message, xs_end };

/* Keeps the first error only: it is the cause, the rest are echoes. */
static void
xs_error(struct gw_exec_stream *x, int code, enum rpc_err rpc,
    const char *msg)
{
	if (x->err.message != NULL)
		return;
	gw_error_make(&x->err, code, rpc, "%s", msg);
}

/* An error frame: its code, when it names a status, picks the kind. */
static void
xs_error_frame(struct gw_exec_stream *x, const PB(ExecStreamError) *f)
{
	int	 code = gw_code_from_name(f->code);
	char	*m = gw_one_line(f->message, strlen(f->message));
	char	*c = gw_one_line(f->code, strlen(f->code));
	char	*msg;

	msg = xasprintf("gateway exec error%s%s%s: %s", *c ? " (" : "", c,
	    *c ? ")" : "", *m ? m : "no reason given");
	xs_error(x, code >= 0 ? code : GRPC_STATUS_UNKNOWN,
	    code > 0 ? gw_map_code(code) : RPC_ERR_GATEWAY_ERROR, msg);
	free(msg);
	free(m);
	free(c);
}

static void
xs_message(void *arg, grpc_byte_buffer *bb)
{
	struct gw_exec_stream	*x = arg;
	PB(ExecStreamResponse)	*r;
	PB(ExecStreamOutput)	*o;

	r = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__exec_stream_response__descriptor);
	if (r == NULL) {
		xs_error(x, GRPC_STATUS_INTERNAL, RPC_ERR_GATEWAY_ERROR,
		    "malformed reply from the gateway to StreamExec");
		gw_stream_cancel(x->s);
		return;
	}
	switch (r->response_case) {
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_READY:
		if (x->cbs.on_ready != NULL)
			x->cbs.on_ready(x->arg, r->ready->session_id);
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_OUTPUT:
		o = r->output;
		if (o->data.len > 0 && x->cbs.on_output != NULL)
			x->cbs.on_output(x->arg, o->stream_type ==
			    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_OUTPUT__STREAM_TYPE__STREAM_TYPE_STDERR ?
			    2 : 1, o->data.data, o->data.len);
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_EXIT:
		x->has_exit = true;
		x->exit_code = r->exit->exit_code;
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_ERROR:
		xs_error_frame(x, r->error);
		break;
	default:
		log_debug("StreamExec: response of unknown kind %d ignored",
		    (int)r->response_case);
		break;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* The final word: error frame, then status, then the exit frame. */
static void
xs_end(void *arg, int code, const char *details)
{
	struct gw_exec_stream	*x = arg;
	struct gw_error		 e = { 0 };

	if (x->err.message != NULL)
		x->cbs.on_done(x->arg, &x->err, -1);
	else if (code == GRPC_STATUS_CANCELLED && gw_stream_cancelled(x->s)) {
		gw_error_make(&e, code, RPC_ERR_CANCELLED,
		    "exec stream cancelled");
		x->cbs.on_done(x->arg, &e, -1);
	} else if (code == GRPC_STATUS_DEADLINE_EXCEEDED) {
		gw_error_make(&e, code, RPC_ERR_DEADLINE_EXCEEDED,
		    "exec stream reached its deadline (%s)", x->gw->target);
		x->cbs.on_done(x->arg, &e, -1);
	} else if (code != GRPC_STATUS_OK) {
		gw_error_from_status(&e, code, details, x->gw->target);
		x->cbs.on_done(x->arg, &e, -1);
	} else if (!x->has_exit) {
		gw_error_make(&e, GRPC_STATUS_OK, RPC_ERR_GATEWAY_ERROR,
		    "stream ended without an exit status");
		x->cbs.on_done(x->arg, &e, -1);
	} else
		x->cbs.on_done(x->arg, NULL, x->exit_code);
	gw_error_clear(&e);
	gw_error_clear(&x->err);
	free(x);
}

struct gw_exec_stream *
gw_exec_stream_start(struct gw *gw, const struct gw_exec_stream_request *q,
    const struct gw_exec_stream_cbs *cbs, void *arg)
{
	struct gw_exec_stream	*x = xcalloc(1, sizeof *x);
	struct gw_arena		 a = { 0 };
	PB(ExecStreamRequest)	*init;
	const char		*err = NULL;

	x->gw = gw;
	x->cbs = *cbs;
	x->arg = arg;
	if ((init = gw_build_exec_init(&a, q, &err)) == NULL) {
		gw_error_make(&x->err, GRPC_STATUS_INVALID_ARGUMENT,
		    RPC_ERR_INVALID_PARAMS, "%s", err);
		x->s = gw_stream_dead(gw, GRPC_STATUS_INVALID_ARGUMENT, err,
		    &xs_ops, x);
	} else
		x->s = gw_stream_open(gw, GW_STREAMING "StreamExec",
		    q->timeout_ms, pbuf_pack(&init->base), &xs_ops, x);
	gw_arena_free(&a);
	return x;
}

/* Queues one request message. */
static void
xs_send(struct gw_exec_stream *x, PB(ExecStreamRequest) *r, size_t weight)
{
	gw_stream_send(x->s, pbuf_pack(&r->base), weight);
}

void
gw_exec_stream_write(struct gw_exec_stream *x, const unsigned char *data,
    size_t len)
{
	PB(ExecStreamRequest)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__INIT;
	PB(ExecStreamData)	d = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_DATA__INIT;
	size_t			n;

	if (x->stdin_closed) {
		log_debug("StreamExec: stdin written after close, dropped");
		return;
	}
	r.request_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_STDIN;
	r.stdin = &d;
	while (len > 0) {
		n = len > GW_STDIN_CHUNK ? GW_STDIN_CHUNK : len;
		d.data.data = (uint8_t *)data;
		d.data.len = n;
		xs_send(x, &r, n);
		data += n;
		len -= n;
	}
}

size_t
gw_exec_stream_pending(struct gw_exec_stream *x)
{
	return gw_stream_pending(x->s);
}

void
gw_exec_stream_close_stdin(struct gw_exec_stream *x)
{
	PB(ExecStreamRequest)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__INIT;
	PB(ExecStreamClose)	c = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_CLOSE__INIT;

	if (x->stdin_closed)
		return;
	x->stdin_closed = true;
	r.request_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_CLOSE;
	r.close = &c;
	xs_send(x, &r, 0);
	gw_stream_close_send(x->s);
}

void
gw_exec_stream_resize(struct gw_exec_stream *x, uint32_t w, uint32_t h)
{
	PB(ExecStreamRequest)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__INIT;
	PB(ExecStreamResize)	z = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESIZE__INIT;

	if (x->stdin_closed)	/* the request side is closed */
		return;
	z.width = w;
	z.height = h;
	r.request_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_RESIZE;
	r.resize = &z;
	xs_send(x, &r, 0);
}

void
gw_exec_stream_pause(struct gw_exec_stream *x, bool paused)
{
	gw_stream_pause(x->s, paused);
}

void
gw_exec_stream_cancel(struct gw_exec_stream *x)
{
	gw_stream_cancel(x->s);
}
