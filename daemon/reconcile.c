/* Reconciliation with the gateway; see reconcile.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "reaper.h"
#include "reconcile.h"
#include "starter.h"
#include "used.h"
#include "xmalloc.h"

/* Until a first pass succeeds, failed ones are retried this soon. */
#define FIRST_RETRY_MS	1000

struct reconcile {
	struct daemon	*d;
	struct event	*timer;
	bool		 first_ok;	/* a pass has succeeded */
	bool		 ready_sent;	/* READY=1 after the first pass */
	bool		 running;
	bool		 failing;	/* the last pass failed (logged once) */
	int		 pending;	/* Gets of this pass still out */
	int		 pool_index;
	json_t		*seen;		/* sandbox id → true, this pass */
	json_t		*suspects;	/* strangers from the last pass */
	json_t		*next_suspects;
	json_t		*coming;	/* pool strangers not RUNNING yet */
	bool		 told_coming;
	int64_t		 first_at;	/* monotonic: the first pass began */
	unsigned long	 starts_before;	/* d->starts when the pass began */
	unsigned	 adopted, stopped, lost, dropped;
};

/* A pool member not in the listing, confirmed by a Get. */
struct member_check {
	struct reconcile *r;
	char		*pool;
	char		*sandbox_id;
};

static struct reconcile *
rec_of(struct daemon *d)
{
	return d->reconcile;
}

bool
reconcile_done(struct daemon *d)
{
	return d->reconcile != NULL && d->reconcile->first_ok;
}

bool
reconcile_held(struct daemon *d, const char *sid)
{
	if (lease_holding(d->leases, sid) != NULL)
		return true;
	/* Being stopped (released, expired, dirty): the reaper holds it. */
	return starter_holds(sid) || reaper_has(d->reaper, sid) ||
	    (d->pools != NULL && pools_have(d->pools, sid));
}

/*
 * A stranger must be seen by two passes before we act — unless no pass
 * has succeeded yet and no Start went out since this one began, so
 * nothing unknown can be ours in flight.
 */
static bool
act_on(struct reconcile *r, const char *sid)
{
	json_object_set_new(r->next_suspects, sid, json_true());
	if (!r->first_ok && r->d->starts == r->starts_before)
		return true;
	return json_object_get(r->suspects, sid) != NULL;
}

static void	pass_done(struct reconcile *, const char *failure);
static void	pass_maybe_done(struct reconcile *);

/* A lease whose sandbox was not running upstream: ended, or lost. */
static void
lease_checked(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb)
{
	struct lease		*l = arg;
	struct reconcile	*r = l->d->reconcile;
	char			 why[256];

	/* At exit the calls are cancelled: nothing is lost by that. */
	if (!l->removed && !l->d->stopping &&
	    (err == NULL || err->rpc == RPC_ERR_NOT_FOUND)) {
		if (err == NULL && sb->status == GW_STATUS_RUNNING)
			;	/* it is there after all */
		else if (err == NULL && !gw_status_terminal(sb->status))
			;	/* still coming up or going down: next pass */
		else if (err == NULL && l->kind == LEASE_JOB)
			lease_update(l, sb);	/* the job finished */
		else {
			snprintf(why, sizeof why, "sandbox %s is %s upstream%s%s",
			    l->sandbox_id, err ? "gone" : gw_status_name(
			    sb->status), err == NULL && *sb->status_reason ?
			    ": " : "", err == NULL ? sb->status_reason : "");
			lease_lost(l, why);
			r->lost++;
		}
	}
	lease_unref(l);		/* may free it */
	r->pending--;
	pass_maybe_done(r);
}

static void
check_leases(struct reconcile *r)
{
	struct daemon	*d = r->d;
	struct lease	*l;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (l->sandbox_id == NULL || l->state != LEASE_READY ||
		    json_object_get(r->seen, l->sandbox_id) != NULL)
			continue;
		lease_ref(l);
		r->pending++;
		gw_get(d->gw, l->sandbox_id, lease_checked, l);
	}
}

static void
member_checked(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb)
{
	struct member_check	*m = arg;
	struct reconcile	*r = m->r;

	if (!r->d->stopping && ((err != NULL && err->rpc ==
	    RPC_ERR_NOT_FOUND) || (err == NULL &&
	    gw_status_terminal(sb->status))) &&
	    pools_forget(r->d->pools, m->sandbox_id)) {
		log_warnx("pool %s: warm sandbox %s is %s upstream: dropped, "
		    "the pool refills", m->pool, m->sandbox_id, err != NULL ?
		    "gone" : gw_status_name(sb->status));
		r->dropped++;
	}
	free(m->pool);
	free(m->sandbox_id);
	free(m);
	r->pending--;
	pass_maybe_done(r);
}

