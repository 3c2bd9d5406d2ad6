/*
 * The gateway client's insides, shared by its gw-*.c files and exposed to
 * its unit tests: the pool, the unary call machinery, the generic bidi
 * stream, status mapping, backoff, and the v1beta2 builders and readers.
 * Nothing outside daemon/gw*.c includes this.
 */
#ifndef SBX_GW_INTERNAL_H
#define SBX_GW_INTERNAL_H

#include <sys/queue.h>

#include <grpc/grpc.h>

#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"
#include "cq-bridge.h"
#include "gw.h"

#define GW_MAX_MESSAGE		(64 << 20)	/* send and receive limit */
#define GW_RETRY_ATTEMPTS	4		/* attempts, first included */
#define GW_BACKOFF_BASE_MS	100		/* before the first retry */
#define GW_BACKOFF_CAP_MS	2000
#define GW_RETRY_BUDGET		2	/* whole call ≤ this × per attempt */
#define GW_RETRY_MIN_LEFT_MS	20	/* no retry with less time left */
#define GW_EXEC_MARGIN_MS	10000	/* Exec deadline beyond its timeout */
#define GW_EXEC_DEFAULT_MS	600000	/* Exec without a timeout */
#define GW_KEEPALIVE_TIMEOUT_MS	20000
#define GW_STDIN_CHUNK		(64 << 10)
#define GW_LIST_PAGE_SIZE	500
#define GW_LIST_MAX_PAGES	10000
#define GW_DETAILS_MAX		400	/* of a gateway message we quote */
#define GW_WATCH_MS		250	/* channel states looked at this often */
#define GW_MAX_RECONNECT_MS	10000	/* gRPC's reconnect backoff cap */

#define GW_SERVICE	"/coreweave.sandbox.v1beta2.GatewayService/"
#define GW_STREAMING	"/coreweave.sandbox.v1beta2.GatewayStreamingService/"

struct gw_call;
struct gw_stream;
TAILQ_HEAD(gw_calls, gw_call);
TAILQ_HEAD(gw_streams, gw_stream);

struct gw_channel {
	grpc_channel	*ch;
	int		 index;
	int		 inflight;	/* calls and streams on it now */
	uint64_t	 calls;		/* attempts ever started on it */
};

struct gw {
	struct event_base	*base;
	struct cq_bridge	*br;		/* NULL once gw_free drained it */
	char			*target;
	bool			 tls;
	struct gw_channel	*chans;
	int			 nchans;
	int64_t			 call_timeout_ms;
	grpc_metadata		 md[4];		/* sent on every call */
	size_t			 nmd;
	struct gw_calls		 calls;		/* unary calls not yet reported */
	struct gw_streams	 streams;	/* streams not yet ended */
	bool			 freeing;
	uint64_t		 ncalls;	/* typed calls started */
	uint64_t		 nretries;
	uint64_t		 nfailed;	/* calls reported with an error */
	uint64_t		 nstreams;	/* streams opened */
	struct metrics		*metrics;	/* may be NULL */

	/*
	 * Down: a failure is known (every channel in TRANSIENT_FAILURE, or
	 * a call lost with no channel READY) and no channel has been READY
	 * since.  Calls then fail at once instead of queueing in gRPC.
	 */
	bool			 down;
	char			*down_reason;
	int64_t			 down_since;	/* monotonic ms */
	uint64_t		 nfastfail;	/* calls refused while down */
	struct event		*watch;		/* GW_WATCH_MS timer */
	gw_up_cb		*on_up;
	void			*on_up_arg;
};

/* --- errors and policy (gw-map.c) ------------------------------------ */

/* "UNAVAILABLE", … for a grpc_status_code; "UNKNOWN(n)" never: "CODE_n". */
const char	*gw_code_name(int code);
/* The status code named (as in an ExecStreamError.code); -1 if none. */
int		 gw_code_from_name(const char *);
enum rpc_err	 gw_map_code(int code);
bool		 gw_code_retryable(int code);

/*
 * Fills `e` for a gRPC status: the mapped kind and a one-line message that
 * quotes the gateway's details.  `e->message` is heap: gw_error_clear().
 */
void	gw_error_from_status(struct gw_error *, int code, const char *details,
	    const char *target);
