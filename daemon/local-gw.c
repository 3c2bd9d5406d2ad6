/* Runs and supervises sandbox-gateway-local; see local-gw.h. */
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "local-gw.h"
#include "log.h"
#include "paths.h"
#include "procfs.h"
#include "xmalloc.h"

#define READY_WAIT_MS	15000
#define STOP_WAIT_MS	10000
#define RESPAWN_MAX_MS	30000

/*
 * The gateway we watch: one we forked (`child`: we reap it), or one a
 * previous sandboxd forked and left running for its leases, found again
 * through the pidfile we wrote next to its socket.  Either way a pidfd
 * on the loop tells us when it dies.
 */
struct local_gw {
	struct daemon	*d;
	char		*binary;
	char		*socket;
	char		*target;
	char		*pidfile;
	char		*root;
	pid_t		 pid;		/* 0: none watched */
	int		 pidfd;		/* -1: none */
	bool		 child;		/* forked by us: waitpid it */
	struct event	*died;
	struct event	*respawn;
	int64_t		 respawn_ms;
};

static void	died_cb(evutil_socket_t, short, void *);

static bool
socket_answers(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd, ok;

	if (strlen(path) >= sizeof sun.sun_path)
		return false;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return ok;
}

/* The gateway binary: configured, next to ours, or on PATH. */
static char *
find_binary(struct daemon *d)
{
	char	 self[PATH_MAX], *slash, *p;
	ssize_t	 n;

	if (d->cfg.gateway.local_binary != NULL)
		return xstrdup(d->cfg.gateway.local_binary);
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			p = xasprintf("%s/sandbox-gateway-local", self);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup("sandbox-gateway-local");
}

/* Starts watching `pid` (ours or re-attached) through a pidfd. */
static int
watch(struct local_gw *g, pid_t pid, bool child)
{
	int	fd;

	if ((fd = pidfd_open(pid, 0)) == -1)
		return -1;
	g->pid = pid;
	g->pidfd = fd;
	g->child = child;
	g->died = event_new(g->d->base, fd, EV_READ, died_cb, g);
	event_add(g->died, NULL);
	return 0;
}

static void
unwatch(struct local_gw *g)
{
	if (g->died != NULL)
		event_free(g->died);
	g->died = NULL;
	if (g->pidfd != -1)
		close(g->pidfd);
	g->pidfd = -1;
	g->pid = 0;
	g->child = false;
}

/* Written after each spawn, so the next sandboxd can find the gateway. */
static void
write_pidfile(struct local_gw *g)
{
	char	*tmp = xasprintf("%s.tmp", g->pidfile);
	FILE	*f;

	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		free(tmp);
		return;
	}
	fprintf(f, "%d\n", (int)g->pid);
	if (fclose(f) != 0 || rename(tmp, g->pidfile) == -1) {
		log_warn("%s", g->pidfile);
		unlink(tmp);
	}
	free(tmp);
}

/*
 * Is `pid` a sandbox-gateway-local of ours listening on our socket?  Its
 * command line says `--listen unix:SOCKET` and it runs as our uid.
 */
static bool
is_our_gateway(struct local_gw *g, pid_t pid)
{
	char		 path[64], buf[8192], *p, *end;
	struct stat	 st;
	ssize_t		 n;
	bool		 listen_next = false;

	snprintf(path, sizeof path, "/proc/%d", (int)pid);
	if (stat(path, &st) == -1 || st.st_uid != geteuid())
		return false;
	if ((n = proc_read(pid, "cmdline", buf, sizeof buf)) == -1)
		return false;
	for (p = buf, end = buf + n; p < end; p += strlen(p) + 1) {
		if (listen_next)
			return strcmp(p, g->target) == 0;
		listen_next = strcmp(p, "--listen") == 0;
	}
	return false;
}

/*
 * Re-attaching: the pid in our pidfile, if it is still our gateway.  The
 * pidfd is taken first and the process checked after, so a pid reused in
 * between is never mistaken for the gateway.
 */
static int
adopt(struct local_gw *g)
{
	FILE	*f;
	int	 pid = 0, ok;

	if ((f = fopen(g->pidfile, "r")) == NULL)
		return -1;
	ok = fscanf(f, "%d", &pid) == 1 && pid > 1;
	fclose(f);
	if (!ok || watch(g, pid, false) == -1)
		return -1;
	if (!is_our_gateway(g, pid) ||
	    pidfd_send_signal(g->pidfd, 0, NULL, 0) == -1) {
		unwatch(g);
		return -1;
	}
	return 0;
}

static void
spawn(struct local_gw *g)
{
	struct config_gateway	*cg = &g->d->cfg.gateway;
	char			 delay[32];
	const char		*argv[16];
	int			 argc = 0, fd;
	pid_t			 pid;

	snprintf(delay, sizeof delay, "%lld", (long long)cg->local_start_delay);
	argv[argc++] = g->binary;
	argv[argc++] = "--listen";
	argv[argc++] = g->target;
	argv[argc++] = "--root";
	argv[argc++] = g->root;
	argv[argc++] = "--isolation";
	argv[argc++] = cg->local_isolation;
	argv[argc++] = "--start-delay-ms";
	argv[argc++] = delay;
	if (log_get_verbosity() > 0)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	unlink(g->socket);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		setsid();
		unsetenv("NOTIFY_SOCKET");	/* systemd hears from us only */
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, 0);
			dup2(2, 1);	/* nothing on our stdout */
			if (fd > 2)
				close(fd);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "sandboxd: cannot run %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	if (watch(g, pid, true) == -1)
		fatal("pidfd_open");
	write_pidfile(g);
	log_info("started %s (pid %d) on %s", g->binary, (int)pid, g->socket);
}

