/*
 * sandbox-gateway-local: serves the coreweave.sandbox.v1beta2 gateway API
 * from this machine.  Options, start-up, signals and the orderly shutdown.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "gw.h"
#include "log.h"
#include "parse.h"
#include "paths.h"
#include "xmalloc.h"

#define PROG		"sandbox-gateway-local"
#define DEFAULT_LISTEN	"127.0.0.1:50051"
#define SHUTDOWN_GRACE	2000	/* ms: SIGTERM → SIGKILL of sandboxes */
#define SHUTDOWN_MAX	10	/* s: then exit whatever is left */

struct gateway	 gw;

struct options {
	char		**listen;
	size_t		  nlisten;
	const char	 *root, *cert, *key, *keyfile, *entity, *faultfile;
	const char	 *statsfile;
	int		  verbose;
};

static struct event	*drain_ev, *sig_ev[4];
static int		 shutdown_deadline;

static void
usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " [options]\n"
"Serves the W&B / CoreWeave Sandboxes gateway API (coreweave.sandbox.v1beta2)\n"
"with each sandbox a local, bubblewrap-isolated process tree.\n"
"\n"
"  -l, --listen ADDR         listen on ADDR: host:port or unix:/path; repeatable\n"
"                            (default " DEFAULT_LISTEN ")\n"
"  -r, --root DIR            sandbox directories and the run id (default\n"
"                            /var/lib/" PROG " as root, else /tmp/" PROG "-UID)\n"
"  -i, --isolation MODE      auto, bwrap or none (default auto: bwrap when it\n"
"                            works here and we are root)\n"
"      --start-delay-ms N    CREATING lasts N ms before the command starts (0)\n"
"      --default-lifetime D  lifetime when max_lifetime_seconds is 0 (30m)\n"
"      --stop-grace D        SIGTERM to SIGKILL when Stop gives no grace (10s)\n"
"      --api-key-file F      require x-wandb-api-key equal to F's first line\n"
"                            and a non-empty x-entity-id\n"
"      --entity NAME         with --api-key-file: x-entity-id must be NAME\n"
"      --tls-cert F          serve TLS with this PEM certificate chain...\n"
"      --tls-key F           ...and this PEM private key\n"
"      --fault SPEC          inject a fault; repeatable; SPEC is one of\n"
"                              unavailable=[METHOD:]P   fail a fraction P (0..1)\n"
"                                                       of calls with UNAVAILABLE\n"
"                              latency=[METHOD:]DUR     delay each call by DUR\n"
"                              break-stream=[METHOD:]N  end streams with\n"
"                                                       UNAVAILABLE after N frames\n"
"                              drop-reply=[METHOD:]N    do the next N calls' work,\n"
"                                                       answer UNAVAILABLE\n"
"      --fault-file F        more faults, one per line, re-read on SIGUSR1\n"
"      --stats-file F        call counters as JSON, rewritten at most every\n"
"                            100 ms when they change and on SIGUSR2\n"
"  -v, --verbose             log debug lines\n"
"  -h, --help                this text\n"
"  -V, --version             print the version\n"
"\n"
"SIGTERM/SIGINT stop gracefully (exit 0).  See " PROG "(8).\n");
}

