/*
 * A command run in a sandbox for Exec or StreamExec: its own process group,
 * non-blocking pipes (or a pty) read by bufferevents, its exit reaped by
 * child.c.  It is done when it has exited and its output has ended; what it
 * leaves running in its group is killed when it exits.  Something that left
 * the group (setsid) may still hold the pipes: after DRAIN_GRACE the output
 * is taken as ended, so an Exec answers when its command is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define DRAIN_GRACE_MS	1000

struct proc {
	struct sandbox		*sb;
	pid_t			 pid;
	struct bufferevent	*in, *out, *err;	/* tty: out only */
	int			 master;		/* tty: -1 otherwise */
	struct event		*drain;			/* grace after exit */
	bool			 exited, out_eof, err_eof, done, closing;
	bool			 paused;		/* by backpressure */
	int			 status;
	struct proc_opts	 o;
	LIST_ENTRY(proc)	 entry;
};

static void	proc_check_done(struct proc *);
static void	proc_end_output(struct proc *, struct bufferevent *);
static void	proc_drain_expired(evutil_socket_t, short, void *);

/* Output arrived on stdout or stderr (or the pty). */
static void
proc_read(struct bufferevent *bev, void *arg)
{
	struct proc	*p = arg;

	p->o.out(p, bev == p->err ? OUT_STDERR : OUT_STDOUT,
	    bufferevent_get_input(bev), p->o.arg);
}

/* EOF or error on an output: that stream is over. */
static void
proc_out_event(struct bufferevent *bev, short what, void *arg)
{
	struct proc	*p = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	proc_end_output(p, bev);
	proc_check_done(p);
}

/* Hands on what is buffered and stops reading: that stream is over. */
static void
proc_end_output(struct proc *p, struct bufferevent *bev)
{
	bool	*eof = bev == p->err ? &p->err_eof : &p->out_eof;

	if (*eof)
		return;
	proc_read(bev, p);
	bufferevent_disable(bev, EV_READ);
	*eof = true;
}

static void
proc_arm_drain(struct proc *p)
{
	struct timeval	 tv = { DRAIN_GRACE_MS / 1000,
	    DRAIN_GRACE_MS % 1000 * 1000 };

	evtimer_add(p->drain, &tv);
}

/* Bytes still waiting in an open output pipe. */
static bool
proc_output_pending(struct bufferevent *bev, bool eof)
{
	int	 n = 0;

	if (bev == NULL || eof)
		return false;
	return ioctl(bufferevent_getfd(bev), FIONREAD, &n) == 0 && n > 0;
}

/*
 * The command exited a while ago and its output is still open: an escaped
 * descendant holds the pipes.  Unless output is still flowing or held back
 * for a slow reader, end it so the call can answer.
 */
static void
proc_drain_expired(evutil_socket_t fd, short what, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)what;
	if (p->paused || proc_output_pending(p->out, p->out_eof) ||
	    proc_output_pending(p->err, p->err_eof)) {
		proc_arm_drain(p);
		return;
	}
	log_debug("exec %ld: output still open after exit; ending it",
	    (long)p->pid);
	if (p->out != NULL)
		proc_end_output(p, p->out);
	if (p->err != NULL)
		proc_end_output(p, p->err);
	proc_check_done(p);
}

/* The process exited: kill what it left in its group, finish when drained. */
static void
proc_exited(pid_t pid, int status, void *arg)
{
	struct proc	*p = arg;

	p->exited = true;
	p->status = status;
	killgrp(pid, SIGKILL);
	if (p->out_eof && p->err_eof) {
		proc_check_done(p);
		return;
	}
	p->drain = evtimer_new(gw.base, proc_drain_expired, p);
	proc_arm_drain(p);
}

static void
proc_check_done(struct proc *p)
{
	if (p->done || !p->exited || !p->out_eof || !p->err_eof)
		return;
	p->done = true;
	p->o.done(p, p->o.arg);
}

/* stdin is drained after a close: close our end so the child sees EOF. */
static void
proc_in_drained(struct bufferevent *bev, void *arg)
{
	struct proc	*p = arg;

	if (p->closing && p->in != NULL) {
		bufferevent_free(p->in);
		p->in = NULL;
	}
}

static void
proc_in_event(struct bufferevent *bev, short what, void *arg)
{
	struct proc	*p = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		bufferevent_free(p->in);
		p->in = NULL;
	}
}

