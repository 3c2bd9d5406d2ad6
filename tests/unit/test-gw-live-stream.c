/*
 * StreamExec through the gateway client against the fake gateway
 * (helpers/gw-live.c): callbacks in order, the stream's endings, pause,
 * cancel, keepalive on a quiet stream, and gw_free with a stream in
 * flight (every callback once).
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

struct xres {
	struct res	 r;
	unsigned char	*out;
	size_t		 outlen;
	int		 stderr_bytes;
	char		 session[32];
	struct gw_exec_stream *x;
	bool		 cancel_on_ready;
};

static void
x_ready(void *arg, const char *session)
{
	struct xres	*x = arg;

	x->r.order[x->r.norder++] = 'R';
	snprintf(x->session, sizeof x->session, "%s", session);
	if (x->cancel_on_ready)
		gw_exec_stream_cancel(x->x);
}

static void
x_output(void *arg, int stream, const unsigned char *d, size_t len)
{
	struct xres	*x = arg;

	if (x->r.norder == 0 || x->r.order[x->r.norder - 1] != 'O')
		x->r.order[x->r.norder++] = 'O';
	if (stream == 2) {
		x->stderr_bytes += (int)len;
		return;
	}
	x->out = realloc(x->out, x->outlen + len);
	memcpy(x->out + x->outlen, d, len);
	x->outlen += len;
}

static void
x_done(void *arg, const struct gw_error *err, int code)
{
	struct xres	*x = arg;

	x->r.order[x->r.norder++] = 'D';
	x->r.exit_code = code;
	res_error(&x->r, err);
}

static const struct gw_exec_stream_cbs xcbs = { x_ready, x_output, x_done };

static struct gw_exec_stream *
xstart(struct gw *gw, const char *mode, struct xres *x)
{
	const char	*argv[] = { mode, "arg" };
	struct gw_kv	 env[] = { { "K", "V" } };
	struct gw_exec_stream_request q = { .sandbox_id = "sb-1",
	    .argv = argv, .argc = 2, .env = env, .nenv = 1, .tty = false };

	x->x = gw_exec_stream_start(gw, &q, &xcbs, x);
	return x->x;
}

/* ready, the echoed stdin in order, then done with the exit code 3. */
static void
test_stream_echo(void **state)
{
	struct gw		*gw = client(API_KEY, 2, 5000);
	struct xres		 x = { 0 };
	struct gw_exec_stream	*s = xstart(gw, "echo", &x);
	size_t			 len = 300000, i;
	unsigned char		*in = malloc(len);

	for (i = 0; i < len; i++)
		in[i] = (unsigned char)(i % 251);
	gw_exec_stream_write(s, (const unsigned char *)"hello ", 6);
	gw_exec_stream_write(s, in, len);
	assert_true(gw_exec_stream_pending(s) > 0);
	gw_exec_stream_resize(s, 100, 40);
	gw_exec_stream_close_stdin(s);
	gw_exec_stream_write(s, in, 10);	/* after close: dropped */
	run_until(&x.r.n, 1);
	assert_false(x.r.failed);
	assert_int_equal(x.r.exit_code, 3);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "ROD");
	assert_string_equal(x.session, "sess-1");
	assert_int_equal(x.outlen, len + 6);
	assert_memory_equal(x.out, "hello ", 6);
	assert_memory_equal(x.out + 6, in, len);
	/* 300000 bytes in chunks of at most 64 KiB, plus "hello ". */
	assert_int_equal(counted("StreamExec:stdin"), 1 + (len + 65535) / 65536);
	assert_int_equal(counted("StreamExec:resize"), 1);
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	free(in);
	free(x.out);
	res_clear(&x.r);
}

