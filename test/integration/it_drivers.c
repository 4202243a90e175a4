/* SPDX-License-Identifier: ISC */
/*
 * Real drivers against transaction pooling with named prepared statements:
 * pgJDBC (server-side statements after prepareThreshold runs, and batch
 * inserts), asyncpg (prepares and caches every query) and node-postgres
 * (named queries).  Each driver program under test/drivers/ checks its own
 * results and exits non-zero on a failure; this file starts PostgreSQL and
 * pgweir (a pool of 5), runs it, shows its output when it fails, and checks
 * from outside that the statements went through pgweir's rewriting and
 * that no backend was left in a transaction.  A missing runtime fails the
 * test with the Debian package to install: CI installs them all.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define DRIVER_TIMEOUT 120	/* seconds, per driver program */

static struct it_env env;
static char out[256 * 1024];	/* a driver's output */

static int
setup(void **state)
{
	char dbs[512];

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d\n", env.pgdir,
	    env.pg_port);
	return it_pgweir_start(&env, "pool_mode = transaction\n"
	    "default_pool_size = 5\nmax_client_conn = 500\n"
	    "admin_users = postgres\n"
	    /* pgJDBC sends it at startup; as with PgBouncer, let it in */
	    "ignore_startup_parameters = extra_float_digits\n", dbs);
}

static int
teardown(void **state)
{
	(void)state;
	return it_env_fini(&env);
}

/* The source tree (for test/drivers/). */
static const char *
srcdir(void)
{
	const char *s = getenv("PGWEIR_SRCDIR");

	return s ? s : ".";
}

/* Whether a program is on PATH. */
static bool
have_program(const char *name)
{
	return it_sh(&env, NULL, 0, "command -v '%s'", name) == 0;
}

/* Fail the test when a runtime is missing, naming the package to install. */
static void
require(bool have, const char *what, const char *package)
{
	if (!have)
		fail_msg("%s not found: install the Debian package%s %s "
		    "(CI installs it; this test does not skip)", what,
		    strchr(package, ' ') ? "s" : "", package);
}

/* pgweir's counters of named statements for the postgres database. */
struct ps_counts {
	long long client_parse, server_parse, bind;
};

/* Read client_parse_count etc. from SHOW STATS_TOTALS. */
static struct ps_counts
ps_counts(void)
{
	PGconn *conn = it_connect(&env, "pgweir", "postgres", NULL);
	PGresult *res = PQexec(conn, "SHOW STATS_TOTALS");
	struct ps_counts c = { -1, -1, -1 };

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("SHOW STATS_TOTALS: %s", PQerrorMessage(conn));
	for (int r = 0; r < PQntuples(res); r++) {
		if (strcmp(PQgetvalue(res, r, PQfnumber(res, "database")),
		    "postgres") != 0)
			continue;
		c.client_parse = atoll(PQgetvalue(res, r, PQfnumber(res,
		    "client_parse_count")));
		c.server_parse = atoll(PQgetvalue(res, r, PQfnumber(res,
		    "server_parse_count")));
		c.bind = atoll(PQgetvalue(res, r, PQfnumber(res,
		    "bind_count")));
	}
	PQclear(res);
	PQfinish(conn);
	return c;
}

/*
 * Run a driver program (a shell command) against pgweir and check what
 * it leaves: exit status 0, its named statements counted by pgweir, at
 * most 5 backends, none idle in a transaction, pgweir still up.
 */
static void
run_driver(const char *name, const char *cmd)
{
	struct ps_counts before = ps_counts(), after;
	int rc;

	rc = it_sh(&env, out, sizeof(out), "timeout %d %s 127.0.0.1 %d "
	    "postgres postgres", DRIVER_TIMEOUT, cmd, env.port);
	if (rc != 0) {
		fprintf(stderr, "---- %s output ----\n%s---- end of %s output "
		    "----\n", name, out, name);
		if (!it_pgweir_alive(&env))
			fprintf(stderr, "pgweir is no longer running\n");
		fail_msg("%s exited with status %d%s", name, rc, rc == 124 ?
		    " (timed out)" : "");
	}
	fputs(out, stdout);
	assert_true(it_pgweir_alive(&env));
	after = ps_counts();
	printf("%s: pgweir counted %lld client Parses, %lld server Parses, "
	    "%lld Binds of named statements\n", name,
	    after.client_parse - before.client_parse,
	    after.server_parse - before.server_parse, after.bind - before.bind);
	if (after.client_parse <= before.client_parse ||
	    after.bind <= before.bind)
		fail_msg("%s: no named statement went through pgweir", name);
	assert_true(it_pg_int(&env, "select count(*) from pg_stat_activity "
	    "where backend_type = 'client backend' and pid <> "
	    "pg_backend_pid()") <= 5);
	assert_int_equal(it_pg_int(&env, "select count(*) from "
	    "pg_stat_activity where state like 'idle in transaction%'"), 0);
}

