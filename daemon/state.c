/* The state file: what the daemon holds, kept across restarts. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "budget.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "state.h"
#include "statefile.h"
#include "used.h"
#include "xmalloc.h"

#define STATE_VERSION	1
#define SAVE_DELAY_MS	100

struct state {
	char		*path;
	struct event	*timer;
	bool		 dirty;
	bool		 loading;
	bool		 failing;	/* the last write failed (logged) */
	unsigned	 writes;
};

static json_t *
lease_entry(const struct lease *l)
{
	json_t	*o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s?, s:s?, s:b, "
	    "s:O, s:I, s:I, s:I, s:I, s:I, s:s}",
	    "id", l->id, "sandbox_id", l->sandbox_id,
	    "owner_uid", (int)l->owner_uid, "owner_pid", (int)l->owner_pid,
	    "kind", l->kind == LEASE_JOB ? "job" : "interactive",
	    "state", lease_state_name(l->state),
	    "image", l->image, "pool", l->pool, "warm", l->warm,
	    "tags", l->tags,
	    "created_ms", (json_int_t)l->created_ms,
	    "ready_ms", (json_int_t)l->ready_ms,
	    "expires_ms", (json_int_t)l->expires_ms,
	    "sandbox_end_ms", (json_int_t)l->sandbox_end_ms,
	    "ttl_ms", (json_int_t)l->ttl_ms,
	    "bind", l->bind == LEASE_BIND_CONNECTION ? "connection" :
	    l->bind == LEASE_BIND_PROCESS ? "process" : "none");

	if (l->has_exit_code)
		json_object_set_new(o, "exit_code", json_integer(l->exit_code));
	return o;
}

static bool
lease_saved(const struct lease *l)
{
	/* Starting leases have no holder yet; reconcile finds them. */
	return l->state == LEASE_READY || l->state == LEASE_COMPLETED ||
	    l->state == LEASE_FAILED;
}

/*
 * The small members first, then the leases one at a time: a save holds
 * one lease's JSON in memory, not a tree of them all (with thousands of
 * leases that tree was most of the daemon's heap growth).
 */
