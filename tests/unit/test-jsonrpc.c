/* jsonrpc: every malformed line we can think of, valid shapes, builders. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonrpc.h"

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])
#define L(s) s, sizeof (s) - 1	/* a literal with its exact length */

/*
 * A line that must be refused: the error, the id the answer goes to (as
 * compact JSON, "null" when none could be read) and a piece of the message.
 */
static const struct bad_case {
	const char	*what;
	const char	*line;
	size_t		 len;
	enum rpc_err	 err;
	const char	*id;
	const char	*msg;
} bad_cases[] = {
	{ "empty line", L(""), RPC_ERR_PARSE, "null", "empty line" },
	{ "whitespace only", L(" \t \r"), RPC_ERR_PARSE, "null", "empty line" },
	{ "truncated object", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"meth"),
	    RPC_ERR_PARSE, "null", "parse error at line 1 column" },
	{ "truncated after brace", L("{"), RPC_ERR_PARSE, "null",
	    "parse error at line 1 column 1:" },
	{ "bare word", L("hello"), RPC_ERR_PARSE, "null",
	    "parse error at line 1 column" },
	{ "trailing garbage", L("{\"jsonrpc\":\"2.0\",\"method\":\"a\"} x"),
	    RPC_ERR_PARSE, "null", "end of file expected" },
	{ "two objects", L("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}{}"),
	    RPC_ERR_PARSE, "null", "end of file expected" },
	{ "single quotes", L("{'jsonrpc':'2.0'}"), RPC_ERR_PARSE, "null",
	    "parse error" },
	{ "trailing comma", L("{\"jsonrpc\":\"2.0\",\"method\":\"a\",}"),
	    RPC_ERR_PARSE, "null", "parse error" },
	{ "duplicate key", L("{\"jsonrpc\":\"2.0\",\"method\":\"a\","
	    "\"method\":\"b\"}"), RPC_ERR_PARSE, "null", "duplicate" },
	{ "invalid UTF-8 in a string",
	    L("{\"jsonrpc\":\"2.0\",\"method\":\"a\xff\"}"), RPC_ERR_PARSE,
	    "null", "parse error" },
	{ "overlong UTF-8", L("{\"jsonrpc\":\"2.0\",\"method\":\"\xc0\xaf\"}"),
	    RPC_ERR_PARSE, "null", "parse error" },
	{ "lone surrogate escape",
	    L("{\"jsonrpc\":\"2.0\",\"method\":\"\\ud800\"}"), RPC_ERR_PARSE,
	    "null", "parse error" },
	{ "raw NUL inside the line",
	    L("{\"jsonrpc\":\"2.0\",\0\"method\":\"a\"}"), RPC_ERR_PARSE,
	    "null", "parse error" },
	{ "NUL after the object", L("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\0"),
	    RPC_ERR_PARSE, "null", "parse error" },
	{ "escaped NUL in method",
	    L("{\"jsonrpc\":\"2.0\",\"method\":\"a\\u0000b\"}"), RPC_ERR_PARSE,
	    "null", "parse error" },
	{ "raw control character in a string",
	    L("{\"jsonrpc\":\"2.0\",\"method\":\"a\x01\"}"), RPC_ERR_PARSE,
	    "null", "parse error" },
	{ "embedded newline", L("{\"jsonrpc\":\"2.0\",\n\"method\":\"a\"\n"),
	    RPC_ERR_PARSE, "null", "parse error at line 3" },
	{ "batch", L("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}]"),
	    RPC_ERR_INVALID_REQUEST, "null", "batch requests are not supported" },
	{ "empty batch", L("[]"), RPC_ERR_INVALID_REQUEST, "null",
	    "batch requests are not supported" },
	{ "number", L("42"), RPC_ERR_INVALID_REQUEST, "null",
	    "must be a JSON object" },
	{ "string", L("\"hi\""), RPC_ERR_INVALID_REQUEST, "null",
	    "must be a JSON object" },
	{ "null", L("null"), RPC_ERR_INVALID_REQUEST, "null",
	    "must be a JSON object" },
	{ "empty object", L("{}"), RPC_ERR_INVALID_REQUEST, "null",
	    "missing \"jsonrpc\": \"2.0\"" },
	{ "missing version", L("{\"id\":3,\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "3", "missing \"jsonrpc\": \"2.0\"" },
	{ "version 1.0", L("{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "3", "\"jsonrpc\" must be \"2.0\"" },
	{ "version as number", L("{\"jsonrpc\":2.0,\"id\":\"x\",\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "\"x\"", "\"jsonrpc\" must be \"2.0\"" },
	{ "version with space", L("{\"jsonrpc\":\"2.0 \",\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"jsonrpc\" must be \"2.0\"" },
	{ "float id", L("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"id\" must be" },
	{ "integral float id", L("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"id\" must be" },
	{ "object id", L("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"id\" must be" },
	{ "array id", L("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"id\" must be" },
	{ "bool id", L("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"a\"}"),
	    RPC_ERR_INVALID_REQUEST, "null", "\"id\" must be" },
	{ "method number", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}"),
	    RPC_ERR_INVALID_REQUEST, "1", "\"method\" must be a non-empty string" },
	{ "method null", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}"),
	    RPC_ERR_INVALID_REQUEST, "1", "\"method\" must be a non-empty string" },
	{ "method empty", L("{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"\"}"),
	    RPC_ERR_INVALID_REQUEST, "\"q\"",
	    "\"method\" must be a non-empty string" },
	{ "params string", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\","
	    "\"params\":\"x\"}"), RPC_ERR_INVALID_REQUEST, "1",
	    "\"params\" must be an object or an array" },
	{ "params number", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\","
	    "\"params\":3}"), RPC_ERR_INVALID_REQUEST, "1",
	    "\"params\" must be an object or an array" },
	{ "params null", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\","
	    "\"params\":null}"), RPC_ERR_INVALID_REQUEST, "1",
	    "\"params\" must be an object or an array" },
	{ "request with result", L("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"a\",\"result\":1}"), RPC_ERR_INVALID_REQUEST, "1",
	    "must not carry" },
	{ "neither request nor response", L("{\"jsonrpc\":\"2.0\",\"id\":9}"),
	    RPC_ERR_INVALID_REQUEST, "9", "neither \"method\"" },
	{ "result and error", L("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,"
	    "\"error\":{\"code\":1,\"message\":\"m\"}}"),
	    RPC_ERR_INVALID_REQUEST, "1", "both \"result\" and \"error\"" },
	{ "response without id", L("{\"jsonrpc\":\"2.0\",\"result\":1}"),
	    RPC_ERR_INVALID_REQUEST, "null", "must carry an \"id\"" },
	{ "error not an object", L("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":\"bad\"}"), RPC_ERR_INVALID_REQUEST, "1",
	    "\"error\" must be an object" },
	{ "error without code", L("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":{\"message\":\"m\"}}"), RPC_ERR_INVALID_REQUEST, "1",
	    "integer \"code\"" },
	{ "error with string code", L("{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"error\":{\"code\":\"1\",\"message\":\"m\"}}"),
	    RPC_ERR_INVALID_REQUEST, "1", "integer \"code\"" },
};

/* Compact JSON of an id reference, "null" for none. */
static char *
id_text(json_t *id)
{
	return id == NULL ? strdup("null") :
	    json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Each malformed line gets its error, id and message; nothing leaks. */
static void
test_bad_lines(void **state)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	const struct bad_case *c;
	char		*id;
	size_t		 i;

	for (i = 0; i < NITEMS(bad_cases); i++) {
		c = &bad_cases[i];
		if (rpc_parse_line(c->line, c->len, &msg, &fail) != -1)
			fail_msg("accepted: %s", c->what);
		assert_null(msg.root);
		id = id_text(fail.id);
		if (fail.err != c->err || strcmp(id, c->id) != 0 ||
		    strstr(fail.message, c->msg) == NULL)
			fail_msg("%s: got %s id %s \"%s\"; wanted %s id %s "
			    "\"…%s…\"", c->what, rpc_err_kind(fail.err), id,
			    fail.message, rpc_err_kind(c->err), c->id, c->msg);
		assert_null(strchr(fail.message, '\n'));
		free(id);
		json_decref(fail.id);
	}
}

/* The parse error names the exact place, as promised in the header. */
static void
test_parse_error_position(void **state)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;

	assert_int_equal(rpc_parse_line(L("{\"a\":tru}"), &msg, &fail), -1);
	assert_int_equal(fail.err, RPC_ERR_PARSE);
	assert_non_null(strstr(fail.message, "parse error at line 1 column "));
	assert_null(fail.id);
}

/* Nesting far beyond any real request is refused, not recursed into. */
static void
test_deep_nesting(void **state)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	size_t		 depth = 100000, i, n = 0;
	char		*line = malloc(depth * 2 + 64);

	n += (size_t)sprintf(line, "{\"jsonrpc\":\"2.0\",\"method\":\"a\","
	    "\"params\":");
	for (i = 0; i < depth; i++)
		line[n++] = '[';
	for (i = 0; i < depth; i++)
		line[n++] = ']';
	line[n++] = '}';
	assert_int_equal(rpc_parse_line(line, n, &msg, &fail), -1);
	assert_int_equal(fail.err, RPC_ERR_PARSE);
	assert_non_null(strstr(fail.message, "depth"));
	free(line);
}

/* Valid shapes: ids of every allowed type, with and without params. */
static void
test_good_lines(void **state)
{
	static const struct {
		const char *line; enum rpc_msg_type type; const char *id;
		const char *method; int params;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}",
		    RPC_MSG_REQUEST, "1", "status", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":-9007199254740993,\"method\":\"a\"}",
		    RPC_MSG_REQUEST, "-9007199254740993", "a", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"x.y\","
		    "\"params\":{\"k\":1}}", RPC_MSG_REQUEST, "\"abc\"", "x.y", 1 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"a\","
		    "\"params\":[]}", RPC_MSG_REQUEST, "null", "a", 1 },
		{ "  {\"method\":\"tail.data\",\"jsonrpc\":\"2.0\"}\r",
		    RPC_MSG_NOTIFICATION, NULL, "tail.data", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"\xc3\xa9t\xc3\xa9\"}",
		    RPC_MSG_NOTIFICATION, NULL, "\xc3\xa9t\xc3\xa9", 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}",
		    RPC_MSG_RESPONSE, "7", NULL, 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
		    "\"message\":\"m\"}}", RPC_MSG_RESPONSE, "null", NULL, 0 },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"extra\":1}",
		    RPC_MSG_REQUEST, "1", "a", 0 },
	};
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	char		*id;
	size_t		 i;

	for (i = 0; i < NITEMS(cases); i++) {
		if (rpc_parse_line(cases[i].line, strlen(cases[i].line), &msg,
		    &fail) != 0)
			fail_msg("refused %s: %s", cases[i].line, fail.message);
		assert_int_equal(msg.type, cases[i].type);
		if (cases[i].id == NULL)
			assert_null(msg.id);
		else {
			id = id_text(msg.id);
			assert_string_equal(id, cases[i].id);
			free(id);
		}
		if (cases[i].method == NULL)
			assert_null(msg.method);
		else
			assert_string_equal(msg.method, cases[i].method);
		assert_int_equal(msg.params != NULL, cases[i].params);
		if (msg.type == RPC_MSG_RESPONSE)
			assert_true((msg.result != NULL) != (msg.error != NULL));
		rpc_msg_clear(&msg);
		assert_null(msg.root);
	}
}

