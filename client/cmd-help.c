/* sbctl help [COMMAND]: the overview, or one command's help. */
#include <stdio.h>

#include "sbctl.h"

static int	cmd_help_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_help_entry = {
	.name = "help",
	.usage = "[COMMAND]",
	.summary = "Show the commands, or one command's usage and options.",
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_help_exec,
};

/* Prints the overview or the named command's help. */
static int
cmd_help_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	const struct sbctl_cmd	*cmd;
	int			 rv;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	if (argc == optind) {
		cmd_print_overview(stdout);
		return SBCTL_EXIT_OK;
	}
	if ((cmd = cmd_find(argv[optind])) == NULL)
		return cmd_usage_error(self, "unknown command '%s'",
		    argv[optind]);
	cmd_print_help(cmd, stdout);
	return SBCTL_EXIT_OK;
}
