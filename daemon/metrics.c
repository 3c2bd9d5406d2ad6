/* Counters, histograms and the two renderings of them; see metrics.h. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "daemon.h"
#include "exec-session.h"
#include "gw.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "rpc.h"
#include "rpc-server.h"
#include "tail.h"
#include "xmalloc.h"

#define MAX_LABELS	2
#define MAX_SERIES	1024	/* per family: a bound on memory, not a goal */

/* Latency buckets in seconds: a warm lease to a slow cold start. */
static const double latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300
};
#define NBOUNDS	(sizeof latency_bounds / sizeof latency_bounds[0])

struct series {
	char		*key;		/* label values joined by \x1f */
	json_t		*labels;	/* {"name": "value"} */
	uint64_t	 value;		/* counters */
	uint64_t	 buckets[NBOUNDS];	/* histograms: not cumulative */
	double		 sum;
	uint64_t	 count;
	struct series	*next;
};

enum family_id {
	F_RPC, F_RPC_SECONDS, F_ACQUIRE_SECONDS, F_LEASE_EVENTS, F_GW_CALLS,
	F_GW_SECONDS, F_BYTES, F_COUNT
};

struct family_def {
	const char	*name;
	const char	*help;
	bool		 histogram;
	const char	*labels[MAX_LABELS + 1];
};

static const struct family_def family_defs[F_COUNT] = {
	[F_RPC] = { "sandboxd_rpc_requests_total",
	    "Control requests answered, by method and outcome (ok or the "
	    "error kind).", false, { "method", "outcome" } },
	[F_RPC_SECONDS] = { "sandboxd_rpc_request_duration_seconds",
	    "Time from a control request to its answer.", true,
	    { "method" } },
	[F_ACQUIRE_SECONDS] = { "sandboxd_lease_acquire_duration_seconds",
	    "Time to answer a successful lease.acquire, by pool.", true,
	    { "pool" } },
	[F_LEASE_EVENTS] = { "sandboxd_lease_events_total",
	    "Lease events by pool.", false, { "pool", "event" } },
	[F_GW_CALLS] = { "sandboxd_gateway_calls_by_code_total",
	    "Gateway calls by method and gRPC status code.", false,
	    { "method", "code" } },
	[F_GW_SECONDS] = { "sandboxd_gateway_call_duration_seconds",
	    "Gateway call latency by method.", true, { "method" } },
	[F_BYTES] = { "sandboxd_bytes_streamed_total",
	    "Bytes moved between clients and sandboxes, by stream.", false,
	    { "stream" } },
};

struct family {
	struct series	*first;
	struct series	**last;
	unsigned	 n;
	bool		 warned;	/* hit MAX_SERIES */
};

struct metrics {
	struct family	 f[F_COUNT];
};

static const char *const lease_event_names[METRICS_LEASE_EVENT_COUNT] = {
	"acquired", "warm_hit", "cold_start", "released", "expired", "lost",
	"failed"
};

/* grpc_status_code names, as gRPC spells them. */
static const char *const grpc_code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED"
};

struct metrics *
metrics_new(void)
{
	struct metrics	*m = xcalloc(1, sizeof *m);
	int		 i;

	for (i = 0; i < F_COUNT; i++)
		m->f[i].last = &m->f[i].first;
	return m;
}

void
metrics_free(struct metrics *m)
{
	struct series	*s, *next;
	int		 i;

	if (m == NULL)
		return;
	for (i = 0; i < F_COUNT; i++) {
		for (s = m->f[i].first; s != NULL; s = next) {
			next = s->next;
			free(s->key);
			json_decref(s->labels);
			free(s);
		}
	}
	free(m);
}

/*
 * The label values joined by \x1f, in `buf` when they fit, else in a new
 * allocation: every request and gateway call looks up a few series, and
 * a lookup should not cost an allocation and a printf per label.
 */
