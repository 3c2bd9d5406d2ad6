/*
 * (Every name opened is a single component: where openat2 is missing,
 * openat with O_NOFOLLOW is as safe, refusing every symlink.)
 *
 * Files in a sandbox's writable area, for AddFile, RetrieveFile and
 * mounted_files.  A path is relative to /work, or absolute under /work or
 * /tmp; each maps to ROOT/<id>/work or ROOT/<id>/tmp.  ".." components are
 * refused, and every step is opened with openat2(RESOLVE_BENEATH) from the
 * step before, so no symlink leads out of the sandbox: the host is never
 * touched.  Only regular files are read or written (see open_regular).
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define MAX_FILE	(60 * 1024 * 1024)	/* fits a 64 MiB message */

static int
openat2_beneath(int dfd, const char *name, int flags, mode_t mode)
{
	struct open_how	 how = { .flags = (uint64_t)flags | O_CLOEXEC,
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };

	int		 fd;

	fd = (int)syscall(SYS_openat2, dfd, name, &how, sizeof how);
	if (fd == -1 && errno == ENOSYS)	/* old kernel, or valgrind */
		fd = openat(dfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd;
}

/* Splits a sandbox path into its base directory and clean components. */
static int
split_path(struct sandbox *sb, const char *path, const char **base,
    char ***comps, size_t *n, char **err)
{
	char	*copy, *tok, *save;
	const char *rest = path;

	*comps = NULL;
	*n = 0;
	*base = sb->workdir;
	if (*path == '\0') {
		*err = xstrdup("empty path");
		return -1;
	}
	if (*path == '/') {
		if (strncmp(path, "/work", 5) == 0 && (path[5] == '/' ||
		    path[5] == '\0'))
			rest = path + 5;
		else if (strncmp(path, "/tmp", 4) == 0 && (path[4] == '/' ||
		    path[4] == '\0')) {
			rest = path + 4;
			*base = sb->tmpdir;
		} else {
			*err = xasprintf("%s: outside the sandbox (only /work "
			    "and /tmp are writable)", path);
			return -1;
		}
	}
	copy = xstrdup(rest);
	for (tok = strtok_r(copy, "/", &save); tok != NULL;
	    tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			*err = xasprintf("%s: \"..\" is not allowed", path);
			free(copy);
			strv_free(*comps);
			*comps = NULL;
			return -1;
		}
		strv_push(comps, n, xstrdup(tok));
	}
	free(copy);
	if (*n == 0) {
		*err = xasprintf("%s: not a file path", path);
		return -1;
	}
	return 0;
}

/* Opens the directory holding the last component, creating as asked. */
static int
open_parent(const char *base, char **comps, size_t n, bool create,
    const char *path, char **err)
{
	int	 dfd, nfd;
	size_t	 i;

	if ((dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	for (i = 0; i + 1 < n; i++) {
		if (create && mkdirat(dfd, comps[i], 0755) == -1 &&
		    errno != EEXIST)
			break;
		if ((nfd = openat2_beneath(dfd, comps[i], O_RDONLY |
		    O_DIRECTORY, 0)) == -1)
			break;
		close(dfd);
		dfd = nfd;
	}
	if (i + 1 < n) {
		*err = xasprintf("%s: %s", path, errno == EXDEV ?
		    "leads outside the sandbox" : strerror(errno));
		close(dfd);
		return -1;
	}
	return dfd;
}

/* What a file is, for the message that refuses it. */
static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	return "a special file";
}

/*
 * Only a regular file is worth opening, and the open itself must not wait:
 * on the one loop thread, opening a FIFO (mkfifo in /work) would block every
 * call of the gateway until a peer came.  So the open is O_NONBLOCK (and
 * O_NOCTTY: a tty must not become ours), anything but a regular file is
 * refused before any I/O, and only then the descriptor blocks again.
 */
static int
open_regular(int dfd, const char *name, int flags, const char *path,
    char **err)
{
	struct stat	 st;
	int		 fd, fl;

	fd = openat2_beneath(dfd, name, flags | O_NONBLOCK | O_NOCTTY, 0644);
	if (fd == -1 && errno == ENXIO) {
		/* A FIFO without a reader, or a socket: say which. */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			st.st_mode = 0;
		*err = xasprintf("%s: %s, not a regular file", path,
		    file_kind(st.st_mode));
		return -1;
	}
	if (fd == -1) {
		*err = xasprintf("%s: %s", path, errno == EXDEV ?
		    "leads outside the sandbox" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = xasprintf("%s: %s, not a regular file", path,
		    file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Opens a regular file of a sandbox path with openat2 beneath its base. */
static int
fs_open(struct sandbox *sb, const char *path, int flags, char **err)
{
	const char	*base;
	char		**comps;
	size_t		 n;
	int		 dfd, fd;

	if (split_path(sb, path, &base, &comps, &n, err) == -1)
		return -1;
	dfd = open_parent(base, comps, n, (flags & O_CREAT) != 0, path, err);
	if (dfd == -1) {
		strv_free(comps);
		return -1;
	}
	fd = open_regular(dfd, comps[n - 1], flags, path, err);
	close(dfd);
	strv_free(comps);
	return fd;
}

int
fs_write(struct sandbox *sb, const char *path, const void *data, size_t len,
    char **err)
{
	const char	*p = data;
	ssize_t		 w;
	int		 fd;

	if ((fd = fs_open(sb, path, O_WRONLY | O_CREAT | O_TRUNC, err)) == -1)
		return -1;
	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
	return 0;
}

int
fs_read(struct sandbox *sb, const char *path, void **out, size_t *outlen,
    char **err)
{
	struct stat	 st;
	char		*buf;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = fs_open(sb, path, O_RDONLY, err)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (st.st_size > MAX_FILE) {
		*err = xasprintf("%s: file too large", path);
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*outlen = got;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) == -1 && errno != ENOENT)
		log_warn("remove %s", path);
	return 0;
}

/* Removes a sandbox directory, never crossing into another filesystem. */
int
fs_rmtree(const char *dir)
{
	if (dir == NULL)
		return 0;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
