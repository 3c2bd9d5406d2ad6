/*
 * sandboxd.conf: an INI file (parsed with libinih) read into typed structs
 * with defaults.  Sections: [daemon], [gateway], [budget],
 * [budget.user.NAME], [budget.group.NAME] and [pool.NAME].  Unknown
 * sections or keys and bad values are errors that name the file and line.
 *
 * Durations are stored in milliseconds, sizes in bytes.  Strings are heap
 * copies (NULL when unset and without a default).
 */
#ifndef SBX_CONFIG_H
#define SBX_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct config_daemon {
	char		*socket;	/* NULL: per-user default path */
	char		*state_dir;	/* NULL: /var/lib/sandboxd or XDG */
	char		*runtime_dir;	/* NULL: dirname of the socket */
	int64_t		 verbose;	/* 0 */
	uint64_t	 max_line;	/* 16Mi */
	int64_t		 max_clients;	/* 1024 */
	int64_t		 max_clients_per_uid;	/* 256 */
	int64_t		 max_inflight;	/* per connection, 64 */
	int64_t		 max_streams;	/* execs + tails per connection, 64 */
	char		*admin_group;	/* NULL: root only */
	char		*metrics_listen;	/* NULL: off */
	bool		 metrics_allow_remote;	/* false: loopback only */
	int64_t		 idle_timeout;	/* ms, 5m, 0 = none */
	int64_t		 line_timeout;	/* ms, 30s: a line's first to last byte */
	int64_t		 write_timeout;	/* ms, 60s: queued output not moving */
	bool		 keep_warm_on_shutdown;	/* false */
	uint64_t	 exec_ring;	/* detached exec output ring, 4Mi */
	int64_t		 reconcile_interval;	/* ms, 60s */
};

struct config_gateway {
	char		*address;	/* "local" (default), host:port, unix:… */
	bool		 address_set;	/* address given in the file */
	bool		 tls;		/* true for host:port; see tls_set */
	bool		 tls_set;	/* tls given explicitly */
	char		*ca_file;
	int64_t		 channels;	/* 4 */
	char		*api_key_file;
	char		*entity;
	char		*project;
	int64_t		 call_timeout;	/* ms, 30s */
	int64_t		 exec_timeout;	/* ms, default max for exec, 10m */
	int64_t		 start_timeout;	/* ms, 5m: give up waiting for RUNNING */
	int64_t		 start_poll;	/* ms, 200: first Get after a Start */
	int64_t		 keepalive;	/* ms, 30s */
	char		*local_binary;	/* sandbox-gateway-local path */
	char		*local_isolation;	/* auto */
	int64_t		 local_start_delay;	/* ms, 0 */
	char		*local_root;	/* NULL: under the state dir */
};

struct config_budget {
	char		*name;		/* NULL for [budget]; user/group name */
	int64_t		 max_sandboxes;	/* 0 = unlimited */
	int64_t		 max_lifetime;	/* ms, 1h: sent upstream */
	int64_t		 max_lease_ttl;	/* ms, 24h */
	int64_t		 default_lease_ttl;	/* ms, 15m */
	int64_t		 max_leases;	/* per user, 0 = unlimited */
	int64_t		 sandbox_seconds;	/* per window, 0 = unlimited */
	int64_t		 window;	/* ms, 24h */
	uint64_t	 set;		/* bit per key given (overrides) */
};

struct config_kv {
	char		*key;
	char		*value;
};

struct config_pool {
	char		*name;
	char		*image;
	char		*cpu;
	char		*memory;
	int64_t		 gpu_count;
	char		*gpu_type;
	struct config_kv *env;		/* `env = KEY=VALUE`, repeatable */
	int		 nenv;
	char		**tags;		/* `tags = a, b`, repeatable */
	int		 ntags;
	char		**files;	/* `file = LOCAL:REMOTE`, repeatable */
	int		 nfiles;
	char		**secrets;	/* `secret = STORE:PATH:FIELD:ENV` */
	int		 nsecrets;
	char		*egress;
	int64_t		 max_lifetime;	/* ms, 0 = budget's */
	int64_t		 warm;		/* -1 = auto */
	int64_t		 warm_min;
	int64_t		 warm_max;
	int64_t		 max;		/* 0 = unlimited */
	int64_t		 min_remaining;	/* ms, 0: the default lease ttl */
	int64_t		 max_starting;	/* 4 */
	int64_t		 demand_window;	/* ms, 60s: warm = auto's memory */
	int64_t		 start_poll;	/* ms, 50: first Get after a refill */
	bool		 is_default;
};

struct config {
	char			*path;
	struct config_daemon	 daemon;
	struct config_gateway	 gateway;
	struct config_budget	 budget;
	struct config_budget	*user_budgets;
	int			 nuser_budgets;
	struct config_budget	*group_budgets;
	int			 ngroup_budgets;
	struct config_pool	*pools;
	int			 npools;
};

/* Fills `cfg` with every default. */
void	config_defaults(struct config *);

/*
 * Reads `path` over the defaults.  Returns 0, or -1 with *err set to a
 * heap message "PATH:LINE: what is wrong" (caller frees); cfg is then
 * left with defaults only, never half-read.
 */
int	config_load(const char *path, struct config *, char **err);

/* The same for a string (for tests); `name` stands in for the path. */
int	config_load_string(const char *name, const char *text,
	    struct config *, char **err);

void	config_free(struct config *);

/* The pool named `name`, or NULL. */
struct config_pool	*config_pool_find(struct config *, const char *name);

#endif
