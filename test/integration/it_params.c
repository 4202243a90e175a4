/* SPDX-License-Identifier: ISC */
/*
 * Session parameters against a real PostgreSQL, through servers shared by
 * clients with different startup values (pool size 1): RESET, RESET ALL
 * and DISCARD ALL give back what the client's startup packet said (PGTZ,
 * options=-c, application_name), in transaction and session mode, as a
 * direct connection does; a backend whose role a client changed never
 * reaches the next client with that role; the options parameter's errors;
 * the log line of a new auto-database; a client waiting for a server is
 * told so (query_wait_notify); server_fast_close ends a session-mode
 * session between transactions after RECONNECT.
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
	char dbs[1024];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	if (it_pg_exec(&env, "create role weir_low nologin") < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d pool_size=1\n"
	    "sess = host=%s port=%d dbname=postgres pool_size=1 "
	    "pool_mode=session\n* = host=%s port=%d\n", env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port, env.pgdir, env.pg_port);
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "admin_users = admin\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* SHOW a parameter and compare it with what is expected. */
static void
expect_show(PGconn *conn, const char *name, const char *want)
{
	char sql[64], *got;

	snprintf(sql, sizeof(sql), "show %s", name);
	got = it_query_text(conn, sql);
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"", name, got ? got :
		    "(error)", want);
	free(got);
}

/*
 * RESET, RESET ALL and DISCARD ALL of a client with startup values, on a
 * server other clients share: back to the client's own values, only the
 * parameters reset, also inside a transaction; the client is told the
 * value (ParameterStatus); the other client keeps the server's defaults.
 */
static void
check_reset_to_startup(const char *db)
{
	PGconn *a, *b, *direct = it_connect_pg(&env, "postgres");
	char *deflt = it_query_text(direct, "show datestyle");

	setenv("PGTZ", "Europe/Lisbon", 1);
	a = it_connect(&env, db, "postgres", "application_name=startapp "
	    "options='-c DateStyle=German,\\\\ YMD'");
	unsetenv("PGTZ");
	assert_int_equal(PQstatus(a), CONNECTION_OK);
	b = it_connect(&env, db, "postgres", NULL);
	if (strcmp(db, "sess") == 0) {
		/* session mode: a closes, b gets its server after it */
		PQfinish(b);
		b = NULL;
	} else {
		assert_int_equal(PQstatus(b), CONNECTION_OK);
	}
	assert_non_null(deflt);
	PQfinish(direct);

	expect_show(a, "TimeZone", "Europe/Lisbon");
	expect_show(a, "DateStyle", "German, YMD");
	assert_true(it_exec_ok(a, "set timezone = 'Asia/Tokyo'"));
	assert_true(it_exec_ok(a, "set datestyle = 'SQL, DMY'"));
	assert_true(it_exec_ok(a, "reset timezone"));
	expect_show(a, "TimeZone", "Europe/Lisbon");
	expect_show(a, "DateStyle", "SQL, DMY");	/* not reset */
	assert_string_equal(PQparameterStatus(a, "TimeZone"),
	    "Europe/Lisbon");
	if (b != NULL)
		expect_show(b, "DateStyle", deflt);

	assert_true(it_exec_ok(a, "set application_name = 'other'"));
	assert_true(it_exec_ok(a, "reset all"));
	expect_show(a, "DateStyle", "German, YMD");
	expect_show(a, "application_name", "startapp");
	expect_show(a, "TimeZone", "Europe/Lisbon");

	assert_true(it_exec_ok(a, "set timezone = 'Asia/Tokyo'"));
	assert_true(it_exec_ok(a, "begin"));
	assert_true(it_exec_ok(a, "reset timezone"));
	expect_show(a, "TimeZone", "Europe/Lisbon");
	assert_true(it_exec_ok(a, "commit"));
	expect_show(a, "TimeZone", "Europe/Lisbon");

	/* a RESET that a failed transaction undoes stays undone */
	assert_true(it_exec_ok(a, "set timezone = 'Asia/Tokyo'"));
	assert_true(it_exec_ok(a, "begin"));
	assert_false(it_exec_ok(a, "reset timezone; select 1/0"));
	assert_true(it_exec_ok(a, "rollback"));
	expect_show(a, "TimeZone", "Asia/Tokyo");
	assert_true(it_exec_ok(a, "begin"));
	assert_true(it_exec_ok(a, "reset timezone"));
	assert_false(it_exec_ok(a, "select 1/0"));
	assert_true(it_exec_ok(a, "rollback"));
	expect_show(a, "TimeZone", "Asia/Tokyo");

	assert_true(it_exec_ok(a, "set timezone = 'Asia/Tokyo'"));
	assert_true(it_exec_ok(a, "discard all"));
	expect_show(a, "TimeZone", "Europe/Lisbon");
	expect_show(a, "DateStyle", "German, YMD");
	expect_show(a, "application_name", "startapp");
	PQfinish(a);

	/* the next client on that server has the server's defaults */
	b = b ? b : it_connect(&env, db, "postgres", NULL);
	expect_show(b, "DateStyle", deflt);
	assert_true(it_exec_ok(b, "reset all"));
	expect_show(b, "DateStyle", deflt);
	PQfinish(b);
	free(deflt);
}

