/*
 * sbctl run [lease options] [--keep] [-i] [--timeout DUR] -- CMD…: lease,
 * exec, release.  SIGINT, SIGTERM and SIGHUP cut the exec short and the
 * lease is still released (on a fresh connection) before exiting 128+sig.
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
	.usage = "[lease options] [--keep] [-i] [--timeout DUR] "
	    "[--max-output SIZE] -- CMD [ARG ...]",
	.summary = "Lease a sandbox, run CMD in it, release it; exit with "
	    "CMD's exit code.",
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

static volatile sig_atomic_t	run_signal;

/* Notes the first signal; a second of the same kind is not caught again. */
static void
run_sighandler(int sig)
{
	if (run_signal != 0)
		signal(sig, SIG_DFL);
	else
		run_signal = sig;
}

/* Catches the stop signals without SA_RESTART so waits are cut short. */
static void
run_catch_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = run_sighandler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A closed stdout must not kill us before the release. */
	signal(SIGPIPE, SIG_IGN);
}

/* Parses run's options into the acquire params and exec options. */
static int
run_parse(const struct sbctl_cmd *self, int argc, char **argv,
    json_t *params, struct sbctl_exec_opts *o, bool *keep)
{
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "i", run_longopts)) != -1) {
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
	return cmd_check_operands(self, argc - optind, argv + optind) != 0 ?
	    SBCTL_EXIT_USAGE : CMD_CONTINUE;
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
	run_catch_signals();
	if ((rv = sbctl_acquire(sb, params, &lease)) != 0)
		return run_signal != 0 ? 128 + run_signal : rv;
	if (keep)
		fprintf(stderr, "%s\n", sbctl_lease_id(lease));
	rv = RPC_CLIENT_INTERRUPTED;
	if (run_signal == 0) {
		rpc_client_set_interrupt(sb->rpc, &run_signal);
		o.interrupt = &run_signal;
		rv = sbctl_exec(sb, sbctl_lease_id(lease), argc - optind,
		    argv + optind, &o);
	}
	if (rv == RPC_CLIENT_INTERRUPTED || run_signal != 0)
		rv = 128 + run_signal;
	if (!keep && (rrv = run_release(sb, sbctl_lease_id(lease))) != 0 &&
	    run_signal == 0)
		rv = rrv;
	json_decref(lease);
	return rv;
}
