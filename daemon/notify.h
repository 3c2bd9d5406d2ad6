/*
 * Telling systemd how we are (sd_notify): READY=1 once the socket listens,
 * a one-line STATUS= kept current, RELOADING=1/READY=1 around SIGHUP,
 * STOPPING=1, and WATCHDOG=1 pings from the event loop at half of
 * WATCHDOG_USEC, so a wedged loop misses its pings and gets restarted.
 * Without NOTIFY_SOCKET every call here is a cheap no-op.
 */
#ifndef SBX_NOTIFY_H
#define SBX_NOTIFY_H

#include <stdint.h>

struct daemon;
struct notify;

/* Arms the watchdog and STATUS timers when systemd watches us. */
struct notify	*notify_new(struct daemon *);
void		 notify_free(struct notify *);

/* READY=1 with the current STATUS=. */
void		 notify_ready(struct notify *);
/* RELOADING=1 (with MONOTONIC_USEC=) before a reload; then notify_ready. */
void		 notify_reloading(struct notify *);
/* STOPPING=1 with a STATUS= saying so. */
void		 notify_stopping(struct notify *);
/* Sends STATUS= now if the summary changed since the last one. */
void		 notify_status(struct notify *);

/* The one-line summary (heap string): leases, clients, gateway. */
char		*notify_status_line(struct daemon *);

/* The watchdog ping interval in microseconds, 0 when off. */
uint64_t	 notify_watchdog_usec(const struct notify *);

#endif
