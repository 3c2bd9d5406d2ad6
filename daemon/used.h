/*
 * Sandboxes once handed to a lease are dirty: whatever a user left in one
 * must never reach the next user, so none of them may be pooled again.
 *
 * The state file lists the dirty ones still alive ("used": leased, or
 * being stopped).  Between two saves each newly handed-out sandbox is also
 * appended to <state_dir>/used, one write(2) before its lease is answered:
 * a daemon that crashes leaves those lines in the page cache, so its next
 * life knows what it handed out in its last moments too, and stops them.
 * A host that went down (a new boot id, no clean exit) may have lost the
 * lines: then no pool sandbox of the last life is trusted.
 */
#ifndef SBX_USED_H
#define SBX_USED_H

#include <stdbool.h>

#include <jansson.h>

struct daemon;

/* What a journal said: the ids it names, its last boot, a clean end. */
struct used_journal {
	json_t	*ids;		/* sandbox id → true */
	char	 boot[128];	/* the last "boot" line, "" if none */
	bool	 clean;		/* its last line is "clean" */
};

/* Parses journal text (pure, for tests); clear with json_decref(ids). */
void	used_parse(const char *text, struct used_journal *);

/*
 * At start-up, after the state file's leases are back: reads the journal
 * and `state_used` (the state file's list, may be NULL) and sends every
 * dirty sandbox no restored lease holds to the reaper.
 */
void	used_load(struct daemon *, json_t *state_used);
/* May pool sandboxes of the last life be adopted? */
bool	used_trust_pools(struct daemon *);
/* `sandbox_id` goes to a lease: on record before the answer leaves. */
void	used_note(struct daemon *, const char *sandbox_id);
/* The list for the state file: leased and still being stopped. */
json_t	*used_json(struct daemon *);
/* A state save succeeded: the journal restarts empty. */
void	used_saved(struct daemon *);
/* At exit, after the last save; `clean` when that save worked. */
void	used_close(struct daemon *, bool clean);

#endif
