/* SPDX-License-Identifier: ISC */
/*
 * The daemon's life: a bad config at start, reloads (good, bad, and naming
 * files pgweir must refuse to read), SIGTERM and SIGINT waiting for their
 * conditions, and the systemd notify protocol, checked by playing
 * systemd's part on a NOTIFY_SOCKET.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include <sys/stat.h>
#include <sys/un.h>
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
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* A misspelt key at start-up: exit 1 naming file, line and key. */
static void
test_bad_config_at_start(void **state)
{
	char out[2048], expect[512];
	FILE *fp = fopen(env.ini, "w");

	(void)state;
	fprintf(fp, "[pgweir]\nlisten_port = %d\nunix_socket_dir = %s\n"
	    "pool_mod = session\n", env.port, env.dir);
	fclose(fp);
	chmod(env.ini, 0644);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s %s %s",
	    getenv("PGWEIR_BIN"), getuid() == 0 ? "-u postgres" : "",
	    env.ini), 1);
	snprintf(expect, sizeof(expect), "%s:4: pool_mod: unknown key; did "
	    "you mean \"pool_mode\"?", env.ini);
	assert_non_null(strstr(out, expect));
}

/*
 * --check-config loads the file and every file it names, prints each
 * problem and exits 1, or says the configuration is valid and exits 0;
 * nothing starts.  The shipped example config is valid.
 */
static void
test_check_config(void **state)
{
	char out[2048], expect[512];
	FILE *fp = fopen(env.ini, "w");

	(void)state;
	fprintf(fp, "[databases]\nx = host=a\n[pgweir]\nlisten_port = %d\n"
	    "auth_type = hba\nauth_hba_file = %s/missing.conf\n", env.port,
	    env.dir);
	fclose(fp);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s --check-config %s",
	    getenv("PGWEIR_BIN"), env.ini), 1);
	snprintf(expect, sizeof(expect), "auth_hba_file: %s/missing.conf: "
	    "could not open", env.dir);
	assert_non_null(strstr(out, expect));
	assert_false(it_pgweir_alive(&env));

	fp = fopen(env.ini, "w");
	fprintf(fp, "[pgweir]\nlisten_port = 0\n");
	fclose(fp);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s --check-config %s",
	    getenv("PGWEIR_BIN"), env.ini), 1);
	assert_non_null(strstr(out, ":2: listen_port:"));

	assert_int_equal(it_sh(&env, out, sizeof(out), "%s --check-config "
	    "%s/etc/pgweir.ini", getenv("PGWEIR_BIN"), getenv("PGWEIR_SRCDIR")),
	    0);
	assert_non_null(strstr(out, "the configuration is valid"));
}

/* A reload with a bad file keeps the old config; a good one applies. */
static void
test_reload(void **state)
{
	char dbs[1024], extra[1024];
	PGconn *conn;
	FILE *fp;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n",
	    NULL), 0);
	/* a broken file: the old config goes on */
	fp = fopen(env.ini, "a");
	fprintf(fp, "max_client_conn = lots\n");
	fclose(fp);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "max_client_conn: invalid integer "
	    "\"lots\"", 5000));
	assert_true(it_log_contains(&env, "reload failed, keeping the running "
	    "configuration"));
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);

	/* a good file with a new database: it works after the reload */
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n"
	    "alias = host=%s port=%d dbname=postgres\n", env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port);
	snprintf(extra, sizeof(extra), "pool_mode = transaction\n");
	assert_int_equal(it_write_config(&env, extra, dbs), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "configuration reloaded", 5000));
	conn = it_connect(&env, "alias", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	assert_int_equal(it_query_int(conn, "select 5"), 5);
	PQfinish(conn);
	assert_int_equal(it_pgweir_stop(&env), 0);
}

/* Whether a fresh client of user gets in, and pgweir is still alive. */
static bool
serves(const char *user)
{
	PGconn *conn = it_connect(&env, "postgres", user, NULL);
	bool ok = PQstatus(conn) == CONNECTION_OK &&
	    it_query_int(conn, "select 7") == 7;

	PQfinish(conn);
	return ok && it_pgweir_alive(&env);
}

