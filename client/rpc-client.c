/*
 * The control-socket transport of sbctl.  Blocking I/O is enough for a CLI
 * that has one request in flight; input is gathered in an evbuffer so lines
 * are cut without a hand-rolled buffer.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "jsonrpc.h"
#include "linebuf.h"
#include "rpc-client.h"
#include "sbctl.h"
#include "xmalloc.h"

#define RPC_CLIENT_READ_CHUNK	(64u << 10)

struct rpc_client {
	int			 fd;
	char			*path;
	struct evbuffer		*in;
	struct linebuf		 lines;		/* in's framing */
	struct evbuffer		*out;		/* queued by rpc_client_send */
	size_t			 max_line;
	json_int_t		 next_id;
	volatile sig_atomic_t	*interrupt;
	sigset_t		 signals;	/* those that may interrupt */
};

/* Fills a transport error; returns -1 for the caller's convenience. */
static int __attribute__((format(printf, 3, 4)))
client_fail(struct rpc_client_error *err, int exit_code, const char *fmt, ...)
{
	va_list	 ap;

	err->exit_code = exit_code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Explains a failed connect(2) in the user's terms. */
static void
client_connect_error(struct rpc_client_error *err, const char *path, int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		client_fail(err, SBCTL_EXIT_UNAVAILABLE,
		    "sandboxd is not running (no socket at %s)", path);
		break;
	case ECONNREFUSED:
		client_fail(err, SBCTL_EXIT_UNAVAILABLE, "sandboxd is not "
		    "running (nothing is listening on %s)", path);
		break;
	case EACCES:
	case EPERM:
		client_fail(err, SBCTL_EXIT_NOPERM, "permission denied on %s "
		    "(is your user in sandboxd's group?)", path);
		break;
	default:
		client_fail(err, SBCTL_EXIT_UNAVAILABLE,
		    "cannot connect to sandboxd at %s: %s", path, strerror(e));
		break;
	}
}

/* Connects to the control socket; NULL and *err on failure. */
struct rpc_client *
rpc_client_open(const char *path, struct rpc_client_error *err)
{
	struct sockaddr_un	 sun;
	struct rpc_client	*c;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (*path == '\0' || strlen(path) >= sizeof sun.sun_path) {
		client_fail(err, SBCTL_EXIT_USAGE, "socket path %s'%s'",
		    *path == '\0' ? "is empty: " : "is too long: ", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		client_fail(err, SBCTL_EXIT_FAILURE, "socket: %s",
		    strerror(errno));
		return NULL;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno == EINTR)
			continue;
		client_connect_error(err, path, errno);
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->path = xstrdup(path);
	if ((c->in = evbuffer_new()) == NULL ||
	    (c->out = evbuffer_new()) == NULL)
		abort();
	c->max_line = RPC_MAX_LINE_DEFAULT;
	c->next_id = 1;
	sigemptyset(&c->signals);
	return c;
}

/* Closes the connection and frees everything. */
void
rpc_client_close(struct rpc_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c->path);
	free(c);
}

/* Sets the longest line accepted or sent. */
void
rpc_client_set_max_line(struct rpc_client *c, size_t max)
{
	c->max_line = max;
}

/* Lets a signal handler's flag cut a wait short. */
void
rpc_client_set_interrupt(struct rpc_client *c, volatile sig_atomic_t *flag)
{
	c->interrupt = flag;
	sigemptyset(&c->signals);
	if (flag != NULL) {
		sigaddset(&c->signals, SIGINT);
		sigaddset(&c->signals, SIGTERM);
		sigaddset(&c->signals, SIGHUP);
	}
}

/* True when an interrupting signal has arrived. */
static int
client_interrupted(struct rpc_client *c)
{
	return c->interrupt != NULL && *c->interrupt;
}

/* Writes the whole line; MSG_NOSIGNAL so a dead daemon is an error, not a
 * SIGPIPE. */
