/* SPDX-License-Identifier: ISC */
/*
 * The integration-test harness: temporary directories, a throwaway
 * PostgreSQL cluster per test program, pgweir started with a generated
 * config, and small libpq helpers.
 *
 * The cluster is copied from a template that the first test of a run makes
 * with initdb (under a file lock), which keeps each test's start-up to
 * well under a second.  PostgreSQL refuses to run as root, so as root the
 * cluster belongs to the "postgres" account and pgweir is started with
 * "-u postgres"; the temporary directory then lives in $TMPDIR (default
 * /tmp) because the build directory may not be reachable by that account.
 * Paths come from the environment that `make check` sets: PGWEIR_BIN,
 * PGWEIR_SCRIPTS.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The database superuser the template cluster is made with. */
const char *
it_pg_user(void)
{
	return "postgres";
}

/* Sleep for a number of milliseconds. */
void
it_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An environment variable, or a default. */
static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && v[0] ? v : def;
}

/* A TCP port nobody listens on right now (the kernel picks it). */
int
it_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/*
 * Run a shell command; its output (stdout and stderr) goes to out.
 * Returns the exit status, or -1.
 */
int
it_sh(struct it_env *e, char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	FILE *fp;
	size_t n = 0;
	int status;

	(void)e;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 8, fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	fp = popen(cmd, "r");
	if (fp == NULL)
		return -1;
	if (out && outlen) {
		n = fread(out, 1, outlen - 1, fp);
		out[n] = '\0';
	}
	{
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), fp) > 0)
			;
	}
	status = pclose(fp);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Make the template cluster once per run, under a lock. */
static int
template_ensure(char *tmpl, size_t len)
{
	char lockpath[300], cmd[4096];
	struct stat st;
	int fd, rc = 0;

	snprintf(tmpl, len, "%s/pgweir-it-template-%d",
	    env_or("TMPDIR", "/tmp"), (int)getuid());
	snprintf(lockpath, sizeof(lockpath), "%s.lock", tmpl);
	fd = open(lockpath, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return -1;
	if (stat(tmpl, &st) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s.tmp' && mkdir -p "
		    "'%s.tmp' && chmod 755 '%s.tmp' && %s/pgcluster.sh init "
		    "'%s.tmp/pg' && mv '%s.tmp' '%s'", tmpl, tmpl, tmpl,
		    env_or("PGWEIR_SCRIPTS", "scripts"), tmpl, tmpl, tmpl);
		if (system(cmd) != 0) {
			fprintf(stderr, "harness: could not make the template "
			    "cluster\n");
			rc = -1;
		}
	}
	flock(fd, LOCK_UN);
	close(fd);
	return rc;
}

/* Create the temporary directory and copy the template cluster into it. */
int
it_env_init(struct it_env *e)
{
	char tmpl[256], cmd[2048];

	memset(e, 0, sizeof(*e));
	if (template_ensure(tmpl, sizeof(tmpl)) < 0)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "%s/pgweir-it.XXXXXX",
	    env_or("TMPDIR", "/tmp"));
	if (mkdtemp(e->dir) == NULL)
		return -1;
	chmod(e->dir, 0755);
	snprintf(e->pgdir, sizeof(e->pgdir), "%s/pg", e->dir);
	snprintf(e->ini, sizeof(e->ini), "%s/pgweir.ini", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/pgweir.log", e->dir);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/pg' '%s'%s", tmpl, e->pgdir,
	    getuid() == 0 ? " && chown postgres: '" : "");
	if (getuid() == 0) {
		size_t l = strlen(cmd);
		snprintf(cmd + l, sizeof(cmd) - l, "%s'", e->dir);
	}
	if (system(cmd) != 0)
		return -1;
	e->pg_port = it_free_port();
	e->port = it_free_port();
	return 0;
}

/* Start the cluster. */
int
it_pg_start(struct it_env *e)
{
	char out[2048];

	if (it_sh(e, out, sizeof(out), "%s/pgcluster.sh start '%s' %d "
	    "-c max_connections=200 %s", env_or("PGWEIR_SCRIPTS", "scripts"),
	    e->pgdir, e->pg_port, e->pg_opts) != 0) {
		fprintf(stderr, "harness: PostgreSQL did not start: %s\n", out);
		return -1;
	}
	e->pg_running = true;
	return 0;
}

