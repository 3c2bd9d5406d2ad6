/* proc_read: one small /proc file of a process. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"

static void
test_own_comm_and_cmdline(void **state)
{
	char	buf[256];

	assert_true(proc_read(getpid(), "comm", buf, sizeof buf) > 0);
	assert_string_equal(buf, "test-procfs\n");
	/* argv[0], NUL-terminated like every argument in the file. */
	assert_true(proc_read(getpid(), "cmdline", buf, sizeof buf) > 0);
	assert_non_null(strstr(buf, "test-procfs"));
}

static void
test_short_buffer_and_missing(void **state)
{
	char	buf[5];

	assert_int_equal(proc_read(getpid(), "comm", buf, sizeof buf), 4);
	assert_string_equal(buf, "test");
	assert_int_equal(proc_read(getpid(), "comm", buf, 0), -1);
	assert_int_equal(proc_read(getpid(), "no-such-file", buf, sizeof buf),
	    -1);
	assert_int_equal(proc_read(0, "comm", buf, sizeof buf), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_comm_and_cmdline),
		cmocka_unit_test(test_short_buffer_and_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
