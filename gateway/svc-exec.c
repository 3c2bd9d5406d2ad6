/*
 * Exec: runs a command inside a RUNNING sandbox and answers with its
 * buffered output.  Each stream is capped (buffered_max_kib, default
 * 16 MiB); bytes past the cap are counted and dropped, and the truncated
 * flag says so.  max_timeout_seconds kills the process group and answers
 * DEADLINE_EXCEEDED.  A command that cannot be started answers exit_code
 * -1 with the reason on stderr.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define DEFAULT_CAP	(16 * 1024 * 1024)
#define MAX_CAP		(30 * 1024 * 1024)

struct exec_run {
	struct call	*c;
	struct proc	*p;
	struct evbuffer	*buf[2];
	size_t		 cap;
	int64_t		 produced[2];
	bool		 trunc[2], discard, timed_out;
	int32_t		 timeout_s;
	struct event	*timer;
};

static void
exec_free(struct exec_run *x)
{
	if (x->p != NULL)
		proc_free(x->p);
	evbuffer_free(x->buf[0]);
	evbuffer_free(x->buf[1]);
	if (x->timer != NULL)
		event_free(x->timer);
	free(x);
}

/* Output: keep up to the cap, count everything. */
static void
exec_out(struct proc *p, enum out_stream s, struct evbuffer *in, void *arg)
{
	struct exec_run	*x = arg;
	struct evbuffer	*b = x->buf[s - 1];
	size_t		 len = evbuffer_get_length(in), have, room;

	x->produced[s - 1] += (int64_t)len;
	have = evbuffer_get_length(b);
	room = x->discard || have >= x->cap ? 0 : x->cap - have;
	if (len > room)
		x->trunc[s - 1] = !x->discard;
	evbuffer_remove_buffer(in, b, len < room ? len : room);
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* Answers with the response built from the buffers. */
static void
exec_answer(struct exec_run *x, int exit_code)
{
	PB(ExecSandboxResponse)	 resp = PBINIT(EXEC_SANDBOX_RESPONSE);
	PB(ExecResponse)	 r = PBINIT(EXEC_RESPONSE);

	r.stdout.len = evbuffer_get_length(x->buf[0]);
	r.stdout.data = evbuffer_pullup(x->buf[0], -1);
	r.stderr.len = evbuffer_get_length(x->buf[1]);
	r.stderr.data = evbuffer_pullup(x->buf[1], -1);
	r.exit_code = exit_code;
	r.stdout_truncated = x->trunc[0];
	r.stderr_truncated = x->trunc[1];
	r.stdout_bytes_produced = x->produced[0];
	r.stderr_bytes_produced = x->produced[1];
	resp.result = &r;
	call_reply(x->c, &resp.base);
}

/* The command is over and its output drained. */
static void
exec_done(struct proc *p, void *arg)
{
	struct exec_run	*x = arg;

	if (x->timed_out)
		call_finishf(x->c, GRPC_STATUS_DEADLINE_EXCEEDED,
		    "command did not finish within %ds", x->timeout_s);
	else
		exec_answer(x, proc_exit_code(p));
	exec_free(x);
}

static void
exec_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run	*x = arg;

	x->timed_out = true;
	proc_kill(x->p, SIGKILL);
}

/* The client went away: kill the command. */
static void
exec_cancel(struct call *c, void *arg)
{
	exec_free(arg);
}

/* argv from command + args; NULL when empty. */
static char **
exec_argv(PB(ExecSandboxRequest) *req)
{
	char	**v = NULL;
	size_t	  n = 0, i;

	for (i = 0; i < req->n_command; i++)
		strv_push(&v, &n, xstrdup(req->command[i]));
	for (i = 0; i < req->n_args; i++)
		strv_push(&v, &n, xstrdup(req->args[i]));
	return v;
}

/* Starts the command; false when the call was answered already. */
static void
exec_begin(struct call *c, struct sandbox *sb, PB(ExecSandboxRequest) *req)
{
	struct exec_run		*x = xcalloc(1, sizeof *x);
	struct proc_opts	 o = { .out = exec_out, .done = exec_done,
	    .arg = x };
	struct timeval		 tv = { req->max_timeout_seconds, 0 };
	const char		*err;

	x->c = c;
	x->buf[0] = evbuffer_new();
	x->buf[1] = evbuffer_new();
	x->cap = req->buffered_max_kib > 0 ? (size_t)req->buffered_max_kib *
	    1024 : DEFAULT_CAP;
	if (x->cap > MAX_CAP)
		x->cap = MAX_CAP;
	x->discard = req->output_handling ==
	    COREWEAVE__SANDBOX__V1BETA2__OUTPUT_POLICY__OUTPUT_POLICY_DISCARD;
	x->timeout_s = req->max_timeout_seconds;
	o.argv = exec_argv(req);
	x->p = proc_start(sb, &o, &err);
	strv_free(o.argv);
	if (x->p == NULL) {
		evbuffer_add(x->buf[1], err, strlen(err));
		evbuffer_add(x->buf[1], "\n", 1);
		x->produced[1] = (int64_t)evbuffer_get_length(x->buf[1]);
		exec_answer(x, -1);
		exec_free(x);
		return;
	}
	if (req->max_timeout_seconds > 0) {
		x->timer = evtimer_new(gw.base, exec_timeout, x);
		evtimer_add(x->timer, &tv);
	}
	call_on_cancel(c, exec_cancel, x);
}

void
svc_exec(struct call *c, grpc_byte_buffer *bb)
{
	PB(ExecSandboxRequest)	*req;
	struct sandbox		*sb;

	if ((req = call_unpack(c, bb, PBDESC(exec_sandbox_request))) == NULL)
		return;
	if (!sandbox_running_or_err(c, req->sandbox_id, &sb))
		;
	else if (req->n_command == 0 || *req->command[0] == '\0')
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "command is required");
	else if (req->max_timeout_seconds < 0)
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "max_timeout_seconds must not be negative");
	else
		exec_begin(c, sb, req);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}
