/* SPDX-License-Identifier: ISC */
/*
 * Behind HAProxy: two pgweir processes with [peers] in front of one
 * PostgreSQL, behind Debian's HAProxy (round robin, its health check on
 * each process's /ready), as deploy/haproxy/haproxy.cfg sets them up.
 * A cancel lands whichever process its connection reaches; one process
 * drained (SIGINT) and started again while a client loop runs
 * transactions through HAProxy loses no transaction; a process that dies
 * is taken out by the health check and clients go on through the other.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env a, b;	/* a runs PostgreSQL; b shares it */
static int metrics_a, metrics_b, front_port, stats_port;
static char haproxy_pid[512];

/* Start one process of the pair, naming the other as its peer. */
static int
start_peer(struct it_env *self, int id, int metrics, struct it_env *other,
    int other_id)
{
	char settings[1024], dbs[512];

	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d", a.pgdir,
	    a.pg_port);
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "admin_users = postgres\npeer_id = %d\n"
	    "metrics_port = %d\nmetrics_listen_addr = 127.0.0.1\n"
	    "shutdown_drain_timeout = 20\n[peers]\n%d = host=%s port=%d\n",
	    id, metrics, other_id, other->dir, other->port);
	return it_pgweir_start(self, settings, dbs);
}

/* HAProxy's config: the example in deploy/haproxy/, with our ports. */
static int
start_haproxy(void)
{
	char cfg[512], out[256];
	FILE *fp;

	snprintf(cfg, sizeof(cfg), "%s/haproxy.cfg", a.dir);
	snprintf(haproxy_pid, sizeof(haproxy_pid), "%s/haproxy.pid", a.dir);
	fp = fopen(cfg, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp,
	    "global\n"
	    "\tmaxconn 500\n"
	    "defaults\n"
	    "\tmode tcp\n"
	    "\ttimeout connect 2s\n"
	    "\ttimeout client 1h\n"
	    "\ttimeout server 1h\n"
	    "\tretries 3\n"
	    "\toption redispatch 1\n"
	    "frontend postgres\n"
	    "\tbind 127.0.0.1:%d\n"
	    "\tdefault_backend pgweir\n"
	    "backend pgweir\n"
	    "\tbalance roundrobin\n"
	    "\toption httpchk GET /ready\n"
	    "\thttp-check expect status 200\n"
	    "\tdefault-server inter 200ms fall 1 rise 2\n"
	    "\tserver a 127.0.0.1:%d check port %d\n"
	    "\tserver b 127.0.0.1:%d check port %d\n"
	    "listen stats\n"
	    "\tbind 127.0.0.1:%d\n"
	    "\tmode http\n"
	    "\tstats enable\n"
	    "\tstats uri /stats\n",
	    front_port, a.port, metrics_a, b.port, metrics_b, stats_port);
	fclose(fp);
	return it_sh(&a, out, sizeof(out), "haproxy -D -p %s -f %s 2>&1",
	    haproxy_pid, cfg);
}

/* HAProxy's view of a server: "UP", "DOWN", ... */
static void
server_status(const char *name, char *out, size_t len)
{
	it_sh(&a, out, len, "curl -s 'http://127.0.0.1:%d/stats;csv' | "
	    "awk -F, '$1 == \"pgweir\" && $2 == \"%s\" { printf \"%%s\", "
	    "$18 }'", stats_port, name);
}

/* Wait until HAProxy says a server is up (or down), 10 s at most. */
static bool
wait_status(const char *name, const char *want)
{
	char st[64];

	for (int i = 0; i < 100; i++) {
		server_status(name, st, sizeof(st));
		if (strncmp(st, want, strlen(want)) == 0)
			return true;
		it_sleep_ms(100);
	}
	return false;
}

static int
setup(void **state)
{
	(void)state;
	if (it_env_init(&a) < 0 || it_pg_start(&a) < 0 ||
	    it_env_init(&b) < 0)
		return -1;
	metrics_a = it_free_port();
	metrics_b = it_free_port();
	front_port = it_free_port();
	stats_port = it_free_port();
	if (start_peer(&a, 1, metrics_a, &b, 2) < 0 ||
	    start_peer(&b, 2, metrics_b, &a, 1) < 0 || start_haproxy() < 0)
		return -1;
	if (!wait_status("a", "UP") || !wait_status("b", "UP"))
		return -1;
	/* one row per client connection, so that open transactions do not
	 * wait for each other */
	return it_pg_exec(&a, "create table drained (id int primary key, "
	    "n int not null); insert into drained select g, 0 from "
	    "generate_series(0, 3) g");
}

static int
teardown(void **state)
{
	char out[64];
	int rc;

	(void)state;
	it_sh(&a, out, sizeof(out), "kill $(cat %s) 2>/dev/null",
	    haproxy_pid);
	rc = it_env_fini(&b);
	return it_env_fini(&a) < 0 || rc < 0 ? -1 : 0;
}

/* A connection through HAProxy, or NULL. */
static PGconn *
connect_front(void)
{
	char conninfo[256];
	PGconn *c;

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d "
	    "dbname=postgres user=%s connect_timeout=5", front_port,
	    it_pg_user());
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Whether a command succeeded. */
static bool
exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok;
}

/*
 * Round robin sends a cancel's new connection to the other process than
 * the query's, every time: each cancel is forwarded over [peers], and
 * lands.
 */
