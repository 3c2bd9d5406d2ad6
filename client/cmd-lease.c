/* sbctl lease [lease options]: acquire an interactive sandbox. */
#include <jansson.h>

#include "sbctl.h"

static int	cmd_lease_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_lease_entry = {
	.name = "lease",
	.usage = "[lease options]",
	.summary = "Lease a sandbox and print the lease id.",
	.lease_opts = true,
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_lease_exec,
};

/* Acquires a lease and prints its id. */
static int
cmd_lease_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*params = json_object(), *lease;
	int	 rv;

	if ((rv = sbctl_parse_lease_args(self, argc, argv, params)) !=
	    CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	if ((rv = sbctl_acquire(sb, params, &lease)) != 0)
		return rv;
	sbctl_print_lease(sb, lease);
	json_decref(lease);
	return SBCTL_EXIT_OK;
}
