/*
 * The daemon's one context.  A single libevent loop owns all of it; gRPC
 * completions reach the loop through cq-bridge, so nothing here is locked.
 */
#ifndef SBX_DAEMON_H
#define SBX_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "credentials.h"

struct gw;
struct rpc_server;
struct lease_table;
struct local_gw;
struct notify;
struct metrics;
struct metrics_http;
struct exec_table;
struct tail_table;
struct reaper;
struct pools;
struct budget;
struct state;
struct reconcile;
struct used;

struct daemon {
	struct event_base	*base;
	struct config		 cfg;
	char			*config_path;	/* NULL: none given */
	char			*socket_path;
	char			*state_dir;
	char			*runtime_dir;
	char			*gateway_target;	/* what gw connects to */
	char			 instance_id[17];	/* tags our sandboxes */
	int64_t			 started_ms;	/* monotonic */

	struct credentials	 creds;
	struct gw		*gw;
	struct rpc_server	*server;
	struct lease_table	*leases;
	struct local_gw		*local_gw;
	struct notify		*notify;	/* sd_notify, watchdog */
	struct metrics		*metrics;	/* counters, histograms */
	struct metrics_http	*metrics_http;	/* NULL: no endpoint */
	struct exec_table	*execs;		/* streaming execs (lazy) */
	struct tail_table	*tails;		/* log tails (lazy) */
	struct reaper		*reaper;
	struct pools		*pools;
	struct budget		*budget;	/* accounting */
	struct state		*state;		/* state.json */
	struct reconcile	*reconcile;
	struct used		*used;		/* dirty sandboxes */

	unsigned long		 starts;	/* Start requests ever sent */
	bool			 stopping;
	struct event		*stop_timer;	/* gives up waiting at exit */
};

/*
 * Gateway calls that no one waits for (a pool's refill Starts, the Stop of
 * a released sandbox) leave together this long after the first: the
 * answers that called for them go out first, back to back.
 */
#define GW_BATCH_MS	2

/* Monotonic and wall clocks in milliseconds. */
int64_t	now_mono_ms(void);
int64_t	now_wall_ms(void);

/* Asks the loop to finish: stop accepting, release, then exit. */
void	daemon_shutdown(struct daemon *);

/* Called whenever outstanding work ends, to finish a pending shutdown. */
void	daemon_check_idle(struct daemon *);

#endif
