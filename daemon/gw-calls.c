/*
 * The typed unary calls of gw.h: each packs its request, picks its retry
 * policy, and reads its reply (or a `success = false`) into our structs.
 */
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x
#define DESC(x)	(&coreweave__sandbox__v1beta2__ ## x ## __descriptor)

/* Calls that change nothing twice are retried; Start and Exec never. */
static const struct gw_call_opts o_start = { GW_SERVICE "Start", "Start",
	false, 0 };
static const struct gw_call_opts o_get = { GW_SERVICE "Get", "Get", true, 0 };
static const struct gw_call_opts o_stop = { GW_SERVICE "Stop", "Stop", true,
	0 };
static const struct gw_call_opts o_list = { GW_SERVICE "List", "List", true,
	0 };
static const struct gw_call_opts o_exec = { GW_SERVICE "Exec", "Exec",
	false, 0 };
static const struct gw_call_opts o_add = { GW_SERVICE "AddFile", "AddFile",
	true, 0 };
static const struct gw_call_opts o_retrieve = { GW_SERVICE "RetrieveFile",
	"RetrieveFile", true, 0 };

/* One typed call in flight: the caller's callback and what messages need. */
struct gw_op {
	struct gw	*gw;
	union {
		gw_sandbox_cb	*sandbox;
		gw_list_cb	*list;
		gw_done_cb	*done;
		gw_bytes_cb	*bytes;
		gw_exec_cb	*exec;
	} cb;
	void		*arg;
	char		*id;
	char		*path;

	/* List: the request to repeat per page, and what came so far. */
	char		**tags;
	int		 ntags;
	bool		 include_stopped;
	char		*page_token;
	int		 pages;
	struct gw_sandbox *sb;
	size_t		 nsb, capsb;

	/* Start: the request again, and its tag, for an unknown outcome. */
	grpc_byte_buffer *req;
	char		*reqtag;	/* the spec's request tag */
	char		*insttag;	/* and its instance tag */
	int		 attempts;
	struct gw_error	 lost;		/* why the outcome is unknown */
};

static struct gw_op *
op_new(struct gw *gw, void *arg, const char *id, const char *path)
{
	struct gw_op	*op = xcalloc(1, sizeof *op);

	op->gw = gw;
	op->arg = arg;
	op->id = xstrdup(id != NULL ? id : "");
	op->path = xstrdup(path != NULL ? path : "");
	return op;
}

static void
op_free(struct gw_op *op)
{
	size_t	 i;
	int	 j;

	for (i = 0; i < op->nsb; i++)
		free((char *)op->sb[i].id);
	free(op->sb);
	for (j = 0; j < op->ntags; j++)
		free(op->tags[j]);
	free(op->tags);
	free(op->page_token);
	if (op->req != NULL)
		grpc_byte_buffer_destroy(op->req);
	free(op->reqtag);
	free(op->insttag);
	gw_error_clear(&op->lost);
	free(op->id);
	free(op->path);
	free(op);
}

static void
malformed(struct gw_error *e, const char *name)
{
	gw_error_make(e, GRPC_STATUS_INTERNAL, RPC_ERR_GATEWAY_ERROR,
	    "malformed reply from the gateway to %s", name);
}

/* A `success = false` reply, with the gateway's own words. */
static void
refused(struct gw_error *e, const char *what, const char *msg)
{
	char	*m = gw_one_line(msg, msg != NULL ? strlen(msg) : 0);

	gw_error_make(e, GRPC_STATUS_OK, RPC_ERR_GATEWAY_ERROR, "%s: %s", what,
	    *m ? m : "the gateway gave no reason");
	free(m);
}

/*
 * Tells the caller how a reply of the {success, error_message} kind went
 * (Stop, AddFile): fine, refused (with the gateway's reason, after
 * `what`), or not a reply at all.
 */
