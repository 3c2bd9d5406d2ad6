/*
 * grpc-bench: the direct baselines, calling the gateway with gRPC C core
 * and nothing in between.  Raw calls, not daemon/gw.h: one blocking call at
 * a time per thread on a pluck completion queue, so no event loop, no
 * completion-queue thread and no retry layer sit in the baseline — the
 * fastest a C client of the gateway can be, which is what the daemon is
 * held against.  Each channel is its own HTTP/2 connection (local
 * subchannel pool), like separate SDK processes.  Prints one JSON line.
 *
 *   grpc-bench lat TARGET N WARMUP get|exec SANDBOX
 *	sequential Get, or Exec of `true`, on one channel
 *   grpc-bench pair SOCK TARGET N WARMUP get|exec LEASE SANDBOX
 *	the proxy cases: the same operation through sandboxd (lease.get or
 *	exec on SOCK) and straight to the gateway (Get or Exec), alternating
 *	call by call so that noise from the machine falls on both sides
 *   grpc-bench tput TARGET THREADS SECONDS SANDBOX
 *	THREADS clients, each with its own channel, Exec `true` in a loop
 *   grpc-bench cold TARGET N
 *	the cold path, SDK style: Start, then Get after 200 ms, ×1.5 each
 *	time (capped at 2 s) until RUNNING; timed to RUNNING; then Stop
 *   grpc-bench stream TARGET SANDBOX BYTES
 *	StreamExec `head -c BYTES /dev/zero`, reading every output frame
 */
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "bench.h"
#include "client/rpc-client.h"
#include "jsonrpc.h"
#include "pbuf.h"
#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"

#define GW_SVC		"/coreweave.sandbox.v1beta2.GatewayService/"
#define ST_SVC		"/coreweave.sandbox.v1beta2.GatewayStreamingService/"
#define CALL_TIMEOUT_S	60
#define MAX_MSG		(64 << 20)
/* What sandboxd sends with Exec (exec_timeout 10m, max_output 4 MiB). */
#define EXEC_TIMEOUT_S	600
#define EXEC_MAX_KIB	4096

/* One client: a channel and the queue its calls complete on. */
struct conn {
	grpc_channel		*ch;
	grpc_completion_queue	*cq;
};

struct tput_ctx {
	struct bench_worker	 w;	/* first: bench.h runs and sums it */
	const char		*target;
	const char		*sandbox;
	int64_t			 duration_ns;
};

static char *exec_true[] = { "true" };

