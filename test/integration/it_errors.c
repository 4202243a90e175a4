/* SPDX-License-Identifier: ISC */
/*
 * Bad input and unreachable servers: each gets a clear error, closes only
 * the offending client, and the others keep working.
 */
#include "config.h"

#include <arpa/inet.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static int down_port;

static int
setup(void **state)
{
	char dbs[1024];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	down_port = it_free_port();
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "down = host=127.0.0.1 port=%d dbname=postgres "
	    "query_wait_timeout=2\n", env.pgdir,
	    env.pg_port, down_port);
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "max_packet_size = 100000\n"
	    "ignore_startup_parameters = extra_float_digits\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* A normal client still works (after something bad happened). */
static void
assert_others_work(void)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(it_query_int(conn, "select 7"), 7);
	PQfinish(conn);
	assert_true(it_pgweir_alive(&env));
}

/* Read what pgweir answers on a raw socket until it closes (or 5 s). */
static size_t
read_until_close(int fd, char *buf, size_t len)
{
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		n = read(fd, buf + got, len - got - 1);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= len - 1)
			break;
	}
	buf[got] = '\0';
	return got;
}

/* Whether an ErrorResponse in buf carries a message containing text. */
static bool
error_says(const char *buf, size_t len, const char *text)
{
	if (len < 6 || buf[0] != 'E')
		return false;
	for (size_t i = 5; i < len; i++)
		if (buf[i] == 'M' && strstr(buf + i + 1, text) != NULL)
			return true;
	return false;
}

/* Send raw bytes as a new connection; return pgweir's whole answer. */
static size_t
raw_exchange(const void *data, size_t len, bool close_write, char *out,
    size_t outlen)
{
	int fd = it_raw_connect(&env);
	size_t n;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	if (close_write)
		shutdown(fd, SHUT_WR);
	n = read_until_close(fd, out, outlen);
	close(fd);
	return n;
}

/* Garbage, an absurd length and a truncated packet close only that client. */
static void
test_bad_startup_packets(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t huge[8] = { 0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0 };
	uint8_t trunc[20] = { 0, 0, 0, 100, 0, 3, 0, 0, 'u', 's', 'e', 'r' };
	uint8_t v2[8] = { 0, 0, 0, 8, 0, 2, 0, 0 };
	uint8_t noterm[] = { 0, 0, 0, 17, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0,
		'b', 'o', 'b', 'x' };
	char out[1024];
	size_t n;

	(void)state;
	n = raw_exchange(http, sizeof(http) - 1, false, out, sizeof(out));
	assert_true(error_says(out, n, "invalid length of startup packet"));
	n = raw_exchange(huge, sizeof(huge), false, out, sizeof(out));
	assert_true(error_says(out, n, "invalid length of startup packet"));
	n = raw_exchange(trunc, sizeof(trunc), true, out, sizeof(out));
	assert_int_equal(n, 0);
	n = raw_exchange(v2, sizeof(v2), false, out, sizeof(out));
	assert_true(error_says(out, n, "unsupported frontend protocol 2.0"));
	n = raw_exchange(noterm, sizeof(noterm), false, out, sizeof(out));
	assert_true(error_says(out, n, "invalid startup packet layout"));
	assert_others_work();
}

