/*
 * sandboxd.conf: one table of keys drives defaults, parsing and errors.
 *
 * libinih splits lines into sections and key = value pairs; our reader
 * feeds it one line at a time, so it knows the line number for messages
 * and sees every section header (even an empty one) as it goes by.
 *
 * A struct config given to config_load* must be zeroed or hold a config
 * from these functions: whatever it held is freed first.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "parse.h"
#include "xmalloc.h"

#define CONFIG_MAX_FILE		(1 << 20)	/* bigger is surely a mistake */
#define CONFIG_MAX_LINE		4096

#define SEC	1000LL
#define MIN	(60 * SEC)
#define HOUR	(60 * MIN)
#define DAY	(24 * HOUR)

/* Which struct a key lives in. */
enum cfg_kind { K_DAEMON, K_GATEWAY, K_BUDGET, K_POOL };

enum cfg_type { T_STRING, T_BOOL, T_INT, T_DURATION, T_SIZE, T_LIST, T_KV };

#define F_AUTO		0x1	/* "auto" is accepted and stored as -1 */
#define F_TLS_SET	0x2	/* also marks gateway.tls_set */
#define F_DEFAULT_POOL	0x4	/* at most one pool may say yes */

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
static const struct cfg_key cfg_keys[] = {
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
	{ D(keep_warm_on_shutdown), BOOL, .def = "no" },
	{ D(exec_ring), SIZE(0, 1LL << 30), .def = "4Mi" },
	{ D(reconcile_interval), DUR(SEC, DAY), .def = "60s" },

	{ G(address), STR, .def = "local" },
	{ G(tls), BOOL, .def = "no", .flags = F_TLS_SET },
	{ G(ca_file), STR },
	{ G(channels), INT(1, 64), .def = "4" },
	{ G(api_key_file), STR },
	{ G(entity), STR },
	{ G(project), STR },
	{ G(call_timeout), DUR(SEC, DAY), .def = "30s" },
	{ G(exec_timeout), DUR(SEC, 7 * DAY), .def = "10m" },
	{ G(start_timeout), DUR(SEC, DAY), .def = "5m" },
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
	{ K_POOL, "default", .type = T_BOOL,
	    .off = offsetof(struct config_pool, is_default), .def = "no",
	    .flags = F_DEFAULT_POOL },
};
#define NKEYS	(sizeof cfg_keys / sizeof cfg_keys[0])

/* Where the current section's keys go. */
enum cfg_sect { S_NONE, S_DAEMON, S_GATEWAY, S_BUDGET, S_USER, S_GROUP,
    S_POOL };

struct cfg_seen {
	char	*name;
	int	 line;
};

struct cfg_ctx {
	struct config	*cfg;
	const char	*path;
	const char	*p, *end;	/* unread text */
	int		 lineno;
	enum cfg_sect	 sect;
	int		 index;		/* pool or user/group budget */
	char		*secname;	/* for messages: "pool.x" */
	int		 key_line[NKEYS];	/* first line of each key */
	struct cfg_seen	*seen;		/* sections so far */
	int		 nseen;
	int		 default_line;	/* the pool that said default */
	char		*err;
};

static int	cfg_set(struct cfg_ctx *, const struct cfg_key *, void *,
		    const char *);

/* Records the first error as "PATH:LINE: …"; later ones are dropped. */
static int __attribute__((format(printf, 2, 3)))
cfg_error(struct cfg_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (ctx->err != NULL)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	ctx->err = xasprintf("%s:%d: %s", ctx->path, ctx->lineno,
	    msg != NULL ? msg : "out of memory");
	free(msg);
	return 0;
}

/* Which key table a kind of section uses. */
static enum cfg_kind
cfg_sect_kind(enum cfg_sect s)
{
	switch (s) {
	case S_DAEMON:
		return K_DAEMON;
	case S_GATEWAY:
		return K_GATEWAY;
	case S_POOL:
		return K_POOL;
	default:
		return K_BUDGET;
	}
}

