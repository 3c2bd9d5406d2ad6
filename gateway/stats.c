/*
 * Call counters for the tests of other components ("how many Start calls
 * did the gateway get", "how many StreamLogs streams are open"), and what
 * each sandbox was started with, written as JSON to --stats-file:
 * atomically (temp file + rename), at most every 100 ms when something
 * changed, and at once on SIGUSR2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define STATS_PERIOD_MS	100

static char		*path;
static struct event	*timer;
static json_t		*calls, *open_streams, *total_streams, *faults;

static void
stats_timer(evutil_socket_t fd, short what, void *arg)
{
	stats_write();
}

void
stats_init(struct event_base *base, const char *p)
{
	calls = json_object();
	open_streams = json_object();
	total_streams = json_object();
	faults = json_object();
	json_object_set_new(open_streams, "StreamExec", json_integer(0));
	json_object_set_new(open_streams, "StreamLogs", json_integer(0));
	if (p == NULL)
		return;
	path = xstrdup(p);
	timer = evtimer_new(base, stats_timer, NULL);
	stats_write();
}

/* Adds delta to counter key of an object. */
static void
bump(json_t *obj, const char *key, int delta)
{
	json_t	*v = json_object_get(obj, key);

	json_object_set_new(obj, key, json_integer(
	    (v != NULL ? json_integer_value(v) : 0) + delta));
	stats_changed();
}

void
stats_call(const char *method)
{
	bump(calls, method, 1);
}

void
stats_stream(const char *method, int delta)
{
	bump(open_streams, method, delta);
	if (delta > 0)
		bump(total_streams, method, delta);
}

void
stats_fault(const char *kind)
{
	bump(faults, kind, 1);
}

/* Something changed: write within the period. */
void
stats_changed(void)
{
	struct timeval	 tv = { 0, STATS_PERIOD_MS * 1000 };

	if (timer != NULL && !evtimer_pending(timer, NULL))
		evtimer_add(timer, &tv);
}

/* The sandbox table, counted by status. */
static json_t *
sandbox_counts(void)
{
	static const int st[] = { ST(CREATING), ST(RUNNING), ST(PAUSED),
	    ST(TERMINATING), ST(COMPLETED), ST(FAILED) };
	json_t		*o = json_object();
	size_t		 i;

	for (i = 0; i < sizeof st / sizeof st[0]; i++)
		json_object_set_new(o, sandbox_status_name(st[i]),
		    json_integer(sandbox_count(st[i])));
	json_object_set_new(o, "total", json_integer(sandbox_count(-1)));
	return o;
}

/* What each sandbox was asked for (sandbox-record.c), with its status. */
static json_t *
sandbox_records(void)
{
	struct sandbox	*sb;
	json_t		*o = json_object(), *r;

	TAILQ_FOREACH(sb, &gw.sandboxes, entry) {
		r = json_copy(sb->record);
		json_object_set_new(r, "status",
		    json_string(sandbox_status_name(sb->status)));
		json_object_set_new(o, sb->id, r);
	}
	return o;
}

void
stats_write(void)
{
	json_t	*root;
	char	*tmp;

	if (path == NULL)
		return;
	if (timer != NULL)
		evtimer_del(timer);
	root = json_pack("{s:i, s:s, s:O, s:O, s:O, s:O, s:o, s:o}",
	    "pid", (int)getpid(), "run_id", gw.run_id,
	    "calls", calls, "streams_open", open_streams,
	    "streams_total", total_streams, "faults", faults,
	    "sandboxes", sandbox_counts(), "sandbox_records",
	    sandbox_records());
	tmp = xasprintf("%s.tmp", path);
	if (root == NULL || json_dump_file(root, tmp, JSON_SORT_KEYS) == -1)
		log_warnx("%s: cannot write stats", tmp);
	else if (rename(tmp, path) == -1)
		log_warn("rename %s", tmp);
	json_decref(root);
	free(tmp);
}

void
stats_free(void)
{
	if (timer != NULL)
		event_free(timer);
	json_decref(calls);
	json_decref(open_streams);
	json_decref(total_streams);
	json_decref(faults);
	free(path);
	path = NULL;
	timer = NULL;
}
