/*
 * The daemon's state file (state.json in the state directory): leases,
 * warm pool members kept across a restart, and the instance id.  Changes
 * are coalesced: a burst of them is one crash-safe write (statefile.c).
 * The file is versioned; this daemon reads version 1 and older, and
 * refuses to start on a newer one (it would drop what it does not know)
 * or on one it cannot read at all (writing over it would lose leases).
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
/*
 * The instance id state.json records into `id` (17 bytes): 1, or 0 when
 * there is none.  Exits when the file exists but cannot be read.
 */
int	state_instance_id(const char *state_dir, char *id);
/* Writes done so far (a burst of changes should be one). */
unsigned state_writes(struct daemon *);

#endif
