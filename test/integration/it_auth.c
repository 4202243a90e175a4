/* SPDX-License-Identifier: ISC */
/*
 * Authentication and TLS against a PostgreSQL that demands SCRAM over TCP
 * and has TLS on (certificates made at test time with `openssl`): password
 * methods with right, wrong and unknown users; SCRAM pass-through with only
 * a SCRAM secret; auth_query through a SECURITY DEFINER function; TLS to
 * pgweir with verify-full and channel binding; direct TLS; cert
 * authentication (and a CA-signed certificate whose common name hides a
 * NUL, made here with OpenSSL's API since the command line cannot write
 * one); TLS to PostgreSQL with verify-full; server connections retired
 * when server TLS settings change; TLS settings changed one SET at a
 * time; a refused server login reaching the clients that wait; SSLRequest
 * followed by plaintext; hba rules with reject and peer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static char alice_scram[512];	/* alice's secret as PostgreSQL keeps it */

static int
setup(void **state)
{
	char sql[1024];
	PGconn *conn;

	(void)state;
	if (it_env_init(&env) < 0 || it_make_certs(&env) < 0 ||
	    it_write_pg_hba(&env, "local all all trust\n"
	    "host all all 127.0.0.1/32 scram-sha-256\n") < 0)
		return -1;
	it_pg_use_tls(&env);
	if (it_pg_start(&env) < 0)
		return -1;
	snprintf(sql, sizeof(sql),
	    "create role alice login password 'alice-pw';"
	    "create role bob login password 'bob-pw';"
	    "create role carol login password 'carol-pw';"
	    "create role pgweir_auth login password 'auth-pw';"
	    "create role nopw login;"
	    "create role \"%s\" login;"
	    "create schema pgweir;"
	    "create function pgweir.get_auth(p_usename text) returns "
	    "table(username text, password text) language sql security "
	    "definer set search_path = pg_catalog, pg_temp as $$ select "
	    "rolname::text, case when rolvaliduntil < now() then null else "
	    "rolpassword end from pg_authid where rolname = p_usename and "
	    "rolcanlogin $$;"
	    "revoke all on function pgweir.get_auth(text) from public;"
	    "grant usage on schema pgweir to pgweir_auth;"
	    "grant execute on function pgweir.get_auth(text) to pgweir_auth;",
	    it_os_user());
	if (it_pg_exec(&env, sql) < 0)
		return -1;
	conn = it_connect_pg(&env, "postgres");
	{
		char *v = it_query_text(conn, "select rolpassword from "
		    "pg_authid where rolname = 'alice'");
		if (v == NULL)
			return -1;
		snprintf(alice_scram, sizeof(alice_scram), "%s", v);
		free(v);
	}
	PQfinish(conn);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/*
 * The [databases] of these tests: postgres over TCP (where PostgreSQL
 * wants SCRAM), byname by host name, local over the unix socket (trust),
 * and authdb / app for auth_dbname (app runs auth_query in authdb).
 */
static const char *
databases(void)
{
	static char dbs[1024];

	snprintf(dbs, sizeof(dbs), "postgres = host=127.0.0.1 port=%d\n"
	    "byname = host=localhost port=%d dbname=postgres\n"
	    "local = host=%s port=%d dbname=postgres\n"
	    "authdb = host=%s port=%d dbname=postgres\n"
	    "app = host=%s port=%d dbname=postgres auth_dbname=authdb\n",
	    env.pg_port, env.pg_port, env.pgdir, env.pg_port, env.pgdir,
	    env.pg_port, env.pgdir, env.pg_port);
	return dbs;
}

/* Restart pgweir with these settings and the databases above. */
static void
restart(const char *settings)
{
	if (env.pid > 0)
		assert_int_equal(it_pgweir_stop(&env), 0);
	assert_int_equal(it_pgweir_start(&env, settings, databases()), 0);
}

/* Rewrite the config and reload; wait for the log line that must follow. */
static void
reload(const char *settings, const char *expect_log)
{
	assert_int_equal(it_write_config(&env, settings, databases()), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, expect_log, 5000));
}

/*
 * Settings with auth_query through pgweir.get_auth (as pgweir_auth) and
 * an auth_file holding pgweir_auth's and alice's passwords.
 */
static const char *
auth_query_settings(const char *auth_type, const char *more)
{
	static char settings[1024];

	snprintf(settings, sizeof(settings), "auth_type = %s\n"
	    "admin_users = alice\nauth_file = %s\nauth_user = pgweir_auth\n"
	    "auth_query = select username, password from "
	    "pgweir.get_auth($1)\n%s", auth_type,
	    it_write_userlist(&env, "\"pgweir_auth\" \"auth-pw\"\n"
	    "\"alice\" \"alice-pw\"\n"), more);
	return settings;
}

/* Write DIR/name (readable by pgweir's account) into path. */
static void
write_conf(const char *name, const char *text, char *path, size_t len)
{
	FILE *fp;

	snprintf(path, len, "%s/%s", env.dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, 0644);
}

/* Write DIR/hba.conf and return its path. */
static const char *
write_hba(const char *text)
{
	static char path[300];

	write_conf("hba.conf", text, path, sizeof(path));
	return path;
}

