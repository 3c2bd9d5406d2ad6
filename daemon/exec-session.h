/*
 * Live execs: one upstream StreamExec each, its output kept in a bounded
 * ring with byte offsets, and the connections subscribed to it.  An exec
 * that is not detached ends when its last subscriber goes away; a detached
 * one runs on and can be attached to later.  Finished execs stay listed
 * for a while with their exit code (a detached one also with its output).
 * Subscribers are paced end to end: a connection with too much queued
 * pauses the upstream stream until it drains.
 */
#ifndef SBX_EXEC_SESSION_H
#define SBX_EXEC_SESSION_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "gw.h"
#include "rpc.h"
#include "stream.h"

#define EXEC_ID_LEN		10	/* "x-" + 8 */
#define EXEC_MAX_LIVE_PER_UID	64
#define EXEC_KEEP_FINISHED_MS	(10 * 60 * 1000)
#define EXEC_KEEP_FINISHED_MAX	32
#define EXEC_STDIN_LOW		(1u << 20)	/* exec.write answers below */

enum exec_state {
	EXEC_RUNNING,
	EXEC_EXITED,
	EXEC_FAILED,
	EXEC_CANCELLED
};

struct exec_sub;
struct exec_write;
struct exec_table;
struct ring;

struct exec_session {
	char			 id[EXEC_ID_LEN + 1];
	char			*lease_id;
	uid_t			 owner_uid;
	json_t			*argv;
	bool			 tty, stdin_open, detached;
	enum exec_state		 state;
	int			 exit_code;
	json_t			*error;		/* error object, once failed */
	char			*cancel_why;	/* why we cancelled, if we did */
	int64_t			 started_ms, ended_ms;	/* wall clock */
	int64_t			 ended_mono;

	struct daemon		*d;
	struct exec_table	*t;
	struct gw_exec_stream	*gx;		/* NULL once done */
	bool			 paused;
	struct ring		*ring;
	LIST_HEAD(, exec_sub)	 subs;
	unsigned		 nsubs;
	TAILQ_HEAD(, exec_write) writes;	/* exec.write awaiting room */
	struct event		*write_timer;
	TAILQ_ENTRY(exec_session) entry;
};

struct exec_start {
	const char		*lease_id;
	const char		*sandbox_id;
	uid_t			 owner_uid;
	const char *const	*argv;
	int			 argc;
	const struct gw_kv	*env;
	int			 nenv;
	bool			 tty;
	uint32_t		 width, height;
	bool			 want_stdin;
	bool			 detach;
	int64_t			 timeout_ms;
};

void	exec_table_free(struct exec_table *);

/*
 * Starts an exec; the caller's connection `c` is subscribed unless the
 * exec is detached.  NULL (and a static reason) past the per-uid limit.
 */
struct exec_session *exec_session_start(struct daemon *,
		    const struct exec_start *, struct rpc_client *c,
		    const char **why);
struct exec_session *exec_session_find(struct daemon *, const char *id);
struct exec_session *exec_session_first(struct daemon *);
struct exec_session *exec_session_next(struct exec_session *);

/*
 * Subscribes `c` from output offset `from`; fills the attach result.
 * -1 when this connection is already subscribed.
 */
int	exec_session_attach(struct exec_session *, struct rpc_client *c,
	    uint64_t from, json_t **result);
/* Ends this connection's subscription and marks the exec detached. */
void	exec_session_detach(struct exec_session *, struct rpc_client *c);
/* Sends subscribers what they can take (after a reply, a drain…). */
void	exec_session_pump(struct exec_session *);
/* Queues stdin; answers `req` once the upstream queue has room. */
void	exec_session_write(struct exec_session *, struct rpc_req *,
	    const unsigned char *, size_t);
void	exec_session_close_stdin(struct exec_session *);
void	exec_session_cancel(struct exec_session *, const char *why);
const char *exec_state_name(enum exec_state);
json_t	*exec_session_json(const struct exec_session *);

/* Cancels the running execs of a lease that went away. */
void	exec_sessions_lease_gone(struct daemon *, const char *lease_id);

#endif
