/* Budgets and sandbox-second accounting; see budget.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "rpc.h"
#include "state.h"
#include "statefile.h"
#include "xmalloc.h"

#define MAX_RECORDS	4096	/* per user; older ones are merged */
#define ENFORCE_MS	1000	/* running leases checked against budgets */
#define WARN_BEFORE_MS	30000	/* lease.expiring this long before */

/* A finished lease: `ms` of sandbox time that ended at `end_ms`. */
struct charge {
	int64_t	end_ms;
	int64_t	ms;
};

struct account {
	uid_t		 uid;
	struct charge	*c;
	size_t		 n, cap;
	int64_t		 total_ms;	/* ever, for reports */
};

struct budget {
	struct daemon	*d;
	struct account	*acct;
	size_t		 nacct;
	json_t		*pools;		/* name → ms charged */
	char		*legacy;	/* accounting.json of older daemons */
	bool		 legacy_gone;
	struct event	*enforce;
};

int64_t
budget_overlap_ms(int64_t start_ms, int64_t end_ms, int64_t from_ms,
    int64_t to_ms)
{
	if (start_ms < from_ms)
		start_ms = from_ms;
	if (end_ms > to_ms)
		end_ms = to_ms;
	return end_ms > start_ms ? end_ms - start_ms : 0;
}

static struct account *
account_of(struct budget *b, uid_t uid, bool create)
{
	size_t	i;

	for (i = 0; i < b->nacct; i++) {
		if (b->acct[i].uid == uid)
			return &b->acct[i];
	}
	if (!create)
		return NULL;
	b->acct = xreallocarray(b->acct, b->nacct + 1, sizeof *b->acct);
	memset(&b->acct[b->nacct], 0, sizeof b->acct[0]);
	b->acct[b->nacct].uid = uid;
	return &b->acct[b->nacct++];
}

/* The longest window any budget counts over: older charges can go. */
static int64_t
widest_window(const struct config *cfg)
{
	int64_t	w = cfg->budget.window;
	int	i;

	for (i = 0; i < cfg->nuser_budgets; i++)
		if (cfg->user_budgets[i].window > w)
			w = cfg->user_budgets[i].window;
	for (i = 0; i < cfg->ngroup_budgets; i++)
		if (cfg->group_budgets[i].window > w)
			w = cfg->group_budgets[i].window;
	return w;
}

/* Drops charges that left every window we could be asked about. */
static void
account_prune(struct account *a, int64_t horizon_ms)
{
	size_t	i, j = 0;

	for (i = 0; i < a->n; i++) {
		if (a->c[i].end_ms > horizon_ms)
			a->c[j++] = a->c[i];
	}
	a->n = j;
}

static void
account_add(struct account *a, int64_t end_ms, int64_t ms)
{
	if (a->n == MAX_RECORDS) {		/* merge the two oldest */
		a->c[1].ms += a->c[0].ms;
		memmove(a->c, a->c + 1, --a->n * sizeof *a->c);
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->c = xreallocarray(a->c, a->cap, sizeof *a->c);
	}
	a->c[a->n++] = (struct charge){ end_ms, ms };
	a->total_ms += ms;
}

json_t *
budget_to_json(struct budget *b)
{
	json_t	*users = json_array(), *cs;
	size_t	 i, j;

	for (i = 0; i < b->nacct; i++) {
		cs = json_array();
		for (j = 0; j < b->acct[i].n; j++)
			json_array_append_new(cs, json_pack("[I, I]",
			    (json_int_t)b->acct[i].c[j].end_ms,
			    (json_int_t)b->acct[i].c[j].ms));
		json_array_append_new(users, json_pack("{s:i, s:I, s:o}",
		    "uid", (int)b->acct[i].uid,
		    "total_ms", (json_int_t)b->acct[i].total_ms,
		    "charges", cs));
	}
	return json_pack("{s:i, s:o, s:o}", "version", 1, "users", users,
	    "pools", json_deep_copy(b->pools));
}

static void
budget_reset(struct budget *b)
{
	size_t	i;

	for (i = 0; i < b->nacct; i++)
		free(b->acct[i].c);
	free(b->acct);
	b->acct = NULL;
	b->nacct = 0;
	json_object_clear(b->pools);
}

