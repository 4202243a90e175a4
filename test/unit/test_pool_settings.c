/* SPDX-License-Identifier: ISC */
/*
 * A pool's settings, resolved once from the config (pool_resolve_settings):
 * the [users] entry wins over the [databases] entry, which wins over
 * [pgweir]/[pgbouncer]; with a forced user (user= on the database) the
 * database's pool_size wins over the user's, as in PgBouncer.  The pool
 * uses these on every acquire, so a wrong precedence here is a wrong pool
 * size or mode for every transaction.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/config.h"
#include "pgweir/pool.h"

static const char ini[] =
    "[databases]\n"
    "plain = host=127.0.0.1\n"
    "sized = host=127.0.0.1 pool_size=7 reserve_pool_size=2 "
    "min_pool_size=1 max_db_connections=9 pool_mode=statement "
    "server_lifetime=60\n"
    "forced = host=127.0.0.1 user=owner pool_size=4\n"
    "[users]\n"
    "alice = pool_size=11 pool_mode=session reserve_pool_size=5 "
    "max_user_connections=13\n"
    "[pgweir]\n"
    "pool_mode = transaction\n"
    "default_pool_size = 20\n"
    "reserve_pool_size = 3\n"
    "min_pool_size = 0\n"
    "max_db_connections = 50\n"
    "max_user_connections = 40\n"
    "server_lifetime = 3600\n";

/* The settings of the pool (database, user) under cfg. */
static struct pool_settings
resolve(const struct config *cfg, const char *dbname, const char *username)
{
	struct database db;
	struct user user;
	struct pool pool;

	memset(&db, 0, sizeof(db));
	memset(&user, 0, sizeof(user));
	memset(&pool, 0, sizeof(pool));
	db.conf = (struct db_conf *)config_find_db(cfg, dbname);
	assert_non_null(db.conf);
	user.conf = config_find_user(cfg, username);
	pool.db = &db;
	pool.user = &user;
	pool_resolve_settings(&pool, cfg);
	return pool.set;
}

static void
test_global_values(void **state)
{
	struct config_error err = { .msg = "" };
	struct config *cfg = config_load_string(ini, "t.ini", &err);
	struct pool_settings s;

	(void)state;
	assert_non_null(cfg);
	s = resolve(cfg, "plain", "bob");
	assert_int_equal(s.mode, POOL_TRANSACTION);
	assert_int_equal(s.size, 20);
	assert_int_equal(s.reserve, 3);
	assert_int_equal(s.min_size, 0);
	assert_int_equal(s.db_limit, 50);
	assert_int_equal(s.user_limit, 40);
	assert_int_equal(s.server_lifetime, 3600 * 1000000LL);
	config_unref(cfg);
}

static void
test_database_over_global(void **state)
{
	struct config_error err = { .msg = "" };
	struct config *cfg = config_load_string(ini, "t.ini", &err);
	struct pool_settings s;

	(void)state;
	assert_non_null(cfg);
	s = resolve(cfg, "sized", "bob");
	assert_int_equal(s.mode, POOL_STATEMENT);
	assert_int_equal(s.size, 7);
	assert_int_equal(s.reserve, 2);
	assert_int_equal(s.min_size, 1);
	assert_int_equal(s.db_limit, 9);
	assert_int_equal(s.user_limit, 40);
	assert_int_equal(s.server_lifetime, 60 * 1000000LL);
	config_unref(cfg);
}

static void
test_user_over_database(void **state)
{
	struct config_error err = { .msg = "" };
	struct config *cfg = config_load_string(ini, "t.ini", &err);
	struct pool_settings s;

	(void)state;
	assert_non_null(cfg);
	s = resolve(cfg, "sized", "alice");
	assert_int_equal(s.mode, POOL_SESSION);
	assert_int_equal(s.size, 11);
	assert_int_equal(s.reserve, 5);
	assert_int_equal(s.user_limit, 13);
	/* keys a [users] entry cannot set stay the database's */
	assert_int_equal(s.min_size, 1);
	assert_int_equal(s.db_limit, 9);
	config_unref(cfg);
}

static void
test_forced_user_database_size_wins(void **state)
{
	struct config_error err = { .msg = "" };
	struct config *cfg = config_load_string(ini, "t.ini", &err);
	struct pool_settings s;

	(void)state;
	assert_non_null(cfg);
	s = resolve(cfg, "forced", "alice");
	assert_int_equal(s.size, 4);
	/* the rest still follows the user */
	assert_int_equal(s.mode, POOL_SESSION);
	assert_int_equal(s.reserve, 5);
	config_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_global_values),
		cmocka_unit_test(test_database_over_global),
		cmocka_unit_test(test_user_over_database),
		cmocka_unit_test(test_forced_user_database_size_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
