/*
 * What a killed gateway left running, killed by the next one on the same
 * --root.  The run id of each gateway is recorded in ROOT/gateway.run.
 * Without isolation its sandboxes' processes all descend from its keepers
 * (tree.c), which bear a name made of the run id that no descendant can
 * change: their trees go first, the keepers last (killed sooner, they
 * would let their orphans leave the tree).  Every process a gateway starts
 * also carries SBX_GATEWAY_RUN=<run id> in its environment, which finds
 * what no keeper holds (bwrap's processes, normally ended first by bwrap's
 * --die-with-parent), but not what dropped it (env -i).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "log.h"
#include "procfs.h"
#include "xmalloc.h"

#define RUN_FILE	"gateway.run"
#define RUN_VAR		"SBX_GATEWAY_RUN="
#define TRIES		100	/* passes, PAUSE_MS apart */
#define PAUSE_MS	20

/* True when the process's name (comm) is arg. */
static bool
is_named(pid_t pid, pid_t ppid, void *arg)
{
	char	 buf[32];

	if (proc_read(pid, "comm", buf, sizeof buf) == -1)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, arg) == 0;
}

/* True when /proc/PID/environ holds the marker (KEY=VALUE) arg. */
static bool
has_marker(pid_t pid, pid_t ppid, void *arg)
{
	const char	*marker = arg;
	char		 path[64], *buf = NULL;
	size_t		 len = 0;
	FILE		*f;
	bool		 found = false;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (!found && getdelim(&buf, &len, '\0', f) != -1)
		found = strcmp(buf, marker) == 0;
	free(buf);
	fclose(f);
	return found;
}

/*
 * One pass over the leftovers of a run: the trees of its keepers first
 * (the keepers last, or their orphans would leave the tree), and what
 * carries its marker.  Returns how many processes it signalled.
 */
static size_t
kill_run(const char *name, const char *marker)
{
	struct proctab	*t = proctab_read();
	pid_t		*k, *d, *m;
	size_t		 nk, nd, nm, i;

	nk = proctab_filter(t, is_named, (void *)name, &k);
	nd = proctab_descendants(t, k, nk, &d);
	nm = proctab_filter(t, has_marker, (void *)marker, &m);
	for (i = 0; i < nd; i++)
		kill(d[i], SIGKILL);
	for (i = 0; i < nm; i++)
		kill(m[i], SIGKILL);
	if (nd == 0)
		for (i = 0; i < nk; i++)
			kill(k[i], SIGKILL);
	free(k);
	free(d);
	free(m);
	proctab_free(t);
	return nk + nd + nm;
}

/*
 * A gateway that was killed leaves its process trees behind: find them by
 * the run id it recorded in --root, kill them, and record ours.
 */
void
leftovers_kill(const char *root, const char *run_id)
{
	char	*path = xasprintf("%s/%s", root, RUN_FILE), *tmp, old[64];
	char	*marker, name[16];
	size_t	 n, total = 0;
	FILE	*f;
	int	 i;

	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(old, sizeof old, f) != NULL) {
			old[strcspn(old, "\n")] = '\0';
			tree_keeper_name(name, sizeof name, old);
			marker = xasprintf(RUN_VAR "%s", old);
			for (i = 0; i < TRIES &&
			    (n = kill_run(name, marker)) > 0; i++) {
				total += n;
				usleep(PAUSE_MS * 1000);
			}
			if (total > 0)
				log_info("killed the leftover processes of "
				    "run %s", old);
			free(marker);
		}
		fclose(f);
	}
	tmp = xasprintf("%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%s\n", run_id) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) == -1)
		fatal("%s", path);
	free(tmp);
	free(path);
}
