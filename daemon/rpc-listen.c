/*
 * The control socket's listening side: binds the socket (or takes the one
 * systemd passed), accepts with the peer's credentials, refuses a
 * connection during shutdown or past max_clients and max_clients_per_uid,
 * backs off on EMFILE, and owns the server's life.  Each connection it
 * lets in goes to client_new() in rpc-server.c.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "paths.h"
#include "rpc-server.h"
#include "rpc-server-internal.h"
#include "xmalloc.h"

/* Refuses a connection past a limit with one error line. */
static void
refuse(int fd, const char *why)
{
	json_t	*e = rpc_error_new(NULL, RPC_ERR_OVERLOADED, NULL, "%s", why);
	size_t	 len;
	char	*line = rpc_dump_line(e, &len);

	if (write(fd, line, len) == -1)
		log_debug("refuse: write: %s", strerror(errno));
	free(line);
	json_decref(e);
	close(fd);
}

static unsigned
clients_of_uid(struct rpc_server *srv, uid_t uid)
{
	struct rpc_client	*c;
	unsigned		 n = 0;

	TAILQ_FOREACH(c, &srv->clients, entry)
		n += c->peer.uid == uid;
	return n;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct rpc_server	*srv = arg;
	struct config_daemon	*cd = &srv->d->cfg.daemon;
	struct ucred		 cred;
	socklen_t		 len = sizeof cred;
	char			 why[128];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (srv->d->stopping)
		return refuse(fd, "sandboxd is shutting down");
	if ((int64_t)srv->nclients >= cd->max_clients) {
		snprintf(why, sizeof why, "too many clients (max_clients %lld)",
		    (long long)cd->max_clients);
		return refuse(fd, why);
	}
	if (cred.uid != 0 &&
	    (int64_t)clients_of_uid(srv, cred.uid) >= cd->max_clients_per_uid) {
		snprintf(why, sizeof why, "too many clients for this user "
		    "(max_clients_per_uid %lld)",
		    (long long)cd->max_clients_per_uid);
		return refuse(fd, why);
	}
	client_new(srv, fd, &cred);
}

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct rpc_server	*srv = arg;

	if (srv->listener != NULL)
		evconnlistener_enable(srv->listener);
}

/* Out of fds: pause accepting for a moment instead of spinning. */
static void
accept_error(struct evconnlistener *l, void *arg)
{
	struct rpc_server	*srv = arg;
	struct timeval		 tv = { 1, 0 };
	int			 err = EVUTIL_SOCKET_ERROR();

	log_warnx("accept: %s", strerror(err));
	if (err == EMFILE || err == ENFILE) {
		evconnlistener_disable(l);
		evtimer_add(srv->resume_ev, &tv);
	}
}

