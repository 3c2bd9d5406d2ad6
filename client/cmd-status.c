/* sbctl status: what sandboxd says about itself and its gateway. */
#include <stdio.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"

static int	cmd_status_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_status_entry = {
	.name = "status",
	.usage = "",
	.summary = "Show sandboxd's version, uptime, gateway, lease count and "
	    "host totals.",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_status_exec,
};

/* A string member, or "-" when absent. */
static const char *
status_str(const json_t *o, const char *member)
{
	const char	*s = json_string_value(json_object_get(o, member));

	return s != NULL ? s : "-";
}

/* A member as an integer (0 when absent). */
static long long
status_n(const json_t *o, const char *member)
{
	return (long long)json_integer_value(json_object_get(o, member));
}

/* The host's totals: sandboxes held, sandbox-seconds charged. */
static void
status_print_host(const json_t *h)
{
	char	 w[32];

	printf("sandboxes: %lld", status_n(h, "sandboxes"));
	if (status_n(h, "max_sandboxes") > 0)
		printf(" of %lld", status_n(h, "max_sandboxes"));
	printf("\nsandbox-seconds: %lld in the last %s (all users), %lld warm "
	    "in pools\n", status_n(h, "sandbox_seconds"),
	    format_duration(w, sizeof w, status_n(h, "window_s") * 1000),
	    status_n(h, "pool_sandbox_seconds"));
}

/* One line per pool: how full it is, and why it is not if it failed. */
static void
status_print_pools(const json_t *pools)
{
	const json_t	*p;
	const char	*err;
	size_t		 i;

	json_array_foreach(pools, i, p) {
		printf("pool %s: %lld/%lld ready, %lld leased, %lld starting",
		    status_str(p, "name"), status_n(p, "ready"),
		    status_n(p, "target"), status_n(p, "leased"),
		    status_n(p, "starting"));
		if ((err = json_string_value(json_object_get(p,
		    "last_error"))) != NULL)
			printf(", last error: %s", err);
		printf("\n");
	}
}

/* Prints the status result for a person. */
static void
status_print(const json_t *r)
{
	json_t	*gw = json_object_get(r, "gateway");
	json_t	*up = json_object_get(r, "uptime_s");
	char	 d[32] = "-";

	if (json_is_number(up))
		format_duration(d, sizeof d,
		    (int64_t)json_number_value(up) * 1000);
	printf("sandboxd %s, pid %lld, up %s\n", status_str(r, "version"),
	    (long long)json_integer_value(json_object_get(r, "pid")), d);
	printf("gateway: %s (%s", status_str(gw, "address"),
	    status_str(gw, "state"));
	if (json_is_array(json_object_get(gw, "channels")))
		printf(", %zu channels",
		    json_array_size(json_object_get(gw, "channels")));
	printf(")\nleases: %lld\n",
	    (long long)json_integer_value(json_object_get(r, "leases")));
	status_print_pools(json_object_get(r, "pools"));
	if (json_is_object(json_object_get(r, "host")))
		status_print_host(json_object_get(r, "host"));
}

/* Calls status and prints it. */
static int
cmd_status_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*result;
	int	 rv;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	if ((rv = sbctl_call(sb, "status", json_object(), &result)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(result);
	else
		status_print(result);
	json_decref(result);
	return SBCTL_EXIT_OK;
}
