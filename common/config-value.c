/*
 * One sandboxd.conf value: parses the text of `key = value` by the key's
 * type (string, bool, int, duration, size, list, KEY=VALUE env) into the
 * field the key table names, checking the key's range.  What is wrong
 * goes to cfg_bad_value(), which names the key in full.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config-internal.h"
#include "parse.h"
#include "xmalloc.h"

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
int
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
		if ((k->flags & F_ADDRESS_SET) && ctx != NULL)
			((struct config_gateway *)base)->address_set = true;
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
