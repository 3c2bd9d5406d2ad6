/*
 * What lease, run and submit share: parsing the lease options into
 * lease.acquire params, the call itself and printing the new lease.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lease-opts.h"
#include "sbctl.h"

/*
 * Applies one option from cmd_getopt() that is not the command's own:
 * help, a usage error, or a lease option.  Returns CMD_CONTINUE or the
 * exit status.
 */
int
sbctl_lease_option(const struct sbctl_cmd *cmd, json_t *params, int ch,
    const char *arg)
{
	char	 err[512];

	if (ch == 'h') {
		cmd_print_help(cmd, stdout);
		return SBCTL_EXIT_OK;
	}
	if (ch == '?')
		return SBCTL_EXIT_USAGE;
	switch (lease_opts_apply(params, ch, arg, err, sizeof err)) {
	case 1:
		return CMD_CONTINUE;
	case 0:
		return cmd_usage_error(cmd, "option %c is not handled", ch);
	default:
		return cmd_usage_error(cmd, "%s", err);
	}
}

/*
 * lease and submit end as soon as the lease is there, so a lease bound to
 * their connection or process would be given back at once: refuse it.
 */
static int
lease_refuse_bind(const struct sbctl_cmd *cmd, const json_t *params)
{
	const char	*bind = json_string_value(json_object_get(params,
			    "bind"));

	if (bind == NULL || strcmp(bind, "none") == 0)
		return CMD_CONTINUE;
	return cmd_usage_error(cmd, "--bind %s would release the lease as "
	    "soon as sbctl %s exits", bind, cmd->name);
}

/*
 * Parses only lease options (no --bind but none) and checks operands;
 * optind at the first.
 */
int
sbctl_parse_lease_args(const struct sbctl_cmd *cmd, int argc, char **argv,
    json_t *params)
{
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(cmd, argc, argv, "", NULL)) != -1) {
		if ((rv = sbctl_lease_option(cmd, params, ch, optarg)) !=
		    CMD_CONTINUE)
			return rv;
	}
	if ((rv = cmd_check_operands(cmd, argc - optind, argv + optind)) != 0)
		return rv;
	return lease_refuse_bind(cmd, params);
}

/* A JSON array of strings from argv. */
json_t *
sbctl_argv_json(int argc, char **argv)
{
	json_t	*a = json_array();
	int	 i;

	for (i = 0; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

/*
 * Calls lease.acquire (params stolen).  Returns 0 with *lease set, or the
 * exit status after printing why.  A reply without a lease id is an error.
 */
int
sbctl_acquire(struct sbctl *sb, json_t *params, json_t **lease)
{
	int	 rv;

	if ((rv = sbctl_call(sb, "lease.acquire", params, lease)) != 0)
		return rv;
	if (!json_is_string(json_object_get(*lease, "id"))) {
		fprintf(stderr, "sbctl: sandboxd answered lease.acquire "
		    "without a lease id\n");
		json_decref(*lease);
		*lease = NULL;
		return SBCTL_EXIT_FAILURE;
	}
	return 0;
}

/* The id of a lease object (checked by sbctl_acquire). */
const char *
sbctl_lease_id(const json_t *lease)
{
	return json_string_value(json_object_get(lease, "id"));
}

/* Prints a new lease: its id, or the whole object with --json. */
void
sbctl_print_lease(const struct sbctl *sb, const json_t *lease)
{
	if (sb->json)
		sbctl_print_json(lease);
	else
		printf("%s\n", sbctl_lease_id(lease));
}

/*
 * The exec of lease and submit: acquires a lease with the lease options
 * and prints it.  Operands (submit's; lease allows none) are the job's
 * main command.
 */
int
sbctl_lease_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*params = json_object(), *lease;
	int	 rv;

	if ((rv = sbctl_parse_lease_args(self, argc, argv, params)) !=
	    CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	if (optind < argc)
		json_object_set_new(params, "command",
		    sbctl_argv_json(argc - optind, argv + optind));
	if ((rv = sbctl_acquire(sb, params, &lease)) != 0)
		return rv;
	sbctl_print_lease(sb, lease);
	json_decref(lease);
	return SBCTL_EXIT_OK;
}
