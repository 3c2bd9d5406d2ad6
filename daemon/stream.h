/*
 * What streamed exec output (exec-session.c) and log tails (tail.c)
 * share: their ids, their error objects, their flow-control marks, and
 * the data notification each sends most of.
 */
#ifndef SBX_STREAM_H
#define SBX_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "rpc.h"

#define STREAM_SUB_HIGH		(4u << 20)	/* client queue: pause */
#define STREAM_CHUNK		(64u << 10)	/* data per notification */

/* A fresh "P-xxxxxxxx" id (P is the prefix letter); `id` holds 11. */
void	stream_make_id(char prefix, char *id);

/* {"code", "message", "data": {"kind"}} as in a JSON-RPC error. */
json_t	*stream_error_json(enum rpc_err, const char *msg);

struct rpc_client;

/*
 * Whether a reader at `cursor` of data ending at `end` waits for its
 * connection to drain before sending more: its queue is past the high
 * mark, or, while the source is `live`, its last message is unwritten and
 * the new bytes are fewer than a notification holds (they join the next).
 */
bool	 stream_hold(struct rpc_client *, bool live, uint64_t cursor,
	    uint64_t end);

/* One exec.output or tail.data notification; see stream_data_line. */
struct stream_data {
	const char	*method;	/* "exec.output", "tail.data" */
	const char	*id_key;	/* "exec", "tail" */
	const char	*id;		/* from stream_make_id */
	const char	*stream;	/* "stdout", "stderr", or NULL */
	const char	*b64;		/* the data, base64 */
	size_t		 b64len;
	uint64_t	 offset;
	int64_t		 time_ms;	/* wall clock; 0: no "time" */
};

/* The notification as a line ending in "\n" (heap; *len counts it). */
char	*stream_data_line(const struct stream_data *, size_t *len);

#endif
