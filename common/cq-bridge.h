/*
 * gRPC completion queue → libevent loop.
 *
 * gRPC C core reports finished operations on a completion queue that must be
 * polled by a blocking call.  One thread blocks there and hands every event
 * to the loop thread through an eventfd (memcached thread.c style), so every
 * callback runs on the loop and no other lock is needed around our state.
 *
 * A tag given to gRPC is a `struct cq_tag *`, usually embedded in the
 * structure that owns the operation; `done` runs on the loop thread.
 */
#ifndef SBX_CQ_BRIDGE_H
#define SBX_CQ_BRIDGE_H

#include <stdbool.h>

#include <event2/event.h>
#include <grpc/grpc.h>

struct cq_tag {
	void	(*done)(struct cq_tag *, bool ok);
};

struct cq_bridge;

struct cq_bridge	*cq_bridge_new(struct event_base *);
grpc_completion_queue	*cq_bridge_queue(struct cq_bridge *);

/* Events handed over and not yet dispatched (for status and tests). */
unsigned long		 cq_bridge_dispatched(struct cq_bridge *);

/*
 * Shuts the queue down, waits for the thread, dispatches what was still
 * queued (so owners can free their operations), and frees everything.
 * Every call on the queue must already be cancelled or finished.
 */
void			 cq_bridge_free(struct cq_bridge *);

#endif
