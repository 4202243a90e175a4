/* SPDX-License-Identifier: ISC */
/*
 * What an unauthenticated client can do to pgweir, tried as an attacker
 * would, with raw protocol clients where libpq would refuse to send the
 * bytes: a stream of made-up user names must cost no memory and leave no
 * trace in SHOW USERS or /metrics; pools nobody uses are freed; an empty
 * secret never logs in; console rights and the kind of password challenge
 * do not tell who exists; user names that are not UTF-8 never reach
 * auth_query.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "pgweir/pgmd5.h"
#include "pgweir/scram.h"

static struct it_env env;
static char bob_scram[512];	/* bob's SCRAM secret as PostgreSQL keeps it */

static int
setup(void **state)
{
	PGconn *conn;
	char *v;

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	if (it_pg_exec(&env, "set password_encryption = 'scram-sha-256';"
	    "create role alice login password 'alice-pw';"
	    "create role bob login password 'bob-pw';"
	    "create role eve login;"
	    "create role pgweir_auth login;"
	    "create function public.get_auth(p_usename text) returns "
	    "table(username text, password text) language sql security "
	    "definer as $$ select rolname::text, rolpassword from pg_authid "
	    "where rolname = p_usename $$;"
	    "grant execute on function public.get_auth(text) to "
	    "pgweir_auth;") < 0)
		return -1;
	conn = it_connect_pg(&env, "postgres");
	v = it_query_text(conn, "select rolpassword from pg_authid where "
	    "rolname = 'bob'");
	PQfinish(conn);
	if (v == NULL)
		return -1;
	snprintf(bob_scram, sizeof(bob_scram), "%s", v);
	free(v);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* Restart pgweir with these [pgweir] settings and the default databases. */
static void
restart(const char *settings)
{
	if (env.pid > 0)
		assert_int_equal(it_pgweir_stop(&env), 0);
	assert_int_equal(it_pgweir_start(&env, settings, NULL), 0);
}

/* A raw connection to pgweir's unix socket (no TIME_WAIT to run out of). */
static int
raw_unix(void)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d",
	    env.dir, env.port);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		char out[4096];
		print_error("connect to pgweir's unix socket: %s (pgweir %s)\n",
		    strerror(errno), it_pgweir_alive(&env) ? "running" :
		    "gone");
		if (it_sh(&env, out, sizeof(out), "tail -n 15 '%s'",
		    env.log) == 0)
			print_error("%s", out);
		fail();
	}
	return fd;
}

/* Read exactly n bytes, waiting at most 20 s; -1 on EOF or time-out. */
static int
read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 20000) <= 0)
			return -1;
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* One message: its type, and its body into buf (cut at cap). */
static int
read_msg(int fd, char *type, char *buf, size_t cap, size_t *len)
{
	char hdr[5], skip[256];
	uint32_t n;

	if (read_full(fd, hdr, 5) < 0)
		return -1;
	memcpy(&n, hdr + 1, 4);
	n = ntohl(n) - 4;
	*type = hdr[0];
	*len = n < cap ? n : cap;
	if (read_full(fd, buf, *len) < 0)
		return -1;
	for (size_t left = n - *len; left > 0; ) {
		size_t k = left < sizeof(skip) ? left : sizeof(skip);
		if (read_full(fd, skip, k) < 0)
			return -1;
		left -= k;
	}
	return 0;
}

/* The message field 'M' of an ErrorResponse body. */
static const char *
error_message(const char *body, size_t len)
{
	for (size_t i = 0; i < len && body[i]; i += strlen(body + i) + 1)
		if (body[i] == 'M')
			return body + i + 1;
	return "";
}

/*
 * The first answer to a startup packet: "R<code>" for an authentication
 * request, or "E:<message>" for an error.
 */
static const char *
first_answer(const char *db, const char *user)
{
	static char out[300];
	char type, body[512];
	size_t len;
	int fd = raw_unix();

	assert_int_equal(it_send_startup(fd, db, user), 0);
	assert_int_equal(read_msg(fd, &type, body, sizeof(body) - 1, &len),
	    0);
	body[len] = '\0';
	if (type == 'R') {
		uint32_t code;
		memcpy(&code, body, 4);
		snprintf(out, sizeof(out), "R%u", ntohl(code));
	} else {
		snprintf(out, sizeof(out), "%c:%s", type,
		    type == 'E' ? error_message(body, len) : "");
	}
	close(fd);
	return out;
}

