/*
 * A bidirectional stream on one channel: one SEND_MESSAGE batch in flight
 * with a queue behind it, one RECV_MESSAGE batch outstanding (not re-armed
 * while paused), RECV_STATUS_ON_CLIENT armed from the start.  The stream
 * ends, once, when the status is in and every batch has completed; only
 * then is it freed.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

struct gw_sendq {
	grpc_byte_buffer	*bb;		/* NULL: half-close */
	size_t			 weight;
	TAILQ_ENTRY(gw_sendq)	 entry;
};

struct gw_stream {
	struct gw		*gw;
	struct gw_channel	*chan;
	grpc_call		*call;		/* NULL: a dead stream */
	const char		*method;
	int64_t			 started_us;	/* monotonic */
	const struct gw_stream_ops *ops;
	void			*arg;

	struct cq_tag		 send_tag, recv_tag, status_tag;
	bool			 send_busy, recv_busy;
	bool			 send_broken, close_queued;
	bool			 paused, recv_eof, status_done, cancelled;
	grpc_byte_buffer	*sending;
	size_t			 sending_weight;
	TAILQ_HEAD(, gw_sendq)	 sendq;
	size_t			 pending;
	grpc_byte_buffer	*recv_bb;
	grpc_metadata_array	 imd, tmd;
	grpc_status_code	 status;
	grpc_slice		 details;
	struct event		*kick;		/* re-checks the end */
	TAILQ_ENTRY(gw_stream)	 entry;
};

#define STREAM_OF(t, f) \
	((struct gw_stream *)((char *)(t) - offsetof(struct gw_stream, f)))

static void	stream_send_done(struct cq_tag *, bool);
static void	stream_recv_done(struct cq_tag *, bool);
static void	stream_status_done(struct cq_tag *, bool);
static void	stream_maybe_end(struct gw_stream *);

/* Drops what was queued and not sent. */
static void
stream_drop_queue(struct gw_stream *s)
{
	struct gw_sendq	*q;

	while ((q = TAILQ_FIRST(&s->sendq)) != NULL) {
		TAILQ_REMOVE(&s->sendq, q, entry);
		if (q->bb != NULL)
			grpc_byte_buffer_destroy(q->bb);
		s->pending -= q->weight;
		free(q);
	}
}

static void
stream_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	stream_maybe_end(arg);
}

/* Re-checks the end from the loop's next pass, never from a caller. */
static void
stream_kick(struct gw_stream *s)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(s->kick, &tv);
}

static struct gw_stream *
stream_new(struct gw *gw, const char *method, const struct gw_stream_ops *ops,
    void *arg)
{
	struct gw_stream	*s = xcalloc(1, sizeof *s);

	s->gw = gw;
	s->method = method;
	s->started_us = gw_now_us();
	s->ops = ops;
	s->arg = arg;
	s->send_tag.done = stream_send_done;
	s->recv_tag.done = stream_recv_done;
	s->status_tag.done = stream_status_done;
	TAILQ_INIT(&s->sendq);
	grpc_metadata_array_init(&s->imd);
	grpc_metadata_array_init(&s->tmd);
	s->details = grpc_empty_slice();
	s->kick = evtimer_new(gw->base, stream_kick_cb, s);
	TAILQ_INSERT_TAIL(&gw->streams, s, entry);
	gw->nstreams++;
	return s;
}

struct gw_stream *
gw_stream_dead(struct gw *gw, int code, const char *details,
    const struct gw_stream_ops *ops, void *arg)
{
	struct gw_stream	*s = stream_new(gw, "", ops, arg);

	s->status_done = true;
	s->status = (grpc_status_code)code;
	grpc_slice_unref(s->details);
	s->details = grpc_slice_from_copied_string(details);
	s->recv_eof = true;
	s->send_broken = true;
	stream_kick(s);
	return s;
}

/* Starts one batch; a refusal is a bug in this file, so it is loud. */
static bool
stream_batch(struct gw_stream *s, grpc_op *ops, size_t n, struct cq_tag *t)
{
	grpc_call_error	 rc;

	if ((rc = grpc_call_start_batch(s->call, ops, n, t, NULL)) ==
	    GRPC_CALL_OK)
		return true;
	log_warnx("gateway stream %s: batch refused (%d)", s->method, rc);
	grpc_call_cancel(s->call, NULL);
	return false;
}

