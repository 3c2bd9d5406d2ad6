/*
 * xmalloc: zero sizes still give a pointer to free, xreallocarray keeps
 * contents and refuses a size that overflows (fatal, never a short
 * buffer), and the string helpers copy what they say.
 */
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "xmalloc.h"

/* A zero size is not an error: each call gives a pointer of its own. */
static void
test_zero_sizes(void **state)
{
	void	*a = xmalloc(0), *b = xmalloc(0), *c = xcalloc(0, 8),
		*d = xcalloc(8, 0), *e = xreallocarray(NULL, 0, 8);

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_non_null(c);
	assert_non_null(d);
	assert_non_null(e);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
}

static void
test_calloc_zeroes(void **state)
{
	unsigned char	*p = xcalloc(100, 3);
	size_t		 i;

	for (i = 0; i < 300; i++)
		assert_int_equal(p[i], 0);
	free(p);
}

/* Growing keeps what was there; shrinking to zero keeps a pointer. */
static void
test_reallocarray_keeps(void **state)
{
	int	*p = NULL;
	int	 i;

	for (i = 0; i < 1000; i++) {
		p = xreallocarray(p, (size_t)i + 1, sizeof *p);
		p[i] = i * 7;
	}
	for (i = 0; i < 1000; i++)
		assert_int_equal(p[i], i * 7);
	p = xreallocarray(p, 0, sizeof *p);
	assert_non_null(p);
	free(p);
}

/*
 * n * size past SIZE_MAX exits with a message instead of allocating what
 * the product wrapped to.  Runs in a child: fatalx() exits.
 */
static void
test_reallocarray_overflow(void **state)
{
	int	 fds[2], status;
	char	 buf[256] = "";
	pid_t	 pid;
	ssize_t	 n;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		dup2(fds[1], 2);
		xreallocarray(NULL, SIZE_MAX / 2 + 1, 2);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "overflows"));
}

/* xstrndup stops at n or at the string's end, whichever comes first. */
static void
test_strndup(void **state)
{
	char	*s;

	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
	s = xstrndup("abc", 0);
	assert_string_equal(s, "");
	free(s);
	s = xstrdup("");
	assert_string_equal(s, "");
	free(s);
}

static void
test_asprintf(void **state)
{
	char	*s = xasprintf("%s-%d-%zu", "lease", -3, (size_t)42);

	assert_string_equal(s, "lease--3-42");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_sizes),
		cmocka_unit_test(test_calloc_zeroes),
		cmocka_unit_test(test_reallocarray_keeps),
		cmocka_unit_test(test_reallocarray_overflow),
		cmocka_unit_test(test_strndup),
		cmocka_unit_test(test_asprintf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