/* A channel of its own (no shared subchannel) and a pluck queue. */
static void
conn_open(struct conn *c, const char *target)
{
	grpc_arg		 a[3];
	grpc_channel_args	 args = { .num_args = 3, .args = a };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();

	a[0].type = a[1].type = a[2].type = GRPC_ARG_INTEGER;
	a[0].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
	a[0].value.integer = 1;
	a[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	a[1].value.integer = MAX_MSG;
	a[2].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	a[2].value.integer = MAX_MSG;
	c->ch = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
}

static void
conn_close(struct conn *c)
{
	grpc_channel_destroy(c->ch);
	grpc_completion_queue_shutdown(c->cq);
	while (grpc_completion_queue_pluck(c->cq, NULL,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(c->cq);
}

static gpr_timespec
deadline_in(int seconds)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
	    gpr_time_from_seconds(seconds, GPR_TIMESPAN));
}

/* Starts a batch and blocks until it completes; false when it failed. */
static bool
batch(struct conn *c, grpc_call *call, grpc_op *ops, size_t n, void *tag)
{
	grpc_event	 ev;

	if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
		fatalx("grpc_call_start_batch refused the batch");
	ev = grpc_completion_queue_pluck(c->cq, tag,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/*
 * One unary call: returns the unpacked response, or NULL with `why` set
 * (status and details) when the call failed.
 */
static ProtobufCMessage *
unary(struct conn *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *desc, char *why, size_t whylen)
{
	grpc_op			 ops[6];
	grpc_metadata_array	 md, trailing;
	grpc_byte_buffer	*send = pbuf_pack(req), *recv = NULL;
	grpc_status_code	 status = GRPC_STATUS_UNKNOWN;
	grpc_slice		 details = grpc_empty_slice();
	grpc_call		*call;
	ProtobufCMessage	*resp = NULL;
	char			*d;

	call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS,
	    c->cq, grpc_slice_from_static_string(method), NULL,
	    deadline_in(CALL_TIMEOUT_S), NULL);
	grpc_metadata_array_init(&md);
	grpc_metadata_array_init(&trailing);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
	ops[5].data.recv_status_on_client.status = &status;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (!batch(c, call, ops, 6, call))
		snprintf(why, whylen, "%s: the call failed", method);
	else if (status != GRPC_STATUS_OK) {
		d = pbuf_slice_strdup(details);
		snprintf(why, whylen, "%s: status %d: %s", method, status, d);
		free(d);
	} else if ((resp = pbuf_unpack(recv, desc)) == NULL)
		snprintf(why, whylen, "%s: bad response", method);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&md);
	grpc_metadata_array_destroy(&trailing);
	grpc_byte_buffer_destroy(send);
	if (recv != NULL)
		grpc_byte_buffer_destroy(recv);
	grpc_call_unref(call);
	return resp;
}

/* A unary call whose failure ends the program. */
static ProtobufCMessage *
unary_or_die(struct conn *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage	*resp;
	char			 why[512];

	if ((resp = unary(c, method, req, desc, why, sizeof why)) == NULL)
		fatalx("%s", why);
	return resp;
}

/* Exec `true` the way sandboxd does; false with `why` on failure. */
static bool
exec_true_once(struct conn *c, const char *sandbox, char *why, size_t whylen)
{
	Coreweave__Sandbox__V1beta2__ExecSandboxRequest r =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_SANDBOX_REQUEST__INIT;
	Coreweave__Sandbox__V1beta2__ExecSandboxResponse *resp;
	bool ok;

	r.sandbox_id = (char *)sandbox;
	r.command = exec_true;
	r.n_command = 1;
	r.max_timeout_seconds = EXEC_TIMEOUT_S;
	r.output_handling =
	    COREWEAVE__SANDBOX__V1BETA2__OUTPUT_POLICY__OUTPUT_POLICY_BUFFERED;
	r.buffered_max_kib = EXEC_MAX_KIB;
	resp = (void *)unary(c, GW_SVC "Exec", &r.base,
	    &coreweave__sandbox__v1beta2__exec_sandbox_response__descriptor,
	    why, whylen);
	if (resp == NULL)
		return false;
	ok = resp->result != NULL && resp->result->exit_code == 0;
	if (!ok)
		snprintf(why, whylen, "Exec: true did not exit 0");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return ok;
}

/* One Get of the sandbox; its status, or -1 with `why`. */
static int
get_once(struct conn *c, const char *sandbox, char *why, size_t whylen)
{
	Coreweave__Sandbox__V1beta2__GetSandboxRequest r =
	    COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_REQUEST__INIT;
	Coreweave__Sandbox__V1beta2__GetSandboxResponse *resp;
	int st;

	r.sandbox_id = (char *)sandbox;
	resp = (void *)unary(c, GW_SVC "Get", &r.base,
	    &coreweave__sandbox__v1beta2__get_sandbox_response__descriptor,
	    why, whylen);
	if (resp == NULL)
		return -1;
	st = (int)resp->sandbox_status;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return st;
}

/* lat: WARMUP then N sequential Get or Exec calls on one channel. */
static int
cmd_lat(int argc, char **argv)
{
	struct bench_samples	 s = { 0 };
	struct conn		 c;
	long			 n, warm, i;
	bool			 is_exec, ok;
	int64_t			 t0;
	char			 why[512];

	if (argc != 7 || (strcmp(argv[5], "get") != 0 &&
	    strcmp(argv[5], "exec") != 0))
		fatalx("usage: grpc-bench lat TARGET N WARMUP get|exec "
		    "SANDBOX");
	n = bench_count("N", argv[3]);
	warm = bench_count("WARMUP", argv[4]);
	is_exec = strcmp(argv[5], "exec") == 0;
	conn_open(&c, argv[2]);
	for (i = 0; i < warm + n; i++) {
		t0 = bench_now_ns();
		if (is_exec)
			ok = exec_true_once(&c, argv[6], why, sizeof why);
		else
			ok = get_once(&c, argv[6], why, sizeof why) >= 0;
		if (!ok)
			fatalx("%s", why);
		if (i >= warm)
			bench_add(&s, bench_now_ns() - t0);
	}
	bench_print(bench_summary(&s));
	conn_close(&c);
	free(s.v);
	return 0;
}

/* One call through sandboxd: lease.get, or exec of `true`. */
static void
daemon_once(struct rpc_client *rc, bool is_exec, const char *lease)
{
	struct rpc_client_error	 err;
	json_t			*params, *result, *error;

	params = is_exec ? json_pack("{s:s, s:[s]}", "lease", lease, "argv",
	    "true") : json_pack("{s:s}", "lease", lease);
	if (rpc_client_call(rc, is_exec ? "exec" : "lease.get", params,
	    &result, &error, &err) != 0)
		fatalx("sandboxd: %s", err.message);
	if (error != NULL)
		fatalx("sandboxd: %s", rpc_error_message_of(error));
	if (is_exec && json_integer_value(json_object_get(result,
	    "exit_code")) != 0)
		fatalx("sandboxd: true did not exit 0");
	json_decref(result);
}

/* One call straight to the gateway: Get, or Exec of `true`. */
static void
direct_once(struct conn *c, bool is_exec, const char *sandbox)
{
	char	 why[512];
	bool	 ok;

	if (is_exec)
		ok = exec_true_once(c, sandbox, why, sizeof why);
	else
		ok = get_once(c, sandbox, why, sizeof why) >= 0;
	if (!ok)
		fatalx("%s", why);
}

/* pair: daemon and direct calls alternating; both summaries. */
static int
cmd_pair(int argc, char **argv)
{
	struct bench_samples	 s[2] = { { 0 }, { 0 } };
	struct rpc_client_error	 err;
	struct rpc_client	*rc;
	struct conn		 c;
	long			 n, warm, i;
	int64_t			 t0;
	int			 k, side;
	bool			 is_exec;

	if (argc != 9 || (strcmp(argv[6], "get") != 0 &&
	    strcmp(argv[6], "exec") != 0))
		fatalx("usage: grpc-bench pair SOCK TARGET N WARMUP get|exec "
		    "LEASE SANDBOX");
	n = bench_count("N", argv[4]);
	warm = bench_count("WARMUP", argv[5]);
	is_exec = strcmp(argv[6], "exec") == 0;
	if ((rc = rpc_client_open(argv[2], &err)) == NULL)
		fatalx("%s", err.message);
	conn_open(&c, argv[3]);
	for (i = 0; i < warm + n; i++) {
		for (k = 0; k < 2; k++) {
			side = (int)(i & 1) ^ k;	/* 0 daemon, 1 direct */
			t0 = bench_now_ns();
			if (side == 0)
				daemon_once(rc, is_exec, argv[7]);
			else
				direct_once(&c, is_exec, argv[8]);
			if (i >= warm)
				bench_add(&s[side], bench_now_ns() - t0);
		}
	}
	bench_print(json_pack("{s:o, s:o}", "daemon", bench_summary(&s[0]),
	    "direct", bench_summary(&s[1])));
	rpc_client_close(rc);
	conn_close(&c);
	free(s[0].v);
	free(s[1].v);
	return 0;
}

/* One tput client: its own channel, Exec in a loop until time is up. */
static void *
tput_thread(void *arg)
{
	struct tput_ctx	*x = arg;
	struct conn	 c;
	int64_t		 t0, until;

	conn_open(&c, x->target);
	/* Connect before the clock starts, as the daemon's channels are. */
	grpc_channel_check_connectivity_state(c.ch, 1);
	pthread_barrier_wait(x->w.barrier);
	until = bench_now_ns() + x->duration_ns;
	while ((t0 = bench_now_ns()) < until) {
		if (!exec_true_once(&c, x->sandbox, x->w.error,
		    sizeof x->w.error)) {
			x->w.failed++;
			continue;
		}
		bench_add(&x->w.samples, bench_now_ns() - t0);
	}
	conn_close(&c);
	return NULL;
}

/* tput: THREADS independent clients for SECONDS; ops/s and latency. */
static int
cmd_tput(int argc, char **argv)
{
	struct tput_ctx		*ctx;
	long			 nthreads, secs, i;
	int64_t			 elapsed;

	if (argc != 6)
		fatalx("usage: grpc-bench tput TARGET THREADS SECONDS SANDBOX");
	nthreads = bench_count("THREADS", argv[3]);
	secs = bench_count("SECONDS", argv[4]);
	ctx = xcalloc((size_t)nthreads, sizeof *ctx);
	for (i = 0; i < nthreads; i++) {
		ctx[i].target = argv[2];
		ctx[i].sandbox = argv[5];
		ctx[i].duration_ns = secs * 1000000000LL;
	}
	elapsed = bench_run_workers(ctx, sizeof *ctx, nthreads, tput_thread);
	bench_print(bench_workers_summary(ctx, sizeof *ctx, nthreads,
	    elapsed));
	free(ctx);
	return 0;
}

/* Start of an idle sandbox (sleep infinity), tagged for the bench. */
static char *
start_idle(struct conn *c)
{
	Coreweave__Sandbox__V1beta2__StartSandboxRequest r =
	    COREWEAVE__SANDBOX__V1BETA2__START_SANDBOX_REQUEST__INIT;
	Coreweave__Sandbox__V1beta2__StartSandboxResponse *resp;
	char	*tags[] = { "sandboxd-bench" }, *id;

	r.tags = tags;
	r.n_tags = 1;
	r.max_lifetime_seconds = 600;
	resp = (void *)unary_or_die(c, GW_SVC "Start", &r.base,
	    &coreweave__sandbox__v1beta2__start_sandbox_response__descriptor);
	id = xstrdup(resp->sandbox_id);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return id;
}

static void
stop_sandbox(struct conn *c, const char *id)
{
	Coreweave__Sandbox__V1beta2__StopSandboxRequest r =
	    COREWEAVE__SANDBOX__V1BETA2__STOP_SANDBOX_REQUEST__INIT;

	r.sandbox_id = (char *)id;
	protobuf_c_message_free_unpacked(unary_or_die(c, GW_SVC "Stop",
	    &r.base,
	    &coreweave__sandbox__v1beta2__stop_sandbox_response__descriptor),
	    NULL);
}

/* cold: N times Start + SDK-style polling until RUNNING, then Stop. */
static int
cmd_cold(int argc, char **argv)
{
	struct bench_samples	 s = { 0 };
	struct conn		 c;
	json_t			*out;
	long			 n, i, polls = 0;
	int64_t			 t0, delay_us;
	char			*id, why[512];
	int			 st;

	if (argc != 4)
		fatalx("usage: grpc-bench cold TARGET N");
	n = bench_count("N", argv[3]);
	conn_open(&c, argv[2]);
	for (i = 0; i < n; i++) {
		t0 = bench_now_ns();
		id = start_idle(&c);
		for (delay_us = 200000;; delay_us = delay_us * 3 / 2) {
			usleep((useconds_t)(delay_us > 2000000 ? 2000000 :
			    delay_us));
			polls++;
			if ((st = get_once(&c, id, why, sizeof why)) < 0)
				fatalx("%s", why);
			if (st == COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_RUNNING)
				break;
			if (bench_now_ns() - t0 > 300 * 1000000000LL)
				fatalx("%s did not reach RUNNING in 5 min", id);
		}
		bench_add(&s, bench_now_ns() - t0);
		stop_sandbox(&c, id);
		free(id);
	}
	out = bench_summary(&s);
	json_object_set_new(out, "polls", json_integer(polls));
	bench_print(out);
	conn_close(&c);
	free(s.v);
	return 0;
}

/* Sends the StreamExec init and half-closes (no stdin). */
static void
stream_open(struct conn *c, grpc_call *call, const char *sandbox, long bytes,
    grpc_metadata_array *md)
{
	Coreweave__Sandbox__V1beta2__ExecStreamRequest req =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__INIT;
	Coreweave__Sandbox__V1beta2__ExecStreamInit init =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_INIT__INIT;
	grpc_byte_buffer	*send;
	grpc_op			 ops[4];
	char			 count[32];
	char			*argv[] = { "head", "-c", count, "/dev/zero" };

	snprintf(count, sizeof count, "%ld", bytes);
	init.sandbox_id = (char *)sandbox;
	init.command = argv;
	init.n_command = 4;
	req.request_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT;
	req.init = &init;
	send = pbuf_pack(&req.base);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = md;
	if (!batch(c, call, ops, 4, (void *)1))
		fatalx("StreamExec: the init failed");
	grpc_byte_buffer_destroy(send);
}

/*
 * Reads one response frame: adds output bytes to *got, sets *first_ns at
 * the first output byte; returns 1 on exit, 0 to go on, dies on errors.
 */
static int
stream_read(struct conn *c, grpc_call *call, int64_t *got, int64_t *first_ns,
    long *frames)
{
	Coreweave__Sandbox__V1beta2__ExecStreamResponse *resp;
	grpc_byte_buffer	*recv = NULL;
	grpc_op			 op;
	int			 rv = 0;

	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &recv;
	if (!batch(c, call, &op, 1, (void *)2) || recv == NULL)
		fatalx("StreamExec: the stream ended without an exit frame");
	resp = (void *)pbuf_unpack(recv,
	    &coreweave__sandbox__v1beta2__exec_stream_response__descriptor);
	grpc_byte_buffer_destroy(recv);
	if (resp == NULL)
		fatalx("StreamExec: bad frame");
	switch (resp->response_case) {
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_OUTPUT:
		if (*got == 0)
			*first_ns = bench_now_ns();
		*got += (int64_t)resp->output->data.len;
		(*frames)++;
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_EXIT:
		rv = 1;
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_ERROR:
		fatalx("StreamExec: %s", resp->error->message);
	default:
		break;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return rv;
}

/* Waits for the call's final status. */
static void
stream_finish(struct conn *c, grpc_call *call)
{
	grpc_metadata_array	 trailing;
	grpc_status_code	 status;
	grpc_slice		 details = grpc_empty_slice();
	grpc_op			 op;

	grpc_metadata_array_init(&trailing);
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &trailing;
	op.data.recv_status_on_client.status = &status;
	op.data.recv_status_on_client.status_details = &details;
	if (!batch(c, call, &op, 1, (void *)3) || status != GRPC_STATUS_OK)
		fatalx("StreamExec: the call ended with an error");
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&trailing);
}

/* stream: one StreamExec of BYTES of output, read to the exit frame. */
static int
cmd_stream(int argc, char **argv)
{
	struct conn		 c;
	grpc_call		*call;
	grpc_metadata_array	 md;
	long			 bytes;
	int64_t			 t0, t1, got = 0, first = 0;
	long			 frames = 0;

	if (argc != 5)
		fatalx("usage: grpc-bench stream TARGET SANDBOX BYTES");
	bytes = bench_count("BYTES", argv[4]);
	conn_open(&c, argv[2]);
	grpc_channel_check_connectivity_state(c.ch, 1);
	grpc_metadata_array_init(&md);
	t0 = bench_now_ns();
	call = grpc_channel_create_call(c.ch, NULL, GRPC_PROPAGATE_DEFAULTS,
	    c.cq, grpc_slice_from_static_string(ST_SVC "StreamExec"), NULL,
	    deadline_in(600), NULL);
	stream_open(&c, call, argv[3], bytes, &md);
	while (stream_read(&c, call, &got, &first, &frames) == 0)
		;
	t1 = bench_now_ns();
	stream_finish(&c, call);
	if (got != bytes)
		fatalx("StreamExec: %lld bytes read, %ld expected",
		    (long long)got, bytes);
	bench_print(json_pack("{s:I, s:I, s:f, s:f, s:f}", "bytes",
	    (json_int_t)got, "frames", (json_int_t)frames,
	    "seconds", (double)(t1 - t0) / 1e9,
	    "mb_s", (double)got / 1e6 / ((double)(t1 - t0) / 1e9),
	    "first_byte_us", (double)(first - t0) / 1e3));
	grpc_metadata_array_destroy(&md);
	grpc_call_unref(call);
	conn_close(&c);
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} cmds[] = {
	{ "lat", cmd_lat },
	{ "pair", cmd_pair },
	{ "tput", cmd_tput },
	{ "cold", cmd_cold },
	{ "stream", cmd_stream },
};

int
main(int argc, char **argv)
{
	size_t	 i;
	int	 rv = -1;

	log_init("grpc-bench", 0);
	grpc_init();
	for (i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			rv = cmds[i].fn(argc, argv);
			break;
		}
	}
	if (rv == -1)
		fatalx("usage: grpc-bench lat|pair|tput|cold|stream TARGET ...");
	grpc_shutdown();
	return rv;
}