static char *
series_key(const struct family_def *def, const char *const *values,
    char *buf, size_t len)
{
	size_t	 n[MAX_LABELS], need = 0, off = 0;
	char	*key = buf;
	int	 i;

	for (i = 0; def->labels[i] != NULL; i++)
		need += (n[i] = values[i] ? strlen(values[i]) : 0) + 1;
	if (need > len)
		key = xmalloc(need);
	for (i = 0; def->labels[i] != NULL; i++) {
		if (i > 0)
			key[off++] = '\x1f';
		memcpy(key + off, values[i] ? values[i] : "", n[i]);
		off += n[i];
	}
	key[off] = '\0';
	return key;
}

static struct series *
series_new(struct family *f, const struct family_def *def, const char *key,
    const char *const *values)
{
	struct series	*s = xcalloc(1, sizeof *s);
	int		 i;

	s->key = xstrdup(key);
	s->labels = json_object();
	for (i = 0; def->labels[i] != NULL; i++)
		json_object_set_new(s->labels, def->labels[i],
		    json_string(values[i] ? values[i] : ""));
	*f->last = s;
	f->last = &s->next;
	f->n++;
	return s;
}

/* The series for these label values, made on first use; NULL when full. */
static struct series *
series_get(struct metrics *m, enum family_id id, const char *const *values)
{
	const struct family_def	*def = &family_defs[id];
	struct family		*f = &m->f[id];
	struct series		*s;
	char			 buf[256], *key;

	key = series_key(def, values, buf, sizeof buf);
	for (s = f->first; s != NULL; s = s->next) {
		if (strcmp(s->key, key) == 0)
			break;
	}
	if (s == NULL && f->n < MAX_SERIES)
		s = series_new(f, def, key, values);
	else if (s == NULL && !f->warned) {
		log_warnx("metrics: %s has %u series, dropping new ones",
		    def->name, f->n);
		f->warned = true;
	}
	if (key != buf)
		free(key);
	return s;
}

/* Adds one to a counter. */
static void
count(struct metrics *m, enum family_id id, const char *const *values,
    uint64_t n)
{
	struct series	*s;

	if (m != NULL && (s = series_get(m, id, values)) != NULL)
		s->value += n;
}

/* Records one observation of `usec` in a latency histogram. */
static void
observe(struct metrics *m, enum family_id id, const char *const *values,
    int64_t usec)
{
	struct series	*s;
	double		 v = usec > 0 ? (double)usec / 1e6 : 0;
	size_t		 i;

	if (m == NULL || (s = series_get(m, id, values)) == NULL)
		return;
	for (i = 0; i < NBOUNDS; i++) {
		if (v <= latency_bounds[i]) {
			s->buckets[i]++;
			break;
		}
	}
	s->sum += v;
	s->count++;
}

void
metrics_rpc_done(struct metrics *m, const char *method, const char *pool,
    const char *kind, int64_t usec)
{
	const char	*v[] = { method, kind ? kind : "ok" };
	const char	*p[] = { pool ? pool : "" };

	count(m, F_RPC, v, 1);
	observe(m, F_RPC_SECONDS, v, usec);
	if (kind == NULL && strcmp(method, "lease.acquire") == 0)
		observe(m, F_ACQUIRE_SECONDS, p, usec);
}

void
metrics_lease_event(struct metrics *m, const char *pool,
    enum metrics_lease_event ev)
{
	const char	*v[] = { pool ? pool : "", NULL };

	if ((int)ev < 0 || ev >= METRICS_LEASE_EVENT_COUNT)
		return;
	v[1] = lease_event_names[ev];
	count(m, F_LEASE_EVENTS, v, 1);
}

void
metrics_gw_call(struct metrics *m, const char *method, int grpc_code,
    int64_t usec)
{
	const char	*v[] = { method, "UNKNOWN" };
	const char	*by_method[] = { method };

	if (grpc_code >= 0 && (size_t)grpc_code <
	    sizeof grpc_code_names / sizeof grpc_code_names[0])
		v[1] = grpc_code_names[grpc_code];
	count(m, F_GW_CALLS, v, 1);
	observe(m, F_GW_SECONDS, by_method, usec);
}