/* Run a console command as alice (an admin_users); its error or "". */
static const char *
console(const char *command)
{
	static char err[512];
	PGconn *conn = it_connect(&env, "pgweir", "alice", "password=alice-pw");
	PGresult *res;

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("console: %s", PQerrorMessage(conn));
	res = PQexec(conn, command);
	err[0] = '\0';
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		snprintf(err, sizeof(err), "%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return err;
}

/* Connect and report the error text ("" when it worked). */
static char *
login_error(const char *db, const char *user, const char *extra)
{
	static char err[512];
	PGconn *conn = it_connect(&env, db, user, extra);

	err[0] = '\0';
	if (PQstatus(conn) != CONNECTION_OK)
		snprintf(err, sizeof(err), "%s", PQerrorMessage(conn));
	else if (it_query_int(conn, "select 1") != 1)
		snprintf(err, sizeof(err), "query failed: %s",
		    PQerrorMessage(conn));
	PQfinish(conn);
	return err;
}

/* The same message with the user name replaced, to compare failures. */
static void
assert_same_failure(const char *a, const char *user_a, const char *b,
    const char *user_b)
{
	char na[512], nb[512];
	const char *p;

	p = strstr(a, user_a);
	assert_non_null(p);
	snprintf(na, sizeof(na), "%.*sX%s", (int)(p - a), a,
	    p + strlen(user_a));
	p = strstr(b, user_b);
	assert_non_null(p);
	snprintf(nb, sizeof(nb), "%.*sX%s", (int)(p - b), b,
	    p + strlen(user_b));
	assert_string_equal(na, nb);
}

/* SCRAM with a plaintext auth_file; unknown users fail the same way. */
static void
test_scram_login(void **state)
{
	char userlist[256], settings[512], wrong[512];
	const char *err;

	(void)state;
	snprintf(userlist, sizeof(userlist), "\"alice\" \"alice-pw\"\n");
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\n", it_write_userlist(&env, userlist));
	restart(settings);
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	/* a failed SCRAM exchange reads as PgBouncer's, user known or not */
	err = login_error("postgres", "alice", "password=nope");
	assert_non_null(strstr(err, "FATAL:  SASL authentication failed"));
	snprintf(wrong, sizeof(wrong), "%s", err);
	err = login_error("postgres", "mallory", "password=nope");
	assert_string_equal(wrong, err);
	assert_true(it_wait_log(&env, "mallory@127.0.0.1", 5000));
	assert_true(it_wait_log(&env, "closing because: SASL authentication "
	    "failed (age=", 5000));
	/* psql, as a user would */
	{
		char out[512];
		assert_int_equal(it_sh(&env, out, sizeof(out), "PGPASSWORD="
		    "alice-pw psql -X -h 127.0.0.1 -p %d -U alice -Atc "
		    "'select current_user' postgres", env.port), 0);
		assert_string_equal(out, "alice\n");
	}
}

/* md5 and plain with the other kinds of secrets. */
static void
test_md5_and_plain(void **state)
{
	char userlist[512], settings[512];
	char md5[64];

	(void)state;
	/* md5 secret of bob-pw for bob, made the way PostgreSQL does */
	assert_int_equal(it_sh(&env, md5, sizeof(md5), "printf %%s "
	    "'bob-pwbob' | md5sum | cut -c1-32"), 0);
	md5[32] = '\0';
	snprintf(userlist, sizeof(userlist), "\"alice\" \"%s\"\n"
	    "\"bob\" \"md5%s\"\n\"carol\" \"carol-pw\"\n", alice_scram, md5);
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "auth_file = %s\n", it_write_userlist(&env, userlist));
	restart(settings);
	/* carol: plaintext secret, md5 exchange */
	assert_string_equal(login_error("postgres", "carol",
	    "password=carol-pw"), "");
	/* alice: a SCRAM secret, so md5 is upgraded to SCRAM */
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	/* bob: md5 secret; the client checks out, but pgweir cannot log in
	 * to a SCRAM-only server with an md5 secret: the server says why */
	assert_non_null(strstr(login_error("postgres", "bob",
	    "password=bob-pw"), "SCRAM"));
	assert_non_null(strstr(login_error("postgres", "bob",
	    "password=bad"), "password authentication failed"));

	snprintf(settings, sizeof(settings), "auth_type = plain\n"
	    "auth_file = %s\n", it_write_userlist(&env, userlist));
	restart(settings);
	assert_string_equal(login_error("postgres", "carol",
	    "password=carol-pw"), "");
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	assert_non_null(strstr(login_error("postgres", "carol",
	    "password=x"), "password authentication failed"));
}

/*
 * Only alice's SCRAM secret is stored: her own proof gives pgweir the key
 * to log in to the SCRAM-only server as her.  With server TLS on (the
 * default "prefer"), that login is SCRAM-SHA-256-PLUS.
 */
static void
test_scram_pass_through(void **state)
{
	char userlist[600], settings[512];

	(void)state;
	snprintf(userlist, sizeof(userlist), "\"alice\" \"%s\"\n",
	    alice_scram);
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\n", it_write_userlist(&env, userlist));
	restart(settings);
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	assert_int_equal(it_pg_int(&env, "select count(*) from pg_stat_ssl s "
	    "join pg_stat_activity a using (pid) where a.usename = 'alice' "
	    "and s.ssl"), 1);
	assert_non_null(strstr(login_error("postgres", "alice",
	    "password=wrong"), "SASL authentication failed"));
}

