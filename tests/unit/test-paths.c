/* paths: default socket and state locations, and mkdir -p. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "paths.h"

static char tmpdir[] = "/tmp/test-paths.XXXXXX";

/* A clean environment and a private scratch directory for each test. */
static int
setup(void **state)
{
	unsetenv("SANDBOXD_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_STATE_HOME");
	strcpy(tmpdir, "/tmp/test-paths.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

/* Removes the scratch tree (paths we made are known and shallow). */
static int
teardown(void **state)
{
	char	cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Checks and frees a heap string. */
static void
check_str(char *got, const char *want)
{
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Binds a Unix socket at `path`, leaving the file behind. */
static void
make_socket(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
}

/* The daemon: root's system path, a user's XDG or /tmp path. */
static void
test_daemon_socket(void **state)
{
	setenv("SANDBOXD_SOCKET", "/elsewhere.sock", 1);	/* ignored */
	check_str(paths_socket_for_uid(0, true), "/run/sandboxd/sandboxd.sock");
	check_str(paths_socket_for_uid(1000, true),
	    "/tmp/sandboxd-1000/sandboxd.sock");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	check_str(paths_socket_for_uid(1000, true),
	    "/run/user/1000/sandboxd/sandboxd.sock");
	check_str(paths_socket_for_uid(0, true), "/run/sandboxd/sandboxd.sock");
	setenv("XDG_RUNTIME_DIR", "relative/dir", 1);	/* XDG: ignore it */
	check_str(paths_socket_for_uid(1000, true),
	    "/tmp/sandboxd-1000/sandboxd.sock");
	setenv("XDG_RUNTIME_DIR", "", 1);
	check_str(paths_socket_for_uid(42, true),
	    "/tmp/sandboxd-42/sandboxd.sock");
}

/* Clients: the variable, then a per-user socket that exists, then root's. */
static void
test_client_socket(void **state)
{
	char	dir[128], sock[160];

	setenv("XDG_RUNTIME_DIR", tmpdir, 1);
	check_str(paths_socket_for_uid(1000, false),
	    "/run/sandboxd/sandboxd.sock");
	snprintf(dir, sizeof dir, "%s/sandboxd", tmpdir);
	snprintf(sock, sizeof sock, "%s/sandboxd.sock", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	/* A regular file is not a daemon. */
	fclose(fopen(sock, "w"));
	check_str(paths_socket_for_uid(1000, false),
	    "/run/sandboxd/sandboxd.sock");
	unlink(sock);
	make_socket(sock);
	check_str(paths_socket_for_uid(1000, false), sock);
	/* Root's clients talk to the system daemon. */
	check_str(paths_socket_for_uid(0, false), "/run/sandboxd/sandboxd.sock");
	setenv("SANDBOXD_SOCKET", "/x/y.sock", 1);
	check_str(paths_socket_for_uid(1000, false), "/x/y.sock");
	check_str(paths_socket_for_uid(0, false), "/x/y.sock");
	check_str(paths_default_socket(false), "/x/y.sock");
	setenv("SANDBOXD_SOCKET", "", 1);		/* empty: unset */
	check_str(paths_socket_for_uid(1000, false), sock);
}

/* State: root's fixed path, else XDG_STATE_HOME, HOME, the passwd entry. */
static void
test_state_dir(void **state)
{
	struct passwd	*pw = getpwuid(65534);
	char		 want[256];

	check_str(paths_state_dir_for_uid(0), "/var/lib/sandboxd");
	setenv("XDG_STATE_HOME", "/s/state", 1);
	check_str(paths_state_dir_for_uid(0), "/var/lib/sandboxd");
	check_str(paths_state_dir_for_uid(1000), "/s/state/sandboxd");
	setenv("XDG_STATE_HOME", "rel", 1);
	setenv("HOME", "/home/u", 1);
	check_str(paths_state_dir_for_uid(1000), "/home/u/.local/state/sandboxd");
	unsetenv("XDG_STATE_HOME");
	check_str(paths_state_dir_for_uid(1000), "/home/u/.local/state/sandboxd");
	unsetenv("HOME");
	if (pw != NULL && pw->pw_dir[0] == '/') {
		snprintf(want, sizeof want, "%s/.local/state/sandboxd",
		    pw->pw_dir);
		check_str(paths_state_dir_for_uid(65534), want);
	}
}

/* The real entry points follow the caller's uid (checked as nobody). */
static void
test_real_uid(void **state)
{
	int	fds[2], status;
	char	buf[256] = "";
	ssize_t	n;
	pid_t	pid;

	if (getuid() != 0) {
		char	*s = paths_default_socket(true);

		assert_string_not_equal(s, "/run/sandboxd/sandboxd.sock");
		free(s);
		return;
	}
	check_str(paths_default_socket(true), "/run/sandboxd/sandboxd.sock");
	check_str(paths_default_state_dir(), "/var/lib/sandboxd");
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		char	*a, *b;

		close(fds[0]);
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		setenv("XDG_STATE_HOME", "/st", 1);
		a = paths_default_socket(true);
		b = paths_default_state_dir();
		dprintf(fds[1], "%s %s", a, b);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_string_equal(buf,
	    "/tmp/sandboxd-65534/sandboxd.sock /st/sandboxd");
}

/* mkdir -p: nested, idempotent, modes, odd slashes, and things in the way. */
static void
test_mkdir_p(void **state)
{
	char		path[256], file[256];
	struct stat	st;
	mode_t		old = umask(0);

	snprintf(path, sizeof path, "%s/a/b//c/", tmpdir);
	assert_int_equal(paths_mkdir_p(path, 0750), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(path, sizeof path, "%s/a", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* Again: nothing to do is success. */
	snprintf(path, sizeof path, "%s/a/b/c", tmpdir);
	assert_int_equal(paths_mkdir_p(path, 0700), 0);
	assert_int_equal(paths_mkdir_p("/", 0755), 0);
	assert_int_equal(paths_mkdir_p(tmpdir, 0755), 0);

	/* A file where a directory should be. */
	snprintf(file, sizeof file, "%s/f", tmpdir);
	fclose(fopen(file, "w"));
	errno = 0;
	assert_int_equal(paths_mkdir_p(file, 0755), -1);
	assert_int_equal(errno, ENOTDIR);
	snprintf(path, sizeof path, "%s/f/sub/dir", tmpdir);
	errno = 0;
	assert_int_equal(paths_mkdir_p(path, 0755), -1);
	assert_int_equal(errno, ENOTDIR);

	errno = 0;
	assert_int_equal(paths_mkdir_p("", 0755), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(paths_mkdir_p(NULL, 0755), -1);

	/* Relative paths work from the current directory. */
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(paths_mkdir_p("rel/x", 0755), 0);
	assert_int_equal(stat("rel/x", &st), 0);
	assert_int_equal(chdir("/"), 0);
	umask(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daemon_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_socket, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_state_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
