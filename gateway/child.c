/*
 * Child processes: SIGCHLD arrives as a libevent signal event and a
 * waitpid loop reaps every child and tells whoever watches that pid.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

struct child {
	pid_t			 pid;
	child_cb		 cb;
	void			*arg;
	LIST_ENTRY(child)	 entry;
};

static LIST_HEAD(, child) children = LIST_HEAD_INITIALIZER(children);
static struct event	*sigchld_ev;
static size_t		 nchildren;

/* Reaps every exited child; the callback may free its owner. */
static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(c, &children, entry)
			if (c->pid == pid)
				break;
		if (c == NULL) {
			log_debug("reaped unwatched child %d", (int)pid);
			continue;
		}
		LIST_REMOVE(c, entry);
		nchildren--;
		c->cb(pid, status, c->arg);
		free(c);
	}
}

void
child_init(struct event_base *base)
{
	sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	evsignal_add(sigchld_ev, NULL);
}

void
child_watch(pid_t pid, child_cb cb, void *arg)
{
	struct child	*c = xcalloc(1, sizeof *c);

	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	LIST_INSERT_HEAD(&children, c, entry);
	nchildren++;
	/* It may have exited before the watch existed. */
	event_active(sigchld_ev, EV_SIGNAL, 1);
}

/* Stops watching (the owner is going away); the child is still reaped. */
void
child_forget(pid_t pid)
{
	struct child	*c;

	LIST_FOREACH(c, &children, entry)
		if (c->pid == pid) {
			LIST_REMOVE(c, entry);
			nchildren--;
			free(c);
			return;
		}
}

/* True when someone watches the child pid. */
bool
child_known(pid_t pid)
{
	struct child	*c;

	LIST_FOREACH(c, &children, entry)
		if (c->pid == pid)
			return true;
	return false;
}

size_t
child_count(void)
{
	return nchildren;
}

void
child_free(void)
{
	struct child	*c;

	while ((c = LIST_FIRST(&children)) != NULL) {
		LIST_REMOVE(c, entry);
		free(c);
	}
	if (sigchld_ev != NULL)
		event_free(sigchld_ev);
	sigchld_ev = NULL;
}

/* Signals a whole process group; a group already gone is fine. */
void
killgrp(pid_t pgid, int sig)
{
	if (pgid > 1 && kill(-pgid, sig) == -1 && errno != ESRCH)
		log_warn("kill(-%d, %d)", (int)pgid, sig);
}
