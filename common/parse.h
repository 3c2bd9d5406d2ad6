/* Parsing and formatting of human quantities: durations and sizes. */
#ifndef SBX_PARSE_H
#define SBX_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Durations: "250ms", "90s", "30m", "2h", "1d", compounds such as "1h30m",
 * and a bare number meaning seconds.  Result in milliseconds.  Returns -1
 * (and sets *err to a static message) on anything else, on negative values
 * and on overflow.
 */
int	 parse_duration(const char *, int64_t *ms, const char **err);

/*
 * Sizes: a number with an optional unit: B, K/KB (1000), Ki/KiB (1024),
 * M/MB, Mi/MiB, G/GB, Gi/GiB, T…  Case of the unit letter is accepted
 * ("512mi" = "512Mi").  Result in bytes; -1 and *err on error/overflow.
 */
int	 parse_size(const char *, uint64_t *bytes, const char **err);

/* Booleans: true/false, yes/no, on/off, 1/0 (case-insensitive). */
int	 parse_bool(const char *, int *out, const char **err);

/*
 * Integers in [min, max] (decimal only, no trailing junk).
 */
int	 parse_int(const char *, int64_t min, int64_t max, int64_t *out,
	    const char **err);

/* Formats a duration compactly: "4m12s", "2h3m", "850ms", "0s". */
char	*format_duration(char *buf, size_t len, int64_t ms);

/* Formats a byte count: "512B", "1.5KiB", "10.0MiB". */
char	*format_size(char *buf, size_t len, uint64_t bytes);

#endif