void
budget_restore(struct budget *b, const json_t *o)
{
	json_t		*u, *c;
	size_t		 i, j;
	struct account	*a;

	budget_reset(b);
	json_array_foreach(json_object_get(o, "users"), i, u) {
		if (!json_is_integer(json_object_get(u, "uid")))
			continue;
		a = account_of(b, (uid_t)json_integer_value(json_object_get(u,
		    "uid")), true);
		json_array_foreach(json_object_get(u, "charges"), j, c)
			account_add(a, json_integer_value(json_array_get(c, 0)),
			    json_integer_value(json_array_get(c, 1)));
		a->total_ms = json_integer_value(json_object_get(u,
		    "total_ms"));
	}
	if (json_is_object(json_object_get(o, "pools")))
		json_object_update(b->pools, json_object_get(o, "pools"));
}

/* Older daemons kept accounting apart; it is read once, then merged. */
static void
budget_load_legacy(struct budget *b)
{
	json_t	*o;
	char	*err = NULL;

	if ((o = statefile_read(b->legacy, &err)) == NULL) {
		if (err != NULL) {
			log_warnx("accounting: %s", err);
			free(err);
		}
		b->legacy_gone = err == NULL;
		return;
	}
	budget_restore(b, o);
	json_decref(o);
}

void
budget_state_saved(struct budget *b)
{
	if (b->legacy_gone)
		return;
	if (unlink(b->legacy) == -1 && errno != ENOENT)
		log_warn("unlink %s", b->legacy);
	b->legacy_gone = true;
}

static void	budget_enforce(evutil_socket_t, short, void *);

struct budget *
budget_new(struct daemon *d)
{
	struct budget	*b = xcalloc(1, sizeof *b);
	struct timeval	 tv = { ENFORCE_MS / 1000, (ENFORCE_MS % 1000) * 1000 };

	b->d = d;
	b->pools = json_object();
	b->legacy = xasprintf("%s/accounting.json", d->state_dir);
	budget_load_legacy(b);
	b->enforce = event_new(d->base, -1, EV_PERSIST, budget_enforce, b);
	evtimer_add(b->enforce, &tv);
	return b;
}

void
budget_free(struct budget *b)
{
	if (b == NULL)
		return;
	event_free(b->enforce);
	budget_reset(b);
	json_decref(b->pools);
	free(b->legacy);
	free(b);
}

/* Is the user in the group (primary or supplementary, per the user db)? */
static bool
in_group(const char *user, gid_t gid, const char *group)
{
	struct group	*gr;
	gid_t		 groups[256];
	int		 n = 256, i;

	if ((gr = getgrnam(group)) == NULL)
		return false;
	if (gr->gr_gid == gid)
		return true;
	if (getgrouplist(user, gid, groups, &n) == -1)
		n = 256;
	for (i = 0; i < n; i++) {
		if (groups[i] == gr->gr_gid)
			return true;
	}
	return false;
}

/*
 * The owner's groups come from the user database, never from whoever
 * asks: a lease is judged by the same policy at acquire, at renew (by its
 * owner or an admin) and while it runs.
 */
const struct config_budget *
budget_policy(struct daemon *d, uid_t uid)
{
	struct config	*cfg = &d->cfg;
	struct passwd	*pw;
	char		 name[256];
	gid_t		 gid;
	int		 i;

	/* Name lookups read /etc/passwd: only when a section needs them. */
	if (cfg->nuser_budgets == 0 && cfg->ngroup_budgets == 0)
		return &cfg->budget;
	if ((pw = getpwuid(uid)) == NULL)
		return &cfg->budget;
	for (i = 0; i < cfg->nuser_budgets; i++) {
		if (strcmp(cfg->user_budgets[i].name, pw->pw_name) == 0)
			return &cfg->user_budgets[i];
	}
	/* getgrnam may reuse getpwuid's buffer: keep what we need. */
	snprintf(name, sizeof name, "%s", pw->pw_name);
	gid = pw->pw_gid;
	for (i = 0; i < cfg->ngroup_budgets; i++) {
		if (in_group(name, gid, cfg->group_budgets[i].name))
			return &cfg->group_budgets[i];
	}
	return &cfg->budget;
}

/*
 * Sandbox time of `uid` (every user: (uid_t)-1) that falls inside the
 * last `window_ms`: only each charge's overlap with the window counts, so
 * a lease counts the same running or finished.
 */