/* Send a PasswordMessage-type message. */
static void
send_password(int fd, const void *data, size_t n)
{
	char hdr[5];
	uint32_t len = htonl((uint32_t)(n + 4));

	hdr[0] = 'p';
	memcpy(hdr + 1, &len, 4);
	assert_int_equal(write(fd, hdr, 5), 5);
	if (n > 0)
		assert_int_equal(write(fd, data, n), (ssize_t)n);
}

/* Answer a SCRAM request with this password; false if refused. */
static bool
scram_exchange(int fd, const char *password)
{
	struct scram_client sc;
	char out[1024], body[1024], type, err[200];
	size_t outn, len;
	uint32_t code, n;
	char msg[1100];
	size_t o;
	bool ok = false;

	assert_int_equal(scram_client_init_password(&sc, password, false,
	    NULL, 0), 0);
	assert_int_equal(scram_client_first(&sc, out, sizeof(out), &outn), 0);
	o = (size_t)sprintf(msg, "SCRAM-SHA-256") + 1;
	n = htonl((uint32_t)outn);
	memcpy(msg + o, &n, 4);
	memcpy(msg + o + 4, out, outn);
	send_password(fd, msg, o + 4 + outn);
	if (read_msg(fd, &type, body, sizeof(body), &len) < 0 || type != 'R')
		goto done;
	memcpy(&code, body, 4);
	if (ntohl(code) != 11 || scram_client_server_first(&sc, body + 4,
	    len - 4, out, sizeof(out), &outn, err, sizeof(err)) < 0)
		goto done;
	send_password(fd, out, outn);
	if (read_msg(fd, &type, body, sizeof(body), &len) < 0 || type != 'R')
		goto done;
	memcpy(&code, body, 4);
	if (ntohl(code) != 12)
		goto done;
	if (read_msg(fd, &type, body, sizeof(body), &len) < 0 || type != 'R')
		goto done;
	memcpy(&code, body, 4);
	ok = ntohl(code) == 0;
done:
	scram_client_wipe(&sc);
	return ok;
}

/*
 * Log in with a raw client that sends whatever password it is given, the
 * empty one included (libpq will not): true on AuthenticationOk.
 */
static bool
raw_password_login(const char *db, const char *user, const char *password)
{
	char type, body[512], md5[PGMD5_LEN], answer[PGMD5_LEN];
	size_t len;
	uint32_t code;
	bool ok = false;
	int fd = raw_unix();

	assert_int_equal(it_send_startup(fd, db, user), 0);
	if (read_msg(fd, &type, body, sizeof(body), &len) < 0 || type != 'R')
		goto done;
	memcpy(&code, body, 4);
	switch (ntohl(code)) {
	case 0:
		ok = true;
		break;
	case 3:
		send_password(fd, password, strlen(password) + 1);
		break;
	case 5:
		assert_int_equal(pgmd5_hash(password, user, md5), 0);
		assert_int_equal(pgmd5_salted(md5, (uint8_t *)body + 4,
		    answer), 0);
		send_password(fd, answer, strlen(answer) + 1);
		break;
	case 10:
		ok = scram_exchange(fd, password);
		goto done;
	default:
		goto done;
	}
	if (!ok && read_msg(fd, &type, body, sizeof(body), &len) == 0 &&
	    type == 'R') {
		memcpy(&code, body, 4);
		ok = ntohl(code) == 0;
	}
done:
	close(fd);
	return ok;
}

/* Rows of a console command whose first column is name, or -1. */
static int
console_rows_named(const char *cmd, const char *name)
{
	PGconn *conn = it_connect_unix(&env, "pgweir", "admin",
	    "password=admin-pw");
	PGresult *res;
	int n = 0;

	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	res = PQexec(conn, cmd);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	for (int i = 0; i < PQntuples(res); i++)
		for (int c = 0; c < PQnfields(res); c++)
			if (strcmp(PQgetvalue(res, i, c), name) == 0) {
				n++;
				break;
			}
	PQclear(res);
	PQfinish(conn);
	return n;
}

/* GET /metrics on 127.0.0.1:port; the body's length, or -1. */
static long
http_get_metrics(int port, char *buf, size_t cap)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct sockaddr_in sin;
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (got + 1 >= cap || poll(&p, 1, 20000) <= 0)
			break;
		r = read(fd, buf + got, cap - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return (long)got;
}

/* Logins that close after the first reply, each with a new user name. */
static void
stream_bogus_users(int from, int count)
{
	char user[64], type, body[256];
	size_t len;

	for (int i = from; i < from + count; i++) {
		int fd = raw_unix();
		snprintf(user, sizeof(user), "nobody_%08d", i);
		assert_int_equal(it_send_startup(fd,
		    i % 2 ? "postgres" : "autodb_nope", user), 0);
		assert_int_equal(read_msg(fd, &type, body, sizeof(body),
		    &len), 0);
		assert_int_equal(type, 'R');
		close(fd);
	}
}

