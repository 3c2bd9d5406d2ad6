/*
 * sbctl tail [-f] [-n N] [--since DUR|TIME] [--timestamps] LEASE: the
 * sandbox's log over tail.start; with -f it follows until the sandbox
 * ends, and Ctrl-C stops it (tail.stop) with status 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "jsonrpc.h"
#include "parse.h"
#include "rpc-client.h"
#include "sbctl.h"

static int	cmd_tail_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_tail_entry = {
	.name = "tail",
	.usage = "[-f] [-n N] [--since DUR|TIME] [--timestamps] LEASE",
	.summary = "Print the sandbox's log (-f: and follow it until the "
	    "sandbox ends or Ctrl-C).",
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_tail_exec,
};

static const struct option tail_longopts[] = {
	{ "follow",	no_argument,		NULL, 'f' },
	{ "lines",	required_argument,	NULL, 'n' },
	{ "since",	required_argument,	NULL, SBCTL_OPT_SINCE },
	{ "timestamps",	no_argument,		NULL, SBCTL_OPT_TIMESTAMPS },
	{ NULL,		0,			NULL, 0 }
};

struct tail {
	struct sbctl	*sb;
	const char	*id;
	bool		 follow;
	bool		 timestamps;
	bool		 bol;		/* the next byte starts a line */
	bool		 stopping;	/* tail.stop sent */
	bool		 done;
	int		 status;
};

/* Formats accepted for a TIME, tried in order (local time). */
static const char *const tail_time_formats[] = {
	"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
	"%Y-%m-%d %H:%M", "%Y-%m-%d", "%H:%M:%S", "%H:%M", NULL
};

/* A TIME as unix seconds: @SECONDS, a date and time, or a time today. */
static int
tail_parse_time(const char *s, double *out)
{
	const char *const	*f;
	struct tm		 tm;
	time_t			 now = time(NULL);
	const char		*end;
	char			*e;

	if (*s == '@') {
		errno = 0;
		*out = strtod(s + 1, &e);
		return (errno != 0 || e == s + 1 || *e != '\0' || *out <= 0) ?
		    -1 : 0;
	}
	for (f = tail_time_formats; *f != NULL; f++) {
		localtime_r(&now, &tm);
		tm.tm_sec = 0;
		if ((end = strptime(s, *f, &tm)) == NULL || *end != '\0')
			continue;
		tm.tm_isdst = -1;
		*out = (double)mktime(&tm);
		return 0;
	}
	return -1;
}

/* --since: a duration ago goes as written, a time as unix seconds. */
static int
tail_since(const struct sbctl_cmd *self, const char *arg, json_t *params)
{
	const char	*why;
	int64_t		 ms;
	double		 t;

	if (parse_duration(arg, &ms, &why) == 0)
		json_object_set_new(params, "since", json_string(arg));
	else if (tail_parse_time(arg, &t) == 0)
		json_object_set_new(params, "since", json_real(t));
	else
		return cmd_usage_error(self, "--since: '%s' is neither a "
		    "duration (10m) nor a time (2026-12-01T10:00, 10:00, "
		    "@1764583200)", arg);
	return 0;
}

/* Parses the options into tail.start params; CMD_CONTINUE or a status. */
static int
tail_parse(const struct sbctl_cmd *self, int argc, char **argv,
    json_t *params)
{
	const char	*why;
	int64_t		 n;
	int		 ch;

	optind = 0;
	while ((ch = cmd_getopt(self, argc, argv, "fn:", tail_longopts)) !=
	    -1) {
		switch (ch) {
		case 'h':
			cmd_print_help(self, stdout);
			return SBCTL_EXIT_OK;
		case 'f':
			json_object_set_new(params, "follow", json_true());
			break;
		case 'n':
			if (parse_int(optarg, 0, INT32_MAX, &n, &why) == -1)
				return cmd_usage_error(self, "-n: '%s': %s",
				    optarg, why);
			json_object_set_new(params, "lines", json_integer(n));
			break;
		case SBCTL_OPT_SINCE:
			if (tail_since(self, optarg, params) != 0)
				return SBCTL_EXIT_USAGE;
			break;
		case SBCTL_OPT_TIMESTAMPS:
			json_object_set_new(params, "timestamps", json_true());
			break;
		default:
			return SBCTL_EXIT_USAGE;
		}
	}
	if ((ch = cmd_check_operands(self, argc - optind, argv + optind)) != 0)
		return ch;
	return CMD_CONTINUE;
}

/* Writes a prefix "2026-12-01T10:04:32.125Z " for a chunk's time. */
static int
tail_write_time(double t)
{
	char		 buf[64];
	struct tm	 tm;
	time_t		 s = (time_t)t;
	size_t		 n;

	gmtime_r(&s, &tm);
	n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03dZ ",
	    (int)((t - (double)s) * 1000) % 1000);
	return sbctl_write_all(STDOUT_FILENO, buf, strlen(buf));
}

