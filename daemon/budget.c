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
#include "statefile.h"
#include "xmalloc.h"

#define SAVE_DELAY_MS	1000
#define MAX_RECORDS	4096	/* per user; older ones are merged */

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
	char		*path;
	struct event	*save;
	bool		 dirty;
};

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

/* Drops charges that left every window we could be asked about. */
static void
account_prune(struct account *a, int64_t horizon_ms)
{
	size_t	i, j = 0;

	for (i = 0; i < a->n; i++) {
		if (a->c[i].end_ms >= horizon_ms)
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

static json_t *
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
	return json_pack("{s:i, s:o, s:O}", "version", 1, "users", users,
	    "pools", b->pools);
}

static void
budget_save(evutil_socket_t fd, short what, void *arg)
{
	struct budget	*b = arg;
	json_t		*o;
	char		*err = NULL;

	if (!b->dirty)
		return;
	o = budget_to_json(b);
	if (statefile_write(b->path, o, &err) == -1) {
		log_warnx("accounting not saved: %s", err);
		free(err);
	} else
		b->dirty = false;
	json_decref(o);
}

/* Coalesces a burst of charges into one write. */
static void
budget_dirty(struct budget *b)
{
	struct timeval	tv = { SAVE_DELAY_MS / 1000, 0 };

	b->dirty = true;
	if (!evtimer_pending(b->save, NULL))
		evtimer_add(b->save, &tv);
}

static void
budget_load(struct budget *b)
{
	json_t		*o, *u, *c;
	char		*err = NULL;
	size_t		 i, j;
	struct account	*a;

	if ((o = statefile_read(b->path, &err)) == NULL) {
		if (err != NULL) {
			log_warnx("accounting: %s", err);
			free(err);
		}
		return;
	}
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
	json_decref(o);
}

struct budget *
budget_new(struct daemon *d)
{
	struct budget	*b = xcalloc(1, sizeof *b);

	b->d = d;
	b->pools = json_object();
	b->path = xasprintf("%s/accounting.json", d->state_dir);
	b->save = evtimer_new(d->base, budget_save, b);
	budget_load(b);
	return b;
}

void
budget_free(struct budget *b)
{
	size_t	i;

	if (b == NULL)
		return;
	budget_save(-1, 0, b);
	event_free(b->save);
	for (i = 0; i < b->nacct; i++)
		free(b->acct[i].c);
	free(b->acct);
	json_decref(b->pools);
	free(b->path);
	free(b);
}

/* Is the user in the group (primary or supplementary)? */
static bool
in_group(uid_t uid, gid_t gid, const char *group)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 groups[256];
	int		 n = 256, i;

	if ((gr = getgrnam(group)) == NULL)
		return false;
	if (gr->gr_gid == gid)
		return true;
	if ((pw = getpwuid(uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		n = 256;
	for (i = 0; i < n; i++) {
		if (groups[i] == gr->gr_gid)
			return true;
	}
	return false;
}

const struct config_budget *
budget_policy(struct daemon *d, uid_t uid, gid_t gid)
{
	struct config	*cfg = &d->cfg;
	struct passwd	*pw;
	int		 i;

	/* Name lookups read /etc/passwd: only when a section needs them. */
	pw = cfg->nuser_budgets > 0 ? getpwuid(uid) : NULL;
	for (i = 0; pw != NULL && i < cfg->nuser_budgets; i++) {
		if (strcmp(cfg->user_budgets[i].name, pw->pw_name) == 0)
			return &cfg->user_budgets[i];
	}
	for (i = 0; i < cfg->ngroup_budgets; i++) {
		if (in_group(uid, gid, cfg->group_budgets[i].name))
			return &cfg->group_budgets[i];
	}
	return &cfg->budget;
}

int64_t
budget_used_s(struct daemon *d, uid_t uid, int64_t window_ms)
{
	struct account	*a = account_of(d->budget, uid, false);
	int64_t		 now = now_wall_ms(), ms = 0, from;
	struct lease	*l;
	size_t		 i;

	if (a != NULL) {
		account_prune(a, now - 31LL * 24 * 3600 * 1000);
		for (i = 0; i < a->n; i++) {
			if (a->c[i].end_ms >= now - window_ms)
				ms += a->c[i].ms;
		}
	}
	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (l->owner_uid != uid || l->ready_ms == 0)
			continue;
		from = l->ready_ms > now - window_ms ? l->ready_ms :
		    now - window_ms;
		ms += now - from;
	}
	return ms / 1000;
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

int
budget_check_acquire(struct rpc_req *req, int64_t ttl_ms)
{
	struct daemon			*d = req->d;
	const struct config_budget	*p = budget_policy(d, req->peer.uid,
					    req->peer.gid);
	int64_t				 n, cap = p->max_lease_ttl;

	if (p->max_lifetime > 0 && p->max_lifetime < cap)
		cap = p->max_lifetime;
	if (ttl_ms > cap)
		return refuse(req, "max_lease_ttl", cap / 1000, ttl_ms / 1000,
		    "a ttl of %llds exceeds the limit of %llds",
		    (long long)(ttl_ms / 1000), (long long)(cap / 1000));
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
	if (p->sandbox_seconds > 0 && (n = budget_used_s(d, req->peer.uid,
	    p->window)) >= p->sandbox_seconds)
		return refuse(req, "sandbox_seconds", p->sandbox_seconds, n,
		    "you used %lld of %lld sandbox-seconds in the last %llds",
		    (long long)n, (long long)p->sandbox_seconds,
		    (long long)(p->window / 1000));
	return 0;
}

int
budget_check_renew(struct rpc_req *req, struct lease *l, int64_t ttl_ms)
{
	struct daemon			*d = req->d;
	const struct config_budget	*p = budget_policy(d, l->owner_uid,
					    req->peer.gid);
	int64_t				 now = now_wall_ms(), end = now + ttl_ms;
	int64_t				 n;

	if (end - l->ready_ms > p->max_lease_ttl)
		return refuse(req, "max_lease_ttl", p->max_lease_ttl / 1000,
		    (end - l->ready_ms) / 1000, "a lease may last %llds in "
		    "all; this renewal would make it %llds",
		    (long long)(p->max_lease_ttl / 1000),
		    (long long)((end - l->ready_ms) / 1000));
	if (l->sandbox_end_ms > 0 && end > l->sandbox_end_ms)
		return refuse(req, "max_lifetime", (l->sandbox_end_ms -
		    l->ready_ms) / 1000, (end - l->ready_ms) / 1000, "the "
		    "sandbox's lifetime ends in %llds; a lease cannot outlive "
		    "it", (long long)((l->sandbox_end_ms - now) / 1000));
	if (p->sandbox_seconds > 0 && (n = budget_used_s(d, l->owner_uid,
	    p->window)) >= p->sandbox_seconds)
		return refuse(req, "sandbox_seconds", p->sandbox_seconds, n,
		    "%lld of %lld sandbox-seconds used in the last %llds",
		    (long long)n, (long long)p->sandbox_seconds,
		    (long long)(p->window / 1000));
	return 0;
}

void
budget_charge(struct budget *b, uid_t uid, int64_t since_ms)
{
	int64_t	now = now_wall_ms();

	if (since_ms <= 0 || now <= since_ms)
		return;
	account_add(account_of(b, uid, true), now, now - since_ms);
	budget_dirty(b);
}

void
budget_charge_pool(struct budget *b, const char *pool, int64_t ms)
{
	json_t	*v = json_object_get(b->pools, pool);

	if (ms <= 0)
		return;
	json_object_set_new(b->pools, pool, json_integer((v ?
	    json_integer_value(v) : 0) + ms));
	budget_dirty(b);
}

static json_t *
user_json(struct daemon *d, uid_t uid, gid_t gid)
{
	const struct config_budget	*p = budget_policy(d, uid, gid);
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

json_t *
budget_user_json(struct daemon *d, uid_t uid, gid_t gid)
{
	return user_json(d, uid, gid);
}

json_t *
budget_all_json(struct daemon *d)
{
	struct budget	*b = d->budget;
	json_t		*users = json_array(), *pools = json_object(), *v;
	struct passwd	*pw;
	struct lease	*l;
	const char	*k;
	size_t		 i;

	for (i = 0; i < b->nacct; i++) {
		pw = getpwuid(b->acct[i].uid);
		json_array_append_new(users, user_json(d, b->acct[i].uid,
		    pw ? pw->pw_gid : (gid_t)-1));
	}
	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (account_of(b, l->owner_uid, false) == NULL) {
			account_of(b, l->owner_uid, true);
			pw = getpwuid(l->owner_uid);
			json_array_append_new(users, user_json(d, l->owner_uid,
			    pw ? pw->pw_gid : (gid_t)-1));
		}
	}
	json_object_foreach(b->pools, k, v)
		json_object_set_new(pools, k, json_integer(
		    json_integer_value(v) / 1000));
	return json_pack("{s:o, s:o, s:I}", "users", users,
	    "pool_sandbox_seconds", pools,
	    "host_sandboxes", (json_int_t)host_sandboxes(d));
}
