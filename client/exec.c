/*
 * What `sbctl exec` and `sbctl run` share: their options, and the
 * buffered exec (--buffered): the request (argv, stdin read to EOF as
 * stdin_b64, timeout, output cap) and the reply written back as raw
 * bytes, the remote exit code returned.  The default, streaming, is in
 * exec-start.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "parse.h"
#include "rpc-client.h"
#include "sbctl.h"

/* The long options of exec (and run); the short one is -i. */
const struct option sbctl_exec_longopts[] = {
	SBCTL_EXEC_LONGOPTS,
	{ NULL,		0,			NULL, 0 }
};

/* What exec's options do, for exec --help and run --help. */
const char sbctl_exec_help[] =
"options:\n"
"  -i, --stdin          forward our standard input to CMD; without -i CMD's\n"
"                       stdin is empty and piped input is not read\n"
"  -t, --tty            remote terminal, raw local terminal (implies -i)\n"
"  --buffered           one reply at the end instead of streaming output\n"
"  --timeout DUR        kill CMD after DUR (\"90s\", \"10m\")\n"
"  --max-output SIZE    keep at most SIZE bytes of each of stdout and stderr\n"
"                       (\"64Ki\"); implies --buffered\n";

/* Applies an exec option: 1 taken, 0 not ours, -1 bad (usage printed). */
int
sbctl_exec_option(const struct sbctl_cmd *cmd, struct sbctl_exec_opts *o,
    int ch, const char *arg)
{
	const char	*why = NULL;
	uint64_t	 size;

	switch (ch) {
	case 'i':
		o->send_stdin = true;
		return 1;
	case 't':
		o->tty = true;
		return 1;
	case SBCTL_OPT_BUFFERED:
		o->buffered = true;
		return 1;
	case SBCTL_OPT_TIMEOUT:
		if (parse_duration(arg, &o->timeout_ms, &why) == -1) {
			cmd_usage_error(cmd, "--timeout: '%s': %s", arg, why);
			return -1;
		}
		return 1;
	case SBCTL_OPT_MAX_OUTPUT:
		if (parse_size(arg, &size, &why) == -1 || size > INT64_MAX) {
			cmd_usage_error(cmd, "--max-output: '%s': %s", arg,
			    why != NULL ? why : "too large");
			return -1;
		}
		o->max_output = (int64_t)size;
		o->buffered = true;	/* a cap only the buffered exec has */
		return 1;
	default:
		return 0;
	}
}

/* Refuses combinations that make no sense; 0 or the usage status. */
int
sbctl_exec_opts_check(const struct sbctl_cmd *cmd, struct sbctl_exec_opts *o)
{
	if (o->tty && o->buffered)
		return cmd_usage_error(cmd, "-t needs the streaming exec, not "
		    "--buffered or --max-output");
	if (o->detach && (o->tty || o->send_stdin || o->buffered))
		return cmd_usage_error(cmd, "--detach does not go with -i, -t, "
		    "--buffered or --max-output");
	if (o->tty)
		o->send_stdin = true;	/* a terminal is for typing into */
	return 0;
}

/* Fills in the defaults: no stdin, the daemon's timeout and cap. */
void
sbctl_exec_opts_init(struct sbctl_exec_opts *o)
{
	o->send_stdin = false;
	o->tty = false;
	o->buffered = false;
	o->detach = false;
	o->timeout_ms = -1;
	o->max_output = -1;
	o->interrupt = NULL;
}

/*
 * The exec params in *params; returns 0, RPC_CLIENT_INTERRUPTED, or
 * SBCTL_EXIT_FAILURE when stdin could not be read (printed).
 */
static int
exec_params(const char *lease, int argc, char **argv,
    const struct sbctl_exec_opts *o, json_t **out)
{
	json_t		*params;
	unsigned char	*data;
	char		*b64;
	size_t		 len, b64len;

	params = json_pack("{s:s, s:o}", "lease", lease, "argv",
	    sbctl_argv_json(argc, argv));
	if (o->send_stdin) {
		if (sbctl_read_all(STDIN_FILENO, &data, &len,
		    o->interrupt) == -1) {
			json_decref(params);
			if (errno == EINTR)
				return RPC_CLIENT_INTERRUPTED;
			fprintf(stderr, "sbctl: reading stdin: %s\n",
			    strerror(errno));
			return SBCTL_EXIT_FAILURE;
		}
		b64 = b64_encode(data, len, &b64len);
		free(data);
		json_object_set_new(params, "stdin_b64",
		    json_stringn(b64, b64len));
		free(b64);
	}
	if (o->timeout_ms >= 0)
		json_object_set_new(params, "timeout",
		    sbctl_duration_json(o->timeout_ms));
	if (o->max_output >= 0)
		json_object_set_new(params, "max_output",
		    json_integer(o->max_output));
	*out = params;
	return 0;
}

/* Writes one stream's bytes and notes a truncation; -1 on failure. */
static int
exec_output(const json_t *r, int fd, const char *name)
{
	char	 member[32];
	size_t	 len;
	int	 rv;

	snprintf(member, sizeof member, "%s_b64", name);
	if ((rv = sbctl_write_b64(fd, r, member, &len)) == -2) {
		fprintf(stderr, "sbctl: sandboxd sent a bad %s\n", member);
		return -1;
	}
	if (rv == -1) {
		if (fd != STDERR_FILENO)
			fprintf(stderr, "sbctl: writing %s: %s\n", name,
			    strerror(errno));
		return -1;
	}
	snprintf(member, sizeof member, "%s_truncated", name);
	if (json_is_true(json_object_get(r, member))) {
		snprintf(member, sizeof member, "%s_bytes", name);
		fprintf(stderr, "sbctl: remote %s was truncated: %zu of %lld "
		    "bytes shown\n", name, len,
		    (long long)json_integer_value(json_object_get(r, member)));
	}
	return 0;
}

/* The exit status for an exec result: the remote command's own. */
static int
exec_status(const json_t *r)
{
	json_t		*code = json_object_get(r, "exit_code");
	json_int_t	 v;

	if (!json_is_integer(code)) {
		fprintf(stderr, "sbctl: sandboxd answered exec without an "
		    "exit code\n");
		return SBCTL_EXIT_FAILURE;
	}
	v = json_integer_value(code);
	if (v < 0) {
		fprintf(stderr, "sbctl: the command could not be run\n");
		return SBCTL_EXIT_NOEXEC;
	}
	return v > 255 ? 255 : (int)v;
}

/*
 * Runs argv in the lease and writes its output (streamed unless
 * o->buffered).  Returns the remote exit
 * code, an exit status after printing why, or RPC_CLIENT_INTERRUPTED.
 */
int
sbctl_exec(struct sbctl *sb, const char *lease, int argc, char **argv,
    const struct sbctl_exec_opts *o)
{
	json_t	*params, *r;
	int	 rv;

	if (!o->buffered)
		return sbctl_exec_stream(sb, lease, argc, argv, o);
	if ((rv = exec_params(lease, argc, argv, o, &params)) != 0)
		return rv;
	if ((rv = sbctl_call(sb, "exec", params, &r)) != 0)
		return rv;
	fflush(stdout);
	if (exec_output(r, STDOUT_FILENO, "stdout") == -1 ||
	    exec_output(r, STDERR_FILENO, "stderr") == -1)
		rv = SBCTL_EXIT_FAILURE;
	else
		rv = exec_status(r);
	json_decref(r);
	return rv;
}
