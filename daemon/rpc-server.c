/*
 * One connection on the control socket: line framing (a line past
 * max_line is answered and skipped), idle_timeout, line_timeout and
 * write_timeout, output backpressure with high and low watermarks, close
 * and drain hooks, and the client API the rest of the daemon uses.
 * rpc-listen.c accepts connections and hands them to client_new().
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "daemon.h"
#include "jsonrpc.h"
#include "linebuf.h"
#include "log.h"
#include "parse.h"
#include "rpc.h"
#include "rpc-server.h"
#include "rpc-server-internal.h"
#include "xmalloc.h"

/* Output queued beyond this stops reading from the client (XOFF). */
#define OUT_HIGH_WATER	(8u << 20)
#define OUT_LOW_WATER	RPC_CLIENT_LOW_WATER

/*
 * Sends a framing error that has no request behind it.  A line past the
 * limit says which key of sandboxd.conf(5) that is, and its value.
 */
static void
send_fail(struct rpc_client *c, enum rpc_err e, json_t *id, const char *msg)
{
	json_t	*data = NULL;

	if (e == RPC_ERR_TOO_LARGE)
		data = json_pack("{s:s, s:I}", "key", "max_line", "limit",
		    (json_int_t)c->srv->d->cfg.daemon.max_line);
	rpc_client_send(c, rpc_error_new(id, e, data, "%s", msg));
}

/*
 * Past a time limit: says why in one last overloaded error, writes what
 * the socket takes now (no waiting on a peer that may never read), closes.
 */
static void
client_close_with(struct rpc_client *c, const char *why)
{
	struct evbuffer	*out;

	if (c->bev == NULL)
		return;
	send_fail(c, RPC_ERR_OVERLOADED, NULL, why);
	out = bufferevent_get_output(c->bev);
	evbuffer_unfreeze(out, 1);	/* a socket bufferevent freezes it */
	if (evbuffer_write(out, bufferevent_getfd(c->bev)) == -1)
		log_debug("client %llu: write: %s", (unsigned long long)c->id,
		    strerror(errno));
	log_info("client %llu (uid %u): %s", (unsigned long long)c->id,
	    (unsigned)c->peer.uid, why);
	client_close(c);
}

/*
 * Work in progress, or anything bound to it, keeps a connection busy.
 * Output waiting for the client does too; write_timeout closes a client
 * that leaves it waiting without reading.
 */
static bool
client_busy(const struct rpc_client *c)
{
	return c->inflight > 0 || c->streams > 0 || !LIST_EMPTY(&c->hooks) ||
	    rpc_client_queued(c) > 0;
}

/* (Re)starts the idle clock: from now, idle_timeout of nothing closes. */
static void
idle_arm(struct rpc_client *c)
{
	if (c->bev != NULL && c->srv->idle_tv != NULL)
		evtimer_add(c->idle_ev, c->srv->idle_tv);
}

/* Nothing read for idle_timeout: close unless the client has work here. */
static void
idle_fire(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client	*c = arg;
	char			 dur[32], why[128];

	if (client_busy(c)) {
		idle_arm(c);
		return;
	}
	snprintf(why, sizeof why, "closed: idle for idle_timeout (%s)",
	    format_duration(dur, sizeof dur, c->srv->d->cfg.daemon.idle_timeout));
	client_close_with(c, why);
}

/*
 * A line begun line_timeout ago is still not complete: a slow-loris
 * client (one byte a second) would otherwise hold its slot for ever.
 * While we are the ones not reading (output backpressure) it waits: the
 * output then moves, or write_timeout closes the connection.
 */
static void
line_fire(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client	*c = arg;
	char			 dur[32], why[160];

	if (c->bev == NULL)
		return;
	if (!(bufferevent_get_enabled(c->bev) & EV_READ)) {
		evtimer_add(c->line_ev, c->srv->line_tv);
		return;
	}
	snprintf(why, sizeof why, "closed: a request line took longer than "
	    "line_timeout (%s) to arrive", format_duration(dur, sizeof dur,
	    c->srv->d->cfg.daemon.line_timeout));
	client_close_with(c, why);
}

