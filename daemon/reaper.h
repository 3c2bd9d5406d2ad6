/*
 * The reaper stops sandboxes nobody holds any more (released, expired,
 * abandoned, rotated out of a pool) and keeps trying until the gateway
 * confirms, with backoff: a Stop that fails must not leave one billing.
 */
#ifndef SBX_REAPER_H
#define SBX_REAPER_H

#include <stdbool.h>

#include <jansson.h>

#include "gw.h"

struct daemon;
struct reaper;

struct reaper	*reaper_new(struct daemon *);
void		 reaper_free(struct reaper *);

/*
 * Stops `sandbox_id` for good; `done` (may be NULL) runs on success.
 * Without `done`, the first Stop goes out with the next batch (2 ms).
 */
void		 reaper_stop(struct reaper *, const char *sandbox_id,
		    const char *why, gw_done_cb *done, void *arg);
/* Sandboxes still being stopped. */
unsigned	 reaper_pending(const struct reaper *);
/* Is `sandbox_id` one of them?  Those are held: never adopted.  A NULL
 * reaper (unit tests) has none. */
bool		 reaper_has(const struct reaper *, const char *sandbox_id);
/* Their ids, as a new JSON array. */
json_t		*reaper_ids_json(const struct reaper *);

#endif
