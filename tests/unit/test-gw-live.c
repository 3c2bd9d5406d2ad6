/*
 * The gateway client against a fake gateway written here with gRPC C
 * core's server API, on a unix socket, driven by a libevent loop: metadata
 * on the wire, retries only where idempotent, deadlines, least-loaded
 * spread over distinct connections, typed replies, StreamExec callbacks in
 * order, pause, cancel, and gw_free with work in flight (every callback
 * once).  The fake's behaviour is chosen by the request's contents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <grpc/grpc_security.h>

#include "daemon/gw-internal.h"
#include "log.h"
#include "pbuf.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x
#define DESC(x)	(&coreweave__sandbox__v1beta2__ ## x ## __descriptor)
#define API_KEY	"test-key"

/* --- the fake gateway (its own thread and completion queue) ----------- */

enum { T_NEW, T_RECV, T_SEND, T_CLOSE, T_SHUTDOWN };

struct stag {
	int		 kind;
	struct scall	*c;
};

struct sout {
	grpc_byte_buffer	*bb;		/* NULL: status only */
	bool			 status;
	grpc_status_code	 code;
	grpc_slice		 details;
	struct sout		*next;
};

struct scall {
	grpc_call		*call;
	grpc_call_details	 det;
	grpc_metadata_array	 md;
	grpc_byte_buffer	*rbb;
	int			 cancelled;
	int			 pending;
	bool			 closed, md_sent, sending, finished, authed;
	char			 method[96];
	char			 mode[32];
	struct sout		*q, *cur;
	struct stag		 tnew, trecv, tsend, tclose;
};

static grpc_server		*srv;
static grpc_completion_queue	*srv_cq;
static pthread_t		 srv_thread;
static atomic_bool		 srv_stopping;	/* set by the main thread */
static char			 sock_path[108], target[128];

static pthread_mutex_t		 mu = PTHREAD_MUTEX_INITIALIZER;
static char			 seen_key[64], seen_entity[64], seen_project[64],
				 seen_auth[64];
static struct { char name[64]; int n; } counters[64];
static int			 ncounters;
static unsigned char		*stored;	/* AddFile → RetrieveFile */
static size_t			 storedlen;

static void
count(const char *name)
{
	int	 i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncounters; i++)
		if (strcmp(counters[i].name, name) == 0)
			break;
	if (i == ncounters && ncounters < 64) {
		snprintf(counters[ncounters].name, 64, "%s", name);
		counters[ncounters++].n = 0;
	}
	if (i < 64)
		counters[i].n++;
	pthread_mutex_unlock(&mu);
}

static int
counted(const char *name)
{
	int	 i, n = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncounters; i++)
		if (strcmp(counters[i].name, name) == 0)
			n = counters[i].n;
	pthread_mutex_unlock(&mu);
	return n;
}

static void
counters_reset(void)
{
	pthread_mutex_lock(&mu);
	ncounters = 0;
	pthread_mutex_unlock(&mu);
}

static void
srv_request(void)
{
	struct scall	*c = calloc(1, sizeof *c);

	c->tnew = (struct stag){ T_NEW, c };
	c->trecv = (struct stag){ T_RECV, c };
	c->tsend = (struct stag){ T_SEND, c };
	c->tclose = (struct stag){ T_CLOSE, c };
	grpc_call_details_init(&c->det);
	grpc_metadata_array_init(&c->md);
	if (grpc_server_request_call(srv, &c->call, &c->det, &c->md, srv_cq,
	    srv_cq, &c->tnew) != GRPC_CALL_OK)
		abort();
}

static void
srv_free(struct scall *c)
{
	struct sout	*o;

	while ((o = c->q) != NULL) {
		c->q = o->next;
		if (o->bb != NULL)
			grpc_byte_buffer_destroy(o->bb);
		grpc_slice_unref(o->details);
		free(o);
	}
	if (c->call != NULL)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->det);
	grpc_metadata_array_destroy(&c->md);
	free(c);
}

static void
srv_batch(struct scall *c, grpc_op *ops, size_t n, struct stag *t)
{
	if (grpc_call_start_batch(c->call, ops, n, t, NULL) != GRPC_CALL_OK)
		abort();
	c->pending++;
}

/* Sends the next queued message or status, one batch at a time. */
static void
srv_pump(struct scall *c)
{
	struct sout	*o;
	grpc_op		 ops[3];
	size_t		 n = 0;

	if (c->sending || (o = c->q) == NULL)
		return;
	c->q = o->next;
	memset(ops, 0, sizeof ops);
	if (!c->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->md_sent = true;
	}
	if (o->bb != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = o->bb;
	}
	if (o->status) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = o->code;
		ops[n++].data.send_status_from_server.status_details =
		    &o->details;
	}
	c->cur = o;
	c->sending = true;
	srv_batch(c, ops, n, &c->tsend);
}

