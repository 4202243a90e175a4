/* SPDX-License-Identifier: ISC */
/*
 * Faults injected for real: PostgreSQL killed (SIGKILL) or restarted under
 * clients, backends terminated or frozen with SIGSTOP, clients that vanish
 * mid-query, mid-COPY, mid-TLS-handshake or mid-authentication, a client
 * stalled in the middle of a message, a client that does not read a large
 * result, and pgweir out of file descriptors.  Each test asserts what the
 * clients see, then that everything settles (assert_steady): the admin
 * console and pg_stat_activity agree on the server connections, none is
 * busy or in a transaction, pgweir holds no socket beyond its clients and
 * servers, and it still answers queries.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

/* pgweir's line for a client gone with a message half sent */
#define MID_MESSAGE "client left in the middle of a message"
static const char *login_extra;	/* conninfo additions: a password */
static pid_t frozen;		/* a backend we stopped, continued on exit */
static int base_fds;		/* pgweir's descriptors besides connections */

static void thaw(void);
static void restart(const char *settings);

static int
setup(void **state)
{
	(void)state;
	if (it_env_init_pgbench(&env) < 0)
		return -1;
	if (it_pg_exec(&env, "create table fault_t (tag text)") < 0)
		return -1;
	/* synchronous_commit is off: make it survive the SIGKILL test */
	return it_pg_exec(&env, "checkpoint");
}

static int
teardown(void **state)
{
	(void)state;
	thaw();
	return it_env_fini(&env);
}

/* ---- small helpers ---- */

/* Continue the backend a test stopped (also after a failed assertion). */
static void
thaw(void)
{
	if (frozen > 0)
		kill(frozen, SIGCONT);
	frozen = 0;
}

/* A connection through pgweir (to db) that must log in. */
static PGconn *
connect_to(const char *db)
{
	PGconn *conn = it_connect(&env, db, "postgres", login_extra);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("login to %s: %s", db, PQerrorMessage(conn));
	return conn;
}

/* A client of the postgres database. */
static PGconn *
connect_ok(void)
{
	return connect_to("postgres");
}

/* The admin console. */
static PGconn *
console(void)
{
	return connect_to("pgweir");
}

/* Whether a process has exited (gone, or a zombie nobody reaped yet). */
static bool
proc_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return true;
	if (fgets(buf, sizeof(buf), fp) != NULL &&
	    (p = strrchr(buf, ')')) != NULL)
		gone = p[1] == ' ' && p[2] == 'Z';
	fclose(fp);
	return gone;
}

/* Wait up to 10 s for a process to exit. */
static void
assert_gone(pid_t pid)
{
	for (int i = 0; i < 200 && !proc_gone(pid); i++)
		it_sleep_ms(50);
	if (!proc_gone(pid))
		fail_msg("process %d did not exit", (int)pid);
}

/*
 * Wait up to 10 s for a process to be reaped, not just to exit: while an
 * orphaned postmaster is a zombie (init reaps it within about a second
 * here), its pid is alive and a new postmaster refuses to start.
 */
static void
assert_reaped(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	for (int i = 0; i < 200 && access(path, F_OK) == 0; i++)
		it_sleep_ms(50);
	if (access(path, F_OK) == 0)
		fail_msg("process %d was not reaped", (int)pid);
}

/* Open descriptors of a process. */
static int
count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A process's resident memory in kB (VmRSS), or -1. */
static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(fp);
	return kb;
}

/*
 * The next result of a query sent with PQsendQuery, within timeout_ms: a
 * hang fails the test rather than blocking it.  NULL at the end.
 */
static PGresult *
result_within(PGconn *conn, int timeout_ms)
{
	for (int waited = 0;; waited += 20) {
		struct pollfd pfd = { PQsocket(conn), POLLIN, 0 };

		if (PQconsumeInput(conn) == 0 || !PQisBusy(conn))
			return PQgetResult(conn);
		if (waited >= timeout_ms)
			fail_msg("no answer within %d ms", timeout_ms);
		poll(&pfd, 1, 20);
	}
}

/* Drop the results left (after an error, there are none to wait for). */
static void
drain_results(PGconn *conn)
{
	PGresult *res;

	while ((res = result_within(conn, 5000)) != NULL)
		PQclear(res);
}

