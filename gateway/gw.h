/*
 * sandbox-gateway-local: the coreweave.sandbox.v1beta2 gateway API served
 * from this machine, with each sandbox a local process tree.
 *
 * One libevent loop owns all state.  gRPC completions reach it through the
 * cq-bridge thread; child processes through SIGCHLD (a libevent signal
 * event) and non-blocking pipes read by bufferevents.
 */
#ifndef SBX_GW_H
#define SBX_GW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <grpc/grpc.h>

#include "coreweave/sandbox/v1beta2/gateway.pb-c.h"
#include "coreweave/sandbox/v1beta2/streaming.pb-c.h"
#include "cq-bridge.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif
#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

/* Short names for the generated protobuf-c types and enums. */
#define PB(x)		Coreweave__Sandbox__V1beta2__##x
#define PBDESC(x)	(&coreweave__sandbox__v1beta2__##x##__descriptor)
#define ST(x)		COREWEAVE__SANDBOX__V1BETA2__SANDBOX_STATUS__SANDBOX_STATUS_##x
#define PBINIT(x)	COREWEAVE__SANDBOX__V1BETA2__##x##__INIT
typedef Google__Protobuf__Timestamp pb_ts;

enum isolation { ISO_AUTO, ISO_BWRAP, ISO_NONE };

/* --- call.c: one server-side gRPC call ----------------------------------- */

struct call;
typedef void (*call_msg_cb)(struct call *, void *arg, grpc_byte_buffer *);
typedef void (*call_cancel_cb)(struct call *, void *arg);

struct method {
	const char	*path;
	const char	*name;
	bool		 streaming;
	/* Unary: the request message (NULL when it did not arrive). */
	void		(*unary)(struct call *, grpc_byte_buffer *);
	/* Streaming: the call is open; the handler drives recv/send. */
	void		(*stream)(struct call *);
};

struct call	*call_new(void);
void		 call_accepted(struct call *);	/* server.c took it */
grpc_call	**call_grpcp(struct call *);
grpc_call_details *call_details(struct call *);
grpc_metadata_array *call_metadata(struct call *);
const char	*call_meta(struct call *, const char *key, size_t *len);
void		 call_set_method(struct call *, const struct method *);
const struct method *call_method(struct call *);
void		 call_set_dropreply(struct call *);
void		 call_set_break(struct call *, unsigned frames);

