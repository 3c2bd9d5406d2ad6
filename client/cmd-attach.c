/*
 * sbctl attach [--from OFFSET] EXEC: replay what sandboxd kept of an
 * exec's output and follow it live to the exit, with its exit code.
 * Ctrl-C leaves the exec running (exec.detach) and exits 130.
 */
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "parse.h"
#include "rpc-client.h"
#include "sbctl.h"

static int	cmd_attach_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_attach_entry = {
	.name = "attach",
	.usage = "[--from OFFSET] EXEC",
	.summary = "Replay and follow an exec's output to its exit; exit with "
	    "its exit code.",
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_attach_exec,
};

static const struct option attach_longopts[] = {
	{ "from",	required_argument,	NULL, SBCTL_OPT_FROM },
	{ NULL,		0,			NULL, 0 }
};

/* Says on stderr how many bytes the ring no longer held. */
static void
attach_note_lost(const json_t *r)
{
	json_int_t	 lost = json_integer_value(json_object_get(r, "lost"));
	json_int_t	 from = json_integer_value(json_object_get(r, "from"));

	if (lost > 0)
		fprintf(stderr, "sbctl: %lld bytes of output were lost "
		    "(sandboxd keeps the last part only); replaying from "
		    "offset %lld\n", (long long)lost, (long long)from);
}

/* Parses --from; CMD_CONTINUE or the exit status. */
static int
attach_parse(const struct sbctl_cmd *self, int argc, char **argv,
    int64_t *from)
{
	const char	*why;
	int		 ch;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "", attach_longopts)) !=
	    -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?')
			return SBCTL_EXIT_USAGE;
		if (parse_int(optarg, 0, INT64_MAX, from, &why) == -1)
			return cmd_usage_error(self, "--from: '%s': %s", optarg,
			    why);
	}
	if ((ch = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return ch;
	return CMD_CONTINUE;
}

/* Attaches and follows to the exit. */
static int
cmd_attach_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct sbctl_follow	 f = { .stdin_fd = -1, .detach_on_stop = true };
	json_t			*params, *r;
	int64_t			 from = -1;
	int			 rv;

	if ((rv = attach_parse(self, argc, argv, &from)) != CMD_CONTINUE)
		return rv;
	params = json_pack("{s:s}", "exec", argv[optind]);
	if (from >= 0)
		json_object_set_new(params, "from", json_integer(from));
	rv = sbctl_call_stoppable(sb, "exec.attach", params, &r);
	if (rv == RPC_CLIENT_INTERRUPTED)
		return 128 + sbctl_stop_signal;
	if (rv != 0)
		return rv;
	fflush(stdout);
	attach_note_lost(r);
	rv = sbctl_exec_follow(sb, argv[optind], &f);
	json_decref(r);
	return rv;
}