void
metrics_bytes(struct metrics *m, const char *stream, uint64_t n)
{
	const char	*v[] = { stream };

	count(m, F_BYTES, v, n);
}

/* --- the model as JSON ------------------------------------------------ */

/* Appends {"name", "type", "help", "samples": []}; returns the samples. */
static json_t *
family_add(json_t *fams, const char *name, const char *type,
    const char *help)
{
	json_t	*samples = json_array();

	json_array_append_new(fams, json_pack("{s:s, s:s, s:s, s:o}", "name",
	    name, "type", type, "help", help, "samples", samples));
	return samples;
}

/* Appends one sample; `labels` (may be NULL) and `value` are stolen. */
static void
sample_add(json_t *samples, const char *name, json_t *labels, json_t *value)
{
	json_array_append_new(samples, json_pack("{s:s, s:o, s:o}", "name",
	    name, "labels", labels ? labels : json_object(), "value", value));
}

/* One gauge or counter family with a single unlabelled sample. */
static void
single(json_t *fams, const char *name, const char *type, const char *help,
    json_t *value)
{
	sample_add(family_add(fams, name, type, help), name, NULL, value);
}

/* A copy of `labels` with one more label. */
static json_t *
labels_with(json_t *labels, const char *key, const char *value)
{
	json_t	*l = json_deep_copy(labels);

	json_object_set_new(l, key, json_string(value));
	return l;
}

/* A histogram series: cumulative buckets, +Inf, _sum and _count. */
static void
histogram_samples(json_t *samples, const char *name, const struct series *s)
{
	char		 bname[128], le[32];
	uint64_t	 cum = 0;
	size_t		 i;

	snprintf(bname, sizeof bname, "%s_bucket", name);
	for (i = 0; i < NBOUNDS; i++) {
		cum += s->buckets[i];
		snprintf(le, sizeof le, "%g", latency_bounds[i]);
		sample_add(samples, bname, labels_with(s->labels, "le", le),
		    json_integer((json_int_t)cum));
	}
	sample_add(samples, bname, labels_with(s->labels, "le", "+Inf"),
	    json_integer((json_int_t)s->count));
	snprintf(bname, sizeof bname, "%s_sum", name);
	sample_add(samples, bname, json_deep_copy(s->labels),
	    json_real(s->sum));
	snprintf(bname, sizeof bname, "%s_count", name);
	sample_add(samples, bname, json_deep_copy(s->labels),
	    json_integer((json_int_t)s->count));
}

/* The families fed as things happen; empty ones are left out. */
static void
fed_families(struct metrics *m, json_t *fams)
{
	const struct family_def	*def;
	const struct series	*s;
	json_t			*samples;
	int			 i;

	for (i = 0; m != NULL && i < F_COUNT; i++) {
		def = &family_defs[i];
		if (m->f[i].first == NULL)
			continue;
		samples = family_add(fams, def->name,
		    def->histogram ? "histogram" : "counter", def->help);
		for (s = m->f[i].first; s != NULL; s = s->next) {
			if (def->histogram)
				histogram_samples(samples, def->name, s);
			else
				sample_add(samples, def->name,
				    json_deep_copy(s->labels),
				    json_integer((json_int_t)s->value));
		}
	}
}

/* Leases now, by state and kind, every combination (zeros included). */
static void
lease_gauges(struct daemon *d, json_t *fams)
{
	static const char *const kinds[] = { "interactive", "job" };
	unsigned	 n[LEASE_LOST + 1][2] = { { 0 } };
	struct lease	*l;
	json_t		*samples;
	int		 st, k;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if ((int)l->state <= LEASE_LOST)
			n[l->state][l->kind == LEASE_JOB]++;
	}
	samples = family_add(fams, "sandboxd_leases", "gauge",
	    "Leases held now, by state and kind.");
	for (st = 0; st <= LEASE_LOST; st++) {
		for (k = 0; k < 2; k++)
			sample_add(samples, "sandboxd_leases",
			    json_pack("{s:s, s:s}", "state",
			    lease_state_name(st), "kind", kinds[k]),
			    json_integer(n[st][k]));
	}
}

