/* SPDX-License-Identifier: ISC */
/*
 * Limits: a pool of one server makes the next client wait (and get the
 * server when the first leaves), and max_client_conn refuses the client
 * beyond it with an error naming the limit.  A waiting client's request
 * larger than what pgweir buffers for it (1 MB, 64 MB) is relayed whole
 * once it gets a server, in every pool mode, whether that server was
 * freed by another client or newly opened, and after a cancel.  Sockets
 * that connect and send a byte or nothing neither fill max_client_conn
 * nor outlive client_startup_timeout, and past max_login_clients new ones
 * are refused at once while logged-in clients go on.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <poll.h>
#include <time.h>
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
	    it_pg_exec(&env, "create database relay_fresh") < 0)
		return -1;
	/* over TCP, where the kernel takes a waiting request at once */
	snprintf(dbs, sizeof(dbs),
	    "postgres = host=127.0.0.1 port=%d\n"
	    "tx1 = host=127.0.0.1 port=%d dbname=postgres "
	    "pool_mode=transaction\n"
	    "stmt1 = host=127.0.0.1 port=%d dbname=postgres "
	    "pool_mode=statement\n"
	    "fresh = host=127.0.0.1 port=%d dbname=relay_fresh "
	    "pool_mode=transaction\n",
	    env.pg_port, env.pg_port, env.pg_port, env.pg_port);
	return it_pgweir_start(&env, "pool_mode = session\n"
	    "default_pool_size = 1\nmax_client_conn = 3\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The second client waits for the only server, then gets it. */
static void
test_pool_limit_waits(void **state)
{
	PGconn *a, *b;
	PGresult *res;

	(void)state;
	a = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(a, "select 1"), 1);
	b = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(b), CONNECTION_OK);
	assert_int_equal(PQsendQuery(b, "select 2"), 1);
	it_sleep_ms(500);
	assert_int_equal(PQconsumeInput(b), 1);
	assert_int_equal(PQisBusy(b), 1);	/* still waiting */
	PQfinish(a);
	res = PQgetResult(b);	/* blocks until the server is free */
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	PQclear(res);
	while ((res = PQgetResult(b)) != NULL)
		PQclear(res);
	PQfinish(b);
}

/* The fourth client is refused with an error that names the limit. */
static void
test_max_client_conn(void **state)
{
	PGconn *c[4];

	(void)state;
	for (int i = 0; i < 3; i++) {
		c[i] = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(PQstatus(c[i]), CONNECTION_OK);
	}
	c[3] = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(c[3]), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(c[3]), "no more connections "
	    "allowed (max_client_conn)"));
	for (int i = 0; i < 4; i++)
		PQfinish(c[i]);
	/* room again once they are gone */
	it_sleep_ms(100);
	c[0] = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(c[0]), CONNECTION_OK);
	PQfinish(c[0]);
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

/* "select length('xx...x')" with n x's: a simple Query of about n bytes. */
static char *
length_query(size_t n)
{
	static const char head[] = "select length('", tail[] = "')";
	char *q = malloc(sizeof(head) - 1 + n + sizeof(tail));

	assert_non_null(q);
	memcpy(q, head, sizeof(head) - 1);
	memset(q + sizeof(head) - 1, 'x', n);
	memcpy(q + sizeof(head) - 1 + n, tail, sizeof(tail));
	return q;
}

/*
 * Start sending a query without blocking and keep writing it for ms
 * milliseconds, while the client waits for a server: no answer yet.
 */
static void
send_waiting(PGconn *conn, const char *sql, int ms)
{
	assert_int_equal(PQsetnonblocking(conn, 1), 0);
	assert_int_equal(PQsendQuery(conn, sql), 1);
	for (int i = 0; i < ms / 10; i++) {
		assert_true(PQflush(conn) >= 0);
		assert_int_equal(PQconsumeInput(conn), 1);
		assert_int_equal(PQisBusy(conn), 1);
		it_sleep_ms(10);
	}
}

/*
 * Write the rest of what was sent and wait, at most timeout_s seconds, for
 * the answer: its first result (the caller clears it), or NULL.  The
 * connection blocks again after.
 */
