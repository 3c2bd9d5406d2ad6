/* Newline-delimited framing on an evbuffer; see linebuf.h. */
#include <stdlib.h>

#include <event2/buffer.h>

#include "linebuf.h"

/*
 * The offset of the next '\n', or -1.  Bytes searched before are not
 * searched again: the search resumes where the last one stopped.
 */
static ev_ssize_t
linebuf_find(struct linebuf *lb, struct evbuffer *in)
{
	struct evbuffer_ptr	 from, eol;

	if (evbuffer_ptr_set(in, &from, lb->scanned, EVBUFFER_PTR_SET) == -1)
		abort();	/* drained behind the reader's back */
	eol = evbuffer_search_eol(in, &from, NULL, EVBUFFER_EOL_LF);
	lb->scanned = eol.pos == -1 ? evbuffer_get_length(in) :
	    (size_t)eol.pos;
	return eol.pos;
}

/* Drops what is buffered of an over-long line, through its newline. */
static enum linebuf_status
linebuf_drop(struct linebuf *lb, struct evbuffer *in, ev_ssize_t eol)
{
	lb->scanned = 0;
	if (eol == -1) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return LINEBUF_MORE;
	}
	evbuffer_drain(in, (size_t)eol + 1);
	lb->skipping = false;
	return LINEBUF_SKIPPED;
}

enum linebuf_status
linebuf_next(struct linebuf *lb, struct evbuffer *in, size_t max,
    size_t *len)
{
	ev_ssize_t	 eol = linebuf_find(lb, in);

	if (lb->skipping)
		return linebuf_drop(lb, in, eol);
	if (eol == -1)
		return evbuffer_get_length(in) > max ? LINEBUF_TOO_LONG :
		    LINEBUF_MORE;
	if ((size_t)eol > max)
		return LINEBUF_TOO_LONG;
	*len = (size_t)eol;
	return LINEBUF_LINE;
}

void
linebuf_drain(struct linebuf *lb, struct evbuffer *in, size_t len)
{
	evbuffer_drain(in, len + 1);
	lb->scanned = 0;
}

void
linebuf_skip(struct linebuf *lb)
{
	lb->skipping = true;
}
