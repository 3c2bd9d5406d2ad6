/* base64: RFC 4648 vectors, random round trips, every way to be invalid. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base64.h"

static const struct { const char *plain, *enc; } rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Encoding and decoding the RFC's test vectors both ways. */
static void
test_rfc4648_vectors(void **state)
{
	size_t		 i, n;
	char		*enc;
	unsigned char	*dec;

	for (i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		enc = b64_encode(rfc4648[i].plain, strlen(rfc4648[i].plain), &n);
		assert_string_equal(enc, rfc4648[i].enc);
		assert_int_equal(n, strlen(rfc4648[i].enc));
		free(enc);
		assert_int_equal(b64_decode(rfc4648[i].enc,
		    strlen(rfc4648[i].enc), &dec, &n), 0);
		assert_int_equal(n, strlen(rfc4648[i].plain));
		assert_memory_equal(dec, rfc4648[i].plain, n);
		assert_int_equal(dec[n], '\0');
		free(dec);
	}
}

/* The whole alphabet, including '+' and '/', and bytes 0x00 and 0xff. */
static void
test_alphabet_edges(void **state)
{
	const unsigned char	 bin[] = { 0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83 };
	char			*enc;
	unsigned char		*dec;
	size_t			 n;

	enc = b64_encode(bin, sizeof bin, &n);
	assert_string_equal(enc, "+/+/ABCD");
	assert_int_equal(b64_decode(enc, n, &dec, &n), 0);
	assert_int_equal(n, sizeof bin);
	assert_memory_equal(dec, bin, sizeof bin);
	free(enc);
	free(dec);
}

/* Every length 0..300 of random bytes survives a round trip. */
static void
test_random_round_trip(void **state)
{
	unsigned char	 buf[300], *dec;
	char		*enc;
	size_t		 len, i, n, m;

	srandom(4648);
	for (len = 0; len <= sizeof buf; len++) {
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)random();
		enc = b64_encode(buf, len, &n);
		assert_int_equal(n, (len + 2) / 3 * 4);
		assert_int_equal(strlen(enc), n);
		assert_true(b64_decoded_max(n) >= len);
		assert_int_equal(b64_decode(enc, n, &dec, &m), 0);
		assert_int_equal(m, len);
		assert_memory_equal(dec, buf, len);
		free(enc);
		free(dec);
	}
}

/* One invalid input per class of mistake. */
static const struct { const char *what, *in; size_t len; } invalid[] = {
	{ "length not a multiple of 4", "Zm9", 3 },
	{ "single character", "Z", 1 },
	{ "five characters", "Zm9vY", 5 },
	{ "character outside the alphabet", "Zm9*", 4 },
	{ "URL-safe alphabet", "-_-_", 4 },
	{ "space inside", "Zm 9v", 5 },
	{ "trailing newline", "Zm9v\n", 5 },
	{ "CRLF", "Zm9vYg==\r\n", 10 },
	{ "leading space", " Zm9v", 5 },
	{ "embedded NUL", "Zm\0v", 4 },
	{ "high byte", "Zm9\xc3", 4 },
	{ "padding in first position", "=m9v", 4 },
	{ "padding in second position", "Z===", 4 },
	{ "all padding", "====", 4 },
	{ "padding then data", "Zm=v", 4 },
	{ "padding in a middle group", "Zg==Zm9v", 8 },
	{ "missing padding", "Zg", 2 },
	{ "too much padding", "Zm9=====", 8 },
	{ "non-zero bits under ==", "Zh==", 4 },
	{ "non-zero bits under =", "Zm9=", 4 },
};

/* Each invalid class is refused and nothing is handed back. */
static void
test_invalid(void **state)
{
	unsigned char	*out = (unsigned char *)"sentinel";
	size_t		 i, n = 99;

	for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		if (b64_decode(invalid[i].in, invalid[i].len, &out, &n) != -1)
			fail_msg("accepted: %s", invalid[i].what);
		assert_null(out);
		assert_int_equal(n, 0);
	}
}

/* A length shorter than the string decodes only that prefix. */
static void
test_not_nul_terminated(void **state)
{
	unsigned char	*out;
	size_t		 n;

	assert_int_equal(b64_decode("Zm9vYmFy!!!!", 8, &out, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "foobar", 6);
	free(out);
}

/* The decoded bound is never below the real size. */
static void
test_decoded_max(void **state)
{
	assert_int_equal(b64_decoded_max(0), 0);
	assert_int_equal(b64_decoded_max(4), 3);
	assert_int_equal(b64_decoded_max(8), 6);
	assert_true(b64_decoded_max(5) >= 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_alphabet_edges),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_decoded_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