static void
test_cancels_land_through_haproxy(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		PGconn *c = connect_front();
		PGcancel *cancel;
		PGresult *res;
		char err[256];
		long long t0;

		assert_non_null(c);
		assert_int_equal(PQsendQuery(c, "select pg_sleep(20)"), 1);
		it_sleep_ms(300);
		cancel = PQgetCancel(c);
		t0 = it_now_ms();
		assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
		PQfreeCancel(cancel);
		res = it_result_within(c, 10000);
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		if (strstr(PQresultErrorMessage(res), "canceling statement "
		    "due to user request") == NULL)
			fail_msg("cancel %d: %s", i, PQresultErrorMessage(res));
		assert_true(it_now_ms() - t0 < 10000);
		PQclear(res);
		while ((res = PQgetResult(c)) != NULL)
			PQclear(res);
		PQfinish(c);
	}
}

/* The statement of connection i: its own row. */
static const char *const update_sql[4] = {
	"update drained set n = n + 1 where id = 0",
	"update drained set n = n + 1 where id = 1",
	"update drained set n = n + 1 where id = 2",
	"update drained set n = n + 1 where id = 3",
};

/* The client loop's counts. */
struct loop {
	PGconn *conns[4];
	long long committed;	/* COMMIT answered */
	long long failed;	/* begun, then lost */
	long long reconnects;	/* refused before a transaction began */
};

/*
 * One transaction on conns[i]: a connection that is gone before its BEGIN
 * is answered is replaced (no transaction began); one lost after counts
 * as a failed transaction.
 */
static void
one_transaction(struct loop *l, int i)
{
	for (int tries = 0; tries < 50; tries++) {
		if (l->conns[i] == NULL) {
			l->conns[i] = connect_front();
			if (l->conns[i] == NULL) {
				l->reconnects++;
				it_sleep_ms(50);
				continue;
			}
		}
		if (!exec_ok(l->conns[i], "begin")) {
			PQfinish(l->conns[i]);
			l->conns[i] = NULL;
			l->reconnects++;
			continue;
		}
		if (exec_ok(l->conns[i], update_sql[i]) &&
		    exec_ok(l->conns[i], "commit")) {
			l->committed++;
		} else {
			l->failed++;
			PQfinish(l->conns[i]);
			l->conns[i] = NULL;
		}
		return;
	}
	fail_msg("no connection through HAProxy after 50 tries");
}

/* Run n transactions round the connections, reconnecting some as apps do. */
static void
run_loop(struct loop *l, int n)
{
	for (int k = 0; k < n; k++) {
		int i = k % 4;
		one_transaction(l, i);
		if (k % 20 == 19 && l->conns[i] != NULL) {
			PQfinish(l->conns[i]);
			l->conns[i] = NULL;
		}
	}
}

/* Transactions a process has served, from its own console. */
static long long
xacts_of(struct it_env *e)
{
	PGconn *console = it_connect(e, "pgweir", "postgres", NULL);
	PGresult *res = PQexec(console, "SHOW STATS");
	long long n = 0;
	int col = PQfnumber(res, "total_xact_count");

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_true(col >= 0);
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), "postgres") == 0)
			n += atoll(PQgetvalue(res, r, col));
	PQclear(res);
	PQfinish(console);
	return n;
}

/*
 * A rolling restart: process a drains (SIGINT) while four clients are in
 * the middle of transactions and a client loop goes on through HAProxy;
 * a is started again and takes clients again.  No transaction fails,
 * and every COMMIT answered is in the table.
 */
static void
test_drain_and_restart_lose_nothing(void **state)
{
	struct loop l = { { NULL }, 0, 0, 0 };
	long long before = it_pg_int(&a, "select sum(n) from drained");

	(void)state;
	run_loop(&l, 40);
	/* four transactions open, two on each process */
	for (int i = 0; i < 4; i++) {
		if (l.conns[i] == NULL)
			l.conns[i] = connect_front();
		assert_non_null(l.conns[i]);
		assert_true(exec_ok(l.conns[i], "begin"));
		assert_true(exec_ok(l.conns[i], update_sql[i]));
	}
	assert_int_equal(it_pgweir_signal(&a, SIGINT), 0);
	assert_true(it_wait_log(&a, "draining", 5000));
	assert_true(wait_status("a", "DOWN"));
	for (int i = 0; i < 4; i++) {
		assert_true(exec_ok(l.conns[i], "commit"));
		l.committed++;
	}
	run_loop(&l, 100);
	/* a has let its last client finish, and is gone */
	assert_int_equal(it_pgweir_wait(&a, 20000), 0);
	run_loop(&l, 40);
	/* the new a: HAProxy sees it ready, and it serves again */
	assert_int_equal(start_peer(&a, 1, metrics_a, &b, 2), 0);
	assert_true(wait_status("a", "UP"));
	run_loop(&l, 100);
	for (int i = 0; i < 4; i++)
		PQfinish(l.conns[i]);
	if (l.failed != 0)
		fail_msg("%lld transactions failed (%lld committed)", l.failed,
		    l.committed);
	assert_int_equal(it_pg_int(&a, "select sum(n) from drained") - before,
	    l.committed);
	assert_true(xacts_of(&a) > 0);
	print_message("# %lld transactions committed, 0 failed, %lld "
	    "connections refused before a transaction began\n", l.committed,
	    l.reconnects);
}

/* A process that dies is taken out by the health check; clients go on. */
static void
test_dead_process_taken_out(void **state)
{
	(void)state;
	assert_int_equal(it_pgweir_signal(&b, SIGKILL), 0);
	assert_true(wait_status("b", "DOWN"));
	for (int i = 0; i < 10; i++) {
		PGconn *c = connect_front();
		assert_non_null(c);
		assert_int_equal(it_query_int(c, "select 7"), 7);
		PQfinish(c);
	}
	it_pgweir_wait(&b, 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancels_land_through_haproxy),
		cmocka_unit_test(test_drain_and_restart_lose_nothing),
		cmocka_unit_test(test_dead_process_taken_out),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
