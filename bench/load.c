/*
 * load: many control-socket clients at once, each leasing, executing and
 * releasing in a loop against a warm pool for a bounded time.  One libevent
 * loop drives every connection; each reply is checked (the lease a client
 * got is the one it execs in; the exec prints the client's own number back;
 * the release answers for that lease), so a mixed-up, lost or wrong answer
 * counts as failed.  Prints one JSON line.
 *
 *   load SOCK CLIENTS SECONDS POOL [DAEMON_PID]
 *
 * The run is two waves of SECONDS/2, each opening all CLIENTS connections
 * before the first request goes out and closing them at its end.
 * With DAEMON_PID, the daemon's open fds and RSS are read before the
 * clients connect and after each wave has gone (RSS after SETTLE_S): the
 * first wave's growth is the daemon's high-water mark for that many
 * clients (buffers the allocator keeps), the second's, as many requests
 * again, is what a leak would add.
 * A run that is not over GRACE_S (or SECONDS, if longer) past its end
 * stops there: the clients still waiting count as failed ("timeout").
 * Exit 0 when every request was answered correctly, 1 otherwise.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base64.h"
#include "bench.h"
#include "jsonrpc.h"

#define GRACE_S		60	/* for the last answers after SECONDS */
#define SETTLE_S	2	/* before the last RSS reading */

enum phase { ACQUIRE, EXEC, RELEASE, DONE };
static const char *const phase_names[] = { "acquire", "exec", "release" };

struct load;

struct conn {
	struct load		*ld;
	struct bufferevent	*bev;
	int			 no;		/* client number: its echo */
	enum phase		 phase;
	json_int_t		 next_id;
	int64_t			 sent_ns;
	char			*lease;
};

struct load {
	struct event_base	*base;
	const char		*pool;
	int64_t			 deadline_ns;
	int			 open;		/* connections not yet done */
	long			 timed_out;	/* still waiting at the end */
	long			 iterations, requests, failed;
	json_t			*errors;	/* kind → count */
	struct bench_samples	 lat[3];	/* per phase */
	struct bench_samples	 all;
	char			 first_error[512];
};

static void	conn_send(struct conn *);

/* Notes one wrong or failed answer, keeping the first for the report. */
static void
failure(struct load *ld, const char *kind, const char *what)
{
	json_t	*n = json_object_get(ld->errors, kind);

	json_object_set_new(ld->errors, kind, json_integer(
	    (n ? json_integer_value(n) : 0) + 1));
	if (ld->failed++ == 0)
		snprintf(ld->first_error, sizeof ld->first_error, "%s: %s",
		    kind, what);
}

/* The connection is finished (or broken): drop it. */
static void
conn_done(struct conn *c)
{
	if (c->phase == DONE)
		return;
	c->phase = DONE;
	bufferevent_free(c->bev);
	c->bev = NULL;
	free(c->lease);
	c->lease = NULL;
	if (--c->ld->open == 0)
		event_base_loopexit(c->ld->base, NULL);
}

/* The next request of this client's loop. */
static void
conn_send(struct conn *c)
{
	struct load	*ld = c->ld;
	json_t		*params, *msg;
	char		*line, num[16];
	size_t		 len;
	const char	*method;

	if (c->phase == ACQUIRE && bench_now_ns() >= ld->deadline_ns)
		return conn_done(c);
	switch (c->phase) {
	case ACQUIRE:
		method = "lease.acquire";
		params = json_pack("{s:s, s:s}", "pool", ld->pool, "ttl",
		    "10m");
		break;
	case EXEC:
		snprintf(num, sizeof num, "%d", c->no);
		method = "exec";
		params = json_pack("{s:s, s:[s,s]}", "lease", c->lease,
		    "argv", "echo", num);
		break;
	case RELEASE:
		method = "lease.release";
		params = json_pack("{s:s}", "lease", c->lease);
		break;
	default:
		return;
	}
	msg = rpc_request_new(json_integer(++c->next_id), method, params);
	line = rpc_dump_line(msg, &len);
	json_decref(msg);
	c->sent_ns = bench_now_ns();
	bufferevent_write(c->bev, line, len);
	free(line);
}

