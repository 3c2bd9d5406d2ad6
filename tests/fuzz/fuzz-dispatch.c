/*
 * libFuzzer: the daemon's request path end to end.  A real rpc_server on a
 * temporary socket, the real method table, a lease table and a gateway
 * client pointed at a socket nobody listens on (gateway calls fail fast
 * with gateway_unavailable).  Each input is written, as it comes, to a
 * fresh connection, followed by a newline and a `status` request whose
 * reply marks the end; once nothing is pending a second `status` proves
 * every earlier reply has been read.  Every line that comes back must be a
 * well-formed JSON-RPC response with a known, non-internal error kind; the
 * connection then closes and must leave no client, lease or request.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <grpc/grpc.h>

#include "daemon.h"
#include "gw.h"
#include "jsonrpc.h"
#include "lease.h"
#include "log.h"
#include "rpc.h"
#include "rpc-server.h"
#include "xmalloc.h"

#define FUZZ_MAX_LINE	2048	/* small, so too_large is reachable */
#define PHASE_MS	5000	/* a phase this long is a hang: a bug */
#define END1_ID		"\001fuzz-end-1"
#define END2_ID		"\001fuzz-end-2"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct daemon	 d;
static char		 dir[] = "/tmp/fzd-XXXXXX";
static struct event	*ticker;
static bool		 got_end1, got_end2;
static unsigned		 nreplies;

/* Removes the socket and its directory when the fuzzer exits. */
static void
cleanup(void)
{
	if (d.server != NULL)
		rpc_server_free(d.server);
	rmdir(dir);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gw_options	 o = { 0 };
	struct timeval		 tv = { 0, 2000 };
	char			*err;

	log_init("fuzz-dispatch", getenv("FUZZ_VERBOSE") ? 1 : -1);
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	config_defaults(&d.cfg);
	d.cfg.daemon.max_line = FUZZ_MAX_LINE;
	d.base = event_base_new();
	d.started_ms = now_mono_ms();
	d.state_dir = xstrdup(dir);
	d.runtime_dir = xstrdup(dir);
	d.socket_path = xasprintf("%s/s.sock", dir);
	memcpy(d.instance_id, "0123456789abcdef", 17);
	d.leases = lease_table_new(&d);
	grpc_init();
	d.gateway_target = xasprintf("unix:%s/no-gateway.sock", dir);
	o.target = d.gateway_target;
	o.channels = 1;
	o.call_timeout_ms = 2000;
	o.keepalive_ms = 30000;
	if ((d.gw = gw_new(d.base, &o, &err)) == NULL)
		fatalx("gw_new: %s", err);
	if ((d.server = rpc_server_new(&d, d.socket_path, -1, &err)) == NULL)
		fatalx("rpc_server_new: %s", err);
	atexit(cleanup);
	/* Bounds every loop pass so the phase deadlines are checked. */
	ticker = event_new(d.base, -1, EV_PERSIST, tick, NULL);
	evtimer_add(ticker, &tv);
	return 0;
}

/* One reply: a response, and an error the protocol knows and owns. */
static void
check_reply(const char *line, size_t len)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	enum rpc_err	 e;
	const char	*m;

	if (rpc_parse_line(line, len, &msg, &fail) == -1) {
		fprintf(stderr, "reply does not parse (%s): %.*s\n",
		    fail.message, (int)len, line);
		abort();
	}
	if (msg.type != RPC_MSG_RESPONSE) {
		fprintf(stderr, "reply is not a response: %.*s\n", (int)len,
		    line);
		abort();
	}
	if (msg.error != NULL) {
		e = rpc_error_kind_of(msg.error);
		m = rpc_error_message_of(msg.error);
		if ((int)e < 0 || e >= RPC_ERR_COUNT ||
		    e == RPC_ERR_INTERNAL || m == NULL || *m == '\0') {
			fprintf(stderr, "bad error reply: %.*s\n", (int)len,
			    line);
			abort();
		}
	}
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

static bool
phase1_done(void)
{
	return got_end1 && rpc_pending() == 0;
}

static bool
phase2_done(void)
{
	return got_end2;
}

static bool
all_gone(void)
{
	return rpc_server_nclients(d.server) == 0 && rpc_pending() == 0 &&
	    lease_count(d.leases) == 0;
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

static struct bufferevent *
connect_daemon(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct bufferevent	*bev;
	int			 fd;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", d.socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("connect %s", d.socket_path);
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
	nreplies = 0;
	bev = connect_daemon();
	bufferevent_write(bev, data, size);
	send_end(bev, END1_ID);
	run_until(phase1_done, "first end marker");
	send_end(bev, END2_ID);
	run_until(phase2_done, "second end marker");
	bufferevent_free(bev);
	run_until(all_gone, "disconnect");
	return 0;
}
