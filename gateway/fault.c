/*
 * Injected faults, for reliability tests of the gateway's clients.
 *
 *   unavailable=[METHOD:]P    answer UNAVAILABLE to a fraction P of calls
 *   latency=[METHOD:]DUR      delay every call by DUR before handling it
 *   break-stream=[METHOD:]N   end streams with UNAVAILABLE after N frames
 *   drop-reply=[METHOD:]N     do the work of the next N calls, then answer
 *                             UNAVAILABLE instead of the reply
 *
 * Faults come from --fault options and from a control file (one per line,
 * '#' comments) that is re-read on SIGUSR1; a reload replaces the file's
 * faults and keeps those of the command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw.h"
#include "log.h"
#include "parse.h"
#include "xmalloc.h"

enum fault_kind { F_UNAVAILABLE, F_LATENCY, F_BREAK, F_DROP };

struct fault {
	enum fault_kind		 kind;
	char			*method;	/* NULL: every method */
	double			 p;
	int64_t			 ms;
	uint64_t		 n;
	bool			 from_file;
	TAILQ_ENTRY(fault)	 entry;
};

static TAILQ_HEAD(, fault) faults = TAILQ_HEAD_INITIALIZER(faults);
static char		*fault_file;
static uint64_t		 rng;

static const char *kinds[] = { "unavailable", "latency", "break-stream",
    "drop-reply" };

/* xorshift64*: good enough to pick which calls fail. */
static double
rnd(void)
{
	if (rng == 0 && getrandom(&rng, sizeof rng, 0) != sizeof rng)
		rng = 88172645463325252ULL;
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Parses the value part of a fault; -1 with *err on error. */
static int
parse_value(struct fault *f, const char *v, const char **err)
{
	char	*end;
	int64_t	 n;

	switch (f->kind) {
	case F_UNAVAILABLE:
		errno = 0;
		f->p = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || f->p < 0 ||
		    f->p > 1) {
			*err = "unavailable wants a fraction between 0 and 1";
			return -1;
		}
		return 0;
	case F_LATENCY:
		return parse_duration(v, &f->ms, err);
	case F_BREAK:
	case F_DROP:
		if (parse_int(v, 1, INT32_MAX, &n, err) == -1)
			return -1;
		f->n = (uint64_t)n;
		return 0;
	}
	return -1;
}

int
fault_add(const char *spec, bool from_file, const char **err)
{
	struct fault	 f = { .from_file = from_file }, *fp;
	const char	*eq, *v, *colon;
	size_t		 i;

	if ((eq = strchr(spec, '=')) == NULL) {
		*err = "a fault is KIND=[METHOD:]VALUE";
		return -1;
	}
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strlen(kinds[i]) == (size_t)(eq - spec) &&
		    strncmp(spec, kinds[i], eq - spec) == 0)
			break;
	if (i == sizeof kinds / sizeof kinds[0]) {
		*err = "unknown fault kind (unavailable, latency, "
		    "break-stream, drop-reply)";
		return -1;
	}
	f.kind = i;
	v = eq + 1;
	if ((colon = strchr(v, ':')) != NULL) {
		if (server_method_name(v, colon - v) == NULL) {
			*err = "unknown method name in fault";
			return -1;
		}
		f.method = xstrndup(v, colon - v);
		v = colon + 1;
	}
	if (parse_value(&f, v, err) == -1) {
		free(f.method);
		return -1;
	}
	fp = xmalloc(sizeof *fp);
	*fp = f;
	TAILQ_INSERT_TAIL(&faults, fp, entry);
	return 0;
}

/* Drops the faults read from the control file (or all of them). */
static void
fault_clear(bool file_only)
{
	struct fault	*f, *tmp;

	TAILQ_FOREACH_SAFE(f, &faults, entry, tmp) {
		if (file_only && !f->from_file)
			continue;
		TAILQ_REMOVE(&faults, f, entry);
		free(f->method);
		free(f);
	}
}

/* Reads the control file; a missing file means no file faults. */
int
fault_load_file(const char *path)
{
	FILE		*fp;
	char		*line = NULL, *s;
	size_t		 cap = 0, len;
	unsigned	 lineno = 0;
	const char	*err;
	int		 rc = 0;

	fault_clear(true);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		len = strlen(s);
		while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
			s[--len] = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if (fault_add(s, true, &err) == -1) {
			log_warnx("%s:%u: %s: %s", path, lineno, s, err);
			rc = -1;
		}
	}
	free(line);
	fclose(fp);
	return rc;
}

void
fault_set_file(const char *path)
{
	free(fault_file);
	fault_file = path != NULL ? xstrdup(path) : NULL;
}

/* SIGUSR1: re-reads the control file. */
void
fault_reload(void)
{
	struct fault	*f;
	size_t		 n = 0;

	if (fault_file == NULL) {
		log_info("SIGUSR1: no --fault-file to reload");
		return;
	}
	fault_load_file(fault_file);
	TAILQ_FOREACH(f, &faults, entry)
		n++;
	log_info("faults reloaded from %s: %zu active", fault_file, n);
}

void
fault_free(void)
{
	fault_clear(false);
	fault_set_file(NULL);
}

/* The first fault of a kind that applies to a method. */
static struct fault *
fault_find(enum fault_kind kind, const char *method, struct fault *after)
{
	struct fault	*f = after ? TAILQ_NEXT(after, entry) :
	    TAILQ_FIRST(&faults);

	for (; f != NULL; f = TAILQ_NEXT(f, entry))
		if (f->kind == kind && (f->method == NULL ||
		    strcmp(f->method, method) == 0))
			return f;
	return NULL;
}

bool
fault_unavailable(const char *method)
{
	struct fault	*f = NULL;

	while ((f = fault_find(F_UNAVAILABLE, method, f)) != NULL)
		if (f->p > 0 && rnd() < f->p)
			return true;
	return false;
}

int64_t
fault_latency_ms(const char *method)
{
	struct fault	*f = NULL;
	int64_t		 ms = 0;

	while ((f = fault_find(F_LATENCY, method, f)) != NULL)
		ms += f->ms;
	return ms;
}

/* Consumes one of the N drops of the first matching drop-reply fault. */
bool
fault_drop_reply(const char *method)
{
	struct fault	*f = NULL;

	while ((f = fault_find(F_DROP, method, f)) != NULL) {
		if (f->n > 0) {
			f->n--;
			return true;
		}
	}
	return false;
}

unsigned
fault_break_stream(const char *method)
{
	struct fault	*f = fault_find(F_BREAK, method, NULL);

	return f != NULL ? (unsigned)f->n : 0;
}
