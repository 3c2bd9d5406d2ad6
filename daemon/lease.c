/* The lease table, lease ids, TTL expiry; see lease.h. */
#include <sys/syscall.h>

#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "budget.h"
#include "daemon.h"
#include "exec-session.h"
#include "jsonrpc.h"
#include "rpc-server.h"
#include "state.h"
#include "tail.h"
#include "lease.h"
#include "lease-wait.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "reaper.h"
#include "xmalloc.h"

#define TOMBSTONES	1024
#define WARN_BEFORE_MS	30000

/* Ids of leases that ended lately, so late callers hear what happened. */
struct tombstone {
	char		 id[LEASE_ID_LEN + 1];
	enum lease_state state;
	uid_t		 owner;		/* only the owner hears how it ended */
	char		*why;		/* a lost lease's reason, or NULL */
};

/* An expired lease's sandbox being stopped: when did the gateway confirm? */
struct expiry_stop {
	struct lease_table	*t;
	int64_t			 deadline_ms;	/* wall */
	char			 id[LEASE_ID_LEN + 1];
	TAILQ_ENTRY(expiry_stop) entry;
};

struct lease_table {
	struct daemon		*d;
	void			*byid;		/* tsearch root */
	unsigned		 count;
	TAILQ_HEAD(, lease)	 list;
	struct tombstone	 dead[TOMBSTONES];	/* ring */
	unsigned		 ndead;
	void			*deadbyid;	/* tsearch root of dead[] */
	TAILQ_HEAD(, expiry_stop) stopping;
	uint64_t		 expiry_stops;	/* confirmed */
	int64_t			 stop_last_ms, stop_max_ms;	/* after deadline */
};

static void	lease_unbind(struct lease *);
static void	lease_gone_with(struct lease *, const char *);

static int
lease_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lease *)a)->id,
	    ((const struct lease *)b)->id);
}

static int
tombstone_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tombstone *)a)->id,
	    ((const struct tombstone *)b)->id);
}

/* The tree does not own its tombstones: they live in the ring. */
static void
tombstone_keep(void *ts)
{
}

struct lease_table *
lease_table_new(struct daemon *d)
{
	struct lease_table	*t = xcalloc(1, sizeof *t);

	t->d = d;
	TAILQ_INIT(&t->list);
	TAILQ_INIT(&t->stopping);
	return t;
}

/*
 * At exit: the leases live on in the state file, so this only lets go of
 * memory — no charges, no stops, no notifications.
 */
void
lease_table_free(struct lease_table *t)
{
	struct lease		*l;
	struct expiry_stop	*es;
	unsigned		 i;

	if (t == NULL)
		return;
	/* Stops not confirmed by now are the reaper's to report. */
	while ((es = TAILQ_FIRST(&t->stopping)) != NULL) {
		TAILQ_REMOVE(&t->stopping, es, entry);
		free(es);
	}
	while ((l = TAILQ_FIRST(&t->list)) != NULL) {
		TAILQ_REMOVE(&t->list, l, entry);
		tdelete(l, &t->byid, lease_cmp);
		l->removed = true;
		lease_unbind(l);
		lease_unref(l);
	}
	tdestroy(t->deadbyid, tombstone_keep);
	for (i = 0; i < TOMBSTONES; i++)
		free(t->dead[i].why);
	free(t);
}

unsigned
lease_count(struct lease_table *t)
{
	return t->count;
}

struct lease *
lease_first(struct lease_table *t)
{
	return TAILQ_FIRST(&t->list);
}

struct lease *
lease_next(struct lease *l)
{
	return TAILQ_NEXT(l, entry);
}

/* "l-" and 8 characters a person can read out and type. */
static void
lease_make_id(char *id)
{
	static const char	 alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char		 r[8];
	size_t			 i;

	if (getrandom(r, sizeof r, 0) != sizeof r)
		fatal("getrandom");
	id[0] = 'l';
	id[1] = '-';
	for (i = 0; i < sizeof r; i++)
		id[2 + i] = alphabet[r[i] % (sizeof alphabet - 1)];
	id[LEASE_ID_LEN] = '\0';
}

struct lease *
lease_new(struct lease_table *t, uid_t uid, pid_t pid, enum lease_kind kind)
{
	char	id[LEASE_ID_LEN + 1];

	do
		lease_make_id(id);
	while (lease_find(t, id) != NULL || lease_tombstone(t, id, NULL, NULL) !=
	    NULL);
	return lease_insert(t, id, uid, pid, kind);
}

