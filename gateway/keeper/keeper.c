/*
 * sandbox-gateway-keeper: runs one command of a sandbox for
 * sandbox-gateway-local --isolation none, and keeps everything it starts.
 *
 * It is a child subreaper, so whatever the command leaves behind (setsid,
 * double fork, env -i) stays its descendant.  It tells the gateway the
 * command's pid, then its wait status, and exits once its whole tree has
 * been reaped.  It ignores the signals a terminal or a stray kill sends:
 * only SIGKILL ends it before its tree is empty.  When the gateway dies
 * (even of SIGKILL) the kernel tells it (PR_SET_PDEATHSIG) and it kills
 * its tree before it goes, so no sandbox outlives its gateway.
 *
 * A program of its own, exec'd by the gateway, rather than a fork of the
 * gateway: a forked keeper would keep a copy-on-write image of the whole
 * gateway for as long as its command runs, and a thousand of them ate
 * the machine's memory.  This one holds a few pages and libc.
 *
 *   sandbox-gateway-keeper -n NAME -p GATEWAY_PID -s STATUS_FD -e ERROR_FD
 *       [-t] [-d DIR] [-l NOFILE] [-E VAR=VALUE ...] -- COMMAND [ARG ...]
 *
 * fds 0-2 become the command's; STATUS_FD gets two ints { pid, errno }
 * once the command is forked (pid -1 when it could not be), then its wait
 * status as one int; ERROR_FD gets { stage, errno } (exec-stage.h) when the
 * command fails before its exec, and is closed on that exec.  -t makes fd 0
 * the command's controlling terminal, -d its working directory, -l its soft
 * descriptor limit (the gateway raises its own).  Each -E is a variable of
 * the command's environment, PATH included for the command's lookup; the
 * keeper itself runs with none, so nothing in a request (LD_PRELOAD, say)
 * is loaded into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "gateway/exec-stage.h"

struct args {
	const char	*name;
	const char	*cwd;
	pid_t		 gateway;
	int		 statfd, errfd;
	long		 nofile;	/* -1: as inherited */
	bool		 ctty;
	char		**argv;
	char		**envp;
	size_t		 nenv;
};

/* For the signal handler, set before it is installed. */
static pid_t	 gateway;
static char	 children_path[64];

static noreturn void
usage(void)
{
	fprintf(stderr, "usage: sandbox-gateway-keeper -n name -p pid "
	    "-s status-fd -e error-fd [-t] [-d dir] [-l nofile]\n"
	    "    [-E var=value ...] -- command [arg ...]\n"
	    "(run by sandbox-gateway-local, not by hand)\n");
	exit(2);
}

static int
number(const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0 || v > 1 << 30)
		usage();
	return (int)v;
}

static void
parse(int argc, char **argv, struct args *a)
{
	int	 ch;

	a->statfd = a->errfd = -1;
	a->nofile = -1;
	/* Never more variables than arguments. */
	a->envp = calloc((size_t)argc + 1, sizeof *a->envp);
	if (a->envp == NULL)
		exit(127);
	while ((ch = getopt(argc, argv, "+n:p:s:e:td:l:E:")) != -1)
		switch (ch) {
		case 'n': a->name = optarg; break;
		case 'p': a->gateway = number(optarg); break;
		case 's': a->statfd = number(optarg); break;
		case 'e': a->errfd = number(optarg); break;
		case 't': a->ctty = true; break;
		case 'd': a->cwd = optarg; break;
		case 'l': a->nofile = number(optarg); break;
		case 'E': a->envp[a->nenv++] = optarg; break;
		default: usage();
		}
	if (a->name == NULL || a->gateway < 1 || a->statfd < 3 ||
	    a->errfd < 3 || a->statfd == a->errfd || optind >= argc)
		usage();
	a->argv = argv + optind;
}

/* Nothing of the gateway's but our stdio and our two pipes. */
static void
close_others(const struct args *a)
{
	int	 lo = a->statfd < a->errfd ? a->statfd : a->errfd;
	int	 hi = a->statfd < a->errfd ? a->errfd : a->statfd;

	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
	/* The command must not hold them: EOF on exec is the signal. */
	fcntl(a->statfd, F_SETFD, FD_CLOEXEC);
	fcntl(a->errfd, F_SETFD, FD_CLOEXEC);
}

