/* SPDX-License-Identifier: ISC */
/*
 * The cancel-key slot table (src/keyslots.c): a client's pid is its slot,
 * so a slot given twice would let one client's CancelRequest reach
 * another, and a slot never given back would run the table out.  Also the
 * hold an online restart puts on the slots of the clients it will hand
 * over, which must come back to them and only to them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pgweir/keyslots.h"

static int owners[5000];

static void
test_take_and_put(void **state)
{
	struct slot_table t = { 0 };
	uint32_t a, b, c;

	(void)state;
	a = slots_take(&t, &owners[0]);
	b = slots_take(&t, &owners[1]);
	/* never 0 (pid 0 reads as "none"); lowest first */
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_ptr_equal(slots_owner(&t, a), &owners[0]);
	assert_ptr_equal(slots_owner(&t, b), &owners[1]);
	assert_null(slots_owner(&t, 0));
	assert_null(slots_owner(&t, 3));
	assert_null(slots_owner(&t, 1u << 30));
	slots_put(&t, a);
	assert_null(slots_owner(&t, a));
	/* a second put of the same slot, or of 0, changes nothing */
	slots_put(&t, a);
	slots_put(&t, 0);
	c = slots_take(&t, &owners[2]);
	assert_int_equal(c, a);
	assert_int_equal(slots_take(&t, &owners[3]), 3);
	assert_int_equal(slots_in_use_below(&t), 4);
	slots_free(&t);
}

/* Past its first size the table grows; no slot is ever given twice. */
static void
test_grows_without_duplicates(void **state)
{
	struct slot_table t = { 0 };
	uint8_t *seen = calloc(8192, 1);

	(void)state;
	assert_non_null(seen);
	for (int i = 0; i < 5000; i++) {
		uint32_t s = slots_take(&t, &owners[i]);
		assert_true(s > 0 && s < 8192);
		assert_int_equal(seen[s], 0);
		seen[s] = 1;
	}
	for (uint32_t s = 1; s <= 5000; s++)
		assert_ptr_equal(slots_owner(&t, s), &owners[s - 1]);
	free(seen);
	slots_free(&t);
}

/*
 * An online restart: the new process holds back the slots the old one
 * used, the handed-over clients claim theirs, new clients get other
 * numbers meanwhile, and the end of the hold frees what was not claimed.
 */
static void
test_hold_and_claim(void **state)
{
	struct slot_table t = { 0 };
	uint32_t fresh;

	(void)state;
	assert_int_equal(slots_hold_below(&t, 6), 0);
	assert_true(slots_is_held(&t, 1));
	assert_true(slots_is_held(&t, 5));
	assert_false(slots_is_held(&t, 0));
	assert_false(slots_is_held(&t, 6));
	/* a new client never gets a held number */
	fresh = slots_take(&t, &owners[0]);
	assert_int_equal(fresh, 6);
	assert_true(slots_claim(&t, 3, &owners[3]));
	assert_ptr_equal(slots_owner(&t, 3), &owners[3]);
	/* claimed once only; a number not held cannot be claimed */
	assert_false(slots_claim(&t, 3, &owners[4]));
	assert_false(slots_claim(&t, 7, &owners[4]));
	assert_false(slots_claim(&t, fresh, &owners[4]));
	slots_end_hold(&t);
	assert_false(slots_is_held(&t, 1));
	/* the unclaimed ones are free again, the claimed one is not */
	for (int i = 0; i < 4; i++) {
		uint32_t s = slots_take(&t, &owners[10 + i]);
		assert_true(s == 1 || s == 2 || s == 4 || s == 5);
	}
	assert_int_equal(slots_take(&t, &owners[20]), 7);
	assert_ptr_equal(slots_owner(&t, 3), &owners[3]);
	slots_free(&t);
}

/* A reset (the simulator's, between inputs) starts from slot 1 again. */
static void
test_reset(void **state)
{
	struct slot_table t = { 0 };

	(void)state;
	for (int i = 0; i < 10; i++)
		slots_take(&t, &owners[i]);
	assert_int_equal(slots_hold_below(&t, 20), 0);
	slots_reset(&t);
	assert_false(slots_is_held(&t, 15));
	assert_null(slots_owner(&t, 5));
	assert_int_equal(slots_take(&t, &owners[0]), 1);
	assert_int_equal(slots_take(&t, &owners[1]), 2);
	slots_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_and_put),
		cmocka_unit_test(test_grows_without_duplicates),
		cmocka_unit_test(test_hold_and_claim),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
