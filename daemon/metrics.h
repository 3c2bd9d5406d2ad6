/*
 * The daemon's figures for operators: counters and histograms fed as
 * things happen, plus gauges read from live state (leases, clients,
 * gateway channels) when asked.  One model, two renderings: JSON for the
 * `metrics` control method and Prometheus text for the HTTP endpoint, so
 * the two can never disagree.  Nothing here holds or renders a secret;
 * label values come from our own tables or configured pool names only.
 */
#ifndef SBX_METRICS_H
#define SBX_METRICS_H

#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

struct daemon;
struct metrics;

/* What can happen to a lease (for sandboxd_lease_events_total). */
enum metrics_lease_event {
	METRICS_LEASE_ACQUIRED,		/* handed to a client */
	METRICS_LEASE_WARM_HIT,		/* … from a warm pool */
	METRICS_LEASE_COLD_START,	/* … by starting a sandbox for it */
	METRICS_LEASE_RELEASED,		/* given back by its owner */
	METRICS_LEASE_EXPIRED,		/* reclaimed at its TTL */
	METRICS_LEASE_LOST,		/* its sandbox vanished upstream */
	METRICS_LEASE_FAILED,		/* the sandbox failed to start */
	METRICS_LEASE_EVENT_COUNT
};

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);

/*
 * A control request was answered after `usec`: `kind` is the error kind
 * or NULL on success; `pool` a configured pool name or NULL.  rpc-dispatch
 * calls this for every request.
 */
void	metrics_rpc_done(struct metrics *, const char *method, const char *pool,
	    const char *kind, int64_t usec);
/* A lease event; `pool` is a configured pool name or NULL. */
void	metrics_lease_event(struct metrics *, const char *pool,
	    enum metrics_lease_event);
/* A gateway call ended: `method` ("Start"), grpc_status_code, duration. */
void	metrics_gw_call(struct metrics *, const char *method, int grpc_code,
	    int64_t usec);
/* Bytes moved for clients: `stream` is "stdin", "stdout", "stderr" (exec),
 * "file_in", "file_out" (file.write, file.read) or "tail" (logs sent). */
void	metrics_bytes(struct metrics *, const char *stream, uint64_t n);

/*
 * Every figure as {"families": [{"name", "type", "help", "samples":
 * [{"name", "labels": {…}, "value"}]}]}; sample names are the exposition
 * names (x_bucket, x_sum, x_count for histograms).
 */
json_t	*metrics_json(struct daemon *);
/* The same families as Prometheus text format 0.0.4. */
void	metrics_render_text(const json_t *model, struct evbuffer *);

/* The metrics HTTP endpoint (metrics-http.c), on metrics_listen. */
struct metrics_http;
/*
 * Listens on `listen` ("host:port", "[v6]:port"): loopback addresses
 * only, unless `allow_remote`.  Port 0 picks one.  NULL and *err (heap)
 * when the address is bad, not allowed, or cannot be bound.
 */
struct metrics_http	*metrics_http_new(struct daemon *, const char *listen,
			    int allow_remote, char **err);
void			 metrics_http_free(struct metrics_http *);
/* The bound address, "127.0.0.1:9464" or "[::1]:9464". */
const char		*metrics_http_address(const struct metrics_http *);

#endif
