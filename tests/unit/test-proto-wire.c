/*
 * proto wire shape: encodes messages with every field set to a distinct
 * value, has `protoc --decode_raw` (which knows no schema) print the raw
 * wire, and checks each value sits under the field number and wire type
 * that shared/design/WIRE.md gives it.  The expected tables below are
 * written by hand from WIRE.md, not from the generated descriptors, so a
 * wrong number or type in proto/ fails here.
 *
 * decode_raw prints length-delimited bytes as a nested message whenever
 * they happen to parse as one, so string values are picked not to: each
 * starts with a byte whose low three bits are an invalid wire type (6, 7:
 * "o", "w", "v", "/", "~", "F" …) or runs past its own length.
 *
 * Numbers are picked so that a wrong integer type changes the bytes: each
 * 64-bit field holds a value above 2^32 (an int32 would truncate it), each
 * int32 field a negative value (a ten-byte sign-extended varint, where
 * sint32 would zigzag it and uint32 send five bytes) and each uint32 field
 * one above 2^31 (an int32 would sign-extend it to ten bytes).  Positive
 * values catch sint32 and sint64 as well: zigzag doubles them.
 */
#include <sys/wait.h>

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__##x
#define INIT(X)	COREWEAVE__SANDBOX__V1BETA2__##X##__INIT
#define NITEMS(a) (sizeof (a) / sizeof (a)[0])

/*
 * Wire kinds as decode_raw shows them: a decimal number is a varint, a
 * quoted string is length-delimited bytes, `N {` is length-delimited bytes
 * that parse as a message; PACKED is length-delimited varints (proto3
 * repeated scalars); FIXED is 0x… (fixed32/64, never expected here).
 */
enum wire { W_VARINT, W_LEN, W_MSG, W_PACKED, W_FIXED };

static const char *const wire_names[] = {
	"varint", "len", "message", "packed", "fixed"
};

/* One field on the wire: its path of field numbers and its value. */
struct field {
	char		 path[64];	/* "4.3.2" */
	enum wire	 wire;
	char		*val;		/* varint text or raw bytes */
	size_t		 len;
};

struct expect {
	const char	*path;
	enum wire	 wire;
	const char	*val;		/* decimal, bytes, or "a,b" packed */
	size_t		 len;
};

#define V(p, n)		{ p, W_VARINT, #n, 0 }
#define S(p, s)		{ p, W_LEN, s, sizeof (s) - 1 }
#define M(p)		{ p, W_MSG, NULL, 0 }
#define PK(p, list)	{ p, W_PACKED, list, 0 }

/* ------------------------------------------------------------------ */
/* Reading decode_raw's output.                                        */

/* Undoes protoc's C escaping (\n, \", \\, \NNN octal) in place. */
static size_t
unescape(char *s)
{
	char	*in = s, *out = s;
	int	 i, v;

	while (*in != '\0') {
		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		in++;
		if (*in >= '0' && *in <= '7') {
			for (v = 0, i = 0; i < 3 && *in >= '0' && *in <= '7'; i++)
				v = v * 8 + (*in++ - '0');
			*out++ = (char)v;
			continue;
		}
		switch (*in) {
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		default: *out++ = *in; break;	/* \" \' \\ */
		}
		in++;
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* Parses decode_raw text into a flat list of fields in wire order. */
static int
parse_raw(FILE *f, struct field *out, int max)
{
	char	 line[4096], stack[16][64], *p, *colon;
	int	 depth = 0, n = 0;
	size_t	 l;

	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		for (p = line; *p == ' '; p++)
			;
		if (strcmp(p, "}") == 0) {
			assert_true(depth > 0);
			depth--;
			continue;
		}
		assert_true(n < max);
		memset(&out[n], 0, sizeof out[n]);
		snprintf(out[n].path, sizeof out[n].path, "%s%s%.*s",
		    depth > 0 ? stack[depth - 1] : "", depth > 0 ? "." : "",
		    (int)strspn(p, "0123456789"), p);
		l = strspn(p, "0123456789");
		if (strcmp(p + l, " {") == 0) {
			out[n].wire = W_MSG;
			assert_true(depth < 16);
			snprintf(stack[depth++], sizeof stack[0], "%s",
			    out[n++].path);
			continue;
		}
		if ((colon = strstr(p, ": ")) == NULL)
			fail_msg("unexpected decode_raw line: %s", line);
		p = colon + 2;
		if (*p == '"') {
			out[n].wire = W_LEN;
			p[strlen(p) - 1] = '\0';
			out[n].val = strdup(p + 1);
			out[n].len = unescape(out[n].val);
		} else {
			out[n].wire = strncmp(p, "0x", 2) == 0 ? W_FIXED :
			    W_VARINT;
			out[n].val = strdup(p);
		}
		n++;
	}
	assert_int_equal(depth, 0);
	return n;
}

/* Writes the bytes to a file and reads protoc's schema-less view of it. */
static int
decode_raw(const uint8_t *buf, size_t len, struct field *out, int max)
{
	char	 path[] = "/tmp/test-proto-wire.XXXXXX", cmd[128];
	FILE	*p;
	int	 fd, n, status;

	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof cmd, "protoc --decode_raw < '%s'", path);
	if ((p = popen(cmd, "r")) == NULL)
		fail_msg("cannot run protoc");
	n = parse_raw(p, out, max);
	status = pclose(p);
	unlink(path);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("protoc --decode_raw failed (status %d)", status);
	return n;
}

