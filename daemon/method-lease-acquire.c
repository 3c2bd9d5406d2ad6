/*
 * lease.acquire: lease a sandbox.  From a warm pool it is answered from
 * memory; otherwise a sandbox is started (idle keep-alive, or a job's
 * command) and the answer comes once it is RUNNING (starter.c polls
 * without blocking).  If the client leaves or the daemon stops before the
 * answer, nobody holds the sandbox: it is stopped at once.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acquire-spec.h"
#include "base64.h"
#include "budget.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "methods.h"
#include "metrics.h"
#include "params.h"
#include "pool.h"
#include "rpc.h"
#include "starter.h"
#include "used.h"
#include "xmalloc.h"

struct acquire {
	struct rpc_req		*req;		/* gone once answered */
	struct rpc_client	*client;	/* referenced: outlives req */
	struct lease		*l;		/* cold starts; set at claim */
	struct pool		*pool;		/* NULL: no pool */
	char			*pool_name;
	int64_t			 ttl_ms;
	const char		*ttl_why;	/* what set it: "ttl", a budget */
	struct starter		*st;
	struct pool_waiter	*waiter;
	json_t			*note;		/* how the request was met */
	json_t			*files;		/* written after a warm claim */
	size_t			 nextfile;
	bool			 hooked;	/* close hook registered */
	enum lease_bind		 bind;
	int64_t			 left_ms;	/* the sandbox's life left */
	int64_t			 deadline;	/* monotonic: end of `wait` */
	TAILQ_ENTRY(acquire)	 entry;
};

/* Acquisitions in progress, so shutdown can call them off. */
static TAILQ_HEAD(, acquire) acquiring = TAILQ_HEAD_INITIALIZER(acquiring);

static void	acquire_client_gone(void *, struct rpc_client *);

static struct acquire *
acquire_new(struct rpc_req *req, int64_t ttl)
{
	struct acquire	*a = xcalloc(1, sizeof *a);

	a->req = req;
	a->client = req->client;
	rpc_client_ref(a->client);
	a->ttl_ms = ttl;
	rpc_client_on_close(req->client, acquire_client_gone, a);
	a->hooked = true;
	TAILQ_INSERT_TAIL(&acquiring, a, entry);
	return a;
}

static void
acquire_free(struct acquire *a)
{
	TAILQ_REMOVE(&acquiring, a, entry);
	if (a->hooked)
		rpc_client_on_close_cancel(a->client, acquire_client_gone, a);
	rpc_client_unref(a->client);
	if (a->l != NULL)
		lease_unref(a->l);
	json_decref(a->note);
	json_decref(a->files);
	free(a->pool_name);
	free(a);
}

static void
acquire_fail(struct acquire *a, enum rpc_err e, json_t *data, const char *msg)
{
	if (a->client != NULL && a->req->d->metrics != NULL &&
	    e == RPC_ERR_SANDBOX_FAILED)
		metrics_lease_event(a->req->d->metrics, a->pool_name,
		    METRICS_LEASE_FAILED);
	if (a->l != NULL && !a->l->removed) {
		lease_log(a->l, "reclaimed", "never handed out: %s", msg);
		lease_stop(a->l, LEASE_RELEASING, NULL, NULL);
	}
	rpc_fail(a->req, e, data, "%s", msg);
	acquire_free(a);
}

/* The lease's event in the log, with journal fields. */
static void
log_acquired(const struct lease *l)
{
	lease_log(l, "acquired", "sandbox %s %s for uid %u%s%s%s",
	    l->sandbox_id, lease_state_name(l->state), (unsigned)l->owner_uid,
	    l->pool ? " (pool " : "", l->pool ? l->pool : "",
	    l->pool ? (l->warm ? ", warm)" : ", cold)") : "");
}

/* Answers with the lease, then logs it: the client does not wait on it. */
static void
acquire_reply(struct acquire *a)
{
	struct lease	*l = a->l;
	char		 why[96];
	json_t		*o;

	lease_set_client(l, a->req->client);
	if (a->bind != LEASE_BIND_NONE && lease_bind_to(l, a->bind) == -1) {
		snprintf(why, sizeof why, "cannot watch process %d: %s",
		    (int)l->owner_pid, strerror(errno));
		acquire_fail(a, RPC_ERR_INTERNAL, NULL, why);
		return;
	}
	if (l->d->metrics != NULL) {
		metrics_lease_event(l->d->metrics, l->pool,
		    METRICS_LEASE_ACQUIRED);
		metrics_lease_event(l->d->metrics, l->pool, l->warm ?
		    METRICS_LEASE_WARM_HIT : METRICS_LEASE_COLD_START);
	}
	o = lease_to_json(l);
	if (a->note != NULL)
		json_object_set(o, "notes", a->note);
	rpc_reply(a->req, o);
	log_acquired(l);
	acquire_free(a);
}

