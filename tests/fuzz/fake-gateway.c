/*
 * An in-process sandbox gateway for fuzz-dispatch: a gRPC C-core server on
 * a Unix socket, served by one thread of its own, that answers every call
 * at once with a canned valid reply.  Start hands out a new sandbox id,
 * already running; Get, Stop, List, Exec, AddFile and RetrieveFile
 * succeed; StreamExec sends ready, one line of output and exit 0;
 * StreamLogs sends one line and complete.  Nothing is run and nothing is
 * kept, so an input's gateway calls cost microseconds and every daemon
 * path behind a successful call (leases, execs, files, tails, owner
 * checks) is reached.  Included by fuzz-dispatch.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define FG_PB(x)	Coreweave__Sandbox__V1beta2__ ## x
#define FG_INIT(x)	COREWEAVE__SANDBOX__V1BETA2__ ## x ## __INIT
#define FG_RUNNING \
	COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_RUNNING
#define FG_MAX_OUT	4

/* Where one call is: each completion moves it one step on. */
enum fg_step { FG_NEW, FG_RECV, FG_SEND, FG_FINAL };

struct fg_call {
	enum fg_step		 step;
	grpc_call		*call;
	grpc_call_details	 details;
	grpc_metadata_array	 md;
	grpc_byte_buffer	*req;
	grpc_byte_buffer	*out[FG_MAX_OUT];
	int			 nout, next;
	grpc_status_code	 status;
	int			 cancelled;
};

static grpc_server		*fg_server;
static grpc_completion_queue	*fg_cq;
static pthread_t		 fg_thread;
static unsigned long		 fg_starts;	/* sandbox ids made */

static void
fg_request(void)
{
	struct fg_call	*fc = xcalloc(1, sizeof *fc);

	fc->step = FG_NEW;
	grpc_call_details_init(&fc->details);
	grpc_metadata_array_init(&fc->md);
	if (grpc_server_request_call(fg_server, &fc->call, &fc->details,
	    &fc->md, fg_cq, fg_cq, fc) != GRPC_CALL_OK)
		fatalx("fake gateway: grpc_server_request_call");
}

static void
fg_batch(struct fg_call *fc, grpc_op *ops, size_t n)
{
	if (grpc_call_start_batch(fc->call, ops, n, fc, NULL) != GRPC_CALL_OK)
		fatalx("fake gateway: grpc_call_start_batch");
}

static void
fg_add(struct fg_call *fc, const ProtobufCMessage *m)
{
	if (fc->nout == FG_MAX_OUT)
		fatalx("fake gateway: too many replies");
	fc->out[fc->nout++] = pbuf_pack(m);
}

/* The sandbox id a request names, or a stand-in. */
static char *
fg_sandbox_of(grpc_byte_buffer *bb)
{
	FG_PB(GetSandboxRequest)	*r;
	char				*id;

	/* Every request of GatewayService has sandbox_id as field 1. */
	if (bb == NULL || (r = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__get_sandbox_request__descriptor)) ==
	    NULL)
		return xstrdup("sb-fake");
	id = xstrdup(*r->sandbox_id ? r->sandbox_id : "sb-fake");
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return id;
}

/* Start: a new sandbox, already running. */
static void
fg_start(struct fg_call *fc)
{
	FG_PB(StartSandboxResponse) r = FG_INIT(START_SANDBOX_RESPONSE);
	char			 id[32];

	snprintf(id, sizeof id, "sb-fake-%lu", ++fg_starts);
	r.sandbox_id = id;
	r.sandbox_status = FG_RUNNING;
	fg_add(fc, &r.base);
}

/* Get: whatever was asked for is running. */
static void
fg_get(struct fg_call *fc)
{
	FG_PB(GetSandboxResponse) r = FG_INIT(GET_SANDBOX_RESPONSE);
	char			*sid = fg_sandbox_of(fc->req);

	r.sandbox_id = sid;
	r.sandbox_status = FG_RUNNING;
	fg_add(fc, &r.base);
	free(sid);
}

