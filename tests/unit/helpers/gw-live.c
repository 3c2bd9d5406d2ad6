/*
 * The set-up shared by the test-gw-live-*.c programs: a fake gateway
 * written with gRPC C core's server API, on a unix socket and its own
 * thread, and the client side's libevent loop and result recorders.  The
 * fake's behaviour is chosen by the request's contents.
 */
#include <errno.h>
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

#include "log.h"
#include "pbuf.h"
#include "gw-live.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x
#define DESC(x)	(&coreweave__sandbox__v1beta2__ ## x ## __descriptor)

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
char				 sock_path[108], target[128];

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

int
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

void
seen_headers(struct seen *h)
{
	pthread_mutex_lock(&mu);
	memcpy(h->key, seen_key, sizeof h->key);
	memcpy(h->entity, seen_entity, sizeof h->entity);
	memcpy(h->project, seen_project, sizeof h->project);
	memcpy(h->auth, seen_auth, sizeof h->auth);
	pthread_mutex_unlock(&mu);
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
sout_free(struct sout *o)
{
	if (o->bb != NULL)
		grpc_byte_buffer_destroy(o->bb);
	grpc_slice_unref(o->details);
	free(o);
}

/* Drops what is still queued to send. */
static void
srv_drop_queue(struct scall *c)
{
	struct sout	*o;

	while ((o = c->q) != NULL) {
		c->q = o->next;
		sout_free(o);
	}
}

static void
srv_free(struct scall *c)
{
	srv_drop_queue(c);
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
		sout_free(c->cur);
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
	if (c->closed && !c->sending && c->cancelled)
		srv_drop_queue(c);
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

int
live_group_setup(void **state)
{
	grpc_server_credentials	*creds;
	int			 i;

	log_init(program_invocation_short_name, getenv("GW_TEST_DEBUG") ? 1 : -1);
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

int
live_group_teardown(void **state)
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

struct event_base	*base;

void
res_error(struct res *r, const struct gw_error *err)
{
	r->n++;
	if (err != NULL) {
		r->failed = true;
		r->err = *err;
		r->err.message = strdup(err->message);
	}
}

void
res_clear(struct res *r)
{
	free((char *)r->err.message);
	free(r->data);
	memset(r, 0, sizeof *r);
}

void
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

void
on_done(void *arg, const struct gw_error *err)
{
	res_error(arg, err);
}

void
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

void
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

void
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
void
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
void
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

struct gw *
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

int
live_setup(void **state)
{
	base = event_base_new();
	counters_reset();
	return 0;
}

int
live_teardown(void **state)
{
	event_base_free(base);
	return 0;
}
