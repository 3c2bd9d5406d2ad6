/*
 * gRPC status → control-protocol error, in one table, with the one-line
 * messages people read; and the retry policy's numbers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gw-internal.h"
#include "xmalloc.h"

struct gw_code_map {
	int		 code;
	const char	*name;
	enum rpc_err	 rpc;
	bool		 retryable;
	const char	*what;	/* message lead; NULL: generic */
};

static const struct gw_code_map gw_codes[] = {
	{ GRPC_STATUS_OK, "OK", RPC_ERR_GATEWAY_ERROR, false, NULL },
	{ GRPC_STATUS_CANCELLED, "CANCELLED", RPC_ERR_CANCELLED, false,
	    "call cancelled" },
	{ GRPC_STATUS_UNKNOWN, "UNKNOWN", RPC_ERR_GATEWAY_ERROR, false, NULL },
	{ GRPC_STATUS_INVALID_ARGUMENT, "INVALID_ARGUMENT",
	    RPC_ERR_INVALID_PARAMS, false, "gateway rejected the request" },
	{ GRPC_STATUS_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED",
	    RPC_ERR_DEADLINE_EXCEEDED, true, "gateway did not answer in time" },
	{ GRPC_STATUS_NOT_FOUND, "NOT_FOUND", RPC_ERR_NOT_FOUND, false,
	    "not found at the gateway" },
	{ GRPC_STATUS_ALREADY_EXISTS, "ALREADY_EXISTS", RPC_ERR_GATEWAY_ERROR,
	    false, NULL },
	{ GRPC_STATUS_PERMISSION_DENIED, "PERMISSION_DENIED",
	    RPC_ERR_PERMISSION_DENIED, false,
	    "gateway refused access; check the entity and API key" },
	{ GRPC_STATUS_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED",
	    RPC_ERR_OVERLOADED, true, "gateway is overloaded or out of quota" },
	{ GRPC_STATUS_FAILED_PRECONDITION, "FAILED_PRECONDITION",
	    RPC_ERR_INVALID_STATE, false,
	    "gateway refused: the sandbox is not in a state for this" },
	{ GRPC_STATUS_ABORTED, "ABORTED", RPC_ERR_GATEWAY_ERROR, false, NULL },
	{ GRPC_STATUS_OUT_OF_RANGE, "OUT_OF_RANGE", RPC_ERR_GATEWAY_ERROR,
	    false, NULL },
	{ GRPC_STATUS_UNIMPLEMENTED, "UNIMPLEMENTED", RPC_ERR_GATEWAY_ERROR,
	    false, "gateway does not implement this call" },
	{ GRPC_STATUS_INTERNAL, "INTERNAL", RPC_ERR_GATEWAY_ERROR, false, NULL },
	{ GRPC_STATUS_UNAVAILABLE, "UNAVAILABLE", RPC_ERR_GATEWAY_UNAVAILABLE,
	    true, NULL },
	{ GRPC_STATUS_DATA_LOSS, "DATA_LOSS", RPC_ERR_GATEWAY_ERROR, false,
	    NULL },
	{ GRPC_STATUS_UNAUTHENTICATED, "UNAUTHENTICATED",
	    RPC_ERR_UNAUTHENTICATED, false, "gateway rejected the API key" },
};

static const struct gw_code_map *
code_find(int code)
{
	size_t	 i;

	for (i = 0; i < sizeof gw_codes / sizeof gw_codes[0]; i++)
		if (gw_codes[i].code == code)
			return &gw_codes[i];
	return NULL;
}

const char *
gw_code_name(int code)
{
	const struct gw_code_map	*m = code_find(code);

	return m != NULL ? m->name : "UNKNOWN";
}

int
gw_code_from_name(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return -1;
	for (i = 0; i < sizeof gw_codes / sizeof gw_codes[0]; i++)
		if (strcasecmp(gw_codes[i].name, name) == 0)
			return gw_codes[i].code;
	return -1;
}

enum rpc_err
gw_map_code(int code)
{
	const struct gw_code_map	*m = code_find(code);

	return m != NULL ? m->rpc : RPC_ERR_GATEWAY_ERROR;
}

bool
gw_code_retryable(int code)
{
	const struct gw_code_map	*m = code_find(code);

	return m != NULL && m->retryable;
}

/* Gateway text goes into one log/JSON line: no newlines, bounded length. */
char *
gw_one_line(const char *s, size_t len)
{
	char	*out;
	size_t	 i, n;

	if (s == NULL)
		len = 0;
	n = len > GW_DETAILS_MAX ? GW_DETAILS_MAX : len;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' ||
	    s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	out = xmalloc(n + 4);
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (n < len && len > GW_DETAILS_MAX)
		memcpy(out + n, "...", 3), n += 3;
	out[n] = '\0';
	return out;
}

void
gw_error_from_status(struct gw_error *e, int code, const char *details,
    const char *target)
{
	const struct gw_code_map	*m = code_find(code);
	char				*d;

	d = gw_one_line(details, details != NULL ? strlen(details) : 0);
	e->grpc_code = code;
	e->rpc = gw_map_code(code);
	if (code == GRPC_STATUS_UNAVAILABLE)
		e->message = xasprintf("gateway unavailable (%s)%s%s", target,
		    *d ? ": " : "", d);
	else if (m != NULL && m->what != NULL)
		e->message = xasprintf("%s (%s)%s%s", m->what, m->name,
		    *d ? ": " : "", d);
	else
		e->message = xasprintf("gateway error (%s)%s%s",
		    gw_code_name(code), *d ? ": " : "", d);
	free(d);
}

void
gw_error_make(struct gw_error *e, int code, enum rpc_err rpc,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		msg = xstrdup("out of memory");
	e->grpc_code = code;
	e->rpc = rpc;
	e->message = msg;
}

void
gw_error_clear(struct gw_error *e)
{
	free((char *)e->message);
	e->message = NULL;
}

/* Exponential from 100 ms, capped at 2 s, jittered into [base/2, base]. */
int64_t
gw_backoff_ms(int retry, uint32_t rnd)
{
	int64_t	 base = GW_BACKOFF_BASE_MS;

	while (--retry > 0 && base < GW_BACKOFF_CAP_MS)
		base *= 2;
	if (base > GW_BACKOFF_CAP_MS)
		base = GW_BACKOFF_CAP_MS;
	return base / 2 + (int64_t)(rnd % (uint32_t)(base / 2 + 1));
}

int64_t
gw_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
