/* Log tails: shared upstream StreamLogs, replay window, resume, pacing. */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "daemon.h"
#include "exec-session.h"
#include "gw.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "tail.h"
#include "xmalloc.h"

#define TAIL_BACKOFF_MS		100
#define TAIL_BACKOFF_CAP_MS	2000

struct tail_group;

struct tail {
	char			 id[11];
	uid_t			 owner_uid;
	char			*lease_id;
	struct tail_group	*g;
	struct rpc_client	*c;
	uint64_t		 cursor;
	bool			 cursor_set;	/* else: from the first byte */
	bool			 timestamps;
	LIST_ENTRY(tail)	 gentry;
	TAILQ_ENTRY(tail)	 entry;
};

struct tail_group {
	struct tail_table	*t;
	char			*sandbox_id;
	bool			 shared;	/* follow tails join it */
	bool			 listed;	/* findable by sandbox */
	struct tail_start	 first;		/* how it opened */

	struct gw_log_stream	*ls;		/* NULL between attempts */
	char			*session;
	uint64_t		 next_off;
	bool			 have_off;
	struct ring		*win;
	bool			 paused;
	bool			 ended;
	json_t			*error;		/* NULL: complete */
	int			 failures;	/* in a row */
	struct event		*retry_ev;

	LIST_HEAD(, tail)	 readers;
	unsigned		 nreaders;
	LIST_ENTRY(tail_group)	 entry;

	/* The last data_b64 made: readers at one place share it. */
	uint64_t		 enc_off;
	size_t			 enc_len, enc_b64len;
	char			*enc;
};

struct tail_table {
	struct daemon		*d;
	LIST_HEAD(, tail_group)	 groups;		/* listed ones */
	TAILQ_HEAD(, tail)	 tails;
};

static unsigned char	chunk[STREAM_CHUNK];

static void	group_open(struct tail_group *);
static void	group_flow(struct tail_group *);
static void	group_pump(struct tail_group *);

static struct tail_table *
tail_table_get(struct daemon *d)
{
	struct tail_table	*t;

	if (d->tails != NULL)
		return d->tails;
	t = xcalloc(1, sizeof *t);
	t->d = d;
	LIST_INIT(&t->groups);
	TAILQ_INIT(&t->tails);
	d->tails = t;
	return t;
}

static void
group_unlist(struct tail_group *g)
{
	if (g->listed)
		LIST_REMOVE(g, entry);
	g->listed = false;
}

static void
group_free(struct tail_group *g)
{
	group_unlist(g);
	if (g->retry_ev != NULL)
		event_free(g->retry_ev);
	ring_free(g->win);
	free(g->enc);
	json_decref(g->error);
	free(g->session);
	free(g->sandbox_id);
	free(g);
}

/* No readers left: stop the upstream; the group goes once it is down. */
static void
group_release(struct tail_group *g)
{
	if (g->nreaders > 0)
		return;
	group_unlist(g);
	if (g->ls != NULL)
		gw_log_stream_cancel(g->ls);	/* on_done frees */
	else
		group_free(g);
}

/* --- readers ---------------------------------------------------------- */

static void	reader_closed(void *, struct rpc_client *);
static void	reader_drained(void *, struct rpc_client *);

/* Unhooks and frees a reader; the group may follow. */
static void
reader_free(struct tail *r)
{
	struct tail_group	*g = r->g;

	LIST_REMOVE(r, gentry);
	g->nreaders--;
	TAILQ_REMOVE(&g->t->tails, r, entry);
	rpc_client_on_close_cancel(r->c, reader_closed, r);
	rpc_client_on_drain_cancel(r->c, reader_drained, r);
	rpc_client_stream_closed(r->c);
	rpc_client_unref(r->c);
	free(r->lease_id);
	free(r);
	if (g->nreaders == 0)
		group_release(g);
	else
		group_flow(g);
}

static void
reader_end(struct tail *r, const char *reason, json_t *error)
{
	json_t	*p = json_pack("{s:s, s:s}", "tail", r->id, "reason", reason);

	if (error != NULL)
		json_object_set(p, "error", error);
	rpc_client_send(r->c, rpc_notification_new("tail.end", p));
	reader_free(r);
}

