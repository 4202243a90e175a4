/* SPDX-License-Identifier: ISC */
/*
 * The CloudNativePG contract: what CloudNativePG's Pooler does to the
 * PgBouncer it runs, done to pgweir on this machine without Kubernetes.
 * The Pooler writes pgbouncer.ini, pg_hba.conf and userlist.txt with its
 * fixed keys (the unix socket directory, admin_users = pgbouncer, auth_type
 * = hba with `local pgbouncer pgbouncer peer`, auth_user/auth_query calling
 * a user_search() function in auth_dbname, client and server TLS files,
 * server_tls_sslmode = verify-ca, ignore_startup_parameters =
 * extra_float_digits,options, keys sorted by name), starts the binary by
 * the name `pgbouncer` as its own account, sends PAUSE, RESUME and RELOAD
 * over the unix socket as that account, reads SHOW LISTS, SHOW POOLS and
 * SHOW STATS by column position for its metrics, and stops it with
 * SIGINT.  Runs as root only (it makes the `pgbouncer` account, as the
 * Pooler's image has).
 */
#include "config.h"

#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static bool as_root;

/* Write a file of the Pooler's, owned by the pgbouncer account. */
static int
write_owned(const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/configs/%s", env.dir, name);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fputs(text, fp);
	fclose(fp);
	return it_sh(&env, NULL, 0, "chown pgbouncer: '%s' && chmod 600 '%s'",
	    path, path);
}

/* The three files, as the Pooler generates them for pool_mode session. */
static int
write_pooler_files(void)
{
	char ini[4096], dir[300];

	snprintf(dir, sizeof(dir), "%s/configs", env.dir);
	snprintf(ini, sizeof(ini),
	    "\n[databases]\n"
	    "* = host=127.0.0.1 port=%d\n"
	    "\n[pgbouncer]\n"
	    "pool_mode = session\n"
	    "auth_user = cnpg_pooler_pgbouncer\n"
	    "auth_query = SELECT usename, passwd FROM public.user_search($1)\n"
	    "auth_dbname = postgres\n"
	    "\n"
	    "admin_users = pgbouncer\n"
	    "auth_file = %s/userlist.txt\n"
	    "auth_hba_file = %s/pg_hba.conf\n"
	    "auth_type = hba\n"
	    "client_tls_ca_file = %s/client-ca/ca.crt\n"
	    "client_tls_cert_file = %s/client-tls/tls.crt\n"
	    "client_tls_key_file = %s/client-tls/tls.key\n"
	    "client_tls_sslmode = prefer\n"
	    "ignore_startup_parameters = extra_float_digits,options\n"
	    "listen_addr = *\n"
	    "listen_port = %d\n"
	    "log_stats = 0\n"
	    "server_tls_ca_file = %s/server-tls/ca.crt\n"
	    "server_tls_sslmode = verify-ca\n"
	    "unix_socket_dir = %s/run\n",
	    env.pg_port, dir, dir, dir, dir, dir, env.port, dir, env.dir);
	if (it_sh(&env, NULL, 0, "cd '%s' && mkdir -p run configs/client-ca "
	    "configs/client-tls configs/server-tls && "
	    "cp certs/ca.crt configs/client-ca/ca.crt && "
	    "cp certs/ca.crt configs/server-tls/ca.crt && "
	    "cp certs/server.crt configs/client-tls/tls.crt && "
	    "cp certs/server.key configs/client-tls/tls.key && "
	    "chown -R pgbouncer: configs run && chmod 700 configs && "
	    "chmod 600 configs/client-tls/tls.key", env.dir) != 0)
		return -1;
	if (write_owned("pgbouncer.ini", ini) < 0 ||
	    write_owned("pg_hba.conf", "\nlocal pgbouncer pgbouncer peer\n\n"
	    "host all all 0.0.0.0/0 md5\nhost all all ::/0 md5\n") < 0 ||
	    write_owned("userlist.txt", "\n\"cnpg_pooler_pgbouncer\" "
	    "\"pooler-pw\"\n") < 0)
		return -1;
	snprintf(env.ini, sizeof(env.ini), "%s/pgbouncer.ini", dir);
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	as_root = getuid() == 0;
	if (!as_root)
		return 0;
	/* the Pooler's image has this account (uid 998 there) */
	if (getpwnam("pgbouncer") == NULL && system("useradd --system "
	    "--no-create-home --shell /usr/sbin/nologin pgbouncer") != 0)
		return -1;
	/* as CloudNativePG's clusters: TLS and SCRAM only, over TCP */
	if (it_env_init(&env) < 0 || it_make_certs(&env) < 0 ||
	    it_write_pg_hba(&env, "local all all trust\n"
	    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
	    "hostssl all all ::1/128 scram-sha-256\n") < 0)
		return -1;
	it_pg_use_tls(&env);
	if (it_pg_start(&env) < 0)
		return -1;
	/* what CloudNativePG creates in every database for its Pooler */
	if (it_pg_exec(&env, "create role cnpg_pooler_pgbouncer login "
	    "password 'pooler-pw';"
	    "create role app login password 'app-pw';"
	    "create function public.user_search(uname text) returns table "
	    "(usename name, passwd text) language sql security definer as "
	    "'select usename, passwd from pg_catalog.pg_shadow where "
	    "usename = $1;';"
	    "revoke all on function public.user_search(text) from public;"
	    "grant execute on function public.user_search(text) to "
	    "cnpg_pooler_pgbouncer;") < 0 ||
	    it_pg_exec(&env, "create database app owner app") < 0)
		return -1;
	/* the binary by PgBouncer's name, run as the Pooler's account */
	snprintf(env.bin, sizeof(env.bin), "%s/pgbouncer", env.dir);
	if (it_sh(&env, NULL, 0, "ln -s \"$(readlink -f '%s')\" '%s' && "
	    "chmod 755 '%s'", getenv("PGWEIR_BIN") ? getenv("PGWEIR_BIN") :
	    "./pgweir", env.bin, env.dir) != 0)
		return -1;
	snprintf(env.run_as, sizeof(env.run_as), "pgbouncer");
	if (write_pooler_files() < 0)
		return -1;
	return it_pgweir_start_raw(&env);
}