/* The pid of the backend running a query like pattern (one), or 0. */
static pid_t
backend_running(const char *pattern)
{
	char sql[512];
	PGconn *pg = it_connect_pg(&env, "postgres");
	PGresult *res;
	pid_t pid = 0;

	snprintf(sql, sizeof(sql), "select pid from pg_stat_activity where "
	    "query like '%s' and state = 'active' and pid <> "
	    "pg_backend_pid()", pattern);
	res = PQexec(pg, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		pid = (pid_t)atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(pg);
	return pid;
}

/* Wait up to 10 s for a backend to run a query like pattern. */
static pid_t
wait_backend_running(const char *pattern)
{
	pid_t pid = 0;

	for (int i = 0; i < 200 && pid == 0; i++) {
		pid = backend_running(pattern);
		if (pid == 0)
			it_sleep_ms(50);
	}
	if (pid == 0)
		fail_msg("no backend runs %s", pattern);
	return pid;
}

/* A column of a console result, by name, in row r. */
static const char *
col(PGresult *res, int r, const char *name)
{
	int c = PQfnumber(res, name);

	if (c < 0)
		fail_msg("no column %s", name);
	return PQgetvalue(res, r, c);
}

/* Whether SHOW SERVERS lists the backend pid. */
static bool
server_listed(pid_t pid)
{
	PGconn *admin = console();
	PGresult *res = PQexec(admin, "show servers");
	bool found = false;

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	for (int r = 0; r < PQntuples(res); r++)
		found |= atoi(col(res, r, "remote_pid")) == (int)pid;
	PQclear(res);
	PQfinish(admin);
	return found;
}

/* Wait up to 10 s until SHOW SERVERS no longer lists a backend. */
static void
assert_server_dropped(pid_t pid)
{
	for (int i = 0; i < 100 && server_listed(pid); i++)
		it_sleep_ms(100);
	if (server_listed(pid))
		fail_msg("SHOW SERVERS still lists backend %d", (int)pid);
}

/* A value of SHOW POOLS for the postgres/postgres pool (0 if none). */
static int
pool_value(const char *name)
{
	PGconn *admin = console();
	PGresult *res = PQexec(admin, "show pools");
	int v = 0;

	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(col(res, r, "database"), "postgres") == 0 &&
		    strcmp(col(res, r, "user"), "postgres") == 0)
			v = atoi(col(res, r, name));
	PQclear(res);
	PQfinish(admin);
	return v;
}

/* Wait up to 10 s for a SHOW POOLS value. */
static void
assert_pool_value(const char *name, int want)
{
	for (int i = 0; i < 100 && pool_value(name) != want; i++)
		it_sleep_ms(100);
	assert_int_equal(pool_value(name), want);
}

/* ---- the steady state ---- */

/* Connections pgweir has, from the console: clients and servers. */
static bool
console_counts(PGconn *admin, int *clients, int *servers, char *why,
    size_t len)
{
	PGresult *cl = PQexec(admin, "show clients");
	PGresult *sv = PQexec(admin, "show servers");
	bool ok = PQresultStatus(cl) == PGRES_TUPLES_OK &&
	    PQresultStatus(sv) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(why, len, "console: %s", PQerrorMessage(admin));
	else {
		*clients = PQntuples(cl);
		*servers = PQntuples(sv);
	}
	PQclear(cl);
	PQclear(sv);
	return ok;
}

/*
 * Whether everything is settled now; if not, why says what is not.  The
 * only client is the console; the postgres pool has nothing active,
 * waiting, being cleaned or connecting; nobody is logging in; every
 * server pgweir lists is a backend PostgreSQL lists, and the reverse, all
 * idle (not in a transaction); pgweir's descriptors are its own plus one
 * per connection (none leaked).
 */
static bool
steady_now(char *why, size_t len)
{
	static const char *const zero[] = { "cl_active", "cl_waiting",
		"sv_active", "sv_tested", "sv_login" };
	PGconn *admin = console(), *pg = it_connect_pg(&env, "postgres");
	PGresult *pools = PQexec(admin, "show pools");
	PGresult *lists = PQexec(admin, "show lists");
	PGresult *servers = PQexec(admin, "show servers");
	PGresult *clients = PQexec(admin, "show clients");
	PGresult *acts = PQexec(pg, "select pid, state from "
	    "pg_stat_activity where backend_type = 'client backend' and "
	    "pid <> pg_backend_pid()");
	bool ok = false;
	int fds;

	if (PQresultStatus(pools) != PGRES_TUPLES_OK ||
	    PQresultStatus(lists) != PGRES_TUPLES_OK ||
	    PQresultStatus(servers) != PGRES_TUPLES_OK ||
	    PQresultStatus(clients) != PGRES_TUPLES_OK ||
	    PQresultStatus(acts) != PGRES_TUPLES_OK) {
		snprintf(why, len, "a query failed: %s%s",
		    PQerrorMessage(admin), PQerrorMessage(pg));
		goto out;
	}
	for (int r = 0; r < PQntuples(pools); r++) {
		if (strcmp(col(pools, r, "database"), "pgweir") == 0)
			continue;
		for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
			if (atoi(col(pools, r, zero[i])) != 0) {
				snprintf(why, len, "SHOW POOLS %s/%s: %s = %s",
				    col(pools, r, "database"),
				    col(pools, r, "user"), zero[i],
				    col(pools, r, zero[i]));
				goto out;
			}
		}
	}
	for (int r = 0; r < PQntuples(lists); r++)
		if (strcmp(PQgetvalue(lists, r, 0), "login_clients") == 0 &&
		    atoi(PQgetvalue(lists, r, 1)) != 0) {
			snprintf(why, len, "SHOW LISTS: login_clients = %s",
			    PQgetvalue(lists, r, 1));
			goto out;
		}
	for (int r = 0; r < PQntuples(clients); r++)
		if (strcmp(col(clients, r, "database"), "pgweir") != 0) {
			snprintf(why, len, "SHOW CLIENTS: a client of %s is "
			    "left (%s)", col(clients, r, "database"),
			    col(clients, r, "state"));
			goto out;
		}
	if (PQntuples(servers) != PQntuples(acts)) {
		snprintf(why, len, "pgweir lists %d servers, PostgreSQL %d "
		    "backends", PQntuples(servers), PQntuples(acts));
		goto out;
	}
	for (int r = 0; r < PQntuples(acts); r++) {
		const char *pid = PQgetvalue(acts, r, 0);
		bool listed = false;
		if (strcmp(PQgetvalue(acts, r, 1), "idle") != 0) {
			snprintf(why, len, "backend %s is %s", pid,
			    PQgetvalue(acts, r, 1));
			goto out;
		}
		for (int s = 0; s < PQntuples(servers); s++)
			listed |= strcmp(col(servers, s, "remote_pid"),
			    pid) == 0;
		if (!listed) {
			snprintf(why, len, "backend %s is not pgweir's", pid);
			goto out;
		}
	}
	fds = count_fds(env.pid) - PQntuples(servers) - PQntuples(clients);
	if (fds != base_fds) {
		snprintf(why, len, "pgweir holds %d descriptors besides its "
		    "connections, %d at start", fds, base_fds);
		goto out;
	}
	ok = true;
