/*
 * The gateway client's pure parts: status mapping table and messages,
 * backoff schedule and jitter bounds, channel choice, Start request built
 * from a spec (every field, secrets grouped by store), replies read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/gw-internal.h"
#include "pbuf.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x

static const struct {
	int		 code;
	enum rpc_err	 rpc;
	bool		 retry;
	const char	*needle;	/* must appear in the message */
} map_cases[] = {
	{ GRPC_STATUS_UNAUTHENTICATED, RPC_ERR_UNAUTHENTICATED, false,
	    "gateway rejected the API key (UNAUTHENTICATED): why" },
	{ GRPC_STATUS_PERMISSION_DENIED, RPC_ERR_PERMISSION_DENIED, false,
	    "entity and API key (PERMISSION_DENIED): why" },
	{ GRPC_STATUS_NOT_FOUND, RPC_ERR_NOT_FOUND, false,
	    "not found at the gateway (NOT_FOUND): why" },
	{ GRPC_STATUS_DEADLINE_EXCEEDED, RPC_ERR_DEADLINE_EXCEEDED, true,
	    "(DEADLINE_EXCEEDED): why" },
	{ GRPC_STATUS_UNAVAILABLE, RPC_ERR_GATEWAY_UNAVAILABLE, true,
	    "gateway unavailable (unix:/run/x.sock): why" },
	{ GRPC_STATUS_RESOURCE_EXHAUSTED, RPC_ERR_OVERLOADED, true,
	    "(RESOURCE_EXHAUSTED): why" },
	{ GRPC_STATUS_FAILED_PRECONDITION, RPC_ERR_INVALID_STATE, false,
	    "(FAILED_PRECONDITION): why" },
	{ GRPC_STATUS_INVALID_ARGUMENT, RPC_ERR_INVALID_PARAMS, false,
	    "gateway rejected the request (INVALID_ARGUMENT): why" },
	{ GRPC_STATUS_CANCELLED, RPC_ERR_CANCELLED, false,
	    "call cancelled (CANCELLED): why" },
	{ GRPC_STATUS_INTERNAL, RPC_ERR_GATEWAY_ERROR, false,
	    "gateway error (INTERNAL): why" },
	{ GRPC_STATUS_UNKNOWN, RPC_ERR_GATEWAY_ERROR, false,
	    "gateway error (UNKNOWN): why" },
	{ GRPC_STATUS_ABORTED, RPC_ERR_GATEWAY_ERROR, false, "(ABORTED)" },
	{ GRPC_STATUS_UNIMPLEMENTED, RPC_ERR_GATEWAY_ERROR, false,
	    "(UNIMPLEMENTED)" },
	{ GRPC_STATUS_DATA_LOSS, RPC_ERR_GATEWAY_ERROR, false, "(DATA_LOSS)" },
	{ 99, RPC_ERR_GATEWAY_ERROR, false, "gateway error (UNKNOWN): why" },
};

/* Every status code maps to its kind, retry class and a readable line. */
static void
test_status_table(void **state)
{
	struct gw_error	 e;
	size_t		 i;

	for (i = 0; i < sizeof map_cases / sizeof map_cases[0]; i++) {
		assert_int_equal(gw_map_code(map_cases[i].code),
		    map_cases[i].rpc);
		assert_int_equal(gw_code_retryable(map_cases[i].code),
		    map_cases[i].retry);
		gw_error_from_status(&e, map_cases[i].code, "why\n",
		    "unix:/run/x.sock");
		assert_int_equal(e.rpc, map_cases[i].rpc);
		assert_int_equal(e.grpc_code, map_cases[i].code);
		if (strstr(e.message, map_cases[i].needle) == NULL)
			fail_msg("code %d: \"%s\" lacks \"%s\"",
			    map_cases[i].code, e.message, map_cases[i].needle);
		assert_null(strchr(e.message, '\n'));
		gw_error_clear(&e);
	}
}

/* Names both ways, as error frames carry them. */
static void
test_code_names(void **state)
{
	assert_string_equal(gw_code_name(GRPC_STATUS_UNAVAILABLE),
	    "UNAVAILABLE");
	assert_int_equal(gw_code_from_name("NOT_FOUND"), GRPC_STATUS_NOT_FOUND);
	assert_int_equal(gw_code_from_name("not_found"), GRPC_STATUS_NOT_FOUND);
	assert_int_equal(gw_code_from_name("EXIT_FAILURE"), -1);
	assert_int_equal(gw_code_from_name(NULL), -1);
}

