/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the configuration: the options table's integrity, parsing
 * of every section, every error path with its file:line: key message, and
 * that docs/config.md and etc/pgweir.ini match what the table generates.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgweir/config.h"

/* Every option is well-formed, unique, documented and has a valid default. */
static void
test_table_integrity(void **state)
{
	struct config *cfg = config_new_defaults();

	(void)state;
	assert_non_null(cfg);
	for (size_t i = 0; i < config_n_options; i++) {
		const struct config_option *o = &config_options[i];
		char err[256];

		assert_non_null(o->name);
		assert_true(strlen(o->help) > 10);
		for (const char *p = o->name; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || *p == '_' ||
			    (*p >= '0' && *p <= '9'));
		for (size_t j = 0; j < i; j++) {
			assert_true(strcmp(o->name, config_options[j].name) !=
			    0);
			assert_true(o->offset != config_options[j].offset);
		}
		if (o->type == OPT_ENUM)
			assert_non_null(o->choices);
		assert_int_equal(config_set_option(cfg, o, o->def, err,
		    sizeof(err)), 0);
		assert_ptr_equal(config_find_option(o->name), o);
	}
	config_unref(cfg);
}

/* Load a config from text; fail the test with the message if it fails. */
static struct config *
load_ok(const char *text)
{
	struct config_error err;
	struct config *cfg = config_load_string(text, "t.ini", &err);

	if (cfg == NULL)
		fail_msg("unexpected error: %s", err.msg);
	return cfg;
}

/* Load a config that must fail with exactly this message. */
static void
load_fails(const char *text, const char *expected)
{
	struct config_error err;
	struct config *cfg = config_load_string(text, "t.ini", &err);

	if (cfg != NULL)
		fail_msg("accepted: %s", text);
	if (strcmp(err.msg, expected) != 0)
		fail_msg("got \"%s\", want \"%s\"", err.msg, expected);
}

/* A PgBouncer file: [pgbouncer] section, databases, users, units. */
static void
test_parse_pgbouncer_file(void **state)
{
	static const char text[] =
	    "; comment\n"
	    "# another\n"
	    "[databases]\n"
	    "app = host=10.0.0.5 port=6000 dbname=appdb pool_size=7 "
	    "pool_mode=transaction\n"
	    "\"odd name\" = host=/run/pg user=svc password='p w\\'d'\n"
	    "* = host=/run/pg\n"
	    "[users]\n"
	    "batch = pool_mode=session pool_size=2 query_timeout=30\n"
	    "[pgbouncer]\n"
	    "  listen_addr = 127.0.0.1, ::1   ; inline comment\n"
	    "listen_port = 7432\n"
	    "auth_type = trust\n"
	    "pool_mode = Transaction\n"
	    "server_idle_timeout = 90s\n"
	    "client_login_timeout = 1.5\n"
	    "query_wait_timeout = 2min\n"
	    "unix_socket_mode = 0700\n"
	    "log_connections = off\n";
	struct config *cfg = load_ok(text);
	const struct db_conf *db;
	const struct user_conf *u;

	(void)state;
	assert_string_equal(cfg->listen_addr, "127.0.0.1, ::1");
	assert_int_equal(cfg->listen_port, 7432);
	assert_int_equal(cfg->pool_mode, POOL_TRANSACTION);
	assert_int_equal(cfg->server_idle_timeout, 90000000);
	assert_int_equal(cfg->client_login_timeout, 1500000);
	assert_int_equal(cfg->query_wait_timeout, 120000000);
	assert_int_equal(cfg->unix_socket_mode, 0700);
	assert_int_equal(cfg->log_connections, 0);
	assert_int_equal(cfg->n_databases, 2);
	db = config_find_db(cfg, "app");
	assert_non_null(db);
	assert_string_equal(db->host, "10.0.0.5");
	assert_int_equal(db->port, 6000);
	assert_string_equal(db->dbname, "appdb");
	assert_int_equal(db->pool_size, 7);
	assert_int_equal(db->pool_mode, POOL_TRANSACTION);
	assert_int_equal(db->min_pool_size, CONF_UNSET);
	db = config_find_db(cfg, "odd name");
	assert_non_null(db);
	assert_string_equal(db->user, "svc");
	assert_string_equal(db->password, "p w'd");
	assert_null(db->dbname);
	assert_non_null(cfg->fallback_db);
	u = config_find_user(cfg, "batch");
	assert_non_null(u);
	assert_int_equal(u->pool_mode, POOL_SESSION);
	assert_int_equal(u->pool_size, 2);
	assert_int_equal(u->query_timeout, 30000000);
	config_unref(cfg);
}

