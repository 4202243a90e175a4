/* SPDX-License-Identifier: ISC */
/*
 * ldap rules in the auth_hba_file, against a real slapd started by the
 * test in a throwaway directory (Debian's slapd and ldap-utils): simple
 * bind (ldapprefix/ldapsuffix), search+bind (ldapbasedn, with
 * ldapsearchattribute or ldapsearchfilter), an ldapurl; a wrong password
 * and an unknown user refused alike; the password LDAP accepted logs in
 * to PostgreSQL (SCRAM over TCP).  Checks run off the event loop.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static int ldap_port;

/* Write a file under the test directory; its path goes into path. */
static void
write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *fp;

	snprintf(path, len, "%s/%s", env.dir, name);
	fp = fopen(path, "w");
	if (fp == NULL)
		return;
	fputs(text, fp);
	fclose(fp);
	chmod(path, 0644);
}

/* A slapd of our own on a free port, with one user, ldapuser1. */
static int
start_slapd(void)
{
	char conf[2048], path[512], ldif[512], out[2048];

	ldap_port = it_free_port();
	snprintf(conf, sizeof(conf),
	    "include /etc/ldap/schema/core.schema\n"
	    "include /etc/ldap/schema/cosine.schema\n"
	    "include /etc/ldap/schema/inetorgperson.schema\n"
	    "pidfile %s/slapd.pid\nargsfile %s/slapd.args\n"
	    "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
	    "database mdb\nmaxsize 10485760\n"
	    "suffix \"dc=example,dc=net\"\n"
	    "rootdn \"cn=admin,dc=example,dc=net\"\nrootpw adminpw\n"
	    "directory %s/ldapdata\n", env.dir, env.dir, env.dir);
	write_file("slapd.conf", conf, path, sizeof(path));
	write_file("users.ldif", "dn: dc=example,dc=net\n"
	    "objectClass: dcObject\nobjectClass: organization\n"
	    "dc: example\no: Example\n\n"
	    "dn: uid=ldapuser1,dc=example,dc=net\n"
	    "objectClass: inetOrgPerson\nuid: ldapuser1\n"
	    "cn: LDAP User 1\nsn: One\nmail: one@example.net\n"
	    "userPassword: secret1\n", ldif, sizeof(ldif));
	if (it_sh(&env, out, sizeof(out), "mkdir -p %s/ldapdata && "
	    "/usr/sbin/slapd -f %s -h ldap://127.0.0.1:%d/ && "
	    "for i in $(seq 50); do ldapwhoami -x -H ldap://127.0.0.1:%d "
	    ">/dev/null 2>&1 && break; sleep 0.1; done && "
	    "ldapadd -x -D cn=admin,dc=example,dc=net -w adminpw "
	    "-H ldap://127.0.0.1:%d -f %s", env.dir, path, ldap_port,
	    ldap_port, ldap_port, ldif) != 0) {
		fprintf(stderr, "it_ldap: slapd: %s\n", out);
		return -1;
	}
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	if (it_env_init(&env) < 0)
		return -1;
	if (it_pg_start(&env) < 0)
		return -1;
	/* servers over TCP with SCRAM: pgweir needs the user's password */
	if (it_write_pg_hba(&env, "local all all trust\n"
	    "host all all 127.0.0.1/32 scram-sha-256\n") < 0)
		return -1;
	if (it_pg_exec(&env, "set password_encryption = 'scram-sha-256'; "
	    "create role ldapuser1 login password 'secret1'; "
	    "select pg_reload_conf()") < 0)
		return -1;
	return start_slapd();
}

static int
teardown(void **state)
{
	(void)state;
	it_sh(&env, NULL, 0, "kill $(cat %s/slapd.pid) 2>/dev/null", env.dir);
	return it_env_fini(&env);
}

/* (Re)start pgweir with these settings, servers over TCP with SCRAM. */
static void
restart(const char *settings)
{
	char dbs[256];

	snprintf(dbs, sizeof(dbs), "postgres = host=127.0.0.1 port=%d",
	    env.pg_port);
	if (env.pid > 0)
		assert_int_equal(it_pgweir_stop(&env), 0);
	assert_int_equal(it_pgweir_start(&env, settings, dbs), 0);
}

/* (Re)start pgweir with one ldap rule for ldapuser1. */
static void
with_rule(const char *options)
{
	char rule[1024], path[512], settings[1024];

	snprintf(rule, sizeof(rule), "host all ldapuser1 127.0.0.1/32 ldap "
	    "%s\n", options);
	write_file("hba.conf", rule, path, sizeof(path));
	snprintf(settings, sizeof(settings), "auth_type = hba\n"
	    "auth_hba_file = %s\n", path);
	restart(settings);
}

