/*
 * lease.acquire: start a sandbox (idle keep-alive, or a job's command) and
 * answer once it is RUNNING.  Polling Get runs on loop timers with the
 * SDK's backoff (200 ms, ×1.5, capped at 2 s), so nothing blocks.  If the
 * client leaves or the daemon stops before the answer, nobody holds the
 * sandbox: it is stopped at once.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

#define POLL_FIRST_MS	200
#define POLL_MAX_MS	2000
#define LIFETIME_MARGIN_S 60

struct acquire {
	struct rpc_req	*req;
	struct lease	*l;
	int64_t		 ttl_ms;
	int64_t		 deadline;	/* monotonic */
	int64_t		 delay_ms;
	struct event	*timer;
};

static void	acquire_poll(evutil_socket_t, short, void *);

static void
acquire_free(struct acquire *a)
{
	if (a->timer != NULL)
		event_free(a->timer);
	lease_unref(a->l);
	free(a);
}

/* Gives up: the sandbox (if any) is stopped, the lease forgotten. */
static void
acquire_abandon(struct acquire *a)
{
	if (!a->l->removed)
		lease_stop(a->l, LEASE_RELEASING, NULL, NULL);
}

static void
acquire_fail(struct acquire *a, enum rpc_err e, const char *msg)
{
	acquire_abandon(a);
	rpc_fail(a->req, e, NULL, "%s", msg);
	acquire_free(a);
}

static void
acquire_ready(struct acquire *a)
{
	struct lease	*l = a->l;
	const char	*fields[] = { NULL, NULL, NULL, NULL };
	char		 f0[64], f1[96], f2[32];

	if (l->state == LEASE_STARTING)
		lease_set_ready(l, a->ttl_ms);
	snprintf(f0, sizeof f0, "LEASE_ID=%s", l->id);
	snprintf(f1, sizeof f1, "SANDBOX_ID=%s", l->sandbox_id);
	snprintf(f2, sizeof f2, "OWNER_UID=%u", (unsigned)l->owner_uid);
	fields[0] = f0;
	fields[1] = f1;
	fields[2] = f2;
	log_event(fields, "lease %s: sandbox %s %s for uid %u", l->id,
	    l->sandbox_id, lease_state_name(l->state), (unsigned)l->owner_uid);
	rpc_reply(a->req, lease_to_json(l));
	acquire_free(a);
}

/* Decides what a reported status means for the waiting request. */
static void
acquire_check(struct acquire *a, const struct gw_sandbox *sb)
{
	struct lease	*l = a->l;
	struct timeval	 tv;
	char		 msg[512];

	if (!rpc_client_alive(a->req->client) || a->req->d->stopping ||
	    l->removed) {
		acquire_fail(a, RPC_ERR_CANCELLED, "request abandoned");
		return;
	}
	lease_update(l, sb);
	if (sb->status == GW_STATUS_RUNNING) {
		acquire_ready(a);
		return;
	}
	if (gw_status_terminal(sb->status)) {
		if (l->kind == LEASE_JOB) {
			lease_set_ready(l, a->ttl_ms);
			lease_update(l, sb);	/* completed or failed */
			acquire_ready(a);
			return;
		}
		snprintf(msg, sizeof msg, "sandbox %s ended while starting "
		    "(%s)%s%s", sb->id, gw_status_name(sb->status),
		    sb->status_reason[0] ? ": " : "", sb->status_reason);
		acquire_fail(a, RPC_ERR_SANDBOX_FAILED, msg);
		return;
	}
	if (now_mono_ms() >= a->deadline) {
		snprintf(msg, sizeof msg, "sandbox %s was not running in time "
		    "(still %s)", sb->id, gw_status_name(sb->status));
		acquire_fail(a, RPC_ERR_DEADLINE_EXCEEDED, msg);
		return;
	}
	tv.tv_sec = a->delay_ms / 1000;
	tv.tv_usec = (a->delay_ms % 1000) * 1000;
	evtimer_add(a->timer, &tv);
	a->delay_ms = a->delay_ms * 3 / 2;
	if (a->delay_ms > POLL_MAX_MS)
		a->delay_ms = POLL_MAX_MS;
}

static void
acquire_got(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct acquire	*a = arg;

	if (err != NULL) {
		acquire_fail(a, err->rpc, err->message);
		return;
	}
	acquire_check(a, sb);
}

static void
acquire_poll(evutil_socket_t fd, short what, void *arg)
{
	struct acquire	*a = arg;

	gw_get(a->req->d->gw, a->l->sandbox_id, acquire_got, a);
}

