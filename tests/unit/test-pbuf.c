/*
 * pbuf: protobuf-c messages into gRPC byte buffers and back — a round
 * trip, a reply that arrives in several slices, bytes that do not decode,
 * and the slice helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "pbuf.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__##x
#define DESC(x)	(&coreweave__sandbox__v1beta2__##x##__descriptor)

/* An ExecSandboxRequest with every kind of field it has set. */
static void
exec_request(PB(ExecSandboxRequest) *r)
{
	static char	*cmd[] = { "sh", "-c", "echo hi" };

	*r = (PB(ExecSandboxRequest))
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_SANDBOX_REQUEST__INIT;
	r->sandbox_id = "sbx-42";
	r->n_command = 3;
	r->command = cmd;
	r->max_timeout_seconds = 90;
	r->buffered_max_kib = 512;
}

static void
check_exec_request(const ProtobufCMessage *m)
{
	const PB(ExecSandboxRequest) *r = (const PB(ExecSandboxRequest) *)m;

	assert_non_null(m);
	assert_ptr_equal(m->descriptor, DESC(exec_sandbox_request));
	assert_string_equal(r->sandbox_id, "sbx-42");
	assert_int_equal(r->n_command, 3);
	assert_string_equal(r->command[2], "echo hi");
	assert_int_equal(r->max_timeout_seconds, 90);
	assert_int_equal(r->buffered_max_kib, 512);
}

/* Packed then unpacked, a message comes back the same. */
static void
test_round_trip(void **state)
{
	PB(ExecSandboxRequest)	 r;
	grpc_byte_buffer	*bb;
	ProtobufCMessage	*m;

	exec_request(&r);
	bb = pbuf_pack(&r.base);
	assert_int_equal(grpc_byte_buffer_length(bb),
	    protobuf_c_message_get_packed_size(&r.base));
	m = pbuf_unpack(bb, DESC(exec_sandbox_request));
	check_exec_request(m);
	protobuf_c_message_free_unpacked(m, NULL);
	grpc_byte_buffer_destroy(bb);
}

/* gRPC may hand a reply over in several slices: all are read. */
static void
test_unpack_many_slices(void **state)
{
	PB(ExecSandboxRequest)	 r;
	grpc_slice		 s[3];
	grpc_byte_buffer	*bb;
	ProtobufCMessage	*m;
	uint8_t			 buf[256];
	size_t			 len;

	exec_request(&r);
	len = protobuf_c_message_pack(&r.base, buf);
	assert_true(len > 10);
	s[0] = grpc_slice_from_copied_buffer((char *)buf, 3);
	s[1] = grpc_slice_from_copied_buffer((char *)buf + 3, 5);
	s[2] = grpc_slice_from_copied_buffer((char *)buf + 8, len - 8);
	bb = grpc_raw_byte_buffer_create(s, 3);
	grpc_slice_unref(s[0]);
	grpc_slice_unref(s[1]);
	grpc_slice_unref(s[2]);
	m = pbuf_unpack(bb, DESC(exec_sandbox_request));
	check_exec_request(m);
	protobuf_c_message_free_unpacked(m, NULL);
	grpc_byte_buffer_destroy(bb);
}

/* No reply, or bytes that are not the message: NULL, not a crash. */
static void
test_unpack_bad(void **state)
{
	/* Field 1 (a string) says 100 bytes follow; two do. */
	static const char	 bad[] = { 0x0a, 0x64, 'h', 'i' };
	grpc_slice		 s = grpc_slice_from_copied_buffer(bad,
				    sizeof bad);
	grpc_byte_buffer	*bb = grpc_raw_byte_buffer_create(&s, 1);

	grpc_slice_unref(s);
	assert_null(pbuf_unpack(NULL, DESC(exec_sandbox_request)));
	assert_null(pbuf_unpack(bb, DESC(exec_sandbox_request)));
	grpc_byte_buffer_destroy(bb);
}

/* An all-default message is zero bytes, and zero bytes decode to it. */
static void
test_empty_message(void **state)
{
	PB(ExecSandboxRequest)	 r =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_SANDBOX_REQUEST__INIT;
	PB(ExecSandboxRequest)	*back;
	grpc_byte_buffer	*bb = pbuf_pack(&r.base);

	assert_int_equal(grpc_byte_buffer_length(bb), 0);
	back = (PB(ExecSandboxRequest) *)pbuf_unpack(bb,
	    DESC(exec_sandbox_request));
	assert_non_null(back);
	assert_string_equal(back->sandbox_id, "");
	assert_int_equal(back->n_command, 0);
	protobuf_c_message_free_unpacked(&back->base, NULL);
	grpc_byte_buffer_destroy(bb);
}

/* pbuf_slice borrows the string; pbuf_slice_strdup copies and ends it. */
static void
test_slices(void **state)
{
	static const char	 name[] = "/svc/Method";
	grpc_slice		 s = pbuf_slice(name);
	char			*copy;

	assert_ptr_equal(GRPC_SLICE_START_PTR(s), name);
	assert_int_equal(GRPC_SLICE_LENGTH(s), strlen(name));
	grpc_slice_unref(s);
	s = grpc_slice_from_copied_buffer("abcdef", 3);
	copy = pbuf_slice_strdup(s);
	assert_string_equal(copy, "abc");
	free(copy);
	grpc_slice_unref(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unpack_many_slices),
		cmocka_unit_test(test_unpack_bad),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_slices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
