/* The daemon's clocks and its orderly shutdown. */
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "methods.h"
#include "pool.h"
#include "reaper.h"
#include "rpc.h"
#include "rpc-server.h"

#define STOP_GRACE_S	20

int64_t
now_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
now_wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct daemon	*d = arg;

	log_warnx("gave up waiting after %ds: %u lease(s), %u request(s) "
	    "still in progress", STOP_GRACE_S, lease_count(d->leases),
	    rpc_pending());
	event_base_loopexit(d->base, NULL);
}

void
daemon_shutdown(struct daemon *d)
{
	struct timeval	 tv = { STOP_GRACE_S, 0 };
	struct lease	*l, *next;

	if (d->stopping)
		return;
	d->stopping = true;
	sd_notify(0, "STOPPING=1");
	rpc_server_stop_listening(d->server);
	d->stop_timer = evtimer_new(d->base, stop_timeout, d);
	evtimer_add(d->stop_timer, &tv);
	/* Nothing keeps a sandbox's state across restarts yet: stop all. */
	lease_acquire_shutdown();
	if (d->pools != NULL)
		pools_shutdown(d->pools);
	for (l = lease_first(d->leases); l != NULL; l = next) {
		next = lease_next(l);
		if (l->state != LEASE_STARTING)
			lease_stop(l, LEASE_RELEASING, NULL, NULL);
	}
	daemon_check_idle(d);
}

void
daemon_check_idle(struct daemon *d)
{
	if (d->stopping && lease_count(d->leases) == 0 && rpc_pending() == 0 &&
	    (d->reaper == NULL || reaper_pending(d->reaper) == 0) &&
	    (d->pools == NULL || pools_busy(d->pools) == 0))
		event_base_loopexit(d->base, NULL);
}

