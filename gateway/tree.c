/*
 * A sandbox's processes, found however they try to leave (setsid, double
 * fork, env -i), and signalled all at once: a process group, a session or
 * an environment variable is something a process may change, its pid
 * namespace and its place under a subreaper are not.
 *
 * With bwrap, a sandbox's processes are those of its pid namespace, which
 * none can leave (Exec commands are born in it), and the outer bwrap
 * process, alone in its group outside.
 *
 * Without isolation (--isolation none, the fallback when not root) every
 * command, the main one and each Exec's, runs under a keeper (spawn.c,
 * keeper/keeper.c): a small child subreaper that relays its command's wait
 * status through a pipe, exits once its whole tree is reaped, and kills
 * that tree if we die first.  Whatever the command leaves behind stays the
 * keeper's descendant, so a sandbox's processes are the descendants of its
 * keepers.  The gateway is a subreaper too: what a
 * keeper killed from outside leaves comes to us, and is killed.
 *
 * Keepers are named "sbxk-" and the run id's first 10 digits (comm, which
 * only the keeper itself could change): a gateway that starts after a
 * killed one finds the keepers that could not clean up (stopped ones, say)
 * by name and kills their trees (leftovers.c).  A process that asks something outside the tree to start
 * another (a service manager, at, ssh) escapes all this; only a cgroup
 * would hold it, and this gateway does without.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define KEEPER_PREFIX	"sbxk-"
#define SWEEP_MS	20
#define SWEEP_MAX_MS	1000	/* a tree that will not die: look less often */
#define MAX_PASSES	8

struct keeper {
	pid_t			 pid;	/* the keeper, our child */
	pid_t			 cmd;	/* its command */
	struct sandbox		*sb;	/* holds a reference */
	int			 fd;	/* the command's wait status */
	struct event		*ev;
	child_cb		 cb;	/* told the status; NULL: forgotten */
	void			*arg;
	bool			 dying;
	LIST_ENTRY(keeper)	 entry;
};

static LIST_HEAD(, keeper) keepers = LIST_HEAD_INITIALIZER(keepers);
static char		 keeper_name[16];
static struct event	*sweep_ev;
static bool		 orphans;	/* a keeper died: look for its tree */
static int		 sweeps;	/* since the last tree_kill */

static void	sweep(evutil_socket_t, short, void *);

static void
sweep_arm(int ms)
{
	struct timeval	 tv = { 0, ms * 1000 };

	evtimer_add(sweep_ev, &tv);
}

/* The name (comm) of a run's keepers. */
void
tree_keeper_name(char *out, size_t len, const char *run_id)
{
	snprintf(out, len, KEEPER_PREFIX "%.10s", run_id);
}

/* Makes us a subreaper and names this run's keepers. */
void
tree_init(const char *run_id)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("PR_SET_CHILD_SUBREAPER");
	tree_keeper_name(keeper_name, sizeof keeper_name, run_id);
}

/* The command's wait status; EOF without one: the keeper was killed. */
static void
keeper_read(struct keeper *k)
{
	child_cb	 cb = k->cb;
	ssize_t		 n;
	int		 st;

	if (k->fd == -1)
		return;
	do
		n = read(k->fd, &st, sizeof st);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n != (ssize_t)sizeof st)
		st = SIGKILL;		/* as if killed: WIFSIGNALED */
	event_free(k->ev);
	k->ev = NULL;
	close(k->fd);
	k->fd = -1;
	k->cb = NULL;
	if (cb != NULL)
		cb(k->cmd, st, k->arg);
}

static void
keeper_readable(evutil_socket_t fd, short what, void *arg)
{
	keeper_read(arg);
}

/* The keeper is reaped: its tree is empty (or it was killed). */
static void
keeper_exited(pid_t pid, int status, void *arg)
{
	struct keeper	*k = arg;
	struct sandbox	*sb = k->sb;

	keeper_read(k);		/* the status may still wait in the pipe */
	if (!WIFEXITED(status)) {
		log_warnx("keeper %d of %s killed: killing what it kept",
		    (int)pid, sb->id);
		orphans = true;
		sweep_arm(0);
	}
	LIST_REMOVE(k, entry);
	free(k);
	if (--sb->nkeepers == 0)
		sandbox_trees_gone(sb);
	sandbox_unref(sb);
}

