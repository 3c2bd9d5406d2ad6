/* Crash-safe JSON state files; see statefile.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

json_t *
statefile_read(const char *path, char **err)
{
	json_error_t	 je;
	json_t		*o;
	char		*aside;

	*err = NULL;
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return NULL;
	o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (o != NULL && json_is_object(o))
		return o;
	json_decref(o);
	if (access(path, R_OK) == -1) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
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
