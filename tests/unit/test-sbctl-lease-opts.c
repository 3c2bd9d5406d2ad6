/*
 * sbctl's shared lease options, the command table and the error-kind to
 * exit-status map: a table of option cases and the params each must make.
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

#include <jansson.h>

#include "client/lease-opts.h"
#include "client/sbctl.h"
#include "jsonrpc.h"

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])

/* One option, its value, and the params it must produce (JSON text). */
static const struct {
	int		 id;
	const char	*arg;
	const char	*want;
} good_opts[] = {
	{ LOPT_IMAGE, "python:3.12", "{\"image\":\"python:3.12\"}" },
	{ LOPT_CPU, "500m", "{\"cpu\":\"500m\"}" },
	{ LOPT_MEMORY, "512Mi", "{\"memory\":\"512Mi\"}" },
	{ LOPT_GPU, "2", "{\"gpu_count\":2}" },
	{ LOPT_GPU, "0", "{\"gpu_count\":0}" },
	{ LOPT_GPU_TYPE, "A100", "{\"gpu_type\":\"A100\"}" },
	{ LOPT_ENV, "A=1", "{\"env\":{\"A\":\"1\"}}" },
	{ LOPT_ENV, "A=", "{\"env\":{\"A\":\"\"}}" },
	{ LOPT_ENV, "A=b=c", "{\"env\":{\"A\":\"b=c\"}}" },
	{ LOPT_TAG, "ci", "{\"tags\":[\"ci\"]}" },
	{ LOPT_TTL, "30m", "{\"ttl\":1800}" },
	{ LOPT_TTL, "90", "{\"ttl\":90}" },
	{ LOPT_TTL, "1500ms", "{\"ttl\":1.5}" },
	{ LOPT_WAIT, "1h30m", "{\"wait\":5400}" },
	{ LOPT_EGRESS, "none", "{\"egress\":\"none\"}" },
	{ LOPT_POOL, "py312", "{\"pool\":\"py312\"}" },
	{ LOPT_BIND, "process", "{\"bind\":\"process\"}" },
	{ LOPT_BIND, "connection", "{\"bind\":\"connection\"}" },
	{ LOPT_BIND, "none", "{\"bind\":\"none\"}" },
	{ LOPT_SECRET, "s:p:f:E", "{\"secrets\":[{\"store\":\"s\","
	    "\"path\":\"p\",\"field\":\"f\",\"env_var\":\"E\"}]}" },
	{ LOPT_SECRET, "s:a/b:c:d:f:E", "{\"secrets\":[{\"store\":\"s\","
	    "\"path\":\"a/b:c:d\",\"field\":\"f\",\"env_var\":\"E\"}]}" },
};

/* Values each option must refuse, with a word the message must hold. */
static const struct {
	int		 id;
	const char	*arg;
	const char	*why;
} bad_opts[] = {
	{ LOPT_IMAGE, "", "--image: needs a non-empty value" },
	{ LOPT_CPU, "", "--cpu" },
	{ LOPT_GPU, "-1", "--gpu: '-1'" },
	{ LOPT_GPU, "two", "--gpu: 'two'" },
	{ LOPT_GPU, "99999", "--gpu" },
	{ LOPT_ENV, "NOVALUE", "--env: 'NOVALUE' is not K=V" },
	{ LOPT_ENV, "=v", "is not K=V" },
	{ LOPT_TAG, "", "--tag" },
	{ LOPT_TTL, "soon", "--ttl: 'soon'" },
	{ LOPT_TTL, "-5s", "--ttl" },
	{ LOPT_WAIT, "", "--wait" },
	{ LOPT_POOL, "", "--pool: needs a non-empty value" },
	{ LOPT_BIND, "pid", "--bind: 'pid' is not connection, process or none" },
	{ LOPT_BIND, "", "--bind: '' is not" },
	{ LOPT_SECRET, "s:p:f", "is not STORE:PATH:FIELD:ENV" },
	{ LOPT_SECRET, ":p:f:E", "is not STORE:PATH:FIELD:ENV" },
	{ LOPT_SECRET, "s::f:E", "is not STORE:PATH:FIELD:ENV" },
	{ LOPT_SECRET, "s:p::E", "is not STORE:PATH:FIELD:ENV" },
	{ LOPT_SECRET, "s:p:f:", "is not STORE:PATH:FIELD:ENV" },
	{ LOPT_FILE, "nocolon", "is not LOCAL:REMOTE" },
	{ LOPT_FILE, ":/work/x", "is not LOCAL:REMOTE" },
	{ LOPT_FILE, "/etc/hostname:", "is not LOCAL:REMOTE" },
	{ LOPT_FILE, "/nonexistent/f:/work/f", "/nonexistent/f: No such file" },
};

