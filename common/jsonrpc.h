/*
 * JSON-RPC 2.0 over newline-delimited JSON (the control protocol's framing
 * and error vocabulary, shared by sandboxd and sbctl).
 *
 * One JSON object per line.  A line is parsed into a `struct rpc_msg`, which
 * is a request (method + id), a notification (method, no id) or a response
 * (result or error + id).  Anything else is answered with the standard
 * error codes; application errors carry a stable `data.kind` name.
 */
#ifndef SBX_JSONRPC_H
#define SBX_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define RPC_MAX_LINE_DEFAULT	(16u << 20)	/* 16 MiB */

/* Every error the protocol can return: code, and a stable kind name. */
enum rpc_err {
	RPC_ERR_PARSE,			/* -32700 parse_error */
	RPC_ERR_INVALID_REQUEST,	/* -32600 invalid_request */
	RPC_ERR_METHOD_NOT_FOUND,	/* -32601 method_not_found */
	RPC_ERR_INVALID_PARAMS,		/* -32602 invalid_params */
	RPC_ERR_INTERNAL,		/* -32603 internal_error */
	RPC_ERR_NOT_FOUND,		/* -32001 not_found */
	RPC_ERR_PERMISSION_DENIED,	/* -32002 permission_denied */
	RPC_ERR_BUDGET_EXCEEDED,	/* -32003 budget_exceeded */
	RPC_ERR_POOL_EXHAUSTED,		/* -32004 pool_exhausted */
	RPC_ERR_LEASE_EXPIRED,		/* -32005 lease_expired */
	RPC_ERR_GATEWAY_UNAVAILABLE,	/* -32006 gateway_unavailable */
	RPC_ERR_UNAUTHENTICATED,	/* -32007 unauthenticated */
	RPC_ERR_DEADLINE_EXCEEDED,	/* -32008 deadline_exceeded */
	RPC_ERR_TOO_LARGE,		/* -32009 too_large */
	RPC_ERR_OVERLOADED,		/* -32010 overloaded */
	RPC_ERR_INVALID_STATE,		/* -32011 invalid_state */
	RPC_ERR_GATEWAY_ERROR,		/* -32012 gateway_error */
	RPC_ERR_CANCELLED,		/* -32013 cancelled */
	RPC_ERR_SANDBOX_FAILED,		/* -32014 sandbox_failed */
	RPC_ERR_LEASE_LOST,		/* -32015 lease_lost */
	RPC_ERR_COUNT
};

int		 rpc_err_code(enum rpc_err);
const char	*rpc_err_kind(enum rpc_err);
/* The enum for a code or kind name; -1 when unknown. */
int		 rpc_err_from_code(int code);
int		 rpc_err_from_kind(const char *kind);

enum rpc_msg_type {
	RPC_MSG_REQUEST,
	RPC_MSG_NOTIFICATION,
	RPC_MSG_RESPONSE
};

/*
 * A parsed line.  All pointers borrow from `root`; rpc_msg_clear() drops it.
 * For a response, exactly one of result and error is set.
 */
struct rpc_msg {
	enum rpc_msg_type	 type;
	json_t			*root;
	json_t			*id;		/* request and response */
	const char		*method;	/* request and notification */
	json_t			*params;	/* object or array; may be NULL */
	json_t			*result;
	json_t			*error;
};

/*
 * A framing or validation failure: the error to answer with, and the id to
 * answer to when one could be read (JSON null otherwise, as the spec says).
 */
struct rpc_fail {
	enum rpc_err	 err;
	json_t		*id;		/* new reference or NULL */
	char		 message[256];
};

/*
 * Parses one line (without its newline; need not be NUL-terminated).
 * Returns 0 and fills `msg`, or -1 and fills `fail` (release fail->id with
 * json_decref).  Rejects: invalid JSON or UTF-8, non-objects, batches
 * (arrays: "batch requests are not supported"), a missing or wrong
 * "jsonrpc", ids that are not string/integer/null, methods that are not
 * non-empty strings, params that are not object or array, and objects that
 * are neither request nor response.
 */
int	rpc_parse_line(const char *line, size_t len, struct rpc_msg *msg,
	    struct rpc_fail *fail);
void	rpc_msg_clear(struct rpc_msg *);

/* Builders: each returns a new object; the json_t arguments are stolen. */
json_t	*rpc_request_new(json_t *id, const char *method, json_t *params);
json_t	*rpc_notification_new(const char *method, json_t *params);
json_t	*rpc_result_new(json_t *id, json_t *result);
/* id may be NULL (→ null); data may be NULL; data.kind is always set. */
json_t	*rpc_error_new(json_t *id, enum rpc_err, json_t *data,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Serialises a message as one compact line ending in "\n" (caller frees). */
char	*rpc_dump_line(const json_t *, size_t *len);

/* Reads error.code / message / data.kind of a response error object. */
enum rpc_err	 rpc_error_kind_of(const json_t *error);
const char	*rpc_error_message_of(const json_t *error);

#endif
