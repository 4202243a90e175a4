/* SPDX-License-Identifier: ISC */
/*
 * Transaction pooling against a real PostgreSQL: pgbench with a
 * consistency check, libpq pipelines, parameter isolation between clients
 * sharing a backend, abandoned transactions, COPY, statement mode, NOTIFY
 * to a session-mode listener, and cancels of running and waiting requests.
 */
#include "config.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	char dbs[1024];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	snprintf(dbs, sizeof(dbs),
	    "postgres = host=%s port=%d\n"
	    "one = host=%s port=%d dbname=postgres pool_size=1\n"
	    "stmt = host=%s port=%d dbname=postgres pool_mode=statement\n"
	    "sess = host=%s port=%d dbname=postgres pool_mode=session\n",
	    env.pgdir, env.pg_port, env.pgdir, env.pg_port, env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port);
	if (it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 5\nmax_client_conn = 200\n", dbs) < 0)
		return -1;
	return it_pg_exec(&env, "create table tx_t (x int)");
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* Seconds since an earlier time. */
static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* pgbench's "processed" count out of its output. */
static long
pgbench_processed(const char *out)
{
	const char *p = strstr(out, "number of transactions actually "
	    "processed: ");

	return p ? atol(p + strlen("number of transactions actually "
	    "processed: ")) : -1;
}

/*
 * 50 clients on a pool of 5, simple then extended protocol; afterwards
 * nothing is lost or doubled: the balances add up to the history, and the
 * history has one row per transaction pgbench counted.
 */
static void
test_pgbench_consistency(void **state)
{
	static char out[16384];
	const char *modes[] = { "simple", "extended" };
	long total = 0;

	(void)state;
	assert_int_equal(it_sh(&env, out, sizeof(out), "pgbench -i -q -s 1 "
	    "-h %s -p %d -U postgres postgres", env.pgdir, env.pg_port), 0);
	for (int i = 0; i < 2; i++) {
		long n;
		assert_int_equal(it_sh(&env, out, sizeof(out), "pgbench -n "
		    "-c 50 -j 2 -t 40 -M %s -h 127.0.0.1 -p %d -U postgres "
		    "postgres", modes[i], env.port), 0);
		n = pgbench_processed(out);
		if (n != 2000)
			fail_msg("pgbench -M %s: %s", modes[i], out);
		total += n;
	}
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pgbench_history"), total);
	assert_int_equal(it_pg_int(&env, "select (select sum(abalance) from "
	    "pgbench_accounts) - (select sum(delta) from pgbench_history)"),
	    0);
	assert_int_equal(it_pg_int(&env, "select (select sum(tbalance) from "
	    "pgbench_tellers) - (select sum(delta) from pgbench_history)"), 0);
	assert_int_equal(it_pg_int(&env, "select (select sum(bbalance) from "
	    "pgbench_branches) - (select sum(delta) from pgbench_history)"),
	    0);
	/* pool of 5: never more server connections than that */
	assert_true(it_pg_int(&env, "select count(*) from pg_stat_activity "
	    "where backend_type = 'client backend' and application_name = "
	    "'pgbench'") <= 5);
}

/* Many transactions pipelined on one client come back in order. */
static void
test_pipeline(void **state)
{
	PGconn *conn = it_connect(&env, "one", "postgres", NULL);
	PGconn *other = it_connect(&env, "one", "postgres", NULL);
	PGresult *res;
	char val[16];

	(void)state;
	assert_int_equal(PQenterPipelineMode(conn), 1);
	for (int i = 0; i < 200; i++) {
		const char *params[1] = { val };
		snprintf(val, sizeof(val), "%d", i);
		assert_int_equal(PQsendQueryParams(conn, "select $1::int + 0",
		    1, NULL, params, NULL, NULL, 0), 1);
		if (i % 10 == 9)
			assert_int_equal(PQpipelineSync(conn), 1);
	}
	/* another client wants the only server meanwhile */
	assert_int_equal(PQsendQuery(other, "select 'other'"), 1);
	for (int i = 0; i < 200; i++) {
		res = PQgetResult(conn);
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		assert_int_equal(atoi(PQgetvalue(res, 0, 0)), i);
		PQclear(res);
		assert_null(PQgetResult(conn));
		if (i % 10 == 9) {
			res = PQgetResult(conn);
			assert_int_equal(PQresultStatus(res),
			    PGRES_PIPELINE_SYNC);
			PQclear(res);
		}
	}
	assert_int_equal(PQexitPipelineMode(conn), 1);
	res = PQgetResult(other);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "other");
	PQclear(res);
	while ((res = PQgetResult(other)) != NULL)
		PQclear(res);
	/* a transaction pipelined whole: BEGIN, INSERT, COMMIT, one Sync */
	assert_int_equal(PQenterPipelineMode(conn), 1);
	assert_int_equal(PQsendQueryParams(conn, "begin", 0, NULL, NULL, NULL,
	    NULL, 0), 1);
	assert_int_equal(PQsendQueryParams(conn, "insert into tx_t values "
	    "(42)", 0, NULL, NULL, NULL, NULL, 0), 1);
	assert_int_equal(PQsendQueryParams(conn, "commit", 0, NULL, NULL,
	    NULL, NULL, 0), 1);
	assert_int_equal(PQpipelineSync(conn), 1);
	for (int i = 0; i < 3; i++) {
		res = PQgetResult(conn);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		assert_null(PQgetResult(conn));
	}
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_PIPELINE_SYNC);
	PQclear(res);
	assert_int_equal(PQexitPipelineMode(conn), 1);
	assert_int_equal(it_query_int(conn, "select count(*) from tx_t where "
	    "x = 42"), 1);
	PQfinish(conn);
	PQfinish(other);
}

