/* SPDX-License-Identifier: ISC */
/*
 * target_session_attrs and failover against a real primary and a real
 * streaming standby (pg_basebackup -R), with one host list for both:
 *   - read-write finds the primary even when the standby is listed first,
 *     standby and prefer-standby find the standby;
 *   - under a write load the primary is stopped and the standby promoted
 *     (pg_ctl promote): writes resume through the same pgweir with no
 *     configuration change, only the transaction in flight fails, and no
 *     write ever lands on a read-only server.
 * The figures (failed transactions, time from the promotion to the first
 * write) are printed; docs/deployment.md#patroni quotes them.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static char standby_dir[400];
static int standby_port;
static bool standby_running;
static int metrics_port;

static const char *
scripts(void)
{
	const char *s = getenv("PGWEIR_SCRIPTS");
	return s ? s : "scripts";
}

/* As the cluster's owner: postgres when the tests run as root. */
static const char *
as_owner(void)
{
	return getuid() == 0 ? "runuser -u postgres -- " : "";
}

/* Make and start the standby: a base backup of the primary, -R. */
static int
standby_start(void)
{
	char out[2048];

	snprintf(standby_dir, sizeof(standby_dir), "%s/standby", env.dir);
	standby_port = it_free_port();
	if (it_sh(&env, out, sizeof(out), "mkdir -m 700 '%s' && %s"
	    "chown postgres: '%s'; "
	    "%senv PATH=\"$(%s/pgcluster.sh bindir):$PATH\" "
	    "pg_basebackup -h '%s' -p %d -U postgres -D '%s' -R -X stream "
	    "-c fast",
	    standby_dir, getuid() == 0 ? "" : ": ", standby_dir, as_owner(),
	    scripts(), env.pgdir, env.pg_port, standby_dir) != 0) {
		fprintf(stderr, "pg_basebackup: %s\n", out);
		return -1;
	}
	if (it_sh(&env, out, sizeof(out), "%s/pgcluster.sh start '%s' %d "
	    "-c hot_standby=on -c max_connections=200", scripts(), standby_dir,
	    standby_port) != 0) {
		fprintf(stderr, "standby: %s\n", out);
		return -1;
	}
	standby_running = true;
	return 0;
}

static int
setup(void **state)
{
	char settings[512], dbs[1024];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0 ||
	    standby_start() < 0)
		return -1;
	if (it_pg_exec(&env, "create table t (id int)") != 0)
		return -1;
	/*
	 * server_login_retry at its default: the failover must not wait
	 * for it.  The standby is listed first, so read-write must walk on.
	 */
	metrics_port = it_free_port();
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "admin_users = postgres\nserver_login_retry = 15\n"
	    "query_wait_timeout = 60\nmetrics_port = %d\n", metrics_port);
	snprintf(dbs, sizeof(dbs),
	    "rw = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres "
	    "target_session_attrs=read-write\n"
	    "ro = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres "
	    "target_session_attrs=standby\n"
	    "pref = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres "
	    "target_session_attrs=prefer-standby\n"
	    "anyhost = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres\n",
	    standby_port, env.pg_port, env.pg_port, standby_port,
	    env.pg_port, standby_port, standby_port, env.pg_port);
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	char out[256];

	(void)state;
	if (standby_running)
		it_sh(&env, out, sizeof(out), "%s/pgcluster.sh stop '%s' "
		    "immediate", scripts(), standby_dir);
	return it_env_fini(&env);
}

/* SHOW HOSTS: the role column of a database's host, or "" if no row. */
static void
host_role(const char *db, int port, char *role, size_t len)
{
	PGconn *c = it_connect(&env, "pgweir", "postgres", NULL);
	PGresult *r = PQexec(c, "SHOW HOSTS");

	snprintf(role, len, "%s", "");
	for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK &&
	    i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 0), db) == 0 &&
		    atoi(PQgetvalue(r, i, 2)) == port)
			snprintf(role, len, "%s", PQgetvalue(r, i, 4));
	PQclear(r);
	PQfinish(c);
}

