/*
 * What a pool's sandboxes are started with, built once from its
 * [pool.NAME] section: strings copied, mounted files read from disk,
 * secret references parsed.  `spec` points into this storage; the
 * per-start tags are added by the pool.
 */
#ifndef SBX_POOL_SPEC_H
#define SBX_POOL_SPEC_H

#include <stdbool.h>

#include "config.h"
#include "gw.h"

struct pool_spec {
	struct gw_spec	 spec;
	char		*image, *cpu, *memory, *gpu_type, *egress;
	struct gw_kv	*env;
	char		**tags;		/* the pool's own tags */
	int		 ntags;
	struct gw_file	*files;
	struct gw_secret *secrets;
	char		**strings;	/* everything else we own */
	int		 nstrings;
};

/* Returns 0, or -1 with *err (heap) naming what is wrong. */
int	pool_spec_build(struct pool_spec *, const struct config_pool *,
	    char **err);
void	pool_spec_free(struct pool_spec *);
/* Would sandboxes started from the two specs differ? */
bool	pool_spec_equal(const struct pool_spec *, const struct pool_spec *);

#endif