/* In transaction mode, on one server both clients use in turn. */
static void
test_reset_to_startup_transaction(void **state)
{
	(void)state;
	check_reset_to_startup("postgres");
}

/* In session mode, on a server opened for nobody in particular. */
static void
test_reset_to_startup_session(void **state)
{
	(void)state;
	check_reset_to_startup("sess");
}

/*
 * A server opened for a waiting client carries that client's startup
 * values in its own StartupMessage (PostgreSQL's source "client", not a
 * SET afterwards); a value PostgreSQL refuses fails that client alone,
 * not the pool.
 */
static void
test_server_opened_with_startup_values(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *a, *d;
	char *src;

	(void)state;
	/* the pool knows a fresh server's values; no server is left */
	d = it_connect(&env, "sess", "postgres", NULL);
	assert_true(it_exec_ok(d, "select 1"));
	PQfinish(d);
	assert_true(it_exec_ok(admin, "reconnect sess"));
	setenv("PGTZ", "Europe/Lisbon", 1);
	a = it_connect(&env, "sess", "postgres", NULL);
	unsetenv("PGTZ");
	src = it_query_text(a, "select setting || ' ' || source from "
	    "pg_settings where name = 'TimeZone'");
	assert_non_null(src);
	assert_string_equal(src, "Europe/Lisbon client");
	free(src);
	PQfinish(a);

	assert_true(it_exec_ok(admin, "reconnect sess"));
	a = it_connect(&env, "sess", "postgres",
	    "options='-c TimeZone=Not/AZone'");
	assert_false(it_exec_ok(a, "select 1"));
	PQfinish(a);
	d = it_connect(&env, "sess", "postgres", NULL);
	assert_true(it_exec_ok(d, "select 1"));
	PQfinish(d);
	PQfinish(admin);
}

/*
 * SET ROLE and SET SESSION AUTHORIZATION do not travel with the backend
 * to the next client (one server for both, in transaction mode).
 */
static void
test_role_not_handed_on(void **state)
{
	PGconn *a = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *b = it_connect(&env, "postgres", "postgres", NULL);
	const char *set[] = { "set role weir_low",
		"set session authorization weir_low" };

	(void)state;
	for (int i = 0; i < 2; i++) {
		char *who;

		assert_true(it_exec_ok(a, "begin"));
		assert_true(it_exec_ok(a, set[i]));
		who = it_query_text(a, "select current_user");
		assert_string_equal(who, "weir_low");
		free(who);
		assert_true(it_exec_ok(a, "commit"));
		/* b gets that backend, reset, or a new one */
		who = it_query_text(b, "select current_user || ' ' || "
		    "session_user");
		assert_string_equal(who, "postgres postgres");
		free(who);
	}
	PQfinish(a);
	PQfinish(b);
}

/* Switches of options other than -c name=value: PgBouncer's wording. */
static void
test_options_errors(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *c;

	(void)state;
	c = it_connect(&env, "postgres", "postgres", "options=-d");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "unsupported options "
	    "startup parameter: only '-c config=val' and '--config=val' are "
	    "allowed"));
	PQfinish(c);
	c = it_connect(&env, "postgres", "postgres",
	    "options='-c enable_seqscan=off'");
	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c), "unsupported startup "
	    "parameter in options: enable_seqscan"));
	PQfinish(c);
	/* options ignored: what pgweir tracks still applies */
	assert_true(it_exec_ok(admin, "set ignore_startup_parameters = "
	    "options"));
	c = it_connect(&env, "postgres", "postgres",
	    "options='-c enable_seqscan=off -c timezone=Europe/Lisbon'");
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	expect_show(c, "enable_seqscan", "on");
	expect_show(c, "TimeZone", "Europe/Lisbon");
	PQfinish(c);
	assert_true(it_exec_ok(admin, "set ignore_startup_parameters = ''"));
	PQfinish(admin);
}

/* A database made from the "*" entry is logged. */
static void
test_auto_database_logged(void **state)
{
	PGconn *c = it_connect(&env, "template1", "postgres", NULL);

	(void)state;
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_true(it_wait_log(&env, "registered new auto-database: "
	    "template1", 2000));
	PQfinish(c);
}

/* Count the NOTICEs that say the client is queued. */
static void
count_queued(void *arg, const char *message)
{
	if (strstr(message, "No server connection available in postgres "
	    "backend, client being queued") != NULL)
		(*(int *)arg)++;
}