out:
	PQclear(pools);
	PQclear(lists);
	PQclear(servers);
	PQclear(clients);
	PQclear(acts);
	PQfinish(pg);
	PQfinish(admin);
	return ok;
}

/* pgweir serves a new client, and everything settles within 10 s. */
static void
assert_steady(void)
{
	PGconn *conn;
	char why[512] = "";

	assert_true(it_pgweir_alive(&env));
	conn = connect_ok();
	assert_int_equal(it_query_int(conn, "select 42"), 42);
	PQfinish(conn);
	for (int i = 0; i < 100; i++) {
		if (steady_now(why, sizeof(why)))
			return;
		it_sleep_ms(100);
	}
	fail_msg("not steady after 10 s: %s", why);
}

/* Wait until PostgreSQL has no client backend (up to 10 s). */
static void
assert_no_backends(void)
{
	for (int i = 0; i < 200; i++) {
		if (it_pg_int(&env, "select count(*) from pg_stat_activity "
		    "where backend_type = 'client backend' and pid <> "
		    "pg_backend_pid()") == 0)
			return;
		it_sleep_ms(50);
	}
	fail_msg("backends of the previous pgweir are still there");
}

/*
 * Restart pgweir with these settings (and admin_users = postgres, for the
 * console), and note how many descriptors it has besides connections.
 */
static void
restart(const char *settings)
{
	char all[4096], why[256];
	PGconn *admin;
	int clients = 0, servers = 0;

	thaw();
	if (env.pid > 0)
		assert_int_equal(it_pgweir_stop(&env), 0);
	assert_no_backends();
	snprintf(all, sizeof(all), "admin_users = postgres\n%s\n", settings);
	assert_int_equal(it_pgweir_start(&env, all, NULL), 0);
	env.nofile = 0;
	admin = console();
	if (!console_counts(admin, &clients, &servers, why, sizeof(why)))
		fail_msg("%s", why);
	base_fds = count_fds(env.pid) - clients - servers;
	PQfinish(admin);
}

/* ---- a raw protocol client ---- */

/* A big-endian 32-bit integer at any alignment. */
static uint32_t
get_u32(const char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return ntohl(n);
}

/* A raw connection's input, buffered: a large result is many messages. */
struct reader {
	int fd;
	size_t pos, len;
	char buf[1 << 16];
};

/* Have at least need bytes; false on EOF, error or timeout_ms of silence. */
static bool
reader_fill(struct reader *r, size_t need, int timeout_ms)
{
	if (r->len - r->pos < need && r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len - r->pos < need) {
		struct pollfd pfd = { r->fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0)
			return false;
		r->len += (size_t)n;
	}
	return true;
}

/*
 * The next message's type, with its body (valid until the next call); 0
 * on EOF or timeout.
 */
static char
reader_next(struct reader *r, const char **body, size_t *len,
    int timeout_ms)
{
	uint32_t n;
	char type;

	if (!reader_fill(r, 5, timeout_ms))
		return 0;
	n = get_u32(r->buf + r->pos + 1);
	if (n < 4 || n + 1 > sizeof(r->buf))
		fail_msg("a message of %u bytes", n);
	if (!reader_fill(r, 1 + n, timeout_ms))
		return 0;
	type = r->buf[r->pos];
	*body = r->buf + r->pos + 5;
	*len = n - 4;
	r->pos += 1 + n;
	return type;
}

/* Skip messages up to one of a type; false on EOF or timeout. */
static bool
reader_until(struct reader *r, char want, int timeout_ms)
{
	const char *body;
	size_t len;
	char t;

	while ((t = reader_next(r, &body, &len, timeout_ms)) != 0)
		if (t == want)
			return true;
	return false;
}

/* A field of an ErrorResponse body ('M' message, 'C' SQLSTATE), or "". */
static const char *
error_field(const char *body, size_t len, char code)
{
	for (size_t i = 0; i < len && body[i] != '\0';
	    i += strlen(body + i) + 1)
		if (body[i] == code)
			return body + i + 1;
	return "";
}

/* Log in as postgres (trust) on a raw connection. */
static void
raw_login(struct reader *r)
{
	r->pos = r->len = 0;
	r->fd = it_raw_connect(&env);
	assert_true(r->fd >= 0);
	assert_int_equal(it_send_startup(r->fd, "postgres", "postgres"), 0);
	assert_true(reader_until(r, 'Z', 10000));
}

/* Send a simple Query. */
static void
raw_query(int fd, const char *sql)
{
	it_raw_send(fd, 'Q', sql, strlen(sql) + 1);
}