void		 call_recv(struct call *, call_msg_cb, void *arg);
void		 call_on_cancel(struct call *, call_cancel_cb, void *arg);
void		 call_on_drain(struct call *, call_cancel_cb);
void		 call_send(struct call *, const ProtobufCMessage *);
size_t		 call_queued(struct call *);
bool		 call_done(struct call *);
void		 call_finish(struct call *, grpc_status_code, const char *);
void		 call_finishf(struct call *, grpc_status_code, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 call_reply(struct call *, const ProtobufCMessage *);
void		 call_abort(struct call *, grpc_status_code, const char *);
void		*call_unpack(struct call *, grpc_byte_buffer *,
		    const ProtobufCMessageDescriptor *);
void		 call_release(struct call *);	/* drop server.c's hold */

/* --- server.c ------------------------------------------------------------ */

int		 server_init(struct event_base *, char **listen, size_t nlisten,
		    const char *cert, const char *key);
void		 server_shutdown(void);
bool		 server_drained(void);
void		 server_free(void);
const struct method *server_method(const char *path, size_t len);
const struct method *server_method_name(const char *name, size_t len);
void		 server_call_freed(void);

/* --- auth.c -------------------------------------------------------------- */

int		 auth_init(const char *keyfile, const char *entity);
void		 auth_free(void);
/* GRPC_STATUS_OK or the status to answer; *msg says why. */
grpc_status_code auth_check(struct call *, const char **msg);

/* --- fault.c ------------------------------------------------------------- */

int		 fault_add(const char *spec, bool from_file, const char **err);
int		 fault_load_file(const char *path);
void		 fault_set_file(const char *path);
void		 fault_reload(void);
void		 fault_free(void);
bool		 fault_unavailable(const char *method);
int64_t		 fault_latency_ms(const char *method);
bool		 fault_drop_reply(const char *method);
unsigned	 fault_break_stream(const char *method);

/* --- stats.c ------------------------------------------------------------- */

void		 stats_init(struct event_base *, const char *path);
void		 stats_call(const char *method);
void		 stats_stream(const char *method, int delta);
void		 stats_fault(const char *kind);
void		 stats_changed(void);
void		 stats_write(void);
void		 stats_free(void);

/* --- child.c: SIGCHLD and process groups ---------------------------------- */

typedef void (*child_cb)(pid_t, int status, void *arg);

void		 child_init(struct event_base *);
void		 child_watch(pid_t, child_cb, void *arg);
void		 child_forget(pid_t);
bool		 child_known(pid_t);
size_t		 child_count(void);
void		 child_free(void);
void		 killgrp(pid_t pgid, int sig);

/* --- spawn.c: processes, inside or outside bwrap --------------------------- */

struct spawn_req {
	char		**argv;		/* NULL-terminated */
	char		**envp;		/* NULL-terminated */
	const char	 *cwd;		/* inside the sandbox's view */
	pid_t		  nspid;	/* enter its namespaces; 0: none */
	int		  fd_in, fd_out, fd_err;	/* child's 0, 1, 2 */
	int		  ctty;		/* make fd_in the controlling tty */
	int		  info_fd;	/* becomes the child's fd 3; -1: none */
};

int		 spawn_probe_bwrap(void);
int		 spawn_find_keeper(void);
pid_t		 spawn_process(const struct spawn_req *, const char **err);
pid_t		 spawn_kept(const struct spawn_req *, const char *name,
		    pid_t *keeper, int *statfd, const char **err);

/* --- proctab.c: a snapshot of the host's processes ------------------------ */

struct proctab;

struct proctab	*proctab_read(void);
void		 proctab_free(struct proctab *);
size_t		 proctab_descendants(struct proctab *, const pid_t *roots,
		    size_t nroots, pid_t **out);
size_t		 proctab_filter(struct proctab *,
		    bool (*)(pid_t pid, pid_t ppid, void *), void *, pid_t **);
size_t		 proc_children(pid_t, pid_t **out);
size_t		 proc_descendants(const pid_t *roots, size_t nroots,
		    pid_t **out);

/* --- tree.c: every process of a sandbox ------------------------------------ */

struct sandbox;

void		 tree_init(const char *run_id);
void		 tree_start(struct event_base *);
pid_t		 tree_spawn(struct sandbox *, const struct spawn_req *,
		    child_cb, void *, const char **err);
void		 tree_forget(pid_t cmd);
void		 tree_signal(struct sandbox *, int sig);
void		 tree_kill(struct sandbox *);
void		 tree_free_all(void);
void		 tree_keeper_name(char *, size_t, const char *run_id);

/* --- leftovers.c: what a killed gateway left ------------------------------ */

void		 leftovers_kill(const char *root, const char *run_id);

/* --- proc.c: a child process with its pipes -------------------------------- */

struct sandbox;
struct proc;
enum out_stream { OUT_STDOUT = 1, OUT_STDERR = 2 };
typedef void (*proc_out_cb)(struct proc *, enum out_stream,
    struct evbuffer *, void *arg);
typedef void (*proc_done_cb)(struct proc *, void *arg);

struct proc_opts {
	char		**argv;
	char		**extra_env;		/* KEY=VALUE, NULL-terminated */
	bool		  want_stdin;
	bool		  tty;
	unsigned	  cols, rows;
	proc_out_cb	  out;
	proc_done_cb	  done;
	void		 *arg;
};

struct proc	*proc_start(struct sandbox *, const struct proc_opts *,
		    const char **err);
void		 proc_write(struct proc *, const void *, size_t);
void		 proc_close_stdin(struct proc *);
void		 proc_resize(struct proc *, unsigned cols, unsigned rows);
void		 proc_kill(struct proc *, int sig);
void		 proc_pause_output(struct proc *, bool);
int		 proc_exit_code(struct proc *);	/* 128+sig when signalled */
void		 proc_free(struct proc *);	/* kills the group if alive */
void		 proc_signal_all(struct sandbox *, int sig);

/* --- logbuf.c: a sandbox's main-command log ------------------------------- */

struct logbuf;
struct logbuf_reader;
typedef void (*logbuf_cb)(void *arg);

struct logbuf	*logbuf_open(const char *path, const char *session);
void		 logbuf_append(struct logbuf *, const void *, size_t);
void		 logbuf_close(struct logbuf *);	/* no more data (EOF) */
bool		 logbuf_closed(struct logbuf *);
const char	*logbuf_session(struct logbuf *);
uint64_t	 logbuf_size(struct logbuf *);
uint64_t	 logbuf_tail_offset(struct logbuf *, uint64_t lines);
uint64_t	 logbuf_since_offset(struct logbuf *, int64_t since_ns);
/* Reads the next piece at off (≤ max bytes, one chunk); 0 at end. */
size_t		 logbuf_read(struct logbuf *, uint64_t off, void *, size_t max,
		    int64_t *ts_ns);
void		 logbuf_subscribe(struct logbuf *, struct logbuf_reader *,
		    logbuf_cb, void *);
void		 logbuf_unsubscribe(struct logbuf *, struct logbuf_reader *);
void		 logbuf_free(struct logbuf *);

struct logbuf_reader {
	logbuf_cb			 cb;
	void				*arg;
	LIST_ENTRY(logbuf_reader)	 entry;
	bool				 linked;
};

/* --- sandbox.c: the table and the state machine -------------------------- */

typedef void (*sandbox_cb)(struct sandbox *, void *arg);

struct sandbox_waiter {
	sandbox_cb			 cb;
	void				*arg;
	LIST_ENTRY(sandbox_waiter)	 entry;
};

struct sandbox {
	char			 id[32];
	uint64_t		 seq;
	int			 status;	/* SandboxStatus */
	char			*reason;
	bool			 has_exit;
	int			 exit_code;
	int64_t			 created_ns, started_ns;
	char			*dir, *workdir, *tmpdir;
	char			**tags;
	size_t			 ntags;
	char			**argv;
	char			**env;		/* KEY=VALUE, NULL-terminated */
	char			*ingress, *egress, *entity, *project;
	struct json_t		*record;	/* sandbox-record.c */
	bool			 no_net;
	int64_t			 lifetime_ms;
	pid_t			 pid;		/* bwrap or the command */
	pid_t			 nspid;		/* host pid of the ns's pid 1 */
	int			 nkeepers;	/* tree.c: trees still alive */
	int			 info_fd;
	struct bufferevent	*out, *info;
	struct logbuf		*log;
	struct event		*start_ev, *life_ev, *kill_ev, *ready_ev;
	bool			 stopping, expired, out_eof, reaped;
	int			 stop_status;	/* status when stopped on request */
	LIST_HEAD(, proc)	 procs;
	LIST_HEAD(, sandbox_waiter) waiters;	/* until terminal */
	TAILQ_ENTRY(sandbox)	 entry;
	int			 refs;
	bool			 deleted;
};

struct gateway {
	struct event_base	*base;
	struct cq_bridge	*bridge;
	const char		*root;
	char			 run_id[32];
	enum isolation		 iso;
	int64_t			 start_delay_ms;
	int64_t			 default_lifetime_ms;
	int64_t			 stop_grace_ms;
	bool			 shutting_down;
	TAILQ_HEAD(, sandbox)	 sandboxes;
	uint64_t		 next_seq;
	char			**host_top;	/* bwrap args for host / */
	long			 nofile;	/* soft fd limit we were given */
};
extern struct gateway gw;

grpc_status_code sandbox_create(PB(StartSandboxRequest) *, struct call *,
		    struct sandbox **, char **err);
struct sandbox	*sandbox_find(const char *id);
bool		 sandbox_terminal(const struct sandbox *);
bool		 sandbox_running_or_err(struct call *, const char *id,
		    struct sandbox **);
const char	*sandbox_status_name(int);
void		 sandbox_stop(struct sandbox *, int64_t grace_ms,
		    const char *reason, int final_status);
void		 sandbox_wait(struct sandbox *, struct sandbox_waiter *);
void		 sandbox_unwait(struct sandbox *, struct sandbox_waiter *);
void		 sandbox_delete(struct sandbox *);
int		 sandbox_pause(struct sandbox *, bool pause, char **err);
void		 sandbox_ref(struct sandbox *);
void		 sandbox_unref(struct sandbox *);
void		 sandbox_stop_all(void);
size_t		 sandbox_count(int status);
char		**sandbox_exec_env(struct sandbox *, char **extra);
void		 sandbox_free_all(void);
void		 sandbox_running(struct sandbox *);
void		 sandbox_out_eof(struct sandbox *);
void		 sandbox_trees_gone(struct sandbox *);
void		 sandbox_arm(struct sandbox *);
int		 launch_main(struct sandbox *, child_cb, char **err);

/* --- sandbox-record.c: what Start asked for, recorded and reported ------- */

struct json_t	*record_new(struct sandbox *, PB(StartSandboxRequest) *);
void		 record_log(struct sandbox *);
void		 record_free(struct sandbox *);

/* --- fsops.c: files inside a sandbox's writable area ------------------- */

int		 fs_write(struct sandbox *, const char *path, const void *,
		    size_t, char **err);
int		 fs_read(struct sandbox *, const char *path, void **, size_t *,
		    char **err);
int		 fs_rmtree(const char *dir);

/* --- util.c -------------------------------------------------------------- */

int64_t		 now_ns(void);
void		 ts_set(pb_ts *, int64_t ns);
void		 random_hex(char *out, size_t nhex);
void		 strv_free(char **);
char		**strv_dup(char **, size_t n);
size_t		 strv_len(char **);
void		 strv_push(char ***, size_t *n, char *);
int		 set_nonblock_cloexec(int fd);

/* --- service handlers ---------------------------------------------------- */

void	svc_start(struct call *, grpc_byte_buffer *);
void	svc_stop(struct call *, grpc_byte_buffer *);
void	svc_get(struct call *, grpc_byte_buffer *);
void	svc_list(struct call *, grpc_byte_buffer *);
void	svc_delete(struct call *, grpc_byte_buffer *);
void	svc_pause(struct call *, grpc_byte_buffer *);
void	svc_resume(struct call *, grpc_byte_buffer *);
void	svc_exec(struct call *, grpc_byte_buffer *);
void	svc_add_file(struct call *, grpc_byte_buffer *);
void	svc_retrieve_file(struct call *, grpc_byte_buffer *);
void	stream_exec(struct call *);
void	stream_logs(struct call *);

#endif