/* Reads the varints of a packed field as "a,b,c". */
static void
packed_text(const struct field *f, char *buf, size_t size)
{
	const unsigned char	*p = (const unsigned char *)f->val;
	uint64_t		 v;
	size_t			 i = 0, off = 0;
	int			 shift;

	buf[0] = '\0';
	while (i < f->len && off < size) {
		for (v = 0, shift = 0; i < f->len; shift += 7) {
			v |= (uint64_t)(p[i] & 0x7f) << shift;
			if ((p[i++] & 0x80) == 0)
				break;
		}
		off += (size_t)snprintf(buf + off, size - off, "%s%llu",
		    off > 0 ? "," : "", (unsigned long long)v);
	}
}

/* Prints a value for a failure message, bytes escaped. */
static void
show(const char *val, size_t len, enum wire w, char *buf, size_t size)
{
	size_t	i, off = 0;

	if (val == NULL) {
		snprintf(buf, size, "{");
		return;
	}
	if (w != W_LEN) {
		snprintf(buf, size, "%s", val);
		return;
	}
	for (i = 0; i < len && off + 5 < size; i++)
		off += (size_t)snprintf(buf + off, size - off,
		    isprint((unsigned char)val[i]) ? "%c" : "\\x%02x",
		    (unsigned char)val[i]);
	buf[off] = '\0';
}

/* Does the wire field match what WIRE.md says should be there? */
static int
field_matches(const struct field *f, const struct expect *e)
{
	char	packed[256];

	if (strcmp(f->path, e->path) != 0)
		return 0;
	switch (e->wire) {
	case W_MSG:
		return f->wire == W_MSG;
	case W_LEN:
		return f->wire == W_LEN && f->len == e->len &&
		    memcmp(f->val, e->val, e->len) == 0;
	case W_PACKED:
		if (f->wire != W_LEN)
			return 0;
		packed_text(f, packed, sizeof packed);
		return strcmp(packed, e->val) == 0;
	default:
		return f->wire == e->wire && strcmp(f->val, e->val) == 0;
	}
}

