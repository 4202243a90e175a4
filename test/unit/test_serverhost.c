/* SPDX-License-Identifier: ISC */
/*
 * target_session_attrs against a server that does not report
 * in_hot_standby (PostgreSQL 13 and older), through the simulator's fake
 * PostgreSQL, which says what it is only when asked: pgweir asks with one
 * probe query at login, and only for databases that need to know; the
 * answer decides whether the server serves the database, as
 * in_hot_standby does for PostgreSQL 14 and later (it_failover).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/config.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/server.h"

#include "sim.h"

/* The pool of a database (user u1), or NULL. */
static struct pool *
pool_of(struct sim *e, const char *db)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &sim_pw(e)->pools, entry)
		if (strcmp(pool->db->name, db) == 0)
			return pool;
	return NULL;
}

/* The role of the pool's (first) logged-in server. */
static int
server_role(struct sim *e, const char *db)
{
	struct pool *pool = pool_of(e, db);
	struct server *s;

	if (pool == NULL)
		return -1;
	TAILQ_FOREACH(s, &pool->idle_servers, entry)
		return s->role;
	TAILQ_FOREACH(s, &pool->active_servers, entry)
		return s->role;
	return -1;
}

/* Whether a client logs in to db (its server serves it). */
static bool
logs_in(struct sim *e, const char *db)
{
	struct sim_client *fc = sim_client_open(e, false);

	return fc != NULL && sim_client_login(e, fc, db, "u1", NULL) == 0;
}

static struct sim *
open_sim(bool standby)
{
	struct sim_opts o;

	memset(&o, 0, sizeof(o));
	o.pool_mode = POOL_TRANSACTION;
	o.pool_size = 2;
	o.auth_type = AUTH_TRUST;
	o.check_frames = true;
	o.pg_standby = standby;
	return sim_open(&o);
}

static void
test_primary(void **state)
{
	struct sim *e = open_sim(false);

	(void)state;
	/* any: nothing asked, nothing known */
	assert_true(logs_in(e, "db"));
	assert_int_equal(server_role(e, "db"), HOST_UNKNOWN);
	/* read-write: asked, a primary, served */
	assert_true(logs_in(e, "dbrw"));
	assert_int_equal(server_role(e, "dbrw"), HOST_PRIMARY);
	/* standby: asked, a primary, refused; the pool looks again soon */
	assert_false(logs_in(e, "dbsb"));
	assert_non_null(pool_of(e, "dbsb"));
	assert_true(pool_of(e, "dbsb")->last_error_misfit);
	assert_int_equal(pool_of(e, "dbsb")->n_idle_servers, 0);
	/* prefer-standby with one host: the primary as the last resort */
	assert_true(logs_in(e, "dbpref"));
	assert_int_equal(server_role(e, "dbpref"), HOST_PRIMARY);
	sim_close(e);
}

static void
test_standby(void **state)
{
	struct sim *e = open_sim(true);

	(void)state;
	assert_false(logs_in(e, "dbrw"));
	assert_true(pool_of(e, "dbrw")->last_error_misfit);
	assert_true(logs_in(e, "dbsb"));
	assert_int_equal(server_role(e, "dbsb"), HOST_STANDBY);
	assert_true(logs_in(e, "dbpref"));
	assert_int_equal(server_role(e, "dbpref"), HOST_STANDBY);
	sim_close(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_primary),
		cmocka_unit_test(test_standby),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