/* Leases now by the pool they came from ("" for none). */
static void
leases_by_pool(struct daemon *d, json_t *fams)
{
	json_t		*n = json_object(), *v, *samples;
	struct lease	*l;
	const char	*pool;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		pool = l->pool ? l->pool : "";
		v = json_object_get(n, pool);
		json_object_set_new(n, pool, json_integer(v ?
		    json_integer_value(v) + 1 : 1));
	}
	samples = family_add(fams, "sandboxd_leases_by_pool", "gauge",
	    "Leases held now, by the pool they came from (\"\": none).");
	json_object_foreach(n, pool, v)
		sample_add(samples, "sandboxd_leases_by_pool",
		    json_pack("{s:s}", "pool", pool), json_incref(v));
	json_decref(n);
}

/* One gauge family over the pools, labelled by pool, read from `key`. */
static void
pool_family(json_t *fams, json_t *pools, const char *name, const char *type,
    const char *help, const char *key)
{
	json_t	*samples = family_add(fams, name, type, help), *p;
	size_t	 i;

	json_array_foreach(pools, i, p)
		sample_add(samples, name, json_pack("{s:O}", "pool",
		    json_object_get(p, "name")),
		    json_incref(json_object_get(p, key)));
}

/* Warm pools: members by state, their target, starts that failed. */
static void
pool_gauges(struct daemon *d, json_t *fams)
{
	static const char *const states[] = { "ready", "starting", "leased" };
	json_t	*pools = d->pools ? pools_to_json(d->pools) : json_array();
	json_t	*samples, *p;
	size_t	 i, j;

	samples = family_add(fams, "sandboxd_pool_sandboxes", "gauge",
	    "Sandboxes of each warm pool, by state.");
	json_array_foreach(pools, i, p) {
		for (j = 0; j < sizeof states / sizeof states[0]; j++)
			sample_add(samples, "sandboxd_pool_sandboxes",
			    json_pack("{s:O, s:s}", "pool",
			    json_object_get(p, "name"), "state", states[j]),
			    json_incref(json_object_get(p, states[j])));
	}
	pool_family(fams, pools, "sandboxd_pool_target", "gauge",
	    "Ready sandboxes each pool aims to keep.", "target");
	pool_family(fams, pools, "sandboxd_pool_waiting", "gauge",
	    "Lease requests waiting for a pool's sandbox.", "waiting");
	pool_family(fams, pools, "sandboxd_pool_start_failures_total",
	    "counter", "Pool sandbox starts that failed.", "start_failures");
	pool_family(fams, pools, "sandboxd_pool_backoff_milliseconds",
	    "gauge", "Time before a failing pool tries to start again.",
	    "backoff_ms");
	json_decref(pools);
}

