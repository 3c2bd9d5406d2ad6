/*
 * Streaming exec for exec, run and attach: exec.start, then one poll(2)
 * loop over the control socket and our stdin.  Output notifications are
 * written raw as they arrive, stdin goes up as exec.write in chunks (a few
 * in flight, so the daemon's replies pace us), SIGWINCH becomes
 * exec.resize, and a stop signal cancels the remote command (or, for
 * attach, leaves it running) before we exit with 128 + the signal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "jsonrpc.h"
#include "rpc-client.h"
#include "sbctl.h"
#include "xmalloc.h"

#define XS_CHUNK	(64u << 10)	/* stdin bytes per exec.write */
#define XS_MAX_WRITES	4		/* exec.write in flight */
#define XS_MAX_PENDING	32		/* requests in flight in all */

enum xs_req { XS_WRITE, XS_OTHER, XS_DETACH };

struct xstream {
	struct sbctl		*sb;
	const char		*id;
	const struct sbctl_follow *f;
	int			 in_fd;		/* -1 once stdin is done */
	int			 writes;
	struct {
		json_int_t	 id;
		enum xs_req	 kind;
	}			 pending[XS_MAX_PENDING];
	int			 npending;
	bool			 ready;		/* exec.ready seen */
	bool			 stopping;	/* cancel or detach sent */
	bool			 out_failed;
	bool			 done;
	int			 status;
};

/* Sends a request the loop will see answered; -1 on a transport error. */
static int
xs_send(struct xstream *x, const char *method, json_t *params,
    enum xs_req kind)
{
	struct rpc_client_error	 err;
	json_int_t		 id;

	if (x->npending == XS_MAX_PENDING) {
		json_decref(params);
		return 0;
	}
	if (rpc_client_send(x->sb->rpc, method, params, &id, &err) == -1) {
		x->status = sbctl_warnx(err.exit_code, "%s", err.message);
		return -1;
	}
	x->pending[x->npending].id = id;
	x->pending[x->npending++].kind = kind;
	if (kind == XS_WRITE)
		x->writes++;
	return 0;
}

/* Forgets a request by its reply's id; its kind, or -1 if not ours. */
static int
xs_answered(struct xstream *x, const json_t *id)
{
	int	 i, kind;

	for (i = 0; i < x->npending; i++) {
		if (!json_is_integer(id) ||
		    json_integer_value(id) != x->pending[i].id)
			continue;
		kind = (int)x->pending[i].kind;
		x->pending[i] = x->pending[--x->npending];
		if (kind == XS_WRITE)
			x->writes--;
		return kind;
	}
	return -1;
}

/* Stops forwarding stdin: the remote side sees EOF. */
static int
xs_close_stdin(struct xstream *x)
{
	x->in_fd = -1;
	return xs_send(x, "exec.close_stdin", json_pack("{s:s}", "exec",
	    x->id), XS_OTHER);
}

/* Reads a chunk of stdin and sends it; EOF closes the remote stdin. */
static int
xs_stdin(struct xstream *x)
{
	unsigned char	*buf = xmalloc(XS_CHUNK);
	char		*b64;
	size_t		 len;
	ssize_t		 n;
	int		 rv = 0;

	n = read(x->in_fd, buf, XS_CHUNK);
	if (n > 0) {
		b64 = b64_encode(buf, (size_t)n, &len);
		rv = xs_send(x, "exec.write", json_pack("{s:s, s:s%}", "exec",
		    x->id, "data_b64", b64, len), XS_WRITE);
		free(b64);
	} else if (n == 0)
		rv = xs_close_stdin(x);
	else if (errno != EINTR && errno != EAGAIN) {
		fprintf(stderr, "sbctl: reading stdin: %s\n", strerror(errno));
		rv = xs_close_stdin(x);
	}
	free(buf);
	return rv;
}

/* Writes an exec.output's bytes to our stdout or stderr. */
static void
xs_output(struct xstream *x, const json_t *p)
{
	const char	*stream = json_string_value(json_object_get(p,
			    "stream"));
	int		 fd = STDOUT_FILENO, rv;
	size_t		 len;

	if (stream != NULL && strcmp(stream, "stderr") == 0)
		fd = STDERR_FILENO;
	if (x->out_failed)
		return;
	if ((rv = sbctl_write_b64(fd, p, "data_b64", &len)) == 0)
		return;
	if (rv == -2)
		fprintf(stderr, "sbctl: sandboxd sent bad exec.output data\n");
	else if (fd == STDOUT_FILENO)
		fprintf(stderr, "sbctl: writing stdout: %s\n", strerror(errno));
	x->out_failed = true;
	if (!x->stopping && !x->f->detach_on_stop) {
		x->stopping = true;
		xs_send(x, "exec.cancel", json_pack("{s:s}", "exec", x->id),
		    XS_OTHER);
	}
}

/*
 * The exit status for exec.exit: the remote code, or the error's.  A
 * gateway error before the command was ready means it could not be run.
 */
static int
xs_exit_status(const struct xstream *x, const json_t *p)
{
	json_t		*e = json_object_get(p, "error");
	json_t		*code = json_object_get(p, "exit_code");
	json_int_t	 v;

	if (json_is_object(e)) {
		sbctl_print_error("remote command", e);
		if (!x->ready && !x->f->detach_on_stop &&
		    rpc_error_kind_of(e) == RPC_ERR_GATEWAY_ERROR)
			return SBCTL_EXIT_NOEXEC;
		return sbctl_exit_for_error(e);
	}
	if (!json_is_integer(code)) {
		fprintf(stderr, "sbctl: sandboxd sent exec.exit without an "
		    "exit code\n");
		return SBCTL_EXIT_FAILURE;
	}
	if ((v = json_integer_value(code)) < 0) {
		fprintf(stderr, "sbctl: the command could not be run\n");
		return SBCTL_EXIT_NOEXEC;
	}
	return v > 255 ? 255 : (int)v;
}