/* Applies one option to fresh params and compares with the expected JSON. */
static void
test_good_options(void **state)
{
	json_t		*params, *want;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < NITEMS(good_opts); i++) {
		params = json_object();
		assert_int_equal(lease_opts_apply(params, good_opts[i].id,
		    good_opts[i].arg, err, sizeof err), 1);
		want = json_loads(good_opts[i].want, 0, NULL);
		assert_non_null(want);
		if (!json_equal(params, want)) {
			char *got = json_dumps(params, JSON_COMPACT);
			print_error("%s: got %s want %s\n", good_opts[i].arg,
			    got, good_opts[i].want);
			free(got);
			fail();
		}
		json_decref(want);
		json_decref(params);
	}
}

/* Every bad value is refused with a message naming the option. */
static void
test_bad_options(void **state)
{
	json_t		*params;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < NITEMS(bad_opts); i++) {
		params = json_object();
		err[0] = '\0';
		assert_int_equal(lease_opts_apply(params, bad_opts[i].id,
		    bad_opts[i].arg, err, sizeof err), -1);
		if (strstr(err, bad_opts[i].why) == NULL) {
			print_error("'%s': message '%s' lacks '%s'\n",
			    bad_opts[i].arg, err, bad_opts[i].why);
			fail();
		}
		json_decref(params);
	}
}

/* Repeated options accumulate; a later env value for a key wins. */
static void
test_repeats_accumulate(void **state)
{
	json_t	*params = json_object(), *want;
	char	 err[256];

	assert_int_equal(lease_opts_apply(params, LOPT_TAG, "a", err,
	    sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_TAG, "b", err,
	    sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_ENV, "K=1", err,
	    sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_ENV, "L=2", err,
	    sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_ENV, "K=3", err,
	    sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_SECRET, "s:p:f:A",
	    err, sizeof err), 1);
	assert_int_equal(lease_opts_apply(params, LOPT_SECRET, "t:q:g:B",
	    err, sizeof err), 1);
	want = json_loads("{\"tags\":[\"a\",\"b\"],\"env\":{\"K\":\"3\","
	    "\"L\":\"2\"},\"secrets\":[{\"store\":\"s\",\"path\":\"p\","
	    "\"field\":\"f\",\"env_var\":\"A\"},{\"store\":\"t\",\"path\":"
	    "\"q\",\"field\":\"g\",\"env_var\":\"B\"}]}", 0, NULL);
	assert_true(json_equal(params, want));
	json_decref(want);
	json_decref(params);
}

/* --file reads the local file and sends its bytes base64-encoded. */
static void
test_file_content(void **state)
{
	char		 path[] = "/tmp/sbctl-lopt-XXXXXX", arg[128], err[256];
	const char	 data[] = "\x00\xff\x01hello";
	json_t		*params = json_object(), *f;
	int		 fd;

	fd = mkstemp(path);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, sizeof data - 1), sizeof data - 1);
	close(fd);
	snprintf(arg, sizeof arg, "%s:/work/in", path);
	assert_int_equal(lease_opts_apply(params, LOPT_FILE, arg, err,
	    sizeof err), 1);
	unlink(path);
	f = json_array_get(json_object_get(params, "files"), 0);
	assert_string_equal(json_string_value(json_object_get(f, "path")),
	    "/work/in");
	/* base64 of 00 ff 01 68 65 6c 6c 6f */
	assert_string_equal(json_string_value(json_object_get(f, "data_b64")),
	    "AP8BaGVsbG8=");
	json_decref(params);
}

/* Ids that are not lease options are left to the command. */
static void
test_not_a_lease_option(void **state)
{
	json_t	*params = json_object();
	char	 err[64];

	assert_int_equal(lease_opts_apply(params, 'i', "x", err, sizeof err),
	    0);
	assert_int_equal(json_object_size(params), 0);
	json_decref(params);
}

/* The getopt table has every lease option, each taking a value. */
static void
test_getopt_table(void **state)
{
	struct option	 t[32];
	size_t		 n, i;

	n = lease_opts_getopt_table(t, NITEMS(t));
	assert_int_equal(n, LOPT_BIND - LOPT_IMAGE + 1);
	for (i = 0; i < n; i++) {
		assert_int_equal(t[i].has_arg, required_argument);
		assert_in_range(t[i].val, LOPT_IMAGE, LOPT_BIND);
	}
}

