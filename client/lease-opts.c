/* The shared lease options of lease, run and submit, table-driven. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "lease-opts.h"
#include "parse.h"
#include "sbctl.h"
#include "xmalloc.h"

struct lease_opt {
	const char	*name;
	const char	*arg;		/* metavariable in the help */
	int		 id;
	const char	*member;	/* params member it fills */
	int		(*apply)(const struct lease_opt *, json_t *,
			    const char *, char *, size_t);
	const char	*help;
};

static int lopt_string(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_count(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_duration(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_env(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_tag(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_file(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_bind(const struct lease_opt *, json_t *, const char *,
    char *, size_t);
static int lopt_secret(const struct lease_opt *, json_t *, const char *,
    char *, size_t);

static const struct lease_opt lease_opt_table[] = {
	{ "image", "IMG", LOPT_IMAGE, "image", lopt_string,
	  "container image (default: sandboxd's)" },
	{ "cpu", "C", LOPT_CPU, "cpu", lopt_string,
	  "CPU request, Kubernetes form (\"2\", \"500m\")" },
	{ "memory", "M", LOPT_MEMORY, "memory", lopt_string,
	  "memory request, Kubernetes form (\"512Mi\", \"4Gi\")" },
	{ "gpu", "N", LOPT_GPU, "gpu_count", lopt_count,
	  "number of GPUs" },
	{ "gpu-type", "T", LOPT_GPU_TYPE, "gpu_type", lopt_string,
	  "GPU type" },
	{ "env", "K=V", LOPT_ENV, "env", lopt_env,
	  "environment variable (repeatable)" },
	{ "tag", "T", LOPT_TAG, "tags", lopt_tag,
	  "tag for the sandbox (repeatable)" },
	{ "ttl", "DUR", LOPT_TTL, "ttl", lopt_duration,
	  "lease lifetime, then sandboxd reclaims it" },
	{ "file", "LOCAL:REMOTE", LOPT_FILE, "files", lopt_file,
	  "copy a local file into the sandbox (repeatable)" },
	{ "secret", "STORE:PATH:FIELD:ENV", LOPT_SECRET, "secrets",
	  lopt_secret, "secret-store value as an env var (repeatable)" },
	{ "egress", "MODE", LOPT_EGRESS, "egress", lopt_string,
	  "network egress mode" },
	{ "wait", "DUR", LOPT_WAIT, "wait", lopt_duration,
	  "how long to wait for the sandbox to run" },
	{ "pool", "NAME", LOPT_POOL, "pool", lopt_string,
	  "take a warm sandbox from this pool" },
	{ "bind", "HOW", LOPT_BIND, "bind", lopt_bind,
	  "connection|process|none: release when sbctl goes (run: process)" },
};
#define LEASE_OPT_COUNT	(sizeof lease_opt_table / sizeof lease_opt_table[0])

/* Fills err with "--name: reason"; returns -1. */
static int __attribute__((format(printf, 4, 5)))
lopt_fail(const struct lease_opt *o, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	n = snprintf(err, errlen, "--%s: ", o->name);
	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The array params[member], created on first use. */
static json_t *
lopt_array(json_t *params, const char *member)
{
	json_t	*a = json_object_get(params, member);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(params, member, a);
	}
	return a;
}

/* A non-empty string value. */
static int
lopt_string(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	if (*arg == '\0')
		return lopt_fail(o, err, errlen, "needs a non-empty value");
	json_object_set_new(params, o->member, json_string(arg));
	return 1;
}

/* A count such as the number of GPUs. */
static int
lopt_count(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	const char	*why;
	int64_t		 v;

	if (parse_int(arg, 0, 1024, &v, &why) == -1)
		return lopt_fail(o, err, errlen, "'%s': %s", arg, why);
	json_object_set_new(params, o->member, json_integer(v));
	return 1;
}

/* A duration, sent as seconds. */
static int
lopt_duration(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	const char	*why;
	int64_t		 ms;

	if (parse_duration(arg, &ms, &why) == -1)
		return lopt_fail(o, err, errlen, "'%s': %s", arg, why);
	json_object_set_new(params, o->member, sbctl_duration_json(ms));
	return 1;
}

/* K=V into params.env; a later value for K wins. */
static int
lopt_env(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	const char	*eq = strchr(arg, '=');
	json_t		*env = json_object_get(params, o->member);
	char		*key;

	if (eq == NULL || eq == arg)
		return lopt_fail(o, err, errlen, "'%s' is not K=V", arg);
	if (!json_is_object(env)) {
		env = json_object();
		json_object_set_new(params, o->member, env);
	}
	key = xstrndup(arg, (size_t)(eq - arg));
	json_object_set_new(env, key, json_string(eq + 1));
	free(key);
	return 1;
}

/* One more tag. */
static int
lopt_tag(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	if (*arg == '\0')
		return lopt_fail(o, err, errlen, "needs a non-empty value");
	json_array_append_new(lopt_array(params, o->member), json_string(arg));
	return 1;
}

/* LOCAL:REMOTE: the local file's bytes travel as files[].data_b64. */
static int
lopt_file(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	const char	*colon = strchr(arg, ':');
	unsigned char	*data;
	char		*local, *b64;
	size_t		 len, b64len;

	if (colon == NULL || colon == arg || colon[1] == '\0')
		return lopt_fail(o, err, errlen, "'%s' is not LOCAL:REMOTE",
		    arg);
	local = xstrndup(arg, (size_t)(colon - arg));
	if (sbctl_read_file(local, &data, &len) == -1) {
		lopt_fail(o, err, errlen, "%s: %s", local, strerror(errno));
		free(local);
		return -1;
	}
	free(local);
	b64 = b64_encode(data, len, &b64len);
	free(data);
	json_array_append_new(lopt_array(params, o->member),
	    json_pack("{s:s, s:s%}", "path", colon + 1, "data_b64", b64,
	    b64len));
	free(b64);
	return 1;
}

/* How the lease is bound to its client: connection, process or none. */
static int
lopt_bind(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	if (strcmp(arg, "connection") != 0 && strcmp(arg, "process") != 0 &&
	    strcmp(arg, "none") != 0)
		return lopt_fail(o, err, errlen, "'%s' is not connection, "
		    "process or none", arg);
	json_object_set_new(params, o->member, json_string(arg));
	return 1;
}

/*
 * STORE:PATH:FIELD:ENV.  The store is up to the first colon and FIELD and
 * ENV are the last two fields, so a PATH may itself hold colons.
 */
static int
lopt_secret(const struct lease_opt *o, json_t *params, const char *arg,
    char *err, size_t errlen)
{
	const char	*c1 = strchr(arg, ':'), *c3 = strrchr(arg, ':'), *c2;
	char		*store, *path, *field;

	c2 = c3;
	if (c1 != NULL && c3 != NULL && c3 > c1)
		for (c2 = c3 - 1; c2 > c1 && *c2 != ':'; c2--)
			;
	if (c1 == NULL || c2 <= c1 || c1 == arg || c2 == c1 + 1 ||
	    c3 == c2 + 1 || c3[1] == '\0')
		return lopt_fail(o, err, errlen,
		    "'%s' is not STORE:PATH:FIELD:ENV", arg);
	store = xstrndup(arg, (size_t)(c1 - arg));
	path = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
	field = xstrndup(c2 + 1, (size_t)(c3 - c2 - 1));
	json_array_append_new(lopt_array(params, o->member),
	    json_pack("{s:s, s:s, s:s, s:s}", "store", store, "path", path,
	    "field", field, "env_var", c3 + 1));
	free(store);
	free(path);
	free(field);
	return 1;
}

/* Applies lease option `id` to params. */
int
lease_opts_apply(json_t *params, int id, const char *arg, char *err,
    size_t errlen)
{
	size_t	 i;

	for (i = 0; i < LEASE_OPT_COUNT; i++) {
		if (lease_opt_table[i].id == id)
			return lease_opt_table[i].apply(&lease_opt_table[i],
			    params, arg, err, errlen);
	}
	return 0;
}

/* The lease options as getopt_long entries. */
size_t
lease_opts_getopt_table(struct option *out, size_t max)
{
	size_t	 i;

	if (max < LEASE_OPT_COUNT)
		abort();
	for (i = 0; i < LEASE_OPT_COUNT; i++)
		out[i] = (struct option){ lease_opt_table[i].name,
		    required_argument, NULL, lease_opt_table[i].id };
	return LEASE_OPT_COUNT;
}

/* Prints the lease options, aligned, for a command's --help. */
void
lease_opts_print_help(FILE *f)
{
	char	 left[64];
	size_t	 i;

	fprintf(f, "lease options:\n");
	for (i = 0; i < LEASE_OPT_COUNT; i++) {
		snprintf(left, sizeof left, "--%s %s", lease_opt_table[i].name,
		    lease_opt_table[i].arg);
		fprintf(f, "  %-30s %s\n", left, lease_opt_table[i].help);
	}
}
