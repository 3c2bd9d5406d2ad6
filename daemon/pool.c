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
#include "state.h"
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
 * any demand at all; within [warm_min, warm_max].
 */
int64_t
pool_auto_target(unsigned claims, int64_t window_ms, int64_t cold_ms,
    int64_t warm_min, int64_t warm_max)
{
	double	rate = claims / (window_ms / 1000.0);
	int64_t	t;

	t = (int64_t)ceil(rate * cold_ms / 1000.0 * 1.5) + (claims > 0);
	if (t < warm_min)
		t = warm_min;
	if (t > warm_max)
		t = warm_max;
	return t;
}

/* Shrinks as the window forgets old claims. */
void
pool_retarget_at(struct pool *p, int64_t now)
{
	int64_t		 t;
	unsigned	 n;

	if (p->warm >= 0) {
		p->target = p->warm;
		return;
	}
	n = recent_claims(p, now);
	t = pool_auto_target(n, p->demand_window, cold_median(p), p->warm_min,
	    p->warm_max);
	if (t != p->target)
		log_info("pool %s: warm target %lld (%u claims in %llds)",
		    p->name, (long long)t, n,
		    (long long)(p->demand_window / 1000));
	p->target = t;
}

void
pool_retarget(struct pool *p)
{
	pool_retarget_at(p, now_mono_ms());
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
	if (w->cold)
		w->p->nwaiting_cold--;
	event_free(w->timeout);
	free(w);
}

/*
 * Into line, round-robin across clients: a client's next request goes a
 * round after its last one in line; a client with none in line joins
 * the round now being served, after those already in it.
 */
