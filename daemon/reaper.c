/* Stop sandboxes until the gateway confirms; see reaper.h. */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "reaper.h"
#include "xmalloc.h"

#define RETRY_FIRST_MS	1000
#define RETRY_MAX_MS	30000

struct reap {
	struct reaper		*r;
	char			*sandbox_id;
	char			*why;
	gw_done_cb		*done;
	void			*arg;
	int64_t			 delay_ms;
	unsigned		 attempts;
	struct event		*retry;
	bool			 queued;	/* for the next batch */
	TAILQ_ENTRY(reap)	 entry;
	TAILQ_ENTRY(reap)	 qentry;
};

struct reaper {
	struct daemon		*d;
	unsigned		 pending;
	TAILQ_HEAD(, reap)	 list;
	TAILQ_HEAD(, reap)	 queue;		/* first tries not sent yet */
	struct event		*flush;
};

static void	reap_try(evutil_socket_t, short, void *);

/* Sends the batch: each Stop's first try. */
static void
reap_flush(evutil_socket_t fd, short what, void *arg)
{
	struct reaper	*r = arg;
	struct reap	*p;

	while ((p = TAILQ_FIRST(&r->queue)) != NULL) {
		TAILQ_REMOVE(&r->queue, p, qentry);
		p->queued = false;
		reap_try(-1, 0, p);
	}
}

struct reaper *
reaper_new(struct daemon *d)
{
	struct reaper	*r = xcalloc(1, sizeof *r);

	r->d = d;
	TAILQ_INIT(&r->list);
	TAILQ_INIT(&r->queue);
	r->flush = evtimer_new(d->base, reap_flush, r);
	return r;
}

static void
reap_free(struct reap *p)
{
	TAILQ_REMOVE(&p->r->list, p, entry);
	if (p->queued)
		TAILQ_REMOVE(&p->r->queue, p, qentry);
	p->r->pending--;
	event_free(p->retry);
	free(p->sandbox_id);
	free(p->why);
	free(p);
}

/* Called at exit: whatever is left is logged, never silently dropped. */
void
reaper_free(struct reaper *r)
{
	struct reap	*p;

	if (r == NULL)
		return;
	while ((p = TAILQ_FIRST(&r->list)) != NULL) {
		log_warnx("sandbox %s was not confirmed stopped (%s) before "
		    "exit", p->sandbox_id, p->why);
		reap_free(p);
	}
	event_free(r->flush);
	free(r);
}

static void
reap_done(void *arg, const struct gw_error *err)
{
	struct reap	*p = arg;
	struct daemon	*d = p->r->d;
	struct timeval	 tv;

	if (err == NULL) {
		if (p->attempts > 1)
			log_info("sandbox %s stopped (%s) after %u attempts",
			    p->sandbox_id, p->why, p->attempts);
		else
			log_debug("sandbox %s stopped (%s)", p->sandbox_id,
			    p->why);
		if (p->done != NULL)
			p->done(p->arg, NULL);
		reap_free(p);
		daemon_check_idle(d);
		return;
	}
	/* The first failure only: the success says when it is over. */
	if (p->attempts == 1)
		log_warnx("stopping sandbox %s (%s) failed: %s; retrying "
		    "until it succeeds", p->sandbox_id, p->why, err->message);
	else
		log_debug("stopping sandbox %s failed again: %s",
		    p->sandbox_id, err->message);
	if (d->stopping && p->attempts >= 3) {
		/* Shutting down: the state is lost with us; say so. */
		if (p->done != NULL)
			p->done(p->arg, err);
		reap_free(p);
		daemon_check_idle(d);
		return;
	}
	tv.tv_sec = p->delay_ms / 1000;
	tv.tv_usec = (p->delay_ms % 1000) * 1000;
	evtimer_add(p->retry, &tv);
	p->delay_ms = p->delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS :
	    p->delay_ms * 2;
}

static void
reap_try(evutil_socket_t fd, short what, void *arg)
{
	struct reap	*p = arg;

	p->attempts++;
	gw_stop(p->r->d->gw, p->sandbox_id, 10, reap_done, p);
}

/*
 * A Stop nobody waits for goes out with the others of the next GW_BATCH_MS:
 * the release that called for it is answered, and the client's next
 * request served, without the Stop's gRPC work (tens of µs on the loop)
 * in between, and a burst of releases costs one pass.  A caller waiting
 * for the stop (lease.release with wait, an expiry) has it sent at once.
 */
void
reaper_stop(struct reaper *r, const char *sandbox_id, const char *why,
    gw_done_cb *done, void *arg)
{
	struct reap	*p = xcalloc(1, sizeof *p);
	struct timeval	 tv = { 0, GW_BATCH_MS * 1000 };

	p->r = r;
	p->sandbox_id = xstrdup(sandbox_id);
	p->why = xstrdup(why);
	p->done = done;
	p->arg = arg;
	p->delay_ms = RETRY_FIRST_MS;
	p->retry = evtimer_new(r->d->base, reap_try, p);
	TAILQ_INSERT_TAIL(&r->list, p, entry);
	r->pending++;
	if (done != NULL) {
		reap_try(-1, 0, p);
		return;
	}
	p->queued = true;
	TAILQ_INSERT_TAIL(&r->queue, p, qentry);
	if (!evtimer_pending(r->flush, NULL))
		evtimer_add(r->flush, &tv);
}

unsigned
reaper_pending(const struct reaper *r)
{
	return r->pending;
}

bool
reaper_has(const struct reaper *r, const char *sandbox_id)
{
	const struct reap	*p;

	if (r == NULL)
		return false;
	TAILQ_FOREACH(p, &r->list, entry) {
		if (strcmp(p->sandbox_id, sandbox_id) == 0)
			return true;
	}
	return false;
}

json_t *
reaper_ids_json(const struct reaper *r)
{
	const struct reap	*p;
	json_t			*a = json_array();

	if (r == NULL)
		return a;
	TAILQ_FOREACH(p, &r->list, entry)
		json_array_append_new(a, json_string(p->sandbox_id));
	return a;
}
