/* SPDX-License-Identifier: ISC */
/*
 * Certificates that rotate themselves: pgweir notices that its TLS key,
 * certificate and CA files changed and loads them for new connections,
 * with no reload or restart, as cert-manager's rotations need.
 *
 * The client side: the key and certificate are replaced by ones of another
 * CA, key first, as a rotation that writes file by file does; in between
 * (the key does not match the certificate) the old ones stay in force and
 * the reason is logged; once both are new, clients verify pgweir with the
 * new CA and no longer with the old; a connection opened before goes on;
 * a broken file keeps the last good ones.  The server side: rewriting the
 * CA file pgweir verifies PostgreSQL with retires the server connections,
 * so the next transaction runs on a new backend.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;

static int
setup(void **state)
{
	char settings[1024], dbs[256];

	(void)state;
	if (it_env_init(&env) < 0 || it_make_certs(&env) < 0 ||
	    it_write_pg_hba(&env, "local all all trust\n"
	    "host all all 127.0.0.1/32 trust\n") < 0)
		return -1;
	/* a second CA with its own certificates, and the files in use */
	if (it_sh(&env, NULL, 0, "%s/make-test-certs.sh '%s/certs-b' && "
	    "mkdir '%s/live' && cp '%s/certs/server.crt' '%s/certs/server.key' "
	    "'%s/live/' && cp '%s/certs/ca.crt' '%s/live/pgca.crt' && "
	    "chown -R --reference='%s/certs' '%s/live' '%s/certs-b'",
	    getenv("PGWEIR_SCRIPTS") ? getenv("PGWEIR_SCRIPTS") : "scripts",
	    env.dir, env.dir, env.dir, env.dir, env.dir, env.dir, env.dir,
	    env.dir, env.dir, env.dir) != 0)
		return -1;
	it_pg_use_tls(&env);
	if (it_pg_start(&env) < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=127.0.0.1 port=%d\n",
	    env.pg_port);
	snprintf(settings, sizeof(settings), "auth_type = trust\n"
	    "pool_mode = transaction\ndefault_pool_size = 1\n"
	    "client_tls_sslmode = require\n"
	    "client_tls_cert_file = %s/live/server.crt\n"
	    "client_tls_key_file = %s/live/server.key\n"
	    "server_tls_sslmode = verify-ca\n"
	    "server_tls_ca_file = %s/live/pgca.crt\n",
	    env.dir, env.dir, env.dir);
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* Wait until the log holds needle more than `was` times. */
static bool
wait_more(const char *needle, int was)
{
	for (int i = 0; i < 100; i++) {
		if (it_log_count(&env, needle) > was)
			return true;
		it_sleep_ms(100);
	}
	return false;
}

/* A TLS login that checks pgweir's certificate against a CA: the error. */
static char *
login_with_ca(const char *ca_dir, PGconn **keep)
{
	static char err[512];
	char extra[512];
	PGconn *conn;

	snprintf(extra, sizeof(extra), "sslmode=verify-ca "
	    "sslrootcert=%s/%s/ca.crt", env.dir, ca_dir);
	conn = it_connect(&env, "postgres", "postgres", extra);
	snprintf(err, sizeof(err), "%s", PQstatus(conn) == CONNECTION_OK ?
	    "" : PQerrorMessage(conn));
	if (keep != NULL && PQstatus(conn) == CONNECTION_OK)
		*keep = conn;
	else
		PQfinish(conn);
	return err;
}

/* Copy a file of the test's directory over another (a new inode). */
static void
replace(const char *from, const char *to)
{
	assert_int_equal(it_sh(&env, NULL, 0, "cp '%s/%s' '%s/%s.new' && "
	    "chown --reference='%s/%s' '%s/%s.new' && "
	    "mv '%s/%s.new' '%s/%s'", env.dir, from, env.dir, to, env.dir, to,
	    env.dir, to, env.dir, to, env.dir, to), 0);
}

static void
test_client_files_rotate(void **state)
{
	const char *loaded = "TLS files changed: new connections use them";
	const char *refused = "TLS files changed but do not load";
	PGconn *before = NULL;
	int n_loaded = it_log_count(&env, loaded);
	int n_refused = it_log_count(&env, refused);

	(void)state;
	assert_string_equal(login_with_ca("certs", &before), "");
	assert_non_null(before);
	assert_non_null(strstr(login_with_ca("certs-b", NULL),
	    "certificate verify failed"));

	/* the new key first: it does not match the certificate in use */
	replace("certs-b/server.key", "live/server.key");
	assert_true(wait_more(refused, n_refused));
	assert_string_equal(login_with_ca("certs", NULL), "");

	/* then the certificate: both new, in force without a reload */
	replace("certs-b/server.crt", "live/server.crt");
	assert_true(wait_more(loaded, n_loaded));
	assert_string_equal(login_with_ca("certs-b", NULL), "");
	assert_non_null(strstr(login_with_ca("certs", NULL),
	    "certificate verify failed"));
	/* the connection made with the old certificate goes on */
	assert_int_equal(it_query_int(before, "select 1"), 1);
	PQfinish(before);

	/* a broken certificate keeps the last good ones */
	n_refused = it_log_count(&env, refused);
	assert_int_equal(it_sh(&env, NULL, 0, "echo garbage > "
	    "'%s/live/server.crt.new' && mv '%s/live/server.crt.new' "
	    "'%s/live/server.crt'", env.dir, env.dir, env.dir), 0);
	assert_true(wait_more(refused, n_refused));
	assert_string_equal(login_with_ca("certs-b", NULL), "");
	assert_true(it_pgweir_alive(&env));

	/* mended, it is loaded again (both sides load together, so the
	 * next test needs good client files) */
	n_loaded = it_log_count(&env, loaded);
	replace("certs-b/server.crt", "live/server.crt");
	assert_true(wait_more(loaded, n_loaded));
	assert_string_equal(login_with_ca("certs-b", NULL), "");
}

static void
test_server_files_retire_servers(void **state)
{
	const char *retired = "closing because: server TLS files changed";
	char extra[512];
	PGconn *conn;
	long long pid;
	int n = it_log_count(&env, retired);

	(void)state;
	snprintf(extra, sizeof(extra), "sslmode=require");
	conn = it_connect(&env, "postgres", "postgres", extra);
	assert_int_equal(PQstatus(conn), CONNECTION_OK);
	pid = it_query_int(conn, "select pg_backend_pid()");
	assert_int_equal(it_query_int(conn, "select pg_backend_pid()"), pid);
	assert_int_equal(it_query_int(conn,
	    "select count(*) from pg_stat_ssl where pid = pg_backend_pid() "
	    "and ssl"), 1);

	/* the same CA written anew (as a rotation of its bundle would) */
	replace("certs/ca.crt", "live/pgca.crt");
	assert_true(wait_more(retired, n));
	assert_true(it_query_int(conn, "select pg_backend_pid()") != pid);
	PQfinish(conn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_files_rotate),
		cmocka_unit_test(test_server_files_retire_servers),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
