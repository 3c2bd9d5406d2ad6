/*
 * libFuzzer: the daemon's request path end to end.  The daemon's state is
 * built as main() builds it (config with pools and a budget, metrics,
 * lease table, reaper, budget, gateway client, rpc_server, pools, state
 * file, reconciliation) against an in-process fake gateway
 * (fake-gateway.c) that answers every call successfully, so leases,
 * execs, files, tails, pools and owner checks all run.
 *
 * Each input is written, as it comes, to a fresh connection, followed by
 * a newline and a `status` request whose reply marks the end; a second
 * `status` then proves every earlier line was read.  An input that starts
 * with a space connects as uid/gid 65534 instead of root.  Two leases
 * with fixed ids exist during every input, l-00000000 of root and
 * l-11111111 of uid 65534, and the ids the daemon makes are predictable:
 * the n-th (from 0) of an input has all eight characters
 * "abcdefghjkmnpqrstuvwxyz23456789"[n] (the first lease.acquire gets
 * l-aaaaaaaa, an exec.start after it x-bbbbbbbb).
 *
 * Every line that comes back must be a well-formed JSON-RPC response, or a
 * stream's notification, with any error of a known, non-internal kind.
 * The connection then closes, every lease is released, and no client,
 * lease, running exec, gateway call or request may be left.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <grpc/grpc.h>

#include "budget.h"
#include "daemon.h"
#include "exec-session.h"
#include "gw.h"
#include "jsonrpc.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "reaper.h"
#include "reconcile.h"
#include "rpc.h"
#include "rpc-server.h"
#include "state.h"
#include "tail.h"
#include "xmalloc.h"

#include "fake-gateway.c"

#define PHASE_MS	5000	/* a phase this long is a hang: a bug */
#define PARKED_MS	100	/* then requests still waiting are left */
#define OTHER_UID	65534	/* the unprivileged peer */
#define ROOT_LEASE	"l-00000000"
#define USER_LEASE	"l-11111111"
#define END1_ID		"\001fuzz-end-1"
#define END2_ID		"\001fuzz-end-2"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * max_line small, so too_large is reachable; a budget and two pools (one
 * the default, one empty) as a site would have them.
 */
static const char conf[] =
    "[daemon]\n"
    "max_line = 2048\n"
    "max_inflight = 16\n"
    "max_streams = 4\n"
    "[gateway]\n"
    "call_timeout = 2s\n"
    "[budget]\n"
    "max_leases = 8\n"
    "max_sandboxes = 16\n"
    "sandbox_seconds = 100000\n"
    "[pool.py]\n"
    "image = python:3.12\n"
    "warm = 1\n"
    "max = 4\n"
    "default = yes\n"
    "[pool.cold]\n"
    "image = cold\n"
    "warm = 0\n";

static struct daemon	 d;
static char		 dir[] = "/tmp/fzd-XXXXXX";
static struct event	*ticker;
static bool		 got_end1, got_end2;
static int64_t		 end1_ms;
static unsigned		 nreplies;
static pthread_t	 loop_thread;
static unsigned		 nids;		/* ids this input made */
static bool		 verbose;	/* FUZZ_VERBOSE: log and replies */

