/*
 * Warm pools without a daemon: warm = auto's target (with an injected
 * clock), a pool's settings checked from its [pool.NAME] section, and the
 * start spec built from it.
 */
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
#include "daemon/daemon.h"
#include "daemon/pool-internal.h"

#define S	1000LL
#define M	(60 * S)

static char	tmpdir[] = "/tmp/test-pool-XXXXXX";

/* Loads `text` as sandboxd.conf; the test fails if it does not parse. */
static void
load(struct config *cfg, const char *text)
{
	char	 path[64], *err = NULL;
	FILE	*f;

	snprintf(path, sizeof path, "%s/sandboxd.conf", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	config_defaults(cfg);
	if (config_load(path, cfg, &err) == -1)
		fail_msg("config: %s", err);
}

/* Builds the first pool's settings: 0, or -1 with the error in `why`. */
static int
settings(const char *text, struct pool_settings *set, char *why, size_t len)
{
	struct config	 cfg;
	char		*err = NULL;
	int		 rv;

	load(&cfg, text);
	rv = pool_settings_build(set, &cfg, &cfg.pools[0], &err);
	if (rv == -1) {
		snprintf(why, len, "%s", err);
		free(err);
	}
	config_free(&cfg);
	return rv;
}

static void
test_auto_target(void **state)
{
	/* No demand: the floor. */
	assert_int_equal(pool_auto_target(0, 60 * S, 1000, 0, 8), 0);
	assert_int_equal(pool_auto_target(0, 60 * S, 1000, 2, 8), 2);
	/* 1 claim/s, 2 s cold starts: 2 × 1.5 = 3, plus one. */
	assert_int_equal(pool_auto_target(60, 60 * S, 2000, 0, 8), 4);
	/* 5 claims/s, 1 s: ceil(7.5) + 1 = 9, capped at warm_max. */
	assert_int_equal(pool_auto_target(20, 4 * S, 1000, 0, 8), 8);
	assert_int_equal(pool_auto_target(20, 4 * S, 1000, 0, 20), 9);
	/* Rare claims of fast starts: one while there is any demand. */
	assert_int_equal(pool_auto_target(1, 60 * S, 50, 0, 8), 2);
	assert_int_equal(pool_auto_target(1, 60 * S, 50, 0, 1), 1);
}

static struct pool *
auto_pool(int64_t window, int64_t cold_ms, int64_t lo, int64_t hi)
{
	struct pool	*p = calloc(1, sizeof *p);

	assert_non_null(p);
	p->name = (char *)"t";
	p->warm = -1;
	p->warm_min = lo;
	p->warm_max = hi;
	p->demand_window = window;
	p->cold[0] = cold_ms;
	p->ncold = 1;
	return p;
}

static void
test_retarget_follows_the_window(void **state)
{
	struct pool	*p = auto_pool(4 * S, 1000, 1, 6);
	int64_t		 t0 = 1000000;
	int		 i;

	pool_retarget_at(p, t0);
	assert_int_equal(p->target, 1);		/* warm_min */
	for (i = 0; i < 20; i++)
		pool_note_claim(p, t0 + i * 10);
	/* 20 claims in 4 s with 1 s starts: 9, bounded by warm_max. */
	assert_int_equal(p->target, 6);
	assert_int_equal(p->claims, 20);
	/* Half the claims age out: 10 in 4 s → ceil(3.75) + 1 = 5. */
	pool_retarget_at(p, t0 + 4 * S + 95);
	assert_int_equal(p->target, 5);
	/* All of them: back to warm_min, not 0. */
	pool_retarget_at(p, t0 + 10 * S);
	assert_int_equal(p->target, 1);
	/* A fixed size ignores demand. */
	p->warm = 3;
	pool_note_claim(p, t0 + 10 * S);
	pool_retarget_at(p, t0 + 10 * S);
	assert_int_equal(p->target, 3);
	free(p);
}

static void
test_retarget_ring_keeps_the_newest(void **state)
{
	struct pool	*p = auto_pool(60 * S, 100, 0, 10000);
	int64_t		 t0 = 5000;
	int		 i;

	/* More claims than the ring holds: the count saturates, no overrun. */
	for (i = 0; i < CLAIM_HISTORY + 100; i++)
		pool_note_claim(p, t0 + i);
	assert_int_equal(p->claim_count, CLAIM_HISTORY);
	pool_retarget_at(p, t0 + CLAIM_HISTORY + 100);
	assert_int_equal(p->target, pool_auto_target(CLAIM_HISTORY, 60 * S,
	    100, 0, 10000));
	free(p);
}

static void
test_cold_median(void **state)
{
	struct pool	*p = auto_pool(60 * S, 0, 0, 8);

	p->ncold = 0;
	assert_int_equal(cold_median(p), 1000);		/* a guess */
	p->cold[0] = 300;
	p->cold[1] = 100;
	p->cold[2] = 200;
	p->ncold = 3;
	assert_int_equal(cold_median(p), 200);
	free(p);
}

static void
test_min_remaining_default(void **state)
{
	struct pool_settings	set;
	char			why[256];

	/* 5m by default. */
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 1h\n", &set, why,
	    sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 5 * M);
	assert_int_equal(set.lifetime_ms, 60 * M);
	pool_spec_free(&set.ps);
	/* Never more than half the lifetime. */
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 4m\n", &set, why,
	    sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 2 * M);
	pool_spec_free(&set.ps);
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 5m\n", &set, why,
	    sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 150 * S);
	pool_spec_free(&set.ps);
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 8m\n", &set, why,
	    sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 4 * M);
	pool_spec_free(&set.ps);
	/* 10m: 5m is half. */
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 10m\n", &set, why,
	    sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 5 * M);
	pool_spec_free(&set.ps);
	/* Given, it is taken as given, and must fit. */
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 10m\n"
	    "min_remaining = 9m\n", &set, why, sizeof why), 0);
	assert_int_equal(set.min_remaining_ms, 9 * M);
	pool_spec_free(&set.ps);
	assert_int_equal(settings("[pool.a]\nmax_lifetime = 10m\n"
	    "min_remaining = 10m\n", &set, why, sizeof why), -1);
	assert_string_equal(why, "pool a: min_remaining must be shorter than "
	    "the sandboxes' lifetime (max_lifetime)");
}

