/* SPDX-License-Identifier: ISC */
/*
 * Every limit and every timeout of transaction pooling, each triggered for
 * real and checked by what a client sees (the error text naming it) and
 * by what PostgreSQL sees (pg_stat_activity).  pgweir is restarted with
 * the settings each test needs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	return it_pg_exec(&env, "create role u1 login; create role u2 login; "
	    "create sequence checkseq");
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

static bool wait_backends(long long want);

/* Restart pgweir with these settings (transaction mode) and databases. */
static void
restart(const char *settings, const char *extra_dbs)
{
	char all[2048], dbs[2048];

	if (env.pid > 0) {
		assert_int_equal(it_pgweir_stop(&env), 0);
		/* the old instance's backends may take a moment to exit */
		assert_true(wait_backends(0));
	}
	snprintf(all, sizeof(all), "pool_mode = transaction\n%s\n", settings);
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n%s\n",
	    env.pgdir, env.pg_port, extra_dbs ? extra_dbs : "");
	assert_int_equal(it_pgweir_start(&env, all, dbs), 0);
}

/* Server connections pgweir holds to PostgreSQL now. */
static long long
backends(void)
{
	return it_pg_int(&env, "select count(*) from pg_stat_activity where "
	    "backend_type = 'client backend' and pid <> pg_backend_pid()");
}

/* Wait until a query result turns to want (up to 5 s). */
static bool
wait_backends(long long want)
{
	for (int i = 0; i < 100; i++) {
		if (backends() == want)
			return true;
		it_sleep_ms(50);
	}
	return false;
}

/* The error of a query that must fail. */
static void
assert_query_fails_with(PGconn *conn, const char *sql, const char *text)
{
	PGresult *res = PQexec(conn, sql);

	assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_not_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	if (strstr(PQerrorMessage(conn), text) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", PQerrorMessage(conn),
		    text);
	PQclear(res);
}

static void
test_query_wait_timeout(void **state)
{
	PGconn *holder, *waiter;

	(void)state;
	restart("default_pool_size = 1\nquery_wait_timeout = 1", NULL);
	holder = it_connect(&env, "postgres", "postgres", NULL);
	waiter = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(holder, "begin"));
	assert_query_fails_with(waiter, "select 1", "query_wait_timeout");
	assert_true(it_exec_ok(holder, "commit"));
	PQfinish(holder);
	PQfinish(waiter);
}

static void
test_query_timeout(void **state)
{
	PGconn *conn;

	(void)state;
	restart("default_pool_size = 1\nquery_timeout = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_query_fails_with(conn, "select pg_sleep(20)", "query timeout");
	PQfinish(conn);
	/* the query was cancelled and the server is reused, not stuck */
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 4"), 4);
	PQfinish(conn);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where query like '%pg_sleep(20)%' and state = "
	    "'active' and pid <> pg_backend_pid()"), 0);
}