static PGresult *
await_result(PGconn *conn, int timeout_s)
{
	struct timespec t0;
	PGresult *res = NULL, *more;
	int flushing = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (since(&t0) < timeout_s) {
		struct pollfd p = { PQsocket(conn), POLLIN, 0 };

		if (flushing > 0)
			flushing = PQflush(conn);
		if (flushing < 0 || !PQconsumeInput(conn))
			break;
		if (!PQisBusy(conn)) {
			res = PQgetResult(conn);
			break;
		}
		if (flushing > 0)
			p.events |= POLLOUT;
		(void)poll(&p, 1, 100);
	}
	if (res != NULL)
		while ((more = PQgetResult(conn)) != NULL)
			PQclear(more);
	/* all of it went out: the next query may block */
	while (flushing > 0 && since(&t0) < timeout_s) {
		flushing = PQflush(conn);
		it_sleep_ms(10);
	}
	if (flushing != 0) {
		PQclear(res);
		return NULL;
	}
	PQsetnonblocking(conn, 0);
	return res;
}

/* The length the query of length_query() returned, or -1. */
static long long
await_length(PGconn *conn, int timeout_s)
{
	PGresult *res = await_result(conn, timeout_s);
	long long v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoll(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "no length: %s", res ? PQresultErrorMessage(res)
		    : "no answer in time\n");
	PQclear(res);
	return v;
}

/* How the client holding a pool's only server lets it go. */
enum release { FREE, KILL };

/*
 * A client waits for the only server of db, which another client holds
 * (in a transaction, a session or a running statement, by pool mode),
 * and sends a length query of n bytes, more than pgweir buffers for a
 * waiting client.  The holder then lets the server go (FREE: commit,
 * disconnect, end of statement), or its backend is terminated (KILL: the
 * pool opens a new server for the waiter).  The answer must come.
 */
static void
big_request_behind(const char *db, const char *mode, enum release how,
    size_t n)
{
	PGconn *holder = it_connect(&env, db, "postgres", NULL);
	PGconn *waiter = it_connect(&env, db, "postgres", NULL);
	char *q = length_query(n), sql[128];
	long long pid;
	PGresult *res;

	pid = it_query_int(holder, "select pg_backend_pid()");
	assert_true(pid > 0);
	if (strcmp(mode, "transaction") == 0)
		assert_true(it_exec_ok(holder, "begin"));
	else if (strcmp(mode, "statement") == 0)
		assert_int_equal(PQsendQuery(holder, "select pg_sleep(1.5)"),
		    1);
	/* session: the holder's first query took the server for good */
	it_sleep_ms(100);
	send_waiting(waiter, q, 300);
	if (how == KILL) {
		snprintf(sql, sizeof(sql), "select pg_terminate_backend(%lld)",
		    pid);
		assert_int_equal(it_pg_exec(&env, sql), 0);
	} else if (strcmp(mode, "transaction") == 0) {
		assert_true(it_exec_ok(holder, "commit"));
	} else if (strcmp(mode, "session") == 0) {
		PQfinish(holder);
		holder = NULL;
	}
	if (strcmp(mode, "statement") == 0)
		while ((res = PQgetResult(holder)) != NULL)
			PQclear(res);
	assert_int_equal(await_length(waiter, 60), (long long)n);
	assert_int_equal(it_query_int(waiter, "select 2"), 2);
	free(q);
	PQfinish(holder);
	PQfinish(waiter);
}

/* Transaction mode: 1 and 64 MB behind a transaction, 64 MB on a new server. */
static void
test_big_request_waits_transaction(void **state)
{
	(void)state;
	big_request_behind("tx1", "transaction", FREE, 1 << 20);
	big_request_behind("tx1", "transaction", FREE, 64 << 20);
	big_request_behind("tx1", "transaction", KILL, 64 << 20);
}

/* Session mode: 1 MB behind another session, and on a new server. */
static void
test_big_request_waits_session(void **state)
{
	(void)state;
	big_request_behind("postgres", "session", FREE, 1 << 20);
	big_request_behind("postgres", "session", KILL, 1 << 20);
}

/* Statement mode: 1 MB behind a running statement, and on a new server. */
static void
test_big_request_waits_statement(void **state)
{
	(void)state;
	big_request_behind("stmt1", "statement", FREE, 1 << 20);
	big_request_behind("stmt1", "statement", KILL, 1 << 20);
}

/*
 * A pool whose server is gone: a 1 MB request waits while pgweir opens a
 * new server, and goes to it once it has logged in.
 */
