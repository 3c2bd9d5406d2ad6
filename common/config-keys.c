/*
 * The sandboxd.conf key table: every key of every section with its type,
 * range, default and place in its struct, and the walks over the table
 * that apply defaults, find a key by name, give budget keys their `set`
 * bits, carry [budget] into per-user and per-group budgets and free what
 * keys own.  Adding a key is one line here.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config-internal.h"

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

#define D(f)	K_DAEMON, #f, .off = offsetof(struct config_daemon, f)
#define G(f)	K_GATEWAY, #f, .off = offsetof(struct config_gateway, f)
#define BU(f)	K_BUDGET, #f, .off = offsetof(struct config_budget, f)
#define P(f)	K_POOL, #f, .off = offsetof(struct config_pool, f)
#define STR	.type = T_STRING
#define BOOL	.type = T_BOOL
#define INT(a, b)	.type = T_INT, .min = (a), .max = (b)
#define DUR(a, b)	.type = T_DURATION, .min = (a), .max = (b)
#define SIZE(a, b)	.type = T_SIZE, .min = (a), .max = (b)

/* Every key of every section; budget keys' order gives their `set` bits. */
const struct cfg_key cfg_keys[] = {
	{ D(socket), STR },
	{ D(state_dir), STR },
	{ D(runtime_dir), STR },
	{ D(verbose), INT(-1, 2), .def = "0" },
	{ D(max_line), SIZE(1024, 1LL << 30), .def = "16Mi" },
	{ D(max_clients), INT(1, 1000000), .def = "1024" },
	{ D(max_clients_per_uid), INT(1, 1000000), .def = "256" },
	{ D(max_inflight), INT(1, 100000), .def = "64" },
	{ D(max_streams), INT(1, 100000), .def = "64" },
	{ D(admin_group), STR },
	{ D(metrics_listen), STR },
	{ D(metrics_allow_remote), BOOL, .def = "no" },
	{ D(idle_timeout), DUR(0, 365 * DAY), .def = "5m" },
	{ D(line_timeout), DUR(SEC, DAY), .def = "30s" },
	{ D(write_timeout), DUR(SEC, DAY), .def = "60s" },
	{ D(keep_warm_on_shutdown), BOOL, .def = "no" },
	{ D(exec_ring), SIZE(0, 1LL << 30), .def = "4Mi" },
	{ D(reconcile_interval), DUR(SEC, DAY), .def = "60s" },

	{ G(address), STR, .def = "local", .flags = F_ADDRESS_SET },
	{ G(tls), BOOL, .def = "no", .flags = F_TLS_SET },
	{ G(ca_file), STR },
	{ G(channels), INT(1, 64), .def = "4" },
	{ G(api_key_file), STR },
	{ G(entity), STR },
	{ G(project), STR },
	{ G(call_timeout), DUR(SEC, DAY), .def = "30s" },
	{ G(exec_timeout), DUR(SEC, 7 * DAY), .def = "10m" },
	{ G(start_timeout), DUR(SEC, DAY), .def = "5m" },
	{ G(start_poll), DUR(10, 2 * SEC), .def = "200ms" },
	{ G(keepalive), DUR(0, DAY), .def = "30s" },
	{ G(local_binary), STR },
	{ G(local_isolation), STR, .def = "auto" },
	{ G(local_start_delay), DUR(0, HOUR), .def = "0" },
	{ G(local_root), STR },

	{ BU(max_sandboxes), INT(0, 1000000), .def = "0" },
	{ BU(max_lifetime), DUR(SEC, 30 * DAY), .def = "1h" },
	{ BU(max_lease_ttl), DUR(SEC, 365 * DAY), .def = "24h" },
	{ BU(default_lease_ttl), DUR(SEC, 365 * DAY), .def = "15m" },
	{ BU(max_leases), INT(0, 1000000), .def = "0" },
	{ BU(sandbox_seconds), INT(0, 1000000000000LL), .def = "0" },
	{ BU(window), DUR(SEC, 365 * DAY), .def = "24h" },

	{ P(image), STR },
	{ P(cpu), STR },
	{ P(memory), STR },
	{ P(gpu_count), INT(0, 64), .def = "0" },
	{ P(gpu_type), STR },
	{ P(env), .type = T_KV, .count_off = offsetof(struct config_pool, nenv) },
	{ P(tags), .type = T_LIST,
	    .count_off = offsetof(struct config_pool, ntags) },
	{ K_POOL, "file", .type = T_LIST,
	    .off = offsetof(struct config_pool, files),
	    .count_off = offsetof(struct config_pool, nfiles) },
	{ K_POOL, "secret", .type = T_LIST,
	    .off = offsetof(struct config_pool, secrets),
	    .count_off = offsetof(struct config_pool, nsecrets) },
	{ P(egress), STR },
	{ P(max_lifetime), DUR(0, 30 * DAY), .def = "0" },
	{ P(warm), INT(0, 10000), .def = "1", .flags = F_AUTO },
	{ P(warm_min), INT(0, 10000), .def = "0" },
	{ P(warm_max), INT(0, 10000), .def = "8" },
	{ P(max), INT(0, 100000), .def = "0" },
	{ P(min_remaining), DUR(0, 30 * DAY), .def = "0" },
	{ P(max_starting), INT(1, 1000), .def = "4" },
	{ P(demand_window), DUR(SEC, DAY), .def = "60s" },
	{ P(start_poll), DUR(10, 2 * SEC), .def = "50ms" },
	{ K_POOL, "default", .type = T_BOOL,
	    .off = offsetof(struct config_pool, is_default), .def = "no",
	    .flags = F_DEFAULT_POOL },
};
const size_t cfg_nkeys = sizeof cfg_keys / sizeof cfg_keys[0];