static void
success_reply(struct gw_op *op, grpc_byte_buffer *reply,
    const ProtobufCMessageDescriptor *desc, const char *call,
    const char *what)
{
	const ProtobufCFieldDescriptor	*fs, *fm;
	ProtobufCMessage		*r;
	struct gw_error			 e = { 0 };
	const char			*base;

	fs = protobuf_c_message_descriptor_get_field_by_name(desc, "success");
	fm = protobuf_c_message_descriptor_get_field_by_name(desc,
	    "error_message");
	if ((r = pbuf_unpack(reply, desc)) == NULL) {
		malformed(&e, call);
		op->cb.done(op->arg, &e);
		gw_error_clear(&e);
		return;
	}
	base = (const char *)r;
	if (*(const protobuf_c_boolean *)(base + fs->offset))
		op->cb.done(op->arg, NULL);
	else {
		refused(&e, what, *(char *const *)(base + fm->offset));
		op->cb.done(op->arg, &e);
		gw_error_clear(&e);
	}
	protobuf_c_message_free_unpacked(r, NULL);
}

static bool
bad_id(const char *id)
{
	return id == NULL || *id == '\0';
}

/* --- Start, Get ------------------------------------------------------ */

#define START_ATTEMPTS	3

static void	start_done(void *, const struct gw_error *, grpc_byte_buffer *);

/*
 * After a Start whose outcome is unknown: did it create the sandbox?
 * Found by its request tag → adopt it; not found → Start again.
 */
static void
start_listed(void *arg, const struct gw_error *err,
    const struct gw_sandbox *sb, size_t n)
{
	struct gw_op	*op = arg;
	size_t		 i, pick = 0;

	/* Several would be a gateway that ignored a tag: take a live one. */
	for (i = 0; i < n; i++) {
		if (!gw_status_terminal(sb[i].status)) {
			pick = i;
			break;
		}
	}
	if (err != NULL) {
		op->cb.sandbox(op->arg, &op->lost, NULL);
		op_free(op);
	} else if (n > 0) {
		log_info("Start %s: reply lost, adopting %s found by its tag%s",
		    op->reqtag, sb[pick].id, n > 1 ? " (more than one!)" : "");
		op->cb.sandbox(op->arg, NULL, &sb[pick]);
		op_free(op);
	} else {
		log_debug("Start %s: not created; sending it again",
		    op->reqtag);
		gw_call_start(op->gw, &o_start, grpc_byte_buffer_copy(op->req),
		    start_done, op);
	}
}

/* UNAVAILABLE or a deadline after sending: the gateway may have done it. */
static bool
start_outcome_unknown(const struct gw_op *op, const struct gw_error *err)
{
	return op->reqtag != NULL && op->insttag != NULL &&
	    op->attempts < START_ATTEMPTS && !gw_down(op->gw) &&
	    (err->grpc_code == GRPC_STATUS_UNAVAILABLE ||
	    err->grpc_code == GRPC_STATUS_DEADLINE_EXCEEDED);
}

static void
start_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op		*op = arg;
	PB(StartSandboxResponse)	*r = NULL;
	struct gw_sandbox	 sb;
	struct gw_error		 e = { 0 };
	const char		*tags[2];

	op->attempts++;
	if (err != NULL && start_outcome_unknown(op, err)) {
		gw_error_clear(&op->lost);
		gw_error_make(&op->lost, err->grpc_code, err->rpc, "%s",
		    err->message);
		tags[0] = op->insttag;
		tags[1] = op->reqtag;
		gw_list(op->gw, tags, 2, true, start_listed, op);
		return;
	}
	if (err != NULL)
		op->cb.sandbox(op->arg, err, NULL);
	else if ((r = (void *)pbuf_unpack(reply,
	    DESC(start_sandbox_response))) == NULL || *r->sandbox_id == '\0') {
		malformed(&e, "Start");
		op->cb.sandbox(op->arg, &e, NULL);
	} else {
		gw_read_start(r, &sb);
		op->cb.sandbox(op->arg, NULL, &sb);
	}
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	gw_error_clear(&e);
	op_free(op);
}

void
gw_start(struct gw *gw, const struct gw_spec *spec, gw_sandbox_cb *cb,
    void *arg)
{
	struct gw_op		*op = op_new(gw, arg, NULL, NULL);
	struct gw_arena		 a = { 0 };
	PB(StartSandboxRequest)	*r;
	const char		*err = NULL;

	op->cb.sandbox = cb;
	if (spec->request_tag != NULL && spec->instance_tag != NULL) {
		op->reqtag = xstrdup(spec->request_tag);
		op->insttag = xstrdup(spec->instance_tag);
	}
	if ((r = gw_build_start(&a, spec, &err)) == NULL)
		gw_call_fail(gw, &o_start, RPC_ERR_INVALID_PARAMS, err,
		    start_done, op);
	else {
		op->req = pbuf_pack(&r->base);
		gw_call_start(gw, &o_start, grpc_byte_buffer_copy(op->req),
		    start_done, op);
	}
	gw_arena_free(&a);
}

