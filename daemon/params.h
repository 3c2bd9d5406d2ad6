/*
 * Checks of request parameters that answer the request themselves on a
 * bad value (invalid_params, naming the parameter) and return -1.
 */
#ifndef SBX_PARAMS_H
#define SBX_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h"

/* Refuses members not in the NULL-terminated `allowed` list. */
int	params_only(struct rpc_req *, const char *const *allowed);
/* Optional string (NULL when absent); `required` makes absence an error. */
int	params_string(struct rpc_req *, const char *key, bool required,
	    const char **out);
int	params_int(struct rpc_req *, const char *key, int64_t min, int64_t max,
	    int64_t dflt, int64_t *out);
int	params_bool(struct rpc_req *, const char *key, bool dflt, bool *out);
/* "all": everyone's `what`, which only root and admins may ask for. */
int	params_all(struct rpc_req *, const char *what, bool *all);
/* Array of strings; `nonempty` requires at least one. NULL when absent. */
int	params_strings(struct rpc_req *, const char *key, bool nonempty,
	    const char ***out, int *n);
/* Base64 member, decoded (caller frees; NULL/0 when absent). */
int	params_b64(struct rpc_req *, const char *key, bool required,
	    unsigned char **out, size_t *len);
/* The lease named by "lease", checked for existence and ownership. */
struct lease;
int	params_lease(struct rpc_req *, struct lease **out);
/* The same, and the lease must hold a running sandbox (exec, files). */
int	params_ready_lease(struct rpc_req *, struct lease **out);

#endif
