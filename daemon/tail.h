/*
 * Log tails: local readers of a sandbox's log.  Every follow tail of one
 * sandbox shares one upstream StreamLogs (a group) whose recent bytes stay
 * in a bounded replay window for late joiners; a one-shot tail (no follow)
 * has a group of its own.  When the upstream breaks, the group resumes it
 * with the log's session id and the next offset, so each reader sees every
 * byte once, in order.  The slowest reader paces the group.
 */
#ifndef SBX_TAIL_H
#define SBX_TAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "rpc-server.h"

#define TAIL_WINDOW		(1u << 20)
#define TAIL_MAX_PER_UID	64
#define TAIL_RESUME_TRIES	8	/* in a row without progress */

struct daemon;
struct tail;
struct tail_table;

struct tail_start {
	const char	*lease_id;
	const char	*sandbox_id;
	uid_t		 owner_uid;
	bool		 follow;
	int64_t		 lines;		/* -1: none */
	int64_t		 since_ms;	/* unix ms, 0: none */
	bool		 timestamps;
};

/* Starts a tail read by `c`; NULL (and a static reason) past the limit. */
struct tail	*tail_start(struct daemon *, const struct tail_start *,
		    struct rpc_client *c, const char **why);
struct tail	*tail_find(struct daemon *, const char *id);
/* Tails open now, every user's (for the metrics). */
unsigned	 tail_count(struct daemon *);
const char	*tail_id(const struct tail *);
uid_t		 tail_owner(const struct tail *);
bool		 tail_shared(const struct tail *);
/* Sends what the reader can take (after the reply to tail.start…). */
void		 tail_pump(struct tail *);
/* Ends the tail with tail.end {reason: "stopped"} and frees it. */
void		 tail_stop(struct tail *);

/* Ends the tails of a lease that went away (reason "lease_gone"). */
void		 tail_lease_gone(struct daemon *, const char *lease_id);
/* At exit, after the server and the gateway are freed. */
void		 tail_table_free(struct tail_table *);

#endif