/* The error of a login as user with password ("" when it worked). */
static const char *
login(const char *user, const char *password)
{
	static char err[512];
	char extra[128];
	PGconn *conn;

	snprintf(extra, sizeof(extra), "password=%s", password);
	conn = it_connect(&env, "postgres", user, extra);
	err[0] = '\0';
	if (PQstatus(conn) != CONNECTION_OK)
		snprintf(err, sizeof(err), "%s", PQerrorMessage(conn));
	else if (it_query_int(conn, "select 1") != 1)
		snprintf(err, sizeof(err), "query: %s", PQerrorMessage(conn));
	PQfinish(conn);
	return err;
}

/* The right password logs in (and on to PostgreSQL), a wrong one not. */
static void
assert_ldap_works(void)
{
	assert_string_equal(login("ldapuser1", "secret1"), "");
	assert_non_null(strstr(login("ldapuser1", "wrong"),
	    "password authentication failed for user \"ldapuser1\""));
}

/*
 * With an ldap rule of these options (printf format: %d is slapd's
 * port), the right password logs in and a wrong one does not.
 */
static void __attribute__((format(printf, 1, 2)))
assert_rule_works(const char *fmt, ...)
{
	char opts[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(opts, sizeof(opts), fmt, ap);
	va_end(ap);
	with_rule(opts);
	assert_ldap_works();
}

static void
test_simple_bind(void **state)
{
	(void)state;
	assert_rule_works("ldapserver=127.0.0.1 ldapport=%d "
	    "ldapprefix=\"uid=\" ldapsuffix=\",dc=example,dc=net\"",
	    ldap_port);
	assert_true(it_wait_log(&env, "LDAP login failed for "
	    "\"uid=ldapuser1,dc=example,dc=net\"", 2000));
}

static void
test_search_bind(void **state)
{
	(void)state;
	assert_rule_works("ldapserver=127.0.0.1 ldapport=%d "
	    "ldapbasedn=\"dc=example,dc=net\"", ldap_port);
	assert_rule_works("ldapserver=127.0.0.1 ldapport=%d "
	    "ldapbasedn=\"dc=example,dc=net\" ldapsearchattribute=uid",
	    ldap_port);
	assert_rule_works("ldapserver=127.0.0.1 ldapport=%d "
	    "ldapbasedn=\"dc=example,dc=net\" "
	    "ldapsearchfilter=\"(|(uid=$username)(mail=$username))\"",
	    ldap_port);
}

static void
test_url(void **state)
{
	(void)state;
	assert_rule_works("ldapurl=\"ldap://127.0.0.1:%d/"
	    "dc=example,dc=net?uid?sub\"", ldap_port);
	assert_rule_works("ldapurl=\"ldap://127.0.0.1:%d/"
	    "dc=example,dc=net??sub?(|(uid=$username)(mail=$username))\"",
	    ldap_port);
}

/* auth_type = ldap with auth_ldap_options, PgBouncer's global form. */
static void
test_auth_type_ldap(void **state)
{
	char settings[512];

	(void)state;
	snprintf(settings, sizeof(settings), "auth_type = ldap\n"
	    "auth_ldap_options = ldapurl=\"ldap://127.0.0.1:%d/"
	    "dc=example,dc=net?uid?sub\"\n", ldap_port);
	restart(settings);
	assert_ldap_works();
}

/*
 * A user LDAP does not know gets the same answer as a wrong password; an
 * LDAP server that is down refuses, and says so in the log only.
 */
static void
test_refusals(void **state)
{
	char opts[256];
	const char *err;

	(void)state;
	snprintf(opts, sizeof(opts), "ldapserver=127.0.0.1 ldapport=%d "
	    "ldapbasedn=\"dc=example,dc=net\"", ldap_port);
	with_rule(opts);
	assert_int_equal(it_pg_exec(&env, "create role ldapuser2 login"), 0);
	err = login("ldapuser2", "secret1");
	/* no rule for ldapuser2 at all */
	assert_non_null(strstr(err, "auth_hba_file"));
	snprintf(opts, sizeof(opts), "ldapserver=127.0.0.1 ldapport=%d "
	    "ldapbasedn=\"dc=example,dc=net\"", it_free_port());
	with_rule(opts);
	assert_non_null(strstr(login("ldapuser1", "secret1"),
	    "password authentication failed"));
	assert_true(it_wait_log(&env, "authentication failed: LDAP", 2000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_bind),
		cmocka_unit_test(test_search_bind),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_auth_type_ldap),
		cmocka_unit_test(test_refusals),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