static void
get_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op		*op = arg;
	PB(GetSandboxResponse)	*r = NULL;
	struct gw_sandbox	 sb;
	struct gw_error		 e = { 0 };

	if (err != NULL)
		op->cb.sandbox(op->arg, err, NULL);
	else if ((r = (void *)pbuf_unpack(reply,
	    DESC(get_sandbox_response))) == NULL) {
		malformed(&e, "Get");
		op->cb.sandbox(op->arg, &e, NULL);
	} else {
		gw_read_get(r, &sb);
		if (*sb.id == '\0')
			sb.id = op->id;
		op->cb.sandbox(op->arg, NULL, &sb);
	}
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	gw_error_clear(&e);
	op_free(op);
}

void
gw_get(struct gw *gw, const char *id, gw_sandbox_cb *cb, void *arg)
{
	struct gw_op		*op = op_new(gw, arg, id, NULL);
	PB(GetSandboxRequest)	 r = COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_REQUEST__INIT;

	op->cb.sandbox = cb;
	if (bad_id(id)) {
		gw_call_fail(gw, &o_get, RPC_ERR_INVALID_PARAMS,
		    "sandbox id is empty", get_done, op);
		return;
	}
	r.sandbox_id = op->id;
	gw_call_start(gw, &o_get, pbuf_pack(&r.base), get_done, op);
}

/* --- Stop -------------------------------------------------------------- */

static void
stop_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op	*op = arg;
	char		*what;

	if (err != NULL && err->grpc_code == GRPC_STATUS_NOT_FOUND)
		op->cb.done(op->arg, NULL);	/* already gone */
	else if (err != NULL)
		op->cb.done(op->arg, err);
	else {
		what = xasprintf("gateway could not stop sandbox %s", op->id);
		success_reply(op, reply, DESC(stop_sandbox_response), "Stop",
		    what);
		free(what);
	}
	op_free(op);
}

void
gw_stop(struct gw *gw, const char *id, int32_t graceful_s, gw_done_cb *cb,
    void *arg)
{
	struct gw_op		*op = op_new(gw, arg, id, NULL);
	PB(StopSandboxRequest)	 r = COREWEAVE__SANDBOX__V1BETA2__STOP_SANDBOX_REQUEST__INIT;

	op->cb.done = cb;
	if (bad_id(id)) {
		gw_call_fail(gw, &o_stop, RPC_ERR_INVALID_PARAMS,
		    "sandbox id is empty", stop_done, op);
		return;
	}
	r.sandbox_id = op->id;
	r.graceful_shutdown_seconds = graceful_s > 0 ? graceful_s : 0;
	gw_call_start(gw, &o_stop, pbuf_pack(&r.base), stop_done, op);
}

/* --- List ------------------------------------------------------------ */

static void	list_page(struct gw_op *);

/* Keeps copies of a page's sandboxes: the reply is freed per page. */
static void
list_keep(struct gw_op *op, const PB(ListSandboxesResponse) *r)
{
	size_t	 i;

	for (i = 0; i < r->n_sandboxes; i++) {
		if (op->nsb == op->capsb) {
			op->capsb = op->capsb ? op->capsb * 2 : 64;
			op->sb = xreallocarray(op->sb, op->capsb,
			    sizeof *op->sb);
		}
		gw_read_info(r->sandboxes[i], &op->sb[op->nsb]);
		op->sb[op->nsb].id = xstrdup(op->sb[op->nsb].id);
		op->nsb++;
	}
}

static void
list_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op			*op = arg;
	PB(ListSandboxesResponse)	*r = NULL;
	struct gw_error			 e = { 0 };

	if (err != NULL)
		op->cb.list(op->arg, err, NULL, 0);
	else if ((r = (void *)pbuf_unpack(reply,
	    DESC(list_sandboxes_response))) == NULL) {
		malformed(&e, "List");
		op->cb.list(op->arg, &e, NULL, 0);
	} else {
		list_keep(op, r);
		if (*r->next_page_token != '\0') {
			if (op->page_token != NULL &&
			    strcmp(op->page_token, r->next_page_token) == 0) {
				malformed(&e, "List (repeated page token)");
				op->cb.list(op->arg, &e, NULL, 0);
				goto out;
			}
			if (++op->pages < GW_LIST_MAX_PAGES) {
				free(op->page_token);
				op->page_token = xstrdup(r->next_page_token);
				protobuf_c_message_free_unpacked(&r->base,
				    NULL);
				list_page(op);
				return;
			}
		}
		op->cb.list(op->arg, NULL, op->sb, op->nsb);
	}