/* Wraps our end of a pipe or pty in a bufferevent. */
static struct bufferevent *
proc_bev(struct proc *p, int fd, bool reader)
{
	struct bufferevent	*bev;

	set_nonblock_cloexec(fd);
	bev = bufferevent_socket_new(gw.base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (reader) {
		/* Up to a pipe's worth a read, not libevent's 4 KiB: fewer,
		 * larger frames when output streams. */
		bufferevent_set_max_single_read(bev, 64 * 1024);
		bufferevent_setcb(bev, proc_read, NULL, proc_out_event, p);
		bufferevent_enable(bev, EV_READ);
	} else {
		bufferevent_setcb(bev, NULL, proc_in_drained, proc_in_event, p);
		bufferevent_enable(bev, EV_WRITE);
	}
	return bev;
}

/* Child-side fds: a pty, or pipes; parent ends stored in fds[3]. */
static int
proc_fds(struct proc *p, const struct proc_opts *o, int child[3],
    int parent[3])
{
	struct winsize	 ws = { .ws_row = o->rows ? o->rows : 24,
	    .ws_col = o->cols ? o->cols : 80 };
	int		 pp[2], i;

	for (i = 0; i < 3; i++)
		child[i] = parent[i] = -1;
	if (o->tty) {
		if (openpty(&parent[1], &child[0], NULL, NULL, &ws) == -1)
			return -1;
		fcntl(parent[1], F_SETFD, FD_CLOEXEC);
		fcntl(child[0], F_SETFD, FD_CLOEXEC);
		child[1] = child[2] = child[0];
		return 0;
	}
	if (o->want_stdin) {
		if (pipe2(pp, O_CLOEXEC) == -1)
			return -1;
		child[0] = pp[0];
		parent[0] = pp[1];
	} else if ((child[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 1; i < 3; i++) {
		if (pipe2(pp, O_CLOEXEC) == -1)
			return -1;
		parent[i] = pp[0];
		child[i] = pp[1];
	}
	return 0;
}

static void
close_fds(int fds[3])
{
	int	 i;

	for (i = 0; i < 3; i++)
		if (fds[i] != -1 && (i == 0 || fds[i] != fds[i - 1]))
			close(fds[i]);
}

struct proc *
proc_start(struct sandbox *sb, const struct proc_opts *o, const char **err)
{
	struct proc	*p = xcalloc(1, sizeof *p);
	struct spawn_req r = { .argv = o->argv, .info_fd = -1 };
	int		 child[3], parent[3];

	p->o = *o;
	p->sb = sb;
	p->master = -1;
	if (proc_fds(p, o, child, parent) == -1) {
		*err = strerror(errno);
		close_fds(child);
		close_fds(parent);
		free(p);
		return NULL;
	}
	r.envp = sandbox_exec_env(sb, o->extra_env);
	r.cwd = gw.iso == ISO_BWRAP ? "/work" : sb->workdir;
	r.nspid = gw.iso == ISO_BWRAP ? sb->nspid : 0;
	r.fd_in = child[0];
	r.fd_out = child[1];
	r.fd_err = child[2];
	r.ctty = o->tty;
	p->pid = tree_spawn(sb, &r, proc_exited, p, err);
	strv_free(r.envp);
	close_fds(child);
	if (p->pid == -1) {
		close_fds(parent);
		free(p);
		return NULL;
	}
	if (o->tty) {
		p->master = parent[1];
		p->out = proc_bev(p, parent[1], true);
		p->err_eof = true;
	} else {
		if (parent[0] != -1)
			p->in = proc_bev(p, parent[0], false);
		p->out = proc_bev(p, parent[1], true);
		p->err = proc_bev(p, parent[2], true);
	}
	sandbox_ref(sb);
	LIST_INSERT_HEAD(&sb->procs, p, entry);
	return p;
}

void
proc_write(struct proc *p, const void *data, size_t len)
{
	if (p->master != -1) {
		bufferevent_write(p->out, data, len);
		return;
	}
	if (p->in != NULL && !p->closing)
		bufferevent_write(p->in, data, len);
}

/* End of input: EOF on the pipe, or ^D on a terminal. */
void
proc_close_stdin(struct proc *p)
{
	if (p->master != -1) {
		bufferevent_write(p->out, "\004", 1);
		return;
	}
	p->closing = true;
	if (p->in != NULL &&
	    evbuffer_get_length(bufferevent_get_output(p->in)) == 0) {
		bufferevent_free(p->in);
		p->in = NULL;
	}
}

void
proc_resize(struct proc *p, unsigned cols, unsigned rows)
{
	struct winsize	 ws = { .ws_row = rows, .ws_col = cols };

	if (p->master != -1 && ioctl(p->master, TIOCSWINSZ, &ws) == -1)
		log_warn("TIOCSWINSZ");
}

void
proc_kill(struct proc *p, int sig)
{
	if (!p->exited)
		killgrp(p->pid, sig);
}

/* Backpressure: stop reading while the client's queue is long. */
void
proc_pause_output(struct proc *p, bool pause)
{
	struct bufferevent	*b[2] = { p->out, p->err };
	int			 i;

	p->paused = pause;
	for (i = 0; i < 2; i++) {
		if (b[i] == NULL || (b[i] == p->out ? p->out_eof : p->err_eof))
			continue;
		if (pause)
			bufferevent_disable(b[i], EV_READ);
		else
			bufferevent_enable(b[i], EV_READ);
	}
}

int
proc_exit_code(struct proc *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return -1;
}

/* Signals every exec process group of a sandbox. */
void
proc_signal_all(struct sandbox *sb, int sig)
{
	struct proc	*p;

	LIST_FOREACH(p, &sb->procs, entry)
		proc_kill(p, sig);
}

void
proc_free(struct proc *p)
{
	if (!p->exited) {
		killgrp(p->pid, SIGKILL);
		tree_forget(p->pid);
	}
	if (p->drain != NULL)
		event_free(p->drain);
	if (p->in != NULL)
		bufferevent_free(p->in);
	if (p->out != NULL)
		bufferevent_free(p->out);
	if (p->err != NULL)
		bufferevent_free(p->err);
	LIST_REMOVE(p, entry);
	sandbox_unref(p->sb);
	free(p);
}
