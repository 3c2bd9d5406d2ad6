/* JSON-RPC 2.0 over newline-delimited JSON: parsing, building, errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "log.h"
#include "xmalloc.h"

struct rpc_err_entry {
	int		 code;
	const char	*kind;
};

/* One row per enum rpc_err, in enum order: the protocol's vocabulary. */
static const struct rpc_err_entry rpc_errs[RPC_ERR_COUNT] = {
	[RPC_ERR_PARSE] =		{ -32700, "parse_error" },
	[RPC_ERR_INVALID_REQUEST] =	{ -32600, "invalid_request" },
	[RPC_ERR_METHOD_NOT_FOUND] =	{ -32601, "method_not_found" },
	[RPC_ERR_INVALID_PARAMS] =	{ -32602, "invalid_params" },
	[RPC_ERR_INTERNAL] =		{ -32603, "internal_error" },
	[RPC_ERR_NOT_FOUND] =		{ -32001, "not_found" },
	[RPC_ERR_PERMISSION_DENIED] =	{ -32002, "permission_denied" },
	[RPC_ERR_BUDGET_EXCEEDED] =	{ -32003, "budget_exceeded" },
	[RPC_ERR_POOL_EXHAUSTED] =	{ -32004, "pool_exhausted" },
	[RPC_ERR_LEASE_EXPIRED] =	{ -32005, "lease_expired" },
	[RPC_ERR_GATEWAY_UNAVAILABLE] =	{ -32006, "gateway_unavailable" },
	[RPC_ERR_UNAUTHENTICATED] =	{ -32007, "unauthenticated" },
	[RPC_ERR_DEADLINE_EXCEEDED] =	{ -32008, "deadline_exceeded" },
	[RPC_ERR_TOO_LARGE] =		{ -32009, "too_large" },
	[RPC_ERR_OVERLOADED] =		{ -32010, "overloaded" },
	[RPC_ERR_INVALID_STATE] =	{ -32011, "invalid_state" },
	[RPC_ERR_GATEWAY_ERROR] =	{ -32012, "gateway_error" },
	[RPC_ERR_CANCELLED] =		{ -32013, "cancelled" },
	[RPC_ERR_SANDBOX_FAILED] =	{ -32014, "sandbox_failed" },
	[RPC_ERR_LEASE_LOST] =		{ -32015, "lease_lost" },
};

/* Out-of-range values read as internal errors rather than crash. */
static enum rpc_err
rpc_err_valid(enum rpc_err e)
{
	return (unsigned)e < RPC_ERR_COUNT ? e : RPC_ERR_INTERNAL;
}

/* The numeric code sent on the wire. */
int
rpc_err_code(enum rpc_err e)
{
	return rpc_errs[rpc_err_valid(e)].code;
}

/* The stable name sent in error.data.kind. */
const char *
rpc_err_kind(enum rpc_err e)
{
	return rpc_errs[rpc_err_valid(e)].kind;
}

/* Reverse lookup by code, for clients reading responses. */
int
rpc_err_from_code(int code)
{
	int	i;

	for (i = 0; i < RPC_ERR_COUNT; i++)
		if (rpc_errs[i].code == code)
			return i;
	return -1;
}

/* Reverse lookup by kind name. */
int
rpc_err_from_kind(const char *kind)
{
	int	i;

	for (i = 0; kind != NULL && i < RPC_ERR_COUNT; i++)
		if (strcmp(rpc_errs[i].kind, kind) == 0)
			return i;
	return -1;
}

/* Fills a failure; the id reference is the caller's to give away. */
static int __attribute__((format(printf, 4, 5)))
rpc_fail_set(struct rpc_fail *fail, enum rpc_err err, json_t *id,
    const char *fmt, ...)
{
	va_list	ap;

	fail->err = err;
	fail->id = id != NULL ? json_incref(id) : NULL;
	va_start(ap, fmt);
	vsnprintf(fail->message, sizeof fail->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* True when every byte is JSON whitespace (an empty line included). */
static bool
rpc_blank(const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (strchr(" \t\r\n", line[i]) == NULL || line[i] == '\0')
			return false;
	return true;
}

/* jansson quotes the input near an error: keep it one printable line. */
static void
rpc_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* A valid id: string, integer or null (never a float, bool or structure). */
static bool
rpc_id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id) || json_is_null(id);
}