/* No exit frame is an error; an error frame maps its code; stderr is 2. */
static void
test_stream_endings(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 5000);
	struct xres	 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct gw_exec_stream_request bad = { .sandbox_id = "sb-1" };

	gw_exec_stream_close_stdin(xstart(gw, "noexit", &a));
	xstart(gw, "errframe", &b);
	gw_exec_stream_close_stdin(xstart(gw, "stderr", &c));
	d.x = gw_exec_stream_start(gw, &bad, &xcbs, &d);
	assert_int_equal(d.r.n, 0);
	run_until(&a.r.n, 1);
	run_until(&b.r.n, 1);
	run_until(&c.r.n, 1);
	run_until(&d.r.n, 1);
	assert_int_equal(a.r.err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_string_equal(a.r.err.message,
	    "stream ended without an exit status");
	assert_int_equal(b.r.err.rpc, RPC_ERR_NOT_FOUND);
	assert_non_null(strstr(b.r.err.message, "boom"));
	assert_false(c.r.failed);
	assert_int_equal(c.r.exit_code, 3);
	assert_int_equal(c.stderr_bytes, 9);
	assert_int_equal(d.r.err.rpc, RPC_ERR_INVALID_PARAMS);
	assert_string_equal(d.r.order, "D");
	gw_free(gw);
	res_clear(&a.r);
	res_clear(&b.r);
	res_clear(&c.r);
	res_clear(&d.r);
}

/* Cancel from inside a callback: on_done once, with cancelled. */
static void
test_stream_cancel(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 5000);
	struct xres	 x = { .cancel_on_ready = true };

	xstart(gw, "hang", &x);
	run_until(&x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "RD");
	run_for(50);
	assert_int_equal(x.r.n, 1);
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	res_clear(&x.r);
}

/* Paused: nothing read past the first frame until resumed; then all. */
static void
test_stream_pause(void **state)
{
	struct gw		*gw = client(API_KEY, 1, 5000);
	struct xres		 x = { 0 };
	struct gw_exec_stream	*s = xstart(gw, "echo", &x);
	int64_t			 end = gw_now_ms() + 20000;

	gw_exec_stream_pause(s, true);
	gw_exec_stream_write(s, (const unsigned char *)"abc", 3);
	gw_exec_stream_write(s, (const unsigned char *)"def", 3);
	gw_exec_stream_close_stdin(s);
	while (counted("StreamExec:close") < 1 && gw_now_ms() < end)
		run_for(20);
	run_for(100);
	assert_int_equal(x.r.n, 0);
	assert_int_equal(x.outlen, 0);	/* at most "ready" came through */
	gw_exec_stream_pause(s, false);
	run_until(&x.r.n, 1);
	assert_false(x.r.failed);
	assert_int_equal(x.r.exit_code, 3);
	assert_int_equal(x.outlen, 6);
	assert_memory_equal(x.out, "abcdef", 6);
	gw_free(gw);
	free(x.out);
	res_clear(&x.r);
}

/*
 * Keepalive pings on a quiet stream must not make a default server close
 * the connection (too many pings): the stream outlives many ping periods.
 */
static void
test_keepalive_quiet_stream(void **state)
{
	struct gw_options	 o = { .target = target, .channels = 1,
	    .call_timeout_ms = 5000, .keepalive_ms = 100,
	    .api_key = API_KEY };
	struct gw		*gw;
	struct xres		 x = { 0 };
	char			*err = NULL;

	assert_non_null(gw = gw_new(base, &o, &err));
	xstart(gw, "hang", &x);
	run_for(6000);
	assert_int_equal(x.r.n, 0);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "R");
	gw_exec_stream_cancel(x.x);
	run_until(&x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	gw_free(gw);
	res_clear(&x.r);
}

/* gw_free with a stream and a call in flight: each reports once. */
static void
test_free_with_stream(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 30000);
	struct xres	 x = { 0 };
	struct res	 r = { 0 };
	int64_t		 end = gw_now_ms() + 20000;

	xstart(gw, "hang", &x);
	gw_get(gw, "hang", on_sandbox, &r);
	while ((x.r.norder == 0 || counted("Get:hang") < 1) &&
	    gw_now_ms() < end)
		run_for(20);
	assert_int_equal(x.r.order[0], 'R');
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_CANCELLED);
	res_clear(&x.r);
	res_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, live_setup, live_teardown)
		T(test_stream_echo),
		T(test_stream_endings),
		T(test_stream_cancel),
		T(test_stream_pause),
		T(test_free_with_stream),
		T(test_keepalive_quiet_stream),
#undef T
	};

	return cmocka_run_group_tests(tests, live_group_setup,
	    live_group_teardown);
}
