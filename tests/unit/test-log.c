/*
 * log: journal detection.  systemd sets JOURNAL_STREAM to the dev:ino of
 * the stream it connected; only when fd 2 is that very file do we write
 * journal fields, so a child that inherited the variable but has its
 * stderr redirected logs plain lines.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

static int	saved_stderr = -1;
static char	path[] = "/tmp/test-log.XXXXXX";

/* fd 2 becomes a scratch file; the real stderr is put back after. */
static int
setup(void **state)
{
	int	fd;

	strcpy(path, "/tmp/test-log.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return -1;
	saved_stderr = dup(2);
	if (saved_stderr == -1 || dup2(fd, 2) == -1)
		return -1;
	close(fd);
	unsetenv("JOURNAL_STREAM");
	return 0;
}

static int
teardown(void **state)
{
	dup2(saved_stderr, 2);
	close(saved_stderr);
	unlink(path);
	unsetenv("JOURNAL_STREAM");
	return 0;
}

/* JOURNAL_STREAM for `st`'s device and `ino`. */
static void
set_stream(const struct stat *st, unsigned long ino)
{
	char	v[64];

	snprintf(v, sizeof v, "%lu:%lu", (unsigned long)st->st_dev, ino);
	setenv("JOURNAL_STREAM", v, 1);
}

static void
test_matching_stream_is_journal(void **state)
{
	struct stat	st;

	assert_int_equal(fstat(2, &st), 0);
	set_stream(&st, (unsigned long)st.st_ino);
	assert_true(log_stderr_is_journal());
}

static void
test_other_inode_is_not(void **state)
{
	struct stat	st;

	assert_int_equal(fstat(2, &st), 0);
	set_stream(&st, (unsigned long)st.st_ino + 1);
	assert_false(log_stderr_is_journal());
}

/* Set by systemd for our parent, but fd 2 was redirected since. */
static void
test_redirected_stderr_is_not(void **state)
{
	struct stat	st;

	assert_int_equal(fstat(saved_stderr, &st), 0);
	set_stream(&st, (unsigned long)st.st_ino);
	assert_false(log_stderr_is_journal());
}

static void
test_unset_or_garbage_is_not(void **state)
{
	assert_false(log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "", 1);
	assert_false(log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "journal", 1);
	assert_false(log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "12", 1);
	assert_false(log_stderr_is_journal());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_matching_stream_is_journal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_inode_is_not,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirected_stderr_is_not,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unset_or_garbage_is_not,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