/* auth_query through the SECURITY DEFINER function. */
static void
test_auth_query(void **state)
{
	char settings[1024];
	const char *err_bob, *err_nobody;
	char saved[512];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nauth_user = pgweir_auth\n"
	    "auth_query = select username, password from "
	    "pgweir.get_auth($1)\n",
	    it_write_userlist(&env, "\"pgweir_auth\" \"auth-pw\"\n"));
	restart(settings);
	assert_string_equal(login_error("postgres", "bob", "password=bob-pw"),
	    "");
	err_bob = login_error("postgres", "bob", "password=wrong");
	snprintf(saved, sizeof(saved), "%s", err_bob);
	err_nobody = login_error("postgres", "nobody", "password=wrong");
	assert_string_equal(saved, err_nobody);
	/* a role without a password fails every password method the same */
	assert_string_equal(login_error("postgres", "nopw", "password=x"),
	    saved);
	/* a role that may not log in is an unknown user */
	assert_int_equal(it_pg_exec(&env, "alter role carol nologin"), 0);
	assert_non_null(strstr(login_error("postgres", "carol",
	    "password=carol-pw"), "SASL authentication failed"));
	assert_int_equal(it_pg_exec(&env, "alter role carol login"), 0);
}

/* TLS to pgweir: verify-full with the test CA, and channel binding. */
static void
test_client_tls(void **state)
{
	char settings[1024], userlist[256], extra[512];

	(void)state;
	snprintf(userlist, sizeof(userlist), "\"alice\" \"alice-pw\"\n");
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nclient_tls_sslmode = require\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n",
	    it_write_userlist(&env, userlist), env.dir, env.dir);
	restart(settings);
	snprintf(extra, sizeof(extra), "host=localhost password=alice-pw "
	    "sslmode=verify-full sslrootcert=%s/client-certs/ca.crt "
	    "channel_binding=require", env.dir);
	assert_string_equal(login_error("postgres", "alice", extra), "");
	/* a client that does not trust our CA refuses to go on */
	snprintf(extra, sizeof(extra), "host=localhost password=alice-pw "
	    "sslmode=verify-full sslrootcert=%s/client-certs/other-ca.crt",
	    env.dir);
	assert_non_null(strstr(login_error("postgres", "alice", extra),
	    "certificate verify failed"));
	/* require: plaintext TCP clients are refused */
	assert_non_null(strstr(login_error("postgres", "alice",
	    "password=alice-pw sslmode=disable"), "SSL required"));

	/* a reload with a key file that does not load keeps the old ones */
	{
		FILE *fp = fopen(env.ini, "a");
		fprintf(fp, "client_tls_key_file = %s/certs/missing.key\n",
		    env.dir);
		fclose(fp);
	}
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "keeping the running configuration "
	    "and certificates", 5000));
	snprintf(extra, sizeof(extra), "host=localhost password=alice-pw "
	    "sslmode=verify-full sslrootcert=%s/client-certs/ca.crt", env.dir);
	assert_string_equal(login_error("postgres", "alice", extra), "");
	assert_true(it_log_contains(&env, "tls=TLSv1.3/"));
}

/* A raw connection that sends bytes and reads the answer. */
static size_t
raw_exchange(int fd, const void *data, size_t len, char *out, size_t outlen)
{
	size_t got = 0;

	assert_int_equal(write(fd, data, len), (ssize_t)len);
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		if (poll(&pfd, 1, 3000) <= 0)
			break;
		n = read(fd, out + got, outlen - got - 1);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	return got;
}

/* A StartupMessage for user/database. */
static size_t
startup_packet(uint8_t *pkt, const char *user)
{
	size_t o = 8;

	o += (size_t)sprintf((char *)pkt + o, "user") + 1;
	o += (size_t)sprintf((char *)pkt + o, "%s", user) + 1;
	o += (size_t)sprintf((char *)pkt + o, "database") + 1;
	o += (size_t)sprintf((char *)pkt + o, "local") + 1;
	pkt[o++] = 0;
	pkt[0] = pkt[1] = 0;
	pkt[2] = (uint8_t)(o >> 8);
	pkt[3] = (uint8_t)o;
	pkt[4] = 0;
	pkt[5] = 3;
	pkt[6] = pkt[7] = 0;
	return o;
}

/* SSLRequest with plaintext right behind it: refused (CVE-2021-23214). */
static void
test_ssl_request_then_plaintext(void **state)
{
	uint8_t pkt[128] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	char out[1024];
	size_t n;
	int fd;

	(void)state;
	n = 8 + startup_packet(pkt + 8, it_pg_user());
	fd = it_raw_connect(&env);
	n = raw_exchange(fd, pkt, n, out, sizeof(out));
	close(fd);
	assert_true(n > 1);
	assert_int_equal(out[0], 'E');
	assert_non_null(memmem(out, n, "received unencrypted data after SSL "
	    "request", 42));
}

/* Direct TLS: a ClientHello first, with ALPN "postgresql"; and without. */
static void
test_direct_tls(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	static const unsigned char alpn[] = "\x0apostgresql";
	uint8_t pkt[128];
	char buf[4096];
	size_t n, got = 0;
	SSL *ssl;
	int fd;

	(void)state;
	assert_non_null(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	fd = it_raw_connect(&env);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1);
	assert_int_equal(SSL_connect(ssl), 1);
	n = startup_packet(pkt, it_os_user());
	assert_int_equal(SSL_write(ssl, pkt, (int)n), (int)n);
	while (got < 6 || memcmp(buf + got - 6, "Z\0\0\0\5I", 6) != 0) {
		int r = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got));
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_int_equal(buf[0], 'R');	/* AuthenticationOk first */
	SSL_free(ssl);
	close(fd);

	/* without ALPN the connection is refused */
	fd = it_raw_connect(&env);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	assert_int_equal(SSL_write(ssl, pkt, (int)n), (int)n);
	{
		int r = SSL_read(ssl, buf, sizeof(buf));
		assert_true(r > 0);
		assert_int_equal(buf[0], 'E');
		assert_non_null(memmem(buf, (size_t)r, "ALPN", 4));
	}
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