/* Lines longer than inih's 200-byte buffer keep their whole value. */
static void
test_long_lines(void **state)
{
	char text[2048], query[1200];
	struct config *cfg;

	(void)state;
	memset(query, 'x', sizeof(query) - 1);
	memcpy(query, "SELECT '", 8);
	query[sizeof(query) - 2] = '\'';
	query[sizeof(query) - 1] = '\0';
	snprintf(text, sizeof(text), "[pgweir]\nauth_type = trust\n"
	    "server_reset_query = %s\n", query);
	cfg = load_ok(text);
	assert_string_equal(cfg->server_reset_query, query);
	config_unref(cfg);
}

/* Every error path names file, line and key. */
static void
test_errors(void **state)
{
	(void)state;
	load_fails("[pgweir]\nauth_type = trust\npool_mod = session\n",
	    "t.ini:3: pool_mod: unknown key; did you mean \"pool_mode\"?");
	load_fails("[pgweir]\nfrobnicate = 1\n",
	    "t.ini:2: frobnicate: unknown key");
	load_fails("[pgweir]\nlisten_port = http\n",
	    "t.ini:2: listen_port: invalid integer \"http\"");
	load_fails("[pgweir]\nlisten_port = 70000\n",
	    "t.ini:2: listen_port: 70000 is out of range (1 .. 65535)");
	load_fails("[pgweir]\nsyslog = maybe\n",
	    "t.ini:2: syslog: invalid boolean \"maybe\" (use 0 or 1)");
	load_fails("[pgweir]\npool_mode = sometimes\n",
	    "t.ini:2: pool_mode: invalid value \"sometimes\" (choose one of "
	    "session, transaction, statement)");
	load_fails("[pgweir]\nserver_lifetime = soon\n",
	    "t.ini:2: server_lifetime: invalid duration \"soon\" (use "
	    "seconds, or a number with ms, s, min, h or d)");
	load_fails("[pgweir]\nunix_socket_mode = 999\n",
	    "t.ini:2: unix_socket_mode: invalid file mode \"999\" (use "
	    "octal, like 0777)");
	load_fails("listen_port = 1\n",
	    "t.ini:1: listen_port: key outside of any section (start the "
	    "file with [pgweir])");
	load_fails("[pgwier]\nlisten_port = 1\n",
	    "t.ini:2: listen_port: unknown section [pgwier] (expected "
	    "[pgweir], [databases] or [users])");
	load_fails("[pgweir]\njust some words\n",
	    "t.ini:2: syntax error: expected \"key = value\", got \"just "
	    "some words\"");
	load_fails("[databases]\nx = host=a sslmode=require\n",
	    "t.ini:2: x: connection option \"sslmode\" is not supported in "
	    "[databases] (use server_tls_* settings)");
	load_fails("[databases]\nx = host=a bogus=1\n",
	    "t.ini:2: x: invalid connection option \"bogus\"");
	load_fails("[databases]\nx = host='a\n",
	    "t.ini:2: x: unterminated quoted value of \"host\"");
	load_fails("[databases]\nx = pool_mode=sometimes\n",
	    "t.ini:2: x: pool_mode: invalid value \"sometimes\" (choose one "
	    "of session, transaction, statement)");
	load_fails("[databases]\nx = pool_size=lots\n",
	    "t.ini:2: x: pool_size: invalid number \"lots\"");
	load_fails("[databases]\nx = host=a,b,c port=1,2\n",
	    "t.ini:2: x: port: 2 ports for 3 hosts (give one port, or one "
	    "per host)");
	load_fails("[databases]\nx = host=a,b port=1,x\n",
	    "t.ini:2: x: port: invalid port \"1,x\"");
	load_fails("[databases]\nx = host=a,b load_balance_hosts=random\n",
	    "t.ini:2: x: load_balance_hosts: invalid value \"random\" "
	    "(choose one of round-robin, disable)");
	load_fails("[databases]\npgbouncer = host=a\n",
	    "t.ini:2: pgbouncer: the name is reserved for the admin console");
	load_fails("[users]\nbob = pool_sise=3\n",
	    "t.ini:2: bob: unknown setting \"pool_sise\" (a [users] entry "
	    "takes pool_mode, pool_size, reserve_pool_size, "
	    "max_user_connections, max_user_client_connections and "
	    "timeouts)");
	load_fails("[pgweir]\nauth_type = hba\n",
	    "t.ini: auth_type: hba needs auth_hba_file");
}