/*
 * Starts a command of a sandbox and tells cb its wait status: under a
 * keeper without isolation, else as our own child.
 */
pid_t
tree_spawn(struct sandbox *sb, const struct spawn_req *r, child_cb cb,
    void *arg, const char **err)
{
	struct keeper	*k;
	pid_t		 pid, kpid;
	int		 fd;

	if (gw.iso == ISO_BWRAP) {
		if ((pid = spawn_process(r, err)) != -1)
			child_watch(pid, cb, arg);
		return pid;
	}
	if ((pid = spawn_kept(r, keeper_name, &kpid, &fd, err)) == -1)
		return -1;
	set_nonblock_cloexec(fd);
	k = xcalloc(1, sizeof *k);
	k->pid = kpid;
	k->cmd = pid;
	k->sb = sb;
	k->fd = fd;
	k->cb = cb;
	k->arg = arg;
	k->ev = event_new(gw.base, fd, EV_READ | EV_PERSIST, keeper_readable,
	    k);
	event_add(k->ev, NULL);
	sandbox_ref(sb);
	sb->nkeepers++;
	LIST_INSERT_HEAD(&keepers, k, entry);
	child_watch(kpid, keeper_exited, k);
	/* Its sandbox is already being killed: so is this. */
	if (sb->reaped)
		tree_kill(sb);
	return pid;
}

/* The owner of a command goes away: nobody is told its status. */
void
tree_forget(pid_t cmd)
{
	struct keeper	*k;

	child_forget(cmd);
	LIST_FOREACH(k, &keepers, entry)
		if (k->cmd == cmd)
			k->cb = NULL;
}

/* True when pid is in the pid namespace of arg (a struct stat). */
static bool
in_pidns(pid_t pid, pid_t ppid, void *arg)
{
	const struct stat	*ns = arg;
	struct stat		 st;
	char			 path[64];

	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
	return stat(path, &st) == 0 && st.st_ino == ns->st_ino &&
	    st.st_dev == ns->st_dev;
}

/*
 * The sandbox's processes (bwrap's outer process aside).  With bwrap, the
 * members of its pid namespace: Exec children joined it from outside, so
 * only a /proc snapshot finds them all.  Without, the keepers' trees,
 * walked down from them at the cost of the sandbox's size only.
 */
static size_t
members(struct sandbox *sb, pid_t **out)
{
	struct keeper	*k;
	struct proctab	*t;
	struct stat	 ns;
	pid_t		*roots = NULL;
	size_t		 n = 0;
	char		 path[64];

	*out = NULL;
	if (gw.iso == ISO_BWRAP) {
		if (sb->nspid <= 0 || sb->reaped)
			return 0;
		snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)sb->nspid);
		if (stat(path, &ns) == -1)
			return 0;
		t = proctab_read();
		n = proctab_filter(t, in_pidns, &ns, out);
		proctab_free(t);
		return n;
	}
	LIST_FOREACH(k, &keepers, entry)
		if (k->sb == sb) {
			roots = xreallocarray(roots, n + 1, sizeof *roots);
			roots[n++] = k->pid;
		}
	n = proc_descendants(roots, n, out);
	free(roots);
	return n;
}

static bool
contains(const pid_t *v, size_t n, pid_t pid)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (v[i] == pid)
			return true;
	return false;
}

/*
 * With bwrap, whether a signal goes to the outer bwrap too.  Once the
 * command runs, SIGTERM goes to the namespace only, so the command has
 * its grace (bwrap would die of it, and take the namespace with it), and
 * so does SIGKILL while the namespace has processes: killed in there, its
 * init is reaped by the outer bwrap only once every process of it is gone,
 * so the outer bwrap's exit means an empty sandbox.  Killed first, it
 * would be reaped while its namespace is still dying.
 */
static bool
signal_outer_bwrap(struct sandbox *sb, int sig, size_t ninside)
{
	if (gw.iso != ISO_BWRAP || sb->pid <= 0 || sb->reaped)
		return false;
	if (sb->nspid <= 0 || sb->started_ns == 0)
		return true;
	if (sig == SIGTERM)
		return false;
	return sig != SIGKILL || ninside == 0;
}

/*
 * Signals every process of a sandbox, once each, again until a pass finds
 * none new (one may fork while we look).
 */
