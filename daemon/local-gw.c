/* Runs and supervises sandbox-gateway-local; see local-gw.h. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "xmalloc.h"

#define READY_WAIT_MS	15000
#define STOP_WAIT_MS	10000
#define RESPAWN_MAX_MS	30000

struct local_gw {
	struct daemon	*d;
	char		*binary;
	char		*socket;
	char		*target;
	char		*root;
	pid_t		 pid;		/* 0: not ours (re-attached) */
	struct event	*sigchld;
	struct event	*respawn;
	int64_t		 respawn_ms;
};

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
	g->pid = pid;
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
		if (g->pid > 0 && waitpid(g->pid, &status, WNOHANG) == g->pid) {
			g->pid = 0;
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

/* Our gateway died: start it again, backing off if it keeps dying. */
static void
sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct local_gw	*g = arg;
	struct timeval	 tv;
	int		 status;

	if (g->pid <= 0 || waitpid(g->pid, &status, WNOHANG) != g->pid)
		return;
	g->pid = 0;
	if (g->d->stopping)
		return;
	log_warnx("local gateway exited (%s %d); restarting in %lldms",
	    WIFEXITED(status) ? "status" : "signal", WIFEXITED(status) ?
	    WEXITSTATUS(status) : WTERMSIG(status), (long long)g->respawn_ms);
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
	g->root = d->cfg.gateway.local_root != NULL ?
	    xstrdup(d->cfg.gateway.local_root) :
	    xasprintf("%s/local-gateway", d->state_dir);
	g->respawn_ms = 500;
	g->sigchld = evsignal_new(d->base, SIGCHLD, sigchld_cb, g);
	evsignal_add(g->sigchld, NULL);
	g->respawn = evtimer_new(d->base, respawn_cb, g);
	if (paths_mkdir_p(g->root, 0700) == -1) {
		*err = xasprintf("cannot create %s: %s", g->root,
		    strerror(errno));
		local_gw_free(g);
		return NULL;
	}
	if (socket_answers(g->socket))
		log_info("re-attached to the local gateway on %s", g->socket);
	else {
		unlink(g->socket);
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

/* SIGTERM, a bounded wait, then SIGKILL to the whole session. */
static void
stop_child(struct local_gw *g)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	int64_t		 deadline = now_mono_ms() + STOP_WAIT_MS;
	int		 status;

	kill(g->pid, SIGTERM);
	while (waitpid(g->pid, &status, WNOHANG) == 0) {
		if (now_mono_ms() > deadline) {
			log_warnx("local gateway did not stop; killing it");
			kill(-g->pid, SIGKILL);
			kill(g->pid, SIGKILL);
			waitpid(g->pid, &status, 0);
			break;
		}
		nanosleep(&ts, NULL);
	}
	g->pid = 0;
}

void
local_gw_detach(struct local_gw *g)
{
	g->pid = 0;
}

void
local_gw_free(struct local_gw *g)
{
	if (g == NULL)
		return;
	if (g->pid > 0)
		stop_child(g);
	event_free(g->sigchld);
	event_free(g->respawn);
	free(g->binary);
	free(g->socket);
	free(g->target);
	free(g->root);
	free(g);
}