static int64_t
used_ms(struct daemon *d, uid_t uid, int64_t window_ms)
{
	struct budget	*b = d->budget;
	int64_t		 now = now_wall_ms(), from = now - window_ms, ms = 0;
	int64_t		 horizon = now - widest_window(&d->cfg);
	struct account	*a;
	struct lease	*l;
	size_t		 i, j;

	for (i = 0; i < b->nacct; i++) {
		a = &b->acct[i];
		if (uid != (uid_t)-1 && a->uid != uid)
			continue;
		account_prune(a, horizon);
		for (j = 0; j < a->n; j++)
			ms += budget_overlap_ms(a->c[j].end_ms - a->c[j].ms,
			    a->c[j].end_ms, from, now);
	}
	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if ((uid != (uid_t)-1 && l->owner_uid != uid) ||
		    l->ready_ms == 0)
			continue;
		ms += budget_overlap_ms(l->ready_ms, now, from, now);
	}
	return ms;
}

/* Rounded: a lease stopped at its budget's end by a timer a millisecond
 * early has still used it all. */
int64_t
budget_used_s(struct daemon *d, uid_t uid, int64_t window_ms)
{
	return (used_ms(d, uid, window_ms) + 500) / 1000;
}

/* Sandboxes the host holds: leased, warm, starting. */
static int64_t
host_sandboxes(struct daemon *d)
{
	return lease_count(d->leases) + (d->pools ? pools_sandboxes(d->pools) :
	    0);
}

static unsigned
leases_of(struct daemon *d, uid_t uid)
{
	struct lease	*l;
	unsigned	 n = 0;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l))
		n += l->owner_uid == uid;
	return n;
}

/* Answers budget_exceeded with what was crossed. */
static int
refuse(struct rpc_req *req, const char *budget, int64_t limit, int64_t used,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
refuse(struct rpc_req *req, const char *budget, int64_t limit, int64_t used,
    const char *fmt, ...)
{
	va_list	ap;
	char	msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	rpc_fail(req, RPC_ERR_BUDGET_EXCEEDED, json_pack("{s:s, s:I, s:I}",
	    "budget", budget, "limit", (json_int_t)limit, "used",
	    (json_int_t)used), "%s", msg);
	return -1;
}

/*
 * What is left of the user's sandbox-seconds: a deadline further than
 * that is brought in (*why says so); none left (rounded) refuses.
 */
static int
fit_sandbox_seconds(struct rpc_req *req, const struct config_budget *p,
    uid_t uid, int64_t *ttl_ms, const char **why)
{
	int64_t	used, left;

	if (p->sandbox_seconds <= 0)
		return 0;
	used = used_ms(req->d, uid, p->window);
	left = p->sandbox_seconds * 1000 - used;
	if (left <= 500)	/* used, as budget_used_s rounds it */
		return refuse(req, "sandbox_seconds", p->sandbox_seconds,
		    (used + 500) / 1000, "%lld of %lld sandbox-seconds used in "
		    "the last %llds", (long long)((used + 500) / 1000),
		    (long long)p->sandbox_seconds,
		    (long long)(p->window / 1000));
	if (*ttl_ms > left) {
		*ttl_ms = left;
		*why = "sandbox_seconds";
	}
	return 0;
}

int
budget_check_acquire(struct rpc_req *req, int64_t *ttl_ms, const char **why)
{
	struct daemon			*d = req->d;
	const struct config_budget	*p = budget_policy(d, req->peer.uid);
	int64_t				 n, ttl = *ttl_ms;

	*why = "ttl";
	if (p->max_lifetime > 0 && p->max_lifetime < p->max_lease_ttl &&
	    ttl > p->max_lifetime)
		return refuse(req, "max_lifetime", p->max_lifetime / 1000,
		    ttl / 1000, "a ttl of %llds exceeds max_lifetime, the "
		    "longest a sandbox may live (%llds)",
		    (long long)(ttl / 1000), (long long)(p->max_lifetime / 1000));
	if (ttl > p->max_lease_ttl)
		return refuse(req, "max_lease_ttl", p->max_lease_ttl / 1000,
		    ttl / 1000, "a ttl of %llds exceeds max_lease_ttl (%llds)",
		    (long long)(ttl / 1000),
		    (long long)(p->max_lease_ttl / 1000));
	if (d->cfg.budget.max_sandboxes > 0 &&
	    (n = host_sandboxes(d)) >= d->cfg.budget.max_sandboxes)
		return refuse(req, "max_sandboxes",
		    d->cfg.budget.max_sandboxes, n, "this host already holds "
		    "%lld sandboxes (limit %lld)", (long long)n,
		    (long long)d->cfg.budget.max_sandboxes);
	if (p->max_leases > 0 &&
	    (n = leases_of(d, req->peer.uid)) >= p->max_leases)
		return refuse(req, "max_leases", p->max_leases, n, "you hold %lld "
		    "leases (limit %lld)", (long long)n,
		    (long long)p->max_leases);
	return fit_sandbox_seconds(req, p, req->peer.uid, ttl_ms, why);
}

int
budget_check_renew(struct rpc_req *req, struct lease *l, int64_t *ttl_ms,
    const char **why)
{
	const struct config_budget	*p = budget_policy(req->d, l->owner_uid);
	int64_t				 now = now_wall_ms(), end = now + *ttl_ms;
	int64_t				 life_end = l->sandbox_end_ms;

	*why = "ttl";
	if (end - l->ready_ms > p->max_lease_ttl)
		return refuse(req, "max_lease_ttl", p->max_lease_ttl / 1000,
		    (end - l->ready_ms) / 1000, "a lease may last %llds in "
		    "all; this renewal would make it %llds",
		    (long long)(p->max_lease_ttl / 1000),
		    (long long)((end - l->ready_ms) / 1000));
	/* Its sandbox's end, or the owner's max_lifetime, whichever first. */
	if (p->max_lifetime > 0 && (life_end == 0 ||
	    l->ready_ms + p->max_lifetime < life_end))
		life_end = l->ready_ms + p->max_lifetime;
	if (life_end > 0 && end > life_end)
		return refuse(req, "max_lifetime", (life_end - l->ready_ms) /
		    1000, (end - l->ready_ms) / 1000, "the sandbox's "
		    "max_lifetime ends in %llds; a lease cannot outlive it",
		    (long long)((life_end - now) / 1000));
	return fit_sandbox_seconds(req, p, l->owner_uid, ttl_ms, why);
}

/* Is any sandbox-second budget set?  Most hosts have none. */
static bool
any_sandbox_seconds(const struct config *cfg)
{
	int	i;

	if (cfg->budget.sandbox_seconds > 0)
		return true;
	for (i = 0; i < cfg->nuser_budgets; i++)
		if (cfg->user_budgets[i].sandbox_seconds > 0)
			return true;
	for (i = 0; i < cfg->ngroup_budgets; i++)
		if (cfg->group_budgets[i].sandbox_seconds > 0)
			return true;
	return false;
}

/* One owner of running leases, for one enforcement turn. */
struct owner {
	uid_t		uid;
	unsigned	n;		/* running leases */
	bool		limited;
	int64_t		left_ms;	/* of its sandbox-seconds */
};

static struct owner *
owner_of(struct owner *o, size_t n, uid_t uid)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (o[i].uid == uid)
			return &o[i];
	return NULL;
}

