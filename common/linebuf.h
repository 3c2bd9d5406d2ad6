/*
 * Newline-delimited framing on an evbuffer, shared by sandboxd's control
 * connections and sbctl: cuts the input into lines of at most `max` bytes
 * (the newline not counted; a '\r' before it stays in the line, where the
 * JSON parser takes it for whitespace).
 *
 * Only bytes not searched before are searched, so a long line arriving in
 * many reads costs O(n), not O(n^2).  Lines are not copied out: the caller
 * reads one at the front of the buffer (evbuffer_pullup) and takes it with
 * linebuf_drain(); nothing else may drain the buffer, or the reader's
 * place in it would be wrong.
 */
#ifndef SBX_LINEBUF_H
#define SBX_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

/* A zeroed struct linebuf is a reader at the start of a stream. */
struct linebuf {
	size_t	 scanned;	/* bytes at the front searched for '\n' */
	bool	 skipping;	/* dropping the rest of an over-long line */
};

enum linebuf_status {
	LINEBUF_MORE,		/* no whole line buffered yet: read more */
	LINEBUF_LINE,		/* a line of *len bytes, then '\n' */
	LINEBUF_TOO_LONG,	/* the line at the front is longer than max */
	LINEBUF_SKIPPED,	/* an over-long line ended and was dropped */
};

/*
 * Looks for the next line in `in`.  LINE leaves the line in the buffer
 * for the caller to read and take with linebuf_drain().  TOO_LONG is
 * returned, again and again, until the caller gives up on the stream or
 * calls linebuf_skip().  While skipping, buffered bytes are dropped as
 * they come (MORE) until the over-long line's newline (SKIPPED).
 */
enum linebuf_status
	linebuf_next(struct linebuf *, struct evbuffer *in, size_t max,
	    size_t *len);

/* Takes the line of `len` bytes linebuf_next() found, and its newline. */
void	linebuf_drain(struct linebuf *, struct evbuffer *in, size_t len);

/* Has linebuf_next() drop the over-long line at the front, to its newline. */
void	linebuf_skip(struct linebuf *);

#endif
