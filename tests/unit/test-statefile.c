/* statefile: crash-safe writes (whole or streamed) and reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daemon/statefile.h"

struct dir {
	char	 path[64];
	char	 file[96];
};

static int
setup(void **state)
{
	struct dir	*d = calloc(1, sizeof *d);

	strcpy(d->path, "/tmp/test-statefile.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	snprintf(d->file, sizeof d->file, "%s/state.json", d->path);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	struct dir	*d = *state;
	char		 cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", d->path);
	assert_int_equal(system(cmd), 0);
	free(d);
	return 0;
}

/* Entries in the directory: a failed write must leave no temporary. */
static int
entries(const char *path)
{
	DIR		*dir = opendir(path);
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(dir);
	return n;
}

static int
write_three(FILE *f, void *arg)
{
	int	 i;

	fputs("{\"n\":[", f);
	for (i = 0; i < 3; i++)
		fprintf(f, "%s%d", i ? "," : "", i);
	fprintf(f, "],\"tag\":\"%s\"}", (const char *)arg);
	return 0;
}

static int
write_fails(FILE *f, void *arg)
{
	fputs("{\"half\":", f);
	return -1;
}

/* A streamed write reads back as the JSON it wrote. */
static void
test_streamed_round_trip(void **state)
{
	struct dir	*d = *state;
	char		*err = NULL;
	json_t		*o;

	assert_int_equal(statefile_write_with(d->file, write_three, "x", &err),
	    0);
	assert_null(err);
	o = statefile_read(d->file, &err);
	assert_non_null(o);
	assert_int_equal(json_array_size(json_object_get(o, "n")), 3);
	assert_string_equal(json_string_value(json_object_get(o, "tag")), "x");
	json_decref(o);
	assert_int_equal(entries(d->path), 1);
}

/* A writer that fails leaves the old file as it was and no temporary. */
static void
test_failed_writer_keeps_old_file(void **state)
{
	struct dir	*d = *state;
	char		*err = NULL;
	json_t		*o = json_pack("{s:i}", "v", 1);

	assert_int_equal(statefile_write(d->file, o, &err), 0);
	json_decref(o);
	assert_int_equal(statefile_write_with(d->file, write_fails, NULL,
	    &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, d->file));
	free(err);
	err = NULL;
	assert_int_equal(entries(d->path), 1);
	o = statefile_read(d->file, &err);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "v")), 1);
	json_decref(o);
}

/* No directory to write in: an error naming the file, nothing else. */
static void
test_unwritable_directory(void **state)
{
	char	*err = NULL;

	assert_int_equal(statefile_write_with("/nonexistent-dir/state.json",
	    write_three, "x", &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err, "/nonexistent-dir/state.json"));
	free(err);
}

/* Text that does not parse is moved aside, and the read says so. */
static void
test_corrupt_file_moved_aside(void **state)
{
	struct dir	*d = *state;
	char		*err = NULL;
	FILE		*f = fopen(d->file, "w");

	assert_non_null(f);
	fputs("{\"torn\":", f);
	fclose(f);
	assert_null(statefile_read(d->file, &err));
	assert_non_null(err);
	free(err);
	assert_int_equal(access(d->file, F_OK), -1);
	assert_int_equal(entries(d->path), 1);
}

/* One that exists but cannot be read is left alone and flagged. */
static void
test_unreadable_file_left_alone(void **state)
{
	struct dir	*d = *state;
	char		*err = NULL;
	bool		 unreadable = false;

	assert_int_equal(mkdir(d->file, 0700), 0);	/* read(2): EISDIR */
	assert_null(statefile_load(d->file, &err, &unreadable));
	assert_true(unreadable);
	assert_non_null(err);
	assert_non_null(strstr(err, "directory"));
	free(err);
	assert_int_equal(access(d->file, F_OK), 0);
	assert_int_equal(entries(d->path), 1);
}

/* No file: nothing read, nothing to report, not unreadable. */
static void
test_missing_file(void **state)
{
	struct dir	*d = *state;
	char		*err = NULL;
	bool		 unreadable = true;

	assert_null(statefile_load(d->file, &err, &unreadable));
	assert_false(unreadable);
	assert_null(err);
}

/* Temporaries a crash left are removed; the file itself stays. */
static void
test_stale_temporaries_removed(void **state)
{
	struct dir	*d = *state;
	char		 tmp[128];
	FILE		*f;

	snprintf(tmp, sizeof tmp, "%s.tmp.999999", d->file);
	assert_non_null(f = fopen(tmp, "w"));
	fclose(f);
	assert_non_null(f = fopen(d->file, "w"));
	fclose(f);
	statefile_clean_tmp(d->file);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(access(d->file, F_OK), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_streamed_round_trip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_failed_writer_keeps_old_file, setup, teardown),
		cmocka_unit_test(test_unwritable_directory),
		cmocka_unit_test_setup_teardown(test_corrupt_file_moved_aside,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_file_left_alone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_temporaries_removed,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