static void
waiter_enqueue(struct pool *p, struct pool_waiter *w)
{
	struct pool_waiter	*x, *mine = NULL;

	TAILQ_FOREACH(x, &p->waiters, entry) {
		if (x->client == w->client)
			mine = x;
	}
	if (mine != NULL)
		w->round = mine->round + 1;
	else if ((x = TAILQ_FIRST(&p->waiters)) != NULL)
		w->round = x->round;
	TAILQ_FOREACH(x, &p->waiters, entry) {
		if (x->round > w->round)
			break;
	}
	if (x != NULL)
		TAILQ_INSERT_BEFORE(x, w, entry);
	else
		TAILQ_INSERT_TAIL(&p->waiters, w, entry);
	p->nwaiting++;
	if (w->cold)
		p->nwaiting_cold++;
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

	snprintf(msg, sizeof msg, "pool %s has %s (%u leased, %u ready, "
	    "%u starting, max %lld%s%s)", p->name, w->cold ?
	    "no room under its max for a sandbox of your own" :
	    "no sandbox ready", p->nleased, p->nready, p->nstarting,
	    (long long)p->max, p->last_error ? "; last error: " : "",
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
		if (!w->cold && w->ttl_ms <= left) {
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
	state_dirty(p->d);	/* its warm time counts from here on */
}

/*
 * Backs off; the waiting line keeps its places, since the next try may
 * work, and a waiter whose time runs out is told the last error.
 */
static void
start_failed(struct pool *p, const struct gw_error *err)
{
	int64_t	backoff;

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
}

static void
pool_started(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb, const char *sandbox_id)
{
	struct pool_start	*s = arg;
	struct pool		*p = s->p;
	int64_t			 elapsed = now_mono_ms() - s->sent;
	bool			 stale = s->spec_gen != p->spec_gen;

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
	else if (stale)
		reaper_stop(p->d->reaper, sb->id, "pool spec changed", NULL,
		    NULL);
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
	s->spec_gen = p->spec_gen;
	TAILQ_INSERT_TAIL(&p->starts, s, entry);
	p->nstarting++;
	p->nstarts++;
	s->st = starter_start(d, &spec, d->cfg.gateway.start_timeout,
	    p->start_poll_ms, pool_started, s);
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

/* Is there room under `max` for one more sandbox? */
static bool
has_room(const struct pool *p)
{
	return p->max == 0 ||
	    (int64_t)(p->nready + p->nstarting + p->nleased) < p->max;
}

/*
 * Room for a lease started cold from this pool: under `max`, or made by
 * stopping a ready member (it would count against `max` just the same).
 */
static bool
make_room(struct pool *p)
{
	if (has_room(p))
		return true;
	if (p->nready == 0)
		return false;
	member_discard(p, TAILQ_FIRST(&p->ready),
	    "making room for a sandbox started cold");
	return true;
}

/* Cold requests in line get room, in line order, while there is some. */
static void
serve_cold(struct pool *p)
{
	struct pool_waiter	*w;

	while (p->nwaiting_cold > 0) {
		TAILQ_FOREACH(w, &p->waiters, entry) {
			if (w->cold)
				break;
		}
		if (!make_room(p))
			return;
		/* The callback starts the lease now, counting it as leased. */
		w->cb(w->arg, NULL, NULL, 0);
		waiter_free(w);
	}
}

/* Starts what the target and the waiting line need, within the caps. */
void
pool_refill(struct pool *p)
{
	int64_t	want;

	if (p->draining || p->d->stopping)
		return;
	serve_cold(p);
	if (now_mono_ms() < p->backoff_until ||
	    !reconcile_done(p->d))	/* adopt what runs before starting more */
		return;
	want = p->target + p->nwaiting - p->nwaiting_cold;
	while (!host_full(p->d) && (int64_t)(p->nready + p->nstarting) < want &&
	    (int64_t)p->nstarting < p->max_starting && has_room(p))
		start_one(p);
}

/*
 * A claim or a release answers its client first; the Starts it calls for
 * go out together, GW_BATCH_MS after the first: a burst of claims is
 * answered back to back, not each answer after the last one's Start (tens
 * of µs of gRPC work on the loop), and the burst's Starts leave at once.
 */
static void
pool_refill_soon(struct pool *p)
{
	struct timeval	tv = { 0, GW_BATCH_MS * 1000 };

	if (!evtimer_pending(p->kick, NULL))
		evtimer_add(p->kick, &tv);
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

void
pool_note_claim(struct pool *p, int64_t now)
{
	p->claims++;
	p->claim_at[p->claim_head] = now;
	p->claim_head = (p->claim_head + 1) % CLAIM_HISTORY;
	if (p->claim_count < CLAIM_HISTORY)
		p->claim_count++;
	if (p->warm < 0)
		pool_retarget_at(p, now);
}

static struct pool_waiter *
waiter_new(struct pool *p, const void *client, bool cold, int64_t ttl_ms,
    int64_t wait_ms, pool_claim_cb *cb, void *arg)
{
	struct pool_waiter	*w = xcalloc(1, sizeof *w);
	struct timeval		 tv;

	w->p = p;
	w->client = client;
	w->cold = cold;
	w->ttl_ms = ttl_ms;
	w->cb = cb;
	w->arg = arg;
	w->timeout = evtimer_new(p->d->base, waiter_timeout, w);
	tv.tv_sec = wait_ms / 1000;
	tv.tv_usec = (wait_ms % 1000) * 1000;
	evtimer_add(w->timeout, &tv);
	waiter_enqueue(p, w);
	pool_refill_soon(p);
	return w;
}

int
pool_claim(struct pool *p, const void *client, int64_t ttl_ms,
    int64_t wait_ms, pool_claim_cb *cb, void *arg, char **sandbox_id,
    int64_t *left_ms, struct pool_waiter **wp)
{
	struct pool_member	*m;
	int64_t			 now = now_mono_ms();

	pool_note_claim(p, now);
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
	*wp = waiter_new(p, client, false, ttl_ms, wait_ms, cb, arg);
	return 1;
}

int
pool_cold_slot(struct pool *p, const void *client, int64_t wait_ms,
    pool_claim_cb *cb, void *arg, struct pool_waiter **wp)
{
	if (p->nwaiting_cold == 0 && make_room(p))
		return 0;
	*wp = waiter_new(p, client, true, 0, wait_ms, cb, arg);
	return 1;
}

const char *
pool_last_error(const struct pool *p)
{
	return p->last_error;
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
