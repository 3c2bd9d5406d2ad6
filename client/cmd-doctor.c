/*
 * sbctl doctor: checks, in order, what has to work for sbctl to be useful
 * (the socket, the daemon, the gateway, its acceptance of our key, each
 * warm pool, the clock) and says for each failure what to fix.  Later checks that depend
 * on an earlier one are skipped, not failed twice.
 */
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonrpc.h"
#include "parse.h"
#include "rpc-client.h"
#include "sbctl.h"

#define CLOCK_SKEW_MAX_S	5.0	/* more than this between us and it */
#define CLOCK_SANE_AFTER	1704067200	/* 2024-01-01: before is unset */

enum doctor_result { DOC_OK, DOC_WARN, DOC_FAIL, DOC_SKIP };

struct doctor {
	struct sbctl	*sb;
	json_t		*checks;	/* what --json prints */
	json_t		*status;	/* the daemon's status, or NULL */
	json_t		*daemon_time;	/* its wall clock (unix s), or NULL */
	int		 exit_code;	/* of the first failure */
};

static int	cmd_doctor_exec(struct sbctl *, const struct sbctl_cmd *, int,
		    char **);

const struct sbctl_cmd cmd_doctor_entry = {
	.name = "doctor",
	.usage = "",
	.summary = "Check the socket, sandboxd, the gateway, the API key, "
	    "the warm pools and the clock; say what to fix.  Exits non-zero when something is "
	    "wrong (69 unreachable, 77 refused, 1 otherwise).",
	.min_args = 0,
	.max_args = 0,
	.exec = cmd_doctor_exec,
};

static const char *const result_words[] = { "ok", "warn", "FAIL", "skip" };