static int
client_send(struct rpc_client *c, const char *buf, size_t len,
    struct rpc_client_error *err)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = send(c->fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
				    "sandboxd closed the connection");
			return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
			    "write to %s: %s", c->path, strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends what rpc_client_send queued, blocking, before a call's request. */
static int
client_drain_out(struct rpc_client *c, struct rpc_client_error *err)
{
	struct evbuffer_iovec	 v;
	int			 rv;

	while (evbuffer_peek(c->out, -1, NULL, &v, 1) > 0) {
		if ((rv = client_send(c, v.iov_base, v.iov_len, err)) != 0)
			return rv;
		evbuffer_drain(c->out, v.iov_len);
	}
	return 0;
}

/*
 * One recv() straight into c->in's free space.  evbuffer_read() would ask
 * FIONREAD first: a system call per reply that a blocking CLI can spare.
 */
static ssize_t
client_recv(struct rpc_client *c)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	if (evbuffer_reserve_space(c->in, RPC_CLIENT_READ_CHUNK, &v, 1) != 1)
		abort();
	if ((n = recv(c->fd, v.iov_base, v.iov_len, 0)) > 0) {
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(c->in, &v, 1) == -1)
			abort();
	}
	return n;
}

/* One read into c->in; EOF is "sandboxd closed the connection". */
static int
client_read_some(struct rpc_client *c, struct rpc_client_error *err)
{
	ssize_t	 n;

	n = client_recv(c);
	if (n > 0)
		return 0;
	if (n == 0 || errno == ECONNRESET)
		return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
		    "sandboxd closed the connection");
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	return client_fail(err, SBCTL_EXIT_UNAVAILABLE, "read from %s: %s",
	    c->path, strerror(errno));
}

/*
 * Waits until the socket is readable.  The interrupting signals stay
 * blocked except inside ppoll(), so one that arrives just before the wait
 * is not lost.  Returns 0, -1 (error) or RPC_CLIENT_INTERRUPTED.
 */
static int
client_wait_readable(struct rpc_client *c, const sigset_t *waitmask,
    struct rpc_client_error *err)
{
	struct pollfd	 pfd = { .fd = c->fd, .events = POLLIN };
	int		 n;

	for (;;) {
		if (client_interrupted(c))
			return RPC_CLIENT_INTERRUPTED;
		if (c->interrupt != NULL)
			n = ppoll(&pfd, 1, NULL, waitmask);
		else
			n = poll(&pfd, 1, -1);
		if (n >= 0)
			return 0;
		if (errno != EINTR)
			return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
			    "poll: %s", strerror(errno));
	}
}

/* Reads more input into c->in; EOF is "sandboxd closed the connection". */
static int
client_fill(struct rpc_client *c, const sigset_t *waitmask,
    struct rpc_client_error *err)
{
	ssize_t	 n;
	int	 rv;

	for (;;) {
		/* Without an interrupt to watch, the blocking recv waits. */
		if (c->interrupt != NULL &&
		    (rv = client_wait_readable(c, waitmask, err)) != 0)
			return rv;
		n = client_recv(c);
		if (n > 0)
			return 0;
		if (n == 0)
			return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
			    "sandboxd closed the connection");
		if (errno == EINTR || errno == EAGAIN)
			continue;
		if (errno == ECONNRESET)
			return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
			    "sandboxd closed the connection");
		return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
		    "read from %s: %s", c->path, strerror(errno));
	}
}

/* The error for a line past the limit: the connection cannot go on. */
static int
client_too_long(struct rpc_client *c, struct rpc_client_error *err)
{
	return client_fail(err, SBCTL_EXIT_FAILURE, "sandboxd sent a line "
	    "longer than %zu bytes", c->max_line);
}

/* Parses the line of `len` bytes at the front of c->in, and takes it. */
static int
client_take_line(struct rpc_client *c, size_t len, struct rpc_msg *msg,
    struct rpc_client_error *err)
{
	struct rpc_fail	 fail;
	int		 rv;