struct lease *
lease_insert(struct lease_table *t, const char *id, uid_t uid, pid_t pid,
    enum lease_kind kind)
{
	struct lease	*l = xcalloc(1, sizeof *l);

	memcpy(l->id, id, sizeof l->id);
	l->owner_uid = uid;
	l->owner_pid = pid;
	l->kind = kind;
	l->state = LEASE_STARTING;
	l->created_ms = now_wall_ms();
	l->tags = json_array();
	l->d = t->d;
	l->refs = 1;
	l->pidfd = -1;
	TAILQ_INIT(&l->waiters);
	if (tsearch(l, &t->byid, lease_cmp) == NULL)
		fatal("tsearch");
	TAILQ_INSERT_TAIL(&t->list, l, entry);
	t->count++;
	return l;
}

struct lease *
lease_find(struct lease_table *t, const char *id)
{
	struct lease	 key;
	void		*found;

	if (strlen(id) != LEASE_ID_LEN)
		return NULL;
	memcpy(key.id, id, sizeof key.id);
	found = tfind(&key, &t->byid, lease_cmp);
	return found != NULL ? *(struct lease **)found : NULL;
}

/*
 * A tombstone, so a late caller hears how the lease ended (and why).  It
 * takes the place of the oldest; the tree finds them by id, since every
 * new lease id is checked against them all.
 */
static void
lease_bury(struct lease_table *t, const struct lease *l)
{
	struct tombstone	*ts = &t->dead[t->ndead++ % TOMBSTONES];
	void			*found, *node;

	if (ts->id[0] != '\0' && (found = tfind(ts, &t->deadbyid,
	    tombstone_cmp)) != NULL && *(struct tombstone **)found == ts)
		tdelete(ts, &t->deadbyid, tombstone_cmp);
	ts->state = l->state;
	ts->owner = l->owner_uid;
	memcpy(ts->id, l->id, sizeof l->id);
	free(ts->why);
	ts->why = l->lost_why != NULL ? xstrdup(l->lost_why) : NULL;
	if ((node = tsearch(ts, &t->deadbyid, tombstone_cmp)) == NULL)
		fatal("tsearch");
	*(struct tombstone **)node = ts;	/* the newest of an id */
}

void
lease_remove(struct lease *l)
{
	struct daemon		*d = l->d;
	struct lease_table	*t = d->leases;

	if (l->removed)
		return;
	l->removed = true;
	lease_bury(t, l);
	if (d->budget != NULL)
		budget_charge(d->budget, l->owner_uid, l->ready_ms);
	lease_unbind(l);
	tdelete(l, &t->byid, lease_cmp);
	TAILQ_REMOVE(&t->list, l, entry);
	t->count--;
	if (l->expiry != NULL)
		event_del(l->expiry);
	if (l->warning != NULL)
		event_del(l->warning);
	if (l->poll != NULL)
		event_del(l->poll);
	lease_wait_abort(l);
	exec_sessions_lease_gone(d, l->id);
	tail_lease_gone(d, l->id);
	if (l->pool != NULL)
		pool_lease_gone(d, l->pool);
	lease_unref(l);
	state_dirty(d);
	daemon_check_idle(d);
}

void
lease_ref(struct lease *l)
{
	l->refs++;
}

void
lease_unref(struct lease *l)
{
	if (--l->refs > 0)
		return;
	if (l->expiry != NULL)
		event_free(l->expiry);
	if (l->warning != NULL)
		event_free(l->warning);
	if (l->poll != NULL)
		event_free(l->poll);
	json_decref(l->tags);
	free(l->sandbox_id);
	free(l->image);
	free(l->pool);
	free(l->status_reason);
	free(l->lost_why);
	free(l);
}

void
lease_log(const struct lease *l, const char *event, const char *fmt, ...)
{
	const char	*fields[6] = { NULL };
	char		 ev[48], id[32], sb[96], uid[32], pool[96], msg[1024];
	size_t		 n = 0;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(ev, sizeof ev, "LEASE_EVENT=%s", event);
	snprintf(id, sizeof id, "LEASE_ID=%s", l->id);
	snprintf(uid, sizeof uid, "OWNER_UID=%u", (unsigned)l->owner_uid);
	fields[n++] = ev;
	fields[n++] = id;
	if (l->sandbox_id != NULL) {
		snprintf(sb, sizeof sb, "SANDBOX_ID=%s", l->sandbox_id);
		fields[n++] = sb;
	}
	fields[n++] = uid;
	if (l->pool != NULL) {
		snprintf(pool, sizeof pool, "POOL=%s", l->pool);
		fields[n++] = pool;
	}
	log_event(fields, "lease %s %s: %s", l->id, event, msg);
}