/* Records one check (and prints it unless --json); `fix` may be NULL. */
static void __attribute__((format(printf, 5, 6)))
report(struct doctor *doc, const char *name, enum doctor_result r,
    const char *fix, const char *fmt, ...)
{
	char	 detail[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	json_array_append_new(doc->checks, json_pack("{s:s, s:s, s:s, s:s?}",
	    "check", name, "result", result_words[r], "detail", detail,
	    "fix", r == DOC_FAIL || r == DOC_WARN ? fix : NULL));
	if (doc->sb->json)
		return;
	printf("%-5s %-8s %s\n", result_words[r], name, detail);
	if ((r == DOC_FAIL || r == DOC_WARN) && fix != NULL)
		printf("      fix: %s\n", fix);
}

/* Marks the run failed with `code` unless an earlier failure set one. */
static void
failed(struct doctor *doc, int code)
{
	if (doc->exit_code == 0)
		doc->exit_code = code;
}

/* "srw-rw---- root:sandboxd" for the socket. */
static void
describe_mode(const struct stat *st, char *buf, size_t len)
{
	struct passwd	*pw = getpwuid(st->st_uid);
	struct group	*gr = getgrgid(st->st_gid);
	char		 u[32], g[32];

	snprintf(u, sizeof u, "%u", (unsigned)st->st_uid);
	snprintf(g, sizeof g, "%u", (unsigned)st->st_gid);
	snprintf(buf, len, "mode %04o, %s:%s", (unsigned)(st->st_mode & 07777),
	    pw ? pw->pw_name : u, gr ? gr->gr_name : g);
}

/* The socket exists, is a socket, and we may connect to it. */
static int
check_socket(struct doctor *doc)
{
	const char		*path = doc->sb->socket;
	struct rpc_client_error	 err;
	struct stat		 st;
	char			 mode[128];

	if (stat(path, &st) == -1) {
		report(doc, "socket", DOC_FAIL, "start sandboxd (systemctl "
		    "start sandboxd.socket sandboxd, or run sandboxd), or point "
		    "--socket or SANDBOXD_SOCKET at its socket",
		    "%s: %s", path, errno == ENOENT ? "no socket there, so "
		    "sandboxd is not running here" : strerror(errno));
		failed(doc, errno == EACCES ? SBCTL_EXIT_NOPERM :
		    SBCTL_EXIT_UNAVAILABLE);
		return -1;
	}
	describe_mode(&st, mode, sizeof mode);
	if (!S_ISSOCK(st.st_mode)) {
		report(doc, "socket", DOC_FAIL, "remove it and restart sandboxd, "
		    "or fix --socket / SANDBOXD_SOCKET", "%s is not a socket "
		    "(%s)", path, mode);
		failed(doc, SBCTL_EXIT_UNAVAILABLE);
		return -1;
	}
	if ((doc->sb->rpc = rpc_client_open(path, &err)) == NULL) {
		report(doc, "socket", DOC_FAIL, err.exit_code ==
		    SBCTL_EXIT_NOPERM ? "ask an admin to add you to the "
		    "socket's group (usermod -aG GROUP USER), then log in again" :
		    "restart sandboxd (systemctl restart sandboxd) and see "
		    "journalctl -u sandboxd", "%s (%s)", err.message, mode);
		failed(doc, err.exit_code);
		return -1;
	}
	report(doc, "socket", DOC_OK, NULL, "%s (%s)", path, mode);
	return 0;
}

/*
 * One call; 0 with *result, 1 with *error (caller frees), or -1 after
 * reporting a transport failure under `name`.
 */
static int
call(struct doctor *doc, const char *name, const char *method,
    json_t **result, json_t **error)
{
	struct rpc_client_error	 err;

	if (rpc_client_call(doc->sb->rpc, method, json_object(), result, error,
	    &err) != 0) {
		report(doc, name, DOC_FAIL, "see journalctl -u sandboxd: the "
		    "daemon may have crashed", "%s: %s", method, err.message);
		failed(doc, err.exit_code);
		return -1;
	}
	return *error != NULL ? 1 : 0;
}

/* The daemon answers status; its version should match ours. */
static int
check_daemon(struct doctor *doc)
{
	json_t		*error;
	const char	*v;
	char		 up[32] = "?";
	int		 rv;

	if ((rv = call(doc, "daemon", "status", &doc->status, &error)) != 0) {
		if (rv == 1) {
			report(doc, "daemon", DOC_FAIL, "see journalctl -u "
			    "sandboxd", "status: %s",
			    rpc_error_message_of(error));
			failed(doc, sbctl_exit_for_error(error));
			json_decref(error);
		}
		return -1;
	}
	doc->daemon_time = json_incref(json_object_get(doc->status, "time"));
	v = json_string_value(json_object_get(doc->status, "version"));
	if (json_is_number(json_object_get(doc->status, "uptime_s")))
		format_duration(up, sizeof up, (int64_t)(json_number_value(
		    json_object_get(doc->status, "uptime_s")) * 1000));
	if (v == NULL || strcmp(v, SANDBOXD_VERSION) != 0)
		report(doc, "daemon", DOC_WARN, "install sbctl and sandboxd from "
		    "the same release, and restart sandboxd after upgrading",
		    "sandboxd %s, but this sbctl is %s", v ? v : "(unknown)",
		    SANDBOXD_VERSION);
	else
		report(doc, "daemon", DOC_OK, NULL, "sandboxd %s, pid %lld, up "
		    "%s", v, (long long)json_integer_value(json_object_get(
		    doc->status, "pid")), up);
	return 0;
}

/* What to do about a gateway.check failure of this kind. */
static const char *
gateway_fix(const char *kind)
{
	if (strcmp(kind, "unauthenticated") == 0 ||
	    strcmp(kind, "permission_denied") == 0)
		return "give sandboxd a valid key and entity: "
		    "/etc/sandboxd/api-key (LoadCredential=api-key:…), "
		    "api_key_file, SANDBOXD_API_KEY or WANDB_API_KEY, and "
		    "WANDB_ENTITY_NAME or [gateway] entity; then restart sandboxd";
	if (strcmp(kind, "gateway_unavailable") == 0 ||
	    strcmp(kind, "deadline_exceeded") == 0)
		return "check [gateway] address in sandboxd.conf, that the "
		    "gateway is up, DNS, proxies and TLS (ca_file); see "
		    "journalctl -u sandboxd";
	return "see journalctl -u sandboxd for the gateway's answer";
}

/* The gateway is not ours and sandboxd has no key of any kind. */
static bool
no_key_for_remote(json_t *r)
{
	const char	*addr = json_string_value(json_object_get(r, "address"));
	const char	*src = json_string_value(json_object_get(r,
			    "key_source"));

	return addr != NULL && strcmp(addr, "local") != 0 && src != NULL &&
	    strcmp(src, "none") == 0 &&
	    !json_is_true(json_object_get(r, "bearer"));
}

/* Reports an answered gateway.check: reachability, then the key. */
static void
report_gateway_check(struct doctor *doc, json_t *r)
{
	const char	*addr = json_string_value(json_object_get(r, "address"));
	const char	*kind = json_string_value(json_object_get(r, "kind"));
	const char	*msg = json_string_value(json_object_get(r, "message"));
	json_int_t	 ms = json_integer_value(json_object_get(r, "latency_ms"));
	bool		 auth;

	addr = addr ? addr : "?";
	if (json_is_true(json_object_get(r, "ok"))) {
		report(doc, "gateway", DOC_OK, NULL, "%s answered in %lld ms",
		    addr, (long long)ms);
		report(doc, "auth", DOC_OK, NULL, "the gateway accepted our "
		    "key");
		return;
	}
	kind = kind ? kind : "error";
	msg = msg ? msg : "";
	auth = strcmp(kind, "unauthenticated") == 0 ||
	    strcmp(kind, "permission_denied") == 0;
	if (auth && no_key_for_remote(r)) {
		report(doc, "gateway", DOC_OK, NULL, "%s answered", addr);
		report(doc, "auth", DOC_FAIL, "put the key in "
		    "/etc/sandboxd/api-key (root:root 0600; the unit loads it "
		    "with LoadCredential=), or set api_key_file in "
		    "sandboxd.conf; then restart sandboxd", "sandboxd has no "
		    "API key, and the gateway wants one (%s): %s", kind, msg);
		failed(doc, SBCTL_EXIT_NOPERM);
		return;
	}
	if (auth) {
		report(doc, "gateway", DOC_OK, NULL, "%s answered", addr);
		report(doc, "auth", DOC_FAIL, gateway_fix(kind), "the gateway "
		    "refused our key (%s): %s", kind, msg);
		failed(doc, SBCTL_EXIT_NOPERM);
		return;
	}
	report(doc, "gateway", DOC_FAIL, gateway_fix(kind), "%s is not "
	    "reachable (%s): %s", addr, kind, msg);
	report(doc, "auth", DOC_SKIP, NULL, "needs a reachable gateway");
	failed(doc, strcmp(kind, "gateway_unavailable") == 0 ||
	    strcmp(kind, "deadline_exceeded") == 0 ? SBCTL_EXIT_UNAVAILABLE :
	    SBCTL_EXIT_FAILURE);
}

/* One cheap authenticated call through the daemon. */
static void
check_gateway(struct doctor *doc)
{
	json_t	*r, *error;
	int	 rv;

	if ((rv = call(doc, "gateway", "gateway.check", &r, &error)) == -1)
		return;
	if (rv == 1) {
		if (rpc_error_kind_of(error) == RPC_ERR_METHOD_NOT_FOUND)
			report(doc, "gateway", DOC_SKIP, NULL, "this sandboxd "
			    "has no gateway.check; its status says the gateway "
			    "is %s", json_string_value(json_object_get(
			    json_object_get(doc->status, "gateway"), "state")) ?:
			    "unknown");
		else {
			report(doc, "gateway", DOC_FAIL, "see journalctl -u "
			    "sandboxd", "gateway.check: %s",
			    rpc_error_message_of(error));
			failed(doc, sbctl_exit_for_error(error));
		}
		json_decref(error);
		return;
	}
	if (doc->daemon_time == NULL)
		doc->daemon_time = json_incref(json_object_get(r, "time"));
	report_gateway_check(doc, r);
	json_decref(r);
}

/*
 * One check per warm pool, from status: starts failing (the gateway's
 * reason, and the backoff), or fewer warm than its target with nothing
 * starting to make up for it.
 */
static void
check_pools(struct doctor *doc)
{
	json_t		*p;
	const char	*name, *err;
	json_int_t	 target, ready, starting, failures, backoff;
	char		 fix[512];
	size_t		 i;

	json_array_foreach(json_object_get(doc->status, "pools"), i, p) {
		name = json_string_value(json_object_get(p, "name"));
		err = json_string_value(json_object_get(p, "last_error"));
		target = json_integer_value(json_object_get(p, "target"));
		ready = json_integer_value(json_object_get(p, "ready"));
		starting = json_integer_value(json_object_get(p, "starting"));
		failures = json_integer_value(json_object_get(p,
		    "start_failures"));
		backoff = json_integer_value(json_object_get(p, "backoff_ms"));
		name = name ? name : "?";
		if (ready < target && (backoff > 0 || (failures > 0 &&
		    err != NULL))) {
			snprintf(fix, sizeof fix, "check [pool.%s] in "
			    "sandboxd.conf (image, command, resources) "
			    "against the gateway's answer; sbctl pool resize "
			    "%s 0 stops the retries", name, name);
			report(doc, "pool", DOC_FAIL, fix, "%s: %lld/%lld warm, "
			    "%lld start(s) failed, retrying in %.1f s: %s",
			    name, (long long)ready, (long long)target,
			    (long long)failures, backoff / 1000.0,
			    err ? err : "(no reason given)");
			failed(doc, SBCTL_EXIT_FAILURE);
		} else if (ready + starting < target) {
			snprintf(fix, sizeof fix, "raise max or max_starting "
			    "of [pool.%s], or the host's max_sandboxes", name);
			report(doc, "pool", DOC_WARN, fix, "%s: %lld/%lld warm "
			    "and only %lld starting", name, (long long)ready,
			    (long long)target, (long long)starting);
		} else
			report(doc, "pool", DOC_OK, NULL, "%s: %lld/%lld warm%s",
			    name, (long long)ready, (long long)target,
			    ready < target ? ", the rest starting" : "");
	}
}

/*
 * Our clock is set, and agrees with the daemon's (from status, or from
 * gateway.check where status does not say).
 */
static void
check_clock(struct doctor *doc)
{
	json_t		*t = doc->daemon_time;
	struct timespec	 ts;
	double		 now, skew;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (ts.tv_sec < CLOCK_SANE_AFTER) {
		report(doc, "clock", DOC_FAIL, "set the clock and keep it set: "
		    "timedatectl set-ntp true", "the system clock says %lld, "
		    "before 2024: TLS certificates will not verify",
		    (long long)ts.tv_sec);
		failed(doc, SBCTL_EXIT_FAILURE);
		return;
	}
	if (!json_is_number(t)) {
		report(doc, "clock", DOC_SKIP, NULL, "this sandboxd does not "
		    "report its time");
		return;
	}
	skew = now - json_number_value(t);
	if (fabs(skew) > CLOCK_SKEW_MAX_S) {
		report(doc, "clock", DOC_FAIL, "run NTP on the host and in any "
		    "container (timedatectl set-ntp true)", "our clock and "
		    "sandboxd's differ by %.1f s", skew);
		failed(doc, SBCTL_EXIT_FAILURE);
		return;
	}
	report(doc, "clock", DOC_OK, NULL, "set, and within %.1f s of "
	    "sandboxd's", fabs(skew));
}

/* Runs every check; prints them; exits with the first failure's code. */
static int
cmd_doctor_exec(struct sbctl *sb, const struct sbctl_cmd *self, int argc,
    char **argv)
{
	struct doctor	 doc = { .sb = sb };
	json_t		*out;
	int		 rv;

	if ((rv = cmd_parse_plain(self, argc, argv)) != CMD_CONTINUE)
		return rv;
	doc.checks = json_array();
	if (check_socket(&doc) == 0 && check_daemon(&doc) == 0) {
		check_gateway(&doc);
		check_pools(&doc);
		check_clock(&doc);
	}
	if (sb->json) {
		out = json_pack("{s:b, s:O}", "ok", doc.exit_code == 0,
		    "checks", doc.checks);
		sbctl_print_json(out);
		json_decref(out);
	} else if (doc.exit_code != 0)
		printf("something is wrong: see the fix lines above\n");
	json_decref(doc.checks);
	json_decref(doc.status);
	json_decref(doc.daemon_time);
	return doc.exit_code;
}