/* Owners of running leases and what is left of their budgets. */
static struct owner *
owners_left(struct daemon *d, size_t *nowners)
{
	const struct config_budget	*p;
	struct owner			*o = NULL, *w;
	struct lease			*l;
	size_t				 n = 0, i;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (l->state != LEASE_READY || l->ready_ms == 0)
			continue;
		if ((w = owner_of(o, n, l->owner_uid)) == NULL) {
			o = xreallocarray(o, n + 1, sizeof *o);
			w = &o[n++];
			memset(w, 0, sizeof *w);
			w->uid = l->owner_uid;
		}
		w->n++;
	}
	for (i = 0; i < n; i++) {
		p = budget_policy(d, o[i].uid);
		if ((o[i].limited = p->sandbox_seconds > 0))
			o[i].left_ms = p->sandbox_seconds * 1000 -
			    used_ms(d, o[i].uid, p->window);
	}
	*nowners = n;
	return o;
}

/*
 * Running leases against their owners' sandbox-seconds: told some
 * seconds before the budget runs out (at the rate they use it now), and
 * expired once it has.
 */
static void
budget_enforce(evutil_socket_t fd, short what, void *arg)
{
	struct budget	*b = arg;
	struct daemon	*d = b->d;
	struct owner	*o, *w;
	struct lease	*l, *next;
	int64_t		 now = now_wall_ms(), at;
	size_t		 n;

	if (!any_sandbox_seconds(&d->cfg))
		return;
	o = owners_left(d, &n);
	for (l = lease_first(d->leases); l != NULL; l = next) {
		next = lease_next(l);
		if (l->state != LEASE_READY || l->ready_ms == 0 ||
		    (w = owner_of(o, n, l->owner_uid)) == NULL || !w->limited)
			continue;
		if (w->left_ms <= 0) {
			lease_expire(l, "sandbox_seconds");
			continue;
		}
		at = now + w->left_ms / w->n;
		/* (a deadline already set by the budget has its own warning) */
		if (!l->budget_warned && at < l->expires_ms - 1000 &&
		    at - now <= WARN_BEFORE_MS) {
			l->budget_warned = true;
			lease_warn(l, "sandbox_seconds", at);
		}
	}
	free(o);
}

