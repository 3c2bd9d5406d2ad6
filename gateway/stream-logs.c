/*
 * StreamLogs: the main command's output from the sandbox's log.  The start
 * is resume_offset (with the log's session id), else the later of
 * since_time and the last tail_lines lines, else the beginning.  Every data
 * frame carries the session id and its byte offset in the log, and the
 * chunk's arrival time when timestamps is set.  Without follow the stream
 * ends with complete once the reader has caught up; with follow it waits
 * for more until the sandbox ends or the client closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "pbuf.h"
#include "xmalloc.h"

#define FRAME_MAX	(64 * 1024)
#define QUEUE_HIGH	32

struct sl {
	struct call		*c;
	struct sandbox		*sb;
	uint64_t		 off;
	bool			 started, follow, timestamps;
	struct logbuf_reader	 r;
	char			*buf;
};

static void
sl_free(struct sl *sl)
{
	if (sl->sb != NULL) {
		logbuf_unsubscribe(sl->sb->log, &sl->r);
		sandbox_unref(sl->sb);
	}
	stats_stream("StreamLogs", -1);
	free(sl->buf);
	free(sl);
}

static void
sl_fail(struct sl *sl, grpc_status_code st, const char *code, const char *msg)
{
	PB(LogStreamResponse)	 r = PBINIT(LOG_STREAM_RESPONSE);
	PB(LogStreamError)	 e = PBINIT(LOG_STREAM_ERROR);

	e.message = (char *)msg;
	e.code = (char *)code;
	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_ERROR;
	r.error = &e;
	call_send(sl->c, &r.base);
	call_finish(sl->c, st, msg);
	sl_free(sl);
}

/* The end: a complete frame and an OK status. */
static void
sl_complete(struct sl *sl)
{
	PB(LogStreamResponse)	 r = PBINIT(LOG_STREAM_RESPONSE);
	PB(LogStreamComplete)	 cm = PBINIT(LOG_STREAM_COMPLETE);

	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_COMPLETE;
	r.complete = &cm;
	call_send(sl->c, &r.base);
	call_finish(sl->c, GRPC_STATUS_OK, NULL);
	sl_free(sl);
}

/* Sends what the log has past our offset, as far as the queue allows. */
static void
sl_pump(struct sl *sl)
{
	PB(LogStreamResponse)	 r = PBINIT(LOG_STREAM_RESPONSE);
	PB(LogStreamData)	 d = PBINIT(LOG_STREAM_DATA);
	pb_ts			 ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	struct logbuf		*lb = sl->sb->log;
	int64_t			 t;
	size_t			 n;
	char			 why[128];

	r.response_case =
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_RESPONSE__RESPONSE_DATA;
	r.data = &d;
	d.session_id = (char *)logbuf_session(lb);
	while (call_queued(sl->c) < QUEUE_HIGH && !call_done(sl->c)) {
		if ((n = logbuf_read(lb, sl->off, sl->buf, FRAME_MAX, &t)) == 0)
			break;
		d.data.data = (uint8_t *)sl->buf;
		d.data.len = n;
		d.offset = sl->off;
		ts_set(&ts, t);
		d.timestamp = sl->timestamps ? &ts : NULL;
		sl->off += n;
		call_send(sl->c, &r.base);
	}
	if (call_done(sl->c))
		return;
	if (sl->off < logbuf_size(lb)) {
		if (call_queued(sl->c) > 0)
			return;		/* the drain callback resumes */
		/* Room to send and data to read, but no read: say so. */
		snprintf(why, sizeof why, "the sandbox's log cannot be read: %s",
		    strerror(errno));
		return sl_fail(sl, GRPC_STATUS_UNAVAILABLE, "unavailable", why);
	}
	if (!sl->follow || logbuf_closed(lb))
		sl_complete(sl);
}

/* The log grew or ended. */
static void
sl_notify(void *arg)
{
	sl_pump(arg);
}

static void
sl_drain(struct call *c, void *arg)
{
	sl_pump(arg);
}

static void
sl_cancel(struct call *c, void *arg)
{
	sl_free(arg);
}

/* Where to start reading, from the init frame. */
static int
sl_start(struct sl *sl, PB(LogStreamInit) *in)
{
	struct logbuf	*lb = sl->sb->log;
	uint64_t	 o;

	if (*in->resume_session_id != '\0' &&
	    strcmp(in->resume_session_id, logbuf_session(lb)) != 0)
		return -1;
	if (*in->resume_session_id != '\0' || in->resume_offset > 0) {
		sl->off = in->resume_offset < logbuf_size(lb) ?
		    in->resume_offset : logbuf_size(lb);
		return 0;
	}
	sl->off = 0;
	if (in->since_time != NULL)
		sl->off = logbuf_since_offset(lb,
		    in->since_time->seconds * 1000000000 +
		    in->since_time->nanos);
	if (in->tail_lines > 0 && (o = logbuf_tail_offset(lb,
	    (uint64_t)in->tail_lines)) > sl->off)
		sl->off = o;
	return 0;
}

static void
sl_init(struct sl *sl, PB(LogStreamInit) *in)
{
	struct sandbox	*sb = sandbox_find(in->sandbox_id);

	if (sb == NULL)
		return sl_fail(sl, GRPC_STATUS_NOT_FOUND, "not_found",
		    "sandbox not found");
	if (in->tail_lines < 0)
		return sl_fail(sl, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid_argument", "tail_lines must not be negative");
	sandbox_ref(sb);
	sl->sb = sb;
	if (sl_start(sl, in) == -1)
		return sl_fail(sl, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid_argument", "resume_session_id does not match "
		    "this sandbox's log session");
	sl->started = true;
	sl->follow = in->follow;
	sl->timestamps = in->timestamps;
	sl->buf = xmalloc(FRAME_MAX);
	logbuf_subscribe(sb->log, &sl->r, sl_notify, sl);
	call_on_drain(sl->c, sl_drain);
	sl_pump(sl);
}

static void
sl_recv(struct call *c, void *arg, grpc_byte_buffer *bb)
{
	struct sl		*sl = arg;
	PB(LogStreamRequest)	*req;

	if (bb == NULL) {		/* half-close ends the stream */
		if (!sl->started)
			sl_fail(sl, GRPC_STATUS_INVALID_ARGUMENT,
			    "invalid_argument", "stream closed before init");
		else
			sl_complete(sl);
		return;
	}
	req = (PB(LogStreamRequest) *)pbuf_unpack(bb,
	    PBDESC(log_stream_request));
	if (req == NULL)
		return sl_fail(sl, GRPC_STATUS_INVALID_ARGUMENT,
		    "invalid_argument", "frame does not decode");
	if (req->request_case ==
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__REQUEST_INIT &&
	    !sl->started)
		sl_init(sl, req->init);
	else if (req->request_case ==
	    COREWEAVE__SANDBOX__V1BETA2__LOG_STREAM_REQUEST__REQUEST_CLOSE &&
	    sl->started)
		sl_complete(sl);
	else
		sl_fail(sl, GRPC_STATUS_INVALID_ARGUMENT, "invalid_argument",
		    sl->started ? "unexpected frame" :
		    "the first frame must be init");
	protobuf_c_message_free_unpacked(&req->base, NULL);
	if (!call_done(c))
		call_recv(c, sl_recv, sl);
}

void
stream_logs(struct call *c)
{
	struct sl	*sl = xcalloc(1, sizeof *sl);

	sl->c = c;
	stats_stream("StreamLogs", 1);
	call_on_cancel(c, sl_cancel, sl);
	call_recv(c, sl_recv, sl);
}
