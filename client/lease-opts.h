/*
 * The lease options shared by `sbctl lease`, `run` and `submit`: one table
 * gives their names, the getopt entries, the help text and how each value
 * becomes a member of lease.acquire's params.
 */
#ifndef SBX_LEASE_OPTS_H
#define SBX_LEASE_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* getopt_long values of the lease options (above any short option). */
enum lease_opt_id {
	LOPT_IMAGE = 0x100,
	LOPT_CPU,
	LOPT_MEMORY,
	LOPT_GPU,
	LOPT_GPU_TYPE,
	LOPT_ENV,
	LOPT_TAG,
	LOPT_TTL,
	LOPT_FILE,
	LOPT_SECRET,
	LOPT_EGRESS,
	LOPT_WAIT,
	LOPT_POOL,
	LOPT_BIND
};

/*
 * Applies one option to `params` (a JSON object being built): 1 when
 * applied, 0 when `id` is not a lease option, -1 when the value is bad
 * (the reason in err, naming the option).
 */
int	lease_opts_apply(json_t *params, int id, const char *arg, char *err,
	    size_t errlen);

/*
 * Writes the lease options' getopt_long entries to `out` (room for `max`)
 * and returns how many; aborts when there is no room.
 */
size_t	lease_opts_getopt_table(struct option *out, size_t max);

/* Lists the options with their help, for `sbctl CMD --help`. */
void	lease_opts_print_help(FILE *);

#endif
