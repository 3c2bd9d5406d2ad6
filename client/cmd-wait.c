/* sbctl wait [--timeout DUR] LEASE: wait for a job and take its exit code. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"

static int	cmd_wait_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_wait_entry = {
	.name = "wait",
	.usage = "[--timeout DUR] LEASE",
	.summary = "Wait until the lease's sandbox ends; exit with its exit "
	    "code.",
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_wait_exec,
};

static const struct option wait_longopts[] = {
	{ "timeout",	required_argument,	NULL, SBCTL_OPT_TIMEOUT },
	{ NULL,		0,			NULL, 0 }
};

/* The exit status for a lease.wait result, with the reason when failed. */
static int
wait_status(const char *lease, const json_t *r)
{
	const char	*state = json_string_value(json_object_get(r, "state"));
	const char	*reason = json_string_value(json_object_get(r,
			    "status_reason"));
	json_t		*code = json_object_get(r, "exit_code");
	bool		 failed = state != NULL && strcmp(state, "failed") == 0;
	json_int_t	 v;

	if (failed)
		fprintf(stderr, "sbctl: %s failed%s%s\n", lease,
		    reason != NULL && *reason != '\0' ? ": " : "",
		    reason != NULL ? reason : "");
	if (json_is_integer(code)) {
		v = json_integer_value(code);
		if (v < 0 || v > 255)
			return v < 0 ? SBCTL_EXIT_FAILURE : 255;
		if (v != 0 || !failed)
			return (int)v;
	}
	return failed ? SBCTL_EXIT_FAILURE : SBCTL_EXIT_OK;
}

/* Calls lease.wait and exits with the job's code. */
static int
cmd_wait_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t		*params, *r;
	const char	*why;
	int64_t		 timeout = -1;
	int		 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "", wait_longopts)) != -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?')
			return SBCTL_EXIT_USAGE;
		if (parse_duration(optarg, &timeout, &why) == -1)
			return cmd_usage_error(self, "--timeout: '%s': %s",
			    optarg, why);
	}
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return rv;
	params = json_pack("{s:s}", "lease", argv[optind]);
	if (timeout >= 0)
		json_object_set_new(params, "timeout",
		    sbctl_duration_json(timeout));
	if ((rv = sbctl_call(sb, "lease.wait", params, &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	rv = wait_status(argv[optind], r);
	json_decref(r);
	return rv;
}