/*
 * Reloads naming files pgweir must not read (a device that never ends, a
 * directory) fail at once, naming the file, and keep the running config:
 * the auth_file still in force, clients still served.
 */
static void
test_reload_unreadable_files(void **state)
{
	char users[512], settings[1024];
	PGconn *conn;
	FILE *fp;

	(void)state;
	snprintf(users, sizeof(users), "%s/users.txt", env.dir);
	fp = fopen(users, "w");
	fprintf(fp, "\"postgres\" \"\"\n");
	fclose(fp);
	snprintf(settings, sizeof(settings), "auth_file = %s\n", users);
	assert_int_equal(it_pgweir_start(&env, settings, NULL), 0);
	assert_true(serves("postgres"));

	/* %include of an endless device */
	fp = fopen(env.ini, "a");
	fprintf(fp, "%%include /dev/zero\n");
	fclose(fp);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "%include /dev/zero: not a regular "
	    "file", 5000));
	assert_true(it_log_contains(&env, "reload failed, keeping the running "
	    "configuration"));
	assert_true(serves("postgres"));

	/* %include of a directory is an error, not an empty file */
	assert_int_equal(it_write_config(&env, settings, NULL), 0);
	fp = fopen(env.ini, "a");
	fprintf(fp, "max_client_conn = 7\n%%include %s\n", env.dir);
	fclose(fp);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "is a directory, not a regular file",
	    5000));
	assert_true(serves("postgres"));

	/* auth_file = /dev/zero: the old auth_file stays in force */
	assert_int_equal(it_write_config(&env, "auth_file = /dev/zero\n",
	    NULL), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "auth_file: /dev/zero: not a regular "
	    "file", 5000));
	assert_true(serves("postgres"));
	conn = it_connect(&env, "postgres", "mallory", NULL);
	assert_non_null(strstr(PQerrorMessage(conn), "\"trust\" "
	    "authentication failed"));
	PQfinish(conn);

	/* auth_hba_file = /dev/zero as well */
	assert_int_equal(it_write_config(&env, "auth_type = hba\n"
	    "auth_hba_file = /dev/zero\n", NULL), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "auth_hba_file: /dev/zero: not a "
	    "regular file", 5000));
	assert_true(serves("postgres"));
	assert_int_equal(it_pgweir_stop(&env), 0);
}

/* SIGTERM: no new clients, exit when the last one has left. */
static void
test_sigterm_waits_for_clients(void **state)
{
	PGconn *held, *late;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = transaction\n",
	    NULL), 0);
	held = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(held), CONNECTION_OK);
	assert_int_equal(it_pgweir_signal(&env, SIGTERM), 0);
	assert_true(it_wait_log(&env, "shutting down", 5000));
	it_sleep_ms(300);
	assert_true(it_pgweir_alive(&env));
	late = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(late), CONNECTION_BAD);
	PQfinish(late);
	/* the held client goes on working */
	assert_int_equal(it_query_int(held, "select 11"), 11);
	PQfinish(held);
	assert_int_equal(it_pgweir_wait(&env, 5000), 0);
}

/*
 * SIGINT in session mode: a session keeps its server, and works, until it
 * leaves (PgBouncer's meaning); new clients are refused; exit after.
 */
static void
test_sigint_waits_for_servers(void **state)
{
	PGconn *held, *late;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = session\n", NULL),
	    0);
	held = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(it_query_int(held, "select 1"), 1);
	assert_int_equal(it_pgweir_signal(&env, SIGINT), 0);
	assert_true(it_wait_log(&env, "shutting down", 5000));
	it_sleep_ms(300);
	assert_true(it_pgweir_alive(&env));
	assert_int_equal(it_query_int(held, "select 2"), 2);
	late = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(late), CONNECTION_BAD);
	PQfinish(late);
	PQfinish(held);
	assert_int_equal(it_pgweir_wait(&env, 5000), 0);
}

/* Read what pgweir sends a raw client until it closes: the FATAL's text. */
static void
expect_drained(int fd, const char *why)
{
	char types[16], err[256];

	assert_int_equal(it_raw_until_ready(fd, types, sizeof(types), err,
	    sizeof(err), NULL, 0), -1);
	if (strcmp(types, "E") != 0 || strstr(err, why) == NULL)
		fail_msg("expected one FATAL about \"%s\", got \"%s\": %s",
		    why, types, err);
	close(fd);
}

