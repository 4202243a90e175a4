/* SPDX-License-Identifier: ISC */
/*
 * Prepared statements in transaction mode, against a real PostgreSQL:
 * pgbench -M prepared with the consistency check, a thousand statements
 * through a server limit of 50, Describe on one backend and Bind on
 * another, Close and re-Parse, an injected Parse that fails, a name used
 * twice, pipelined batches (sent split at every byte), DEALLOCATE ALL,
 * counters, and the per-client bound.
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
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	char dbs[1024];

	(void)state;
	if (it_env_init_pgbench(&env) < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "two = host=%s port=%d dbname=postgres pool_size=2\n",
	    env.pgdir, env.pg_port, env.pgdir, env.pg_port);
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 5\nmax_client_conn = 200\n"
	    "max_prepared_statements = 50\nadmin_users = admin\n"
	    "max_client_prepared_statements = 2000\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* pgbench -M prepared, 50 clients on 5 servers: nothing lost or doubled. */
static void
test_pgbench_prepared(void **state)
{
	static char out[16384];
	long long before = it_pg_int(&env, "select count(*) from "
	    "pgbench_history");

	(void)state;
	assert_int_equal(it_sh(&env, out, sizeof(out), "pgbench -n -c 50 -j 2 "
	    "-t 40 -M prepared -h 127.0.0.1 -p %d -U postgres postgres",
	    env.port), 0);
	if (strstr(out, "processed: 2000/2000") == NULL)
		fail_msg("%s", out);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pgbench_history") - before, 2000);
	assert_int_equal(it_pg_int(&env, "select (select sum(abalance) from "
	    "pgbench_accounts) - (select sum(delta) from pgbench_history)"),
	    0);
}

/*
 * One client prepares a thousand statements through servers that keep at
 * most 50 each: every result is right, servers stay within the limit, and
 * pgweir's memory stays bounded.
 */
static void
test_thousand_statements_lru(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *churn = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *admin;
	PGresult *res;
	long rss0 = it_pgweir_rss_kb(&env), rss1;
	char name[32], sql[128], param[16];

	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(sql, sizeof(sql), "select $1::int + %d", i);
		res = PQprepare(conn, name, sql, 0, NULL);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		if (i % 100 == 0)
			/* another client takes servers in between */
			assert_true(it_exec_ok(churn, "select 1"));
	}
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 1000; i++) {
			const char *params[1] = { param };
			snprintf(name, sizeof(name), "s%d", (i * 7) % 1000);
			snprintf(param, sizeof(param), "%d", round);
			res = PQexecPrepared(conn, name, 1, params, NULL, NULL,
			    0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				fail_msg("%s: %s", name, PQerrorMessage(conn));
			assert_int_equal(atoi(PQgetvalue(res, 0, 0)),
			    (i * 7) % 1000 + round);
			PQclear(res);
		}
	}
	admin = it_connect(&env, "pgweir", "admin", NULL);
	res = PQexec(admin, "SHOW SERVERS");
	for (int r = 0; r < PQntuples(res); r++)
		assert_true(atoi(PQgetvalue(res, r, PQfnumber(res,
		    "prepared_statements"))) <= 50);
	PQclear(res);
	res = PQexec(admin, "SHOW CLIENTS");
	{
		int best = 0;
		for (int r = 0; r < PQntuples(res); r++) {
			int n = atoi(PQgetvalue(res, r, PQfnumber(res,
			    "prepared_statements")));
			best = n > best ? n : best;
		}
		assert_int_equal(best, 1000);
	}
	PQclear(res);
	res = PQexec(admin, "SHOW STATS_TOTALS");
	assert_true(atoll(PQgetvalue(res, 0, PQfnumber(res,
	    "client_parse_count"))) >= 1000);
	assert_true(atoll(PQgetvalue(res, 0, PQfnumber(res, "bind_count"))) >=
	    2000);
	PQclear(res);
	PQfinish(admin);
	rss1 = it_pgweir_rss_kb(&env);
	/* a thousand short statements cost well under 10 MB */
	assert_true(rss1 - rss0 < 10 * 1024);
	PQfinish(conn);
	PQfinish(churn);
}