void
budget_charge_span(struct budget *b, uid_t uid, int64_t from_ms,
    int64_t to_ms)
{
	if (from_ms <= 0 || to_ms <= from_ms)
		return;
	account_add(account_of(b, uid, true), to_ms, to_ms - from_ms);
	state_dirty(b->d);
}

void
budget_charge(struct budget *b, uid_t uid, int64_t since_ms)
{
	budget_charge_span(b, uid, since_ms, now_wall_ms());
}

void
budget_charge_pool(struct budget *b, const char *pool, int64_t ms)
{
	json_t	*v = json_object_get(b->pools, pool);

	if (ms <= 0)
		return;
	json_object_set_new(b->pools, pool, json_integer((v ?
	    json_integer_value(v) : 0) + ms));
	state_dirty(b->d);
}

json_t *
budget_user_json(struct daemon *d, uid_t uid)
{
	const struct config_budget	*p = budget_policy(d, uid);
	struct passwd			*pw = getpwuid(uid);

	return json_pack("{s:i, s:s?, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:i, s:I}}",
	    "uid", (int)uid, "user", pw ? pw->pw_name : NULL,
	    "limits",
	    "max_leases", (json_int_t)p->max_leases,
	    "max_lease_ttl_s", (json_int_t)(p->max_lease_ttl / 1000),
	    "default_lease_ttl_s", (json_int_t)(p->default_lease_ttl / 1000),
	    "max_lifetime_s", (json_int_t)(p->max_lifetime / 1000),
	    "sandbox_seconds", (json_int_t)p->sandbox_seconds,
	    "window_s", (json_int_t)(p->window / 1000),
	    "max_sandboxes", (json_int_t)d->cfg.budget.max_sandboxes,
	    "used",
	    "leases", (int)leases_of(d, uid),
	    "sandbox_seconds", (json_int_t)budget_used_s(d, uid, p->window));
}

/* Pool charges in whole seconds. */
static json_t *
pool_seconds(struct budget *b, int64_t *total)
{
	json_t		*pools = json_object(), *v;
	const char	*k;

	*total = 0;
	json_object_foreach(b->pools, k, v) {
		json_object_set_new(pools, k, json_integer(
		    json_integer_value(v) / 1000));
		*total += json_integer_value(v);
	}
	*total /= 1000;
	return pools;
}

json_t *
budget_all_json(struct daemon *d)
{
	struct budget	*b = d->budget;
	json_t		*users = json_array(), *pools;
	struct lease	*l, *m;
	int64_t		 total;
	size_t		 i;

	for (i = 0; i < b->nacct; i++)
		json_array_append_new(users, budget_user_json(d,
		    b->acct[i].uid));
	/* Holders of leases with nothing charged yet: once each. */
	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (account_of(b, l->owner_uid, false) != NULL)
			continue;
		for (m = lease_first(d->leases); m != l; m = lease_next(m))
			if (m->owner_uid == l->owner_uid)
				break;
		if (m == l)
			json_array_append_new(users, budget_user_json(d,
			    l->owner_uid));
	}
	pools = pool_seconds(b, &total);
	return json_pack("{s:o, s:o, s:I}", "users", users,
	    "pool_sandbox_seconds", pools,
	    "host_sandboxes", (json_int_t)host_sandboxes(d));
}

json_t *
budget_host_json(struct daemon *d)
{
	int64_t	pool_s;
	json_t	*pools = pool_seconds(d->budget, &pool_s);

	return json_pack("{s:I, s:I, s:I, s:o, s:I, s:I}",
	    "window_s", (json_int_t)(d->cfg.budget.window / 1000),
	    "sandbox_seconds", (json_int_t)budget_used_s(d, (uid_t)-1,
	    d->cfg.budget.window),
	    "pool_sandbox_seconds", (json_int_t)pool_s,
	    "pools", pools,
	    "sandboxes", (json_int_t)host_sandboxes(d),
	    "max_sandboxes", (json_int_t)d->cfg.budget.max_sandboxes);
}
