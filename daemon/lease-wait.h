/* lease.wait support: what the lease table calls when a lease goes away. */
#ifndef SBX_LEASE_WAIT_H
#define SBX_LEASE_WAIT_H

struct lease;

/* Answers every waiter of a lease that is being removed. */
void	lease_wait_abort(struct lease *);

/* Shutdown: every waiter is answered (the lease itself lives on). */
struct daemon;
void	lease_wait_shutdown(struct daemon *);

#endif