/* Tells the client that took the lease, if it is still there. */
static void
lease_notify(struct lease *l, const char *method, json_t *params)
{
	if (l->client != NULL && rpc_client_alive(l->client))
		rpc_client_send(l->client, rpc_notification_new(method, params));
	else
		json_decref(params);
}

/* The gateway confirmed the stop of an expired lease's sandbox. */
static void
expiry_stop_done(void *arg, const struct gw_error *err)
{
	struct expiry_stop	*es = arg;
	struct lease_table	*t = es->t;
	int64_t			 after = now_wall_ms() - es->deadline_ms;

	TAILQ_REMOVE(&t->stopping, es, entry);
	if (err == NULL) {
		t->expiry_stops++;
		t->stop_last_ms = after;
		if (after > t->stop_max_ms)
			t->stop_max_ms = after;
		log_info("lease %s: sandbox confirmed stopped %lldms after its "
		    "deadline", es->id, (long long)after);
	}
	free(es);
}

/*
 * The lease ends now: the owner is told (lease.expired, with why), the
 * lease leaves the table and the reaper stops its sandbox; the time from
 * the deadline to the gateway's confirmation is recorded.
 */
void
lease_expire(struct lease *l, const char *reason)
{
	struct lease_table	*t = l->d->leases;
	struct expiry_stop	*es;
	int64_t			 now = now_wall_ms();
	int64_t			 deadline = now < l->expires_ms ? now :
				    l->expires_ms;
	int64_t			 late = now - deadline;

	if (l->removed)
		return;
	lease_log(l, "expired", "after %llds (%s, %lldms late): stopping %s",
	    (long long)((now - l->ready_ms) / 1000), reason, (long long)late,
	    l->sandbox_id);
	lease_notify(l, "lease.expired", json_pack("{s:s, s:s?, s:f, s:I, "
	    "s:s}", "lease", l->id, "sandbox_id", l->sandbox_id, "expired_at",
	    deadline / 1000.0, "overshoot_ms", (json_int_t)late, "reason",
	    reason));
	es = xcalloc(1, sizeof *es);
	es->t = t;
	es->deadline_ms = deadline;
	memcpy(es->id, l->id, sizeof es->id);
	TAILQ_INSERT_TAIL(&t->stopping, es, entry);
	lease_stop(l, LEASE_EXPIRED, expiry_stop_done, es);
}

/* TTL ran out: the daemon reclaims the sandbox itself. */
static void
lease_expired(evutil_socket_t fd, short what, void *arg)
{
	struct lease	*l = arg;

	lease_expire(l, l->deadline_why != NULL ? l->deadline_why : "ttl");
}

void
lease_warn(struct lease *l, const char *reason, int64_t at_ms)
{
	if (l->removed)
		return;
	lease_notify(l, "lease.expiring", json_pack("{s:s, s:f, s:f, s:s}",
	    "lease", l->id, "expires_at", at_ms / 1000.0,
	    "seconds_left", (at_ms - now_wall_ms()) / 1000.0, "reason",
	    reason));
}

/* Some seconds before the deadline: time to renew or wrap up. */
static void
lease_expiring(evutil_socket_t fd, short what, void *arg)
{
	struct lease	*l = arg;

	lease_warn(l, l->deadline_why != NULL ? l->deadline_why : "ttl",
	    l->expires_ms);
}

json_t *
lease_expiry_stops_json(struct lease_table *t)
{
	return json_pack("{s:I, s:I, s:I}",
	    "confirmed", (json_int_t)t->expiry_stops,
	    "last_ms_after_deadline", (json_int_t)t->stop_last_ms,
	    "max_ms_after_deadline", (json_int_t)t->stop_max_ms);
}

