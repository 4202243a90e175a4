/* SPDX-License-Identifier: ISC */
/*
 * PostgreSQL restarted (pg_ctl restart -m fast) while pgbench runs through
 * pgweir: pgweir does not crash, serves new transactions within seconds,
 * and settles back to a steady state with nothing leaked.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	(void)state;
	if (it_env_init_pgbench(&env) < 0)
		return -1;
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 5\nquery_wait_timeout = 30\n", NULL);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The first query that succeeds through pgweir, within 20 s; -1 if none. */
static int
seconds_until_served(void)
{
	for (int i = 0; i < 200; i++) {
		PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
		bool ok = PQstatus(conn) == CONNECTION_OK &&
		    it_query_int(conn, "select 1") == 1;
		PQfinish(conn);
		if (ok)
			return i / 10;
		it_sleep_ms(100);
	}
	return -1;
}

static void
test_restart_under_load(void **state)
{
	char out[8192];
	pid_t child;
	int status;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* clients whose server dies get an error; pgbench may stop */
		it_sh(&env, NULL, 0, "pgbench -n -c 20 -j 2 -T 6 -h 127.0.0.1 "
		    "-p %d -U postgres postgres", env.port);
		_exit(0);
	}
	it_sleep_ms(1500);
	assert_int_equal(it_pg_restart(&env), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(it_pgweir_alive(&env));

	/* new transactions are served within seconds */
	assert_true(seconds_until_served() >= 0);
	/* and a fresh pgbench run completes without a single failure */
	assert_int_equal(it_sh(&env, out, sizeof(out), "pgbench -n -c 10 -j 2 "
	    "-t 50 -h 127.0.0.1 -p %d -U postgres postgres", env.port), 0);
	assert_non_null(strstr(out, "number of failed transactions: 0"));
	assert_non_null(strstr(out, "processed: 500/500"));

	/* steady state: no transaction left open, the pool within its size */
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%'"), 0);
	/*
	 * The pool's size bounds the backends; those of closed servers may
	 * take a moment to leave pg_stat_activity on a loaded machine, while
	 * a server too many would stay (server_idle_timeout is 600 s).
	 */
	for (int i = 0; i < 100 && it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where backend_type = 'client backend' and "
	    "pid <> pg_backend_pid()") > 5; i++)
		it_sleep_ms(50);
	assert_true(it_pg_int(&env, "select count(*) from pg_stat_activity "
	    "where backend_type = 'client backend' and pid <> "
	    "pg_backend_pid()") <= 5);
	assert_false(it_log_contains(&env, "invalid state change"));
}

/* PostgreSQL down for a while: a waiting client is served once it is back. */
static void
test_waiter_served_after_restart(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGresult *res;

	(void)state;
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_int_equal(it_pg_stop(&env, "fast"), 0);
	/* the idle servers saw the shutdown; this request has to wait */
	it_sleep_ms(300);
	assert_int_equal(PQsendQuery(conn, "select 2"), 1);
	it_sleep_ms(1500);
	assert_int_equal(it_pg_start(&env), 0);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	PQclear(res);
	assert_null(PQgetResult(conn));
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_under_load),
		cmocka_unit_test(test_waiter_served_after_restart),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
