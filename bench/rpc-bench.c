/*
 * rpc-bench: drives sandboxd (or the echo server) over its control socket
 * with sbctl's own blocking JSON-RPC client (client/rpc-client.h), the
 * client any local C program would use.  Prints one JSON line.
 *
 *   rpc-bench call SOCK METHOD [PARAMS]
 *	one call; prints its result
 *   rpc-bench lat SOCK N WARMUP METHOD [PARAMS]
 *	sequential calls on one connection: latency of N after WARMUP
 *   rpc-bench pair SOCK_A SOCK_B N WARMUP METHOD [PARAMS]
 *	the same call to two servers, alternating call by call (A then B,
 *	then B then A, …) so that noise from the machine falls on both
 *   rpc-bench tput SOCK THREADS SECONDS METHOD [PARAMS]
 *	THREADS connections, each calling in a loop for SECONDS
 *   rpc-bench lease SOCK [PARAMS]
 *	acquires one lease; prints its id and sandbox id
 *   rpc-bench leases SOCK COUNT THREADS [PARAMS]
 *	acquires COUNT leases over THREADS connections (kept: the memory case)
 *   rpc-bench warm SOCK N WARMUP POOL
 *	lease.acquire from a warm pool then lease.release, N samples
 *   rpc-bench has SOCK METHOD
 *	exit 0 when sandboxd has METHOD, 1 when it answers method_not_found
 *
 * PARAMS is a JSON object.  Any error reply stops the run with the error.
 */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "bench.h"
#include "client/rpc-client.h"
#include "jsonrpc.h"

struct call_ctx {
	struct bench_worker w;		/* first: bench.h runs and sums it */
	const char	*sock;
	const char	*method;
	json_t		*params;	/* template, copied per call */
	int64_t		 duration_ns;	/* tput: how long to call */
	long		 count;		/* leases: how many this thread takes */
};

static struct rpc_client *
connect_or_die(const char *sock)
{
	struct rpc_client	*c;
	struct rpc_client_error	 err;

	if ((c = rpc_client_open(sock, &err)) == NULL)
		fatalx("%s", err.message);
	return c;
}

/*
 * One call; returns the result (new reference) or NULL with `why` filled
 * when the daemon answered with an error.  Transport failures are fatal.
 */
static json_t *
call(struct rpc_client *c, const char *method, json_t *params, char *why,
    size_t whylen)
{
	struct rpc_client_error	 err;
	json_t			*result, *error;

	if (rpc_client_call(c, method, params, &result, &error, &err) != 0)
		fatalx("%s: %s", method, err.message);
	if (error != NULL) {
		snprintf(why, whylen, "%s: %s (%s)", method,
		    rpc_error_message_of(error),
		    rpc_err_kind(rpc_error_kind_of(error)));
		json_decref(error);
		return NULL;
	}
	return result;
}

/* A call whose error ends the program. */
static json_t *
call_or_die(struct rpc_client *c, const char *method, json_t *params)
{
	char	 why[512];
	json_t	*r;

	if ((r = call(c, method, params, why, sizeof why)) == NULL)
		fatalx("%s", why);
	return r;
}

static json_t *
params_copy(json_t *tmpl)
{
	return tmpl != NULL ? json_deep_copy(tmpl) : NULL;
}

/* Parses the optional PARAMS argument. */
static json_t *
params_arg(int argc, char **argv, int i)
{
	json_error_t	 jerr;
	json_t		*p;

	if (argc <= i)
		return NULL;
	if ((p = json_loads(argv[i], 0, &jerr)) == NULL || !json_is_object(p))
		fatalx("PARAMS must be a JSON object: %s", argv[i]);
	return p;
}

/* call: one call, its result printed (for run.sh's set-up). */
static int
cmd_call(int argc, char **argv)
{
	struct rpc_client	*c;

	if (argc < 4 || argc > 5)
		fatalx("usage: rpc-bench call SOCK METHOD [PARAMS]");
	c = connect_or_die(argv[2]);
	bench_print(call_or_die(c, argv[3], params_arg(argc, argv, 4)));
	rpc_client_close(c);
	return 0;
}

/* lat: WARMUP untimed calls, then N timed, on one connection. */
static int
cmd_lat(int argc, char **argv)
{
	struct bench_samples	 s = { 0 };
	struct rpc_client	*c;
	json_t			*params, *res, *out;
	long			 n, warm, i;
	int64_t			 t0;

	if (argc < 6 || argc > 7)
		fatalx("usage: rpc-bench lat SOCK N WARMUP METHOD [PARAMS]");
	n = bench_count("N", argv[3]);
	warm = bench_count("WARMUP", argv[4]);
	params = params_arg(argc, argv, 6);
	c = connect_or_die(argv[2]);
	for (i = 0; i < warm + n; i++) {
		t0 = bench_now_ns();
		res = call_or_die(c, argv[5], params_copy(params));
		if (i >= warm)
			bench_add(&s, bench_now_ns() - t0);
		json_decref(res);
	}
	out = bench_summary(&s);
	bench_print(out);
	rpc_client_close(c);
	json_decref(params);
	free(s.v);
	return 0;
}

