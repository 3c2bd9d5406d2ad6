/* Request parameter checks with clear errors; see params.h. */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "daemon.h"
#include "lease.h"
#include "params.h"
#include "xmalloc.h"

int
params_only(struct rpc_req *req, const char *const *allowed)
{
	const char		*key;
	json_t			*v;
	const char *const	*a;

	json_object_foreach(req->params, key, v) {
		for (a = allowed; *a != NULL; a++) {
			if (strcmp(*a, key) == 0)
				break;
		}
		if (*a == NULL) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
			    "unknown parameter \"%.64s\" for %s", key,
			    req->method->name);
			return -1;
		}
	}
	return 0;
}

/* Fetches a member; answers "missing" when required and absent. */
static int
member(struct rpc_req *req, const char *key, bool required, json_t **v)
{
	*v = json_object_get(req->params, key);
	if (*v != NULL && json_is_null(*v))
		*v = NULL;
	if (*v == NULL && required) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "missing parameter \"%s\"", key);
		return -1;
	}
	return 0;
}

static int
wrong_type(struct rpc_req *req, const char *key, const char *want)
{
	rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter \"%s\" must be "
	    "%s", key, want);
	return -1;
}

int
params_string(struct rpc_req *req, const char *key, bool required,
    const char **out)
{
	json_t	*v;

	*out = NULL;
	if (member(req, key, required, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v))
		return wrong_type(req, key, "a string");
	*out = json_string_value(v);
	return 0;
}

int
params_int(struct rpc_req *req, const char *key, int64_t min, int64_t max,
    int64_t dflt, int64_t *out)
{
	json_t	*v;

	*out = dflt;
	if (member(req, key, false, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter \"%s\" "
		    "must be an integer from %lld to %lld", key,
		    (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

int
params_bool(struct rpc_req *req, const char *key, bool dflt, bool *out)
{
	json_t	*v;

	*out = dflt;
	if (member(req, key, false, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return wrong_type(req, key, "true or false");
	*out = json_is_true(v);
	return 0;
}

int
params_all(struct rpc_req *req, const char *what, bool *all)
{
	if (params_bool(req, "all", false, all) == -1)
		return -1;
	if (*all && !rpc_is_admin(req)) {
		rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL, "everyone's %s "
		    "are for root or the admin group", what);
		return -1;
	}
	return 0;
}

int
params_strings(struct rpc_req *req, const char *key, bool nonempty,
    const char ***out, int *n)
{
	json_t	*v, *s;
	size_t	 i;

	*out = NULL;
	*n = 0;
	if (member(req, key, nonempty, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
		return wrong_type(req, key, nonempty ?
		    "a non-empty array of strings" : "an array of strings");
	json_array_foreach(v, i, s) {
		if (!json_is_string(s) || strlen(json_string_value(s)) !=
		    json_string_length(s))
			return wrong_type(req, key, "an array of strings");
	}
	*out = xcalloc(json_array_size(v) + 1, sizeof **out);
	json_array_foreach(v, i, s)
		(*out)[i] = json_string_value(s);
	*n = (int)json_array_size(v);
	return 0;
}

int
params_b64(struct rpc_req *req, const char *key, bool required,
    unsigned char **out, size_t *len)
{
	json_t	*v;

	*out = NULL;
	*len = 0;
	if (member(req, key, required, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || b64_decode(json_string_value(v),
	    json_string_length(v), out, len) == -1)
		return wrong_type(req, key, "base64 (RFC 4648, padded)");
	return 0;
}

int
params_lease(struct rpc_req *req, struct lease **out)
{
	const char	*id, *past, *why = NULL;
	struct lease	*l;
	uid_t		 owner = 0;

	if (params_string(req, "lease", true, &id) == -1)
		return -1;
	l = lease_find(req->d->leases, id);
	if (l == NULL) {
		/* A lease that ended lately: say how, not just "no such". */
		past = lease_tombstone(req->d->leases, id, &owner, &why);
		if (past != NULL && !rpc_may_act_on(req, owner))
			rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL,
			    "lease %s belongs to another user", id);
		else if (past != NULL && strcmp(past, "expired") == 0)
			rpc_fail(req, RPC_ERR_LEASE_EXPIRED, NULL, "lease %s "
			    "expired", id);
		else if (past != NULL && strcmp(past, "lost") == 0)
			rpc_fail(req, RPC_ERR_LEASE_LOST, NULL, "lease %s was "
			    "lost: %s", id, why != NULL ? why :
			    "its sandbox is gone upstream");
		else if (past != NULL)
			rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "lease %s was "
			    "released", id);
		else
			rpc_fail(req, RPC_ERR_NOT_FOUND, NULL, "no lease %.32s",
			    id);
		return -1;
	}
	if (!rpc_may_act_on(req, l->owner_uid)) {
		rpc_fail(req, RPC_ERR_PERMISSION_DENIED, NULL,
		    "lease %s belongs to another user", l->id);
		return -1;
	}
	*out = l;
	return 0;
}

int
params_ready_lease(struct rpc_req *req, struct lease **out)
{
	struct lease	*l;

	if (params_lease(req, &l) == -1)
		return -1;
	if (l->state != LEASE_READY || l->sandbox_id == NULL) {
		rpc_fail(req, l->state == LEASE_EXPIRED ?
		    RPC_ERR_LEASE_EXPIRED : RPC_ERR_INVALID_STATE, NULL,
		    "lease %s is %s, not ready", l->id,
		    lease_state_name(l->state));
		return -1;
	}
	*out = l;
	return 0;
}
