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
 *
 * Without isolation each command runs under a keeper, a small program of
 * its own (keeper/keeper.c) that the loop thread starts with posix_spawn:
 * a vfork, so neither our page tables nor our memory are copied, however
 * large we have grown.  The loop thread lives as long as we do, which
 * matters: the keeper's PR_SET_PDEATHSIG fires when its parent *thread*
 * ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "exec-stage.h"
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

/* The soft descriptor limit we were given (main.c raised ours). */
static void
restore_nofile(void)
{
	struct rlimit	 rl;

	if (gw.nofile >= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = (rlim_t)gw.nofile;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* In the forked child: only async-signal-safe calls until exec. */
static noreturn void
child_exec(const struct spawn_req *r, struct nsfds *ns, int errfd)
{
	sigset_t	 all;
	size_t		 i;
	int		 fds[3] = { r->fd_in, r->fd_out, r->fd_err };

	/* Ignored signals stay ignored across exec. */
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal((int)i, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (setsid() == -1)
		child_fail(errfd, STAGE_SETSID);
	if (ns != NULL) {
		for (i = 0; i < NNS; i++)
			if (setns(ns->ns[i], 0) == -1)
				child_fail(errfd, STAGE_SETNS);
		if (fchdir(ns->root) == -1 || chroot(".") == -1)
			child_fail(errfd, STAGE_CHROOT);
	}
	for (i = 0; i < 3; i++)
		if (fds[i] != (int)i && dup2(fds[i], i) == -1)
			child_fail(errfd, STAGE_DUP2);
	if (r->info_fd != -1 && dup2(r->info_fd, 3) == -1)
		child_fail(errfd, STAGE_DUP2);
	close_range(r->info_fd != -1 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);
	restore_nofile();
	if (r->ctty && ioctl(0, TIOCSCTTY, 0) == -1)
		child_fail(errfd, STAGE_CTTY);
	if (r->cwd != NULL && chdir(r->cwd) == -1)
		child_fail(errfd, STAGE_CHDIR);
	if (ns != NULL && drop_caps() == -1)
		child_fail(errfd, STAGE_CAPS);
	execvpe(r->argv[0], r->argv, r->envp);
	child_fail(errfd, STAGE_EXEC);
}

static const char *stage_msg[NSTAGES] = {
	[STAGE_NONE] = "",
	[STAGE_SETSID] = "setsid",
	[STAGE_SETNS] = "setns",
	[STAGE_CHROOT] = "chroot",
	[STAGE_DUP2] = "dup2",
	[STAGE_CTTY] = "controlling tty",
	[STAGE_CHDIR] = "chdir to the working directory",
	[STAGE_CAPS] = "drop capabilities",
	[STAGE_EXEC] = "exec",
};

/* A close-on-exec pipe, or -1 with why in msg. */
static int
cloexec_pipe(int fds[2], char *msg, size_t len)
{
	if (pipe2(fds, O_CLOEXEC) == 0)
		return 0;
	snprintf(msg, len, "pipe: %s", strerror(errno));
	return -1;
}

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
	if (cloexec_pipe(ep, msg, sizeof msg) == -1) {
		if (nsp != NULL)
			ns_close(nsp);
		*err = msg;
		return -1;
	}
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

/*
 * The keeper program (keeper/keeper.c): next to us in a build tree, in
 * ../libexec/sandboxd installed.  Found once, at start-up.
 */
static char	*keeper_path;

#define KEEPER_PROG	"sandbox-gateway-keeper"

int
spawn_find_keeper(void)
{
	static const char *where[] = { "", "/../libexec/sandboxd" };
	char	 self[PATH_MAX], *dir;
	ssize_t	 n;
	size_t	 i;

	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) == -1)
		return -1;
	self[n] = '\0';
	dir = dirname(self);
	for (i = 0; i < sizeof where / sizeof where[0]; i++) {
		free(keeper_path);
		keeper_path = xasprintf("%s%s/" KEEPER_PROG, dir, where[i]);
		if (access(keeper_path, X_OK) == 0)
			return 0;
	}
	log_warnx("no %s next to %s or in %s/../libexec/sandboxd",
	    KEEPER_PROG, dir, dir);
	return -1;
}

/*
 * The keeper's command line: its options, the command's environment as
 * -E options (the keeper runs with none of its own), then the command.
 */
static char **
keeper_argv(const struct spawn_req *r, const char *name, int statfd,
    int errfd, char num[4][24])
{
	char	**v;
	size_t	 n = 0, i, argc = 0, envc = 0;

	while (r->argv[argc] != NULL)
		argc++;
	while (r->envp[envc] != NULL)
		envc++;
	v = xreallocarray(NULL, argc + 2 * envc + 16, sizeof *v);
	snprintf(num[0], sizeof num[0], "%d", (int)getpid());
	snprintf(num[1], sizeof num[1], "%d", statfd);
	snprintf(num[2], sizeof num[2], "%d", errfd);
	snprintf(num[3], sizeof num[3], "%ld", gw.nofile);
	v[n++] = keeper_path;
	v[n++] = "-n";
	v[n++] = (char *)name;
	v[n++] = "-p";
	v[n++] = num[0];
	v[n++] = "-s";
	v[n++] = num[1];
	v[n++] = "-e";
	v[n++] = num[2];
	if (r->ctty)
		v[n++] = "-t";
	if (gw.nofile >= 0) {
		v[n++] = "-l";
		v[n++] = num[3];
	}
	if (r->cwd != NULL) {
		v[n++] = "-d";
		v[n++] = (char *)r->cwd;
	}
	for (i = 0; i < envc; i++) {
		v[n++] = "-E";
		v[n++] = r->envp[i];
	}
	v[n++] = "--";
	for (i = 0; i <= argc; i++)
		v[n++] = r->argv[i];
	return v;
}

/*
 * posix_spawn (a vfork: no copy of our page tables) of the keeper in a
 * session of its own, every signal at its default, its stdio the
 * command's and our ends of the two pipes kept open across the exec.
 */
static int
keeper_spawn(const struct spawn_req *r, const char *name, int statfd,
    int errfd, pid_t *pid)
{
	static char			*no_env[] = { NULL };
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, all;
	char				**argv, num[4][24];
	int				 rc;

	argv = keeper_argv(r, name, statfd, errfd, num);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, r->fd_in, 0);
	posix_spawn_file_actions_adddup2(&fa, r->fd_out, 1);
	posix_spawn_file_actions_adddup2(&fa, r->fd_err, 2);
	/* dup2 onto itself clears close-on-exec (glibc >= 2.29). */
	posix_spawn_file_actions_adddup2(&fa, statfd, statfd);
	posix_spawn_file_actions_adddup2(&fa, errfd, errfd);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rc = posix_spawn(pid, keeper_path, &fa, &at, argv, no_env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	return rc;
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
	int		 ep[2], sp[2], res[2] = { 0, 0 }, rc;
	pid_t		 k;

	if (cloexec_pipe(ep, msg, sizeof msg) == -1) {
		*err = msg;
		return -1;
	}
	if (cloexec_pipe(sp, msg, sizeof msg) == -1) {
		close(ep[0]);
		close(ep[1]);
		*err = msg;
		return -1;
	}
	rc = keeper_spawn(r, name, sp[1], ep[1], &k);
	close(ep[1]);
	close(sp[1]);
	if (rc != 0 || read_all(sp[0], res, sizeof res) == -1 ||
	    res[0] == -1) {
		snprintf(msg, sizeof msg, "%s: %s", rc != 0 ? keeper_path :
		    "keeper fork", strerror(rc != 0 ? rc : res[0] == -1 ?
		    res[1] : EPIPE));
		close(ep[0]);
		close(sp[0]);
		if (rc == 0)
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
