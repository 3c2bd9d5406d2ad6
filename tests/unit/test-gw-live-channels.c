/*
 * The gateway client's channels against the fake gateway
 * (helpers/gw-live.c): least-loaded spread over distinct connections,
 * gw_free with calls in flight (every callback once), and a target where
 * nothing listens.
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

/* Accepted connections to our socket, from /proc/net/unix. */
static int
connections(void)
{
	FILE	*f = fopen("/proc/net/unix", "r");
	char	 line[512];
	int	 n = 0;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strstr(line, sock_path) != NULL)
			n++;
	if (f != NULL)
		fclose(f);
	return n - 1;	/* less the listening socket */
}

static bool
all_ready(struct gw *gw)
{
	json_t	*st = gw_status_json(gw), *ch;
	size_t	 i;
	bool	 ok = true;

	json_array_foreach(json_object_get(st, "channels"), i, ch)
		if (strcmp(json_string_value(json_object_get(ch, "state")),
		    "ready") != 0)
			ok = false;
	json_decref(st);
	return ok;
}

/*
 * Four channels are four connections; eight hanging calls land two per
 * channel; gw_free then reports each of them once, cancelled.
 */
static void
test_least_loaded_and_free(void **state)
{
	struct gw	*gw;
	struct res	 r[8];
	json_t		*st, *ch;
	size_t		 i;
	int64_t		 end = gw_now_ms() + 20000;

	/* Earlier tests' connections close on the server side first. */
	while (connections() > 0 && gw_now_ms() < end)
		usleep(10000);
	assert_int_equal(connections(), 0);
	gw = client(API_KEY, 4, 30000);
	memset(r, 0, sizeof r);
	while (!all_ready(gw) && gw_now_ms() < end)
		run_for(20);
	assert_true(all_ready(gw));
	assert_int_equal(connections(), 4);
	for (i = 0; i < 8; i++)
		gw_get(gw, "hang", on_sandbox, &r[i]);
	while (counted("Get:hang") < 8 && gw_now_ms() < end)
		run_for(20);
	assert_int_equal(counted("Get:hang"), 8);
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(st, "inflight")), 8);
	assert_string_equal(json_string_value(json_object_get(st, "target")),
	    target);
	assert_true(json_is_false(json_object_get(st, "tls")));
	json_array_foreach(json_object_get(st, "channels"), i, ch) {
		assert_int_equal(json_integer_value(json_object_get(ch,
		    "inflight")), 2);
		assert_int_equal(json_integer_value(json_object_get(ch,
		    "calls")), 2);
	}
	json_decref(st);
	gw_free(gw);
	for (i = 0; i < 8; i++) {
		assert_int_equal(r[i].n, 1);
		assert_int_equal(r[i].err.rpc, RPC_ERR_CANCELLED);
		res_clear(&r[i]);
	}
}

/*
 * A target where nothing listens: the first failure marks the gateway
 * down, and from then on calls fail at once instead of going out.
 */
static void
test_unavailable(void **state)
{
	struct gw_options	 o = { .target = "unix:/tmp/sbx-nothing-here.sock",
	    .channels = 2, .call_timeout_ms = 3000, .api_key = API_KEY };
	struct gw		*gw;
	struct res		 r = { 0 };
	json_t			*st;
	json_int_t		 calls;
	char			*err = NULL;

	gw = gw_new(base, &o, &err);
	assert_non_null(gw);
	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(r.err.message,
	    "unix:/tmp/sbx-nothing-here.sock is unreachable"));
	assert_true(gw_down(gw));
	st = gw_status_json(gw);
	assert_true(json_is_true(json_object_get(st, "down")));
	assert_int_equal(json_integer_value(json_object_get(st, "retries")), 1);
	calls = json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 0), "calls")) +
	    json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 1), "calls"));
	json_decref(st);
	res_clear(&r);

	/*
	 * Down: the next call never reaches gRPC (no channel counts it), so
	 * it cannot wait on a connection attempt.
	 */
	gw_get(gw, "sb-2", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(r.err.message, "Get not sent"));
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 0), "calls")) +
	    json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 1), "calls")), calls);
	json_decref(st);
	gw_free(gw);
	res_clear(&r);

	o.channels = 0;
	assert_null(gw_new(base, &o, &err));
	assert_non_null(strstr(err, "channels"));
	free(err);
	o.channels = 1;
	o.tls = true;
	o.target = "localhost:1";
	o.ca_file = "/nonexistent/ca.pem";
	assert_null(gw_new(base, &o, &err));
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, live_setup, live_teardown)
		T(test_least_loaded_and_free),
		T(test_unavailable),
#undef T
	};

	return cmocka_run_group_tests(tests, live_group_setup,
	    live_group_teardown);
}