/*
 * Queued output has not moved for write_timeout: the client sends and does
 * not read its replies.  It would otherwise hold its slot, its queued
 * output and its streams for ever, busy in the idle clock's eyes.
 */
static void
write_fire(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_client	*c = arg;
	char			 dur[32], why[160];

	if (c->bev == NULL)
		return;
	snprintf(why, sizeof why, "closed: replies not read for "
	    "write_timeout (%s, %zu bytes queued)", format_duration(dur,
	    sizeof dur, c->srv->d->cfg.daemon.write_timeout),
	    rpc_client_queued(c));
	client_close_with(c, why);
}

/* The write clock runs while output is queued, from its last progress. */
static void
out_changed(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct rpc_client	*c = arg;

	if (c->write_ev == NULL || c->srv->write_tv == NULL)
		return;
	if (evbuffer_get_length(out) == 0)
		evtimer_del(c->write_ev);
	else if (info->n_deleted > 0 || !evtimer_pending(c->write_ev, NULL))
		evtimer_add(c->write_ev, c->srv->write_tv);
}

/* Times a partial line from its first byte; a new line restarts it. */
static void
line_arm(struct rpc_client *c, bool new_line)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	if (c->srv->line_tv == NULL)
		return;
	if (evbuffer_get_length(in) == 0 && !c->lines.skipping)
		evtimer_del(c->line_ev);
	else if (new_line || !evtimer_pending(c->line_ev, NULL))
		evtimer_add(c->line_ev, c->srv->line_tv);
}

/* Handles one complete line: parse, answer errors, dispatch requests. */
static void
client_line(struct rpc_client *c, const char *line, size_t len)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;

	if (len == 0 || (len == 1 && line[0] == '\r'))
		return;		/* blank lines are keep-alives */
	if (rpc_parse_line(line, len, &msg, &fail) == -1) {
		send_fail(c, fail.err, fail.id, fail.message);
		return;
	}
	switch (msg.type) {
	case RPC_MSG_REQUEST:
		rpc_dispatch(c->srv->d, c, msg.id, msg.method, msg.params);
		break;
	case RPC_MSG_NOTIFICATION:
		log_debug("client %llu: ignored notification %s",
		    (unsigned long long)c->id, msg.method);
		break;
	case RPC_MSG_RESPONSE:
		log_debug("client %llu: ignored response",
		    (unsigned long long)c->id);
		break;
	}
	rpc_msg_clear(&msg);
}

/*
 * Splits the input into lines.  A line longer than the limit is answered
 * with too_large and skipped up to its newline, so the connection goes on.
 */
static void
client_read(struct bufferevent *bev, void *arg)
{
	struct rpc_client	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 max = c->srv->d->cfg.daemon.max_line, len;
	enum linebuf_status	 st;
	char			 msg[128];
	bool			 ended = false;	/* a line ended this pass */

	rpc_client_ref(c);
	idle_arm(c);
	while (rpc_client_alive(c) && evbuffer_get_length(in) > 0 &&
	    (st = linebuf_next(&c->lines, in, max, &len)) != LINEBUF_MORE) {
		if (st == LINEBUF_TOO_LONG) {
			snprintf(msg, sizeof msg, "line longer than the limit "
			    "of %zu bytes", max);
			send_fail(c, RPC_ERR_TOO_LARGE, NULL, msg);
			linebuf_skip(&c->lines);
			continue;
		}
		ended = true;
		if (st == LINEBUF_SKIPPED)
			continue;
		client_line(c, (const char *)evbuffer_pullup(in, len), len);
		if (c->bev != NULL)
			linebuf_drain(&c->lines, in, len);
	}
	if (c->bev != NULL)
		line_arm(c, ended);
	rpc_client_unref(c);
}