static void
acquire_started(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb)
{
	struct acquire	*a = arg;

	if (err != NULL) {
		lease_remove(a->l);
		rpc_fail_gw(a->req, err);
		acquire_free(a);
		return;
	}
	a->l->sandbox_id = xstrdup(sb->id);
	log_debug("lease %s: started %s (%s)", a->l->id, sb->id,
	    gw_status_name(sb->status));
	acquire_check(a, sb);
}

/* Storage for the parsed request; the gw_spec points into it. */
struct spec_parts {
	struct gw_spec	 spec;
	const char	**args;
	const char	**tags;
	const char	**usertags;
	struct gw_kv	*env;
	struct gw_file	*files;
	unsigned char	**filedata;
	struct gw_secret *secrets;
	char		*instance_tag;
	char		*req_tag;
};

static void
spec_parts_free(struct spec_parts *p)
{
	int	i;

	for (i = 0; i < p->spec.nfiles; i++)
		free(p->filedata[i]);
	free(p->filedata);
	free(p->files);
	free(p->args);
	free(p->tags);
	free(p->usertags);
	free(p->env);
	free(p->secrets);
	free(p->instance_tag);
	free(p->req_tag);
}

static int
parse_env(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*env = json_object_get(req->params, "env"), *v;
	const char	*k;
	int		 n = 0;

	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_object(env)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "parameter \"env\" must be an object of strings");
		return -1;
	}
	p->env = xcalloc(json_object_size(env) + 1, sizeof *p->env);
	json_object_foreach(env, k, v) {
		if (!json_is_string(v) || *k == '\0' || strchr(k, '=')) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "env: "
			    "\"%.64s\" must be a name with a string value", k);
			return -1;
		}
		p->env[n++] = (struct gw_kv){ k, json_string_value(v) };
	}
	p->spec.env = p->env;
	p->spec.nenv = n;
	return 0;
}

static int
parse_files(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*files = json_object_get(req->params, "files"), *f;
	const char	*path, *data;
	size_t		 i, len;

	if (files == NULL || json_is_null(files))
		return 0;
	if (!json_is_array(files)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter "
		    "\"files\" must be an array of {path, data_b64}");
		return -1;
	}
	p->files = xcalloc(json_array_size(files) + 1, sizeof *p->files);
	p->filedata = xcalloc(json_array_size(files) + 1, sizeof *p->filedata);
	json_array_foreach(files, i, f) {
		if (json_unpack(f, "{s:s, s:s !}", "path", &path, "data_b64",
		    &data) == -1 || *path == '\0' ||
		    b64_decode(data, strlen(data), &p->filedata[i], &len) == -1) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "files[%zu]:"
			    " expected {\"path\": …, \"data_b64\": …} with "
			    "valid base64", i);
			return -1;
		}
		p->files[i] = (struct gw_file){ path, p->filedata[i], len };
		p->spec.nfiles = (int)i + 1;
	}
	p->spec.files = p->files;
	return 0;
}

static int
parse_secrets(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*sec = json_object_get(req->params, "secrets"), *s;
	struct gw_secret *g;
	size_t		 i;

	if (sec == NULL || json_is_null(sec))
		return 0;
	if (!json_is_array(sec)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter "
		    "\"secrets\" must be an array");
		return -1;
	}
	p->secrets = xcalloc(json_array_size(sec) + 1, sizeof *p->secrets);
	json_array_foreach(sec, i, s) {
		g = &p->secrets[i];
		g->path = g->field = g->env_var = "";
		if (json_unpack(s, "{s:s, s?s, s?s, s?s !}", "store", &g->store,
		    "path", &g->path, "field", &g->field, "env_var",
		    &g->env_var) == -1) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "secrets[%zu]"
			    ": expected {\"store\", \"path\", \"field\", "
			    "\"env_var\"} strings", i);
			return -1;
		}
		p->spec.nsecrets = (int)i + 1;
	}
	p->spec.secrets = p->secrets;
	return 0;
}

/* Our tags first (for reconciliation), then the caller's. */
static void
build_tags(struct daemon *d, struct lease *l, struct spec_parts *p, int nuser)
{
	int	i, n = 0;

	p->instance_tag = xasprintf("sandboxd-instance:%s", d->instance_id);
	p->req_tag = xasprintf("sandboxd-req:%s", l->id);
	p->tags = xcalloc(nuser + 4, sizeof *p->tags);
	p->tags[n++] = "sandboxd";
	p->tags[n++] = p->instance_tag;
	p->tags[n++] = p->req_tag;
	for (i = 0; i < nuser; i++) {
		p->tags[n++] = p->usertags[i];
		json_array_append_new(l->tags, json_string(p->usertags[i]));
	}
	p->spec.tags = p->tags;
	p->spec.ntags = n;
}

