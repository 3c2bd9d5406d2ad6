/*
 * sbctl exec [-it] [--detach] [--buffered] [--timeout DUR] LEASE -- CMD…:
 * run a command in a lease, streaming its output as it comes.
 */
#include <string.h>

#include "sbctl.h"

static int	cmd_exec_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_exec_entry = {
	.name = "exec",
	.usage = "[-it] [--detach] [--buffered] [--timeout DUR] "
	    "[--max-output SIZE] LEASE -- CMD [ARG ...]",
	.summary = "Run CMD in the leased sandbox, output as it comes; exit "
	    "with its exit code (--detach: print the exec id and return).",
	.help = sbctl_exec_help,
	.min_args = 2,
	.max_args = -1,
	.exec = cmd_exec_exec,
};

static const struct option exec_longopts[] = {
	SBCTL_EXEC_LONGOPTS,
	{ "detach",	no_argument,		NULL, SBCTL_OPT_DETACH },
	{ NULL,		0,			NULL, 0 }
};

/* Parses the options into o; CMD_CONTINUE or the exit status. */
static int
exec_parse(const struct sbctl_cmd *self, int argc, char **argv,
    struct sbctl_exec_opts *o)
{
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "it", exec_longopts)) !=
	    -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == SBCTL_OPT_DETACH) {
			o->detach = true;
			continue;
		}
		if (ch == '?' || sbctl_exec_option(self, o, ch, optarg) != 1)
			return SBCTL_EXIT_USAGE;
	}
	if ((rv = sbctl_exec_opts_check(self, o)) != 0)
		return rv;
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return rv;
	return CMD_CONTINUE;
}

/* Parses the options and runs the command in the lease. */
static int
cmd_exec_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct sbctl_exec_opts	 o;
	const char		*lease;
	int			 rv;

	sbctl_exec_opts_init(&o);
	if ((rv = exec_parse(self, argc, argv, &o)) != CMD_CONTINUE)
		return rv;
	lease = argv[optind++];
	if (strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return cmd_usage_error(self, "missing command");
	return sbctl_exec(sb, lease, argc - optind, argv + optind, &o);
}
