/*
 * sbctl pool [ls] | sbctl pool resize NAME N|auto: the warm pools as a
 * table, and how many sandboxes one keeps ready (root and admins).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"
#include "xmalloc.h"

#define POOL_COLUMNS	9

static int	cmd_pool_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_pool_entry = {
	.name = "pool",
	.usage = "[ls | resize NAME N|auto]",
	.summary = "Show the warm pools, or set how many sandboxes one keeps "
	    "ready.",
	.min_args = 0,
	.max_args = 3,
	.exec = cmd_pool_exec,
};

static const char *const pool_headers[POOL_COLUMNS] = {
	"NAME", "READY", "STARTING", "LEASED", "WAITING", "TARGET", "HIT%",
	"COLD-P50", "LAST-ERROR"
};

/* An integer member as text. */
static char *
pool_int(const json_t *p, const char *member)
{
	return xasprintf("%lld", (long long)json_integer_value(
	    json_object_get(p, member)));
}

/* TARGET: the number kept ready, "auto(N)" when sized by demand. */
static char *
pool_target(const json_t *p)
{
	const char	*w = json_string_value(json_object_get(p, "warm"));

	if (w != NULL && strcmp(w, "auto") == 0)
		return xasprintf("auto(%lld)", (long long)json_integer_value(
		    json_object_get(p, "target")));
	return pool_int(p, "target");
}

/* One row; "-" where nothing is known yet. */
static void
pool_row(struct sbctl_table *t, const json_t *p)
{
	char		*c[POOL_COLUMNS], d[32];
	const char	*err = json_string_value(json_object_get(p,
			    "last_error"));
	json_int_t	 cold = json_integer_value(json_object_get(p,
			    "cold_start_p50_ms"));

	c[0] = xasprintf("%s%s", json_string_value(json_object_get(p,
	    "name")) ?: "?", json_is_true(json_object_get(p, "default")) ?
	    "*" : "");
	c[1] = pool_int(p, "ready");
	c[2] = pool_int(p, "starting");
	c[3] = pool_int(p, "leased");
	c[4] = pool_int(p, "waiting");
	c[5] = pool_target(p);
	c[6] = json_integer_value(json_object_get(p, "claims")) > 0 ?
	    xasprintf("%.0f", 100 * json_number_value(json_object_get(p,
	    "hit_rate"))) : xstrdup("-");
	c[7] = xstrdup(cold > 0 ? format_duration(d, sizeof d, cold) : "-");
	c[8] = xstrdup(err != NULL && *err != '\0' ? err : "-");
	sbctl_table_add(t, c);
}

/* pool ls: pool.list as a table. */
static int
pool_ls(struct sbctl *sb)
{
	struct sbctl_table	*t;
	json_t			*r, *pools;
	size_t			 i;
	int			 rv;

	if ((rv = sbctl_call(sb, "pool.list", json_object(), &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	else if (!json_is_array(pools = json_object_get(r, "pools")))
		rv = sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd answered "
		    "pool.list without a list of pools");
	else {
		t = sbctl_table_new(POOL_COLUMNS, pool_headers);
		for (i = 0; i < json_array_size(pools); i++)
			pool_row(t, json_array_get(pools, i));
		sbctl_table_print(t, stdout);
		sbctl_table_free(t);
	}
	json_decref(r);
	return rv;
}

/* pool resize NAME N|auto. */
static int
pool_resize(struct sbctl *sb, const struct sbctl_cmd *self, const char *name,
    const char *arg)
{
	const char	*why;
	json_t		*warm, *r;
	int64_t		 n;
	int		 rv;

	if (strcmp(arg, "auto") == 0)
		warm = json_string("auto");
	else if (parse_int(arg, 0, 10000, &n, &why) == 0)
		warm = json_integer(n);
	else
		return cmd_usage_error(self, "resize: '%s' is not a number "
		    "from 0 to 10000 or auto", arg);
	if ((rv = sbctl_call(sb, "pool.resize", json_pack("{s:s, s:o}",
	    "pool", name, "warm", warm), &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	else
		printf("pool %s: warm %s, target %lld\n", name, arg,
		    (long long)json_integer_value(json_object_get(r,
		    "target")));
	json_decref(r);
	return SBCTL_EXIT_OK;
}

/* Dispatches on the sub-command. */
static int
cmd_pool_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	int	 rv, n;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	argv += optind;
	n = argc - optind;
	if (n == 0 || (n == 1 && strcmp(argv[0], "ls") == 0))
		return pool_ls(sb);
	if (strcmp(argv[0], "resize") == 0) {
		if (n != 3)
			return cmd_usage_error(self, "resize needs NAME and "
			    "N or auto");
		return pool_resize(sb, self, argv[1], argv[2]);
	}
	if (strcmp(argv[0], "ls") == 0)
		return cmd_usage_error(self, "unexpected operand '%s'",
		    argv[1]);
	return cmd_usage_error(self, "unknown sub-command '%s'", argv[0]);
}
