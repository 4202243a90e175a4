/* SPDX-License-Identifier: ISC */
/*
 * Overload that stays bounded: max_wait_clients and max_expected_wait
 * refuse a request at once (FATAL, SQLSTATE 53300, a message that names
 * the setting) when it would join too long a queue, instead of letting it
 * wait into query_wait_timeout; the clients already waiting are served.
 * And fair shares: two users' pools under one max_db_connections each get
 * their share, so a small tenant is served beside a busy one.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	(void)state;
	return it_env_init(&env) < 0 || it_pg_start(&env) < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* A client of database db whose request was sent, not yet answered. */
static PGconn *
send_async(const char *db, const char *sql)
{
	PGconn *c = it_connect(&env, db, "postgres", NULL);

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(PQsendQuery(c, sql), 1);
	return c;
}

/*
 * A request refused at once with FATAL 53300 naming the setting.  libpq
 * reports the closed connection last, so the SQLSTATE is read from its
 * verbose error text ("FATAL:  53300: ...").
 */
static void
expect_refused(const char *db, const char *setting)
{
	PGconn *c = it_connect(&env, db, "postgres", NULL);
	long long t0 = it_now_ms();
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
	r = PQexec(c, "select 1");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQerrorMessage(c), "FATAL:  53300: "));
	assert_non_null(strstr(PQerrorMessage(c), setting));
	/* at once, not after query_wait_timeout (60 s here) */
	assert_true(it_now_ms() - t0 < 30000);
	PQclear(r);
	PQfinish(c);
}

/* The result of an async request: its one integer. */
static long long
finish_async(PGconn *c)
{
	PGresult *r = PQgetResult(c);
	long long v = PQresultStatus(r) == PGRES_TUPLES_OK ?
	    atoll(PQgetvalue(r, 0, 0)) : -1;

	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	PQfinish(c);
	return v;
}

/*
 * One server, a client holding it in a transaction, two waiting: the
 * third would-be waiter is refused, the two are served once the server
 * is free.
 */
static void
test_max_wait_clients(void **state)
{
	PGconn *holder, *w1, *w2;
	PGresult *r;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 1\nmax_wait_clients = 2\n"
	    "query_wait_timeout = 60\n", NULL), 0);
	holder = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(holder, "begin"));
	w1 = send_async("postgres", "select 1");
	w2 = send_async("postgres", "select 2");
	it_sleep_ms(300);
	expect_refused("postgres", "max_wait_clients");
	assert_true(it_log_contains(&env, "too many clients waiting for a "
	    "server (max_wait_clients = 2)"));
	r = PQexec(holder, "commit");
	PQclear(r);
	assert_int_equal(finish_async(w1), 1);
	assert_int_equal(finish_async(w2), 2);
	PQfinish(holder);
	assert_int_equal(it_pgweir_stop(&env), 0);
}

/*
 * Transactions of about 0.4 s on one server: a request with two ahead of
 * it would wait about 1.2 s, more than max_expected_wait = 1 s.
 */
static void
test_max_expected_wait(void **state)
{
	PGconn *c, *holder, *w1, *w2;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 1\nmax_expected_wait = 1\n"
	    "query_wait_timeout = 60\n", NULL), 0);
	c = it_connect(&env, "postgres", "postgres", NULL);
	for (int i = 0; i < 3; i++)
		assert_true(it_exec_ok(c, "select pg_sleep(0.4)"));
	PQfinish(c);
	holder = send_async("postgres", "select 0 from pg_sleep(2)");
	it_sleep_ms(200);
	/* ahead: none waiting; expected 0.4 s */
	w1 = send_async("postgres", "select 1");
	it_sleep_ms(200);
	/* ahead: one; expected 0.8 s */
	w2 = send_async("postgres", "select 2");
	it_sleep_ms(200);
	/* ahead: two; expected 1.2 s */
	expect_refused("postgres", "max_expected_wait");
	assert_int_equal(finish_async(holder), 0);
	assert_int_equal(finish_async(w1), 1);
	assert_int_equal(finish_async(w2), 2);
	assert_int_equal(it_pgweir_stop(&env), 0);
}

/*
 * max_db_connections = 2 shared by two users' pools.  User postgres holds
 * both servers and has four more requests queued (1 s each); user small
 * sends one quick request.  At the first release the busy pool holds more
 * than its share (one of two) and small, below its share, is waiting: the
 * released server is closed and small opens one in its place, so it is
 * answered after about 1 s, not after the busy queue (3 s).
 */
static void
test_fair_share(void **state)
{
	PGconn *big[6], *small;
	long long t0, small_ms;

	(void)state;
	assert_int_equal(it_pg_exec(&env, "create role small login"), 0);
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 4\nmax_db_connections = 2\n"
	    "query_wait_timeout = 60\n", NULL), 0);
	small = it_connect(&env, "postgres", "small", NULL);
	assert_int_equal(it_query_int(small, "select 1"), 1);
	for (int i = 0; i < 6; i++)
		big[i] = send_async("postgres", "select 7 from pg_sleep(1)");
	it_sleep_ms(200);
	t0 = it_now_ms();
	assert_int_equal(PQsendQuery(small, "select 2"), 1);
	{
		PGresult *r = it_result_within(small, 10000);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		assert_string_equal(PQgetvalue(r, 0, 0), "2");
		PQclear(r);
		while ((r = PQgetResult(small)) != NULL)
			PQclear(r);
	}
	small_ms = it_now_ms() - t0;
	if (small_ms > 1800)
		fail_msg("the small tenant waited %lld ms behind the busy "
		    "one", small_ms);
	assert_true(it_log_contains(&env, "closing because: evicted"));
	for (int i = 0; i < 6; i++)
		assert_int_equal(finish_async(big[i]), 7);
	PQfinish(small);
	assert_int_equal(it_pgweir_stop(&env), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_wait_clients),
		cmocka_unit_test(test_max_expected_wait),
		cmocka_unit_test(test_fair_share),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