/* Checks the request-only members once "method" is known to be present. */
static int
rpc_parse_request(json_t *root, json_t *id, struct rpc_msg *msg,
    struct rpc_fail *fail)
{
	json_t	*method = json_object_get(root, "method");
	json_t	*params = json_object_get(root, "params");

	if (!json_is_string(method) || json_string_length(method) == 0)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "\"method\" must be a non-empty string");
	if (strlen(json_string_value(method)) != json_string_length(method))
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "\"method\" must not contain NUL");
	if (params != NULL && !json_is_object(params) && !json_is_array(params))
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "\"params\" must be an object or an array");
	if (json_object_get(root, "result") != NULL ||
	    json_object_get(root, "error") != NULL)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "a request must not carry \"result\" or \"error\"");
	msg->type = id != NULL ? RPC_MSG_REQUEST : RPC_MSG_NOTIFICATION;
	msg->method = json_string_value(method);
	msg->params = params;
	return 0;
}

/* Checks a response: an id and exactly one of result and a valid error. */
static int
rpc_parse_response(json_t *root, json_t *id, struct rpc_msg *msg,
    struct rpc_fail *fail)
{
	json_t	*result = json_object_get(root, "result");
	json_t	*error = json_object_get(root, "error");

	if (result == NULL && error == NULL)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "object has neither \"method\" nor \"result\"/\"error\"");
	if (result != NULL && error != NULL)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "a response must not carry both \"result\" and \"error\"");
	if (id == NULL)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, NULL,
		    "a response must carry an \"id\"");
	if (error != NULL && (!json_is_object(error) ||
	    !json_is_integer(json_object_get(error, "code")) ||
	    !json_is_string(json_object_get(error, "message"))))
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "\"error\" must be an object with integer \"code\" and "
		    "string \"message\"");
	msg->type = RPC_MSG_RESPONSE;
	msg->result = result;
	msg->error = error;
	return 0;
}

/* Validates the envelope, then hands over to request or response checks. */
static int
rpc_parse_object(json_t *root, struct rpc_msg *msg, struct rpc_fail *fail)
{
	json_t	*version = json_object_get(root, "jsonrpc");
	json_t	*id = json_object_get(root, "id");

	if (id != NULL && !rpc_id_valid(id))
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, NULL,
		    "\"id\" must be a string, an integer or null");
	if (version == NULL)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "missing \"jsonrpc\": \"2.0\"");
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0)
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, id,
		    "\"jsonrpc\" must be \"2.0\"");
	msg->id = id;
	if (json_object_get(root, "method") != NULL)
		return rpc_parse_request(root, id, msg, fail);
	return rpc_parse_response(root, id, msg, fail);
}

/* Decodes one line strictly, then classifies it. */
int
rpc_parse_line(const char *line, size_t len, struct rpc_msg *msg,
    struct rpc_fail *fail)
{
	json_error_t	 jerr;
	json_t		*root;

	memset(msg, 0, sizeof *msg);
	memset(fail, 0, sizeof *fail);
	if (rpc_blank(line, len))
		return rpc_fail_set(fail, RPC_ERR_PARSE, NULL,
		    "parse error: empty line (expected a JSON object)");
	root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &jerr);
	if (root == NULL) {
		rpc_printable(jerr.text);
		return rpc_fail_set(fail, RPC_ERR_PARSE, NULL,
		    "parse error at line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
	}
	if (json_is_array(root)) {
		json_decref(root);
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, NULL,
		    "batch requests are not supported");
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return rpc_fail_set(fail, RPC_ERR_INVALID_REQUEST, NULL,
		    "a message must be a JSON object");
	}
	if (rpc_parse_object(root, msg, fail) == -1) {
		json_decref(root);
		memset(msg, 0, sizeof *msg);
		return -1;
	}
	msg->root = root;
	return 0;
}

/* Drops the parsed line and every pointer borrowed from it. */
void
rpc_msg_clear(struct rpc_msg *msg)
{
	json_decref(msg->root);
	memset(msg, 0, sizeof *msg);
}

/* A fresh {"jsonrpc":"2.0"} envelope. */
static json_t *
rpc_envelope(void)
{
	json_t	*o;

	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "jsonrpc", json_string("2.0")) == -1)
		fatalx("%s: out of memory", __func__);
	return o;
}

