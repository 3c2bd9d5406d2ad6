/*
 * tail-bench SOCK TARGET LEASE_A LEASE_B SANDBOX_B BYTES READERS DAEMON_PID:
 * the tail fan-out case.  Both leases run a job that waits for a file
 * named `go` in its work directory, then writes BYTES zero bytes to its log
 * and sleeps; an exec of `touch go` through sandboxd starts it, and the
 * clock starts just before that exec.
 *
 *   direct: one StreamLogs (follow) straight to the gateway on SANDBOX_B,
 *           read until BYTES of log have come: the baseline.
 *   fan-out: READERS connections to sandboxd, each a `tail.start` (follow)
 *           of LEASE_A, so they share one upstream StreamLogs; all read at
 *           once, each until BYTES.  Per reader: MB/s from the trigger to
 *           its last byte; with sandboxd's CPU time (utime + stime of
 *           DAEMON_PID) over the phase, and this program's own.
 *
 * A tail.data line is read like stream-bench reads exec.output: its
 * data_b64 is cut out and decoded, jansson parses the rest, and every
 * offset must be the bytes received so far.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <poll.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "base64.h"
#include "bench.h"
#include "client/rpc-client.h"
#include "jsonrpc.h"
#include "pbuf.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"

#define PB(x)		Coreweave__Sandbox__V1beta2__ ## x
#define ST_SVC		"/coreweave.sandbox.v1beta2.GatewayStreamingService/"
#define MAX_READERS	64
#define PHASE_TIMEOUT_S	300

struct reader {
	int		 fd;
	struct evbuffer	*in;
	char		*tail;		/* its id, once tail.start answered */
	int64_t		 got, notes, done_ns;
};