/*
 * Ready pool members the listing did not show: a Get decides, since one
 * may have arrived after the List was answered.
 */
static void
check_members(struct reconcile *r)
{
	struct daemon		*d = r->d;
	struct member_check	*m;
	json_t			*all, *e;
	const char		*sid;
	size_t			 i;

	if (d->pools == NULL)
		return;
	all = pools_members_json(d->pools);
	json_array_foreach(all, i, e) {
		sid = json_string_value(json_object_get(e, "sandbox_id"));
		if (json_object_get(r->seen, sid) != NULL)
			continue;
		m = xcalloc(1, sizeof *m);
		m->r = r;
		m->pool = xstrdup(json_string_value(json_object_get(e,
		    "pool")));
		m->sandbox_id = xstrdup(sid);
		r->pending++;
		gw_get(d->gw, sid, member_checked, m);
	}
	json_decref(all);
}

/* Everything of this instance: strangers are stopped. */
static void
all_listed(void *arg, const struct gw_error *err, const struct gw_sandbox *sb,
    size_t n)
{
	struct reconcile	*r = arg;
	struct daemon		*d = r->d;
	size_t			 i;

	if (d->stopping) {		/* cancelled at exit: act on nothing */
		pass_done(r, NULL);
		return;
	}
	if (err != NULL) {
		pass_done(r, err->message);
		return;
	}
	for (i = 0; i < n; i++) {
		if (gw_status_terminal(sb[i].status))
			continue;
		json_object_set_new(r->seen, sb[i].id, json_true());
		if (reconcile_held(d, sb[i].id) ||
		    json_object_get(r->coming, sb[i].id) != NULL ||
		    !act_on(r, sb[i].id))
			continue;
		log_info("reconcile: stopping %s: ours, but no lease or pool "
		    "holds it", sb[i].id);
		reaper_stop(d->reaper, sb[i].id, "orphan", NULL, NULL);
		r->stopped++;
	}
	r->pending++;		/* until every check is sent */
	check_leases(r);
	check_members(r);
	r->pending--;
	pass_maybe_done(r);
}

static void	next_pool(struct reconcile *);

/* One pool's sandboxes: running strangers join the pool if it has room. */
static void
pool_listed(void *arg, const struct gw_error *err, const struct gw_sandbox *sb,
    size_t n)
{
	struct reconcile	*r = arg;
	struct daemon		*d = r->d;
	struct pool		*p = pools_nth(d->pools, r->pool_index);
	size_t			 i;
	int64_t			 left;

	if (d->stopping) {
		pass_done(r, NULL);
		return;
	}
	/* Without this pool's listing its sandboxes would pass for orphans. */
	if (err != NULL) {
		pass_done(r, err->message);
		return;
	}
	if (p != NULL) {
		for (i = 0; i < n; i++) {
			/*
			 * Held covers starts in flight: never two owners.
			 * After the host went down, what the last run had
			 * handed out may be unrecorded: the instance-wide
			 * listing stops those strangers instead.
			 */
			if (reconcile_held(d, sb[i].id) ||
			    !used_trust_pools(d))
				continue;
			/*
			 * A pool start of our last life, still coming up:
			 * until a first pass is done it is waited for (and
			 * adopted when it runs), not stopped and replaced.
			 */
			if (!r->first_ok && !gw_status_terminal(sb[i].status) &&
			    sb[i].status != GW_STATUS_RUNNING)
				json_object_set_new(r->coming, sb[i].id,
				    json_true());
			if (sb[i].status != GW_STATUS_RUNNING ||
			    !act_on(r, sb[i].id))
				continue;
			left = sb[i].started_at_ms > 0 ? sb[i].started_at_ms +
			    pool_lifetime_ms(p) - now_wall_ms() : 0;
			if (pool_adopt(p, sb[i].id, left) == 0) {
				log_info("reconcile: %s back in pool %s",
				    sb[i].id, pool_name(p));
				r->adopted++;
			}
		}
	}
	r->pool_index++;
	next_pool(r);
}

static void
next_pool(struct reconcile *r)
{
	struct daemon	*d = r->d;
	struct pool	*p = d->pools ? pools_nth(d->pools, r->pool_index) : NULL;
	char		 inst[64], pool[128];
	const char	*tags[2] = { inst, pool };

	snprintf(inst, sizeof inst, "sandboxd-instance:%s", d->instance_id);
	if (p == NULL) {
		gw_list(d->gw, tags, 1, false, all_listed, r);
		return;
	}
	snprintf(pool, sizeof pool, "sandboxd-pool:%s", pool_name(p));
	gw_list(d->gw, tags, 2, false, pool_listed, r);
}

