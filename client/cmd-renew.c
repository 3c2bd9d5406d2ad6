/* sbctl renew [--ttl DUR] LEASE: move a lease's deadline forward. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"

static int	cmd_renew_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_renew_entry = {
	.name = "renew",
	.usage = "[--ttl DUR] LEASE",
	.summary = "Extend a lease to DUR from now (default: its ttl), "
	    "within the budgets.",
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_renew_exec,
};

static const struct option renew_longopts[] = {
	{ "ttl",	required_argument,	NULL, SBCTL_OPT_TTL },
	{ NULL,		0,			NULL, 0 }
};

/* "l-… expires in 30m" from the renewed lease. */
static void
renew_print(const json_t *lease)
{
	json_t	*exp = json_object_get(lease, "expires_at");
	char	 d[32];
	double	 left;

	if (!json_is_number(exp)) {
		printf("%s renewed\n", sbctl_lease_id(lease));
		return;
	}
	left = json_number_value(exp) - sbctl_now();
	format_duration(d, sizeof d, (int64_t)(left < 0 ? 0 : left) * 1000);
	printf("%s expires in %s\n", sbctl_lease_id(lease), d);
}

/* Calls lease.renew and says when the lease now ends. */
static int
cmd_renew_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	const char	*why;
	json_t		*params, *r;
	int64_t		 ttl = -1;
	int		 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "", renew_longopts)) != -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?')
			return SBCTL_EXIT_USAGE;
		if (parse_duration(optarg, &ttl, &why) == -1 || ttl <= 0)
			return cmd_usage_error(self, "--ttl: '%s': %s", optarg,
			    ttl == 0 ? "must be positive" : why);
	}
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return rv;
	params = json_pack("{s:s}", "lease", argv[optind]);
	if (ttl > 0)
		json_object_set_new(params, "ttl", sbctl_duration_json(ttl));
	if ((rv = sbctl_call(sb, "lease.renew", params, &r)) != 0)
		return rv;
	if (!json_is_string(json_object_get(r, "id")))
		rv = sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd answered "
		    "lease.renew without a lease");
	else if (sb->json)
		sbctl_print_json(r);
	else
		renew_print(r);
	json_decref(r);
	return rv;
}