/* The next message must be an ErrorResponse saying text, then EOF. */
static void
assert_error_then_eof(struct reader *r, const char *text, int timeout_ms)
{
	const char *body;
	size_t len;
	char t = reader_next(r, &body, &len, timeout_ms);

	if (t != 'E')
		fail_msg("expected an error, got '%c'", t ? t : '0');
	if (strstr(error_field(body, len, 'M'), text) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"",
		    error_field(body, len, 'M'), text);
	assert_int_equal(reader_next(r, &body, &len, 5000), 0);
}

/* ---- 1. PostgreSQL killed ---- */

/* The postmaster's pid, from postmaster.pid. */
static pid_t
postmaster_pid(void)
{
	char path[400], line[32] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "%s/postmaster.pid", env.pgdir);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	return (pid_t)atoi(line);
}

/*
 * The postmaster dies (SIGKILL) while one client is in a transaction and
 * another in COPY FROM STDIN: their backends exit, both clients get an
 * error (no hang), nothing they wrote stays.  A request made while
 * PostgreSQL is down waits and is served once it is back, and meanwhile
 * pgweir keeps serving others (the console) and retries at its
 * server_login_retry pace: it once spun on the failing connect, blocking
 * its loop.
 */
static void
test_postgres_killed(void **state)
{
	PGconn *tx, *copy, *waiter, *admin;
	PGresult *res;
	pid_t pm, tx_pid, copy_pid;
	int failures;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 4\n"
	    "query_wait_timeout = 30\n");
	tx = connect_ok();
	copy = connect_ok();
	assert_true(it_exec_ok(tx, "begin"));
	assert_true(it_exec_ok(tx, "insert into fault_t values ('killed')"));
	tx_pid = (pid_t)it_query_int(tx, "select pg_backend_pid()");
	res = PQexec(copy, "copy fault_t (tag) from stdin");
	assert_int_equal(PQresultStatus(res), PGRES_COPY_IN);
	PQclear(res);
	assert_int_equal(PQputCopyData(copy, "killed\n", 7), 1);
	assert_int_equal(PQflush(copy), 0);
	copy_pid = wait_backend_running("copy fault_t%");

	pm = postmaster_pid();
	assert_true(pm > 0);
	assert_int_equal(kill(pm, SIGKILL), 0);
	assert_gone(pm);
	assert_gone(tx_pid);
	assert_gone(copy_pid);

	/*
	 * The client idle in a transaction: an error, not a hang.  Its
	 * backend said FATAL (unexpected postmaster exit) before going, and
	 * pgweir passed it on, so the client closes with it (a server lost
	 * without a word keeps its client: it_failover).
	 */
	if (PQsendQuery(tx, "select 1") == 1) {
		res = result_within(tx, 5000);
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		PQclear(res);
		drain_results(tx);
	}
	assert_int_equal(PQstatus(tx), CONNECTION_BAD);
	/* the client in COPY: the same */
	if (PQputCopyData(copy, "killed\n", 7) == 1 &&
	    PQputCopyEnd(copy, NULL) == 1) {
		res = result_within(copy, 5000);
		assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
		PQclear(res);
		drain_results(copy);
	}
	assert_int_equal(PQstatus(copy), CONNECTION_BAD);
	PQfinish(tx);
	PQfinish(copy);

	/* a request while PostgreSQL is down waits for it */
	failures = it_log_count(&env, "could not connect to server");
	waiter = connect_ok();
	assert_int_equal(PQsendQuery(waiter, "select 2"), 1);
	it_sleep_ms(1500);
	/* pgweir is not stuck meanwhile, nor hammering the socket */
	admin = console();
	res = PQexec(admin, "show pools");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	PQfinish(admin);
	assert_true(it_log_count(&env, "could not connect to server") -
	    failures < 20);
	assert_reaped(pm);
	assert_int_equal(it_pg_start(&env), 0);
	res = result_within(waiter, 20000);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	PQclear(res);
	drain_results(waiter);
	PQfinish(waiter);

	assert_int_equal(it_pg_int(&env, "select count(*) from fault_t where "
	    "tag = 'killed'"), 0);
	assert_steady();
}

/* ---- 2. PostgreSQL restarted under load ---- */

/*
 * A fast restart of PostgreSQL under pgbench: pgbench's clients whose
 * backend is shut down get errors, pgweir stays up, and afterwards a whole
 * pgbench run completes without a failure.
 */
static void
test_postgres_restart_under_load(void **state)
{
	char out[8192], path[400];
	pid_t child;
	int status;
	FILE *fp;
	size_t n;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 4\n"
	    "query_wait_timeout = 30\n");
	snprintf(path, sizeof(path), "%s/pgbench-restart.out", env.dir);
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(it_sh(&env, NULL, 0, "pgbench -n -c 8 -j 2 -T 3 -h "
		    "127.0.0.1 -p %d -U postgres postgres >'%s' 2>&1",
		    env.port, path));
	it_sleep_ms(1000);
	assert_int_equal(it_pg_restart(&env), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(it_pgweir_alive(&env));
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	fclose(fp);
	/* the shutdown reached pgbench's clients as errors: they stopped */
	if (strstr(out, "aborted") == NULL ||
	    (strstr(out, "terminating connection due to administrator "
	    "command") == NULL && strstr(out, "server connection closed "
	    "unexpectedly") == NULL))
		fail_msg("pgbench saw no error:\n%s", out);

	assert_int_equal(it_sh(&env, out, sizeof(out), "pgbench -n -c 4 -j 2 "
	    "-t 50 -h 127.0.0.1 -p %d -U postgres postgres", env.port), 0);
	assert_non_null(strstr(out, "processed: 200/200"));
	assert_non_null(strstr(out, "number of failed transactions: 0"));
	assert_steady();
}