/* utime + stime of a process, in seconds. */
static double
proc_cpu_s(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut, st;
	FILE			*f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	if (fgets(buf, sizeof buf, f) == NULL ||
	    (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		fatalx("%s: cannot parse", path);
	fclose(f);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Starts the job of `lease`: an exec of `touch go` through sandboxd. */
static void
trigger(const char *sock, const char *lease)
{
	struct rpc_client_error	 err;
	struct rpc_client	*c;
	json_t			*result, *error;

	if ((c = rpc_client_open(sock, &err)) == NULL)
		fatalx("%s", err.message);
	if (rpc_client_call(c, "exec", json_pack("{s:s, s:[s, s]}", "lease",
	    lease, "argv", "touch", "go"), &result, &error, &err) != 0)
		fatalx("exec touch go: %s", err.message);
	if (error != NULL)
		fatalx("exec touch go: %s", rpc_error_message_of(error));
	json_decref(result);
	rpc_client_close(c);
}

/* --- the baseline: one direct StreamLogs ------------------------------- */

static grpc_channel *
channel_open(const char *target)
{
	grpc_arg		 a[2];
	grpc_channel_args	 args = { .num_args = 2, .args = a };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel		*ch;

	a[0].type = a[1].type = GRPC_ARG_INTEGER;
	a[0].key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
	a[0].value.integer = 1;
	a[1].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	a[1].value.integer = 64 << 20;
	ch = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	return ch;
}

/* Starts a batch and waits for it; false when it failed. */
static bool
batch(grpc_completion_queue *cq, grpc_call *call, grpc_op *ops, size_t n,
    void *tag)
{
	grpc_event	 ev;

	if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
		fatalx("grpc_call_start_batch refused the batch");
	ev = grpc_completion_queue_pluck(cq, tag,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/*
 * Opens StreamLogs (follow, from the start) and sends its init.  The
 * gateway sends its headers with the first frame, so they are received
 * with it.
 */
static void
logs_open(grpc_completion_queue *cq, grpc_call *call, const char *sandbox)
{
	PB(LogStreamRequest)	 req =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__INIT;
	PB(LogStreamInit)	 init =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_INIT__INIT;
	grpc_byte_buffer	*send;
	grpc_op			 ops[2];

	init.sandbox_id = (char *)sandbox;
	init.follow = true;
	req.request_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__REQUEST_INIT;
	req.init = &init;
	send = pbuf_pack(&req.base);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	if (!batch(cq, call, ops, 2, (void *)1))
		fatalx("StreamLogs: the init failed");
	grpc_byte_buffer_destroy(send);
}

/* Reads one frame; returns its data bytes (offsets checked). */
static size_t
logs_read(grpc_completion_queue *cq, grpc_call *call, int64_t got,
    grpc_metadata_array *md)
{
	PB(LogStreamResponse)	*resp;
	grpc_byte_buffer	*recv = NULL;
	grpc_op			 op[2];
	size_t			 n = 0;

	memset(op, 0, sizeof op);
	op[0].op = GRPC_OP_RECV_MESSAGE;
	op[0].data.recv_message.recv_message = &recv;
	op[1].op = GRPC_OP_RECV_INITIAL_METADATA;
	op[1].data.recv_initial_metadata.recv_initial_metadata = md;
	if (!batch(cq, call, op, got == 0 ? 2 : 1, (void *)2) ||
	    recv == NULL)
		fatalx("StreamLogs: the stream ended early");
	resp = (void *)pbuf_unpack(recv,
	    &coreweave__sandbox__v1beta2__log_stream_response__descriptor);
	grpc_byte_buffer_destroy(recv);
	if (resp == NULL)
		fatalx("StreamLogs: bad frame");
	switch (resp->response_case) {
	case COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_DATA:
		if ((int64_t)resp->data->offset != got)
			fatalx("StreamLogs: offset %llu, %lld expected",
			    (unsigned long long)resp->data->offset,
			    (long long)got);
		n = resp->data->data.len;
		break;
	case COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_ERROR:
		fatalx("StreamLogs: %s", resp->error->message);
	default:
		fatalx("StreamLogs: ended before the whole log");
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return n;
}

/* Cancels the follow and collects the status. */
static void
logs_close(grpc_completion_queue *cq, grpc_call *call)
{
	grpc_metadata_array	 trailing;
	grpc_status_code	 status;
	grpc_slice		 details = grpc_empty_slice();
	grpc_op			 op;

	grpc_call_cancel(call, NULL);
	grpc_metadata_array_init(&trailing);
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &trailing;
	op.data.recv_status_on_client.status = &status;
	op.data.recv_status_on_client.status_details = &details;
	batch(cq, call, &op, 1, (void *)3);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&trailing);
}

/* The direct reader's MB/s, from the trigger to the last byte. */
static double
direct_phase(const char *sock, const char *target, const char *lease,
    const char *sandbox, int64_t bytes)
{
	grpc_channel		*ch = channel_open(target);
	grpc_completion_queue	*cq = grpc_completion_queue_create_for_pluck(
				    NULL);
	grpc_metadata_array	 md;
	grpc_call		*call;
	int64_t			 t0, got = 0;
	double			 mb_s;

	grpc_metadata_array_init(&md);
	call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
	    grpc_slice_from_static_string(ST_SVC "StreamLogs"), NULL,
	    gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(
	    PHASE_TIMEOUT_S, GPR_TIMESPAN)), NULL);
	logs_open(cq, call, sandbox);
	t0 = bench_now_ns();
	trigger(sock, lease);
	while (got < bytes)
		got += (int64_t)logs_read(cq, call, got, &md);
	mb_s = (double)got / 1e6 / ((double)(bench_now_ns() - t0) / 1e9);
	logs_close(cq, call);
	grpc_call_unref(call);
	grpc_metadata_array_destroy(&md);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL,
	    gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	return mb_s;
}

/* --- the fan-out through sandboxd --------------------------------------- */

/* Cuts the data_b64 string out of a line (leaving ""), decoding it. */
static int
cut_data(char *line, size_t *len, size_t *dlen)
{
	static const char	 key[] = "\"data_b64\":\"";
	unsigned char		*data;
	char			*b, *e;

	if ((b = memmem(line, *len, key, sizeof key - 1)) == NULL)
		return 0;
	b += sizeof key - 1;
	if ((e = memchr(b, '"', *len - (size_t)(b - line))) == NULL ||
	    b64_decode(b, (size_t)(e - b), &data, dlen) == -1)
		return -1;
	free(data);
	memmove(b, e, *len - (size_t)(e - line) + 1);
	*len -= (size_t)(e - b);
	return 1;
}

/* One line for a reader: its tail.start reply or a tail notification. */
static void
reader_line(struct reader *r, char *line, size_t len, int64_t bytes)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	json_t		*off;
	size_t		 n = 0;
	int		 cut;

	if ((cut = cut_data(line, &len, &n)) == -1)
		fatalx("a data_b64 that does not decode");
	if (rpc_parse_line(line, len, &msg, &fail) == -1)
		fatalx("sandboxd sent a bad line: %s", fail.message);
	if (msg.type == RPC_MSG_RESPONSE) {
		if (msg.error != NULL)
			fatalx("tail.start: %s", rpc_error_message_of(msg.error));
		r->tail = xstrdup(json_string_value(json_object_get(
		    msg.result, "tail")));
	} else if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "tail.data") == 0) {
		off = json_object_get(msg.params, "offset");
		if (cut != 1 || !json_is_integer(off) ||
		    json_integer_value(off) != r->got)
			fatalx("tail.data out of order at %lld",
			    (long long)r->got);
		r->got += (int64_t)n;
		r->notes++;
		if (r->got >= bytes && r->done_ns == 0)
			r->done_ns = bench_now_ns();
	} else if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "tail.end") == 0)
		fatalx("tail.end before the whole log");
	rpc_msg_clear(&msg);
}

