/*
 * One server-side gRPC call: a receive slot, a send queue drained one message
 * at a time (gRPC allows one SEND_MESSAGE in flight), the final status, and
 * the close op that tells us when the client went away.
 *
 * A call is freed when its handler has finished it and no op is left in
 * flight.  Handlers call call_finish() exactly once on their normal path;
 * when the call ends under them (client cancel, injected break, shutdown)
 * their cancel callback runs instead, from the loop, never re-entrantly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define DRAIN_LOW	8

struct out_msg {
	grpc_byte_buffer		*bb;
	STAILQ_ENTRY(out_msg)		 entry;
};

struct call {
	struct cq_tag		 t_recv, t_send, t_status, t_close;
	grpc_call		*gc;
	grpc_call_details	 details;
	grpc_metadata_array	 md;
	const struct method	*m;
	int			 refs;

	bool			 recv_busy, send_busy, md_sent;
	bool			 finished, status_pending, cancelled;
	int			 close_cancelled;
	grpc_byte_buffer	*rbb, *sbb;
	call_msg_cb		 recv_cb;
	void			*recv_arg;
	call_cancel_cb		 cancel_cb, drain_cb, defer_cb;
	void			*cancel_arg;

	STAILQ_HEAD(, out_msg)	 outq;
	size_t			 nout;
	grpc_status_code	 code;
	grpc_slice		 details_slice;
	bool			 has_slice;

	bool			 dropreply;
	unsigned		 break_after, frames;
	struct event		*defer_ev;
};

#define CALL_OF(tag, field) \
	((struct call *)((char *)(tag) - offsetof(struct call, field)))

static void	call_try_send(struct call *);

/* Drops the messages still queued to send. */
static void
call_drop_queue(struct call *c)
{
	struct out_msg	*o;

	while ((o = STAILQ_FIRST(&c->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->outq, entry);
		grpc_byte_buffer_destroy(o->bb);
		free(o);
	}
	c->nout = 0;
}

/* Frees the call when nothing refers to it any more. */
static void
call_unref(struct call *c)
{
	if (--c->refs > 0)
		return;
	call_drop_queue(c);
	if (c->rbb != NULL)
		grpc_byte_buffer_destroy(c->rbb);
	if (c->gc != NULL)
		grpc_call_unref(c->gc);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	if (c->has_slice)
		grpc_slice_unref(c->details_slice);
	event_free(c->defer_ev);
	free(c);
	server_call_freed();
}

/* Runs a cancel callback that call_abort() deferred to a later loop pass. */
static void
call_deferred(evutil_socket_t fd, short ev, void *arg)
{
	struct call	*c = arg;
	call_cancel_cb	 cb = c->defer_cb;

	c->defer_cb = NULL;
	if (cb != NULL)
		cb(c, c->cancel_arg);
	call_unref(c);
}

/* The client side is gone or the call ended: tell the handler once. */
static void
call_closed(struct cq_tag *t, bool ok)
{
	struct call	*c = CALL_OF(t, t_close);
	call_cancel_cb	 cb;

	if ((c->close_cancelled || !ok) && !c->finished) {
		c->cancelled = c->finished = true;
		call_drop_queue(c);
		cb = c->cancel_cb;
		c->cancel_cb = c->drain_cb = NULL;
		if (cb != NULL)
			cb(c, c->cancel_arg);
		call_unref(c);		/* the handler's hold */
	}
	call_unref(c);
}

struct call *
call_new(void)
{
	struct call	*c = xcalloc(1, sizeof *c);

	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	STAILQ_INIT(&c->outq);
	c->refs = 1;
	c->defer_ev = event_new(gw.base, -1, 0, call_deferred, c);
	return c;
}

/* Starts the close op, so a client that goes away is noticed at once. */
void
call_accepted(struct call *c)
{
	grpc_op		 op = { 0 };

	c->t_close.done = call_closed;
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	c->refs++;
	if (grpc_call_start_batch(c->gc, &op, 1, &c->t_close, NULL) !=
	    GRPC_CALL_OK)
		fatalx("grpc_call_start_batch(close) failed");
}

grpc_call **
call_grpcp(struct call *c)
{
	return &c->gc;
}

grpc_call_details *
call_details(struct call *c)
{
	return &c->details;
}

grpc_metadata_array *
call_metadata(struct call *c)
{
	return &c->md;
}

/* Finds a request metadata value by (lower-case) key. */
const char *
call_meta(struct call *c, const char *key, size_t *len)
{
	size_t	 i;

	for (i = 0; i < c->md.count; i++) {
		if (grpc_slice_str_cmp(c->md.metadata[i].key, key) != 0)
			continue;
		*len = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
		return (const char *)GRPC_SLICE_START_PTR(
		    c->md.metadata[i].value);
	}
	return NULL;
}

void
call_set_method(struct call *c, const struct method *m)
{
	c->m = m;
}

const struct method *
call_method(struct call *c)
{
	return c->m;
}

void
call_set_dropreply(struct call *c)
{
	c->dropreply = true;
}

void
call_set_break(struct call *c, unsigned frames)
{
	c->break_after = frames;
}

/* A message arrived (or the client half-closed): hand it on. */
static void
call_recv_done(struct cq_tag *t, bool ok)
{
	struct call		*c = CALL_OF(t, t_recv);
	grpc_byte_buffer	*bb = c->rbb;

	c->rbb = NULL;
	c->recv_busy = false;
	if (!c->finished && c->recv_cb != NULL)
		c->recv_cb(c, c->recv_arg, ok ? bb : NULL);
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	call_unref(c);
}

void
call_recv(struct call *c, call_msg_cb cb, void *arg)
{
	grpc_op		 op = { 0 };

	if (c->finished || c->recv_busy)
		return;
	c->recv_cb = cb;
	c->recv_arg = arg;
	c->recv_busy = true;
	c->t_recv.done = call_recv_done;
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->rbb;
	c->refs++;
	if (grpc_call_start_batch(c->gc, &op, 1, &c->t_recv, NULL) !=
	    GRPC_CALL_OK)
		fatalx("grpc_call_start_batch(recv) failed");
}

void
call_on_cancel(struct call *c, call_cancel_cb cb, void *arg)
{
	c->cancel_cb = cb;
	c->cancel_arg = arg;
}

void
call_on_drain(struct call *c, call_cancel_cb cb)
{
	c->drain_cb = cb;
}

/* One message has left; send the next or the status. */
static void
call_send_done(struct cq_tag *t, bool ok)
{
	struct call	*c = CALL_OF(t, t_send);

	c->send_busy = false;
	grpc_byte_buffer_destroy(c->sbb);
	c->sbb = NULL;
	call_try_send(c);
	if (c->drain_cb != NULL && c->nout < DRAIN_LOW && !c->finished)
		c->drain_cb(c, c->cancel_arg);
	call_unref(c);
}

/* The status went out (or the call died): the handler's hold ends. */
static void
call_status_done(struct cq_tag *t, bool ok)
{
	struct call	*c = CALL_OF(t, t_status);

	call_unref(c);
}

/* Starts the next send batch: a queued message, else the pending status. */
static void
call_try_send(struct call *c)
{
	grpc_op		 ops[2] = { 0 };
	size_t		 n = 0;
	struct out_msg	*o;
	struct cq_tag	*tag;

	if (c->send_busy)
		return;
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	}
	if ((o = STAILQ_FIRST(&c->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->outq, entry);
		c->nout--;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = o->bb;
		c->sbb = o->bb;		/* alive until the op completes */
		free(o);
		c->send_busy = true;
		c->t_send.done = call_send_done;
		tag = &c->t_send;
		c->refs++;
	} else if (c->status_pending) {
		c->status_pending = false;
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = c->code;
		ops[n++].data.send_status_from_server.status_details =
		    c->has_slice ? &c->details_slice : NULL;
		c->t_status.done = call_status_done;
		tag = &c->t_status;
	} else
		return;
	c->md_sent = true;
	if (grpc_call_start_batch(c->gc, ops, n, tag, NULL) != GRPC_CALL_OK)
		fatalx("grpc_call_start_batch(send) failed");
}

void
call_send(struct call *c, const ProtobufCMessage *msg)
{
	struct out_msg	*o;

	if (c->finished)
		return;
	o = xcalloc(1, sizeof *o);
	o->bb = pbuf_pack(msg);
	STAILQ_INSERT_TAIL(&c->outq, o, entry);
	c->nout++;
	call_try_send(c);
	if (c->break_after != 0 && ++c->frames >= c->break_after) {
		stats_fault("break-stream");
		call_abort(c, GRPC_STATUS_UNAVAILABLE,
		    "injected fault: stream broken");
	}
}

size_t
call_queued(struct call *c)
{
	return c->nout;
}

bool
call_done(struct call *c)
{
	return c->finished;
}

void
call_finish(struct call *c, grpc_status_code code, const char *msg)
{
	c->cancel_cb = c->drain_cb = c->defer_cb = NULL;
	c->recv_cb = NULL;
	if (c->finished)
		return;
	c->finished = true;
	c->code = code;
	if (msg != NULL && *msg != '\0') {
		c->details_slice = grpc_slice_from_copied_string(msg);
		c->has_slice = true;
	}
	c->status_pending = true;
	call_try_send(c);
}

void
call_finishf(struct call *c, grpc_status_code code, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	call_finish(c, code, msg);
	free(msg);
}

/* Answers a unary call, unless a drop-reply fault eats the answer. */
void
call_reply(struct call *c, const ProtobufCMessage *msg)
{
	if (c->dropreply) {
		stats_fault("drop-reply");
		call_finish(c, GRPC_STATUS_UNAVAILABLE,
		    "injected fault: reply dropped");
		return;
	}
	call_send(c, msg);
	call_finish(c, GRPC_STATUS_OK, NULL);
}

/* Ends the call from our side and tells the handler on a later pass. */
void
call_abort(struct call *c, grpc_status_code code, const char *msg)
{
	call_cancel_cb	 cb = c->cancel_cb;

	if (c->finished)
		return;
	call_finish(c, code, msg);
	if (cb != NULL) {
		c->defer_cb = cb;
		c->refs++;
		event_active(c->defer_ev, 0, 0);
	}
}

void *
call_unpack(struct call *c, grpc_byte_buffer *bb,
    const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage	*m;

	if (bb == NULL) {
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "no request message");
		return NULL;
	}
	if ((m = pbuf_unpack(bb, desc)) == NULL) {
		call_finishf(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "request does not decode as %s", desc->name);
		return NULL;
	}
	return m;
}

/* Drops the hold of a call that gRPC never gave us (shutdown). */
void
call_release(struct call *c)
{
	c->finished = true;
	call_unref(c);
}
