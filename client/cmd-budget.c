/*
 * sbctl budget [-a | -m]: your use against your limits (budget.get); with
 * -a, every user's, the pools' sandbox-seconds and the host's sandboxes.
 * Root sees everyone unless it asks for its own (-m).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"
#include "xmalloc.h"

#define BUDGET_COLUMNS	7

static int	cmd_budget_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_budget_entry = {
	.name = "budget",
	.usage = "[-a | -m]",
	.summary = "Show your sandbox use against your budgets (-a: "
	    "everyone's, for root and admins; root's default; -m: yours).",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_budget_exec,
};

static const struct option budget_longopts[] = {
	{ "all",	no_argument,		NULL, 'a' },
	{ "mine",	no_argument,		NULL, 'm' },
	{ NULL,		0,			NULL, 0 }
};

static const char *const budget_headers[BUDGET_COLUMNS] = {
	"USER", "UID", "LEASES", "MAX-LEASES", "SANDBOX-S", "LIMIT-S", "WINDOW"
};

/* A member of o as an integer (0 when absent). */
static long long
budget_n(const json_t *o, const char *member)
{
	return (long long)json_integer_value(json_object_get(o, member));
}

/* A limit: the number, or "no limit" for 0 (caller frees). */
static char *
budget_limit(const json_t *limits, const char *member)
{
	long long	 v = budget_n(limits, member);

	return v > 0 ? xasprintf("%lld", v) : xstrdup("no limit");
}

/* A duration limit in seconds, or "none" for 0 (caller frees). */
static char *
budget_dur(const json_t *limits, const char *member)
{
	char	 d[32];

	if (budget_n(limits, member) <= 0)
		return xstrdup("none");
	return xstrdup(format_duration(d, sizeof d,
	    budget_n(limits, member) * 1000));
}

/* The caller's budget, one fact a line. */
static void
budget_print_user(const json_t *r)
{
	json_t		*lim = json_object_get(r, "limits");
	json_t		*used = json_object_get(r, "used");
	const char	*user = json_string_value(json_object_get(r, "user"));
	char		*a, *b, *c;

	printf("user %s (uid %lld)\n", user != NULL ? user : "?",
	    budget_n(r, "uid"));
	a = budget_limit(lim, "max_leases");
	printf("  leases            %lld (limit: %s)\n",
	    budget_n(used, "leases"), a);
	free(a);
	a = budget_limit(lim, "sandbox_seconds");
	b = budget_dur(lim, "window_s");
	printf("  sandbox-seconds   %lld in the last %s (limit: %s)\n",
	    budget_n(used, "sandbox_seconds"), b, a);
	free(a);
	free(b);
	a = budget_dur(lim, "max_lease_ttl_s");
	b = budget_dur(lim, "default_lease_ttl_s");
	c = budget_dur(lim, "max_lifetime_s");
	printf("  lease ttl         %s by default, at most %s\n", b, a);
	printf("  sandbox lifetime  at most %s\n", c);
	free(a);
	free(b);
	free(c);
	a = budget_limit(lim, "max_sandboxes");
	printf("  host sandboxes    %s\n", a);
	free(a);
}

/* One user's row of the -a table. */
static void
budget_row(struct sbctl_table *t, const json_t *u)
{
	json_t		*lim = json_object_get(u, "limits");
	json_t		*used = json_object_get(u, "used");
	const char	*user = json_string_value(json_object_get(u, "user"));
	char		*c[BUDGET_COLUMNS];

	c[0] = xstrdup(user != NULL ? user : "-");
	c[1] = xasprintf("%lld", budget_n(u, "uid"));
	c[2] = xasprintf("%lld", budget_n(used, "leases"));
	c[3] = budget_limit(lim, "max_leases");
	c[4] = xasprintf("%lld", budget_n(used, "sandbox_seconds"));
	c[5] = budget_limit(lim, "sandbox_seconds");
	c[6] = budget_dur(lim, "window_s");
	sbctl_table_add(t, c);
}

/* Everyone: the users' table, the pools' seconds, the host's count. */
static void
budget_print_all(const json_t *r)
{
	json_t			*users = json_object_get(r, "users"), *v;
	struct sbctl_table	*t = sbctl_table_new(BUDGET_COLUMNS,
				    budget_headers);
	const char		*k;
	size_t			 i;

	for (i = 0; i < json_array_size(users); i++)
		budget_row(t, json_array_get(users, i));
	sbctl_table_print(t, stdout);
	sbctl_table_free(t);
	json_object_foreach(json_object_get(r, "pool_sandbox_seconds"), k, v)
		printf("pool %s: %lld sandbox-seconds warm\n", k,
		    (long long)json_integer_value(v));
	printf("host sandboxes: %lld\n", budget_n(r, "host_sandboxes"));
}

/* Calls budget.get and prints it. */
static int
cmd_budget_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*params = json_object(), *r;
	bool	 all = getuid() == 0;
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "am", budget_longopts)) !=
	    -1) {
		if (ch == 'h' || ch == '?') {
			json_decref(params);
			if (ch == '?')
				return SBCTL_EXIT_USAGE;
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		all = ch == 'a';
	}
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) !=
	    0) {
		json_decref(params);
		return rv;
	}
	if (all)
		json_object_set_new(params, "all", json_true());
	if ((rv = sbctl_call(sb, "budget.get", params, &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	else if (all)
		budget_print_all(r);
	else
		budget_print_user(r);
	json_decref(r);
	return SBCTL_EXIT_OK;
}