/*
 * The daemon's ids (leases, execs, tails: 8 random bytes each, drawn on
 * the loop's thread) are made predictable, so inputs can name what they
 * made; everything else gets real randomness.
 */
ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	if (len == 8 && pthread_equal(pthread_self(), loop_thread)) {
		memset(buf, (int)nids++, len);
		return (ssize_t)len;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

/* Removes the socket and its directory when the fuzzer exits. */
static void
cleanup(void)
{
	if (d.server != NULL)
		rpc_server_free(d.server);
	fake_gateway_stop();
	unlink(d.socket_path);
	rmdir(dir);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* As main() does it, less systemd, signals and the metrics endpoint. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gw_options	 o = { 0 };
	struct timeval		 tv = { 0, 2000 };
	char			*err;

	loop_thread = pthread_self();
	signal(SIGPIPE, SIG_IGN);
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_init("fuzz-dispatch", verbose ? 1 : -1);
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		fatal("mkdtemp");
	config_defaults(&d.cfg);
	if (config_load_string("fuzz.conf", conf, &d.cfg, &err) == -1)
		fatalx("%s", err);
	d.base = event_base_new();
	d.started_ms = now_mono_ms();
	d.metrics = metrics_new();
	d.state_dir = xstrdup(dir);
	d.runtime_dir = xstrdup(dir);
	d.socket_path = xasprintf("%s/s.sock", dir);
	memcpy(d.instance_id, "0123456789abcdef", 17);
	d.leases = lease_table_new(&d);
	d.reaper = reaper_new(&d);
	d.budget = budget_new(&d);
	grpc_init();
	d.gateway_target = xasprintf("unix:%s/gw.sock", dir);
	fake_gateway_start(d.gateway_target);
	o.target = d.gateway_target;
	o.channels = (int)d.cfg.gateway.channels;
	o.call_timeout_ms = d.cfg.gateway.call_timeout;
	o.keepalive_ms = d.cfg.gateway.keepalive;
	if ((d.gw = gw_new(d.base, &o, &err)) == NULL)
		fatalx("gw_new: %s", err);
	if ((d.server = rpc_server_new(&d, d.socket_path, -1, &err)) == NULL)
		fatalx("rpc_server_new: %s", err);
	/* The group (sandboxd) would let others in; here, everyone. */
	if (chmod(d.socket_path, 0666) == -1)
		fatal("chmod %s", d.socket_path);
	if ((d.pools = pools_new(&d, &d.cfg, &err)) == NULL)
		fatalx("%s", err);
	state_load(&d);
	reconcile_start(&d);
	atexit(cleanup);
	/* Bounds every loop pass so the phase deadlines are checked. */
	ticker = event_new(d.base, -1, EV_PERSIST, tick, NULL);
	evtimer_add(ticker, &tv);
	return 0;
}

/* An error the protocol knows and owns, with a message. */
static void
check_error(const json_t *error, const char *line, size_t len)
{
	enum rpc_err	 e = rpc_error_kind_of(error);
	const char	*m = rpc_error_message_of(error);

	if ((int)e < 0 || e >= RPC_ERR_COUNT || e == RPC_ERR_INTERNAL ||
	    m == NULL || *m == '\0') {
		fprintf(stderr, "bad error: %.*s\n", (int)len, line);
		abort();
	}
}

/*
 * One line: a response, or a stream's notification (exec.output,
 * tail.data, ...) with object params; any error in either is well-formed.
 */
static void
check_reply(const char *line, size_t len)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	json_t		*err;

	if (rpc_parse_line(line, len, &msg, &fail) == -1) {
		fprintf(stderr, "reply does not parse (%s): %.*s\n",
		    fail.message, (int)len, line);
		abort();
	}
	if (msg.type == RPC_MSG_NOTIFICATION) {
		if (!json_is_object(msg.params)) {
			fprintf(stderr, "notification without params: %.*s\n",
			    (int)len, line);
			abort();
		}
		if ((err = json_object_get(msg.params, "error")) != NULL)
			check_error(err, line, len);
		rpc_msg_clear(&msg);
		return;
	}
	if (msg.type != RPC_MSG_RESPONSE) {
		fprintf(stderr, "reply is not a response: %.*s\n", (int)len,
		    line);
		abort();
	}
	if (msg.error != NULL)
		check_error(msg.error, line, len);
	if (json_is_string(msg.id)) {
		if (strcmp(json_string_value(msg.id), END1_ID) == 0)
			got_end1 = true;
		if (strcmp(json_string_value(msg.id), END2_ID) == 0)
			got_end2 = true;
	}
	nreplies++;
	rpc_msg_clear(&msg);
}

static void
client_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (verbose)
			fprintf(stderr, "<- %.*s\n", (int)len, line);
		check_reply(line, len);
		free(line);
	}
}

static void
client_event(struct bufferevent *bev, short what, void *arg)
{
	fprintf(stderr, "the daemon closed the connection (%#x)\n", what);
	abort();
}

/*
 * The first marker is back and every request answered, or the ones left
 * wait on something (lease.wait, a pool): they end when the leases go.
 */
static bool
phase1_done(void)
{
	if (!got_end1)
		return false;
	if (end1_ms == 0)
		end1_ms = now_mono_ms();
	return rpc_pending() == 0 || now_mono_ms() - end1_ms > PARKED_MS;
}

static bool
phase2_done(void)
{
	return got_end2;
}

static bool
closed(void)
{
	return rpc_server_nclients(d.server) == 0;
}