/*
 * A long batch before one Sync (JDBC executeBatch, asyncpg executemany):
 * PostgreSQL answers nothing until a Sync or Flush, so pgweir must not
 * wait for answers before reading that far.
 */
static void
test_long_batch_one_sync(void **state)
{
	PGconn *conn = it_connect(&env, "one", "postgres", NULL);
	PGresult *res;
	char val[16];
	const int n = 1000;

	(void)state;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(PQenterPipelineMode(conn), 1);
		for (int i = 0; i < n; i++) {
			const char *params[1] = { val };
			snprintf(val, sizeof(val), "%d", i);
			assert_int_equal(PQsendQueryParams(conn,
			    "select $1::int + 1", 1, NULL, params, NULL, NULL,
			    0), 1);
		}
		/* first round ends with Sync, the second with Flush */
		if (round == 0)
			assert_int_equal(PQpipelineSync(conn), 1);
		else
			assert_int_equal(PQsendFlushRequest(conn), 1);
		assert_int_equal(PQflush(conn), 0);
		for (int i = 0; i < n; i++) {
			res = PQgetResult(conn);
			assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
			assert_int_equal(atoi(PQgetvalue(res, 0, 0)), i + 1);
			PQclear(res);
			assert_null(PQgetResult(conn));
		}
		if (round == 1)
			assert_int_equal(PQpipelineSync(conn), 1);
		res = PQgetResult(conn);
		assert_int_equal(PQresultStatus(res), PGRES_PIPELINE_SYNC);
		PQclear(res);
		assert_int_equal(PQexitPipelineMode(conn), 1);
	}
	assert_int_equal(it_query_int(conn, "select 7"), 7);
	PQfinish(conn);
}

