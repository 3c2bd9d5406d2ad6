/*
 * A snapshot of the host's processes, read from /proc: each pid with its
 * parent, and the questions cleanup asks of it (which processes descend
 * from a set of roots, which pass a test such as living in a given pid
 * namespace).  Processes come and go while /proc is read: one that is gone
 * is simply not in the snapshot, and so is a zombie.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

struct pent {
	pid_t	 pid, ppid;
};

struct proctab {
	struct pent	*e;		/* sorted by pid */
	size_t		 n;
};

/*
 * The parent of a process from /proc/PID/stat; -1 when it is gone or a
 * zombie (dead, and without children: they went to a reaper; and it may
 * wait long for its own, if that reaper is slow).
 */
static int
read_ppid(const char *pid, pid_t *ppid)
{
	char	 path[64], buf[1024], *p, state;
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The name may hold spaces and ')': the fields follow the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d", &state, ppid) != 2)
		return -1;
	return state == 'Z' || state == 'X' ? -1 : 0;
}

static int
pent_cmp(const void *a, const void *b)
{
	const struct pent	*x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

struct proctab *
proctab_read(void)
{
	struct proctab	*t = xcalloc(1, sizeof *t);
	struct dirent	*de;
	size_t		 cap = 0;
	pid_t		 ppid;
	DIR		*d;

	if ((d = opendir("/proc")) == NULL) {
		log_warn("/proc");
		return t;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (read_ppid(de->d_name, &ppid) == -1)
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 256;
			t->e = xreallocarray(t->e, cap, sizeof *t->e);
		}
		t->e[t->n].pid = (pid_t)atoi(de->d_name);
		t->e[t->n].ppid = ppid;
		t->n++;
	}
	closedir(d);
	qsort(t->e, t->n, sizeof *t->e, pent_cmp);
	return t;
}

void
proctab_free(struct proctab *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

/* The index of pid in the snapshot, or -1. */
static ssize_t
find(struct proctab *t, pid_t pid)
{
	struct pent	 key = { pid, 0 }, *e;

	e = bsearch(&key, t->e, t->n, sizeof *t->e, pent_cmp);
	return e == NULL ? -1 : e - t->e;
}

static void
push(pid_t **v, size_t *n, pid_t pid)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = pid;
}

/*
 * The processes that descend from any of roots, the roots excluded: each
 * one's chain of parents is followed until it meets a root or leaves the
 * table, and every process on the way gets the answer.
 */
size_t
proctab_descendants(struct proctab *t, const pid_t *roots, size_t nroots,
    pid_t **out)
{
	enum { UNKNOWN, WALKING, IN, OUT, ROOT };
	uint8_t		*mark = xcalloc(t->n + 1, 1);
	size_t		*path = xreallocarray(NULL, t->n + 1, sizeof *path);
	size_t		 i, depth, nout = 0;
	ssize_t		 j;
	uint8_t		 res;

	*out = NULL;
	for (i = 0; i < nroots; i++)
		if ((j = find(t, roots[i])) != -1)
			mark[j] = ROOT;
	for (i = 0; i < t->n; i++) {
		depth = 0;
		for (j = (ssize_t)i;; ) {
			if (mark[j] == IN || mark[j] == ROOT) {
				res = IN;
				break;
			}
			if (mark[j] == OUT || mark[j] == WALKING) {
				res = OUT;	/* WALKING: a loop (pid reuse) */
				break;
			}
			mark[j] = WALKING;
			path[depth++] = (size_t)j;
			if (t->e[j].ppid <= 0 ||
			    (j = find(t, t->e[j].ppid)) == -1) {
				res = OUT;
				break;
			}
		}
		while (depth > 0)
			mark[path[--depth]] = res;
	}
	for (i = 0; i < t->n; i++)
		if (mark[i] == IN)
			push(out, &nout, t->e[i].pid);
	free(path);
	free(mark);
	return nout;
}

/* The processes for which pred(pid, ppid, arg) holds. */
size_t
proctab_filter(struct proctab *t, bool (*pred)(pid_t, pid_t, void *),
    void *arg, pid_t **out)
{
	size_t	 i, nout = 0;

	*out = NULL;
	for (i = 0; i < t->n; i++)
		if (pred(t->e[i].pid, t->e[i].ppid, arg))
			push(out, &nout, t->e[i].pid);
	return nout;
}

/* Appends the pids listed in one children file ("12 34 ") to *v. */
static void
read_children(const char *path, pid_t **v, size_t *n)
{
	char	*buf = NULL, *p, *end;
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	long	 pid;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	do {
		if (cap - len < 4096) {
			cap += 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		r = read(fd, buf + len, cap - len - 1);
		len += r > 0 ? (size_t)r : 0;
	} while (r > 0);
	close(fd);
	if (buf == NULL)
		return;
	buf[len] = '\0';
	for (p = buf; (pid = strtol(p, &end, 10)) > 0 && end != p; p = end)
		push(v, n, (pid_t)pid);
	free(buf);
}

/*
 * The children of a process, from /proc/PID/task/TID/children of each of
 * its threads: the cost is that process's, not the host's process table
 * (a /proc snapshot with a few thousand sandboxes took tens of ms, and a
 * busy gateway took one per signal pass).
 */
size_t
proc_children(pid_t pid, pid_t **out)
{
	char		 path[96];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	*out = NULL;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.16s/children",
		    (int)pid, de->d_name);
		read_children(path, out, &n);
	}
	closedir(d);
	return n;
}

/*
 * The processes that descend from any of roots, the roots excluded, found
 * by walking children files down from them.  One forked while we look may
 * be missed, as with a snapshot: callers look again until nothing is new.
 */
size_t
proc_descendants(const pid_t *roots, size_t nroots, pid_t **out)
{
	pid_t	*kids;
	size_t	 n = 0, i, j, nk;

	*out = NULL;
	for (i = 0; i < nroots; i++) {
		nk = proc_children(roots[i], &kids);
		for (j = 0; j < nk; j++)
			push(out, &n, kids[j]);
		free(kids);
	}
	/* Breadth first: *out is the queue, i walks it as it grows. */
	for (i = 0; i < n && n < 1000000; i++) {
		nk = proc_children((*out)[i], &kids);
		for (j = 0; j < nk; j++)
			push(out, &n, kids[j]);
		free(kids);
	}
	return n;
}