/* Budget use: sandbox-seconds in each user's window, and the pools'. */
static void
budget_gauges(struct daemon *d, json_t *fams)
{
	json_t		*b, *used, *limit, *pools, *u, *v;
	const char	*k;
	char		 uid[24];
	size_t		 i;

	if (d->budget == NULL)
		return;
	b = budget_all_json(d);
	used = family_add(fams, "sandboxd_budget_used_sandbox_seconds",
	    "gauge", "Sandbox-seconds each user used in their budget window, "
	    "running leases included.");
	limit = family_add(fams, "sandboxd_budget_limit_sandbox_seconds",
	    "gauge", "Each user's sandbox-seconds budget (0: none).");
	json_array_foreach(json_object_get(b, "users"), i, u) {
		snprintf(uid, sizeof uid, "%lld", (long long)
		    json_integer_value(json_object_get(u, "uid")));
		sample_add(used, "sandboxd_budget_used_sandbox_seconds",
		    json_pack("{s:s}", "uid", uid), json_incref(json_object_get(
		    json_object_get(u, "used"), "sandbox_seconds")));
		sample_add(limit, "sandboxd_budget_limit_sandbox_seconds",
		    json_pack("{s:s}", "uid", uid), json_incref(json_object_get(
		    json_object_get(u, "limits"), "sandbox_seconds")));
	}
	pools = family_add(fams, "sandboxd_budget_pool_sandbox_seconds_total",
	    "counter", "Sandbox-seconds charged to each warm pool.");
	json_object_foreach(json_object_get(b, "pool_sandbox_seconds"), k, v)
		sample_add(pools, "sandboxd_budget_pool_sandbox_seconds_total",
		    json_pack("{s:s}", "pool", k), json_incref(v));
	single(fams, "sandboxd_host_sandboxes", "gauge",
	    "Sandboxes this host holds now (leases and warm pools).",
	    json_incref(json_object_get(b, "host_sandboxes")));
	json_decref(b);
}

/* Client streams open now: running execs and log tails. */
static void
stream_gauges(struct daemon *d, json_t *fams)
{
	struct exec_session	*x;
	json_t			*samples;
	unsigned		 nexec = 0;

	for (x = exec_session_first(d); x != NULL; x = exec_session_next(x))
		nexec += x->state == EXEC_RUNNING;
	samples = family_add(fams, "sandboxd_streams_open", "gauge",
	    "Client streams open now, by kind.");
	sample_add(samples, "sandboxd_streams_open", json_pack("{s:s}",
	    "kind", "exec"), json_integer(nexec));
	sample_add(samples, "sandboxd_streams_open", json_pack("{s:s}",
	    "kind", "tail"), json_integer(tail_count(d)));
}

/* Channel states and call counters from the gateway client. */
static void
gateway_gauges(struct daemon *d, json_t *fams)
{
	static const char *const states[] = { "idle", "connecting", "ready",
	    "transient_failure", "shutdown" };
	json_t		*gw = gw_status_json(d->gw), *ch, *st, *infl, *calls;
	const char	*s;
	char		 idx[24];
	size_t		 i, j, n;

	st = family_add(fams, "sandboxd_gateway_channels", "gauge",
	    "Gateway channels by connectivity state.");
	for (j = 0; j < sizeof states / sizeof states[0]; j++) {
		n = 0;
		json_array_foreach(json_object_get(gw, "channels"), i, ch) {
			s = json_string_value(json_object_get(ch, "state"));
			n += s != NULL && strcmp(s, states[j]) == 0;
		}
		sample_add(st, "sandboxd_gateway_channels",
		    json_pack("{s:s}", "state", states[j]),
		    json_integer((json_int_t)n));
	}
	infl = family_add(fams, "sandboxd_gateway_channel_inflight", "gauge",
	    "Calls in flight on each gateway channel.");
	calls = family_add(fams, "sandboxd_gateway_channel_calls_total",
	    "counter", "Calls started on each gateway channel.");
	json_array_foreach(json_object_get(gw, "channels"), i, ch) {
		snprintf(idx, sizeof idx, "%zu", i);
		sample_add(infl, "sandboxd_gateway_channel_inflight",
		    json_pack("{s:s}", "channel", idx),
		    json_incref(json_object_get(ch, "inflight")));
		sample_add(calls, "sandboxd_gateway_channel_calls_total",
		    json_pack("{s:s}", "channel", idx),
		    json_incref(json_object_get(ch, "calls")));
	}
	single(fams, "sandboxd_gateway_calls_total", "counter",
	    "Gateway calls started (retries included).",
	    json_incref(json_object_get(gw, "calls")));
	single(fams, "sandboxd_gateway_retries_total", "counter",
	    "Gateway call attempts that were retries.",
	    json_incref(json_object_get(gw, "retries")));
	single(fams, "sandboxd_gateway_failures_total", "counter",
	    "Gateway calls that failed in the end.",
	    json_incref(json_object_get(gw, "failed")));
	single(fams, "sandboxd_gateway_streams_total", "counter",
	    "Gateway streams (StreamExec) opened.",
	    json_incref(json_object_get(gw, "streams")));
	json_decref(gw);
}

