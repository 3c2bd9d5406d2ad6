/* A pool's start specification, built from its config; see pool-spec.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquire-spec.h"
#include "log.h"
#include "pool-spec.h"
#include "xmalloc.h"

#define MAX_FILE_BYTES	(8u << 20)

static char *
keep(struct pool_spec *ps, char *s)
{
	ps->strings = xreallocarray(ps->strings, (size_t)ps->nstrings + 1,
	    sizeof *ps->strings);
	ps->strings[ps->nstrings++] = s;
	return s;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Reads a whole local file for a `file = LOCAL:REMOTE` line. */
static int
read_file(const char *path, unsigned char **data, size_t *len, char **err)
{
	FILE	*f = fopen(path, "rb");
	size_t	 cap = 0, n;

	*data = NULL;
	*len = 0;
	if (f == NULL) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 4096;
			*data = xreallocarray(*data, cap, 1);
		}
		n = fread(*data + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0)
			break;
		if (*len > MAX_FILE_BYTES) {
			fclose(f);
			*err = xasprintf("%s is larger than %u bytes", path,
			    MAX_FILE_BYTES);
			return -1;
		}
	}
	if (ferror(f)) {
		fclose(f);
		*err = xasprintf("cannot read %s", path);
		return -1;
	}
	fclose(f);
	return 0;
}

static int
build_files(struct pool_spec *ps, const struct config_pool *cp, char **err)
{
	unsigned char	*data;
	size_t		 len;
	char		*colon, *local;
	int		 i;

	ps->files = xcalloc((size_t)cp->nfiles + 1, sizeof *ps->files);
	for (i = 0; i < cp->nfiles; i++) {
		local = keep(ps, xstrdup(cp->files[i]));
		if ((colon = strchr(local, ':')) == NULL || colon == local ||
		    colon[1] == '\0') {
			*err = xasprintf("file = %s: expected LOCAL:REMOTE",
			    cp->files[i]);
			return -1;
		}
		*colon = '\0';
		if (colon[1] != '/') {	/* the gateway takes no other */
			*err = xasprintf("file = %s: REMOTE must be an "
			    "absolute path", cp->files[i]);
			return -1;
		}
		if (read_file(local, &data, &len, err) == -1)
			return -1;
		keep(ps, (char *)data);
		ps->files[i] = (struct gw_file){ colon + 1, data, len };
	}
	ps->spec.files = ps->files;
	ps->spec.nfiles = cp->nfiles;
	return 0;
}

static int
build_secrets(struct pool_spec *ps, const struct config_pool *cp, char **err)
{
	char	*s, *f[4];
	int	 i, j;

	ps->secrets = xcalloc((size_t)cp->nsecrets + 1, sizeof *ps->secrets);
	for (i = 0; i < cp->nsecrets; i++) {
		s = keep(ps, xstrdup(cp->secrets[i]));
		for (j = 0; j < 4; j++) {
			f[j] = strsep(&s, ":");
			if (f[j] == NULL || (j == 0 && *f[j] == '\0')) {
				*err = xasprintf("secret = %s: expected "
				    "STORE:PATH:FIELD:ENV", cp->secrets[i]);
				return -1;
			}
		}
		/* A fifth field would be cut off silently: say so instead. */
		if (s != NULL) {
			*err = xasprintf("secret = %s: more than four "
			    "':'-separated fields (expected STORE:PATH:FIELD:ENV, "
			    "none of which may contain ':')", cp->secrets[i]);
			return -1;
		}
		ps->secrets[i] = (struct gw_secret){ f[0], f[1], f[2], f[3] };
	}
	ps->spec.secrets = ps->secrets;
	ps->spec.nsecrets = cp->nsecrets;
	return 0;
}