/*
 * Stop, Delete and AddFile: done.  Their replies are the same message on
 * the wire (bool success = 1; string error_message = 2), so one serves.
 */
static void
fg_done(struct fg_call *fc)
{
	FG_PB(StopSandboxResponse) r = FG_INIT(STOP_SANDBOX_RESPONSE);

	r.success = true;
	fg_add(fc, &r.base);
}

/* List: nothing of ours upstream (reconciliation adopts nothing). */
static void
fg_list(struct fg_call *fc)
{
	FG_PB(ListSandboxesResponse) r = FG_INIT(LIST_SANDBOXES_RESPONSE);

	fg_add(fc, &r.base);
}

static void
fg_exec(struct fg_call *fc)
{
	FG_PB(ExecSandboxResponse) r = FG_INIT(EXEC_SANDBOX_RESPONSE);
	FG_PB(ExecResponse)	 res = FG_INIT(EXEC_RESPONSE);

	res.stdout.data = (uint8_t *)"fake\n";
	res.stdout.len = 5;
	res.stdout_bytes_produced = 5;
	r.result = &res;
	fg_add(fc, &r.base);
}

static void
fg_retrieve_file(struct fg_call *fc)
{
	FG_PB(RetrieveFileSandboxResponse) r =
	    FG_INIT(RETRIEVE_FILE_SANDBOX_RESPONSE);

	r.success = true;
	r.file_contents.data = (uint8_t *)"fake file\n";
	r.file_contents.len = 10;
	fg_add(fc, &r.base);
}

static void
fg_exec_stream(struct fg_call *fc)
{
	FG_PB(ExecStreamResponse)	 r = FG_INIT(EXEC_STREAM_RESPONSE);
	FG_PB(StreamingExecReady)	 ready = FG_INIT(STREAMING_EXEC_READY);
	FG_PB(ExecStreamOutput)	 out = FG_INIT(EXEC_STREAM_OUTPUT);
	FG_PB(ExecStreamExit)		 ex = FG_INIT(EXEC_STREAM_EXIT);

	ready.session_id = "fake-session";
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_READY;
	r.ready = &ready;
	fg_add(fc, &r.base);
	out.stream_type = 1;
	out.data.data = (uint8_t *)"fake\n";
	out.data.len = 5;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_OUTPUT;
	r.output = &out;
	fg_add(fc, &r.base);
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_EXIT;
	r.exit = &ex;
	fg_add(fc, &r.base);
}

static void
fg_log_stream(struct fg_call *fc)
{
	FG_PB(LogStreamResponse)	 r = FG_INIT(LOG_STREAM_RESPONSE);
	FG_PB(LogStreamData)		 d = FG_INIT(LOG_STREAM_DATA);
	FG_PB(LogStreamComplete)	 c = FG_INIT(LOG_STREAM_COMPLETE);

	d.data.data = (uint8_t *)"fake log line\n";
	d.data.len = 14;
	d.session_id = "fake-log";
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_DATA;
	r.data = &d;
	fg_add(fc, &r.base);
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_COMPLETE;
	r.complete = &c;
	fg_add(fc, &r.base);
}

static const struct {
	const char	*name;
	void		(*answer)(struct fg_call *);
} fg_methods[] = {
	{ "Start", fg_start },
	{ "Get", fg_get },
	{ "Stop", fg_done },
	{ "Delete", fg_done },
	{ "List", fg_list },
	{ "Exec", fg_exec },
	{ "AddFile", fg_done },
	{ "RetrieveFile", fg_retrieve_file },
	{ "StreamExec", fg_exec_stream },
	{ "StreamLogs", fg_log_stream },
};