struct gw_stream *
gw_stream_open(struct gw *gw, const char *method, int64_t timeout_ms,
    grpc_byte_buffer *first, const struct gw_stream_ops *ops, void *arg)
{
	struct gw_stream	*s;
	gpr_timespec		 deadline;
	grpc_op			 op[2];

	if (gw->freeing || gw->br == NULL) {
		grpc_byte_buffer_destroy(first);
		return gw_stream_dead(gw, GRPC_STATUS_CANCELLED,
		    "the gateway client is shutting down", ops, arg);
	}
	if (gw_down(gw)) {
		struct gw_error	 e;

		grpc_byte_buffer_destroy(first);
		gw_error_down(gw, &e, method);
		s = gw_stream_dead(gw, GRPC_STATUS_UNAVAILABLE, e.message,
		    ops, arg);
		gw_error_clear(&e);
		return s;
	}
	s = stream_new(gw, method, ops, arg);
	s->chan = gw_channel_pick(gw);
	deadline = timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN)) :
	    gpr_inf_future(GPR_CLOCK_MONOTONIC);
	s->call = grpc_channel_create_call(s->chan->ch, NULL,
	    GRPC_PROPAGATE_DEFAULTS, cq_bridge_queue(gw->br),
	    grpc_slice_from_static_string(method), NULL, deadline, NULL);
	s->chan->inflight++;
	s->chan->calls++;

	memset(op, 0, sizeof op);
	op[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op[0].data.recv_status_on_client.status = &s->status;
	op[0].data.recv_status_on_client.status_details = &s->details;
	op[0].data.recv_status_on_client.trailing_metadata = &s->tmd;
	if (!stream_batch(s, op, 1, &s->status_tag))
		fatalx("gateway stream %s: cannot wait for status", method);

	memset(op, 0, sizeof op);
	op[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	op[0].data.send_initial_metadata.count = gw->nmd;
	op[0].data.send_initial_metadata.metadata = gw->md;
	op[1].op = GRPC_OP_SEND_MESSAGE;
	op[1].data.send_message.send_message = first;
	s->sending = first;
	s->send_busy = stream_batch(s, op, 2, &s->send_tag);

	memset(op, 0, sizeof op);
	op[0].op = GRPC_OP_RECV_INITIAL_METADATA;
	op[0].data.recv_initial_metadata.recv_initial_metadata = &s->imd;
	op[1].op = GRPC_OP_RECV_MESSAGE;
	op[1].data.recv_message.recv_message = &s->recv_bb;
	s->recv_busy = stream_batch(s, op, 2, &s->recv_tag);
	if (!s->recv_busy)
		s->recv_eof = true;
	if (!s->send_busy) {
		grpc_byte_buffer_destroy(first);
		s->sending = NULL;
		s->send_broken = true;
	}
	return s;
}

/* Sends the next queued message or the half-close, one at a time. */
static void
stream_pump(struct gw_stream *s)
{
	struct gw_sendq	*q;
	grpc_op		 op;

	if (s->send_busy || s->send_broken || s->call == NULL)
		return;
	if (s->status_done) {
		stream_drop_queue(s);
		return;
	}
	if ((q = TAILQ_FIRST(&s->sendq)) == NULL)
		return;
	TAILQ_REMOVE(&s->sendq, q, entry);
	memset(&op, 0, sizeof op);
	if (q->bb == NULL)
		op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	else {
		op.op = GRPC_OP_SEND_MESSAGE;
		op.data.send_message.send_message = q->bb;
	}
	s->sending = q->bb;
	s->sending_weight = q->weight;
	free(q);
	if ((s->send_busy = stream_batch(s, &op, 1, &s->send_tag)))
		return;
	if (s->sending != NULL)
		grpc_byte_buffer_destroy(s->sending);
	s->sending = NULL;
	s->pending -= s->sending_weight;
	s->send_broken = true;
	stream_drop_queue(s);
}

void
gw_stream_send(struct gw_stream *s, grpc_byte_buffer *bb, size_t weight)
{
	struct gw_sendq	*q;

	if (s->call == NULL || s->send_broken || s->close_queued ||
	    s->cancelled) {
		grpc_byte_buffer_destroy(bb);
		return;
	}
	q = xcalloc(1, sizeof *q);
	q->bb = bb;
	q->weight = weight;
	s->pending += weight;
	TAILQ_INSERT_TAIL(&s->sendq, q, entry);
	stream_pump(s);
}

void
gw_stream_close_send(struct gw_stream *s)
{
	struct gw_sendq	*q;

	if (s->call == NULL || s->close_queued || s->send_broken)
		return;
	s->close_queued = true;
	q = xcalloc(1, sizeof *q);
	TAILQ_INSERT_TAIL(&s->sendq, q, entry);
	stream_pump(s);
}

size_t
gw_stream_pending(struct gw_stream *s)
{
	return s->pending;
}

static void
stream_send_done(struct cq_tag *t, bool ok)
{
	struct gw_stream	*s = STREAM_OF(t, send_tag);

	s->send_busy = false;
	if (s->sending != NULL)
		grpc_byte_buffer_destroy(s->sending);
	s->sending = NULL;
	s->pending -= s->sending_weight;
	s->sending_weight = 0;
	if (!ok) {
		s->send_broken = true;
		stream_drop_queue(s);
	}
	stream_pump(s);
	stream_maybe_end(s);
}

/* Asks for the next response unless paused, finished or failed. */
static void
stream_arm_recv(struct gw_stream *s)
{
	grpc_op	 op;

	if (s->recv_busy || s->recv_eof || s->paused || s->call == NULL)
		return;
	if (s->cancelled || (s->status_done && s->status != GRPC_STATUS_OK)) {
		s->recv_eof = true;
		return;
	}
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &s->recv_bb;
	if (!(s->recv_busy = stream_batch(s, &op, 1, &s->recv_tag)))
		s->recv_eof = true;
}

static void
stream_recv_done(struct cq_tag *t, bool ok)
{
	struct gw_stream	*s = STREAM_OF(t, recv_tag);
	grpc_byte_buffer	*bb = s->recv_bb;

	s->recv_busy = false;
	s->recv_bb = NULL;
	if (ok && bb != NULL) {
		/* Ask for the next one first: gRPC's thread reads it while
		 * this one is handled.  A pause the handler asks for stops
		 * the one after (the ring takes one frame past its mark). */
		stream_arm_recv(s);
		if (!s->cancelled)
			s->ops->message(s->arg, bb);
		grpc_byte_buffer_destroy(bb);
	} else {
		if (bb != NULL)
			grpc_byte_buffer_destroy(bb);
		s->recv_eof = true;
	}
	stream_maybe_end(s);
}

static void
stream_status_done(struct cq_tag *t, bool ok)
{
	struct gw_stream	*s = STREAM_OF(t, status_tag);

	s->status_done = true;
	if (!ok)
		s->status = GRPC_STATUS_UNKNOWN;
	if (s->status != GRPC_STATUS_OK && !s->recv_busy)
		s->recv_eof = true;
	if (!s->send_busy)
		stream_drop_queue(s);
	stream_maybe_end(s);
}

/* Reports the end once and frees the stream. */
static void
stream_end(struct gw_stream *s)
{
	struct gw	*gw = s->gw;
	char		*details = pbuf_slice_strdup(s->details);

	TAILQ_REMOVE(&gw->streams, s, entry);
	if (s->chan != NULL)
		s->chan->inflight--;
	if (s->call != NULL)	/* a dead stream never reached the gateway */
		gw_call_ended(gw, s->method, s->status,
		    gw_now_us() - s->started_us);
	s->ops->end(s->arg, s->status, details);
	free(details);
	stream_drop_queue(s);
	if (s->call != NULL)
		grpc_call_unref(s->call);
	grpc_metadata_array_destroy(&s->imd);
	grpc_metadata_array_destroy(&s->tmd);
	grpc_slice_unref(s->details);
	event_free(s->kick);
	free(s);
}

/* True when nothing is outstanding and nothing more will be read. */
static bool
stream_settled(struct gw_stream *s)
{
	if (!s->status_done || s->send_busy || s->recv_busy)
		return false;
	if (!s->recv_eof)
		stream_arm_recv(s);
	return s->recv_eof && !s->recv_busy;
}

static void
stream_maybe_end(struct gw_stream *s)
{
	if (stream_settled(s))
		stream_end(s);
}

void
gw_stream_pause(struct gw_stream *s, bool paused)
{
	s->paused = paused;
	if (!paused) {
		stream_arm_recv(s);
		stream_kick(s);
	}
}

void
gw_stream_cancel(struct gw_stream *s)
{
	if (s->cancelled)
		return;
	s->cancelled = true;
	if (s->call != NULL)
		grpc_call_cancel(s->call, NULL);
	if (!s->recv_busy)
		s->recv_eof = true;
	stream_drop_queue(s);
	stream_kick(s);
}

bool
gw_stream_cancelled(struct gw_stream *s)
{
	return s->cancelled;
}

/* Cancels every stream and ends those whose batches have all completed. */
void
gw_streams_abort(struct gw *gw)
{
	struct gw_stream	*s;

again:
	TAILQ_FOREACH(s, &gw->streams, entry) {
		gw_stream_cancel(s);
		if (stream_settled(s)) {
			event_del(s->kick);
			stream_end(s);
			goto again;
		}
	}
}
