/* SPDX-License-Identifier: ISC */
/*
 * target_session_attrs (src/targetattrs.c): libpq's six values, which
 * server role each accepts, and which host of a list a new server tries.
 * A wrong answer here sends writes to a standby or reads to the primary.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pgweir/targetattrs.h"

static void
test_parse_and_name(void **state)
{
	static const char *const names[] = { "any", "read-write", "read-only",
		"primary", "standby", "prefer-standby" };
	enum target_attrs ta;

	(void)state;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(targetattrs_parse(names[i], &ta), 0);
		assert_int_equal(ta, i);
		assert_string_equal(targetattrs_name(ta), names[i]);
	}
	assert_int_equal(targetattrs_parse("READ-WRITE", &ta), 0);
	assert_int_equal(ta, TA_READ_WRITE);
	assert_int_equal(targetattrs_parse("readwrite", &ta), -1);
	assert_int_equal(targetattrs_parse("", &ta), -1);
}

static void
test_role_of(void **state)
{
	(void)state;
	assert_int_equal(targetattrs_role_of("off", "off"), HOST_PRIMARY);
	assert_int_equal(targetattrs_role_of("off", NULL), HOST_PRIMARY);
	assert_int_equal(targetattrs_role_of("off", "on"),
	    HOST_PRIMARY_READ_ONLY);
	assert_int_equal(targetattrs_role_of("on", "off"), HOST_STANDBY);
	assert_int_equal(targetattrs_role_of("on", "on"), HOST_STANDBY);
	/* PostgreSQL 13 and older say nothing */
	assert_int_equal(targetattrs_role_of(NULL, "off"), HOST_UNKNOWN);
}

/* Each value against each role, as libpq's documentation defines them. */
static void
test_accepts(void **state)
{
	static const struct {
		enum target_attrs ta;
		bool primary, primary_ro, standby, unknown;
	} want[] = {
		{ TA_ANY, true, true, true, true },
		{ TA_READ_WRITE, true, false, false, false },
		{ TA_READ_ONLY, false, true, true, false },
		{ TA_PRIMARY, true, true, false, false },
		{ TA_STANDBY, false, false, true, false },
		{ TA_PREFER_STANDBY, false, false, true, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		enum target_attrs ta = want[i].ta;
		assert_int_equal(targetattrs_accepts(ta, HOST_PRIMARY, false),
		    want[i].primary);
		assert_int_equal(targetattrs_accepts(ta,
		    HOST_PRIMARY_READ_ONLY, false), want[i].primary_ro);
		assert_int_equal(targetattrs_accepts(ta, HOST_STANDBY, false),
		    want[i].standby);
		assert_int_equal(targetattrs_accepts(ta, HOST_UNKNOWN, false),
		    want[i].unknown);
	}
	/* prefer-standby takes anything when no other host is left */
	assert_true(targetattrs_accepts(TA_PREFER_STANDBY, HOST_PRIMARY, true));
	assert_true(targetattrs_accepts(TA_PREFER_STANDBY, HOST_UNKNOWN, true));
	/* the others never bend */
	assert_false(targetattrs_accepts(TA_READ_WRITE, HOST_STANDBY, true));
	assert_false(targetattrs_accepts(TA_STANDBY, HOST_PRIMARY, true));
}

/* Round-robin over unknown hosts visits each in turn. */
static void
test_pick_round_robin(void **state)
{
	enum host_role roles[3] = { HOST_UNKNOWN, HOST_UNKNOWN, HOST_UNKNOWN };
	unsigned cursor = 0;

	(void)state;
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 0);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 1);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 2);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 0);
	/* a down host is skipped */
	roles[1] = HOST_DOWN;
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 2);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 0);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    true), 2);
	/* one host: always it */
	assert_int_equal(targetattrs_pick_host(TA_STANDBY, roles, 1, &cursor,
	    true), 0);
}

/* disable keeps to one host until it is down or misfits. */
static void
test_pick_disable(void **state)
{
	enum host_role roles[3] = { HOST_PRIMARY, HOST_STANDBY, HOST_STANDBY };
	unsigned cursor = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3,
		    &cursor, false), 0);
	roles[0] = HOST_DOWN;
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    false), 1);
	assert_int_equal(targetattrs_pick_host(TA_ANY, roles, 3, &cursor,
	    false), 1);
}

/* Known roles steer each value to the hosts that fit. */
static void
test_pick_by_role(void **state)
{
	enum host_role roles[3] = { HOST_STANDBY, HOST_PRIMARY, HOST_STANDBY };
	unsigned cursor = 0;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(targetattrs_pick_host(TA_READ_WRITE, roles, 3,
		    &cursor, true), 1);
	for (int i = 0; i < 4; i++) {
		int h = targetattrs_pick_host(TA_STANDBY, roles, 3, &cursor,
		    true);
		assert_true(h == 0 || h == 2);
	}
	for (int i = 0; i < 4; i++)
		assert_int_not_equal(targetattrs_pick_host(TA_PREFER_STANDBY,
		    roles, 3, &cursor, true), 1);
	/* an unknown host is worth a try: it may be what is wanted */
	roles[2] = HOST_UNKNOWN;
	cursor = 2;
	assert_int_equal(targetattrs_pick_host(TA_READ_WRITE, roles, 3,
	    &cursor, true), 2);
	assert_true(targetattrs_any_worth_trying(TA_READ_WRITE, roles, 3));
}

/*
 * A failover: the primary is down and the only other host a standby.
 * Nothing is worth a try; retries go to the host that is up, so the
 * standby is found as soon as it is promoted, whatever the mode.
 */
static void
test_pick_when_nothing_fits(void **state)
{
	enum host_role roles[2] = { HOST_DOWN, HOST_STANDBY };

	(void)state;
	for (int advance = 0; advance < 2; advance++) {
		unsigned cursor = 0;
		assert_false(targetattrs_any_worth_trying(TA_READ_WRITE, roles,
		    2));
		for (int i = 0; i < 4; i++)
			assert_int_equal(targetattrs_pick_host(TA_READ_WRITE,
			    roles, 2, &cursor, advance), 1);
	}
	/* and the one that is up first: it is the one about to be promoted */
	{
		enum host_role three[3] = { HOST_DOWN, HOST_STANDBY,
			HOST_DOWN };
		unsigned cursor = 0;
		for (int i = 0; i < 4; i++)
			assert_int_equal(targetattrs_pick_host(TA_READ_WRITE,
			    three, 3, &cursor, false), 1);
		three[1] = HOST_DOWN;
		assert_int_equal(targetattrs_pick_host(TA_READ_WRITE, three,
		    3, &cursor, false), 2);
		assert_int_equal(targetattrs_pick_host(TA_READ_WRITE, three,
		    3, &cursor, false), 0);
	}
	assert_true(targetattrs_any_worth_trying(TA_STANDBY, roles, 2));
	assert_false(targetattrs_any_worth_trying(TA_PRIMARY, roles, 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_name),
		cmocka_unit_test(test_role_of),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_pick_round_robin),
		cmocka_unit_test(test_pick_disable),
		cmocka_unit_test(test_pick_by_role),
		cmocka_unit_test(test_pick_when_nothing_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
