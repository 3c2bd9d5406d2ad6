/* gRPC completion queue → libevent loop; see cq-bridge.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "cq-bridge.h"
#include "log.h"
#include "xmalloc.h"

struct cq_event {
	struct cq_tag	*tag;
	bool		 ok;
};

struct cq_bridge {
	grpc_completion_queue	*cq;
	pthread_t		 thread;
	int			 efd;
	struct event		*ev;

	pthread_mutex_t		 lock;		/* guards pending */
	struct cq_event		*pending;
	size_t			 npending, cap;

	struct cq_event		*batch;		/* loop side, reused */
	size_t			 batchcap;
	unsigned long		 dispatched;
};

/* The queue thread: block on gRPC, queue each event, wake the loop. */
static void *
cq_thread(void *arg)
{
	struct cq_bridge	*br = arg;
	grpc_event		 ev;
	uint64_t		 one = 1;
	int			 wake;

	for (;;) {
		ev = grpc_completion_queue_next(br->cq,
		    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		pthread_mutex_lock(&br->lock);
		if (br->npending == br->cap) {
			br->cap = br->cap ? br->cap * 2 : 64;
			br->pending = xreallocarray(br->pending, br->cap,
			    sizeof *br->pending);
		}
		br->pending[br->npending++] =
		    (struct cq_event){ ev.tag, ev.success != 0 };
		wake = br->npending == 1;
		pthread_mutex_unlock(&br->lock);
		if (wake && write(br->efd, &one, sizeof one) == -1 &&
		    errno != EAGAIN)
			log_warn("cq bridge: eventfd write");
	}
	return NULL;
}

/* Swaps the pending list out under the lock, then runs each callback. */
static void
cq_dispatch(struct cq_bridge *br)
{
	struct cq_event	*list;
	size_t		 n, cap, i;

	pthread_mutex_lock(&br->lock);
	list = br->pending;
	n = br->npending;
	cap = br->cap;
	br->pending = br->batch;
	br->cap = br->batchcap;
	br->npending = 0;
	pthread_mutex_unlock(&br->lock);

	for (i = 0; i < n; i++)
		list[i].tag->done(list[i].tag, list[i].ok);
	br->dispatched += n;
	br->batch = list;
	br->batchcap = cap;
}

static void
cq_readable(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	 n;

	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN)
		log_warn("cq bridge: eventfd read");
	cq_dispatch(arg);
}

struct cq_bridge *
cq_bridge_new(struct event_base *base)
{
	struct cq_bridge	*br = xcalloc(1, sizeof *br);

	br->cq = grpc_completion_queue_create_for_next(NULL);
	if ((br->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	pthread_mutex_init(&br->lock, NULL);
	br->ev = event_new(base, br->efd, EV_READ | EV_PERSIST, cq_readable,
	    br);
	event_add(br->ev, NULL);
	if ((errno = pthread_create(&br->thread, NULL, cq_thread, br)) != 0)
		fatal("pthread_create");
	return br;
}

grpc_completion_queue *
cq_bridge_queue(struct cq_bridge *br)
{
	return br->cq;
}

unsigned long
cq_bridge_dispatched(struct cq_bridge *br)
{
	return br->dispatched;
}

void
cq_bridge_free(struct cq_bridge *br)
{
	if (br == NULL)
		return;
	grpc_completion_queue_shutdown(br->cq);
	pthread_join(br->thread, NULL);
	cq_dispatch(br);
	grpc_completion_queue_destroy(br->cq);
	event_free(br->ev);
	close(br->efd);
	pthread_mutex_destroy(&br->lock);
	free(br->pending);
	free(br->batch);
	free(br);
}