/* Blocks (at start-up only) until the gateway answers or has died. */
static int
wait_ready(struct local_gw *g, char **err)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	int64_t		 deadline = now_mono_ms() + READY_WAIT_MS;
	int		 status;

	while (!socket_answers(g->socket)) {
		if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
			g->child = false;	/* reaped */
			unwatch(g);
			*err = xasprintf("%s exited (status %d) before it was "
			    "ready", g->binary, WIFEXITED(status) ?
			    WEXITSTATUS(status) : 128 + WTERMSIG(status));
			return -1;
		}
		if (now_mono_ms() > deadline) {
			*err = xasprintf("%s did not answer on %s in time",
			    g->binary, g->socket);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_gw	*g = arg;

	if (!g->d->stopping && g->pid == 0)
		spawn(g);
}

/*
 * The gateway died, ours or re-attached: start it again, backing off if
 * it keeps dying.  Only a child of ours has a status to reap and show.
 */
static void
died_cb(evutil_socket_t fd, short what, void *arg)
{
	struct local_gw	*g = arg;
	struct timeval	 tv;
	char		 how[64] = "re-attached";
	int		 status;

	if (g->child && waitpid(g->pid, &status, 0) == g->pid)
		snprintf(how, sizeof how, "%s %d", WIFEXITED(status) ?
		    "status" : "signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status));
	g->child = false;
	unwatch(g);
	if (g->d->stopping)
		return;
	log_warnx("local gateway exited (%s); restarting in %lldms", how,
	    (long long)g->respawn_ms);
	tv.tv_sec = g->respawn_ms / 1000;
	tv.tv_usec = (g->respawn_ms % 1000) * 1000;
	evtimer_add(g->respawn, &tv);
	g->respawn_ms = g->respawn_ms * 2 > RESPAWN_MAX_MS ? RESPAWN_MAX_MS :
	    g->respawn_ms * 2;
}

struct local_gw *
local_gw_start(struct daemon *d, char **err)
{
	struct local_gw	*g = xcalloc(1, sizeof *g);

	g->d = d;
	g->binary = find_binary(d);
	g->socket = xasprintf("%s/gateway.sock", d->runtime_dir);
	g->target = xasprintf("unix:%s", g->socket);
	g->pidfile = xasprintf("%s/gateway.pid", d->runtime_dir);
	g->root = d->cfg.gateway.local_root != NULL ?
	    xstrdup(d->cfg.gateway.local_root) :
	    xasprintf("%s/local-gateway", d->state_dir);
	g->pidfd = -1;
	g->respawn_ms = 500;
	g->respawn = evtimer_new(d->base, respawn_cb, g);
	if (paths_mkdir_p(g->root, 0700) == -1) {
		*err = xasprintf("cannot create %s: %s", g->root,
		    strerror(errno));
		local_gw_free(g);
		return NULL;
	}
	if (socket_answers(g->socket)) {
		if (adopt(g) == 0)
			log_info("re-attached to the local gateway on %s "
			    "(pid %d)", g->socket, (int)g->pid);
		else
			log_warnx("re-attached to a gateway on %s that is not "
			    "in %s: it is not supervised nor stopped by us",
			    g->socket, g->pidfile);
	} else {
		spawn(g);
		if (wait_ready(g, err) == -1) {
			local_gw_free(g);
			return NULL;
		}
	}
	return g;
}

const char *
local_gw_target(const struct local_gw *g)
{
	return g->target;
}

/* Has the process behind the pidfd ended?  Waits up to `ms`. */
static bool
ended_within(struct local_gw *g, int ms)
{
	struct pollfd	pfd = { .fd = g->pidfd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* SIGTERM, a bounded wait, then SIGKILL to the whole session. */
static void
stop_gateway(struct local_gw *g)
{
	int	status;

	pidfd_send_signal(g->pidfd, SIGTERM, NULL, 0);
	if (!ended_within(g, STOP_WAIT_MS)) {
		log_warnx("local gateway did not stop; killing it");
		kill(-g->pid, SIGKILL);	/* its session: it called setsid */
		pidfd_send_signal(g->pidfd, SIGKILL, NULL, 0);
		ended_within(g, STOP_WAIT_MS);
	}
	if (g->child)
		waitpid(g->pid, &status, 0);
	g->child = false;
	unwatch(g);
	unlink(g->pidfile);
}

void
local_gw_detach(struct local_gw *g)
{
	g->child = false;
	unwatch(g);
}

void
local_gw_free(struct local_gw *g)
{
	if (g == NULL)
		return;
	if (g->pid > 0)
		stop_gateway(g);
	unwatch(g);
	event_free(g->respawn);
	free(g->binary);
	free(g->socket);
	free(g->target);
	free(g->pidfile);
	free(g->root);
	free(g);
}
