/*
 * The channel pool: N channels to one target, each its own HTTP/2
 * connection (a local subchannel pool per channel), kept alive, and the
 * least-loaded choice among those that can carry a call now; and the
 * gateway's reachability as the channels' states tell it (down, back).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <grpc/grpc_security.h>

#include "gw-internal.h"
#include "log.h"
#include "xmalloc.h"

#define GW_CA_MAX	(4 << 20)

static grpc_arg
int_arg(char *key, int value)
{
	grpc_arg	 a;

	a.type = GRPC_ARG_INTEGER;
	a.key = key;
	a.value.integer = value;
	return a;
}

/* Reads a PEM bundle whole; NULL and *err on failure. */
static char *
read_ca(const char *path, char **err)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*err = xasprintf("ca_file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > GW_CA_MAX) {
		*err = xasprintf("ca_file %s: not a regular file under 4 MiB",
		    path);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	if (strstr(buf, "-----BEGIN CERTIFICATE-----") == NULL) {
		*err = xasprintf("ca_file %s: no PEM certificate in it", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The credentials every channel uses; NULL and *err on failure. */
static grpc_channel_credentials *
channel_creds(const struct gw_options *o, char **err)
{
	char				*pem = NULL;
	grpc_channel_credentials	*creds;

	if (!o->tls || strncmp(o->target, "unix:", 5) == 0)
		return grpc_insecure_credentials_create();
	if (o->ca_file != NULL && (pem = read_ca(o->ca_file, err)) == NULL)
		return NULL;
	creds = grpc_ssl_credentials_create(pem, NULL, NULL, NULL);
	free(pem);
	if (creds == NULL)
		*err = xasprintf("cannot set up TLS for %s", o->target);
	return creds;
}

/* Opens the pool; -1 and *err when the options cannot work. */
int
gw_channels_open(struct gw *gw, const struct gw_options *o, char **err)
{
	grpc_channel_credentials	*creds;
	grpc_arg			 a[9];
	grpc_channel_args		 args = { 0, a };
	int				 i, n;
	int64_t				 ka = o->keepalive_ms;

	if ((creds = channel_creds(o, err)) == NULL)
		return -1;
	gw->nchans = o->channels;
	gw->chans = xcalloc((size_t)gw->nchans, sizeof *gw->chans);
	for (i = 0; i < gw->nchans; i++) {
		n = 0;
		a[n++] = int_arg(
		    GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
		/* Distinct args too, so nothing can merge the channels. */
		a[n++] = int_arg(
		    "sandboxd.channel_index", i);
		a[n++] = int_arg(
		    GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, GW_MAX_MESSAGE);
		a[n++] = int_arg(
		    GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, GW_MAX_MESSAGE);
		/*
		 * gRPC's default backoff grows to two minutes: a gateway
		 * back after an outage would sit unused that long.
		 */
		a[n++] = int_arg(
		    GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, GW_MAX_RECONNECT_MS);
		if (ka > 0) {
			a[n++] = int_arg(
			    GRPC_ARG_KEEPALIVE_TIME_MS,
			    ka > INT32_MAX ? INT32_MAX : (int)ka);
			a[n++] = int_arg(
			    GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
			    GW_KEEPALIVE_TIMEOUT_MS);
			/*
			 * Idle channels ping too, but gRPC's default cap of
			 * two pings without data stays: servers (C core,
			 * grpc-go) count faster pings as strikes and close
			 * the connection — streams and all — on the third.
			 */
			a[n++] = int_arg(
			    GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
		}
		args.num_args = (size_t)n;
		gw->chans[i].index = i;
		gw->chans[i].ch = grpc_channel_create(o->target, creds, &args);
		/* Start connecting now: the pool is kept warm. */
		grpc_channel_check_connectivity_state(gw->chans[i].ch, 1);
	}
	grpc_channel_credentials_release(creds);
	return 0;
}

void
gw_channels_close(struct gw *gw)
{
	int	 i;

	for (i = 0; i < gw->nchans; i++)
		if (gw->chans[i].ch != NULL)
			grpc_channel_destroy(gw->chans[i].ch);
	free(gw->chans);
	gw->chans = NULL;
	gw->nchans = 0;
}

/* Lower is better: READY, then IDLE (connects on use), then the rest. */
static int
state_rank(grpc_connectivity_state st)
{
	switch (st) {
	case GRPC_CHANNEL_READY:		return 0;
	case GRPC_CHANNEL_IDLE:			return 1;
	case GRPC_CHANNEL_CONNECTING:		return 2;
	case GRPC_CHANNEL_TRANSIENT_FAILURE:	return 3;
	default:				return 4;
	}
}

int
gw_pick_index(const grpc_connectivity_state *st, const int *inflight, int n)
{
	int	 i, best = 0;

	for (i = 1; i < n; i++) {
		if (state_rank(st[i]) < state_rank(st[best]) ||
		    (state_rank(st[i]) == state_rank(st[best]) &&
		    inflight[i] < inflight[best]))
			best = i;
	}
	return best;
}

/* The channel for the next call: kicks idle ones, takes the least busy. */
struct gw_channel *
gw_channel_pick(struct gw *gw)
{
	grpc_connectivity_state	 st[64];
	int			 inflight[64], i, n;

	n = gw->nchans > 64 ? 64 : gw->nchans;
	for (i = 0; i < n; i++) {
		st[i] = grpc_channel_check_connectivity_state(gw->chans[i].ch,
		    1);
		inflight[i] = gw->chans[i].inflight;
	}
	return &gw->chans[gw_pick_index(st, inflight, n)];
}

const char *
gw_state_name(grpc_connectivity_state st)
{
	switch (st) {
	case GRPC_CHANNEL_IDLE:			return "idle";
	case GRPC_CHANNEL_CONNECTING:		return "connecting";
	case GRPC_CHANNEL_READY:		return "ready";
	case GRPC_CHANNEL_TRANSIENT_FAILURE:	return "transient_failure";
	case GRPC_CHANNEL_SHUTDOWN:		return "shutdown";
	default:				return "unknown";
	}
}

static bool
any_ready(struct gw *gw)
{
	int	 i;

	for (i = 0; i < gw->nchans; i++) {
		if (grpc_channel_check_connectivity_state(gw->chans[i].ch, 0) ==
		    GRPC_CHANNEL_READY)
			return true;
	}
	return false;
}

static void
gw_mark_down(struct gw *gw, const char *reason)
{
	if (gw->down)
		return;
	gw->down = true;
	gw->down_since = gw_now_ms();
	free(gw->down_reason);
	gw->down_reason = gw_one_line(reason, strlen(reason));
	log_warnx("gateway %s is unreachable (%s): requests fail at once "
	    "with gateway_unavailable until it answers again", gw->target,
	    gw->down_reason);
}

static void
gw_mark_up(struct gw *gw)
{
	if (!gw->down)
		return;
	gw->down = false;
	log_info("gateway %s is reachable again (down %lld s, %llu call(s) "
	    "refused meanwhile)", gw->target,
	    (long long)((gw_now_ms() - gw->down_since) / 1000),
	    (unsigned long long)gw->nfastfail);
	gw->nfastfail = 0;
	if (gw->on_up != NULL)
		gw->on_up(gw->on_up_arg);
}

/* The timer: every channel failing is down; any READY one is back. */
static void
gw_watch(evutil_socket_t fd, short what, void *arg)
{
	struct gw		*gw = arg;
	grpc_connectivity_state	 st;
	int			 i, failing = 0;
	bool			 ready = false;

	for (i = 0; i < gw->nchans; i++) {
		/* Idle channels are kicked: the pool is kept connected. */
		st = grpc_channel_check_connectivity_state(gw->chans[i].ch, 1);
		if (st == GRPC_CHANNEL_READY)
			ready = true;
		else if (st == GRPC_CHANNEL_TRANSIENT_FAILURE ||
		    st == GRPC_CHANNEL_SHUTDOWN)
			failing++;
	}
	if (ready)
		gw_mark_up(gw);
	else if (failing == gw->nchans)
		gw_mark_down(gw, "cannot connect");
}

void
gw_watch_start(struct gw *gw)
{
	struct timeval	 tv = { 0, GW_WATCH_MS * 1000 };

	gw->watch = event_new(gw->base, -1, EV_PERSIST, gw_watch, gw);
	evtimer_add(gw->watch, &tv);
}

void
gw_note_failure(struct gw *gw, int code, const char *message)
{
	if ((code == GRPC_STATUS_UNAVAILABLE ||
	    code == GRPC_STATUS_DEADLINE_EXCEEDED) && !any_ready(gw))
		gw_mark_down(gw, message);
}

bool
gw_down(struct gw *gw)
{
	return gw->down && !any_ready(gw);
}

void
gw_set_on_up(struct gw *gw, gw_up_cb *cb, void *arg)
{
	gw->on_up = cb;
	gw->on_up_arg = arg;
}

void
gw_error_down(struct gw *gw, struct gw_error *e, const char *call)
{
	gw->nfastfail++;
	gw_error_make(e, GRPC_STATUS_UNAVAILABLE, RPC_ERR_GATEWAY_UNAVAILABLE,
	    "gateway %s is unreachable (%s, for %lld s): %s not sent",
	    gw->target, gw->down_reason,
	    (long long)((gw_now_ms() - gw->down_since) / 1000), call);
}