out:
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	gw_error_clear(&e);
	op_free(op);
}

static void
list_page(struct gw_op *op)
{
	PB(ListSandboxesRequest) r =
	    COREWEAVE__SANDBOX__V1BETA2__LIST_SANDBOXES_REQUEST__INIT;

	r.tags = op->tags;
	r.n_tags = (size_t)op->ntags;
	r.include_stopped = op->include_stopped;
	r.page_size = GW_LIST_PAGE_SIZE;
	if (op->page_token != NULL)
		r.page_token = op->page_token;
	gw_call_start(op->gw, &o_list, pbuf_pack(&r.base), list_done, op);
}

void
gw_list(struct gw *gw, const char *const *tags, int ntags,
    bool include_stopped, gw_list_cb *cb, void *arg)
{
	struct gw_op	*op = op_new(gw, arg, NULL, NULL);
	int		 i;

	op->cb.list = cb;
	op->include_stopped = include_stopped;
	if (ntags < 0) {
		gw_call_fail(gw, &o_list, RPC_ERR_INVALID_PARAMS,
		    "negative tag count", list_done, op);
		return;
	}
	op->tags = xcalloc((size_t)ntags + 1, sizeof *op->tags);
	for (i = 0; i < ntags; i++)
		op->tags[i] = xstrdup(tags[i] != NULL ? tags[i] : "");
	op->ntags = ntags;
	list_page(op);
}

/* --- Exec ------------------------------------------------------------ */

static void
exec_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op		*op = arg;
	PB(ExecSandboxResponse)	*r = NULL;
	PB(ExecResponse)	*x;
	struct gw_exec_result	 res;
	struct gw_error		 e = { 0 };

	if (err != NULL)
		op->cb.exec(op->arg, err, NULL);
	else if ((r = (void *)pbuf_unpack(reply,
	    DESC(exec_sandbox_response))) == NULL || r->result == NULL) {
		malformed(&e, "Exec");
		op->cb.exec(op->arg, &e, NULL);
	} else {
		x = r->result;
		res = (struct gw_exec_result){
			.out = x->stdout.data, .outlen = x->stdout.len,
			.err = x->stderr.data, .errlen = x->stderr.len,
			.exit_code = x->exit_code,
			.out_truncated = x->stdout_truncated,
			.err_truncated = x->stderr_truncated,
			.out_produced = x->stdout_bytes_produced,
			.err_produced = x->stderr_bytes_produced,
		};
		op->cb.exec(op->arg, NULL, &res);
	}
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	gw_error_clear(&e);
	op_free(op);
}

void
gw_exec(struct gw *gw, const struct gw_exec_request *q, gw_exec_cb *cb,
    void *arg)
{
	struct gw_op		*op = op_new(gw, arg, q->sandbox_id, NULL);
	struct gw_call_opts	 o = o_exec;
	PB(ExecSandboxRequest)	 r = COREWEAVE__SANDBOX__V1BETA2__EXEC_SANDBOX_REQUEST__INIT;
	int			 i;

	op->cb.exec = cb;
	if (bad_id(q->sandbox_id) || q->argc < 1 || q->argv == NULL ||
	    q->argv[0] == NULL || *q->argv[0] == '\0' || q->timeout_s < 0) {
		gw_call_fail(gw, &o_exec, RPC_ERR_INVALID_PARAMS,
		    bad_id(q->sandbox_id) ? "sandbox id is empty" :
		    q->timeout_s < 0 ? "negative exec timeout" :
		    "command is empty", exec_done, op);
		return;
	}
	/* The command's own timeout rules; the deadline only backs it up. */
	o.timeout_ms = (q->timeout_s > 0 ? (int64_t)q->timeout_s * 1000 :
	    GW_EXEC_DEFAULT_MS) + GW_EXEC_MARGIN_MS;
	r.sandbox_id = op->id;
	r.command = xcalloc((size_t)q->argc, sizeof *r.command);
	for (i = 0; i < q->argc; i++)
		r.command[i] = (char *)(q->argv[i] != NULL ? q->argv[i] : "");
	r.n_command = (size_t)q->argc;
	r.max_timeout_seconds = q->timeout_s;
	r.output_handling =
	    COREWEAVE__SANDBOX__V1BETA2__OUTPUT_POLICY__OUTPUT_POLICY_BUFFERED;
	r.buffered_max_kib = q->max_output_kib;
	gw_call_start(gw, &o, pbuf_pack(&r.base), exec_done, op);
	free(r.command);
}

