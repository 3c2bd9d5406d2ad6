/*
 * sbctl run [lease options] [--keep] [-it] [--buffered] -- CMD…: lease,
 * exec, release.  The lease is bound to this process, so a run killed
 * outright still gives its sandbox back (sandboxd watches our pid).
 * SIGINT, SIGTERM and SIGHUP cancel the command and the lease is still
 * released (on a fresh connection) before exiting 128+sig.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "rpc-client.h"
#include "sbctl.h"

static int	cmd_run_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_run_entry = {
	.name = "run",
	.usage = "[lease options] [--keep] [-it] [--buffered] [--timeout DUR] "
	    "[--max-output SIZE] -- CMD [ARG ...]",
	.summary = "Lease a sandbox, run CMD in it, release it; exit with "
	    "CMD's exit code.",
	.help = sbctl_exec_help,
	.lease_opts = true,
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_run_exec,
};

static const struct option run_longopts[] = {
	SBCTL_EXEC_LONGOPTS,
	{ "keep",	no_argument,		NULL, SBCTL_OPT_KEEP },
	{ NULL,		0,			NULL, 0 }
};

/*
 * The binding: our process unless --keep (the lease must outlive us) or
 * --bind says otherwise.  0 or the usage status.
 */
static int
run_bind(const struct sbctl_cmd *self, json_t *params, bool keep)
{
	const char	*bind = json_string_value(json_object_get(params,
			    "bind"));

	if (bind == NULL) {
		json_object_set_new(params, "bind", json_string(keep ? "none" :
		    "process"));
		return 0;
	}
	if (keep && strcmp(bind, "none") != 0)
		return cmd_usage_error(self, "--keep and --bind %s do not go "
		    "together: the lease would end with sbctl", bind);
	return 0;
}

/* Parses run's options into the acquire params and exec options. */
static int
run_parse(const struct sbctl_cmd *self, int argc, char **argv,
    json_t *params, struct sbctl_exec_opts *o, bool *keep)
{
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "it", run_longopts)) != -1) {
		if (ch == SBCTL_OPT_KEEP) {
			*keep = true;
			continue;
		}
		if ((rv = sbctl_exec_option(self, o, ch, optarg)) == 1)
			continue;
		if (rv == -1)
			return SBCTL_EXIT_USAGE;
		if ((rv = sbctl_lease_option(self, params, ch, optarg)) !=
		    CMD_CONTINUE)
			return rv;
	}
	if (sbctl_exec_opts_check(self, o) != 0 ||
	    run_bind(self, params, *keep) != 0 ||
	    cmd_check_operands(self, argc - optind, argv + optind) != 0)
		return SBCTL_EXIT_USAGE;
	return CMD_CONTINUE;
}

/*
 * Releases the lease on a new connection (the old one may have a request
 * in flight).  Returns 0 or the failure's exit status.
 */
static int
run_release(struct sbctl *sb, const char *lease)
{
	json_t	*r;
	int	 rv;

	sbctl_disconnect(sb);
	rv = sbctl_call(sb, "lease.release", json_pack("{s:s}", "lease",
	    lease), &r);
	json_decref(r);
	return rv;
}

/* Leases, runs and releases; returns CMD's exit code or an error status. */
static int
cmd_run_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct sbctl_exec_opts	 o;
	json_t			*params = json_object(), *lease;
	bool			 keep = false;
	int			 rv, rrv;

	sbctl_exec_opts_init(&o);
	if ((rv = run_parse(self, argc, argv, params, &o, &keep)) !=
	    CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	sbctl_catch_stop_signals();
	/* A closed stdout must not kill us before the release. */
	signal(SIGPIPE, SIG_IGN);
	if ((rv = sbctl_acquire(sb, params, &lease)) != 0)
		return sbctl_stop_signal != 0 ? 128 + sbctl_stop_signal : rv;
	if (keep)
		fprintf(stderr, "%s\n", sbctl_lease_id(lease));
	rv = RPC_CLIENT_INTERRUPTED;
	if (sbctl_stop_signal == 0) {
		rpc_client_set_interrupt(sb->rpc, &sbctl_stop_signal);
		o.interrupt = &sbctl_stop_signal;
		rv = sbctl_exec(sb, sbctl_lease_id(lease), argc - optind,
		    argv + optind, &o);
	}
	if (rv == RPC_CLIENT_INTERRUPTED || sbctl_stop_signal != 0)
		rv = 128 + sbctl_stop_signal;
	if (!keep && (rrv = run_release(sb, sbctl_lease_id(lease))) != 0 &&
	    sbctl_stop_signal == 0)
		rv = rrv;
	json_decref(lease);
	return rv;
}
