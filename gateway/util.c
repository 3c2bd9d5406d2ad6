/* Small helpers: clocks, timestamps, random ids, string vectors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ts_set(pb_ts *ts, int64_t ns)
{
	ts->seconds = ns / 1000000000;
	ts->nanos = (int32_t)(ns % 1000000000);
}

/* nhex lowercase hex digits from getrandom, NUL-terminated. */
void
random_hex(char *out, size_t nhex)
{
	unsigned char	 b[64];
	size_t		 i, n = (nhex + 1) / 2;

	if (n > sizeof b)
		fatalx("random_hex: too long");
	if (getrandom(b, n, 0) != (ssize_t)n)
		fatal("getrandom");
	for (i = 0; i < nhex; i++)
		out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[nhex] = '\0';
}

void
strv_free(char **v)
{
	char	**p;

	if (v == NULL)
		return;
	for (p = v; *p != NULL; p++)
		free(*p);
	free(v);
}

char **
strv_dup(char **v, size_t n)
{
	char	**r = xcalloc(n + 1, sizeof *r);
	size_t	  i;

	for (i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

size_t
strv_len(char **v)
{
	size_t	 n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Appends s (taken) to a NULL-terminated vector of n entries. */
void
strv_push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

int
set_nonblock_cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return 0;
}
