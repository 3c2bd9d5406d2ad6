/*
 * The set of warm pools: configuration, reloads, shutdown, reports, and
 * what restarts and reconciliation need; see pool.h.
 */
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "daemon.h"
#include "log.h"
#include "pool-internal.h"
#include "reaper.h"
#include "starter.h"
#include "used.h"
#include "xmalloc.h"

static void	pool_free(struct pool *);

/* Rotation, adaptive targets, refills, and freeing drained pools. */
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

/*
 * Checks a [pool.NAME] section and builds its spec, changing nothing:
 * 0, or -1 with *err (heap) naming the pool and what is wrong.
 */
int
pool_settings_build(struct pool_settings *set, const struct config *cfg,
    const struct config_pool *cp, char **err)
{
	char	*why = NULL;

	memset(set, 0, sizeof *set);
	set->is_default = cp->is_default;
	set->lifetime_ms = cp->max_lifetime > 0 ? cp->max_lifetime :
	    cfg->budget.max_lifetime;
	/*
	 * Given: it must leave the sandbox some life.  Not given: 5m, or
	 * half the lifetime if shorter, so that a fresh sandbox serves at
	 * least half its life before it is rotated out.
	 */
	set->min_remaining_ms = cp->min_remaining;
	if (cp->min_remaining == 0) {
		set->min_remaining_ms = MIN_REMAINING_DEFAULT_MS;
		if (set->min_remaining_ms > set->lifetime_ms / 2)
			set->min_remaining_ms = set->lifetime_ms / 2;
	}
	set->demand_window = cp->demand_window;
	set->warm = cp->warm;
	set->warm_min = cp->warm_min;
	set->warm_max = cp->warm_max;
	set->max = cp->max;
	set->max_starting = cp->max_starting;
	set->start_poll_ms = cp->start_poll;
	if (set->min_remaining_ms >= set->lifetime_ms)
		why = xstrdup("min_remaining must be shorter than the "
		    "sandboxes' lifetime (max_lifetime)");
	else if (set->warm_min > set->warm_max)
		why = xasprintf("warm_min (%lld) is larger than warm_max "
		    "(%lld)", (long long)set->warm_min,
		    (long long)set->warm_max);
	else if (pool_spec_build(&set->ps, cp, &why) == -1)
		;
	else
		return 0;
	*err = xasprintf("pool %s: %s", cp->name, why);
	free(why);
	return -1;
}

/*
 * Takes new settings (the spec is moved in).  Ready sandboxes started
 * from another spec or lifetime are replaced, and those still starting
 * are stopped when they arrive: a changed pool hands out only what it
 * now says.
 */
static void
pool_apply(struct pool *p, struct pool_settings *set)
{
	struct pool_member	*m;
	bool			 changed;

	changed = !pool_spec_equal(&p->ps, &set->ps) ||
	    p->lifetime_ms != set->lifetime_ms;
	pool_spec_free(&p->ps);
	p->ps = set->ps;
	memset(&set->ps, 0, sizeof set->ps);
	if (changed) {
		p->spec_gen++;
		if (p->nready > 0 || p->nstarting > 0)
			log_info("pool %s: spec changed; replacing %u ready and "
			    "%u starting sandbox(es)", p->name, p->nready,
			    p->nstarting);
		while ((m = TAILQ_FIRST(&p->ready)) != NULL)
			member_discard(p, m, "pool spec changed");
	}
	p->is_default = set->is_default;
	p->lifetime_ms = set->lifetime_ms;
	p->min_remaining_ms = set->min_remaining_ms;
	p->demand_window = set->demand_window;
	p->warm = set->warm;		/* a pool.resize ends here */
	p->warm_min = set->warm_min;
	p->warm_max = set->warm_max;
	p->max = set->max;
	p->max_starting = set->max_starting;
	p->start_poll_ms = set->start_poll_ms;
	/* The configuration may have fixed what kept failing. */
	p->failures = 0;
	p->backoff_until = 0;
	pool_retarget(p);
}

static struct pool *
pool_new(struct daemon *d, const char *name, struct pool_settings *set)
{
	struct pool	*p = xcalloc(1, sizeof *p);

	p->d = d;
	p->name = xstrdup(name);
	TAILQ_INIT(&p->ready);
	TAILQ_INIT(&p->waiters);
	TAILQ_INIT(&p->starts);
	p->kick = evtimer_new(d->base, pool_refill_kicked, p);
	pool_apply(p, set);
	return p;
}