/* Wait for a server longer than query_wait_notify: one NOTICE per wait. */
static void
test_wait_notify(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *holder = it_connect(&env, "postgres", "postgres", NULL);
	PGconn *waiter = it_connect(&env, "postgres", "postgres", NULL);
	int notices = 0;

	(void)state;
	PQsetNoticeProcessor(waiter, count_queued, &notices);
	assert_true(it_exec_ok(admin, "set query_wait_notify = 1"));
	for (int round = 1; round <= 2; round++) {
		PGresult *res;
		assert_true(it_exec_ok(holder, "begin"));
		assert_true(it_exec_ok(holder, "select 1"));
		assert_int_equal(PQsendQuery(waiter, "select 1"), 1);
		it_sleep_ms(1600);
		assert_true(it_exec_ok(holder, "commit"));
		while ((res = PQgetResult(waiter)) != NULL) {
			assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
			PQclear(res);
		}
		assert_int_equal(notices, round);
	}
	/* a short wait gets none */
	assert_true(it_exec_ok(waiter, "select 1"));
	assert_int_equal(notices, 2);
	assert_true(it_exec_ok(admin, "set query_wait_notify = 5"));
	PQfinish(waiter);
	PQfinish(holder);
	PQfinish(admin);
}

/*
 * server_fast_close: after RECONNECT a session-mode client loses its
 * server (and its connection) between transactions, not at its end;
 * inside a transaction it first finishes it.
 */
static void
test_fast_close(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *c = it_connect(&env, "sess", "postgres", NULL);

	(void)state;
	assert_true(it_exec_ok(admin, "set server_fast_close = 1"));
	assert_true(it_exec_ok(c, "select 1"));
	assert_true(it_exec_ok(admin, "reconnect sess"));
	assert_true(it_wait_log(&env, "closing because: database "
	    "configuration changed", 2000));
	assert_false(it_exec_ok(c, "select 1"));
	PQfinish(c);

	c = it_connect(&env, "sess", "postgres", NULL);
	assert_true(it_exec_ok(c, "begin"));
	assert_true(it_exec_ok(admin, "reconnect sess"));
	assert_true(it_exec_ok(c, "select 1"));
	assert_true(it_exec_ok(c, "commit"));
	assert_false(it_exec_ok(c, "select 1"));
	PQfinish(c);
	assert_true(it_exec_ok(admin, "set server_fast_close = 0"));
	PQfinish(admin);
}

/* Lines of pgweir's log that contain a string. */
static int
log_count(const char *needle)
{
	char out[64];

	it_sh(&env, out, sizeof(out), "grep -cF \"%s\" %s", needle, env.log);
	return atoi(out);
}

/*
 * A startup value the server spells differently (DateStyle ISO, reported
 * as "ISO, MDY") is applied at most once, not before every transaction.
 * The debug log names what is applied, in PgBouncer's words.
 */
static void
test_equivalent_startup_value(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *conn;
	int applied;

	(void)state;
	assert_true(it_exec_ok(admin, "SET verbose = 2"));
	applied = log_count("varcache_apply: SET DateStyle='ISO'");
	conn = it_connect(&env, "postgres", "postgres",
	    "options=-cDateStyle=ISO");
	for (int i = 0; i < 3; i++)
		assert_int_equal(it_query_int(conn, "select 1"), 1);
	expect_show(conn, "datestyle", "ISO, MDY");
	PQfinish(conn);
	assert_true(log_count("varcache_apply: SET DateStyle='ISO'") <=
	    applied + 1);
	/* and the line is there when a value is applied */
	conn = it_connect(&env, "postgres", "postgres",
	    "options=-cDateStyle=German");
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	PQfinish(conn);
	assert_true(it_wait_log(&env, "varcache_apply: SET DateStyle='German'",
	    2000));
	assert_true(it_exec_ok(admin, "SET verbose = 0"));
	PQfinish(admin);
}

/* Collect NOTICE texts. */
static void
keep_notice(void *arg, const char *message)
{
	strncat(arg, message, 255 - strlen(arg));
}

/* login_notify_message: each client gets it as a NOTICE at login. */
static void
test_login_notify_message(void **state)
{
	PGconn *admin = it_connect(&env, "pgweir", "admin", NULL);
	PGconn *conn;
	char notices[256] = "";
	char conninfo[256];

	(void)state;
	assert_true(it_exec_ok(admin, "SET login_notify_message = "
	    "'maintenance at 22:00'"));
	/* the notice comes with the login: catch it from the start */
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d "
	    "dbname=postgres user=postgres", env.port);
	conn = PQconnectStart(conninfo);
	PQsetNoticeProcessor(conn, keep_notice, notices);
	while (PQconnectPoll(conn) != PGRES_POLLING_OK &&
	    PQstatus(conn) != CONNECTION_BAD)
		it_sleep_ms(5);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_non_null(strstr(notices, "maintenance at 22:00"));
	PQfinish(conn);
	assert_true(it_exec_ok(admin, "SET login_notify_message = ''"));
	PQfinish(admin);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_to_startup_transaction),
		cmocka_unit_test(test_reset_to_startup_session),
		cmocka_unit_test(test_server_opened_with_startup_values),
		cmocka_unit_test(test_role_not_handed_on),
		cmocka_unit_test(test_options_errors),
		cmocka_unit_test(test_auto_database_logged),
		cmocka_unit_test(test_wait_notify),
		cmocka_unit_test(test_fast_close),
		cmocka_unit_test(test_equivalent_startup_value),
		cmocka_unit_test(test_login_notify_message),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