/* Packs, decodes raw, and compares field by field, in wire order. */
static void
check_wire(const char *what, const ProtobufCMessage *msg,
    const struct expect *exp, size_t nexp)
{
	struct field	 got[256];
	uint8_t		*buf;
	size_t		 len, i;
	int		 n, bad = 0;
	char		 a[128], b[128];

	len = protobuf_c_message_get_packed_size(msg);
	buf = malloc(len + 1);
	assert_int_equal(protobuf_c_message_pack(msg, buf), len);
	n = decode_raw(buf, len, got, (int)NITEMS(got));
	free(buf);
	for (i = 0; i < nexp || i < (size_t)n; i++) {
		if (i < nexp && i < (size_t)n && field_matches(&got[i], &exp[i]))
			continue;
		bad++;
		a[0] = b[0] = '\0';
		if (i < (size_t)n)
			show(got[i].val, got[i].len, got[i].wire, a, sizeof a);
		if (i < nexp)
			show(exp[i].val, exp[i].len, exp[i].wire, b, sizeof b);
		print_error("%s #%zu: wire has %s %s \"%s\"; WIRE.md wants "
		    "%s %s \"%s\"\n", what, i,
		    i < (size_t)n ? got[i].path : "-",
		    i < (size_t)n ? wire_names[got[i].wire] : "",  a,
		    i < nexp ? exp[i].path : "-",
		    i < nexp ? wire_names[exp[i].wire] : "", b);
	}
	for (i = 0; i < (size_t)n; i++)
		free(got[i].val);
	if (bad)
		fail_msg("%s: %d field(s) differ from WIRE.md", what, bad);
}

/* ------------------------------------------------------------------ */
/* StartSandboxRequest.                                                */

/* WIRE.md: StartSandboxRequest and the shared messages inside it. */
static const struct expect start_expect[] = {
	S("1", "gocmd"),			/* command string */
	S("2", "warg-1"),			/* args string rep */
	S("2", "warg-2"),
	S("3", "vtag-a"),			/* tags string rep */
	S("3", "vtag-b"),
	M("4"),					/* resources ResourceRequest */
	S("4.1", "250m"),			/*   cpu string */
	S("4.2", "768Mi"),			/*   memory string */
	M("4.3"),				/*   gpu GpuRequest */
	V("4.3.1", 5000000002),			/*     gpu_count int64 */
	S("4.3.2", "nvidia-a100"),		/*     gpu_type string */
	S("5", "python:3.12"),			/* container_image string */
	M("6"), S("6.1", "FOO"), S("6.2", "foo-value"),	/* env map */
	M("6"), S("6.1", "WANDB_MODE"), S("6.2", "offline"),
	M("7"),					/* ports Port rep */
	V("7.1", 8080),				/*   container_port int32 */
	S("7.2", "http"),			/*   name string */
	S("7.3", "TCP"),			/*   protocol string */
	M("7"), V("7.1", 18446744073709551594),	/* -22 */
	S("7.2", "ssh"), S("7.3", "TCP"),
	M("8"),					/* mounted_files rep */
	S("8.1", "/etc/app.conf"),		/*   mount_path string */
	S("8.2", "\0\1\377\n\"data\\"),		/*   file_content bytes */
	M("10"),				/* network NetworkOptions */
	S("10.1", "public"),			/*   ingress_mode string */
	/* exposed_ports int32 rep; -1 first, or the bytes parse as a message */
	PK("10.2", "18446744073709551615,8080,443,70000"),
	S("10.3", "internet"),			/*   egress_mode string */
	S("20", "prof-1"),			/* profile_ids string rep */
	S("21", "runner-1"),			/* runner_ids string rep */
	/* max_lifetime_seconds int32 = -1800, max_timeout_seconds int32 =
	 * -7: ten-byte varints, not zigzag. */
	V("22", 18446744073709549816),
	V("23", 18446744073709551609),
	M("26"), S("26.1", "note"), S("26.2", "owner=me"),	/* map */
	M("30"),				/* secret_stores rep */
	S("30.1", "vault"),			/*   store_name string */
	M("30.2"),				/*   secrets SecretMapping rep */
	S("30.2.1", "kv/db"),			/*     path string */
	S("30.2.2", "password"),		/*     field string */
	S("30.2.3", "DB_PASS"),			/*     env_var string */
	M("30.2"), S("30.2.1", "kv/api"), S("30.2.2", "token"),
	S("30.2.3", "OPENAI_KEY"),
	M("31"),				/* resource_limits */
	S("31.1", "4"), S("31.2", "8Gi"),
	M("31.3"), V("31.3.1", 5000000001),
	V("31.3.3", 5000000080),		/*     gpu_memory_gb int64 */
	M("32"),				/* resource_requests */
	S("32.1", "1"), S("32.2", "1Gi"),
	S("33", "gpu-small"),			/* profile_names string rep */
	S("33", "gpu-large"),
};