static void
reader_closed(void *arg, struct rpc_client *c)
{
	reader_free(arg);
}

static void
reader_drained(void *arg, struct rpc_client *c)
{
	struct tail	*r = arg;

	group_pump(r->g);
}

static void
group_forget_encoding(struct tail_group *g)
{
	free(g->enc);
	g->enc = NULL;
}

/*
 * The base64 of `n` bytes at `off`, encoded once for all the readers that
 * ask for the same bytes in turn (the usual case: followers that keep
 * up).  The group keeps it; *b64len is its length.
 */
static const char *
group_encode(struct tail_group *g, uint64_t off, const unsigned char *data,
    size_t n, size_t *b64len)
{
	if (g->enc == NULL || g->enc_off != off || g->enc_len != n) {
		free(g->enc);
		g->enc = b64_encode(data, n, &g->enc_b64len);
		g->enc_off = off;
		g->enc_len = n;
	}
	*b64len = g->enc_b64len;
	return g->enc;
}

/*
 * One tail.data from the cursor: a reader that wants times gets one
 * upstream frame (one timestamp) per notification, others whole runs.
 */
static void
reader_send(struct tail *r)
{
	struct tail_group	*g = r->g;
	struct stream_data	 sd = { "tail.data", "tail", r->id, NULL, NULL,
	    0, r->cursor, 0 };
	size_t			 n, len;
	int64_t			 ts = 0;
	int			 tag;
	char			*line;

	if (r->timestamps)
		n = ring_read(g->win, r->cursor, chunk, sizeof chunk, &tag,
		    &ts);
	else
		n = ring_read_tag(g->win, r->cursor, chunk, sizeof chunk,
		    &tag);
	sd.b64 = group_encode(g, r->cursor, chunk, n, &sd.b64len);
	if (r->timestamps)
		sd.time_ms = ts;
	line = stream_data_line(&sd, &len);
	rpc_client_send_line(r->c, line, len);
	metrics_bytes(g->t->d->metrics, "tail", n);
	r->cursor += n;
}

/* Sends what fits; the end once the group ended and all is out. */
static bool
reader_pump(struct tail *r)
{
	struct tail_group	*g = r->g;

	if (!r->cursor_set) {
		if (!g->have_off)
			goto check_end;
		r->cursor = ring_start(g->win);
		r->cursor_set = true;
	}
	if (r->cursor < ring_start(g->win))
		r->cursor = ring_start(g->win);	/* only after a gap */
	while (r->cursor < ring_end(g->win)) {
		if (stream_hold(r->c, !g->ended, r->cursor,
		    ring_end(g->win))) {
			rpc_client_on_drain(r->c, reader_drained, r);
			return true;
		}
		reader_send(r);
	}
check_end:
	if (!g->ended)
		return true;
	reader_end(r, g->error != NULL ? "error" : "complete", g->error);
	return false;
}

void
tail_pump(struct tail *r)
{
	group_pump(r->g);
}

/* Pumps every reader, then trims the window and paces the upstream. */
static void
group_pump(struct tail_group *g)
{
	struct tail	*r, *next;

	g->nreaders++;		/* the last reader ending must not free g */
	for (r = LIST_FIRST(&g->readers); r != NULL; r = next) {
		next = LIST_NEXT(r, gentry);
		reader_pump(r);
	}
	g->nreaders--;
	if (g->nreaders == 0)
		group_release(g);
	else
		group_flow(g);
}

static void
group_flow(struct tail_group *g)
{
	struct tail	*r;
	uint64_t	 keep = ring_end(g->win);
	bool		 pause;

	LIST_FOREACH(r, &g->readers, gentry) {
		if (!r->cursor_set)
			keep = ring_start(g->win);
		else if (r->cursor < keep)
			keep = r->cursor;
	}
	ring_trim(g->win, keep);
	pause = ring_over(g->win);
	if (g->ls != NULL && pause != g->paused) {
		gw_log_stream_pause(g->ls, pause);
		g->paused = pause;
	}
}