static void
test_client_idle_timeout(void **state)
{
	PGconn *conn;

	(void)state;
	restart("client_idle_timeout = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	it_sleep_ms(2500);
	assert_query_fails_with(conn, "select 1", "");
	assert_true(it_wait_log(&env, "client_idle_timeout", 2000));
	PQfinish(conn);
}

static void
test_idle_transaction_timeout(void **state)
{
	PGconn *conn;

	(void)state;
	restart("idle_transaction_timeout = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(conn, "begin"));
	it_sleep_ms(2500);
	assert_query_fails_with(conn, "select 1", "");
	assert_true(it_wait_log(&env, "idle transaction timeout", 2000));
	PQfinish(conn);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%'"), 0);
}

static void
test_transaction_timeout(void **state)
{
	PGconn *conn;
	bool failed = false;

	(void)state;
	restart("transaction_timeout = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(conn, "begin"));
	for (int i = 0; i < 8 && !failed; i++)
		failed = !it_exec_ok(conn, "select pg_sleep(0.3)");
	assert_true(failed);
	assert_non_null(strstr(PQerrorMessage(conn), "transaction timeout"));
	PQfinish(conn);
}

static void
test_client_login_timeout(void **state)
{
	char buf[512];
	struct pollfd pfd;
	ssize_t n;
	int fd;

	(void)state;
	restart("client_login_timeout = 1", NULL);
	fd = it_raw_connect(&env);
	pfd.fd = fd;
	pfd.events = POLLIN;
	assert_true(poll(&pfd, 1, 5000) > 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 6);
	buf[n] = '\0';
	assert_int_equal(buf[0], 'E');
	assert_non_null(memmem(buf, (size_t)n, "client_login_timeout", 20));
	close(fd);
}

static void
test_server_connect_timeout(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char dbs[256];
	PGconn *conn;
	int lfd;

	(void)state;
	/* a "server" that accepts TCP connections and never says a word */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	snprintf(dbs, sizeof(dbs), "mute = host=127.0.0.1 port=%d",
	    ntohs(sin.sin_port));
	/*
	 * The login waits for a server as a request does, through retries,
	 * until its wait timeout; the log tells why no server came.
	 */
	restart("server_connect_timeout = 1\nserver_login_retry = 1\n"
	    "query_wait_timeout = 3", dbs);
	conn = it_connect(&env, "mute", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "query_wait_timeout"));
	PQfinish(conn);
	assert_true(it_log_contains(&env, "closing because: connect timeout"));
	close(lfd);
}

/*
 * Send a login and return once it is out (the answer not read yet);
 * finish_login waits for the outcome.
 */
static PGconn *
start_login(const char *db, const char *user)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	char conninfo[512];
	PGconn *conn;

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d "
	    "dbname=%s user=%s connect_timeout=20 sslmode=disable "
	    "gssencmode=disable", env.port, db, user);
	conn = PQconnectStart(conninfo);
	assert_non_null(conn);
	while (PQstatus(conn) == CONNECTION_STARTED ||
	    PQstatus(conn) == CONNECTION_MADE) {
		struct pollfd pfd = { PQsocket(conn),
			st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
		assert_true(poll(&pfd, 1, 5000) > 0);
		st = PQconnectPoll(conn);
		assert_int_not_equal(st, PGRES_POLLING_FAILED);
	}
	return conn;
}

/* Finish a login started with start_login (blocking). */
static ConnStatusType
finish_login(PGconn *conn)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd pfd = { PQsocket(conn),
			st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
		assert_true(poll(&pfd, 1, 20000) > 0);
		st = PQconnectPoll(conn);
	}
	return PQstatus(conn);
}

/*
 * PostgreSQL unreachable: a login waits and pgweir retries, once per
 * server_login_retry, so a short restart is invisible; a login PostgreSQL
 * refuses fails every client waiting for that pool at once, and new ones
 * for server_login_retry, with PostgreSQL's own error.
 */
static void
test_server_login_retry(void **state)
{
	char dbs[256];
	PGconn *conn, *other;
	int before;

	(void)state;
	restart("server_login_retry = 1", NULL);
	assert_int_equal(it_pg_stop(&env, "fast"), 0);
	before = it_log_count(&env, "postgres/postgres new server connection");
	conn = start_login("postgres", "postgres");
	it_sleep_ms(2500);
	assert_int_equal(it_pg_start(&env), 0);
	assert_int_equal(finish_login(conn), CONNECTION_OK);
	assert_int_equal(it_query_int(conn, "select 4"), 4);
	PQfinish(conn);
	/* about one try per second while it was down, not a storm */
	assert_true(it_log_count(&env, "postgres/postgres new server "
	    "connection") - before <= 6);
	assert_true(it_log_contains(&env, "closing because: connect failed"));

	/* refused: both waiting logins get the backend's error at once */
	snprintf(dbs, sizeof(dbs), "gone = host=%s port=%d "
	    "dbname=doesnotexist\n", env.pgdir, env.pg_port);
	restart("server_login_retry = 5\nquery_wait_timeout = 60", dbs);
	conn = start_login("gone", "postgres");
	other = start_login("gone", "postgres");
	assert_int_equal(finish_login(conn), CONNECTION_BAD);
	assert_int_equal(finish_login(other), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "database "
	    "\"doesnotexist\" does not exist"));
	assert_non_null(strstr(PQerrorMessage(other), "database "
	    "\"doesnotexist\" does not exist"));
	PQfinish(conn);
	PQfinish(other);
	/* one try at PostgreSQL; the server closed for PostgreSQL's reason */
	assert_int_equal(it_log_count(&env, "gone/postgres new server "
	    "connection"), 1);
	assert_true(it_log_contains(&env, "closing because: database "
	    "\"doesnotexist\" does not exist"));
	/* and for server_login_retry, new ones without another try */
	before = it_log_count(&env, "gone/postgres new server connection");
	conn = it_connect(&env, "gone", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "server login has been "
	    "failing, cached error: database \"doesnotexist\" does not "
	    "exist (server_login_retry)"));
	PQfinish(conn);
	assert_int_equal(it_log_count(&env, "gone/postgres new server "
	    "connection"), before);
}