/* Every field of StartSandboxRequest, nested messages and maps included. */
static void
test_start_request(void **state)
{
	PB(StartSandboxRequest)	req = INIT(START_SANDBOX_REQUEST);
	PB(GpuRequest)		gpu = INIT(GPU_REQUEST), gpu2 = INIT(GPU_REQUEST);
	PB(ResourceRequest)	res = INIT(RESOURCE_REQUEST),
				lim = INIT(RESOURCE_REQUEST),
				rq = INIT(RESOURCE_REQUEST);
	PB(StartSandboxRequest__EnvironmentVariablesEntry)
	    e1 = INIT(START_SANDBOX_REQUEST__ENVIRONMENT_VARIABLES_ENTRY),
	    e2 = INIT(START_SANDBOX_REQUEST__ENVIRONMENT_VARIABLES_ENTRY),
	    *envs[] = { &e1, &e2 };
	PB(StartSandboxRequest__PodAnnotationsEntry)
	    a1 = INIT(START_SANDBOX_REQUEST__POD_ANNOTATIONS_ENTRY),
	    *annos[] = { &a1 };
	PB(Port)		p1 = INIT(PORT), p2 = INIT(PORT),
				*ports[] = { &p1, &p2 };
	PB(MountedFile)		mf = INIT(MOUNTED_FILE), *mfs[] = { &mf };
	PB(NetworkOptions)	net = INIT(NETWORK_OPTIONS);
	PB(SecretMapping)	sm1 = INIT(SECRET_MAPPING),
				sm2 = INIT(SECRET_MAPPING),
				*sms[] = { &sm1, &sm2 };
	PB(SecretStoreReference) ss = INIT(SECRET_STORE_REFERENCE),
				*sss[] = { &ss };
	static char		*args[] = { "warg-1", "warg-2" };
	static char		*tags[] = { "vtag-a", "vtag-b" };
	static char		*profs[] = { "prof-1" }, *runners[] = { "runner-1" };
	static char		*pnames[] = { "gpu-small", "gpu-large" };
	static int32_t		 exposed[] = { -1, 8080, 443, 70000 };
	static const uint8_t	 content[] = "\0\1\377\n\"data\\";

	gpu.gpu_count = 5000000002;
	gpu.spec_case = COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_TYPE;
	gpu.gpu_type = "nvidia-a100";
	res.cpu = "250m";
	res.memory = "768Mi";
	res.gpu = &gpu;
	gpu2.gpu_count = 5000000001;
	gpu2.spec_case =
	    COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_MEMORY_GB;
	gpu2.gpu_memory_gb = 5000000080;
	lim.cpu = "4";
	lim.memory = "8Gi";
	lim.gpu = &gpu2;
	rq.cpu = "1";
	rq.memory = "1Gi";
	e1.key = "FOO";
	e1.value = "foo-value";
	e2.key = "WANDB_MODE";
	e2.value = "offline";
	a1.key = "note";
	a1.value = "owner=me";
	p1.container_port = 8080;
	p1.name = "http";
	p1.protocol = "TCP";
	p2.container_port = -22;
	p2.name = "ssh";
	p2.protocol = "TCP";
	mf.mount_path = "/etc/app.conf";
	mf.file_content.data = (uint8_t *)content;
	mf.file_content.len = sizeof content - 1;
	net.ingress_mode = "public";
	net.n_exposed_ports = NITEMS(exposed);
	net.exposed_ports = exposed;
	net.egress_mode = "internet";
	sm1.path = "kv/db";
	sm1.field = "password";
	sm1.env_var = "DB_PASS";
	sm2.path = "kv/api";
	sm2.field = "token";
	sm2.env_var = "OPENAI_KEY";
	ss.store_name = "vault";
	ss.n_secrets = NITEMS(sms);
	ss.secrets = sms;

	req.command = "gocmd";
	req.n_args = NITEMS(args);
	req.args = args;
	req.n_tags = NITEMS(tags);
	req.tags = tags;
	req.resources = &res;
	req.container_image = "python:3.12";
	req.n_environment_variables = NITEMS(envs);
	req.environment_variables = envs;
	req.n_ports = NITEMS(ports);
	req.ports = ports;
	req.n_mounted_files = NITEMS(mfs);
	req.mounted_files = mfs;
	req.network = &net;
	req.n_profile_ids = NITEMS(profs);
	req.profile_ids = profs;
	req.n_runner_ids = NITEMS(runners);
	req.runner_ids = runners;
	req.max_lifetime_seconds = -1800;
	req.max_timeout_seconds = -7;
	req.n_pod_annotations = NITEMS(annos);
	req.pod_annotations = annos;
	req.n_secret_stores = NITEMS(sss);
	req.secret_stores = sss;
	req.resource_limits = &lim;
	req.resource_requests = &rq;
	req.n_profile_names = NITEMS(pnames);
	req.profile_names = pnames;

	check_wire("StartSandboxRequest", &req.base, start_expect,
	    NITEMS(start_expect));
}