/* Gateway details become one bounded line; no details, no colon. */
static void
test_details_one_line(void **state)
{
	struct gw_error	 e;
	char		 big[2000], *s;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[10] = '\n';
	big[11] = '\r';
	s = gw_one_line(big, strlen(big));
	assert_int_equal(strlen(s), GW_DETAILS_MAX + 3);
	assert_null(strchr(s, '\n'));
	assert_null(strchr(s, '\r'));
	assert_string_equal(s + GW_DETAILS_MAX, "...");
	free(s);
	gw_error_from_status(&e, GRPC_STATUS_UNAVAILABLE, "", "h:1");
	assert_string_equal(e.message, "gateway unavailable (h:1)");
	gw_error_clear(&e);
	gw_error_from_status(&e, GRPC_STATUS_NOT_FOUND, NULL, "h:1");
	assert_string_equal(e.message, "not found at the gateway (NOT_FOUND)");
	gw_error_clear(&e);
}

/* 100 ms doubling to a 2 s cap, each delay in [base/2, base]. */
static void
test_backoff(void **state)
{
	static const int64_t base[] = { 100, 200, 400, 800, 1600, 2000, 2000 };
	uint32_t	 r;
	size_t		 i;
	int64_t		 d, lo, hi;

	for (i = 0; i < sizeof base / sizeof base[0]; i++) {
		assert_int_equal(gw_backoff_ms((int)i + 1, 0), base[i] / 2);
		assert_int_equal(gw_backoff_ms((int)i + 1, (uint32_t)base[i] / 2),
		    base[i]);
		lo = INT64_MAX;
		hi = 0;
		for (r = 0; r < 5000; r++) {
			d = gw_backoff_ms((int)i + 1, r * 2654435761u);
			assert_true(d >= base[i] / 2 && d <= base[i]);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		assert_true(hi > lo);	/* it is jittered */
	}
	assert_int_equal(gw_backoff_ms(1000, UINT32_MAX) <= 2000, 1);
}

/* READY beats IDLE beats CONNECTING; then the fewest calls in flight. */
static void
test_pick(void **state)
{
	grpc_connectivity_state	 st[4] = { GRPC_CHANNEL_READY,
	    GRPC_CHANNEL_READY, GRPC_CHANNEL_IDLE, GRPC_CHANNEL_READY };
	int			 in[4] = { 3, 1, 0, 1 };

	assert_int_equal(gw_pick_index(st, in, 4), 1);
	in[1] = 2;
	assert_int_equal(gw_pick_index(st, in, 4), 3);
	st[0] = st[1] = st[3] = GRPC_CHANNEL_TRANSIENT_FAILURE;
	assert_int_equal(gw_pick_index(st, in, 4), 2);
	st[2] = GRPC_CHANNEL_CONNECTING;
	in[2] = 9;
	assert_int_equal(gw_pick_index(st, in, 4), 2);
	st[2] = GRPC_CHANNEL_TRANSIENT_FAILURE;
	assert_int_equal(gw_pick_index(st, in, 4), 3);
	assert_int_equal(gw_pick_index(st, in, 1), 0);
}

static const char *const args[] = { "train.py", "--epochs=3" };
static const char *const tags[] = { "sandboxd", "inst-1", "req-9" };
static const struct gw_kv env[] = { { "A", "1" }, { "B", "" } };
static const struct gw_file files[] = {
	{ "/etc/app.conf", (const unsigned char *)"k=v\n", 4 },
	{ "/empty", NULL, 0 },
};
static const struct gw_secret secrets[] = {
	{ "vault", "db", "password", "DB_PASSWORD" },
	{ "wandb", "keys", "openai", "OPENAI_API_KEY" },
	{ "vault", "db", "user", "DB_USER" },
};

/* A spec with every field set, built, packed and read back off the wire. */
static void
test_build_start_full(void **state)
{
	struct gw_spec			 sp = {
		.command = "python", .args = args, .nargs = 2,
		.image = "python:3.12", .cpu = "250m", .memory = "512Mi",
		.gpu_count = 1, .gpu_type = "A100", .env = env, .nenv = 2,
		.tags = tags, .ntags = 3, .files = files, .nfiles = 2,
		.secrets = secrets, .nsecrets = 3, .egress = "none",
		.max_lifetime_s = 1800,
	};
	struct gw_arena			 a = { 0 };
	const char			*err = NULL;
	PB(StartSandboxRequest)		*r;
	grpc_byte_buffer		*bb;

	assert_non_null(gw_build_start(&a, &sp, &err));
	bb = pbuf_pack(&gw_build_start(&a, &sp, &err)->base);
	gw_arena_free(&a);
	r = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__start_sandbox_request__descriptor);
	grpc_byte_buffer_destroy(bb);
	assert_non_null(r);
	assert_string_equal(r->command, "python");
	assert_int_equal(r->n_args, 2);
	assert_string_equal(r->args[1], "--epochs=3");
	assert_string_equal(r->container_image, "python:3.12");
	assert_int_equal(r->n_tags, 3);
	assert_string_equal(r->tags[2], "req-9");
	assert_non_null(r->resources);
	assert_string_equal(r->resources->cpu, "250m");
	assert_string_equal(r->resources->memory, "512Mi");
	assert_non_null(r->resources->gpu);
	assert_int_equal(r->resources->gpu->gpu_count, 1);
	assert_int_equal(r->resources->gpu->spec_case,
	    COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_TYPE);
	assert_string_equal(r->resources->gpu->gpu_type, "A100");
	assert_int_equal(r->n_environment_variables, 2);
	assert_string_equal(r->environment_variables[0]->key, "A");
	assert_string_equal(r->environment_variables[0]->value, "1");
	assert_string_equal(r->environment_variables[1]->key, "B");
	assert_string_equal(r->environment_variables[1]->value, "");
	assert_int_equal(r->n_mounted_files, 2);
	assert_string_equal(r->mounted_files[0]->mount_path, "/etc/app.conf");
	assert_int_equal(r->mounted_files[0]->file_content.len, 4);
	assert_memory_equal(r->mounted_files[0]->file_content.data, "k=v\n", 4);
	assert_int_equal(r->mounted_files[1]->file_content.len, 0);
	/* Grouped by store, in order of first mention, mappings in order. */
	assert_int_equal(r->n_secret_stores, 2);
	assert_string_equal(r->secret_stores[0]->store_name, "vault");
	assert_int_equal(r->secret_stores[0]->n_secrets, 2);
	assert_string_equal(r->secret_stores[0]->secrets[0]->env_var,
	    "DB_PASSWORD");
	assert_string_equal(r->secret_stores[0]->secrets[1]->field, "user");
	assert_string_equal(r->secret_stores[1]->store_name, "wandb");
	assert_int_equal(r->secret_stores[1]->n_secrets, 1);
	assert_string_equal(r->secret_stores[1]->secrets[0]->path, "keys");
	assert_non_null(r->network);
	assert_string_equal(r->network->egress_mode, "none");
	assert_int_equal(r->max_lifetime_seconds, 1800);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* No command: the idle keep-alive; nothing optional is sent. */
static void
test_build_start_minimal(void **state)
{
	struct gw_spec		 sp = { .image = "ubuntu:24.04" };
	struct gw_arena		 a = { 0 };
	const char		*err = NULL;
	PB(StartSandboxRequest)	*r = gw_build_start(&a, &sp, &err);

	assert_non_null(r);
	assert_string_equal(r->command, "sleep");
	assert_int_equal(r->n_args, 1);
	assert_string_equal(r->args[0], "infinity");
	assert_null(r->resources);
	assert_null(r->network);
	assert_int_equal(r->n_secret_stores, 0);
	assert_int_equal(r->n_environment_variables, 0);
	gw_arena_free(&a);
}

/* Specs that cannot be sent say why. */
static void
test_build_start_invalid(void **state)
{
	static const struct gw_kv	 badenv[] = { { "A=B", "x" } };
	static const struct gw_file	 relfile[] = { { "etc/x", NULL, 0 } };
	static const struct gw_secret	 nostore[] = { { NULL, "p", "f", "E" } };
	struct gw_spec			 sp = { .image = "i" };
	struct gw_arena			 a = { 0 };
	const char			*err = NULL;

	sp.env = badenv, sp.nenv = 1;
	assert_null(gw_build_start(&a, &sp, &err));
	assert_non_null(strstr(err, "environment"));
	sp.nenv = 0, sp.files = relfile, sp.nfiles = 1;
	assert_null(gw_build_start(&a, &sp, &err));
	assert_non_null(strstr(err, "absolute"));
	sp.nfiles = 0, sp.secrets = nostore, sp.nsecrets = 1;
	assert_null(gw_build_start(&a, &sp, &err));
	assert_non_null(strstr(err, "store"));
	sp.nsecrets = -1;
	assert_null(gw_build_start(&a, &sp, &err));
	gw_arena_free(&a);
}

/* StreamExec init: argv as command, tty and size, env map. */
static void
test_build_exec_init(void **state)
{
	static const char *const argv[] = { "sh", "-c", "cat" };
	struct gw_exec_stream_request	 q = { .sandbox_id = "sb-1",
	    .argv = argv, .argc = 3, .env = env, .nenv = 2, .tty = true,
	    .tty_width = 80, .tty_height = 24 };
	struct gw_arena			 a = { 0 };
	const char			*err = NULL;
	PB(ExecStreamRequest)		*r = gw_build_exec_init(&a, &q, &err);

	assert_non_null(r);
	assert_int_equal(r->request_case,
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT);
	assert_string_equal(r->init->sandbox_id, "sb-1");
	assert_int_equal(r->init->n_command, 3);
	assert_string_equal(r->init->command[2], "cat");
	assert_true(r->init->tty);
	assert_int_equal(r->init->tty_width, 80);
	assert_int_equal(r->init->n_env, 2);
	q.argc = 0;
	assert_null(gw_build_exec_init(&a, &q, &err));
	assert_string_equal(err, "command is empty");
	q.argc = 3, q.sandbox_id = "";
	assert_null(gw_build_exec_init(&a, &q, &err));
	assert_string_equal(err, "sandbox id is empty");
	gw_arena_free(&a);
}

/* Get: the optional exit code's presence survives the wire. */
static void
test_read_get(void **state)
{
	PB(GetSandboxResponse)		 g =
	    COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE__INIT;
	Google__Protobuf__Timestamp	 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	PB(GetSandboxResponse)		*back;
	grpc_byte_buffer		*bb;
	struct gw_sandbox		 sb;

	g.sandbox_id = "sb-7";
	g.sandbox_status = COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_COMPLETED;
	g.status_reason = "main command exited";
	ts.seconds = 1700000000;
	ts.nanos = 250000000;
	g.started_at_time = &ts;
	g._exit_code_case =
	    COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE___EXIT_CODE_EXIT_CODE;
	g.exit_code = 0;	/* zero, yet present */
	bb = pbuf_pack(&g.base);
	back = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__get_sandbox_response__descriptor);
	grpc_byte_buffer_destroy(bb);
	gw_read_get(back, &sb);
	assert_string_equal(sb.id, "sb-7");
	assert_int_equal(sb.status, GW_STATUS_COMPLETED);
	assert_true(gw_status_terminal(sb.status));
	assert_string_equal(gw_status_name(sb.status), "completed");
	assert_string_equal(sb.status_reason, "main command exited");
	assert_true(sb.has_exit_code);
	assert_int_equal(sb.exit_code, 0);
	assert_int_equal(sb.started_at_ms, 1700000000250LL);
	protobuf_c_message_free_unpacked(&back->base, NULL);

	/* Absent exit code, no reason, no time, a status from the future. */
	g = (PB(GetSandboxResponse))COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE__INIT;
	g.sandbox_status = 42;
	bb = pbuf_pack(&g.base);
	back = (void *)pbuf_unpack(bb,
	    &coreweave__sandbox__v1beta2__get_sandbox_response__descriptor);
	grpc_byte_buffer_destroy(bb);
	gw_read_get(back, &sb);
	assert_false(sb.has_exit_code);
	assert_string_equal(sb.status_reason, "");
	assert_int_equal(sb.status, GW_STATUS_UNSPECIFIED);
	assert_int_equal(sb.started_at_ms, 0);
	protobuf_c_message_free_unpacked(&back->base, NULL);
}