/* Stop the cluster (mode: fast or immediate). */
int
it_pg_stop(struct it_env *e, const char *mode)
{
	int rc = it_sh(e, NULL, 0, "%s/pgcluster.sh stop '%s' %s",
	    env_or("PGWEIR_SCRIPTS", "scripts"), e->pgdir, mode);

	e->pg_running = false;
	return rc;
}

/* Restart the cluster on the same port. */
int
it_pg_restart(struct it_env *e)
{
	it_pg_stop(e, "fast");
	return it_pg_start(e);
}

/*
 * Stop everything and remove the directory.  Returns -1 when pgweir did
 * not exit cleanly (a crash, or a sanitizer report at exit), so that the
 * test group fails.
 */
/* it_env_init, PostgreSQL started, and pgbench's tables (scale 1). */
int
it_env_init_pgbench(struct it_env *e)
{
	if (it_env_init(e) < 0 || it_pg_start(e) < 0)
		return -1;
	return it_sh(e, NULL, 0, "pgbench -i -q -s 1 -h %s -p %d -U postgres "
	    "postgres", e->pgdir, e->pg_port) != 0 ? -1 : 0;
}

/* environments whose pgweir did not exit cleanly (it_group_result) */
static int fini_failures;

int
it_group_result(int failed_tests)
{
	if (fini_failures > 0)
		fprintf(stderr, "harness: %d pgweir process(es) did not exit "
		    "cleanly\n", fini_failures);
	return failed_tests + fini_failures;
}

int
it_env_fini(struct it_env *e)
{
	char cmd[600];
	int rc = 0;

	if (e->pid > 0 && it_pgweir_stop(e) != 0) {
		fprintf(stderr, "harness: pgweir did not exit cleanly; its "
		    "log follows\n");
		snprintf(cmd, sizeof(cmd), "tail -50 '%s' >&2", e->log);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: no log\n");
		fini_failures++;
		rc = -1;
	}
	if (e->next_pid > 0) {
		/* an online restart a failed test left half-way */
		kill(e->next_pid, SIGKILL);
		waitpid(e->next_pid, NULL, 0);
		e->next_pid = 0;
	}
	if (e->pg_running)
		it_pg_stop(e, "immediate");
	if (e->dir[0] && getenv("PGWEIR_KEEP_TEST_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "harness: could not remove %s\n",
			    e->dir);
	}
	return rc;
}

/*
 * Write pgweir's config.  settings go under [pgweir] after the harness's
 * own (port, socket directory, trust); databases replaces the default
 * [databases] section (one "postgres" entry and a "*" fallback).
 */
int
it_write_config(struct it_env *e, const char *settings, const char *databases)
{
	FILE *fp = fopen(e->ini, "w");

	if (fp == NULL)
		return -1;
	fprintf(fp, "[databases]\n");
	if (databases)
		fprintf(fp, "%s\n", databases);
	else
		fprintf(fp, "postgres = host=%s port=%d\n* = host=%s port=%d\n",
		    e->pgdir, e->pg_port, e->pgdir, e->pg_port);
	fprintf(fp, "\n[pgweir]\nlisten_addr = 127.0.0.1\nlisten_port = %d\n"
	    "unix_socket_dir = %s\nauth_type = trust\n"
	    "server_login_retry = 1\n%s\n", e->port, e->dir,
	    settings ? settings : "");
	fclose(fp);
	chmod(e->ini, 0644);
	return 0;
}

/* Whether something accepts connections on pgweir's port. */
static bool
port_open(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * pgweir opens its TCP listener before its unix socket: once the port
 * answers, wait (briefly: a config may have no unix socket) until the
 * socket in the test directory does too, or a test that uses it at once
 * finds nothing there.
 */
static void
unix_socket_wait(struct it_env *e)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d",
	    e->dir, e->port);
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun,
		    sizeof(sun)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return;
		it_sleep_ms(20);
	}
}

