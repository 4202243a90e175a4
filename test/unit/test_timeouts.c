/* SPDX-License-Identifier: ISC */
/*
 * Which timeout governs a client in each state, and when (timeouts.c):
 * every state with each of its timeouts alone, the earliest winning when
 * several are set, ties going to the first of the state's list, unset
 * timeouts and unstarted clocks ignored, and timeouts of other states
 * never applying.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/timeouts.h"

#define S 1000000	/* a second in usec */

/*
 * A client in a phase whose clocks started at distinct times (accepted
 * at 100 s, waiting since 110 s, request at 111 s, transaction since
 * 105 s, last answer at 120 s), with every timeout unset.
 */
static struct timeouts_in
client_in(enum timeouts_phase phase)
{
	struct timeouts_in in;

	memset(&in, 0, sizeof(in));
	in.phase = phase;
	in.login_start = 100 * (int64_t)S;
	in.wait_start = 110 * (int64_t)S;
	in.request_time = 111 * (int64_t)S;
	in.tx_start = 105 * (int64_t)S;
	in.idle_since = 120 * (int64_t)S;
	return in;
}

/* Every timeout set to t seconds. */
static void
set_all(struct timeouts_in *in, int t)
{
	in->login_timeout = in->startup_timeout = in->query_wait_timeout =
	    in->query_timeout = in->client_idle_timeout =
	    in->idle_transaction_timeout = in->transaction_timeout =
	    (int64_t)t * S;
}

#define assert_due(in, want_at_s, want_kind) do {			\
	struct timeouts_due d_ = timeouts_next(&(in));			\
	assert_int_equal(d_.at, (int64_t)(want_at_s) * S);		\
	assert_string_equal(timeouts_name(d_.kind),			\
	    timeouts_name(want_kind));					\
} while (0)

static void
test_nothing_set(void **state)
{
	enum timeouts_phase p;

	(void)state;
	for (p = TP_LOGIN; p <= TP_ACTIVE; p++) {
		struct timeouts_in in = client_in(p);
		assert_due(in, 0, TK_NONE);
	}
}

static void
test_login(void **state)
{
	struct timeouts_in in = client_in(TP_LOGIN);

	(void)state;
	in.login_timeout = 60 * S;
	assert_due(in, 160, TK_LOGIN);
	/* before a complete StartupMessage the shorter startup bound */
	in.startup_timeout = 5 * S;
	assert_due(in, 160, TK_LOGIN);
	in.in_startup = true;
	assert_due(in, 105, TK_STARTUP);
	/* a startup bound longer than the login's does not matter */
	in.startup_timeout = 90 * S;
	assert_due(in, 160, TK_LOGIN);
	/* nothing of the later states applies */
	in = client_in(TP_LOGIN);
	set_all(&in, 10);
	in.login_timeout = in.startup_timeout = 0;
	assert_due(in, 0, TK_NONE);
}

static void
test_welcome(void **state)
{
	struct timeouts_in in = client_in(TP_WELCOME);

	(void)state;
	/* waiting for the first server counts from accept, as a request */
	in.login_timeout = 60 * S;
	assert_due(in, 160, TK_LOGIN);
	in.query_wait_timeout = 30 * S;
	assert_due(in, 130, TK_QUERY_WAIT);
	in.query_timeout = 20 * S;
	assert_due(in, 120, TK_QUERY);
	/* a tie goes to the first listed */
	in.query_timeout = in.query_wait_timeout = in.login_timeout;
	assert_due(in, 160, TK_LOGIN);
	/* not the startup bound: the StartupMessage came */
	in = client_in(TP_WELCOME);
	in.startup_timeout = 1 * S;
	in.in_startup = true;
	assert_due(in, 0, TK_NONE);
}

static void
test_idle(void **state)
{
	struct timeouts_in in = client_in(TP_IDLE);

	(void)state;
	set_all(&in, 10);
	/* only client_idle_timeout, from the last answer */
	assert_due(in, 130, TK_CLIENT_IDLE);
	in.client_idle_timeout = 0;
	assert_due(in, 0, TK_NONE);
}

static void
test_waiting(void **state)
{
	struct timeouts_in in = client_in(TP_WAITING);

	(void)state;
	in.query_wait_timeout = 10 * S;
	assert_due(in, 120, TK_QUERY_WAIT);
	/* query_timeout counts from the request, which came after the wait */
	in.query_timeout = 5 * S;
	assert_due(in, 116, TK_QUERY);
	in.query_timeout = 10 * S;
	assert_due(in, 120, TK_QUERY_WAIT);
	/* the login, idle and transaction bounds do not apply */
	in = client_in(TP_WAITING);
	set_all(&in, 1);
	in.query_wait_timeout = in.query_timeout = 0;
	assert_due(in, 0, TK_NONE);
}

static void
test_active(void **state)
{
	struct timeouts_in in = client_in(TP_ACTIVE);

	(void)state;
	set_all(&in, 30);
	/* a request outstanding: query_timeout from the request */
	in.request_pending = true;
	in.in_transaction = true;
	assert_due(in, 135, TK_TRANSACTION);
	in.transaction_timeout = 0;
	assert_due(in, 141, TK_QUERY);
	/* idle in a transaction: idle_transaction_timeout */
	in.request_pending = false;
	assert_due(in, 150, TK_IDLE_TRANSACTION);
	/* idle outside one (session mode): client_idle_timeout */
	in.in_transaction = false;
	in.client_idle_timeout = 40 * S;
	assert_due(in, 160, TK_CLIENT_IDLE);
	/* transaction_timeout, from the transaction's start, wins if first */
	in.transaction_timeout = 10 * S;
	assert_due(in, 115, TK_TRANSACTION);
	/* a replication stream has no bound */
	in.replication = true;
	assert_due(in, 0, TK_NONE);
	/* the login and wait bounds never apply once linked */
	in = client_in(TP_ACTIVE);
	in.login_timeout = in.startup_timeout = in.query_wait_timeout = S;
	in.in_startup = true;
	assert_due(in, 0, TK_NONE);
}

static void
test_unstarted_clock(void **state)
{
	struct timeouts_in in = client_in(TP_ACTIVE);

	(void)state;
	/* no transaction began: transaction_timeout has nothing to count */
	in.tx_start = 0;
	in.transaction_timeout = 1 * S;
	in.client_idle_timeout = 100 * S;
	assert_due(in, 220, TK_CLIENT_IDLE);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(timeouts_name(TK_IDLE_TRANSACTION),
	    "idle_transaction_timeout");
	assert_string_equal(timeouts_name(TK_QUERY_WAIT),
	    "query_wait_timeout");
	assert_string_equal(timeouts_name(TK_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_set),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_welcome),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_waiting),
		cmocka_unit_test(test_active),
		cmocka_unit_test(test_unstarted_clock),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