/* The end of our exec: its status, unless a signal or a failure wins. */
static void
xs_exit(struct xstream *x, const json_t *p)
{
	x->done = true;
	sbctl_tty_restore();	/* so a message prints on a sane terminal */
	if (x->stopping && sbctl_stop_signal != 0) {
		x->status = 128 + sbctl_stop_signal;
		return;
	}
	x->status = xs_exit_status(x, p);
	if (x->out_failed && x->status == 0)
		x->status = SBCTL_EXIT_FAILURE;
}

/* A reply to one of our requests: only failures of some matter. */
static void
xs_reply(struct xstream *x, const struct rpc_msg *m)
{
	int	 kind = xs_answered(x, m->id);

	if (kind == XS_DETACH) {
		x->done = true;
		x->status = 128 + sbctl_stop_signal;
		return;
	}
	/* A write refused because the command ended or closed its stdin:
	 * stop sending; exec.exit tells the rest. */
	if (kind == XS_WRITE && m->error != NULL && x->in_fd != -1) {
		if (rpc_error_kind_of(m->error) != RPC_ERR_INVALID_STATE)
			sbctl_print_error("stdin", m->error);
		x->in_fd = -1;
	}
}

/* Acts on one message from the daemon. */
static void
xs_message(struct xstream *x, const struct rpc_msg *m)
{
	const char	*id;

	if (m->type == RPC_MSG_RESPONSE) {
		xs_reply(x, m);
		return;
	}
	if (m->type != RPC_MSG_NOTIFICATION || x->done)
		return;
	id = json_string_value(json_object_get(m->params, "exec"));
	if (id == NULL || strcmp(id, x->id) != 0)
		return;
	if (strcmp(m->method, "exec.ready") == 0)
		x->ready = true;
	else if (strcmp(m->method, "exec.output") == 0)
		xs_output(x, m->params);
	else if (strcmp(m->method, "exec.exit") == 0)
		xs_exit(x, m->params);
}

/* A stop signal: cancel the command (or leave it running, for attach). */
static int
xs_stop(struct xstream *x)
{
	x->stopping = true;
	if (x->f->detach_on_stop)
		return xs_send(x, "exec.detach", json_pack("{s:s}", "exec",
		    x->id), XS_DETACH);
	return xs_send(x, "exec.cancel", json_pack("{s:s}", "exec", x->id),
	    XS_OTHER);
}

/* The terminal changed size: tell the remote one. */
static int
xs_resize(struct xstream *x)
{
	unsigned	 w, h;

	sbctl_winch = 0;
	if (!x->f->tty || x->stopping || !sbctl_tty_size(STDIN_FILENO, &w, &h))
		return 0;
	return xs_send(x, "exec.resize", json_pack("{s:s, s:i, s:i}", "exec",
	    x->id, "width", (int)w, "height", (int)h), XS_OTHER);
}

/* Handles flags set by signal handlers since the last pass. */
static int
xs_signals(struct xstream *x)
{
	if (sbctl_stop_signal != 0 && !x->stopping && xs_stop(x) == -1)
		return -1;
	if (sbctl_winch && xs_resize(x) == -1)
		return -1;
	return 0;
}

/* One pass: wait, then act on stdin and every message read. */
static int
xs_pass(struct xstream *x, const sigset_t *waitmask)
{
	struct rpc_client_error	 err;
	struct rpc_msg		 m;
	short			 ev = 0, rev;
	int			 rv;

	if (xs_signals(x) == -1)
		return -1;
	if (x->in_fd != -1 && !x->stopping && x->writes < XS_MAX_WRITES &&
	    x->npending < XS_MAX_PENDING - 2)
		ev = POLLIN;
	if (rpc_client_poll(x->sb->rpc, x->in_fd, ev, &rev, waitmask,
	    &err) == -1) {
		x->status = sbctl_warnx(err.exit_code, "%s%s", err.message,
		    " before the command's exit status");
		return -1;
	}
	if (rev != 0 && x->in_fd != -1 && xs_stdin(x) == -1)
		return -1;
	while (!x->done && (rv = rpc_client_next(x->sb->rpc, &m, &err)) != 0) {
		if (rv == -1) {
			x->status = sbctl_warnx(err.exit_code, "%s",
			    err.message);
			return -1;
		}
		xs_message(x, &m);
		rpc_msg_clear(&m);
	}
	return 0;
}

/*
 * Follows exec `id` on sb's connection to its exit: output written raw,
 * stdin forwarded when f->stdin_fd is not -1, signals as above.  Returns
 * the exit status.
 */
int
sbctl_exec_follow(struct sbctl *sb, const char *id,
    const struct sbctl_follow *f)
{
	struct xstream	 x = { .sb = sb, .id = id, .f = f,
			    .in_fd = f->stdin_fd };
	sigset_t	 old, wait;

	sbctl_wait_block(&old, &wait);
	while (!x.done && xs_pass(&x, &wait) == 0)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (!x.done && x.stopping && sbctl_stop_signal != 0)
		return 128 + sbctl_stop_signal;
	return x.status;
}
