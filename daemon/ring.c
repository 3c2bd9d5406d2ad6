/* The bounded output window: an evbuffer plus a list of tagged segments. */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "ring.h"
#include "xmalloc.h"

struct ring_seg {
	uint64_t		 off;
	size_t			 len;
	int			 tag;
	int64_t			 ts_ms;
	TAILQ_ENTRY(ring_seg)	 entry;
};

struct ring {
	struct evbuffer		*buf;
	uint64_t		 start;
	size_t			 size;
	size_t			 nseg;
	TAILQ_HEAD(ring_segs_head, ring_seg) segs;
};

struct ring *
ring_new(size_t size)
{
	struct ring	*r = xcalloc(1, sizeof *r);

	if ((r->buf = evbuffer_new()) == NULL)
		fatalx("ring: out of memory");
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
	evbuffer_free(r->buf);
	free(r);
}

/* Runs of one tag (and one timestamp) share a segment. */
void
ring_add(struct ring *r, int tag, int64_t ts_ms, const void *data,
    size_t len)
{
	struct ring_seg	*last = TAILQ_LAST(&r->segs, ring_segs_head);
	struct ring_seg	*s;

	if (len == 0)
		return;
	if (evbuffer_add(r->buf, data, len) == -1)
		fatalx("ring: out of memory");
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
	if (evbuffer_get_length(r->buf) == 0)
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
	return r->start + evbuffer_get_length(r->buf);
}

size_t
ring_used(const struct ring *r)
{
	return evbuffer_get_length(r->buf) + r->nseg * RING_SEG_COST;
}

bool
ring_over(const struct ring *r)
{
	return ring_used(r) > r->size;
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
		evbuffer_drain(r->buf, n);
		r->start += n;
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
	struct ring_seg		*s;
	struct evbuffer_ptr	 p;
	size_t			 n;

	if ((s = ring_find(r, off)) == NULL || max == 0)
		return 0;
	n = s->off + s->len - off;
	if (n > max)
		n = max;
	if (evbuffer_ptr_set(r->buf, &p, off - r->start,
	    EVBUFFER_PTR_SET) == -1 ||
	    evbuffer_copyout_from(r->buf, &p, dst, n) != (ev_ssize_t)n)
		fatalx("ring_read: offset %llu outside the buffer",
		    (unsigned long long)off);
	*tag = s->tag;
	*ts_ms = s->ts_ms;
	return n;
}

/* Mirrors the gateway's tail_lines: a final newline ends the last line. */
uint64_t
ring_tail_lines(struct ring *r, uint64_t lines)
{
	char			 buf[4096];
	uint64_t		 end = ring_end(r), found = 0;
	struct evbuffer_ptr	 p;
	size_t			 n, i;

	if (lines == 0 || end == r->start)
		return end;
	evbuffer_ptr_set(r->buf, &p, end - 1 - r->start, EVBUFFER_PTR_SET);
	if (evbuffer_copyout_from(r->buf, &p, buf, 1) == 1 && buf[0] == '\n')
		end--;
	while (end > r->start) {
		n = end - r->start > sizeof buf ? sizeof buf :
		    (size_t)(end - r->start);
		evbuffer_ptr_set(r->buf, &p, end - n - r->start,
		    EVBUFFER_PTR_SET);
		if (evbuffer_copyout_from(r->buf, &p, buf, n) !=
		    (ev_ssize_t)n)
			break;
		for (i = n; i > 0; i--)
			if (buf[i - 1] == '\n' && ++found == lines)
				return end - n + i;
		end -= n;
	}
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