/*
 * PostgreSQL unreachable for longer: pgweir tries again soon at first
 * (0.2-0.4 s, doubling, never past server_login_retry), and once every try
 * has failed for server_login_fail_fast the waiting client gets the last
 * error instead of waiting up to query_wait_timeout, as do new requests
 * until a try succeeds, with one log line when that starts and one when
 * it ends.
 */
static void
test_unreachable_fails_fast(void **state)
{
	const char *tried = "postgres/postgres new server connection";
	const char *opened = "server logins have failed for";
	PGconn *conn;
	PGresult *res;
	long long t0, waited;
	int tries;

	(void)state;
	restart("server_login_retry = 2\nserver_login_fail_fast = 2\n"
	    "query_wait_timeout = 60", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_int_equal(it_pg_stop(&env, "fast"), 0);
	tries = it_log_count(&env, tried);
	t0 = it_now_ms();
	res = PQexec(conn, "select 2");
	waited = it_now_ms() - t0;
	assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	assert_non_null(strstr(PQerrorMessage(conn), "server login has been "
	    "failing, cached error"));
	PQfinish(conn);
	if (waited < 1500 || waited > 10000)
		fail_msg("the waiting request failed after %lld ms, not after "
		    "about 2 s", waited);
	/* several tries in those two seconds, not one per 2 s */
	assert_true(it_log_count(&env, tried) - tries >= 3);
	assert_int_equal(it_log_count(&env, opened), 1);

	/* a new request fails at once */
	t0 = it_now_ms();
	conn = it_connect(&env, "postgres", "postgres", NULL);
	if (PQstatus(conn) == CONNECTION_OK) {
		res = PQexec(conn, "select 3");
		assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		PQclear(res);
	}
	assert_true(it_now_ms() - t0 < 1000);
	assert_non_null(strstr(PQerrorMessage(conn), "server login has been "
	    "failing"));
	PQfinish(conn);

	/* PostgreSQL back: a try succeeds and the breaker closes */
	assert_int_equal(it_pg_start(&env), 0);
	for (int i = 0; i < 100; i++) {
		conn = it_connect(&env, "postgres", "postgres", NULL);
		res = PQexec(conn, "select 4");
		t0 = PQresultStatus(res) == PGRES_TUPLES_OK;
		PQclear(res);
		PQfinish(conn);
		if (t0)
			break;
		it_sleep_ms(100);
	}
	assert_true(it_wait_log(&env, "server logins succeed again", 5000));
	assert_int_equal(it_log_count(&env, opened), 1);
}

/*
 * PostgreSQL starts refusing a role while pgweir still holds a server
 * for it (PgBouncer's suite does this with a changed password): after
 * RECONNECT marks that server for closing, the next login attempt is
 * refused and every client waiting for the pool gets PostgreSQL's error
 * at once, from one try.
 */
static void
test_refused_login_fails_waiters(void **state)
{
	PGconn *holder, *w1, *w2, *console;
	PGresult *res;

	(void)state;
	restart("default_pool_size = 1\nadmin_users = postgres\n"
	    "server_login_retry = 1", NULL);
	holder = it_connect(&env, "postgres", "u2", NULL);
	w1 = it_connect(&env, "postgres", "u2", NULL);
	w2 = it_connect(&env, "postgres", "u2", NULL);
	assert_true(it_exec_ok(holder, "begin"));
	assert_int_equal(it_pg_exec(&env, "alter role u2 nologin"), 0);
	assert_int_equal(PQsendQuery(w1, "select 1"), 1);
	assert_int_equal(PQsendQuery(w2, "select 2"), 1);
	console = it_connect(&env, "pgweir", "postgres", NULL);
	assert_true(it_exec_ok(console, "RECONNECT"));
	assert_true(it_exec_ok(console, "SET default_pool_size = 2"));
	res = it_result_within(w1, 5000);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQerrorMessage(w1), "is not permitted to log "
	    "in"));
	PQclear(res);
	res = it_result_within(w2, 5000);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQerrorMessage(w2), "is not permitted to log "
	    "in"));
	PQclear(res);
	assert_int_equal(it_log_count(&env, "postgres/u2 new server "
	    "connection"), 2);
	assert_true(it_exec_ok(holder, "commit"));
	PQfinish(w1);
	PQfinish(w2);
	PQfinish(holder);
	PQfinish(console);
	assert_int_equal(it_pg_exec(&env, "alter role u2 login"), 0);
}

