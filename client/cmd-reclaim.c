/* sbctl reclaim LEASE…: release leases, each on its own. */
#include <stdio.h>

#include <jansson.h>

#include "rpc-client.h"
#include "sbctl.h"

static int	cmd_reclaim_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_reclaim_entry = {
	.name = "reclaim",
	.alias = "release",
	.usage = "LEASE ...",
	.summary = "Release leases: stop their sandboxes and forget them.",
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_reclaim_exec,
};

/*
 * Releases one lease.  Returns 0, the exit status of an error reply
 * (printed with the lease id) or of a transport failure.
 */
static int
reclaim_one(struct sbctl *sb, const char *lease, bool *fatal)
{
	struct rpc_client_error	 err;
	json_t			*r, *error;
	int			 rv;

	if ((rv = sbctl_connect(sb)) != 0) {
		*fatal = true;
		return rv;
	}
	if (rpc_client_call(sb->rpc, "lease.release", json_pack("{s:s}",
	    "lease", lease), &r, &error, &err) != 0) {
		fprintf(stderr, "sbctl: %s\n", err.message);
		*fatal = true;
		return err.exit_code;
	}
	if (error != NULL) {
		sbctl_print_error(lease, error);
		rv = sbctl_exit_for_error(error);
		json_decref(error);
		return rv;
	}
	if (sb->json)
		sbctl_print_json(r);
	json_decref(r);
	return 0;
}

/* Releases every lease named; the first failure's status is the result. */
static int
cmd_reclaim_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	bool	 fatal = false;
	int	 i, rv, first = 0;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	for (i = optind; i < argc && !fatal; i++) {
		if ((rv = reclaim_one(sb, argv[i], &fatal)) != 0 && first == 0)
			first = rv;
	}
	return first;
}