/* The client left before the answer: nobody will hold this sandbox. */
static void
acquire_client_gone(void *arg, struct rpc_client *c)
{
	struct acquire	*a = arg;

	a->hooked = false;
	if (a->st != NULL)
		starter_cancel(a->st, "client went away");
	else if (a->waiter != NULL) {
		pool_waiter_cancel(a->waiter);
		a->waiter = NULL;
		rpc_fail(a->req, RPC_ERR_CANCELLED, NULL, "client went away");
		acquire_free(a);
	}
}

void
lease_acquire_shutdown(void)
{
	struct acquire	*a, *next;

	for (a = TAILQ_FIRST(&acquiring); a != NULL; a = next) {
		next = TAILQ_NEXT(a, entry);
		if (a->st != NULL)
			starter_cancel(a->st, "sandboxd is shutting down");
		else if (a->waiter != NULL) {
			pool_waiter_cancel(a->waiter);
			a->waiter = NULL;
			rpc_fail(a->req, RPC_ERR_OVERLOADED, NULL,
			    "sandboxd is shutting down");
			acquire_free(a);
		}
	}
}

static void	write_next_file(struct acquire *);

static void
cold_started(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb, const char *sandbox_id)
{
	struct acquire	*a = arg;
	struct lease	*l = a->l;

	a->st = NULL;
	if (sandbox_id != NULL && l->sandbox_id == NULL) {
		l->sandbox_id = xstrdup(sandbox_id);
		used_note(a->req->d, sandbox_id);
	}
	if (err != NULL) {
		acquire_fail(a, err->rpc, NULL, err->message);
		return;
	}
	if (a->req->d->stopping) {
		acquire_fail(a, RPC_ERR_CANCELLED, NULL,
		    "sandboxd is shutting down");
		return;
	}
	lease_update(l, sb);
	/* A lease never outlives its sandbox's max_lifetime. */
	l->deadline_why = a->ttl_why;
	if (l->sandbox_end_ms > 0 && now_wall_ms() + a->ttl_ms >
	    l->sandbox_end_ms) {
		a->ttl_ms = l->sandbox_end_ms - now_wall_ms();
		l->deadline_why = "max_lifetime";
	}
	lease_set_ready(l, a->ttl_ms);
	lease_update(l, sb);		/* a job may already have finished */
	if (a->files != NULL) {
		write_next_file(a);
		return;
	}
	acquire_reply(a);
}

/* The lease's TTL: asked for, or the caller's default; then the budgets. */
static int
lease_ttl(struct rpc_req *req, int64_t *ttl, const char **why)
{
	const struct config_budget	*b = budget_policy(req->d,
					    req->peer.uid);

	if (rpc_param_duration_ms(req, "ttl", b->default_lease_ttl, ttl) == -1)
		return -1;
	if (*ttl <= 0) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "ttl must be positive");
		return -1;
	}
	return budget_check_acquire(req, ttl, why);
}

static int
parse_bind(struct rpc_req *req, enum lease_bind *bind)
{
	const char	*s;

	*bind = LEASE_BIND_NONE;
	if (params_string(req, "bind", false, &s) == -1)
		return -1;
	if (s == NULL || strcmp(s, "none") == 0)
		return 0;
	if (strcmp(s, "connection") == 0)
		*bind = LEASE_BIND_CONNECTION;
	else if (strcmp(s, "process") == 0)
		*bind = LEASE_BIND_PROCESS;
	else {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter \"bind\" "
		    "must be \"none\", \"connection\" or \"process\"");
		return -1;
	}
	return 0;
}

/* Starts the lease's sandbox from `p->spec` and answers when it runs. */
static void
start_cold(struct acquire *a, struct spec_parts *p, int nusertags,
    int64_t wait, struct pool *pool)
{
	struct daemon	*d = a->req->d;
	int64_t		 lifetime;

	a->l = lease_new(d->leases, a->req->peer.uid, a->req->peer.pid,
	    p->spec.command != NULL ? LEASE_JOB : LEASE_INTERACTIVE);
	lease_ref(a->l);
	if (p->spec.image != NULL)
		a->l->image = xstrdup(p->spec.image);
	if (pool != NULL) {
		a->l->pool = xstrdup(pool_name(pool));
		pool_count_cold(pool);
	}
	spec_build_tags(d, a->l, p, nusertags, pool);
	spec_lease_tags(a->l, p, nusertags);
	json_decref(a->files);		/* absolute ones are mounted */
	a->files = spec_files_later(a->req);
	a->nextfile = 0;
	/*
	 * max_lifetime is a hard cap, sent upstream as is: the service
	 * reclaims the sandbox then even if this daemon is gone.  The ttl
	 * fits (budget_check_acquire); renewals may run up to it.
	 */
	lifetime = budget_policy(d, a->req->peer.uid)->max_lifetime;
	p->spec.max_lifetime_s = (int32_t)(lifetime / 1000);
	a->l->sandbox_end_ms = now_wall_ms() + lifetime;
	a->st = starter_start(d, &p->spec, wait, d->cfg.gateway.start_poll,
	    cold_started, a);
}

