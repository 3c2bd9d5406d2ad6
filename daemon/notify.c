/* sd_notify: readiness, status, reload, stop and watchdog; see notify.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "gw.h"
#include "lease.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "rpc-server.h"
#include "xmalloc.h"

#define STATUS_INTERVAL_US	1000000	/* how stale STATUS= may get */

struct notify {
	struct daemon	*d;
	bool		 enabled;	/* NOTIFY_SOCKET is set */
	uint64_t	 watchdog_usec;	/* ping interval, 0: none */
	struct event	*watchdog;
	struct event	*status_timer;
	char		*last_status;
};

/* A timeval from microseconds. */
static struct timeval
tv_from_usec(uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

/* Counts the channels in `state` in gw_status_json()'s answer. */
static int
channels_in(json_t *gw, const char *state, int *total)
{
	json_t		*ch;
	const char	*s;
	size_t		 i;
	int		 n = 0;

	*total = (int)json_array_size(json_object_get(gw, "channels"));
	json_array_foreach(json_object_get(gw, "channels"), i, ch) {
		s = json_string_value(json_object_get(ch, "state"));
		if (s != NULL && strcmp(s, state) == 0)
			n++;
	}
	return n;
}

/* "; pools 3/4 warm" over every pool, or "" without pools. */
static void
pools_summary(struct daemon *d, char *buf, size_t len)
{
	json_t		*pools = d->pools ? pools_to_json(d->pools) : NULL, *p;
	json_int_t	 ready = 0, target = 0;
	size_t		 i;

	*buf = '\0';
	if (json_array_size(pools) > 0) {
		json_array_foreach(pools, i, p) {
			ready += json_integer_value(json_object_get(p, "ready"));
			target += json_integer_value(json_object_get(p,
			    "target"));
		}
		snprintf(buf, len, "; pools %lld/%lld warm", (long long)ready,
		    (long long)target);
	}
	json_decref(pools);
}

char *
notify_status_line(struct daemon *d)
{
	struct lease	*l;
	json_t		*gw;
	unsigned	 leases = 0, starting = 0;
	int		 ready, total;
	char		*line, pools[64];

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		leases++;
		if (l->state == LEASE_STARTING)
			starting++;
	}
	gw = gw_status_json(d->gw);
	ready = channels_in(gw, "ready", &total);
	json_decref(gw);
	pools_summary(d, pools, sizeof pools);
	line = xasprintf("%s%u lease%s (%u starting), %u client%s%s; gateway "
	    "%s: %d/%d channels ready", d->stopping ? "stopping: " : "", leases,
	    leases == 1 ? "" : "s", starting,
	    d->server ? rpc_server_nclients(d->server) : 0,
	    d->server && rpc_server_nclients(d->server) == 1 ? "" : "s", pools,
	    d->cfg.gateway.address ? d->cfg.gateway.address : "-", ready,
	    total);
	return line;
}

/* Sends `what` plus STATUS= when the summary changed (or `force`). */
static void
notify_send(struct notify *n, const char *what, bool force)
{
	char	*line;

	if (!n->enabled)
		return;
	line = notify_status_line(n->d);
	if (!force && n->last_status != NULL &&
	    strcmp(line, n->last_status) == 0 && what == NULL) {
		free(line);
		return;
	}
	if (sd_notifyf(0, "%s%sSTATUS=%s", what ? what : "", what ? "\n" : "",
	    line) < 0)
		log_debug("sd_notify failed");
	free(n->last_status);
	n->last_status = line;
}

/* Keeps STATUS= current without hooks in every module that changes it. */
static void
status_tick(evutil_socket_t fd, short what, void *arg)
{
	notify_status(arg);
}

/* WATCHDOG=1 from the loop: if the loop wedges, the pings stop. */
static void
watchdog_tick(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

struct notify *
notify_new(struct daemon *d)
{
	struct notify	*n = xcalloc(1, sizeof *n);
	struct timeval	 tv;
	uint64_t	 usec = 0;
	const char	*sock = getenv("NOTIFY_SOCKET");

	n->d = d;
	n->enabled = sock != NULL && *sock != '\0';
	if (!n->enabled)
		return n;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		n->watchdog_usec = usec / 2 > 0 ? usec / 2 : 1;
		tv = tv_from_usec(n->watchdog_usec);
		n->watchdog = event_new(d->base, -1, EV_PERSIST, watchdog_tick,
		    n);
		event_add(n->watchdog, &tv);
		log_info("watchdog: pinging systemd every %llu ms",
		    (unsigned long long)(n->watchdog_usec / 1000));
	}
	tv = tv_from_usec(STATUS_INTERVAL_US);
	n->status_timer = event_new(d->base, -1, EV_PERSIST, status_tick, n);
	event_add(n->status_timer, &tv);
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->watchdog != NULL)
		event_free(n->watchdog);
	if (n->status_timer != NULL)
		event_free(n->status_timer);
	free(n->last_status);
	free(n);
}

void
notify_ready(struct notify *n)
{
	notify_send(n, "READY=1", true);
}

/* MONOTONIC_USEC lets systemd ≥ 253 match the reload to its request. */
void
notify_reloading(struct notify *n)
{
	struct timespec	 ts;
	char		 what[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(what, sizeof what, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(n, what, true);
}

void
notify_stopping(struct notify *n)
{
	notify_send(n, "STOPPING=1", true);
}

void
notify_status(struct notify *n)
{
	notify_send(n, NULL, false);
}

uint64_t
notify_watchdog_usec(const struct notify *n)
{
	return n->watchdog_usec;
}
