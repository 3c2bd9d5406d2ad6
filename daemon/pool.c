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
#include "pool.h"
#include "pool-spec.h"
#include "reaper.h"
#include "reconcile.h"
#include "starter.h"
#include "xmalloc.h"

#define TICK_MS			1000
#define BACKOFF_FIRST_MS	1000
#define BACKOFF_MAX_MS		60000
#define COLD_SAMPLES		32
#define CLAIM_HISTORY		1024

struct pool_member {
	char			*sandbox_id;
	int64_t			 expires;	/* monotonic: gateway reclaims */
	int64_t			 ready;		/* monotonic: charged from */
	TAILQ_ENTRY(pool_member) entry;
};

struct pool_waiter {
	struct pool		*p;
	int64_t			 ttl_ms;
	pool_claim_cb		*cb;
	void			*arg;
	struct event		*timeout;
	TAILQ_ENTRY(pool_waiter) entry;
};

struct pool_start {
	struct pool		*p;
	struct starter		*st;
	int64_t			 sent;		/* monotonic */
	TAILQ_ENTRY(pool_start)	 entry;
};

struct pool {
	struct daemon		*d;
	char			*name;
	struct pool_spec	 ps;
	bool			 is_default;
	bool			 draining;
	int64_t			 lifetime_ms, min_remaining_ms, demand_window;
	int64_t			 warm, warm_min, warm_max, max, max_starting;
	int64_t			 target;

	TAILQ_HEAD(, pool_member) ready;
	TAILQ_HEAD(, pool_waiter) waiters;
	TAILQ_HEAD(, pool_start) starts;
	unsigned		 nready, nstarting, nleased, nwaiting;

	uint64_t		 claims, hits, misses, nstarts, nfailed;
	int64_t			 cold[COLD_SAMPLES];
	unsigned		 ncold;
	int64_t			 claim_at[CLAIM_HISTORY];	/* ring */
	unsigned		 claim_head, claim_count;

	char			*last_error;
	unsigned		 failures;	/* in a row */
	int64_t			 backoff_until;	/* monotonic */
	TAILQ_ENTRY(pool)	 entry;
};

struct pools {
	struct daemon		*d;
	struct event		*tick;
	TAILQ_HEAD(, pool)	 list;
};

static void	pool_refill(struct pool *);

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
static int64_t
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
static void
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

static void
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
static void
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

static void
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
static void
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
	log_warnx("pool %s: start failed (%u in a row, next try in %llds): %s",
	    p->name, p->failures, (long long)(backoff / 1000), err->message);
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

/* Starts what the target and the waiting line need, within the caps. */
static void
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

/* Rotation, adaptive target, shrinking, refill: once a second. */
static void
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

static void	pool_free(struct pool *);

static void
pools_tick(evutil_socket_t fd, short what, void *arg)
{
	struct pools	*ps = arg;
	struct pool	*p, *next;

	for (p = TAILQ_FIRST(&ps->list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->draining && p->nstarting == 0 && p->nready == 0 &&
		    p->nwaiting == 0) {
			TAILQ_REMOVE(&ps->list, p, entry);
			pool_free(p);
		} else if (!p->draining)
			pool_tick_one(p);
	}
}

/* Copies the settings of a [pool.NAME] section; the spec is built. */
static int
pool_configure(struct pool *p, const struct config *cfg,
    const struct config_pool *cp, char **err)
{
	struct pool_spec	ps;

	if (pool_spec_build(&ps, cp, err) == -1)
		return -1;
	pool_spec_free(&p->ps);
	p->ps = ps;
	p->is_default = cp->is_default;
	p->lifetime_ms = cp->max_lifetime > 0 ? cp->max_lifetime :
	    cfg->budget.max_lifetime;
	/* By default a ready sandbox must still fit a default lease. */
	p->min_remaining_ms = cp->min_remaining > 0 ? cp->min_remaining :
	    cfg->budget.default_lease_ttl;
	p->demand_window = cp->demand_window;
	p->warm = cp->warm;
	p->warm_min = cp->warm_min;
	p->warm_max = cp->warm_max;
	p->max = cp->max;
	p->max_starting = cp->max_starting;
	if (p->min_remaining_ms >= p->lifetime_ms) {
		*err = xasprintf("pool %s: min_remaining must be shorter than "
		    "the sandboxes' lifetime", cp->name);
		return -1;
	}
	pool_retarget(p);
	return 0;
}

