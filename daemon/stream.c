/* What exec output and log tails share; see stream.h. */
#include <sys/random.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "rpc-server.h"
#include "stream.h"
#include "xmalloc.h"

void
stream_make_id(char prefix, char *id)
{
	static const char	 alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	unsigned char		 r[8];
	size_t			 i;

	if (getrandom(r, sizeof r, 0) != sizeof r)
		fatal("getrandom");
	id[0] = prefix;
	id[1] = '-';
	for (i = 0; i < sizeof r; i++)
		id[2 + i] = alphabet[r[i] % (sizeof alphabet - 1)];
	id[10] = '\0';
}

json_t *
stream_error_json(enum rpc_err e, const char *msg)
{
	json_t	*env = rpc_error_new(NULL, e, NULL, "%s", msg);
	json_t	*err = json_incref(json_object_get(env, "error"));

	json_decref(env);
	return err;
}

/*
 * Upstream frames are a few KiB each; each one as its own notification
 * would cost both ends their per-message work.  The drain hook the caller
 * sets runs after every write, so held bytes go out with the next one.
 */
bool
stream_hold(struct rpc_client *c, bool live, uint64_t cursor, uint64_t end)
{
	size_t	 queued = rpc_client_queued(c);

	return queued >= STREAM_SUB_HIGH ||
	    (live && queued > 0 && end - cursor < STREAM_CHUNK);
}

/*
 * Built by hand rather than by jansson: the base64 is nearly all of the
 * line, and an encoder scans it a character at a time (twice) for what
 * base64 never holds.  Nothing else needs escaping either: the method,
 * key and stream names are ours, and ids come from stream_make_id.
 */
char *
stream_data_line(const struct stream_data *sd, size_t *len)
{
	size_t	 cap = sd->b64len + 256, n;
	char	*line = xmalloc(cap), *p;

	n = (size_t)snprintf(line, cap, "{\"jsonrpc\":\"2.0\",\"method\":\"%s\","
	    "\"params\":{\"%s\":\"%s\",%s%s%s\"data_b64\":\"", sd->method,
	    sd->id_key, sd->id, sd->stream != NULL ? "\"stream\":\"" : "",
	    sd->stream != NULL ? sd->stream : "",
	    sd->stream != NULL ? "\"," : "");
	if (n + sd->b64len + 80 > cap)
		fatalx("stream_data_line: names too long");
	p = line + n;
	memcpy(p, sd->b64, sd->b64len);
	p += sd->b64len;
	p += snprintf(p, 80, "\",\"offset\":%" PRIu64, sd->offset);
	if (sd->time_ms > 0)
		p += snprintf(p, 48, ",\"time\":%" PRId64 ".%03d",
		    sd->time_ms / 1000, (int)(sd->time_ms % 1000));
	memcpy(p, "}}\n", 4);
	*len = (size_t)(p + 3 - line);
	return line;
}
