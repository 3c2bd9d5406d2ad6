/*
 * log: journal detection.  systemd sets JOURNAL_STREAM to the dev:ino of
 * the stream it connected; only when fd 2 is that very file do we write
 * journal fields, so a child that inherited the variable but has its
 * stderr redirected logs plain lines.  Also: the stderr lines (level
 * prefix, errno text, fields, verbosity) and the journal's fields, caught
 * by wrapping sd_journal_sendv_with_location (the Makefile links with --wrap).
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
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
static char	journal[4096];		/* the last entry, fields by \n */

/* sd_journal_sendv() is a macro adding the caller's file, line, func. */
int	__wrap_sd_journal_sendv_with_location(const char *, const char *,
	    const char *, const struct iovec *, int);

int
__wrap_sd_journal_sendv_with_location(const char *file, const char *line,
    const char *func, const struct iovec *iov, int n)
{
	size_t	len = 0;
	int	i;

	for (i = 0; i < n && len + iov[i].iov_len + 2 < sizeof journal;
	    i++) {
		memcpy(journal + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
		journal[len++] = '\n';
	}
	journal[len] = '\0';
	return 0;
}

/* What was written to fd 2 (the scratch file) so far. */
static const char *
stderr_text(void)
{
	static char	 buf[4096];
	FILE		*f = fopen(path, "r");
	size_t		 n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

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

static void
test_stderr_lines_and_levels(void **state)
{
	static const char *const fields[] = { "LEASE_ID=l-1", "POOL=w", NULL };

	log_init("t", 0);
	log_info("hello %d", 1);
	log_debug("hidden");
	log_trace("hidden too");
	errno = ENOENT;
	log_warn("open %s", "x");
	assert_int_equal(errno, ENOENT);	/* preserved */
	log_warnx("plain");
	log_event(fields, "leased");
	log_set_verbosity(2);
	log_debug("debug shown");
	log_trace("trace shown");
	log_set_verbosity(-1);
	log_info("quiet");
	log_event(fields, "quiet too");
	log_warnx("still warned");
	assert_string_equal(stderr_text(),
	    "t: info: hello 1\n"
	    "t: warning: open x: No such file or directory\n"
	    "t: warning: plain\n"
	    "t: info: leased LEASE_ID=l-1 POOL=w\n"
	    "t: debug: debug shown\n"
	    "t: debug: trace shown\n"
	    "t: warning: still warned\n");
	assert_string_equal(journal, "");
}

/* On the journal: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, then the fields. */
static void
test_journal_fields(void **state)
{
	static const char *const fields[] = { "LEASE_ID=l-2",
	    "SANDBOX_ID=sbx-1", NULL };
	struct stat	st;

	assert_int_equal(fstat(2, &st), 0);
	set_stream(&st, (unsigned long)st.st_ino);
	log_init("sandboxd", 0);
	log_event(fields, "lease %s ready", "l-2");
	assert_string_equal(journal, "MESSAGE=lease l-2 ready\nPRIORITY=6\n"
	    "SYSLOG_IDENTIFIER=sandboxd\nLEASE_ID=l-2\nSANDBOX_ID=sbx-1\n");
	errno = EACCES;
	log_warn("state");
	assert_int_equal(errno, EACCES);
	assert_string_equal(journal, "MESSAGE=state: Permission denied\n"
	    "PRIORITY=4\nSYSLOG_IDENTIFIER=sandboxd\n");
	assert_string_equal(stderr_text(), "");
	unsetenv("JOURNAL_STREAM");
	log_init("t", 0);
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
		cmocka_unit_test_setup_teardown(test_stderr_lines_and_levels,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_fields,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
