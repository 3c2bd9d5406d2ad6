/*
 * Crash-safe JSON files in the state directory: written to a temporary
 * file, fsynced, renamed over the old one, and the directory fsynced, so
 * a power cut leaves the old file or the new one, never a torn one.
 */
#ifndef SBX_STATEFILE_H
#define SBX_STATEFILE_H

#include <jansson.h>

#include <stdbool.h>
#include <stdio.h>

/* 0, or -1 with *err (heap). */
int	 statefile_write(const char *path, const json_t *, char **err);

/*
 * The same, with the text written by `fn` (0, or -1 on a write error):
 * a large file is streamed rather than built in memory first.
 */
typedef int	 statefile_writer(FILE *, void *);
int	 statefile_write_with(const char *path, statefile_writer *fn,
	    void *arg, char **err);

/*
 * The file's JSON object.  NULL with *err NULL when there is no file;
 * NULL with *err set when it could not be read or parsed — a file that
 * does not parse is moved aside (PATH.corrupt-UNIXTIME) and *err says so.
 */
json_t	*statefile_read(const char *path, char **err);
/*
 * The same, and *unreadable tells a file that exists but cannot be read
 * at all (permissions, a directory, an I/O error) — left where it is,
 * since writing over it would lose what it holds.
 */
json_t	*statefile_load(const char *path, char **err, bool *unreadable);
/*
 * Removes PATH.tmp.PID files a crash left behind mid-write (not this
 * process's own).
 */
void	 statefile_clean_tmp(const char *path);

#endif
