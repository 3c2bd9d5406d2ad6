/*
 * What the bench programs share: a monotonic clock, latency samples and
 * their summary as one JSON line.  Header-only (static inline) because each
 * file of bench/ is built into its own program and there is no bench library.
 *
 * Every bench program prints exactly one JSON object on stdout; run.sh
 * collects them and report.py turns them into the table.
 */
#ifndef SBX_BENCH_H
#define SBX_BENCH_H

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "xmalloc.h"

/* A growing array of latencies in nanoseconds. */
struct bench_samples {
	int64_t	*v;
	size_t	 n, cap;
};

/* Monotonic nanoseconds: what every latency here is measured with. */
static inline int64_t
bench_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Adds one sample, growing the array geometrically. */
static inline void
bench_add(struct bench_samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 1024 : s->cap * 2;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = ns;
}

/* Moves the samples of `from` into `to` (threads merge their own). */
static inline void
bench_merge(struct bench_samples *to, struct bench_samples *from)
{
	size_t	 i;

	for (i = 0; i < from->n; i++)
		bench_add(to, from->v[i]);
	free(from->v);
	from->v = NULL;
	from->n = from->cap = 0;
}

static inline int
bench_cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) in microseconds; samples must be sorted. */
static inline double
bench_quantile_us(const struct bench_samples *s, double q)
{
	size_t	 i;

	if (s->n == 0)
		return 0;
	i = (size_t)(q * (double)s->n);
	if (i >= s->n)
		i = s->n - 1;
	return (double)s->v[i] / 1000.0;
}

/* Sorts the samples and summarises them: n, p50, p99, min, max, mean. */
static inline json_t *
bench_summary(struct bench_samples *s)
{
	double	 sum = 0;
	size_t	 i;

	qsort(s->v, s->n, sizeof *s->v, bench_cmp);
	for (i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}",
	    "n", (json_int_t)s->n,
	    "p50_us", bench_quantile_us(s, 0.50),
	    "p99_us", bench_quantile_us(s, 0.99),
	    "min_us", bench_quantile_us(s, 0),
	    "max_us", bench_quantile_us(s, 1),
	    "mean_us", s->n ? sum / (double)s->n / 1000.0 : 0.0);
}

/* Prints one result object as a line on stdout and drops it. */
static inline void
bench_print(json_t *o)
{
	char	*line = json_dumps(o, JSON_COMPACT);

	if (line == NULL)
		fatalx("cannot encode the result");
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(o);
}

/* A positive integer argument, or a clear error. */
static inline long
bench_count(const char *what, const char *s)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v <= 0 ||
	    v > 1000000000000L)
		fatalx("%s must be a positive integer, not \"%s\"", what, s);
	return v;
}

/*
 * A worker thread of a many-clients case: the first member of each
 * program's own worker context, so the running and the summing are here
 * once.  Workers wait on `barrier` until all are ready.
 */
struct bench_worker {
	pthread_barrier_t	*barrier;
	struct bench_samples	 samples;
	long			 failed;
	char			 error[512];
};

#define BENCH_WORKER(ctx, size, i) \
	((struct bench_worker *)((char *)(ctx) + (size_t)(i) * (size)))

/*
 * Runs `n` copies of `fn`, the i-th on the i-th `size`-byte context of
 * `ctx`, released together; the time from release to the last one's end.
 */
static inline int64_t
bench_run_workers(void *ctx, size_t size, long n, void *(*fn)(void *))
{
	pthread_barrier_t	 barrier;
	pthread_t		*th = xcalloc((size_t)n, sizeof *th);
	int64_t			 t0;
	long			 i;

	pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
	for (i = 0; i < n; i++) {
		BENCH_WORKER(ctx, size, i)->barrier = &barrier;
		if (pthread_create(&th[i], NULL, fn, BENCH_WORKER(ctx, size,
		    i)) != 0)
			fatalx("pthread_create failed");
	}
	pthread_barrier_wait(&barrier);
	t0 = bench_now_ns();
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	free(th);
	return bench_now_ns() - t0;
}

/* The workers' latencies as one summary, with rate and failures. */
static inline json_t *
bench_workers_summary(void *ctx, size_t size, long n, int64_t elapsed)
{
	struct bench_samples	 all = { 0 };
	struct bench_worker	*w;
	json_t			*out;
	long			 i, failed = 0;
	const char		*why = NULL;

	for (i = 0; i < n; i++) {
		w = BENCH_WORKER(ctx, size, i);
		bench_merge(&all, &w->samples);
		failed += w->failed;
		if (w->failed > 0)
			why = w->error;
	}
	out = bench_summary(&all);
	json_object_set_new(out, "threads", json_integer(n));
	json_object_set_new(out, "seconds", json_real((double)elapsed / 1e9));
	json_object_set_new(out, "ops_s",
	    json_real((double)all.n / ((double)elapsed / 1e9)));
	json_object_set_new(out, "failed", json_integer(failed));
	if (why != NULL)
		json_object_set_new(out, "error", json_string(why));
	free(all.v);
	return out;
}

/* A blocking connect to a Unix socket, or the reason and exit. */
static inline int
bench_dial(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("connect %s", path);
	return fd;
}

#endif