static void
ms_to_tv(int64_t ms, struct timeval *tv)
{
	if (ms < 0)
		ms = 0;
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* (Re)arms the deadline and the warning before it. */
static void
lease_arm(struct lease *l, int64_t ttl_ms)
{
	struct timeval	tv;
	int64_t		warn = ttl_ms / 2 < WARN_BEFORE_MS ? ttl_ms / 2 :
			    WARN_BEFORE_MS;

	l->expires_ms = now_wall_ms() + ttl_ms;
	if (l->expiry == NULL) {
		l->expiry = evtimer_new(l->d->base, lease_expired, l);
		l->warning = evtimer_new(l->d->base, lease_expiring, l);
	}
	ms_to_tv(ttl_ms, &tv);
	evtimer_add(l->expiry, &tv);
	ms_to_tv(ttl_ms - warn, &tv);
	evtimer_add(l->warning, &tv);
}

void
lease_set_ready(struct lease *l, int64_t ttl_ms)
{
	l->state = LEASE_READY;
	l->ttl_ms = ttl_ms;
	l->ready_ms = now_wall_ms();
	lease_arm(l, ttl_ms);
	state_dirty(l->d);
}

void
lease_renew(struct lease *l, int64_t ttl_ms)
{
	l->ttl_ms = ttl_ms;
	lease_arm(l, ttl_ms);
	lease_log(l, "renewed", "for %llds", (long long)(ttl_ms / 1000));
	state_dirty(l->d);
}

void
lease_restore_deadline(struct lease *l, int64_t ready_ms, int64_t expires_ms,
    int64_t ttl_ms)
{
	int64_t	left = expires_ms - now_wall_ms();

	l->state = LEASE_READY;
	l->ready_ms = ready_ms;
	lease_arm(l, left > 0 ? left : 0);	/* past: expires at once */
	l->expires_ms = expires_ms;
	l->ttl_ms = ttl_ms;
}

void
lease_restore_bind(struct lease *l, enum lease_bind bind)
{
	if (bind == LEASE_BIND_CONNECTION) {
		/* Its connection did not survive our restart. */
		lease_gone_with(l, "its connection closed while sandboxd was "
		    "down");
		return;
	}
	if (bind == LEASE_BIND_PROCESS && lease_bind_to(l, bind) == -1)
		lease_gone_with(l, "its process is gone");
}

void
lease_set_client(struct lease *l, struct rpc_client *c)
{
	if (l->client != NULL)
		rpc_client_unref(l->client);
	rpc_client_ref(c);
	l->client = c;
}

static void
lease_gone_with(struct lease *l, const char *why)
{
	lease_log(l, "owner_gone", "%s; releasing %s", why, l->sandbox_id ?
	    l->sandbox_id : "(still starting)");
	if (l->state == LEASE_STARTING)
		l->bind = LEASE_BIND_NONE;	/* acquire sees the client gone */
	else
		lease_stop(l, LEASE_RELEASING, NULL, NULL);
}

static void
lease_client_closed(void *arg, struct rpc_client *c)
{
	struct lease	*l = arg;

	l->bind = LEASE_BIND_NONE;	/* the hook is spent */
	lease_gone_with(l, "its connection closed");
}

static void
lease_process_exited(evutil_socket_t fd, short what, void *arg)
{
	lease_gone_with(arg, "its process exited");
}

int
lease_bind_to(struct lease *l, enum lease_bind bind)
{
	if (bind == LEASE_BIND_CONNECTION) {
		rpc_client_on_close(l->client, lease_client_closed, l);
	} else if (bind == LEASE_BIND_PROCESS) {
		if ((l->pidfd = (int)syscall(SYS_pidfd_open, l->owner_pid, 0)) ==
		    -1)
			return -1;
		l->pidev = event_new(l->d->base, l->pidfd, EV_READ,
		    lease_process_exited, l);
		event_add(l->pidev, NULL);
	}
	l->bind = bind;
	return 0;
}

/* Undoes the binding and lets go of the client. */
static void
lease_unbind(struct lease *l)
{
	if (l->bind == LEASE_BIND_CONNECTION && l->client != NULL)
		rpc_client_on_close_cancel(l->client, lease_client_closed, l);
	if (l->pidev != NULL) {
		event_free(l->pidev);
		l->pidev = NULL;
	}
	if (l->pidfd != -1) {
		close(l->pidfd);
		l->pidfd = -1;
	}
	l->bind = LEASE_BIND_NONE;
	if (l->client != NULL) {
		rpc_client_unref(l->client);
		l->client = NULL;
	}
}

void
lease_lost(struct lease *l, const char *why)
{
	lease_log(l, "lost", "%s", why);
	free(l->lost_why);
	l->lost_why = xstrdup(why);
	lease_notify(l, "lease.lost", json_pack("{s:s, s:s?, s:s}", "lease",
	    l->id, "sandbox_id", l->sandbox_id, "reason", why));
	lease_stop(l, LEASE_LOST, NULL, NULL);
}

const char *
lease_tombstone(struct lease_table *t, const char *id, uid_t *owner,
    const char **why)
{
	struct tombstone	 key, *ts;
	void			*found;

	if (strlen(id) != LEASE_ID_LEN)
		return NULL;
	memcpy(key.id, id, sizeof key.id);
	if ((found = tfind(&key, &t->deadbyid, tombstone_cmp)) == NULL)
		return NULL;
	ts = *(struct tombstone **)found;
	if (owner != NULL)
		*owner = ts->owner;
	if (why != NULL)
		*why = ts->why;
	return lease_state_name(ts->state);
}

void
lease_update(struct lease *l, const struct gw_sandbox *sb)
{
	l->sandbox_status = sb->status;
	if (sb->has_exit_code) {
		l->has_exit_code = true;
		l->exit_code = sb->exit_code;
	}
	if (sb->status_reason != NULL && sb->status_reason[0] != '\0') {
		free(l->status_reason);
		l->status_reason = xstrdup(sb->status_reason);
	}
	if (!gw_status_terminal(sb->status) || l->state == LEASE_RELEASING)
		return;
	if (sb->status == GW_STATUS_COMPLETED &&
	    (!l->has_exit_code || l->exit_code == 0))
		l->state = LEASE_COMPLETED;
	else
		l->state = LEASE_FAILED;
	state_dirty(l->d);
}

bool
lease_finished(const struct lease *l)
{
	return l->state == LEASE_COMPLETED || l->state == LEASE_FAILED ||
	    l->state == LEASE_EXPIRED || l->state == LEASE_LOST;
}

const char *
lease_state_name(enum lease_state s)
{
	static const char *const names[] = {
		[LEASE_STARTING] = "starting",
		[LEASE_READY] = "ready",
		[LEASE_COMPLETED] = "completed",
		[LEASE_FAILED] = "failed",
		[LEASE_RELEASING] = "releasing",
		[LEASE_EXPIRED] = "expired",
		[LEASE_LOST] = "lost",
	};

	return names[s];
}

json_t *
lease_to_json(const struct lease *l)
{
	json_t	*o;

	o = json_pack("{s:s, s:s?, s:i, s:s, s:s, s:s, s:s?, s:s?, s:b, s:O, "
	    "s:f, s:I}",
	    "id", l->id,
	    "sandbox_id", l->sandbox_id,
	    "owner_uid", (int)l->owner_uid,
	    "kind", l->kind == LEASE_JOB ? "job" : "interactive",
	    "state", lease_state_name(l->state),
	    "sandbox_status", gw_status_name(l->sandbox_status),
	    "image", l->image,
	    "pool", l->pool,
	    "warm", l->warm,
	    "tags", l->tags,
	    "created_at", l->created_ms / 1000.0,
	    "ttl_s", (json_int_t)(l->ttl_ms / 1000));
	json_object_set_new(o, "expires_at", l->expires_ms == 0 ? json_null() :
	    json_real(l->expires_ms / 1000.0));
	if (l->has_exit_code)
		json_object_set_new(o, "exit_code", json_integer(l->exit_code));
	json_object_set_new(o, "bind", json_string(l->bind ==
	    LEASE_BIND_CONNECTION ? "connection" : l->bind ==
	    LEASE_BIND_PROCESS ? "process" : "none"));
	if (l->sandbox_end_ms > 0)
		json_object_set_new(o, "sandbox_ends_at",
		    json_real(l->sandbox_end_ms / 1000.0));
	if (l->status_reason != NULL)
		json_object_set_new(o, "status_reason",
		    json_string(l->status_reason));
	return o;
}

void
lease_stop(struct lease *l, enum lease_state why, gw_done_cb *done,
    void *arg)
{
	if (l->d->metrics != NULL && l->state != LEASE_STARTING)
		metrics_lease_event(l->d->metrics, l->pool, why ==
		    LEASE_EXPIRED ? METRICS_LEASE_EXPIRED : why == LEASE_LOST ?
		    METRICS_LEASE_LOST : METRICS_LEASE_RELEASED);
	l->state = why;
	if (l->sandbox_id != NULL)
		reaper_stop(l->d->reaper, l->sandbox_id, lease_state_name(why),
		    done, arg);
	else if (done != NULL)
		done(arg, NULL);
	lease_remove(l);
}

struct lease *
lease_holding(struct lease_table *t, const char *sandbox_id)
{
	struct lease	*l;

	for (l = lease_first(t); l != NULL; l = lease_next(l)) {
		if (l->sandbox_id != NULL &&
		    strcmp(l->sandbox_id, sandbox_id) == 0)
			return l;
	}
	return NULL;
}