/* The command's soft descriptor limit, as the gateway had it. */
static void
set_nofile(long soft)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)soft <= rl.rlim_max) {
		rl.rlim_cur = (rlim_t)soft;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
write_all(int fd, const void *buf, size_t len)
{
	ssize_t	 n;

	do
		n = write(fd, buf, len);
	while (n == -1 && errno == EINTR);
}

static noreturn void
command_fail(int errfd, int stage)
{
	int	 msg[2] = { stage, errno };

	write_all(errfd, msg, sizeof msg);
	_exit(127);
}

/* In the forked child: becomes the command. */
static noreturn void
command_exec(const struct args *a)
{
	sigset_t	 none;
	int		 sig;

	/* Ignored signals would stay ignored across exec. */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (setsid() == -1)
		command_fail(a->errfd, STAGE_SETSID);
	if (a->ctty && ioctl(0, TIOCSCTTY, 0) == -1)
		command_fail(a->errfd, STAGE_CTTY);
	if (a->cwd != NULL && chdir(a->cwd) == -1)
		command_fail(a->errfd, STAGE_CHDIR);
	environ = a->envp;		/* execvp looks in the command's PATH */
	execvp(a->argv[0], a->argv);
	command_fail(a->errfd, STAGE_EXEC);
}

static noreturn void	kill_tree(void);

/* Async-signal-safe, as all that kill_tree() calls. */
static void
on_parent_death(int sig)
{
	if (getppid() != gateway)
		kill_tree();
}

/*
 * Our own signals: deaf to those a terminal or a stray kill sends, and
 * told of the gateway's death by SIGALRM.
 */
static void
signals(void)
{
	static const int ignored[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM,
	    SIGUSR1, SIGUSR2, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU };
	struct sigaction sa;
	size_t		 i;

	for (i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
		signal(ignored[i], SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_parent_death;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

/* SIGKILL to each of our children, as /proc lists them. */
static void
kill_children(void)
{
	char	 buf[4096];
	ssize_t	 n, i;
	long	 pid = 0;
	int	 fd;

	if ((fd = open(children_path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				pid = pid * 10 + (buf[i] - '0');
				continue;
			}
			if (pid > 0)
				kill((pid_t)pid, SIGKILL);
			pid = 0;
		}
	if (pid > 0)
		kill((pid_t)pid, SIGKILL);
	close(fd);
}

/*
 * The gateway is gone: kill the tree and go.  Killing our children makes
 * theirs ours (we are their subreaper), so a pass per level empties it.
 */
static noreturn void
kill_tree(void)
{
	for (;;) {
		kill_children();
		if (waitpid(-1, NULL, 0) == -1 && errno == ECHILD)
			_exit(0);
	}
}

int
main(int argc, char **argv)
{
	struct args	 a = { 0 };
	pid_t		 pid, w;
	int		 msg[2], st;

	parse(argc, argv, &a);
	close_others(&a);
	if (a.nofile >= 0)
		set_nofile(a.nofile);
	gateway = a.gateway;
	snprintf(children_path, sizeof children_path,
	    "/proc/self/task/%d/children", (int)getpid());
	signals();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	prctl(PR_SET_NAME, a.name, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGALRM, 0, 0, 0);
	if (getppid() != gateway)	/* it died before the line above */
		_exit(0);
	if ((pid = fork()) == 0)
		command_exec(&a);
	msg[0] = pid;
	msg[1] = errno;
	write_all(a.statfd, msg, sizeof msg);
	if (pid == -1)
		_exit(127);
	/* Nothing of the command's: its pipes would never see EOF. */
	close(a.errfd);
	close_range(0, 2, 0);
	for (;;) {
		if ((w = waitpid(-1, &st, 0)) == -1) {
			if (errno == EINTR)
				continue;
			_exit(0);		/* ECHILD: the tree is empty */
		}
		if (w == pid && a.statfd != -1) {
			write_all(a.statfd, &st, sizeof st);
			close(a.statfd);
			a.statfd = -1;
		}
	}
}