/* Runs and forgets the drain hooks; they may add themselves again. */
static void
client_run_drain_hooks(struct rpc_client *c)
{
	LIST_HEAD(, close_hook)	 run;
	struct close_hook	*h;

	LIST_INIT(&run);
	while ((h = LIST_FIRST(&c->drain_hooks)) != NULL) {
		LIST_REMOVE(h, entry);
		LIST_INSERT_HEAD(&run, h, entry);
	}
	rpc_client_ref(c);
	while ((h = LIST_FIRST(&run)) != NULL) {
		LIST_REMOVE(h, entry);
		if (c->bev != NULL)
			h->fn(h->arg, c);
		free(h);
	}
	rpc_client_unref(c);
}

/*
 * Output drained below the low mark: read from the client again (XON) and
 * tell the streams waiting for room.
 */
static void
client_write(struct bufferevent *bev, void *arg)
{
	struct rpc_client	*c = arg;

	bufferevent_enable(bev, EV_READ);
	if (!LIST_EMPTY(&c->drain_hooks))
		client_run_drain_hooks(c);
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	struct rpc_client	*c = arg;

	if (what & BEV_EVENT_ERROR)
		log_debug("client %llu: %s", (unsigned long long)c->id,
		    strerror(EVUTIL_SOCKET_ERROR()));
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_close(c);
}

/* Tears the connection down; the struct lives on while referenced. */
void
client_close(struct rpc_client *c)
{
	struct daemon		*d = c->srv->d;
	struct close_hook	*h;

	if (c->bev == NULL)
		return;
	evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->idle_ev);
	event_free(c->line_ev);
	event_free(c->write_ev);
	c->idle_ev = c->line_ev = c->write_ev = NULL;
	TAILQ_REMOVE(&c->srv->clients, c, entry);
	c->srv->nclients--;
	log_debug("client %llu: closed", (unsigned long long)c->id);
	while ((h = LIST_FIRST(&c->drain_hooks)) != NULL) {
		LIST_REMOVE(h, entry);
		free(h);
	}
	while ((h = LIST_FIRST(&c->hooks)) != NULL) {
		LIST_REMOVE(h, entry);
		h->fn(h->arg, c);
		free(h);
	}
	rpc_client_unref(c);
	daemon_check_idle(d);
}

/* A connection past the limits: its clocks, buffers and callbacks. */
void
client_new(struct rpc_server *srv, evutil_socket_t fd,
    const struct ucred *cred)
{
	struct rpc_client	*c;

	c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->id = ++srv->next_id;
	c->peer = (struct rpc_peer){ cred->uid, cred->gid, cred->pid };
	c->refs = 1;
	LIST_INIT(&c->hooks);
	LIST_INIT(&c->drain_hooks);
	c->idle_ev = evtimer_new(srv->d->base, idle_fire, c);
	c->line_ev = evtimer_new(srv->d->base, line_fire, c);
	c->write_ev = evtimer_new(srv->d->base, write_fire, c);
	c->bev = bufferevent_socket_new(srv->d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev),
	    out_changed, c);
	/* Large lines (files, stdin, streamed output) move in big reads. */
	bufferevent_set_max_single_read(c->bev, 256 * 1024);
	bufferevent_set_max_single_write(c->bev, 256 * 1024);
	bufferevent_setcb(c->bev, client_read, client_write, client_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW_WATER, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&srv->clients, c, entry);
	srv->nclients++;
	idle_arm(c);
	log_debug("client %llu: uid %u pid %d", (unsigned long long)c->id,
	    (unsigned)cred->uid, (int)cred->pid);
}

void
rpc_client_ref(struct rpc_client *c)
{
	c->refs++;
}

void
rpc_client_unref(struct rpc_client *c)
{
	if (--c->refs > 0)
		return;
	free(c);
}

bool
rpc_client_alive(const struct rpc_client *c)
{
	return c->bev != NULL;
}

const struct rpc_peer *
rpc_client_peer(const struct rpc_client *c)
{
	return &c->peer;
}

uint64_t
rpc_client_id(const struct rpc_client *c)
{
	return c->id;
}

/* Frees a sent line once libevent is done with it (no copy on send). */
static void
free_line(const void *data, size_t len, void *line)
{
	free(line);
}