/* Checks one answer against what this client asked; false if wrong. */
static bool
check(struct conn *c, json_t *result, char *why, size_t wlen)
{
	const char	*lease, *out;
	char		 want[24];
	unsigned char	*data;
	size_t		 n;
	bool		 ok;

	switch (c->phase) {
	case ACQUIRE:
		lease = json_string_value(json_object_get(result, "id"));
		if (lease == NULL || json_string_value(json_object_get(result,
		    "sandbox_id")) == NULL) {
			snprintf(why, wlen, "lease.acquire: no lease id");
			return false;
		}
		c->lease = xstrdup(lease);
		return true;
	case EXEC:
		out = json_string_value(json_object_get(result, "stdout_b64"));
		snprintf(want, sizeof want, "%d\n", c->no);
		if (out == NULL || b64_decode(out, strlen(out), &data,
		    &n) == -1) {
			snprintf(why, wlen, "exec: no stdout");
			return false;
		}
		ok = n == strlen(want) && memcmp(data, want, n) == 0 &&
		    json_integer_value(json_object_get(result, "exit_code")) == 0;
		free(data);
		if (!ok)
			snprintf(why, wlen, "exec: client %d got another "
			    "output or exit", c->no);
		return ok;
	case RELEASE:
		lease = json_string_value(json_object_get(result, "lease"));
		if (lease == NULL || strcmp(lease, c->lease) != 0) {
			snprintf(why, wlen, "lease.release: answered for %s, "
			    "not %s", lease ? lease : "nothing", c->lease);
			return false;
		}
		return true;
	default:
		return false;
	}
}

/* An answer: time it, check it, move this client's loop on. */
static void
conn_reply(struct conn *c, struct rpc_msg *msg)
{
	struct load	*ld = c->ld;
	int64_t		 ns = bench_now_ns() - c->sent_ns;
	char		 why[256];

	if (msg->type != RPC_MSG_RESPONSE)
		return;		/* notifications: none expected, ignored */
	if (json_integer_value(msg->id) != c->next_id) {
		failure(ld, "wrong_id", "a reply to another request");
		return conn_done(c);
	}
	ld->requests++;
	bench_add(&ld->lat[c->phase], ns);
	bench_add(&ld->all, ns);
	if (msg->error != NULL) {
		failure(ld, rpc_err_kind(rpc_error_kind_of(msg->error)),
		    rpc_error_message_of(msg->error));
		/* A failed exec still gives its lease back. */
		c->phase = c->phase == EXEC ? RELEASE : ACQUIRE;
		if (c->phase == ACQUIRE) {
			free(c->lease);
			c->lease = NULL;
		}
		return conn_send(c);
	}
	if (!check(c, msg->result, why, sizeof why)) {
		failure(ld, "wrong_answer", why);
		return conn_done(c);
	}
	if (c->phase == RELEASE) {
		ld->iterations++;
		free(c->lease);
		c->lease = NULL;
		c->phase = ACQUIRE;
	} else
		c->phase++;
	conn_send(c);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	char		*line;
	size_t		 len;

	while (c->phase != DONE &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		if (rpc_parse_line(line, len, &msg, &fail) == -1) {
			json_decref(fail.id);
			failure(c->ld, "bad_reply", fail.message);
			free(line);
			return conn_done(c);
		}
		conn_reply(c, &msg);
		rpc_msg_clear(&msg);
		free(line);
	}
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		failure(c->ld, "disconnected", "the daemon closed a client");
		conn_done(c);
	}
}

/* Room for `n` sockets in this process. */
static void
want_fds(long n)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur >= (rlim_t)n + 64)
		return;
	if (rl.rlim_max < (rlim_t)n + 64)
		fatalx("%ld clients need %ld fds; the hard limit is %llu", n,
		    n + 64, (unsigned long long)rl.rlim_max);
	rl.rlim_cur = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("setrlimit");
}

