/*
 * The gateway credential, resolved once at start (and on SIGHUP).  Held by
 * the daemon alone: never logged, never returned over the socket.
 */
#ifndef SBX_CREDENTIALS_H
#define SBX_CREDENTIALS_H

#include "config.h"

struct credentials {
	char		*api_key;	/* W&B key, or NULL */
	char		*bearer;	/* CoreWeave key (CWSANDBOX_API_KEY) */
	char		*entity;
	char		*project;
	const char	*source;	/* where the key came from, for logs */
};

/*
 * Resolves, first match wins: SANDBOXD_API_KEY, $CREDENTIALS_DIRECTORY/
 * api-key, gateway.api_key_file, WANDB_API_KEY, ~/.netrc (machine
 * api.wandb.ai, password).  CWSANDBOX_API_KEY fills `bearer`.  Entity
 * from config or WANDB_ENTITY_NAME, project from config or WANDB_PROJECT.
 * A key file readable by group or others gets a warning.  Finding no key is
 * not an error here (the local gateway needs none); a file that cannot be
 * read is (-1, *err set, caller frees).
 */
int	credentials_resolve(const struct config_gateway *, struct credentials *,
	    char **err);
/* Wipes the key from memory and frees. */
void	credentials_free(struct credentials *);

#endif