/* A duration option, or exit with the reason. */
static int64_t
opt_duration(const char *name, const char *v)
{
	const char	*err;
	int64_t		 ms;

	if (parse_duration(v, &ms, &err) == -1) {
		fprintf(stderr, PROG ": --%s %s: %s\n", name, v, err);
		exit(2);
	}
	return ms;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	enum { O_DELAY = 256, O_LIFE, O_GRACE, O_KEY, O_ENTITY, O_CERT, O_TKEY,
	    O_FAULT, O_FFILE, O_STATS };
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "root", required_argument, NULL, 'r' },
		{ "isolation", required_argument, NULL, 'i' },
		{ "start-delay-ms", required_argument, NULL, O_DELAY },
		{ "default-lifetime", required_argument, NULL, O_LIFE },
		{ "stop-grace", required_argument, NULL, O_GRACE },
		{ "api-key-file", required_argument, NULL, O_KEY },
		{ "entity", required_argument, NULL, O_ENTITY },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_TKEY },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "fault-file", required_argument, NULL, O_FFILE },
		{ "stats-file", required_argument, NULL, O_STATS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*err;
	int64_t		 n;
	int		 ch;

	while ((ch = getopt_long(argc, argv, "l:r:i:vhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'l':
			strv_push(&o->listen, &o->nlisten, xstrdup(optarg));
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'i':
			if (strcmp(optarg, "auto") == 0)
				gw.iso = ISO_AUTO;
			else if (strcmp(optarg, "bwrap") == 0)
				gw.iso = ISO_BWRAP;
			else if (strcmp(optarg, "none") == 0)
				gw.iso = ISO_NONE;
			else {
				fprintf(stderr, PROG ": --isolation %s: want "
				    "auto, bwrap or none\n", optarg);
				exit(2);
			}
			break;
		case O_DELAY:
			if (parse_int(optarg, 0, 86400000, &n, &err) == -1) {
				fprintf(stderr, PROG ": --start-delay-ms %s: "
				    "%s\n", optarg, err);
				exit(2);
			}
			gw.start_delay_ms = n;
			break;
		case O_LIFE:
			gw.default_lifetime_ms = opt_duration("default-lifetime",
			    optarg);
			if (gw.default_lifetime_ms <= 0) {
				fprintf(stderr, PROG ": --default-lifetime "
				    "must be positive\n");
				exit(2);
			}
			break;
		case O_GRACE:
			gw.stop_grace_ms = opt_duration("stop-grace", optarg);
			break;
		case O_KEY:
			o->keyfile = optarg;
			break;
		case O_ENTITY:
			o->entity = optarg;
			break;
		case O_CERT:
			o->cert = optarg;
			break;
		case O_TKEY:
			o->key = optarg;
			break;
		case O_FAULT:
			if (fault_add(optarg, false, &err) == -1) {
				fprintf(stderr, PROG ": --fault %s: %s\n",
				    optarg, err);
				exit(2);
			}
			break;
		case O_FFILE:
			o->faultfile = optarg;
			break;
		case O_STATS:
			o->statsfile = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf(PROG " %s\n", SANDBOXD_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument %s\n", argv[optind]);
		exit(2);
	}
	if ((o->cert == NULL) != (o->key == NULL)) {
		fprintf(stderr, PROG ": --tls-cert and --tls-key go together\n");
		exit(2);
	}
	if (o->entity != NULL && o->keyfile == NULL) {
		fprintf(stderr, PROG ": --entity needs --api-key-file\n");
		exit(2);
	}
	if (o->nlisten == 0)
		strv_push(&o->listen, &o->nlisten, xstrdup(DEFAULT_LISTEN));
}

/* Makes the root directory and returns its absolute path. */
static char *
make_root(const char *root)
{
	char	*def = NULL, *abs;

	if (root == NULL) {
		def = geteuid() == 0 ? xstrdup("/var/lib/" PROG) :
		    xasprintf("/tmp/" PROG "-%u", (unsigned)geteuid());
		root = def;
	}
	if (paths_mkdir_p(root, 0711) == -1)
		fatal("%s", root);
	if ((abs = realpath(root, NULL)) == NULL)
		fatal("%s", root);
	free(def);
	return abs;
}

/* A restarted gateway forgets its sandboxes: remove their directories. */
static void
remove_old_sandboxes(const char *root)
{
	struct dirent	*de;
	DIR		*d;
	char		*p;

	if ((d = opendir(root)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "sbx-", 4) != 0)
			continue;
		p = xasprintf("%s/%s", root, de->d_name);
		fs_rmtree(p);
		free(p);
	}
	closedir(d);
}

/* Chooses the isolation mode, probing bwrap for auto. */
static void
choose_isolation(void)
{
	int	 ok;

	if (gw.iso == ISO_NONE)
		return;
	ok = spawn_probe_bwrap();
	if (gw.iso == ISO_BWRAP && !ok)
		fatalx("--isolation bwrap: bubblewrap does not work here "
		    "(it needs root and a working bwrap)");
	gw.iso = ok ? ISO_BWRAP : ISO_NONE;
}

/*
 * Every sandbox holds a few descriptors (its output pipe, a keeper's
 * status pipe, each exec's pipes): the soft limit goes up to the hard one.
 * Past it, calls fail with RESOURCE_EXHAUSTED; the gateway carries on.
 * Commands get the limit we were given back (spawn.c, the keeper): a
 * program that closes every descriptor up to the limit, or uses select(),
 * should not pay for ours.
 */
static void
raise_fd_limit(void)
{
	struct rlimit	 rl;

	gw.nofile = -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	gw.nofile = (long)rl.rlim_cur;	/* for the sandboxes' commands */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit RLIMIT_NOFILE");
}

/* Without isolation every command needs its keeper program. */
static void
find_keeper(void)
{
	if (gw.iso == ISO_NONE && spawn_find_keeper() == -1)
		fatalx("--isolation none needs sandbox-gateway-keeper "
		    "(see FILES in sandbox-gateway-local(8))");
}

/*
 * The loop, with the precise monotonic clock: with the coarse one (the
 * default) a timer may fire a few ms early, and --fault latency=400ms
 * must delay a call by 400 ms at least.
 */
static struct event_base *
new_base(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		fatalx("event_base_new");
	event_config_free(cfg);
	return base;
}

/* Exits the loop once every call and every sandbox process is gone. */
static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	if ((server_drained() && child_count() == 0) ||
	    --shutdown_deadline <= 0) {
		if (shutdown_deadline <= 0)
			log_warnx("shutdown: giving up waiting");
		event_base_loopexit(gw.base, NULL);
	}
}

/* SIGTERM/SIGINT: stop accepting, cancel calls, stop sandboxes. */
static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	struct timeval	 tv = { 0, 20000 };

	if (gw.shutting_down) {
		log_info("second signal: exiting now");
		event_base_loopexit(gw.base, NULL);
		return;
	}
	log_info("shutting down");
	gw.shutting_down = true;
	if (gw.stop_grace_ms > SHUTDOWN_GRACE)
		gw.stop_grace_ms = SHUTDOWN_GRACE;
	server_shutdown();
	sandbox_stop_all();
	shutdown_deadline = SHUTDOWN_MAX * 50;
	drain_ev = event_new(gw.base, -1, EV_PERSIST, drain_check, NULL);
	event_add(drain_ev, &tv);
}

