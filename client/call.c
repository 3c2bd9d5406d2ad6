/*
 * One request to sandboxd from a command: connect on first use, send, and
 * on an error reply print "sbctl: <message>" and map its kind to an exit
 * status (sbctl(1) EXIT STATUS, sandboxd-rpc(7) ERRORS).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonrpc.h"
#include "parse.h"
#include "rpc-client.h"
#include "sbctl.h"

/* Connects once; prints why not and returns the exit status on failure. */
int
sbctl_connect(struct sbctl *sb)
{
	struct rpc_client_error	 err;

	if (sb->rpc != NULL)
		return 0;
	if ((sb->rpc = rpc_client_open(sb->socket, &err)) == NULL) {
		warnx("%s", err.message);
		return err.exit_code;
	}
	return 0;
}

/* Drops the connection (run uses a fresh one to release after a signal). */
void
sbctl_disconnect(struct sbctl *sb)
{
	rpc_client_close(sb->rpc);
	sb->rpc = NULL;
}

/* The exit status for an error reply, by data.kind (else code). */
int
sbctl_exit_for_error(const json_t *error)
{
	switch (rpc_error_kind_of(error)) {
	case RPC_ERR_GATEWAY_UNAVAILABLE:
		return SBCTL_EXIT_UNAVAILABLE;
	case RPC_ERR_BUDGET_EXCEEDED:
	case RPC_ERR_POOL_EXHAUSTED:
	case RPC_ERR_OVERLOADED:
		return SBCTL_EXIT_TEMPFAIL;
	case RPC_ERR_UNAUTHENTICATED:
	case RPC_ERR_PERMISSION_DENIED:
		return SBCTL_EXIT_NOPERM;
	case RPC_ERR_DEADLINE_EXCEEDED:
		return SBCTL_EXIT_DEADLINE;
	case RPC_ERR_NOT_FOUND:
	case RPC_ERR_LEASE_EXPIRED:
	case RPC_ERR_LEASE_LOST:
		return SBCTL_EXIT_NOT_FOUND;
	default:
		return SBCTL_EXIT_FAILURE;
	}
}

/* The extra facts some kinds carry, as " (…)" or "". */
static void
error_detail(const json_t *error, char *buf, size_t len)
{
	json_t	*data = json_object_get(error, "data");
	json_t	*retry = json_object_get(data, "retry_after_ms");
	char	 d[32];

	*buf = '\0';
	switch (rpc_error_kind_of(error)) {
	case RPC_ERR_POOL_EXHAUSTED:
		if (json_is_number(retry)) {
			format_duration(d, sizeof d,
			    (int64_t)json_number_value(retry));
			snprintf(buf, len, " (retry after %s)", d);
		}
		break;
	case RPC_ERR_BUDGET_EXCEEDED:
		if (json_is_string(json_object_get(data, "budget")) &&
		    json_is_number(json_object_get(data, "used")) &&
		    json_is_number(json_object_get(data, "limit")))
			snprintf(buf, len, " (%s: used %g of %g)",
			    json_string_value(json_object_get(data, "budget")),
			    json_number_value(json_object_get(data, "used")),
			    json_number_value(json_object_get(data, "limit")));
		break;
	default:
		break;
	}
}

/* Prints an error reply as "sbctl: [prefix: ]message[ (detail)]". */
void
sbctl_print_error(const char *prefix, const json_t *error)
{
	char	 detail[160];

	error_detail(error, detail, sizeof detail);
	if (prefix != NULL)
		warnx("%s: %s%s", prefix, rpc_error_message_of(error), detail);
	else
		warnx("%s%s", rpc_error_message_of(error), detail);
}

/*
 * Calls `method` (params stolen).  Returns 0 with *result set, or the exit
 * status after printing why.  Interruption is reported as the transport's
 * RPC_CLIENT_INTERRUPTED, unprinted, for run to handle.
 */
int
sbctl_call(struct sbctl *sb, const char *method, json_t *params,
    json_t **result)
{
	struct rpc_client_error	 err;
	json_t			*error;
	int			 rv;

	*result = NULL;
	if ((rv = sbctl_connect(sb)) != 0) {
		json_decref(params);
		return rv;
	}
	rv = rpc_client_call(sb->rpc, method, params, result, &error, &err);
	if (rv == RPC_CLIENT_INTERRUPTED)
		return rv;
	if (rv != 0) {
		warnx("%s", err.message);
		return err.exit_code;
	}
	if (error != NULL) {
		sbctl_print_error(NULL, error);
		rv = sbctl_exit_for_error(error);
		json_decref(error);
		return rv;
	}
	return 0;
}

/*
 * sbctl_call that a stop signal (SIGINT, SIGTERM, SIGHUP) cuts short, for
 * the commands that then follow a stream.  Once one has come, whatever
 * the call's fate, returns RPC_CLIENT_INTERRUPTED with no result.
 */
int
sbctl_call_stoppable(struct sbctl *sb, const char *method, json_t *params,
    json_t **result)
{
	int	 rv;

	*result = NULL;
	if ((rv = sbctl_connect(sb)) != 0) {
		json_decref(params);
		return rv;
	}
	sbctl_catch_stop_signals();
	rpc_client_set_interrupt(sb->rpc, &sbctl_stop_signal);
	rv = sbctl_call(sb, method, params, result);
	rpc_client_set_interrupt(sb->rpc, NULL);
	if (rv == RPC_CLIENT_INTERRUPTED || sbctl_stop_signal != 0) {
		json_decref(*result);
		*result = NULL;
		return RPC_CLIENT_INTERRUPTED;
	}
	return rv;
}

/* Prints a result for --json: one compact line on stdout. */
void
sbctl_print_json(const json_t *j)
{
	char	*s;

	if ((s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		abort();
	puts(s);
	free(s);
}