static void
test_server_lifetime_and_idle_timeout(void **state)
{
	PGconn *conn;
	long long pid1, pid2;

	(void)state;
	restart("server_lifetime = 1\nserver_idle_timeout = 600", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	pid1 = it_query_int(conn, "select pg_backend_pid()");
	it_sleep_ms(2500);
	pid2 = it_query_int(conn, "select pg_backend_pid()");
	assert_int_not_equal(pid1, pid2);
	PQfinish(conn);

	restart("server_idle_timeout = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_int_equal(backends(), 1);
	assert_true(wait_backends(0));
	PQfinish(conn);
}

static void
test_server_check_query(void **state)
{
	PGconn *conn;
	long long before;

	(void)state;
	before = it_pg_int(&env, "select setval('checkseq', 100)");
	restart("server_check_delay = 0\n"
	    "server_check_query = select nextval('checkseq')", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	/* a server fresh from its login is not checked */
	assert_int_equal(it_query_int(conn, "select 5"), 5);
	assert_int_equal(it_pg_int(&env, "select last_value from checkseq"),
	    before);
	/* a reused one is, each time it is handed out again */
	for (int i = 0; i < 3; i++)
		assert_int_equal(it_query_int(conn, "select 5"), 5);
	PQfinish(conn);
	assert_true(it_pg_int(&env, "select last_value from checkseq") -
	    before >= 3);

	/*
	 * A request waits for the server under check rather than have a
	 * second one opened (PgBouncer's test checks the same backend).
	 */
	restart("server_check_delay = 0\n"
	    "server_check_query = select pg_sleep(0.3)", NULL);
	{
		long long pid;
		conn = it_connect(&env, "postgres", "postgres", NULL);
		pid = it_query_int(conn, "select pg_backend_pid()");
		PQfinish(conn);
		conn = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(it_query_int(conn, "select pg_backend_pid()"),
		    pid);
		PQfinish(conn);
		assert_int_equal(backends(), 1);
	}
}

static void
test_min_pool_size(void **state)
{
	PGconn *conn;

	(void)state;
	restart("min_pool_size = 3", NULL);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_true(wait_backends(3));
	PQfinish(conn);
}

/* Server connections of one PostgreSQL role (up to 5 s for want). */
static bool
wait_role_backends(const char *role, long long want)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "select count(*) from pg_stat_activity "
	    "where backend_type = 'client backend' and usename = '%s'", role);
	for (int i = 0; i < 100; i++) {
		if (it_pg_int(&env, sql) == want)
			return true;
		it_sleep_ms(50);
	}
	return false;
}

/*
 * A database with a forced user keeps min_pool_size servers open before
 * any client comes, and one added by RELOAD too; one without a forced
 * user opens none until a client does.  The janitor never evicts for
 * min_pool_size.
 */
static void
test_min_pool_size_forced_user(void **state)
{
	char dbs[512];

	(void)state;
	snprintf(dbs, sizeof(dbs), "forced = host=%s port=%d dbname=postgres "
	    "user=u1 min_pool_size=2\nunforced = host=%s port=%d "
	    "dbname=postgres min_pool_size=2", env.pgdir, env.pg_port,
	    env.pgdir, env.pg_port);
	restart("", dbs);
	assert_true(wait_role_backends("u1", 2));
	assert_true(wait_role_backends("postgres", 0) || backends() == 2);
	assert_true(it_log_contains(&env, "forced/u1@unix new connection to "
	    "server"));

	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "forced = host=%s port=%d dbname=postgres user=u1 "
	    "min_pool_size=2\nforced2 = host=%s port=%d dbname=postgres "
	    "user=u2 min_pool_size=1", env.pgdir, env.pg_port, env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port);
	assert_int_equal(it_write_config(&env, "pool_mode = transaction",
	    dbs), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(wait_role_backends("u2", 1));
	assert_true(wait_role_backends("u1", 2));
	assert_false(it_log_contains(&env, "evicted"));
}

/* A column of a database's SHOW DATABASES row (a static copy). */
static const char *
show_database_column(const char *db, const char *column)
{
	static char value[256];
	PGconn *console = it_connect(&env, "pgweir", "postgres", NULL);
	PGresult *res = PQexec(console, "SHOW DATABASES");

	value[0] = '\0';
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), db) == 0)
			snprintf(value, sizeof(value), "%s", PQgetvalue(res, i,
			    PQfnumber(res, column)));
	PQclear(res);
	PQfinish(console);
	return value;
}

/*
 * disable_pqexec: a simple Query disconnects the client in PgBouncer's
 * words, the extended protocol works; application_name_add_host appends
 * the client's address to its application_name.
 */