static void
file_written(void *arg, const struct gw_error *err)
{
	struct acquire	*a = arg;
	char		 msg[600];

	if (err != NULL) {
		snprintf(msg, sizeof msg, "writing files[%zu] into the "
		    "sandbox failed: %s", a->nextfile - 1, err->message);
		acquire_fail(a, err->rpc, NULL, msg);
		return;
	}
	write_next_file(a);
}

/*
 * Files asked for with a warm claim, and those with relative paths after
 * a cold start, go in by AddFile, one by one.
 */
static void
write_next_file(struct acquire *a)
{
	json_t		*f = json_array_get(a->files, a->nextfile);
	unsigned char	*data;
	const char	*b64;
	size_t		 len;

	if (f == NULL || !rpc_client_alive(a->req->client)) {
		if (!rpc_client_alive(a->req->client)) {
			acquire_fail(a, RPC_ERR_CANCELLED, NULL,
			    "client went away");
			return;
		}
		acquire_reply(a);
		return;
	}
	a->nextfile++;
	b64 = json_string_value(json_object_get(f, "data_b64"));
	if (b64_decode(b64, strlen(b64), &data, &len) == -1)
		fatalx("files were checked when the request came in");
	gw_add_file(a->req->d->gw, a->l->sandbox_id,
	    json_string_value(json_object_get(f, "path")), data, len,
	    file_written, a);
	free(data);
}

/* A pool sandbox is ours: make it a lease. */
static void
claimed(struct acquire *a, const char *sandbox_id, bool warm)
{
	struct daemon	*d = a->req->d;
	struct lease	*l;

	l = a->l = lease_new(d->leases, a->req->peer.uid, a->req->peer.pid,
	    LEASE_INTERACTIVE);
	lease_ref(l);
	l->sandbox_id = xstrdup(sandbox_id);
	used_note(d, sandbox_id);	/* dirty from now on, even if we crash */
	l->pool = xstrdup(a->pool_name);
	l->warm = warm;
	l->sandbox_end_ms = now_wall_ms() + a->left_ms;
	l->sandbox_status = GW_STATUS_RUNNING;
	if (json_is_array(json_object_get(a->req->params, "tags")))
		json_array_extend(l->tags, json_object_get(a->req->params,
		    "tags"));
	if (pool_gw_spec(a->pool)->image != NULL)
		l->image = xstrdup(pool_gw_spec(a->pool)->image);
	l->deadline_why = a->ttl_why;
	lease_set_ready(l, a->ttl_ms);
	if (a->files != NULL) {
		write_next_file(a);
		return;
	}
	acquire_reply(a);
}

/* Room under the pool's max: start the lease's own sandbox now. */
static void
start_pool_cold(struct acquire *a, struct spec_parts *p, int nusertags)
{
	int64_t	left = a->deadline - now_mono_ms();

	spec_from_pool(p, a->pool);
	start_cold(a, p, nusertags, left > 0 ? left : 0, a->pool);
}

/* A cold request waited for room: its spec is read again from params. */
static void
cold_room(struct acquire *a)
{
	struct spec_parts	p = { 0 };
	int			nusertags = 0;

	if (spec_parse(a->req, &p, &nusertags) == -1)
		fatalx("the request was checked when it came in");
	start_pool_cold(a, &p, nusertags);
	spec_parts_free(&p);
}

static void
claim_done(void *arg, const struct gw_error *err, const char *sandbox_id,
    int64_t ms)
{
	struct acquire	*a = arg;
	json_t		*data = NULL;

	a->waiter = NULL;
	if (err != NULL) {
		if (ms > 0)
			data = json_pack("{s:s, s:I, s:s?}", "pool",
			    a->pool_name, "retry_after_ms", (json_int_t)ms,
			    "last_error", pool_last_error(a->pool));
		acquire_fail(a, err->rpc, data, err->message);
		return;
	}
	if (sandbox_id == NULL) {
		cold_room(a);
		return;
	}
	a->left_ms = ms;
	claimed(a, sandbox_id, false);
}