static void
srv_queue(struct scall *c, grpc_byte_buffer *bb, bool status,
    grpc_status_code code, const char *details)
{
	struct sout	*o = calloc(1, sizeof *o), **pp;

	o->bb = bb;
	o->status = status;
	o->code = code;
	o->details = grpc_slice_from_copied_string(details ? details : "");
	for (pp = &c->q; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = o;
	srv_pump(c);
}

static void
srv_reply(struct scall *c, const ProtobufCMessage *m)
{
	srv_queue(c, pbuf_pack(m), true, GRPC_STATUS_OK, NULL);
}

static void
srv_status(struct scall *c, grpc_status_code code, const char *details)
{
	srv_queue(c, NULL, true, code, details);
}

static void
srv_recv(struct scall *c)
{
	grpc_op	 op;

	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->rbb;
	srv_batch(c, &op, 1, &c->trecv);
}

static void
md_copy(const grpc_metadata_array *md, const char *key, char *out, size_t sz)
{
	size_t	 i;

	for (i = 0; i < md->count; i++)
		if (grpc_slice_str_cmp(md->metadata[i].key, key) == 0) {
			snprintf(out, sz, "%.*s",
			    (int)GRPC_SLICE_LENGTH(md->metadata[i].value),
			    (char *)GRPC_SLICE_START_PTR(md->metadata[i].value));
			return;
		}
	*out = '\0';
}

static void
srv_new(struct scall *c)
{
	char	 key[64];
	grpc_op	 op;

	snprintf(c->method, sizeof c->method, "%.*s",
	    (int)GRPC_SLICE_LENGTH(c->det.method),
	    (char *)GRPC_SLICE_START_PTR(c->det.method));
	md_copy(&c->md, "x-wandb-api-key", key, sizeof key);
	c->authed = strcmp(key, API_KEY) == 0;
	pthread_mutex_lock(&mu);
	snprintf(seen_key, sizeof seen_key, "%s", key);
	md_copy(&c->md, "x-entity-id", seen_entity, sizeof seen_entity);
	md_copy(&c->md, "x-project-name", seen_project, sizeof seen_project);
	md_copy(&c->md, "authorization", seen_auth, sizeof seen_auth);
	pthread_mutex_unlock(&mu);
	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->cancelled;
	srv_batch(c, &op, 1, &c->tclose);
	srv_recv(c);
}

static void
srv_get(struct scall *c, PB(GetSandboxRequest) *r)
{
	PB(GetSandboxResponse)	 g = COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE__INIT;
	static int		 flaky;
	char			 name[96];

	snprintf(name, sizeof name, "Get:%s", r->sandbox_id);
	count(name);
	if (strcmp(r->sandbox_id, "hang") == 0)
		return;
	if (strcmp(r->sandbox_id, "flaky") == 0 && ++flaky % 3 != 0) {
		srv_status(c, GRPC_STATUS_UNAVAILABLE, "try again");
		return;
	}
	if (strcmp(r->sandbox_id, "missing") == 0) {
		srv_status(c, GRPC_STATUS_NOT_FOUND, "no sandbox missing");
		return;
	}
	if (strcmp(r->sandbox_id, "garbage") == 0) {
		grpc_slice s = grpc_slice_from_copied_buffer("\xff\xff\xff", 3);
		srv_queue(c, grpc_raw_byte_buffer_create(&s, 1), true,
		    GRPC_STATUS_OK, NULL);
		grpc_slice_unref(s);
		return;
	}
	g.sandbox_id = r->sandbox_id;
	g.sandbox_status = COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_RUNNING;
	srv_reply(c, &g.base);
}

static void
srv_start(struct scall *c, PB(StartSandboxRequest) *r)
{
	PB(StartSandboxResponse) s = COREWEAVE__SANDBOX__V1BETA2__START_SANDBOX_RESPONSE__INIT;
	char			 name[96];

	snprintf(name, sizeof name, "Start:%s", r->container_image);
	count(name);
	if (strcmp(r->container_image, "hang") == 0)
		return;
	if (strcmp(r->container_image, "flaky") == 0) {
		srv_status(c, GRPC_STATUS_UNAVAILABLE, "try again");
		return;
	}
	s.sandbox_id = "sb-new";
	s.sandbox_status = COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_CREATING;
	srv_reply(c, &s.base);
}

static void
srv_list(struct scall *c, PB(ListSandboxesRequest) *r)
{
	PB(ListSandboxesResponse) l = COREWEAVE__SANDBOX__V1BETA2__LIST_SANDBOXES_RESPONSE__INIT;
	PB(SandboxInfo)		 i[2] = {
		COREWEAVE__SANDBOX__V1BETA2__SANDBOX_INFO__INIT,
		COREWEAVE__SANDBOX__V1BETA2__SANDBOX_INFO__INIT };
	PB(SandboxInfo)		*ip[2] = { &i[0], &i[1] };

	count("List");
	l.sandboxes = ip;
	if (*r->page_token == '\0') {
		i[0].sandbox_id = "a";
		i[1].sandbox_id = "b";
		l.n_sandboxes = 2;
		l.next_page_token = r->n_tags == 1 ? "p2" : "";
	} else {
		i[0].sandbox_id = "c";
		l.n_sandboxes = 1;
	}
	srv_reply(c, &l.base);
}

/* The unary methods, each reading its request. */
static void
srv_unary(struct scall *c, grpc_byte_buffer *bb)
{
	const char	*m = strrchr(c->method, '/') + 1;
	ProtobufCMessage *req = NULL;

	if (!c->authed) {
		srv_status(c, GRPC_STATUS_UNAUTHENTICATED, "bad API key");
		return;
	}
	if (strcmp(m, "Get") == 0 && (req = pbuf_unpack(bb,
	    DESC(get_sandbox_request))) != NULL)
		srv_get(c, (void *)req);
	else if (strcmp(m, "Start") == 0 && (req = pbuf_unpack(bb,
	    DESC(start_sandbox_request))) != NULL)
		srv_start(c, (void *)req);
	else if (strcmp(m, "List") == 0 && (req = pbuf_unpack(bb,
	    DESC(list_sandboxes_request))) != NULL)
		srv_list(c, (void *)req);
	else if (strcmp(m, "Stop") == 0 && (req = pbuf_unpack(bb,
	    DESC(stop_sandbox_request))) != NULL) {
		PB(StopSandboxRequest) *r = (void *)req;
		PB(StopSandboxResponse) s = COREWEAVE__SANDBOX__V1BETA2__STOP_SANDBOX_RESPONSE__INIT;

		count("Stop");
		if (strcmp(r->sandbox_id, "missing") == 0)
			srv_status(c, GRPC_STATUS_NOT_FOUND, "gone");
		else {
			s.success = strcmp(r->sandbox_id, "refuse") != 0;
			s.error_message = s.success ? "" : "sandbox is busy";
			srv_reply(c, &s.base);
		}
	} else if (strcmp(m, "Exec") == 0 && (req = pbuf_unpack(bb,
	    DESC(exec_sandbox_request))) != NULL) {
		PB(ExecSandboxRequest) *r = (void *)req;
		PB(ExecSandboxResponse) e = COREWEAVE__SANDBOX__V1BETA2__EXEC_SANDBOX_RESPONSE__INIT;
		PB(ExecResponse) x = COREWEAVE__SANDBOX__V1BETA2__EXEC_RESPONSE__INIT;

		count("Exec");
		x.stdout.data = (uint8_t *)r->command[r->n_command - 1];
		x.stdout.len = strlen(r->command[r->n_command - 1]);
		x.exit_code = (int32_t)r->n_command;
		x.stdout_bytes_produced = (int64_t)x.stdout.len;
		x.stderr_truncated = r->max_timeout_seconds == 7;
		e.result = &x;
		srv_reply(c, &e.base);
	} else if (strcmp(m, "AddFile") == 0 && (req = pbuf_unpack(bb,
	    DESC(add_file_sandbox_request))) != NULL) {
		PB(AddFileSandboxRequest) *r = (void *)req;
		PB(AddFileSandboxResponse) a = COREWEAVE__SANDBOX__V1BETA2__ADD_FILE_SANDBOX_RESPONSE__INIT;

		count("AddFile");
		a.success = strcmp(r->filepath, "/readonly/f") != 0;
		a.error_message = a.success ? "" : "read-only file system";
		if (a.success) {
			pthread_mutex_lock(&mu);
			free(stored);
			stored = malloc(r->file_contents.len + 1);
			memcpy(stored, r->file_contents.data ?
			    r->file_contents.data : (uint8_t *)"",
			    r->file_contents.len);
			storedlen = r->file_contents.len;
			pthread_mutex_unlock(&mu);
		}
		srv_reply(c, &a.base);
	} else if (strcmp(m, "RetrieveFile") == 0 && (req = pbuf_unpack(bb,
	    DESC(retrieve_file_sandbox_request))) != NULL) {
		PB(RetrieveFileSandboxRequest) *r = (void *)req;
		PB(RetrieveFileSandboxResponse) f = COREWEAVE__SANDBOX__V1BETA2__RETRIEVE_FILE_SANDBOX_RESPONSE__INIT;

		count("RetrieveFile");
		pthread_mutex_lock(&mu);
		f.success = strcmp(r->filepath, "/refused") != 0;
		f.error_message = f.success ? "" : "path outside the sandbox";
		if (f.success) {
			f.file_contents.data = stored;
			f.file_contents.len = storedlen;
		}
		srv_reply(c, &f.base);
		pthread_mutex_unlock(&mu);
	} else
		srv_status(c, GRPC_STATUS_UNIMPLEMENTED, "no such method");
	if (req != NULL)
		protobuf_c_message_free_unpacked(req, NULL);
}

static void
srv_exec_frame(struct scall *c, PB(ExecStreamResponse) *r)
{
	srv_queue(c, pbuf_pack(&r->base), false, GRPC_STATUS_OK, NULL);
}

static void
srv_exec_output(struct scall *c, int type, const void *data, size_t len)
{
	PB(ExecStreamResponse)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__INIT;
	PB(ExecStreamOutput)	o = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_OUTPUT__INIT;

	o.stream_type = type;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	r.response_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_OUTPUT;
	r.output = &o;
	srv_exec_frame(c, &r);
}

/* The command's end, as its mode says. */
static void
srv_exec_finish(struct scall *c)
{
	PB(ExecStreamResponse)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__INIT;
	PB(ExecStreamExit)	x = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_EXIT__INIT;

	c->finished = true;
	count("StreamExec:close");
	if (strcmp(c->mode, "hang") == 0)
		return;
	if (strcmp(c->mode, "noexit") != 0) {
		x.exit_code = 3;
		r.response_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_EXIT;
		r.exit = &x;
		srv_exec_frame(c, &r);
	}
	srv_status(c, GRPC_STATUS_OK, NULL);
}

static void
srv_exec_init(struct scall *c, PB(ExecStreamInit) *in)
{
	PB(ExecStreamResponse)	r = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__INIT;
	PB(StreamingExecReady)	y = COREWEAVE__SANDBOX__V1BETA2__STREAMING_EXEC_READY__INIT;
	PB(ExecStreamError)	e = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_ERROR__INIT;

	snprintf(c->mode, sizeof c->mode, "%s",
	    in->n_command > 0 ? in->command[0] : "");
	count("StreamExec");
	y.session_id = "sess-1";
	r.response_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_READY;
	r.ready = &y;
	srv_exec_frame(c, &r);
	if (strcmp(c->mode, "stderr") == 0)
		srv_exec_output(c, 2, "to-stderr", 9);
	if (strcmp(c->mode, "errframe") == 0) {
		e.message = "boom";
		e.code = "NOT_FOUND";
		r.response_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_RESPONSE__RESPONSE_ERROR;
		r.error = &e;
		srv_exec_frame(c, &r);
		srv_status(c, GRPC_STATUS_OK, NULL);
		c->finished = true;
	}
}

/* StreamExec: ready, stdin echoed as stdout, close → exit 3. */
static void
srv_exec(struct scall *c, grpc_byte_buffer *bb, bool ok)
{
	PB(ExecStreamRequest)	*r;

	if (!ok || bb == NULL) {
		if (!c->finished)
			srv_exec_finish(c);
		return;
	}
	if (!c->authed) {
		srv_status(c, GRPC_STATUS_UNAUTHENTICATED, "bad API key");
		c->finished = true;
		return;
	}
	if ((r = (void *)pbuf_unpack(bb, DESC(exec_stream_request))) == NULL)
		abort();
	switch (r->request_case) {
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT:
		srv_exec_init(c, r->init);
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_STDIN:
		count("StreamExec:stdin");
		srv_exec_output(c, 1, r->stdin->data.data, r->stdin->data.len);
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_RESIZE:
		count("StreamExec:resize");
		break;
	case COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_CLOSE:
		srv_exec_finish(c);
		break;
	default:
		break;
	}
	protobuf_c_message_free_unpacked(&r->base, NULL);
	if (!c->finished)
		srv_recv(c);
}

static void
srv_event(struct stag *t, bool ok)
{
	struct scall		*c = t->c;
	grpc_byte_buffer	*bb;

	switch (t->kind) {
	case T_NEW:
		if (!ok) {
			srv_free(c);
			return;
		}
		if (!srv_stopping)
			srv_request();
		srv_new(c);
		return;
	case T_RECV:
		c->pending--;
		bb = c->rbb;
		c->rbb = NULL;
		if (strstr(c->method, "StreamExec") != NULL)
			srv_exec(c, bb, ok);
		else if (ok && bb != NULL)
			srv_unary(c, bb);
		if (bb != NULL)
			grpc_byte_buffer_destroy(bb);
		break;
	case T_SEND:
		c->pending--;
		c->sending = false;
		if (c->cur->bb != NULL)
			grpc_byte_buffer_destroy(c->cur->bb);
		grpc_slice_unref(c->cur->details);
		free(c->cur);
		c->cur = NULL;
		if (ok)
			srv_pump(c);
		break;
	case T_CLOSE:
		c->pending--;
		c->closed = true;
		if (c->cancelled)
			count("cancelled");
		break;
	}
	if (c->closed && !c->sending && c->q != NULL && c->cancelled) {
		struct sout *o;

		while ((o = c->q) != NULL) {
			c->q = o->next;
			if (o->bb != NULL)
				grpc_byte_buffer_destroy(o->bb);
			grpc_slice_unref(o->details);
			free(o);
		}
	}
	if (c->closed && c->pending == 0)
		srv_free(c);
}

static void *
srv_main(void *arg)
{
	grpc_event	 ev;
	struct stag	*t;

	for (;;) {
		ev = grpc_completion_queue_next(srv_cq,
		    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		t = ev.tag;
		if (t->kind == T_SHUTDOWN) {
			grpc_completion_queue_shutdown(srv_cq);
			continue;
		}
		srv_event(t, ev.success != 0);
	}
	return NULL;
}

static int
group_setup(void **state)
{
	grpc_server_credentials	*creds;
	int			 i;

	log_init("test-gw-live", getenv("GW_TEST_DEBUG") ? 1 : -1);
	grpc_init();
	snprintf(sock_path, sizeof sock_path, "/tmp/sbx-gwlive-%d.sock",
	    (int)getpid());
	unlink(sock_path);
	snprintf(target, sizeof target, "unix:%s", sock_path);
	srv_cq = grpc_completion_queue_create_for_next(NULL);
	srv = grpc_server_create(NULL, NULL);
	grpc_server_register_completion_queue(srv, srv_cq, NULL);
	creds = grpc_insecure_server_credentials_create();
	if (grpc_server_add_http2_port(srv, target, creds) == 0)
		return -1;
	grpc_server_credentials_release(creds);
	grpc_server_start(srv);
	for (i = 0; i < 32; i++)
		srv_request();
	pthread_create(&srv_thread, NULL, srv_main, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	static struct stag	 down = { T_SHUTDOWN, NULL };

	srv_stopping = true;
	grpc_server_shutdown_and_notify(srv, srv_cq, &down);
	grpc_server_cancel_all_calls(srv);
	pthread_join(srv_thread, NULL);
	grpc_server_destroy(srv);
	grpc_completion_queue_destroy(srv_cq);
	unlink(sock_path);
	free(stored);
	grpc_shutdown_blocking();
	return 0;
}

/* --- the client side: a loop and result recorders -------------------- */

struct res {
	int		 n;		/* callbacks so far */
	struct gw_error	 err;		/* copy, message duplicated */
	bool		 failed;
	struct gw_sandbox sb;
	char		 id[64];
	unsigned char	*data;
	size_t		 len;
	int		 exit_code;
	char		 order[256];	/* stream events: R O E D */
	size_t		 norder;
};

static struct event_base	*base;

static void
res_error(struct res *r, const struct gw_error *err)
{
	r->n++;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
		r->err.message = strdup(err->message);
	}
}

static void
res_clear(struct res *r)
{
	free((char *)r->err.message);
	free(r->data);
	memset(r, 0, sizeof *r);
}

static void
on_sandbox(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct res	*r = arg;

	res_error(r, err);
	if (sb != NULL) {
		r->sb = *sb;
		snprintf(r->id, sizeof r->id, "%s", sb->id);
		r->sb.id = r->id;
		r->sb.status_reason = "";
	}
}

static void
on_done(void *arg, const struct gw_error *err)
{
	res_error(arg, err);
}

static void
on_bytes(void *arg, const struct gw_error *err, const unsigned char *d,
    size_t len)
{
	struct res	*r = arg;

	res_error(r, err);
	if (err == NULL) {
		r->data = malloc(len + 1);
		memcpy(r->data, d, len);
		r->len = len;
	}
}

static void
on_list(void *arg, const struct gw_error *err, const struct gw_sandbox *sb,
    size_t n)
{
	struct res	*r = arg;
	size_t		 i;

	res_error(r, err);
	r->len = n;
	for (i = 0; i < n && i < 3; i++)
		r->id[i] = sb[i].id[0];
}

static void
on_exec(void *arg, const struct gw_error *err, const struct gw_exec_result *x)
{
	struct res	*r = arg;

	res_error(r, err);
	if (x != NULL) {
		r->data = malloc(x->outlen + 1);
		memcpy(r->data, x->out, x->outlen);
		r->len = x->outlen;
		r->exit_code = x->exit_code;
		r->sb.has_exit_code = x->err_truncated;
	}
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *n reaches `want` (bounded: 20 s, then fails). */
static void
run_until(const int *n, int want)
{
	struct event	*t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval	 tv = { 0, 20000 };
	int64_t		 end = gw_now_ms() + 20000;

	event_add(t, &tv);
	while (*n < want && gw_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	if (*n < want)
		fail_msg("timed out waiting for %d callbacks (have %d)", want,
		    *n);
}

/* Runs the loop for about `ms` (for "nothing more happens" checks). */
static void
run_for(int64_t ms)
{
	int	 never = 0;
	struct event	*t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval	 tv = { 0, 10000 };
	int64_t		 end = gw_now_ms() + ms;

	event_add(t, &tv);
	while (!never && gw_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static struct gw *
client(const char *key, int channels, int64_t timeout_ms)
{
	struct gw_options	 o = { .target = target, .channels = channels,
	    .call_timeout_ms = timeout_ms, .keepalive_ms = 30000,
	    .api_key = key, .bearer = "cw-token", .entity = "team-a",
	    .project = "proj-b" };
	struct gw		*gw;
	char			*err = NULL;

	gw = gw_new(base, &o, &err);
	if (gw == NULL)
		fail_msg("gw_new: %s", err);
	return gw;
}

static int
setup(void **state)
{
	base = event_base_new();
	counters_reset();
	return 0;
}

static int
teardown(void **state)
{
	event_base_free(base);
	return 0;
}

/* --- tests ------------------------------------------------------------ */

/* Get works, and every header arrives at the gateway. */
static void
test_get_and_metadata(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 5000);
	struct res	 r = { 0 };

	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_false(r.failed);
	assert_string_equal(r.id, "sb-1");
	assert_int_equal(r.sb.status, GW_STATUS_RUNNING);
	assert_false(r.sb.has_exit_code);
	pthread_mutex_lock(&mu);
	assert_string_equal(seen_key, API_KEY);
	assert_string_equal(seen_entity, "team-a");
	assert_string_equal(seen_project, "proj-b");
	assert_string_equal(seen_auth, "Bearer cw-token");
	pthread_mutex_unlock(&mu);
	gw_free(gw);
	assert_int_equal(r.n, 1);
	res_clear(&r);
}

/* A refused key maps to unauthenticated, with a line that says so. */
static void
test_bad_key(void **state)
{
	struct gw	*gw = client("wrong-key", 1, 5000);
	struct res	 r = { 0 };

	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_true(r.failed);
	assert_int_equal(r.err.rpc, RPC_ERR_UNAUTHENTICATED);
	assert_non_null(strstr(r.err.message, "rejected the API key"));
	assert_null(strstr(r.err.message, "wrong-key"));
	gw_free(gw);
	res_clear(&r);
}

/* UNAVAILABLE twice: Get retries to success; Start is tried once only. */
static void
test_retries_only_idempotent(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 5000);
	struct res	 r = { 0 }, s = { 0 };
	struct gw_spec	 spec = { .image = "flaky" };
	json_t		*st;

	gw_get(gw, "flaky", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_false(r.failed);
	assert_int_equal(counted("Get:flaky"), 3);
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(st, "retries")), 2);
	json_decref(st);

	gw_start(gw, &spec, on_sandbox, &s);
	run_until(&s.n, 1);
	assert_true(s.failed);
	assert_int_equal(s.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(s.err.message, "gateway unavailable (unix:"));
	assert_non_null(strstr(s.err.message, "try again"));
	assert_int_equal(counted("Start:flaky"), 1);
	gw_free(gw);
	res_clear(&r);
	res_clear(&s);
}

/* A gateway that never answers: per-attempt deadlines, retried for Get. */
static void
test_deadlines(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 300);
	struct res	 r = { 0 }, s = { 0 };
	struct gw_spec	 spec = { .image = "hang" };

	gw_get(gw, "hang", on_sandbox, &r);
	gw_start(gw, &spec, on_sandbox, &s);
	run_until(&r.n, 1);
	run_until(&s.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_DEADLINE_EXCEEDED);
	assert_int_equal(s.err.rpc, RPC_ERR_DEADLINE_EXCEEDED);
	assert_non_null(strstr(r.err.message, "within 300 ms"));
	assert_true(counted("Get:hang") >= 2);
	assert_int_equal(counted("Start:hang"), 1);
	gw_free(gw);
	res_clear(&r);
	res_clear(&s);
}

/* Each typed call reads its reply, refusals and bad bytes included. */
static void
test_typed_calls(void **state)
{
	static const char *const argv[] = { "echo", "hi there" };
	static const char *const tag[] = { "sandboxd" };
	struct gw		*gw = client(API_KEY, 2, 5000);
	struct gw_exec_request	 xq = { .sandbox_id = "sb-1", .argv = argv,
	    .argc = 2, .timeout_s = 7 };
	struct res		 r[13];
	unsigned char		*blob = malloc(1 << 20);
	size_t			 i;
	int			 total = 0;

	memset(r, 0, sizeof r);
	for (i = 0; i < (1 << 20); i++)
		blob[i] = (unsigned char)(i * 7 + (i >> 9));
	gw_stop(gw, "missing", 5, on_done, &r[0]);
	gw_stop(gw, "refuse", 5, on_done, &r[1]);
	gw_get(gw, "missing", on_sandbox, &r[2]);
	gw_get(gw, "garbage", on_sandbox, &r[3]);
	gw_list(gw, tag, 1, true, on_list, &r[4]);
	gw_exec(gw, &xq, on_exec, &r[5]);
	gw_add_file(gw, "sb-1", "/data/blob", blob, 1 << 20, on_done, &r[6]);
	gw_stop(gw, "sb-1", 0, on_done, &r[7]);
	free(blob);	/* requests are copied at call time */
	gw_get(gw, NULL, on_sandbox, &r[8]);
	assert_int_equal(r[8].n, 0);	/* never from inside the call */
	gw_retrieve_file(gw, "sb-1", "/refused", on_bytes, &r[9]);
	gw_list(gw, NULL, 0, false, on_list, &r[10]);
	for (i = 0; i < 11; i++) {
		run_until(&r[i].n, 1);
		total += r[i].n;
	}
	assert_false(r[0].failed);
	assert_int_equal(r[1].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[1].err.message, "sandbox is busy"));
	assert_int_equal(r[2].err.rpc, RPC_ERR_NOT_FOUND);
	assert_int_equal(r[3].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[3].err.message, "malformed reply"));
	assert_false(r[4].failed);
	assert_int_equal(r[4].len, 3);
	assert_memory_equal(r[4].id, "abc", 3);
	assert_false(r[5].failed);
	assert_int_equal(r[5].len, 8);
	assert_memory_equal(r[5].data, "hi there", 8);
	assert_int_equal(r[5].exit_code, 2);
	assert_true(r[5].sb.has_exit_code);	/* timeout 7 reached it */
	assert_false(r[6].failed);
	assert_false(r[7].failed);
	assert_int_equal(r[8].err.rpc, RPC_ERR_INVALID_PARAMS);
	assert_int_equal(r[9].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[9].err.message, "path outside the sandbox"));
	assert_int_equal(r[10].len, 2);	/* one page */

	gw_retrieve_file(gw, "sb-1", "/data/blob", on_bytes, &r[11]);
	gw_add_file(gw, "sb-1", "/readonly/f", (const unsigned char *)"x", 1,
	    on_done, &r[12]);
	run_until(&r[11].n, 1);
	run_until(&r[12].n, 1);
	assert_int_equal(r[12].err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_non_null(strstr(r[12].err.message,
	    "refused to write /readonly/f: read-only file system"));
	assert_false(r[11].failed);
	assert_int_equal(r[11].len, 1 << 20);
	for (i = 0; i < (1 << 20); i++)
		if (r[11].data[i] != (unsigned char)(i * 7 + (i >> 9)))
			fail_msg("byte %zu differs", i);
	gw_free(gw);
	for (i = 0; i < 13; i++) {
		assert_int_equal(r[i].n, 1);
		res_clear(&r[i]);
	}
	assert_int_equal(total, 11);
}