/* The struct the current section writes into. */
static void *
cfg_target(struct cfg_ctx *ctx)
{
	struct config	*cfg = ctx->cfg;

	switch (ctx->sect) {
	case S_DAEMON:
		return &cfg->daemon;
	case S_GATEWAY:
		return &cfg->gateway;
	case S_BUDGET:
		return &cfg->budget;
	case S_USER:
		return &cfg->user_budgets[ctx->index];
	case S_GROUP:
		return &cfg->group_budgets[ctx->index];
	case S_POOL:
		return &cfg->pools[ctx->index];
	default:
		return NULL;
	}
}

/* The bit a budget key sets in `set`: its rank among budget keys. */
static int
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
static void
cfg_apply_defaults(enum cfg_kind kind, void *base)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++) {
		if (cfg_keys[i].kind != kind || cfg_keys[i].def == NULL)
			continue;
		if (cfg_set(NULL, &cfg_keys[i], base, cfg_keys[i].def) != 1)
			abort();	/* a bad default in the table above */
	}
}

/* Fills every default, for a zeroed struct. */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg_apply_defaults(K_DAEMON, &cfg->daemon);
	cfg_apply_defaults(K_GATEWAY, &cfg->gateway);
	cfg_apply_defaults(K_BUDGET, &cfg->budget);
	cfg->gateway.tls_set = false;
}

/* The full key name for messages: "budget.user.bob.window". */
static void
cfg_bad_value(struct cfg_ctx *ctx, const struct cfg_key *k, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
static void
cfg_bad_value(struct cfg_ctx *ctx, const struct cfg_key *k, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*why;

	if (ctx == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) == -1)
		why = NULL;
	va_end(ap);
	cfg_error(ctx, "bad value for %s.%s: %s", ctx->secname, k->name,
	    why != NULL ? why : "?");
	free(why);
}

/* Formats a limit the way the key's type is written. */
static const char *
cfg_fmt_limit(const struct cfg_key *k, int64_t v, char *buf, size_t len)
{
	if (k->type == T_DURATION)
		return format_duration(buf, len, v);
	if (k->type == T_SIZE)
		return format_size(buf, len, (uint64_t)v);
	snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* Range check shared by ints, durations and sizes. */
static int
cfg_check_range(struct cfg_ctx *ctx, const struct cfg_key *k, int64_t v,
    const char *value)
{
	char	lo[32], hi[32];

	if (v >= k->min && v <= k->max)
		return 1;
	cfg_bad_value(ctx, k, "'%s' is out of range (%s..%s)", value,
	    cfg_fmt_limit(k, k->min, lo, sizeof lo),
	    cfg_fmt_limit(k, k->max, hi, sizeof hi));
	return 0;
}

/* An integer, or "auto" (-1) where the key allows it. */
static int
cfg_set_int(struct cfg_ctx *ctx, const struct cfg_key *k, int64_t *dst,
    const char *value)
{
	const char	*err;
	int64_t		 v;

	if ((k->flags & F_AUTO) && strcmp(value, "auto") == 0) {
		*dst = -1;
		return 1;
	}
	if (parse_int(value, INT64_MIN, INT64_MAX, &v, &err) == -1) {
		if (strcmp(err, "out of range") == 0)
			return cfg_check_range(ctx, k, value[0] == '-' ?
			    INT64_MIN : INT64_MAX, value);
		cfg_bad_value(ctx, k, "'%s' is not an integer%s", value,
		    (k->flags & F_AUTO) ? " or \"auto\"" : "");
		return 0;
	}
	if (!cfg_check_range(ctx, k, v, value))
		return 0;
	*dst = v;
	return 1;
}

/* A duration in milliseconds. */
static int
cfg_set_duration(struct cfg_ctx *ctx, const struct cfg_key *k, int64_t *dst,
    const char *value)
{
	int64_t	v;

	if (parse_duration(value, &v, NULL) == -1) {
		cfg_bad_value(ctx, k,
		    "'%s' is not a duration (e.g. 90s, 30m, 2h)", value);
		return 0;
	}
	if (!cfg_check_range(ctx, k, v, value))
		return 0;
	*dst = v;
	return 1;
}

/* A size in bytes. */
static int
cfg_set_size(struct cfg_ctx *ctx, const struct cfg_key *k, uint64_t *dst,
    const char *value)
{
	uint64_t	v;

	if (parse_size(value, &v, NULL) == -1) {
		cfg_bad_value(ctx, k,
		    "'%s' is not a size (e.g. 512Ki, 16Mi, 1G)", value);
		return 0;
	}
	if (!cfg_check_range(ctx, k, v > INT64_MAX ? INT64_MAX : (int64_t)v,
	    value))
		return 0;
	*dst = v;
	return 1;
}

/* A boolean; gateway.tls also remembers it was given. */
static int
cfg_set_bool(struct cfg_ctx *ctx, const struct cfg_key *k, void *base,
    const char *value)
{
	int	v;

	if (parse_bool(value, &v, NULL) == -1) {
		cfg_bad_value(ctx, k, "'%s' is not a boolean (yes/no, "
		    "true/false, on/off, 1/0)", value);
		return 0;
	}
	*(bool *)((char *)base + k->off) = v;
	if ((k->flags & F_TLS_SET) && ctx != NULL)
		((struct config_gateway *)base)->tls_set = true;
	return 1;
}

/* Appends comma-separated items (trimmed, none empty) to a string list. */
static int
cfg_set_list(struct cfg_ctx *ctx, const struct cfg_key *k, void *base,
    const char *value)
{
	char	***list = (char ***)((char *)base + k->off);
	int	 *n = (int *)((char *)base + k->count_off);
	const char *p = value, *q, *s, *e;

	for (;;) {
		q = strchr(p, ',');
		e = q != NULL ? q : p + strlen(p);
		for (s = p; s < e && (*s == ' ' || *s == '\t'); s++)
			;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s) {
			cfg_bad_value(ctx, k, "'%s' has an empty item", value);
			return 0;
		}
		*list = xreallocarray(*list, (size_t)*n + 1, sizeof **list);
		(*list)[(*n)++] = xstrndup(s, (size_t)(e - s));
		if (q == NULL)
			return 1;
		p = q + 1;
	}
}

