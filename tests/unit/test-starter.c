/*
 * The start poll: first Get after gateway.start_poll (a lease's cold
 * start) or the pool's start_poll (a refill), ×1.5, capped at 2 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

#include "config.h"
#include "daemon/starter.h"

static int64_t
first_poll(const char *conf)
{
	struct config	 cfg;
	char		*err = NULL;
	int64_t		 ms;

	config_defaults(&cfg);
	if (config_load_string("t.conf", conf, &cfg, &err) == -1)
		fail_msg("%s", err);
	ms = cfg.gateway.start_poll;
	config_free(&cfg);
	return ms;
}

/* The schedule: 200 ms ×1.5 capped at 2 s. */
static void
test_default_schedule(void **state)
{
	static const int64_t want[] = { 200, 300, 450, 675, 1012, 1518, 2000,
	    2000 };
	int64_t	d = first_poll("");
	size_t	i;

	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(d, want[i]);
		d = starter_next_delay_ms(d);
	}
}

static void
test_configured_first_poll(void **state)
{
	int64_t	d = first_poll("[gateway]\nstart_poll = 20ms\n");

	assert_int_equal(d, 20);
	assert_int_equal(d = starter_next_delay_ms(d), 30);
	assert_int_equal(d = starter_next_delay_ms(d), 45);
	assert_int_equal(starter_next_delay_ms(1900), 2000);
}

/* A pool's first poll, and the gateway's beside it (both kept apart). */
static void
pool_polls(const char *conf, int64_t *pool, int64_t *gateway)
{
	struct config	 cfg;
	char		*err = NULL;

	config_defaults(&cfg);
	if (config_load_string("t.conf", conf, &cfg, &err) == -1)
		fail_msg("%s", err);
	assert_int_equal(cfg.npools, 1);
	*pool = cfg.pools[0].start_poll;
	*gateway = cfg.gateway.start_poll;
	config_free(&cfg);
}

/* Refills poll sooner than the 200 ms, which leases keep. */
static void
test_pool_schedule(void **state)
{
	static const int64_t want[] = { 50, 75, 112, 168, 252, 378, 567, 850,
	    1275, 1912, 2000 };
	int64_t	d, gw;
	size_t	i;

	pool_polls("[pool.p]\n", &d, &gw);
	assert_int_equal(gw, 200);
	for (i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_int_equal(d, want[i]);
		d = starter_next_delay_ms(d);
	}
	pool_polls("[gateway]\nstart_poll = 1s\n[pool.p]\nstart_poll = 10ms\n",
	    &d, &gw);
	assert_int_equal(d, 10);
	assert_int_equal(gw, 1000);
}

static void
test_bounds(void **state)
{
	struct config	 cfg;
	char		*err = NULL;

	config_defaults(&cfg);
	assert_int_equal(config_load_string("t.conf",
	    "[gateway]\nstart_poll = 5ms\n", &cfg, &err), -1);
	assert_non_null(err);
	free(err);
	config_free(&cfg);
	assert_int_equal(first_poll("[gateway]\nstart_poll = 10ms\n"), 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_schedule),
		cmocka_unit_test(test_configured_first_poll),
		cmocka_unit_test(test_pool_schedule),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