/*
 * A drain in transaction mode (SIGINT): /ready turns 503, an idle client
 * is closed at once with FATAL 57P01, a client inside a transaction
 * finishes it (its COMMIT answered) and is closed at its end, and pgweir
 * exits 0.
 */
static void
test_sigint_drains(void **state)
{
	static const char begin[] = "begin", ins[] = "select 42",
			  commit[] = "commit";
	int port = it_free_port(), idle, intx;
	char settings[256], out[64], types[16], err[256], val[16];

	(void)state;
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "metrics_port = %d\nmetrics_listen_addr = 127.0.0.1\n", port);
	assert_int_equal(it_pgweir_start(&env, settings, NULL), 0);
	idle = it_raw_login(&env, "postgres", "postgres");
	intx = it_raw_login(&env, "postgres", "postgres");
	assert_true(idle >= 0 && intx >= 0);
	it_raw_send(intx, 'Q', begin, sizeof(begin));
	assert_int_equal(it_raw_until_ready(intx, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGINT), 0);
	assert_true(it_wait_log(&env, "draining", 5000));
	expect_drained(idle, "pgweir is shutting down");
	assert_int_equal(it_sh(&env, out, sizeof(out), "curl -s -o /dev/null "
	    "-w '%%{http_code}' http://127.0.0.1:%d/ready", port), 0);
	assert_string_equal(out, "503");
	/* the transaction goes on, and its end is answered */
	it_raw_send(intx, 'Q', ins, sizeof(ins));
	assert_int_equal(it_raw_until_ready(intx, types, sizeof(types), err,
	    sizeof(err), val, sizeof(val)), 0);
	assert_string_equal(val, "42");
	assert_true(it_pgweir_alive(&env));
	it_raw_send(intx, 'Q', commit, sizeof(commit));
	assert_int_equal(it_raw_until_ready(intx, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	assert_string_equal(types, "CZ");
	/* then it is closed, and nothing holds pgweir any more */
	expect_drained(intx, "terminating connection due to administrator "
	    "command");
	assert_int_equal(it_pgweir_wait(&env, 5000), 0);
}

/*
 * shutdown_drain_timeout bounds a drain: a session that does not leave is
 * closed with 57P01 when it runs out; with drain_on_sigterm, SIGTERM
 * drains as SIGINT does.
 */
static void
test_drain_timeout_and_sigterm(void **state)
{
	static const char one[] = "select 1";
	char types[16], err[256];
	int held;
	long long t0;

	(void)state;
	assert_int_equal(it_pgweir_start(&env, "pool_mode = session\n"
	    "shutdown_drain_timeout = 1\ndrain_on_sigterm = 1\n", NULL), 0);
	held = it_raw_login(&env, "postgres", "postgres");
	assert_true(held >= 0);
	/* a query: the session has its server from now on */
	it_raw_send(held, 'Q', one, sizeof(one));
	assert_int_equal(it_raw_until_ready(held, types, sizeof(types), err,
	    sizeof(err), NULL, 0), 0);
	t0 = it_now_ms();
	assert_int_equal(it_pgweir_signal(&env, SIGTERM), 0);
	assert_true(it_wait_log(&env, "draining", 5000));
	expect_drained(held, "pgweir is shutting down");
	/* not before the bound (the janitor's tick is 1 s at most late) */
	assert_true(it_now_ms() - t0 >= 900);
	assert_true(it_log_contains(&env, "shutdown_drain_timeout is over"));
	assert_int_equal(it_pgweir_wait(&env, 5000), 0);
}

/* Receive one notification datagram (or fail after 5 s). */
static void
notify_recv(int fd, char *buf, size_t len)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	assert_true(poll(&pfd, 1, 5000) > 0);
	n = recv(fd, buf, len - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
}

/* pgweir speaks the notify protocol to a socket playing systemd. */
static void
test_notify_socket(void **state)
{
	struct sockaddr_un sun;
	char path[300], buf[512];
	int fd;

	(void)state;
	assert_true(snprintf(path, sizeof(path), "%s/notify.sock", env.dir) <
	    (int)sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	chmod(path, 0777);
	assert_true(snprintf(env.extra_env, sizeof(env.extra_env),
	    "NOTIFY_SOCKET=%s", path) < (int)sizeof(env.extra_env));
	assert_int_equal(it_pgweir_start(&env, NULL, NULL), 0);
	env.extra_env[0] = '\0';

	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "READY=1"));
	notify_recv(fd, buf, sizeof(buf));
	assert_non_null(strstr(buf, "STATUS=clients: 0"));

	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	do
		notify_recv(fd, buf, sizeof(buf));
	while (strncmp(buf, "STATUS=", 7) == 0);
	assert_non_null(strstr(buf, "RELOADING=1"));
	assert_non_null(strstr(buf, "MONOTONIC_USEC="));
	do
		notify_recv(fd, buf, sizeof(buf));
	while (strncmp(buf, "STATUS=", 7) == 0);
	assert_string_equal(buf, "READY=1");

	assert_int_equal(it_pgweir_signal(&env, SIGTERM), 0);
	do
		notify_recv(fd, buf, sizeof(buf));
	while (strncmp(buf, "STATUS=", 7) == 0);
	assert_string_equal(buf, "STOPPING=1");
	assert_int_equal(it_pgweir_wait(&env, 5000), 0);
	close(fd);
}