/* Reads what one reader's socket has and handles its whole lines. */
static void
reader_input(struct reader *r, int64_t bytes)
{
	char	*line;
	size_t	 len;

	if (evbuffer_read(r->in, r->fd, 1 << 20) <= 0)
		fatalx("sandboxd closed a tail connection");
	while ((line = evbuffer_readln(r->in, &len, EVBUFFER_EOL_LF)) !=
	    NULL) {
		reader_line(r, line, len, bytes);
		free(line);
	}
}

/* Polls the readers until `done(r)` holds for each of them. */
static void
readers_run(struct reader *rd, int n, int64_t bytes, bool started)
{
	struct pollfd	 pfd[MAX_READERS];
	int		 i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < n; i++) {
			pfd[i].fd = rd[i].fd;
			pfd[i].events = POLLIN;
			if (started ? rd[i].got < bytes : rd[i].tail == NULL)
				left++;
			else
				pfd[i].fd = -1;
		}
		if (left == 0)
			return;
		if (poll(pfd, (nfds_t)n, PHASE_TIMEOUT_S * 1000) <= 0)
			fatalx("tail readers: nothing for %d s", PHASE_TIMEOUT_S);
		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				reader_input(&rd[i], bytes);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct reader	 rd[MAX_READERS];
	double		 mbs[MAX_READERS], sum = 0, direct, cpu0, cpu1, me0;
	int64_t		 bytes, t0, t1 = 0, notes = 0;
	char		 line[256];
	long		 n;
	int		 i;

	log_init("tail-bench", 0);
	if (argc != 9)
		fatalx("usage: tail-bench SOCK TARGET LEASE_A LEASE_B "
		    "SANDBOX_B BYTES READERS DAEMON_PID");
	bytes = bench_count("BYTES", argv[6]);
	if ((n = bench_count("READERS", argv[7])) > MAX_READERS)
		fatalx("at most %d readers", MAX_READERS);
	grpc_init();
	direct = direct_phase(argv[1], argv[2], argv[4], argv[5], bytes);

	memset(rd, 0, sizeof rd);
	for (i = 0; i < n; i++) {
		rd[i].fd = bench_dial(argv[1]);
		if ((rd[i].in = evbuffer_new()) == NULL)
			fatalx("evbuffer_new failed");
		snprintf(line, sizeof line, "{\"jsonrpc\": \"2.0\", \"id\": 1, "
		    "\"method\": \"tail.start\", \"params\": {\"lease\": "
		    "\"%s\", \"follow\": true}}\n", argv[3]);
		if (write(rd[i].fd, line, strlen(line)) != (ssize_t)strlen(line))
			fatal("write tail.start");
	}
	readers_run(rd, (int)n, bytes, false);
	cpu0 = proc_cpu_s((pid_t)bench_count("DAEMON_PID", argv[8]));
	me0 = self_cpu_s();
	t0 = bench_now_ns();
	trigger(argv[1], argv[3]);
	readers_run(rd, (int)n, bytes, true);
	cpu1 = proc_cpu_s((pid_t)bench_count("DAEMON_PID", argv[8]));
	for (i = 0; i < n; i++) {
		mbs[i] = (double)bytes / 1e6 /
		    ((double)(rd[i].done_ns - t0) / 1e9);
		sum += mbs[i];
		notes += rd[i].notes;
		if (rd[i].done_ns > t1)
			t1 = rd[i].done_ns;
	}
	qsort(mbs, (size_t)n, sizeof *mbs, cmp_double);
	bench_print(json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
	    "s:f, s:I}", "bytes", (json_int_t)bytes, "readers", (int)n,
	    "direct_mb_s", direct,
	    "reader_mb_s_min", mbs[0], "reader_mb_s_median", mbs[n / 2],
	    "reader_mb_s_mean", sum / (double)n,
	    "seconds", (double)(t1 - t0) / 1e9,
	    "daemon_cpu_s", cpu1 - cpu0,
	    "daemon_cpu_pct", 100 * (cpu1 - cpu0) /
	    ((double)(t1 - t0) / 1e9),
	    "bench_cpu_s", self_cpu_s() - me0,
	    "notifications", (json_int_t)notes));
	for (i = 0; i < n; i++) {
		close(rd[i].fd);
		evbuffer_free(rd[i].in);
		free(rd[i].tail);
	}
	grpc_shutdown();
	return 0;
}