/* A lease started cold from the pool's spec counts against its max. */
static enum rpc_ret
acquire_pool_cold(struct acquire *a, struct spec_parts *p, int nusertags,
    int64_t wait)
{
	a->deadline = now_mono_ms() + wait;
	if (pool_cold_slot(a->pool, a->client, wait, claim_done, a,
	    &a->waiter) == 0)
		start_pool_cold(a, p, nusertags);
	return RPC_WAIT;
}

static const char *const acquire_params[] = {
	"image", "cpu", "memory", "gpu_count", "gpu_type", "env", "tags",
	"ttl", "files", "secrets", "egress", "command", "wait", "pool", "bind",
	NULL
};

/* Which pool serves this request, if any; -1 when answered (error). */
static int
choose_pool(struct rpc_req *req, struct pool **pool)
{
	const char	*name, *conflict;

	*pool = NULL;
	if (params_string(req, "pool", false, &name) == -1)
		return -1;
	conflict = spec_pool_conflict(req);
	if (name == NULL) {
		if (conflict == NULL && req->d->pools != NULL)
			*pool = pool_default(req->d->pools);
		return 0;
	}
	if (req->d->pools == NULL ||
	    (*pool = pool_find(req->d->pools, name)) == NULL) {
		rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "no pool named \"%.64s\"",
		    name);
		return -1;
	}
	if (conflict != NULL) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "pool %s fixes the "
		    "image, resources, egress, secrets and command of its "
		    "sandboxes: leave out \"%s\" or do not name a pool", name,
		    conflict);
		return -1;
	}
	return 0;
}

/* From a pool: a warm claim, a wait in line, or a cold start. */
static enum rpc_ret
acquire_pooled(struct acquire *a, struct spec_parts *p, int nusertags,
    int64_t wait)
{
	char	*sid = NULL;
	int	 rc;

	a->pool_name = xstrdup(pool_name(a->pool));
	if (p->spec.nenv > 0) {
		a->note = json_pack("[s]", "env is fixed when a sandbox starts: "
		    "started cold from the pool's spec with your env");
		return acquire_pool_cold(a, p, nusertags, wait);
	}
	if (json_array_size(json_object_get(a->req->params, "files")) > 0) {
		a->files = json_incref(json_object_get(a->req->params,
		    "files"));
		a->note = json_pack("[s]", "files written into the warm "
		    "sandbox after the claim");
	}
	rc = pool_claim(a->pool, a->client, a->ttl_ms, wait, claim_done, a,
	    &sid, &a->left_ms, &a->waiter);
	if (rc == 0) {
		claimed(a, sid, true);
		free(sid);
		return RPC_WAIT;
	}
	if (rc == -1) {
		json_decref(a->note);
		a->note = json_pack("[s]", "ttl longer than the pool's sandboxes "
		    "live: started cold from the pool's spec");
		json_decref(a->files);
		a->files = NULL;
		return acquire_pool_cold(a, p, nusertags, wait);
	}
	return RPC_WAIT;
}

static enum rpc_ret
lease_acquire(struct rpc_req *req)
{
	struct daemon		*d = req->d;
	struct spec_parts	 p = { 0 };
	struct acquire		*a;
	struct pool		*pool;
	int64_t			 ttl, wait;
	const char		*why = NULL;
	int			 nusertags = 0;
	enum rpc_ret		 ret;
	enum lease_bind		 bind;

	if (params_only(req, acquire_params) == -1 ||
	    parse_bind(req, &bind) == -1 ||
	    spec_parse(req, &p, &nusertags) == -1 ||
	    lease_ttl(req, &ttl, &why) == -1 ||
	    rpc_param_duration_ms(req, "wait", d->cfg.gateway.start_timeout,
	    &wait) == -1 || choose_pool(req, &pool) == -1) {
		spec_parts_free(&p);
		return RPC_NORMAL;
	}
	a = acquire_new(req, ttl);
	a->ttl_why = why;
	a->pool = pool;
	a->bind = bind;
	if (pool != NULL)
		ret = acquire_pooled(a, &p, nusertags, wait);
	else {
		start_cold(a, &p, nusertags, wait, NULL);
		ret = RPC_WAIT;
	}
	spec_parts_free(&p);
	return ret;
}

const struct rpc_method method_lease_acquire = {
	.name = "lease.acquire",
	.summary = "lease a sandbox: warm from a pool, or started for you",
	.exec = lease_acquire,
};
