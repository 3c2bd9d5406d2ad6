/* The gateway address from flag, config and environment; see the header. */
#include <string.h>

#include "gateway-address.h"
#include "xmalloc.h"

static bool
nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

char *
gateway_address(const char *flag, const struct config_gateway *cg,
    const char *base_url)
{
	const char	*a = flag;

	if (a == NULL && cg->address_set && nonempty(cg->address))
		a = cg->address;
	if (a == NULL && nonempty(base_url))
		a = base_url;
	if (a == NULL)
		a = nonempty(cg->address) ? cg->address : "local";
	if (strcmp(a, "remote") == 0)
		a = nonempty(base_url) ? base_url : REMOTE_GATEWAY;
	/* A URL (CWSANDBOX_BASE_URL style) names host:port only. */
	if (strncmp(a, "https://", 8) == 0)
		return xstrndup(a + 8, strcspn(a + 8, "/"));
	if (strncmp(a, "http://", 7) == 0)
		return xstrndup(a + 7, strcspn(a + 7, "/"));
	return xstrdup(a);
}

bool
gateway_is_remote(const char *addr)
{
	return strcmp(addr, "local") != 0 && strncmp(addr, "unix:", 5) != 0;
}