static void
test_warm_bounds(void **state)
{
	struct pool_settings	set;
	char			why[256];

	assert_int_equal(settings("[pool.a]\nwarm = auto\nwarm_min = 5\n"
	    "warm_max = 4\n", &set, why, sizeof why), -1);
	assert_string_equal(why, "pool a: warm_min (5) is larger than "
	    "warm_max (4)");
	assert_int_equal(settings("[pool.a]\nwarm = auto\nwarm_min = 4\n"
	    "warm_max = 4\n", &set, why, sizeof why), 0);
	assert_int_equal(set.warm, -1);
	assert_int_equal(set.warm_min, 4);
	assert_int_equal(set.warm_max, 4);
	pool_spec_free(&set.ps);
}

static void
test_spec_build(void **state)
{
	struct pool_settings	 set;
	const struct gw_spec	*sp = &set.ps.spec;
	char			 text[1024], local[64], why[256];
	FILE			*f;

	snprintf(local, sizeof local, "%s/data.txt", tmpdir);
	assert_non_null(f = fopen(local, "w"));
	fputs("hello\n", f);
	fclose(f);
	snprintf(text, sizeof text, "[pool.a]\nimage = python:3.12\ncpu = 2\n"
	    "memory = 4Gi\ngpu_count = 1\ngpu_type = A100\negress = none\n"
	    "env = A=1\nenv = B=x=y\ntags = t1, t2\nfile = %s:/work/etc/data.txt\n"
	    "secret = wandb:team/k:token:TOKEN\n", local);
	assert_int_equal(settings(text, &set, why, sizeof why), 0);
	assert_string_equal(sp->image, "python:3.12");
	assert_string_equal(sp->cpu, "2");
	assert_string_equal(sp->memory, "4Gi");
	assert_int_equal(sp->gpu_count, 1);
	assert_string_equal(sp->gpu_type, "A100");
	assert_string_equal(sp->egress, "none");
	assert_null(sp->command);
	assert_int_equal(sp->nenv, 2);
	assert_string_equal(sp->env[0].key, "A");
	assert_string_equal(sp->env[0].value, "1");
	assert_string_equal(sp->env[1].key, "B");
	assert_string_equal(sp->env[1].value, "x=y");
	assert_int_equal(set.ps.ntags, 2);
	assert_string_equal(set.ps.tags[0], "t1");
	assert_string_equal(set.ps.tags[1], "t2");
	assert_int_equal(sp->nfiles, 1);
	assert_string_equal(sp->files[0].path, "/work/etc/data.txt");
	assert_int_equal(sp->files[0].len, 6);
	assert_memory_equal(sp->files[0].data, "hello\n", 6);
	assert_int_equal(sp->nsecrets, 1);
	assert_string_equal(sp->secrets[0].store, "wandb");
	assert_string_equal(sp->secrets[0].path, "team/k");
	assert_string_equal(sp->secrets[0].field, "token");
	assert_string_equal(sp->secrets[0].env_var, "TOKEN");
	pool_spec_free(&set.ps);
	unlink(local);
}