/* ---- 3. a backend terminated ---- */

/*
 * pg_terminate_backend() on the backend of a client in a transaction:
 * that client gets the server's own FATAL (SQLSTATE 57P01, "terminating
 * connection due to administrator command") and is disconnected, another
 * client goes on, and the server leaves SHOW SERVERS.
 */
static void
terminate_linked(const char *settings)
{
	PGconn *victim, *other;
	PGresult *res;
	const char *sqlstate;
	char sql[128];
	pid_t pid;

	restart(settings);
	victim = connect_ok();
	other = connect_ok();
	assert_true(it_exec_ok(victim, "begin"));
	pid = (pid_t)it_query_int(victim, "select pg_backend_pid()");
	assert_int_equal(it_query_int(other, "select 5"), 5);
	snprintf(sql, sizeof(sql), "select pg_terminate_backend(%d)",
	    (int)pid);
	assert_int_equal(it_pg_exec(&env, sql), 0);
	assert_gone(pid);

	assert_int_equal(PQsendQuery(victim, "select 1"), 1);
	res = result_within(victim, 5000);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (sqlstate == NULL || strcmp(sqlstate, "57P01") != 0)
		fail_msg("SQLSTATE %s: %s", sqlstate ? sqlstate : "none",
		    PQerrorMessage(victim));
	PQclear(res);
	drain_results(victim);
	assert_int_equal(PQstatus(victim), CONNECTION_BAD);
	PQfinish(victim);

	assert_int_equal(it_query_int(other, "select 6"), 6);
	assert_server_dropped(pid);
	PQfinish(other);
	assert_steady();
}

/* In session mode, in transaction mode, and an idle pooled server. */
static void
test_backend_terminated(void **state)
{
	PGconn *conn;
	char sql[128];
	pid_t pid;

	(void)state;
	terminate_linked("pool_mode = session\ndefault_pool_size = 4\n");
	terminate_linked("pool_mode = transaction\ndefault_pool_size = 4\n");

	/* an idle server: dropped, and the next request gets another */
	conn = connect_ok();
	pid = (pid_t)it_query_int(conn, "select pg_backend_pid()");
	snprintf(sql, sizeof(sql), "select pg_terminate_backend(%d)",
	    (int)pid);
	assert_int_equal(it_pg_exec(&env, sql), 0);
	assert_gone(pid);
	assert_server_dropped(pid);
	assert_int_not_equal(it_query_int(conn, "select pg_backend_pid()"),
	    pid);
	PQfinish(conn);
	assert_steady();
}

/*
 * An idle backend terminated before pgweir has seen it go: the request
 * that arrives first still gets a working server, never the dead one's
 * error.  pgweir is stopped while the request comes and the backend
 * ends, so that it reads the request before the server's goodbye.
 */
static void
test_idle_backend_terminated_unseen(void **state)
{
	PGconn *conn;
	PGresult *res;
	char sql[128];
	pid_t pid;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 4\n");
	conn = connect_ok();
	pid = (pid_t)it_query_int(conn, "select pg_backend_pid()");
	assert_int_equal(it_pgweir_signal(&env, SIGSTOP), 0);
	assert_int_equal(PQsendQuery(conn, "select pg_backend_pid()"), 1);
	it_sleep_ms(100);
	snprintf(sql, sizeof(sql), "select pg_terminate_backend(%d)",
	    (int)pid);
	assert_int_equal(it_pg_exec(&env, sql), 0);
	assert_gone(pid);
	assert_int_equal(it_pgweir_signal(&env, SIGCONT), 0);
	res = result_within(conn, 5000);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_not_equal(atoi(PQgetvalue(res, 0, 0)), pid);
	PQclear(res);
	drain_results(conn);
	PQfinish(conn);
	assert_steady();
}

/* ---- 4. a backend that stops answering ---- */

/* Stop a backend (SIGSTOP); thaw() continues it. */
static void
freeze(pid_t pid)
{
	assert_int_equal(kill(pid, SIGSTOP), 0);
	frozen = pid;
}

/*
 * A frozen backend under a query: query_timeout disconnects the client
 * with "query timeout"; the cancel cannot help, so after
 * cancel_wait_timeout the server is closed, not reused.  Another client
 * is served meanwhile.
 */
