/* Warm pools: refill, claim, wait in line, rotate, adapt; see pool.h. */
#include <sys/queue.h>
#include <sys/random.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "pool-internal.h"
#include "reaper.h"
#include "reconcile.h"
#include "starter.h"
#include "xmalloc.h"

const char *
pool_name(const struct pool *p)
{
	return p->name;
}

const struct gw_spec *
pool_gw_spec(const struct pool *p)
{
	return &p->ps.spec;
}

int64_t
pool_lifetime_ms(const struct pool *p)
{
	return p->lifetime_ms;
}

/* Median of the observed cold starts, or a guess of 1 s before any. */
int64_t
cold_median(const struct pool *p)
{
	int64_t		 v[COLD_SAMPLES], t;
	unsigned	 n = p->ncold < COLD_SAMPLES ? p->ncold : COLD_SAMPLES;
	unsigned	 i, j;

	if (n == 0)
		return 1000;
	memcpy(v, p->cold, n * sizeof v[0]);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && v[j - 1] > v[j]; j--) {
			t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* Claims in the demand window (old ones fall out of the ring). */
static unsigned
recent_claims(struct pool *p, int64_t now)
{
	unsigned	tail;

	while (p->claim_count > 0) {
		tail = (p->claim_head + CLAIM_HISTORY - p->claim_count) %
		    CLAIM_HISTORY;
		if (now - p->claim_at[tail] <= p->demand_window)
			break;
		p->claim_count--;
	}
	return p->claim_count;
}

/*
 * warm = auto: enough ready sandboxes to cover the claims expected during
 * one cold start, with half again as headroom, plus one while there is
 * any demand at all.  Shrinks as the window forgets old claims.
 */
void
pool_retarget(struct pool *p)
{
	double		 rate;
	int64_t		 t;
	unsigned	 n;

	if (p->warm >= 0) {
		p->target = p->warm;
		return;
	}
	n = recent_claims(p, now_mono_ms());
	rate = n / (p->demand_window / 1000.0);
	t = (int64_t)ceil(rate * cold_median(p) / 1000.0 * 1.5) + (n > 0);
	if (t < p->warm_min)
		t = p->warm_min;
	if (t > p->warm_max)
		t = p->warm_max;
	if (t != p->target)
		log_info("pool %s: warm target %lld (%u claims in %llds)",
		    p->name, (long long)t, n,
		    (long long)(p->demand_window / 1000));
	p->target = t;
}

void
member_free(struct pool_member *m)
{
	free(m->sandbox_id);
	free(m);
}

/* Warm time is billed too: to the pool, not to any user. */
static void
member_charge(struct pool *p, int64_t ready)
{
	if (p->d->budget != NULL)
		budget_charge_pool(p->d->budget, p->name, now_mono_ms() - ready);
}

/* Takes a ready member out of the pool and stops its sandbox. */
void
member_discard(struct pool *p, struct pool_member *m, const char *why)
{
	TAILQ_REMOVE(&p->ready, m, entry);
	p->nready--;
	member_charge(p, m->ready);
	reaper_stop(p->d->reaper, m->sandbox_id, why, NULL, NULL);
	member_free(m);
}

static void
waiter_free(struct pool_waiter *w)
{
	TAILQ_REMOVE(&w->p->waiters, w, entry);
	w->p->nwaiting--;
	event_free(w->timeout);
	free(w);
}

/* Hands a sandbox to the waiter and leaves the line. */
static void
waiter_give(struct pool_waiter *w, const char *sandbox_id, int64_t left)
{
	struct pool	*p = w->p;

	p->nleased++;
	w->cb(w->arg, NULL, sandbox_id, left);
	waiter_free(w);
}

void
waiter_fail(struct pool_waiter *w, const struct gw_error *err,
    int64_t retry_after)
{
	w->cb(w->arg, err, NULL, retry_after);
	waiter_free(w);
}

/* When to try again: the backoff, or about one cold start. */
static int64_t
retry_after_ms(const struct pool *p)
{
	int64_t	now = now_mono_ms();

	if (p->backoff_until > now)
		return p->backoff_until - now;
	return cold_median(p);
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pool_waiter	*w = arg;
	struct pool		*p = w->p;
	char			 msg[256];
	struct gw_error		 err = { 0, RPC_ERR_POOL_EXHAUSTED, msg };

	snprintf(msg, sizeof msg, "pool %s has no sandbox ready (%u leased, "
	    "%u starting%s%s)", p->name, p->nleased, p->nstarting,
	    p->last_error ? "; last error: " : "",
	    p->last_error ? p->last_error : "");
	waiter_fail(w, &err, retry_after_ms(p));
}

/* A newly ready sandbox: first to the line (FIFO), else to the shelf. */
void
member_arrive(struct pool *p, char *sandbox_id, int64_t expires)
{
	struct pool_waiter	*w;
	struct pool_member	*m;
	int64_t			 left = expires - now_mono_ms();

	TAILQ_FOREACH(w, &p->waiters, entry) {
		if (w->ttl_ms <= left) {
			waiter_give(w, sandbox_id, left);
			free(sandbox_id);
			return;
		}
	}
	m = xcalloc(1, sizeof *m);
	m->sandbox_id = sandbox_id;
	m->expires = expires;
	m->ready = now_mono_ms();
	TAILQ_INSERT_TAIL(&p->ready, m, entry);
	p->nready++;
}

static void
start_failed(struct pool *p, const struct gw_error *err)
{
	struct pool_waiter	*w;
	int64_t			 backoff;

	p->nfailed++;
	p->failures++;
	free(p->last_error);
	p->last_error = xstrdup(err->message);
	backoff = BACKOFF_FIRST_MS << (p->failures > 7 ? 6 : p->failures - 1);
	if (backoff > BACKOFF_MAX_MS)
		backoff = BACKOFF_MAX_MS;
	p->backoff_until = now_mono_ms() + backoff;
	/* Once when starts begin to fail; the recovery is logged too. */
	if (p->failures == 1)
		log_warnx("pool %s: starts failing (retrying with backoff up "
		    "to %llds): %s", p->name,
		    (long long)(BACKOFF_MAX_MS / 1000), err->message);
	else
		log_debug("pool %s: start failed (%u in a row, next try in "
		    "%llds): %s", p->name, p->failures,
		    (long long)(backoff / 1000), err->message);
	/* The oldest waiter was counting on this start: tell it why. */
	if ((w = TAILQ_FIRST(&p->waiters)) != NULL)
		waiter_fail(w, err, backoff);
}

static void
pool_started(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb, const char *sandbox_id)
{
	struct pool_start	*s = arg;
	struct pool		*p = s->p;
	int64_t			 elapsed = now_mono_ms() - s->sent;

	TAILQ_REMOVE(&p->starts, s, entry);
	p->nstarting--;
	free(s);
	if (err != NULL) {
		if (sandbox_id != NULL)
			reaper_stop(p->d->reaper, sandbox_id, "start failed",
			    NULL, NULL);
		if (err->rpc != RPC_ERR_CANCELLED)
			start_failed(p, err);
	} else if (p->draining || p->d->stopping)
		reaper_stop(p->d->reaper, sb->id, "pool draining", NULL, NULL);
	else if (pools_have(p->d->pools, sb->id))
		;	/* reconciliation adopted it first */
	else {
		if (p->failures > 0)
			log_info("pool %s: starts work again (after %u "
			    "failure(s))", p->name, p->failures);
		p->failures = 0;
		p->backoff_until = 0;
		p->cold[p->ncold++ % COLD_SAMPLES] = elapsed;
		member_arrive(p, xstrdup(sb->id),
		    now_mono_ms() - elapsed + p->lifetime_ms);
	}
	pool_refill(p);
	daemon_check_idle(p->d);
}

/* Our tags, so reconciliation can find every pool sandbox by tag. */
static void
start_one(struct pool *p)
{
	struct daemon		*d = p->d;
	struct pool_start	*s = xcalloc(1, sizeof *s);
	struct gw_spec		 spec = p->ps.spec;
	const char		*tags[64];
	char			 inst[64], pool[96], req[64];
	unsigned char		 r[6];
	int			 i, n = 0;

	if (getrandom(r, sizeof r, 0) != sizeof r)
		fatal("getrandom");
	snprintf(inst, sizeof inst, "sandboxd-instance:%s", d->instance_id);
	snprintf(pool, sizeof pool, "sandboxd-pool:%s", p->name);
	snprintf(req, sizeof req, "sandboxd-req:p-%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5]);
	tags[n++] = "sandboxd";
	tags[n++] = inst;
	tags[n++] = pool;
	tags[n++] = req;
	for (i = 0; i < p->ps.ntags && n < 64; i++)
		tags[n++] = p->ps.tags[i];
	spec.tags = tags;
	spec.ntags = n;
	spec.request_tag = req;
	spec.instance_tag = inst;
	spec.max_lifetime_s = (int32_t)(p->lifetime_ms / 1000);

	s->p = p;
	s->sent = now_mono_ms();
	TAILQ_INSERT_TAIL(&p->starts, s, entry);
	p->nstarting++;
	p->nstarts++;
	s->st = starter_start(d, &spec, d->cfg.gateway.start_timeout,
	    pool_started, s);
}

/* The host-wide cap counts warm sandboxes too. */
static bool
host_full(struct daemon *d)
{
	int64_t	cap = d->cfg.budget.max_sandboxes;

	return cap > 0 && d->pools != NULL && (int64_t)(lease_count(d->leases) +
	    pools_sandboxes(d->pools)) >= cap;
}

void
pool_refill_kicked(evutil_socket_t fd, short what, void *arg)
{
	pool_refill(arg);
}

/* Starts what the target and the waiting line need, within the caps. */
void
pool_refill(struct pool *p)
{
	int64_t	want;

	if (p->draining || p->d->stopping || now_mono_ms() < p->backoff_until ||
	    !reconcile_done(p->d))	/* adopt what runs before starting more */
		return;
	want = p->target + p->nwaiting;
	while (!host_full(p->d) && (int64_t)(p->nready + p->nstarting) < want &&
	    (int64_t)p->nstarting < p->max_starting &&
	    (p->max == 0 ||
	    (int64_t)(p->nready + p->nstarting + p->nleased) < p->max))
		start_one(p);
}

/*
 * A claim or a release answers its client first; the Starts it calls for
 * go out once the loop has finished the callback at hand.
 */
static void
pool_refill_soon(struct pool *p)
{
	event_active(p->kick, EV_TIMEOUT, 1);
}

/* Rotation, adaptive target, shrinking, refill: once a second. */
void
pool_tick_one(struct pool *p)
{
	struct pool_member	*m, *next;
	int64_t			 now = now_mono_ms();

	for (m = TAILQ_FIRST(&p->ready); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->expires - now < p->min_remaining_ms) {
			log_info("pool %s: rotating %s out (%llds of life left)",
			    p->name, m->sandbox_id,
			    (long long)((m->expires - now) / 1000));
			member_discard(p, m, "rotated");
		}
	}
	pool_retarget(p);
	while ((int64_t)p->nready > p->target &&
	    (m = TAILQ_FIRST(&p->ready)) != NULL)
		member_discard(p, m, "pool shrinking");
	pool_refill(p);
}

static void
note_claim(struct pool *p)
{
	p->claims++;
	p->claim_at[p->claim_head] = now_mono_ms();
	p->claim_head = (p->claim_head + 1) % CLAIM_HISTORY;
	if (p->claim_count < CLAIM_HISTORY)
		p->claim_count++;
	if (p->warm < 0)
		pool_retarget(p);
}

int
pool_claim(struct pool *p, int64_t ttl_ms, int64_t wait_ms,
    pool_claim_cb *cb, void *arg, char **sandbox_id, int64_t *left_ms,
    struct pool_waiter **wp)
{
	struct pool_member	*m;
	struct pool_waiter	*w;
	struct timeval		 tv;
	int64_t			 now = now_mono_ms();

	note_claim(p);
	/* Not even a sandbox started now would live long enough. */
	if (ttl_ms + 2 * cold_median(p) + 1000 > p->lifetime_ms) {
		p->misses++;
		return -1;
	}
	/* The fitting member closest to its end: fresher ones wait. */
	TAILQ_FOREACH(m, &p->ready, entry) {
		if (m->expires - now >= ttl_ms)
			break;
	}
	if (m != NULL) {
		TAILQ_REMOVE(&p->ready, m, entry);
		p->nready--;
		p->nleased++;
		p->hits++;
		member_charge(p, m->ready);
		*sandbox_id = m->sandbox_id;
		*left_ms = m->expires - now;
		free(m);
		pool_refill_soon(p);
		return 0;
	}
	p->misses++;
	w = xcalloc(1, sizeof *w);
	w->p = p;
	w->ttl_ms = ttl_ms;
	w->cb = cb;
	w->arg = arg;
	w->timeout = evtimer_new(p->d->base, waiter_timeout, w);
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (wait_ms % 1000) * 1000;
	evtimer_add(w->timeout, &tv);
	TAILQ_INSERT_TAIL(&p->waiters, w, entry);
	p->nwaiting++;
	*wp = w;
	pool_refill_soon(p);
	return 1;
}

void
pool_waiter_cancel(struct pool_waiter *w)
{
	waiter_free(w);
}

void
pool_lease_gone(struct daemon *d, const char *name)
{
	struct pool	*p;

	if (d->pools == NULL || (p = pool_find(d->pools, name)) == NULL)
		return;
	if (p->nleased > 0)
		p->nleased--;
	pool_refill_soon(p);
}

void
pool_count_cold(struct pool *p)
{
	p->nleased++;
}

int
pool_resize(struct pool *p, int64_t warm)
{
	p->warm = warm;
	pool_retarget(p);
	pool_tick_one(p);
	return 0;
}

int
pool_adopt(struct pool *p, const char *sandbox_id, int64_t left_ms)
{
	if (p->draining || left_ms < p->min_remaining_ms ||
	    (int64_t)p->nready >= p->target)
		return -1;
	member_arrive(p, xstrdup(sandbox_id), now_mono_ms() + left_ms);
	return 0;
}