static int
teardown(void **state)
{
	(void)state;
	return as_root ? it_env_fini(&env) : 0;
}

/* Run a console command as the pgbouncer account, over the unix socket. */
static int
console(char *out, size_t len, const char *sql)
{
	return it_sh(&env, out, len, "su -s /bin/sh pgbouncer -c \"psql -X -w "
	    "-At -F '|' -h '%s/run' -p %d -U pgbouncer -d pgbouncer -c '%s'\" "
	    "2>&1", env.dir, env.port, sql);
}

/* An application's connection: TCP, TLS, password (SCRAM behind md5). */
static PGconn *
app_connect(void)
{
	char conninfo[256];

	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d "
	    "dbname=app user=app password=app-pw sslmode=require "
	    "options='-c search_path=public'", env.port);
	return PQconnectdb(conninfo);
}

/*
 * The files as the Pooler writes them load; an application logs in
 * through them (TLS to pgweir, auth_query through user_search, SCRAM and
 * TLS verify-ca to PostgreSQL), and the ignored startup parameters are
 * accepted.
 */
static void
test_pooler_files_serve_an_application(void **state)
{
	PGconn *c;

	(void)state;
	if (!as_root)
		skip();
	c = app_connect();
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("app login: %s", PQerrorMessage(c));
	assert_non_null(PQsslInUse(c) ? "tls" : NULL);
	assert_int_equal(it_query_int(c, "select 41 + 1"), 42);
	/* pgweir reached PostgreSQL over TLS */
	assert_int_equal(it_query_int(c, "select count(*) from pg_stat_ssl "
	    "where pid = pg_backend_pid() and ssl"), 1);
	PQfinish(c);
}

/*
 * The Pooler's controller: peer authentication as pgbouncer on the unix
 * socket, PAUSE and RESUME, RELOAD, and the columns it reads by position.
 */
static void
test_controller_commands(void **state)
{
	char out[4096];
	PGconn *c;

	(void)state;
	if (!as_root)
		skip();
	/* PAUSE waits for the servers in use: in session mode, for every
	 * session to end, so the Pooler pauses between them */
	assert_int_equal(console(out, sizeof(out), "PAUSE"), 0);
	assert_non_null(strstr(out, "PAUSE"));
	assert_int_equal(console(out, sizeof(out), "RESUME"), 0);
	assert_non_null(strstr(out, "RESUME"));
	assert_int_equal(console(out, sizeof(out), "RELOAD"), 0);
	assert_non_null(strstr(out, "RELOAD"));
	c = app_connect();
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(it_query_int(c, "select 2"), 2);

	/* SHOW LISTS: item, value; the first rows in PgBouncer's order */
	assert_int_equal(console(out, sizeof(out), "SHOW LISTS"), 0);
	if (strncmp(out, "databases|", 10) != 0 ||
	    strstr(out, "\nusers|") == NULL || strstr(out, "\npools|") == NULL)
		fail_msg("SHOW LISTS: %s", out);
	/* SHOW POOLS: database, user, cl_active, ... one session linked */
	assert_int_equal(console(out, sizeof(out), "SHOW POOLS"), 0);
	if (strstr(out, "app|app|1|0|") == NULL)
		fail_msg("SHOW POOLS: %s", out);
	/* SHOW STATS: database first, then total_xact_count */
	assert_int_equal(console(out, sizeof(out), "SHOW STATS"), 0);
	if (strstr(out, "app|") == NULL)
		fail_msg("SHOW STATS: %s", out);
	/* another account is refused the console by the hba's peer line */
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -w -At "
	    "-h '%s/run' -p %d -U pgbouncer -d pgbouncer -c 'SHOW LISTS' 2>&1",
	    env.dir, env.port) != 0, 1);
	PQfinish(c);
}

/* The Pooler stops it with SIGINT: a session in use finishes first. */
static void
test_sigint_stops_it(void **state)
{
	PGconn *c;

	(void)state;
	if (!as_root)
		skip();
	c = app_connect();
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(it_query_int(c, "select 3"), 3);
	assert_int_equal(it_pgweir_signal(&env, SIGINT), 0);
	assert_true(it_wait_log(&env, "draining", 5000));
	assert_int_equal(it_query_int(c, "select 4"), 4);
	PQfinish(c);
	assert_int_equal(it_pgweir_wait(&env, 10000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pooler_files_serve_an_application),
		cmocka_unit_test(test_controller_commands),
		cmocka_unit_test(test_sigint_stops_it),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