/* True when `s` (length n) is a valid environment variable name. */
static bool
cfg_env_name(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_", s[i]) == NULL)
			return false;
	return true;
}

/* Appends one KEY=VALUE pair; a key given twice is a mistake. */
static int
cfg_set_kv(struct cfg_ctx *ctx, const struct cfg_key *k, void *base,
    const char *value)
{
	struct config_kv **kv = (struct config_kv **)((char *)base + k->off);
	int		  *n = (int *)((char *)base + k->count_off), i;
	const char	  *eq = strchr(value, '=');
	size_t		   klen;

	if (eq == NULL || !cfg_env_name(value, (size_t)(eq - value))) {
		cfg_bad_value(ctx, k, "'%s' is not KEY=VALUE (KEY: letters, "
		    "digits and _)", value);
		return 0;
	}
	klen = (size_t)(eq - value);
	for (i = 0; i < *n; i++) {
		if (strlen((*kv)[i].key) == klen &&
		    strncmp((*kv)[i].key, value, klen) == 0) {
			cfg_bad_value(ctx, k, "'%.*s' is set twice", (int)klen,
			    value);
			return 0;
		}
	}
	*kv = xreallocarray(*kv, (size_t)*n + 1, sizeof **kv);
	(*kv)[*n].key = xstrndup(value, klen);
	(*kv)[*n].value = xstrdup(eq + 1);
	(*n)++;
	return 1;
}

/*
 * Parses `value` into the struct at `base` by the key's type.  Returns 1,
 * or 0 after recording an error (ctx is NULL for the table's defaults).
 */
static int
cfg_set(struct cfg_ctx *ctx, const struct cfg_key *k, void *base,
    const char *value)
{
	void	*dst = (char *)base + k->off;

	if (*value == '\0') {
		cfg_bad_value(ctx, k, "empty value");
		return 0;
	}
	switch (k->type) {
	case T_STRING:
		free(*(char **)dst);
		*(char **)dst = xstrdup(value);
		return 1;
	case T_BOOL:
		return cfg_set_bool(ctx, k, base, value);
	case T_INT:
		return cfg_set_int(ctx, k, dst, value);
	case T_DURATION:
		return cfg_set_duration(ctx, k, dst, value);
	case T_SIZE:
		return cfg_set_size(ctx, k, dst, value);
	case T_LIST:
		return cfg_set_list(ctx, k, base, value);
	case T_KV:
		return cfg_set_kv(ctx, k, base, value);
	}
	return 0;
}

