/* parse: durations, sizes, booleans, integers, and their formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "parse.h"

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])

static const struct { const char *in; int64_t ms; } good_durations[] = {
	{ "0", 0 },
	{ "90", 90000 },
	{ "250ms", 250 },
	{ "90s", 90000 },
	{ "30m", 1800000 },
	{ "2h", 7200000 },
	{ "1d", 86400000 },
	{ "1h30m", 5400000 },
	{ "1d2h3m4s5ms", 93784005 },
	{ "1m0s", 60000 },
	{ "0ms", 0 },
	{ "007s", 7000 },
	{ "106751991167d", 106751991167LL * 86400000 },
	{ "9223372036854775807ms", INT64_MAX },
};

/* Every unit alone and compounded, bare seconds, the largest value. */
static void
test_duration_good(void **state)
{
	const char	*err;
	int64_t		 ms;
	size_t		 i;

	for (i = 0; i < NITEMS(good_durations); i++) {
		ms = -7;
		if (parse_duration(good_durations[i].in, &ms, &err) != 0)
			fail_msg("'%s' refused: %s", good_durations[i].in, err);
		assert_int_equal(ms, good_durations[i].ms);
	}
}

static const struct { const char *in, *err; } bad_durations[] = {
	{ "", "empty duration" },
	{ "-1s", "negative duration" },
	{ "-5", "negative duration" },
	{ "abc", "expected a number" },
	{ "s", "expected a number" },
	{ "10x", "unknown unit (use ms, s, m, h, d)" },
	{ "10 s", "unknown unit (use ms, s, m, h, d)" },
	{ " 10s", "expected a number" },
	{ "10s ", "expected a number" },
	{ "1.5h", "unknown unit (use ms, s, m, h, d)" },
	{ "30m1h", "units must go from large to small, each once" },
	{ "1m1m", "units must go from large to small, each once" },
	{ "1h30", "missing unit (e.g. 1h30m)" },
	{ "1h+30m", "expected a number" },
	{ "9223372036854775808ms", "duration too large" },
	{ "106751991168d", "duration too large" },
	{ "99999999999999999999", "duration too large" },
	{ "9223372036854775807ms1ms", "units must go from large to small, each once" },
	{ "106751991167d1d", "units must go from large to small, each once" },
	{ "106751991167d23h59m59s999ms", "duration too large" },
};

/* Each kind of junk gets its own message and leaves *ms alone. */
static void
test_duration_bad(void **state)
{
	const char	*err;
	int64_t		 ms;
	size_t		 i;

	for (i = 0; i < NITEMS(bad_durations); i++) {
		ms = -7;
		err = NULL;
		if (parse_duration(bad_durations[i].in, &ms, &err) != -1)
			fail_msg("'%s' accepted as %lld", bad_durations[i].in,
			    (long long)ms);
		assert_int_equal(ms, -7);
		if (strcmp(err, bad_durations[i].err) != 0)
			fail_msg("'%s': '%s', wanted '%s'", bad_durations[i].in,
			    err, bad_durations[i].err);
	}
	assert_int_equal(parse_duration("x", &ms, NULL), -1);
}

static const struct { const char *in; uint64_t bytes; } good_sizes[] = {
	{ "0", 0 },
	{ "512", 512 },
	{ "512B", 512 },
	{ "1K", 1000 },
	{ "1KB", 1000 },
	{ "1Ki", 1024 },
	{ "1KiB", 1024 },
	{ "512mi", 512ULL << 20 },
	{ "512Mi", 512ULL << 20 },
	{ "16MiB", 16ULL << 20 },
	{ "2M", 2000000 },
	{ "3G", 3000000000ULL },
	{ "3gib", 3ULL << 30 },
	{ "1T", 1000000000000ULL },
	{ "1Ti", 1ULL << 40 },
	{ "1Pi", 1ULL << 50 },
	{ "15Ei", 15ULL << 60 },
	{ "1.5Ki", 1536 },
	{ "1.5KiB", 1536 },
	{ "0.5G", 500000000 },
	{ "1.0", 1 },
	{ "10.0MiB", 10ULL << 20 },
	{ "18446744073709551615", UINT64_MAX },
};

