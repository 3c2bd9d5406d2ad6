/*
 * sbctl ps [-a] [LEASE]: the execs sandboxd knows (running and recently
 * finished), optionally of one lease only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sbctl.h"
#include "xmalloc.h"

#define PS_COLUMNS	7

static int	cmd_ps_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_ps_entry = {
	.name = "ps",
	.usage = "[-a] [LEASE]",
	.summary = "List your execs, running and recently finished (-a: "
	    "everyone's).",
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_ps_exec,
};

static const struct option ps_longopts[] = {
	{ "all",	no_argument,		NULL, 'a' },
	{ NULL,		0,			NULL, 0 }
};

static const char *const ps_headers[PS_COLUMNS] = {
	"EXEC", "LEASE", "STATE", "EXIT", "AGE", "OUTPUT", "COMMAND"
};

/* The argv joined with spaces (caller frees). */
static char *
ps_command(const json_t *argv)
{
	char	*s = xstrdup(""), *t;
	size_t	 i;

	for (i = 0; i < json_array_size(argv); i++) {
		t = xasprintf("%s%s%s", s, i ? " " : "",
		    json_string_value(json_array_get(argv, i)) ?: "?");
		free(s);
		s = t;
	}
	return s;
}

/* EXIT: the code once exited, the error's kind once failed, else "-". */
static char *
ps_exit(const json_t *x)
{
	json_t	*code = json_object_get(x, "exit_code");
	json_t	*kind = json_object_get(json_object_get(json_object_get(x,
		    "error"), "data"), "kind");

	if (json_is_integer(code))
		return xasprintf("%lld", (long long)json_integer_value(code));
	if (json_is_string(kind))
		return xstrdup(json_string_value(kind));
	return xstrdup("-");
}

/* One row of the table. */
static void
ps_row(struct sbctl_table *t, const json_t *x)
{
	char		*c[PS_COLUMNS];
	json_t		*st = json_object_get(x, "started_at");
	const char	*state = json_string_value(json_object_get(x, "state"));

	c[0] = xstrdup(json_string_value(json_object_get(x, "exec")) ?: "-");
	c[1] = xstrdup(json_string_value(json_object_get(x, "lease")) ?: "-");
	c[2] = xasprintf("%s%s", state ? state : "-",
	    json_is_true(json_object_get(x, "detached")) ? "+" : "");
	c[3] = ps_exit(x);
	c[4] = json_is_number(st) ? sbctl_age(json_number_value(st)) :
	    xstrdup("-");
	c[5] = xasprintf("%lld", (long long)json_integer_value(
	    json_object_get(x, "output_bytes")));
	c[6] = ps_command(json_object_get(x, "argv"));
	sbctl_table_add(t, c);
}

/* Keeps only the execs of `lease` (all when NULL). */
static void
ps_filter(json_t *execs, const char *lease)
{
	size_t		 i = 0;
	const char	*l;

	while (lease != NULL && i < json_array_size(execs)) {
		l = json_string_value(json_object_get(json_array_get(execs, i),
		    "lease"));
		if (l == NULL || strcmp(l, lease) != 0)
			json_array_remove(execs, i);
		else
			i++;
	}
}

/* Parses -a; CMD_CONTINUE or the exit status. */
static int
ps_parse(const struct sbctl_cmd *self, int argc, char **argv, json_t *params)
{
	int	 ch;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "a", ps_longopts)) != -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?')
			return SBCTL_EXIT_USAGE;
		json_object_set_new(params, "all", json_true());
	}
	if ((ch = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return ch;
	return CMD_CONTINUE;
}

/* Calls exec.list and prints the table or the (filtered) result. */
static int
cmd_ps_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t			*params = json_object(), *r, *execs;
	struct sbctl_table	*t;
	size_t			 i;
	int			 rv;

	if ((rv = ps_parse(self, argc, argv, params)) != CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	if ((rv = sbctl_call(sb, "exec.list", params, &r)) != 0)
		return rv;
	if (!json_is_array(execs = json_object_get(r, "execs"))) {
		json_decref(r);
		return sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd answered "
		    "exec.list without a list of execs");
	}
	ps_filter(execs, optind < argc ? argv[optind] : NULL);
	if (sb->json)
		sbctl_print_json(r);
	else {
		t = sbctl_table_new(PS_COLUMNS, ps_headers);
		for (i = 0; i < json_array_size(execs); i++)
			ps_row(t, json_array_get(execs, i));
		sbctl_table_print(t, stdout);
		sbctl_table_free(t);
	}
	json_decref(r);
	return SBCTL_EXIT_OK;
}
