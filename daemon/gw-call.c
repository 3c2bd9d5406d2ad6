/*
 * Unary calls: one batch per attempt on the least-loaded channel, a
 * deadline on each attempt, and for idempotent calls retries with jittered
 * backoff (libevent timers) while the whole-call budget lasts.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw-internal.h"
#include "log.h"
#include "metrics.h"
#include "pbuf.h"
#include "xmalloc.h"

struct gw_call {
	struct cq_tag		 tag;
	struct gw		*gw;
	struct gw_call_opts	 o;
	grpc_byte_buffer	*req;		/* kept for retries */
	grpc_byte_buffer	*sent;		/* this attempt's copy */
	gw_call_done		*done;
	void			*arg;

	grpc_call		*call;		/* the attempt in flight */
	struct gw_channel	*chan;
	grpc_metadata_array	 imd, tmd;
	grpc_byte_buffer	*reply;
	grpc_status_code	 status;
	grpc_slice		 details;
	int			 attempt;
	int64_t			 started_us;	/* monotonic */
	int64_t			 budget_end;	/* monotonic ms */
	struct event		*timer;		/* backoff, or a deferred fail */
	struct gw_error		 fail;		/* set: report this, no call */
	bool			 cancelled;
	TAILQ_ENTRY(gw_call)	 entry;
};

static void	call_attempt(struct gw_call *);
static void	call_done(struct cq_tag *, bool);

int64_t
gw_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
gw_call_ended(struct gw *gw, const char *method, int code, int64_t us)
{
	const char	*slash = strrchr(method, '/');

	if (slash != NULL)
		method = slash + 1;
	metrics_gw_call(gw->metrics, method, code, us);
	log_trace("gateway %s: %s after %lld us", method, gw_code_name(code),
	    (long long)us);
}

/* Removes the call, reports once, and frees it. */
static void
call_finish(struct gw_call *c, const struct gw_error *err,
    grpc_byte_buffer *reply)
{
	struct gw	*gw = c->gw;

	TAILQ_REMOVE(&gw->calls, c, entry);
	/* Calls that never reached the wire are not the gateway's figures. */
	if (c->attempt > 0)
		gw_call_ended(gw, c->o.name, err ? err->grpc_code :
		    GRPC_STATUS_OK, gw_now_us() - c->started_us);
	if (err != NULL) {
		gw->nfailed++;
		log_debug("gateway %s failed: %s", c->o.name, err->message);
	}
	c->done(c->arg, err, reply);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->req != NULL)
		grpc_byte_buffer_destroy(c->req);
	gw_error_clear(&c->fail);
	free(c);
}

/* Reports a local error (or cancellation) without a gRPC call. */
static void
call_finish_local(struct gw_call *c)
{
	struct gw_error	 e;

	if (c->fail.message != NULL) {
		call_finish(c, &c->fail, NULL);
		return;
	}
	gw_error_make(&e, GRPC_STATUS_CANCELLED, RPC_ERR_CANCELLED,
	    "gateway call %s cancelled: the gateway client is shutting down",
	    c->o.name);
	call_finish(c, &e, NULL);
	gw_error_clear(&e);
}

/* Timer: the backoff is over, or a deferred failure is due. */
static void
call_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call	*c = arg;

	if (c->fail.message != NULL || c->gw->freeing)
		call_finish_local(c);
	else
		call_attempt(c);
}

static struct gw_call *
call_new(struct gw *gw, const struct gw_call_opts *o, gw_call_done *done,
    void *arg)
{
	struct gw_call	*c = xcalloc(1, sizeof *c);
	int64_t		 t = o->timeout_ms > 0 ? o->timeout_ms :
			    gw->call_timeout_ms;

	c->tag.done = call_done;
	c->gw = gw;
	c->o = *o;
	c->o.timeout_ms = t;
	c->done = done;
	c->arg = arg;
	c->budget_end = gw_now_ms() + (o->idempotent ? GW_RETRY_BUDGET * t : t);
	c->started_us = gw_now_us();
	c->timer = evtimer_new(gw->base, call_timer, c);
	TAILQ_INSERT_TAIL(&gw->calls, c, entry);
	gw->ncalls++;
	return c;
}