/* Accepted connections to our socket, from /proc/net/unix. */
static int
connections(void)
{
	FILE	*f = fopen("/proc/net/unix", "r");
	char	 line[512];
	int	 n = 0;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strstr(line, sock_path) != NULL)
			n++;
	if (f != NULL)
		fclose(f);
	return n - 1;	/* less the listening socket */
}

static bool
all_ready(struct gw *gw)
{
	json_t	*st = gw_status_json(gw), *ch;
	size_t	 i;
	bool	 ok = true;

	json_array_foreach(json_object_get(st, "channels"), i, ch)
		if (strcmp(json_string_value(json_object_get(ch, "state")),
		    "ready") != 0)
			ok = false;
	json_decref(st);
	return ok;
}

/*
 * Four channels are four connections; eight hanging calls land two per
 * channel; gw_free then reports each of them once, cancelled.
 */
static void
test_least_loaded_and_free(void **state)
{
	struct gw	*gw;
	struct res	 r[8];
	json_t		*st, *ch;
	size_t		 i;
	int64_t		 end = gw_now_ms() + 20000;

	/* Earlier tests' connections close on the server side first. */
	while (connections() > 0 && gw_now_ms() < end)
		usleep(10000);
	assert_int_equal(connections(), 0);
	gw = client(API_KEY, 4, 30000);
	memset(r, 0, sizeof r);
	while (!all_ready(gw) && gw_now_ms() < end)
		run_for(20);
	assert_true(all_ready(gw));
	assert_int_equal(connections(), 4);
	for (i = 0; i < 8; i++)
		gw_get(gw, "hang", on_sandbox, &r[i]);
	while (counted("Get:hang") < 8 && gw_now_ms() < end)
		run_for(20);
	assert_int_equal(counted("Get:hang"), 8);
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(st, "inflight")), 8);
	assert_string_equal(json_string_value(json_object_get(st, "target")),
	    target);
	assert_true(json_is_false(json_object_get(st, "tls")));
	json_array_foreach(json_object_get(st, "channels"), i, ch) {
		assert_int_equal(json_integer_value(json_object_get(ch,
		    "inflight")), 2);
		assert_int_equal(json_integer_value(json_object_get(ch,
		    "calls")), 2);
	}
	json_decref(st);
	gw_free(gw);
	for (i = 0; i < 8; i++) {
		assert_int_equal(r[i].n, 1);
		assert_int_equal(r[i].err.rpc, RPC_ERR_CANCELLED);
		res_clear(&r[i]);
	}
}