/*
 * 20,000 made-up user names, on a configured database and on one the "*"
 * entry would make: pgweir's memory stays where it was, and neither SHOW
 * USERS, SHOW POOLS, SHOW DATABASES nor /metrics learns any of the names.
 */
static void
test_bogus_user_names_cost_nothing(void **state)
{
	char settings[1024];
	static char page[1 << 20];
	int metrics_port = it_free_port();
	long before, after;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "auth_file = %s\nadmin_users = admin\n"
	    "metrics_port = %d\nmetrics_listen_addr = 127.0.0.1\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"
	    "\"admin\" \"admin-pw\"\n"), metrics_port);
	restart(settings);
	assert_true(raw_password_login("postgres", "alice", "alice-pw"));
	/* warm up: buffers, caches and the allocator reach their size */
	stream_bogus_users(0, 2000);
	sleep(1);
	before = it_pgweir_rss_kb(&env);
	stream_bogus_users(2000, 20000);
	sleep(1);
	after = it_pgweir_rss_kb(&env);
	print_message("pgweir RSS: %ld kB before, %ld kB after 20,000 made-up "
	    "user names\n", before, after);
	/* within a few percent (and a little slack for a small process) */
	assert_true(after <= before + before / 20 + 512);
	assert_int_equal(console_rows_named("show users", "nobody_00002001"),
	    0);
	assert_int_equal(console_rows_named("show pools", "nobody_00002001"),
	    0);
	assert_int_equal(console_rows_named("show databases", "autodb_nope"),
	    0);
	assert_true(http_get_metrics(metrics_port, page, sizeof(page)) > 0);
	assert_non_null(strstr(page, "pgweir_"));
	assert_null(strstr(page, "nobody_"));
	assert_null(strstr(page, "autodb_nope"));
	/* the real user still logs in */
	assert_true(raw_password_login("postgres", "alice", "alice-pw"));
}

/*
 * autodb_idle_timeout and pool_idle_timeout: a pool nobody has used for
 * that long is freed with its user and its "*" database; its counters
 * stay in the totals.
 */
static void
test_unused_pools_are_freed(void **state)
{
	char settings[512];
	PGconn *conn, *admin;
	long long xacts;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "auth_file = %s\nadmin_users = admin\nautodb_idle_timeout = 1\n"
	    "pool_idle_timeout = 1\nserver_idle_timeout = 1\n"
	    "stats_period = 1\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"
	    "\"admin\" \"admin-pw\"\n"));
	restart(settings);
	/* one pool on a [databases] entry, one on a database "*" made */
	conn = it_connect_unix(&env, "postgres", "alice",
	    "password=alice-pw");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(it_query_int(conn, "select 1"), 1);
	PQfinish(conn);
	conn = it_connect_unix(&env, "template1", "alice",
	    "password=alice-pw");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(it_query_int(conn, "select 1"), 1);
	assert_int_equal(console_rows_named("show pools", "template1"), 1);
	assert_int_equal(console_rows_named("show pools", "alice"), 2);
	assert_int_equal(console_rows_named("show users", "alice"), 1);
	PQfinish(conn);
	/* gone within the timeout and a few janitor ticks */
	for (int i = 0; i < 50 &&
	    (console_rows_named("show databases", "template1") > 0 ||
	    console_rows_named("show users", "alice") > 0); i++)
		usleep(200 * 1000);
	assert_int_equal(console_rows_named("show databases", "template1"), 0);
	assert_int_equal(console_rows_named("show pools", "alice"), 0);
	assert_int_equal(console_rows_named("show users", "alice"), 0);
	/* the totals did not go back */
	admin = it_connect_unix(&env, "pgweir", "admin", "password=admin-pw");
	assert_int_equal(PQstatus(admin), CONNECTION_OK);
	{
		PGresult *res = PQexec(admin, "show totals");
		xacts = -1;
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		for (int i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 0),
			    "total_xact_count") == 0)
				xacts = atoll(PQgetvalue(res, i, 1));
		PQclear(res);
	}
	PQfinish(admin);
	assert_true(xacts >= 10);
	/* and the user logs in again as before */
	assert_true(raw_password_login("template1", "alice", "alice-pw"));
}