static void
pass_maybe_done(struct reconcile *r)
{
	if (r->running && r->pending == 0)
		pass_done(r, NULL);
}

static void
schedule(struct reconcile *r, int64_t ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

/* A pass failed: say so once, and retry soon until a first one works. */
static void
pass_failed(struct reconcile *r, const char *failure)
{
	int64_t	 ms = r->d->cfg.daemon.reconcile_interval;

	if (!r->first_ok && ms > FIRST_RETRY_MS)
		ms = FIRST_RETRY_MS;
	if (!r->failing)
		log_warnx("reconcile: %s pass failed, nothing adopted or "
		    "stopped; retrying every %lld ms until one succeeds: %s",
		    r->first_ok ? "a" : "the first", (long long)ms, failure);
	r->failing = true;
	if (!r->d->stopping)
		schedule(r, ms);
}

/*
 * Pool sandboxes of our last life still starting: the first pass waits
 * for them (within a start timeout) so the pools adopt rather than
 * start more and stop these.
 */
static bool
wait_for_coming(struct reconcile *r)
{
	size_t	n = json_object_size(r->coming);

	if (r->first_ok || n == 0 || now_mono_ms() - r->first_at >=
	    r->d->cfg.gateway.start_timeout)
		return false;
	if (!r->told_coming)
		log_info("reconcile: %zu pool sandbox(es) of ours still "
		    "starting: adopting them before the pools refill", n);
	r->told_coming = true;
	schedule(r, FIRST_RETRY_MS);
	return true;
}

/* A pass succeeded: its totals, and the first one lets pools fill. */
static void
pass_ok(struct reconcile *r)
{
	bool	first = !r->first_ok;

	if (r->failing)
		log_info("reconcile: listing works again");
	r->failing = false;
	if (wait_for_coming(r))
		return;
	if (first || r->adopted || r->stopped || r->lost || r->dropped)
		log_info("reconcile: %u adopted into pools, %u orphans "
		    "stopped, %u leases lost, %u warm sandboxes gone",
		    r->adopted, r->stopped, r->lost, r->dropped);
	r->first_ok = true;
	if (r->d->stopping)
		return;
	if (first && r->d->pools != NULL)
		pools_refill_all(r->d->pools);
	schedule(r, r->d->cfg.daemon.reconcile_interval);
}

static void
pass_done(struct reconcile *r, const char *failure)
{
	r->running = false;
	json_decref(r->suspects);
	r->suspects = r->next_suspects;
	r->next_suspects = NULL;
	json_decref(r->seen);
	r->seen = NULL;
	if (r->d->stopping)
		return;
	if (failure != NULL)
		pass_failed(r, failure);
	else
		pass_ok(r);
	/*
	 * READY=1 after the first pass even if it failed: the socket serves
	 * (requests fail fast while the gateway is away) and adoption and
	 * orphans wait for the pass that succeeds.
	 */
	if (!r->ready_sent && r->d->notify != NULL) {
		notify_ready(r->d->notify);
		r->ready_sent = true;
	}
}

static void
pass_start(evutil_socket_t fd, short what, void *arg)
{
	struct reconcile	*r = arg;

	if (r->running || r->d->stopping)
		return;
	r->running = true;
	r->starts_before = r->d->starts;
	r->pool_index = 0;
	r->pending = 0;
	r->adopted = r->stopped = r->lost = r->dropped = 0;
	r->seen = json_object();
	r->next_suspects = json_object();
	json_object_clear(r->coming);
	next_pool(r);
}

/* The gateway is back: pools stop backing off, a failing pass retries. */
static void
gateway_back(void *arg)
{
	struct reconcile	*r = arg;

	if (r->d->stopping)
		return;
	if (r->d->pools != NULL)
		pools_gateway_back(r->d->pools);
	if (r->failing && !r->running) {
		evtimer_del(r->timer);
		pass_start(-1, 0, r);
	}
}

void
reconcile_start(struct daemon *d)
{
	struct reconcile	*r = xcalloc(1, sizeof *r);

	r->d = d;
	r->suspects = json_object();
	r->coming = json_object();
	r->first_at = now_mono_ms();
	r->timer = evtimer_new(d->base, pass_start, r);
	d->reconcile = r;
	gw_set_on_up(d->gw, gateway_back, r);
	pass_start(-1, 0, r);
}

void
reconcile_free(struct daemon *d)
{
	struct reconcile	*r = rec_of(d);

	if (r == NULL)
		return;
	event_free(r->timer);
	json_decref(r->seen);
	json_decref(r->suspects);
	json_decref(r->next_suspects);
	json_decref(r->coming);
	free(r);
	d->reconcile = NULL;
}
