/*
 * What lease.acquire asks for: its parameters read into a gw_spec (with
 * the storage the spec points into), our tags, and how a pool's fixed
 * spec meets a request.
 */
#ifndef SBX_ACQUIRE_SPEC_H
#define SBX_ACQUIRE_SPEC_H

#include "gw.h"
#include "rpc.h"

struct daemon;
struct lease;
struct pool;

/* Storage for the parsed request; the gw_spec points into it. */
struct spec_parts {
	struct gw_spec	 spec;
	const char	**args;
	const char	**tags;
	const char	**usertags;
	struct gw_kv	*env;
	struct gw_file	*files;
	unsigned char	**filedata;	/* every file's bytes, mounted or not */
	int		 nfiledata;
	struct gw_secret *secrets;
	char		*instance_tag;
	char		*req_tag;
	char		*pool_tag;
	struct gw_kv	*merged_env;
	struct gw_file	*merged_files;
};

/*
 * Reads the spec members of the request; -1 after answering an error.
 * Only files with absolute paths go into the spec (mounted at Start).
 */
int		 spec_parse(struct rpc_req *, struct spec_parts *,
		    int *nusertags);
void		 spec_parts_free(struct spec_parts *);
/* Our tags first (reconciliation finds by them), the pool's, the caller's. */
void		 spec_build_tags(struct daemon *, struct lease *,
		    struct spec_parts *, int nuser, struct pool *);
/* The caller's tags go on the lease whatever the sandbox carries. */
void		 spec_lease_tags(struct lease *, struct spec_parts *, int nuser);
/* The first member a pool's fixed spec cannot honour, or NULL. */
const char	*spec_pool_conflict(struct rpc_req *);
/*
 * The request's files with relative paths (relative to the sandbox's
 * working directory, as file.write takes them): written by AddFile once
 * the sandbox runs.  A new array, or NULL when there are none.
 */
json_t		*spec_files_later(struct rpc_req *);

/*
 * The first tag in the reserved "sandboxd" prefix, or NULL: those tags
 * are how reconciliation and Start recovery find our sandboxes, so a
 * caller's or a pool's tag must never pass for one of them.
 */
const char	*spec_reserved_tag(const char *const *tags, int n);
/* The pool's spec with the caller's env and files laid over it. */
void		 spec_from_pool(struct spec_parts *, struct pool *);

#endif