static void
test_frozen_backend_query_timeout(void **state)
{
	PGconn *victim, *other;
	PGresult *res;
	pid_t pid;
	int closed;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 2\n"
	    "query_timeout = 1\ncancel_wait_timeout = 1\n");
	closed = it_log_count(&env, "cleanup did not finish in time");
	victim = connect_ok();
	other = connect_ok();
	assert_true(it_exec_ok(victim, "begin"));
	pid = (pid_t)it_query_int(victim, "select pg_backend_pid()");
	freeze(pid);
	assert_int_equal(PQsendQuery(victim, "select 1"), 1);
	for (int i = 0; i < 10; i++)
		assert_int_equal(it_query_int(other, "select 7"), 7);
	res = result_within(victim, 5000);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	if (strstr(PQerrorMessage(victim), "query timeout") == NULL)
		fail_msg("error: %s", PQerrorMessage(victim));
	PQclear(res);
	drain_results(victim);
	PQfinish(victim);

	assert_server_dropped(pid);
	assert_int_equal(it_log_count(&env, "cleanup did not finish in time"),
	    closed + 1);
	assert_int_equal(it_query_int(other, "select 8"), 8);
	PQfinish(other);
	thaw();
	/*
	 * pgweir has let the backend go (checked above); its exit is
	 * PostgreSQL's business, and once in many loaded runs it outlived
	 * the wait: end it, so the steady-state check counts only pgweir's.
	 */
	for (int i = 0; i < 200 && !proc_gone(pid); i++)
		it_sleep_ms(50);
	if (!proc_gone(pid)) {
		char sql[96];
		snprintf(sql, sizeof(sql), "select pg_terminate_backend(%d)",
		    (int)pid);
		(void)it_pg_exec(&env, sql);
	}
	assert_gone(pid);
	assert_steady();
}

/*
 * A frozen idle backend, with server_check_delay = 0: the health check
 * gets no answer within server_connect_timeout, the server is closed and
 * the client is served by a new one, never seeing an error.
 */
static void
test_frozen_backend_server_check(void **state)
{
	PGconn *conn;
	pid_t pid;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 1\n"
	    "server_check_delay = 0\nserver_connect_timeout = 1\n");
	conn = connect_ok();
	pid = (pid_t)it_query_int(conn, "select pg_backend_pid()");
	freeze(pid);
	assert_int_not_equal(it_query_int(conn, "select pg_backend_pid()"),
	    pid);
	assert_server_dropped(pid);
	PQfinish(conn);
	thaw();
	assert_gone(pid);
	assert_steady();
}

/* ---- 5. clients that vanish ---- */

/*
 * A client killed during a query in its transaction: the query is
 * cancelled and the transaction rolled back (or the server closed); the
 * next client, waiting for the only server, gets it clean.
 */
static void
test_client_killed_mid_query(void **state)
{
	char port[16];
	PGconn *waiter;
	PGresult *res;
	pid_t child, pid;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 1\n");
	snprintf(port, sizeof(port), "%d", env.port);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execlp("psql", "psql", "-X", "-q", "-h", "127.0.0.1", "-p",
		    port, "-U", "postgres", "-d", "postgres", "-c", "begin; "
		    "insert into fault_t values ('vanished'); "
		    "select pg_sleep(30)", (char *)NULL);
		_exit(127);
	}
	pid = wait_backend_running("%pg_sleep(30)");
	waiter = connect_ok();
	assert_int_equal(PQsendQuery(waiter, "select count(*) from fault_t "
	    "where tag = 'vanished'"), 1);
	assert_pool_value("cl_waiting", 1);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, NULL, 0), child);

	res = result_within(waiter, 10000);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	drain_results(waiter);
	/* not in the vanished client's transaction, nor in a failed one */
	assert_int_equal(it_query_int(waiter, "select count(*) from "
	    "pg_stat_activity where pid = pg_backend_pid() and xact_start "
	    "is not null and xact_start < statement_timestamp()"), 0);
	PQfinish(waiter);
	/* its backend is idle again (or gone), not in a transaction */
	{
		char sql[160];
		snprintf(sql, sizeof(sql), "select count(*) from "
		    "pg_stat_activity where pid = %d and state <> 'idle'",
		    (int)pid);
		assert_int_equal(it_pg_int(&env, sql), 0);
	}
	assert_steady();
}

/*
 * A client leaves during COPY FROM STDIN after whole CopyData messages
 * (complete is true) or in the middle of one.  Whole messages: the COPY
 * is failed and the server reused; a partial one: the server is closed.
 * Either way nothing it sent stays, and the client waiting for the only
 * server is served: its query must not be hit by a cancel meant for the
 * COPY.
 */
static void
vanish_mid_copy(bool complete)
{
	static const char row[] = "vanished-copy\n";
	static struct reader r;
	PGconn *waiter;
	PGresult *res;
	int mid_message;

	restart("pool_mode = transaction\ndefault_pool_size = 1\n");
	mid_message = it_log_count(&env, MID_MESSAGE);
	raw_login(&r);
	raw_query(r.fd, "copy fault_t (tag) from stdin");
	assert_true(reader_until(&r, 'G', 5000));
	for (int i = 0; i < 3; i++)
		it_raw_send(r.fd, 'd', row, sizeof(row) - 1);
	if (!complete) {
		/* a CopyData header for 100 bytes, and 10 of them */
		static const char part[] = { 'd', 0, 0, 0, 104, 'v', 'a', 'n',
			'i', 's', 'h', 'e', 'd', '-', 'c' };
		assert_int_equal(write(r.fd, part, sizeof(part)),
		    (ssize_t)sizeof(part));
	}
	wait_backend_running("copy fault_t%");
	waiter = connect_ok();
	assert_int_equal(PQsendQuery(waiter, "select pg_sleep(0.5), 'served'"),
	    1);
	assert_pool_value("cl_waiting", 1);
	close(r.fd);

	res = result_within(waiter, 10000);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("the waiting client got: %s", PQerrorMessage(waiter));
	assert_string_equal(PQgetvalue(res, 0, 1), "served");
	PQclear(res);
	drain_results(waiter);
	PQfinish(waiter);
	assert_int_equal(it_log_count(&env, MID_MESSAGE),
	    mid_message + !complete);
	assert_int_equal(it_pg_int(&env, "select count(*) from fault_t where "
	    "tag = 'vanished-copy'"), 0);
	assert_steady();
}

