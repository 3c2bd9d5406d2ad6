/* Default socket and state paths, per user or system-wide; mkdir -p. */
#include <sys/stat.h>

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "xmalloc.h"

/* An environment variable when set to an absolute path (XDG ignores
 * relative ones), else NULL. */
static const char *
paths_env_abs(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

/* The per-user socket a non-root daemon listens on. */
static char *
paths_user_socket(uid_t uid)
{
	const char	*xdg = paths_env_abs("XDG_RUNTIME_DIR");

	if (xdg != NULL)
		return xasprintf("%s/sandboxd/sandboxd.sock", xdg);
	return xasprintf("/tmp/sandboxd-%lu/sandboxd.sock", (unsigned long)uid);
}

/* True when a Unix socket exists at `path`. */
static bool
paths_is_socket(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The daemon's own path by uid; clients prefer what is really there. */
char *
paths_socket_for_uid(uid_t uid, bool for_daemon)
{
	const char	*env;
	char		*user;

	if (for_daemon)
		return uid == 0 ? xstrdup(PATHS_SYSTEM_SOCKET) :
		    paths_user_socket(uid);
	if ((env = getenv("SANDBOXD_SOCKET")) != NULL && *env != '\0')
		return xstrdup(env);
	if (uid != 0) {
		user = paths_user_socket(uid);
		if (paths_is_socket(user))
			return user;
		free(user);
	}
	return xstrdup(PATHS_SYSTEM_SOCKET);
}

/* The socket path for the calling user. */
char *
paths_default_socket(bool for_daemon)
{
	return paths_socket_for_uid(getuid(), for_daemon);
}

/* $HOME, or the password database when HOME is unset or relative. */
static const char *
paths_home(uid_t uid)
{
	const char	*home = paths_env_abs("HOME");
	struct passwd	*pw;

	if (home != NULL)
		return home;
	if ((pw = getpwuid(uid)) != NULL && pw->pw_dir != NULL &&
	    pw->pw_dir[0] == '/')
		return pw->pw_dir;
	return "/";
}

/* The state directory by uid, following the XDG base directory spec. */
char *
paths_state_dir_for_uid(uid_t uid)
{
	const char	*xdg;

	if (uid == 0)
		return xstrdup(PATHS_SYSTEM_STATE_DIR);
	if ((xdg = paths_env_abs("XDG_STATE_HOME")) != NULL)
		return xasprintf("%s/sandboxd", xdg);
	return xasprintf("%s/.local/state/sandboxd", paths_home(uid));
}

/* The state directory for the calling user. */
char *
paths_default_state_dir(void)
{
	return paths_state_dir_for_uid(getuid());
}

/* Makes one directory; an existing directory (not a file) is success. */
static int
paths_mkdir_one(const char *dir, mode_t mode)
{
	struct stat	st;
	int		saved;

	if (mkdir(dir, mode) == 0)
		return 0;
	saved = errno;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		errno = ENOTDIR;
		return -1;
	}
	errno = saved;
	return -1;
}

/* Walks the path, creating each missing component in turn. */
int
paths_mkdir_p(const char *dir, mode_t mode)
{
	char	*copy, *p;
	int	 rc = 0;

	if (dir == NULL || *dir == '\0') {
		errno = ENOENT;
		return -1;
	}
	copy = xstrdup(dir);
	for (p = copy + 1; *p != '\0' && rc == 0; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		rc = paths_mkdir_one(copy, mode);
		*p = '/';
	}
	if (rc == 0)
		rc = paths_mkdir_one(copy, mode);
	free(copy);
	return rc;
}
