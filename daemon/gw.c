/*
 * The gateway client's life: gRPC set up (grpc_init is ours, refcounted by
 * gRPC itself), the metadata every call carries, the pool, the status
 * object, and an orderly end in which every callback runs once.
 */
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "log.h"
#include "xmalloc.h"

static const char *const gw_status_names[] = {
	[GW_STATUS_UNSPECIFIED] = "unspecified",
	[GW_STATUS_CREATING] = "creating",
	[GW_STATUS_RUNNING] = "running",
	[GW_STATUS_COMPLETED] = "completed",
	[GW_STATUS_FAILED] = "failed",
	[GW_STATUS_TERMINATED] = "terminated",
	[GW_STATUS_PENDING] = "pending",
	[GW_STATUS_PAUSED] = "paused",
	[8] = NULL,
	[GW_STATUS_TERMINATING] = "terminating",
};

const char *
gw_status_name(enum gw_status st)
{
	if ((unsigned)st >= sizeof gw_status_names / sizeof gw_status_names[0] ||
	    gw_status_names[st] == NULL)
		return "unspecified";
	return gw_status_names[st];
}

bool
gw_status_terminal(enum gw_status st)
{
	return st == GW_STATUS_COMPLETED || st == GW_STATUS_FAILED ||
	    st == GW_STATUS_TERMINATED;
}

/* A header value must be visible ASCII: gRPC refuses anything else. */
static bool
md_value_ok(const char *v)
{
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			return false;
	return true;
}

static int
md_add(struct gw *gw, const char *key, const char *value, char **err)
{
	if (value == NULL || *value == '\0')
		return 0;
	if (!md_value_ok(value)) {
		/* Never quote the value: it may be a key. */
		*err = xasprintf("%s: value has characters a gRPC header "
		    "cannot carry", key);
		return -1;
	}
	gw->md[gw->nmd].key = grpc_slice_from_static_string(key);
	gw->md[gw->nmd].value = grpc_slice_from_copied_string(value);
	gw->nmd++;
	return 0;
}

/* Wipes and drops the header values (the key among them). */
static void
md_clear(struct gw *gw)
{
	size_t	 i;

	for (i = 0; i < gw->nmd; i++) {
		explicit_bzero(GRPC_SLICE_START_PTR(gw->md[i].value),
		    GRPC_SLICE_LENGTH(gw->md[i].value));
		grpc_slice_unref(gw->md[i].value);
	}
	gw->nmd = 0;
}

static int
md_build(struct gw *gw, const struct gw_options *o, char **err)
{
	char	*bearer = NULL;
	int	 rc;

	if (o->bearer != NULL && *o->bearer != '\0')
		bearer = xasprintf("Bearer %s", o->bearer);
	rc = md_add(gw, "x-wandb-api-key", o->api_key, err) == -1 ||
	    md_add(gw, "x-entity-id", o->entity, err) == -1 ||
	    md_add(gw, "x-project-name", o->project, err) == -1 ||
	    md_add(gw, "authorization", bearer, err) == -1 ? -1 : 0;
	if (bearer != NULL) {
		explicit_bzero(bearer, strlen(bearer));
		free(bearer);
	}
	return rc;
}

static int
check_options(const struct gw_options *o, char **err)
{
	if (o->target == NULL || *o->target == '\0')
		*err = xstrdup("no gateway address");
	else if (o->channels < 1 || o->channels > 64)
		*err = xasprintf("channels must be 1 to 64, not %d",
		    o->channels);
	else if (o->call_timeout_ms < 1)
		*err = xstrdup("call timeout must be positive");
	else if (o->keepalive_ms < 0)
		*err = xstrdup("keepalive must not be negative");
	else
		return 0;
	return -1;
}

struct gw *
gw_new(struct event_base *base, const struct gw_options *o, char **err)
{
	struct gw	*gw;

	*err = NULL;
	if (check_options(o, err) == -1)
		return NULL;
	grpc_init();
	gw = xcalloc(1, sizeof *gw);
	gw->base = base;
	gw->target = xstrdup(o->target);
	gw->tls = o->tls && strncmp(o->target, "unix:", 5) != 0;
	gw->call_timeout_ms = o->call_timeout_ms;
	gw->metrics = o->metrics;
	TAILQ_INIT(&gw->calls);
	TAILQ_INIT(&gw->streams);
	if (md_build(gw, o, err) == -1 || gw_channels_open(gw, o, err) == -1) {
		md_clear(gw);
		free(gw->target);
		free(gw);
		grpc_shutdown();
		return NULL;
	}
	gw->br = cq_bridge_new(base);
	gw_watch_start(gw);
	log_debug("gateway %s: %d channel%s, %s", gw->target, gw->nchans,
	    gw->nchans == 1 ? "" : "s", gw->tls ? "TLS" : "plaintext");
	return gw;
}

/*
 * Cancels everything, lets the cancelled completions report (through the
 * bridge's final dispatch), reports what never reached the wire, then
 * closes the channels.  Must not be called from a gw callback.
 */
void
gw_free(struct gw *gw)
{
	if (gw == NULL)
		return;
	gw->freeing = true;
	event_free(gw->watch);
	gw->watch = NULL;
	gw->on_up = NULL;
	gw_calls_abort(gw);
	gw_streams_abort(gw);
	cq_bridge_free(gw->br);
	gw->br = NULL;
	gw_calls_abort(gw);
	gw_streams_abort(gw);
	if (!TAILQ_EMPTY(&gw->calls) || !TAILQ_EMPTY(&gw->streams))
		fatalx("gw_free: work left after the queue drained");
	gw_channels_close(gw);
	md_clear(gw);
	free(gw->down_reason);
	free(gw->target);
	free(gw);
	grpc_shutdown();
}

json_t *
gw_status_json(struct gw *gw)
{
	json_t			*chans = json_array();
	grpc_connectivity_state	 st;
	int			 i, inflight = 0;

	for (i = 0; i < gw->nchans; i++) {
		st = grpc_channel_check_connectivity_state(gw->chans[i].ch, 0);
		inflight += gw->chans[i].inflight;
		json_array_append_new(chans, json_pack("{s:i, s:s, s:i, s:I}",
		    "index", i, "state", gw_state_name(st),
		    "inflight", gw->chans[i].inflight,
		    "calls", (json_int_t)gw->chans[i].calls));
	}
	return json_pack("{s:s, s:b, s:o, s:b, s:s?, s:I, s:i, s:I, s:I, s:I, "
	    "s:I}",
	    "target", gw->target, "tls", gw->tls, "channels", chans,
	    "down", gw_down(gw), "down_reason", gw_down(gw) ?
	    gw->down_reason : NULL, "down_ms", (json_int_t)(gw_down(gw) ?
	    gw_now_ms() - gw->down_since : 0),
	    "inflight", inflight, "calls", (json_int_t)gw->ncalls,
	    "retries", (json_int_t)gw->nretries,
	    "failed", (json_int_t)gw->nfailed,
	    "streams", (json_int_t)gw->nstreams);
}
