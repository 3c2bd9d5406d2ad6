/* Parsing and formatting of human quantities: durations, sizes, booleans. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

struct unit {
	const char	*name;
	uint64_t	 mult;
};

/* Duration units, largest first: compounds must go down this list. */
static const struct unit duration_units[] = {
	{ "d", 86400000 },
	{ "h", 3600000 },
	{ "m", 60000 },
	{ "s", 1000 },
	{ "ms", 1 },
};
#define NDURATION_UNITS (sizeof duration_units / sizeof duration_units[0])

/* Size units: decimal with and without "B", binary with "i" and "iB". */
static const struct unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "K", 1000ULL }, { "KB", 1000ULL },
	{ "Ki", 1ULL << 10 }, { "KiB", 1ULL << 10 },
	{ "M", 1000000ULL }, { "MB", 1000000ULL },
	{ "Mi", 1ULL << 20 }, { "MiB", 1ULL << 20 },
	{ "G", 1000000000ULL }, { "GB", 1000000000ULL },
	{ "Gi", 1ULL << 30 }, { "GiB", 1ULL << 30 },
	{ "T", 1000000000000ULL }, { "TB", 1000000000000ULL },
	{ "Ti", 1ULL << 40 }, { "TiB", 1ULL << 40 },
	{ "P", 1000000000000000ULL }, { "PB", 1000000000000000ULL },
	{ "Pi", 1ULL << 50 }, { "PiB", 1ULL << 50 },
	{ "E", 1000000000000000000ULL }, { "EB", 1000000000000000000ULL },
	{ "Ei", 1ULL << 60 }, { "EiB", 1ULL << 60 },
};
#define NSIZE_UNITS (sizeof size_units / sizeof size_units[0])

/* Sets *err when the caller asked for it; returns -1 for tail calls. */
static int
parse_fail(const char **err, const char *msg)
{
	if (err != NULL)
		*err = msg;
	return -1;
}

/* Reads a run of decimal digits into *v; NULL on none or on overflow. */
static const char *
parse_digits(const char *s, uint64_t *v, int *overflow)
{
	const char	*p;

	*v = 0;
	*overflow = 0;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			*overflow = 1;
		else
			*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return p == s ? NULL : p;
}

/* Finds the duration unit at the start of `s`, longest name first. */
static int
duration_unit(const char *s, size_t *ulen)
{
	size_t	i;

	if (strncmp(s, "ms", 2) == 0) {
		*ulen = 2;
		return NDURATION_UNITS - 1;
	}
	for (i = 0; i < NDURATION_UNITS - 1; i++) {
		if (s[0] == duration_units[i].name[0]) {
			*ulen = 1;
			return (int)i;
		}
	}
	return -1;
}

/* A bare number of seconds, or number+unit groups in falling order. */
int
parse_duration(const char *s, int64_t *ms, const char **err)
{
	const char	*p = s;
	uint64_t	 v, total = 0;
	size_t		 ulen;
	int		 overflow, u, last = -1;

	if (s == NULL || *s == '\0')
		return parse_fail(err, "empty duration");
	if (*s == '-')
		return parse_fail(err, "negative duration");
	while (*p != '\0') {
		if ((p = parse_digits(p, &v, &overflow)) == NULL)
			return parse_fail(err, "expected a number");
		if (overflow)
			return parse_fail(err, "duration too large");
		if (*p == '\0' && last == -1) {
			u = 3;			/* bare number: seconds */
			ulen = 0;
		} else if (*p == '\0')
			return parse_fail(err, "missing unit (e.g. 1h30m)");
		else if ((u = duration_unit(p, &ulen)) < 0)
			return parse_fail(err, "unknown unit (use ms, s, m, h, d)");
		if (u <= last)
			return parse_fail(err,
			    "units must go from large to small, each once");
		last = u;
		p += ulen;
		if (v > (uint64_t)INT64_MAX / duration_units[u].mult ||
		    v * duration_units[u].mult > (uint64_t)INT64_MAX - total)
			return parse_fail(err, "duration too large");
		total += v * duration_units[u].mult;
	}
	*ms = (int64_t)total;
	return 0;
}

/* The size unit named exactly `s` (case-insensitive), or NULL. */
static const struct unit *
size_unit(const char *s)
{
	size_t	i;

	/* "512mi" means Mi: only the letter's case is free, so no clashes. */
	for (i = 0; i < NSIZE_UNITS; i++)
		if (strcasecmp(s, size_units[i].name) == 0)
			return &size_units[i];
	return NULL;
}

