/*
 * The control socket's insides, shared by rpc-listen.c (the listening
 * socket: bind, accept, connection limits, the server's life) and
 * rpc-server.c (one connection: framing, time limits, backpressure, hooks
 * and the client API).  Nothing else includes this.
 */
#ifndef SBX_RPC_SERVER_INTERNAL_H
#define SBX_RPC_SERVER_INTERNAL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "linebuf.h"
#include "rpc-server.h"

struct close_hook {
	rpc_client_close_fn	*fn;
	void			*arg;
	LIST_ENTRY(close_hook)	 entry;
};

struct rpc_client {
	struct rpc_server	*srv;
	LIST_HEAD(, close_hook)	 drain_hooks;	/* one-shot */
	struct bufferevent	*bev;
	uint64_t		 id;
	struct rpc_peer		 peer;
	int			 refs;
	struct linebuf		 lines;		/* the input's framing */
	unsigned		 inflight;	/* requests not yet answered */
	unsigned		 streams;	/* execs and tails it watches */
	struct event		*idle_ev;	/* idle_timeout */
	struct event		*line_ev;	/* line_timeout of a partial line */
	struct event		*write_ev;	/* write_timeout of queued output */
	struct evbuffer_cb_entry *out_cb;	/* watches output progress */
	LIST_HEAD(, close_hook)	 hooks;
	TAILQ_ENTRY(rpc_client)	 entry;
};

struct rpc_server {
	struct daemon		*d;
	struct evconnlistener	*listener;
	struct event		*resume_ev;	/* after EMFILE */
	char			*path;		/* NULL when passed by systemd */
	unsigned		 nclients;
	uint64_t		 next_id;
	const struct timeval	*idle_tv;	/* NULL: no idle timeout */
	const struct timeval	*line_tv;
	const struct timeval	*write_tv;
	TAILQ_HEAD(, rpc_client) clients;
};

/* rpc-server.c: a connection that passed the limits, and its end. */
void	client_new(struct rpc_server *, evutil_socket_t,
	    const struct ucred *);
void	client_close(struct rpc_client *);

#endif