static struct pool *
pool_new(struct daemon *d, const struct config *cfg,
    const struct config_pool *cp, char **err)
{
	struct pool	*p = xcalloc(1, sizeof *p);

	p->d = d;
	p->name = xstrdup(cp->name);
	TAILQ_INIT(&p->ready);
	TAILQ_INIT(&p->waiters);
	TAILQ_INIT(&p->starts);
	if (pool_configure(p, cfg, cp, err) == -1) {
		pool_free(p);
		return NULL;
	}
	return p;
}

static void
pool_free(struct pool *p)
{
	struct pool_member	*m;

	while ((m = TAILQ_FIRST(&p->ready)) != NULL) {
		TAILQ_REMOVE(&p->ready, m, entry);
		member_free(m);
	}
	pool_spec_free(&p->ps);
	free(p->last_error);
	free(p->name);
	free(p);
}

struct pools *
pools_new(struct daemon *d, const struct config *cfg, char **err)
{
	struct pools	*ps = xcalloc(1, sizeof *ps);
	struct timeval	 tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };
	struct pool	*p;
	int		 i;

	ps->d = d;
	TAILQ_INIT(&ps->list);
	for (i = 0; i < cfg->npools; i++) {
		if ((p = pool_new(d, cfg, &cfg->pools[i], err)) == NULL) {
			pools_free(ps);
			return NULL;
		}
		TAILQ_INSERT_TAIL(&ps->list, p, entry);
	}
	ps->tick = event_new(d->base, -1, EV_PERSIST, pools_tick, ps);
	evtimer_add(ps->tick, &tv);
	d->pools = ps;		/* refills count the host's sandboxes */
	TAILQ_FOREACH(p, &ps->list, entry)
		pool_refill(p);
	return ps;
}

void
pools_free(struct pools *ps)
{
	struct pool	*p;

	if (ps == NULL)
		return;
	while ((p = TAILQ_FIRST(&ps->list)) != NULL) {
		TAILQ_REMOVE(&ps->list, p, entry);
		pool_free(p);
	}
	if (ps->tick != NULL)
		event_free(ps->tick);
	free(ps);
}

/* Empties a pool: warm members stopped, starts cancelled, line told. */
static void
pool_drain(struct pool *p, const char *why, bool keep_ready)
{
	struct pool_member	*m;
	struct pool_waiter	*w;
	struct pool_start	*s;
	char			 msg[128];
	struct gw_error		 err = { 0, RPC_ERR_OVERLOADED, msg };

	p->draining = true;
	snprintf(msg, sizeof msg, "pool %s: %s", p->name, why);
	while ((w = TAILQ_FIRST(&p->waiters)) != NULL)
		waiter_fail(w, &err, 1000);
	while (!keep_ready && (m = TAILQ_FIRST(&p->ready)) != NULL)
		member_discard(p, m, why);
	while ((s = TAILQ_FIRST(&p->starts)) != NULL)
		starter_cancel(s->st, why);
}

int
pools_reload(struct pools *ps, const struct config *cfg, char **err)
{
	struct pool	*p, *next;
	int		 i;

	for (i = 0; i < cfg->npools; i++) {
		p = pool_find(ps, cfg->pools[i].name);
		if (p != NULL && pool_configure(p, cfg, &cfg->pools[i],
		    err) == -1)
			return -1;
		if (p == NULL) {
			if ((p = pool_new(ps->d, cfg, &cfg->pools[i], err)) ==
			    NULL)
				return -1;
			TAILQ_INSERT_TAIL(&ps->list, p, entry);
			log_info("pool %s: added", p->name);
		}
		pool_refill(p);
	}
	for (p = TAILQ_FIRST(&ps->list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (!p->draining && config_pool_find((struct config *)cfg,
		    p->name) == NULL) {
			log_info("pool %s: removed from the configuration; "
			    "draining", p->name);
			pool_drain(p, "removed from the configuration", false);
		}
	}
	return 0;
}

void
pools_shutdown(struct pools *ps, bool keep_ready)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry)
		pool_drain(p, "sandboxd is shutting down", keep_ready);
}

unsigned
pools_sandboxes(struct pools *ps)
{
	struct pool	*p;
	unsigned	 n = 0;

	TAILQ_FOREACH(p, &ps->list, entry)
		n += p->nready + p->nstarting;
	return n;
}

unsigned
pools_busy(struct pools *ps)
{
	struct pool	*p;
	unsigned	 n = 0;

	TAILQ_FOREACH(p, &ps->list, entry)
		n += p->nstarting;
	return n;
}