/* ------------------------------------------------------------------ */
/* ExecStreamRequest: one message per oneof member.                   */

static const struct expect exec_init_expect[] = {
	M("1"),					/* init ExecStreamInit */
	S("1.1", "sbx-1"),			/*   sandbox_id string */
	S("1.2", "bash"),			/*   command string rep */
	S("1.2", "-lc"),
	S("1.2", "~/run.sh"),
	V("1.3", 1),				/*   tty bool */
	V("1.4", 3000000132),			/*   tty_width uint32 */
	V("1.5", 4000000000),			/*   tty_height uint32 */
	M("1.6"), S("1.6.1", "TERM"), S("1.6.2", "xterm-256color"),
	M("1.6"), S("1.6.1", "LANG"), S("1.6.2", "C.UTF-8"),
	S("1.7", "sess-9"),			/*   resume_session_id */
};

static const struct expect exec_stdin_expect[] = {
	M("2"),					/* stdin ExecStreamData */
	S("2.1", "\0hello\n\377"),		/*   data bytes */
};

static const struct expect exec_resize_expect[] = {
	M("3"),					/* resize ExecStreamResize */
	V("3.1", 3000000200),			/*   width uint32 */
	V("3.2", 3000000050),			/*   height uint32 */
};

/* close ExecStreamClose: an empty message, length zero. */
static const struct expect exec_close_expect[] = {
	S("4", ""),
};

/* init with every field, then stdin, resize and close. */
static void
test_exec_stream_request(void **state)
{
	PB(ExecStreamRequest)	r = INIT(EXEC_STREAM_REQUEST);
	PB(ExecStreamInit)	init = INIT(EXEC_STREAM_INIT);
	PB(ExecStreamInit__EnvEntry) e1 = INIT(EXEC_STREAM_INIT__ENV_ENTRY),
				e2 = INIT(EXEC_STREAM_INIT__ENV_ENTRY),
				*env[] = { &e1, &e2 };
	PB(ExecStreamData)	data = INIT(EXEC_STREAM_DATA);
	PB(ExecStreamResize)	rs = INIT(EXEC_STREAM_RESIZE);
	PB(ExecStreamClose)	cl = INIT(EXEC_STREAM_CLOSE);
	static char		*cmd[] = { "bash", "-lc", "~/run.sh" };
	static const uint8_t	 bytes[] = "\0hello\n\377";

	init.sandbox_id = "sbx-1";
	init.n_command = NITEMS(cmd);
	init.command = cmd;
	init.tty = 1;
	init.tty_width = 3000000132u;
	init.tty_height = 4000000000u;
	e1.key = "TERM";
	e1.value = "xterm-256color";
	e2.key = "LANG";
	e2.value = "C.UTF-8";
	init.n_env = NITEMS(env);
	init.env = env;
	init.resume_session_id = "sess-9";
	r.request_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT;
	r.init = &init;
	check_wire("ExecStreamRequest.init", &r.base, exec_init_expect,
	    NITEMS(exec_init_expect));

	data.data.data = (uint8_t *)bytes;
	data.data.len = sizeof bytes - 1;
	r.request_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_STDIN;
	r.stdin = &data;
	check_wire("ExecStreamRequest.stdin", &r.base, exec_stdin_expect,
	    NITEMS(exec_stdin_expect));

	rs.width = 3000000200u;
	rs.height = 3000000050u;
	r.request_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_RESIZE;
	r.resize = &rs;
	check_wire("ExecStreamRequest.resize", &r.base, exec_resize_expect,
	    NITEMS(exec_resize_expect));

	r.request_case =
	    COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_CLOSE;
	r.close = &cl;
	check_wire("ExecStreamRequest.close", &r.base, exec_close_expect,
	    NITEMS(exec_close_expect));
}

