/*
 * stream-bench SOCK LEASE BYTES: the streaming case, daemon side.  Starts
 * `head -c BYTES /dev/zero` with exec.start on one control connection and
 * reads the exec.output notifications (decoding their base64, as any
 * client must) until exec.exit.  Prints the bytes, MB/s and the time to
 * the first output byte, measured from sending exec.start.
 *
 * The blocking client of sbctl (client/rpc-client.h) answers one call and
 * skips notifications, so this reads the socket itself: lines gathered in
 * an evbuffer and parsed with common/jsonrpc, like sbctl does, with one
 * shortcut a client that cares about throughput takes: the data_b64 string
 * is cut out of an exec.output line and decoded in place, and jansson
 * parses what is left.  Scanning the data character by character for
 * escapes (which base64 never has: the strict decoder rejects any) would
 * otherwise make the reader, not the daemon, what the figure measures.
 * Every notification's offset must be the bytes received so far.
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

/*
 * Cuts the data_b64 string out of an exec.output line (leaving "") and
 * decodes it; 0 when the line has none, -1 when it does not decode.
 */
static int
cut_data(char *line, size_t *len, unsigned char **data, size_t *dlen)
{
	static const char	 key[] = "\"data_b64\":\"";
	char			*b, *e;

	if ((b = memmem(line, *len, key, sizeof key - 1)) == NULL)
		return 0;
	b += sizeof key - 1;
	if ((e = memchr(b, '"', *len - (size_t)(b - line))) == NULL)
		return -1;
	if (b64_decode(b, (size_t)(e - b), data, dlen) == -1)
		return -1;
	memmove(b, e, *len - (size_t)(e - line) + 1);
	*len -= (size_t)(e - b);
	return 1;
}

/* Counts the bytes of one exec.output; its offset must follow on. */
static void
on_output(struct stream *s, json_t *params, size_t len)
{
	json_t	*off = json_object_get(params, "offset");

	if (!json_is_integer(off) || json_integer_value(off) != s->got)
		fatalx("exec.output at offset %lld, %lld expected",
		    json_is_integer(off) ? (long long)json_integer_value(off) :
		    -1LL, (long long)s->got);
	if (s->got == 0 && len > 0)
		s->first_ns = bench_now_ns();
	s->got += (int64_t)len;
	s->frames++;
}

/* Handles one line: the start reply, an output or the exit. */
static void
on_line(struct stream *s, char *line, size_t len)
{
	struct rpc_msg	 msg;
	struct rpc_fail	 fail;
	json_t		*code;
	unsigned char	*data = NULL;
	size_t		 dlen = 0;
	int		 cut;

	if ((cut = cut_data(line, &len, &data, &dlen)) == -1)
		fatalx("a line with a data_b64 that does not decode");
	if (rpc_parse_line(line, len, &msg, &fail) == -1)
		fatalx("sandboxd sent a bad line: %s", fail.message);
	if (msg.type == RPC_MSG_RESPONSE && msg.error != NULL)
		fatalx("exec.start: %s", rpc_error_message_of(msg.error));
	if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "exec.output") == 0) {
		if (cut != 1)
			fatalx("exec.output without data_b64");
		on_output(s, msg.params, dlen);
	} else if (msg.type == RPC_MSG_NOTIFICATION &&
	    strcmp(msg.method, "exec.exit") == 0) {
		code = json_object_get(msg.params, "exit_code");
		if (!json_is_integer(code) || json_integer_value(code) != 0)
			fatalx("exec.exit without exit code 0");
		s->exited = true;
	}
	free(data);
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
	s.fd = bench_dial(argv[1]);
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