static int
parse_spec(struct rpc_req *req, struct spec_parts *p, int *nusertags)
{
	struct gw_spec	*s = &p->spec;
	const char	*gpu_type = NULL;
	int64_t		 gpus;

	if (params_string(req, "image", false, &s->image) == -1 ||
	    params_string(req, "cpu", false, &s->cpu) == -1 ||
	    params_string(req, "memory", false, &s->memory) == -1 ||
	    params_int(req, "gpu_count", 0, 1024, 0, &gpus) == -1 ||
	    params_string(req, "gpu_type", false, &gpu_type) == -1 ||
	    params_string(req, "egress", false, &s->egress) == -1 ||
	    params_strings(req, "tags", false, &p->usertags, nusertags) == -1 ||
	    params_strings(req, "command", false, &p->args, &s->nargs) == -1 ||
	    parse_env(req, p) == -1 || parse_files(req, p) == -1 ||
	    parse_secrets(req, p) == -1)
		return -1;
	s->gpu_count = gpus;
	s->gpu_type = gpu_type;
	if (p->args != NULL && s->nargs == 0) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "parameter \"command\" must not be empty");
		return -1;
	}
	if (s->nargs > 0) {		/* job: argv[0] is the command */
		s->command = p->args[0];
		s->args = p->args + 1;
		s->nargs--;
	}
	return 0;
}

/* The lease's TTL: asked for or default, within the configured caps. */
static int
lease_ttl(struct rpc_req *req, int64_t *ttl)
{
	struct config_budget	*b = &req->d->cfg.budget;
	int64_t			 cap = b->max_lease_ttl;

	if (rpc_param_duration_ms(req, "ttl", b->default_lease_ttl, ttl) == -1)
		return -1;
	if (b->max_lifetime > 0 && b->max_lifetime < cap)
		cap = b->max_lifetime;
	if (*ttl <= 0) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "ttl must be positive");
		return -1;
	}
	if (*ttl > cap) {
		rpc_fail(req, RPC_ERR_BUDGET_EXCEEDED, json_pack("{s:s, s:I, "
		    "s:I}", "budget", "max_lease_ttl", "limit",
		    (json_int_t)(cap / 1000), "requested",
		    (json_int_t)(*ttl / 1000)), "ttl of %llds exceeds the "
		    "limit of %llds", (long long)(*ttl / 1000),
		    (long long)(cap / 1000));
		return -1;
	}
	return 0;
}

static const char *const acquire_params[] = {
	"image", "cpu", "memory", "gpu_count", "gpu_type", "env", "tags",
	"ttl", "files", "secrets", "egress", "command", "wait", NULL
};

static enum rpc_ret
lease_acquire(struct rpc_req *req)
{
	struct daemon		*d = req->d;
	struct spec_parts	 p = { 0 };
	struct acquire		*a;
	int64_t			 ttl, wait, lifetime_s;
	int			 nusertags = 0;

	if (params_only(req, acquire_params) == -1 ||
	    parse_spec(req, &p, &nusertags) == -1 || lease_ttl(req, &ttl) == -1 ||
	    rpc_param_duration_ms(req, "wait", d->cfg.gateway.start_timeout,
	    &wait) == -1) {
		spec_parts_free(&p);
		return RPC_NORMAL;
	}
	a = xcalloc(1, sizeof *a);
	a->req = req;
	a->ttl_ms = ttl;
	a->deadline = now_mono_ms() + wait;
	a->delay_ms = POLL_FIRST_MS;
	a->timer = evtimer_new(d->base, acquire_poll, a);
	a->l = lease_new(d->leases, req->peer.uid, req->peer.pid,
	    p.spec.command != NULL ? LEASE_JOB : LEASE_INTERACTIVE);
	lease_ref(a->l);
	if (p.spec.image != NULL)
		a->l->image = xstrdup(p.spec.image);
	build_tags(d, a->l, &p, nusertags);

	/* Bound the bill even if this daemon dies: TTL plus a margin. */
	lifetime_s = ttl / 1000 + LIFETIME_MARGIN_S;
	if (d->cfg.budget.max_lifetime > 0 &&
	    lifetime_s > d->cfg.budget.max_lifetime / 1000)
		lifetime_s = d->cfg.budget.max_lifetime / 1000;
	p.spec.max_lifetime_s = (int32_t)lifetime_s;
	gw_start(d->gw, &p.spec, acquire_started, a);
	spec_parts_free(&p);
	return RPC_WAIT;
}

const struct rpc_method method_lease_acquire = {
	.name = "lease.acquire",
	.summary = "start a sandbox and lease it",
	.exec = lease_acquire,
};