/*
 * A target where nothing listens: the first failure marks the gateway
 * down, and from then on calls fail at once instead of going out.
 */
static void
test_unavailable(void **state)
{
	struct gw_options	 o = { .target = "unix:/tmp/sbx-nothing-here.sock",
	    .channels = 2, .call_timeout_ms = 3000, .api_key = API_KEY };
	struct gw		*gw;
	struct res		 r = { 0 };
	json_t			*st;
	json_int_t		 calls;
	char			*err = NULL;
	int64_t			 t0;

	gw = gw_new(base, &o, &err);
	assert_non_null(gw);
	gw_get(gw, "sb-1", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(r.err.message,
	    "unix:/tmp/sbx-nothing-here.sock is unreachable"));
	assert_true(gw_down(gw));
	st = gw_status_json(gw);
	assert_true(json_is_true(json_object_get(st, "down")));
	assert_int_equal(json_integer_value(json_object_get(st, "retries")), 1);
	calls = json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 0), "calls")) +
	    json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 1), "calls"));
	json_decref(st);
	res_clear(&r);

	/* Down: the next call never reaches gRPC, and answers at once. */
	t0 = gw_now_ms();
	gw_get(gw, "sb-2", on_sandbox, &r);
	run_until(&r.n, 1);
	assert_true(gw_now_ms() - t0 < 1000);
	assert_int_equal(r.err.rpc, RPC_ERR_GATEWAY_UNAVAILABLE);
	assert_non_null(strstr(r.err.message, "Get not sent"));
	st = gw_status_json(gw);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 0), "calls")) +
	    json_integer_value(json_object_get(json_array_get(
	    json_object_get(st, "channels"), 1), "calls")), calls);
	json_decref(st);
	gw_free(gw);
	res_clear(&r);

	o.channels = 0;
	assert_null(gw_new(base, &o, &err));
	assert_non_null(strstr(err, "channels"));
	free(err);
	o.channels = 1;
	o.tls = true;
	o.target = "localhost:1";
	o.ca_file = "/nonexistent/ca.pem";
	assert_null(gw_new(base, &o, &err));
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	free(err);
}

