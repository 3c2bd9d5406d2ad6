/* Start a sandbox and wait until it runs; see starter.h. */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "reaper.h"
#include "reconcile.h"
#include "starter.h"
#include "xmalloc.h"

/*
 * Gets after a Start: the first after `poll_ms`, then half as long again
 * each time, up to 2 s: a sandbox that takes seconds costs a handful of
 * Gets.  A lease's cold start polls as the SDKs do (gateway.start_poll,
 * 200 ms); a pool's refill sooner (its start_poll, 50 ms), since a pool
 * that learns late that its sandboxes run is empty for longer.
 */
#define POLL_MAX_MS	2000

struct starter {
	struct daemon	*d;
	starter_cb	*cb;
	void		*arg;
	bool		 job;
	bool		 done;		/* callback has run */
	bool		 in_call;	/* a gateway call is outstanding */
	char		*sandbox_id;
	int64_t		 t0;		/* monotonic */
	int64_t		 deadline;
	int64_t		 delay_ms;
	struct event	*timer;
	TAILQ_ENTRY(starter) entry;
};

/*
 * Cancelled starts whose Start has not answered yet: a sandbox may still
 * come of them, and shutdown must wait to stop it.
 */
static unsigned	orphans;
/* Every start not yet handed over, so reconciliation knows their ids. */
static TAILQ_HEAD(, starter) starters = TAILQ_HEAD_INITIALIZER(starters);

static void
starter_free(struct starter *s)
{
	TAILQ_REMOVE(&starters, s, entry);
	event_free(s->timer);
	free(s->sandbox_id);
	free(s);
}

/* Reports the outcome once; frees unless a gateway call still refers. */
static void
finish(struct starter *s, const struct gw_error *err,
    const struct gw_sandbox *sb)
{
	s->done = true;
	evtimer_del(s->timer);
	s->cb(s->arg, err, sb, s->sandbox_id);
	if (!s->in_call)
		starter_free(s);
}

static void
fail(struct starter *s, enum rpc_err e, const char *msg)
{
	struct gw_error	err = { 0, e, msg };

	finish(s, &err, NULL);
}

static void	poll_cb(evutil_socket_t, short, void *);

/* Decides from a reported status: done, failed, or poll again. */
static void
check(struct starter *s, const struct gw_sandbox *sb)
{
	struct timeval	 tv;
	char		 msg[512];

	if (sb->status == GW_STATUS_RUNNING ||
	    (s->job && gw_status_terminal(sb->status))) {
		s->t0 = now_mono_ms() - s->t0;
		finish(s, NULL, sb);
		return;
	}
	if (gw_status_terminal(sb->status)) {
		snprintf(msg, sizeof msg, "sandbox %s ended while starting "
		    "(%s)%s%s", sb->id, gw_status_name(sb->status),
		    sb->status_reason[0] ? ": " : "", sb->status_reason);
		fail(s, RPC_ERR_SANDBOX_FAILED, msg);
		return;
	}
	if (now_mono_ms() >= s->deadline) {
		snprintf(msg, sizeof msg, "sandbox %s was not running in time "
		    "(still %s)", sb->id, gw_status_name(sb->status));
		fail(s, RPC_ERR_DEADLINE_EXCEEDED, msg);
		return;
	}
	tv.tv_sec = s->delay_ms / 1000;
	tv.tv_usec = (s->delay_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	s->delay_ms = starter_next_delay_ms(s->delay_ms);
}

int64_t
starter_next_delay_ms(int64_t delay_ms)
{
	return delay_ms * 3 / 2 > POLL_MAX_MS ? POLL_MAX_MS :
	    delay_ms * 3 / 2;
}

static void
got(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct starter	*s = arg;

	s->in_call = false;
	if (s->done) {			/* cancelled meanwhile */
		starter_free(s);
		return;
	}
	if (err != NULL) {
		finish(s, err, NULL);
		return;
	}
	check(s, sb);
}

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct starter	*s = arg;

	s->in_call = true;
	gw_get(s->d->gw, s->sandbox_id, got, s);
}

static void
started(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct starter	*s = arg;
	struct daemon	*d;
	struct gw_error	 taken;
	char		 msg[256];

	s->in_call = false;
	/*
	 * Start recovery found a sandbox by tags someone else holds: never
	 * two owners, and not ours to stop either.
	 */
	if (sb != NULL && err == NULL && reconcile_held(s->d, sb->id)) {
		snprintf(msg, sizeof msg, "the gateway answered Start with "
		    "sandbox %s, which is already held here", sb->id);
		log_warnx("%s", msg);
		taken = (struct gw_error){ 0, RPC_ERR_GATEWAY_ERROR, msg };
		err = &taken;
		sb = NULL;
	}
	/* Held from now on: reconciliation must not take it for a stray. */
	if (sb != NULL && err == NULL)
		s->sandbox_id = xstrdup(sb->id);
	if (s->done) {
		/*
		 * Cancelled while Start was in flight: nobody wants it.  The
		 * reaper retries the Stop, and shutdown waits for it.
		 */
		orphans--;
		if (s->sandbox_id != NULL)
			reaper_stop(s->d->reaper, s->sandbox_id,
			    "start cancelled", NULL, NULL);
		d = s->d;
		starter_free(s);
		daemon_check_idle(d);
		return;
	}
	if (err != NULL) {
		finish(s, err, NULL);
		return;
	}
	log_debug("started %s (%s)", sb->id, gw_status_name(sb->status));
	check(s, sb);
}

struct starter *
starter_start(struct daemon *d, const struct gw_spec *spec, int64_t wait_ms,
    int64_t poll_ms, starter_cb *cb, void *arg)
{
	struct starter	*s = xcalloc(1, sizeof *s);

	s->d = d;
	s->cb = cb;
	s->arg = arg;
	s->job = spec->command != NULL;
	s->t0 = now_mono_ms();
	s->deadline = s->t0 + wait_ms;
	s->delay_ms = poll_ms;
	s->timer = evtimer_new(d->base, poll_cb, s);
	s->in_call = true;
	TAILQ_INSERT_TAIL(&starters, s, entry);
	d->starts++;		/* reconciliation must not race this one */
	gw_start(d->gw, spec, started, s);
	return s;
}

void
starter_cancel(struct starter *s, const char *why)
{
	if (s->done)
		return;
	if (s->in_call && s->sandbox_id == NULL)
		orphans++;	/* Start itself is in flight */
	fail(s, RPC_ERR_CANCELLED, why);
}

unsigned
starter_orphans(void)
{
	return orphans;
}

int64_t
starter_elapsed_ms(const struct starter *s)
{
	return s->t0;
}

bool
starter_holds(const char *sandbox_id)
{
	struct starter	*s;

	TAILQ_FOREACH(s, &starters, entry) {
		if (s->sandbox_id != NULL &&
		    strcmp(s->sandbox_id, sandbox_id) == 0)
			return true;
	}
	return false;
}