/* Direct TLS and cert authentication need TLS and trust for the db. */
static void
test_tls_trust_setup(void **state)
{
	char settings[1024];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = trust\n"
	    "client_tls_sslmode = prefer\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n", env.dir, env.dir);
	restart(settings);
}

/* Cert authentication: the certificate's CN must be the user. */
static void
test_cert_auth(void **state)
{
	char settings[1024], extra[512];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = cert\n"
	    "client_tls_sslmode = verify-ca\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n"
	    "client_tls_ca_file = %s/certs/ca.crt\n"
	    "auth_file = %s\n", env.dir, env.dir, env.dir,
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	snprintf(extra, sizeof(extra), "sslmode=require "
	    "sslcert=%s/client-certs/client.crt "
	    "sslkey=%s/client-certs/client.key", env.dir, env.dir);
	assert_string_equal(login_error("postgres", "alice", extra), "");
	assert_non_null(strstr(login_error("postgres", "bob", extra),
	    "certificate authentication failed for user \"bob\""));
	/* verify-ca: no certificate, no TLS session */
	assert_string_not_equal(login_error("postgres", "alice",
	    "sslmode=require"), "");
}

/* Read a PEM certificate or key of the test CA. */
static void *
read_pem(const char *name, bool key)
{
	char path[400];
	void *obj;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/client-certs/%s", env.dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	obj = key ? (void *)PEM_read_PrivateKey(fp, NULL, NULL, NULL) :
	    (void *)PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(obj);
	return obj;
}

/*
 * A client certificate signed by the test CA whose common name is the
 * cn_len bytes at cn (NULs included), written as client-certs/STEM.crt
 * and STEM.key.
 */
static void
make_client_cert(const char *stem, const char *cn, size_t cn_len)
{
	X509 *ca = read_pem("ca.crt", false), *crt = X509_new();
	EVP_PKEY *ca_key = read_pem("ca.key", true);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_NAME *name = X509_NAME_new();
	char path[400];
	FILE *fp;

	assert_non_null(crt);
	assert_non_null(key);
	assert_non_null(name);
	assert_int_equal(X509_set_version(crt, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(crt),
	    (long)(getpid() + (int)cn_len)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(crt), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(crt), 86400));
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, (int)cn_len, -1, 0), 1);
	assert_int_equal(X509_set_subject_name(crt, name), 1);
	assert_int_equal(X509_set_issuer_name(crt,
	    X509_get_subject_name(ca)), 1);
	assert_int_equal(X509_set_pubkey(crt, key), 1);
	assert_true(X509_sign(crt, ca_key, EVP_sha256()) > 0);

	snprintf(path, sizeof(path), "%s/client-certs/%s.crt", env.dir, stem);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_X509(fp, crt), 1);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/client-certs/%s.key", env.dir, stem);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	chmod(path, 0600);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	X509_free(crt);
	X509_free(ca);
}

/*
 * Cert authentication compares the whole common name: a CA-signed
 * certificate for "alice\0.evil.example" is refused (it would read as
 * "alice" to a C string compare), and the same certificate without the
 * tail logs in.
 */
static void
test_cert_auth_embedded_nul(void **state)
{
	static const char evil[] = "alice\0.evil.example";
	char settings[1024], extra[512];

	(void)state;
	make_client_cert("nul", evil, sizeof(evil) - 1);
	make_client_cert("plain", evil, strlen(evil));
	snprintf(settings, sizeof(settings), "auth_type = cert\n"
	    "client_tls_sslmode = verify-ca\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n"
	    "client_tls_ca_file = %s/certs/ca.crt\n"
	    "auth_file = %s\n", env.dir, env.dir, env.dir,
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	snprintf(extra, sizeof(extra), "sslmode=require "
	    "sslcert=%s/client-certs/nul.crt "
	    "sslkey=%s/client-certs/nul.key", env.dir, env.dir);
	assert_non_null(strstr(login_error("postgres", "alice", extra),
	    "common name contains an embedded null"));
	snprintf(extra, sizeof(extra), "sslmode=require "
	    "sslcert=%s/client-certs/plain.crt "
	    "sslkey=%s/client-certs/plain.key", env.dir, env.dir);
	assert_string_equal(login_error("postgres", "alice", extra), "");
}

/* pgweir to PostgreSQL over TLS, verify-full: right CA works, wrong fails. */
static void
test_server_tls_verify_full(void **state)
{
	char settings[1024];
	const char *err;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nserver_tls_sslmode = verify-full\n"
	    "server_tls_ca_file = %s/certs/ca.crt\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"), env.dir);
	restart(settings);
	assert_string_equal(login_error("byname", "alice",
	    "password=alice-pw"), "");
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	assert_int_equal(it_pg_int(&env, "select count(*) from pg_stat_ssl s "
	    "join pg_stat_activity a using (pid) where a.usename = 'alice' "
	    "and s.ssl"), 2);

	/*
	 * A certificate that does not verify: as PgBouncer, pgweir treats
	 * the server as unreachable (the certificate may be fixed): the
	 * client waits while pgweir retries, and the log says why.
	 */
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nserver_tls_sslmode = verify-full\n"
	    "server_tls_ca_file = %s/certs/other-ca.crt\n"
	    "query_wait_timeout = 2\nserver_login_retry = 1\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"), env.dir);
	restart(settings);
	err = login_error("postgres", "alice", "password=alice-pw");
	assert_non_null(strstr(err, "query_wait_timeout"));
	assert_true(it_log_contains(&env, "certificate verify failed"));
}

