/*
 * The gateway client's unary calls against the fake gateway
 * (helpers/gw-live.c): metadata on the wire, retries only where
 * idempotent, deadlines, and typed replies, refusals and bad bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "helpers/gw-live.h"

/* Get works, and every header arrives at the gateway. */
static void
test_get_and_metadata(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 5000);
	struct res	 r = { 0 };
	struct seen	 h;

	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_false(r.failed);
	assert_string_equal(r.id, "sb-1");
	assert_int_equal(r.sb.status, GW_STATUS_RUNNING);
	assert_false(r.sb.has_exit_code);
	seen_headers(&h);
	assert_string_equal(h.key, API_KEY);
	assert_string_equal(h.entity, "team-a");
	assert_string_equal(h.project, "proj-b");
	assert_string_equal(h.auth, "Bearer cw-token");
	gw_free(gw);
	assert_int_equal(r.n, 1);
	res_clear(&r);
}

/* A refused key maps to unauthenticated, with a line that says so. */
static void
test_bad_key(void **state)
{
	struct gw	*gw = client("wrong-key", 1, 5000);
	struct res	 r = { 0 };

	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_true(r.failed);
	assert_int_equal(r.err.rpc, RPC_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(r.err.message, "rejected the API key"));
	assert_null(strstr(r.err.message, "wrong-key"));
	gw_free(gw);
	res_clear(&r);
}

/* UNAVAILABLE twice: Get retries to success; Start is tried once only. */
static void
test_retries_only_idempotent(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 5000);
	struct res	 r = { 0 }, s = { 0 };
	struct gw_spec	 spec = { .image = "flaky" };
	json_t		*st;

	gw_get(gw, "flaky", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_false(r.failed);
	assert_int_equal(counted("Get:flaky"), 3);
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(st, "retries")), 2);
	json_decref(st);

	gw_start(gw, &spec, on_sandbox, &s);
	run_until(&s.n, 1);
	assert_true(s.failed);
	assert_int_equal(s.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(s.err.message, "gateway unavailable (unix:"));
	assert_non_null(strstr(s.err.message, "try again"));
	assert_int_equal(counted("Start:flaky"), 1);
	gw_free(gw);
	res_clear(&r);
	res_clear(&s);
}

/* A gateway that never answers: per-attempt deadlines, retried for Get. */
static void
test_deadlines(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 300);
	struct res	 r = { 0 }, s = { 0 };
	struct gw_spec	 spec = { .image = "hang" };

	gw_get(gw, "hang", on_sandbox, &r);
	gw_start(gw, &spec, on_sandbox, &s);
	run_until(&r.n, 1);
	run_until(&s.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_DEADLINE_EXCEEDED);
	assert_int_equal(s.err.rpc, RPC_ERR_DEADLINE_EXCEEDED);
	assert_non_null(strstr(r.err.message, "within 300 ms"));
	assert_true(counted("Get:hang") >= 2);
	assert_int_equal(counted("Start:hang"), 1);
	gw_free(gw);
	res_clear(&r);
	res_clear(&s);
}

/* Each typed call reads its reply, refusals and bad bytes included. */
static void
test_typed_calls(void **state)
{
	static const char *const argv[] = { "echo", "hi there" };
	static const char *const tag[] = { "sandboxd" };
	struct gw		*gw = client(API_KEY, 2, 5000);
	struct gw_exec_request	 xq = { .sandbox_id = "sb-1", .argv = argv,
	    .argc = 2, .timeout_s = 7 };
	struct res		 r[13];
	unsigned char		*blob = malloc(1 << 20);
	size_t			 i;
	int			 total = 0;

	memset(r, 0, sizeof r);
	for (i = 0; i < (1 << 20); i++)
		blob[i] = (unsigned char)(i * 7 + (i >> 9));
	gw_stop(gw, "missing", 5, on_done, &r[0]);
	gw_stop(gw, "refuse", 5, on_done, &r[1]);
	gw_get(gw, "missing", on_sandbox, &r[2]);
	gw_get(gw, "garbage", on_sandbox, &r[3]);
	gw_list(gw, tag, 1, true, on_list, &r[4]);
	gw_exec(gw, &xq, on_exec, &r[5]);
	gw_add_file(gw, "sb-1", "/data/blob", blob, 1 << 20, on_done, &r[6]);
	gw_stop(gw, "sb-1", 0, on_done, &r[7]);
	free(blob);	/* requests are copied at call time */
	gw_get(gw, NULL, on_sandbox, &r[8]);
	assert_int_equal(r[8].n, 0);	/* never from inside the call */
	gw_retrieve_file(gw, "sb-1", "/refused", on_bytes, &r[9]);
	gw_list(gw, NULL, 0, false, on_list, &r[10]);
	for (i = 0; i < 11; i++) {
		run_until(&r[i].n, 1);
		total += r[i].n;
	}
	assert_false(r[0].failed);
	assert_int_equal(r[1].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[1].err.message, "sandbox is busy"));
	assert_int_equal(r[2].err.rpc, RPC_ERR_NOT_FOUND);
	assert_int_equal(r[3].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[3].err.message, "malformed reply"));
	assert_false(r[4].failed);
	assert_int_equal(r[4].len, 3);
	assert_memory_equal(r[4].id, "abc", 3);
	assert_false(r[5].failed);
	assert_int_equal(r[5].len, 8);
	assert_memory_equal(r[5].data, "hi there", 8);
	assert_int_equal(r[5].exit_code, 2);
	assert_true(r[5].sb.has_exit_code);	/* timeout 7 reached it */
	assert_false(r[6].failed);
	assert_false(r[7].failed);
	assert_int_equal(r[8].err.rpc, RPC_ERR_INVALID_PARAMS);
	assert_int_equal(r[9].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[9].err.message, "path outside the sandbox"));
	assert_int_equal(r[10].len, 2);	/* one page */

	gw_retrieve_file(gw, "sb-1", "/data/blob", on_bytes, &r[11]);
	gw_add_file(gw, "sb-1", "/readonly/f", (const unsigned char *)"x", 1,
	    on_done, &r[12]);
	run_until(&r[11].n, 1);
	run_until(&r[12].n, 1);
	assert_int_equal(r[12].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[12].err.message,
	    "refused to write /readonly/f: read-only file system"));
	assert_false(r[11].failed);
	assert_int_equal(r[11].len, 1 << 20);
	for (i = 0; i < (1 << 20); i++)
		if (r[11].data[i] != (unsigned char)(i * 7 + (i >> 9)))
			fail_msg("byte %zu differs", i);
	gw_free(gw);
	for (i = 0; i < 13; i++) {
		assert_int_equal(r[i].n, 1);
		res_clear(&r[i]);
	}
	assert_int_equal(total, 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, live_setup, live_teardown)
		T(test_get_and_metadata),
		T(test_bad_key),
		T(test_retries_only_idempotent),
		T(test_deadlines),
		T(test_typed_calls),
#undef T
	};

	return cmocka_run_group_tests(tests, live_group_setup,
	    live_group_teardown);
}
