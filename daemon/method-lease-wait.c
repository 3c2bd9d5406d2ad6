/*
 * lease.wait: answer when a lease's sandbox has finished (a job's command
 * exited).  One poller per lease serves every waiter, with the same
 * backoff as start-up polling; each waiter has its own timeout.
 */
#include <stdlib.h>

#include "daemon.h"
#include "lease.h"
#include "lease-wait.h"
#include "log.h"
#include "params.h"
#include "rpc.h"
#include "xmalloc.h"

#define POLL_FIRST_MS	200
#define POLL_MAX_MS	2000

struct lease_waiter {
	struct rpc_req		*req;
	struct lease		*l;
	struct event		*timeout;
	TAILQ_ENTRY(lease_waiter) entry;
};

static void	wait_poll(evutil_socket_t, short, void *);

static json_t *
wait_result(const struct lease *l)
{
	json_t	*o = json_pack("{s:s, s:s, s:s}", "lease", l->id, "state",
	    lease_state_name(l->state), "sandbox_status",
	    gw_status_name(l->sandbox_status));

	if (l->has_exit_code)
		json_object_set_new(o, "exit_code", json_integer(l->exit_code));
	json_object_set_new(o, "status_reason",
	    json_string(l->status_reason ? l->status_reason : ""));
	return o;
}

static void
waiter_free(struct lease_waiter *w)
{
	TAILQ_REMOVE(&w->l->waiters, w, entry);
	event_free(w->timeout);
	free(w);
}

/* Answers every waiter with the finished lease. */
static void
wait_answer_all(struct lease *l)
{
	struct lease_waiter	*w;

	while ((w = TAILQ_FIRST(&l->waiters)) != NULL) {
		rpc_reply(w->req, wait_result(l));
		waiter_free(w);
	}
}

void
lease_wait_abort(struct lease *l)
{
	struct lease_waiter	*w;

	if (lease_finished(l) && l->state != LEASE_EXPIRED) {
		wait_answer_all(l);
		return;
	}
	while ((w = TAILQ_FIRST(&l->waiters)) != NULL) {
		rpc_fail(w->req, l->state == LEASE_EXPIRED ?
		    RPC_ERR_LEASE_EXPIRED : RPC_ERR_NOT_FOUND, NULL,
		    "lease %s was %s while waiting", l->id,
		    l->state == LEASE_EXPIRED ? "expired" : "released");
		waiter_free(w);
	}
}

void
lease_wait_shutdown(struct daemon *d)
{
	struct lease_waiter	*w;
	struct lease		*l;

	for (l = lease_first(d->leases); l != NULL; l = lease_next(l)) {
		while ((w = TAILQ_FIRST(&l->waiters)) != NULL) {
			rpc_fail(w->req, RPC_ERR_OVERLOADED, NULL, "sandboxd is "
			    "restarting; wait for lease %s again", l->id);
			waiter_free(w);
		}
	}
}

static void
wait_arm(struct lease *l)
{
	struct timeval	tv = { l->poll_delay_ms / 1000,
	    (l->poll_delay_ms % 1000) * 1000 };

	if (l->poll == NULL)
		l->poll = evtimer_new(l->d->base, wait_poll, l);
	if (!evtimer_pending(l->poll, NULL))
		evtimer_add(l->poll, &tv);
	l->poll_delay_ms = l->poll_delay_ms * 3 / 2;
	if (l->poll_delay_ms > POLL_MAX_MS)
		l->poll_delay_ms = POLL_MAX_MS;
}

static void
wait_got(void *arg, const struct gw_error *err, const struct gw_sandbox *sb)
{
	struct lease	*l = arg;

	if (!l->removed) {
		if (err != NULL)
			log_debug("lease %s: wait poll: %s", l->id,
			    err->message);
		else
			lease_update(l, sb);
		if (lease_finished(l))
			wait_answer_all(l);
		else if (!TAILQ_EMPTY(&l->waiters))
			wait_arm(l);
	}
	lease_unref(l);
}

static void
wait_poll(evutil_socket_t fd, short what, void *arg)
{
	struct lease	*l = arg;

	if (l->removed || l->sandbox_id == NULL || TAILQ_EMPTY(&l->waiters))
		return;
	lease_ref(l);
	gw_get(l->d->gw, l->sandbox_id, wait_got, l);
}

static void
wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct lease_waiter	*w = arg;

	rpc_fail(w->req, RPC_ERR_DEADLINE_EXCEEDED, NULL, "lease %s has not "
	    "finished yet (%s)", w->l->id, gw_status_name(w->l->sandbox_status));
	waiter_free(w);
}

static const char *const wait_params[] = { "lease", "timeout", NULL };

static enum rpc_ret
lease_wait(struct rpc_req *req)
{
	struct lease_waiter	*w;
	struct lease		*l;
	struct timeval		 tv;
	int64_t			 timeout;

	if (params_only(req, wait_params) == -1 ||
	    params_lease(req, &l) == -1 ||
	    rpc_param_duration_ms(req, "timeout", 0, &timeout) == -1)
		return RPC_NORMAL;
	if (lease_finished(l)) {
		rpc_reply(req, wait_result(l));
		return RPC_NORMAL;
	}
	w = xcalloc(1, sizeof *w);
	w->req = req;
	w->l = l;
	w->timeout = evtimer_new(req->d->base, wait_timeout, w);
	if (timeout > 0) {
		tv.tv_sec = timeout / 1000;
		tv.tv_usec = (timeout % 1000) * 1000;
		evtimer_add(w->timeout, &tv);
	}
	if (TAILQ_EMPTY(&l->waiters))
		l->poll_delay_ms = POLL_FIRST_MS;
	TAILQ_INSERT_TAIL(&l->waiters, w, entry);
	wait_arm(l);
	return RPC_WAIT;
}

const struct rpc_method method_lease_wait = {
	.name = "lease.wait",
	.summary = "wait until a lease's sandbox (a job) has finished",
	.exec = lease_wait,
};
