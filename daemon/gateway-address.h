/*
 * Which gateway sandboxd talks to.  Precedence: --gateway, an address
 * written in the configuration (even `local`), CWSANDBOX_BASE_URL, then
 * the default `local`.  `remote` is CWSANDBOX_BASE_URL or the W&B
 * service; a URL names its host:port only.
 */
#ifndef SBX_GATEWAY_ADDRESS_H
#define SBX_GATEWAY_ADDRESS_H

#include <stdbool.h>

#include "config.h"

#define REMOTE_GATEWAY	"api.cwsandbox.com:443"

/* `flag` and `base_url` (CWSANDBOX_BASE_URL) may be NULL.  Heap string. */
char	*gateway_address(const char *flag, const struct config_gateway *,
	    const char *base_url);
/* A host:port gateway: neither `local` nor `unix:`. */
bool	 gateway_is_remote(const char *addr);

#endif