/* Runs the timer after `ms` (0: on the loop's next pass). */
static void
call_later(struct gw_call *c, int64_t ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

void
gw_call_fail(struct gw *gw, const struct gw_call_opts *o, enum rpc_err rpc,
    const char *msg, gw_call_done *done, void *arg)
{
	struct gw_call	*c = call_new(gw, o, done, arg);

	gw_error_make(&c->fail, GRPC_STATUS_INVALID_ARGUMENT, rpc, "%s", msg);
	call_later(c, 0);
}

void
gw_call_start(struct gw *gw, const struct gw_call_opts *o,
    grpc_byte_buffer *req, gw_call_done *done, void *arg)
{
	struct gw_call	*c = call_new(gw, o, done, arg);

	c->req = req;
	if (gw->freeing || gw->br == NULL)
		call_later(c, 0);
	else
		call_attempt(c);
}

/* One attempt: the whole unary exchange as one batch. */
static void
call_attempt(struct gw_call *c)
{
	struct gw	*gw = c->gw;
	grpc_op		 ops[6];
	grpc_call_error	 rc;
	int64_t		 t = c->budget_end - gw_now_ms();
	gpr_timespec	 deadline;

	if (t > c->o.timeout_ms)
		t = c->o.timeout_ms;
	if (t < 1)
		t = 1;
	/* gRPC would queue it until the connection attempt gives up. */
	if (gw_down(gw)) {
		gw_error_down(gw, &c->fail, c->o.name);
		call_later(c, 0);
		return;
	}
	c->attempt++;
	c->chan = gw_channel_pick(gw);
	deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_millis(t, GPR_TIMESPAN));
	c->call = grpc_channel_create_call(c->chan->ch, NULL,
	    GRPC_PROPAGATE_DEFAULTS, cq_bridge_queue(gw->br),
	    grpc_slice_from_static_string(c->o.method), NULL, deadline, NULL);
	grpc_metadata_array_init(&c->imd);
	grpc_metadata_array_init(&c->tmd);
	c->reply = NULL;
	c->status = GRPC_STATUS_UNKNOWN;
	c->details = grpc_empty_slice();

	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = gw->nmd;
	ops[0].data.send_initial_metadata.metadata = gw->md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	/* gRPC moves the bytes out of what it sends: send a copy. */
	c->sent = grpc_byte_buffer_copy(c->req);
	ops[1].data.send_message.send_message = c->sent;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &c->reply;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.status = &c->status;
	ops[5].data.recv_status_on_client.status_details = &c->details;
	ops[5].data.recv_status_on_client.trailing_metadata = &c->tmd;
	if ((rc = grpc_call_start_batch(c->call, ops, 6, &c->tag, NULL)) !=
	    GRPC_CALL_OK) {
		log_warnx("gateway %s: cannot start call (%d)", c->o.name, rc);
		grpc_call_unref(c->call);
		c->call = NULL;
		grpc_byte_buffer_destroy(c->sent);
		c->sent = NULL;
		grpc_metadata_array_destroy(&c->imd);
		grpc_metadata_array_destroy(&c->tmd);
		gw_error_make(&c->fail, GRPC_STATUS_INTERNAL, RPC_ERR_INTERNAL,
		    "gateway %s: cannot start the call (grpc error %d)",
		    c->o.name, rc);
		call_later(c, 0);
		return;
	}
	c->chan->inflight++;
	c->chan->calls++;
}

/* Frees one attempt's gRPC state (the reply is the caller's to drop). */
static void
call_attempt_clear(struct gw_call *c)
{
	grpc_call_unref(c->call);
	c->call = NULL;
	c->chan->inflight--;
	grpc_byte_buffer_destroy(c->sent);
	c->sent = NULL;
	grpc_metadata_array_destroy(&c->imd);
	grpc_metadata_array_destroy(&c->tmd);
	grpc_slice_unref(c->details);
}

/* Whether this failure gets another attempt, and after how long. */
static bool
call_should_retry(struct gw_call *c, int64_t *delay)
{
	int64_t	 left;

	if (!c->o.idempotent || c->gw->freeing || c->cancelled ||
	    !gw_code_retryable(c->status) || c->attempt >= GW_RETRY_ATTEMPTS)
		return false;
	*delay = gw_backoff_ms(c->attempt, arc4random());
	left = c->budget_end - gw_now_ms() - *delay;
	return left >= GW_RETRY_MIN_LEFT_MS;
}

/* The batch is done: report, or back off and try again. */
static void
call_done(struct cq_tag *tag, bool ok)
{
	struct gw_call	*c = (struct gw_call *)((char *)tag -
			    offsetof(struct gw_call, tag));
	struct gw	*gw = c->gw;
	struct gw_error	 e;
	grpc_byte_buffer *reply = c->reply;
	char		*details;
	int64_t		 delay;

	if (!ok)	/* never for a client batch; treat as lost */
		c->status = gw->freeing ? GRPC_STATUS_CANCELLED :
		    GRPC_STATUS_UNKNOWN;
	details = pbuf_slice_strdup(c->details);
	call_attempt_clear(c);
	if (c->status == GRPC_STATUS_OK) {
		free(details);
		call_finish(c, NULL, reply);
		if (reply != NULL)
			grpc_byte_buffer_destroy(reply);
		return;
	}
	if (reply != NULL)
		grpc_byte_buffer_destroy(reply);
	/*
	 * Every lost attempt tells whether the gateway is down (then a retry
	 * fails at once); a long Exec running out is its command's business.
	 */
	if (!gw->freeing && !c->cancelled &&
	    c->o.timeout_ms <= gw->call_timeout_ms)
		gw_note_failure(gw, c->status, details);
	if (call_should_retry(c, &delay)) {
		log_debug("gateway %s: %s (%s), retry %d in %lld ms",
		    c->o.name, gw_code_name(c->status), details, c->attempt,
		    (long long)delay);
		free(details);
		gw->nretries++;
		call_later(c, delay);
		return;
	}
	if (c->status == GRPC_STATUS_DEADLINE_EXCEEDED)
		gw_error_make(&e, c->status, RPC_ERR_DEADLINE_EXCEEDED,
		    "gateway did not answer %s within %lld ms (%s, %d attempt%s)",
		    c->o.name, (long long)c->o.timeout_ms, gw->target,
		    c->attempt, c->attempt == 1 ? "" : "s");
	else if (c->status == GRPC_STATUS_CANCELLED && gw->freeing)
		gw_error_make(&e, c->status, RPC_ERR_CANCELLED,
		    "gateway call %s cancelled: the gateway client is "
		    "shutting down", c->o.name);
	else
		gw_error_from_status(&e, c->status, details, gw->target);
	free(details);
	call_finish(c, &e, NULL);
	gw_error_clear(&e);
}

/*
 * Cancels what is on the wire (its completion reports it later) and
 * reports at once what waits on a timer; loops because a callback may
 * start another call.
 */
void
gw_calls_abort(struct gw *gw)
{
	struct gw_call	*c;

again:
	TAILQ_FOREACH(c, &gw->calls, entry) {
		if (c->call != NULL) {
			if (!c->cancelled)
				grpc_call_cancel(c->call, NULL);
			c->cancelled = true;
			continue;
		}
		evtimer_del(c->timer);
		call_finish_local(c);
		goto again;
	}
}