/* Each value lands where it should, whatever the order of the list. */
static void
test_routes_by_role(void **state)
{
	PGconn *c;

	(void)state;
	/* several times: transaction pooling may hand out other servers */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(it_server_port(&env, "rw"), env.pg_port);
		assert_int_equal(it_server_port(&env, "ro"), standby_port);
		assert_int_equal(it_server_port(&env, "pref"), standby_port);
	}
	c = it_connect(&env, "rw", "postgres", NULL);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(it_query_int(c,
		    "select pg_is_in_recovery()::int"), 0);
		assert_true(it_exec_ok(c, "insert into t values (0)"));
	}
	PQfinish(c);
	/* the standby said what it is, and the walk went on (one line) */
	assert_true(it_log_contains(&env, "not what "
	    "target_session_attrs=read-write asks for: trying the next host"));
	assert_true(it_log_contains(&env, "primary of database rw is "));
	{
		char role[64];
		host_role("rw", env.pg_port, role, sizeof(role));
		assert_string_equal(role, "primary");
		host_role("rw", standby_port, role, sizeof(role));
		assert_string_equal(role, "standby");
		host_role("ro", standby_port, role, sizeof(role));
		assert_string_equal(role, "standby");
	}
	/* without target_session_attrs both hosts serve, in turn */
	{
		bool seen_primary = false, seen_standby = false;
		for (int i = 0; i < 8; i++) {
			PGconn *a = it_connect(&env, "anyhost", "postgres",
			    NULL);
			PGconn *b = it_connect(&env, "anyhost", "postgres",
			    NULL);
			PGresult *r;
			/* two at once, so that two servers are open */
			r = PQexec(a, "begin");
			PQclear(r);
			long long pa = it_query_int(a,
			    "select current_setting('port')::int");
			long long pb = it_query_int(b,
			    "select current_setting('port')::int");
			r = PQexec(a, "commit");
			PQclear(r);
			seen_primary |= pa == env.pg_port || pb == env.pg_port;
			seen_standby |= pa == standby_port ||
			    pb == standby_port;
			PQfinish(a);
			PQfinish(b);
		}
		assert_true(seen_primary && seen_standby);
	}
}

/*
 * The primary goes away under a write load and the standby is promoted:
 * the writes resume through the same pgweir, with no configuration
 * change, long before server_login_retry (15 s) would allow a retry.
 */