/*
 * Start the pgweir binary on the config already written, with one more
 * command-line flag (or NULL), its output into the log.  Its pid, or -1.
 */
static pid_t
spawn_pgweir(struct it_env *e, const char *flag)
{
	const char *bin = e->bin[0] ? e->bin : env_or("PGWEIR_BIN", "./pgweir");
	const char *user = e->run_as[0] ? e->run_as : "postgres";
	pid_t pid;
	int logfd;

	logfd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(logfd);
		return -1;
	}
	if (pid == 0) {
		const char *args[8];
		int n = 0;

		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		if (e->extra_env[0])
			putenv(e->extra_env);
		if (e->nofile > 0) {
			/* for running pgweir out of file descriptors */
			struct rlimit rl = { (rlim_t)e->nofile,
				(rlim_t)e->nofile };
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		args[n++] = bin;
		args[n++] = "-v";
		if (getuid() == 0) {
			args[n++] = "-u";
			args[n++] = user;
		}
		if (flag != NULL)
			args[n++] = flag;
		args[n++] = e->ini;
		args[n] = NULL;
		execv(bin, (char *const *)args);
		_exit(127);
	}
	close(logfd);
	return pid;
}

/*
 * Online restart: start a second pgweir with -R and wait until the first
 * has handed everything over and exited (up to timeout_ms).  Returns the
 * first one's exit status (-2: still running); the new one is e->pid.
 */
int
it_pgweir_online_restart(struct it_env *e, int timeout_ms)
{
	pid_t next = it_pgweir_online_restart_begin(e);

	return it_pgweir_online_restart_end(e, next, timeout_ms);
}

/* Start the new pgweir of an online restart; its pid, or -1. */
pid_t
it_pgweir_online_restart_begin(struct it_env *e)
{
	e->next_pid = spawn_pgweir(e, "-R");
	return e->next_pid;
}

/* Wait for the old one to exit; then the new one (next) is e->pid. */
int
it_pgweir_online_restart_end(struct it_env *e, pid_t next, int timeout_ms)
{
	int rc;

	if (next < 0)
		return -1;
	rc = it_pgweir_wait(e, timeout_ms);
	if (rc == -2) {
		/* the old one would not go: stop it, keep the new one */
		it_pgweir_stop(e);
	}
	e->pid = next;
	e->next_pid = 0;
	return rc;
}

/* Start pgweir on the config already written; wait until it listens. */
int
it_pgweir_start_raw(struct it_env *e)
{
	pid_t pid = spawn_pgweir(e, NULL);

	if (pid < 0)
		return -1;
	e->pid = pid;
	for (int i = 0; i < 500; i++) {
		int status;
		if (port_open(e->port)) {
			unix_socket_wait(e);
			return 0;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			e->pid = 0;
			fprintf(stderr, "harness: pgweir exited at start-up\n");
			return -1;
		}
		it_sleep_ms(20);
	}
	fprintf(stderr, "harness: pgweir did not start listening\n");
	return -1;
}

/* Write the config and start pgweir. */
int
it_pgweir_start(struct it_env *e, const char *settings, const char *databases)
{
	if (it_write_config(e, settings, databases) < 0)
		return -1;
	return it_pgweir_start_raw(e);
}

/* Send a signal to pgweir. */
int
it_pgweir_signal(struct it_env *e, int sig)
{
	return e->pid > 0 ? kill(e->pid, sig) : -1;
}

/*
 * Wait for pgweir to exit; returns its exit status, -2 if it is still
 * running after timeout_ms, -1 on error.
 */
int
it_pgweir_wait(struct it_env *e, int timeout_ms)
{
	for (int waited = 0; e->pid > 0; waited += 10) {
		int status;
		pid_t r = waitpid(e->pid, &status, WNOHANG);
		if (r == e->pid) {
			e->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) :
			    0);
		}
		if (r < 0)
			return -1;
		if (waited >= timeout_ms)
			return -2;
		it_sleep_ms(10);
	}
	return -1;
}