/* Whether a client's server connection uses TLS ("true"/"false"). */
static char *
server_ssl(PGconn *conn)
{
	static char v[16];
	char *t = it_query_text(conn, "select ssl::text from pg_stat_ssl "
	    "where pid = pg_backend_pid()");

	snprintf(v, sizeof(v), "%s", t ? t : "(error)");
	free(t);
	return v;
}

/* alice's backends without TLS, after up to 3 s for them to go. */
static long long
plaintext_backends(void)
{
	const char *sql = "select count(*) from pg_stat_ssl s join "
	    "pg_stat_activity a using (pid) where a.usename = 'alice' and "
	    "not s.ssl";

	for (int i = 0; i < 60 && it_pg_int(&env, sql) > 0; i++)
		it_sleep_ms(50);
	return it_pg_int(&env, sql);
}

/* A console command as alice (an admin here) that must succeed. */
static void
console_ok(PGconn *console, const char *sql)
{
	PGresult *res = PQexec(console, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(console));
	PQclear(res);
}

/*
 * Turning server TLS on (SET or RELOAD) retires the plaintext server
 * connections: an idle one closes at once, one in a transaction when its
 * client releases it; a RELOAD that changes no TLS setting keeps them.
 */
static void
test_server_tls_change_retires(void **state)
{
	char settings[1024], extra[256];
	PGconn *c, *console;
	PGresult *res;
	long long pid;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nadmin_users = alice\npool_mode = transaction\n"
	    "server_tls_sslmode = disable\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	snprintf(extra, sizeof(extra), "password=alice-pw");
	c = it_connect(&env, "postgres", "alice", extra);
	console = it_connect(&env, "pgweir", "alice", extra);
	assert_int_equal(PQstatus(console), CONNECTION_OK);
	assert_string_equal(server_ssl(c), "false");
	res = PQexec(c, "begin");
	PQclear(res);
	assert_string_equal(server_ssl(c), "false");
	console_ok(console, "SET server_tls_sslmode = require");
	/* the transaction keeps its server to the end */
	assert_string_equal(server_ssl(c), "false");
	res = PQexec(c, "commit");
	PQclear(res);
	assert_string_equal(server_ssl(c), "true");
	assert_int_equal(plaintext_backends(), 0);
	assert_true(it_log_contains(&env, "closing because: obsolete "
	    "connection"));

	/* RELOAD puts the file's disable back: TLS connections retire */
	console_ok(console, "RELOAD");
	assert_string_equal(server_ssl(c), "false");
	assert_true(it_wait_log(&env, "closing because: database "
	    "configuration changed", 2000));
	/* a RELOAD without a TLS change keeps the server connection */
	pid = it_query_int(c, "select pg_backend_pid()");
	console_ok(console, "RELOAD");
	assert_int_equal(it_query_int(c, "select pg_backend_pid()"), pid);
	PQfinish(console);
	PQfinish(c);
}

/* Rewrite PostgreSQL's pg_hba.conf (rules first) and reload it. */
static void
pg_hba(const char *first_rules)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/pg_hba.conf", env.pgdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%slocal all all trust\n"
	    "host all all 127.0.0.1/32 scram-sha-256\n", first_rules);
	fclose(fp);
	assert_int_equal(it_pg_exec(&env, "select pg_reload_conf()"), 0);
}

/*
 * A server login PostgreSQL refuses reaches the clients already waiting
 * for a server of that pool (it has no other), instead of leaving them
 * waiting for a login that keeps failing.
 */
static void
test_refused_login_reaches_waiting_clients(void **state)
{
	char settings[1024];
	PGconn *c, *console;
	PGresult *res;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nadmin_users = alice\npool_mode = transaction\n"
	    "server_login_retry = 1\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	c = it_connect(&env, "postgres", "alice", "password=alice-pw");
	console = it_connect(&env, "pgweir", "alice", "password=alice-pw");
	assert_int_equal(it_query_int(c, "select 1"), 1);
	pg_hba("host all alice 127.0.0.1/32 reject\n");
	console_ok(console, "RECONNECT");
	assert_int_equal(PQsendQuery(c, "select 2"), 1);
	res = it_result_within(c, 5000);
	assert_non_null(res);
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	assert_non_null(strstr(PQresultErrorMessage(res), "pg_hba.conf "
	    "rejects connection"));
	PQclear(res);
	pg_hba("");
	PQfinish(c);
	PQfinish(console);
}

/* Collects NOTICE texts of a connection. */
static void
collect_notice(void *arg, const char *message)
{
	char *buf = arg;

	strncat(buf, message, 1023 - strlen(buf));
}

/*
 * TLS settings change one SET at a time: verify-full before its CA file,
 * and a key before its certificate, are accepted (the NOTICE says the old
 * settings stay in force) and the SET that completes them takes effect.
 */
