/*
 * The gRPC server: listening ports, a set of outstanding request slots (one
 * re-armed each time one is taken, so calls are served concurrently), and
 * the dispatch of each new call through auth, faults and the method table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <grpc/grpc_security.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define NSLOTS		32
#define MAX_MSG		(64 * 1024 * 1024)
#define GW_SVC		"/coreweave.sandbox.v1beta2.GatewayService/"
#define GW_STREAM	"/coreweave.sandbox.v1beta2.GatewayStreamingService/"

static const struct method methods[] = {
	{ GW_SVC "Start", "Start", false, svc_start, NULL },
	{ GW_SVC "Stop", "Stop", false, svc_stop, NULL },
	{ GW_SVC "Get", "Get", false, svc_get, NULL },
	{ GW_SVC "List", "List", false, svc_list, NULL },
	{ GW_SVC "Delete", "Delete", false, svc_delete, NULL },
	{ GW_SVC "Exec", "Exec", false, svc_exec, NULL },
	{ GW_SVC "AddFile", "AddFile", false, svc_add_file, NULL },
	{ GW_SVC "RetrieveFile", "RetrieveFile", false, svc_retrieve_file,
	    NULL },
	{ GW_SVC "Pause", "Pause", false, svc_pause, NULL },
	{ GW_SVC "Resume", "Resume", false, svc_resume, NULL },
	{ GW_STREAM "StreamExec", "StreamExec", true, NULL, stream_exec },
	{ GW_STREAM "StreamLogs", "StreamLogs", true, NULL, stream_logs },
};

struct slot {
	struct cq_tag	 tag;
	struct call	*c;
};

struct latency {
	struct call	*c;
	struct event	*ev;
};

static grpc_server	*srv;
static struct slot	 slots[NSLOTS];
static size_t		 live_calls;
static bool		 stopping, stopped;
static struct cq_tag	 t_shutdown;

static void	slot_arm(struct slot *);

/* The method whose path (or, by_name, short name) is s[0..len). */
static const struct method *
method_find(const char *s, size_t len, bool by_name)
{
	const char	*key;
	size_t		 i;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		key = by_name ? methods[i].name : methods[i].path;
		if (strlen(key) == len && memcmp(key, s, len) == 0)
			return &methods[i];
	}
	return NULL;
}

const struct method *
server_method(const char *path, size_t len)
{
	return method_find(path, len, false);
}

/* A method by its short name ("Start"), for fault specs. */
const struct method *
server_method_name(const char *name, size_t len)
{
	return method_find(name, len, true);
}

void
server_call_freed(void)
{
	live_calls--;
}

/* A unary request arrived: run the method. */
static void
unary_recv(struct call *c, void *arg, grpc_byte_buffer *bb)
{
	const struct method	*m = arg;

	m->unary(c, bb);
}

/* Runs the method once auth and faults let the call through. */
static void
run_method(struct call *c)
{
	const struct method	*m = call_method(c);

	if (m->streaming) {
		m->stream(c);
		return;
	}
	call_recv(c, unary_recv, (void *)m);
}

/* The injected latency is over. */
static void
latency_done(evutil_socket_t fd, short what, void *arg)
{
	struct latency	*l = arg;
	struct call	*c = l->c;

	event_free(l->ev);
	free(l);
	call_on_cancel(c, NULL, NULL);
	run_method(c);
}

/* The client left during the injected latency. */
static void
latency_cancel(struct call *c, void *arg)
{
	struct latency	*l = arg;

	event_free(l->ev);
	free(l);
}

/* Applies the fault set to a new call; false when the call is answered. */
static bool
apply_faults(struct call *c, const struct method *m)
{
	struct latency	*l;
	struct timeval	 tv;
	int64_t		 ms;
	unsigned	 n;

	if (fault_unavailable(m->name)) {
		stats_fault("unavailable");
		call_finish(c, GRPC_STATUS_UNAVAILABLE,
		    "injected fault: unavailable");
		return false;
	}
	if (!m->streaming && fault_drop_reply(m->name))
		call_set_dropreply(c);
	if (m->streaming && (n = fault_break_stream(m->name)) != 0)
		call_set_break(c, n);
	if ((ms = fault_latency_ms(m->name)) > 0) {
		stats_fault("latency");
		l = xcalloc(1, sizeof *l);
		l->c = c;
		l->ev = evtimer_new(gw.base, latency_done, l);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		evtimer_add(l->ev, &tv);
		call_on_cancel(c, latency_cancel, l);
		return false;
	}
	return true;
}

