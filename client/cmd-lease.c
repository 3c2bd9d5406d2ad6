/* sbctl lease [lease options]: acquire an interactive sandbox. */
#include "sbctl.h"

/* Acquires a lease and prints its id (acquire.c, shared with submit). */
const struct sbctl_cmd cmd_lease_entry = {
	.name = "lease",
	.usage = "[lease options]",
	.summary = "Lease a sandbox and print the lease id.",
	.lease_opts = true,
	.min_args = 0,
	.max_args = 0,
	.exec = sbctl_lease_exec,
};
