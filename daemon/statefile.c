/* Crash-safe JSON state files; see statefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "statefile.h"
#include "xmalloc.h"

/* fsync of the directory makes the rename itself durable. */
static int
sync_dir(const char *path)
{
	char	*copy = xstrdup(path);
	int	 fd, rc = 0;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || fsync(fd) == -1)
		rc = -1;
	if (fd != -1)
		close(fd);
	free(copy);
	return rc;
}

int
statefile_write_with(const char *path, statefile_writer *fn, void *arg,
    char **err)
{
	char	*tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	FILE	*f = NULL;
	int	 fd;

	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1 || (f = fdopen(fd, "w")) == NULL)
		goto fail;
	errno = EIO;		/* a writer's failure may not set it */
	if (fn(f, arg) == -1 || fputc('\n', f) == EOF || fflush(f) == EOF ||
	    fsync(fd) == -1)
		goto fail;
	fd = -1;
	if (fclose(f) == EOF) {
		f = NULL;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) == -1 || sync_dir(path) == -1)
		goto fail;
	free(tmp);
	return 0;
fail:
	*err = xasprintf("%s: %s", path, strerror(errno));
	if (f != NULL)
		fclose(f);
	else if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

static int
write_json(FILE *f, void *o)
{
	return json_dumpf(o, f, JSON_COMPACT | JSON_SORT_KEYS);
}

int
statefile_write(const char *path, const json_t *o, char **err)
{
	return statefile_write_with(path, write_json, (void *)o, err);
}

/* The whole file; NULL with *err when it exists but cannot be read. */
static char *
read_all(const char *path, size_t *len, bool *missing, char **err)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	int		 fd;

	*missing = false;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			*missing = true;
		else
			*err = xasprintf("cannot read %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = xasprintf("cannot read %s: %s", path, S_ISDIR(st.st_mode) ?
		    "it is a directory" : "not a regular file");
		close(fd);
		return NULL;
	}
	for (;;) {
		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : (size_t)st.st_size + 4096;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + *len, cap - *len)) == -1) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("cannot read %s: %s", path,
			    strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
}

json_t *
statefile_load(const char *path, char **err, bool *unreadable)
{
	json_error_t	 je;
	json_t		*o;
	char		*aside, *text;
	size_t		 len;
	bool		 missing;

	*err = NULL;
	*unreadable = false;
	if ((text = read_all(path, &len, &missing, err)) == NULL) {
		*unreadable = !missing;
		return NULL;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (o != NULL && json_is_object(o))
		return o;
	if (o != NULL)
		snprintf(je.text, sizeof je.text, "not a JSON object");
	json_decref(o);
	aside = xasprintf("%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, aside) == -1)
		*err = xasprintf("%s is unreadable (%s, line %d) and could not "
		    "be moved aside: %s", path, je.text, je.line,
		    strerror(errno));
	else
		*err = xasprintf("%s is unreadable (%s, line %d): moved aside "
		    "to %s", path, je.text, je.line, aside);
	free(aside);
	return NULL;
}

json_t *
statefile_read(const char *path, char **err)
{
	bool	 unreadable;

	return statefile_load(path, err, &unreadable);
}

void
statefile_clean_tmp(const char *path)
{
	char	*pattern = xasprintf("%s.tmp.*", path);
	char	*mine = xasprintf("%s.tmp.%d", path, (int)getpid());
	glob_t	 g;
	size_t	 i;

	if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++) {
			if (strcmp(g.gl_pathv[i], mine) != 0)
				unlink(g.gl_pathv[i]);
		}
	}
	globfree(&g);
	free(pattern);
	free(mine);
}