/* Both unit families, any letter case, decimal fractions. */
static void
test_size_good(void **state)
{
	const char	*err;
	uint64_t	 b;
	size_t		 i;

	for (i = 0; i < NITEMS(good_sizes); i++) {
		b = 7;
		if (parse_size(good_sizes[i].in, &b, &err) != 0)
			fail_msg("'%s' refused: %s", good_sizes[i].in, err);
		assert_int_equal(b, good_sizes[i].bytes);
	}
}

static const struct { const char *in, *err; } bad_sizes[] = {
	{ "", "empty size" },
	{ "-1K", "negative size" },
	{ "K", "expected a number" },
	{ "abc", "expected a number" },
	{ "1X", "unknown unit (use B, K, Ki, M, Mi, G, Gi, T, Ti)" },
	{ "1 Ki", "unknown unit (use B, K, Ki, M, Mi, G, Gi, T, Ti)" },
	{ "1KiBB", "unknown unit (use B, K, Ki, M, Mi, G, Gi, T, Ti)" },
	{ "1iB", "unknown unit (use B, K, Ki, M, Mi, G, Gi, T, Ti)" },
	{ "1.", "expected digits after '.'" },
	{ "1.K", "expected digits after '.'" },
	{ "1.5", "a byte count cannot have a fraction" },
	{ "1.5B", "a byte count cannot have a fraction" },
	{ "16Ei", "size too large" },
	{ "18446744073709551616", "size too large" },
	{ "99999999999999999999K", "size too large" },
};

/* Junk, overflow and fractional bytes are refused with a reason. */
static void
test_size_bad(void **state)
{
	const char	*err;
	uint64_t	 b;
	size_t		 i;

	for (i = 0; i < NITEMS(bad_sizes); i++) {
		b = 7;
		if (parse_size(bad_sizes[i].in, &b, &err) != -1)
			fail_msg("'%s' accepted", bad_sizes[i].in);
		assert_int_equal(b, 7);
		if (strcmp(err, bad_sizes[i].err) != 0)
			fail_msg("'%s': '%s', wanted '%s'", bad_sizes[i].in,
			    err, bad_sizes[i].err);
	}
}

