/* SPDX-License-Identifier: ISC */
/*
 * Limits in session mode: a pool of one server makes the next client wait
 * (and get the server when the first leaves), and max_client_conn refuses
 * the client beyond it with an error naming the limit.  Sockets that
 * connect and send a byte or nothing neither fill max_client_conn nor
 * outlive client_startup_timeout, and past max_login_clients new ones are
 * refused at once while logged-in clients go on.
 */
#include "config.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	return it_pgweir_start(&env, "pool_mode = session\n"
	    "default_pool_size = 1\nmax_client_conn = 3\n", NULL);
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

/* Monotonic milliseconds. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	start = now_ms();
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
	assert_true(now_ms() - start < 4000);
	for (int i = 0; i < SILENT; i++) {
		const char *got = read_until_closed(silent[i], 15000);
		assert_non_null(got);
		assert_non_null(strstr(got, "client_startup_timeout"));
		close(silent[i]);
	}
	assert_true(now_ms() - start < 20000);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_limit_waits),
		cmocka_unit_test(test_max_client_conn),
		cmocka_unit_test(test_silent_sockets),
		cmocka_unit_test(test_max_login_clients),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
