/*
 * The command table: lookup by name or alias, and every usage and help
 * text printed from the entries themselves, so `sbctl help`, `sbctl CMD
 * --help` and a usage error always say the same thing.
 */
#include <err.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease-opts.h"
#include "sbctl.h"

#define CMD_MAX_LONGOPTS	48

const struct sbctl_cmd *const sbctl_cmds[] = {
	&cmd_status_entry,
	&cmd_lease_entry,
	&cmd_exec_entry,
	&cmd_run_entry,
	&cmd_attach_entry,
	&cmd_ps_entry,
	&cmd_tail_entry,
	&cmd_cp_entry,
	&cmd_reclaim_entry,
	&cmd_ls_entry,
	&cmd_submit_entry,
	&cmd_wait_entry,
	&cmd_renew_entry,
	&cmd_pool_entry,
	&cmd_budget_entry,
	&cmd_doctor_entry,
	&cmd_help_entry,
	NULL
};

/* Finds a command by its name or alias; NULL when there is none. */
const struct sbctl_cmd *
cmd_find(const char *name)
{
	const struct sbctl_cmd *const	*c;

	for (c = sbctl_cmds; *c != NULL; c++) {
		if (strcmp((*c)->name, name) == 0 ||
		    ((*c)->alias != NULL && strcmp((*c)->alias, name) == 0))
			return *c;
	}
	return NULL;
}

/* Prints "usage: sbctl NAME USAGE". */
void
cmd_print_usage(const struct sbctl_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: sbctl %s%s%s\n", cmd->name,
	    *cmd->usage != '\0' ? " " : "", cmd->usage);
}

/* Prints a command's usage, summary, alias and lease options. */
void
cmd_print_help(const struct sbctl_cmd *cmd, FILE *f)
{
	cmd_print_usage(cmd, f);
	fprintf(f, "\n%s\n", cmd->summary);
	if (cmd->help != NULL)
		fprintf(f, "\n%s", cmd->help);
	if (cmd->alias != NULL)
		fprintf(f, "alias: %s\n", cmd->alias);
	if (cmd->lease_opts) {
		fputc('\n', f);
		lease_opts_print_help(f);
	}
}

/* Prints the global usage and every command's usage and summary. */
void
cmd_print_overview(FILE *f)
{
	const struct sbctl_cmd *const	*c;

	fprintf(f, "usage: sbctl [--socket PATH] [--json] [--help] "
	    "[--version] COMMAND [ARGS]\n\ncommands:\n");
	for (c = sbctl_cmds; *c != NULL; c++) {
		fprintf(f, "  %s%s%s\n", (*c)->name,
		    *(*c)->usage != '\0' ? " " : "", (*c)->usage);
		fprintf(f, "      %s\n", (*c)->summary);
	}
	fprintf(f, "\nSee sbctl COMMAND --help and sbctl(1).\n");
}

/* Prints "sbctl: NAME: why" and the usage; returns the usage status. */
int
cmd_usage_error(const struct sbctl_cmd *cmd, const char *fmt, ...)
{
	char	 why[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	warnx("%s: %s", cmd->name, why);
	cmd_print_usage(cmd, stderr);
	return SBCTL_EXIT_USAGE;
}

/* The getopt_long table: lease options if any, the command's, --help. */
static const struct option *
cmd_longopts(const struct sbctl_cmd *cmd, const struct option *extra)
{
	static struct option	 all[CMD_MAX_LONGOPTS];
	size_t			 n = 0;

	if (cmd->lease_opts)
		n = lease_opts_getopt_table(all, CMD_MAX_LONGOPTS);
	for (; extra != NULL && extra->name != NULL; extra++) {
		if (n >= CMD_MAX_LONGOPTS - 2)
			abort();
		all[n++] = *extra;
	}
	all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	all[n] = (struct option){ NULL, 0, NULL, 0 };
	return all;
}

/*
 * getopt_long for a command, with -h/--help and (when the command takes
 * them) the lease options added, and getopt's messages replaced by ours.
 * Options stop at the first operand or "--".  Returns the option, -1 at
 * the end, or '?' after printing a usage error.  Set optind = 0 before the
 * first call.
 */
int
cmd_getopt(const struct sbctl_cmd *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts)
{
	const char	*arg;
	char		 opts[64];
	int		 ch;

	snprintf(opts, sizeof opts, "+:h%s", shortopts);
	opterr = 0;
	ch = getopt_long(argc, argv, opts, cmd_longopts(cmd, longopts), NULL);
	if (ch == '?') {
		arg = argv[optind - 1];
		if (strncmp(arg, "--", 2) != 0)
			cmd_usage_error(cmd, "unknown option -%c", optopt);
		else if (optopt != 0)
			cmd_usage_error(cmd, "option %s takes no value", arg);
		else
			cmd_usage_error(cmd, "unknown option %s", arg);
		return '?';
	}
	if (ch == ':') {
		cmd_usage_error(cmd, "option %s needs a value",
		    argv[optind - 1]);
		return '?';
	}
	return ch;
}

/*
 * For commands without options of their own: handles --help and checks
 * the operands.  Returns CMD_CONTINUE with optind at the first operand, or
 * the exit status.
 */
int
cmd_parse_plain(const struct sbctl_cmd *cmd, int argc, char **argv)
{
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(cmd, argc, argv, "", NULL)) != -1) {
		if (ch != 'h')
			return SBCTL_EXIT_USAGE;
		cmd_print_help(cmd, stdout);
		return SBCTL_EXIT_OK;
	}
	if ((rv = cmd_check_operands(cmd, argc - optind, argv + optind)) != 0)
		return rv;
	return CMD_CONTINUE;
}

/* Checks the operand count; prints a usage error and returns 64 if wrong. */
int
cmd_check_operands(const struct sbctl_cmd *cmd, int argc, char **argv)
{
	if (argc < cmd->min_args)
		return cmd_usage_error(cmd, argc == 0 ? "missing operand" :
		    "missing operands");
	if (cmd->max_args != -1 && argc > cmd->max_args)
		return cmd_usage_error(cmd, "unexpected operand '%s'",
		    argv[cmd->max_args]);
	return 0;
}
