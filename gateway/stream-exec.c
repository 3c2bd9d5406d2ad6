/*
 * StreamExec: init → ready (session id) → output chunks tagged stdout or
 * stderr as they are produced → exit; stdin frames are forwarded, close or
 * half-close ends stdin, tty=true runs the command on a pty of the given
 * size and resize frames resize it.  Errors answer an error frame, then a
 * matching status.  Sessions end with their stream: resume_session_id is
 * refused (NOT_FOUND).
 */
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define FRAME_MAX	(64 * 1024)
#define QUEUE_HIGH	64

struct sx {
	struct call	*c;
	struct proc	*p;
	char		 session[32];
	bool		 started, stdin_closed;
};

static void
sx_free(struct sx *sx)
{
	if (sx->p != NULL)
		proc_free(sx->p);
	stats_stream("StreamExec", -1);
	free(sx);
}

/* Sends an error frame and ends the stream with a matching status. */
static void
sx_fail(struct sx *sx, grpc_status_code st, const char *code, const char *msg)
{
	PB(ExecStreamResponse)	 r = PBINIT(EXEC_STREAM_RESPONSE);
	PB(ExecStreamError)	 e = PBINIT(EXEC_STREAM_ERROR);

	e.message = (char *)msg;
	e.code = (char *)code;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_ERROR;
	r.error = &e;
	call_send(sx->c, &r.base);
	call_finish(sx->c, st, msg);
	sx_free(sx);
}

/* Output from the command: one frame per chunk of up to 64 KiB. */
static void
sx_out(struct proc *p, enum out_stream s, struct evbuffer *in, void *arg)
{
	struct sx		*sx = arg;
	PB(ExecStreamResponse)	 r = PBINIT(EXEC_STREAM_RESPONSE);
	PB(ExecStreamOutput)	 o = PBINIT(EXEC_STREAM_OUTPUT);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	size_t			 len;

	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_OUTPUT;
	r.output = &o;
	o.stream_type = s == OUT_STDERR ?
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_OUTPUT__STREAM_TYPE__STREAM_TYPE_STDERR :
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_OUTPUT__STREAM_TYPE__STREAM_TYPE_STDOUT;
	o.timestamp = &ts;
	while ((len = evbuffer_get_length(in)) > 0 && !call_done(sx->c)) {
		if (len > FRAME_MAX)
			len = FRAME_MAX;
		ts_set(&ts, now_ns());
		o.data.data = evbuffer_pullup(in, len);
		o.data.len = len;
		call_send(sx->c, &r.base);
		evbuffer_drain(in, len);
	}
	if (call_queued(sx->c) > QUEUE_HIGH)
		proc_pause_output(p, true);
}

/* The client caught up: read the command's output again. */
static void
sx_drain(struct call *c, void *arg)
{
	struct sx	*sx = arg;

	if (sx->p != NULL)
		proc_pause_output(sx->p, false);
}

/* The command is over: exit frame, OK status. */
static void
sx_done(struct proc *p, void *arg)
{
	struct sx		*sx = arg;
	PB(ExecStreamResponse)	 r = PBINIT(EXEC_STREAM_RESPONSE);
	PB(ExecStreamExit)	 x = PBINIT(EXEC_STREAM_EXIT);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

	ts_set(&ts, now_ns());
	x.exit_code = proc_exit_code(p);
	x.completed_at = &ts;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_EXIT;
	r.exit = &x;
	call_send(sx->c, &r.base);
	call_finish(sx->c, GRPC_STATUS_OK, NULL);
	sx_free(sx);
}

static void
sx_cancel(struct call *c, void *arg)
{
	sx_free(arg);
}

/* KEY=VALUE strings from the init's env map. */
static char **
init_env(PB(ExecStreamInit) *in)
{
	char	**v = NULL;
	size_t	  n = 0, i;

	for (i = 0; i < in->n_env; i++)
		strv_push(&v, &n, xasprintf("%s=%s", in->env[i]->key,
		    in->env[i]->value));
	return v;
}