/* The bit a budget key sets in `set`: its rank among budget keys. */
int
cfg_budget_bit(const struct cfg_key *k)
{
	size_t	i;
	int	bit = 0;

	for (i = 0; &cfg_keys[i] != k; i++)
		if (cfg_keys[i].kind == K_BUDGET)
			bit++;
	return bit;
}

/* Applies the default of every key of `kind` to the struct at `base`. */
void
cfg_apply_defaults(enum cfg_kind kind, void *base)
{
	size_t	i;

	for (i = 0; i < cfg_nkeys; i++) {
		if (cfg_keys[i].kind != kind || cfg_keys[i].def == NULL)
			continue;
		if (cfg_set(NULL, &cfg_keys[i], base, cfg_keys[i].def) != 1)
			abort();	/* a bad default in the table above */
	}
}

/* The key of this name for this kind of section, or NULL. */
const struct cfg_key *
cfg_find_key(enum cfg_kind kind, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg_nkeys; i++)
		if (cfg_keys[i].kind == kind &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* Per-user and per-group budgets start from [budget] where not set. */
void
cfg_inherit(struct config_budget *b, const struct config_budget *from)
{
	size_t	i;

	for (i = 0; i < cfg_nkeys; i++) {
		if (cfg_keys[i].kind != K_BUDGET ||
		    (b->set & (1ULL << cfg_budget_bit(&cfg_keys[i]))))
			continue;
		memcpy((char *)b + cfg_keys[i].off,
		    (const char *)from + cfg_keys[i].off, sizeof(int64_t));
	}
}

/* Frees every string and list a key table entry can own. */
void
cfg_free_keys(enum cfg_kind kind, void *base)
{
	size_t	 i;
	int	 j, *n;
	void	*dst;

	for (i = 0; i < cfg_nkeys; i++) {
		if (cfg_keys[i].kind != kind)
			continue;
		dst = (char *)base + cfg_keys[i].off;
		n = (int *)((char *)base + cfg_keys[i].count_off);
		if (cfg_keys[i].type == T_STRING)
			free(*(char **)dst);
		else if (cfg_keys[i].type == T_LIST) {
			for (j = 0; j < *n; j++)
				free((*(char ***)dst)[j]);
			free(*(char ***)dst);
		} else if (cfg_keys[i].type == T_KV) {
			for (j = 0; j < *n; j++) {
				free((*(struct config_kv **)dst)[j].key);
				free((*(struct config_kv **)dst)[j].value);
			}
			free(*(struct config_kv **)dst);
		}
	}
}
