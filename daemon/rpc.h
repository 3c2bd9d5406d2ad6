/*
 * Requests and the method table.  Each method is one `struct rpc_method`
 * (tmux cmd_entry style) in a method-*.c file; rpc-dispatch.c finds it by
 * name, checks privilege, and calls its handler.  A handler answers at once
 * (rpc_reply / rpc_fail, then returns RPC_NORMAL) or returns RPC_WAIT and
 * answers later from a completion (tmux CMD_RETURN_WAIT).
 */
#ifndef SBX_RPC_H
#define SBX_RPC_H

#include <stdbool.h>

#include <jansson.h>

#include "jsonrpc.h"
#include "rpc-server.h"

struct daemon;

enum rpc_ret {
	RPC_NORMAL,	/* answered */
	RPC_WAIT	/* will answer later */
};

#define RPC_ROOT_ONLY	0x1	/* root or the admin group */

struct rpc_req {
	struct daemon		*d;
	struct rpc_client	*client;	/* referenced */
	json_t			*id;
	json_t			*params;	/* always an object */
	const struct rpc_method	*method;
	struct rpc_peer		 peer;
	bool			 answered;
};

struct rpc_method {
	const char	*name;
	const char	*summary;
	int		 flags;
	enum rpc_ret	(*exec)(struct rpc_req *);
};

/* Handles one parsed request from a client (rpc-server.c calls this). */
void	rpc_dispatch(struct daemon *, struct rpc_client *, json_t *id,
	    const char *method, json_t *params);

/* Answers and frees the request.  The result is stolen. */
void	rpc_reply(struct rpc_req *, json_t *result);
void	rpc_fail(struct rpc_req *, enum rpc_err, json_t *data,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answers with a gateway error (see gw.h). */
struct gw_error;
void	rpc_fail_gw(struct rpc_req *, const struct gw_error *);

/* True when the caller may act on things owned by `uid`. */
bool	rpc_may_act_on(const struct rpc_req *, uid_t owner);
bool	rpc_is_admin(const struct rpc_req *);

/* Requests not yet answered (shutdown waits for them). */
unsigned rpc_pending(void);

/* Parameter helpers: set the error reply themselves and return -1. */
int	rpc_param_duration_ms(struct rpc_req *, const char *key,
	    int64_t dflt, int64_t *out);

#endif
