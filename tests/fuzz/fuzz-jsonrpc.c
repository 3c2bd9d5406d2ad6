/*
 * libFuzzer: one control-protocol line through rpc_parse_line().  Whatever
 * parses is dumped back with rpc_dump_line() and must parse again to the
 * same kind of message; whatever fails must name an error the protocol
 * knows and leave no reference behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A failed parse: a known error, and its id is ours to drop. */
static void
check_fail(struct rpc_fail *fail)
{
	if (fail->err < 0 || fail->err >= RPC_ERR_COUNT)
		abort();
	if (memchr(fail->message, '\0', sizeof fail->message) == NULL)
		abort();
	if (fail->id != NULL && !json_is_string(fail->id) &&
	    !json_is_integer(fail->id) && !json_is_null(fail->id))
		abort();
	json_decref(fail->id);
}

/* The round trip: one line, ending in its only newline, that parses. */
static void
round_trip(const struct rpc_msg *msg)
{
	struct rpc_msg	 again;
	struct rpc_fail	 fail;
	size_t		 len;
	char		*line;

	if ((line = rpc_dump_line(msg->root, &len)) == NULL)
		abort();
	if (len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		abort();
	if (rpc_parse_line(line, len - 1, &again, &fail) == -1)
		abort();
	if (again.type != msg->type || (again.id == NULL) != (msg->id == NULL) ||
	    (msg->id != NULL && !json_equal(again.id, msg->id)) ||
	    (msg->method != NULL && strcmp(again.method, msg->method) != 0))
		abort();
	rpc_msg_clear(&again);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;

	if (rpc_parse_line((const char *)data, size, &msg, &fail) == -1) {
		check_fail(&fail);
		return 0;
	}
	if (msg.root == NULL)
		abort();
	switch (msg.type) {
	case RPC_MSG_REQUEST:
	case RPC_MSG_NOTIFICATION:
		if (msg.method == NULL || *msg.method == '\0')
			abort();
		break;
	case RPC_MSG_RESPONSE:
		if ((msg.result == NULL) == (msg.error == NULL))
			abort();
		if (msg.error != NULL) {
			(void)rpc_error_kind_of(msg.error);
			(void)rpc_error_message_of(msg.error);
		}
		break;
	}
	round_trip(&msg);
	rpc_msg_clear(&msg);
	return 0;
}
