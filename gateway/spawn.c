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

#define RUN_FILE	"gateway.run"
#define RUN_VAR		"SBX_GATEWAY_RUN="

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

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
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

pid_t
spawn_process(const struct spawn_req *r, const char **err)
{
	static char	 msg[256];
	struct nsfds	 ns, *nsp = NULL;
	int		 ep[2], res[2];
	ssize_t		 n;
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
	do
		n = read(ep[0], res, sizeof res);
	while (n == -1 && errno == EINTR);
	close(ep[0]);
	if (n != (ssize_t)sizeof res)
		return pid;
	waitpid(pid, NULL, 0);
	snprintf(msg, sizeof msg, "%s: %s: %s", r->argv[0],
	    stage_msg[res[0] < (int)NSTAGES && res[0] > 0 ? res[0] : 0], strerror(res[1]));
	*err = msg;
	return -1;
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

/* True when /proc/PID/environ holds the marker. */
static bool
has_marker(const char *pid, const char *marker, size_t mlen)
{
	char	 path[300], *buf = NULL, *p;
	size_t	 len = 0;
	FILE	*f;
	bool	 found = false;

	snprintf(path, sizeof path, "/proc/%s/environ", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	if (getdelim(&buf, &len, '\0', f) != -1) {
		do {
			p = buf;
			if (strncmp(p, marker, mlen) == 0 && p[mlen] == '\0')
				found = true;
		} while (!found && getdelim(&buf, &len, '\0', f) != -1);
	}
	free(buf);
	fclose(f);
	return found;
}

/* Kills every process marked with a run id; returns how many it found. */
static int
kill_marked(const char *marker)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;
	pid_t		 pid;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (!has_marker(de->d_name, marker, strlen(marker)))
			continue;
		pid = atoi(de->d_name);
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * A gateway that was killed leaves its process trees behind: find them by
 * the run id it recorded in --root, kill them, and record ours.
 */
void
spawn_kill_previous(const char *root, const char *run_id)
{
	char	*path = xasprintf("%s/%s", root, RUN_FILE), *tmp, old[64];
	char	*marker;
	FILE	*f;
	int	 i, n, total = 0;

	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(old, sizeof old, f) != NULL) {
			old[strcspn(old, "\n")] = '\0';
			marker = xasprintf(RUN_VAR "%s", old);
			for (i = 0; i < 50 && (n = kill_marked(marker)) > 0;
			    i++) {
				total += n;
				usleep(20000);
			}
			if (total > 0)
				log_info("killed %d leftover processes of "
				    "run %s", total, old);
			free(marker);
		}
		fclose(f);
	}
	tmp = xasprintf("%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", run_id) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) == -1)
		fatal("%s", path);
	free(tmp);
	free(path);
}
