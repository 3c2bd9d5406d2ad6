/* config: defaults, every section and key type, and every error message. */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])
#define S	1000LL
#define M	(60 * S)
#define H	(60 * M)

/* Asserts every documented default, as config_defaults leaves them. */
static void
check_defaults(const struct config *c)
{
	assert_null(c->daemon.socket);
	assert_null(c->daemon.state_dir);
	assert_null(c->daemon.runtime_dir);
	assert_int_equal(c->daemon.verbose, 0);
	assert_int_equal(c->daemon.max_line, 16u << 20);
	assert_int_equal(c->daemon.max_clients, 1024);
	assert_int_equal(c->daemon.max_clients_per_uid, 256);
	assert_int_equal(c->daemon.max_inflight, 64);
	assert_null(c->daemon.admin_group);
	assert_null(c->daemon.metrics_listen);
	assert_int_equal(c->daemon.idle_timeout, 5 * 60 * 1000);
	assert_int_equal(c->daemon.reconcile_interval, 60 * 1000);
	assert_false(c->daemon.keep_warm_on_shutdown);
	assert_int_equal(c->daemon.exec_ring, 4u << 20);

	assert_string_equal(c->gateway.address, "local");
	assert_false(c->gateway.tls);
	assert_false(c->gateway.tls_set);
	assert_null(c->gateway.ca_file);
	assert_int_equal(c->gateway.channels, 4);
	assert_null(c->gateway.api_key_file);
	assert_null(c->gateway.entity);
	assert_null(c->gateway.project);
	assert_int_equal(c->gateway.call_timeout, 30 * S);
	assert_int_equal(c->gateway.exec_timeout, 10 * M);
	assert_int_equal(c->gateway.start_timeout, 5 * M);
	assert_int_equal(c->gateway.keepalive, 30 * S);
	assert_null(c->gateway.local_binary);
	assert_string_equal(c->gateway.local_isolation, "auto");
	assert_int_equal(c->gateway.local_start_delay, 0);
	assert_null(c->gateway.local_root);

	assert_null(c->budget.name);
	assert_int_equal(c->budget.max_sandboxes, 0);
	assert_int_equal(c->budget.max_lifetime, 60 * M);
	assert_int_equal(c->budget.max_lease_ttl, 24 * H);
	assert_int_equal(c->budget.default_lease_ttl, 15 * M);
	assert_int_equal(c->budget.max_leases, 0);
	assert_int_equal(c->budget.sandbox_seconds, 0);
	assert_int_equal(c->budget.window, 24 * H);
	assert_int_equal(c->budget.set, 0);

	assert_int_equal(c->nuser_budgets, 0);
	assert_int_equal(c->ngroup_budgets, 0);
	assert_int_equal(c->npools, 0);
}

/* A zeroed struct gets every default; freeing twice is harmless. */
static void
test_defaults(void **state)
{
	struct config	c = { 0 };

	config_defaults(&c);
	check_defaults(&c);
	assert_null(c.path);
	config_free(&c);
	config_free(&c);
}

/* An empty file and a file of comments change nothing. */
static void
test_empty(void **state)
{
	struct config	 c = { 0 };
	char		*err = NULL;

	assert_int_equal(config_load_string("e.conf", "", &c, &err), 0);
	check_defaults(&c);
	assert_string_equal(c.path, "e.conf");
	assert_int_equal(config_load_string("e.conf",
	    "; comment\n# another\n\n   \n", &c, &err), 0);
	check_defaults(&c);
	config_free(&c);
}

