/*
 * stream-bench SOCK LEASE BYTES: the streaming case, daemon side.  Starts
 * `head -c BYTES /dev/zero` with exec.start on one control connection and
 * reads the exec.output notifications (decoding their base64, as any
 * client must) until exec.exit.  Prints the bytes, MB/s and the time to
 * the first output byte, measured from sending exec.start.
 *
 * The blocking client of sbctl (client/rpc-client.h) answers one call and
 * skips notifications, so this reads the socket itself: lines gathered in
 * an evbuffer and parsed with common/jsonrpc, like sbctl does.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <unistd.h>

#include <event2/buffer.h>

#include "base64.h"
#include "bench.h"
#include "jsonrpc.h"

struct stream {
	int		 fd;
	struct evbuffer	*in;
	int64_t		 t0, first_ns, got, frames;
	bool		 exited;
};

static int
connect_unix(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("connect %s", path);
	return fd;
}

/* Sends exec.start for the whole output, stdin closed. */
static void
send_start(struct stream *s, const char *lease, const char *bytes)
{
	json_t	*req;
	char	*line;
	size_t	 len;
	ssize_t	 n;

	req = rpc_request_new(json_integer(1), "exec.start", json_pack(
	    "{s:s, s:[s, s, s, s]}", "lease", lease, "argv", "head", "-c",
	    bytes, "/dev/zero"));
	line = rpc_dump_line(req, &len);
	json_decref(req);
	s->t0 = bench_now_ns();
	if ((n = write(s->fd, line, len)) != (ssize_t)len)
		fatal("write exec.start");
	free(line);
}

/* Counts the decoded bytes of one exec.output notification. */
static void
on_output(struct stream *s, json_t *params)
{
	const char	*b64 = json_string_value(json_object_get(params,
			    "data_b64"));
	unsigned char	*data;
	size_t		 len;

	if (b64 == NULL || b64_decode(b64, strlen(b64), &data, &len) == -1)
		fatalx("exec.output without valid data_b64");
	if (s->got == 0 && len > 0)
		s->first_ns = bench_now_ns();
	s->got += (int64_t)len;
	s->frames++;
	free(data);
}

/* Handles one line: the start reply, an output or the exit. */
static void
on_line(struct stream *s, const char *line, size_t len)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	json_t		*code;

	if (rpc_parse_line(line, len, &msg, &fail) == -1)
		fatalx("sandboxd sent a bad line: %s", fail.message);
	if (msg.type == RPC_MSG_RESPONSE && msg.error != NULL)
		fatalx("exec.start: %s", rpc_error_message_of(msg.error));
	if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "exec.output") == 0)
		on_output(s, msg.params);
	else if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "exec.exit") == 0) {
		code = json_object_get(msg.params, "exit_code");
		if (!json_is_integer(code) || json_integer_value(code) != 0)
			fatalx("exec.exit without exit code 0");
		s->exited = true;
	}
	rpc_msg_clear(&msg);
}

int
main(int argc, char **argv)
{
	struct stream	 s = { 0 };
	char		*line;
	size_t		 len;
	long		 bytes;
	int64_t		 t1;
	int		 n;

	log_init("stream-bench", 0);
	if (argc != 4)
		fatalx("usage: stream-bench SOCK LEASE BYTES");
	bytes = bench_count("BYTES", argv[3]);
	s.fd = connect_unix(argv[1]);
	if ((s.in = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	send_start(&s, argv[2], argv[3]);
	while (!s.exited) {
		if ((n = evbuffer_read(s.in, s.fd, 1 << 20)) <= 0)
			fatalx("sandboxd closed the connection");
		while (!s.exited && (line = evbuffer_readln(s.in, &len,
		    EVBUFFER_EOL_LF)) != NULL) {
			on_line(&s, line, len);
			free(line);
		}
	}
	t1 = bench_now_ns();
	if (s.got != bytes)
		fatalx("%lld bytes read, %ld expected", (long long)s.got, bytes);
	bench_print(json_pack("{s:I, s:I, s:f, s:f, s:f}", "bytes",
	    (json_int_t)s.got, "frames", (json_int_t)s.frames,
	    "seconds", (double)(t1 - s.t0) / 1e9,
	    "mb_s", (double)s.got / 1e6 / ((double)(t1 - s.t0) / 1e9),
	    "first_byte_us", (double)(s.first_ns - s.t0) / 1e3));
	evbuffer_free(s.in);
	close(s.fd);
	return 0;
}
