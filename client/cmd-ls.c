/* sbctl ls [-a]: the caller's leases (everyone's with -a) as a table. */
#include <sys/time.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "parse.h"
#include "sbctl.h"
#include "xmalloc.h"

#define LS_COLUMNS	7

static int	cmd_ls_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_ls_entry = {
	.name = "ls",
	.usage = "[-a]",
	.summary = "List your leases (-a: everyone's, for root and admins).",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_ls_exec,
};

static const struct option ls_longopts[] = {
	{ "all",	no_argument,		NULL, 'a' },
	{ NULL,		0,			NULL, 0 }
};

static const char *const ls_headers[LS_COLUMNS] = {
	"LEASE", "SANDBOX", "STATE", "IMAGE", "AGE", "EXPIRES", "OWNER"
};

/* Seconds since the epoch, with the protocol's fractions. */
static double
ls_now(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A string member, or "-" for null or absent (caller frees). */
static char *
ls_string(const json_t *lease, const char *member)
{
	const char	*s = json_string_value(json_object_get(lease, member));

	return xstrdup(s != NULL && *s != '\0' ? s : "-");
}

/* Whole seconds as "4m12s"; "-" when unknown or not positive. */
static char *
ls_duration(const json_t *t, double seconds, bool past_is_dash)
{
	char	 buf[64];

	if (!json_is_number(t) || (past_is_dash && seconds <= 0))
		return xstrdup("-");
	if (seconds < 0)
		seconds = 0;
	format_duration(buf, sizeof buf, (int64_t)seconds * 1000);
	return xstrdup(buf);
}

/* The owner's user name, or the uid when it has none. */
static char *
ls_owner(const json_t *lease)
{
	json_t		*uid = json_object_get(lease, "owner_uid");
	struct passwd	*pw;

	if (!json_is_integer(uid))
		return xstrdup("-");
	if ((pw = getpwuid((uid_t)json_integer_value(uid))) != NULL)
		return xstrdup(pw->pw_name);
	return xasprintf("%lld", (long long)json_integer_value(uid));
}

/* Fills the seven cells of one lease (each freed by the caller). */
static void
ls_row(const json_t *lease, double now, char **cells)
{
	json_t	*created = json_object_get(lease, "created_at");
	json_t	*expires = json_object_get(lease, "expires_at");

	cells[0] = ls_string(lease, "id");
	cells[1] = ls_string(lease, "sandbox_id");
	cells[2] = ls_string(lease, "state");
	cells[3] = ls_string(lease, "image");
	cells[4] = ls_duration(created, now - json_number_value(created),
	    false);
	cells[5] = ls_duration(expires, json_number_value(expires) - now,
	    true);
	cells[6] = ls_owner(lease);
}

/* Prints one row padded to the column widths (the last unpadded). */
static void
ls_print_row(char *const *cells, const size_t *width)
{
	int	 i;

	for (i = 0; i < LS_COLUMNS - 1; i++)
		printf("%-*s  ", (int)width[i], cells[i]);
	printf("%s\n", cells[LS_COLUMNS - 1]);
}

/* Prints the leases as an aligned table with a header. */
static void
ls_print(const json_t *leases)
{
	size_t	 n = json_array_size(leases), i, width[LS_COLUMNS];
	char	**cells = xcalloc((n + 1) * LS_COLUMNS, sizeof *cells);
	double	 now = ls_now();
	int	 c;

	for (c = 0; c < LS_COLUMNS; c++)
		cells[c] = xstrdup(ls_headers[c]);
	for (i = 0; i < n; i++)
		ls_row(json_array_get(leases, i), now,
		    cells + (i + 1) * LS_COLUMNS);
	for (c = 0; c < LS_COLUMNS; c++) {
		width[c] = 0;
		for (i = 0; i <= n; i++)
			if (strlen(cells[i * LS_COLUMNS + c]) > width[c])
				width[c] = strlen(cells[i * LS_COLUMNS + c]);
	}
	for (i = 0; i <= n; i++)
		ls_print_row(cells + i * LS_COLUMNS, width);
	for (i = 0; i < (n + 1) * LS_COLUMNS; i++)
		free(cells[i]);
	free(cells);
}

/* Calls lease.list and prints the table or the result. */
static int
cmd_ls_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	json_t	*params = json_object(), *r;
	int	 ch, rv;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "a", ls_longopts)) != -1) {
		if (ch == 'h') {
			cmd_print_help(self, stdout);
			json_decref(params);
			return SBCTL_EXIT_OK;
		}
		if (ch == '?') {
			json_decref(params);
			return SBCTL_EXIT_USAGE;
		}
		json_object_set_new(params, "all", json_true());
	}
	if ((rv = cmd_check_operands(self, argc - optind, argv + optind)) !=
	    0) {
		json_decref(params);
		return rv;
	}
	if ((rv = sbctl_call(sb, "lease.list", params, &r)) != 0)
		return rv;
	if (sb->json)
		sbctl_print_json(r);
	else if (!json_is_array(json_object_get(r, "leases"))) {
		fprintf(stderr, "sbctl: sandboxd answered lease.list without "
		    "a list of leases\n");
		rv = SBCTL_EXIT_FAILURE;
	} else
		ls_print(json_object_get(r, "leases"));
	json_decref(r);
	return rv;
}