/* The init frame: find the sandbox, start the command, answer ready. */
static void
sx_init(struct sx *sx, PB(ExecStreamInit) *in)
{
	struct proc_opts	 o = { .want_stdin = true, .out = sx_out,
	    .done = sx_done, .arg = sx };
	PB(ExecStreamResponse)	 r = PBINIT(EXEC_STREAM_RESPONSE);
	PB(StreamingExecReady)	 rd = PBINIT(STREAMING_EXEC_READY);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct sandbox		*sb = sandbox_find(in->sandbox_id);
	const char		*err;
	char			**argv;

	if (*in->resume_session_id != '\0')
		return sx_fail(sx, GRPC_STATUS_NOT_FOUND, "not_found",
		    "exec session not found (sessions end with their stream)");
	if (sb == NULL)
		return sx_fail(sx, GRPC_STATUS_NOT_FOUND, "not_found",
		    "sandbox not found");
	if (sb->status != ST(RUNNING))
		return sx_fail(sx, GRPC_STATUS_FAILED_PRECONDITION,
		    "failed_precondition", "sandbox is not RUNNING");
	if (in->n_command == 0 || *in->command[0] == '\0')
		return sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid_argument", "command is required");
	argv = strv_dup(in->command, in->n_command);
	o.argv = argv;
	o.extra_env = init_env(in);
	o.tty = in->tty;
	o.cols = in->tty_width;
	o.rows = in->tty_height;
	sx->p = proc_start(sb, &o, &err);
	strv_free(argv);
	strv_free(o.extra_env);
	if (sx->p == NULL)
		return sx_fail(sx, GRPC_STATUS_FAILED_PRECONDITION,
		    "exec_failed", err);
	sx->started = true;
	random_hex(sx->session, 16);
	ts_set(&ts, now_ns());
	rd.session_id = sx->session;
	rd.ready_at = &ts;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_READY;
	r.ready = &rd;
	call_send(sx->c, &r.base);
	call_on_drain(sx->c, sx_drain);
}

/* Ends stdin once, for a close frame or the client's half-close. */
static void
sx_close_stdin(struct sx *sx)
{
	if (!sx->stdin_closed && sx->p != NULL)
		proc_close_stdin(sx->p);
	sx->stdin_closed = true;
}

/* One frame from the client. */
static void
sx_recv(struct call *c, void *arg, grpc_byte_buffer *bb)
{
	struct sx		*sx = arg;
	PB(ExecStreamRequest)	*req;

	if (bb == NULL) {
		if (!sx->started)
			return sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT,
			    "invalid_argument", "stream closed before init");
		sx_close_stdin(sx);
		return;
	}
	req = (PB(ExecStreamRequest) *)pbuf_unpack(bb,
	    PBDESC(exec_stream_request));
	if (req == NULL)
		return sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid_argument", "frame does not decode");
	switch (req->request_case) {
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT:
		if (sx->started)
			sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT,
			    "invalid_argument", "second init frame");
		else
			sx_init(sx, req->init);
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_STDIN:
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_RESIZE:
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_CLOSE:
		if (!sx->started) {
			sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT,
			    "invalid_argument", "the first frame must be init");
			break;
		}
		if (req->request_case ==
		    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_STDIN &&
		    !sx->stdin_closed)
			proc_write(sx->p, req->stdin->data.data,
			    req->stdin->data.len);
		else if (req->request_case ==
		    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_RESIZE)
			proc_resize(sx->p, req->resize->width,
			    req->resize->height);
		else if (req->request_case ==
		    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_CLOSE)
			sx_close_stdin(sx);
		break;
	default:
		sx_fail(sx, GRPC_STATUS_INVALID_ARGUMENT, "invalid_argument",
		    "empty frame");
		break;
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
	if (!call_done(c))
		call_recv(c, sx_recv, sx);
}

void
stream_exec(struct call *c)
{
	struct sx	*sx = xcalloc(1, sizeof *sx);

	sx->c = c;
	stats_stream("StreamExec", 1);
	call_on_cancel(c, sx_cancel, sx);
	call_recv(c, sx_recv, sx);
}