json_t *
metrics_json(struct daemon *d)
{
	json_t	*fams = json_array();

	sample_add(family_add(fams, "sandboxd_build_info", "gauge",
	    "Always 1; the version is a label."), "sandboxd_build_info",
	    json_pack("{s:s}", "version", SANDBOXD_VERSION), json_integer(1));
	single(fams, "sandboxd_uptime_seconds", "gauge",
	    "Seconds since sandboxd started.",
	    json_real((double)(now_mono_ms() - d->started_ms) / 1000.0));
	single(fams, "sandboxd_clients", "gauge",
	    "Control-socket connections open now.",
	    json_integer(d->server ? rpc_server_nclients(d->server) : 0));
	single(fams, "sandboxd_rpc_pending", "gauge",
	    "Control requests not yet answered.", json_integer(rpc_pending()));
	lease_gauges(d, fams);
	leases_by_pool(d, fams);
	pool_gauges(d, fams);
	budget_gauges(d, fams);
	stream_gauges(d, fams);
	gateway_gauges(d, fams);
	fed_families(d->metrics, fams);
	return json_pack("{s:o}", "families", fams);
}

/* --- Prometheus text -------------------------------------------------- */

/* Writes `s` escaped as the text format wants (\\, \n, and \" in labels). */
static void
put_escaped(struct evbuffer *out, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (*s == '"' && quote)
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* A sample value: integers exactly, reals to 15 digits, ±Inf, NaN. */
static void
put_value(struct evbuffer *out, const json_t *v)
{
	double	d;

	if (json_is_integer(v)) {
		evbuffer_add_printf(out, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return;
	}
	d = json_number_value(v);
	if (isnan(d))
		evbuffer_add_printf(out, "NaN");
	else if (isinf(d))
		evbuffer_add_printf(out, d > 0 ? "+Inf" : "-Inf");
	else
		evbuffer_add_printf(out, "%.15g", d);
}

/* name{a="x",b="y"} value */
static void
put_sample(struct evbuffer *out, const json_t *sample)
{
	const char	*key, *sep = "{";
	json_t		*labels = json_object_get(sample, "labels"), *v;

	evbuffer_add_printf(out, "%s",
	    json_string_value(json_object_get(sample, "name")));
	json_object_foreach(labels, key, v) {
		evbuffer_add_printf(out, "%s%s=\"", sep, key);
		put_escaped(out, json_string_value(v), true);
		evbuffer_add(out, "\"", 1);
		sep = ",";
	}
	if (json_object_size(labels) > 0)
		evbuffer_add(out, "}", 1);
	evbuffer_add(out, " ", 1);
	put_value(out, json_object_get(sample, "value"));
	evbuffer_add(out, "\n", 1);
}

void
metrics_render_text(const json_t *model, struct evbuffer *out)
{
	json_t		*fam, *sample;
	const char	*name;
	size_t		 i, j;

	json_array_foreach(json_object_get(model, "families"), i, fam) {
		name = json_string_value(json_object_get(fam, "name"));
		evbuffer_add_printf(out, "# HELP %s ", name);
		put_escaped(out, json_string_value(json_object_get(fam,
		    "help")), false);
		evbuffer_add_printf(out, "\n# TYPE %s %s\n", name,
		    json_string_value(json_object_get(fam, "type")));
		json_array_foreach(json_object_get(fam, "samples"), j, sample)
			put_sample(out, sample);
	}
}