/* No exec still running or watched (they end with their leases). */
static bool
execs_idle(void)
{
	struct exec_session	*x;

	for (x = exec_session_first(&d); x != NULL;
	    x = exec_session_next(x)) {
		if (x->state == EXEC_RUNNING || x->nsubs > 0)
			return false;
	}
	return true;
}

/* No gateway call in flight: the next input starts from quiet. */
static bool
gateway_idle(void)
{
	json_t	*st = gw_status_json(d.gw), *ch;
	size_t	 i;
	bool	 idle = true;

	json_array_foreach(json_object_get(st, "channels"), i, ch) {
		if (json_integer_value(json_object_get(ch, "inflight")) > 0)
			idle = false;
	}
	json_decref(st);
	return idle && reaper_pending(d.reaper) == 0;
}

static bool
all_gone(void)
{
	return rpc_server_nclients(d.server) == 0 && rpc_pending() == 0 &&
	    lease_count(d.leases) == 0 && execs_idle() && gateway_idle();
}

/*
 * Forgets the ids of this input (finished execs, lease tombstones) so
 * that the next one makes the same ids again.
 */
static void
forget_ids(void)
{
	exec_table_free(d.execs);
	tail_table_free(d.tails);
	lease_table_free(d.leases);
	d.leases = lease_table_new(&d);
}

/* A ready lease with a fixed id, as if restored from the state file. */
static void
fixture(const char *id, uid_t uid, const char *sandbox)
{
	struct lease	*l;

	if (lease_find(d.leases, id) != NULL)
		return;
	l = lease_insert(d.leases, id, uid, getpid(), LEASE_INTERACTIVE);
	l->sandbox_id = xstrdup(sandbox);
	l->image = xstrdup("python:3.12");
	l->sandbox_status = GW_STATUS_RUNNING;
	l->ready_ms = now_wall_ms();
	lease_set_ready(l, 3600 * 1000);
}

/* Releases every lease: their execs, tails and waiters end with them. */
static void
release_all(void)
{
	struct lease	*l, *next;

	for (l = lease_first(d.leases); l != NULL; l = next) {
		next = lease_next(l);
		lease_stop(l, LEASE_RELEASING, NULL, NULL);
	}
}

/* Runs the daemon's loop until `done`, or aborts: no answer is a bug. */
static void
run_until(bool (*done)(void), const char *what)
{
	int64_t	deadline = now_mono_ms() + PHASE_MS;

	while (!done()) {
		if (now_mono_ms() > deadline) {
			fprintf(stderr, "%s: nothing after %d ms (%u pending, "
			    "%u clients, %u leases)\n", what, PHASE_MS,
			    rpc_pending(), rpc_server_nclients(d.server),
			    lease_count(d.leases));
			abort();
		}
		event_base_loop(d.base, EVLOOP_ONCE);
	}
}

/*
 * SO_PEERCRED is taken at connect(): the effective ids then.  Not run as
 * root, every input connects as whoever runs the fuzzer.
 */
static struct bufferevent *
connect_daemon(bool other)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct bufferevent	*bev;
	int			 fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", d.socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	other = other && geteuid() == 0;
	if (other && (setegid(OTHER_UID) == -1 || seteuid(OTHER_UID) == -1))
		fatal("seteuid %d", OTHER_UID);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("connect %s", d.socket_path);
	if (other && (seteuid(0) == -1 || setegid(0) == -1))
		fatal("seteuid 0");
	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(d.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, client_read, NULL, client_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return bev;
}

static void
send_end(struct bufferevent *bev, const char *id)
{
	char	*line;

	line = xasprintf("\n{\"jsonrpc\":\"2.0\",\"id\":\"\\u0001%s\","
	    "\"method\":\"status\"}\n", id + 1);
	bufferevent_write(bev, line, strlen(line));
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bufferevent	*bev;

	got_end1 = got_end2 = false;
	end1_ms = 0;
	nreplies = 0;
	nids = 0;
	fixture(ROOT_LEASE, 0, "sb-fixture-root");
	fixture(USER_LEASE, OTHER_UID, "sb-fixture-user");
	bev = connect_daemon(size > 0 && data[0] == ' ');
	bufferevent_write(bev, data, size);
	send_end(bev, END1_ID);
	run_until(phase1_done, "first end marker");
	send_end(bev, END2_ID);
	run_until(phase2_done, "second end marker");
	bufferevent_free(bev);
	run_until(closed, "disconnect");
	release_all();
	run_until(all_gone, "release");
	forget_ids();
	return 0;
}
