/* The daemon's clocks and its orderly shutdown. */
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "methods.h"
#include "pool.h"
#include "notify.h"
#include "lease-wait.h"
#include "reaper.h"
#include "state.h"
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

	log_warnx("gave up waiting after %ds: %u request(s) still in "
	    "progress, %u sandbox(es) not confirmed stopped", STOP_GRACE_S,
	    rpc_pending(), d->reaper ? reaper_pending(d->reaper) : 0);
	event_base_loopexit(d->base, NULL);
}

void
daemon_shutdown(struct daemon *d)
{
	struct timeval	 tv = { STOP_GRACE_S, 0 };
	if (d->stopping)
		return;
	d->stopping = true;
	notify_stopping(d->notify);
	rpc_server_stop_listening(d->server);
	d->stop_timer = evtimer_new(d->base, stop_timeout, d);
	evtimer_add(d->stop_timer, &tv);
	/*
	 * A restart, not an ending: leased sandboxes keep running and come
	 * back from the state file.  Half-started ones have no holder yet:
	 * they are stopped.  Warm ones are stopped unless kept by config.
	 */
	lease_acquire_shutdown();
	lease_wait_shutdown(d);
	if (d->pools != NULL)
		pools_shutdown(d->pools, d->cfg.daemon.keep_warm_on_shutdown);
	state_save(d);
	daemon_check_idle(d);
}

void
daemon_check_idle(struct daemon *d)
{
	if (d->stopping && rpc_pending() == 0 &&
	    (d->reaper == NULL || reaper_pending(d->reaper) == 0) &&
	    (d->pools == NULL || pools_busy(d->pools) == 0))
		event_base_loopexit(d->base, NULL);
}

