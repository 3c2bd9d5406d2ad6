/*
 * The bounded output window: a circular byte array plus a list of tagged
 * segments.  The array grows (doubling) when an append does not fit, so a
 * ring held over its size by a slow reader keeps every byte; reading any
 * offset is a subtraction, not a walk.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ring.h"
#include "xmalloc.h"

#define RING_CAP_MIN	(16u << 10)

struct ring_seg {
	uint64_t		 off;
	size_t			 len;
	int			 tag;
	int64_t			 ts_ms;
	TAILQ_ENTRY(ring_seg)	 entry;
};

struct ring {
	unsigned char		*buf;
	size_t			 cap;
	size_t			 head;		/* index of `start` */
	size_t			 len;		/* bytes kept */
	uint64_t		 start;
	size_t			 size;
	size_t			 nseg;
	TAILQ_HEAD(ring_segs_head, ring_seg) segs;
};

struct ring *
ring_new(size_t size)
{
	struct ring	*r = xcalloc(1, sizeof *r);

	r->size = size;
	TAILQ_INIT(&r->segs);
	return r;
}

void
ring_free(struct ring *r)
{
	struct ring_seg	*s;

	if (r == NULL)
		return;
	while ((s = TAILQ_FIRST(&r->segs)) != NULL) {
		TAILQ_REMOVE(&r->segs, s, entry);
		free(s);
	}
	free(r->buf);
	free(r);
}

/* The array index of kept byte `i` (counted from start). */
static size_t
ring_at(const struct ring *r, size_t i)
{
	size_t	 at = r->head + i;

	return at >= r->cap ? at - r->cap : at;
}

/* Copies `n` kept bytes from index `i` (relative to start) out. */
static void
ring_copyout(const struct ring *r, size_t i, void *dst, size_t n)
{
	size_t	 at = ring_at(r, i);
	size_t	 first = r->cap - at < n ? r->cap - at : n;

	memcpy(dst, r->buf + at, first);
	memcpy((unsigned char *)dst + first, r->buf, n - first);
}

/*
 * Makes room for `more` bytes: a bigger array, the kept bytes in order.
 * Doubling, except that a ring trimmed to its size only ever needs that
 * size plus the frames that arrive between two trims.
 */
static void
ring_grow(struct ring *r, size_t more)
{
	unsigned char	*nbuf;
	size_t		 need = r->len + more, ncap, snug;

	if (need <= r->cap)
		return;
	if (need < r->len || r->cap > SIZE_MAX / 2)
		fatalx("ring: out of memory");
	ncap = r->cap * 2 > RING_CAP_MIN ? r->cap * 2 : RING_CAP_MIN;
	snug = r->size + r->size / 8 + RING_CAP_MIN;
	if (ncap > snug && need <= snug && r->cap < snug)
		ncap = snug;
	if (ncap < need)
		ncap = need;
	nbuf = xmalloc(ncap);
	if (r->len > 0)
		ring_copyout(r, 0, nbuf, r->len);
	free(r->buf);
	r->buf = nbuf;
	r->cap = ncap;
	r->head = 0;
}

