/*
 * sandboxd.conf: one table of keys (config-keys.c) drives defaults,
 * parsing and errors.  This file owns the parse: sections, the line
 * reader, errors with their line numbers, and load and free; a value is
 * config-value.c's.
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
#include "config-internal.h"
#include "xmalloc.h"

#define CONFIG_MAX_FILE		(1 << 20)	/* bigger is surely a mistake */
#define CONFIG_MAX_LINE		4096

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
	int		*key_line;	/* first line of each key */
	struct cfg_seen	*seen;		/* sections so far */
	int		 nseen;
	int		 default_line;	/* the pool that said default */
	char		*err;
};

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
void
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

/* Side rules after a value is stored: budget bits, the one default pool. */
static int
cfg_after_set(struct cfg_ctx *ctx, const struct cfg_key *k, void *base)
{
	struct config_pool	*pool = base;

	if (k->kind == K_BUDGET && (ctx->sect == S_USER ||
	    ctx->sect == S_GROUP) && strcmp(k->name, "max_sandboxes") == 0)
		return cfg_error(ctx, "max_sandboxes is host-wide: set it in "
		    "[budget], not in [%s]", ctx->secname);
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
	memset(ctx->key_line, 0, cfg_nkeys * sizeof *ctx->key_line);
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

/* Frees the parse state (not the config). */
static void
cfg_ctx_free(struct cfg_ctx *ctx)
{
	int	i;

	for (i = 0; i < ctx->nseen; i++)
		free(ctx->seen[i].name);
	free(ctx->seen);
	free(ctx->secname);
	free(ctx->key_line);
}

/* One budget's ttls: the default must be one a lease may have. */
static char *
cfg_check_budget(const char *file, const char *sect,
    const struct config_budget *b)
{
	if (b->default_lease_ttl > b->max_lease_ttl)
		return xasprintf("%s: [%s] default_lease_ttl (%llds) is longer "
		    "than max_lease_ttl (%llds)", file, sect,
		    (long long)(b->default_lease_ttl / 1000),
		    (long long)(b->max_lease_ttl / 1000));
	return NULL;
}

/* Rules between keys, once every section is read. */
static int
cfg_check_limits(const char *file, const struct config *cfg, char **err)
{
	char	*why, sect[300];
	int	 i;

	why = cfg_check_budget(file, "budget", &cfg->budget);
	for (i = 0; why == NULL && i < cfg->nuser_budgets; i++) {
		snprintf(sect, sizeof sect, "budget.user.%s",
		    cfg->user_budgets[i].name);
		why = cfg_check_budget(file, sect, &cfg->user_budgets[i]);
	}
	for (i = 0; why == NULL && i < cfg->ngroup_budgets; i++) {
		snprintf(sect, sizeof sect, "budget.group.%s",
		    cfg->group_budgets[i].name);
		why = cfg_check_budget(file, sect, &cfg->group_budgets[i]);
	}
	/* max_lifetime is the hard cap on any sandbox: pools' included. */
	for (i = 0; why == NULL && i < cfg->npools; i++) {
		if (cfg->pools[i].max_lifetime > cfg->budget.max_lifetime)
			why = xasprintf("%s: [pool.%s] max_lifetime (%llds) is "
			    "longer than [budget] max_lifetime (%llds), the "
			    "cap on any sandbox", file, cfg->pools[i].name,
			    (long long)(cfg->pools[i].max_lifetime / 1000),
			    (long long)(cfg->budget.max_lifetime / 1000));
	}
	if (why == NULL)
		return 0;
	if (err != NULL)
		*err = why;
	else
		free(why);
	return -1;
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
	ctx.key_line = xcalloc(cfg_nkeys, sizeof *ctx.key_line);
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
	if (cfg_check_limits(name, cfg, err) == -1) {
		config_free(cfg);
		config_defaults(cfg);
		return -1;
	}
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