/*
 * Sends at once what the socket takes when nothing is queued before it:
 * the answer leaves before any work its handler set going, without the
 * epoll round trip of a write event.  Returns the bytes sent.
 */
static size_t
client_send_now(struct rpc_client *c, const char *line, size_t len)
{
	ssize_t	 n;

	n = send(bufferevent_getfd(c->bev), line, len,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return (size_t)n;
	if (errno != EAGAIN && errno != EINTR)	/* the bufferevent says */
		log_debug("client %llu: send: %s", (unsigned long long)c->id,
		    strerror(errno));
	return 0;
}

void
rpc_client_send(struct rpc_client *c, json_t *msg)
{
	size_t	 len;
	char	*line;

	if (c->bev == NULL) {
		json_decref(msg);
		return;
	}
	line = rpc_dump_line(msg, &len);
	json_decref(msg);
	rpc_client_send_line(c, line, len);
}

void
rpc_client_send_line(struct rpc_client *c, char *line, size_t len)
{
	struct evbuffer	*out;
	size_t		 sent = 0;

	if (c->bev == NULL) {
		free(line);
		return;
	}
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0)
		sent = client_send_now(c, line, len);
	if (sent == len) {
		free(line);
		return;
	}
	evbuffer_add_reference(out, line + sent, len - sent, free_line, line);
	if (evbuffer_get_length(out) > OUT_HIGH_WATER)
		bufferevent_disable(c->bev, EV_READ);
}

void
rpc_client_on_close(struct rpc_client *c, rpc_client_close_fn *fn,
    void *arg)
{
	struct close_hook	*h = xcalloc(1, sizeof *h);

	h->fn = fn;
	h->arg = arg;
	LIST_INSERT_HEAD(&c->hooks, h, entry);
}

void
rpc_client_on_close_cancel(struct rpc_client *c, rpc_client_close_fn *fn,
    void *arg)
{
	struct close_hook	*h;

	LIST_FOREACH(h, &c->hooks, entry) {
		if (h->fn == fn && h->arg == arg) {
			LIST_REMOVE(h, entry);
			free(h);
			idle_arm(c);	/* idle counts from when it ended */
			return;
		}
	}
}

size_t
rpc_client_queued(const struct rpc_client *c)
{
	if (c->bev == NULL)
		return 0;
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
rpc_client_on_drain(struct rpc_client *c, rpc_client_close_fn *fn,
    void *arg)
{
	struct close_hook	*h;

	if (c->bev == NULL)
		return;
	LIST_FOREACH(h, &c->drain_hooks, entry) {
		if (h->fn == fn && h->arg == arg)
			return;
	}
	h = xcalloc(1, sizeof *h);
	h->fn = fn;
	h->arg = arg;
	LIST_INSERT_HEAD(&c->drain_hooks, h, entry);
}

void
rpc_client_on_drain_cancel(struct rpc_client *c, rpc_client_close_fn *fn,
    void *arg)
{
	struct close_hook	*h;

	LIST_FOREACH(h, &c->drain_hooks, entry) {
		if (h->fn == fn && h->arg == arg) {
			LIST_REMOVE(h, entry);
			free(h);
			return;
		}
	}
}

void
rpc_client_request_begin(struct rpc_client *c)
{
	c->inflight++;
}

void
rpc_client_request_end(struct rpc_client *c)
{
	if (c->inflight == 0)
		fatalx("client %llu: request ended twice",
		    (unsigned long long)c->id);
	if (--c->inflight == 0)
		idle_arm(c);
}

unsigned
rpc_client_inflight(const struct rpc_client *c)
{
	return c->inflight;
}

void
rpc_client_stream_opened(struct rpc_client *c)
{
	c->streams++;
}

void
rpc_client_stream_closed(struct rpc_client *c)
{
	if (c->streams == 0)
		fatalx("client %llu: stream closed twice",
		    (unsigned long long)c->id);
	if (--c->streams == 0)
		idle_arm(c);
}

unsigned
rpc_client_streams(const struct rpc_client *c)
{
	return c->streams;
}
