/* Live execs: upstream StreamExec, output ring, subscribers, pacing. */

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "daemon.h"
#include "exec-session.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "rpc-server.h"
#include "xmalloc.h"

#define EXEC_RING_MIN		(256u << 10)
#define EXEC_GC_S		30
#define EXEC_WRITE_POLL_US	2000

struct exec_sub {
	struct exec_session	*x;
	struct rpc_client	*c;
	uint64_t		 cursor;	/* next offset to send */
	LIST_ENTRY(exec_sub)	 entry;
};

struct exec_write {
	struct rpc_req		*req;
	size_t			 bytes;
	TAILQ_ENTRY(exec_write)	 entry;
};

struct exec_table {
	struct daemon		*d;
	TAILQ_HEAD(, exec_session) all;		/* in start order */
	struct event		*gc;
};

static unsigned char	chunk[STREAM_CHUNK];

static void	exec_gc_arm(struct exec_table *);
static void	writes_check(evutil_socket_t, short, void *);

/* Forgets finished execs nobody watches, past their time or the cap. */
static void
exec_gc(evutil_socket_t fd, short what, void *arg)
{
	struct exec_table	*t = arg;
	struct exec_session	*x, *next;
	unsigned		 finished = 0;
	int64_t			 now = now_mono_ms();

	TAILQ_FOREACH(x, &t->all, entry)
		finished += x->state != EXEC_RUNNING;
	for (x = TAILQ_FIRST(&t->all); x != NULL; x = next) {
		next = TAILQ_NEXT(x, entry);
		if (x->state == EXEC_RUNNING || x->nsubs > 0)
			continue;
		if (finished <= EXEC_KEEP_FINISHED_MAX &&
		    now - x->ended_mono < EXEC_KEEP_FINISHED_MS)
			continue;
		TAILQ_REMOVE(&t->all, x, entry);
		finished--;
		ring_free(x->ring);
		json_decref(x->argv);
		json_decref(x->error);
		free(x->cancel_why);
		free(x->lease_id);
		event_free(x->write_timer);
		free(x);
	}
	exec_gc_arm(t);
}

/* Runs the collector while finished execs exist. */
static void
exec_gc_arm(struct exec_table *t)
{
	struct exec_session	*x;
	struct timeval		 tv = { EXEC_GC_S, 0 };

	TAILQ_FOREACH(x, &t->all, entry) {
		if (x->state != EXEC_RUNNING) {
			if (!evtimer_pending(t->gc, NULL))
				evtimer_add(t->gc, &tv);
			return;
		}
	}
}

/* Soon, not now: callers may still hold the exec. */
static void
exec_gc_soon(struct exec_table *t)
{
	struct timeval	 tv = { 0, 0 };

	evtimer_add(t->gc, &tv);
}

static struct exec_table *
exec_table_get(struct daemon *d)
{
	struct exec_table	*t;

	if (d->execs != NULL)
		return d->execs;
	t = xcalloc(1, sizeof *t);
	t->d = d;
	TAILQ_INIT(&t->all);
	t->gc = evtimer_new(d->base, exec_gc, t);
	d->execs = t;
	return t;
}

void
exec_table_free(struct exec_table *t)
{
	struct exec_session	*x;

	if (t == NULL)
		return;
	TAILQ_FOREACH(x, &t->all, entry) {
		if (x->state == EXEC_RUNNING || x->nsubs > 0) {
			log_warnx("exec %s still in use at exit: kept", x->id);
			return;		/* freed after the gateway and server */
		}
		x->ended_mono = INT64_MIN / 2;
	}
	exec_gc(-1, 0, t);
	event_free(t->gc);
	t->d->execs = NULL;
	free(t);
}