/* An empty secret in auth_file logs in by no method, with no password. */
static void
test_empty_secret_never_logs_in(void **state)
{
	static const char *const methods[] = { "plain", "md5",
		"scram-sha-256" };
	char settings[512];

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(settings, sizeof(settings), "auth_type = %s\n"
		    "auth_file = %s\n", methods[i],
		    it_write_userlist(&env,
		    "\"eve\" \"\"\n\"alice\" \"alice-pw\"\n"));
		restart(settings);
		print_message("auth_type = %s\n", methods[i]);
		assert_false(raw_password_login("postgres", "eve", ""));
		assert_false(raw_password_login("postgres", "eve", "x"));
		/* an empty password for a user with one is refused too */
		assert_false(raw_password_login("postgres", "alice", ""));
		assert_true(raw_password_login("postgres", "alice",
		    "alice-pw"));
	}
}

/*
 * The console: a user in neither admin_users nor stats_users is asked
 * for a password like everybody else, and refused only once it has
 * proven who it is; an unknown user is asked the same.
 */
static void
test_console_rights_hidden_before_login(void **state)
{
	char settings[512];
	PGconn *conn;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "auth_file = %s\nadmin_users = admin\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"
	    "\"admin\" \"admin-pw\"\n"));
	restart(settings);
	assert_string_equal(first_answer("pgweir", "admin"), "R5");
	assert_string_equal(first_answer("pgweir", "alice"), "R5");
	assert_string_equal(first_answer("pgweir", "mallory"), "R5");
	/* a wrong password: the same failure for all three */
	assert_false(raw_password_login("pgweir", "alice", "nope"));
	/* alice's right password: now she learns she may not */
	conn = it_connect_unix(&env, "pgweir", "alice", "password=alice-pw");
	assert_int_not_equal(PQstatus(conn), CONNECTION_OK);
	assert_non_null(strstr(PQerrorMessage(conn), "not allowed to connect "
	    "to the admin console"));
	PQfinish(conn);
	conn = it_connect_unix(&env, "pgweir", "admin", "password=admin-pw");
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);
}

/*
 * auth_type = md5: a user with a SCRAM secret must be asked for SCRAM;
 * an unknown user is asked the way most users are, so the challenge does
 * not tell who exists.
 */
static void
test_md5_challenge_does_not_reveal_users(void **state)
{
	char settings[2048], userlist[1536];

	(void)state;
	snprintf(userlist, sizeof(userlist), "\"bob\" \"%s\"\n"
	    "\"carol\" \"%s\"\n\"alice\" \"alice-pw\"\n", bob_scram,
	    bob_scram);
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "auth_file = %s\n", it_write_userlist(&env, userlist));
	restart(settings);
	assert_string_equal(first_answer("postgres", "bob"), "R10");
	assert_string_equal(first_answer("postgres", "mallory"), "R10");
	assert_true(raw_password_login("postgres", "bob", "bob-pw"));
	assert_false(raw_password_login("postgres", "mallory", "bob-pw"));
	/* mostly MD5-capable secrets: unknown users get MD5 like them */
	snprintf(userlist, sizeof(userlist), "\"bob\" \"%s\"\n"
	    "\"alice\" \"alice-pw\"\n\"dave\" \"dave-pw\"\n", bob_scram);
	it_write_userlist(&env, userlist);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	usleep(500 * 1000);
	assert_string_equal(first_answer("postgres", "alice"), "R5");
	assert_string_equal(first_answer("postgres", "mallory"), "R5");
}

/*
 * auth_query: a user name that is not UTF-8 is answered like an unknown
 * user, and PostgreSQL never sees the lookup.
 */
static void
test_auth_query_refuses_invalid_utf8(void **state)
{
	char settings[1024], valid[64], invalid[64];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_user = pgweir_auth\n"
	    "auth_query = select username, password from "
	    "public.get_auth($1)\n");
	restart(settings);
	snprintf(valid, sizeof(valid), "nobody_valid");
	snprintf(invalid, sizeof(invalid), "nobody_\xc3\x28");
	assert_string_equal(first_answer("postgres", valid), "R10");
	assert_string_equal(first_answer("postgres", invalid), "R10");
	assert_false(raw_password_login("postgres", invalid, "x"));
	/* PostgreSQL was never asked: no failed lookup, no warning */
	assert_false(it_log_contains(&env, "auth_query failed"));
	/* a real user still logs in through auth_query */
	assert_true(raw_password_login("postgres", "bob", "bob-pw"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bogus_user_names_cost_nothing),
		cmocka_unit_test(test_unused_pools_are_freed),
		cmocka_unit_test(test_empty_secret_never_logs_in),
		cmocka_unit_test(test_console_rights_hidden_before_login),
		cmocka_unit_test(test_md5_challenge_does_not_reveal_users),
		cmocka_unit_test(test_auth_query_refuses_invalid_utf8),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