/* Binds a fresh socket at `path`, refusing if a daemon answers there. */
static int
bind_socket(const char *path, char **err)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			*dir, *slash;
	mode_t			 old;
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		*err = xasprintf("socket path too long (%zu bytes, max %zu): "
		    "%s", strlen(path), sizeof sun.sun_path - 1, path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (paths_mkdir_p(dir, 0755) == -1) {
			*err = xasprintf("cannot create %s: %s", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
	}
	free(dir);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(fd);
		*err = xasprintf("another sandboxd is already listening on %s",
		    path);
		return -1;
	}
	close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		*err = xasprintf("cannot remove stale %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	old = umask(0117);	/* socket mode 0660 */
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		*err = xasprintf("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/*
 * Each client is an fd: lift the soft fd limit (often 1024) towards
 * max_clients plus room for the gateway, state and streams, within the
 * hard limit.  Past it, accept backs off on EMFILE (accept_error).
 */
static void
raise_nofile(int64_t max_clients)
{
	struct rlimit	rl;
	rlim_t		want = (rlim_t)max_clients + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur < want)
		log_warnx("the fd limit (%llu) is below max_clients + 256; "
		    "clients past it wait for a free fd",
		    (unsigned long long)rl.rlim_cur);
}

/* A libevent common timeout for `ms`, or NULL for 0 (none). */
static const struct timeval *
common_timeout(struct event_base *base, int64_t ms)
{
	struct timeval	tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms <= 0)
		return NULL;
	return event_base_init_common_timeout(base, &tv);
}

struct rpc_server *
rpc_server_new(struct daemon *d, const char *path, int fd, char **err)
{
	struct rpc_server	*srv;

	if (fd == -1) {
		if ((fd = bind_socket(path, err)) == -1)
			return NULL;
	}
	evutil_make_socket_nonblocking(fd);
	srv = xcalloc(1, sizeof *srv);
	srv->d = d;
	srv->path = path != NULL ? xstrdup(path) : NULL;
	TAILQ_INIT(&srv->clients);
	/* Thousands of clients share three timeouts: O(1) re-arming. */
	srv->idle_tv = common_timeout(d->base, d->cfg.daemon.idle_timeout);
	srv->line_tv = common_timeout(d->base, d->cfg.daemon.line_timeout);
	srv->write_tv = common_timeout(d->base, d->cfg.daemon.write_timeout);
	raise_nofile(d->cfg.daemon.max_clients);
	srv->resume_ev = evtimer_new(d->base, accept_resume, srv);
	srv->listener = evconnlistener_new(d->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
	if (srv->listener == NULL) {
		*err = xasprintf("listen %s: %s", path ? path : "(fd)",
		    strerror(errno));
		close(fd);
		event_free(srv->resume_ev);
		free(srv->path);
		free(srv);
		return NULL;
	}
	evconnlistener_set_error_cb(srv->listener, accept_error);
	return srv;
}

void
rpc_server_stop_listening(struct rpc_server *srv)
{
	if (srv->listener == NULL)
		return;
	evconnlistener_free(srv->listener);
	srv->listener = NULL;
	if (srv->path != NULL)
		unlink(srv->path);
}

/*
 * At exit, answers still queued for a client (a large reply sent just
 * before the last request ended the shutdown) are written out, blocking
 * up to FLUSH_WAIT_S in all for readers that are slow to drain them.
 */
#define FLUSH_WAIT_S	5

static void
client_flush(struct rpc_client *c, int64_t deadline)
{
	int64_t		 left = deadline - now_mono_ms();
	struct timeval	 tv = { left / 1000, (left % 1000) * 1000 };
	struct evbuffer_iovec *v;
	struct evbuffer	*out;
	evutil_socket_t	 fd;
	int		 fl, i, n;
	size_t		 off;
	ssize_t		 w;

	if (c->bev == NULL || left <= 0)
		return;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	fd = bufferevent_getfd(c->bev);
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
		return;
	/* Peeked, not drained: the connection is closed right after. */
	n = evbuffer_peek(out, -1, NULL, NULL, 0);
	v = xcalloc((size_t)n, sizeof *v);
	n = evbuffer_peek(out, -1, NULL, v, n);
	for (i = 0; i < n; i++)
		for (off = 0; off < v[i].iov_len; off += (size_t)w)
			if (now_mono_ms() >= deadline || (w = send(fd,
			    (char *)v[i].iov_base + off, v[i].iov_len - off,
			    MSG_NOSIGNAL)) <= 0)
				goto out;
out:
	free(v);
}

void
rpc_server_free(struct rpc_server *srv)
{
	struct rpc_client	*c;
	int64_t			 deadline = now_mono_ms() + FLUSH_WAIT_S * 1000;

	if (srv == NULL)
		return;
	rpc_server_stop_listening(srv);
	TAILQ_FOREACH(c, &srv->clients, entry)
		client_flush(c, deadline);
	while ((c = TAILQ_FIRST(&srv->clients)) != NULL)
		client_close(c);
	event_free(srv->resume_ev);
	free(srv->path);
	free(srv);
}

unsigned
rpc_server_nclients(struct rpc_server *srv)
{
	return srv->nclients;
}