/* Sets a member, stealing `value`; jansson fails only without memory. */
static void
rpc_set(json_t *o, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(o, key, value) == -1)
		fatalx("%s: cannot set \"%s\"", __func__, key);
}

/* A request: id (NULL means null), method and optional params. */
json_t *
rpc_request_new(json_t *id, const char *method, json_t *params)
{
	json_t	*o = rpc_envelope();

	rpc_set(o, "id", id != NULL ? id : json_null());
	rpc_set(o, "method", json_string(method));
	if (params != NULL)
		rpc_set(o, "params", params);
	return o;
}

/* A notification: a request without an id. */
json_t *
rpc_notification_new(const char *method, json_t *params)
{
	json_t	*o = rpc_envelope();

	rpc_set(o, "method", json_string(method));
	if (params != NULL)
		rpc_set(o, "params", params);
	return o;
}

/* A success response; a NULL result is sent as null. */
json_t *
rpc_result_new(json_t *id, json_t *result)
{
	json_t	*o = rpc_envelope();

	rpc_set(o, "id", id != NULL ? id : json_null());
	rpc_set(o, "result", result != NULL ? result : json_null());
	return o;
}

/* An error response whose data always names the kind of error. */
json_t *
rpc_error_new(json_t *id, enum rpc_err err, json_t *data, const char *fmt,
    ...)
{
	json_t	*o = rpc_envelope(), *e, *m;
	va_list	 ap;
	char	*msg;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("%s: out of memory", __func__);
	if (data != NULL && !json_is_object(data)) {
		json_t *wrap = json_object();

		rpc_set(wrap, "value", data);
		data = wrap;
	}
	if (data == NULL && (data = json_object()) == NULL)
		fatalx("%s: out of memory", __func__);
	err = rpc_err_valid(err);
	rpc_set(data, "kind", json_string(rpc_err_kind(err)));
	e = json_object();
	rpc_set(e, "code", json_integer(rpc_err_code(err)));
	/* An invalid UTF-8 message must not lose the error: replace it. */
	if ((m = json_string(msg)) == NULL)
		m = json_string("(message not UTF-8)");
	rpc_set(e, "message", m);
	rpc_set(e, "data", data);
	free(msg);
	rpc_set(o, "id", id != NULL ? id : json_null());
	rpc_set(o, "error", e);
	return o;
}

struct line_buf {
	char	*p;
	size_t	 len, cap;
};

/* jansson's output callback: appends, keeping room for "\n" and NUL. */
static int
line_add(const char *text, size_t n, void *arg)
{
	struct line_buf	*b = arg;

	if (b->len + n + 2 > b->cap) {
		while (b->len + n + 2 > b->cap)
			b->cap *= 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, text, n);
	b->len += n;
	return 0;
}

/*
 * Compact JSON never holds a raw newline, so this is exactly one line.
 * One pass into a growing buffer, not a sizing pass and a second one.
 * Reals keep jansson's 17 digits: fewer would turn the largest doubles
 * into text that overflows when read back.
 */
char *
rpc_dump_line(const json_t *j, size_t *len)
{
	struct line_buf	 b = { xmalloc(512), 0, 512 };

	if (len != NULL)
		*len = 0;
	if (json_dump_callback(j, line_add, &b, JSON_COMPACT |
	    JSON_ENCODE_ANY) == -1 || b.len == 0) {
		free(b.p);
		return NULL;
	}
	b.p[b.len] = '\n';
	b.p[b.len + 1] = '\0';
	if (len != NULL)
		*len = b.len + 1;
	return b.p;
}

/* data.kind when it is one we know, else the code; internal otherwise. */
enum rpc_err
rpc_error_kind_of(const json_t *error)
{
	json_t	*data = json_object_get(error, "data");
	int	 e;

	if ((e = rpc_err_from_kind(json_string_value(json_object_get(data,
	    "kind")))) != -1)
		return e;
	if ((e = rpc_err_from_code((int)json_integer_value(
	    json_object_get(error, "code")))) != -1)
		return e;
	return RPC_ERR_INTERNAL;
}

/* The message, or a placeholder so callers can always print something. */
const char *
rpc_error_message_of(const json_t *error)
{
	const char	*m = json_string_value(json_object_get(error, "message"));

	return m != NULL && *m != '\0' ? m : "(no message)";
}