/* --- the upstream ----------------------------------------------------- */

static void
ls_data(void *arg, const char *session, uint64_t off, int64_t ts,
    const unsigned char *data, size_t len)
{
	struct tail_group	*g = arg;

	if (g->session == NULL || strcmp(g->session, session) != 0) {
		free(g->session);
		g->session = xstrdup(session);
		group_forget_encoding(g);	/* offsets of another log */
	}
	if (!g->have_off) {
		ring_set_start(g->win, off);
		g->next_off = off;
		g->have_off = true;
	}
	if (off + len <= g->next_off)
		return;		/* seen before the resume */
	if (off < g->next_off) {
		data += g->next_off - off;
		len -= g->next_off - off;
		off = g->next_off;
	} else if (off > g->next_off) {
		log_warnx("tail of %s: log bytes %llu..%llu never came",
		    g->sandbox_id, (unsigned long long)g->next_off,
		    (unsigned long long)off);
		ring_free(g->win);
		g->win = ring_new(TAIL_WINDOW);
		ring_set_start(g->win, off);
		group_forget_encoding(g);
	}
	ring_add(g->win, 0, ts, data, len);
	g->next_off = off + len;
	g->failures = 0;
	group_pump(g);
}

static void
group_retry(evutil_socket_t fd, short what, void *arg)
{
	group_open(arg);
}

static void
ls_done(void *arg, const struct gw_error *err)
{
	struct tail_group	*g = arg;
	struct timeval		 tv;
	int64_t			 ms;

	g->ls = NULL;
	g->paused = false;
	if (g->nreaders == 0) {
		group_free(g);
		return;
	}
	if (err != NULL && gw_log_error_resumable(err) &&
	    g->failures < TAIL_RESUME_TRIES) {
		ms = TAIL_BACKOFF_MS << (g->failures < 5 ? g->failures : 5);
		if (ms > TAIL_BACKOFF_CAP_MS)
			ms = TAIL_BACKOFF_CAP_MS;
		g->failures++;
		log_debug("tail of %s: upstream broke (%s), resuming at %llu",
		    g->sandbox_id, err->message,
		    (unsigned long long)g->next_off);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		if (g->retry_ev == NULL)
			g->retry_ev = evtimer_new(g->t->d->base, group_retry,
			    g);
		evtimer_add(g->retry_ev, &tv);
		return;
	}
	g->ended = true;
	group_unlist(g);
	if (err != NULL)
		g->error = stream_error_json(err->rpc, err->message);
	group_pump(g);
}

static const struct gw_log_stream_cbs ls_cbs = {
	.on_data = ls_data,
	.on_done = ls_done,
};

/* Opens (or resumes) the upstream read. */
static void
group_open(struct tail_group *g)
{
	struct gw_log_stream_request	 q = { 0 };

	q.sandbox_id = g->sandbox_id;
	q.follow = g->first.follow;
	q.timestamps = true;		/* the window needs them for since */
	if (g->session != NULL) {
		q.resume_session_id = g->session;
		q.resume_offset = g->next_off;
	} else {
		q.tail_lines = g->first.lines > 0 ?
		    (int32_t)(g->first.lines > INT32_MAX ? INT32_MAX :
		    g->first.lines) : 0;
		q.since_ms = g->first.since_ms;
		if (g->first.lines == 0)	/* no history: from the end */
			q.resume_offset = UINT64_MAX;
	}
	g->ls = gw_log_stream_start(g->t->d->gw, &q, &ls_cbs, g);
	group_flow(g);
}

static struct tail_group *
group_new(struct tail_table *t, const struct tail_start *q)
{
	struct tail_group	*g = xcalloc(1, sizeof *g);

	g->t = t;
	g->sandbox_id = xstrdup(q->sandbox_id);
	g->shared = q->follow;
	g->first = *q;
	g->first.lease_id = g->first.sandbox_id = NULL;
	g->win = ring_new(TAIL_WINDOW);
	LIST_INIT(&g->readers);
	if (g->shared) {
		LIST_INSERT_HEAD(&t->groups, g, entry);
		g->listed = true;
	}
	return g;
}