/* A large but valid line (a 12 MiB base64-like string) parses whole. */
static void
test_huge_line(void **state)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	size_t		 big = 12u << 20, n;
	char		*line = malloc(big + 128);

	n = (size_t)sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":1,"
	    "\"method\":\"file.write\",\"params\":{\"data_b64\":\"");
	memset(line + n, 'Q', big);
	n += big;
	n += (size_t)sprintf(line + n, "\"}}");
	assert_int_equal(rpc_parse_line(line, n, &msg, &fail), 0);
	assert_int_equal(json_string_length(json_object_get(msg.params,
	    "data_b64")), big);
	rpc_msg_clear(&msg);
	free(line);
}

/* The line need not be NUL-terminated: only `len` bytes are read. */
static void
test_length_bounded(void **state)
{
	const char	 line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}GARBAGE";
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;

	assert_int_equal(rpc_parse_line(line, strlen(line) - 7, &msg, &fail), 0);
	assert_string_equal(msg.method, "a");
	rpc_msg_clear(&msg);
}

/* Codes and kinds map both ways for every error in the enum. */
static void
test_error_table(void **state)
{
	static const int codes[RPC_ERR_COUNT] = {
		-32700, -32600, -32601, -32602, -32603, -32001, -32002,
		-32003, -32004, -32005, -32006, -32007, -32008, -32009,
		-32010, -32011, -32012, -32013, -32014, -32015,
	};
	int	e;

	assert_string_equal(rpc_err_kind(RPC_ERR_PARSE), "parse_error");
	assert_string_equal(rpc_err_kind(RPC_ERR_GATEWAY_UNAVAILABLE),
	    "gateway_unavailable");
	assert_string_equal(rpc_err_kind(RPC_ERR_LEASE_LOST), "lease_lost");
	for (e = 0; e < RPC_ERR_COUNT; e++) {
		assert_int_equal(rpc_err_code(e), codes[e]);
		assert_int_equal(rpc_err_from_code(codes[e]), e);
		assert_int_equal(rpc_err_from_kind(rpc_err_kind(e)), e);
	}
	assert_int_equal(rpc_err_from_code(-32000), -1);
	assert_int_equal(rpc_err_from_code(0), -1);
	assert_int_equal(rpc_err_from_kind("nope"), -1);
	assert_int_equal(rpc_err_from_kind(NULL), -1);
}