/*
 * Whether pgweir is still running.  A pgweir found gone is reaped and
 * forgotten: its pid may be reused at once (pid_max can be as low as
 * 32768), and a later stop must not signal whoever has it then.
 */
bool
it_pgweir_alive(struct it_env *e)
{
	pid_t r;

	if (e->pid <= 0)
		return false;
	r = waitpid(e->pid, NULL, WNOHANG);
	if (r == 0)
		return true;
	e->pid = 0;
	return false;
}

/* Stop pgweir at once (SIGQUIT, then SIGKILL). */
int
it_pgweir_stop(struct it_env *e)
{
	int rc;

	if (e->pid <= 0)
		return 0;
	kill(e->pid, SIGQUIT);
	rc = it_pgweir_wait(e, 10000);
	if (rc == -2) {
		kill(e->pid, SIGKILL);
		rc = it_pgweir_wait(e, 5000);
	}
	return rc;
}

/* Connect through pgweir over TCP. */
PGconn *
it_connect(struct it_env *e, const char *dbname, const char *user,
    const char *extra)
{
	char conninfo[1024];

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d "
	    "dbname=%s user=%s connect_timeout=20 %s", e->port, dbname, user,
	    extra ? extra : "");
	return PQconnectdb(conninfo);
}

/* Connect through pgweir over its unix socket. */
PGconn *
it_connect_unix(struct it_env *e, const char *dbname, const char *user,
    const char *extra)
{
	char conninfo[1024];

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%d dbname=%s "
	    "user=%s connect_timeout=20 %s", e->dir, e->port, dbname, user,
	    extra ? extra : "");
	return PQconnectdb(conninfo);
}

/* Connect to PostgreSQL directly, as the superuser. */
PGconn *
it_connect_pg(struct it_env *e, const char *dbname)
{
	char conninfo[512];

	snprintf(conninfo, sizeof(conninfo), "host=%s port=%d dbname=%s "
	    "user=%s connect_timeout=20", e->pgdir, e->pg_port, dbname,
	    it_pg_user());
	return PQconnectdb(conninfo);
}

/*
 * The port of the PostgreSQL server a query through pgweir to `db` ran on
 * (which host of a list served it), as postgres; LLONG_MIN on error.
 */
long long
it_server_port(struct it_env *e, const char *db)
{
	PGconn *c = it_connect(e, db, it_pg_user(), NULL);
	long long port = it_query_int(c,
	    "select current_setting('port')::int");

	PQfinish(c);
	return port;
}

/* Run a query returning one integer; LLONG_MIN on any error. */
long long
it_query_int(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	long long v = -9223372036854775807LL - 1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		v = atoll(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "query \"%s\" failed: %s", sql,
		    PQerrorMessage(conn));
	PQclear(res);
	return v;
}

/* Run a query returning one text value; a malloc'd copy, or NULL. */
char *
it_query_text(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *v = NULL;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	else
		fprintf(stderr, "query \"%s\" failed: %s", sql,
		    PQerrorMessage(conn));
	PQclear(res);
	return v;
}