static struct tail_group *
group_find(struct tail_table *t, const char *sandbox_id)
{
	struct tail_group	*g;

	LIST_FOREACH(g, &t->groups, entry)
		if (strcmp(g->sandbox_id, sandbox_id) == 0)
			return g;
	return NULL;
}

static unsigned
tails_of_uid(struct tail_table *t, uid_t uid)
{
	struct tail	*r;
	unsigned	 n = 0;

	TAILQ_FOREACH(r, &t->tails, entry)
		n += r->owner_uid == uid;
	return n;
}

unsigned
tail_count(struct daemon *d)
{
	struct tail	*r;
	unsigned	 n = 0;

	if (d->tails != NULL)
		TAILQ_FOREACH(r, &d->tails->tails, entry)
			n++;
	return n;
}

/* Where a joiner starts in the window: its lines or since, else all. */
static void
reader_place(struct tail *r, const struct tail_start *q)
{
	struct tail_group	*g = r->g;
	uint64_t		 off = ring_start(g->win);

	if (!g->have_off)
		return;		/* from the first byte, like the opener */
	if (q->lines >= 0)
		off = ring_tail_lines(g->win, (uint64_t)q->lines);
	if (q->since_ms > 0 && ring_since(g->win, q->since_ms) > off)
		off = ring_since(g->win, q->since_ms);
	r->cursor = off;
	r->cursor_set = true;
}

struct tail *
tail_start(struct daemon *d, const struct tail_start *q,
    struct rpc_client *c, const char **why)
{
	struct tail_table	*t = tail_table_get(d);
	struct tail_group	*g = NULL;
	struct tail		*r;
	bool			 fresh = false;

	if (tails_of_uid(t, q->owner_uid) >= TAIL_MAX_PER_UID) {
		*why = "too many tails for this user";
		return NULL;
	}
	if (q->follow)
		g = group_find(t, q->sandbox_id);
	if (g == NULL) {
		g = group_new(t, q);
		fresh = true;
	}
	r = xcalloc(1, sizeof *r);
	do
		stream_make_id('t', r->id);
	while (tail_find(d, r->id) != NULL);
	r->owner_uid = q->owner_uid;
	r->lease_id = xstrdup(q->lease_id);
	r->g = g;
	r->c = c;
	r->timestamps = q->timestamps;
	rpc_client_ref(c);
	rpc_client_stream_opened(c);	/* max_streams */
	rpc_client_on_close(c, reader_closed, r);
	if (!fresh)
		reader_place(r, q);
	LIST_INSERT_HEAD(&g->readers, r, gentry);
	g->nreaders++;
	TAILQ_INSERT_TAIL(&t->tails, r, entry);
	if (fresh)
		group_open(g);
	log_debug("tail %s: %s of %s", r->id, fresh ? "opened" : "joined",
	    g->sandbox_id);
	return r;
}

struct tail *
tail_find(struct daemon *d, const char *id)
{
	struct tail	*r;

	if (d->tails == NULL)
		return NULL;
	TAILQ_FOREACH(r, &d->tails->tails, entry)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

const char *
tail_id(const struct tail *r)
{
	return r->id;
}

uid_t
tail_owner(const struct tail *r)
{
	return r->owner_uid;
}

bool
tail_shared(const struct tail *r)
{
	return r->g->shared;
}

void
tail_stop(struct tail *r)
{
	reader_end(r, "stopped", NULL);
}

void
tail_lease_gone(struct daemon *d, const char *lease_id)
{
	struct tail	*r, *next;

	if (d->tails == NULL)
		return;
	for (r = TAILQ_FIRST(&d->tails->tails); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (strcmp(r->lease_id, lease_id) == 0)
			reader_end(r, "lease_gone", NULL);
	}
}

void
tail_table_free(struct tail_table *t)
{
	if (t == NULL)
		return;
	if (!TAILQ_EMPTY(&t->tails) || !LIST_EMPTY(&t->groups)) {
		log_warnx("tails still open at exit: kept");
		return;
	}
	t->d->tails = NULL;
	free(t);
}