/* --- StreamExec ------------------------------------------------------- */

struct xres {
	struct res	 r;
	unsigned char	*out;
	size_t		 outlen;
	int		 stderr_bytes;
	char		 session[32];
	struct gw_exec_stream *x;
	bool		 cancel_on_ready;
};

static void
x_ready(void *arg, const char *session)
{
	struct xres	*x = arg;

	x->r.order[x->r.norder++] = 'R';
	snprintf(x->session, sizeof x->session, "%s", session);
	if (x->cancel_on_ready)
		gw_exec_stream_cancel(x->x);
}

static void
x_output(void *arg, int stream, const unsigned char *d, size_t len)
{
	struct xres	*x = arg;

	if (x->r.norder == 0 || x->r.order[x->r.norder - 1] != 'O')
		x->r.order[x->r.norder++] = 'O';
	if (stream == 2) {
		x->stderr_bytes += (int)len;
		return;
	}
	x->out = realloc(x->out, x->outlen + len);
	memcpy(x->out + x->outlen, d, len);
	x->outlen += len;
}

static void
x_done(void *arg, const struct gw_error *err, int code)
{
	struct xres	*x = arg;

	x->r.order[x->r.norder++] = 'D';
	x->r.exit_code = code;
	res_error(&x->r, err);
}