/* The pid a pidfile holds, once it is written (2 s at most); 0 if not. */
static long
wait_pidfile(const char *path)
{
	long pid = 0;

	for (int i = 0; i < 100 && pid == 0; i++) {
		FILE *fp;
		it_sleep_ms(20);
		fp = fopen(path, "r");
		if (fp) {
			if (fscanf(fp, "%ld", &pid) != 1)
				pid = 0;
			fclose(fp);
		}
	}
	return pid;
}

/* -d: detaches, writes the pidfile, logs to the file, serves. */
static void
test_daemon_mode(void **state)
{
	char settings[1024], out[1024], pidpath[300], logpath[300];
	long pid = 0;
	PGconn *conn;

	(void)state;
	snprintf(pidpath, sizeof(pidpath), "%s/pgweir.pid", env.dir);
	snprintf(logpath, sizeof(logpath), "%s/daemon.log", env.dir);
	snprintf(settings, sizeof(settings), "pidfile = %s\nlogfile = %s\n",
	    pidpath, logpath);
	assert_int_equal(it_write_config(&env, settings, NULL), 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s -d %s %s",
	    getenv("PGWEIR_BIN"), getuid() == 0 ? "-u postgres" : "",
	    env.ini), 0);
	pid = wait_pidfile(pidpath);
	assert_true(pid > 0);
	for (int i = 0; i < 100; i++) {
		conn = it_connect(&env, "postgres", "postgres", NULL);
		if (PQstatus(conn) == CONNECTION_OK)
			break;
		PQfinish(conn);
		conn = NULL;
		it_sleep_ms(20);
	}
	assert_non_null(conn);
	assert_int_equal(it_query_int(conn, "select 9"), 9);
	PQfinish(conn);
	assert_int_equal(kill((pid_t)pid, SIGQUIT), 0);
	for (int i = 0; i < 250 && kill((pid_t)pid, 0) == 0; i++)
		it_sleep_ms(20);
	assert_int_not_equal(kill((pid_t)pid, 0), 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "grep -c 'login "
	    "attempt' %s", logpath), 0);
	assert_int_equal(access(pidpath, F_OK), -1);	/* removed at exit */
}

/* A free TCP port below 1024 on 127.0.0.1, or 0. */
static int
free_low_port(void)
{
	for (int port = 1023; port >= 900; port--) {
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		if (ok)
			return port;
	}
	return 0;
}

/*
 * The metrics port is opened with the listeners, before pgweir drops
 * root and goes to the background: started as root with -u, it can be
 * below 1024; and a port already in use fails the start, with exit 1
 * where the shell sees it, not only in the log.
 */
