/*
 * A sandbox's log: the main command's stdout and stderr, interleaved as
 * written, appended to a file; the time each chunk arrived is kept beside
 * it (in memory and in an index file "log.idx" of "offset ns" lines), so
 * readers can start at a time, a byte offset or the last N lines, and
 * followers are told when more arrives.
 *
 * Once the log is closed (the sandbox is over) it holds no descriptor: a
 * gateway keeps its stopped sandboxes, and two fds each would run it out
 * of descriptors after some thousands of them.  A reader of a closed log
 * opens the file for as long as it reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

struct chunk {
	uint64_t	 off;
	int64_t		 ts;
};

struct logbuf {
	int				 fd;	/* -1 when closed, unread */
	char				*path;
	FILE				*idx;
	char				*session;
	uint64_t			 size;
	struct chunk			*chunks;
	size_t				 n, cap;
	bool				 closed;
	LIST_HEAD(, logbuf_reader)	 readers;
};

struct logbuf *
logbuf_open(const char *path, const char *session)
{
	struct logbuf	*lb = xcalloc(1, sizeof *lb);
	char		*ipath = xasprintf("%s.idx", path);
	int		 saved;

	lb->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (lb->fd == -1 || (lb->idx = fopen(ipath, "we")) == NULL) {
		saved = errno;
		log_warn("%s", lb->fd == -1 ? path : ipath);
		if (lb->fd != -1)
			close(lb->fd);
		free(ipath);
		free(lb);
		errno = saved;		/* for the caller to answer with */
		return NULL;
	}
	free(ipath);
	lb->path = xstrdup(path);
	lb->session = xstrdup(session);
	LIST_INIT(&lb->readers);
	return lb;
}

/* The descriptor to read from: reopened for a reader of a closed log. */
static int
logbuf_fd(struct logbuf *lb)
{
	if (lb->fd == -1 &&
	    (lb->fd = open(lb->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		log_warn("%s", lb->path);
	return lb->fd;
}

/* A closed log that nobody reads gives its descriptors back. */
static void
logbuf_release(struct logbuf *lb)
{
	if (!lb->closed || !LIST_EMPTY(&lb->readers))
		return;
	if (lb->fd != -1)
		close(lb->fd);
	lb->fd = -1;
}

/* Tells every subscribed reader that something changed. */
static void
logbuf_notify(struct logbuf *lb)
{
	struct logbuf_reader	*r, *tmp;

	LIST_FOREACH_SAFE(r, &lb->readers, entry, tmp)
		r->cb(r->arg);
}

void
logbuf_append(struct logbuf *lb, const void *data, size_t len)
{
	if (len == 0 || lb->closed)
		return;
	if (pwrite(lb->fd, data, len, (off_t)lb->size) != (ssize_t)len) {
		log_warn("log of session %s: write", lb->session);
		return;
	}
	if (lb->n == lb->cap) {
		lb->cap = lb->cap ? lb->cap * 2 : 64;
		lb->chunks = xreallocarray(lb->chunks, lb->cap,
		    sizeof *lb->chunks);
	}
	lb->chunks[lb->n].off = lb->size;
	lb->chunks[lb->n].ts = now_ns();
	fprintf(lb->idx, "%" PRIu64 " %" PRId64 "\n", lb->size,
	    lb->chunks[lb->n].ts);
	fflush(lb->idx);
	lb->n++;
	lb->size += len;
	logbuf_notify(lb);
}

void
logbuf_close(struct logbuf *lb)
{
	if (lb->closed)
		return;
	lb->closed = true;
	fclose(lb->idx);
	lb->idx = NULL;
	logbuf_notify(lb);
	logbuf_release(lb);
}

bool
logbuf_closed(struct logbuf *lb)
{
	return lb->closed;
}

const char *
logbuf_session(struct logbuf *lb)
{
	return lb->session;
}

uint64_t
logbuf_size(struct logbuf *lb)
{
	return lb->size;
}

/* The offset where the last `lines` lines begin. */
uint64_t
logbuf_tail_offset(struct logbuf *lb, uint64_t lines)
{
	char		 buf[4096];
	uint64_t	 end = lb->size, found = 0;
	size_t		 n, i;
	int		 fd;

	if (end == 0 || lines == 0 || (fd = logbuf_fd(lb)) == -1)
		return end;
	if (pread(fd, buf, 1, (off_t)end - 1) == 1 && buf[0] == '\n')
		end--;		/* the last newline ends the last line */
	while (end > 0) {
		n = end > sizeof buf ? sizeof buf : end;
		if (pread(fd, buf, n, (off_t)(end - n)) != (ssize_t)n)
			return 0;
		for (i = n; i > 0; i--)
			if (buf[i - 1] == '\n' && ++found == lines)
				return end - n + i;
		end -= n;
	}
	return 0;
}

/* The offset of the first chunk written at or after since_ns. */
uint64_t
logbuf_since_offset(struct logbuf *lb, int64_t since_ns)
{
	size_t	 i;

	for (i = 0; i < lb->n; i++)
		if (lb->chunks[i].ts >= since_ns)
			return lb->chunks[i].off;
	return lb->size;
}

/* The chunk holding offset off (binary search). */
static size_t
chunk_at(struct logbuf *lb, uint64_t off)
{
	size_t	 lo = 0, hi = lb->n, mid;

	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (lb->chunks[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

size_t
logbuf_read(struct logbuf *lb, uint64_t off, void *buf, size_t max,
    int64_t *ts)
{
	size_t		 c;
	uint64_t	 end;
	ssize_t		 n;
	int		 fd;

	if (off >= lb->size || (fd = logbuf_fd(lb)) == -1)
		return 0;
	c = chunk_at(lb, off);
	end = c + 1 < lb->n ? lb->chunks[c + 1].off : lb->size;
	if (end - off < max)
		max = end - off;
	*ts = lb->chunks[c].ts;
	if ((n = pread(fd, buf, max, (off_t)off)) <= 0) {
		if (n == 0)
			errno = EIO;	/* shorter than we wrote: not ours */
		return 0;
	}
	return (size_t)n;
}

void
logbuf_subscribe(struct logbuf *lb, struct logbuf_reader *r, logbuf_cb cb,
    void *arg)
{
	r->cb = cb;
	r->arg = arg;
	if (!r->linked)
		LIST_INSERT_HEAD(&lb->readers, r, entry);
	r->linked = true;
}

void
logbuf_unsubscribe(struct logbuf *lb, struct logbuf_reader *r)
{
	if (r->linked)
		LIST_REMOVE(r, entry);
	r->linked = false;
	logbuf_release(lb);
}

void
logbuf_free(struct logbuf *lb)
{
	if (lb == NULL)
		return;
	if (lb->fd != -1)
		close(lb->fd);
	if (lb->idx != NULL)
		fclose(lb->idx);
	free(lb->path);
	free(lb->chunks);
	free(lb->session);
	free(lb);
}