int
pool_spec_build(struct pool_spec *ps, const struct config_pool *cp,
    char **err)
{
	const char	*tag;
	int		 i;

	if ((tag = spec_reserved_tag((const char *const *)cp->tags,
	    cp->ntags)) != NULL) {
		*err = xasprintf("pool %s: tag %s: tags starting with "
		    "\"sandboxd\" are reserved for the daemon's own", cp->name,
		    tag);
		return -1;
	}
	memset(ps, 0, sizeof *ps);
	ps->spec.image = ps->image = dup_or_null(cp->image);
	ps->spec.cpu = ps->cpu = dup_or_null(cp->cpu);
	ps->spec.memory = ps->memory = dup_or_null(cp->memory);
	ps->spec.gpu_type = ps->gpu_type = dup_or_null(cp->gpu_type);
	ps->spec.egress = ps->egress = dup_or_null(cp->egress);
	ps->spec.gpu_count = cp->gpu_count;
	ps->env = xcalloc((size_t)cp->nenv + 1, sizeof *ps->env);
	for (i = 0; i < cp->nenv; i++)
		ps->env[i] = (struct gw_kv){ keep(ps, xstrdup(cp->env[i].key)),
		    keep(ps, xstrdup(cp->env[i].value)) };
	ps->spec.env = ps->env;
	ps->spec.nenv = cp->nenv;
	ps->tags = xcalloc((size_t)cp->ntags + 1, sizeof *ps->tags);
	for (i = 0; i < cp->ntags; i++)
		ps->tags[i] = keep(ps, xstrdup(cp->tags[i]));
	ps->ntags = cp->ntags;
	if (build_files(ps, cp, err) == -1 || build_secrets(ps, cp, err) == -1) {
		pool_spec_free(ps);
		return -1;
	}
	return 0;
}

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Would sandboxes started from `a` and from `b` differ? */
bool
pool_spec_equal(const struct pool_spec *a, const struct pool_spec *b)
{
	int	i;

	if (!str_eq(a->image, b->image) || !str_eq(a->cpu, b->cpu) ||
	    !str_eq(a->memory, b->memory) ||
	    !str_eq(a->gpu_type, b->gpu_type) ||
	    !str_eq(a->egress, b->egress) ||
	    a->spec.gpu_count != b->spec.gpu_count ||
	    a->spec.nenv != b->spec.nenv || a->ntags != b->ntags ||
	    a->spec.nfiles != b->spec.nfiles ||
	    a->spec.nsecrets != b->spec.nsecrets)
		return false;
	for (i = 0; i < a->spec.nenv; i++)
		if (!str_eq(a->env[i].key, b->env[i].key) ||
		    !str_eq(a->env[i].value, b->env[i].value))
			return false;
	for (i = 0; i < a->ntags; i++)
		if (!str_eq(a->tags[i], b->tags[i]))
			return false;
	for (i = 0; i < a->spec.nfiles; i++)
		if (!str_eq(a->files[i].path, b->files[i].path) ||
		    a->files[i].len != b->files[i].len ||
		    (a->files[i].len > 0 && memcmp(a->files[i].data,
		    b->files[i].data, a->files[i].len) != 0))
			return false;
	for (i = 0; i < a->spec.nsecrets; i++)
		if (!str_eq(a->secrets[i].store, b->secrets[i].store) ||
		    !str_eq(a->secrets[i].path, b->secrets[i].path) ||
		    !str_eq(a->secrets[i].field, b->secrets[i].field) ||
		    !str_eq(a->secrets[i].env_var, b->secrets[i].env_var))
			return false;
	return true;
}

void
pool_spec_free(struct pool_spec *ps)
{
	int	i;

	for (i = 0; i < ps->nstrings; i++)
		free(ps->strings[i]);
	free(ps->strings);
	free(ps->image);
	free(ps->cpu);
	free(ps->memory);
	free(ps->gpu_type);
	free(ps->egress);
	free(ps->env);
	free(ps->tags);
	free(ps->files);
	free(ps->secrets);
	memset(ps, 0, sizeof *ps);
}