static void
test_tls_multi_step_set(void **state)
{
	char settings[1024], extra[512], sql[512], notices[1024] = "";
	PGconn *console;
	const char *err;

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = scram-sha-256\n"
	    "auth_file = %s\nadmin_users = alice\n"
	    "server_tls_sslmode = disable\nclient_tls_sslmode = require\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n"
	    "query_wait_timeout = 2\nserver_login_retry = 1\n",
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n"), env.dir,
	    env.dir);
	restart(settings);
	console = it_connect(&env, "pgweir", "alice", "password=alice-pw");
	assert_int_equal(PQstatus(console), CONNECTION_OK);
	PQsetNoticeProcessor(console, collect_notice, notices);

	/* server side: the mode first, the CA file second */
	console_ok(console, "SET server_tls_sslmode = 'verify-full'");
	err = login_error("byname", "alice", "password=alice-pw");
	assert_non_null(strstr(err, "query_wait_timeout"));
	assert_true(it_log_contains(&env, "certificate verify failed"));
	snprintf(sql, sizeof(sql), "SET server_tls_ca_file = "
	    "'%s/certs/ca.crt'", env.dir);
	console_ok(console, sql);
	assert_string_equal(login_error("byname", "alice",
	    "password=alice-pw"), "");
	assert_int_equal(plaintext_backends(), 0);

	/* client side: rotate the key, then the certificate */
	snprintf(sql, sizeof(sql), "SET client_tls_key_file = "
	    "'%s/certs/client.key'", env.dir);
	console_ok(console, sql);
	assert_non_null(strstr(notices, "TLS settings could not be applied, "
	    "still using old configuration"));
	/* half-way, the old certificate still serves */
	snprintf(extra, sizeof(extra), "host=localhost password=alice-pw "
	    "sslmode=verify-full sslrootcert=%s/client-certs/ca.crt", env.dir);
	assert_string_equal(login_error("postgres", "alice", extra), "");
	notices[0] = '\0';
	snprintf(sql, sizeof(sql), "SET client_tls_cert_file = "
	    "'%s/certs/client.crt'", env.dir);
	console_ok(console, sql);
	assert_string_equal(notices, "");
	/* the new certificate (CN=alice, for clients) is in force */
	err = login_error("postgres", "alice", extra);
	if (strstr(err, "certificate verify failed") == NULL &&
	    strstr(err, "does not match host name") == NULL)
		fail_msg("new certificate not in force: \"%s\"", err);
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw sslmode=require"), "");
	PQfinish(console);
}

/* hba rules: peer on the unix socket, reject, and password over TCP. */
static void
test_hba(void **state)
{
	char settings[1024], hba[400], out[512];

	(void)state;
	snprintf(hba, sizeof(hba), "local all %s peer\nlocal all alice peer\n"
	    "local all all reject\nhost all carol 127.0.0.1/32 reject\n"
	    "host all dave 127.0.0.1/32 cert\n"
	    "host all all 127.0.0.1/32 scram-sha-256\n", it_os_user());
	snprintf(settings, sizeof(settings), "auth_type = hba\n"
	    "auth_hba_file = %s\nauth_file = %s\n", write_hba(hba),
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n\"carol\" "
	    "\"carol-pw\"\n"));
	restart(settings);
	/* peer: the unix socket's peer is the account we run as */
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U %s -Atc 'select 1' local", env.dir, env.port, it_os_user()),
	    0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U alice -Atc 'select 1' local", env.dir, env.port), 2);
	assert_non_null(strstr(out, "Peer authentication failed for user "
	    "\"alice\""));
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U bob -Atc 'select 1' local", env.dir, env.port), 2);
	assert_non_null(strstr(out, "auth_hba_file rejects connection"));
	assert_non_null(strstr(login_error("postgres", "carol",
	    "password=carol-pw"), "auth_hba_file rejects connection"));
	/* cert on a "host" line loads, as in PgBouncer; without TLS the
	 * client has no certificate to show */
	assert_non_null(strstr(login_error("postgres", "dave",
	    "sslmode=disable"), "certificate authentication failed"));
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
}

/*
 * User name maps (auth_ident_file) on peer and cert rules: the unix
 * account may log in as the users its map lists, a certificate's common
 * name likewise; others are refused with PostgreSQL's words.  A reload
 * with a map file that does not load keeps the old one.
 */
static void
test_ident_map(void **state)
{
	char settings[1536], hba[300], ident[300], path[300], out[512];
	char extra[512];

	(void)state;
	snprintf(hba, sizeof(hba), "local all all peer map=os\n"
	    "hostssl all all 127.0.0.1/32 cert map=certs\n");
	snprintf(ident, sizeof(ident), "# map system-user user\n"
	    "os %s alice\nos \"%s\" bob\ncerts alice carol\n",
	    it_os_user(), it_os_user());
	write_conf("ident.conf", ident, path, sizeof(path));
	snprintf(settings, sizeof(settings), "auth_type = hba\n"
	    "auth_hba_file = %s\nauth_ident_file = %s\nauth_file = %s\n"
	    "client_tls_sslmode = prefer\n"
	    "client_tls_cert_file = %s/certs/server.crt\n"
	    "client_tls_key_file = %s/certs/server.key\n"
	    "client_tls_ca_file = %s/certs/ca.crt\n", write_hba(hba), path,
	    it_write_userlist(&env, "\"alice\" \"alice-pw\"\n\"bob\" "
	    "\"bob-pw\"\n\"carol\" \"carol-pw\"\n"), env.dir, env.dir,
	    env.dir);
	restart(settings);
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U alice -Atc 'select current_user' postgres", env.dir, env.port),
	    0);
	assert_non_null(strstr(out, "alice"));
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U bob -Atc 'select 1' postgres", env.dir, env.port), 0);
	assert_int_equal(it_sh(&env, out, sizeof(out), "psql -X -h %s -p %d "
	    "-U carol -Atc 'select 1' postgres", env.dir, env.port), 2);
	assert_non_null(strstr(out, "Peer authentication failed for user "
	    "\"carol\""));

	/* the certificate says alice; the map lets it be carol only */
	snprintf(extra, sizeof(extra), "sslmode=require "
	    "sslcert=%s/client-certs/client.crt "
	    "sslkey=%s/client-certs/client.key", env.dir, env.dir);
	assert_string_equal(login_error("postgres", "carol", extra), "");
	assert_non_null(strstr(login_error("postgres", "alice", extra),
	    "certificate authentication failed for user \"alice\""));

	/* a map file that does not load: the reload keeps the old one */
	write_conf("ident.conf", "os /^(.*)$ \\1\n", path, sizeof(path));
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "auth_ident_file: ", 5000));
	assert_string_equal(login_error("postgres", "carol", extra), "");
}