/* The key of this name for this kind of section, or NULL. */
static const struct cfg_key *
cfg_find_key(enum cfg_kind kind, const char *name)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].kind == kind &&
		    strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* Side rules after a value is stored: budget bits, the one default pool. */
static int
cfg_after_set(struct cfg_ctx *ctx, const struct cfg_key *k, void *base)
{
	struct config_pool	*pool = base;

	if (k->kind == K_BUDGET)
		((struct config_budget *)base)->set |= 1ULL << cfg_budget_bit(k);
	if ((k->flags & F_DEFAULT_POOL) && pool->is_default) {
		if (ctx->default_line != 0)
			return cfg_error(ctx, "[%s] cannot be the default pool: "
			    "the pool at line %d already is", ctx->secname,
			    ctx->default_line);
		ctx->default_line = ctx->lineno;
	}
	return 1;
}

/* inih's callback: one key = value of the current section. */
static int
cfg_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_ctx		*ctx = user;
	const struct cfg_key	*k;
	void			*base;
	size_t			 i;

	if (ctx->err != NULL)
		return 0;
	if (ctx->sect == S_NONE)
		return cfg_error(ctx, "key '%s' is outside any section "
		    "(start with [daemon], [gateway], [budget] or [pool.NAME])",
		    name);
	if ((k = cfg_find_key(cfg_sect_kind(ctx->sect), name)) == NULL)
		return cfg_error(ctx, "unknown key '%s' in [%s]", name,
		    ctx->secname);
	i = (size_t)(k - cfg_keys);
	if (k->type != T_LIST && k->type != T_KV && ctx->key_line[i] != 0)
		return cfg_error(ctx, "%s.%s is set twice (first at line %d)",
		    ctx->secname, name, ctx->key_line[i]);
	ctx->key_line[i] = ctx->lineno;
	base = cfg_target(ctx);
	if (!cfg_set(ctx, k, base, value))
		return 0;
	return cfg_after_set(ctx, k, base);
}

/* True when `s` is a non-empty run of letters, digits, '_', '-' (and
 * '.' where user and group names allow it). */
static bool
cfg_name_ok(const char *s, bool dots)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-", *s) == NULL && !(dots && *s == '.'))
			return false;
	return true;
}

/* Appends a fresh budget, with the defaults, for [budget.user/group.X]. */
static int
cfg_new_budget(struct config_budget **arr, int *n, const char *name)
{
	*arr = xreallocarray(*arr, (size_t)*n + 1, sizeof **arr);
	memset(&(*arr)[*n], 0, sizeof **arr);
	cfg_apply_defaults(K_BUDGET, &(*arr)[*n]);
	(*arr)[*n].name = xstrdup(name);
	return (*n)++;
}

/* Appends a fresh pool with the defaults. */
static int
cfg_new_pool(struct config *cfg, const char *name)
{
	struct config_pool	*p;

	cfg->pools = xreallocarray(cfg->pools, (size_t)cfg->npools + 1,
	    sizeof *cfg->pools);
	p = &cfg->pools[cfg->npools];
	memset(p, 0, sizeof *p);
	cfg_apply_defaults(K_POOL, p);
	p->name = xstrdup(name);
	return cfg->npools++;
}