static const struct gw_exec_stream_cbs xcbs = { x_ready, x_output, x_done };

static struct gw_exec_stream *
xstart(struct gw *gw, const char *mode, struct xres *x)
{
	const char	*argv[] = { mode, "arg" };
	struct gw_kv	 env[] = { { "K", "V" } };
	struct gw_exec_stream_request q = { .sandbox_id = "sb-1",
	    .argv = argv, .argc = 2, .env = env, .nenv = 1, .tty = false };

	x->x = gw_exec_stream_start(gw, &q, &xcbs, x);
	return x->x;
}

/* ready, the echoed stdin in order, then done with the exit code 3. */
static void
test_stream_echo(void **state)
{
	struct gw		*gw = client(API_KEY, 2, 5000);
	struct xres		 x = { 0 };
	struct gw_exec_stream	*s = xstart(gw, "echo", &x);
	size_t			 len = 300000, i;
	unsigned char		*in = malloc(len);

	for (i = 0; i < len; i++)
		in[i] = (unsigned char)(i % 251);
	gw_exec_stream_write(s, (const unsigned char *)"hello ", 6);
	gw_exec_stream_write(s, in, len);
	assert_true(gw_exec_stream_pending(s) > 0);
	gw_exec_stream_resize(s, 100, 40);
	gw_exec_stream_close_stdin(s);
	gw_exec_stream_write(s, in, 10);	/* after close: dropped */
	run_until(&x.r.n, 1);
	assert_false(x.r.failed);
	assert_int_equal(x.r.exit_code, 3);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "ROD");
	assert_string_equal(x.session, "sess-1");
	assert_int_equal(x.outlen, len + 6);
	assert_memory_equal(x.out, "hello ", 6);
	assert_memory_equal(x.out + 6, in, len);
	/* 300000 bytes in chunks of at most 64 KiB, plus "hello ". */
	assert_int_equal(counted("StreamExec:stdin"), 1 + (len + 65535) / 65536);
	assert_int_equal(counted("StreamExec:resize"), 1);
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	free(in);
	free(x.out);
	res_clear(&x.r);
}