/* Log in by hand on a raw socket; returns the fd once ReadyForQuery came. */
static int
raw_login(void)
{
	static const char params[] = "user\0postgres\0database\0postgres\0";
	uint8_t pkt[64];
	char buf[8192];
	size_t len = 8 + sizeof(params), got = 0;
	int fd = it_raw_connect(&env);

	assert_true(fd >= 0);
	pkt[0] = 0;
	pkt[1] = 0;
	pkt[2] = (uint8_t)(len >> 8);
	pkt[3] = (uint8_t)len;
	pkt[4] = 0;
	pkt[5] = 3;
	pkt[6] = 0;
	pkt[7] = 0;
	memcpy(pkt + 8, params, sizeof(params));
	assert_int_equal(write(fd, pkt, len), (ssize_t)len);
	/* ReadyForQuery 'Z' is the last message of the login reply */
	while (got < 6 || memcmp(buf + got - 6, "Z\0\0\0\5I", 6) != 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		assert_true(poll(&pfd, 1, 5000) > 0);
		n = read(fd, buf + got, sizeof(buf) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	return fd;
}

/* An unknown message type after login: protocol error, that client only. */
static void
test_bad_message_after_login(void **state)
{
	static const uint8_t bad[] = { 'z', 0, 0, 0, 4 };
	char out[1024];
	int fd;
	size_t n;

	(void)state;
	fd = raw_login();
	assert_int_equal(write(fd, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	n = read_until_close(fd, out, sizeof(out));
	close(fd);
	assert_true(error_says(out, n, "invalid message from client"));
	assert_others_work();
}

/* A message larger than max_packet_size: error, connection closed. */
static void
test_max_packet_size(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	char *sql = malloc(200000);
	PGresult *res;

	(void)state;
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	memset(sql, ' ', 199990);
	memcpy(sql, "select 1", 8);
	sql[199990] = '\0';
	res = PQexec(conn, sql);
	assert_int_not_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_non_null(strstr(PQerrorMessage(conn), "max_packet_size"));
	PQclear(res);
	PQfinish(conn);
	free(sql);
	assert_others_work();
}

/*
 * A server that is down: the login waits for it (it may be restarting)
 * within query_wait_timeout, then gets that error, not a hang; the log
 * says why no server came.  Others are not held up meanwhile.
 */
static void
test_backend_down(void **state)
{
	PGconn *conn;
	long long t0;

	(void)state;
	t0 = it_now_ms();
	conn = it_connect(&env, "down", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "query_wait_timeout"));
	assert_true(it_now_ms() - t0 >= 1500);
	PQfinish(conn);
	assert_true(it_log_contains(&env, "could not connect to server at "
	    "127.0.0.1"));
	assert_others_work();
}

/* Connect with raw keyword/value pairs (values may hold any byte). */
static PGconn *
connect_params(const char *db, const char *user, const char *appname)
{
	char port[16];
	const char *keys[] = { "host", "port", "dbname", "user",
	    "application_name", "connect_timeout", NULL };
	const char *vals[] = { "127.0.0.1", port, db, user, appname, "20",
	    NULL };

	snprintf(port, sizeof(port), "%d", env.port);
	return PQconnectdbParams(keys, vals, 0);
}

/*
 * Names from a client reach the log escaped, in the line's prefix and in
 * its message: a newline in a user or database name cannot start a
 * forged line (here "FORGED-..." at the start of a line).
 */
static void
test_client_strings_escaped_in_log(void **state)
{
	PGconn *conn;

	(void)state;
	/* a user PostgreSQL does not know: pooled, then refused by it */
	conn = connect_params("postgres", "evil\nFORGED-USER\\x0a",
	    "app\r\nFORGED-APP");
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	PQfinish(conn);
	/* an unknown database: refused by pgweir */
	conn = connect_params("no\nFORGED-DB", "postgres", "x");
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	PQfinish(conn);
	assert_true(it_wait_log(&env, "no such database: no\\x0aFORGED-DB",
	    5000));
	/* the user name in the prefix, and in the server's error text */
	assert_true(it_log_contains(&env, "/evil\\x0aFORGED-USER\\x5cx0a@"));
	assert_true(it_log_contains(&env, "role \"evil\\x0aFORGED-USER"));
	assert_false(it_log_contains(&env, "\nFORGED-"));
	assert_false(it_log_contains(&env, "\rFORGED-"));
	assert_others_work();
}

/* Unknown database and unsupported startup parameters are refused. */
static void
test_refused_logins(void **state)
{
	PGconn *conn;

	(void)state;
	conn = it_connect(&env, "nope", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	/* "*" is not configured here: no fallback */
	assert_non_null(strstr(PQerrorMessage(conn), "no such database: "
	    "nope"));
	PQfinish(conn);

	conn = it_connect(&env, "postgres", "postgres",
	    "options='-c work_mem=1MB'");
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "unsupported startup "
	    "parameter in options: work_mem"));
	PQfinish(conn);

	/* listed in ignore_startup_parameters: accepted and dropped */
	conn = it_connect(&env, "postgres", "postgres",
	    "options='-c extra_float_digits=2'");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);

	/* a tracked parameter set at startup is applied on the server */
	conn = it_connect(&env, "postgres", "postgres",
	    "options='-c TimeZone=Asia/Tokyo'");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	{
		char *tz = it_query_text(conn, "show timezone");
		assert_string_equal(tz, "Asia/Tokyo");
		free(tz);
	}
	PQfinish(conn);
}

/* GSSENCRequest is answered 'N'; the client then logs in in plaintext. */
static void
test_gssenc_request(void **state)
{
	uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	char out[16];
	int fd = it_raw_connect(&env);
	ssize_t n;

	(void)state;
	assert_int_equal(write(fd, req, 8), 8);
	n = read(fd, out, sizeof(out));
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 'N');
	close(fd);
}

/* A 3.5 client with a _pq_ option is told "3.0, not that option". */
static void
test_negotiate_protocol_version(void **state)
{
	static const char params[] = "user\0postgres\0database\0postgres\0"
	    "_pq_.frob\0on\0";
	uint8_t pkt[128], in[4096];
	size_t len = 8 + sizeof(params), got = 0;
	int fd = it_raw_connect(&env);

	(void)state;
	pkt[0] = 0;
	pkt[1] = 0;
	pkt[2] = 0;
	pkt[3] = (uint8_t)len;
	pkt[4] = 0;
	pkt[5] = 3;
	pkt[6] = 0;
	pkt[7] = 5;
	memcpy(pkt + 8, params, sizeof(params));
	assert_int_equal(write(fd, pkt, len), (ssize_t)len);
	while (got < 9) {
		ssize_t n = read(fd, in + got, sizeof(in) - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(in[0], 'v');
	/* newest minor 0, one option not recognised: _pq_.frob */
	assert_int_equal(in[8], 0);
	assert_int_equal(in[12], 1);
	assert_string_equal((char *)in + 13, "_pq_.frob");
	close(fd);
}

/* A cancel request reaches the backend running the client's query. */
static void
test_cancel_running_query(void **state)
{
	PGconn *conn = it_connect(&env, "postgres", "postgres", NULL);
	PGcancel *cancel;
	PGresult *res;
	char err[256];

	(void)state;
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(PQsendQuery(conn, "select pg_sleep(30)"), 1);
	it_sleep_ms(300);
	cancel = PQgetCancel(conn);
	assert_int_equal(PQcancel(cancel, err, sizeof(err)), 1);
	PQfreeCancel(cancel);
	res = PQgetResult(conn);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    "57014");
	PQclear(res);
	while ((res = PQgetResult(conn)) != NULL)
		PQclear(res);
	/* the connection goes on */
	assert_int_equal(it_query_int(conn, "select 3"), 3);
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_startup_packets),
		cmocka_unit_test(test_bad_message_after_login),
		cmocka_unit_test(test_max_packet_size),
		cmocka_unit_test(test_backend_down),
		cmocka_unit_test(test_refused_logins),
		cmocka_unit_test(test_client_strings_escaped_in_log),
		cmocka_unit_test(test_gssenc_request),
		cmocka_unit_test(test_negotiate_protocol_version),
		cmocka_unit_test(test_cancel_running_query),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
