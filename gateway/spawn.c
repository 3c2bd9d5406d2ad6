/*
 * Starting processes, outside any sandbox (bwrap itself, or plain processes
 * with --isolation none) or inside a running bwrap sandbox.
 *
 * To run inside a sandbox we enter the namespaces of its pid 1 (the host
 * pid bwrap reports on --info-fd): the pid namespace with setns() in the
 * loop thread just around fork(), so the child is born in the sandbox's pid
 * namespace and is still our child (we reap it and get its exit status);
 * ipc, uts, net and mount namespaces with setns() in the child, followed by
 * a chroot to the sandbox's root.  The child is single-threaded, so
 * entering the mount namespace is allowed there.  Needs root; and since
 * root is what we are, the child then drops every capability (bounding,
 * effective, permitted, inheritable, ambient) and sets no_new_privs, as
 * bwrap --cap-drop ALL does for the main command: otherwise an Exec could
 * remount the host's read-only binds and write on the host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

static const char *ns_names[] = { "ipc", "uts", "net", "mnt" };
#define NNS	(sizeof ns_names / sizeof ns_names[0])

struct nsfds {
	int	 pid, root, ns[NNS];
};

/* Opens the namespace files of a sandbox's pid 1 before forking. */
static int
ns_open(pid_t pid, struct nsfds *f)
{
	char	 path[64];
	size_t	 i;

	f->pid = f->root = -1;
	for (i = 0; i < NNS; i++)
		f->ns[i] = -1;
	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
	if ((f->pid = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/root", (int)pid);
	if ((f->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < NNS; i++) {
		snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid,
		    ns_names[i]);
		if ((f->ns[i] = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
	}
	return 0;
}

static void
ns_close(struct nsfds *f)
{
	size_t	 i;

	if (f->pid != -1)
		close(f->pid);
	if (f->root != -1)
		close(f->root);
	for (i = 0; i < NNS; i++)
		if (f->ns[i] != -1)
			close(f->ns[i]);
}

/* Reports a failure of the child to the parent, then exits. */
static noreturn void
child_fail(int errfd, int stage)
{
	int	 msg[2] = { stage, errno };

	if (write(errfd, msg, sizeof msg) == -1)
		_exit(126);
	_exit(127);
}

/*
 * Leaves the child with no capability at all, for good: the bounding set
 * first (that needs CAP_SETPCAP, which goes last), so that exec cannot
 * give root its capabilities back.  Raw syscalls: async-signal-safe.
 */
static int
drop_caps(void)
{
	struct __user_cap_header_struct	 h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct	 d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	int				 cap;

	/* EINVAL past the last capability this kernel knows. */
	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1) {
			if (errno == EINVAL)
				break;
			return -1;
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		return -1;
	if (syscall(SYS_capset, &h, d) == -1)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* In the forked child: only async-signal-safe calls until exec. */
static noreturn void
child_exec(const struct spawn_req *r, struct nsfds *ns, int errfd)
{
	sigset_t	 all;
	size_t		 i;
	int		 fds[3] = { r->fd_in, r->fd_out, r->fd_err };

	/* Ignored signals stay ignored across exec: ours and a keeper's. */
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal((int)i, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (setsid() == -1)
		child_fail(errfd, 1);
	if (ns != NULL) {
		for (i = 0; i < NNS; i++)
			if (setns(ns->ns[i], 0) == -1)
				child_fail(errfd, 2);
		if (fchdir(ns->root) == -1 || chroot(".") == -1)
			child_fail(errfd, 3);
	}
	for (i = 0; i < 3; i++)
		if (fds[i] != (int)i && dup2(fds[i], i) == -1)
			child_fail(errfd, 4);
	if (r->info_fd != -1 && dup2(r->info_fd, 3) == -1)
		child_fail(errfd, 4);
	close_range(r->info_fd != -1 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);
	if (r->ctty && ioctl(0, TIOCSCTTY, 0) == -1)
		child_fail(errfd, 5);
	if (r->cwd != NULL && chdir(r->cwd) == -1)
		child_fail(errfd, 6);
	if (ns != NULL && drop_caps() == -1)
		child_fail(errfd, 7);
	execvpe(r->argv[0], r->argv, r->envp);
	child_fail(errfd, 8);
}

static const char *stage_msg[] = { "", "setsid", "setns", "chroot", "dup2",
    "controlling tty", "chdir to the working directory",
    "drop capabilities", "exec" };
#define NSTAGES	(sizeof stage_msg / sizeof stage_msg[0])

/* Forks, in the sandbox's pid namespace when there is one. */
static pid_t
fork_in(struct nsfds *ns)
{
	static int	 self_pidns = -1;
	pid_t		 pid;
	int		 saved;

	if (ns == NULL)
		return fork();
	if (self_pidns == -1 &&
	    (self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) ==
	    -1)
		fatal("/proc/self/ns/pid");
	if (setns(ns->pid, CLONE_NEWPID) == -1)
		return -1;
	if ((pid = fork()) == 0)
		return 0;
	saved = errno;
	if (setns(self_pidns, CLONE_NEWPID) == -1)
		fatal("setns back to our pid namespace");
	errno = saved;
	return pid;
}

/*
 * Waits for the child's exec (its end of the error pipe closes on exec);
 * -1 with the failing step in msg when it did not get there.
 */
static int
exec_result(int efd, const struct spawn_req *r, char *msg, size_t len)
{
	int	 res[2];
	ssize_t	 n;

	do
		n = read(efd, res, sizeof res);
	while (n == -1 && errno == EINTR);
	close(efd);
	if (n != (ssize_t)sizeof res)
		return 0;
	snprintf(msg, len, "%s: %s: %s", r->argv[0],
	    stage_msg[res[0] < (int)NSTAGES && res[0] > 0 ? res[0] : 0],
	    strerror(res[1]));
	return -1;
}

pid_t
spawn_process(const struct spawn_req *r, const char **err)
{
	static char	 msg[256];
	struct nsfds	 ns, *nsp = NULL;
	int		 ep[2];
	pid_t		 pid;

	if (r->nspid > 0) {
		if (ns_open(r->nspid, &ns) == -1) {
			snprintf(msg, sizeof msg, "sandbox namespaces: %s",
			    strerror(errno));
			ns_close(&ns);
			*err = msg;
			return -1;
		}
		nsp = &ns;
	}
	if (pipe2(ep, O_CLOEXEC) == -1)
		fatal("pipe2");
	if ((pid = fork_in(nsp)) == 0)
		child_exec(r, nsp, ep[1]);
	close(ep[1]);
	if (nsp != NULL)
		ns_close(nsp);
	if (pid == -1) {
		snprintf(msg, sizeof msg, "fork: %s", strerror(errno));
		close(ep[0]);
		*err = msg;
		return -1;
	}
	if (exec_result(ep[0], r, msg, sizeof msg) == -1) {
		waitpid(pid, NULL, 0);
		*err = msg;
		return -1;
	}
	return pid;
}

/* Writes all of a small message; async-signal-safe. */
static void
write_all(int fd, const void *buf, size_t len)
{
	ssize_t	 n;

	do
		n = write(fd, buf, len);
	while (n == -1 && errno == EINTR);
}

/*
 * The keeper: a child subreaper, so that everything its command leaves
 * behind (setsid, double fork, env -i) stays its descendant.  It tells us
 * the command's pid, then its wait status, and exits once its whole tree
 * has been reaped.  It ignores the signals a terminal or a stray kill
 * sends: only SIGKILL ends it before its tree is empty.  Forked from a
 * threaded process, it makes only async-signal-safe calls.
 */
static noreturn void
keeper_run(const struct spawn_req *r, const char *name, int errfd,
    int statfd)
{
	static const int ignored[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
	    SIGUSR1, SIGUSR2, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU };
	sigset_t	 all;
	size_t		 i;
	pid_t		 pid, w;
	int		 msg[2], st;

	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal((int)i, SIG_DFL);
	for (i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setsid();			/* out of our group and session */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	if ((pid = _Fork()) == 0)
		child_exec(r, NULL, errfd);
	msg[0] = pid;
	msg[1] = errno;
	write_all(statfd, msg, sizeof msg);
	if (pid == -1)
		_exit(127);
	/* Nothing of the command's: its pipes would never see EOF. */
	if (statfd > 0)
		close_range(0, (unsigned)statfd - 1, 0);
	close_range((unsigned)statfd + 1, ~0U, 0);
	for (;;) {
		if ((w = waitpid(-1, &st, 0)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(0);		/* ECHILD: the tree is empty */
		}
		if (w == pid && statfd != -1) {
			write_all(statfd, &st, sizeof st);
			close(statfd);
			statfd = -1;
		}
	}
}

/* Reads exactly len bytes or fails. */
static int
read_all(int fd, void *buf, size_t len)
{
	ssize_t	 n;

	do
		n = read(fd, buf, len);
	while (n == -1 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Starts a plain process (no namespaces to enter) under a keeper named
 * name.  Returns the command's pid; *keeper is the keeper's (our child),
 * *statfd the pipe on which the command's wait status will come.
 */
pid_t
spawn_kept(const struct spawn_req *r, const char *name, pid_t *keeper,
    int *statfd, const char **err)
{
	static char	 msg[256];
	int		 ep[2], sp[2], res[2];
	pid_t		 k;

	if (pipe2(ep, O_CLOEXEC) == -1 || pipe2(sp, O_CLOEXEC) == -1)
		fatal("pipe2");
	if ((k = fork()) == 0)
		keeper_run(r, name, ep[1], sp[1]);
	close(ep[1]);
	close(sp[1]);
	if (k == -1 || read_all(sp[0], res, sizeof res) == -1 ||
	    res[0] == -1) {
		snprintf(msg, sizeof msg, "fork: %s", strerror(k == -1 ?
		    errno : res[0] == -1 ? res[1] : EPIPE));
		close(ep[0]);
		close(sp[0]);
		if (k != -1)
			waitpid(k, NULL, 0);
		*err = msg;
		return -1;
	}
	if (exec_result(ep[0], r, msg, sizeof msg) == -1) {
		close(sp[0]);
		waitpid(k, NULL, 0);	/* it reaps the command and goes */
		*err = msg;
		return -1;
	}
	*keeper = k;
	*statfd = sp[0];
	return res[0];
}

/* True when bubblewrap can make the namespaces we need here. */
int
spawn_probe_bwrap(void)
{
	char		*argv[] = { "bwrap", "--ro-bind", "/", "/", "--dev",
	    "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-ipc",
	    "--unshare-uts", "--die-with-parent", "true", NULL };
	char		*envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct spawn_req r = { .argv = argv, .envp = envp, .info_fd = -1 };
	const char	*err;
	pid_t		 pid;
	int		 null, status;

	if (geteuid() != 0)
		return 0;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return 0;
	r.fd_in = r.fd_out = r.fd_err = null;
	pid = spawn_process(&r, &err);
	close(null);
	if (pid == -1)
		return 0;
	if (waitpid(pid, &status, 0) == -1)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