/* No exit frame is an error; an error frame maps its code; stderr is 2. */
static void
test_stream_endings(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 5000);
	struct xres	 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct gw_exec_stream_request bad = { .sandbox_id = "sb-1" };

	gw_exec_stream_close_stdin(xstart(gw, "noexit", &a));
	xstart(gw, "errframe", &b);
	gw_exec_stream_close_stdin(xstart(gw, "stderr", &c));
	d.x = gw_exec_stream_start(gw, &bad, &xcbs, &d);
	assert_int_equal(d.r.n, 0);
	run_until(&a.r.n, 1);
	run_until(&b.r.n, 1);
	run_until(&c.r.n, 1);
	run_until(&d.r.n, 1);
	assert_int_equal(a.r.err.rpc, RPC_ERR_GATEWAY_ERROR);
	assert_string_equal(a.r.err.message,
	    "stream ended without an exit status");
	assert_int_equal(b.r.err.rpc, RPC_ERR_NOT_FOUND);
	assert_non_null(strstr(b.r.err.message, "boom"));
	assert_false(c.r.failed);
	assert_int_equal(c.r.exit_code, 3);
	assert_int_equal(c.stderr_bytes, 9);
	assert_int_equal(d.r.err.rpc, RPC_ERR_INVALID_PARAMS);
	assert_string_equal(d.r.order, "D");
	gw_free(gw);
	res_clear(&a.r);
	res_clear(&b.r);
	res_clear(&c.r);
	res_clear(&d.r);
}

