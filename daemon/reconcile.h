/*
 * Reconciliation: what runs upstream with this daemon's instance tag
 * against what it holds.  At start-up (after the state file is loaded)
 * and then every minute: pool sandboxes nobody holds are adopted into
 * their pool when it has room, everything else of ours that nobody holds
 * is stopped, and leases whose sandbox is gone upstream are marked lost
 * and their owners told.  A periodic pass acts on a stranger only when the
 * previous pass saw it too, so a Start whose reply is on its way is safe.
 */
#ifndef SBX_RECONCILE_H
#define SBX_RECONCILE_H

#include <stdbool.h>

struct daemon;

void	reconcile_start(struct daemon *);
void	reconcile_free(struct daemon *);
/* True once a pass has succeeded (pools refill only then). */
bool	reconcile_done(struct daemon *);
/*
 * Does anything here hold this sandbox: a lease, a ready pool member, or
 * a start in flight that has its id?  Nothing held is adopted or stopped.
 */
bool	reconcile_held(struct daemon *, const char *sandbox_id);

#endif
