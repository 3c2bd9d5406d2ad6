/*
 * GatewayService lifecycle methods: Start, Stop, Get, List, Delete, Pause,
 * Resume.  All answer from the sandbox table at once, except Stop, which
 * waits for the sandbox to end unless wait_for_ready is false.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define LIST_DEFAULT	1000
#define RUNNER		"local"

/* Looks a sandbox up or answers NOT_FOUND / INVALID_ARGUMENT. */
static struct sandbox *
find_or_err(struct call *c, const char *id)
{
	struct sandbox	*sb;

	if (*id == '\0') {
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "sandbox_id is required");
		return NULL;
	}
	if ((sb = sandbox_find(id)) == NULL)
		call_finishf(c, GRPC_STATUS_NOT_FOUND, "sandbox %s not found",
		    id);
	return sb;
}

void
svc_start(struct call *c, grpc_byte_buffer *bb)
{
	PB(StartSandboxRequest)	*req;
	PB(StartSandboxResponse) resp = PBINIT(START_SANDBOX_RESPONSE);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct sandbox		*sb;
	grpc_status_code	 code;
	char			*err;

	if ((req = call_unpack(c, bb, PBDESC(start_sandbox_request))) == NULL)
		return;
	if ((code = sandbox_create(req, c, &sb, &err)) != GRPC_STATUS_OK) {
		call_finish(c, code, err);
		free(err);
	} else {
		log_debug("sandbox %s created (%s)", sb->id, sb->argv[0]);
		resp.sandbox_id = sb->id;
		ts_set(&ts, sb->created_ns);
		resp.started_at_time = &ts;
		resp.sandbox_status = sb->status;
		resp.runner_id = RUNNER;
		resp.applied_ingress_mode = sb->ingress;
		resp.applied_egress_mode = sb->egress;
		call_reply(c, &resp.base);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

struct stop_wait {
	struct sandbox_waiter	 w;
	struct sandbox		*sb;
	struct call		*c;
};

/* Answers Stop once the sandbox is over. */
static void
stop_done(struct sandbox *sb, void *arg)
{
	struct stop_wait	*sw = arg;
	PB(StopSandboxResponse)	 resp = PBINIT(STOP_SANDBOX_RESPONSE);

	resp.success = 1;
	call_reply(sw->c, &resp.base);
	sandbox_unref(sw->sb);
	free(sw);
}

/* The client gave up waiting for Stop. */
static void
stop_cancel(struct call *c, void *arg)
{
	struct stop_wait	*sw = arg;

	sandbox_unwait(sw->sb, &sw->w);
	sandbox_unref(sw->sb);
	free(sw);
}

void
svc_stop(struct call *c, grpc_byte_buffer *bb)
{
	PB(StopSandboxRequest)	*req;
	PB(StopSandboxResponse)	 resp = PBINIT(STOP_SANDBOX_RESPONSE);
	struct stop_wait	*sw;
	struct sandbox		*sb;
	int64_t			 grace;
	bool			 wait;

	if ((req = call_unpack(c, bb, PBDESC(stop_sandbox_request))) == NULL)
		return;
	if ((sb = find_or_err(c, req->sandbox_id)) != NULL) {
		grace = req->graceful_shutdown_seconds > 0 ?
		    (int64_t)req->graceful_shutdown_seconds * 1000 :
		    gw.stop_grace_ms;
		wait = req->_wait_for_ready_case == 0 || req->wait_for_ready;
		sandbox_stop(sb, grace, "stopped by request", ST(COMPLETED));
		if (sandbox_terminal(sb) || !wait) {
			resp.success = 1;
			call_reply(c, &resp.base);
		} else {
			sw = xcalloc(1, sizeof *sw);
			sw->sb = sb;
			sw->c = c;
			sw->w.cb = stop_done;
			sw->w.arg = sw;
			sandbox_ref(sb);
			sandbox_wait(sb, &sw->w);
			call_on_cancel(c, stop_cancel, sw);
		}
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

void
svc_get(struct call *c, grpc_byte_buffer *bb)
{
	PB(GetSandboxRequest)	*req;
	PB(GetSandboxResponse)	 resp = PBINIT(GET_SANDBOX_RESPONSE);
	PB(ResourceUsage)	 use = PBINIT(RESOURCE_USAGE);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct sandbox		*sb;

	if ((req = call_unpack(c, bb, PBDESC(get_sandbox_request))) == NULL)
		return;
	if ((sb = find_or_err(c, req->sandbox_id)) != NULL) {
		resp.sandbox_id = sb->id;
		ts_set(&ts, sb->started_ns ? sb->started_ns : sb->created_ns);
		resp.started_at_time = &ts;
		resp.sandbox_status = sb->status;
		resp.current_resource_usage = &use;
		resp.runner_id = resp.runner_group_id = RUNNER;
		resp.applied_ingress_mode = sb->ingress;
		resp.applied_egress_mode = sb->egress;
		resp.status_reason = sb->reason ? sb->reason : "";
		if (sb->has_exit && sandbox_terminal(sb)) {
			resp._exit_code_case = COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE___EXIT_CODE_EXIT_CODE;
			resp.exit_code = sb->exit_code;
		}
		call_reply(c, &resp.base);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* True when the sandbox passes List's filters. */
static bool
list_match(struct sandbox *sb, PB(ListSandboxesRequest) *req)
{
	size_t	 i, j;

	if (req->status != 0) {
		if (sb->status != (int)req->status)
			return false;
	} else if (sandbox_terminal(sb) && !req->include_stopped)
		return false;
	for (i = 0; i < req->n_tags; i++) {
		for (j = 0; j < sb->ntags; j++)
			if (strcmp(req->tags[i], sb->tags[j]) == 0)
				break;
		if (j == sb->ntags)
			return false;
	}
	for (i = 0; i < req->n_runner_ids; i++)
		if (strcmp(req->runner_ids[i], RUNNER) == 0)
			break;
	return req->n_runner_ids == 0 || i < req->n_runner_ids;
}

/* One SandboxInfo, pointing into the sandbox (valid until we return). */
static PB(SandboxInfo) *
list_info(struct sandbox *sb, pb_ts *ts, PB(ResourceUsage) *use)
{
	PB(SandboxInfo)	*in = xmalloc(sizeof *in);

	coreweave__sandbox__v1beta2__sandbox_info__init(in);
	coreweave__sandbox__v1beta2__resource_usage__init(use);
	google__protobuf__timestamp__init(ts);
	in->sandbox_id = sb->id;
	ts_set(ts, sb->started_ns ? sb->started_ns : sb->created_ns);
	in->started_at_time = ts;
	in->sandbox_status = sb->status;
	in->current_resource_usage = use;
	in->runner_id = in->runner_group_id = RUNNER;
	in->applied_ingress_mode = sb->ingress;
	in->applied_egress_mode = sb->egress;
	return in;
}

/* Parses a page token: the sequence number of the last sandbox sent. */
static int
page_after(const char *tok, uint64_t *after)
{
	char	*end;

	*after = 0;
	if (*tok == '\0')
		return 0;
	errno = 0;
	*after = strtoull(tok, &end, 10);
	return errno != 0 || *end != '\0' || *tok == '-' ? -1 : 0;
}

void
svc_list(struct call *c, grpc_byte_buffer *bb)
{
	PB(ListSandboxesRequest) *req;
	PB(ListSandboxesResponse) resp = PBINIT(LIST_SANDBOXES_RESPONSE);
	struct sandbox		*sb;
	pb_ts			*ts;
	PB(ResourceUsage)	*use;
	uint64_t		 after, last = 0;
	size_t			 n = 0, max, i;
	char			 next[32] = "";

	if ((req = call_unpack(c, bb, PBDESC(list_sandboxes_request))) == NULL)
		return;
	if (req->page_size < 0 || page_after(req->page_token, &after) == -1) {
		call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, req->page_size < 0 ?
		    "page_size must not be negative" : "invalid page_token");
		protobuf_c_message_free_unpacked(&req->base, NULL);
		return;
	}
	max = req->page_size > 0 && req->page_size < LIST_DEFAULT ?
	    (size_t)req->page_size : LIST_DEFAULT;
	resp.sandboxes = xcalloc(max, sizeof *resp.sandboxes);
	ts = xcalloc(max, sizeof *ts);
	use = xcalloc(max, sizeof *use);
	TAILQ_FOREACH(sb, &gw.sandboxes, entry) {
		if (sb->seq <= after || !list_match(sb, req))
			continue;
		if (n == max) {
			snprintf(next, sizeof next, "%llu",
			    (unsigned long long)last);
			break;
		}
		last = sb->seq;
		resp.sandboxes[n] = list_info(sb, &ts[n], &use[n]);
		n++;
	}
	resp.n_sandboxes = n;
	resp.next_page_token = next;
	call_reply(c, &resp.base);
	for (i = 0; i < n; i++)
		free(resp.sandboxes[i]);
	free(resp.sandboxes);
	free(ts);
	free(use);
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

void
svc_delete(struct call *c, grpc_byte_buffer *bb)
{
	PB(DeleteSandboxRequest) *req;
	PB(DeleteSandboxResponse) resp = PBINIT(DELETE_SANDBOX_RESPONSE);
	struct sandbox		*sb;

	if ((req = call_unpack(c, bb, PBDESC(delete_sandbox_request))) == NULL)
		return;
	if ((sb = find_or_err(c, req->sandbox_id)) != NULL) {
		log_debug("sandbox %s deleted", sb->id);
		sandbox_delete(sb);
		resp.success = 1;
		call_reply(c, &resp.base);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

/* Pause and Resume share everything but the direction. */
static void
pause_resume(struct call *c, grpc_byte_buffer *bb, bool pause)
{
	PB(PauseSandboxRequest)	*req;	/* same layout as Resume's */
	PB(PauseSandboxResponse) presp = PBINIT(PAUSE_SANDBOX_RESPONSE);
	PB(ResumeSandboxResponse) rresp = PBINIT(RESUME_SANDBOX_RESPONSE);
	struct sandbox		*sb;
	char			*err;

	req = call_unpack(c, bb, pause ? PBDESC(pause_sandbox_request) :
	    PBDESC(resume_sandbox_request));
	if (req == NULL)
		return;
	if ((sb = find_or_err(c, req->sandbox_id)) == NULL)
		;
	else if (sandbox_pause(sb, pause, &err) == -1) {
		call_finish(c, GRPC_STATUS_FAILED_PRECONDITION, err);
		free(err);
	} else if (pause) {
		presp.success = 1;
		call_reply(c, &presp.base);
	} else {
		rresp.success = 1;
		call_reply(c, &rresp.base);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

void
svc_pause(struct call *c, grpc_byte_buffer *bb)
{
	pause_resume(c, bb, true);
}

void
svc_resume(struct call *c, grpc_byte_buffer *bb)
{
	pause_resume(c, bb, false);
}
