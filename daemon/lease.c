/* The lease table, lease ids, TTL expiry; see lease.h. */
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "daemon.h"
#include "lease.h"
#include "lease-wait.h"
#include "log.h"
#include "pool.h"
#include "reaper.h"
#include "xmalloc.h"

struct lease_table {
	struct daemon		*d;
	void			*byid;		/* tsearch root */
	unsigned		 count;
	TAILQ_HEAD(, lease)	 list;
};

static int
lease_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lease *)a)->id,
	    ((const struct lease *)b)->id);
}

struct lease_table *
lease_table_new(struct daemon *d)
{
	struct lease_table	*t = xcalloc(1, sizeof *t);

	t->d = d;
	TAILQ_INIT(&t->list);
	return t;
}

void
lease_table_free(struct lease_table *t)
{
	struct lease	*l;

	if (t == NULL)
		return;
	while ((l = TAILQ_FIRST(&t->list)) != NULL)
		lease_remove(l);
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
	struct lease	*l = xcalloc(1, sizeof *l);

	do
		lease_make_id(l->id);
	while (lease_find(t, l->id) != NULL);
	l->owner_uid = uid;
	l->owner_pid = pid;
	l->kind = kind;
	l->state = LEASE_STARTING;
	l->created_ms = now_wall_ms();
	l->tags = json_array();
	l->d = t->d;
	l->refs = 1;
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

void
lease_remove(struct lease *l)
{
	struct daemon		*d = l->d;
	struct lease_table	*t = d->leases;

	if (l->removed)
		return;
	l->removed = true;
	tdelete(l, &t->byid, lease_cmp);
	TAILQ_REMOVE(&t->list, l, entry);
	t->count--;
	if (l->expiry != NULL)
		event_del(l->expiry);
	if (l->poll != NULL)
		event_del(l->poll);
	lease_wait_abort(l);
	if (l->pool != NULL)
		pool_lease_gone(d, l->pool);
	lease_unref(l);
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
	if (l->poll != NULL)
		event_free(l->poll);
	json_decref(l->tags);
	free(l->sandbox_id);
	free(l->image);
	free(l->pool);
	free(l->status_reason);
	free(l);
}

/* TTL ran out: the daemon reclaims the sandbox itself. */
static void
lease_expired(evutil_socket_t fd, short what, void *arg)
{
	struct lease	*l = arg;

	if (l->removed)
		return;
	log_info("lease %s expired after %llds: stopping %s", l->id,
	    (long long)(l->ttl_ms / 1000), l->sandbox_id);
	lease_stop(l, LEASE_EXPIRED, NULL, NULL);
}

void
lease_set_ready(struct lease *l, int64_t ttl_ms)
{
	struct timeval	tv = { ttl_ms / 1000, (ttl_ms % 1000) * 1000 };

	l->state = LEASE_READY;
	l->ttl_ms = ttl_ms;
	l->expires_ms = now_wall_ms() + ttl_ms;
	if (l->expiry == NULL)
		l->expiry = evtimer_new(l->d->base, lease_expired, l);
	evtimer_add(l->expiry, &tv);
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
	if (l->status_reason != NULL)
		json_object_set_new(o, "status_reason",
		    json_string(l->status_reason));
	return o;
}

void
lease_stop(struct lease *l, enum lease_state why, gw_done_cb *done,
    void *arg)
{
	l->state = why;
	if (l->sandbox_id != NULL)
		reaper_stop(l->d->reaper, l->sandbox_id, lease_state_name(why),
		    done, arg);
	else if (done != NULL)
		done(arg, NULL);
	lease_remove(l);
}