/* Dumps and checks: one line, ends in "\n", nothing before it. */
static char *
dump_one_line(const json_t *j)
{
	size_t	 len;
	char	*s = rpc_dump_line(j, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	assert_true(len >= 2);
	assert_int_equal(s[len - 1], '\n');
	assert_ptr_equal(strchr(s, '\n'), s + len - 1);
	return s;
}

/* Builds, dumps and re-parses a message; returns the parsed form. */
static void
round_trip(json_t *j, struct rpc_msg *msg)
{
	struct rpc_fail	 fail;
	char		*s = dump_one_line(j);

	if (rpc_parse_line(s, strlen(s) - 1, msg, &fail) != 0)
		fail_msg("%s: %s", s, fail.message);
	free(s);
	json_decref(j);
}

/* Every builder's output is a line our own parser reads back the same. */
static void
test_builders_round_trip(void **state)
{
	struct rpc_msg	 msg;

	round_trip(rpc_request_new(json_integer(5), "lease.acquire",
	    json_pack("{s:s}", "pool", "default")), &msg);
	assert_int_equal(msg.type, RPC_MSG_REQUEST);
	assert_int_equal(json_integer_value(msg.id), 5);
	assert_string_equal(msg.method, "lease.acquire");
	assert_string_equal(json_string_value(json_object_get(msg.params,
	    "pool")), "default");
	rpc_msg_clear(&msg);

	round_trip(rpc_notification_new("exec.output",
	    json_pack("{s:s}", "data", "line1\nline2\r\n\x01\x1f")), &msg);
	assert_int_equal(msg.type, RPC_MSG_NOTIFICATION);
	assert_null(msg.id);
	assert_string_equal(json_string_value(json_object_get(msg.params,
	    "data")), "line1\nline2\r\n\x01\x1f");
	rpc_msg_clear(&msg);

	round_trip(rpc_result_new(json_string("id-1"), NULL), &msg);
	assert_int_equal(msg.type, RPC_MSG_RESPONSE);
	assert_true(json_is_null(msg.result));
	assert_string_equal(json_string_value(msg.id), "id-1");
	rpc_msg_clear(&msg);

	round_trip(rpc_error_new(json_integer(3), RPC_ERR_BUDGET_EXCEEDED,
	    json_pack("{s:i,s:s}", "limit", 4, "kind", "wrong"),
	    "user %s has %d leases", "bob", 4), &msg);
	assert_int_equal(msg.type, RPC_MSG_RESPONSE);
	assert_int_equal(rpc_error_kind_of(msg.error), RPC_ERR_BUDGET_EXCEEDED);
	assert_int_equal(json_integer_value(json_object_get(msg.error, "code")),
	    -32003);
	assert_string_equal(rpc_error_message_of(msg.error),
	    "user bob has 4 leases");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    msg.error, "data"), "limit")), 4);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    msg.error, "data"), "kind")), "budget_exceeded");
	rpc_msg_clear(&msg);
}