/* pair: alternating calls to two servers, one connection each. */
static int
cmd_pair(int argc, char **argv)
{
	struct bench_samples	 s[2] = { { 0 }, { 0 } };
	struct rpc_client	*c[2];
	json_t			*params, *res;
	long			 n, warm, i;
	int64_t			 t0;
	int			 k, side;

	if (argc < 7 || argc > 8)
		fatalx("usage: rpc-bench pair SOCK_A SOCK_B N WARMUP METHOD "
		    "[PARAMS]");
	n = bench_count("N", argv[4]);
	warm = bench_count("WARMUP", argv[5]);
	params = params_arg(argc, argv, 7);
	c[0] = connect_or_die(argv[2]);
	c[1] = connect_or_die(argv[3]);
	for (i = 0; i < warm + n; i++) {
		for (k = 0; k < 2; k++) {
			side = (int)(i & 1) ^ k;
			t0 = bench_now_ns();
			res = call_or_die(c[side], argv[6], params_copy(params));
			if (i >= warm)
				bench_add(&s[side], bench_now_ns() - t0);
			json_decref(res);
		}
	}
	bench_print(json_pack("{s:o, s:o}", "a", bench_summary(&s[0]),
	    "b", bench_summary(&s[1])));
	for (k = 0; k < 2; k++) {
		rpc_client_close(c[k]);
		free(s[k].v);
	}
	json_decref(params);
	return 0;
}

/* One call on a thread's connection: its latency, or a failure. */
static void
timed_call(struct call_ctx *x, struct rpc_client *c, const char *method,
    json_t *params)
{
	int64_t	 t0 = bench_now_ns();
	json_t	*res;

	if ((res = call(c, method, params, x->w.error, sizeof x->w.error)) ==
	    NULL) {
		x->w.failed++;
		return;
	}
	bench_add(&x->w.samples, bench_now_ns() - t0);
	json_decref(res);
}

/* One tput client: calls until the deadline, recording each latency. */
static void *
tput_thread(void *arg)
{
	struct call_ctx		*x = arg;
	struct rpc_client	*c = connect_or_die(x->sock);
	int64_t			 until;

	pthread_barrier_wait(x->w.barrier);
	until = bench_now_ns() + x->duration_ns;
	while (bench_now_ns() < until)
		timed_call(x, c, x->method, params_copy(x->params));
	rpc_client_close(c);
	return NULL;
}

/* tput: THREADS connections calling METHOD for SECONDS. */
static int
cmd_tput(int argc, char **argv)
{
	struct call_ctx		*ctx;
	json_t			*params;
	long			 nthreads, secs, i;
	int64_t			 elapsed;

	if (argc < 6 || argc > 7)
		fatalx("usage: rpc-bench tput SOCK THREADS SECONDS METHOD "
		    "[PARAMS]");
	nthreads = bench_count("THREADS", argv[3]);
	secs = bench_count("SECONDS", argv[4]);
	params = params_arg(argc, argv, 6);
	ctx = xcalloc((size_t)nthreads, sizeof *ctx);
	for (i = 0; i < nthreads; i++) {
		ctx[i].sock = argv[2];
		ctx[i].method = argv[5];
		ctx[i].params = params;
		ctx[i].duration_ns = secs * 1000000000LL;
	}
	elapsed = bench_run_workers(ctx, sizeof *ctx, nthreads, tput_thread);
	bench_print(bench_workers_summary(ctx, sizeof *ctx, nthreads,
	    elapsed));
	free(ctx);
	json_decref(params);
	return 0;
}

/* lease: one lease.acquire; prints the lease and its sandbox. */
static int
cmd_lease(int argc, char **argv)
{
	struct rpc_client	*c;
	json_t			*params, *r;

	if (argc < 3 || argc > 4)
		fatalx("usage: rpc-bench lease SOCK [PARAMS]");
	params = params_arg(argc, argv, 3);
	c = connect_or_die(argv[2]);
	r = call_or_die(c, "lease.acquire", params != NULL ? params :
	    json_object());
	bench_print(json_pack("{s:O, s:O}", "lease", json_object_get(r, "id"),
	    "sandbox_id", json_object_get(r, "sandbox_id")));
	json_decref(r);
	rpc_client_close(c);
	return 0;
}

/* One leases client: takes its share of leases, timing each acquire. */
static void *
leases_thread(void *arg)
{
	struct call_ctx		*x = arg;
	struct rpc_client	*c = connect_or_die(x->sock);
	long			 i;

	pthread_barrier_wait(x->w.barrier);
	for (i = 0; i < x->count; i++)
		timed_call(x, c, "lease.acquire", x->params != NULL ?
		    json_deep_copy(x->params) : json_object());
	rpc_client_close(c);
	return NULL;
}