static void
test_client_vanished_mid_copy(void **state)
{
	(void)state;
	vanish_mid_copy(true);
	vanish_mid_copy(false);
}

/*
 * Clients that leave during the TLS handshake: right after the 'S', after
 * part of a ClientHello, and after part of a direct-TLS ClientHello.
 * Nothing of them stays (login_clients, descriptors).
 */
static void
test_client_vanished_mid_tls(void **state)
{
	static const uint8_t ssl_request[8] = { 0, 0, 0, 8, 0x04, 0xd2,
		0x16, 0x2f };
	/* a handshake record of 512 bytes: ClientHello, TLS 1.2, and less */
	static const uint8_t hello[16] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
		0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3, 4, 5 };
	char settings[1024], answer;

	(void)state;
	assert_int_equal(it_make_certs(&env), 0);
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "client_tls_sslmode = prefer\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n", env.dir, env.dir);
	restart(settings);
	for (int i = 0; i < 3; i++) {
		int fd = it_raw_connect(&env);
		struct pollfd pfd = { fd, POLLIN, 0 };

		assert_true(fd >= 0);
		if (i < 2) {
			assert_int_equal(write(fd, ssl_request, 8), 8);
			assert_true(poll(&pfd, 1, 5000) == 1);
			assert_int_equal(read(fd, &answer, 1), 1);
			assert_int_equal(answer, 'S');
		}
		if (i > 0)
			assert_int_equal(write(fd, hello, sizeof(hello)),
			    (ssize_t)sizeof(hello));
		close(fd);
	}
	assert_steady();
}

/*
 * Restart pgweir with auth_type (users in auth_file), log in as alice on
 * a raw connection (r) and read the AuthenticationRequest, which must be
 * of the given code.
 */
static void
auth_challenge(struct reader *r, const char *auth_type, const char *auth_file,
    uint32_t code)
{
	char settings[1024];
	const char *b;
	size_t len;

	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "auth_type = %s\nauth_file = %s\n", auth_type, auth_file);
	restart(settings);
	r->fd = it_raw_connect(&env);
	r->pos = r->len = 0;
	assert_int_equal(it_send_startup(r->fd, "postgres", "alice"), 0);
	assert_int_equal(reader_next(r, &b, &len, 5000), 'R');
	assert_int_equal(get_u32(b), code);
}

/*
 * Clients that leave during authentication: md5 after the challenge, and
 * SCRAM after the server-first message.  pgweir forgets them.
 */
static void
test_client_vanished_mid_auth(void **state)
{
	static const char mech[] = "SCRAM-SHA-256";
	static const char first[] = "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL";
	static struct reader r;
	char path[400], body[128];
	const char *b;
	size_t len, o = 0;
	uint32_t n;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/userlist.txt", env.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("\"postgres\" \"pw\"\n\"alice\" \"alice-pw\"\n", fp);
	fclose(fp);
	login_extra = "password=pw";

	auth_challenge(&r, "md5", path, 5);
	close(r.fd);
	assert_steady();

	auth_challenge(&r, "scram-sha-256", path, 10);
	/* SASLInitialResponse with the client-first message */
	memcpy(body, mech, sizeof(mech));
	o = sizeof(mech);
	n = htonl((uint32_t)(sizeof(first) - 1));
	memcpy(body + o, &n, 4);
	o += 4;
	memcpy(body + o, first, sizeof(first) - 1);
	o += sizeof(first) - 1;
	it_raw_send(r.fd, 'p', body, o);
	assert_int_equal(reader_next(&r, &b, &len, 5000), 'R');
	assert_int_equal(get_u32(b), 11);
	close(r.fd);
	assert_steady();
	login_extra = NULL;
}

/* ---- 6. a client stalled mid-message ---- */

/*
 * Two clients stall: one after 3 bytes of a message header (no server
 * yet), one after 10 bytes of a 100-byte Query (its head already on a
 * server).  Another client is served meanwhile; client_idle_timeout drops
 * the first, query_timeout the second, whose server, holding half a
 * message, is closed rather than reused.
 */
static void
test_client_stalls_mid_message(void **state)
{
	static const char head[3] = { 'Q', 0, 0 };
	static const char part[15] = { 'Q', 0, 0, 0, 104, 's', 'e', 'l', 'e',
		'c', 't', ' ', '1', ' ', ' ' };
	static struct reader idle, busy;
	PGconn *other;
	int mid_message;

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 2\n"
	    "query_timeout = 1\nclient_idle_timeout = 1\n");
	mid_message = it_log_count(&env, MID_MESSAGE);
	raw_login(&idle);
	raw_login(&busy);
	assert_int_equal(write(idle.fd, head, sizeof(head)),
	    (ssize_t)sizeof(head));
	assert_int_equal(write(busy.fd, part, sizeof(part)),
	    (ssize_t)sizeof(part));
	other = connect_ok();
	for (int i = 0; i < 50; i++)
		assert_int_equal(it_query_int(other, "select 9"), 9);
	PQfinish(other);

	assert_error_then_eof(&busy, "query timeout", 5000);
	assert_error_then_eof(&idle, "client_idle_timeout", 5000);
	close(busy.fd);
	close(idle.fd);
	assert_int_equal(it_log_count(&env, MID_MESSAGE),
	    mid_message + 1);
	assert_steady();
}

