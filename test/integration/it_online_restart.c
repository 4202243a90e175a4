/* SPDX-License-Identifier: ISC */
/*
 * Online restart (pgweir -R): a second pgweir takes over the listening
 * sockets and the clients of the running one; clients, idle or in the
 * middle of a query, go on without an error, with their settings, named
 * statements and cancel keys; the first one exits once everything moved.
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
static int metrics_port;

static int
setup(void **state)
{
	char settings[512], dbs[512];

	(void)state;
	if (it_env_init_pgbench(&env) < 0)
		return -1;
	metrics_port = it_free_port();
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "default_pool_size = 4\nmax_prepared_statements = 100\n"
	    "metrics_port = %d\nmetrics_listen_addr = 127.0.0.1\n"
	    "pidfile = %s/pgweir.pid\nadmin_users = postgres\n",
	    metrics_port, env.dir);
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "sess = host=%s port=%d dbname=postgres pool_mode=session\n",
	    env.pgdir, env.pg_port, env.pgdir, env.pg_port);
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The pid the pidfile names. */
static long
pidfile_pid(void)
{
	char out[64];

	if (it_sh(&env, out, sizeof(out), "cat %s/pgweir.pid", env.dir) != 0)
		return -1;
	return atol(out);
}

/*
 * One idle client with a setting and a named statement, one in the middle
 * of a query: both go on through the new process, which keeps their
 * cancel keys; the old process exits 0; the pidfile, /metrics and both
 * sockets belong to the new one.
 */
static void
test_clients_move(void **state)
{
	PGconn *idle, *busy, *fresh;
	PGresult *res;
	const char *one = "7";
	long old_pid = env.pid;
	char out[256];
	char *v;

	(void)state;
	idle = it_connect(&env, "postgres", "postgres", NULL);
	busy = it_connect_unix(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(idle), CONNECTION_OK);
	assert_int_equal(PQstatus(busy), CONNECTION_OK);
	assert_true(it_exec_ok(idle, "set datestyle = 'SQL, DMY'"));
	res = PQprepare(idle, "plus_one", "select $1::int + 1", 1, NULL);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(PQsendQuery(busy, "select pg_sleep(1.5), 'done'"), 1);
	it_sleep_ms(300);

	assert_int_equal(it_pgweir_online_restart(&env, 15000), 0);
	assert_true(env.pid != old_pid);
	assert_int_equal(pidfile_pid(), env.pid);
	assert_true(it_wait_log(&env, "online restart complete: 2 client(s) "
	    "taken over", 5000));

	/* the query in flight finished in the old process, unharmed */
	res = PQgetResult(busy);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 1), "done");
	PQclear(res);
	while ((res = PQgetResult(busy)) != NULL)
		PQclear(res);
	assert_int_equal(it_query_int(busy, "select 2"), 2);

	/* the idle one kept its setting and its statement */
	v = it_query_text(idle, "show datestyle");
	assert_string_equal(v, "SQL, DMY");
	free(v);
	res = PQexecPrepared(idle, "plus_one", 1, &one, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "8");
	PQclear(res);

	/* and its cancel key still cancels its query */
	{
		PGcancel *c = PQgetCancel(idle);
		char err[256];
		assert_int_equal(PQsendQuery(idle, "select pg_sleep(30)"), 1);
		it_sleep_ms(300);
		assert_int_equal(PQcancel(c, err, sizeof(err)), 1);
		PQfreeCancel(c);
		res = PQgetResult(idle);
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
		    "57014");
		PQclear(res);
		while ((res = PQgetResult(idle)) != NULL)
			PQclear(res);
	}

	/* new clients on both sockets, and /metrics, reach the new one */
	fresh = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(fresh, "select 3"), 3);
	PQfinish(fresh);
	fresh = it_connect_unix(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(fresh, "select 4"), 4);
	PQfinish(fresh);
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -sf "
	    "http://127.0.0.1:%d/metrics | grep -c '^pgweir_up 1'",
	    metrics_port), 0);
	PQfinish(idle);
	PQfinish(busy);
}

/*
 * pgbench with named statements through two online restarts in a row:
 * every transaction succeeds (pgbench exits 0 only if no client failed).
 */
static void
test_pgbench_through_restarts(void **state)
{
	char out[8192];
	pid_t child;
	int status;

	(void)state;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int rc = it_sh(&env, out, sizeof(out), "pgbench -n -M prepared "
		    "-c 8 -j 2 -T 5 -h 127.0.0.1 -p %d -U postgres postgres",
		    env.port);
		if (rc != 0)
			fprintf(stderr, "pgbench: %s\n", out);
		_exit(rc == 0 ? 0 : 1);
	}
	it_sleep_ms(1200);
	assert_int_equal(it_pgweir_online_restart(&env, 15000), 0);
	it_sleep_ms(1000);
	assert_int_equal(it_pgweir_online_restart(&env, 15000), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(it_pgweir_alive(&env));
}

/* TAKEOVER is refused to anyone but pgweir's own account on the socket. */
static void
test_takeover_refused_over_tcp(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "postgres", NULL);
	PGconn *other;
	PGresult *res;

	(void)state;
	assert_int_equal(PQstatus(admin), CONNECTION_OK);
	res = PQexec(admin, "TAKEOVER");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "42501");
	PQclear(res);
	PQfinish(admin);
	assert_true(it_pgweir_alive(&env));
	other = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(other, "select 1"), 1);
	PQfinish(other);
}