static const char full_conf[] =
    "\xef\xbb\xbf; every key of every section\n"
    "[daemon]\n"
    "socket = /run/x/s.sock\n"
    "state_dir = /var/lib/x\n"
    "runtime_dir = /run/x\n"
    "verbose = 2\n"
    "max_line = 1Mi\n"
    "max_clients = 10\n"
    "max_clients_per_uid = 3\n"
    "max_inflight = 7\n"
    "admin_group = wheel\n"
    "metrics_listen = 127.0.0.1:9100\n"
    "idle_timeout = 1h30m\n"
    "keep_warm_on_shutdown = yes\n"
    "exec_ring = 64Ki\n"
    "\n"
    "[gateway]\n"
    "address = api.cwsandbox.com:443\n"
    "tls = off\n"
    "ca_file = /etc/ca.pem\n"
    "channels = 8\n"
    "api_key_file = /etc/key\n"
    "entity = team\n"
    "project = proj\n"
    "call_timeout = 45s\n"
    "exec_timeout = 1h\n"
    "start_timeout = 2m\n"
    "keepalive = 0\n"
    "local_binary = /usr/sbin/sandbox-gateway-local\n"
    "local_isolation = none\n"
    "local_start_delay = 250ms\n"
    "local_root = /srv/sbx\n"
    "\n"
    "[budget]\n"
    "max_sandboxes = 50\n"
    "max_lifetime = 2h\n"
    "max_lease_ttl = 12h\n"
    "default_lease_ttl = 15m\n"
    "max_leases = 5\n"
    "sandbox_seconds = 360000\n"
    "window = 1d\n"
    "\n"
    "[budget.user.alice]\n"
    "max_leases = 9\n"
    "window = 2h  ; inline comment\n"
    "[budget.group.ml-team]\n"
    "sandbox_seconds = 100\n"
    "[budget.user.bob.smith]\n"
    "\n"
    "[pool.default]\n"
    "image = python:3.12\n"
    "cpu = 2\n"
    "memory = 4Gi\n"
    "gpu_count = 1\n"
    "gpu_type = A100\n"
    "env = FOO=bar\n"
    "env = EMPTY=\n"
    "env = EQ=a=b\n"
    "tags = a, b ,c\n"
    "tags = d\n"
    "egress = none\n"
    "max_lifetime = 20m\n"
    "warm = 3\n"
    "warm_min = 1\n"
    "warm_max = 6\n"
    "max = 12\n"
    "min_remaining = 2m\n"
    "max_starting = 2\n"
    "start_poll = 20ms\n"
    "default = true\n"
    "\n"
    "[pool.gpu_2-x]\n"
    "image = cuda\n"
    "warm = auto\n";