/* Start and List replies read the same fields. */
static void
test_read_start_info(void **state)
{
	PB(StartSandboxResponse)	 s =
	    COREWEAVE__SANDBOX__V1BETA2__START_SANDBOX_RESPONSE__INIT;
	PB(SandboxInfo)			 i =
	    COREWEAVE__SANDBOX__V1BETA2__SANDBOX_INFO__INIT;
	struct gw_sandbox		 sb;

	s.sandbox_id = "sb-1";
	s.sandbox_status = COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_CREATING;
	gw_read_start(&s, &sb);
	assert_string_equal(sb.id, "sb-1");
	assert_int_equal(sb.status, GW_STATUS_CREATING);
	assert_false(sb.has_exit_code);
	assert_false(gw_status_terminal(sb.status));
	i.sandbox_id = "sb-2";
	i.sandbox_status = COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_TERMINATING;
	gw_read_info(&i, &sb);
	assert_string_equal(sb.id, "sb-2");
	assert_string_equal(gw_status_name(sb.status), "terminating");
	assert_string_equal(gw_status_name(8), "unspecified");
	assert_string_equal(gw_status_name(1000), "unspecified");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_details_one_line),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_build_start_full),
		cmocka_unit_test(test_build_start_minimal),
		cmocka_unit_test(test_build_start_invalid),
		cmocka_unit_test(test_build_exec_init),
		cmocka_unit_test(test_read_get),
		cmocka_unit_test(test_read_start_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