static void
test_pqexec_and_appname(void **state)
{
	PGconn *conn;
	PGresult *res;

	(void)state;
	restart("disable_pqexec = 1\napplication_name_add_host = 1", NULL);
	conn = it_connect(&env, "postgres", "postgres",
	    "application_name=myapp");
	res = PQexecParams(conn, "select current_setting('application_name')",
	    0, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	if (strncmp(PQgetvalue(res, 0, 0), "myapp - 127.0.0.1:", 18) != 0)
		fail_msg("application_name: %s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexec(conn, "select 1");
	assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_non_null(strstr(PQerrorMessage(conn), "PQexec disallowed"));
	PQclear(res);
	PQfinish(conn);
	assert_true(it_log_contains(&env, "client used \"Query\" packet "
	    "type"));
}

/* Backend pids one client sees over n transactions, how many distinct. */
static int
distinct_backends(PGconn *conn, int n)
{
	long long seen[8];
	int distinct = 0;

	for (int i = 0; i < n && i < 8; i++) {
		long long pid = it_query_int(conn, "select pg_backend_pid()");
		bool known = false;
		for (int j = 0; j < distinct; j++)
			known = known || seen[j] == pid;
		if (!known)
			seen[distinct++] = pid;
	}
	return distinct;
}

/*
 * Idle servers are reused most recently used first (PgBouncer's default):
 * one client's transactions stay on one backend while others idle;
 * server_round_robin = 1 takes them in turn.
 */
static void
test_server_round_robin(void **state)
{
	PGconn *a, *b;

	(void)state;
	for (int rr = 0; rr <= 1; rr++) {
		restart(rr ? "server_round_robin = 1" : "", NULL);
		a = it_connect(&env, "postgres", "postgres", NULL);
		b = it_connect(&env, "postgres", "postgres", NULL);
		/* two servers, both idle afterwards */
		assert_true(it_exec_ok(a, "begin"));
		assert_true(it_exec_ok(b, "begin"));
		assert_true(it_exec_ok(a, "commit"));
		assert_true(it_exec_ok(b, "commit"));
		assert_int_equal(distinct_backends(a, 6), rr ? 2 : 1);
		PQfinish(a);
		PQfinish(b);
	}
}

/* Backends of role u1 over TCP (tcp) or the unix socket (!tcp). */
static long long
u1_backends(bool tcp)
{
	return it_pg_int(&env, tcp ? "select count(*) from pg_stat_activity "
	    "where usename = 'u1' and client_addr is not null" :
	    "select count(*) from pg_stat_activity where usename = 'u1' and "
	    "client_addr is null");
}

/* n clients of a database, each inside a transaction (a server each). */
static void
hold_servers(PGconn **c, int n, const char *db)
{
	for (int i = 0; i < n; i++) {
		c[i] = it_connect(&env, db, "postgres", NULL);
		assert_true(it_exec_ok(c[i], "begin"));
		assert_int_equal(it_query_int(c[i], "select 1"), 1);
	}
}

static void
release_servers(PGconn **c, int n)
{
	for (int i = 0; i < n; i++)
		PQfinish(c[i]);
}

/*
 * Host lists (host=a,b with one port or one each): round-robin, the
 * default, spreads new servers over the hosts in turn; disable stays on
 * one host until a connect to it fails, then moves to the next.  SHOW
 * DATABASES says which, and a RELOAD changes it.
 */
static void
test_host_list(void **state)
{
	char dbs[512];
	PGconn *c[3];

	(void)state;
	snprintf(dbs, sizeof(dbs), "rr = host=127.0.0.1,%s port=%d,%d "
	    "dbname=postgres user=u1\n"
	    "dis = host=/nonexistent,127.0.0.1 port=%d dbname=postgres "
	    "user=u1 load_balance_hosts=disable", env.pgdir, env.pg_port,
	    env.pg_port, env.pg_port);
	restart("server_login_retry = 0.2\nadmin_users = postgres", dbs);
	hold_servers(c, 2, "rr");
	assert_int_equal(u1_backends(true), 1);
	assert_int_equal(u1_backends(false), 1);
	release_servers(c, 2);

	/* disable: the dead first host once, then the second for good */
	restart("server_login_retry = 0.2\nadmin_users = postgres", dbs);
	hold_servers(c, 3, "dis");
	assert_int_equal(u1_backends(true), 3);
	assert_int_equal(it_log_count(&env, "dis/u1@unix closing because: "
	    "connect failed"), 1);
	release_servers(c, 3);
	assert_string_equal(show_database_column("dis",
	    "load_balance_hosts"), "disable");
	assert_string_equal(show_database_column("rr",
	    "load_balance_hosts"), "round-robin");
	snprintf(dbs, sizeof(dbs), "127.0.0.1,%s", env.pgdir);
	assert_string_equal(show_database_column("rr", "host"), dbs);

	/* a RELOAD changes the choice */
	snprintf(dbs, sizeof(dbs), "dis = host=/nonexistent,127.0.0.1 "
	    "port=%d dbname=postgres user=u1 load_balance_hosts=round-robin",
	    env.pg_port);
	assert_int_equal(it_write_config(&env, "pool_mode = transaction\n"
	    "admin_users = postgres", dbs), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	for (int i = 0; i < 50 && strcmp(show_database_column("dis",
	    "load_balance_hosts"), "round-robin") != 0; i++)
		it_sleep_ms(100);
	assert_string_equal(show_database_column("dis",
	    "load_balance_hosts"), "round-robin");
}

/*
 * connect_query runs once on each new server before anyone uses it; an
 * error in it is logged and the server serves all the same (as in
 * PgBouncer).
 */
static void
test_connect_query(void **state)
{
	char dbs[512];
	PGconn *conn;
	char *v;

	(void)state;
	snprintf(dbs, sizeof(dbs), "cq = host=%s port=%d dbname=postgres "
	    "connect_query='set enable_seqscan=off; set enable_nestloop=off'"
	    "\nbadcq = host=%s port=%d dbname=postgres "
	    "connect_query='select * from no_such_table'", env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port);
	restart("pool_mode = session", dbs);
	conn = it_connect(&env, "cq", "postgres", NULL);
	v = it_query_text(conn, "show enable_seqscan");
	assert_string_equal(v, "off");
	free(v);
	v = it_query_text(conn, "show enable_nestloop");
	assert_string_equal(v, "off");
	free(v);
	PQfinish(conn);

	conn = it_connect(&env, "badcq", "postgres", NULL);
	assert_int_equal(it_query_int(conn, "select 3"), 3);
	assert_true(it_log_contains(&env, "connect_query failed: relation "
	    "\"no_such_table\" does not exist"));
	PQfinish(conn);
}

static void
test_reserve_pool(void **state)
{
	PGconn *holder, *waiter;
	struct timespec t0, t1;

	(void)state;
	restart("default_pool_size = 1\nreserve_pool_size = 1\n"
	    "reserve_pool_timeout = 0.3", NULL);
	holder = it_connect(&env, "postgres", "postgres", NULL);
	waiter = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQsendQuery(holder, "select pg_sleep(4)"), 1);
	it_sleep_ms(200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(it_query_int(waiter, "select 6"), 6);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* served by the reserve, long before the holder's 4 s are over */
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	/* PgBouncer's words, once for the one server of the reserve */
	assert_int_equal(it_log_count(&env, "taking connection from "
	    "reserve_pool"), 1);
	assert_int_equal(backends(), 2);
	PQfinish(holder);
	PQfinish(waiter);
}

/*
 * Four clients of database "two", logged in as login1 and login2 in turn,
 * each running a short sleep at once: the most backends of role u1
 * active meanwhile.
 */
static long long
peak_active_u1(const char *login1, const char *login2)
{
	PGconn *c[4];
	long long most = 0;

	for (int i = 0; i < 4; i++) {
		c[i] = it_connect(&env, "two", i % 2 ? login2 : login1, NULL);
		assert_int_equal(PQsendQuery(c[i], "select pg_sleep(0.3)"), 1);
	}
	for (int i = 0; i < 10; i++) {
		long long n = it_pg_int(&env, "select count(*) from "
		    "pg_stat_activity where usename = 'u1' and state = "
		    "'active'");
		most = n > most ? n : most;
		it_sleep_ms(50);
	}
	for (int i = 0; i < 4; i++) {
		PGresult *res;
		while ((res = PQgetResult(c[i])) != NULL)
			PQclear(res);
		PQfinish(c[i]);
	}
	return most;
}

/* Per-database and per-user pool sizes bound concurrent backends. */
static void
test_pool_sizes(void **state)
{
	PGconn *c[6];
	long long most = 0;
	char dbs[256];

	(void)state;
	snprintf(dbs, sizeof(dbs), "two = host=%s port=%d dbname=postgres "
	    "pool_size=2", env.pgdir, env.pg_port);
	restart("default_pool_size = 10\n[users]\nu1 = pool_size=1\n"
	    "[pgweir]", dbs);
	for (int i = 0; i < 6; i++) {
		c[i] = it_connect(&env, "two", "postgres", NULL);
		assert_int_equal(PQsendQuery(c[i], "select pg_sleep(0.3)"), 1);
	}
	for (int i = 0; i < 10; i++) {
		long long n = backends();
		most = n > most ? n : most;
		it_sleep_ms(50);
	}
	for (int i = 0; i < 6; i++) {
		PGresult *res;
		while ((res = PQgetResult(c[i])) != NULL) {
			assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
			PQclear(res);
		}
		PQfinish(c[i]);
	}
	assert_int_equal(most, 2);

	/* [users] u1 pool_size=1 beats the database's 2 */
	assert_int_equal(peak_active_u1("u1", "u1"), 1);

	/*
	 * A reload re-resolves the settings of pools that already exist
	 * (an idle client keeps this one): u1's size goes from 1 to 3.
	 */
	{
		PGconn *keep = it_connect(&env, "two", "u1", NULL);
		char all[1024], alldbs[1024];
		assert_int_equal(it_query_int(keep, "select 1"), 1);
		snprintf(all, sizeof(all), "pool_mode = transaction\n"
		    "default_pool_size = 10\n[users]\nu1 = pool_size=3\n"
		    "[pgweir]\n");
		snprintf(alldbs, sizeof(alldbs), "postgres = host=%s "
		    "port=%d\n%s\n", env.pgdir, env.pg_port, dbs);
		assert_int_equal(it_write_config(&env, all, alldbs), 0);
		assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
		assert_true(it_wait_log(&env, "configuration reloaded", 5000));
		assert_int_equal(peak_active_u1("u1", "u1"), 3);
		PQfinish(keep);
	}

	/* with a forced user, the database's pool_size wins over [users] */
	snprintf(dbs, sizeof(dbs), "two = host=%s port=%d dbname=postgres "
	    "user=u1 pool_size=2", env.pgdir, env.pg_port);
	restart("default_pool_size = 10\nadmin_users = postgres\n"
	    "[users]\nu1 = pool_size=1\n[pgweir]", dbs);
	assert_int_equal(peak_active_u1("postgres", "postgres"), 2);
	/* and clients of every login name share that one pool */
	assert_int_equal(peak_active_u1("postgres", "u2"), 2);
	{
		PGconn *console = it_connect(&env, "pgweir", "postgres",
		    NULL);
		PGresult *res = PQexec(console, "SHOW POOLS");
		int pools = 0;
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(res); i++) {
			if (strcmp(PQgetvalue(res, i, 0), "two") != 0)
				continue;
			pools++;
			assert_string_equal(PQgetvalue(res, i, 1), "u1");
		}
		assert_int_equal(pools, 1);
		PQclear(res);
		PQfinish(console);
	}
}

/* max_db_connections across users: the second pool waits, then gets in. */
static void
test_server_caps(void **state)
{
	PGconn *a, *b;
	PGresult *res;
	char dbs[256];

	(void)state;
	snprintf(dbs, sizeof(dbs), "capped = host=%s port=%d dbname=postgres "
	    "max_db_connections=1", env.pgdir, env.pg_port);
	restart("", dbs);
	a = it_connect(&env, "capped", "u1", NULL);
	b = it_connect(&env, "capped", "u2", NULL);
	assert_true(it_exec_ok(a, "begin"));
	assert_int_equal(PQsendQuery(b, "select 8"), 1);
	it_sleep_ms(400);
	assert_int_equal(PQconsumeInput(b), 1);
	assert_int_equal(PQisBusy(b), 1);
	assert_true(it_exec_ok(a, "commit"));
	res = PQgetResult(b);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	assert_null(PQgetResult(b));
	assert_true(backends() <= 1);
	/* b's pool had no server: a's idle one made room for it */
	assert_true(it_log_contains(&env, "closing because: evicted"));
	PQfinish(b);
	/* a new user's first login, while a holds the only server */
	assert_true(it_exec_ok(a, "begin"));
	b = start_login("capped", "postgres");
	it_sleep_ms(300);
	assert_int_equal(backends(), 1);	/* b waits for a server */
	assert_true(it_exec_ok(a, "commit"));
	assert_int_equal(finish_login(b), CONNECTION_OK);
	assert_int_equal(it_query_int(b, "select 10"), 10);
	PQfinish(a);
	PQfinish(b);

	/* max_user_connections: the same across databases */
	snprintf(dbs, sizeof(dbs), "other = host=%s port=%d dbname=postgres",
	    env.pgdir, env.pg_port);
	restart("[users]\nu1 = max_user_connections=1\n[pgweir]", dbs);
	a = it_connect(&env, "postgres", "u1", NULL);
	b = it_connect(&env, "other", "u1", NULL);
	assert_true(it_exec_ok(a, "begin"));
	assert_int_equal(PQsendQuery(b, "select 9"), 1);
	it_sleep_ms(400);
	assert_int_equal(PQconsumeInput(b), 1);
	assert_int_equal(PQisBusy(b), 1);
	assert_true(it_exec_ok(a, "commit"));
	res = PQgetResult(b);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	assert_null(PQgetResult(b));
	PQfinish(a);
	PQfinish(b);
}

/* Client caps per database and per user name themselves. */
static void
test_client_caps(void **state)
{
	PGconn *c[3];
	char dbs[256];

	(void)state;
	snprintf(dbs, sizeof(dbs), "few = host=%s port=%d dbname=postgres "
	    "max_db_client_connections=2", env.pgdir, env.pg_port);
	restart("[users]\nu2 = max_user_client_connections=1\n[pgweir]", dbs);
	c[0] = it_connect(&env, "few", "postgres", NULL);
	c[1] = it_connect(&env, "few", "postgres", NULL);
	c[2] = it_connect(&env, "few", "postgres", NULL);
	assert_int_equal(PQstatus(c[1]), CONNECTION_OK);
	assert_int_equal(PQstatus(c[2]), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c[2]),
	    "max_db_client_connections"));
	for (int i = 0; i < 3; i++)
		PQfinish(c[i]);
	c[0] = it_connect(&env, "postgres", "u2", NULL);
	c[1] = it_connect(&env, "postgres", "u2", NULL);
	assert_int_equal(PQstatus(c[0]), CONNECTION_OK);
	assert_int_equal(PQstatus(c[1]), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c[1]),
	    "max_user_client_connections"));
	PQfinish(c[0]);
	PQfinish(c[1]);
}