static void
test_metrics_port_opened_early(void **state)
{
	char settings[512], out[2048], pidpath[300], logpath[300];
	int busy, low;
	long pid = 0;

	(void)state;
	snprintf(pidpath, sizeof(pidpath), "%s/pgweir.pid", env.dir);
	snprintf(logpath, sizeof(logpath), "%s/daemon.log", env.dir);
	/* a port someone else holds */
	busy = it_free_port();
	{
		struct sockaddr_in sin;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)busy);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(listen(fd, 1), 0);
		snprintf(settings, sizeof(settings), "pidfile = %s\n"
		    "logfile = %s\nmetrics_port = %d\n", pidpath, logpath,
		    busy);
		assert_int_equal(it_write_config(&env, settings, NULL), 0);
		assert_int_equal(it_sh(&env, out, sizeof(out), "%s -d %s %s",
		    getenv("PGWEIR_BIN"), getuid() == 0 ? "-u postgres" : "",
		    env.ini), 1);
		assert_non_null(strstr(out, "could not listen for metrics"));
		close(fd);
	}
	if (getuid() != 0)
		return;		/* a low port needs root */
	low = free_low_port();
	assert_true(low > 0);
	snprintf(settings, sizeof(settings), "pidfile = %s\nlogfile = %s\n"
	    "metrics_port = %d\n", pidpath, logpath, low);
	assert_int_equal(it_write_config(&env, settings, NULL), 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s -d -u postgres %s",
	    getenv("PGWEIR_BIN"), env.ini), 0);
	pid = wait_pidfile(pidpath);
	assert_true(pid > 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "for i in $(seq 50); "
	    "do curl -sf http://127.0.0.1:%d/healthz && exit 0; sleep 0.1; "
	    "done; exit 1", low), 0);
	/* and it runs as postgres, not root */
	assert_int_equal(it_sh(&env, out, sizeof(out), "ps -o user= -p %ld",
	    pid), 0);
	assert_non_null(strstr(out, "postgres"));
	assert_int_equal(kill((pid_t)pid, SIGQUIT), 0);
	for (int i = 0; i < 250 && kill((pid_t)pid, 0) == 0; i++)
		it_sleep_ms(20);
	assert_int_not_equal(kill((pid_t)pid, 0), 0);
}

/* Run as root without -u: refused (only checkable when we are root). */
static void
test_refuses_root(void **state)
{
	char out[1024];

	(void)state;
	if (getuid() != 0)
		skip();
	assert_int_equal(it_write_config(&env, NULL, NULL), 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s %s",
	    getenv("PGWEIR_BIN"), env.ini), 1);
	assert_non_null(strstr(out, "should not run as root"));
}

/* trust with an auth_file: users not in the file are refused. */
static void
test_trust_with_auth_file(void **state)
{
	char settings[512], path[300];
	PGconn *conn;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/users.txt", env.dir);
	fp = fopen(path, "w");
	fprintf(fp, "\"postgres\" \"\"\n");
	fclose(fp);
	chmod(path, 0644);
	snprintf(settings, sizeof(settings), "auth_file = %s\n", path);
	assert_int_equal(it_pgweir_start(&env, settings, NULL), 0);
	conn = it_connect(&env, "postgres", "postgres", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);
	conn = it_connect(&env, "postgres", "mallory", NULL);
	assert_int_equal(PQstatus(conn), CONNECTION_BAD);
	assert_non_null(strstr(PQerrorMessage(conn), "\"trust\" "
	    "authentication failed"));
	PQfinish(conn);
	assert_int_equal(it_pgweir_stop(&env), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config_at_start),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_reload_unreadable_files),
		cmocka_unit_test(test_sigterm_waits_for_clients),
		cmocka_unit_test(test_sigint_waits_for_servers),
		cmocka_unit_test(test_sigint_drains),
		cmocka_unit_test(test_drain_timeout_and_sigterm),
		cmocka_unit_test(test_notify_socket),
		cmocka_unit_test(test_daemon_mode),
		cmocka_unit_test(test_refuses_root),
		cmocka_unit_test(test_metrics_port_opened_early),
		cmocka_unit_test(test_trust_with_auth_file),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