/* Run a statement; true if it succeeded. */
bool
it_exec_ok(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	PQclear(res);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Run a statement directly on PostgreSQL (database postgres). */
int
it_pg_exec(struct it_env *e, const char *sql)
{
	PGconn *conn = it_connect_pg(e, "postgres");
	bool ok = PQstatus(conn) == CONNECTION_OK && it_exec_ok(conn, sql);

	if (!ok)
		fprintf(stderr, "direct \"%s\" failed: %s", sql,
		    PQerrorMessage(conn));
	PQfinish(conn);
	return ok ? 0 : -1;
}

/* Query one integer directly on PostgreSQL. */
long long
it_pg_int(struct it_env *e, const char *sql)
{
	PGconn *conn = it_connect_pg(e, "postgres");
	long long v = it_query_int(conn, sql);

	PQfinish(conn);
	return v;
}

/* Lines of pgweir's log that contain a string. */
int
it_log_count(struct it_env *e, const char *needle)
{
	char line[4096];
	FILE *fp = fopen(e->log, "r");
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

/* Whether pgweir's log contains a string. */
bool
it_log_contains(struct it_env *e, const char *needle)
{
	FILE *fp = fopen(e->log, "r");
	char line[4096];
	bool found = false;

	if (fp == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

/* Wait until pgweir's log contains a string. */
bool
it_wait_log(struct it_env *e, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		if (it_log_contains(e, needle))
			return true;
		it_sleep_ms(20);
	}
	return false;
}

/* A raw TCP connection to pgweir, for hand-made packets. */
int
it_raw_connect(struct it_env *e)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)e->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Make a test CA and certificates in DIR/certs (for PostgreSQL and pgweir,
 * owned by the account they run as) and DIR/client-certs (for libpq, owned
 * by us: libpq insists that a private key belongs to its user).
 */
int
it_make_certs(struct it_env *e)
{
	if (it_sh(e, NULL, 0, "%s/make-test-certs.sh '%s/certs' && cp -r "
	    "'%s/certs' '%s/client-certs'", env_or("PGWEIR_SCRIPTS",
	    "scripts"), e->dir, e->dir, e->dir) != 0)
		return -1;
	if (getuid() == 0 && it_sh(e, NULL, 0, "chown -R postgres: '%s/certs'",
	    e->dir) != 0)
		return -1;
	return 0;
}

/* Replace PostgreSQL's pg_hba.conf (read when it starts or reloads). */
int
it_write_pg_hba(struct it_env *e, const char *lines)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/pg_hba.conf", e->pgdir);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fputs(lines, fp);
	return fclose(fp) == 0 ? 0 : -1;
}

/*
 * PostgreSQL with TLS on (the certificates of it_make_certs) and SCRAM
 * secrets for new passwords; before it_pg_start.
 */
void
it_pg_use_tls(struct it_env *e)
{
	snprintf(e->pg_opts, sizeof(e->pg_opts), "-c ssl=on "
	    "-c ssl_cert_file=%s/certs/server.crt "
	    "-c ssl_key_file=%s/certs/server.key "
	    "-c password_encryption=scram-sha-256", e->dir, e->dir);
}

/* The name of the account the tests run as. */
const char *
it_os_user(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw ? pw->pw_name : "root";
}

/* Append a message to a raw connection (written at once). */
void
it_raw_send(int fd, char type, const void *body, size_t len)
{
	char hdr[5];
	uint32_t n = htonl((uint32_t)(len + 4));

	hdr[0] = type;
	memcpy(hdr + 1, &n, 4);
	if (write(fd, hdr, 5) != 5 || (len && write(fd, body, len) !=
	    (ssize_t)len))
		fprintf(stderr, "harness: raw write failed\n");
}

/*
 * The result of a query sent with PQsendQuery, waiting up to ms for it;
 * NULL if none came in time (the query may still be waiting in pgweir).
 */
PGresult *
it_result_within(PGconn *conn, int ms)
{
	long long end = it_now_ms() + ms;

	while (it_now_ms() < end) {
		struct pollfd pfd = { PQsocket(conn), POLLIN, 0 };
		if (!PQisBusy(conn))
			return PQgetResult(conn);
		poll(&pfd, 1, 50);
		if (!PQconsumeInput(conn))
			return PQgetResult(conn);
	}
	return NULL;
}

/* Monotonic milliseconds, for tests that time what pgweir does. */
long long
it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send a protocol 3.0 StartupMessage for user and database. */
int
it_send_startup(int fd, const char *db, const char *user)
{
	char pkt[1024];
	size_t o = 8;
	uint32_t n;

	if (strlen(db) + strlen(user) + 32 > sizeof(pkt))
		return -1;
	o += (size_t)sprintf(pkt + o, "user") + 1;
	o += (size_t)sprintf(pkt + o, "%s", user) + 1;
	o += (size_t)sprintf(pkt + o, "database") + 1;
	o += (size_t)sprintf(pkt + o, "%s", db) + 1;
	pkt[o++] = 0;
	n = htonl((uint32_t)o);
	memcpy(pkt, &n, 4);
	n = htonl(196608);
	memcpy(pkt + 4, &n, 4);
	return write(fd, pkt, o) == (ssize_t)o ? 0 : -1;
}

/* Write DIR/userlist.txt (an auth_file) and return its path. */
const char *
it_write_userlist(struct it_env *e, const char *text)
{
	static char path[300];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/userlist.txt", e->dir);
	fp = fopen(path, "w");
	if (fp == NULL)
		return NULL;
	fputs(text, fp);
	fclose(fp);
	chmod(path, 0644);
	return path;
}

/* pgweir's resident memory in kB, or -1. */
long
it_pgweir_rss_kb(struct it_env *e)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)e->pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* Log in on a raw TCP connection (trust); the fd once ReadyForQuery came. */
int
it_raw_login(struct it_env *e, const char *db, const char *user)
{
	char types[256];
	int fd = it_raw_connect(e);

	if (fd < 0)
		return -1;
	if (it_send_startup(fd, db, user) < 0 ||
	    it_raw_until_ready(fd, types, sizeof(types), NULL, 0, NULL, 0) <
	    0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Parse with no parameter types. */
void
it_raw_parse(int fd, const char *name, const char *query)
{
	char body[4096];
	size_t o = 0;

	o += (size_t)sprintf(body + o, "%s", name) + 1;
	o += (size_t)sprintf(body + o, "%s", query) + 1;
	body[o++] = 0;
	body[o++] = 0;
	it_raw_send(fd, 'P', body, o);
}

/* Bind with one text parameter (or none if param is NULL). */
void
it_raw_bind(int fd, const char *portal, const char *stmt, const char *param)
{
	char body[4096];
	size_t o = 0;
	uint32_t n;

	o += (size_t)sprintf(body + o, "%s", portal) + 1;
	o += (size_t)sprintf(body + o, "%s", stmt) + 1;
	body[o++] = 0;		/* no parameter formats: text */
	body[o++] = 0;
	body[o++] = 0;
	body[o++] = param ? 1 : 0;
	if (param) {
		n = htonl((uint32_t)strlen(param));
		memcpy(body + o, &n, 4);
		o += 4;
		memcpy(body + o, param, strlen(param));
		o += strlen(param);
	}
	body[o++] = 0;		/* no result formats */
	body[o++] = 0;
	it_raw_send(fd, 'B', body, o);
}

/* Describe a statement ('S') or portal ('P'). */
void
it_raw_describe(int fd, char what, const char *name)
{
	char body[512];
	size_t o = 0;

	body[o++] = what;
	o += (size_t)sprintf(body + o, "%s", name) + 1;
	it_raw_send(fd, 'D', body, o);
}

/* Execute a portal (all rows). */
void
it_raw_execute(int fd, const char *portal)
{
	char body[512];
	size_t o = 0;

	o += (size_t)sprintf(body + o, "%s", portal) + 1;
	memset(body + o, 0, 4);
	o += 4;
	it_raw_send(fd, 'E', body, o);
}

/* Close a statement ('S') or portal ('P'). */
void
it_raw_close(int fd, char what, const char *name)
{
	char body[512];
	size_t o = 0;

	body[o++] = what;
	o += (size_t)sprintf(body + o, "%s", name) + 1;
	it_raw_send(fd, 'C', body, o);
}

/* Sync. */
void
it_raw_sync(int fd)
{
	it_raw_send(fd, 'S', NULL, 0);
}

/* Read exactly len bytes (5 s at most); -1 on EOF or timeout. */
static int
read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 10000) <= 0)
			return -1;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* The last BackendKeyData it_raw_until_ready read (pid 0: none yet). */