/* A whole or decimal number with an optional unit; fractions round down. */
int
parse_size(const char *s, uint64_t *bytes, const char **err)
{
	const struct unit	*u;
	const char		*p, *q;
	uint64_t		 v, frac = 0, scale = 1;
	unsigned __int128	 total;
	int			 overflow;

	if (s == NULL || *s == '\0')
		return parse_fail(err, "empty size");
	if (*s == '-')
		return parse_fail(err, "negative size");
	if ((p = parse_digits(s, &v, &overflow)) == NULL)
		return parse_fail(err, "expected a number");
	if (overflow)
		return parse_fail(err, "size too large");
	if (*p == '.') {
		for (q = ++p; *p >= '0' && *p <= '9'; p++) {
			if (scale <= UINT64_MAX / 100) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		}
		if (p == q)
			return parse_fail(err, "expected digits after '.'");
	}
	if ((u = size_unit(p)) == NULL)
		return parse_fail(err,
		    "unknown unit (use B, K, Ki, M, Mi, G, Gi, T, Ti)");
	if (frac != 0 && u->mult == 1)
		return parse_fail(err, "a byte count cannot have a fraction");
	total = (unsigned __int128)v * u->mult +
	    (unsigned __int128)frac * u->mult / scale;
	if (total > UINT64_MAX)
		return parse_fail(err, "size too large");
	*bytes = (uint64_t)total;
	return 0;
}

/* The usual spellings of yes and no, nothing looser. */
int
parse_bool(const char *s, int *out, const char **err)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t	i;

	for (i = 0; s != NULL && i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return parse_fail(err, "expected true/false, yes/no, on/off or 1/0");
}

/* Decimal with an optional sign, range-checked without strtoll's leniency. */
int
parse_int(const char *s, int64_t min, int64_t max, int64_t *out,
    const char **err)
{
	const char	*p;
	uint64_t	 v;
	int		 neg = 0, overflow;

	if (s == NULL || *s == '\0')
		return parse_fail(err, "empty number");
	p = s;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if ((p = parse_digits(p, &v, &overflow)) == NULL || *p != '\0')
		return parse_fail(err, "not a decimal integer");
	if (overflow || v > (uint64_t)INT64_MAX + neg)
		return parse_fail(err, "out of range");
	if (neg && v == (uint64_t)INT64_MAX + 1) {
		if (min > INT64_MIN)
			return parse_fail(err, "out of range");
		*out = INT64_MIN;
		return 0;
	}
	if ((neg ? -(int64_t)v : (int64_t)v) < min ||
	    (neg ? -(int64_t)v : (int64_t)v) > max)
		return parse_fail(err, "out of range");
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Every non-zero unit in turn, so the result parses back to the same value. */
char *
format_duration(char *buf, size_t len, int64_t ms)
{
	uint64_t	 v;
	size_t		 i, off = 0;
	int		 n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	if (ms < 0) {
		off += (size_t)snprintf(buf, len, "-");
		v = (uint64_t)0 - (uint64_t)ms;
	} else
		v = (uint64_t)ms;
	for (i = 0; i < NDURATION_UNITS && off < len; i++) {
		if (v / duration_units[i].mult == 0)
			continue;
		n = snprintf(buf + off, len - off, "%" PRIu64 "%s",
		    v / duration_units[i].mult, duration_units[i].name);
		if (n < 0)
			break;
		off += (size_t)n;
		v %= duration_units[i].mult;
	}
	return buf;
}

/* Bytes below 1 KiB exactly, else one decimal in the largest binary unit. */
char *
format_size(char *buf, size_t len, uint64_t bytes)
{
	static const char *const names[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	unsigned __int128	 tenths;
	size_t			 i;

	if (len == 0)
		return buf;
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 "B", bytes);
		return buf;
	}
	for (i = 0; i + 1 < sizeof names / sizeof names[0]; i++)
		if (bytes < (1ULL << (10 * (i + 2))))
			break;
	/* Round to the nearest tenth; 1023.96KiB becomes 1.0MiB. */
	tenths = ((unsigned __int128)bytes * 10 + (1ULL << (10 * (i + 1))) / 2)
	    >> (10 * (i + 1));
	if (tenths >= 10240 && i + 1 < sizeof names / sizeof names[0]) {
		i++;
		tenths = ((unsigned __int128)bytes * 10 +
		    (1ULL << (10 * (i + 1))) / 2) >> (10 * (i + 1));
	}
	snprintf(buf, len, "%" PRIu64 ".%u%s", (uint64_t)(tenths / 10),
	    (unsigned)(tenths % 10), names[i]);
	return buf;
}
