/* SPDX-License-Identifier: ISC */
/*
 * Session pooling through a real pgweir to a real PostgreSQL: psql over TCP
 * (IPv4 and IPv6) and the unix socket, a million-row result, COPY both
 * ways, and the reset between two sessions that share one server
 * connection.
 */
#include "config.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static bool have_ipv6;

/* Whether the machine has IPv6 loopback (containers may not). */
static bool
ipv6_loopback(void)
{
	struct sockaddr_in6 sin6;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

static int
setup(void **state)
{
	char dbs[1024], settings[256];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	/* byname: a host name, looked up without blocking the loop */
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "byname = host=localhost port=%d dbname=postgres\n"
	    "* = host=%s port=%d\n", env.pgdir, env.pg_port, env.pg_port,
	    env.pgdir, env.pg_port);
	/* both families when there is IPv6 (the last listen_addr counts) */
	have_ipv6 = ipv6_loopback();
	snprintf(settings, sizeof(settings), "pool_mode = session\n"
	    "default_pool_size = 1\n%s", have_ipv6 ?
	    "listen_addr = 127.0.0.1, ::1\n" : "");
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* listen_addr takes a list; IPv6 clients come in on ::1. */
static void
test_ipv6_listener(void **state)
{
	char out[256];

	(void)state;
	if (!have_ipv6)
		skip();
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h ::1 "
	    "-p %d -U postgres -Atc 'select 6 * 7' postgres", env.port), 0);
	assert_string_equal(out, "42\n");
	assert_true(it_log_contains(&env, "listening on [::1]:"));
	assert_true(it_log_contains(&env, "postgres/postgres@[::1]:"));
}

/* psql reaches PostgreSQL through pgweir over TCP and the unix socket. */
static void
test_psql_tcp_and_unix(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h 127.0.0.1 "
	    "-p %d -U postgres -Atc 'select 40 + 2' postgres", env.port), 0);
	assert_string_equal(out, "42\n");
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U postgres -Atc 'select current_database()' postgres", env.dir,
	    env.port), 0);
	assert_string_equal(out, "postgres\n");
}

/* A result of a million rows arrives whole and in order. */
static void
test_large_result(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGresult *res;
	long rows = 0, last = 0;

	(void)state;
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(PQsendQuery(conn, "select g, repeat('x', 50) "
	    "from generate_series(1, 1000000) g"), 1);
	assert_int_equal(PQsetSingleRowMode(conn), 1);
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
			long v = atol(PQgetvalue(res, 0, 0));
			assert_int_equal(v, last + 1);
			last = v;
			rows++;
		} else {
			assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		}
		PQclear(res);
	}
	assert_int_equal(rows, 1000000);
	PQfinish(conn);
}

/* COPY FROM STDIN and COPY TO STDOUT move every row. */
static void
test_copy_in_out(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGresult *res;
	char line[128], *buf;
	long rows = 0;
	int n;

	(void)state;
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_true(it_exec_ok(conn, "create table copy_t (a int, b text)"));
	res = PQexec(conn, "copy copy_t from stdin");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	for (int i = 1; i <= 200000; i++) {
		n = snprintf(line, sizeof(line), "%d\trow number %d\n", i, i);
		assert_int_equal(PQputCopyData(conn, line, n), 1);
	}
	assert_int_equal(PQputCopyEnd(conn, NULL), 1);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdTuples(res), "200000");
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);

	res = PQexec(conn, "copy copy_t to stdout");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_OUT);
	PQclear(res);
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		rows++;
		PQfreemem(buf);
	}
	assert_int_equal(n, -1);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(rows, 200000);
	assert_int_equal(it_query_int(conn, "select sum(a) from copy_t"),
	    200000LL * 200001 / 2);
	assert_true(it_exec_ok(conn, "drop table copy_t"));
	PQfinish(conn);
}

/*
 * Two sessions in a row get the same server connection (pool size 1), and
 * the second sees nothing of the first: DISCARD ALL ran in between.
 */
static void
test_reset_between_sessions(void **state)
{
	PGconn *a, *b;
	long long pid_a, pid_b;
	char *wm;

	(void)state;
	a = it_connect(&env, "postgres", "postgres", "application_name=first");
	assert_int_equal(PQstatus(a), CONNECTION_OK);
	pid_a = it_query_int(a, "select pg_backend_pid()");
	assert_true(it_exec_ok(a, "set work_mem = '77MB'"));
	assert_true(it_exec_ok(a, "create temp table leftover (x int)"));
	assert_true(it_exec_ok(a, "prepare leftover_stmt as select 1"));
	PQfinish(a);

	b = it_connect(&env, "postgres", "postgres", "application_name=second");
	assert_int_equal(PQstatus(b), CONNECTION_OK);
	pid_b = it_query_int(b, "select pg_backend_pid()");
	assert_int_equal(pid_a, pid_b);
	wm = it_query_text(b, "show work_mem");
	assert_non_null(wm);
	assert_string_equal(wm, "4MB");
	free(wm);
	assert_int_equal(it_query_int(b, "select count(*) from pg_class "
	    "where relname = 'leftover'"), 0);
	assert_int_equal(it_query_int(b, "select count(*) from "
	    "pg_prepared_statements"), 0);
	wm = it_query_text(b, "show application_name");
	assert_string_equal(wm, "second");
	free(wm);
	PQfinish(b);
}

/* A client that leaves in the middle of a transaction leaves nothing. */
static void
test_abandoned_transaction(void **state)
{
	PGconn *a, *b;

	(void)state;
	a = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(a, "create table if not exists abandon_t (x "
	    "int)"));
	assert_true(it_exec_ok(a, "begin"));
	assert_true(it_exec_ok(a, "insert into abandon_t values (1)"));
	PQfinish(a);	/* no COMMIT */

	b = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(b), CONNECTION_OK);
	assert_int_equal(it_query_int(b, "select count(*) from abandon_t"), 0);
	assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
	PQfinish(b);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%'"), 0);
}

/* The "*" entry serves any other database; host names resolve. */
static void
test_fallback_and_host_name(void **state)
{
	PGconn *conn;
	char *db;

	(void)state;
	conn = it_connect(&env, "template1", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	db = it_query_text(conn, "select current_database()");
	assert_string_equal(db, "template1");
	free(db);
	PQfinish(conn);
	conn = it_connect(&env, "byname", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	db = it_query_text(conn, "select current_database()");
	assert_string_equal(db, "postgres");
	free(db);
	assert_int_equal(it_query_int(conn, "select count(*) from "
	    "pg_stat_activity where client_addr is not null"), 1);
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psql_tcp_and_unix),
		cmocka_unit_test(test_ipv6_listener),
		cmocka_unit_test(test_large_result),
		cmocka_unit_test(test_copy_in_out),
		cmocka_unit_test(test_reset_between_sessions),
		cmocka_unit_test(test_abandoned_transaction),
		cmocka_unit_test(test_fallback_and_host_name),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