/* Commands are found by name and alias; every entry is complete. */
static void
test_command_table(void **state)
{
	const struct sbctl_cmd *const	*c;

	assert_ptr_equal(cmd_find("reclaim"), &cmd_reclaim_entry);
	assert_ptr_equal(cmd_find("release"), &cmd_reclaim_entry);
	assert_ptr_equal(cmd_find("run"), &cmd_run_entry);
	assert_ptr_equal(cmd_find("attach"), &cmd_attach_entry);
	assert_ptr_equal(cmd_find("ps"), &cmd_ps_entry);
	assert_ptr_equal(cmd_find("tail"), &cmd_tail_entry);
	assert_ptr_equal(cmd_find("pool"), &cmd_pool_entry);
	assert_ptr_equal(cmd_find("budget"), &cmd_budget_entry);
	assert_ptr_equal(cmd_find("renew"), &cmd_renew_entry);
	assert_null(cmd_find("rm"));
	assert_null(cmd_find(""));
	for (c = sbctl_cmds; *c != NULL; c++) {
		assert_non_null((*c)->name);
		assert_non_null((*c)->usage);
		assert_non_null((*c)->summary);
		assert_non_null((*c)->exec);
		assert_true((*c)->max_args == -1 ||
		    (*c)->max_args >= (*c)->min_args);
		assert_ptr_equal(cmd_find((*c)->name), *c);
	}
}

/* Lease ids: "l-" and eight of [a-z0-9], nothing else. */
static void
test_lease_ids(void **state)
{
	assert_true(sbctl_is_lease_id("l-7k3q9x2m"));
	assert_true(sbctl_is_lease_id("l-00000000"));
	assert_false(sbctl_is_lease_id("l-7k3q9x2"));
	assert_false(sbctl_is_lease_id("l-7k3q9x2mm"));
	assert_false(sbctl_is_lease_id("l-7K3Q9X2M"));
	assert_false(sbctl_is_lease_id("x-7k3q9x2m"));
	assert_false(sbctl_is_lease_id("l-7k3q9x/m"));
	assert_false(sbctl_is_lease_id(""));
}

/* Each error kind maps to the exit status sbctl(1) documents. */
static void
test_exit_statuses(void **state)
{
	static const struct { enum rpc_err e; int status; } map[] = {
		{ RPC_ERR_NOT_FOUND, 4 },
		{ RPC_ERR_LEASE_EXPIRED, 4 },
		{ RPC_ERR_LEASE_LOST, 4 },
		{ RPC_ERR_GATEWAY_UNAVAILABLE, 69 },
		{ RPC_ERR_BUDGET_EXCEEDED, 75 },
		{ RPC_ERR_POOL_EXHAUSTED, 75 },
		{ RPC_ERR_OVERLOADED, 75 },
		{ RPC_ERR_UNAUTHENTICATED, 77 },
		{ RPC_ERR_PERMISSION_DENIED, 77 },
		{ RPC_ERR_DEADLINE_EXCEEDED, 124 },
		{ RPC_ERR_INVALID_PARAMS, 1 },
		{ RPC_ERR_INTERNAL, 1 },
		{ RPC_ERR_SANDBOX_FAILED, 1 },
		{ RPC_ERR_GATEWAY_ERROR, 1 },
	};
	json_t	*msg;
	size_t	 i;

	for (i = 0; i < NITEMS(map); i++) {
		msg = rpc_error_new(json_integer(1), map[i].e, NULL, "x");
		assert_int_equal(sbctl_exit_for_error(json_object_get(msg,
		    "error")), map[i].status);
		json_decref(msg);
	}
}

/* Durations go out as whole seconds when whole, else fractional. */
static void
test_duration_json(void **state)
{
	json_t	*j;

	j = sbctl_duration_json(90000);
	assert_true(json_is_integer(j));
	assert_int_equal(json_integer_value(j), 90);
	json_decref(j);
	j = sbctl_duration_json(250);
	assert_true(json_is_real(j));
	assert_true(json_real_value(j) == 0.25);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_options),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_repeats_accumulate),
		cmocka_unit_test(test_file_content),
		cmocka_unit_test(test_not_a_lease_option),
		cmocka_unit_test(test_getopt_table),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_lease_ids),
		cmocka_unit_test(test_exit_statuses),
		cmocka_unit_test(test_duration_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