static void
on_usr(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGUSR1)
		fault_reload();
	else
		stats_write();
}

static void
add_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };
	int		 i;

	for (i = 0; i < 4; i++) {
		sig_ev[i] = evsignal_new(gw.base, sigs[i], i < 2 ? on_term :
		    on_usr, NULL);
		evsignal_add(sig_ev[i], NULL);
	}
}

/* Kills whatever is left, frees everything, shuts gRPC down. */
static void
teardown(struct options *o)
{
	struct sandbox	*sb;
	int		 i;

	TAILQ_FOREACH(sb, &gw.sandboxes, entry)
		if (sb->pid > 0 && !sb->reaped)
			tree_signal(sb, SIGKILL);
	tree_free_all();
	server_shutdown();
	server_free();
	cq_bridge_free(gw.bridge);
	grpc_shutdown();
	stats_write();
	sandbox_free_all();
	for (i = 0; i < 4; i++)
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
	if (drain_ev != NULL)
		event_free(drain_ev);
	child_free();
	stats_free();
	fault_free();
	auth_free();
	strv_free(gw.host_top);
	strv_free(o->listen);
	free((char *)gw.root);
	event_base_free(gw.base);
}

int
main(int argc, char **argv)
{
	struct options	 o = { 0 };
	char		*addrs;
	size_t		 i;

	gw.iso = ISO_AUTO;
	gw.default_lifetime_ms = 30 * 60 * 1000;
	gw.stop_grace_ms = 10 * 1000;
	TAILQ_INIT(&gw.sandboxes);
	parse_options(argc, argv, &o);
	log_init(PROG, o.verbose);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (auth_init(o.keyfile, o.entity) == -1)
		exit(1);
	if (o.faultfile != NULL) {
		fault_set_file(o.faultfile);
		if (fault_load_file(o.faultfile) == -1)
			exit(1);
	}
	gw.root = make_root(o.root);
	random_hex(gw.run_id, 16);
	tree_init(gw.run_id);
	choose_isolation();
	find_keeper();
	leftovers_kill(gw.root, gw.run_id);
	remove_old_sandboxes(gw.root);

	gw.base = new_base();
	grpc_init();
	gw.bridge = cq_bridge_new(gw.base);
	child_init(gw.base);
	tree_start(gw.base);
	stats_init(gw.base, o.statsfile);
	add_signals();
	if (server_init(gw.base, o.listen, o.nlisten, o.cert, o.key) == -1) {
		teardown(&o);
		exit(1);
	}
	addrs = xstrdup(o.listen[0]);
	for (i = 1; i < o.nlisten; i++) {
		char *n = xasprintf("%s, %s", addrs, o.listen[i]);
		free(addrs);
		addrs = n;
	}
	log_info("listening on %s, isolation %s, root %s, run %s", addrs,
	    gw.iso == ISO_BWRAP ? "bwrap" : "none", gw.root, gw.run_id);
	free(addrs);

	event_base_dispatch(gw.base);
	teardown(&o);
	return 0;
}
