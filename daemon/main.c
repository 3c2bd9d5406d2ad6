/*
 * sandboxd: leases W&B / CoreWeave sandboxes to local processes over a
 * Unix-socket JSON-RPC protocol, from pooled gRPC channels.
 */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <systemd/sd-daemon.h>

#include "budget.h"
#include "config.h"
#include "credentials.h"
#include "exec-session.h"
#include "daemon.h"
#include "gateway-address.h"
#include "gw.h"
#include "lease.h"
#include "local-gw.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "paths.h"
#include "pool.h"
#include "reaper.h"
#include "reconcile.h"
#include "state.h"
#include "statefile.h"
#include "rpc.h"
#include "rpc-server.h"
#include "tail.h"
#include "xmalloc.h"

#define SYSTEM_CONFIG	"/etc/sandboxd/sandboxd.conf"

static struct daemon	 daemon_ctx;
/* How many -v: then the configured verbose is ignored, on reload too. */
static int		 verbose_flags;

static noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
"usage: sandboxd [-fv] [-c FILE] [--socket PATH] [--gateway ADDR]\n"
"                [--state-dir DIR]\n"
"  -c, --config FILE   configuration (default " SYSTEM_CONFIG " if present)\n"
"      --socket PATH   control socket (default /run/sandboxd/sandboxd.sock\n"
"                      for root, $XDG_RUNTIME_DIR/sandboxd/sandboxd.sock)\n"
"      --gateway ADDR  local | remote | host:port | unix:/path\n"
"      --state-dir DIR state directory\n"
"  -f, --foreground    accepted for compatibility: sandboxd never forks\n"
"  -v, --verbose       debug logging; -vv also each gateway call\n"
"  -V, --version       print the version\n"
"See sandboxd(8) and sandboxd.conf(5).\n");
	exit(status);
}

