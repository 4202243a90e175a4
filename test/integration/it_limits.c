/* SPDX-License-Identifier: ISC */
/*
 * Limits in session mode: a pool of one server makes the next client wait
 * (and get the server when the first leaves), and max_client_conn refuses
 * the client beyond it with an error naming the limit.
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
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	return it_pgweir_start(&env, "pool_mode = session\n"
	    "default_pool_size = 1\nmax_client_conn = 3\n", NULL);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The second client waits for the only server, then gets it. */
static void
test_pool_limit_waits(void **state)
{
	PGconn *a, *b;
	PGresult *res;

	(void)state;
	a = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(a, "select 1"), 1);
	b = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(b), CONNECTION_OK);
	assert_int_equal(PQsendQuery(b, "select 2"), 1);
	it_sleep_ms(500);
	assert_int_equal(PQconsumeInput(b), 1);
	assert_int_equal(PQisBusy(b), 1);	/* still waiting */
	PQfinish(a);
	res = PQgetResult(b);	/* blocks until the server is free */
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	PQclear(res);
	while ((res = PQgetResult(b)) != NULL)
		PQclear(res);
	PQfinish(b);
}

/* The fourth client is refused with an error that names the limit. */
static void
test_max_client_conn(void **state)
{
	PGconn *c[4];

	(void)state;
	for (int i = 0; i < 3; i++) {
		c[i] = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(PQstatus(c[i]), CONNECTION_OK);
	}
	c[3] = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(c[3]), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c[3]), "no more connections "
	    "allowed (max_client_conn)"));
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
	/* room again once they are gone */
	it_sleep_ms(100);
	c[0] = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(c[0]), CONNECTION_OK);
	PQfinish(c[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_limit_waits),
		cmocka_unit_test(test_max_client_conn),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
