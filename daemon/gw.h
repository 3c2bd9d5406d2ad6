/*
 * The gateway client: N pooled gRPC channels, calls with deadlines and
 * retries, and the v1beta2 API behind typed calls.  Everything here runs on
 * the daemon's libevent loop; completions arrive through cq-bridge.  No
 * other module includes gRPC or protobuf-c headers for the gateway API: the
 * API version stays behind this interface (v1 will slot in beside it).
 *
 * Every call takes a callback that runs exactly once on the loop thread:
 * on success with `err == NULL`, on failure with an error describing it —
 * also when gw_free() cancels calls still in flight.  Pointers passed to a
 * callback are valid only during the callback.  Requests are copied at call
 * time, so the caller's buffers may be freed right after the call returns.
 */
#ifndef SBX_GW_H
#define SBX_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "jsonrpc.h"

struct gw;
struct metrics;

struct gw_options {
	const char	*target;	/* "host:port" or "unix:/path" */
	bool		 tls;
	const char	*ca_file;	/* PEM roots; NULL: system roots */
	int		 channels;	/* ≥ 1 */
	int64_t		 call_timeout_ms;	/* per attempt, default deadline */
	int64_t		 keepalive_ms;
	const char	*api_key;	/* W&B key → x-wandb-api-key */
	const char	*bearer;	/* CoreWeave key → authorization: Bearer */
	const char	*entity;	/* → x-entity-id */
	const char	*project;	/* → x-project-name, when set */
	struct metrics	*metrics;	/* told of each call's end; may be NULL */
};

/* A failed call, mapped once here so callers never see gRPC codes. */
struct gw_error {
	int		 grpc_code;	/* grpc_status_code */
	enum rpc_err	 rpc;		/* the control-protocol error kind */
	const char	*message;	/* one line a person can act on */
};

/* Our mirror of SandboxStatus (same numbers as the wire enum). */
enum gw_status {
	GW_STATUS_UNSPECIFIED = 0,
	GW_STATUS_CREATING = 1,
	GW_STATUS_RUNNING = 2,
	GW_STATUS_COMPLETED = 3,
	GW_STATUS_FAILED = 4,
	GW_STATUS_TERMINATED = 5,
	GW_STATUS_PENDING = 6,
	GW_STATUS_PAUSED = 7,
	GW_STATUS_TERMINATING = 9
};

const char	*gw_status_name(enum gw_status);	/* "running", … */
bool		 gw_status_terminal(enum gw_status);

struct gw	*gw_new(struct event_base *, const struct gw_options *,
		    char **err);
/* Cancels what is in flight (callbacks run first), closes channels. */
void		 gw_free(struct gw *);
/*
 * True while the gateway is known to be unreachable: every call and stream
 * fails at once with RPC_ERR_GATEWAY_UNAVAILABLE until a channel is READY
 * again.  Going down and coming back are logged once each.
 */
bool		 gw_down(struct gw *);
/* Runs on the loop each time the gateway comes back after being down. */
typedef void	 gw_up_cb(void *arg);
void		 gw_set_on_up(struct gw *, gw_up_cb *, void *arg);
/* {"target", "tls", "channels": [{"state", "inflight", "calls"}], …}. */
json_t		*gw_status_json(struct gw *);

/* --- typed calls ---------------------------------------------------- */

struct gw_kv {
	const char	*key;
	const char	*value;
};

struct gw_file {
	const char		*path;
	const unsigned char	*data;
	size_t			 len;
};

struct gw_secret {
	const char	*store;		/* store_name */
	const char	*path;
	const char	*field;
	const char	*env_var;
};

/* What Start asks for. */
struct gw_spec {
	const char		*command;	/* NULL: idle keep-alive */
	const char *const	*args;
	int			 nargs;
	const char		*image;
	const char		*cpu;		/* "250m", "2" */
	const char		*memory;	/* "512Mi" */
	int64_t			 gpu_count;
	const char		*gpu_type;
	const struct gw_kv	*env;
	int			 nenv;
	const char *const	*tags;
	int			 ntags;
	/*
	 * Two of `tags`, named again so an unknown outcome can be looked up
	 * by exactly those (never by a caller's tag): NULL, no look-up.
	 */
	const char		*request_tag;
	const char		*instance_tag;
	const struct gw_file	*files;
	int			 nfiles;
	const struct gw_secret	*secrets;	/* grouped by store on wire */
	int			 nsecrets;
	const char		*egress;	/* egress_mode, NULL: default */
	int32_t			 max_lifetime_s;
};

/* What Start, Get and List report of a sandbox. */
struct gw_sandbox {
	const char	*id;
	enum gw_status	 status;
	const char	*status_reason;	/* "" when none */
	bool		 has_exit_code;
	int32_t		 exit_code;
	int64_t		 started_at_ms;	/* unix ms; 0 when unknown */
};

typedef void gw_sandbox_cb(void *arg, const struct gw_error *,
		    const struct gw_sandbox *);
typedef void gw_list_cb(void *arg, const struct gw_error *,
		    const struct gw_sandbox *, size_t n);
typedef void gw_done_cb(void *arg, const struct gw_error *);
typedef void gw_bytes_cb(void *arg, const struct gw_error *,
		    const unsigned char *data, size_t len);

struct gw_exec_request {
	const char		*sandbox_id;
	const char *const	*argv;
	int			 argc;
	int32_t			 timeout_s;	/* 0: the gateway's default */
	uint32_t		 max_output_kib;	/* 0: the gateway's */
};