void	gw_error_make(struct gw_error *, int code, enum rpc_err,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
void	gw_error_clear(struct gw_error *);
/* Copies `s` onto one line of at most GW_DETAILS_MAX bytes (heap). */
char	*gw_one_line(const char *s, size_t len);

/* Jittered delay before retry number `retry` (1, 2, …): [base/2, base]. */
int64_t	 gw_backoff_ms(int retry, uint32_t rnd);
int64_t	 gw_now_ms(void);
int64_t	 gw_now_us(void);
/*
 * A call or stream ended with `code` after `us`: the metrics are told and,
 * at -vv, the log.  `method` is a full path or a short name.
 */
void	 gw_call_ended(struct gw *, const char *method, int code, int64_t us);

/* --- channels (gw-channel.c) ----------------------------------------- */

int		 gw_channels_open(struct gw *, const struct gw_options *,
		    char **err);
void		 gw_channels_close(struct gw *);
struct gw_channel *gw_channel_pick(struct gw *);
/* The choice on its own: best state class, then fewest in flight. */
int		 gw_pick_index(const grpc_connectivity_state *,
		    const int *inflight, int n);
const char	*gw_state_name(grpc_connectivity_state);
/* Starts the timer that follows the channels' states (down, back up). */
void		 gw_watch_start(struct gw *);
/* A call failed with `code`: with no channel READY the gateway is down. */
void		 gw_note_failure(struct gw *, int code, const char *message);
/* Fills `e` with the fail-fast error of a gateway that is down. */
void		 gw_error_down(struct gw *, struct gw_error *e,
		    const char *call);

/* --- unary calls (gw-call.c) ----------------------------------------- */

/* The reply bytes (valid during the call) or an error. */
typedef void gw_call_done(void *arg, const struct gw_error *,
		    grpc_byte_buffer *reply);

struct gw_call_opts {
	const char	*method;	/* full path, static */
	const char	*name;		/* "Get", for messages */
	bool		 idempotent;
	int64_t		 timeout_ms;	/* per attempt; 0: call_timeout_ms */
};

/* Starts a call; `req` is stolen.  `done` runs once, on the loop. */
void	gw_call_start(struct gw *, const struct gw_call_opts *,
	    grpc_byte_buffer *req, gw_call_done *, void *);
/* Reports `err` from the loop's next pass instead of calling out. */
void	gw_call_fail(struct gw *, const struct gw_call_opts *,
	    enum rpc_err, const char *msg, gw_call_done *, void *);
/* gw_free's part: cancel, or report cancelled, every call. */
void	gw_calls_abort(struct gw *);

/* --- the generic bidi stream (gw-stream.c) -------------------------- */

struct gw_stream_ops {
	/* One response message (valid during the call). */
	void	(*message)(void *arg, grpc_byte_buffer *);
	/* Once, last, when the status is in and every batch has finished. */
	void	(*end)(void *arg, int code, const char *details);
};

/* Opens `method` and sends `first` (stolen); timeout 0: none. */
struct gw_stream *gw_stream_open(struct gw *, const char *method,
		    int64_t timeout_ms, grpc_byte_buffer *first,
		    const struct gw_stream_ops *, void *arg);
/* A stream that ends with `code` on the loop's next pass, never sent. */
struct gw_stream *gw_stream_dead(struct gw *, int code, const char *details,
		    const struct gw_stream_ops *, void *arg);
/* Queues a message (stolen); `weight` counts in gw_stream_pending. */
void	gw_stream_send(struct gw_stream *, grpc_byte_buffer *, size_t weight);
/* Half-closes after what is queued. */
void	gw_stream_close_send(struct gw_stream *);
size_t	gw_stream_pending(struct gw_stream *);
void	gw_stream_pause(struct gw_stream *, bool);
void	gw_stream_cancel(struct gw_stream *);
bool	gw_stream_cancelled(struct gw_stream *);
/* gw_free's part: cancel every stream; end those with nothing left. */
void	gw_streams_abort(struct gw *);

/* --- v1beta2 requests and replies (gw-api.c) ------------------------- */

/* Allocations of one request tree, freed together once it is packed. */
struct gw_arena {
	void	**v;
	size_t	  n, cap;
};

void	*gw_arena_alloc(struct gw_arena *, size_t);	/* zeroed */
void	 gw_arena_free(struct gw_arena *);

/*
 * Builds StartSandboxRequest over the spec's own strings (valid while the
 * spec is); NULL and *err (static) when the spec is not valid.
 */
Coreweave__Sandbox__V1beta2__StartSandboxRequest *
	gw_build_start(struct gw_arena *, const struct gw_spec *,
	    const char **err);
Coreweave__Sandbox__V1beta2__ExecStreamRequest *
	gw_build_exec_init(struct gw_arena *,
	    const struct gw_exec_stream_request *, const char **err);

void	gw_read_start(const Coreweave__Sandbox__V1beta2__StartSandboxResponse *,
	    struct gw_sandbox *);
void	gw_read_get(const Coreweave__Sandbox__V1beta2__GetSandboxResponse *,
	    struct gw_sandbox *);
void	gw_read_info(const Coreweave__Sandbox__V1beta2__SandboxInfo *,
	    struct gw_sandbox *);
int64_t	gw_timestamp_ms(const Google__Protobuf__Timestamp *);

#endif
