/*
 * StreamLogs over the generic bidi stream: one init message, then data
 * frames (session id, offset, timestamp) until complete, an error frame or
 * the call's status.  A follow stream's send side stays open: the gateway
 * reads a half-close as "stop following".
 */
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x
#define LOG_RESP(x) \
	COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_ ## x

struct gw_log_stream {
	struct gw		*gw;
	struct gw_stream	*s;
	struct gw_log_stream_cbs cbs;
	void			*arg;
	bool			 complete;
	struct gw_error		 err;		/* first error seen, if any */
};

static void	ls_message(void *, grpc_byte_buffer *);
static void	ls_end(void *, int, const char *);

static const struct gw_stream_ops ls_ops = { ls_message, ls_end };

/* Keeps the first error only: it is the cause, the rest are echoes. */
static void
ls_error(struct gw_log_stream *x, int code, enum rpc_err rpc, const char *msg)
{
	if (x->err.message != NULL)
		return;
	gw_error_make(&x->err, code, rpc, "%s", msg);
}

/* An error frame is the gateway refusing: never worth resuming. */
static void
ls_error_frame(struct gw_log_stream *x, const PB(LogStreamError) *f)
{
	int	 code = gw_code_from_name(f->code);
	char	*m = gw_one_line(f->message, strlen(f->message));
	char	*c = gw_one_line(f->code, strlen(f->code));
	char	*msg;

	if (code < 0 || gw_log_error_resumable(&(struct gw_error){ code,
	    RPC_ERR_GATEWAY_ERROR, NULL }))
		code = GRPC_STATUS_FAILED_PRECONDITION;
	msg = xasprintf("gateway log error%s%s%s: %s", *c ? " (" : "", c,
	    *c ? ")" : "", *m ? m : "no reason given");
	ls_error(x, code, code == GRPC_STATUS_FAILED_PRECONDITION ?
	    RPC_ERR_GATEWAY_ERROR : gw_map_code(code), msg);
	free(msg);
	free(m);
	free(c);
}

static void
ls_message(void *arg, grpc_byte_buffer *bb)
{
	struct gw_log_stream	*x = arg;
	PB(LogStreamResponse)	*r;
	PB(LogStreamData)	*d;

	r = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__log_stream_response__descriptor);
	if (r == NULL) {
		ls_error(x, GRPC_STATUS_INTERNAL, RPC_ERR_GATEWAY_ERROR,
		    "malformed reply from the gateway to StreamLogs");
		gw_stream_cancel(x->s);
		return;
	}
	switch (r->response_case) {
	case LOG_RESP(DATA):
		d = r->data;
		if (d->data.len > 0 && !x->complete && x->err.message == NULL)
			x->cbs.on_data(x->arg, d->session_id, d->offset,
			    d->timestamp != NULL ?
			    gw_timestamp_ms(d->timestamp) : 0,
			    d->data.data, d->data.len);
		break;
	case LOG_RESP(ERROR):
		ls_error_frame(x, r->error);
		break;
	case LOG_RESP(COMPLETE):
		x->complete = true;
		gw_stream_close_send(x->s);
		break;
	default:
		log_debug("StreamLogs: response of unknown kind %d ignored",
		    (int)r->response_case);
		break;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* The final word: an error frame, else complete, else the status. */
static void
ls_end(void *arg, int code, const char *details)
{
	struct gw_log_stream	*x = arg;
	struct gw_error		 e = { 0 };

	if (x->err.message != NULL)
		x->cbs.on_done(x->arg, &x->err);
	else if (x->complete || code == GRPC_STATUS_OK)
		x->cbs.on_done(x->arg, NULL);
	else if (code == GRPC_STATUS_CANCELLED && gw_stream_cancelled(x->s)) {
		gw_error_make(&e, code, RPC_ERR_CANCELLED,
		    "log stream cancelled");
		x->cbs.on_done(x->arg, &e);
	} else {
		gw_error_from_status(&e, code, details, x->gw->target);
		x->cbs.on_done(x->arg, &e);
	}
	gw_error_clear(&e);
	gw_error_clear(&x->err);
	free(x);
}

struct gw_log_stream *
gw_log_stream_start(struct gw *gw, const struct gw_log_stream_request *q,
    const struct gw_log_stream_cbs *cbs, void *arg)
{
	struct gw_log_stream	*x = xcalloc(1, sizeof *x);
	PB(LogStreamRequest)	 r = COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__INIT;
	PB(LogStreamInit)	 in = COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_INIT__INIT;
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	x->gw = gw;
	x->cbs = *cbs;
	x->arg = arg;
	if (q->sandbox_id == NULL || *q->sandbox_id == '\0' ||
	    q->tail_lines < 0) {
		gw_error_make(&x->err, GRPC_STATUS_INVALID_ARGUMENT,
		    RPC_ERR_INVALID_PARAMS, "StreamLogs: %s",
		    q->tail_lines < 0 ? "negative tail_lines" :
		    "no sandbox id");
		x->s = gw_stream_dead(gw, GRPC_STATUS_INVALID_ARGUMENT,
		    x->err.message, &ls_ops, x);
		return x;
	}
	in.sandbox_id = (char *)q->sandbox_id;
	in.follow = q->follow;
	in.tail_lines = q->tail_lines;
	if (q->since_ms > 0) {
		ts.seconds = q->since_ms / 1000;
		ts.nanos = (int32_t)(q->since_ms % 1000) * 1000000;
		in.since_time = &ts;
	}
	in.timestamps = q->timestamps;
	if (q->resume_session_id != NULL)
		in.resume_session_id = (char *)q->resume_session_id;
	in.resume_offset = q->resume_offset;
	r.request_case = COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__REQUEST_INIT;
	r.init = &in;
	x->s = gw_stream_open(gw, GW_STREAMING "StreamLogs", q->timeout_ms,
	    pbuf_pack(&r.base), &ls_ops, x);
	return x;
}

void
gw_log_stream_pause(struct gw_log_stream *x, bool paused)
{
	gw_stream_pause(x->s, paused);
}

void
gw_log_stream_cancel(struct gw_log_stream *x)
{
	gw_stream_cancel(x->s);
}

bool
gw_log_error_resumable(const struct gw_error *e)
{
	switch (e->grpc_code) {
	case GRPC_STATUS_UNAVAILABLE:
	case GRPC_STATUS_INTERNAL:
	case GRPC_STATUS_UNKNOWN:
	case GRPC_STATUS_ABORTED:
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return true;
	default:
		return false;
	}
}