/*
 * Host lists as libpq writes them: one port for all hosts or one each,
 * blanks around items ignored, an empty item the unix socket directory;
 * load_balance_hosts on the entry (PgBouncer 1.24).
 */
static void
test_host_lists(void **state)
{
	struct config *cfg;
	const struct db_conf *d;

	(void)state;
	cfg = load_ok("[databases]\n"
	    "a = host=h1,h2 port=6000 load_balance_hosts=disable\n"
	    "b = host='h1, /run/pg ,' port=1,2,3\n"
	    "c = host=h1\n"
	    "u = postgres://x:7,y:8/db\n"
	    "s = dbname=x\n");
	d = config_find_db(cfg, "a");
	assert_int_equal(d->n_hosts, 2);
	assert_string_equal(d->hosts[1], "h2");
	assert_int_equal(d->ports[1], 6000);
	assert_int_equal(d->load_balance_hosts, LB_DISABLE);
	d = config_find_db(cfg, "b");
	assert_int_equal(d->n_hosts, 3);
	assert_string_equal(d->hosts[1], "/run/pg");
	assert_string_equal(d->hosts[2], "");
	assert_int_equal(d->ports[2], 3);
	assert_int_equal(d->port, 1);
	d = config_find_db(cfg, "c");
	assert_int_equal(d->n_hosts, 1);
	assert_int_equal(d->ports[0], 5432);
	assert_int_equal(d->load_balance_hosts, CONF_UNSET);
	d = config_find_db(cfg, "u");
	assert_int_equal(d->n_hosts, 2);
	assert_string_equal(d->hosts[1], "y");
	assert_int_equal(d->ports[1], 8);
	d = config_find_db(cfg, "s");
	assert_int_equal(d->n_hosts, 0);
	config_unref(cfg);
}