static uint32_t last_key_pid, last_key_secret;

void
it_raw_backend_key(uint32_t *pid, uint32_t *key)
{
	*pid = last_key_pid;
	*key = last_key_secret;
}

/*
 * Read messages until ReadyForQuery.  types gets one letter per message
 * ("12TDCZ"); err the message of the first ErrorResponse; firstval the
 * first column of the first DataRow.  Returns 0, or -1 on EOF/timeout.
 */
int
it_raw_until_ready(int fd, char *types, size_t typeslen, char *err,
    size_t errlen, char *firstval, size_t vallen)
{
	size_t nt = 0;

	if (err && errlen)
		err[0] = '\0';
	if (firstval && vallen)
		firstval[0] = '\0';
	for (;;) {
		char hdr[5], *body;
		uint32_t len;

		if (read_exact(fd, hdr, 5) < 0)
			break;
		memcpy(&len, hdr + 1, 4);
		len = ntohl(len) - 4;
		body = malloc(len + 1);
		if (body == NULL || read_exact(fd, body, len) < 0) {
			free(body);
			break;
		}
		body[len] = '\0';
		if (nt + 1 < typeslen)
			types[nt++] = hdr[0];
		if (hdr[0] == 'K' && len >= 8) {
			memcpy(&last_key_pid, body, 4);
			memcpy(&last_key_secret, body + 4, 4);
			last_key_pid = ntohl(last_key_pid);
			last_key_secret = ntohl(last_key_secret);
		}
		if (hdr[0] == 'E' && err && errlen && err[0] == '\0') {
			for (size_t i = 0; i < len && body[i]; ) {
				if (body[i] == 'M') {
					snprintf(err, errlen, "%s",
					    body + i + 1);
					break;
				}
				i += strlen(body + i) + 1;
			}
		}
		if (hdr[0] == 'D' && firstval && vallen && firstval[0] ==
		    '\0' && len >= 6) {
			uint32_t vl;
			memcpy(&vl, body + 2, 4);
			vl = ntohl(vl);
			if (vl != 0xffffffffu && vl < vallen && 6 + vl <= len) {
				memcpy(firstval, body + 6, vl);
				firstval[vl] = '\0';
			}
		}
		free(body);
		if (hdr[0] == 'Z') {
			if (types && typeslen)
				types[nt] = '\0';
			return 0;
		}
	}
	if (typeslen)
		types[nt < typeslen ? nt : typeslen - 1] = '\0';
	return -1;
}