static bool
instance_id_ok(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static int
write_instance_id(FILE *f, void *arg)
{
	return fprintf(f, "%s", (const char *)arg) < 0 ? -1 : 0;
}

/*
 * Reads the instance id file: 1 with the id, 0 when there is none, and a
 * torn or empty one (a crash mid-write before writes were crash-safe) is
 * moved aside.  One that exists but cannot be read stops us.
 */
static int
read_instance_id(const char *path, char *id)
{
	char	 buf[64], *aside;
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s: refusing to start", path);
		exit(EX_NOINPUT);
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	if (ferror(f)) {
		log_warn("%s: refusing to start", path);
		exit(EX_NOINPUT);
	}
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (instance_id_ok(buf)) {
		memcpy(id, buf, 17);
		return 1;
	}
	aside = xasprintf("%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, aside) == -1)
		fatal("%s is not an instance id and cannot be moved aside",
		    path);
	log_warnx("%s is not an instance id (torn or empty): moved aside to "
	    "%s", path, aside);
	free(aside);
	return 0;
}

/*
 * The instance id tags our sandboxes and must survive every restart: a
 * new one would disown everything running.  The file, else the copy in
 * state.json, else a new random one; written crash-safely.
 */
static void
load_instance_id(struct daemon *d)
{
	char		*path = xasprintf("%s/instance-id", d->state_dir);
	char		*err = NULL, line[18];
	unsigned char	 r[8];
	size_t		 i;

	statefile_clean_tmp(path);
	if (read_instance_id(path, d->instance_id) == 1) {
		free(path);
		return;
	}
	if (state_instance_id(d->state_dir, d->instance_id) == 1) {
		log_warnx("instance id %s recovered from state.json",
		    d->instance_id);
	} else {
		if (getrandom(r, sizeof r, 0) != sizeof r)
			fatal("getrandom");
		for (i = 0; i < sizeof r; i++)
			snprintf(d->instance_id + 2 * i, 3, "%02x", r[i]);
		log_info("new instance id %s", d->instance_id);
	}
	snprintf(line, sizeof line, "%s", d->instance_id);
	if (statefile_write_with(path, write_instance_id, line, &err) == -1)
		fatalx("cannot write the instance id: %s", err);
	free(path);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("%s: shutting down", strsignal(sig));
	daemon_shutdown(arg);
}

/* Budgets apply to new requests from the next one on: take them all. */
static void
budgets_adopt(struct config *cur, struct config *next)
{
	struct config_budget	*u = cur->user_budgets, *g = cur->group_budgets;
	int			 nu = cur->nuser_budgets;
	int			 ng = cur->ngroup_budgets;
	struct config_budget	 b = cur->budget;

	cur->budget = next->budget;
	cur->user_budgets = next->user_budgets;
	cur->nuser_budgets = next->nuser_budgets;
	cur->group_budgets = next->group_budgets;
	cur->ngroup_budgets = next->ngroup_budgets;
	next->budget = b;		/* the old ones are freed with `next` */
	next->user_budgets = u;
	next->nuser_budgets = nu;
	next->group_budgets = g;
	next->ngroup_budgets = ng;
}

/* SIGHUP: re-read the file and apply what is safe to change live. */
static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct daemon	*d = arg;
	struct config	 cfg;
	char		*err = NULL, *tmp;

	if (d->config_path == NULL) {
		log_info("SIGHUP: no configuration file to reload");
		return;
	}
	notify_reloading(d->notify);
	config_defaults(&cfg);
	/* Pools are checked whole (against the new [budget]) first. */
	if (config_load(d->config_path, &cfg, &err) == -1 ||
	    pools_reload(d->pools, &cfg, &err) == -1) {
		log_warnx("reload refused, keeping the running configuration: "
		    "%s", err);
		free(err);
		config_free(&cfg);
		notify_ready(d->notify);
		return;
	}
	if (verbose_flags == 0)	/* -v on the command line wins */
		log_set_verbosity((int)cfg.daemon.verbose);
	/* Budgets, limits and admins apply to new requests from now on. */
	budgets_adopt(&d->cfg, &cfg);
	tmp = d->cfg.daemon.admin_group;
	d->cfg.daemon.admin_group = cfg.daemon.admin_group;
	cfg.daemon.admin_group = tmp;	/* the old one goes with cfg */
	d->cfg.daemon.max_clients = cfg.daemon.max_clients;
	d->cfg.daemon.max_clients_per_uid = cfg.daemon.max_clients_per_uid;
	d->cfg.daemon.max_inflight = cfg.daemon.max_inflight;
	d->cfg.daemon.max_streams = cfg.daemon.max_streams;
	d->cfg.daemon.idle_timeout = cfg.daemon.idle_timeout;
	d->cfg.daemon.line_timeout = cfg.daemon.line_timeout;
	d->cfg.daemon.reconcile_interval = cfg.daemon.reconcile_interval;
	d->cfg.gateway.exec_timeout = cfg.gateway.exec_timeout;
	d->cfg.gateway.start_timeout = cfg.gateway.start_timeout;
	d->cfg.gateway.start_poll = cfg.gateway.start_poll;
	config_free(&cfg);
	log_info("configuration reloaded from %s (gateway and socket "
	    "settings need a restart)", d->config_path);
	notify_ready(d->notify);
}

/*
 * A directory someone else owns, or may write to, could hand our socket
 * or state to them (a predictable /tmp fallback): refuse to use it.
 */
static void
check_own_dir(const char *dir)
{
	struct stat	st;

	if (stat(dir, &st) == -1)
		fatal("%s", dir);
	if (st.st_uid != geteuid())
		fatalx("%s belongs to uid %u, not to us (uid %u): refusing to "
		    "use it", dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		fatalx("%s is writable by group or others (mode %03o): refusing "
		    "to use it", dir, (unsigned)(st.st_mode & 0777));
}

static void
setup_paths(struct daemon *d, const char *sock_flag, const char *state_flag)
{
	char	*slash;

	d->socket_path = sock_flag ? xstrdup(sock_flag) : d->cfg.daemon.socket ?
	    xstrdup(d->cfg.daemon.socket) : paths_default_socket(true);
	d->state_dir = state_flag ? xstrdup(state_flag) :
	    d->cfg.daemon.state_dir ? xstrdup(d->cfg.daemon.state_dir) :
	    paths_default_state_dir();
	if (d->cfg.daemon.runtime_dir != NULL)
		d->runtime_dir = xstrdup(d->cfg.daemon.runtime_dir);
	else {
		d->runtime_dir = xstrdup(d->socket_path);
		if ((slash = strrchr(d->runtime_dir, '/')) != NULL)
			*slash = '\0';
	}
	if (paths_mkdir_p(d->state_dir, 0700) == -1)
		fatal("cannot create state directory %s", d->state_dir);
	if (paths_mkdir_p(d->runtime_dir, 0755) == -1)
		fatal("cannot create runtime directory %s", d->runtime_dir);
	check_own_dir(d->runtime_dir);
	check_own_dir(d->state_dir);
}

/*
 * Wipes a key from the environment.  unsetenv() only drops the pointer:
 * the bytes stay in the initial environment block, which anyone who may
 * read /proc/PID/environ sees.  getenv() points right into that block.
 */
static void
forget_env_key(const char *name)
{
	char	*v = getenv(name);

	if (v != NULL)
		explicit_bzero(v, strlen(v));
	unsetenv(name);
}

/* Connects the gateway client to the configured or local gateway. */
static void
setup_gateway(struct daemon *d, const char *flag)
{
	struct gw_options	 o = { 0 };
	char			*addr, *err;
	bool			 is_unix;

	addr = gateway_address(flag, &d->cfg.gateway,
	    getenv("CWSANDBOX_BASE_URL"));
	if (credentials_resolve(&d->cfg.gateway, &d->creds, &err) == -1)
		fatalx("%s", err);
	/*
	 * The W&B service needs x-entity-id with a W&B key; better a clear
	 * refusal now than UNAUTHENTICATED on every call.  A CoreWeave bearer
	 * key names its organisation itself and needs no entity.
	 */
	if (gateway_is_remote(addr) && d->creds.api_key != NULL &&
	    d->creds.bearer == NULL && d->creds.entity == NULL) {
		log_warnx("refusing to start: gateway %s needs a W&B entity "
		    "with a W&B API key; set entity in [gateway] of "
		    "sandboxd.conf or WANDB_ENTITY_NAME", addr);
		exit(EX_CONFIG);
	}
	/* Read once; the local gateway child must not inherit the keys. */
	forget_env_key("SANDBOXD_API_KEY");
	forget_env_key("WANDB_API_KEY");
	forget_env_key("CWSANDBOX_API_KEY");
	if (strcmp(addr, "local") == 0) {
		if ((d->local_gw = local_gw_start(d, &err)) == NULL)
			fatalx("local gateway: %s", err);
		d->gateway_target = xstrdup(local_gw_target(d->local_gw));
	} else
		d->gateway_target = xstrdup(addr);
	free(d->cfg.gateway.address);
	d->cfg.gateway.address = addr;
	is_unix = strncmp(d->gateway_target, "unix:", 5) == 0;
	o.target = d->gateway_target;
	o.tls = d->cfg.gateway.tls_set ? d->cfg.gateway.tls : !is_unix;
	o.ca_file = d->cfg.gateway.ca_file;
	o.channels = (int)d->cfg.gateway.channels;
	o.call_timeout_ms = d->cfg.gateway.call_timeout;
	o.keepalive_ms = d->cfg.gateway.keepalive;
	o.api_key = d->creds.api_key;
	o.bearer = d->creds.bearer;
	o.entity = d->creds.entity;
	o.project = d->creds.project;
	o.metrics = d->metrics;
	if (d->local_gw == NULL && o.api_key == NULL && o.bearer == NULL)
		log_warnx("no API key found (SANDBOXD_API_KEY, credentials, "
		    "api_key_file, WANDB_API_KEY, ~/.netrc): the gateway will "
		    "refuse calls");
	if ((d->gw = gw_new(d->base, &o, &err)) == NULL)
		fatalx("gateway %s: %s", d->gateway_target, err);
	log_info("gateway %s (%s%s, %d channels, key from %s)",
	    d->cfg.gateway.address, d->gateway_target, o.tls ? ", tls" : "",
	    o.channels, d->creds.source ? d->creds.source : "nowhere");
}

/* A socket passed by systemd (sandboxd.socket), else -1. */
static int
listen_fd(void)
{
	int	n = sd_listen_fds(1);

	if (n > 1)
		fatalx("expected one socket from systemd, got %d", n);
	return n == 1 ? SD_LISTEN_FDS_START : -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct daemon	*d = &daemon_ctx;
	const char	*sock = NULL, *gwflag = NULL, *state = NULL;
	struct event	*sigs[4];
	char		*err = NULL;
	int		 ch, fd;
	bool		 keep_gw;
	unsigned	 nleft;

	while ((ch = getopt_long(argc, argv, "c:fvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': d->config_path = xstrdup(optarg); break;
		case 's': sock = optarg; break;
		case 'g': gwflag = optarg; break;
		case 'S': state = optarg; break;
		case 'f': break;
		case 'v': verbose_flags++; break;
		case 'V': printf("sandboxd %s\n", SANDBOXD_VERSION); return 0;
		case 'h': usage(0);
		default: usage(64);
		}
	}
	if (optind != argc)
		usage(64);
	log_init("sandboxd", verbose_flags);
	/* Our memory will hold the API key: no core dumps, no same-uid ptrace. */
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("prctl PR_SET_DUMPABLE");
	config_defaults(&d->cfg);
	if (d->config_path == NULL && access(SYSTEM_CONFIG, F_OK) == 0)
		d->config_path = xstrdup(SYSTEM_CONFIG);
	if (d->config_path != NULL &&
	    config_load(d->config_path, &d->cfg, &err) == -1)
		fatalx("%s", err);
	if (verbose_flags == 0)
		log_set_verbosity((int)d->cfg.daemon.verbose);

	signal(SIGPIPE, SIG_IGN);
	umask(022);
	d->base = event_base_new();
	d->started_ms = now_mono_ms();
	d->metrics = metrics_new();
	setup_paths(d, sock, state);
	load_instance_id(d);
	d->leases = lease_table_new(d);
	d->reaper = reaper_new(d);
	d->budget = budget_new(d);
	grpc_init();
	setup_gateway(d, gwflag);
	fd = listen_fd();
	if ((d->server = rpc_server_new(d, fd == -1 ? d->socket_path : NULL,
	    fd, &err)) == NULL)
		fatalx("%s", err);
	sigs[0] = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	sigs[1] = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	sigs[2] = evsignal_new(d->base, SIGHUP, on_reload, d);
	sigs[3] = NULL;
	for (ch = 0; sigs[ch] != NULL; ch++)
		evsignal_add(sigs[ch], NULL);
	if ((d->pools = pools_new(d, &d->cfg, &err)) == NULL)
		fatalx("%s", err);
	state_load(d);
	reconcile_start(d);
	log_info("listening on %s (instance %s)", fd == -1 ? d->socket_path :
	    "a socket from systemd", d->instance_id);
	if (d->cfg.daemon.metrics_listen != NULL &&
	    (d->metrics_http = metrics_http_new(d, d->cfg.daemon.metrics_listen,
	    d->cfg.daemon.metrics_allow_remote, &err)) == NULL)
		fatalx("%s", err);
	/* READY=1 comes once the first reconciliation pass is over. */
	d->notify = notify_new(d);

	event_base_dispatch(d->base);

	log_info("stopped");
	for (ch = 0; sigs[ch] != NULL; ch++)
		event_free(sigs[ch]);
	if (d->stop_timer != NULL)
		event_free(d->stop_timer);
	/*
	 * Gateway calls still in flight end first (cancelled), while
	 * everything their callbacks touch is still there.
	 */
	gw_free(d->gw);
	d->gw = NULL;
	notify_free(d->notify);
	d->notify = NULL;
	metrics_http_free(d->metrics_http);
	rpc_server_free(d->server);
	exec_table_free(d->execs);
	tail_table_free(d->tails);
	nleft = lease_count(d->leases);
	keep_gw = nleft > 0 ||
	    (d->pools != NULL && pools_sandboxes(d->pools) > 0);
	state_free(d);
	lease_table_free(d->leases);
	pools_free(d->pools);
	reaper_free(d->reaper);
	budget_free(d->budget);
	reconcile_free(d);
	grpc_shutdown();
	metrics_free(d->metrics);
	if (keep_gw && d->local_gw != NULL) {
		log_info("leaving the local gateway running for the next start "
		    "(it holds %u leased sandbox(es))", nleft);
		local_gw_detach(d->local_gw);
	}
	local_gw_free(d->local_gw);
	credentials_free(&d->creds);
	config_free(&d->cfg);
	event_base_free(d->base);
	free(d->config_path);
	free(d->socket_path);
	free(d->state_dir);
	free(d->runtime_dir);
	free(d->gateway_target);
	return 0;
}
