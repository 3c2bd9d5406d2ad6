/*
 * The sandbox table and its state machine:
 *
 *   CREATING --(start delay, main command up)--> RUNNING <--> PAUSED
 *   RUNNING --(Stop, lifetime)--> TERMINATING --> COMPLETED | FAILED
 *   RUNNING --(main command exits)--> COMPLETED (0) | FAILED (non-zero)
 *
 * A sandbox is terminal once its main process is reaped and its output has
 * ended.  Terminal sandboxes stay listed (include_stopped) until Delete.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define DRAIN_MS	1000	/* output may outlive the main process */

static void	sandbox_finish(struct sandbox *);

const char *
sandbox_status_name(int st)
{
	switch (st) {
	case ST(CREATING):	return "CREATING";
	case ST(RUNNING):	return "RUNNING";
	case ST(COMPLETED):	return "COMPLETED";
	case ST(FAILED):	return "FAILED";
	case ST(TERMINATED):	return "TERMINATED";
	case ST(PENDING):	return "PENDING";
	case ST(PAUSED):	return "PAUSED";
	case ST(TERMINATING):	return "TERMINATING";
	default:		return "UNSPECIFIED";
	}
}

bool
sandbox_terminal(const struct sandbox *sb)
{
	return sb->status == ST(COMPLETED) || sb->status == ST(FAILED) ||
	    sb->status == ST(TERMINATED);
}

struct sandbox *
sandbox_find(const char *id)
{
	struct sandbox	*sb;

	TAILQ_FOREACH(sb, &gw.sandboxes, entry)
		if (strcmp(sb->id, id) == 0)
			return sb;
	return NULL;
}

/* Finds a RUNNING sandbox or answers the call with why not. */
bool
sandbox_running_or_err(struct call *c, const char *id, struct sandbox **out)
{
	struct sandbox	*sb;

	if (*id == '\0') {
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "sandbox_id is required");
		return false;
	}
	if ((sb = sandbox_find(id)) == NULL) {
		call_finishf(c, GRPC_STATUS_NOT_FOUND, "sandbox %s not found",
		    id);
		return false;
	}
	if (sb->status != ST(RUNNING)) {
		call_finishf(c, GRPC_STATUS_FAILED_PRECONDITION,
		    "sandbox %s is %s, not RUNNING", id,
		    sandbox_status_name(sb->status));
		return false;
	}
	*out = sb;
	return true;
}

size_t
sandbox_count(int status)
{
	struct sandbox	*sb;
	size_t		 n = 0;

	TAILQ_FOREACH(sb, &gw.sandboxes, entry)
		if (status == -1 || sb->status == status)
			n++;
	return n;
}

void
sandbox_ref(struct sandbox *sb)
{
	sb->refs++;
}

void
sandbox_unref(struct sandbox *sb)
{
	if (--sb->refs > 0)
		return;
	logbuf_free(sb->log);
	free(sb->reason);
	free(sb->dir);
	free(sb->workdir);
	free(sb->tmpdir);
	strv_free(sb->tags);
	strv_free(sb->argv);
	strv_free(sb->env);
	record_free(sb);
	free(sb->ingress);
	free(sb->egress);
	free(sb->entity);
	free(sb->project);
	free(sb);
}

/* Sets the status and tells the stats file. */
static void
set_status(struct sandbox *sb, int st, char *reason)
{
	log_debug("%s: %s -> %s%s%s", sb->id, sandbox_status_name(sb->status),
	    sandbox_status_name(st), reason ? ": " : "", reason ? reason : "");
	sb->status = st;
	if (reason != NULL) {
		free(sb->reason);
		sb->reason = reason;
	}
	stats_changed();
}

/* Called by launch.c once the main command is up (in its namespaces). */
void
sandbox_running(struct sandbox *sb)
{
	if (sb->status != ST(CREATING))
		return;
	sb->started_ns = now_ns();
	set_status(sb, ST(RUNNING), NULL);
}

/*
 * Terminal once the main process is reaped, its output has ended and no
 * process of its trees is left (tree.c), so that nothing survives a Stop.
 */
static void
sandbox_try_finish(struct sandbox *sb)
{
	if (sb->reaped && sb->out_eof && sb->nkeepers == 0)
		sandbox_finish(sb);
}

/* The main process is reaped: kill all it left, then finish. */
static void
main_exited(pid_t pid, int status, void *arg)
{
	struct sandbox	*sb = arg;
	struct timeval	 tv = { DRAIN_MS / 1000, (DRAIN_MS % 1000) * 1000 };

	sb->reaped = true;
	sb->has_exit = true;
	if (WIFEXITED(status))
		sb->exit_code = WEXITSTATUS(status);
	else
		sb->exit_code = 128 + WTERMSIG(status);
	tree_kill(sb);
	proc_signal_all(sb, SIGKILL);
	/* Drain, then give up on the output (and a tree that will not die). */
	evtimer_add(sb->kill_ev, &tv);
	sandbox_try_finish(sb);
}

