/* stream_data_line: the hand-built exec.output / tail.data line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base64.h"
#include "daemon/stream.h"

/* Parses the line as a client would; checks framing on the way. */
static json_t *
parse_line(const char *line, size_t len)
{
	json_error_t	 je;
	json_t		*o;

	assert_true(len > 1);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	o = json_loadb(line, len - 1, 0, &je);
	if (o == NULL)
		fail_msg("not JSON: %s: %.*s", je.text, (int)len, line);
	assert_string_equal(json_string_value(json_object_get(o, "jsonrpc")),
	    "2.0");
	assert_null(json_object_get(o, "id"));
	return o;
}

/* exec.output: every field, the data byte for byte through base64. */
static void
test_exec_output_line(void **state)
{
	unsigned char	*data = malloc(65536), *back;
	char		*b64, *line;
	size_t		 len, i, backlen;
	json_t		*o, *p;
	struct stream_data sd = { "exec.output", "exec", "x-abcdefgh",
	    "stderr", NULL, 0, UINT64_C(1) << 40, 0 };

	for (i = 0; i < 65536; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	sd.b64 = b64 = b64_encode(data, 65536, &sd.b64len);
	line = stream_data_line(&sd, &len);
	assert_int_equal(strlen(line), len);
	o = parse_line(line, len);
	assert_string_equal(json_string_value(json_object_get(o, "method")),
	    "exec.output");
	p = json_object_get(o, "params");
	assert_int_equal(json_object_size(p), 4);
	assert_string_equal(json_string_value(json_object_get(p, "exec")),
	    "x-abcdefgh");
	assert_string_equal(json_string_value(json_object_get(p, "stream")),
	    "stderr");
	assert_int_equal(json_integer_value(json_object_get(p, "offset")),
	    (json_int_t)1 << 40);
	assert_int_equal(b64_decode(json_string_value(json_object_get(p,
	    "data_b64")), json_string_length(json_object_get(p, "data_b64")),
	    &back, &backlen), 0);
	assert_int_equal(backlen, 65536);
	assert_memory_equal(back, data, 65536);
	json_decref(o);
	free(back);
	free(line);
	free(b64);
	free(data);
}

/* tail.data: no stream; a time in seconds with its milliseconds exact. */
static void
test_tail_data_line(void **state)
{
	struct stream_data sd = { "tail.data", "tail", "t-23456789", NULL,
	    "aGk=", 4, 0, 1796172241909 };
	char		*line;
	size_t		 len;
	json_t		*o, *p;

	line = stream_data_line(&sd, &len);
	o = parse_line(line, len);
	p = json_object_get(o, "params");
	assert_int_equal(json_object_size(p), 4);
	assert_null(json_object_get(p, "stream"));
	assert_string_equal(json_string_value(json_object_get(p, "tail")),
	    "t-23456789");
	assert_string_equal(json_string_value(json_object_get(p, "data_b64")),
	    "aGk=");
	assert_int_equal(json_integer_value(json_object_get(p, "offset")), 0);
	assert_non_null(strstr(line, "\"time\":1796172241.909}"));
	assert_true(json_real_value(json_object_get(p, "time")) ==
	    1796172241.909);
	json_decref(o);
	free(line);

	/* No time asked for, and empty data. */
	sd.time_ms = 0;
	sd.b64 = "";
	sd.b64len = 0;
	sd.offset = 5;
	line = stream_data_line(&sd, &len);
	o = parse_line(line, len);
	p = json_object_get(o, "params");
	assert_null(json_object_get(p, "time"));
	assert_string_equal(json_string_value(json_object_get(p, "data_b64")),
	    "");
	json_decref(o);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_output_line),
		cmocka_unit_test(test_tail_data_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
