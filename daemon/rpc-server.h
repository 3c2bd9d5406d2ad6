/*
 * The control socket: rpc-listen.c accepts connections and rpc-server.c
 * serves them; no other file touches client fds.  rpc-server.c frames
 * lines, parses them with common/jsonrpc, answers framing errors itself and
 * hands well-formed requests to rpc_dispatch().  Clients are reference
 * counted: a request in progress holds its client, and a client that goes
 * away mid-call simply has its late replies dropped.
 */
#ifndef SBX_RPC_SERVER_H
#define SBX_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct daemon;
struct rpc_server;
struct rpc_client;

struct rpc_peer {
	uid_t	uid;
	gid_t	gid;
	pid_t	pid;
};

/*
 * Listens on `path` (or on `fd` when ≥ 0, a socket systemd passed us).
 * Refuses to start when another daemon answers on the path.
 */
struct rpc_server	*rpc_server_new(struct daemon *, const char *path,
			    int fd, char **err);
/* Stops accepting new connections (shutdown). */
void			 rpc_server_stop_listening(struct rpc_server *);
void			 rpc_server_free(struct rpc_server *);
unsigned		 rpc_server_nclients(struct rpc_server *);

void			 rpc_client_ref(struct rpc_client *);
void			 rpc_client_unref(struct rpc_client *);
bool			 rpc_client_alive(const struct rpc_client *);
const struct rpc_peer	*rpc_client_peer(const struct rpc_client *);
uint64_t		 rpc_client_id(const struct rpc_client *);
/* Queues a message (stolen) for the client; dropped when it is gone. */
void			 rpc_client_send(struct rpc_client *, json_t *);
/* A ready line ending in "\n" (heap; the connection frees it). */
void			 rpc_client_send_line(struct rpc_client *, char *,
			    size_t);

/* Runs `fn` when the client disconnects (one hook per owner key). */
typedef void rpc_client_close_fn(void *arg, struct rpc_client *);
void	rpc_client_on_close(struct rpc_client *, rpc_client_close_fn *,
	    void *arg);
void	rpc_client_on_close_cancel(struct rpc_client *, rpc_client_close_fn *,
	    void *arg);

/*
 * Per-connection limits (max_inflight, max_streams; rpc-dispatch.c checks
 * them).  A request counts from dispatch to its answer; a stream from the
 * moment the connection subscribes to an exec or a tail until it leaves.
 * A connection with either open is never closed as idle.
 */
void		 rpc_client_request_begin(struct rpc_client *);
void		 rpc_client_request_end(struct rpc_client *);
unsigned	 rpc_client_inflight(const struct rpc_client *);
void		 rpc_client_stream_opened(struct rpc_client *);
void		 rpc_client_stream_closed(struct rpc_client *);
unsigned	 rpc_client_streams(const struct rpc_client *);

/* Bytes queued for the client and not yet written to its socket. */
size_t	rpc_client_queued(const struct rpc_client *);
#define RPC_CLIENT_LOW_WATER	(1u << 20)
/*
 * Runs `fn` once, the next time the client's queue drains below
 * RPC_CLIENT_LOW_WATER after a write (stream flow control).  Adding the
 * same fn/arg twice is one hook; a closed client drops its hooks.
 */
void	rpc_client_on_drain(struct rpc_client *, rpc_client_close_fn *,
	    void *arg);
void	rpc_client_on_drain_cancel(struct rpc_client *, rpc_client_close_fn *,
	    void *arg);

#endif
