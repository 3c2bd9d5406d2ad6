/* sbctl submit [lease options] -- CMD…: start a job sandbox. */
#include <jansson.h>

#include "sbctl.h"

static int	cmd_submit_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_submit_entry = {
	.name = "submit",
	.usage = "[lease options] -- CMD [ARG ...]",
	.summary = "Start a job sandbox running CMD and print its lease id.",
	.lease_opts = true,
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_submit_exec,
};

/* Acquires a job lease whose main command is the operands. */
static int
cmd_submit_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*params = json_object(), *lease;
	int	 rv;

	if ((rv = sbctl_parse_lease_args(self, argc, argv, params)) !=
	    CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	json_object_set_new(params, "command",
	    sbctl_argv_json(argc - optind, argv + optind));
	if ((rv = sbctl_acquire(sb, params, &lease)) != 0)
		return rv;
	sbctl_print_lease(sb, lease);
	json_decref(lease);
	return SBCTL_EXIT_OK;
}