/* ------------------------------------------------------------------ */
/* LogStreamResponse: one message per oneof member.                   */

static const struct expect log_data_expect[] = {
	M("1"),					/* data LogStreamData */
	S("1.1", "\0log line\n\377"),		/*   data bytes */
	M("1.2"),				/*   timestamp Timestamp */
	V("1.2.1", 5000000000),			/*     seconds int64 */
	V("1.2.2", 123456789),			/*     nanos int32 */
	S("1.3", "sess-2"),			/*   session_id string */
	V("1.4", 123456789012),			/*   offset uint64 */
};

static const struct expect log_error_expect[] = {
	M("2"),					/* error LogStreamError */
	S("2.1", "no such sandbox"),		/*   message string */
	S("2.2", "NOT_FOUND"),			/*   code string */
};

/* complete LogStreamComplete: an empty message, length zero. */
static const struct expect log_complete_expect[] = {
	S("3", ""),
};

/* data with every field, then error, then complete. */
static void
test_log_stream_response(void **state)
{
	PB(LogStreamResponse)	r = INIT(LOG_STREAM_RESPONSE);
	PB(LogStreamData)	d = INIT(LOG_STREAM_DATA);
	PB(LogStreamError)	e = INIT(LOG_STREAM_ERROR);
	PB(LogStreamComplete)	c = INIT(LOG_STREAM_COMPLETE);
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	static const uint8_t	 bytes[] = "\0log line\n\377";

	ts.seconds = 5000000000;
	ts.nanos = 123456789;
	d.data.data = (uint8_t *)bytes;
	d.data.len = sizeof bytes - 1;
	d.timestamp = &ts;
	d.session_id = "sess-2";
	d.offset = 123456789012ULL;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_DATA;
	r.data = &d;
	check_wire("LogStreamResponse.data", &r.base, log_data_expect,
	    NITEMS(log_data_expect));

	e.message = "no such sandbox";
	e.code = "NOT_FOUND";
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_ERROR;
	r.error = &e;
	check_wire("LogStreamResponse.error", &r.base, log_error_expect,
	    NITEMS(log_error_expect));

	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_COMPLETE;
	r.complete = &c;
	check_wire("LogStreamResponse.complete", &r.base, log_complete_expect,
	    NITEMS(log_complete_expect));
}

/* The checker itself: a field moved by one number must not pass. */
static void
test_checker_catches_moves(void **state)
{
	static const struct expect wrong[] = {
		M("2"), S("2.1", "no such sandbox"), S("2.3", "NOT_FOUND"),
	};
	struct field	got[8];
	static const uint8_t raw[] = {
		0x12, 0x1c, 0x0a, 0x0f, 'n', 'o', ' ', 's', 'u', 'c', 'h', ' ',
		's', 'a', 'n', 'd', 'b', 'o', 'x', 0x12, 0x09, 'N', 'O', 'T',
		'_', 'F', 'O', 'U', 'N', 'D',
	};
	int		n, i;

	n = decode_raw(raw, sizeof raw, got, 8);
	assert_int_equal(n, 3);
	assert_true(field_matches(&got[1], &wrong[1]));
	assert_false(field_matches(&got[2], &wrong[2]));
	for (i = 0; i < n; i++)
		free(got[i].val);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_request),
		cmocka_unit_test(test_exec_stream_request),
		cmocka_unit_test(test_log_stream_response),
		cmocka_unit_test(test_checker_catches_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