/* Open fds of a process; -1 without a pid. */
static long
fd_count(long pid)
{
	char		 path[64];
	DIR		*dir;
	struct dirent	*e;
	long		 n = 0;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* VmRSS of a process in KiB; -1 without a pid. */
static long
rss_kib(long pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kib = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Past the grace: every client still waiting failed, and the run ends. */
static void
overtime(evutil_socket_t fd, short what, void *arg)
{
	struct load	*ld = arg;
	char		 why[128];

	ld->timed_out = ld->open;
	snprintf(why, sizeof why, "%d clients still waiting for an answer "
	    "after the grace period", ld->open);
	failure(ld, "timeout", why);
	ld->failed += ld->open - 1;	/* one failure each */
	event_base_loopbreak(ld->base);
}

static json_t *
summary(struct bench_samples *s)
{
	json_t	*o = bench_summary(s);

	free(s->v);
	return o;
}

/* The daemon's fds once it has noticed the closes (on its next passes). */
static long
fds_after(long pid, long before)
{
	int	 i;

	for (i = 0; i < 50 && fd_count(pid) > before; i++)
		usleep(100 * 1000);
	return fd_count(pid);
}

/* One wave: every client connected, looping until seconds are up. */
static void
wave(struct load *ld, const char *sock, long clients, long seconds)
{
	struct conn	*conns;
	struct event	*stop;
	struct timeval	 tv = { 0, 0 };
	int		 i;

	conns = xcalloc((size_t)clients, sizeof *conns);
	for (i = 0; i < clients; i++) {
		conns[i].ld = ld;
		conns[i].no = i;
		conns[i].bev = bufferevent_socket_new(ld->base,
		    bench_dial(sock), BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(conns[i].bev, conn_read, NULL, conn_event,
		    &conns[i]);
		bufferevent_enable(conns[i].bev, EV_READ | EV_WRITE);
	}
	ld->open = (int)clients;
	ld->deadline_ns = bench_now_ns() + (int64_t)seconds * 1000000000;
	tv.tv_sec = seconds + (seconds > GRACE_S ? seconds : GRACE_S);
	stop = evtimer_new(ld->base, overtime, ld);
	evtimer_add(stop, &tv);
	for (i = 0; i < clients; i++)
		conn_send(&conns[i]);
	event_base_dispatch(ld->base);
	event_free(stop);
	for (i = 0; i < clients; i++)
		conn_done(&conns[i]);	/* those the grace cut off */
	free(conns);
}

int
main(int argc, char **argv)
{
	struct load	 ld = { 0 };
	long		 clients, seconds, pid = 0, fds[3], rss[3];
	int64_t		 t0, elapsed;
	json_t		*res, *per;
	int		 i;

	log_init("load", 0);
	if (argc != 5 && argc != 6)
		fatalx("usage: load SOCK CLIENTS SECONDS POOL [DAEMON_PID]");
	clients = bench_count("CLIENTS", argv[2]);
	seconds = bench_count("SECONDS", argv[3]);
	ld.pool = argv[4];
	if (argc == 6)
		pid = bench_count("DAEMON_PID", argv[5]);
	want_fds(clients);
	/* A connection the daemon closes is a failure to count, not our end. */
	signal(SIGPIPE, SIG_IGN);
	ld.base = event_base_new();
	ld.errors = json_object();
	fds[0] = fd_count(pid);
	rss[0] = rss_kib(pid);
	t0 = bench_now_ns();
	for (i = 1; i <= 2; i++) {
		wave(&ld, argv[1], clients, (seconds + 1) / 2);
		fds[i] = fds_after(pid, fds[0]);
		if (pid > 0)
			sleep(SETTLE_S);
		rss[i] = rss_kib(pid);
	}
	elapsed = bench_now_ns() - t0;

	per = json_object();
	for (i = 0; i < 3; i++)
		json_object_set_new(per, phase_names[i], summary(&ld.lat[i]));
	res = summary(&ld.all);
	json_object_update_new(res, json_pack("{s:I, s:f, s:I, s:I, s:I, "
	    "s:f, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "clients", (json_int_t)clients,
	    "seconds", (double)elapsed / 1e9,
	    "iterations", (json_int_t)ld.iterations,
	    "requests", (json_int_t)ld.requests,
	    "failed", (json_int_t)ld.failed,
	    "ops_s", (double)ld.requests * 1e9 / (double)elapsed,
	    "per_method", per,
	    "errors", ld.errors,
	    "fds_before", (json_int_t)fds[0],
	    "fds_after_wave1", (json_int_t)fds[1],
	    "fds_after", (json_int_t)fds[2],
	    "rss_before_kib", (json_int_t)rss[0],
	    "rss_after_wave1_kib", (json_int_t)rss[1],
	    "rss_after_kib", (json_int_t)rss[2],
	    "timed_out", (json_int_t)ld.timed_out));
	if (ld.failed > 0)
		json_object_set_new(res, "first_error",
		    json_string(ld.first_error));
	bench_print(res);
	event_base_free(ld.base);
	return ld.failed == 0 && ld.iterations > 0 ? 0 : 1;
}