/* Two clients share one backend; each sees only its own settings. */
static void
test_parameter_isolation(void **state)
{
	PGconn *a = it_connect(&env, "one", "postgres",
	    "application_name=app_a");
	PGconn *b = it_connect(&env, "one", "postgres",
	    "application_name=app_b");
	PGconn *direct = it_connect_pg(&env, "postgres");
	char *tz_default = it_query_text(direct, "show timezone"), *v;

	(void)state;
	assert_true(it_exec_ok(a, "set timezone = 'Asia/Tokyo'"));
	assert_true(it_exec_ok(a, "set intervalstyle = 'iso_8601'"));
	assert_int_equal(it_query_int(a, "select pg_backend_pid()"),
	    it_query_int(b, "select pg_backend_pid()"));
	v = it_query_text(b, "show timezone");
	assert_string_equal(v, tz_default);
	free(v);
	v = it_query_text(b, "show application_name");
	assert_string_equal(v, "app_b");
	free(v);
	v = it_query_text(b, "show intervalstyle");
	assert_string_equal(v, "postgres");
	free(v);
	v = it_query_text(a, "show timezone");
	assert_string_equal(v, "Asia/Tokyo");
	free(v);
	v = it_query_text(a, "show application_name");
	assert_string_equal(v, "app_a");
	free(v);
	assert_string_equal(PQparameterStatus(a, "TimeZone"), "Asia/Tokyo");
	/* RESET comes back to the server default, also as a parameter */
	assert_true(it_exec_ok(a, "reset timezone"));
	v = it_query_text(b, "show timezone");
	assert_string_equal(v, tz_default);
	free(v);
	free(tz_default);
	PQfinish(a);
	PQfinish(b);
	PQfinish(direct);
}

/* Drop a client's connection without a goodbye, as a killed process does. */
static void
kill_client(PGconn *conn)
{
	shutdown(PQsocket(conn), SHUT_RDWR);
	PQfinish(conn);
}

/*
 * A client killed inside BEGIN; INSERT leaves nothing behind, and one
 * killed in the middle of a long query does not make the next wait: the
 * backend is cancelled, rolled back and reused.
 */
static void
test_abandoned_transaction(void **state)
{
	PGconn *a, *b;
	long long pid_a;
	struct timespec t0;

	(void)state;
	a = it_connect(&env, "one", "postgres", NULL);
	pid_a = it_query_int(a, "select pg_backend_pid()");
	assert_true(it_exec_ok(a, "begin"));
	assert_true(it_exec_ok(a, "insert into tx_t values (-1)"));
	kill_client(a);
	b = it_connect(&env, "one", "postgres", NULL);
	assert_int_equal(it_query_int(b, "select count(*) from tx_t where "
	    "x = -1"), 0);
	assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
	assert_int_equal(it_query_int(b, "select pg_backend_pid()"), pid_a);
	PQfinish(b);

	a = it_connect(&env, "one", "postgres", NULL);
	assert_int_equal(PQsendQuery(a, "select pg_sleep(30)"), 1);
	it_sleep_ms(300);
	kill_client(a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b = it_connect(&env, "one", "postgres", NULL);
	assert_int_equal(it_query_int(b, "select pg_backend_pid()"), pid_a);
	assert_true(since(&t0) < 10);
	PQfinish(b);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%' or "
	    "query like '%pg_sleep(30)%' and state = 'active' and pid <> "
	    "pg_backend_pid()"), 0);
}

/* COPY in and out in transaction mode. */
static void
test_copy(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGresult *res;
	char *buf;
	long rows = 0;
	int n;

	(void)state;
	assert_true(it_exec_ok(conn, "create table copy_tx (a int)"));
	res = PQexec(conn, "copy copy_tx from stdin");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	for (int i = 0; i < 50000; i++) {
		char line[16];
		n = snprintf(line, sizeof(line), "%d\n", i);
		assert_int_equal(PQputCopyData(conn, line, n), 1);
	}
	assert_int_equal(PQputCopyEnd(conn, NULL), 1);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_null(PQgetResult(conn));
	res = PQexec(conn, "copy copy_tx to stdout");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_OUT);
	PQclear(res);
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		rows++;
		PQfreemem(buf);
	}
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(rows, 50000);
	/* a COPY the client abandons with CopyFail: the server goes on */
	res = PQexec(conn, "copy copy_tx from stdin");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	assert_int_equal(PQputCopyData(conn, "1\n", 2), 1);
	assert_int_equal(PQputCopyEnd(conn, "changed my mind"), 1);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	assert_null(PQgetResult(conn));
	assert_int_equal(it_query_int(conn, "select count(*) from copy_tx"),
	    50000);
	PQfinish(conn);
}

