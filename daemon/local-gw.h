/*
 * `gateway = local`: the daemon runs its own sandbox-gateway-local on a
 * private socket in its runtime directory and restarts it if it dies.  The
 * gateway gets its own session, so a terminal's Ctrl-C reaches the daemon
 * (which then stops its sandboxes in order) and not the gateway first.
 *
 * The daemon writes the gateway's pid to gateway.pid next to its socket.
 * A daemon that finds the socket already answering (a restart that left
 * leases) re-attaches: it finds the gateway by that pidfile, checks its
 * command line, and supervises it as its own — restarts it if it dies,
 * stops it at a shutdown that leaves nothing for it to hold.
 */
#ifndef SBX_LOCAL_GW_H
#define SBX_LOCAL_GW_H

struct daemon;
struct local_gw;

/* Starts (or re-attaches to) the local gateway; waits until it answers. */
struct local_gw	*local_gw_start(struct daemon *, char **err);
/* "unix:/…/gateway.sock" */
const char	*local_gw_target(const struct local_gw *);
/* Leaves the gateway running past our exit (it holds leased sandboxes). */
void		 local_gw_detach(struct local_gw *);
/* Stops the gateway we supervise (SIGTERM, then SIGKILL) and frees. */
void		 local_gw_free(struct local_gw *);

#endif
