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
	TAILQ_ENTRY(reap)	 entry;
};

struct reaper {
	struct daemon		*d;
	unsigned		 pending;
	TAILQ_HEAD(, reap)	 list;
};

struct reaper *
reaper_new(struct daemon *d)
{
	struct reaper	*r = xcalloc(1, sizeof *r);

	r->d = d;
	TAILQ_INIT(&r->list);
	return r;
}

static void
reap_free(struct reap *p)
{
	TAILQ_REMOVE(&p->r->list, p, entry);
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
	free(r);
}

static void	reap_try(evutil_socket_t, short, void *);

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

void
reaper_stop(struct reaper *r, const char *sandbox_id, const char *why,
    gw_done_cb *done, void *arg)
{
	struct reap	*p = xcalloc(1, sizeof *p);

	p->r = r;
	p->sandbox_id = xstrdup(sandbox_id);
	p->why = xstrdup(why);
	p->done = done;
	p->arg = arg;
	p->delay_ms = RETRY_FIRST_MS;
	p->retry = evtimer_new(r->d->base, reap_try, p);
	TAILQ_INSERT_TAIL(&r->list, p, entry);
	r->pending++;
	reap_try(-1, 0, p);
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