/*
 * auth_type = pam: Linux-PAM checks the password (a service file of the
 * test's own: pam_exec runs a script that accepts "<user>-pw", slowly for
 * carol), the auth_file is not used, and the accepted password logs in to
 * PostgreSQL too (SCRAM over TCP).  PAM runs off the event loop: while
 * carol's check takes two seconds, alice logs in at once.
 */
static void
test_pam(void **state)
{
	char path[300], dir[300], service[600];
	long long t0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/pam.d", env.dir);
	assert_int_equal(it_sh(&env, NULL, 0, "mkdir -p %s && chmod 755 %s",
	    dir, dir), 0);
	write_conf("pam-check.sh", "#!/bin/sh\n"
	    "pw=$(tr -d '\\000')\n"
	    "[ \"$PAM_USER\" = carol ] && sleep 2\n"
	    "[ \"$pw\" = \"$PAM_USER-pw\" ]\n", path, sizeof(path));
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(service, sizeof(service), "auth required pam_exec.so "
	    "expose_authtok quiet %s\naccount required pam_permit.so\n",
	    path);
	write_conf("pam.d/pgbouncer", service, path, sizeof(path));
	snprintf(env.extra_env, sizeof(env.extra_env),
	    "PGWEIR_PAM_CONFDIR=%s", dir);
	restart("auth_type = pam\n");
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");
	assert_non_null(strstr(login_error("postgres", "alice",
	    "password=wrong"), "password authentication failed for user "
	    "\"alice\""));
	/* PAM's own reason, in the log only (pam_exec: a system error) */
	assert_true(it_wait_log(&env, "alice@127.0.0.1", 2000));
	assert_true(it_wait_log(&env, "authentication failed: System error",
	    2000));
	/* a slow PAM check holds up nobody else */
	it_sh(&env, NULL, 0, "(PGPASSWORD=carol-pw psql -X -h 127.0.0.1 -p %d "
	    "-U carol -c 'select 1' postgres >/dev/null 2>&1 &)", env.port);
	it_sleep_ms(300);
	t0 = it_now_ms();
	assert_string_equal(login_error("postgres", "bob", "password=bob-pw"),
	    "");
	assert_true(it_now_ms() - t0 < 1500);
	env.extra_env[0] = '\0';
}

/*
 * Trust lets in every user pgweir knows, with or without a password: from
 * the auth_file, or from auth_query even when its answer has a NULL or
 * empty secret.  A user it does not know is refused, in PgBouncer's words.
 */