static void
test_big_request_new_server(void **state)
{
	PGconn *conn = it_connect(&env, "fresh", "postgres", NULL);
	char *q = length_query(1 << 20);

	(void)state;
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(it_pg_exec(&env, "select pg_terminate_backend(pid) "
	    "from pg_stat_activity where datname = 'relay_fresh'"), 0);
	for (int i = 0; i < 100 && it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where datname = 'relay_fresh'") > 0; i++)
		it_sleep_ms(50);
	it_sleep_ms(300);	/* pgweir has seen its server close */
	send_waiting(conn, q, 0);
	assert_int_equal(await_length(conn, 30), 1 << 20);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where datname = 'relay_fresh'"), 1);
	free(q);
	PQfinish(conn);
}

/*
 * A cancel of a waiting client's 1 MB request, only part of which pgweir
 * has read: the rest is read and dropped, and the client goes on.
 */
static void
test_big_request_cancel_waiting(void **state)
{
	PGconn *holder = it_connect(&env, "tx1", "postgres", NULL);
	PGconn *waiter = it_connect(&env, "tx1", "postgres", NULL);
	char *q = length_query(1 << 20), err[256];
	PGcancel *cancel;
	PGresult *res;

	(void)state;
	assert_true(it_exec_ok(holder, "begin"));
	send_waiting(waiter, q, 300);
	cancel = PQgetCancel(waiter);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	res = await_result(waiter, 30);
	assert_non_null(res);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "57014");
	PQclear(res);
	assert_true(it_exec_ok(holder, "commit"));
	send_waiting(waiter, q, 0);
	assert_int_equal(await_length(waiter, 30), 1 << 20);
	free(q);
	PQfinish(holder);
	PQfinish(waiter);
}

/*
 * A client that stops reading a large result makes pgweir stop reading
 * its server; when that client leaves, the server reads again, finishes
 * its cleanup and serves the next client at once (not after
 * cancel_wait_timeout, when it would be closed).
 */
static void
test_slow_reader_leaves(void **state)
{
	PGconn *slow = it_connect(&env, "tx1", "postgres", NULL);
	PGconn *next = it_connect(&env, "tx1", "postgres", NULL);
	struct timespec t0;

	(void)state;
	assert_int_equal(PQsendQuery(slow, "select repeat('x', 1000) from "
	    "generate_series(1, 1000000)"), 1);
	it_sleep_ms(500);	/* pgweir's output to it is past its bound */
	PQfinish(slow);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_waiting(next, "select length('abc')", 0);
	assert_int_equal(await_length(next, 30), 3);
	assert_true(since(&t0) < 5);
	PQfinish(next);
}

/* Restart pgweir with these settings (trust, the default databases). */
static void
restart(const char *settings)
{
	assert_int_equal(it_pgweir_stop(&env), 0);
	assert_int_equal(it_pgweir_start(&env, settings, NULL), 0);
}

/* Open n TCP sockets that send one byte of a startup packet, or none. */
static void
open_half(int *fds, int n, bool one_byte)
{
	for (int i = 0; i < n; i++) {
		fds[i] = it_raw_connect(&env);
		assert_true(fds[i] >= 0);
		if (one_byte)
			assert_int_equal(write(fds[i], "\0", 1), 1);
	}
}

/*
 * Read until pgweir closes the socket, within timeout_ms; what came,
 * NUL-terminated (the text of an ErrorResponse can be searched), or NULL
 * when the socket stayed open.
 */
static const char *
read_until_closed(int fd, int timeout_ms)
{
	static char buf[1024];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (poll(&pfd, 1, timeout_ms) != 1)
			return NULL;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	/* the error's fields are NUL-separated: make them one string */
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
	return buf;
}

/*
 * 60 sockets that send one byte hold no place under max_client_conn = 50:
 * a real client still logs in.  client_startup_timeout closes them, with
 * an error naming it, long before client_login_timeout; so it does
 * sockets that send nothing (which TCP_DEFER_ACCEPT hands to pgweir only
 * after tcp_defer_accept).
 */
static void
test_silent_sockets(void **state)
{
	enum { N = 60, SILENT = 5 };
	int fds[N], silent[SILENT];
	long long start;
	PGconn *conn;

	(void)state;
	restart("max_client_conn = 50\nclient_startup_timeout = 1\n"
	    "client_login_timeout = 60\n");
	start = it_now_ms();
	open_half(fds, N, true);
	open_half(silent, SILENT, false);
	it_sleep_ms(300);	/* the first 60 accepted */
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(it_query_int(conn, "select 1"), 1);
	for (int i = 0; i < N; i++) {
		const char *got = read_until_closed(fds[i], 5000);
		assert_non_null(got);
		assert_non_null(strstr(got, "client_startup_timeout"));
		close(fds[i]);
	}
	assert_true(it_now_ms() - start < 4000);
	for (int i = 0; i < SILENT; i++) {
		const char *got = read_until_closed(silent[i], 15000);
		assert_non_null(got);
		assert_non_null(strstr(got, "client_startup_timeout"));
		close(silent[i]);
	}
	assert_true(it_now_ms() - start < 20000);
	assert_int_equal(it_query_int(conn, "select 2"), 2);
	PQfinish(conn);
}