/* Statement mode: statements work, transaction blocks are refused. */
static void
test_statement_mode(void **state)
{
	PGconn *conn = it_connect(&env, "stmt", "postgres", NULL);
	PGresult *res;

	(void)state;
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	res = PQexec(conn, "begin");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQresultErrorMessage(res), "transaction blocks "
	    "are not allowed in statement pooling mode"));
	PQclear(res);
	assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);
	assert_int_equal(it_query_int(conn, "select 2"), 2);
	PQfinish(conn);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%'"), 0);
}

/* NOTIFY from a transaction-mode client reaches a session-mode listener. */
static void
test_notify_to_session_listener(void **state)
{
	PGconn *listener = it_connect(&env, "sess", "postgres", NULL);
	PGconn *notifier = it_connect(&env, "postgres", "postgres", NULL);
	PGnotify *n = NULL;

	(void)state;
	assert_true(it_exec_ok(listener, "listen weir_chan"));
	assert_true(it_exec_ok(notifier, "notify weir_chan, 'over the "
	    "weir'"));
	for (int i = 0; i < 100 && n == NULL; i++) {
		struct pollfd pfd = { PQsocket(listener), POLLIN, 0 };
		poll(&pfd, 1, 50);
		PQconsumeInput(listener);
		n = PQnotifies(listener);
	}
	assert_non_null(n);
	assert_string_equal(n->relname, "weir_chan");
	assert_string_equal(n->extra, "over the weir");
	PQfreemem(n);
	PQfinish(listener);
	PQfinish(notifier);
}

/* A running query is cancelled within moments. */
static void
test_cancel_running(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGcancel *cancel;
	PGresult *res;
	struct timespec t0;
	char err[256];

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(PQsendQuery(conn, "select pg_sleep(30)"), 1);
	it_sleep_ms(200);
	cancel = PQgetCancel(conn);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	res = PQgetResult(conn);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "57014");
	PQclear(res);
	assert_null(PQgetResult(conn));
	assert_true(since(&t0) < 10);
	PQfinish(conn);
}

/* A cancel for a client waiting for a server takes it out of the queue. */
static void
test_cancel_waiting(void **state)
{
	PGconn *holder = it_connect(&env, "one", "postgres", NULL);
	PGconn *waiter = it_connect(&env, "one", "postgres", NULL);
	PGcancel *cancel;
	PGresult *res;
	char err[256];

	(void)state;
	assert_true(it_exec_ok(holder, "begin"));	/* keeps the server */
	assert_int_equal(PQsendQuery(waiter, "select 1"), 1);
	it_sleep_ms(200);
	cancel = PQgetCancel(waiter);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	res = PQgetResult(waiter);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "57014");
	assert_non_null(strstr(PQresultErrorMessage(res), "canceling statement "
	    "due to user request"));
	PQclear(res);
	assert_null(PQgetResult(waiter));
	/* the waiter is usable again once the holder commits */
	assert_true(it_exec_ok(holder, "commit"));
	assert_int_equal(it_query_int(waiter, "select 2"), 2);
	PQfinish(holder);
	PQfinish(waiter);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgbench_consistency),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_long_batch_one_sync),
		cmocka_unit_test(test_parameter_isolation),
		cmocka_unit_test(test_abandoned_transaction),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_statement_mode),
		cmocka_unit_test(test_notify_to_session_listener),
		cmocka_unit_test(test_cancel_running),
		cmocka_unit_test(test_cancel_waiting),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