/* leases: COUNT leases over THREADS connections, left held. */
static int
cmd_leases(int argc, char **argv)
{
	struct call_ctx		*ctx;
	json_t			*params;
	long			 count, nthreads, i;
	int64_t			 elapsed;

	if (argc < 5 || argc > 6)
		fatalx("usage: rpc-bench leases SOCK COUNT THREADS [PARAMS]");
	count = bench_count("COUNT", argv[3]);
	nthreads = bench_count("THREADS", argv[4]);
	if (nthreads > count)
		nthreads = count;
	params = params_arg(argc, argv, 5);
	ctx = xcalloc((size_t)nthreads, sizeof *ctx);
	for (i = 0; i < nthreads; i++) {
		ctx[i].sock = argv[2];
		ctx[i].params = params;
		ctx[i].count = count / nthreads + (i < count % nthreads);
	}
	elapsed = bench_run_workers(ctx, sizeof *ctx, nthreads, leases_thread);
	bench_print(bench_workers_summary(ctx, sizeof *ctx, nthreads,
	    elapsed));
	free(ctx);
	json_decref(params);
	return 0;
}

/*
 * One acquire from POOL without waiting: the result, or NULL when the pool
 * was empty (pool_exhausted: the sample is skipped, counted, and retried
 * after a pause so the pool can refill).  Other errors are fatal.
 */
static json_t *
warm_acquire(struct rpc_client *c, const char *pool)
{
	struct rpc_client_error	 err;
	json_t			*res, *error;

	if (rpc_client_call(c, "lease.acquire", json_pack("{s:s, s:s}",
	    "pool", pool, "wait", "0s"), &res, &error, &err) != 0)
		fatalx("lease.acquire: %s", err.message);
	if (error == NULL)
		return res;
	if (rpc_error_kind_of(error) != RPC_ERR_POOL_EXHAUSTED)
		fatalx("lease.acquire: %s", rpc_error_message_of(error));
	json_decref(error);
	return NULL;
}

/* warm: acquire from POOL then release, timing the pair. */
static int
cmd_warm(int argc, char **argv)
{
	struct bench_samples	 s = { 0 }, acq = { 0 };
	struct rpc_client	*c;
	json_t			*r, *out;
	long			 n, warm, i, empty = 0;
	int64_t			 t0, t1;

	if (argc != 6)
		fatalx("usage: rpc-bench warm SOCK N WARMUP POOL");
	n = bench_count("N", argv[3]);
	warm = bench_count("WARMUP", argv[4]);
	c = connect_or_die(argv[2]);
	for (i = 0; i < warm + n; i++) {
		t0 = bench_now_ns();
		if ((r = warm_acquire(c, argv[5])) == NULL) {
			empty++;
			i--;
			usleep(20000);
			continue;
		}
		t1 = bench_now_ns();
		json_decref(call_or_die(c, "lease.release",
		    json_pack("{s:O}", "lease", json_object_get(r, "id"))));
		if (i >= warm) {
			bench_add(&s, bench_now_ns() - t0);
			bench_add(&acq, t1 - t0);
		}
		json_decref(r);
	}
	out = bench_summary(&s);
	json_object_set_new(out, "acquire", bench_summary(&acq));
	json_object_set_new(out, "pool_empty", json_integer(empty));
	bench_print(out);
	rpc_client_close(c);
	free(s.v);
	free(acq.v);
	return 0;
}

/* has: exit 0 when sandboxd knows METHOD, 1 when it does not. */
static int
cmd_has(int argc, char **argv)
{
	struct rpc_client_error	 err;
	struct rpc_client	*c;
	json_t			*res, *error;
	int			 rv = 0;

	if (argc != 4)
		fatalx("usage: rpc-bench has SOCK METHOD");
	c = connect_or_die(argv[2]);
	/* No params: a known method answers invalid_params or a result. */
	if (rpc_client_call(c, argv[3], NULL, &res, &error, &err) != 0)
		fatalx("%s: %s", argv[3], err.message);
	if (error != NULL &&
	    rpc_error_kind_of(error) == RPC_ERR_METHOD_NOT_FOUND)
		rv = 1;
	json_decref(res);
	json_decref(error);
	rpc_client_close(c);
	return rv;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} cmds[] = {
	{ "call", cmd_call },
	{ "lat", cmd_lat },
	{ "pair", cmd_pair },
	{ "tput", cmd_tput },
	{ "lease", cmd_lease },
	{ "leases", cmd_leases },
	{ "warm", cmd_warm },
	{ "has", cmd_has },
};

int
main(int argc, char **argv)
{
	size_t	 i;

	log_init("rpc-bench", 0);
	for (i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc, argv);
	}
	fatalx("usage: rpc-bench call|lat|pair|tput|lease|leases|warm|has SOCK ...");
}
