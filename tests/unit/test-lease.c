/* Unit tests of the lease table: ids, lookup, order, states, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/lease.h"

static struct daemon	d;

static int
setup(void **state)
{
	memset(&d, 0, sizeof d);
	d.base = event_base_new();
	d.leases = lease_table_new(&d);
	return 0;
}

static int
teardown(void **state)
{
	lease_table_free(d.leases);
	event_base_free(d.base);
	return 0;
}

static void
test_ids_unique_and_readable(void **state)
{
	struct lease	*l[200];
	int		 i, j;

	for (i = 0; i < 200; i++) {
		l[i] = lease_new(d.leases, 1000, 42, LEASE_INTERACTIVE);
		assert_int_equal(strlen(l[i]->id), LEASE_ID_LEN);
		assert_memory_equal(l[i]->id, "l-", 2);
		for (j = 2; j < LEASE_ID_LEN; j++)
			assert_non_null(strchr("abcdefghjkmnpqrstuvwxyz23456789",
			    l[i]->id[j]));
		for (j = 0; j < i; j++)
			assert_string_not_equal(l[i]->id, l[j]->id);
	}
	assert_int_equal(lease_count(d.leases), 200);
}

static void
test_find_remove_order(void **state)
{
	struct lease	*a = lease_new(d.leases, 1, 1, LEASE_INTERACTIVE);
	struct lease	*b = lease_new(d.leases, 2, 2, LEASE_JOB);
	struct lease	*c = lease_new(d.leases, 3, 3, LEASE_INTERACTIVE);
	char		 id[LEASE_ID_LEN + 1];

	assert_ptr_equal(lease_find(d.leases, b->id), b);
	assert_null(lease_find(d.leases, "l-zzzzzzzz"));
	assert_null(lease_find(d.leases, "short"));
	assert_null(lease_find(d.leases, ""));
	assert_ptr_equal(lease_first(d.leases), a);
	assert_ptr_equal(lease_next(a), b);
	assert_ptr_equal(lease_next(b), c);

	lease_ref(b);		/* a completion still holds it */
	strcpy(id, b->id);
	lease_remove(b);
	assert_true(b->removed);
	assert_null(lease_find(d.leases, id));
	assert_ptr_equal(lease_next(a), c);
	assert_int_equal(lease_count(d.leases), 2);
	lease_remove(b);	/* twice is harmless */
	assert_int_equal(lease_count(d.leases), 2);
	lease_unref(b);
}

/* Ends a new lease of `uid` as released; returns its id in `id`. */
static void
release_one(uid_t uid, char *id)
{
	struct lease	*l = lease_new(d.leases, uid, 1, LEASE_INTERACTIVE);

	strcpy(id, l->id);
	l->state = LEASE_RELEASING;
	lease_remove(l);
}

/* The last 1024 ended ids are remembered, the oldest forgotten first. */
static void
test_tombstones(void **state)
{
	char		 first[LEASE_ID_LEN + 1], id[LEASE_ID_LEN + 1];
	const char	*why = "unset";
	uid_t		 owner = 0;
	int		 i;

	release_one(7, first);
	assert_string_equal(lease_tombstone(d.leases, first, &owner, &why),
	    "releasing");
	assert_int_equal(owner, 7);
	assert_null(why);
	assert_null(lease_find(d.leases, first));
	assert_null(lease_tombstone(d.leases, "l-zzzzzzzz", NULL, NULL));
	assert_null(lease_tombstone(d.leases, "short", NULL, NULL));
	for (i = 1; i < 1024; i++) {
		release_one(8, id);
		assert_non_null(lease_tombstone(d.leases, id, NULL, NULL));
	}
	assert_non_null(lease_tombstone(d.leases, first, &owner, NULL));
	assert_int_equal(owner, 7);
	release_one(9, id);
	assert_null(lease_tombstone(d.leases, first, NULL, NULL));
	assert_non_null(lease_tombstone(d.leases, id, &owner, NULL));
	assert_int_equal(owner, 9);
}

static void
test_states_from_gateway(void **state)
{
	struct lease		*l = lease_new(d.leases, 7, 7, LEASE_JOB);
	struct gw_sandbox	 sb = { .id = "sbx-1", .status_reason = "" };

	sb.status = GW_STATUS_RUNNING;
	lease_update(l, &sb);
	assert_int_equal(l->state, LEASE_STARTING);	/* acquire decides */
	lease_set_ready(l, 60000);
	assert_int_equal(l->state, LEASE_READY);
	assert_true(l->expires_ms > l->created_ms);
	assert_false(lease_finished(l));

	sb.status = GW_STATUS_FAILED;
	sb.has_exit_code = true;
	sb.exit_code = 3;
	sb.status_reason = "main command exited with status 3";
	lease_update(l, &sb);
	assert_int_equal(l->state, LEASE_FAILED);
	assert_int_equal(l->exit_code, 3);
	assert_string_equal(l->status_reason, sb.status_reason);
	assert_true(lease_finished(l));

	l = lease_new(d.leases, 7, 7, LEASE_JOB);
	lease_set_ready(l, 1000);
	sb.status = GW_STATUS_COMPLETED;
	sb.exit_code = 0;
	lease_update(l, &sb);
	assert_int_equal(l->state, LEASE_COMPLETED);

	/* A release in progress is not overwritten by a late status. */
	l = lease_new(d.leases, 7, 7, LEASE_INTERACTIVE);
	lease_set_ready(l, 1000);
	l->state = LEASE_RELEASING;
	lease_update(l, &sb);
	assert_int_equal(l->state, LEASE_RELEASING);
}

static void
test_json(void **state)
{
	struct lease	*l = lease_new(d.leases, 1000, 5, LEASE_INTERACTIVE);
	json_t		*o;

	json_array_append_new(l->tags, json_string("team-a"));
	o = lease_to_json(l);
	assert_string_equal(json_string_value(json_object_get(o, "id")), l->id);
	assert_true(json_is_null(json_object_get(o, "sandbox_id")));
	assert_true(json_is_null(json_object_get(o, "expires_at")));
	assert_string_equal(json_string_value(json_object_get(o, "state")),
	    "starting");
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
	    "interactive");
	assert_int_equal(json_integer_value(json_object_get(o, "owner_uid")),
	    1000);
	assert_int_equal(json_array_size(json_object_get(o, "tags")), 1);
	assert_null(json_object_get(o, "exit_code"));
	json_decref(o);

	l->sandbox_id = strdup("sbx-abc");
	lease_set_ready(l, 90000);
	o = lease_to_json(l);
	assert_string_equal(json_string_value(json_object_get(o,
	    "sandbox_id")), "sbx-abc");
	assert_int_equal(json_integer_value(json_object_get(o, "ttl_s")), 90);
	assert_true(json_is_real(json_object_get(o, "expires_at")));
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ids_unique_and_readable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_find_remove_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tombstones, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_states_from_gateway,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