struct pool *
pool_find(struct pools *ps, const char *name)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry) {
		if (!p->draining && strcmp(p->name, name) == 0)
			return p;
	}
	return NULL;
}

struct pool *
pool_default(struct pools *ps)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry) {
		if (!p->draining && p->is_default)
			return p;
	}
	return NULL;
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
		pool_refill(p);
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
	pool_refill(p);
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
	pool_refill(p);
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

json_t *
pool_to_json(const struct pool *p)
{
	json_t	*o;

	o = json_pack("{s:s, s:b, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:f, s:I, s:I, s:I, s:s?, s:I}",
	    "name", p->name,
	    "default", p->is_default,
	    "image", p->ps.image,
	    "target", (json_int_t)p->target,
	    "ready", (json_int_t)p->nready,
	    "starting", (json_int_t)p->nstarting,
	    "leased", (json_int_t)p->nleased,
	    "waiting", (json_int_t)p->nwaiting,
	    "max", (json_int_t)p->max,
	    "claims", (json_int_t)p->claims,
	    "hits", (json_int_t)p->hits,
	    "misses", (json_int_t)p->misses,
	    "hit_rate", p->claims ? (double)p->hits / p->claims : 0.0,
	    "cold_start_p50_ms", (json_int_t)(p->ncold ? cold_median(p) : 0),
	    "starts", (json_int_t)p->nstarts,
	    "start_failures", (json_int_t)p->nfailed,
	    "last_error", p->last_error,
	    "backoff_ms", (json_int_t)(p->backoff_until > now_mono_ms() ?
	    p->backoff_until - now_mono_ms() : 0));
	json_object_set_new(o, "warm", p->warm < 0 ? json_string("auto") :
	    json_integer(p->warm));
	json_object_set_new(o, "lifetime_s",
	    json_integer(p->lifetime_ms / 1000));
	return o;
}

json_t *
pools_to_json(struct pools *ps)
{
	json_t		*arr = json_array();
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry) {
		if (!p->draining)
			json_array_append_new(arr, pool_to_json(p));
	}
	return arr;
}

void
pool_count_leased(struct pools *ps, const char *name)
{
	struct pool	*p = pool_find(ps, name);

	if (p != NULL)
		p->nleased++;
}

json_t *
pools_members_json(struct pools *ps)
{
	json_t			*arr = json_array();
	struct pool		*p;
	struct pool_member	*m;
	int64_t			 now = now_mono_ms(), wall = now_wall_ms();

	TAILQ_FOREACH(p, &ps->list, entry) {
		TAILQ_FOREACH(m, &p->ready, entry)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I}",
			    "pool", p->name, "sandbox_id", m->sandbox_id,
			    "expires_ms", (json_int_t)(wall + m->expires - now)));
	}
	return arr;
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

void
pools_adopt_members(struct pools *ps, json_t *members)
{
	json_t		*m;
	struct pool	*p;
	const char	*name, *sid;
	json_int_t	 expires;
	size_t		 i;

	json_array_foreach(members, i, m) {
		if (json_unpack(m, "{s:s, s:s, s:I}", "pool", &name,
		    "sandbox_id", &sid, "expires_ms", &expires) == -1)
			continue;
		if ((p = pool_find(ps, name)) == NULL ||
		    pool_adopt(p, sid, expires - now_wall_ms()) == -1)
			reaper_stop(ps->d->reaper, sid, "not wanted after restart",
			    NULL, NULL);
	}
}

bool
pools_have(struct pools *ps, const char *sandbox_id)
{
	struct pool		*p;
	struct pool_member	*m;

	TAILQ_FOREACH(p, &ps->list, entry) {
		TAILQ_FOREACH(m, &p->ready, entry) {
			if (strcmp(m->sandbox_id, sandbox_id) == 0)
				return true;
		}
	}
	return false;
}

void
pools_forget(struct pools *ps, const char *sandbox_id)
{
	struct pool		*p;
	struct pool_member	*m;

	TAILQ_FOREACH(p, &ps->list, entry) {
		TAILQ_FOREACH(m, &p->ready, entry) {
			if (strcmp(m->sandbox_id, sandbox_id) == 0) {
				TAILQ_REMOVE(&p->ready, m, entry);
				p->nready--;
				member_free(m);
				pool_refill(p);
				return;
			}
		}
	}
}

struct pool *
pools_nth(struct pools *ps, int i)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry) {
		if (!p->draining && i-- == 0)
			return p;
	}
	return NULL;
}

void
pools_refill_all(struct pools *ps)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry)
		pool_refill(p);
}