/* Every key of every section lands in its field with the right type. */
static void
test_full(void **state)
{
	struct config		 c = { 0 };
	struct config_pool	*p;
	char			*err = NULL;

	if (config_load_string("full.conf", full_conf, &c, &err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.daemon.socket, "/run/x/s.sock");
	assert_string_equal(c.daemon.state_dir, "/var/lib/x");
	assert_string_equal(c.daemon.runtime_dir, "/run/x");
	assert_int_equal(c.daemon.verbose, 2);
	assert_int_equal(c.daemon.max_line, 1u << 20);
	assert_int_equal(c.daemon.max_clients, 10);
	assert_int_equal(c.daemon.max_clients_per_uid, 3);
	assert_int_equal(c.daemon.max_inflight, 7);
	assert_string_equal(c.daemon.admin_group, "wheel");
	assert_string_equal(c.daemon.metrics_listen, "127.0.0.1:9100");
	assert_int_equal(c.daemon.idle_timeout, 90 * M);
	assert_true(c.daemon.keep_warm_on_shutdown);
	assert_int_equal(c.daemon.exec_ring, 64u << 10);

	assert_string_equal(c.gateway.address, "api.cwsandbox.com:443");
	assert_false(c.gateway.tls);
	assert_true(c.gateway.tls_set);
	assert_string_equal(c.gateway.ca_file, "/etc/ca.pem");
	assert_int_equal(c.gateway.channels, 8);
	assert_string_equal(c.gateway.api_key_file, "/etc/key");
	assert_string_equal(c.gateway.entity, "team");
	assert_string_equal(c.gateway.project, "proj");
	assert_int_equal(c.gateway.call_timeout, 45 * S);
	assert_int_equal(c.gateway.exec_timeout, H);
	assert_int_equal(c.gateway.start_timeout, 2 * M);
	assert_int_equal(c.gateway.keepalive, 0);
	assert_string_equal(c.gateway.local_binary,
	    "/usr/sbin/sandbox-gateway-local");
	assert_string_equal(c.gateway.local_isolation, "none");
	assert_int_equal(c.gateway.local_start_delay, 250);
	assert_string_equal(c.gateway.local_root, "/srv/sbx");

	assert_int_equal(c.budget.max_sandboxes, 50);
	assert_int_equal(c.budget.max_lifetime, 2 * H);
	assert_int_equal(c.budget.max_lease_ttl, 12 * H);
	assert_int_equal(c.budget.default_lease_ttl, 15 * M);
	assert_int_equal(c.budget.max_leases, 5);
	assert_int_equal(c.budget.sandbox_seconds, 360000);
	assert_int_equal(c.budget.window, 24 * H);
	assert_int_equal(c.budget.set, 0x7f);	/* all seven keys given */

	/* Per-user budgets: own keys, the rest from [budget]. */
	assert_int_equal(c.nuser_budgets, 2);
	assert_string_equal(c.user_budgets[0].name, "alice");
	assert_int_equal(c.user_budgets[0].max_leases, 9);
	assert_int_equal(c.user_budgets[0].window, 2 * H);
	assert_int_equal(c.user_budgets[0].max_sandboxes, 50);
	assert_int_equal(c.user_budgets[0].max_lifetime, 2 * H);
	assert_int_equal(c.user_budgets[0].set, (1 << 4) | (1 << 6));
	assert_string_equal(c.user_budgets[1].name, "bob.smith");
	assert_int_equal(c.user_budgets[1].set, 0);
	assert_int_equal(c.user_budgets[1].max_leases, 5);
	assert_int_equal(c.ngroup_budgets, 1);
	assert_string_equal(c.group_budgets[0].name, "ml-team");
	assert_int_equal(c.group_budgets[0].sandbox_seconds, 100);
	assert_int_equal(c.group_budgets[0].max_sandboxes, 50);
	assert_int_equal(c.group_budgets[0].set, 1 << 5);

	assert_int_equal(c.npools, 2);
	p = config_pool_find(&c, "default");
	assert_ptr_equal(p, &c.pools[0]);
	assert_string_equal(p->image, "python:3.12");
	assert_string_equal(p->cpu, "2");
	assert_string_equal(p->memory, "4Gi");
	assert_int_equal(p->gpu_count, 1);
	assert_string_equal(p->gpu_type, "A100");
	assert_int_equal(p->nenv, 3);
	assert_string_equal(p->env[0].key, "FOO");
	assert_string_equal(p->env[0].value, "bar");
	assert_string_equal(p->env[1].key, "EMPTY");
	assert_string_equal(p->env[1].value, "");
	assert_string_equal(p->env[2].key, "EQ");
	assert_string_equal(p->env[2].value, "a=b");
	assert_int_equal(p->ntags, 4);
	assert_string_equal(p->tags[0], "a");
	assert_string_equal(p->tags[1], "b");
	assert_string_equal(p->tags[2], "c");
	assert_string_equal(p->tags[3], "d");
	assert_string_equal(p->egress, "none");
	assert_int_equal(p->max_lifetime, 20 * M);
	assert_int_equal(p->warm, 3);
	assert_int_equal(p->warm_min, 1);
	assert_int_equal(p->warm_max, 6);
	assert_int_equal(p->max, 12);
	assert_int_equal(p->min_remaining, 2 * M);
	assert_int_equal(p->max_starting, 2);
	assert_int_equal(p->start_poll, 20);
	assert_true(p->is_default);

	p = config_pool_find(&c, "gpu_2-x");
	assert_non_null(p);
	assert_string_equal(p->image, "cuda");
	assert_int_equal(p->warm, -1);
	assert_false(p->is_default);
	assert_null(config_pool_find(&c, "nope"));
	assert_null(config_pool_find(&c, NULL));
	config_free(&c);
}

/* An empty [pool.x] still defines a pool, with the pool defaults. */
static void
test_pool_defaults(void **state)
{
	struct config		 c = { 0 };
	struct config_pool	*p;
	char			*err = NULL;

	assert_int_equal(config_load_string("p", "[pool.x]\n", &c, &err), 0);
	assert_non_null(p = config_pool_find(&c, "x"));
	assert_null(p->image);
	assert_int_equal(p->warm, 1);
	assert_int_equal(p->warm_min, 0);
	assert_int_equal(p->warm_max, 8);
	assert_int_equal(p->demand_window, 60 * 1000);
	assert_int_equal(p->nfiles, 0);
	assert_int_equal(p->nsecrets, 0);
	assert_int_equal(p->max, 0);
	assert_int_equal(p->min_remaining, 0);
	assert_int_equal(p->max_starting, 4);
	assert_int_equal(p->start_poll, 50);
	assert_int_equal(p->max_lifetime, 0);
	assert_int_equal(p->nenv, 0);
	assert_int_equal(p->ntags, 0);
	assert_false(p->is_default);
	config_free(&c);
}

/* Settings that are good: the value a field gets from a one-line file. */
static const struct good_case {
	const char	*text;
	size_t		 off;		/* in struct config */
	int64_t		 value;
} good_cases[] = {
#define GW(f) offsetof(struct config, gateway.f)
#define DM(f) offsetof(struct config, daemon.f)
#define BG(f) offsetof(struct config, budget.f)
	{ "[gateway]\nchannels = 1", GW(channels), 1 },
	{ "[gateway]\nchannels = 64", GW(channels), 64 },
	{ "[gateway]\ncall_timeout = 1s", GW(call_timeout), 1000 },
	{ "[gateway]\ncall_timeout = 90", GW(call_timeout), 90000 },
	{ "[gateway]\nexec_timeout = 1h30m", GW(exec_timeout), 90 * M },
	{ "[daemon]\nverbose = -1", DM(verbose), -1 },
	{ "[daemon]\nmax_line=2048", DM(max_line), 2048 },
	{ "[daemon]\nmax_line = 1KiB", DM(max_line), 1024 },
	{ "[daemon]\nmax_line = 1.5Mi", DM(max_line), 3 << 19 },
	{ "[daemon]\nexec_ring = 0", DM(exec_ring), 0 },
	{ "[daemon]\r\nmax_clients = 5\r\n", DM(max_clients), 5 },
	{ "  [daemon]  ; comment\n  max_inflight  =  9  ", DM(max_inflight), 9 },
	{ "[daemon]\nmax_inflight: 11", DM(max_inflight), 11 },
	{ "[budget]\nwindow = 7d", BG(window), 7 * 24 * H },
	{ "[budget]\nsandbox_seconds = 1000000000000", BG(sandbox_seconds),
	    1000000000000LL },
	{ "[budget]\nmax_lifetime = 1s", BG(max_lifetime), 1000 },
};

/* Each good one-key file sets exactly that value. */
static void
test_good_table(void **state)
{
	struct config	 c = { 0 };
	char		*err = NULL;
	int64_t		 v;
	size_t		 i;

	for (i = 0; i < NITEMS(good_cases); i++) {
		if (config_load_string("g", good_cases[i].text, &c, &err) != 0)
			fail_msg("'%s': %s", good_cases[i].text, err);
		memcpy(&v, (char *)&c + good_cases[i].off, sizeof v);
		if (v != good_cases[i].value)
			fail_msg("'%s': got %lld", good_cases[i].text,
			    (long long)v);
	}
	config_free(&c);
}

/* Booleans in every spelling, and tls_set only when tls is given. */
static void
test_bool_and_tls(void **state)
{
	struct config	 c = { 0 };
	char		*err = NULL;

	assert_int_equal(config_load_string("b", "[gateway]\ntls = YES\n", &c,
	    &err), 0);
	assert_true(c.gateway.tls);
	assert_true(c.gateway.tls_set);
	assert_int_equal(config_load_string("b", "[gateway]\ntls = 0\n", &c,
	    &err), 0);
	assert_false(c.gateway.tls);
	assert_true(c.gateway.tls_set);
	assert_int_equal(config_load_string("b", "[gateway]\nchannels = 2\n",
	    &c, &err), 0);
	assert_false(c.gateway.tls_set);
	assert_int_equal(config_load_string("b",
	    "[daemon]\nkeep_warm_on_shutdown = On\n", &c, &err), 0);
	assert_true(c.daemon.keep_warm_on_shutdown);
	config_free(&c);
}

/* Bad files: the whole message, line number included. */
static const struct bad_case {
	const char	*text;
	const char	*err;
} bad_cases[] = {
	{ "[gateway]\nfoo = 1\n", "t.conf:2: unknown key 'foo' in [gateway]" },
	{ "[daemon]\n\n\nchannels = 1\n",
	    "t.conf:4: unknown key 'channels' in [daemon]" },
	{ "[pool.a]\nwindow = 1h\n", "t.conf:2: unknown key 'window' in [pool.a]" },
	{ "[budget.user.bob]\nimage = x\n",
	    "t.conf:2: unknown key 'image' in [budget.user.bob]" },
	{ "[budget]\nmax_lifetime = abc\n", "t.conf:2: bad value for "
	    "budget.max_lifetime: 'abc' is not a duration (e.g. 90s, 30m, 2h)" },
	{ "[budget.user.al]\n;\nwindow = 5x\n", "t.conf:3: bad value for "
	    "budget.user.al.window: '5x' is not a duration (e.g. 90s, 30m, 2h)" },
	{ "[budget]\nmax_lifetime = 0\n", "t.conf:2: bad value for "
	    "budget.max_lifetime: '0' is out of range (1s..30d)" },
	{ "[gateway]\nchannels = 0\n", "t.conf:2: bad value for "
	    "gateway.channels: '0' is out of range (1..64)" },
	{ "[gateway]\nchannels = 65\n", "t.conf:2: bad value for "
	    "gateway.channels: '65' is out of range (1..64)" },
	{ "[gateway]\nchannels = 99999999999999999999\n", "t.conf:2: bad value "
	    "for gateway.channels: '99999999999999999999' is out of range "
	    "(1..64)" },
	{ "[gateway]\nchannels = four\n", "t.conf:2: bad value for "
	    "gateway.channels: 'four' is not an integer" },
	{ "[gateway]\nchannels = 4.0\n", "t.conf:2: bad value for "
	    "gateway.channels: '4.0' is not an integer" },
	{ "[gateway]\nchannels =\n", "t.conf:2: bad value for "
	    "gateway.channels: empty value" },
	{ "[gateway]\naddress =\n", "t.conf:2: bad value for "
	    "gateway.address: empty value" },
	{ "[gateway]\ntls = maybe\n", "t.conf:2: bad value for gateway.tls: "
	    "'maybe' is not a boolean (yes/no, true/false, on/off, 1/0)" },
	{ "[daemon]\nmax_line = big\n", "t.conf:2: bad value for "
	    "daemon.max_line: 'big' is not a size (e.g. 512Ki, 16Mi, 1G)" },
	{ "[daemon]\nmax_line = 10\n", "t.conf:2: bad value for "
	    "daemon.max_line: '10' is out of range (1.0KiB..1.0GiB)" },
	{ "[pool.a]\nwarm = lots\n", "t.conf:2: bad value for pool.a.warm: "
	    "'lots' is not an integer or \"auto\"" },
	{ "[pool.a]\nwarm = -1\n", "t.conf:2: bad value for pool.a.warm: "
	    "'-1' is out of range (0..10000)" },
	{ "[pool.a]\nenv = NOVALUE\n", "t.conf:2: bad value for pool.a.env: "
	    "'NOVALUE' is not KEY=VALUE (KEY: letters, digits and _)" },
	{ "[pool.a]\nenv = 1X=2\n", "t.conf:2: bad value for pool.a.env: "
	    "'1X=2' is not KEY=VALUE (KEY: letters, digits and _)" },
	{ "[pool.a]\nenv = =v\n", "t.conf:2: bad value for pool.a.env: "
	    "'=v' is not KEY=VALUE (KEY: letters, digits and _)" },
	{ "[pool.a]\nenv = A=1\nenv = A=2\n", "t.conf:3: bad value for "
	    "pool.a.env: 'A' is set twice" },
	{ "[pool.a]\ntags = a,,b\n", "t.conf:2: bad value for pool.a.tags: "
	    "'a,,b' has an empty item" },
	{ "[pool.a]\ntags = a,\n", "t.conf:2: bad value for pool.a.tags: "
	    "'a,' has an empty item" },
	{ "[frob]\n", "t.conf:1: unknown section [frob]" },
	{ "[daemon]\n[Daemon]\n", "t.conf:2: unknown section [Daemon]" },
	{ "[budget.user]\n", "t.conf:1: unknown section [budget.user]" },
	{ "[budget.user.]\n", "t.conf:1: bad user or group name in "
	    "[budget.user.]" },
	{ "[budget.group.a b]\n", "t.conf:1: bad user or group name in "
	    "[budget.group.a b]" },
	{ "[pool.]\n", "t.conf:1: bad pool name '' in [pool.] (use letters, "
	    "digits, _ and -)" },
	{ "[pool.a.b]\n", "t.conf:1: bad pool name 'a.b' in [pool.a.b] (use "
	    "letters, digits, _ and -)" },
	{ "[pool.caf\xc3\xa9]\n", "t.conf:1: bad pool name 'caf\xc3\xa9' in "
	    "[pool.caf\xc3\xa9] (use letters, digits, _ and -)" },
	{ "[pool.x]\n[pool.y]\n[pool.x]\n",
	    "t.conf:3: duplicate section [pool.x] (first at line 1)" },
	{ "[gateway]\n\n[gateway]\n",
	    "t.conf:3: duplicate section [gateway] (first at line 1)" },
	{ "[budget.user.a]\n[budget.user.a]\n",
	    "t.conf:2: duplicate section [budget.user.a] (first at line 1)" },
	{ "[gateway]\nchannels = 2\nchannels = 3\n",
	    "t.conf:3: gateway.channels is set twice (first at line 2)" },
	{ "[gateway]\naddress = a\n  b\n",
	    "t.conf:3: gateway.address is set twice (first at line 2)" },
	{ "channels = 2\n", "t.conf:1: key 'channels' is outside any section "
	    "(start with [daemon], [gateway], [budget] or [pool.NAME])" },
	{ "[gateway\nchannels = 2\n",
	    "t.conf:1: syntax error: missing ']' in section header" },
	{ "[gateway] x\n", "t.conf:1: syntax error: text after ']'" },
	{ "[gateway]\njust words\n", "t.conf:2: syntax error (expected "
	    "[section] or key = value)" },
	{ "[gateway]\njust words\nfoo = 1\n", "t.conf:2: syntax error "
	    "(expected [section] or key = value)" },
	{ "[pool.a]\ndefault = yes\n[pool.b]\ndefault = yes\n",
	    "t.conf:4: [pool.b] cannot be the default pool: the pool at "
	    "line 2 already is" },
	{ "[budget.group.ml]\nmax_sandboxes = 3\n", "t.conf:2: max_sandboxes "
	    "is host-wide: set it in [budget], not in [budget.group.ml]" },
	{ "[budget.user.al]\nmax_sandboxes = 3\n", "t.conf:2: max_sandboxes "
	    "is host-wide: set it in [budget], not in [budget.user.al]" },
	{ "[budget]\nmax_lease_ttl = 1m\n", "t.conf: [budget] "
	    "default_lease_ttl (900s) is longer than max_lease_ttl (60s)" },
	{ "[budget]\nmax_lease_ttl = 1h\n[budget.user.al]\n"
	    "default_lease_ttl = 2h\n", "t.conf: [budget.user.al] "
	    "default_lease_ttl (7200s) is longer than max_lease_ttl (3600s)" },
	{ "[budget]\nmax_lifetime = 10m\n[pool.p]\nmax_lifetime = 20m\n",
	    "t.conf: [pool.p] max_lifetime (1200s) is longer than [budget] "
	    "max_lifetime (600s), the cap on any sandbox" },
	{ "[daemon]\nverbose = 1\n[gateway]\nchannels=1\n[budget]\n"
	    "window = 1h\n[pool.p]\nimage=x\nmax_starting = 0\n",
	    "t.conf:9: bad value for pool.p.max_starting: '0' is out of range "
	    "(1..1000)" },
};

/* Each bad file fails with its message, and cfg keeps only defaults. */
static void
test_bad_table(void **state)
{
	struct config	 c = { 0 };
	char		*err;
	size_t		 i;

	for (i = 0; i < NITEMS(bad_cases); i++) {
		err = NULL;
		if (config_load_string("t.conf", bad_cases[i].text, &c,
		    &err) != -1)
			fail_msg("accepted: %s", bad_cases[i].text);
		if (err == NULL || strcmp(err, bad_cases[i].err) != 0)
			fail_msg("case %zu: got\n  %s\nwanted\n  %s", i, err,
			    bad_cases[i].err);
		check_defaults(&c);
		assert_null(c.path);
		free(err);
	}
	config_free(&c);
}

/* A line over the limit is an error at its own line, not a silent cut. */
static void
test_long_line(void **state)
{
	struct config	 c = { 0 };
	char		*err = NULL, *text;
	size_t		 n;

	text = malloc(20000);
	n = (size_t)sprintf(text, "[pool.a]\nimage = ");
	memset(text + n, 'x', 3000);
	n += 3000;
	n += (size_t)sprintf(text + n, "\n[pool.b]\nimage = ");
	memset(text + n, 'y', 10000);
	n += 10000;
	text[n] = '\0';
	assert_int_equal(config_load_string("L", text, &c, &err), -1);
	assert_string_equal(err, "L:4: line too long (at most 4094 bytes)");
	free(err);
	/* Without the second pool the 3000-byte value is read whole. */
	text[9 + 8 + 3000] = '\0';
	assert_int_equal(config_load_string("L", text, &c, &err), 0);
	assert_int_equal(strlen(c.pools[0].image), 3000);
	config_free(&c);
	free(text);
}

/* Reading from disk: good file, missing file, directory, NUL byte. */
static void
test_files(void **state)
{
	struct config	 c = { 0 };
	char		 dir[] = "/tmp/test-config.XXXXXX", path[64], *err;
	FILE		*f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/sandboxd.conf", dir);
	f = fopen(path, "w");
	fputs("[gateway]\naddress = unix:/tmp/gw.sock\n[pool.a]\n", f);
	fclose(f);
	assert_int_equal(config_load(path, &c, &err), 0);
	assert_string_equal(c.gateway.address, "unix:/tmp/gw.sock");
	assert_string_equal(c.path, path);
	assert_int_equal(c.npools, 1);

	/* Loading over a loaded config frees what it held. */
	f = fopen(path, "w");
	fputs("[gateway]\nentity = e\nentity2 = x\n", f);
	fclose(f);
	err = NULL;
	assert_int_equal(config_load(path, &c, &err), -1);
	assert_non_null(strstr(err, "sandboxd.conf:3: unknown key 'entity2' "
	    "in [gateway]"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	check_defaults(&c);
	free(err);

	f = fopen(path, "w");
	fwrite("[gateway]\nentity = a\0b\n", 1, 23, f);
	fclose(f);
	assert_int_equal(config_load(path, &c, &err), -1);
	assert_non_null(strstr(err, ":2: NUL byte in file"));
	free(err);

	assert_int_equal(config_load(dir, &c, &err), -1);
	assert_non_null(strstr(err, "directory"));
	free(err);

	unlink(path);
	assert_int_equal(config_load(path, &c, &err), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	free(err);
	check_defaults(&c);
	rmdir(dir);
	config_free(&c);
}

/* A NULL err pointer is allowed: the message is just dropped. */
static void
test_null_err(void **state)
{
	struct config	c = { 0 };

	assert_int_equal(config_load_string("n", "[x]\n", &c, NULL), -1);
	assert_int_equal(config_load("/nonexistent/x.conf", &c, NULL), -1);
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_pool_defaults),
		cmocka_unit_test(test_good_table),
		cmocka_unit_test(test_bool_and_tls),
		cmocka_unit_test(test_bad_table),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_null_err),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