void
tree_signal(struct sandbox *sb, int sig)
{
	pid_t		*m, *done = NULL;
	size_t		 n, ndone = 0, i, pass, fresh;

	for (pass = 0; pass < MAX_PASSES; pass++) {
		n = members(sb, &m);
		for (i = fresh = 0; i < n; i++) {
			if (contains(done, ndone, m[i]))
				continue;
			if (kill(m[i], sig) == -1 && errno != ESRCH)
				log_warn("kill(%d, %d)", (int)m[i], sig);
			done = xreallocarray(done, ndone + 1, sizeof *done);
			done[ndone++] = m[i];
			fresh++;
		}
		free(m);
		if (fresh == 0)
			break;
	}
	if (signal_outer_bwrap(sb, sig, ndone))
		killgrp(sb->pid, sig);
	free(done);
}

/* SIGKILL to every process of a sandbox, now and until its trees are gone. */
void
tree_kill(struct sandbox *sb)
{
	struct keeper	*k;

	LIST_FOREACH(k, &keepers, entry)
		if (k->sb == sb)
			k->dying = true;
	tree_signal(sb, SIGKILL);
	sweeps = 0;
	if (sb->nkeepers > 0)
		sweep_arm(SWEEP_MS);
}

/* Our children that nobody watches: a dead keeper's, reparented to us. */
static size_t
orphans_of_ours(pid_t **out)
{
	pid_t	*kids;
	size_t	 nk, i, n = 0;

	*out = NULL;
	nk = proc_children(getpid(), &kids);
	for (i = 0; i < nk; i++)
		if (!child_known(kids[i])) {
			*out = xreallocarray(*out, n + 1, sizeof **out);
			(*out)[n++] = kids[i];
		}
	free(kids);
	return n;
}

/* Kills the trees of dying keepers and orphans once; true if any is left. */
static bool
sweep_once(void)
{
	struct keeper	*k;
	pid_t		*roots = NULL, *m;
	size_t		 n = 0, nm, i;
	bool		 left = false;

	LIST_FOREACH(k, &keepers, entry)
		if (k->dying && k->pid != 0) {
			roots = xreallocarray(roots, n + 1, sizeof *roots);
			roots[n++] = k->pid;
			left = true;
		}
	if (orphans) {
		nm = orphans_of_ours(&m);
		orphans = nm > 0;
		for (i = 0; i < nm; i++) {
			kill(m[i], SIGKILL);
			roots = xreallocarray(roots, n + 1, sizeof *roots);
			roots[n++] = m[i];
		}
		free(m);
	}
	nm = proc_descendants(roots, n, &m);
	for (i = 0; i < nm; i++)
		kill(m[i], SIGKILL);
	free(m);
	free(roots);
	return left || orphans;
}

static void
sweep(evutil_socket_t fd, short what, void *arg)
{
	int	 ms = SWEEP_MS * (1 + ++sweeps / 25);

	if (sweep_once())
		sweep_arm(ms < SWEEP_MAX_MS ? ms : SWEEP_MAX_MS);
}

void
tree_start(struct event_base *base)
{
	sweep_ev = evtimer_new(base, sweep, NULL);
}

/*
 * At exit: kill what is left of every tree, give the keepers a moment to
 * reap it, and forget them.
 */
void
tree_free_all(void)
{
	struct keeper	*k;
	bool		 alive = true;
	int		 i;

	LIST_FOREACH(k, &keepers, entry)
		k->dying = true;
	orphans = true;
	for (i = 0; i < 50 && alive; i++) {
		sweep_once();
		usleep(SWEEP_MS * 1000);
		alive = false;
		LIST_FOREACH(k, &keepers, entry) {
			if (k->pid != 0 && waitpid(k->pid, NULL, WNOHANG) == 0)
				alive = true;
			else
				k->pid = 0;
		}
	}
	while ((k = LIST_FIRST(&keepers)) != NULL) {
		if (k->pid != 0) {
			log_warnx("keeper %d still has processes", (int)k->pid);
			kill(k->pid, SIGKILL);
			child_forget(k->pid);
		}
		if (k->ev != NULL)
			event_free(k->ev);
		if (k->fd != -1)
			close(k->fd);
		LIST_REMOVE(k, entry);
		sandbox_unref(k->sb);
		free(k);
	}
	if (sweep_ev != NULL)
		event_free(sweep_ev);
	sweep_ev = NULL;
}
