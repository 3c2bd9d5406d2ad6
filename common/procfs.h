/* Reading one small file of a process under /proc. */
#ifndef SBX_PROCFS_H
#define SBX_PROCFS_H

#include <sys/types.h>

/*
 * Reads /proc/PID/NAME ("comm", "cmdline", …) into buf, at most size - 1
 * bytes, NUL-terminated; the length read, or -1 (gone, not ours, empty).
 */
ssize_t	proc_read(pid_t pid, const char *name, char *buf, size_t size);

#endif
