/*
 * sandboxd.conf's insides, shared by config.c (the parse: sections, the
 * line reader, load and free), config-keys.c (the key table and the walks
 * over it) and config-value.c (one value, by its key's type).  Nothing
 * outside common/config*.c includes this.
 */
#ifndef SBX_CONFIG_INTERNAL_H
#define SBX_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Which struct a key lives in. */
enum cfg_kind { K_DAEMON, K_GATEWAY, K_BUDGET, K_POOL };

enum cfg_type { T_STRING, T_BOOL, T_INT, T_DURATION, T_SIZE, T_LIST, T_KV };

#define F_AUTO		0x1	/* "auto" is accepted and stored as -1 */
#define F_TLS_SET	0x2	/* also marks gateway.tls_set */
#define F_DEFAULT_POOL	0x4	/* at most one pool may say yes */
#define F_ADDRESS_SET	0x8	/* also marks gateway.address_set */

struct cfg_key {
	enum cfg_kind	 kind;
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;
	int64_t		 min, max;	/* ints, durations (ms), sizes */
	const char	*def;		/* default, parsed like a value */
	int		 flags;
	size_t		 count_off;	/* T_LIST, T_KV: the int count */
};

/* The table and its length. */
extern const struct cfg_key cfg_keys[];
extern const size_t	 cfg_nkeys;

/* The parse state, private to config.c; NULL for the table's defaults. */
struct cfg_ctx;

/* config.c */
void	cfg_bad_value(struct cfg_ctx *, const struct cfg_key *,
	    const char *, ...) __attribute__((format(printf, 3, 4)));

/* config-keys.c */
int	cfg_budget_bit(const struct cfg_key *);
void	cfg_apply_defaults(enum cfg_kind, void *);
const struct cfg_key *cfg_find_key(enum cfg_kind, const char *);
void	cfg_inherit(struct config_budget *, const struct config_budget *);
void	cfg_free_keys(enum cfg_kind, void *);

/* config-value.c */
int	cfg_set(struct cfg_ctx *, const struct cfg_key *, void *,
	    const char *);

#endif
