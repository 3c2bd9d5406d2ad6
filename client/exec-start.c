/*
 * exec.start for `sbctl exec` and `sbctl run`: a detached exec prints its
 * id and returns; otherwise the terminal is made raw for -t and the exec
 * is followed to its exit (exec-stream.c).
 */
#include <err.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>

#include "rpc-client.h"
#include "sbctl.h"

/* The exec.start params for argv and the options. */
static json_t *
start_params(const char *lease, int argc, char **argv,
    const struct sbctl_exec_opts *o)
{
	json_t		*p;
	unsigned	 w, h;

	p = json_pack("{s:s, s:o}", "lease", lease, "argv",
	    sbctl_argv_json(argc, argv));
	if (o->send_stdin)
		json_object_set_new(p, "stdin", json_true());
	if (o->detach)
		json_object_set_new(p, "detach", json_true());
	if (o->timeout_ms >= 0)
		json_object_set_new(p, "timeout",
		    sbctl_duration_json(o->timeout_ms));
	if (o->tty) {
		json_object_set_new(p, "tty", json_true());
		if (sbctl_tty_size(STDIN_FILENO, &w, &h) ||
		    sbctl_tty_size(STDOUT_FILENO, &w, &h)) {
			json_object_set_new(p, "width", json_integer(w));
			json_object_set_new(p, "height", json_integer(h));
		}
	}
	return p;
}

/* Prints a detached exec's id, or the whole result with --json. */
static int
start_detached(const struct sbctl *sb, const json_t *r)
{
	const char	*id = json_string_value(json_object_get(r, "exec"));

	if (sb->json)
		sbctl_print_json(r);
	else
		printf("%s\n", id);
	return SBCTL_EXIT_OK;
}

/*
 * Starts argv in the lease and, unless detached, follows it to its exit:
 * the remote exit code, or an exit status after printing why.
 */
int
sbctl_exec_stream(struct sbctl *sb, const char *lease, int argc, char **argv,
    const struct sbctl_exec_opts *o)
{
	struct sbctl_follow	 f = { .stdin_fd = -1, .tty = o->tty };
	json_t			*r;
	const char		*id;
	int			 rv;

	/*
	 * Connect before building the params, so the terminal's size is read
	 * as late as it can be (a pty's creator may still be setting it).
	 */
	if ((rv = sbctl_connect(sb)) != 0)
		return rv;
	rv = sbctl_call_stoppable(sb, "exec.start",
	    start_params(lease, argc, argv, o), &r);
	if (rv == RPC_CLIENT_INTERRUPTED)
		return 128 + sbctl_stop_signal;
	if (rv != 0)
		return rv;
	if ((id = json_string_value(json_object_get(r, "exec"))) == NULL) {
		json_decref(r);
		return sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd answered "
		    "exec.start without an exec id");
	}
	if (o->detach) {
		rv = start_detached(sb, r);
		json_decref(r);
		return rv;
	}
	if (o->send_stdin)
		f.stdin_fd = STDIN_FILENO;
	if (o->tty && isatty(STDIN_FILENO)) {
		sbctl_catch_winch();
		if (sbctl_tty_raw(STDIN_FILENO) == -1)
			warn("cannot put the terminal in raw mode");
	}
	rv = sbctl_exec_follow(sb, id, &f);
	sbctl_tty_restore();
	json_decref(r);
	return rv;
}