/* Writes log bytes, with the chunk's time at each line start if asked. */
static int
tail_write(struct tail *tl, const unsigned char *p, size_t len, double t)
{
	const unsigned char	*nl;
	size_t			 n;

	if (!tl->timestamps)
		return sbctl_write_all(STDOUT_FILENO, p, len);
	while (len > 0) {
		if (tl->bol && tail_write_time(t) == -1)
			return -1;
		nl = memchr(p, '\n', len);
		n = nl != NULL ? (size_t)(nl - p) + 1 : len;
		if (sbctl_write_all(STDOUT_FILENO, p, n) == -1)
			return -1;
		tl->bol = nl != NULL;
		p += n;
		len -= n;
	}
	return 0;
}

/* A tail.data notification: its bytes to stdout. */
static void
tail_data(struct tail *tl, const json_t *p)
{
	json_t		*d = json_object_get(p, "data_b64");
	unsigned char	*data;
	size_t		 len;

	if (!json_is_string(d) || b64_decode(json_string_value(d),
	    json_string_length(d), &data, &len) == -1) {
		tl->status = sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd sent "
		    "bad tail.data");
		tl->done = true;
		return;
	}
	if (tail_write(tl, data, len, json_number_value(json_object_get(p,
	    "time"))) == -1) {
		tl->status = sbctl_warnx(SBCTL_EXIT_FAILURE, "writing stdout: "
		    "%s", strerror(errno));
		tl->done = true;
	}
	free(data);
}

/* tail.end: complete and stopped are fine, the rest explained. */
static void
tail_end(struct tail *tl, const json_t *p)
{
	const char	*why = json_string_value(json_object_get(p, "reason"));
	json_t		*e = json_object_get(p, "error");

	tl->done = true;
	if (tl->stopping)
		tl->status = tl->follow ? SBCTL_EXIT_OK :
		    128 + sbctl_stop_signal;
	else if (why == NULL || strcmp(why, "complete") == 0 ||
	    strcmp(why, "stopped") == 0)
		tl->status = SBCTL_EXIT_OK;
	else if (strcmp(why, "lease_gone") == 0)
		tl->status = sbctl_warnx(SBCTL_EXIT_NOT_FOUND, "the lease is "
		    "gone (released or expired)");
	else if (json_is_object(e)) {
		sbctl_print_error("tail", e);
		tl->status = sbctl_exit_for_error(e);
	} else
		tl->status = sbctl_warnx(SBCTL_EXIT_FAILURE, "the tail ended: "
		    "%s", why);
}

/* Acts on one message; replies (to tail.stop) need nothing. */
static void
tail_message(struct tail *tl, const struct rpc_msg *m)
{
	const char	*id;

	if (m->type != RPC_MSG_NOTIFICATION)
		return;
	id = json_string_value(json_object_get(m->params, "tail"));
	if (id == NULL || strcmp(id, tl->id) != 0)
		return;
	if (strcmp(m->method, "tail.data") == 0)
		tail_data(tl, m->params);
	else if (strcmp(m->method, "tail.end") == 0)
		tail_end(tl, m->params);
}

/* One pass of the loop: a signal stops the tail, then read and act. */
static int
tail_pass(struct tail *tl, const sigset_t *wait)
{
	struct rpc_client_error	 err;
	struct rpc_msg		 m;
	json_int_t		 id;
	short			 rev;
	int			 rv;

	if (sbctl_stop_signal != 0 && !tl->stopping) {
		tl->stopping = true;
		if (rpc_client_send(tl->sb->rpc, "tail.stop", json_pack(
		    "{s:s}", "tail", tl->id), &id, &err) == -1)
			goto fail;
	}
	if (rpc_client_poll(tl->sb->rpc, -1, 0, &rev, wait, &err) == -1)
		goto fail;
	while (!tl->done && (rv = rpc_client_next(tl->sb->rpc, &m, &err)) !=
	    0) {
		if (rv == -1)
			goto fail;
		tail_message(tl, &m);
		rpc_msg_clear(&m);
	}
	return 0;
fail:
	tl->status = sbctl_warnx(err.exit_code, "%s", err.message);
	return -1;
}

/* Follows the tail's notifications to tail.end. */
static int
tail_follow(struct tail *tl)
{
	sigset_t	 old, wait;

	sbctl_wait_block(&old, &wait);
	while (!tl->done && tail_pass(tl, &wait) == 0)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return tl->status;
}

/* Starts the tail and prints the log until it ends. */
static int
cmd_tail_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct tail	 tl = { .sb = sb, .bol = true };
	json_t		*params = json_object(), *r;
	int		 rv;

	if ((rv = tail_parse(self, argc, argv, params)) != CMD_CONTINUE) {
		json_decref(params);
		return rv;
	}
	json_object_set_new(params, "lease", json_string(argv[optind]));
	tl.follow = json_is_true(json_object_get(params, "follow"));
	tl.timestamps = json_is_true(json_object_get(params, "timestamps"));
	rv = sbctl_call_stoppable(sb, "tail.start", params, &r);
	if (rv == RPC_CLIENT_INTERRUPTED)
		return tl.follow ? SBCTL_EXIT_OK : 128 + sbctl_stop_signal;
	if (rv != 0)
		return rv;
	if ((tl.id = json_string_value(json_object_get(r, "tail"))) == NULL)
		rv = sbctl_warnx(SBCTL_EXIT_FAILURE, "sandboxd answered "
		    "tail.start without a tail id");
	else
		rv = tail_follow(&tl);
	json_decref(r);
	return rv;
}