/*
 * SHOW FDS lists the sockets a takeover would move: both listeners, and
 * each client and server with its user and database; no secret.
 */
static void
test_show_fds(void **state)
{
	PGconn *c = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *admin = it_connect(&env, "pgweir", "postgres", NULL);
	PGresult *res;
	int listeners = 0, clients = 0, servers = 0;

	(void)state;
	assert_int_equal(it_query_int(c, "select 1"), 1);
	res = PQexec(admin, "SHOW FDS");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQnfields(res), 15);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *task = PQgetvalue(res, i, 1);
		if (strcmp(task, "pooler") == 0)
			listeners++;
		else if (strcmp(task, "client") == 0 &&
		    strcmp(PQgetvalue(res, i, 3), "postgres") == 0)
			clients++;
		else if (strcmp(task, "server") == 0) {
			servers++;
			assert_string_equal(PQgetvalue(res, i, 2), "postgres");
		}
		assert_true(PQgetisnull(res, i, 12));	/* password */
	}
	assert_int_equal(listeners, 2);
	assert_int_equal(clients, 1);
	assert_true(servers >= 1);
	PQclear(res);
	PQfinish(admin);
	PQfinish(c);
}

/*
 * A cancel that reaches the new process while its client still runs a
 * query in the old one is sent on, and cancels that query.
 */
static void
test_cancel_during_handover(void **state)
{
	PGconn *busy = it_connect(&env, "postgres", "postgres", NULL);
	PGcancel *c;
	PGresult *res;
	pid_t next;
	char err[256], handed[128], sent_on[128];

	(void)state;
	/* this restart's lines: the log holds those of the tests before */
	snprintf(handed, sizeof(handed), "[%d] LOG online restart: the new "
	    "process has the listening sockets", (int)env.pid);
	assert_int_equal(PQstatus(busy), CONNECTION_OK);
	c = PQgetCancel(busy);
	assert_int_equal(PQsendQuery(busy, "select pg_sleep(30)"), 1);
	it_sleep_ms(300);
	next = it_pgweir_online_restart_begin(&env);
	assert_true(next > 0);
	snprintf(sent_on, sizeof(sent_on), "[%d] LOG online restart: cancel "
	    "request sent on", (int)next);
	assert_true(it_wait_log(&env, handed, 10000));
	assert_int_equal(PQcancel(c, err, sizeof(err)), 1);
	PQfreeCancel(c);
	res = PQgetResult(busy);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "57014");
	PQclear(res);
	while ((res = PQgetResult(busy)) != NULL)
		PQclear(res);
	assert_true(it_log_contains(&env, sent_on));
	assert_int_equal(it_pgweir_online_restart_end(&env, next, 15000), 0);
	assert_int_equal(it_query_int(busy, "select 5"), 5);
	PQfinish(busy);
}

/*
 * Session pooling: a client moves with its server, so its session (a
 * temporary table, the backend itself) is still there afterwards.
 */
static void
test_session_moves_with_its_server(void **state)
{
	PGconn *c = it_connect(&env, "sess", "postgres", NULL);
	long long backend;

	(void)state;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_true(it_exec_ok(c, "create temp table mine as select 41 as v"));
	backend = it_query_int(c, "select pg_backend_pid()");
	assert_int_equal(it_pgweir_online_restart(&env, 15000), 0);
	assert_int_equal(it_query_int(c, "select v + 1 from mine"), 42);
	assert_int_equal(it_query_int(c, "select pg_backend_pid()"), backend);
	PQfinish(c);
}

/*
 * SIGTERM (wait for the clients): /ready says 503 at once so that a
 * balancer stops sending clients, /healthz still answers, and pgweir exits
 * when its last client leaves.  Runs last: pgweir is gone afterwards.
 */
static void
test_ready_turns_503_on_sigterm(void **state)
{
	PGconn *c = it_connect(&env, "postgres", "postgres", NULL);
	char out[256];

	(void)state;
	assert_int_equal(it_query_int(c, "select 1"), 1);
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -s "
	    "http://127.0.0.1:%d/ready", metrics_port), 0);
	assert_string_equal(out, "ready\n");
	assert_int_equal(it_pgweir_signal(&env, SIGTERM), 0);
	it_sleep_ms(300);
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -s -o /dev/null "
	    "-w '%%{http_code}' http://127.0.0.1:%d/ready", metrics_port), 0);
	assert_string_equal(out, "503");
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -s "
	    "http://127.0.0.1:%d/ready", metrics_port), 0);
	assert_string_equal(out, "not ready: shutting down\n");
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -s "
	    "http://127.0.0.1:%d/healthz", metrics_port), 0);
	assert_string_equal(out, "ok\n");
	assert_int_equal(it_query_int(c, "select 2"), 2);
	PQfinish(c);
	assert_int_equal(it_pgweir_wait(&env, 10000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_show_fds),
		cmocka_unit_test(test_clients_move),
		cmocka_unit_test(test_pgbench_through_restarts),
		cmocka_unit_test(test_cancel_during_handover),
		cmocka_unit_test(test_session_moves_with_its_server),
		cmocka_unit_test(test_takeover_refused_over_tcp),
		cmocka_unit_test(test_ready_turns_503_on_sigterm),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