/* Every pool's settings, or none: -1 with *err at the first bad one. */
static struct pool_settings *
settings_build_all(const struct config *cfg, char **err)
{
	struct pool_settings	*sets;
	int			 i, j;

	sets = xcalloc((size_t)cfg->npools + 1, sizeof *sets);
	for (i = 0; i < cfg->npools; i++) {
		if (pool_settings_build(&sets[i], cfg, &cfg->pools[i],
		    err) == -1) {
			for (j = 0; j < i; j++)
				pool_spec_free(&sets[j].ps);
			free(sets);
			return NULL;
		}
	}
	return sets;
}

static void
pool_free(struct pool *p)
{
	struct pool_member	*m;

	while ((m = TAILQ_FIRST(&p->ready)) != NULL) {
		TAILQ_REMOVE(&p->ready, m, entry);
		member_free(m);
	}
	event_free(p->kick);
	pool_spec_free(&p->ps);
	free(p->last_error);
	free(p->name);
	free(p);
}

struct pools *
pools_new(struct daemon *d, const struct config *cfg, char **err)
{
	struct pools		*ps;
	struct pool_settings	*sets;
	struct timeval		 tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };
	struct pool		*p;
	int			 i;

	if ((sets = settings_build_all(cfg, err)) == NULL)
		return NULL;
	ps = xcalloc(1, sizeof *ps);
	ps->d = d;
	TAILQ_INIT(&ps->list);
	for (i = 0; i < cfg->npools; i++) {
		p = pool_new(d, cfg->pools[i].name, &sets[i]);
		TAILQ_INSERT_TAIL(&ps->list, p, entry);
	}
	free(sets);
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

/* Every pool is checked before any changes: a bad file changes nothing. */
int
pools_reload(struct pools *ps, const struct config *cfg, char **err)
{
	struct pool_settings	*sets;
	struct pool		*p, *next;
	int			 i;

	if ((sets = settings_build_all(cfg, err)) == NULL)
		return -1;
	for (i = 0; i < cfg->npools; i++) {
		if ((p = pool_find(ps, cfg->pools[i].name)) != NULL)
			pool_apply(p, &sets[i]);
		else {
			p = pool_new(ps->d, cfg->pools[i].name, &sets[i]);
			TAILQ_INSERT_TAIL(&ps->list, p, entry);
			log_info("pool %s: added", p->name);
		}
	}
	free(sets);
	for (p = TAILQ_FIRST(&ps->list); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (!p->draining && config_pool_find((struct config *)cfg,
		    p->name) == NULL) {
			log_info("pool %s: removed from the configuration; "
			    "draining", p->name);
			pool_drain(p, "removed from the configuration", false);
		}
	}
	TAILQ_FOREACH(p, &ps->list, entry)
		if (!p->draining)
			pool_tick_one(p);	/* shrink, rotate, refill: now */
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
	/* Any start cancelled in flight, a pool's or a lease's. */
	return n + starter_orphans();
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
	json_object_set_new(o, "min_remaining_s",
	    json_integer(p->min_remaining_ms / 1000));
	json_object_set_new(o, "max_starting", json_integer(p->max_starting));
	json_object_set_new(o, "start_poll_ms", json_integer(p->start_poll_ms));
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
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, "
			    "s:I}", "pool", p->name, "sandbox_id", m->sandbox_id,
			    "expires_ms", (json_int_t)(wall + m->expires - now),
			    "since_ms", (json_int_t)(wall + m->ready - now)));
	}
	return arr;
}

void
pools_adopt_members(struct pools *ps, json_t *members, bool kept)
{
	json_t		*m;
	struct pool	*p;
	const char	*name, *sid;
	json_int_t	 expires, since = 0;
	size_t		 i;

	json_array_foreach(members, i, m) {
		if (json_unpack(m, "{s:s, s:s, s:I, s?I}", "pool", &name,
		    "sandbox_id", &sid, "expires_ms", &expires, "since_ms",
		    &since) == -1)
			continue;
		/* It ran warm while we were away: the pool pays till now. */
		if (ps->d->budget != NULL && since > 0)
			budget_charge_pool(ps->d->budget, name, now_wall_ms() -
			    since);
		/* Dirty (being stopped), or reconciliation adopts or stops it. */
		if (!kept || reaper_has(ps->d->reaper, sid))
			continue;
		if (!used_trust_pools(ps->d)) {
			reaper_stop(ps->d->reaper, sid, "kept across a host "
			    "crash", NULL, NULL);
			continue;
		}
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

bool
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
				return true;
			}
		}
	}
	return false;
}

void
pools_gateway_back(struct pools *ps)
{
	struct pool	*p;

	TAILQ_FOREACH(p, &ps->list, entry) {
		p->backoff_until = 0;
		pool_refill(p);
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