	rv = rpc_parse_line((const char *)evbuffer_pullup(c->in, len), len,
	    msg, &fail);
	linebuf_drain(&c->lines, c->in, len);
	if (rv == -1) {
		json_decref(fail.id);
		return client_fail(err, SBCTL_EXIT_FAILURE,
		    "sandboxd sent a bad message: %s", fail.message);
	}
	return 0;
}

/* Takes the next message, reading until a whole line is buffered. */
static int
client_read_msg(struct rpc_client *c, const sigset_t *waitmask,
    struct rpc_msg *msg, struct rpc_client_error *err)
{
	size_t	 len;
	int	 rv;

	for (;;) {
		switch (linebuf_next(&c->lines, c->in, c->max_line, &len)) {
		case LINEBUF_LINE:
			return client_take_line(c, len, msg, err);
		case LINEBUF_MORE:
			if ((rv = client_fill(c, waitmask, err)) != 0)
				return rv;
			break;
		default:
			return client_too_long(c, err);
		}
	}
}

/*
 * Reads lines until the response whose id is `id`: notifications and
 * responses to other requests are skipped.
 */
static int
client_await(struct rpc_client *c, const json_t *id, const sigset_t *waitmask,
    json_t **result, json_t **error, struct rpc_client_error *err)
{
	struct rpc_msg	 msg;
	int		 rv;

	for (;;) {
		if ((rv = client_read_msg(c, waitmask, &msg, err)) != 0)
			return rv;
		if (msg.type == RPC_MSG_RESPONSE && json_equal(msg.id, id)) {
			*result = json_incref(msg.result);
			*error = json_incref(msg.error);
			rpc_msg_clear(&msg);
			return 0;
		}
		rpc_msg_clear(&msg);
	}
}

/* The mask to wait with: the current one less the interrupting signals. */
static void
client_waitmask(const struct rpc_client *c, const sigset_t *old,
    sigset_t *wait)
{
	int	 s;

	*wait = *old;
	for (s = 1; s < NSIG; s++) {
		if (sigismember(&c->signals, s) == 1)
			sigdelset(wait, s);
	}
}

/*
 * Encodes a request with the next id as one line (caller frees); -1 when
 * it cannot be encoded or is longer than the limit.
 */
static int
client_encode(struct rpc_client *c, const char *method, json_t *params,
    json_int_t *idp, char **line, size_t *len, struct rpc_client_error *err)
{
	json_t	*req;

	*idp = c->next_id++;
	req = rpc_request_new(json_integer(*idp), method, params);
	*line = rpc_dump_line(req, len);
	json_decref(req);
	if (*line == NULL)
		return client_fail(err, SBCTL_EXIT_FAILURE, "cannot encode "
		    "the %s request", method);
	if (*len > c->max_line + 1) {
		free(*line);
		*line = NULL;
		return client_fail(err, SBCTL_EXIT_FAILURE, "the %s request "
		    "is too large (%zu bytes; the limit is %zu)", method, *len,
		    c->max_line);
	}
	return 0;
}

/* Sends a request and waits for its response. */
int
rpc_client_call(struct rpc_client *c, const char *method, json_t *params,
    json_t **result, json_t **error, struct rpc_client_error *err)
{
	json_t		*id;
	json_int_t	 n;
	sigset_t	 old, wait;
	char		*line;
	size_t		 len;
	int		 rv;

	*result = *error = NULL;
	if (client_encode(c, method, params, &n, &line, &len, err) == -1)
		return -1;
	id = json_integer(n);
	/* Signals need blocking only when one may interrupt the call. */
	if (c->interrupt != NULL) {
		sigprocmask(SIG_BLOCK, &c->signals, &old);
		client_waitmask(c, &old, &wait);
	}
	if (client_interrupted(c))
		rv = RPC_CLIENT_INTERRUPTED;
	else if ((rv = client_drain_out(c, err)) == 0 &&
	    (rv = client_send(c, line, len, err)) == 0)
		rv = client_await(c, id, c->interrupt != NULL ? &wait : NULL,
		    result, error, err);
	if (c->interrupt != NULL)
		sigprocmask(SIG_SETMASK, &old, NULL);
	free(line);
	json_decref(id);
	return rv;
}