/* ---- 7. a slow reader ---- */

/*
 * A client asks for ~200 MB and does not read: pgweir stops reading the
 * server instead of buffering, so its memory stays bounded while another
 * client is served; then the client reads every row.
 */
static void
test_slow_reader_bounded(void **state)
{
	static struct reader r;
	PGconn *other;
	const char *body;
	size_t len;
	long rss0, peak = 0, rows = 0;
	int rcvbuf = 64 * 1024;
	char t, tag[64] = "";

	(void)state;
	restart("pool_mode = transaction\ndefault_pool_size = 2\n");
	raw_login(&r);
	setsockopt(r.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	rss0 = rss_kb(env.pid);
	assert_true(rss0 > 0);
	raw_query(r.fd, "select repeat('x', 1000) from "
	    "generate_series(1, 200000)");
	other = connect_ok();
	for (int i = 0; i < 30; i++) {
		long kb;
		assert_int_equal(it_query_int(other, "select 10"), 10);
		kb = rss_kb(env.pid);
		peak = kb > peak ? kb : peak;
		it_sleep_ms(50);
	}
	PQfinish(other);
	if (peak - rss0 > 64 * 1024)
		fail_msg("pgweir grew from %ld kB to %ld kB", rss0, peak);

	while ((t = reader_next(&r, &body, &len, 10000)) != 0 && t != 'Z') {
		if (t == 'D') {
			assert_int_equal(get_u32(body + 2), 1000);
			rows++;
		} else if (t == 'C') {
			snprintf(tag, sizeof(tag), "%.*s", (int)len, body);
		}
	}
	assert_int_equal(t, 'Z');
	assert_int_equal(rows, 200000);
	assert_string_equal(tag, "SELECT 200000");
	close(r.fd);
	assert_steady();
}

/* ---- 8. out of file descriptors ---- */

/*
 * Log in on a raw connection within timeout_ms: the fd, or -1 with the
 * connection (still unanswered) left in *pending.
 */
static int
login_within(struct reader *r, int timeout_ms, int *pending)
{
	r->pos = r->len = 0;
	r->fd = it_raw_connect(&env);
	assert_true(r->fd >= 0);
	assert_int_equal(it_send_startup(r->fd, "postgres", "postgres"), 0);
	if (reader_until(r, 'Z', timeout_ms))
		return r->fd;
	*pending = r->fd;
	return -1;
}

/*
 * pgweir with 48 descriptors: clients connect until one is refused (the
 * accept fails with EMFILE; pgweir accepts it on its reserve descriptor
 * and says why); libpq shows that error at once; the clients already in
 * are still served; once they leave, new clients get in again.
 */
static void
test_out_of_descriptors(void **state)
{
	enum { MAX_CONNS = 64 };
	static struct reader conns[MAX_CONNS];
	PGconn *first, *refused, *later;
	int n = 0, pending = -1;

	(void)state;
	env.nofile = 48;
	restart("pool_mode = transaction\ndefault_pool_size = 1\n"
	    "max_client_conn = 1000\n");
	first = connect_ok();
	assert_int_equal(it_query_int(first, "select 1"), 1);
	while (n < MAX_CONNS && login_within(&conns[n], 2000, &pending) >= 0)
		n++;
	assert_true(n < MAX_CONNS);
	assert_true(pending >= 0);
	close(pending);
	assert_true(it_wait_log(&env, "out of file descriptors: refused",
	    2000));
	refused = it_connect(&env, "postgres", "postgres",
	    "connect_timeout=10");
	assert_int_equal(PQstatus(refused), CONNECTION_BAD);
	if (strstr(PQerrorMessage(refused), "out of file descriptors") ==
	    NULL)
		fail_msg("refused client saw: %s", PQerrorMessage(refused));
	PQfinish(refused);

	/* the clients already in are served */
	assert_int_equal(it_query_int(first, "select 2"), 2);
	for (int i = 0; i < n; i += 5) {
		char types[64];
		raw_query(conns[i].fd, "select 3");
		assert_int_equal(it_raw_until_ready(conns[i].fd, types,
		    sizeof(types), NULL, 0, NULL, 0), 0);
		assert_string_equal(types, "TDCZ");
	}

	/* they leave: new clients get in again */
	for (int i = 0; i < n; i++)
		close(conns[i].fd);
	later = connect_ok();
	assert_int_equal(it_query_int(later, "select 4"), 4);
	PQfinish(later);
	PQfinish(first);
	assert_steady();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_postgres_killed),
		cmocka_unit_test(test_postgres_restart_under_load),
		cmocka_unit_test(test_backend_terminated),
		cmocka_unit_test(test_idle_backend_terminated_unseen),
		cmocka_unit_test(test_frozen_backend_query_timeout),
		cmocka_unit_test(test_frozen_backend_server_check),
		cmocka_unit_test(test_client_killed_mid_query),
		cmocka_unit_test(test_client_vanished_mid_copy),
		cmocka_unit_test(test_client_vanished_mid_tls),
		cmocka_unit_test(test_client_vanished_mid_auth),
		cmocka_unit_test(test_client_stalls_mid_message),
		cmocka_unit_test(test_slow_reader_bounded),
		cmocka_unit_test(test_out_of_descriptors),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