/* Exact bytes of an error to a null id, and non-object data kept. */
static void
test_error_shape(void **state)
{
	json_t	*j;
	char	*s;

	j = rpc_error_new(NULL, RPC_ERR_METHOD_NOT_FOUND, NULL,
	    "unknown method \"%s\"", "frob");
	s = dump_one_line(j);
	assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32601,\"message\":\"unknown method \\\"frob\\\"\","
	    "\"data\":{\"kind\":\"method_not_found\"}}}\n");
	free(s);
	json_decref(j);

	j = rpc_error_new(json_integer(1), RPC_ERR_INTERNAL, json_integer(42),
	    "x");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(j, "error"), "data"), "value")), 42);
	json_decref(j);

	/* A message that is not UTF-8 is replaced, the error still sent. */
	j = rpc_error_new(json_integer(1), RPC_ERR_INTERNAL, NULL, "bad \xff");
	assert_string_equal(rpc_error_message_of(json_object_get(j, "error")),
	    "(message not UTF-8)");
	json_decref(j);
}

/* Readers fall back to the code, then to internal_error. */
static void
test_error_readers(void **state)
{
	json_t	*e;

	e = json_pack("{s:i,s:s}", "code", -32004, "message", "");
	assert_int_equal(rpc_error_kind_of(e), RPC_ERR_POOL_EXHAUSTED);
	assert_string_equal(rpc_error_message_of(e), "(no message)");
	json_decref(e);
	e = json_pack("{s:i,s:{s:s}}", "code", -32000, "data", "kind", "zzz");
	assert_int_equal(rpc_error_kind_of(e), RPC_ERR_INTERNAL);
	json_decref(e);
	assert_int_equal(rpc_error_kind_of(NULL), RPC_ERR_INTERNAL);
	assert_string_equal(rpc_error_message_of(NULL), "(no message)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_parse_error_position),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_length_bounded),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_builders_round_trip),
		cmocka_unit_test(test_error_shape),
		cmocka_unit_test(test_error_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