/* Queues a request without waiting; its id in *idp. */
int
rpc_client_send(struct rpc_client *c, const char *method, json_t *params,
    json_int_t *idp, struct rpc_client_error *err)
{
	char	*line;
	size_t	 len;

	if (client_encode(c, method, params, idp, &line, &len, err) == -1)
		return -1;
	evbuffer_add(c->out, line, len);
	free(line);
	return rpc_client_flush(c, err);
}

/* Writes what the socket takes now of the queued requests. */
int
rpc_client_flush(struct rpc_client *c, struct rpc_client_error *err)
{
	struct evbuffer_iovec	 v;
	ssize_t			 n;

	while (evbuffer_peek(c->out, -1, NULL, &v, 1) > 0) {
		n = send(c->fd, v.iov_base, v.iov_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EPIPE || errno == ECONNRESET)
				return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
				    "sandboxd closed the connection");
			return client_fail(err, SBCTL_EXIT_UNAVAILABLE,
			    "write to %s: %s", c->path, strerror(errno));
		}
		evbuffer_drain(c->out, (size_t)n);
	}
	return 0;
}

/* True while queued requests wait for the socket to take them. */
bool
rpc_client_want_write(const struct rpc_client *c)
{
	return evbuffer_get_length(c->out) > 0;
}

/*
 * Waits (ppoll with `waitmask`, NULL for poll) until the socket or `fd`
 * (-1: none) is ready, then writes queued requests and reads what came;
 * returns at once while a whole line is already buffered.
 * *revents gets fd's events.  Returns 0, or -1 with *err (EOF included).
 */
int
rpc_client_poll(struct rpc_client *c, int fd, short events, short *revents,
    const sigset_t *waitmask, struct rpc_client_error *err)
{
	struct pollfd	 p[2];
	size_t		 len;
	int		 n, nfds = 1;

	/* Lines read along with a call's reply are taken before waiting
	 * (and one too long is reported by rpc_client_next at once). */
	*revents = 0;
	if (linebuf_next(&c->lines, c->in, c->max_line, &len) != LINEBUF_MORE)
		return 0;
	p[0] = (struct pollfd){ .fd = c->fd, .events = POLLIN |
	    (rpc_client_want_write(c) ? POLLOUT : 0) };
	if (fd != -1 && events != 0)
		p[nfds++] = (struct pollfd){ .fd = fd, .events = events };
	n = waitmask != NULL ? ppoll(p, (nfds_t)nfds, NULL, waitmask) :
	    poll(p, (nfds_t)nfds, -1);
	if (n == -1) {
		if (errno == EINTR)
			return 0;
		return client_fail(err, SBCTL_EXIT_UNAVAILABLE, "poll: %s",
		    strerror(errno));
	}
	if (nfds == 2)
		*revents = p[1].revents;
	if ((p[0].revents & POLLOUT) && rpc_client_flush(c, err) == -1)
		return -1;
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
		return client_read_some(c, err);
	return 0;
}

/*
 * Takes the next message already read, if any: 1 with *msg filled (clear
 * it with rpc_msg_clear), 0 when no whole line is buffered, -1 on a bad
 * or too long line.
 */
int
rpc_client_next(struct rpc_client *c, struct rpc_msg *msg,
    struct rpc_client_error *err)
{
	size_t	 len;

	switch (linebuf_next(&c->lines, c->in, c->max_line, &len)) {
	case LINEBUF_MORE:
		return 0;
	case LINEBUF_LINE:
		return client_take_line(c, len, msg, err) == -1 ? -1 : 1;
	default:
		return client_too_long(c, err);
	}
}