/* %include follows files and reports the included file's line. */
static void
test_include(void **state)
{
	char dir[] = "/tmp/pgweir-ut-XXXXXX", main_ini[300], inc[300];
	struct config_error err;
	struct config *cfg;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(main_ini, sizeof(main_ini), "%s/main.ini", dir);
	snprintf(inc, sizeof(inc), "%s/more.ini", dir);
	fp = fopen(main_ini, "w");
	fprintf(fp, "[pgweir]\nauth_type = trust\n%%include more.ini\n"
	    "listen_port = 7000\n");
	fclose(fp);
	fp = fopen(inc, "w");
	fprintf(fp, "max_client_conn = 55\n[databases]\nd = host=x\n"
	    "[pgweir]\n");
	fclose(fp);
	cfg = config_load(main_ini, &err);
	if (cfg == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(cfg->max_client_conn, 55);
	assert_int_equal(cfg->listen_port, 7000);
	assert_non_null(config_find_db(cfg, "d"));
	config_unref(cfg);

	fp = fopen(inc, "w");
	fprintf(fp, "\n\nmax_client_conn = many\n");
	fclose(fp);
	assert_null(config_load(main_ini, &err));
	{
		char expect[400];
		snprintf(expect, sizeof(expect), "%s:3: max_client_conn: "
		    "invalid integer \"many\"", inc);
		assert_string_equal(err.msg, expect);
	}
	unlink(inc);
	assert_null(config_load(main_ini, &err));
	assert_non_null(strstr(err.msg, "%include"));
	unlink(main_ini);
	assert_null(config_load(main_ini, &err));
	assert_non_null(strstr(err.msg, "could not open"));
	rmdir(dir);
}

/* Lists as used by admin_users, ignore_startup_parameters and friends. */
static void
test_list_contains(void **state)
{
	(void)state;
	assert_true(config_list_contains("a, b,c", "b"));
	assert_true(config_list_contains("a, b,c", "c"));
	assert_false(config_list_contains("a, bb,c", "b"));
	assert_false(config_list_contains("", "a"));
	assert_false(config_list_contains(NULL, "a"));
}

/* Read a whole file of the source tree. */
static char *
read_source_file(const char *rel)
{
	const char *srcdir = getenv("PGWEIR_SRCDIR");
	char path[512];
	FILE *fp;
	char *buf;
	long len;

	snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".", rel);
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

/* Generate text with one of the writers. */
static char *
generate(int (*writer)(FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_int_equal(writer(fp), 0);
	fclose(fp);
	return buf;
}

/* docs/config.md and etc/pgweir.ini are exactly what the table makes. */
static void
test_docs_and_example_match_table(void **state)
{
	char *want, *have;

	(void)state;
	want = generate(config_write_docs);
	have = read_source_file("docs/config.md");
	if (strcmp(want, have) != 0)
		fail_msg("docs/config.md is out of date: run "
		    "`./pgweir --write-config-docs > docs/config.md`");
	free(want);
	free(have);
	want = generate(config_write_example);
	have = read_source_file("etc/pgweir.ini");
	if (strcmp(want, have) != 0)
		fail_msg("etc/pgweir.ini is out of date: run "
		    "`./pgweir --write-example-config > etc/pgweir.ini`");
	free(want);
	free(have);
}

/* The example file is itself a valid configuration. */
static void
test_example_loads(void **state)
{
	char *text = read_source_file("etc/pgweir.ini");
	char *patched = malloc(strlen(text) + 64);
	struct config *cfg;

	(void)state;
	/* the example has every key commented out; name an auth method */
	sprintf(patched, "%s\nauth_type = trust\n", text);
	cfg = load_ok(patched);
	assert_int_equal(cfg->listen_port, 6432);
	config_unref(cfg);
	free(text);
	free(patched);
}

/* Whether a list of entry keys (dbconf's) has name. */
static bool
entry_key_in(const char *(*key)(size_t), const char *name)
{
	for (size_t i = 0; key(i) != NULL; i++)
		if (strcmp(key(i), name) == 0)
			return true;
	return false;
}

/*
 * The options table marks what [databases] and [users] entries may
 * override (OPT_DB, OPT_USER: the docs say so from these marks), and
 * dbconf takes exactly those keys: one cannot change without the other.
 */
static void
test_override_marks_match_entries(void **state)
{
	(void)state;
	for (size_t i = 0; i < config_n_options; i++) {
		const struct config_option *o = &config_options[i];
		const char *key = config_entry_key(o);
		bool db = (o->flags & OPT_DB) != 0;
		bool user = (o->flags & OPT_USER) != 0;
		if (db != entry_key_in(dbconf_db_key, key))
			fail_msg("%s: OPT_DB is %d, [databases] key \"%s\" %s",
			    o->name, db, key, db ? "missing" : "exists");
		if (user != entry_key_in(dbconf_user_key, key))
			fail_msg("%s: OPT_USER is %d, [users] key \"%s\" %s",
			    o->name, user, key, user ? "missing" : "exists");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_integrity),
		cmocka_unit_test(test_parse_pgbouncer_file),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_host_lists),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_list_contains),
		cmocka_unit_test(test_docs_and_example_match_table),
		cmocka_unit_test(test_example_loads),
		cmocka_unit_test(test_override_marks_match_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
