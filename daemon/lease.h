/*
 * The lease table: who holds which sandbox, until when.  Leases are found
 * by id (a tsearch tree) and listed in creation order.  A lease is
 * reference counted so that a completion arriving after its release finds
 * a valid (removed) lease rather than freed memory.
 */
#ifndef SBX_LEASE_H
#define SBX_LEASE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "gw.h"

struct daemon;

enum lease_state {
	LEASE_STARTING,
	LEASE_READY,
	LEASE_COMPLETED,	/* job or sandbox ended with exit 0 */
	LEASE_FAILED,		/* … ended otherwise */
	LEASE_RELEASING,
	LEASE_EXPIRED,
	LEASE_LOST
};

enum lease_kind {
	LEASE_INTERACTIVE,
	LEASE_JOB
};

#define LEASE_ID_LEN	10	/* "l-" + 8 */

/* What else ends a lease besides release and expiry. */
enum lease_bind {
	LEASE_BIND_NONE,
	LEASE_BIND_CONNECTION,	/* its client connection closes */
	LEASE_BIND_PROCESS	/* its owning process exits (pidfd) */
};

struct rpc_client;

struct lease_waiter;

struct lease {
	char			 id[LEASE_ID_LEN + 1];
	char			*sandbox_id;
	uid_t			 owner_uid;
	pid_t			 owner_pid;
	enum lease_kind		 kind;
	enum lease_state	 state;
	enum gw_status		 sandbox_status;
	char			*image;
	char			*pool;		/* NULL: not from a pool */
	bool			 warm;		/* claimed ready from a pool */
	json_t			*tags;		/* array of strings */
	int64_t			 created_ms;	/* wall clock */
	int64_t			 ready_ms;	/* wall; charged from here */
	int64_t			 expires_ms;	/* wall clock; 0 while starting */
	int64_t			 sandbox_end_ms;	/* wall: its lifetime ends */
	int64_t			 ttl_ms;
	enum lease_bind		 bind;
	struct rpc_client	*client;	/* took it; told of expiry */
	int			 pidfd;		/* bind = process, else -1 */
	struct event		*pidev;
	struct event		*warning;	/* lease.expiring */
	const char		*deadline_why;	/* NULL: "ttl"; or the budget */
	bool			 budget_warned;	/* told its budget runs out */
	bool			 has_exit_code;
	int32_t			 exit_code;
	char			*status_reason;
	char			*lost_why;	/* why it was lost, once it is */

	struct daemon		*d;
	int			 refs;
	bool			 removed;
	struct event		*expiry;
	struct event		*poll;		/* watches a finishing sandbox */
	int64_t			 poll_delay_ms;
	TAILQ_HEAD(, lease_waiter) waiters;
	TAILQ_ENTRY(lease)	 entry;
};

struct lease_table;

struct lease_table	*lease_table_new(struct daemon *);
void			 lease_table_free(struct lease_table *);
unsigned		 lease_count(struct lease_table *);
struct lease		*lease_first(struct lease_table *);
/* The lease whose sandbox is `sandbox_id`, or NULL. */
struct lease		*lease_holding(struct lease_table *, const char *sandbox_id);
struct lease		*lease_next(struct lease *);

/* A new lease in state STARTING, with a fresh unique id. */
struct lease	*lease_new(struct lease_table *, uid_t, pid_t,
		    enum lease_kind);
/* The same with a given id (a lease restored from the state file). */
struct lease	*lease_insert(struct lease_table *, const char *id, uid_t,
		    pid_t, enum lease_kind);
struct lease	*lease_find(struct lease_table *, const char *id);
/* Takes the lease out of the table; it is freed with its last ref. */
void		 lease_remove(struct lease *);
void		 lease_ref(struct lease *);
void		 lease_unref(struct lease *);

/* Marks a sandbox RUNNING and arms the TTL timer. */
void		 lease_set_ready(struct lease *, int64_t ttl_ms);
/* Restored leases: their deadline (expiring at once if past), binding. */
void		 lease_restore_deadline(struct lease *, int64_t ready_ms,
		    int64_t expires_ms, int64_t ttl_ms);
void		 lease_restore_bind(struct lease *, enum lease_bind);
/* A new deadline `ttl_ms` from now (lease.renew). */
void		 lease_renew(struct lease *, int64_t ttl_ms);
/* Remembers the client that took the lease (for notifications). */
void		 lease_set_client(struct lease *, struct rpc_client *);
/* Ties the lease to its connection or process; -1 with errno. */
int		 lease_bind_to(struct lease *, enum lease_bind);
/*
 * What became of a lease no longer in the table: "expired", "released",
 * … or NULL when it was never seen (recent history only); *owner (may be
 * NULL) is who held it, *why (may be NULL) a lost lease's reason or NULL.
 */
const char	*lease_tombstone(struct lease_table *, const char *id,
		    uid_t *owner, const char **why);
/*
 * Ends the lease now as expired (`reason`: "ttl", "sandbox_seconds", …):
 * lease.expired to a connected owner, then its sandbox is stopped.
 */
void		 lease_expire(struct lease *, const char *reason);
/* lease.expiring: the lease will end at `at_ms` (wall) for `reason`. */
void		 lease_warn(struct lease *, const char *reason, int64_t at_ms);
/* Expired leases' stops confirmed, and how long after the deadline. */
json_t		*lease_expiry_stops_json(struct lease_table *);
/* Its sandbox is gone upstream: tell the owner, forget the lease. */
void		 lease_lost(struct lease *, const char *why);
/* Folds what the gateway reported into the lease. */
void		 lease_update(struct lease *, const struct gw_sandbox *);
bool		 lease_finished(const struct lease *);

/*
 * Logs a lease event ("acquired", "renewed", "released", "reclaimed",
 * "expired", "lost", "owner_gone") with the journal fields LEASE_EVENT=,
 * LEASE_ID=, SANDBOX_ID= (once known), OWNER_UID= and POOL= (from a pool).
 */
void		 lease_log(const struct lease *, const char *event,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

const char	*lease_state_name(enum lease_state);
json_t		*lease_to_json(const struct lease *);

/*
 * Removes the lease now and hands its sandbox to the reaper, which stops
 * it and retries until the gateway confirms; `done` (may be NULL) runs
 * then.  Used by release, expiry, abandoned requests and shutdown.
 */
void		 lease_stop(struct lease *, enum lease_state why,
		    gw_done_cb *done, void *arg);

#endif