/* Opens section `name`: checks it and points keys at its struct. */
static int
cfg_open_section(struct cfg_ctx *ctx, const char *name)
{
	struct config	*cfg = ctx->cfg;
	int		 i;

	for (i = 0; i < ctx->nseen; i++)
		if (strcmp(ctx->seen[i].name, name) == 0)
			return cfg_error(ctx, "duplicate section [%s] (first at "
			    "line %d)", name, ctx->seen[i].line);
	if (strcmp(name, "daemon") == 0)
		ctx->sect = S_DAEMON;
	else if (strcmp(name, "gateway") == 0)
		ctx->sect = S_GATEWAY;
	else if (strcmp(name, "budget") == 0)
		ctx->sect = S_BUDGET;
	else if (strncmp(name, "budget.user.", 12) == 0 &&
	    cfg_name_ok(name + 12, true)) {
		ctx->sect = S_USER;
		ctx->index = cfg_new_budget(&cfg->user_budgets,
		    &cfg->nuser_budgets, name + 12);
	} else if (strncmp(name, "budget.group.", 13) == 0 &&
	    cfg_name_ok(name + 13, true)) {
		ctx->sect = S_GROUP;
		ctx->index = cfg_new_budget(&cfg->group_budgets,
		    &cfg->ngroup_budgets, name + 13);
	} else if (strncmp(name, "pool.", 5) == 0 && cfg_name_ok(name + 5,
	    false)) {
		ctx->sect = S_POOL;
		ctx->index = cfg_new_pool(cfg, name + 5);
	} else if (strncmp(name, "pool.", 5) == 0)
		return cfg_error(ctx, "bad pool name '%s' in [%s] (use letters, "
		    "digits, _ and -)", name + 5, name);
	else if (strncmp(name, "budget.user.", 12) == 0 ||
	    strncmp(name, "budget.group.", 13) == 0)
		return cfg_error(ctx, "bad user or group name in [%s]", name);
	else
		return cfg_error(ctx, "unknown section [%s]", name);
	ctx->seen = xreallocarray(ctx->seen, (size_t)ctx->nseen + 1,
	    sizeof *ctx->seen);
	ctx->seen[ctx->nseen].name = xstrdup(name);
	ctx->seen[ctx->nseen++].line = ctx->lineno;
	free(ctx->secname);
	ctx->secname = xstrdup(name);
	memset(ctx->key_line, 0, sizeof ctx->key_line);
	return 1;
}

/* Looks at a line before inih does: section headers are ours to check. */
static int
cfg_scan_line(struct cfg_ctx *ctx, const char *line)
{
	const char	*p = line, *close;
	char		*name;
	int		 rc;

	if (ctx->lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	p += strspn(p, " \t");
	if (*p != '[')
		return 1;
	if ((close = strchr(p, ']')) == NULL)
		return cfg_error(ctx, "syntax error: missing ']' in section "
		    "header");
	for (p = close + 1; *p == ' ' || *p == '\t'; p++)
		;
	if (*p != '\0' && *p != '\n' && *p != '\r' && *p != ';' && *p != '#')
		return cfg_error(ctx, "syntax error: text after ']'");
	p = strchr(line, '[') + 1;
	name = xstrndup(p, (size_t)(close - p));
	rc = cfg_open_section(ctx, name);
	free(name);
	return rc;
}

/* inih's reader: the next line of the text, counted and checked. */
static char *
cfg_reader(char *str, int num, void *stream)
{
	struct cfg_ctx	*ctx = stream;
	const char	*nl;
	size_t		 len;

	if (ctx->err != NULL || ctx->p >= ctx->end)
		return NULL;
	nl = memchr(ctx->p, '\n', (size_t)(ctx->end - ctx->p));
	len = nl != NULL ? (size_t)(nl - ctx->p) + 1 : (size_t)(ctx->end -
	    ctx->p);
	ctx->lineno++;
	if (len + 1 > (size_t)num) {
		cfg_error(ctx, "line too long (at most %d bytes)", num - 2);
		return NULL;
	}
	memcpy(str, ctx->p, len);
	str[len] = '\0';
	ctx->p += len;
	if (!cfg_scan_line(ctx, str))
		return NULL;
	return str;
}

/* Per-user and per-group budgets start from [budget] where not set. */
static void
cfg_inherit(struct config_budget *b, const struct config_budget *from)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++) {
		if (cfg_keys[i].kind != K_BUDGET ||
		    (b->set & (1ULL << cfg_budget_bit(&cfg_keys[i]))))
			continue;
		memcpy((char *)b + cfg_keys[i].off,
		    (const char *)from + cfg_keys[i].off, sizeof(int64_t));
	}
}

/* Frees the parse state (not the config). */
static void
cfg_ctx_free(struct cfg_ctx *ctx)
{
	int	i;

	for (i = 0; i < ctx->nseen; i++)
		free(ctx->seen[i].name);
	free(ctx->seen);
	free(ctx->secname);
}