/*
 * pgJDBC: a PreparedStatement 20 times in autocommit and in explicit
 * transactions with prepareThreshold 5 and 1 while 8 threads churn the
 * backends, then 1000-row batches (test/drivers/PreparedChurn.java).
 */
static void
test_jdbc(void **state)
{
	const char *jar = getenv("PGJDBC_JAR") ? getenv("PGJDBC_JAR") :
	    "/usr/share/java/postgresql.jar";
	char cmd[2048];

	(void)state;
	require(have_program("java") && have_program("javac"),
	    "java and javac", "default-jdk-headless");
	require(access(jar, R_OK) == 0, jar, "libpostgresql-jdbc-java");
	if (it_sh(&env, out, sizeof(out), "mkdir -p '%s/java' && javac -d "
	    "'%s/java' -cp '%s' '%s/test/drivers/PreparedChurn.java'",
	    env.dir, env.dir, jar, srcdir()) != 0)
		fail_msg("javac PreparedChurn.java failed: %s", out);
	snprintf(cmd, sizeof(cmd), "java -Xss512k -XX:+UseSerialGC "
	    "-XX:TieredStopAtLevel=1 -cp '%s:%s/java' PreparedChurn", jar,
	    env.dir);
	run_driver("PreparedChurn (pgJDBC)", cmd);
}

/*
 * asyncpg: 200 tasks at once on a client pool of up to 200 connections,
 * twice (test/drivers/asyncpg_test.py).  Any python3 on PATH or Debian's
 * own that can import asyncpg will do.
 */
static void
test_asyncpg(void **state)
{
	const char *candidates[] = { getenv("PYTHON3"), "python3",
	    "/usr/bin/python3" };
	const char *python = NULL;
	char cmd[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(*candidates) &&
	    python == NULL; i++)
		if (candidates[i] && it_sh(&env, NULL, 0, "%s -c 'import "
		    "asyncpg'", candidates[i]) == 0)
			python = candidates[i];
	require(python != NULL, "python3 with the asyncpg module",
	    "python3-asyncpg");
	snprintf(cmd, sizeof(cmd), "%s -B '%s/test/drivers/asyncpg_test.py'",
	    python, srcdir());
	run_driver("asyncpg_test.py", cmd);
}

/*
 * node-postgres: 100 clients of named queries, several rounds each
 * (test/drivers/node_pg_test.js).  pg 8 comes from Debian's node-pg when
 * it is installed, else from the npm registry into the test's directory.
 */
static void
test_node_pg(void **state)
{
	static const char debian_modules[] = "/usr/share/nodejs";
	char cmd[1024], modules[512];

	(void)state;
	require(have_program("node"), "node", "nodejs");
	if (access("/usr/share/nodejs/pg/package.json", R_OK) == 0) {
		snprintf(modules, sizeof(modules), "%s", debian_modules);
	} else {
		require(have_program("npm"), "npm (or node-pg)", "node-pg");
		/* own package.json and cache: nothing written elsewhere */
		if (it_sh(&env, out, sizeof(out), "mkdir -p '%s/node' && cd "
		    "'%s/node' && echo '{\"private\": true}' > package.json "
		    "&& npm_config_cache='%s/npm-cache' timeout 120 npm "
		    "install --no-audit --no-fund --no-save "
		    "--no-package-lock --loglevel=error pg@8", env.dir,
		    env.dir, env.dir) != 0)
			fail_msg("npm install pg failed (is the npm registry "
			    "reachable?): %s", out);
		snprintf(modules, sizeof(modules), "%s/node/node_modules",
		    env.dir);
	}
	snprintf(cmd, sizeof(cmd), "env NODE_PATH='%s' node "
	    "'%s/test/drivers/node_pg_test.js'", modules, srcdir());
	run_driver("node_pg_test.js (node-postgres)", cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jdbc),
		cmocka_unit_test(test_asyncpg),
		cmocka_unit_test(test_node_pg),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
