/* sbctl submit [lease options] -- CMD…: start a job sandbox. */
#include "sbctl.h"

/*
 * Acquires a job lease whose main command is the operands, and prints its
 * id (acquire.c, shared with lease).
 */
const struct sbctl_cmd cmd_submit_entry = {
	.name = "submit",
	.usage = "[lease options] -- CMD [ARG ...]",
	.summary = "Start a job sandbox running CMD and print its lease id.",
	.lease_opts = true,
	.min_args = 1,
	.max_args = -1,
	.exec = sbctl_lease_exec,
};
