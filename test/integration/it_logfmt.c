/* SPDX-License-Identifier: ISC */
/*
 * Log lines in PgBouncer's layout: tools made for PgBouncer's logs read
 * pgweir's.  Debian's pgbadger, in its PgBouncer mode, is run on the log
 * of a real pgweir, finding the format by itself as it does for a
 * PgBouncer log, and must find the logins and the errors.  (pgbadger 12
 * does not read the statistics line of PgBouncer 1.21 and later, whose
 * layout pgweir's follows, so that line is not checked here.)
 *
 * And log_format = json, switched on by a reload: from then on every line
 * is one JSON object (Python's json module reads each), logins, errors and
 * server connections carry their connection as fields, and a user name
 * with a quote and a newline stays inside its field.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
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

/* n logins that run a query, and one refused (no such database). */
static void
logins(int n)
{
	PGconn *conn;

	for (int i = 0; i < n; i++) {
		conn = it_connect(&env, "postgres", "postgres", NULL);
		assert_int_equal(PQstatus(conn), CONNECTION_OK);
		assert_int_equal(it_query_int(conn, "select 1"), 1);
		PQfinish(conn);
	}
	conn = it_connect(&env, "nosuchdb", "postgres", NULL);
	assert_int_not_equal(PQstatus(conn), CONNECTION_OK);
	PQfinish(conn);
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
	FILE *fp;
	size_t n;

	(void)state;
	logins(LOGINS);
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

/* Checks every JSON line of the log; prints "ok" or what is wrong. */
static const char json_check[] =
    "import json, sys\n"
    "lines = open(sys.argv[1], encoding='utf-8').read().splitlines()\n"
    "start = next(i for i, l in enumerate(lines) if l.startswith('{'))\n"
    "objs = [json.loads(l) for l in lines[start:]]\n"
    "def has(**kw):\n"
    "    return any(all(k in o and (v is True or v in str(o[k]))\n"
    "                   for k, v in kw.items()) for o in objs)\n"
    "for o in objs:\n"
    "    assert {'time', 'pid', 'level', 'message'} <= o.keys(), o\n"
    "assert has(conn='C-0x', id=True, database='postgres',\n"
    "           user='postgres', addr='127.0.0.1:',\n"
    "           message='login attempt: db=postgres'), 'login'\n"
    "assert has(conn='S-0x', database='postgres', addr=True), 'server'\n"
    "assert has(level='LOG', message='no such database: nosuchdb'), 'db'\n"
    "assert has(user='ev\"il\\n', message='does not exist'), 'quoted'\n"
    "print('ok', len(objs))\n";

static void
test_json_lines(void **state)
{
	char dbs[512], path[600], out[4096], port[16];
	const char *params[] = { "user", "ev\"il\n", NULL };
	PGconn *conn;
	FILE *fp;

	(void)state;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n",
	    env.pgdir, env.pg_port);
	assert_int_equal(it_write_config(&env, "pool_mode = transaction\n"
	    "log_connections = 1\nlog_disconnections = 1\n"
	    "log_format = json\n", dbs), 0);
	assert_int_equal(it_pgweir_signal(&env, SIGHUP), 0);
	assert_true(it_wait_log(&env, "\"message\":\"", 5000));

	logins(1);
	/* a user name with a quote and a newline (refused: trust, no such
	 * role in PostgreSQL), through libpq's keyword form */
	snprintf(port, sizeof(port), "%d", env.port);
	conn = PQconnectdbParams((const char *[]){ "host", "port", "dbname",
	    params[0], NULL }, (const char *[]){ "127.0.0.1", port,
	    "postgres", params[1], NULL }, 0);
	PQfinish(conn);
	assert_true(it_wait_log(&env, "no such database: nosuchdb", 5000));
	assert_true(it_wait_log(&env, "ev\\\"il\\u000a", 5000));

	snprintf(path, sizeof(path), "%s/jsoncheck.py", env.dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(json_check, fp);
	fclose(fp);
	if (it_sh(&env, out, sizeof(out), "python3 '%s' '%s' 2>&1", path,
	    env.log) != 0 || strncmp(out, "ok", 2) != 0)
		fail_msg("the JSON log did not check: %s", out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pgbadger_reads_the_log),
		cmocka_unit_test(test_json_lines),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