/*
 * Past max_login_clients a new TCP connection gets "too many clients
 * logging in" at once (raw sockets and libpq alike), while a client that
 * has logged in goes on and the unix socket still lets one in; once the
 * silent sockets are timed out, TCP logins work again.
 */
static void
test_max_login_clients(void **state)
{
	enum { N = 20, MORE = 5 };
	int fds[N], more[MORE];
	PGconn *in, *refused, *unix_conn, *later;
	const char *got;

	(void)state;
	restart("max_client_conn = 50\nmax_login_clients = 20\n"
	    "client_startup_timeout = 2\npool_mode = transaction\n");
	in = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(in, "select 1"), 1);
	open_half(fds, N, true);
	it_sleep_ms(300);	/* all of them accepted */
	open_half(more, MORE, true);
	for (int i = 0; i < MORE; i++) {
		got = read_until_closed(more[i], 1000);
		assert_non_null(got);
		assert_int_equal(got[0], 'E');
		assert_non_null(strstr(got, "53300"));
		assert_non_null(strstr(got, "too many clients logging in"));
		close(more[i]);
	}
	refused = it_connect(&env, "postgres", "postgres", "sslmode=disable");
	assert_int_equal(PQstatus(refused), CONNECTION_BAD);
	if (strstr(PQerrorMessage(refused), "too many clients logging in") ==
	    NULL)
		fail_msg("refused client saw: %s", PQerrorMessage(refused));
	PQfinish(refused);
	assert_true(it_wait_log(&env, "too many clients logging in "
	    "(max_login_clients): refused", 2000));
	assert_int_equal(it_query_int(in, "select 2"), 2);
	unix_conn = it_connect_unix(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(unix_conn, "select 3"), 3);
	PQfinish(unix_conn);

	for (int i = 0; i < N; i++) {
		assert_non_null(read_until_closed(fds[i], 5000));
		close(fds[i]);
	}
	later = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(later, "select 4"), 4);
	assert_int_equal(it_query_int(in, "select 5"), 5);
	PQfinish(later);
	PQfinish(in);
}

/*
 * A waiting request whose bytes keep coming while PostgreSQL is down keeps
 * its place (as every waiter does through a failed connect) and is served
 * once PostgreSQL is back: the rest of a large query used to close the
 * client with the connect error.
 */
static void
test_big_request_waits_through_outage(void **state)
{
	const size_t n = 1024 * 1024, first = 64 * 1024;
	char *q = length_query(n), types[64], val[32], hdr[5];
	size_t qlen = strlen(q) + 1;
	uint32_t len = htonl((uint32_t)(qlen + 4));
	int fd = it_raw_login(&env, "tx1", "postgres");

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(it_pg_stop(&env, "fast"), 0);
	/* pgweir's servers to PostgreSQL are gone; the query starts */
	hdr[0] = 'Q';
	memcpy(hdr + 1, &len, 4);
	assert_int_equal(write(fd, hdr, 5), 5);
	assert_int_equal(write(fd, q, first), (ssize_t)first);
	/* a connect fails meanwhile and the pool backs off */
	it_sleep_ms(1500);
	assert_int_equal(write(fd, q + first, qlen - first),
	    (ssize_t)(qlen - first));
	it_sleep_ms(500);
	assert_int_equal(it_pg_start(&env), 0);
	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), NULL, 0,
	    val, sizeof(val)), 0);
	assert_int_equal(atol(val), (long)n);
	close(fd);
	free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_limit_waits),
		cmocka_unit_test(test_max_client_conn),
		cmocka_unit_test(test_big_request_waits_transaction),
		cmocka_unit_test(test_big_request_waits_session),
		cmocka_unit_test(test_big_request_waits_statement),
		cmocka_unit_test(test_big_request_new_server),
		cmocka_unit_test(test_big_request_cancel_waiting),
		cmocka_unit_test(test_slow_reader_leaves),
		cmocka_unit_test(test_big_request_waits_through_outage),
		cmocka_unit_test(test_silent_sockets),
		cmocka_unit_test(test_max_login_clients),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
