/*
 * echo-server SOCKET RESULT_FILE: the floor baseline.  A bare JSON-RPC
 * server on a Unix socket that does the least any such server must: cut a
 * line, parse it with jansson, and answer the request's id with a fixed
 * result (the daemon's own `status` result, read from RESULT_FILE, so both
 * sides carry the same payload).  Same event loop (libevent bufferevents)
 * and framing code (common/jsonrpc) as sandboxd, no method table, no
 * gateway.  Runs until SIGTERM or SIGINT.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "jsonrpc.h"
#include "log.h"

static json_t	*echo_result;

/* Answers every whole line in the input with the fixed result. */
static void
echo_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	json_t		*reply;
	char		*line, *out;
	size_t		 len, outlen;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (rpc_parse_line(line, len, &msg, &fail) == -1) {
			reply = rpc_error_new(fail.id, fail.err, NULL, "%s",
			    fail.message);
		} else {
			reply = rpc_result_new(json_incref(msg.id),
			    json_incref(echo_result));
			rpc_msg_clear(&msg);
		}
		free(line);
		if ((out = rpc_dump_line(reply, &outlen)) != NULL) {
			bufferevent_write(bev, out, outlen);
			free(out);
		}
		json_decref(reply);
	}
}

/* A peer that leaves or fails is simply dropped. */
static void
echo_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
echo_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct event_base	*base = arg;
	struct bufferevent	*bev;

	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, echo_read, NULL, echo_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* SIGTERM/SIGINT end the loop so the socket is removed on the way out. */
static void
echo_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static struct evconnlistener *
echo_listen(struct event_base *base, const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct evconnlistener	*l;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	unlink(path);
	l = evconnlistener_new_bind(base, echo_accept, base,
	    LEV_OPT_CLOSE_ON_FREE, 128, (struct sockaddr *)&sun, sizeof sun);
	if (l == NULL)
		fatal("listen on %s", path);
	return l;
}

int
main(int argc, char **argv)
{
	struct event_base	*base;
	struct evconnlistener	*l;
	struct event		*sigterm, *sigint;
	json_error_t		 jerr;

	log_init("echo-server", 0);
	if (argc != 3)
		fatalx("usage: echo-server SOCKET RESULT_FILE");
	if ((echo_result = json_load_file(argv[2], 0, &jerr)) == NULL)
		fatalx("%s: %s", argv[2], jerr.text);
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	l = echo_listen(base, argv[1]);
	sigterm = evsignal_new(base, SIGTERM, echo_signal, base);
	sigint = evsignal_new(base, SIGINT, echo_signal, base);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(base);
	evconnlistener_free(l);
	unlink(argv[1]);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	json_decref(echo_result);
	return 0;
}