/* The writer's loop (in the child); see it_write_load_start. */
static void
write_load(struct it_env *e, const char *db, const char *path, int seconds)
{
	FILE *fp = fopen(path, "w");
	PGconn *c = it_connect(e, db, it_pg_user(), NULL);
	long long end = it_now_ms() + seconds * 1000LL;

	if (fp == NULL || PQstatus(c) != CONNECTION_OK)
		_exit(1);
	while (it_now_ms() < end) {
		PGresult *r = PQexec(c, "insert into t values (1)");
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		fprintf(fp, "%lld %s\n", it_now_ms(),
		    PQresultStatus(r) == PGRES_COMMAND_OK ? "ok" :
		    state ? state : "broken");
		fflush(fp);
		PQclear(r);
		if (PQstatus(c) != CONNECTION_OK) {
			/* pgweir closed it: a new connection, as apps do */
			PQfinish(c);
			c = it_connect(e, db, it_pg_user(), NULL);
		}
	}
	PQfinish(c);
	fclose(fp);
	_exit(0);
}

pid_t
it_write_load_start(struct it_env *e, const char *db, const char *path,
    int seconds)
{
	pid_t pid = fork();

	if (pid == 0)
		write_load(e, db, path, seconds);
	return pid;
}

int
it_write_load_end(pid_t writer, const char *path, long long stopped,
    long long resumed, struct it_writes *w)
{
	char line[128], what[32];
	long long ms, last_ok = 0;
	int status;
	FILE *fp;

	memset(w, 0, sizeof(*w));
	if (waitpid(writer, &status, 0) != writer || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || (fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%lld %31s", &ms, what) != 2)
			continue;
		if (strcmp(what, "ok") != 0) {
			w->failed++;
			w->read_only += strcmp(what, "25006") == 0;
			continue;
		}
		if (last_ok != 0 && ms - last_ok > w->longest_gap)
			w->longest_gap = ms - last_ok;
		last_ok = ms;
		if (ms < stopped) {
			w->ok_before++;
		} else if (ms >= resumed) {
			w->ok_after++;
			if (w->first_after == 0)
				w->first_after = ms;
		}
	}
	fclose(fp);
	return 0;
}
