/*
 * sbctl's side of the control socket: one blocking connection to sandboxd,
 * one request at a time.  This file alone touches the socket: it frames
 * requests as lines, reads lines until the response with the request's id
 * (skipping notifications and other responses) and turns every transport
 * failure into a message a person can act on plus an exit status.
 */
#ifndef SBX_RPC_CLIENT_H
#define SBX_RPC_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct rpc_client;
struct rpc_msg;

/* A transport failure: what to print after "sbctl: " and the exit status. */
struct rpc_client_error {
	int	 exit_code;
	char	 message[512];
};

/* Returned by rpc_client_call() when *interrupt was set during the wait. */
#define RPC_CLIENT_INTERRUPTED	(-2)

/*
 * Connects to the socket at `path`.  On failure returns NULL and explains:
 * no socket (sandboxd is not running, 69), nothing listening (69),
 * permission denied (77), a path too long for sun_path (64).
 */
struct rpc_client *rpc_client_open(const char *path, struct rpc_client_error *);
void	rpc_client_close(struct rpc_client *);

/* Lines longer than this are refused both ways (default 16 MiB). */
void	rpc_client_set_max_line(struct rpc_client *, size_t);

/*
 * While waiting, a signal that sets *flag makes the call give up and return
 * RPC_CLIENT_INTERRUPTED (the handler must be installed without
 * SA_RESTART).  NULL: calls are not interruptible.
 */
void	rpc_client_set_interrupt(struct rpc_client *, volatile sig_atomic_t *);

/*
 * Sends `method` with `params` (stolen; NULL for none) and waits for its
 * response.  Returns 0 with exactly one of *result and *error set (new
 * references), -1 on a transport failure (*err filled), or
 * RPC_CLIENT_INTERRUPTED.
 */
int	rpc_client_call(struct rpc_client *, const char *method, json_t *params,
	    json_t **result, json_t **error, struct rpc_client_error *err);

/*
 * The streaming side, for commands that watch notifications while they
 * send (exec, attach, tail).  Requests are queued and written as the
 * socket takes them, so a daemon that stops reading while its replies
 * queue up never blocks us in send(2).
 */

/* Queues `method` (params stolen) with a new id, in *id; tries to send. */
int	rpc_client_send(struct rpc_client *, const char *method,
	    json_t *params, json_int_t *id, struct rpc_client_error *);
/* Writes queued requests as far as the socket takes them, not blocking. */
int	rpc_client_flush(struct rpc_client *, struct rpc_client_error *);
bool	rpc_client_want_write(const struct rpc_client *);
/*
 * Waits until the socket or `fd` (-1: none) is ready, with `waitmask`
 * during the wait (ppoll) unless NULL; then sends and reads what it can.
 * A signal ends the wait with 0.  *revents: fd's poll events.
 */
int	rpc_client_poll(struct rpc_client *, int fd, short events,
	    short *revents, const sigset_t *waitmask,
	    struct rpc_client_error *);
/* 1 and *msg (rpc_msg_clear it) when a whole message was read, else 0;
 * -1 on a bad line. */
int	rpc_client_next(struct rpc_client *, struct rpc_msg *,
	    struct rpc_client_error *);

#endif
