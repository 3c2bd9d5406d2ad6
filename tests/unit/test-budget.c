/* Unit tests of budget maths: window overlap, use, pruning, persistence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/budget.h"
#include "daemon/daemon.h"
#include "daemon/lease.h"

#define S	1000LL
#define DAY	(86400 * S)

static struct daemon	d;
static char		dir[] = "/tmp/test-budget-XXXXXX";

static int
setup(void **state)
{
	memset(&d, 0, sizeof d);
	config_defaults(&d.cfg);
	if (mkdtemp(dir) == NULL)
		return -1;
	d.state_dir = dir;
	d.base = event_base_new();
	d.leases = lease_table_new(&d);
	d.budget = budget_new(&d);
	return 0;
}

static int
teardown(void **state)
{
	budget_free(d.budget);
	lease_table_free(d.leases);
	event_base_free(d.base);
	config_free(&d.cfg);
	rmdir(dir);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	return 0;
}

static void
test_overlap(void **state)
{
	/* inside, straddling either edge, outside, empty */
	assert_int_equal(budget_overlap_ms(10, 20, 0, 100), 10);
	assert_int_equal(budget_overlap_ms(0, 20, 10, 100), 10);
	assert_int_equal(budget_overlap_ms(90, 120, 0, 100), 10);
	assert_int_equal(budget_overlap_ms(0, 200, 50, 60), 10);
	assert_int_equal(budget_overlap_ms(0, 10, 20, 30), 0);
	assert_int_equal(budget_overlap_ms(40, 50, 20, 30), 0);
	assert_int_equal(budget_overlap_ms(20, 20, 0, 30), 0);
}

/* A finished lease longer than the window counts the window, not all. */
static void
test_finished_lease_clipped(void **state)
{
	int64_t	now = now_wall_ms();

	budget_charge_span(d.budget, 1000, now - 7 * S, now);
	assert_int_equal(budget_used_s(&d, 1000, 3 * S), 3);
	assert_int_equal(budget_used_s(&d, 1000, 10 * S), 7);
	assert_int_equal(budget_used_s(&d, 1001, 10 * S), 0);
}

/* A running lease and the same lease finished count alike. */
static void
test_running_equals_finished(void **state)
{
	struct lease	*l;
	int64_t		 now = now_wall_ms(), running;

	l = lease_new(d.leases, 1000, 1, LEASE_INTERACTIVE);
	l->state = LEASE_READY;
	l->ready_ms = now - 7 * S;
	running = budget_used_s(&d, 1000, 3 * S);
	assert_int_equal(running, 3);
	l->ready_ms = 0;		/* as if ended: now a charge */
	lease_remove(l);
	budget_charge_span(d.budget, 1000, now - 7 * S, now);
	assert_int_equal(budget_used_s(&d, 1000, 3 * S), running);
}

/* Charges older than 31 days still count in a 60-day window. */
static void
test_prune_by_widest_window(void **state)
{
	int64_t	now = now_wall_ms();

	d.cfg.budget.window = 60 * DAY;
	budget_charge_span(d.budget, 1000, now - 40 * DAY - 10 * S,
	    now - 40 * DAY);
	assert_int_equal(budget_used_s(&d, 1000, 60 * DAY), 10);
	/* a narrower ask prunes nothing a wider window still needs */
	assert_int_equal(budget_used_s(&d, 1000, DAY), 0);
	assert_int_equal(budget_used_s(&d, 1000, 60 * DAY), 10);
	/* once no window reaches it, it is gone */
	d.cfg.budget.window = DAY;
	assert_int_equal(budget_used_s(&d, 1000, 60 * DAY), 0);
}

/* The accounting round-trips through its JSON (the state file's member). */
static void
test_round_trip(void **state)
{
	int64_t	 now = now_wall_ms();
	json_t	*o;

	budget_charge_span(d.budget, 1000, now - 5 * S, now);
	budget_charge_pool(d.budget, "py", 4000);
	o = budget_to_json(d.budget);
	budget_free(d.budget);
	d.budget = budget_new(&d);
	assert_int_equal(budget_used_s(&d, 1000, DAY), 0);
	budget_restore(d.budget, o);
	json_decref(o);
	assert_int_equal(budget_used_s(&d, 1000, DAY), 5);
	o = budget_host_json(&d);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "pool_sandbox_seconds")), 4);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "sandbox_seconds")), 5);
	json_decref(o);
}

/* Listing everyone creates no accounts for lease holders. */
static void
test_all_json_no_side_effect(void **state)
{
	struct lease	*l;
	json_t		*o, *acct;

	l = lease_new(d.leases, 4242, 1, LEASE_INTERACTIVE);
	lease_new(d.leases, 4242, 1, LEASE_INTERACTIVE);
	o = budget_all_json(&d);
	assert_int_equal(json_array_size(json_object_get(o, "users")), 1);
	json_decref(o);
	acct = budget_to_json(d.budget);
	assert_int_equal(json_array_size(json_object_get(acct, "users")), 0);
	json_decref(acct);
	(void)l;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap),
		cmocka_unit_test_setup_teardown(test_finished_lease_clipped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_running_equals_finished,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_by_widest_window,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_json_no_side_effect,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
