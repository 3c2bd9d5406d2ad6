/*
 * linebuf: the control protocol's line framing, as sandboxd and sbctl see
 * it — lines split across reads, CRLF, exactly the limit and one byte
 * past it, and dropping an over-long line up to its newline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "linebuf.h"

#define MAX	16

static int
setup(void **state)
{
	if ((*state = evbuffer_new()) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	evbuffer_free(*state);
	return 0;
}

static void
add(struct evbuffer *in, const char *s)
{
	assert_int_equal(evbuffer_add(in, s, strlen(s)), 0);
}

/* Expects the next line to be `want` (no newline), and takes it. */
static void
expect_line(struct linebuf *lb, struct evbuffer *in, const char *want)
{
	size_t	 len = (size_t)-1;

	assert_int_equal(linebuf_next(lb, in, MAX, &len), LINEBUF_LINE);
	assert_int_equal(len, strlen(want));
	if (len > 0)
		assert_memory_equal(evbuffer_pullup(in, len), want, len);
	linebuf_drain(lb, in, len);
}

static void
expect(struct linebuf *lb, struct evbuffer *in, enum linebuf_status want)
{
	size_t	 len;

	assert_int_equal(linebuf_next(lb, in, MAX, &len), want);
}

/* Two lines and an empty one in one read come out one by one. */
static void
test_lines_in_one_read(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };

	add(in, "{\"a\":1}\n\n{\"b\":2}\n");
	expect_line(&lb, in, "{\"a\":1}");
	expect_line(&lb, in, "");
	expect_line(&lb, in, "{\"b\":2}");
	expect(&lb, in, LINEBUF_MORE);
	assert_int_equal(evbuffer_get_length(in), 0);
}

/*
 * A line split across reads waits for its newline, and each search starts
 * where the last one stopped: a long line in many reads is O(n).
 */
static void
test_line_split_across_reads(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };

	add(in, "{\"met");
	expect(&lb, in, LINEBUF_MORE);
	assert_int_equal(lb.scanned, 5);
	add(in, "hod\":");
	expect(&lb, in, LINEBUF_MORE);
	assert_int_equal(lb.scanned, 10);
	add(in, "1}\n{\"x");
	expect_line(&lb, in, "{\"method\":1}");
	expect(&lb, in, LINEBUF_MORE);
	add(in, "\":2}\n");
	expect_line(&lb, in, "{\"x\":2}");
}

/* The line stays put until drained: asking again finds it again. */
static void
test_line_stays_until_drained(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };
	size_t		 len;

	add(in, "abc\nde");
	assert_int_equal(linebuf_next(&lb, in, MAX, &len), LINEBUF_LINE);
	assert_int_equal(len, 3);
	assert_int_equal(linebuf_next(&lb, in, MAX, &len), LINEBUF_LINE);
	assert_int_equal(len, 3);
	linebuf_drain(&lb, in, len);
	assert_int_equal(evbuffer_get_length(in), 2);
	expect(&lb, in, LINEBUF_MORE);
}

/*
 * Only '\n' ends a line: a '\r' before it stays in the line (JSON takes
 * it for whitespace, and a lone "\r" is a blank keep-alive), as does one
 * in the middle; CR and LF split across reads are one line end.
 */
static void
test_crlf(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };

	add(in, "{}\r\n\r\na\rb\n{}\r");
	expect_line(&lb, in, "{}\r");
	expect_line(&lb, in, "\r");
	expect_line(&lb, in, "a\rb");
	expect(&lb, in, LINEBUF_MORE);
	add(in, "\n");
	expect_line(&lb, in, "{}\r");
}

/* Exactly max bytes is a line; without its newline yet, it waits. */
static void
test_exactly_max(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };
	char		 line[MAX + 1];

	memset(line, 'x', MAX);
	line[MAX] = '\0';
	add(in, line);
	expect(&lb, in, LINEBUF_MORE);
	add(in, "\n");
	expect_line(&lb, in, line);
}

/*
 * max + 1 bytes is refused, whether its newline has come or not, and
 * refused again until the caller skips it (sbctl gives up instead).
 */
static void
test_max_plus_one(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };
	char		 line[MAX + 2];

	memset(line, 'x', MAX + 1);
	line[MAX + 1] = '\0';
	add(in, line);
	expect(&lb, in, LINEBUF_TOO_LONG);
	expect(&lb, in, LINEBUF_TOO_LONG);
	add(in, "\nok\n");
	expect(&lb, in, LINEBUF_TOO_LONG);
	linebuf_skip(&lb);
	expect(&lb, in, LINEBUF_SKIPPED);
	expect_line(&lb, in, "ok");
}

/*
 * Skipping drops an over-long line as it arrives (its bytes are never
 * held) up to its newline; the line after it is read as usual.
 */
static void
test_skip_to_newline(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };
	char		 big[3 * MAX];

	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	add(in, big);
	expect(&lb, in, LINEBUF_TOO_LONG);
	linebuf_skip(&lb);
	expect(&lb, in, LINEBUF_MORE);
	assert_int_equal(evbuffer_get_length(in), 0);
	add(in, big);
	expect(&lb, in, LINEBUF_MORE);
	assert_int_equal(evbuffer_get_length(in), 0);
	add(in, "end of the big one\n{\"next\":1}\n");
	expect(&lb, in, LINEBUF_SKIPPED);
	expect_line(&lb, in, "{\"next\":1}");
	expect(&lb, in, LINEBUF_MORE);
}

/* A line over many buffer chains is found and read whole. */
static void
test_line_over_chains(void **state)
{
	struct evbuffer	*in = *state;
	struct linebuf	 lb = { 0 };
	static const char *const parts[] = { "{\"a\"", ":", "\"b\"", "}\n" };
	size_t		 i;

	for (i = 0; i < 4; i++) {
		expect(&lb, in, LINEBUF_MORE);
		assert_int_equal(evbuffer_add_reference(in, parts[i],
		    strlen(parts[i]), NULL, NULL), 0);
	}
	expect_line(&lb, in, "{\"a\":\"b\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_in_one_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_split_across_reads,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_stays_until_drained,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_max, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max_plus_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_skip_to_newline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_over_chains, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
