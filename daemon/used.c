/* Dirty sandboxes, kept across crashes; see used.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "lease.h"
#include "log.h"
#include "reaper.h"
#include "used.h"
#include "xmalloc.h"

#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"

struct used {
	char		*path;
	int		 fd;		/* the journal, O_APPEND; -1: none */
	char		 boot[128];	/* this boot's id */
	bool		 trust_pools;
	bool		 failing;	/* a journal write failed (logged) */
};

void
used_parse(const char *text, struct used_journal *j)
{
	const char	*p, *eol;
	char		 line[128];
	size_t		 n;

	j->ids = json_object();
	j->boot[0] = '\0';
	j->clean = false;
	/* Whole lines only: a torn last one has no newline yet. */
	for (p = text; (eol = strchr(p, '\n')) != NULL; p = eol + 1) {
		n = (size_t)(eol - p);
		if (n == 0 || n >= sizeof line)
			continue;
		memcpy(line, p, n);
		line[n] = '\0';
		j->clean = strcmp(line, "clean") == 0;
		if (strncmp(line, "boot ", 5) == 0)
			snprintf(j->boot, sizeof j->boot, "%s", line + 5);
		else if (!j->clean)
			json_object_set_new(j->ids, line, json_true());
	}
}

static void
read_boot_id(char *buf, size_t len)
{
	FILE	*f = fopen(BOOT_ID_PATH, "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* The whole journal as text, or NULL when there is none. */
static char *
read_journal(const char *path)
{
	FILE	*f;
	char	*text;
	size_t	 len = 0, n;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", path);
		return NULL;
	}
	text = xmalloc(1);
	for (;;) {
		text = xreallocarray(text, len + 4096 + 1, 1);
		n = fread(text + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	text[len] = '\0';
	fclose(f);
	return text;
}

static void
journal_write(struct used *u, const char *line)
{
	size_t	 len = strlen(line);
	ssize_t	 n;

	if (u->fd == -1)
		return;
	while ((n = write(u->fd, line, len)) == -1 && errno == EINTR)
		;
	if (n == (ssize_t)len) {
		u->failing = false;
		return;
	}
	/* The state file still gets it within 100 ms. */
	if (!u->failing)
		log_warn("%s: cannot record a handed-out sandbox", u->path);
	u->failing = true;
}

static void
journal_header(struct used *u)
{
	char	line[160];

	snprintf(line, sizeof line, "boot %s\n", u->boot);
	journal_write(u, line);
}

static void
stop_dirty(struct daemon *d, json_t *ids)
{
	const char	*sid;
	json_t		*v;
	unsigned	 n = 0;

	json_object_foreach(ids, sid, v) {
		if (lease_holding(d->leases, sid) != NULL)
			continue;
		reaper_stop(d->reaper, sid, "handed out before a restart",
		    NULL, NULL);
		n++;
	}
	if (n > 0)
		log_info("used: stopping %u sandbox(es) handed out before the "
		    "restart and held by no lease", n);
}

void
used_load(struct daemon *d, json_t *state_used)
{
	struct used		*u = xcalloc(1, sizeof *u);
	struct used_journal	 j = { 0 };
	char			*text;
	json_t			*v;
	size_t			 i;

	d->used = u;
	u->path = xasprintf("%s/used", d->state_dir);
	u->trust_pools = true;
	read_boot_id(u->boot, sizeof u->boot);
	text = read_journal(u->path);
	used_parse(text != NULL ? text : "", &j);
	json_array_foreach(state_used, i, v) {
		if (json_is_string(v))
			json_object_set_new(j.ids, json_string_value(v),
			    json_true());
	}
	/*
	 * The last life neither ended cleanly nor ran on this boot: the
	 * host went down, and the journal's last lines may be lost with it.
	 */
	if (text != NULL && !j.clean && *j.boot != '\0' &&
	    strcmp(j.boot, u->boot) != 0) {
		u->trust_pools = false;
		log_warnx("used: the host went down while sandboxd ran: warm "
		    "sandboxes of that run are stopped, not pooled again");
	}
	stop_dirty(d, j.ids);
	json_decref(j.ids);
	free(text);
	/* Appended to, not emptied: until a save, its lines are the record. */
	u->fd = open(u->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (u->fd == -1)
		log_warn("%s", u->path);
	journal_header(u);
}

bool
used_trust_pools(struct daemon *d)
{
	return d->used == NULL || d->used->trust_pools;
}

void
used_note(struct daemon *d, const char *sandbox_id)
{
	char	line[128];

	if (d->used == NULL)
		return;
	snprintf(line, sizeof line, "%s\n", sandbox_id);
	journal_write(d->used, line);
}

json_t *
used_json(struct daemon *d)
{
	json_t		*a = reaper_ids_json(d->reaper);
	struct lease	*l;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		if (l->sandbox_id != NULL)
			json_array_append_new(a, json_string(l->sandbox_id));
	}
	return a;
}

void
used_saved(struct daemon *d)
{
	struct used	*u = d->used;

	if (u == NULL || u->fd == -1)
		return;
	/* The file just saved lists everything the journal did. */
	if (ftruncate(u->fd, 0) == -1) {
		log_warn("%s: truncate", u->path);
		return;
	}
	journal_header(u);
}

void
used_close(struct daemon *d, bool clean)
{
	struct used	*u = d->used;

	if (u == NULL)
		return;
	if (clean)
		journal_write(u, "clean\n");
	if (u->fd != -1)
		close(u->fd);
	free(u->path);
	free(u);
	d->used = NULL;
}