static void
test_trust_users_without_password(void **state)
{
	char settings[1024];

	(void)state;
	restart(auth_query_settings("trust", ""));
	/* nopw has no password: get_auth answers NULL */
	assert_string_equal(login_error("local", "nopw", NULL), "");
	assert_string_equal(login_error("local", "alice", NULL), "");
	assert_non_null(strstr(login_error("local", "nobody", NULL),
	    "FATAL:  no such user"));
	assert_true(it_wait_log(&env, "closing because: no such user", 5000));

	/* an empty secret is no password either */
	restart(auth_query_settings("trust", "auth_query = select $1::text, "
	    "''::text where $1 = 'nopw'\n"));
	assert_string_equal(login_error("local", "nopw", NULL), "");
	assert_non_null(strstr(login_error("local", "nobody", NULL),
	    "no such user"));

	/* without auth_query only the auth_file knows users */
	snprintf(settings, sizeof(settings), "auth_type = trust\n"
	    "auth_file = %s\n", it_write_userlist(&env,
	    "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	assert_string_equal(login_error("local", "alice", NULL), "");
	assert_non_null(strstr(login_error("local", "nopw", NULL),
	    "FATAL:  \"trust\" authentication failed"));
	assert_true(it_wait_log(&env, "nopw@127.0.0.1", 5000));
	assert_true(it_wait_log(&env, "closing because: \"trust\" "
	    "authentication failed (age=", 5000));

	/* an hba trust line works the same */
	snprintf(settings, sizeof(settings), "auth_hba_file = %s\n",
	    write_hba("host all all 127.0.0.1/32 trust\n"));
	restart(auth_query_settings("hba", settings));
	assert_string_equal(login_error("local", "nopw", NULL), "");
	assert_non_null(strstr(login_error("local", "nobody", NULL),
	    "no such user"));
}

/*
 * A database that is not configured is told only after authentication:
 * before it, a wrong password gets the same answer for any database
 * name; so does a disabled one.
 */
static void
test_unknown_database_after_auth(void **state)
{
	char settings[512], known[512];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = md5\n"
	    "admin_users = alice\nauth_file = %s\n", it_write_userlist(&env,
	    "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	snprintf(known, sizeof(known), "%s", login_error("postgres", "alice",
	    "password=wrong"));
	assert_non_null(strstr(known, "password authentication failed for "
	    "user \"alice\""));
	assert_string_equal(login_error("nosuchdb", "alice",
	    "password=wrong"), known);
	assert_same_failure(known, "alice", login_error("nosuchdb", "mallory",
	    "password=wrong"), "mallory");
	assert_non_null(strstr(login_error("nosuchdb", "alice",
	    "password=alice-pw"), "FATAL:  no such database: nosuchdb"));

	/* disabled: told only to a client with the right password */
	assert_string_equal(console("DISABLE postgres"), "");
	assert_string_equal(login_error("postgres", "alice",
	    "password=wrong"), known);
	assert_non_null(strstr(login_error("postgres", "alice",
	    "password=alice-pw"), "database \"postgres\" is disabled"));
	assert_string_equal(console("ENABLE postgres"), "");
	assert_string_equal(login_error("postgres", "alice",
	    "password=alice-pw"), "");

	/* under trust the client is authenticated at once */
	snprintf(settings, sizeof(settings), "auth_type = trust\n"
	    "auth_file = %s\n", it_write_userlist(&env,
	    "\"alice\" \"alice-pw\"\n"));
	restart(settings);
	assert_non_null(strstr(login_error("nosuchdb", "alice", NULL),
	    "no such database: nosuchdb"));
	assert_true(it_wait_log(&env, "closing because: no such database: "
	    "nosuchdb", 5000));
}

/*
 * auth_dbname: a disabled authentication database stops the logins that
 * need auth_query (not those the auth_file serves); one that is not
 * configured, or a failing auth_query, is a config error; the console
 * cannot be one, and a config naming it is refused on reload.
 */
static void
test_auth_dbname(void **state)
{
	(void)state;
	restart(auth_query_settings("md5", ""));
	assert_string_equal(login_error("app", "bob", "password=bob-pw"), "");
	assert_string_equal(console("DISABLE authdb"), "");
	assert_non_null(strstr(login_error("app", "bob", "password=bob-pw"),
	    "authentication database \"authdb\" is disabled"));
	assert_string_equal(login_error("app", "alice", "password=alice-pw"),
	    "");
	assert_string_equal(console("ENABLE authdb"), "");
	assert_string_equal(login_error("app", "bob", "password=bob-pw"), "");

	/* not configured: a config error, and the log says which */
	assert_string_equal(console("SET auth_dbname = 'nowhere'"), "");
	assert_non_null(strstr(login_error("local", "bob", "password=bob-pw"),
	    "FATAL:  bouncer config error"));
	assert_true(it_wait_log(&env, "authentication database \"nowhere\" "
	    "is not configured", 5000));
	assert_string_equal(console("SET auth_dbname = ''"), "");

	/* the console is no authentication database: SET and reload */
	assert_non_null(strstr(console("SET auth_dbname = 'pgbouncer'"),
	    "cannot use the reserved \"pgbouncer\" database as an "
	    "auth_dbname"));
	reload(auth_query_settings("md5", "auth_dbname = pgweir\n"),
	    "cannot use the reserved \"pgweir\" database as an auth_dbname");
	assert_string_equal(login_error("local", "bob", "password=bob-pw"),
	    "");
	assert_int_equal(it_write_config(&env, auth_query_settings("md5", ""),
	    "postgres = host=127.0.0.1 auth_dbname=pgbouncer\n"), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "postgres: cannot use the reserved "
	    "\"pgbouncer\" database as an auth_dbname", 5000));
	assert_string_equal(login_error("app", "bob", "password=bob-pw"), "");

	/* a failing auth_query: the client sees a config error, the log
	 * says what PostgreSQL said */
	restart(auth_query_settings("md5", "auth_query = select * from "
	    "no_such_table where name = $1\n"));
	assert_non_null(strstr(login_error("local", "bob", "password=bob-pw"),
	    "FATAL:  bouncer config error"));
	assert_true(it_wait_log(&env, "\"no_such_table\" does not exist",
	    5000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_login),
		cmocka_unit_test(test_md5_and_plain),
		cmocka_unit_test(test_scram_pass_through),
		cmocka_unit_test(test_auth_query),
		cmocka_unit_test(test_client_tls),
		cmocka_unit_test(test_tls_trust_setup),
		cmocka_unit_test(test_ssl_request_then_plaintext),
		cmocka_unit_test(test_direct_tls),
		cmocka_unit_test(test_cert_auth),
		cmocka_unit_test(test_cert_auth_embedded_nul),
		cmocka_unit_test(test_server_tls_verify_full),
		cmocka_unit_test(test_server_tls_change_retires),
		cmocka_unit_test(test_tls_multi_step_set),
		cmocka_unit_test(test_refused_login_reaches_waiting_clients),
		cmocka_unit_test(test_hba),
		cmocka_unit_test(test_ident_map),
		cmocka_unit_test(test_pam),
		cmocka_unit_test(test_trust_users_without_password),
		cmocka_unit_test(test_unknown_database_after_auth),
		cmocka_unit_test(test_auth_dbname),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