static int
state_write(FILE *f, void *arg)
{
	struct daemon	*d = arg;
	struct lease	*l;
	json_t		*head, *e;
	char		*text;
	int		 rc = 0;
	bool		 first = true;

	/*
	 * Warm members are listed always (their time is charged from
	 * since_ms after a crash); only kept ones are taken back.
	 */
	head = json_pack("{s:i, s:s, s:I, s:o, s:b, s:o*, s:o}",
	    "version", STATE_VERSION, "instance_id", d->instance_id,
	    "saved_ms", (json_int_t)now_wall_ms(),
	    "pool_members", d->pools ? pools_members_json(d->pools) :
	    json_array(), "pool_members_kept", d->pools != NULL &&
	    d->cfg.daemon.keep_warm_on_shutdown && d->stopping,
	    "accounting", d->budget ? budget_to_json(d->budget) : NULL,
	    "used", used_json(d));
	text = json_dumps(head, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(head);
	/* "{...}" loses its closing brace to take the leases. */
	if (fprintf(f, "%.*s,\"leases\":[", (int)strlen(text) - 1, text) < 0)
		rc = -1;
	free(text);
	for (l = lease_first(d->leases); l != NULL && rc == 0;
	    l = lease_next(l)) {
		if (!lease_saved(l))
			continue;
		e = lease_entry(l);
		if ((!first && fputc(',', f) == EOF) ||
		    json_dumpf(e, f, JSON_COMPACT | JSON_SORT_KEYS) == -1)
			rc = -1;
		json_decref(e);
		first = false;
	}
	if (rc == 0 && fputs("]}", f) == EOF)
		rc = -1;
	return rc;
}

static void
save_cb(evutil_socket_t fd, short what, void *arg)
{
	state_save(arg);
}

static struct state *
state_of(struct daemon *d)
{
	if (d->state == NULL) {
		d->state = xcalloc(1, sizeof *d->state);
		d->state->path = xasprintf("%s/state.json", d->state_dir);
		d->state->timer = evtimer_new(d->base, save_cb, d);
	}
	return d->state;
}

void
state_dirty(struct daemon *d)
{
	struct state	*s = d->state;
	struct timeval	 tv = { 0, SAVE_DELAY_MS * 1000 };

	if (s == NULL || s->loading)	/* not loaded yet, or gone at exit */
		return;
	s->dirty = true;
	if (!evtimer_pending(s->timer, NULL))
		evtimer_add(s->timer, &tv);
}

void
state_save(struct daemon *d)
{
	struct state	*s = state_of(d);
	char		*err = NULL;

	evtimer_del(s->timer);
	if (statefile_write_with(s->path, state_write, d, &err) == -1) {
		/* Once per failing spell: it is retried every 100 ms. */
		if (!s->failing)
			log_warnx("state not saved (retrying until it works): "
			    "%s", err);
		s->failing = true;
		free(err);
		state_dirty(d);
	} else {
		if (s->failing)
			log_info("state saved again to %s", s->path);
		s->failing = false;
		s->dirty = false;
		s->writes++;
		if (d->budget != NULL)
			budget_state_saved(d->budget);
		used_saved(d);
	}
}

static enum lease_state
state_named(const char *name)
{
	if (name != NULL && strcmp(name, "completed") == 0)
		return LEASE_COMPLETED;
	if (name != NULL && strcmp(name, "failed") == 0)
		return LEASE_FAILED;
	return LEASE_READY;
}

/* Brings one lease back; one that ran out while we were away expires. */
static void
restore_lease(struct daemon *d, json_t *e)
{
	const char	*id = NULL, *sid = NULL, *kind = "", *st = NULL;
	const char	*image = NULL, *pool = NULL, *bind = "none";
	json_int_t	 uid = 0, pid = 0, created = 0, ready = 0, expires = 0;
	json_int_t	 end = 0, ttl = 0;
	json_t		*tags = NULL, *ec;
	int		 warm = 0;
	struct lease	*l;

	/* Nullable members are read by hand: unpack's "s" refuses null. */
	if (json_unpack(e, "{s:s, s:s, s:I, s?I, s?s, s?s, s?b, s?o, s?I, s?I, "
	    "s?I, s?I, s?I, s?s}", "id", &id, "sandbox_id", &sid,
	    "owner_uid", &uid, "owner_pid", &pid, "kind", &kind, "state", &st,
	    "warm", &warm, "tags", &tags, "created_ms", &created,
	    "ready_ms", &ready, "expires_ms", &expires,
	    "sandbox_end_ms", &end, "ttl_ms", &ttl, "bind", &bind) == -1 ||
	    strlen(id) != LEASE_ID_LEN || lease_find(d->leases, id) != NULL) {
		log_warnx("state: skipping a lease entry that does not read");
		return;
	}
	image = json_string_value(json_object_get(e, "image"));
	pool = json_string_value(json_object_get(e, "pool"));
	l = lease_insert(d->leases, id, (uid_t)uid, (pid_t)pid,
	    strcmp(kind, "job") == 0 ? LEASE_JOB : LEASE_INTERACTIVE);
	l->sandbox_id = xstrdup(sid);
	l->image = image ? xstrdup(image) : NULL;
	l->pool = pool ? xstrdup(pool) : NULL;
	l->warm = warm;
	if (json_is_array(tags))
		json_array_extend(l->tags, tags);
	l->created_ms = created;
	l->sandbox_end_ms = end;
	l->sandbox_status = GW_STATUS_RUNNING;
	if ((ec = json_object_get(e, "exit_code")) != NULL) {
		l->has_exit_code = true;
		l->exit_code = (int32_t)json_integer_value(ec);
	}
	lease_restore_deadline(l, ready, expires, ttl);
	l->state = state_named(st);
	if (l->pool != NULL && d->pools != NULL)
		pool_count_leased(d->pools, l->pool);
	lease_restore_bind(l, strcmp(bind, "connection") == 0 ?
	    LEASE_BIND_CONNECTION : strcmp(bind, "process") == 0 ?
	    LEASE_BIND_PROCESS : LEASE_BIND_NONE);
}

void
state_load(struct daemon *d)
{
	struct state	*s = state_of(d);
	json_t		*o, *e;
	char		*err = NULL;
	size_t		 i;
	json_int_t	 version;
	bool		 unreadable;

	statefile_clean_tmp(s->path);
	if ((o = statefile_load(s->path, &err, &unreadable)) == NULL) {
		if (unreadable) {
			/* Writing over it would lose every lease it holds. */
			log_warnx("state: %s; refusing to start: fix or move "
			    "the file, then start again", err);
			exit(EX_NOINPUT);
		}
		if (err != NULL) {
			log_warnx("state: %s", err);
			free(err);
		}
		used_load(d, NULL);
		return;
	}
	version = json_integer_value(json_object_get(o, "version"));
	if (version > STATE_VERSION) {
		/* Ours would drop what it does not know, for good. */
		log_warnx("state: %s is version %lld, newer than this daemon "
		    "reads (%d); refusing to start: run the newer sandboxd, "
		    "or move the file away (its leases are then lost)",
		    s->path, (long long)version, STATE_VERSION);
		exit(EX_DATAERR);
	}
	s->loading = true;
	if (d->budget != NULL && json_is_object(json_object_get(o,
	    "accounting")))
		budget_restore(d->budget, json_object_get(o, "accounting"));
	json_array_foreach(json_object_get(o, "leases"), i, e)
		restore_lease(d, e);
	/* Before pool members: a dirty one is stopped, never pooled. */
	used_load(d, json_object_get(o, "used"));
	/* Files of older daemons list members only when they were kept. */
	if (d->pools != NULL)
		pools_adopt_members(d->pools, json_object_get(o,
		    "pool_members"), json_object_get(o, "pool_members_kept") ==
		    NULL || json_is_true(json_object_get(o,
		    "pool_members_kept")));
	s->loading = false;
	log_info("state: %u lease(s) restored from %s (version %lld)",
	    lease_count(d->leases), s->path, (long long)version);
	json_decref(o);
	state_dirty(d);
}

int
state_instance_id(const char *state_dir, char *id)
{
	char		*path = xasprintf("%s/state.json", state_dir), *err;
	json_t		*o;
	const char	*v;
	bool		 unreadable;
	int		 rc = 0;

	/*
	 * A file that does not parse is moved aside here, as state_load
	 * would; one that cannot be read at all stops us before a new id
	 * is made up for sandboxes it may still know.
	 */
	o = statefile_load(path, &err, &unreadable);
	if (unreadable) {
		log_warnx("state: %s; refusing to start: fix or move the file, "
		    "then start again", err);
		exit(EX_NOINPUT);
	}
	if (err != NULL) {
		log_warnx("state: %s", err);
		free(err);
	}
	v = json_string_value(json_object_get(o, "instance_id"));
	if (v != NULL && strlen(v) == 16 &&
	    strspn(v, "0123456789abcdef") == 16) {
		memcpy(id, v, 17);
		rc = 1;
	}
	json_decref(o);
	free(path);
	return rc;
}

unsigned
state_writes(struct daemon *d)
{
	return d->state != NULL ? d->state->writes : 0;
}

void
state_free(struct daemon *d)
{
	if (d->state == NULL)
		return;
	if (d->state->dirty)
		state_save(d);
	used_close(d, !d->state->failing && !d->state->dirty);
	event_free(d->state->timer);
	free(d->state->path);
	free(d->state);
	d->state = NULL;
}