/* [users] pool_mode overrides the global mode. */
static void
test_user_pool_mode(void **state)
{
	PGconn *conn;
	PGresult *res;

	(void)state;
	restart("[users]\nu2 = pool_mode=statement\n[pgweir]", NULL);
	conn = it_connect(&env, "postgres", "u2", NULL);
	res = PQexec(conn, "begin");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	PQfinish(conn);
	conn = it_connect(&env, "postgres", "u1", NULL);
	assert_true(it_exec_ok(conn, "begin"));
	assert_true(it_exec_ok(conn, "commit"));
	PQfinish(conn);
}

/* server_reset_query_always: an untracked SET does not leak. */
static void
test_reset_query_always(void **state)
{
	PGconn *a, *b;
	char *v;

	(void)state;
	restart("default_pool_size = 1\nserver_reset_query_always = 1", NULL);
	a = it_connect(&env, "postgres", "postgres", NULL);
	b = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(a, "set work_mem = '77MB'"));
	v = it_query_text(b, "show work_mem");
	assert_string_equal(v, "4MB");
	free(v);
	PQfinish(a);
	PQfinish(b);

	/* without it, transaction mode leaks it (as documented) */
	restart("default_pool_size = 1", NULL);
	a = it_connect(&env, "postgres", "postgres", NULL);
	b = it_connect(&env, "postgres", "postgres", NULL);
	assert_true(it_exec_ok(a, "set work_mem = '77MB'"));
	v = it_query_text(b, "show work_mem");
	assert_string_equal(v, "77MB");
	free(v);
	PQfinish(a);
	PQfinish(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_wait_timeout),
		cmocka_unit_test(test_query_timeout),
		cmocka_unit_test(test_client_idle_timeout),
		cmocka_unit_test(test_idle_transaction_timeout),
		cmocka_unit_test(test_transaction_timeout),
		cmocka_unit_test(test_client_login_timeout),
		cmocka_unit_test(test_server_connect_timeout),
		cmocka_unit_test(test_server_login_retry),
		cmocka_unit_test(test_unreachable_fails_fast),
		cmocka_unit_test(test_refused_login_fails_waiters),
		cmocka_unit_test(test_server_lifetime_and_idle_timeout),
		cmocka_unit_test(test_server_check_query),
		cmocka_unit_test(test_min_pool_size),
		cmocka_unit_test(test_min_pool_size_forced_user),
		cmocka_unit_test(test_connect_query),
		cmocka_unit_test(test_host_list),
		cmocka_unit_test(test_pqexec_and_appname),
		cmocka_unit_test(test_server_round_robin),
		cmocka_unit_test(test_reserve_pool),
		cmocka_unit_test(test_pool_sizes),
		cmocka_unit_test(test_server_caps),
		cmocka_unit_test(test_client_caps),
		cmocka_unit_test(test_user_pool_mode),
		cmocka_unit_test(test_reset_query_always),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
