/* SPDX-License-Identifier: ISC */
/*
 * Replication connections through pgweir (replication=database|true), as
 * PgBouncer 1.23 passes them: each client gets a server of its own,
 * opened with its startup parameters, never shared and closed when the
 * client leaves; the pool's size bounds them (they wait for room, or an
 * idle server of the pool is evicted).  Driven with libpq, psql,
 * pg_basebackup and pg_receivewal against a real PostgreSQL.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	char dbs[1024];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0 ||
	    it_pg_exec(&env, "create role norepl login") < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "small = host=%s port=%d dbname=postgres pool_size=2\n"
	    "replication = host=%s port=%d dbname=replication\n",
	    env.pgdir, env.pg_port, env.pgdir, env.pg_port, env.pgdir,
	    env.pg_port);
	/* tiny socket buffers, as PgBouncer's suite runs a base backup */
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "log_connections = 1\ntcp_socket_buffer = 4096\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* Walsender backends PostgreSQL has now (up to 5 s for want). */
static bool
wait_walsenders(long long want)
{
	for (int i = 0; i < 100; i++) {
		if (it_pg_int(&env, "select count(*) from pg_stat_activity "
		    "where backend_type = 'walsender'") == want)
			return true;
		it_sleep_ms(50);
	}
	return false;
}

/*
 * Logical: IDENTIFY_SYSTEM and SQL, with the client's own startup
 * parameters (application_name, options) on its server; a normal client
 * of the same database is not disturbed.
 */
static void
test_logical(void **state)
{
	PGconn *conn;
	char *v;

	(void)state;
	conn = it_connect(&env, "postgres", "postgres", "replication=database "
	    "application_name=abc options='-c enable_seqscan=off'");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	v = it_query_text(conn, "SHOW application_name");
	assert_string_equal(v, "abc");
	free(v);
	v = it_query_text(conn, "SHOW enable_seqscan");
	assert_string_equal(v, "off");
	free(v);
	assert_true(it_exec_ok(conn, "IDENTIFY_SYSTEM"));
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where backend_type = 'walsender'"), 1);
	{
		PGconn *normal = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(it_query_int(normal, "select 7"), 7);
		PQfinish(normal);
	}
	PQfinish(conn);
	/* its server is closed with it, never reused */
	assert_true(wait_walsenders(0));
	assert_true(it_log_contains(&env, "replication=database"));
}

/* Physical: replication commands pass, SQL gets PostgreSQL's refusal. */
static void
test_physical(void **state)
{
	PGconn *conn;
	PGresult *res;

	(void)state;
	conn = it_connect(&env, "postgres", "postgres", "replication=true");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, "select 1");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQerrorMessage(conn), "cannot execute SQL "
	    "commands in WAL sender for physical replication"));
	PQclear(res);
	assert_true(it_exec_ok(conn, "IDENTIFY_SYSTEM"));
	PQfinish(conn);
	assert_true(wait_walsenders(0));
}

/*
 * A role PostgreSQL refuses replication: that client alone gets the
 * error, in PgBouncer's words and PostgreSQL's, and both its connection
 * and its server close with "login failed".
 */
static void
test_refused(void **state)
{
	PGconn *conn;

	(void)state;
	conn = it_connect(&env, "postgres", "norepl", "replication=database");
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "login failed: must be "
	    "superuser or replication role"));
	PQfinish(conn);
	assert_true(it_wait_log(&env, "norepl@unix closing because: login "
	    "failed (age=", 2000));
	conn = it_connect(&env, "postgres", "norepl", NULL);
	assert_int_equal(it_query_int(conn, "select 8"), 8);
	PQfinish(conn);
}

/*
 * The pool's size bounds replication servers too: with pool_size 2, four
 * clients sleeping 0.4 s each take at least 0.8 s; and a replication
 * client finding the pool full of idle servers evicts one.
 */
static void
test_pool_size(void **state)
{
	PGconn *c[1], *n[2];
	long long t0;

	(void)state;
	t0 = it_now_ms();
	{
		/* four sessions at once, each connects, sleeps and leaves */
		char out[1024];
		it_sh(&env, out, sizeof(out), "for i in 1 2 3 4; do psql -X "
		    "-Atc 'select pg_sleep(0.4)' 'host=127.0.0.1 port=%d "
		    "dbname=small user=postgres replication=database' || echo "
		    "FAILED & done; wait", env.port);
		if (strstr(out, "FAILED") != NULL)
			fail_msg("%s", out);
	}
	assert_true(it_now_ms() - t0 >= 700);
	assert_true(wait_walsenders(0));

	/* two normal servers, idle: the replication client evicts one */
	for (int i = 0; i < 2; i++) {
		n[i] = it_connect(&env, "small", "postgres", NULL);
		assert_true(it_exec_ok(n[i], "begin"));
	}
	for (int i = 0; i < 2; i++) {
		assert_true(it_exec_ok(n[i], "commit"));
		PQfinish(n[i]);
	}
	c[0] = it_connect(&env, "small", "postgres", "replication=database");
	assert_int_equal(PQstatus(c[0]), CONNECTION_OK);
	assert_true(it_log_contains(&env, "closing because: evicted"));
	PQfinish(c[0]);
}

/* pg_basebackup and pg_receivewal through pgweir. */
static void
test_tools(void **state)
{
	char out[1024];

	(void)state;
	if (it_sh(&env, out, sizeof(out), "rm -rf %s/bb && pg_basebackup -d "
	    "'host=127.0.0.1 port=%d user=postgres' --checkpoint=fast -D "
	    "%s/bb && test -f %s/bb/PG_VERSION", env.dir, env.port, env.dir,
	    env.dir) != 0)
		fail_msg("pg_basebackup: %s", out);
	/* WAL written while it streams lands in its directory */
	if (it_sh(&env, out, sizeof(out), "mkdir -p %s/wal && (timeout -s INT "
	    "4 pg_receivewal -d 'host=127.0.0.1 port=%d user=postgres' -D "
	    "%s/wal &) && sleep 1 && psql -X -q -h %s -p %d -U postgres -c "
	    "'create table walgen as select generate_series(1, 1000) g' "
	    "postgres && sleep 1.5 && ls %s/wal | grep -c .", env.dir,
	    env.port, env.dir, env.pgdir, env.pg_port, env.dir) != 0 ||
	    atoi(out) < 1)
		fail_msg("pg_receivewal: %s", out);
	it_sleep_ms(2000);	/* its timeout ends it */
	assert_true(wait_walsenders(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logical),
		cmocka_unit_test(test_physical),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_pool_size),
		cmocka_unit_test(test_tools),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
