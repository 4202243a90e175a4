/* SPDX-License-Identifier: ISC */
/*
 * Log lines in PgBouncer's layout: tools made for PgBouncer's logs read
 * pgweir's.  Debian's pgbadger, in its PgBouncer mode, is run on the log
 * of a real pgweir, finding the format by itself as it does for a
 * PgBouncer log, and must find the logins and the errors.  (pgbadger 12
 * does not read the statistics line of PgBouncer 1.21 and later, whose
 * layout pgweir's follows, so that line is not checked here.)
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define LOGINS 12

static struct it_env env;

static int
setup(void **state)
{
	char dbs[512];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n",
	    env.pgdir, env.pg_port);
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "log_connections = 1\nlog_disconnections = 1\n"
	    "log_stats = 1\nstats_period = 1\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The value after "key": in pgbadger's JSON report, or -1. */
static long
json_number(const char *json, const char *key)
{
	char needle[128];
	const char *p;

	snprintf(needle, sizeof(needle), "\"%s\":", key);
	p = strstr(json, needle);
	if (p == NULL)
		return -1;
	p += strlen(needle);
	while (*p == ' ' || *p == '"')
		p++;
	return strtol(p, NULL, 10);
}

/*
 * Twelve logins (pgbadger looks for ten lines it knows before it settles
 * on a format) and one refused login: pgbadger counts the logins per
 * database and the refusal as an error.
 */
static void
test_pgbadger_reads_the_log(void **state)
{
	static char out[1 << 20];
	char json[400], cmd[1024];
	const char *p;
	PGconn *conn;
	FILE *fp;
	size_t n;

	(void)state;
	for (int i = 0; i < LOGINS; i++) {
		conn = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(PQstatus(conn), CONNECTION_OK);
		assert_int_equal(it_query_int(conn, "select 1"), 1);
		PQfinish(conn);
	}
	conn = it_connect(&env, "nosuchdb", "postgres", NULL);
	assert_int_not_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);
	assert_true(it_wait_log(&env, "no such database: nosuchdb", 5000));

	snprintf(json, sizeof(json), "%s/pgbadger.json", env.dir);
	snprintf(cmd, sizeof(cmd), "pgbadger -q -x json -o %s %s", json,
	    env.log);
	assert_int_equal(it_sh(&env, out, sizeof(out), "%s", cmd), 0);
	fp = fopen(json, "r");
	assert_non_null(fp);
	n = fread(out, 1, sizeof(out) - 1, fp);
	fclose(fp);
	out[n] = '\0';
	if (getenv("PGWEIR_TEST_VERBOSE"))
		fprintf(stderr, "%s\n", out);
	/*
	 * logins per database: "pgb_connection_info":{..."database":
	 * {"postgres":12}...} (Perl writes the keys in any order)
	 */
	p = strstr(out, "\"pgb_connection_info\"");
	assert_non_null(p);
	p = strstr(p, "\"database\":{");
	assert_non_null(p);
	assert_int_equal(json_number(p, "postgres"), LOGINS);
	/* the refused login is an error it found, with pgweir's words */
	p = strstr(out, "\"pgb_error_info\"");
	assert_non_null(p);
	assert_non_null(strstr(p, "no such database: nosuchdb"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgbadger_reads_the_log),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