struct gw_exec_result {
	const unsigned char	*out;
	size_t			 outlen;
	const unsigned char	*err;
	size_t			 errlen;
	int32_t			 exit_code;	/* -1: could not execute */
	bool			 out_truncated;
	bool			 err_truncated;
	int64_t			 out_produced;
	int64_t			 err_produced;
};

typedef void gw_exec_cb(void *arg, const struct gw_error *,
		    const struct gw_exec_result *);

/*
 * Start is not idempotent: never simply retried.  When its outcome is
 * unknown (UNAVAILABLE or a deadline after sending), the sandbox is looked
 * up by the spec's instance and request tags and adopted if found.
 */
void	gw_start(struct gw *, const struct gw_spec *, gw_sandbox_cb *, void *);
void	gw_get(struct gw *, const char *id, gw_sandbox_cb *, void *);
/* Stop; NOT_FOUND counts as success (already gone). */
void	gw_stop(struct gw *, const char *id, int32_t graceful_s,
	    gw_done_cb *, void *);
/* Every page of List for sandboxes carrying all `tags`. */
void	gw_list(struct gw *, const char *const *tags, int ntags,
	    bool include_stopped, gw_list_cb *, void *);
void	gw_exec(struct gw *, const struct gw_exec_request *, gw_exec_cb *,
	    void *);
void	gw_add_file(struct gw *, const char *id, const char *path,
	    const unsigned char *, size_t, gw_done_cb *, void *);
void	gw_retrieve_file(struct gw *, const char *id, const char *path,
	    gw_bytes_cb *, void *);

/* --- StreamExec ----------------------------------------------------- */

/*
 * A live exec.  Callbacks run on the loop; after `on_done` (exactly once)
 * the stream is freed by this module and must not be touched.  A stream
 * that ends without an exit frame reports an error in on_done, never a
 * fake exit 0.
 */
struct gw_exec_stream;

struct gw_exec_stream_cbs {
	void	(*on_ready)(void *arg, const char *session_id);
	/* stream: 1 stdout, 2 stderr. */
	void	(*on_output)(void *arg, int stream, const unsigned char *,
		    size_t);
	/* Final: err == NULL and exit_code valid, or err set. */
	void	(*on_done)(void *arg, const struct gw_error *, int exit_code);
};

struct gw_exec_stream_request {
	const char		*sandbox_id;
	const char *const	*argv;
	int			 argc;
	const struct gw_kv	*env;
	int			 nenv;
	bool			 tty;
	uint32_t		 tty_width, tty_height;
	int64_t			 timeout_ms;	/* whole-call deadline, 0: none */
};

struct gw_exec_stream	*gw_exec_stream_start(struct gw *,
			    const struct gw_exec_stream_request *,
			    const struct gw_exec_stream_cbs *, void *arg);
/* Queues stdin bytes (copied); sent in order, one message in flight. */
void	gw_exec_stream_write(struct gw_exec_stream *, const unsigned char *,
	    size_t);
/* Bytes queued and not yet sent (for backpressure). */
size_t	gw_exec_stream_pending(struct gw_exec_stream *);
void	gw_exec_stream_close_stdin(struct gw_exec_stream *);
void	gw_exec_stream_resize(struct gw_exec_stream *, uint32_t w,
	    uint32_t h);
/* Stops reading responses until resumed (flow control). */
void	gw_exec_stream_pause(struct gw_exec_stream *, bool paused);
/* Cancels the call; on_done still runs (with RPC_ERR_CANCELLED). */
void	gw_exec_stream_cancel(struct gw_exec_stream *);

/* --- StreamLogs ----------------------------------------------------- */

/*
 * A read of a sandbox's log.  Callbacks run on the loop; after `on_done`
 * (exactly once) the stream is freed and must not be touched.  A follow
 * stream keeps its send side open (the gateway ends a follow on a
 * half-close) until cancelled or the sandbox ends.
 */
struct gw_log_stream;

struct gw_log_stream_cbs {
	/* Bytes of the log at `offset`; ts_ms 0 without timestamps. */
	void	(*on_data)(void *arg, const char *session_id, uint64_t offset,
		    int64_t ts_ms, const unsigned char *, size_t);
	/*
	 * Final: err == NULL when the gateway said complete (or ended the
	 * call cleanly); otherwise why it broke — err->grpc_code tells a
	 * broken connection (worth resuming) from a refusal.
	 */
	void	(*on_done)(void *arg, const struct gw_error *err);
};

struct gw_log_stream_request {
	const char	*sandbox_id;
	bool		 follow;
	int32_t		 tail_lines;	/* 0: none */
	int64_t		 since_ms;	/* unix ms, 0: none */
	bool		 timestamps;
	const char	*resume_session_id;	/* NULL: a fresh read */
	uint64_t	 resume_offset;
	int64_t		 timeout_ms;	/* whole call, 0: none */
};

struct gw_log_stream	*gw_log_stream_start(struct gw *,
			    const struct gw_log_stream_request *,
			    const struct gw_log_stream_cbs *, void *arg);
/* Stops reading responses until resumed (flow control). */
void	gw_log_stream_pause(struct gw_log_stream *, bool paused);
/* Cancels the call; on_done still runs (with RPC_ERR_CANCELLED). */
void	gw_log_stream_cancel(struct gw_log_stream *);
/* True for an error a resumed stream may get past (connection trouble). */
bool	gw_log_error_resumable(const struct gw_error *);

#endif