/* --- AddFile, RetrieveFile ------------------------------------------- */

static void
add_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op	*op = arg;
	char		*what;

	if (err != NULL)
		op->cb.done(op->arg, err);
	else {
		what = xasprintf("gateway refused to write %s", op->path);
		success_reply(op, reply, DESC(add_file_sandbox_response),
		    "AddFile", what);
		free(what);
	}
	op_free(op);
}

void
gw_add_file(struct gw *gw, const char *id, const char *path,
    const unsigned char *data, size_t len, gw_done_cb *cb, void *arg)
{
	struct gw_op		*op = op_new(gw, arg, id, path);
	PB(AddFileSandboxRequest) r =
	    COREWEAVE__SANDBOX__V1BETA2__ADD_FILE_SANDBOX_REQUEST__INIT;

	op->cb.done = cb;
	if (bad_id(id) || path == NULL || *path == '\0' ||
	    (len > 0 && data == NULL)) {
		gw_call_fail(gw, &o_add, RPC_ERR_INVALID_PARAMS,
		    bad_id(id) ? "sandbox id is empty" : "file path is empty",
		    add_done, op);
		return;
	}
	if (len > GW_MAX_MESSAGE - 4096) {
		gw_call_fail(gw, &o_add, RPC_ERR_TOO_LARGE,
		    "file is larger than a gateway message (64 MiB)",
		    add_done, op);
		return;
	}
	r.sandbox_id = op->id;
	r.filepath = op->path;
	r.file_contents.data = (uint8_t *)data;
	r.file_contents.len = len;
	gw_call_start(gw, &o_add, pbuf_pack(&r.base), add_done, op);
}

static void
retrieve_done(void *arg, const struct gw_error *err, grpc_byte_buffer *reply)
{
	struct gw_op			*op = arg;
	PB(RetrieveFileSandboxResponse)	*r = NULL;
	struct gw_error			 e = { 0 };
	char				*what;

	if (err != NULL)
		op->cb.bytes(op->arg, err, NULL, 0);
	else if ((r = (void *)pbuf_unpack(reply,
	    DESC(retrieve_file_sandbox_response))) == NULL) {
		malformed(&e, "RetrieveFile");
		op->cb.bytes(op->arg, &e, NULL, 0);
	} else if (!r->success) {
		what = xasprintf("gateway could not read %s", op->path);
		refused(&e, what, r->error_message);
		free(what);
		op->cb.bytes(op->arg, &e, NULL, 0);
	} else
		op->cb.bytes(op->arg, NULL, r->file_contents.data != NULL ?
		    r->file_contents.data : (const unsigned char *)"",
		    r->file_contents.len);
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	gw_error_clear(&e);
	op_free(op);
}

void
gw_retrieve_file(struct gw *gw, const char *id, const char *path,
    gw_bytes_cb *cb, void *arg)
{
	struct gw_op			*op = op_new(gw, arg, id, path);
	PB(RetrieveFileSandboxRequest)	 r =
	    COREWEAVE__SANDBOX__V1BETA2__RETRIEVE_FILE_SANDBOX_REQUEST__INIT;

	op->cb.bytes = cb;
	if (bad_id(id) || path == NULL || *path == '\0') {
		gw_call_fail(gw, &o_retrieve, RPC_ERR_INVALID_PARAMS,
		    bad_id(id) ? "sandbox id is empty" : "file path is empty",
		    retrieve_done, op);
		return;
	}
	r.sandbox_id = op->id;
	r.filepath = op->path;
	gw_call_start(gw, &o_retrieve, pbuf_pack(&r.base), retrieve_done, op);
}
