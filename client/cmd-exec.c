/* sbctl exec [-i] [--timeout DUR] LEASE -- CMD…: run a command in a lease. */
#include <string.h>

#include "sbctl.h"

static int	cmd_exec_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_exec_entry = {
	.name = "exec",
	.usage = "[-i] [--timeout DUR] [--max-output SIZE] LEASE -- CMD "
	    "[ARG ...]",
	.summary = "Run CMD in the leased sandbox; exit with its exit code.",
	.min_args = 2,
	.max_args = -1,
	.exec = cmd_exec_exec,
};

/* Parses the options and runs the command in the lease. */
static int
cmd_exec_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct sbctl_exec_opts	 o;
	const char		*lease;
	int			 ch, rv;

	sbctl_exec_opts_init(&o);
	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "i", sbctl_exec_longopts))
	    != -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?' || (rv = sbctl_exec_option(self, &o, ch,
		    optarg)) != 1)
			return SBCTL_EXIT_USAGE;
	}
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return rv;
	lease = argv[optind++];
	if (strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return cmd_usage_error(self, "missing command");
	return sbctl_exec(sb, lease, argc - optind, argv + optind, &o);
}