/* Every accepted spelling, any case, and a few near misses. */
static void
test_bool(void **state)
{
	static const struct { const char *in; int v; } cases[] = {
		{ "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "On", 1 },
		{ "1", 1 }, { "false", 0 }, { "No", 0 }, { "off", 0 },
		{ "0", 0 }, { "FALSE", 0 },
		{ "", -1 }, { "y", -1 }, { "2", -1 }, { "truee", -1 },
		{ " yes", -1 }, { "enable", -1 },
	};
	const char	*err;
	size_t		 i;
	int		 v, rc;

	for (i = 0; i < NITEMS(cases); i++) {
		v = 7;
		rc = parse_bool(cases[i].in, &v, &err);
		if (cases[i].v == -1) {
			assert_int_equal(rc, -1);
			assert_int_equal(v, 7);
			assert_string_equal(err,
			    "expected true/false, yes/no, on/off or 1/0");
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(v, cases[i].v);
		}
	}
}

/* Range, sign, overflow at both ends, and every kind of trailing junk. */
static void
test_int(void **state)
{
	static const struct {
		const char *in; int64_t min, max, v; const char *err;
	} cases[] = {
		{ "0", 0, 10, 0, NULL },
		{ "10", 0, 10, 10, NULL },
		{ "+7", 0, 10, 7, NULL },
		{ "-3", -5, 5, -3, NULL },
		{ "9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX, NULL },
		{ "-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN, NULL },
		{ "11", 0, 10, 0, "out of range" },
		{ "-1", 0, 10, 0, "out of range" },
		{ "-9223372036854775808", INT64_MIN + 1, 0, 0, "out of range" },
		{ "9223372036854775808", INT64_MIN, INT64_MAX, 0, "out of range" },
		{ "-9223372036854775809", INT64_MIN, INT64_MAX, 0, "out of range" },
		{ "99999999999999999999999", 0, INT64_MAX, 0, "out of range" },
		{ "", 0, 10, 0, "empty number" },
		{ "-", 0, 10, 0, "not a decimal integer" },
		{ "5x", 0, 10, 0, "not a decimal integer" },
		{ "0x10", 0, 100, 0, "not a decimal integer" },
		{ " 5", 0, 10, 0, "not a decimal integer" },
		{ "5 ", 0, 10, 0, "not a decimal integer" },
		{ "1e3", 0, 10000, 0, "not a decimal integer" },
		{ "1.0", 0, 10, 0, "not a decimal integer" },
		{ "--1", -10, 10, 0, "not a decimal integer" },
	};
	const char	*err;
	int64_t		 v;
	size_t		 i;

	for (i = 0; i < NITEMS(cases); i++) {
		v = 77;
		err = NULL;
		if (cases[i].err == NULL) {
			if (parse_int(cases[i].in, cases[i].min, cases[i].max,
			    &v, &err) != 0)
				fail_msg("'%s' refused: %s", cases[i].in, err);
			assert_int_equal(v, cases[i].v);
			continue;
		}
		if (parse_int(cases[i].in, cases[i].min, cases[i].max, &v,
		    &err) != -1)
			fail_msg("'%s' accepted", cases[i].in);
		assert_int_equal(v, 77);
		assert_string_equal(err, cases[i].err);
	}
}

/* The documented examples, and exact round trips through the parser. */
static void
test_format_duration(void **state)
{
	static const struct { int64_t ms; const char *out; } cases[] = {
		{ 0, "0s" }, { 850, "850ms" }, { 252000, "4m12s" },
		{ 7380000, "2h3m" }, { 1500, "1s500ms" }, { 86400000, "1d" },
		{ 93784005, "1d2h3m4s5ms" }, { -90000, "-1m30s" },
	};
	char		 buf[64];
	int64_t		 ms, v;
	size_t		 i;

	for (i = 0; i < NITEMS(cases); i++)
		assert_string_equal(format_duration(buf, sizeof buf,
		    cases[i].ms), cases[i].out);
	srandom(42);
	for (i = 0; i < 2000; i++) {
		v = ((int64_t)random() << 31 | random()) % (INT64_MAX / 4);
		format_duration(buf, sizeof buf, v);
		assert_int_equal(parse_duration(buf, &ms, NULL), 0);
		assert_int_equal(ms, v);
	}
	format_duration(buf, sizeof buf, INT64_MAX);
	assert_int_equal(parse_duration(buf, &ms, NULL), 0);
	assert_int_equal(ms, INT64_MAX);
	assert_string_equal(format_duration(buf, 4, 93784005), "1d2");
}

/* Exact bytes under 1KiB, one decimal above, unit bumped on rounding. */
static void
test_format_size(void **state)
{
	static const struct { uint64_t b; const char *out; } cases[] = {
		{ 0, "0B" }, { 512, "512B" }, { 1023, "1023B" },
		{ 1024, "1.0KiB" }, { 1536, "1.5KiB" },
		{ 10ULL << 20, "10.0MiB" }, { (1ULL << 20) - 1, "1.0MiB" },
		{ 3ULL << 30, "3.0GiB" }, { 5ULL << 40, "5.0TiB" },
		{ 1ULL << 50, "1.0PiB" }, { UINT64_MAX, "16.0EiB" },
	};
	char		buf[32];
	size_t		i;

	for (i = 0; i < NITEMS(cases); i++)
		assert_string_equal(format_size(buf, sizeof buf, cases[i].b),
		    cases[i].out);
	assert_string_equal(format_size(buf, 4, 1536), "1.5");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_duration_bad),
		cmocka_unit_test(test_size_good),
		cmocka_unit_test(test_size_bad),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
