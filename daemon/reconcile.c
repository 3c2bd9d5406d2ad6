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
#include "xmalloc.h"

struct reconcile {
	struct daemon	*d;
	struct event	*timer;
	bool		 first_done;
	bool		 running;
	int		 pending;	/* List calls of this pass */
	int		 pool_index;
	json_t		*seen;		/* sandbox id → true, this pass */
	json_t		*suspects;	/* strangers from the last pass */
	json_t		*next_suspects;
	unsigned long	 starts_before;	/* d->starts when the pass began */
	unsigned	 adopted, stopped, lost;
};

static struct reconcile *
rec_of(struct daemon *d)
{
	return d->reconcile;
}

bool
reconcile_done(struct daemon *d)
{
	return d->reconcile != NULL && d->reconcile->first_done;
}

static bool
held(struct daemon *d, const char *sid)
{
	struct lease	*l;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (l->sandbox_id != NULL && strcmp(l->sandbox_id, sid) == 0)
			return true;
	}
	return d->pools != NULL && pools_have(d->pools, sid);
}

/*
 * A stranger must be seen by two passes before we act — unless this is
 * the start-up pass and no Start went out since it began, so nothing
 * unknown can be ours in flight.
 */
static bool
act_on(struct reconcile *r, const char *sid)
{
	json_object_set_new(r->next_suspects, sid, json_true());
	if (!r->first_done && r->d->starts == r->starts_before)
		return true;
	return json_object_get(r->suspects, sid) != NULL;
}

/* A lease whose sandbox was not running upstream: ended, or lost. */
static void
lease_checked(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb)
{
	struct lease	*l = arg;
	char		 why[256];

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
			l->d->reconcile->lost++;
		}
	}
	lease_unref(l);
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
		gw_get(d->gw, l->sandbox_id, lease_checked, l);
	}
}

static void	pass_done(struct reconcile *);

/* Everything of this instance: strangers are stopped. */
static void
all_listed(void *arg, const struct gw_error *err, const struct gw_sandbox *sb,
    size_t n)
{
	struct reconcile	*r = arg;
	struct daemon		*d = r->d;
	size_t			 i;

	if (d->stopping) {		/* cancelled at exit: act on nothing */
		pass_done(r);
		return;
	}
	if (err != NULL) {
		log_warnx("reconcile: cannot list our sandboxes: %s",
		    err->message);
		pass_done(r);
		return;
	}
	for (i = 0; i < n; i++) {
		if (gw_status_terminal(sb[i].status))
			continue;
		json_object_set_new(r->seen, sb[i].id, json_true());
		if (held(d, sb[i].id) || !act_on(r, sb[i].id))
			continue;
		log_info("reconcile: stopping %s: ours, but no lease or pool "
		    "holds it", sb[i].id);
		reaper_stop(d->reaper, sb[i].id, "orphan", NULL, NULL);
		r->stopped++;
	}
	check_leases(r);
	pass_done(r);
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
		pass_done(r);
		return;
	}
	if (err == NULL && p != NULL) {
		for (i = 0; i < n; i++) {
			if (sb[i].status != GW_STATUS_RUNNING ||
			    held(d, sb[i].id) || !act_on(r, sb[i].id))
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
pass_done(struct reconcile *r)
{
	int64_t		ms = r->d->cfg.daemon.reconcile_interval;
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };
	bool		first = !r->first_done;

	r->running = false;
	json_decref(r->suspects);
	r->suspects = r->next_suspects;
	r->next_suspects = NULL;
	json_decref(r->seen);
	r->seen = NULL;
	if (first || r->adopted || r->stopped || r->lost)
		log_info("reconcile: %u adopted into pools, %u orphans "
		    "stopped, %u leases lost", r->adopted, r->stopped, r->lost);
	r->first_done = true;
	if (r->d->stopping)
		return;
	if (first && r->d->notify != NULL)
		notify_ready(r->d->notify);	/* the state is reconciled */
	if (first && r->d->pools != NULL)
		pools_refill_all(r->d->pools);
	evtimer_add(r->timer, &tv);
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
	r->adopted = r->stopped = r->lost = 0;
	r->seen = json_object();
	r->next_suspects = json_object();
	next_pool(r);
}

void
reconcile_start(struct daemon *d)
{
	struct reconcile	*r = xcalloc(1, sizeof *r);

	r->d = d;
	r->suspects = json_object();
	r->timer = evtimer_new(d->base, pass_start, r);
	d->reconcile = r;
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
	free(r);
	d->reconcile = NULL;
}