/* Runs of one tag (and one timestamp) share a segment. */
void
ring_add(struct ring *r, int tag, int64_t ts_ms, const void *data,
    size_t len)
{
	struct ring_seg	*last = TAILQ_LAST(&r->segs, ring_segs_head);
	struct ring_seg	*s;
	size_t		 at, first;

	if (len == 0)
		return;
	ring_grow(r, len);
	at = ring_at(r, r->len);
	first = r->cap - at < len ? r->cap - at : len;
	memcpy(r->buf + at, data, first);
	memcpy(r->buf, (const unsigned char *)data + first, len - first);
	r->len += len;
	if (last != NULL && last->tag == tag && last->ts_ms == ts_ms) {
		last->len += len;
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->off = ring_end(r) - len;
	s->len = len;
	s->tag = tag;
	s->ts_ms = ts_ms;
	TAILQ_INSERT_TAIL(&r->segs, s, entry);
	r->nseg++;
}

void
ring_set_start(struct ring *r, uint64_t off)
{
	if (r->len == 0)
		r->start = off;
}

uint64_t
ring_start(const struct ring *r)
{
	return r->start;
}

uint64_t
ring_end(const struct ring *r)
{
	return r->start + r->len;
}

size_t
ring_used(const struct ring *r)
{
	return r->len + r->nseg * RING_SEG_COST;
}

bool
ring_over(const struct ring *r)
{
	return ring_used(r) > r->size;
}

/* Drops `n` bytes from the front. */
static void
ring_drop(struct ring *r, size_t n)
{
	r->len -= n;
	r->start += n;
	r->head = r->len == 0 ? 0 : ring_at(r, n);
}

void
ring_trim(struct ring *r, uint64_t keep)
{
	struct ring_seg	*s;
	size_t		 n, over;

	while (ring_over(r) && r->start < keep &&
	    (s = TAILQ_FIRST(&r->segs)) != NULL) {
		over = ring_used(r) - r->size;
		n = s->len;
		if (keep - r->start < n)
			n = keep - r->start;
		if (over < n)
			n = over;	/* a partial drop is enough */
		ring_drop(r, n);
		s->off += n;
		s->len -= n;
		if (s->len == 0) {
			TAILQ_REMOVE(&r->segs, s, entry);
			free(s);
			r->nseg--;
		}
	}
}

/* The segment holding `off`, searched from the nearer end. */
static struct ring_seg *
ring_find(struct ring *r, uint64_t off)
{
	struct ring_seg	*s;

	if (off < r->start || off >= ring_end(r))
		return NULL;
	if (off - r->start < ring_end(r) - off) {
		TAILQ_FOREACH(s, &r->segs, entry)
			if (off < s->off + s->len)
				return s;
	} else {
		TAILQ_FOREACH_REVERSE(s, &r->segs, ring_segs_head, entry)
			if (off >= s->off)
				return s;
	}
	return NULL;
}

size_t
ring_read(struct ring *r, uint64_t off, void *dst, size_t max, int *tag,
    int64_t *ts_ms)
{
	struct ring_seg	*s;
	size_t		 n;

	if ((s = ring_find(r, off)) == NULL || max == 0)
		return 0;
	n = s->off + s->len - off;
	if (n > max)
		n = max;
	ring_copyout(r, off - r->start, dst, n);
	*tag = s->tag;
	*ts_ms = s->ts_ms;
	return n;
}

size_t
ring_read_tag(struct ring *r, uint64_t off, void *dst, size_t max, int *tag)
{
	struct ring_seg	*s, *t;
	size_t		 n;

	if ((s = ring_find(r, off)) == NULL || max == 0)
		return 0;
	n = s->off + s->len - off;
	for (t = TAILQ_NEXT(s, entry); t != NULL && n < max &&
	    t->tag == s->tag; t = TAILQ_NEXT(t, entry))
		n += t->len;
	if (n > max)
		n = max;
	ring_copyout(r, off - r->start, dst, n);
	*tag = s->tag;
	return n;
}

/* The kept byte at `off` (ring_start ≤ off < ring_end). */
static unsigned char
ring_byte(const struct ring *r, uint64_t off)
{
	return r->buf[ring_at(r, (size_t)(off - r->start))];
}

/* Mirrors the gateway's tail_lines: a final newline ends the last line. */
uint64_t
ring_tail_lines(struct ring *r, uint64_t lines)
{
	uint64_t	 end = ring_end(r), found = 0, off;

	if (lines == 0 || end == r->start)
		return end;
	if (ring_byte(r, end - 1) == '\n')
		end--;
	for (off = end; off > r->start; off--)
		if (ring_byte(r, off - 1) == '\n' && ++found == lines)
			return off;
	return r->start;
}

uint64_t
ring_since(struct ring *r, int64_t ts_ms)
{
	struct ring_seg	*s;

	TAILQ_FOREACH(s, &r->segs, entry)
		if (s->ts_ms >= ts_ms)
			return s->off;
	return ring_end(r);
}