static void
test_spec_errors(void **state)
{
	struct pool_settings	set;
	char			why[256], text[256];

	assert_int_equal(settings("[pool.a]\nsecret = s:p:f:E:extra\n", &set,
	    why, sizeof why), -1);
	assert_string_equal(why, "pool a: secret = s:p:f:E:extra: more than "
	    "four ':'-separated fields (expected STORE:PATH:FIELD:ENV, none of "
	    "which may contain ':')");
	assert_int_equal(settings("[pool.a]\nsecret = s:p:f\n", &set, why,
	    sizeof why), -1);
	assert_string_equal(why, "pool a: secret = s:p:f: expected "
	    "STORE:PATH:FIELD:ENV");
	assert_int_equal(settings("[pool.a]\nfile = nocolon\n", &set, why,
	    sizeof why), -1);
	assert_string_equal(why, "pool a: file = nocolon: expected "
	    "LOCAL:REMOTE");
	assert_int_equal(settings("[pool.a]\nfile = /etc/hostname:rel/x\n",
	    &set, why, sizeof why), -1);
	assert_string_equal(why, "pool a: file = /etc/hostname:rel/x: REMOTE "
	    "must be an absolute path");
	snprintf(text, sizeof text, "[pool.a]\nfile = %s/missing:/x\n",
	    tmpdir);
	assert_int_equal(settings(text, &set, why, sizeof why), -1);
	assert_non_null(strstr(why, "missing: No such file or directory"));
}

static void
test_spec_equal(void **state)
{
	struct pool_settings	a, b;
	char			why[256];

	assert_int_equal(settings("[pool.a]\nimage = i:1\nenv = A=1\n", &a,
	    why, sizeof why), 0);
	assert_int_equal(settings("[pool.a]\nimage = i:1\nenv = A=1\n", &b,
	    why, sizeof why), 0);
	assert_true(pool_spec_equal(&a.ps, &b.ps));
	pool_spec_free(&b.ps);
	assert_int_equal(settings("[pool.a]\nimage = i:1\nenv = A=2\n", &b,
	    why, sizeof why), 0);
	assert_false(pool_spec_equal(&a.ps, &b.ps));
	pool_spec_free(&b.ps);
	assert_int_equal(settings("[pool.a]\nimage = i:2\nenv = A=1\n", &b,
	    why, sizeof why), 0);
	assert_false(pool_spec_equal(&a.ps, &b.ps));
	pool_spec_free(&b.ps);
	/* Sizes are not the spec: a resize keeps the members. */
	assert_int_equal(settings("[pool.a]\nimage = i:1\nenv = A=1\n"
	    "warm = 5\nmax = 9\n", &b, why, sizeof why), 0);
	assert_true(pool_spec_equal(&a.ps, &b.ps));
	pool_spec_free(&b.ps);
	pool_spec_free(&a.ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_target),
		cmocka_unit_test(test_retarget_follows_the_window),
		cmocka_unit_test(test_retarget_ring_keeps_the_newest),
		cmocka_unit_test(test_cold_median),
		cmocka_unit_test(test_min_remaining_default),
		cmocka_unit_test(test_warm_bounds),
		cmocka_unit_test(test_spec_build),
		cmocka_unit_test(test_spec_errors),
		cmocka_unit_test(test_spec_equal),
	};
	int	rv;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return rv;
}