/* Describe on one backend, then Bind on another (where it is injected). */
static void
test_describe_then_other_backend(void **state)
{
	PGconn *holder = it_connect(&env, "two", "postgres", NULL);
	char types[64], err[256], val[64];
	long long pid1, pid2;
	int fd;

	(void)state;
	fd = it_raw_login(&env, "two", "postgres");
	assert_true(fd >= 0);
	it_raw_parse(fd, "d1", "select pg_backend_pid(), $1::text");
	it_raw_describe(fd, 'S', "d1");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "1tTZ");
	it_raw_bind(fd, "", "d1", "x");
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(types, "2DCZ");
	pid1 = atoll(val);
	/* the holder takes that backend inside a transaction */
	assert_true(it_exec_ok(holder, "begin"));
	assert_int_equal(it_query_int(holder, "select pg_backend_pid()"),
	    pid1);
	it_raw_bind(fd, "", "d1", "y");
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(types, "2DCZ");	/* the injected Parse hidden */
	pid2 = atoll(val);
	assert_int_not_equal(pid1, pid2);
	it_raw_describe(fd, 'S', "d1");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "tTZ");
	assert_true(it_exec_ok(holder, "commit"));
	close(fd);
	PQfinish(holder);
}

/* Close, then Parse the same name with another query. */
static void
test_close_and_reparse(void **state)
{
	char types[64], err[256], val[64];
	int fd = it_raw_login(&env, "postgres", "postgres");

	(void)state;
	it_raw_parse(fd, "c1", "select 'first'");
	it_raw_bind(fd, "", "c1", NULL);
	it_raw_execute(fd, "");
	it_raw_close(fd, 'S', "c1");
	it_raw_parse(fd, "c1", "select 'second'");
	it_raw_bind(fd, "", "c1", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(types, "12DC312DCZ");
	assert_string_equal(val, "first");
	it_raw_bind(fd, "", "c1", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(val, "second");
	close(fd);
}

/* A name used twice: PostgreSQL's own error, and the client goes on. */
static void
test_name_reuse_error(void **state)
{
	char types[64], err[256], val[64];
	int fd = it_raw_login(&env, "postgres", "postgres");

	(void)state;
	it_raw_parse(fd, "dup", "select 1");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "1Z");
	/* a pipelined batch: the error stops it, as on PostgreSQL */
	it_raw_bind(fd, "", "dup", NULL);
	it_raw_execute(fd, "");
	it_raw_parse(fd, "dup", "select 2");
	it_raw_parse(fd, "later", "select 3");
	it_raw_bind(fd, "", "dup", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(types, "2DCEZ");
	assert_string_equal(err, "prepared statement \"dup\" already exists");
	assert_true(it_wait_log(&env, "prepared statement 'dup' was already "
	    "prepared", 2000));
	/* "later" was skipped with the rest of the batch; dup is unchanged */
	it_raw_bind(fd, "", "later", NULL);
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "EZ");
	assert_string_equal(err, "prepared statement \"later\" does not "
	    "exist");
	it_raw_bind(fd, "", "dup", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(val, "1");
	close(fd);
}

/*
 * A statement name longer than the 1 KiB window the Bind is peeked
 * through: prepared, described, bound and executed, and closed, like any
 * other (in transaction mode, on whichever backend the Bind lands).
 */
static void
test_long_statement_name(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *churn = it_connect(&env, "postgres", "postgres", NULL);
	static char name[4097];
	const char *params[1] = { "abc" };
	PGresult *res;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	res = PQprepare(conn, name, "select $1::text", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	res = PQdescribePrepared(conn, name);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	for (int i = 0; i < 3; i++) {
		/* another client holds a server in between */
		assert_true(it_exec_ok(churn, "begin"));
		res = PQexecPrepared(conn, name, 1, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail_msg("%s", PQerrorMessage(conn));
		assert_string_equal(PQgetvalue(res, 0, 0), "abc");
		PQclear(res);
		assert_true(it_exec_ok(churn, "commit"));
	}
	PQfinish(churn);
	PQfinish(conn);
}

/*
 * max_prepared_statements = 0 set in the console applies to a client that
 * is already connected: its messages pass under its own names from then
 * on, so a statement pgweir had kept for it is unknown to the server, and
 * a new one is prepared under the client's name.  Setting it back brings
 * the kept names back.
 */
static void
test_turned_off_at_runtime(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGresult *res;

	(void)state;
	res = PQprepare(conn, "kept", "select 7", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_true(it_exec_ok(admin, "set max_prepared_statements = 0"));
	res = PQexecPrepared(conn, "kept", 0, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQerrorMessage(conn), "prepared statement "
	    "\"kept\" does not exist"));
	PQclear(res);
	/* in one transaction, so one backend: the server sees our name */
	assert_true(it_exec_ok(conn, "begin"));
	res = PQprepare(conn, "plain", "select 8", 0, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(it_query_int(conn, "select count(*) from "
	    "pg_prepared_statements where name = 'plain'"), 1);
	assert_true(it_exec_ok(conn, "deallocate plain"));
	assert_true(it_exec_ok(conn, "rollback"));
	assert_true(it_exec_ok(admin, "set max_prepared_statements = 50"));
	PQfinish(admin);
	PQfinish(conn);
}

/* The injected Parse fails (the table is gone): a normal error, go on. */
static void
test_injected_parse_fails(void **state)
{
	PGconn *holder = it_connect(&env, "two", "postgres", NULL);
	char types[64], err[256], val[64];
	long long pid;
	int fd;

	(void)state;
	assert_int_equal(it_pg_exec(&env, "create table dropme (x int); "
	    "insert into dropme values (7)"), 0);
	fd = it_raw_login(&env, "two", "postgres");
	it_raw_parse(fd, "q", "select x, pg_backend_pid() from dropme");
	it_raw_bind(fd, "", "q", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(val, "7");
	assert_true(it_exec_ok(holder, "begin"));
	pid = it_query_int(holder, "select pg_backend_pid()");
	(void)pid;
	assert_int_equal(it_pg_exec(&env, "drop table dropme"), 0);
	it_raw_bind(fd, "", "q", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "EZ");
	assert_string_equal(err, "relation \"dropme\" does not exist");
	/* the connection goes on */
	it_raw_parse(fd, "ok", "select 42");
	it_raw_bind(fd, "", "ok", NULL);
	it_raw_execute(fd, "");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(val, "42");
	assert_true(it_exec_ok(holder, "commit"));
	close(fd);
	PQfinish(holder);
}

/* DEALLOCATE ALL and DISCARD ALL make the client forget its names. */
static void
test_deallocate_all(void **state)
{
	const char *resets[] = { "DEALLOCATE ALL", "DISCARD ALL" };
	char types[64], err[256], q[64];

	(void)state;
	for (int i = 0; i < 2; i++) {
		int fd = it_raw_login(&env, "postgres", "postgres");
		it_raw_parse(fd, "gone", "select 1");
		it_raw_sync(fd);
		assert_int_equal(it_raw_until_ready(fd, types, sizeof(types),
		    err, sizeof(err), NULL, 0), 0);
		snprintf(q, sizeof(q), "%s", resets[i]);
		it_raw_send(fd, 'Q', q, strlen(q) + 1);
		assert_int_equal(it_raw_until_ready(fd, types, sizeof(types),
		    err, sizeof(err), NULL, 0), 0);
		it_raw_bind(fd, "", "gone", NULL);
		it_raw_sync(fd);
		assert_int_equal(it_raw_until_ready(fd, types, sizeof(types),
		    err, sizeof(err), NULL, 0), 0);
		assert_string_equal(err, "prepared statement \"gone\" does not "
		    "exist");
		/* and may use the name again */
		it_raw_parse(fd, "gone", "select 2");
		it_raw_sync(fd);
		assert_int_equal(it_raw_until_ready(fd, types, sizeof(types),
		    err, sizeof(err), NULL, 0), 0);
		assert_string_equal(types, "1Z");
		close(fd);
	}
}

/*
 * A pipelined batch sent split at every byte boundary gets the same
 * answers as sent whole: partial messages are waited for, never cut.
 */
static void
test_batch_split_everywhere(void **state)
{
	char batch[2048], types[128], want[128], err[256], val[64];
	size_t len = 0;
	int sv[2], fd;

	(void)state;
	/* build the batch by capturing what the helpers write */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	it_raw_parse(sv[0], "sp1", "select $1::int * 2");
	it_raw_bind(sv[0], "", "sp1", "21");
	it_raw_describe(sv[0], 'P', "");
	it_raw_execute(sv[0], "");
	it_raw_close(sv[0], 'S', "sp1");
	it_raw_parse(sv[0], "sp2", "select $1::int * 2");
	it_raw_bind(sv[0], "", "sp2", "4");
	it_raw_execute(sv[0], "");
	it_raw_sync(sv[0]);
	close(sv[0]);
	for (;;) {
		ssize_t n = read(sv[1], batch + len, sizeof(batch) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(sv[1]);

	fd = it_raw_login(&env, "postgres", "postgres");
	assert_int_equal(write(fd, batch, len), (ssize_t)len);
	assert_int_equal(it_raw_until_ready(fd, want, sizeof(want), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(want, "12TDC312DCZ");
	assert_string_equal(val, "42");
	close(fd);
	for (size_t k = 1; k < len; k++) {
		fd = it_raw_login(&env, "postgres", "postgres");
		assert_int_equal(write(fd, batch, k), (ssize_t)k);
		it_sleep_ms(2);
		assert_int_equal(write(fd, batch + k, len - k),
		    (ssize_t)(len - k));
		assert_int_equal(it_raw_until_ready(fd, types, sizeof(types),
		    err, sizeof(err), val, sizeof(val)), 0);
		if (strcmp(types, want) != 0 || strcmp(val, "42") != 0)
			fail_msg("split at %zu: %s (want %s) %s", k, types,
			    want, err);
		close(fd);
	}
}

/* Past max_client_prepared_statements: an error; other clients are fine. */
static void
test_client_bound(void **state)
{
	char types[64], err[256], name[16];
	int fd;

	(void)state;
	assert_int_equal(it_pgweir_stop(&env), 0);
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n"
	    "max_client_prepared_statements = 10\n", NULL), 0);
	fd = it_raw_login(&env, "postgres", "postgres");
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "b%d", i);
		it_raw_parse(fd, name, "select 1");
	}
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "1111111111Z");
	it_raw_parse(fd, "b10", "select 1");
	it_raw_sync(fd);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "EZ");
	assert_non_null(strstr(err, "too many prepared statements"));
	close(fd);
	{
		PGconn *other = it_connect(&env, "postgres", "postgres", NULL);
		PGresult *res = PQprepare(other, "fine", "select 1", 0, NULL);
		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(other);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgbench_prepared),
		cmocka_unit_test(test_thousand_statements_lru),
		cmocka_unit_test(test_describe_then_other_backend),
		cmocka_unit_test(test_close_and_reparse),
		cmocka_unit_test(test_name_reuse_error),
		cmocka_unit_test(test_injected_parse_fails),
		cmocka_unit_test(test_deallocate_all),
		cmocka_unit_test(test_batch_split_everywhere),
		cmocka_unit_test(test_long_statement_name),
		cmocka_unit_test(test_turned_off_at_runtime),
		cmocka_unit_test(test_client_bound),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
