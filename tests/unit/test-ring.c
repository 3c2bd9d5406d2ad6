/* The output ring: offsets, tags, trimming that spares unread bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/ring.h"

/* Reads [off, end) back, checking each segment's tag. */
static void
read_all(struct ring *r, uint64_t off, char *out, size_t *n, int *tags)
{
	int64_t	 ts;
	size_t	 k;
	int	 tag, i = 0;

	*n = 0;
	while ((k = ring_read(r, off, out + *n, 3, &tag, &ts)) > 0) {
		tags[i++] = tag;
		*n += k;
		off += k;
	}
	tags[i] = -1;
}

static void
test_offsets_and_tags(void **state)
{
	struct ring	*r = ring_new(1 << 20);
	char		 buf[64];
	int		 tags[16];
	size_t		 n;

	ring_add(r, 1, 0, "abcd", 4);
	ring_add(r, 1, 0, "ef", 2);		/* merges: one segment */
	ring_add(r, 2, 0, "XY", 2);
	assert_int_equal(ring_start(r), 0);
	assert_int_equal(ring_end(r), 8);
	assert_int_equal(ring_used(r), 8 + 2 * RING_SEG_COST);
	read_all(r, 0, buf, &n, tags);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "abcdefXY", 8);
	/* chunks of at most 3, never across a tag change */
	assert_int_equal(tags[0], 1);
	assert_int_equal(tags[1], 1);
	assert_int_equal(tags[2], 2);
	assert_int_equal(tags[3], -1);
	read_all(r, 5, buf, &n, tags);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "fXY", 3);
	assert_int_equal(ring_read(r, 8, buf, 3, &tags[0], &(int64_t){0}), 0);
	ring_free(r);
}

static void
test_trim_keeps_unread(void **state)
{
	struct ring	*r = ring_new(10 + RING_SEG_COST);
	char		 buf[64];
	int		 tags[32];
	size_t		 n;

	ring_add(r, 1, 0, "0123456789abcdef", 16);
	assert_true(ring_over(r));
	ring_trim(r, 3);			/* a reader still needs 3.. */
	assert_int_equal(ring_start(r), 3);
	assert_true(ring_over(r));
	ring_trim(r, 16);
	assert_int_equal(ring_start(r), 6);
	assert_false(ring_over(r));
	read_all(r, 6, buf, &n, tags);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, "6789abcdef", 10);
	assert_int_equal(ring_read(r, 2, buf, 3, &tags[0], &(int64_t){0}), 0);
	ring_free(r);
}

static void
test_set_start_lines_since(void **state)
{
	struct ring	*r = ring_new(1 << 20);

	ring_set_start(r, 1000);
	ring_add(r, 0, 10, "a\nb\n", 4);
	ring_add(r, 0, 20, "c\nd\n", 4);
	ring_set_start(r, 5);			/* ignored: not empty */
	assert_int_equal(ring_start(r), 1000);
	assert_int_equal(ring_tail_lines(r, 1), 1006);
	assert_int_equal(ring_tail_lines(r, 2), 1004);
	assert_int_equal(ring_tail_lines(r, 4), 1000);
	assert_int_equal(ring_tail_lines(r, 9), 1000);
	assert_int_equal(ring_tail_lines(r, 0), 1008);
	assert_int_equal(ring_since(r, 15), 1004);
	assert_int_equal(ring_since(r, 5), 1000);
	assert_int_equal(ring_since(r, 25), 1008);
	ring_free(r);
}

/* A byte that tells its offset apart (not a multiple of any size here). */
static unsigned char
pattern(uint64_t off)
{
	return (unsigned char)(off * 7 + off / 251);
}

/*
 * Appends and trims in uneven steps so the window wraps round its array
 * and grows while a reader holds it over size; every read must give back
 * the bytes of its offsets.
 */
static void
test_wraps_and_grows(void **state)
{
	struct ring	*r = ring_new(5000);
	unsigned char	 in[3001], out[9000];
	uint64_t	 end = 0, off;
	int64_t		 ts;
	size_t		 n, k, i;
	int		 step, tag;

	for (step = 0; step < 400; step++) {
		n = 1 + (size_t)(step * 37 % 3000);
		for (i = 0; i < n; i++)
			in[i] = pattern(end + i);
		ring_add(r, 1, 0, in, n);
		end += n;
		assert_int_equal(ring_end(r), end);
		/* every tenth step a slow reader keeps 12000 bytes back */
		ring_trim(r, step % 10 == 0 && end > 12000 ? end - 12000 :
		    end);
		assert_true(ring_start(r) <= end);
		for (off = ring_start(r); off < end; off += k) {
			k = ring_read(r, off, out, sizeof out, &tag, &ts);
			assert_true(k > 0);
			for (i = 0; i < k; i++)
				assert_int_equal(out[i], pattern(off + i));
		}
	}
	ring_free(r);
}

/* ring_read_tag crosses timestamps, never a tag. */
static void
test_read_tag_spans_timestamps(void **state)
{
	struct ring	*r = ring_new(1 << 20);
	char		 buf[64];
	int64_t		 ts;
	int		 tag;

	ring_add(r, 0, 10, "ab", 2);
	ring_add(r, 0, 20, "cd", 2);
	ring_add(r, 0, 30, "ef", 2);
	ring_add(r, 2, 30, "XY", 2);
	assert_int_equal(ring_read(r, 1, buf, sizeof buf, &tag, &ts), 1);
	assert_int_equal(ts, 10);
	assert_int_equal(ring_read_tag(r, 1, buf, sizeof buf, &tag), 5);
	assert_memory_equal(buf, "bcdef", 5);
	assert_int_equal(tag, 0);
	assert_int_equal(ring_read_tag(r, 0, buf, 3, &tag), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(ring_read_tag(r, 6, buf, sizeof buf, &tag), 2);
	assert_int_equal(tag, 2);
	assert_int_equal(ring_read_tag(r, 8, buf, sizeof buf, &tag), 0);
	ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_and_tags),
		cmocka_unit_test(test_trim_keeps_unread),
		cmocka_unit_test(test_set_start_lines_since),
		cmocka_unit_test(test_wraps_and_grows),
		cmocka_unit_test(test_read_tag_spans_timestamps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