/* Cancel from inside a callback: on_done once, with cancelled. */
static void
test_stream_cancel(void **state)
{
	struct gw	*gw = client(API_KEY, 1, 5000);
	struct xres	 x = { .cancel_on_ready = true };

	xstart(gw, "hang", &x);
	run_until(&x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "RD");
	run_for(50);
	assert_int_equal(x.r.n, 1);
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	res_clear(&x.r);
}

/* Paused: nothing read past the first frame until resumed; then all. */
static void
test_stream_pause(void **state)
{
	struct gw		*gw = client(API_KEY, 1, 5000);
	struct xres		 x = { 0 };
	struct gw_exec_stream	*s = xstart(gw, "echo", &x);
	int64_t			 end = gw_now_ms() + 20000;

	gw_exec_stream_pause(s, true);
	gw_exec_stream_write(s, (const unsigned char *)"abc", 3);
	gw_exec_stream_write(s, (const unsigned char *)"def", 3);
	gw_exec_stream_close_stdin(s);
	while (counted("StreamExec:close") < 1 && gw_now_ms() < end)
		run_for(20);
	run_for(100);
	assert_int_equal(x.r.n, 0);
	assert_int_equal(x.outlen, 0);	/* at most "ready" came through */
	gw_exec_stream_pause(s, false);
	run_until(&x.r.n, 1);
	assert_false(x.r.failed);
	assert_int_equal(x.r.exit_code, 3);
	assert_int_equal(x.outlen, 6);
	assert_memory_equal(x.out, "abcdef", 6);
	gw_free(gw);
	free(x.out);
	res_clear(&x.r);
}

/*
 * Keepalive pings on a quiet stream must not make a default server close
 * the connection (too many pings): the stream outlives many ping periods.
 */
static void
test_keepalive_quiet_stream(void **state)
{
	struct gw_options	 o = { .target = target, .channels = 1,
	    .call_timeout_ms = 5000, .keepalive_ms = 100,
	    .api_key = API_KEY };
	struct gw		*gw;
	struct xres		 x = { 0 };
	char			*err = NULL;

	assert_non_null(gw = gw_new(base, &o, &err));
	xstart(gw, "hang", &x);
	run_for(6000);
	assert_int_equal(x.r.n, 0);
	x.r.order[x.r.norder] = '\0';
	assert_string_equal(x.r.order, "R");
	gw_exec_stream_cancel(x.x);
	run_until(&x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	gw_free(gw);
	res_clear(&x.r);
}

/* gw_free with a stream and a call in flight: each reports once. */
static void
test_free_with_stream(void **state)
{
	struct gw	*gw = client(API_KEY, 2, 30000);
	struct xres	 x = { 0 };
	struct res	 r = { 0 };
	int64_t		 end = gw_now_ms() + 20000;

	xstart(gw, "hang", &x);
	gw_get(gw, "hang", on_sandbox, &r);
	while ((x.r.norder == 0 || counted("Get:hang") < 1) &&
	    gw_now_ms() < end)
		run_for(20);
	assert_int_equal(x.r.order[0], 'R');
	gw_free(gw);
	assert_int_equal(x.r.n, 1);
	assert_int_equal(x.r.err.rpc, RPC_ERR_CANCELLED);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.err.rpc, RPC_ERR_CANCELLED);
	res_clear(&x.r);
	res_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_get_and_metadata),
		T(test_bad_key),
		T(test_retries_only_idempotent),
		T(test_deadlines),
		T(test_typed_calls),
		T(test_least_loaded_and_free),
		T(test_unavailable),
		T(test_stream_echo),
		T(test_stream_endings),
		T(test_stream_cancel),
		T(test_stream_pause),
		T(test_free_with_stream),
		T(test_keepalive_quiet_stream),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