/* The request is in: the replies of the method, by its short name. */
static void
fg_answer(struct fg_call *fc)
{
	char		*path = grpc_slice_to_c_string(fc->details.method);
	const char	*m = strrchr(path, '/');
	size_t		 i;

	m = m != NULL ? m + 1 : path;
	fc->status = GRPC_STATUS_UNIMPLEMENTED;
	for (i = 0; i < sizeof fg_methods / sizeof fg_methods[0]; i++) {
		if (strcmp(fg_methods[i].name, m) == 0) {
			fc->status = GRPC_STATUS_OK;
			fg_methods[i].answer(fc);
			break;
		}
	}
	gpr_free(path);
	if (fc->req != NULL)
		grpc_byte_buffer_destroy(fc->req);
	fc->req = NULL;
}

static void
fg_send_next(struct fg_call *fc)
{
	grpc_op	ops[2];

	memset(ops, 0, sizeof ops);
	if (fc->next < fc->nout) {
		fc->step = FG_SEND;
		ops[0].op = GRPC_OP_SEND_MESSAGE;
		ops[0].data.send_message.send_message = fc->out[fc->next];
		fg_batch(fc, ops, 1);
		return;
	}
	fc->step = FG_FINAL;
	ops[0].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[0].data.send_status_from_server.status = fc->status;
	ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[1].data.recv_close_on_server.cancelled = &fc->cancelled;
	fg_batch(fc, ops, 2);
}

static void
fg_free(struct fg_call *fc)
{
	int	i;

	for (i = fc->next; i < fc->nout; i++)
		grpc_byte_buffer_destroy(fc->out[i]);
	if (fc->req != NULL)
		grpc_byte_buffer_destroy(fc->req);
	if (fc->call != NULL)
		grpc_call_unref(fc->call);
	grpc_call_details_destroy(&fc->details);
	grpc_metadata_array_destroy(&fc->md);
	free(fc);
}

static void
fg_step(struct fg_call *fc, bool ok)
{
	grpc_op	ops[2];

	switch (fc->step) {
	case FG_NEW:
		if (!ok) {		/* shutting down */
			fg_free(fc);
			return;
		}
		fg_request();
		memset(ops, 0, sizeof ops);
		ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[1].op = GRPC_OP_RECV_MESSAGE;
		ops[1].data.recv_message.recv_message = &fc->req;
		fc->step = FG_RECV;
		fg_batch(fc, ops, 2);
		break;
	case FG_RECV:
		fg_answer(fc);
		fg_send_next(fc);
		break;
	case FG_SEND:
		grpc_byte_buffer_destroy(fc->out[fc->next++]);
		while (!ok && fc->next < fc->nout)	/* the client left */
			grpc_byte_buffer_destroy(fc->out[fc->next++]);
		fg_send_next(fc);
		break;
	case FG_FINAL:
		fg_free(fc);
		break;
	}
}

static void *
fg_run(void *arg)
{
	grpc_event	ev;

	for (;;) {
		ev = grpc_completion_queue_next(fg_cq,
		    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			return NULL;
		if (ev.type == GRPC_OP_COMPLETE && ev.tag != NULL)
			fg_step(ev.tag, ev.success != 0);
	}
}

/* Serves `target` ("unix:PATH") from a thread until fake_gateway_stop. */
static void
fake_gateway_start(const char *target)
{
	grpc_server_credentials	*creds;

	fg_server = grpc_server_create(NULL, NULL);
	fg_cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(fg_server, fg_cq, NULL);
	creds = grpc_insecure_server_credentials_create();
	if (grpc_server_add_http2_port(fg_server, target, creds) == 0)
		fatalx("fake gateway: cannot listen on %s", target);
	grpc_server_credentials_release(creds);
	grpc_server_start(fg_server);
	fg_request();
	if (pthread_create(&fg_thread, NULL, fg_run, NULL) != 0)
		fatalx("fake gateway: pthread_create");
}

static void
fake_gateway_stop(void)
{
	grpc_server_shutdown_and_notify(fg_server, fg_cq, NULL);
	grpc_server_cancel_all_calls(fg_server);
	grpc_completion_queue_shutdown(fg_cq);
	pthread_join(fg_thread, NULL);
	grpc_server_destroy(fg_server);
	grpc_completion_queue_destroy(fg_cq);
}