/* A new call: count it, check it, and hand it to its method. */
static void
dispatch(struct call *c)
{
	grpc_call_details	*d = call_details(c);
	const struct method	*m;
	const char		*why;
	grpc_status_code	 code;

	call_accepted(c);
	m = server_method((const char *)GRPC_SLICE_START_PTR(d->method),
	    GRPC_SLICE_LENGTH(d->method));
	stats_call(m != NULL ? m->name : "unknown");
	if (m == NULL) {
		call_finishf(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method %.*s",
		    (int)GRPC_SLICE_LENGTH(d->method),
		    (const char *)GRPC_SLICE_START_PTR(d->method));
		return;
	}
	call_set_method(c, m);
	if (stopping) {
		call_finish(c, GRPC_STATUS_UNAVAILABLE, "gateway shutting down");
		return;
	}
	if ((code = auth_check(c, &why)) != GRPC_STATUS_OK) {
		call_finish(c, code, why);
		return;
	}
	if (apply_faults(c, m))
		run_method(c);
}

/* gRPC gave us a call for this slot (or the server is shutting down). */
static void
slot_done(struct cq_tag *t, bool ok)
{
	struct slot	*s = (struct slot *)t;
	struct call	*c = s->c;

	s->c = NULL;
	if (!ok) {
		call_release(c);
		return;
	}
	if (!stopping)
		slot_arm(s);
	dispatch(c);
}

static void
slot_arm(struct slot *s)
{
	grpc_completion_queue	*cq = cq_bridge_queue(gw.bridge);
	grpc_call_error		 e;

	s->tag.done = slot_done;
	s->c = call_new();
	live_calls++;
	e = grpc_server_request_call(srv, call_grpcp(s->c),
	    call_details(s->c), call_metadata(s->c), cq, cq, &s->tag);
	if (e != GRPC_CALL_OK)
		fatalx("grpc_server_request_call: %d", e);
}

/* Reads a whole small file (a PEM) into a string. */
static char *
read_pem(const char *path)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	if (getdelim(&buf, &len, '\0', f) == -1) {
		log_warn("%s: read", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Server credentials: TLS when a certificate is given, else insecure. */
static grpc_server_credentials *
make_creds(const char *cert, const char *key)
{
	grpc_ssl_pem_key_cert_pair	 pair;
	grpc_server_credentials		*cr;
	char				*c, *k;

	if (cert == NULL)
		return grpc_insecure_server_credentials_create();
	if ((c = read_pem(cert)) == NULL || (k = read_pem(key)) == NULL) {
		free(c);
		return NULL;
	}
	pair.private_key = k;
	pair.cert_chain = c;
	cr = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
	free(c);
	free(k);
	return cr;
}

/* Removes a stale unix socket; refuses one that another server answers. */
static int
check_unix(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct stat		 st;
	int			 fd, r;

	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("unix:%s: path too long", path);
		return -1;
	}
	if (stat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return 0;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	if (r == 0) {
		log_warnx("unix:%s: another server answers there", path);
		return -1;
	}
	unlink(path);
	return 0;
}

int
server_init(struct event_base *base, char **listen, size_t nlisten,
    const char *cert, const char *key)
{
	grpc_arg			 args[2];
	grpc_channel_args		 cargs = { 2, args };
	grpc_server_credentials		*creds;
	size_t				 i;

	args[0].type = args[1].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	args[0].value.integer = args[1].value.integer = MAX_MSG;
	srv = grpc_server_create(&cargs, NULL);
	grpc_server_register_completion_queue(srv, cq_bridge_queue(gw.bridge),
	    NULL);
	if ((creds = make_creds(cert, key)) == NULL)
		return -1;
	for (i = 0; i < nlisten; i++) {
		if (strncmp(listen[i], "unix:", 5) == 0 &&
		    check_unix(listen[i] + 5) == -1)
			break;
		if (grpc_server_add_http2_port(srv, listen[i], creds) == 0) {
			log_warnx("cannot listen on %s", listen[i]);
			break;
		}
	}
	grpc_server_credentials_release(creds);
	if (i < nlisten)
		return -1;
	grpc_server_start(srv);
	for (i = 0; i < NSLOTS; i++)
		slot_arm(&slots[i]);
	return 0;
}

/* The server has stopped accepting and every call it had is over. */
static void
shutdown_done(struct cq_tag *t, bool ok)
{
	stopped = true;
}

/* Stops accepting, cancels every call in flight. */
void
server_shutdown(void)
{
	if (stopping || srv == NULL)
		return;
	stopping = true;
	t_shutdown.done = shutdown_done;
	grpc_server_shutdown_and_notify(srv, cq_bridge_queue(gw.bridge),
	    &t_shutdown);
	grpc_server_cancel_all_calls(srv);
}

bool
server_drained(void)
{
	return srv == NULL || (stopped && live_calls == 0);
}

void
server_free(void)
{
	if (srv != NULL)
		grpc_server_destroy(srv);
	srv = NULL;
}
