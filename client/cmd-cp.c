/*
 * sbctl cp SRC DST: copy a file between this host and a lease, one side
 * written LEASE:PATH.  "-" on the local side is stdin or stdout.  Bytes
 * travel base64-encoded in file.write / file.read, byte-exact.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "sbctl.h"
#include "xmalloc.h"

#define CP_LEASE_PREFIX	10	/* strlen("l-xxxxxxxx") */

static int	cmd_cp_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_cp_entry = {
	.name = "cp",
	.usage = "SRC DST",
	.summary = "Copy a file into or out of a lease; one of SRC and DST is "
	    "LEASE:PATH, - is stdin/stdout.",
	.min_args = 2,
	.max_args = 2,
	.exec = cmd_cp_exec,
};

/* A LEASE:PATH operand split in two; false for a local path. */
static bool
cp_split(const char *arg, char **lease, const char **path)
{
	char	 id[CP_LEASE_PREFIX + 1];

	if (strlen(arg) <= CP_LEASE_PREFIX || arg[CP_LEASE_PREFIX] != ':')
		return false;
	memcpy(id, arg, CP_LEASE_PREFIX);
	id[CP_LEASE_PREFIX] = '\0';
	if (!sbctl_is_lease_id(id))
		return false;
	*lease = xstrdup(id);
	*path = arg + CP_LEASE_PREFIX + 1;
	return true;
}

/* dir + "/" + the last component of name (caller frees). */
static char *
cp_join_base(const char *dir, const char *name)
{
	char	*copy = xstrdup(name), *r;
	size_t	 n = strlen(dir);

	r = xasprintf("%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/",
	    basename(copy));
	free(copy);
	return r;
}

/* Uploads local `src` to `path` in the lease with file.write. */
static int
cp_upload(struct sbctl *sb, const struct sbctl_cmd *self, const char *src,
    const char *lease, const char *path)
{
	unsigned char	*data;
	char		*b64, *target;
	size_t		 len, b64len;
	json_t		*params, *r;
	int		 rv;

	if (*path == '\0' || path[strlen(path) - 1] == '/') {
		if (strcmp(src, "-") == 0)
			return cmd_usage_error(self, "copying stdin needs a "
			    "file name after %s:", lease);
		target = cp_join_base(*path == '\0' ? "." : path, src);
	} else
		target = xstrdup(path);
	if (sbctl_read_file(src, &data, &len) == -1) {
		warn("%s", src);
		free(target);
		return SBCTL_EXIT_FAILURE;
	}
	b64 = b64_encode(data, len, &b64len);
	free(data);
	params = json_pack("{s:s, s:s, s:s%}", "lease", lease, "path", target,
	    "data_b64", b64, b64len);
	free(b64);
	free(target);
	if ((rv = sbctl_call(sb, "file.write", params, &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	json_decref(r);
	return SBCTL_EXIT_OK;
}

/* Writes the bytes of a file.read result to dst ("-": stdout). */
static int
cp_store(const json_t *r, const char *dst)
{
	size_t	 len;
	int	 fd, rv;

	if (strcmp(dst, "-") == 0)
		fd = STDOUT_FILENO;
	else if ((fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0666)) == -1) {
		warn("%s", dst);
		return SBCTL_EXIT_FAILURE;
	}
	rv = sbctl_write_b64(fd, r, "data_b64", &len);
	if (rv == -2)
		warnx("sandboxd sent bad base64 in data_b64");
	else if (rv == -1)
		warn("%s", dst);
	if (fd != STDOUT_FILENO && close(fd) == -1 && rv == 0) {
		warn("%s", dst);
		rv = -1;
	}
	return rv == 0 ? SBCTL_EXIT_OK : SBCTL_EXIT_FAILURE;
}

/* Downloads `path` from the lease to local `dst` with file.read. */
static int
cp_download(struct sbctl *sb, const char *lease, const char *path,
    const char *dst)
{
	struct stat	 st;
	json_t		*r;
	char		*target;
	int		 rv;

	if (strcmp(dst, "-") != 0 && stat(dst, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		target = cp_join_base(dst, path);
	else
		target = xstrdup(dst);
	rv = sbctl_call(sb, "file.read", json_pack("{s:s, s:s}", "lease",
	    lease, "path", path), &r);
	if (rv == 0 && (rv = cp_store(r, target)) == 0 && sb->json &&
	    strcmp(target, "-") != 0) {
		json_object_del(r, "data_b64");
		sbctl_print_json(r);
	}
	json_decref(r);
	free(target);
	return rv;
}

/* Copies between the host and one lease. */
static int
cmd_cp_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	const char	*src, *dst, *spath, *dpath;
	char		*slease = NULL, *dlease = NULL;
	bool		 sremote, dremote;
	int		 rv;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	src = argv[optind];
	dst = argv[optind + 1];
	sremote = cp_split(src, &slease, &spath);
	dremote = cp_split(dst, &dlease, &dpath);
	if (sremote == dremote)
		rv = cmd_usage_error(self, "exactly one of SRC and DST must be "
		    "LEASE:PATH");
	else if (sremote && *spath == '\0')
		rv = cmd_usage_error(self, "missing path after %s:", slease);
	else if (dremote)
		rv = cp_upload(sb, self, src, dlease, dpath);
	else
		rv = cp_download(sb, slease, spath, dst);
	free(slease);
	free(dlease);
	return rv;
}
