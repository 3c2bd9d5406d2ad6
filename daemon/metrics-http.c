/*
 * The Prometheus endpoint: GET /metrics on metrics_listen, served by
 * libevent's evhttp on the daemon's loop.  Loopback only unless the
 * operator asked for more (metrics_allow_remote): the figures name pools
 * and gateway targets, which are nobody else's business by default.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

#define HTTP_TIMEOUT_S		10
#define HTTP_MAX_HEADERS	8192
#define HTTP_MAX_BODY		1024
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct daemon		*d;
	struct evhttp		*http;
	char			*address;
};

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static bool
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*b;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return true;
	b = sin6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && b[12] == 127;
}

/* Splits "host:port" or "[v6]:port" into heap host and port strings. */
static int
split_listen(const char *listen, char **host, char **port, char **err)
{
	const char	*colon, *close;

	if (listen[0] == '[') {
		if ((close = strchr(listen, ']')) == NULL || close[1] != ':') {
			*err = xasprintf("metrics_listen \"%s\": expected "
			    "[ADDRESS]:PORT", listen);
			return -1;
		}
		*host = xstrndup(listen + 1, (size_t)(close - listen - 1));
		colon = close + 1;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL ||
		    colon == listen || strchr(listen, ':') != colon) {
			*err = xasprintf("metrics_listen \"%s\": expected "
			    "HOST:PORT (IPv6 as [ADDRESS]:PORT)", listen);
			return -1;
		}
		*host = xstrndup(listen, (size_t)(colon - listen));
	}
	if (colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || strlen(colon + 1) > 5 ||
	    atoi(colon + 1) > 65535) {
		*err = xasprintf("metrics_listen \"%s\": the port must be a "
		    "number from 0 to 65535", listen);
		free(*host);
		return -1;
	}
	*port = xstrdup(colon + 1);
	return 0;
}

/* Resolves the listen address; refuses non-loopback without consent. */
static struct addrinfo *
resolve(const char *listen, int allow_remote, char **err)
{
	struct addrinfo	 hints = { 0 }, *ai = NULL;
	char		*host, *port;
	int		 rv;

	if (split_listen(listen, &host, &port, err) == -1)
		return NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	rv = getaddrinfo(host, port, &hints, &ai);
	free(host);
	free(port);
	if (rv != 0) {
		*err = xasprintf("metrics_listen \"%s\": %s", listen,
		    gai_strerror(rv));
		return NULL;
	}
	if (!is_loopback(ai->ai_addr) && !allow_remote) {
		*err = xasprintf("metrics_listen \"%s\" is not a loopback "
		    "address: set metrics_allow_remote = yes to serve metrics "
		    "beyond this host", listen);
		freeaddrinfo(ai);
		return NULL;
	}
	return ai;
}

/* A listening socket for `ai`, close-on-exec so children never hold it. */
static int
bind_listen(const struct addrinfo *ai, const char *what, char **err)
{
	int	fd, one = 1;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		*err = xasprintf("metrics_listen %s: socket: %s", what,
		    strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, 16) == -1) {
		*err = xasprintf("metrics_listen %s: %s", what,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* "127.0.0.1:9464" or "[::1]:9464" for the socket's bound address. */
static char *
bound_address(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof ss;
	char			 host[INET6_ADDRSTRLEN] = "?";
	int			 port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return xstrdup("?");
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		port = ntohs(s6->sin6_port);
		return xasprintf("[%s]:%d", host, port);
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host,
	    sizeof host);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return xasprintf("%s:%d", host, port);
}

/* GET /metrics: the text exposition; anything else is not found. */
static void
on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http	*mh = arg;
	const char		*path;
	struct evbuffer		*body;
	json_t			*model;

	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	body = evbuffer_new();
	model = metrics_json(mh->d);
	metrics_render_text(model, body);
	json_decref(model);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", CONTENT_TYPE);
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

struct metrics_http *
metrics_http_new(struct daemon *d, const char *listen, int allow_remote,
    char **err)
{
	struct metrics_http	*mh;
	struct addrinfo		*ai;
	int			 fd;

	if ((ai = resolve(listen, allow_remote, err)) == NULL)
		return NULL;
	fd = bind_listen(ai, listen, err);
	freeaddrinfo(ai);
	if (fd == -1)
		return NULL;
	mh = xcalloc(1, sizeof *mh);
	mh->d = d;
	mh->address = bound_address(fd);
	if ((mh->http = evhttp_new(d->base)) == NULL ||
	    evhttp_accept_socket_with_handle(mh->http, fd) == NULL) {
		*err = xasprintf("metrics_listen %s: cannot serve HTTP", listen);
		close(fd);
		metrics_http_free(mh);
		return NULL;
	}
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(mh->http, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(mh->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(mh->http, HTTP_MAX_BODY);
	evhttp_set_gencb(mh->http, on_request, mh);
	log_info("metrics on http://%s/metrics", mh->address);
	return mh;
}

void
metrics_http_free(struct metrics_http *mh)
{
	if (mh == NULL)
		return;
	if (mh->http != NULL)
		evhttp_free(mh->http);
	free(mh->address);
	free(mh);
}

const char *
metrics_http_address(const struct metrics_http *mh)
{
	return mh->address;
}
