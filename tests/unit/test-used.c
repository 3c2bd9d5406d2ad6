/* The journal of handed-out sandboxes: what a crashed run leaves says. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/used.h"

static void
test_ids_boot_and_clean(void **state)
{
	struct used_journal	j;

	used_parse("boot b1\nsbx-1\nsbx-2\n", &j);
	assert_int_equal(json_object_size(j.ids), 2);
	assert_non_null(json_object_get(j.ids, "sbx-1"));
	assert_string_equal(j.boot, "b1");
	assert_false(j.clean);
	json_decref(j.ids);

	used_parse("boot b1\nsbx-1\nclean\n", &j);
	assert_true(j.clean);
	assert_int_equal(json_object_size(j.ids), 1);
	json_decref(j.ids);
}

/* A later run that crashed after a clean one: not clean, its boot id. */
static void
test_clean_then_a_new_run(void **state)
{
	struct used_journal	j;

	used_parse("boot b1\nclean\nboot b2\nsbx-3\n", &j);
	assert_false(j.clean);
	assert_string_equal(j.boot, "b2");
	assert_non_null(json_object_get(j.ids, "sbx-3"));
	json_decref(j.ids);
}

/* A line cut by the crash is no id; empty and huge lines are skipped. */
static void
test_torn_and_odd_lines(void **state)
{
	struct used_journal	j;
	char			 big[300];

	used_parse("boot b1\nsbx-1\nsbx-2", &j);
	assert_int_equal(json_object_size(j.ids), 1);
	assert_null(json_object_get(j.ids, "sbx-2"));
	json_decref(j.ids);

	memset(big, 'x', sizeof big - 2);
	big[sizeof big - 2] = '\n';
	big[sizeof big - 1] = '\0';
	used_parse(big, &j);
	assert_int_equal(json_object_size(j.ids), 0);
	json_decref(j.ids);

	used_parse("\n\n", &j);
	assert_int_equal(json_object_size(j.ids), 0);
	assert_string_equal(j.boot, "");
	assert_false(j.clean);
	json_decref(j.ids);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_boot_and_clean),
		cmocka_unit_test(test_clean_then_a_new_run),
		cmocka_unit_test(test_torn_and_odd_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
