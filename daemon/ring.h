/*
 * A bounded byte window addressed by absolute offsets: the output of an
 * exec or the recent part of a log.  Bytes live in a circular array; a
 * list of segments remembers, for each run of bytes, a tag (stdout/stderr)
 * and a timestamp.  Appending never fails; ring_trim() drops the oldest bytes
 * while the ring is over its size, but never past an offset someone still
 * needs, so a ring may stay over size until its readers catch up.
 */
#ifndef SBX_RING_H
#define SBX_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_SEG_COST	64	/* bytes of size a segment counts for */

struct ring;

struct ring	*ring_new(size_t size);
void		 ring_free(struct ring *);

/* Appends `len` bytes tagged `tag` written at `ts_ms` (0: unknown). */
void		 ring_add(struct ring *, int tag, int64_t ts_ms,
		    const void *, size_t len);
/* Starts the ring at `off` (only while empty: a log read from mid-way). */
void		 ring_set_start(struct ring *, uint64_t off);
uint64_t	 ring_start(const struct ring *);	/* oldest kept */
uint64_t	 ring_end(const struct ring *);		/* next to come */
/* Bytes kept plus RING_SEG_COST per segment, against the size. */
size_t		 ring_used(const struct ring *);
bool		 ring_over(const struct ring *);
/* Drops the oldest while over size, never at or past offset `keep`. */
void		 ring_trim(struct ring *, uint64_t keep);

/*
 * Copies bytes from `off` (ring_start ≤ off < ring_end) into `dst`: at most
 * `max`, all of one segment.  Returns the count (0 when off is outside),
 * with that segment's tag and timestamp.
 */
size_t		 ring_read(struct ring *, uint64_t off, void *dst, size_t max,
		    int *tag, int64_t *ts_ms);
/*
 * Like ring_read, but on across the following segments of the same tag
 * whatever their timestamps: a run of one stream in one copy.
 */
size_t		 ring_read_tag(struct ring *, uint64_t off, void *dst,
		    size_t max, int *tag);
/* Offset where the last `lines` lines kept begin (ring_start if fewer). */
uint64_t	 ring_tail_lines(struct ring *, uint64_t lines);
/* Offset of the first segment written at or after `ts_ms` (or the end). */
uint64_t	 ring_since(struct ring *, int64_t ts_ms);

#endif