void
sandbox_out_eof(struct sandbox *sb)
{
	sb->out_eof = true;
	if (sb->out != NULL) {
		bufferevent_free(sb->out);
		sb->out = NULL;
	}
	sandbox_try_finish(sb);
}

/* The last process of the sandbox's trees is gone. */
void
sandbox_trees_gone(struct sandbox *sb)
{
	sandbox_try_finish(sb);
}

/* Tells everyone waiting for the end. */
static void
notify_waiters(struct sandbox *sb)
{
	struct sandbox_waiter	*w;

	while ((w = LIST_FIRST(&sb->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		w->cb(sb, w->arg);
	}
}

/* The reason and final status once the main process is gone. */
static void
final_status(struct sandbox *sb)
{
	int	 code = sb->exit_code;

	if (sb->expired)
		set_status(sb, ST(FAILED), xasprintf("max lifetime of %llds "
		    "reached", (long long)(sb->lifetime_ms / 1000)));
	else if (sb->stopping)
		set_status(sb, sb->stop_status, xstrdup(sb->reason ?
		    sb->reason : "stopped"));
	else if (code == 0)
		set_status(sb, ST(COMPLETED), xstrdup("command exited with "
		    "code 0"));
	else if (code > 128)
		set_status(sb, ST(FAILED), xasprintf("command killed by "
		    "signal %d", code - 128));
	else
		set_status(sb, ST(FAILED), xasprintf("command exited with "
		    "code %d", code));
}

/* Main process gone and output ended: the sandbox is terminal. */
static void
sandbox_finish(struct sandbox *sb)
{
	if (sandbox_terminal(sb))
		return;
	if (sb->out != NULL) {
		bufferevent_free(sb->out);
		sb->out = NULL;
	}
	if (sb->info != NULL) {
		bufferevent_free(sb->info);
		sb->info = NULL;
	}
	evtimer_del(sb->kill_ev);
	evtimer_del(sb->life_ev);
	evtimer_del(sb->start_ev);
	if (sb->ready_ev != NULL)
		evtimer_del(sb->ready_ev);
	final_status(sb);
	logbuf_close(sb->log);
	log_debug("sandbox %s %s: %s", sb->id, sandbox_status_name(sb->status),
	    sb->reason);
	notify_waiters(sb);
	if (sb->deleted)
		sandbox_delete(sb);
}

/* The start delay is over: launch the main command. */
static void
start_now(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox	*sb = arg;
	char		*err;

	if (launch_main(sb, main_exited, &err) == -1) {
		log_warnx("sandbox %s: %s", sb->id, err);
		sb->reaped = sb->out_eof = true;
		/* As a shell or a container runtime says it: not found. */
		sb->has_exit = true;
		sb->exit_code = 127;
		evtimer_del(sb->life_ev);
		set_status(sb, ST(FAILED), err);
		logbuf_close(sb->log);
		notify_waiters(sb);
		return;
	}
	if (gw.iso != ISO_BWRAP)
		sandbox_running(sb);
}

/* The grace period is over (or output never ended): force the end. */
static void
kill_now(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox	*sb = arg;

	if (sb->reaped) {
		if (sb->nkeepers > 0)
			log_warnx("sandbox %s: processes survive SIGKILL",
			    sb->id);
		sandbox_finish(sb);
		return;
	}
	tree_kill(sb);
	proc_signal_all(sb, SIGKILL);
}

/* max_lifetime_seconds ran out. */
static void
lifetime_over(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox	*sb = arg;

	log_debug("sandbox %s: max lifetime reached", sb->id);
	sb->expired = true;
	sandbox_stop(sb, gw.stop_grace_ms, "max lifetime reached", ST(FAILED));
}

/* Arms the start-delay and lifetime timers of a new sandbox. */
void
sandbox_arm(struct sandbox *sb)
{
	struct timeval	 tv;

	sb->start_ev = evtimer_new(gw.base, start_now, sb);
	sb->life_ev = evtimer_new(gw.base, lifetime_over, sb);
	sb->kill_ev = evtimer_new(gw.base, kill_now, sb);
	tv.tv_sec = gw.start_delay_ms / 1000;
	tv.tv_usec = (gw.start_delay_ms % 1000) * 1000;
	evtimer_add(sb->start_ev, &tv);
	tv.tv_sec = sb->lifetime_ms / 1000;
	tv.tv_usec = (sb->lifetime_ms % 1000) * 1000;
	evtimer_add(sb->life_ev, &tv);
}

void
sandbox_stop(struct sandbox *sb, int64_t grace_ms, const char *reason,
    int final)
{
	struct timeval	 tv = { grace_ms / 1000, (grace_ms % 1000) * 1000 };

	if (sandbox_terminal(sb) || sb->stopping)
		return;
	sb->stopping = true;
	sb->stop_status = final;
	free(sb->reason);
	sb->reason = xstrdup(reason);
	if (sb->pid == 0) {		/* still waiting for its start */
		sb->reaped = sb->out_eof = true;
		sandbox_finish(sb);
		return;
	}
	if (sb->reaped) {		/* its trees are being killed */
		sandbox_try_finish(sb);
		return;
	}
	set_status(sb, ST(TERMINATING), NULL);
	tree_signal(sb, SIGCONT);
	proc_signal_all(sb, SIGCONT);
	if (grace_ms <= 0) {
		tree_kill(sb);
		proc_signal_all(sb, SIGKILL);
		return;
	}
	tree_signal(sb, SIGTERM);
	proc_signal_all(sb, SIGTERM);
	evtimer_add(sb->kill_ev, &tv);
}

void
sandbox_wait(struct sandbox *sb, struct sandbox_waiter *w)
{
	LIST_INSERT_HEAD(&sb->waiters, w, entry);
}

void
sandbox_unwait(struct sandbox *sb, struct sandbox_waiter *w)
{
	LIST_REMOVE(w, entry);
}

/* Removes a sandbox: stopped first if it still runs, then forgotten. */
void
sandbox_delete(struct sandbox *sb)
{
	sb->deleted = true;
	if (!sandbox_terminal(sb)) {
		sandbox_stop(sb, 0, "deleted", ST(COMPLETED));
		if (!sandbox_terminal(sb))
			return;		/* sandbox_finish() comes back */
	}
	if (sb->entry.tqe_prev == NULL)
		return;
	TAILQ_REMOVE(&gw.sandboxes, sb, entry);
	sb->entry.tqe_prev = NULL;
	tree_forget(sb->pid);
	event_free(sb->start_ev);
	event_free(sb->life_ev);
	event_free(sb->kill_ev);
	if (sb->ready_ev != NULL)
		event_free(sb->ready_ev);
	sb->start_ev = sb->life_ev = sb->kill_ev = sb->ready_ev = NULL;
	if (fs_rmtree(sb->dir) == -1)
		log_warn("remove %s", sb->dir);
	stats_changed();
	sandbox_unref(sb);
}

int
sandbox_pause(struct sandbox *sb, bool pause, char **err)
{
	int	 want = pause ? ST(RUNNING) : ST(PAUSED);

	if (sb->status != want) {
		*err = xasprintf("sandbox %s is %s, not %s", sb->id,
		    sandbox_status_name(sb->status), sandbox_status_name(want));
		return -1;
	}
	/* Every process: one that left its group would run on. */
	tree_signal(sb, pause ? SIGSTOP : SIGCONT);
	proc_signal_all(sb, pause ? SIGSTOP : SIGCONT);
	set_status(sb, pause ? ST(PAUSED) : ST(RUNNING), NULL);
	return 0;
}

/* The environment of a command in the sandbox, with extra KEY=VALUEs. */
char **
sandbox_exec_env(struct sandbox *sb, char **extra)
{
	char	**v = strv_dup(sb->env, strv_len(sb->env));
	size_t	  n = strv_len(v), i, j, klen;

	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		klen = strcspn(extra[i], "=") + 1;
		if (strncmp(extra[i], "SBX_GATEWAY_RUN=", klen) == 0)
			continue;
		for (j = 0; j < n; j++)
			if (strncmp(v[j], extra[i], klen) == 0)
				break;
		if (j < n) {
			free(v[j]);
			v[j] = xstrdup(extra[i]);
		} else
			strv_push(&v, &n, xstrdup(extra[i]));
	}
	return v;
}

/* On shutdown: stop everything that still runs. */
void
sandbox_stop_all(void)
{
	struct sandbox	*sb;

	TAILQ_FOREACH(sb, &gw.sandboxes, entry)
		sandbox_stop(sb, gw.stop_grace_ms, "gateway shutting down",
		    ST(COMPLETED));
}

void
sandbox_free_all(void)
{
	struct sandbox	*sb;

	while ((sb = TAILQ_FIRST(&gw.sandboxes)) != NULL) {
		TAILQ_REMOVE(&gw.sandboxes, sb, entry);
		tree_forget(sb->pid);
		if (sb->out != NULL)
			bufferevent_free(sb->out);
		if (sb->info != NULL)
			bufferevent_free(sb->info);
		event_free(sb->start_ev);
		event_free(sb->life_ev);
		event_free(sb->kill_ev);
		if (sb->ready_ev != NULL)
			event_free(sb->ready_ev);
		sandbox_unref(sb);
	}
}