struct exec_session *
exec_session_find(struct daemon *d, const char *id)
{
	struct exec_session	*x;

	if (d->execs == NULL)
		return NULL;
	TAILQ_FOREACH(x, &d->execs->all, entry)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

struct exec_session *
exec_session_first(struct daemon *d)
{
	return d->execs != NULL ? TAILQ_FIRST(&d->execs->all) : NULL;
}

struct exec_session *
exec_session_next(struct exec_session *x)
{
	return TAILQ_NEXT(x, entry);
}

const char *
exec_state_name(enum exec_state s)
{
	switch (s) {
	case EXEC_RUNNING:
		return "running";
	case EXEC_EXITED:
		return "exited";
	case EXEC_FAILED:
		return "failed";
	case EXEC_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* --- subscribers ---------------------------------------------------- */

static void	sub_closed(void *, struct rpc_client *);
static void	sub_drained(void *, struct rpc_client *);

/* An ended exec nobody can attach to for output keeps its record only. */
static void
exec_shrink(struct exec_session *x)
{
	uint64_t	 end;

	if (x->state == EXEC_RUNNING || x->detached || x->nsubs > 0 ||
	    ring_start(x->ring) == ring_end(x->ring))
		return;
	end = ring_end(x->ring);
	ring_free(x->ring);
	x->ring = ring_new(0);
	ring_set_start(x->ring, end);
}

static void
sub_free(struct exec_sub *s)
{
	struct exec_session	*x = s->x;

	LIST_REMOVE(s, entry);
	x->nsubs--;
	rpc_client_on_close_cancel(s->c, sub_closed, s);
	rpc_client_on_drain_cancel(s->c, sub_drained, s);
	rpc_client_stream_closed(s->c);
	rpc_client_unref(s->c);
	free(s);
	exec_shrink(x);
	if (x->nsubs == 0 && x->state != EXEC_RUNNING)
		exec_gc_soon(x->t);
}

/* The subscriber's connection went away: a plain exec goes with it. */
static void
sub_closed(void *arg, struct rpc_client *c)
{
	struct exec_sub		*s = arg;
	struct exec_session	*x = s->x;

	sub_free(s);
	if (x->nsubs == 0 && !x->detached && x->state == EXEC_RUNNING)
		exec_session_cancel(x, "its client went away");
	else
		exec_session_pump(x);	/* may resume the upstream */
}

static void
sub_drained(void *arg, struct rpc_client *c)
{
	struct exec_sub	*s = arg;

	exec_session_pump(s->x);
}

static struct exec_sub *
sub_new(struct exec_session *x, struct rpc_client *c, uint64_t from)
{
	struct exec_sub	*s = xcalloc(1, sizeof *s);

	s->x = x;
	s->c = c;
	s->cursor = from;
	rpc_client_ref(c);
	rpc_client_stream_opened(c);	/* max_streams */
	rpc_client_on_close(c, sub_closed, s);
	LIST_INSERT_HEAD(&x->subs, s, entry);
	x->nsubs++;
	return s;
}

static struct exec_sub *
sub_find(struct exec_session *x, struct rpc_client *c)
{
	struct exec_sub	*s;

	LIST_FOREACH(s, &x->subs, entry)
		if (s->c == c)
			return s;
	return NULL;
}

static void
notify(struct rpc_client *c, const char *method, json_t *params)
{
	rpc_client_send(c, rpc_notification_new(method, params));
}

static void
sub_send_exit(struct exec_sub *s)
{
	struct exec_session	*x = s->x;
	json_t			*p;

	p = json_pack("{s:s, s:I}", "exec", x->id, "output_bytes",
	    (json_int_t)ring_end(x->ring));
	if (x->state == EXEC_EXITED)
		json_object_set_new(p, "exit_code",
		    json_integer(x->exit_code));
	else
		json_object_set(p, "error", x->error);
	notify(s->c, "exec.exit", p);
}

/* One exec.output of `n` bytes at `off`, straight to the connection. */
static void
sub_send_output(struct exec_sub *s, int tag, const unsigned char *data,
    size_t n, uint64_t off)
{
	struct stream_data	 sd = { "exec.output", "exec", s->x->id,
	    tag == 2 ? "stderr" : "stdout", NULL, 0, off, 0 };
	char			*b64, *line;
	size_t			 len;

	sd.b64 = b64 = b64_encode(data, n, &sd.b64len);
	line = stream_data_line(&sd, &len);
	free(b64);
	rpc_client_send_line(s->c, line, len);
}

/*
 * Sends what the subscriber's connection has room for, in notifications of
 * up to STREAM_CHUNK of one stream; then the exit once everything is out.
 * Returns false when the subscriber is gone.
 */
static bool
sub_pump(struct exec_sub *s)
{
	struct exec_session	*x = s->x;
	size_t			 n;
	int64_t			 ts;
	int			 tag;

	if (s->cursor < ring_start(x->ring))
		s->cursor = ring_start(x->ring);	/* never for live ones */
	while (s->cursor < ring_end(x->ring)) {
		if (stream_hold(s->c, x->state == EXEC_RUNNING, s->cursor,
		    ring_end(x->ring))) {
			rpc_client_on_drain(s->c, sub_drained, s);
			return true;
		}
		n = ring_read(x->ring, s->cursor, chunk, sizeof chunk, &tag,
		    &ts);
		sub_send_output(s, tag, chunk, n, s->cursor);
		s->cursor += n;
	}
	if (x->state == EXEC_RUNNING)
		return true;
	sub_send_exit(s);
	sub_free(s);
	return false;
}

/* Keeps unsent bytes; pauses the upstream while they fill the ring. */
static void
exec_flow(struct exec_session *x)
{
	struct exec_sub	*s;
	uint64_t	 keep = ring_end(x->ring);
	bool		 pause;

	LIST_FOREACH(s, &x->subs, entry)
		if (s->cursor < keep)
			keep = s->cursor;
	ring_trim(x->ring, keep);
	pause = ring_over(x->ring);
	if (x->gx != NULL && pause != x->paused) {
		gw_exec_stream_pause(x->gx, pause);
		x->paused = pause;
	}
}

void
exec_session_pump(struct exec_session *x)
{
	struct exec_sub	*s, *next;

	for (s = LIST_FIRST(&x->subs); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		sub_pump(s);
	}
	exec_flow(x);
}

int
exec_session_attach(struct exec_session *x, struct rpc_client *c,
    uint64_t from, json_t **result)
{
	uint64_t	 start = ring_start(x->ring), end = ring_end(x->ring);
	uint64_t	 f = from, lost = 0;

	if (sub_find(x, c) != NULL)
		return -1;
	if (f < start) {
		lost = start - f;
		f = start;
	}
	if (f > end)
		f = end;
	sub_new(x, c, f);
	*result = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "exec", x->id,
	    "lease", x->lease_id, "state", exec_state_name(x->state),
	    "from", (json_int_t)f, "lost", (json_int_t)lost,
	    "end", (json_int_t)end);
	return 0;
}

void
exec_session_detach(struct exec_session *x, struct rpc_client *c)
{
	struct exec_sub	*s;

	x->detached = true;
	if ((s = sub_find(x, c)) != NULL)
		sub_free(s);
	exec_flow(x);
}

/* --- the upstream stream -------------------------------------------- */

static void
xs_ready(void *arg, const char *session_id)
{
	struct exec_session	*x = arg;
	struct exec_sub		*s;

	LIST_FOREACH(s, &x->subs, entry)
		notify(s->c, "exec.ready", json_pack("{s:s, s:s}", "exec",
		    x->id, "session_id", session_id));
}

static void
xs_output(void *arg, int stream, const unsigned char *data, size_t len)
{
	struct exec_session	*x = arg;

	metrics_bytes(x->d->metrics, stream == 2 ? "stderr" : "stdout", len);
	ring_add(x->ring, stream, 0, data, len);
	exec_session_pump(x);
}

static void	writes_fail(struct exec_session *);

static void
xs_done(void *arg, const struct gw_error *err, int exit_code)
{
	struct exec_session	*x = arg;
	char			*msg;

	x->gx = NULL;
	x->paused = false;
	x->stdin_open = false;
	x->ended_ms = now_wall_ms();
	x->ended_mono = now_mono_ms();
	if (err == NULL) {
		x->state = EXEC_EXITED;
		x->exit_code = exit_code;
	} else if (err->rpc == RPC_ERR_CANCELLED && x->cancel_why != NULL) {
		x->state = EXEC_CANCELLED;
		msg = xasprintf("exec cancelled: %s", x->cancel_why);
		x->error = stream_error_json(RPC_ERR_CANCELLED, msg);
		free(msg);
	} else {
		x->state = err->rpc == RPC_ERR_CANCELLED ? EXEC_CANCELLED :
		    EXEC_FAILED;
		x->error = stream_error_json(err->rpc, err->message);
	}
	log_debug("exec %s: %s", x->id, exec_state_name(x->state));
	writes_fail(x);
	exec_session_pump(x);
	exec_shrink(x);
	exec_gc_arm(x->t);
	daemon_check_idle(x->d);
}

static const struct gw_exec_stream_cbs xs_cbs = {
	.on_ready = xs_ready,
	.on_output = xs_output,
	.on_done = xs_done,
};

static unsigned
live_of_uid(struct exec_table *t, uid_t uid)
{
	struct exec_session	*x;
	unsigned		 n = 0;

	TAILQ_FOREACH(x, &t->all, entry)
		n += x->state == EXEC_RUNNING && x->owner_uid == uid;
	return n;
}

struct exec_session *
exec_session_start(struct daemon *d, const struct exec_start *q,
    struct rpc_client *c, const char **why)
{
	struct exec_table		*t = exec_table_get(d);
	struct exec_session		*x;
	struct gw_exec_stream_request	 sr = { 0 };
	size_t				 size = d->cfg.daemon.exec_ring;
	int				 i;

	if (live_of_uid(t, q->owner_uid) >= EXEC_MAX_LIVE_PER_UID) {
		*why = "too many running execs for this user";
		return NULL;
	}
	x = xcalloc(1, sizeof *x);
	do
		stream_make_id('x', x->id);
	while (exec_session_find(d, x->id) != NULL);
	x->d = d;
	x->t = t;
	x->lease_id = xstrdup(q->lease_id);
	x->owner_uid = q->owner_uid;
	x->argv = json_array();
	for (i = 0; i < q->argc; i++)
		json_array_append_new(x->argv, json_string(q->argv[i]));
	x->tty = q->tty;
	x->detached = q->detach;
	x->stdin_open = q->want_stdin;
	x->state = EXEC_RUNNING;
	x->started_ms = now_wall_ms();
	x->ring = ring_new(size > EXEC_RING_MIN ? size : EXEC_RING_MIN);
	LIST_INIT(&x->subs);
	TAILQ_INIT(&x->writes);
	x->write_timer = evtimer_new(d->base, writes_check, x);
	TAILQ_INSERT_TAIL(&t->all, x, entry);
	if (!q->detach)
		sub_new(x, c, 0);

	sr.sandbox_id = q->sandbox_id;
	sr.argv = q->argv;
	sr.argc = q->argc;
	sr.env = q->env;
	sr.nenv = q->nenv;
	sr.tty = q->tty;
	sr.tty_width = q->width;
	sr.tty_height = q->height;
	sr.timeout_ms = q->timeout_ms;
	x->gx = gw_exec_stream_start(d->gw, &sr, &xs_cbs, x);
	if (!q->want_stdin)
		gw_exec_stream_close_stdin(x->gx);
	log_debug("exec %s: started on lease %s%s", x->id, x->lease_id,
	    x->detached ? " (detached)" : "");
	return x;
}

void
exec_session_cancel(struct exec_session *x, const char *why)
{
	if (x->gx == NULL)
		return;
	if (x->cancel_why == NULL)
		x->cancel_why = xstrdup(why);
	log_debug("exec %s: cancelled: %s", x->id, why);
	gw_exec_stream_cancel(x->gx);
}

void
exec_sessions_lease_gone(struct daemon *d, const char *lease_id)
{
	struct exec_session	*x;
	char			*why;

	if (d->execs == NULL)
		return;
	why = xasprintf("lease %s is gone", lease_id);
	TAILQ_FOREACH(x, &d->execs->all, entry)
		if (x->state == EXEC_RUNNING &&
		    strcmp(x->lease_id, lease_id) == 0)
			exec_session_cancel(x, why);
	free(why);
}

/* --- stdin ------------------------------------------------------------ */

static void
writes_answer(struct exec_session *x)
{
	struct exec_write	*w;

	while ((w = TAILQ_FIRST(&x->writes)) != NULL) {
		TAILQ_REMOVE(&x->writes, w, entry);
		rpc_reply(w->req, json_pack("{s:s, s:I}", "exec", x->id,
		    "bytes", (json_int_t)w->bytes));
		free(w);
	}
}

static void
writes_fail(struct exec_session *x)
{
	struct exec_write	*w;

	evtimer_del(x->write_timer);
	while ((w = TAILQ_FIRST(&x->writes)) != NULL) {
		TAILQ_REMOVE(&x->writes, w, entry);
		rpc_fail(w->req, RPC_ERR_INVALID_STATE, NULL,
		    "exec %s ended before its stdin was sent", x->id);
		free(w);
	}
}

/* Polls the upstream send queue while writes wait for room. */
static void
writes_check(evutil_socket_t fd, short what, void *arg)
{
	struct exec_session	*x = arg;
	struct timeval		 tv = { 0, EXEC_WRITE_POLL_US };

	if (x->gx == NULL)
		return writes_fail(x);
	if (gw_exec_stream_pending(x->gx) < EXEC_STDIN_LOW)
		return writes_answer(x);
	evtimer_add(x->write_timer, &tv);
}

void
exec_session_write(struct exec_session *x, struct rpc_req *req,
    const unsigned char *data, size_t len)
{
	struct exec_write	*w = xcalloc(1, sizeof *w);

	w->req = req;
	w->bytes = len;
	TAILQ_INSERT_TAIL(&x->writes, w, entry);
	if (len > 0) {
		metrics_bytes(x->d->metrics, "stdin", len);
		gw_exec_stream_write(x->gx, data, len);
	}
	writes_check(-1, 0, x);
}

void
exec_session_close_stdin(struct exec_session *x)
{
	if (x->gx != NULL && x->stdin_open)
		gw_exec_stream_close_stdin(x->gx);
	x->stdin_open = false;
}

json_t *
exec_session_json(const struct exec_session *x)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:I, s:O, s:b, s:b, s:s, s:f, s:I, s:I, "
	    "s:i}", "exec", x->id, "lease", x->lease_id,
	    "owner_uid", (json_int_t)x->owner_uid, "argv", x->argv,
	    "tty", x->tty, "detached", x->detached,
	    "state", exec_state_name(x->state),
	    "started_at", x->started_ms / 1000.0,
	    "output_bytes", (json_int_t)ring_end(x->ring),
	    "retained_from", (json_int_t)ring_start(x->ring),
	    "subscribers", (int)x->nsubs);
	if (x->state == EXEC_EXITED)
		json_object_set_new(o, "exit_code", json_integer(x->exit_code));
	if (x->error != NULL)
		json_object_set(o, "error", x->error);
	if (x->state != EXEC_RUNNING)
		json_object_set_new(o, "ended_at",
		    json_real(x->ended_ms / 1000.0));
	return o;
}