/* Parses `len` bytes of text; on error cfg keeps only the defaults. */
static int
cfg_parse(const char *name, const char *text, size_t len, struct config *cfg,
    char **err)
{
	struct cfg_ctx	ctx;
	int		rc, i;

	config_free(cfg);
	config_defaults(cfg);
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	ctx.path = name;
	ctx.p = text;
	ctx.end = text + len;
	if (memchr(text, '\0', len) != NULL) {
		ctx.lineno = 1;
		for (ctx.p = text; *ctx.p != '\0'; ctx.p++)
			ctx.lineno += *ctx.p == '\n';
		cfg_error(&ctx, "NUL byte in file");
	}
	ini_max_line = CONFIG_MAX_LINE;
	rc = ctx.err != NULL ? 0 : ini_parse_stream(cfg_reader, &ctx,
	    cfg_handler, &ctx);
	if (rc > 0 && (ctx.err == NULL || rc < ctx.lineno)) {
		free(ctx.err);
		ctx.err = NULL;
		ctx.lineno = rc;
		cfg_error(&ctx, "syntax error (expected [section] or "
		    "key = value)");
	}
	cfg_ctx_free(&ctx);
	if (ctx.err != NULL) {
		config_free(cfg);
		config_defaults(cfg);
		if (err != NULL)
			*err = ctx.err;
		else
			free(ctx.err);
		return -1;
	}
	for (i = 0; i < cfg->nuser_budgets; i++)
		cfg_inherit(&cfg->user_budgets[i], &cfg->budget);
	for (i = 0; i < cfg->ngroup_budgets; i++)
		cfg_inherit(&cfg->group_budgets[i], &cfg->budget);
	cfg->path = xstrdup(name);
	return 0;
}

/* Parses a string; `name` stands in for the path in messages. */
int
config_load_string(const char *name, const char *text, struct config *cfg,
    char **err)
{
	return cfg_parse(name, text, strlen(text), cfg, err);
}

/* Reads the whole file (bounded) and parses it. */
int
config_load(const char *path, struct config *cfg, char **err)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		if (err != NULL)
			*err = xasprintf("%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		config_free(cfg);
		config_defaults(cfg);
		return -1;
	}
	buf = xmalloc(CONFIG_MAX_FILE + 1);
	while (len <= CONFIG_MAX_FILE && (n = read(fd, buf + len,
	    CONFIG_MAX_FILE + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	rc = n == -1 ? errno : 0;
	close(fd);
	if (rc != 0 || len > CONFIG_MAX_FILE || S_ISDIR(st.st_mode)) {
		if (err != NULL)
			*err = xasprintf("%s: %s", path, rc != 0 ? strerror(rc) :
			    S_ISDIR(st.st_mode) ? "is a directory" :
			    "file too large (over 1 MiB)");
		free(buf);
		config_free(cfg);
		config_defaults(cfg);
		return -1;
	}
	rc = cfg_parse(path, buf, len, cfg, err);
	free(buf);
	return rc;
}

/* Frees every string and list a key table entry can own. */
static void
cfg_free_keys(enum cfg_kind kind, void *base)
{
	size_t	 i;
	int	 j, *n;
	void	*dst;

	for (i = 0; i < NKEYS; i++) {
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

/* Frees everything and leaves the struct zeroed (safe to free twice). */
void
config_free(struct config *cfg)
{
	int	i;

	cfg_free_keys(K_DAEMON, &cfg->daemon);
	cfg_free_keys(K_GATEWAY, &cfg->gateway);
	for (i = 0; i < cfg->nuser_budgets; i++)
		free(cfg->user_budgets[i].name);
	free(cfg->user_budgets);
	for (i = 0; i < cfg->ngroup_budgets; i++)
		free(cfg->group_budgets[i].name);
	free(cfg->group_budgets);
	for (i = 0; i < cfg->npools; i++) {
		cfg_free_keys(K_POOL, &cfg->pools[i]);
		free(cfg->pools[i].name);
	}
	free(cfg->pools);
	free(cfg->budget.name);
	free(cfg->path);
	memset(cfg, 0, sizeof *cfg);
}

/* The pool named `name`, or NULL. */
struct config_pool *
config_pool_find(struct config *cfg, const char *name)
{
	int	i;

	for (i = 0; name != NULL && i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}