static void
test_failover_under_write_load(void **state)
{
	char path[400], out[1024];
	const char *seven[1] = { "7" };
	long long promoted, stopped;
	struct it_writes w;
	PGconn *simple, *ext;
	PGresult *r;
	pid_t writer;

	(void)state;
	/* two clients inside a transaction when the primary goes */
	simple = it_connect(&env, "rw", "postgres", NULL);
	assert_true(it_exec_ok(simple, "begin"));
	assert_true(it_exec_ok(simple, "insert into t values (5)"));
	ext = it_connect(&env, "rw", "postgres", NULL);
	r = PQexecParams(ext, "begin", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(r);
	r = PQexecParams(ext, "insert into t values ($1)", 1, NULL, seven,
	    NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	snprintf(path, sizeof(path), "%s/writes", env.dir);
	writer = it_write_load_start(&env, "rw", path, 12);
	assert_true(writer > 0);
	it_sleep_ms(2000);
	/* the primary dies; the standby is promoted 1 s later */
	stopped = it_now_ms();
	assert_int_equal(it_pg_stop(&env, "immediate"), 0);
	it_sleep_ms(1000);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s\"$(%s/pgcluster.sh "
	    "bindir)/pg_ctl\" promote -w -D '%s'", as_owner(), scripts(),
	    standby_dir), 0);
	promoted = it_now_ms();
	assert_int_equal(it_write_load_end(writer, path, stopped, promoted,
	    &w), 0);
	printf("failover: %d writes before, %d after; %d failed; first "
	    "write %lld ms after the promotion (%lld ms after the primary "
	    "stopped); writes paused %lld ms at most\n", w.ok_before,
	    w.ok_after, w.failed,
	    w.first_after ? w.first_after - promoted : -1,
	    w.first_after ? w.first_after - stopped : -1, w.longest_gap);
	assert_true(w.ok_before > 0);
	assert_true(w.ok_after > 0);
	/* no write reached a read-only server */
	assert_int_equal(w.read_only, 0);
	/* only what was in flight when the primary died */
	assert_true(w.failed <= 1);
	/* found by the misfit retry, not after server_login_retry */
	assert_true(w.first_after - promoted < 15000);
	/*
	 * The clients that were inside a transaction keep their connection:
	 * the next request hears that the transaction is gone (08006), the
	 * one after is refused as in an aborted transaction (25P02), COMMIT
	 * answers ROLLBACK, and then they go on, on the new primary.  Nothing
	 * of the lost transaction was written.
	 */
	r = PQexec(simple, "insert into t values (6)");
	assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "08006");
	PQclear(r);
	assert_int_equal(PQtransactionStatus(simple), PQTRANS_INERROR);
	r = PQexec(simple, "select 1");
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "25P02");
	PQclear(r);
	r = PQexec(simple, "commit");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	assert_string_equal(PQcmdStatus(r), "ROLLBACK");
	PQclear(r);
	assert_int_equal(PQtransactionStatus(simple), PQTRANS_IDLE);
	assert_true(it_exec_ok(simple, "insert into t values (8)"));
	assert_int_equal(it_query_int(simple, "select count(*) from t where "
	    "id in (5, 6, 7)"), 0);
	assert_int_equal(it_query_int(simple, "select count(*) from t where "
	    "id = 8"), 1);
	PQfinish(simple);
	/* the same through the extended protocol, ROLLBACK included */
	r = PQexecParams(ext, "insert into t values ($1)", 1, NULL, seven,
	    NULL, NULL, 0);
	assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "08006");
	PQclear(r);
	r = PQexecParams(ext, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	assert_int_equal(PQtransactionStatus(ext), PQTRANS_IDLE);
	r = PQexecParams(ext, "select count(*) from t where id = $1", 1, NULL,
	    seven, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	PQfinish(ext);
	/* a line for the switch of primary */
	assert_true(it_log_contains(&env, "primary of database rw moved "
	    "from "));
	/* the new primary serves rw, and SHOW HOSTS says what happened */
	assert_int_equal(it_server_port(&env, "rw"), standby_port);
	{
		char role[64];
		host_role("rw", standby_port, role, sizeof(role));
		assert_string_equal(role, "primary");
		host_role("rw", env.pg_port, role, sizeof(role));
		assert_string_equal(role, "unreachable");
	}
	/* /metrics says the same, and passes promtool */
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -sf -o '%s/m' "
	    "http://127.0.0.1:%d/metrics && grep -c "
	    "'^pgweir_database_host_role{database=\"rw\",host=\"127.0.0.1\","
	    "port=\"%d\",role=\"primary\"} 1$\\|"
	    "^pgweir_database_primary_switches_total{database=\"rw\"} 1$' "
	    "'%s/m'", env.dir, metrics_port, standby_port, env.dir), 0);
	assert_int_equal(atoi(out), 2);
	if (it_sh(&env, NULL, 0, "command -v promtool") == 0)
		assert_int_equal(it_sh(&env, out, sizeof(out), "promtool check "
		    "metrics < '%s/m'", env.dir), 0);
	/*
	 * prefer-standby's server on the promoted host learns it at its next
	 * query (in_hot_standby turns off) and is retired at its release;
	 * with no standby left, the new primary serves as the last resort.
	 */
	assert_int_equal(it_server_port(&env, "pref"), standby_port);
	assert_true(it_wait_log(&env, "server is now primary "
	    "(in_hot_standby=off)", 5000));
	assert_int_equal(it_server_port(&env, "pref"), standby_port);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_by_role),
		cmocka_unit_test(test_failover_under_write_load),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
