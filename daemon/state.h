/*
 * The daemon's state file (state.json in the state directory): leases,
 * warm pool members kept across a restart, and the instance id.  Changes
 * are coalesced: a burst of them is one crash-safe write (statefile.c).
 * The file is versioned; this daemon reads version 1 and older.
 */
#ifndef SBX_STATE_H
#define SBX_STATE_H

struct daemon;

/*
 * Loads the file, if any, and brings its leases back (ids, owners,
 * deadlines).  A file that cannot be parsed is moved aside and reported;
 * reconciliation then deals with whatever is running upstream.
 */
void	state_load(struct daemon *);
/* Something changed: write soon. */
void	state_dirty(struct daemon *);
/* Write now (shutdown). */
void	state_save(struct daemon *);
void	state_free(struct daemon *);

#endif
