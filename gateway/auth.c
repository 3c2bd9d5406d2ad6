/*
 * Call authentication: with an API key file every call must carry
 * x-wandb-api-key equal to the key (compared in constant time) and a
 * non-empty x-entity-id (equal to --entity when one is given).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

static char	*api_key;
static size_t	 api_key_len;
static char	*entity;

/* Reads the key: the file's first line, without surrounding blanks. */
int
auth_init(const char *keyfile, const char *ent)
{
	FILE	*f;
	char	*line = NULL, *s;
	size_t	 cap = 0, len;

	if (ent != NULL)
		entity = xstrdup(ent);
	if (keyfile == NULL)
		return 0;
	if ((f = fopen(keyfile, "r")) == NULL) {
		log_warn("%s", keyfile);
		return -1;
	}
	if (getline(&line, &cap, f) == -1)
		line = xstrdup("");
	fclose(f);
	for (s = line; *s == ' ' || *s == '\t'; s++)
		;
	len = strlen(s);
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		s[--len] = '\0';
	if (len == 0) {
		log_warnx("%s: no key in the file", keyfile);
		free(line);
		return -1;
	}
	api_key = xstrdup(s);
	api_key_len = len;
	explicit_bzero(line, cap);
	free(line);
	return 0;
}

void
auth_free(void)
{
	if (api_key != NULL)
		explicit_bzero(api_key, api_key_len);
	free(api_key);
	free(entity);
	api_key = entity = NULL;
}

/* Compares without an early exit, so timing tells nothing of the key. */
static bool
key_equal(const char *v, size_t len)
{
	unsigned char	 diff = len != api_key_len;
	size_t		 i;

	for (i = 0; i < api_key_len; i++)
		diff |= (unsigned char)api_key[i] ^
		    (unsigned char)(i < len ? v[i] : 0);
	return diff == 0;
}

grpc_status_code
auth_check(struct call *c, const char **msg)
{
	const char	*v, *e;
	size_t		 len, elen;

	if (api_key == NULL)
		return GRPC_STATUS_OK;
	if ((v = call_meta(c, "x-wandb-api-key", &len)) == NULL) {
		*msg = "missing x-wandb-api-key";
		return GRPC_STATUS_UNAUTHENTICATED;
	}
	if (!key_equal(v, len)) {
		*msg = "invalid API key";
		return GRPC_STATUS_UNAUTHENTICATED;
	}
	if ((e = call_meta(c, "x-entity-id", &elen)) == NULL || elen == 0) {
		*msg = "missing x-entity-id";
		return GRPC_STATUS_PERMISSION_DENIED;
	}
	if (entity != NULL && (elen != strlen(entity) ||
	    memcmp(e, entity, elen) != 0)) {
		*msg = "entity not allowed for this key";
		return GRPC_STATUS_PERMISSION_DENIED;
	}
	return GRPC_STATUS_OK;
}
