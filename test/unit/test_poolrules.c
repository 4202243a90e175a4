/* SPDX-License-Identifier: ISC */
/*
 * The pool's rules: when one more server connection may open (the pool's
 * size, its reserve, the database's and the user's caps; poolrules.c,
 * pure), and, in process through the simulator of test/sim/ in front of
 * its fake PostgreSQL, what pool.c does with them: waiting clients are
 * served in the order they began to wait, and an idle server of another
 * pool is closed to make room under a shared cap, never a busy one.
 */
#include "config.h"

#include <event2/buffer.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/poolrules.h"
#include "pgweir/proto.h"

#include "sim.h"

/* ---- the pure rules ---- */

/* A pool of size 2 with a reserve of 1 after 5 s, no caps, no waiter. */
static struct pool_load
load(int servers)
{
	struct pool_load l;

	memset(&l, 0, sizeof(l));
	l.size = 2;
	l.reserve = 1;
	l.oldest_wait = -1;
	l.reserve_timeout = 5000000;
	l.servers = l.db_servers = l.user_servers = servers;
	return l;
}

static void
test_size_and_reserve(void **state)
{
	struct pool_load l = load(2);

	(void)state;
	/* no waiter, or one that has not waited long enough: the size */
	assert_int_equal(poolrules_size_now(&l), 2);
	assert_int_equal(poolrules_room(&l), ROOM_POOL_FULL);
	l.oldest_wait = 4999999;
	assert_int_equal(poolrules_size_now(&l), 2);
	assert_int_equal(poolrules_room(&l), ROOM_POOL_FULL);
	/* the oldest waited reserve_pool_timeout: one more */
	l.oldest_wait = 5000000;
	assert_int_equal(poolrules_size_now(&l), 3);
	assert_int_equal(poolrules_room(&l), ROOM_FREE);
	assert_true(poolrules_from_reserve(&l));
	l.servers = 3;
	assert_int_equal(poolrules_room(&l), ROOM_POOL_FULL);
	/* below its size a pool takes nothing from the reserve */
	l = load(1);
	assert_int_equal(poolrules_room(&l), ROOM_FREE);
	assert_false(poolrules_from_reserve(&l));
	/* no reserve configured: never more than the size */
	l = load(2);
	l.reserve = 0;
	l.oldest_wait = 60000000;
	assert_int_equal(poolrules_size_now(&l), 2);
	assert_int_equal(poolrules_room(&l), ROOM_POOL_FULL);
}

static void
test_size_zero_is_unbounded(void **state)
{
	struct pool_load l = load(1000);

	(void)state;
	l.size = 0;
	l.oldest_wait = 60000000;
	assert_int_equal(poolrules_size_now(&l), 0);
	assert_int_equal(poolrules_room(&l), ROOM_FREE);
	assert_false(poolrules_from_reserve(&l));
}

static void
test_caps(void **state)
{
	struct pool_load l = load(1);

	(void)state;
	/* the database's cap counts every pool of the database */
	l.db_limit = 4;
	l.db_servers = 3;
	assert_int_equal(poolrules_room(&l), ROOM_FREE);
	l.db_servers = 4;
	assert_int_equal(poolrules_room(&l), ROOM_DB_FULL);
	/* the user's, every pool of the user */
	l.db_servers = 1;
	l.user_limit = 2;
	l.user_servers = 2;
	assert_int_equal(poolrules_room(&l), ROOM_USER_FULL);
	/* the first bound reached is named: pool, then database, then user */
	l.db_servers = 4;
	assert_int_equal(poolrules_room(&l), ROOM_DB_FULL);
	l.servers = 2;
	assert_int_equal(poolrules_room(&l), ROOM_POOL_FULL);
	/* 0: no cap */
	l = load(1);
	l.db_servers = l.user_servers = 100000;
	assert_int_equal(poolrules_room(&l), ROOM_FREE);
}

/* Fair shares: the cap evenly over the pools that want servers. */
static void
test_fair_share(void **state)
{
	(void)state;
	assert_int_equal(poolrules_fair_share(10, 2), 5);
	assert_int_equal(poolrules_fair_share(10, 3), 3);
	assert_int_equal(poolrules_fair_share(10, 1), 10);
	/* more pools than the cap: one each, as they take turns */
	assert_int_equal(poolrules_fair_share(2, 5), 1);
	/* nobody else: the whole cap */
	assert_int_equal(poolrules_fair_share(4, 0), 4);
}

/*
 * The breaker's backoff: doubling from 0.2-0.4 s, each step jittered over
 * [half, whole], never past server_login_retry.
 */
static void
test_retry_delay(void **state)
{
	const int64_t cap = 15000000;
	uint32_t rnds[] = { 0, 1, 12345, 0x7fffffff, 0xffffffff };

	(void)state;
	for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
		for (int n = 1; n <= 40; n++) {
			int64_t base = n > 21 ? (int64_t)400000 << 20 :
			    (int64_t)400000 << (n - 1);
			int64_t want_lo = base / 2 < cap ? base / 2 : cap;
			int64_t want_hi = base < cap ? base : cap;
			int64_t d = poolrules_retry_delay(n, cap, rnds[i]);

			assert_true(d >= want_lo && d <= want_hi);
		}
	}
	/* the extremes of the jitter */
	assert_int_equal(poolrules_retry_delay(1, cap, 0), 200000);
	assert_int_equal(poolrules_retry_delay(1, cap, 200000), 400000);
	assert_int_equal(poolrules_retry_delay(3, cap, 0), 800000);
	/* capped: from the eighth failure on, server_login_retry */
	assert_int_equal(poolrules_retry_delay(7, cap, 0), 12800000);
	assert_int_equal(poolrules_retry_delay(8, cap, 0), cap);
	assert_int_equal(poolrules_retry_delay(1000, cap, 99), cap);
	/* a cap below the first step */
	assert_int_equal(poolrules_retry_delay(1, 100000, 5), 100000);
	/* jitter spreads the pools: not everyone at the same instant */
	assert_int_not_equal(poolrules_retry_delay(4, cap, 1),
	    poolrules_retry_delay(4, cap, 999999));
}

/* ---- what pool.c does with them, in process ---- */

static struct sim *
open_sim(int pool_size, const char *extra)
{
	struct sim_opts o;

	memset(&o, 0, sizeof(o));
	o.pool_mode = POOL_TRANSACTION;
	o.pool_size = pool_size;
	o.auth_type = AUTH_TRUST;
	o.check_frames = true;
	o.extra = extra;
	return sim_open(&o);
}

/* A logged-in client of database db as user. */
static struct sim_client *
login(struct sim *e, const char *user)
{
	struct sim_client *fc = sim_client_open(e, false);

	assert_non_null(fc);
	assert_int_equal(sim_client_login(e, fc, "db", user, NULL), 0);
	fc->n_got = 0;
	return fc;
}

/* Send a simple query, run the loop; what the client got since last. */
static const char *
query(struct sim *e, struct sim_client *fc, const char *sql)
{
	struct evbuffer *b = evbuffer_new();

	assert_non_null(b);
	fc->n_got = 0;
	fc->got[0] = '\0';
	sim_add_msg(b, PQMSG_QUERY, sql, strlen(sql) + 1);
	sim_client_write(e, fc, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	sim_pump(e);
	return fc->got;
}

static int
state_of(struct sim *e, struct sim_client *fc)
{
	return (int)sim_client_get(e, fc)->state;
}

/* The pool of (db, user), or NULL. */
static struct pool *
pool_of(struct sim *e, const char *user)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &sim_pw(e)->pools, entry)
		if (strcmp(pool->user->name, user) == 0)
			return pool;
	return NULL;
}

/*
 * One server, three clients: the two that wait are served in the order
 * they began to wait (here the reverse of their logins), each only when
 * the one before ends its transaction.
 */
static void
test_waiters_served_in_order(void **state)
{
	struct sim *e = open_sim(1, NULL);
	struct sim_client *a, *b, *c;

	(void)state;
	a = login(e, "u1");
	b = login(e, "u1");
	c = login(e, "u1");
	assert_string_equal(query(e, a, "BEGIN"), "CZ");
	assert_int_equal(state_of(e, a), CL_ACTIVE);
	assert_string_equal(query(e, c, "BEGIN"), "");
	assert_string_equal(query(e, b, "BEGIN"), "");
	assert_int_equal(state_of(e, c), CL_WAITING);
	assert_int_equal(state_of(e, b), CL_WAITING);
	assert_ptr_equal(TAILQ_FIRST(&pool_of(e, "u1")->waiting_clients),
	    sim_client_get(e, c));

	/* a ends its transaction: c, the first to wait, gets the server */
	c->n_got = b->n_got = 0;
	assert_string_equal(query(e, a, "COMMIT"), "CZ");
	assert_string_equal(c->got, "CZ");
	assert_string_equal(b->got, "");
	assert_int_equal(state_of(e, b), CL_WAITING);

	/* then b */
	assert_string_equal(query(e, c, "COMMIT"), "CZ");
	assert_string_equal(b->got, "CZ");
	assert_int_equal(state_of(e, b), CL_ACTIVE);
	assert_int_equal(pool_of(e, "u1")->n_idle_servers +
	    pool_of(e, "u1")->n_active_servers, 1);
	sim_close(e);
}

/*
 * max_db_connections = 1 shared by two users' pools: a client of the
 * second user is served by closing the first pool's idle server, at once;
 * a server in a transaction is never taken: the client waits for it to be
 * released, and then the released server is the one closed.
 */
static void
test_eviction_under_db_cap(void **state)
{
	struct sim *e = open_sim(2, "max_db_connections = 1\n");
	struct sim_client *a, *b;
	struct pool *pa, *pb;

	(void)state;
	a = login(e, "u1");
	b = login(e, "u2");
	pa = pool_of(e, "u1");
	pb = pool_of(e, "u2");
	assert_non_null(pa);
	assert_non_null(pb);
	assert_string_equal(query(e, a, "SELECT 1"), "TDCZ");
	assert_int_equal(pa->n_idle_servers + pb->n_idle_servers, 1);

	/* b's query: a's idle server is closed for it */
	assert_string_equal(query(e, b, "SELECT 1"), "TDCZ");
	assert_int_equal(pa->n_idle_servers, 0);
	assert_int_equal(pb->n_idle_servers, 1);
	assert_int_equal(pb->db->n_servers, 1);

	/* b holds its server in a transaction: a waits, nothing is closed */
	assert_string_equal(query(e, b, "BEGIN"), "CZ");
	assert_string_equal(query(e, a, "SELECT 1"), "");
	assert_int_equal(state_of(e, a), CL_WAITING);
	assert_int_equal(pb->n_active_servers, 1);
	assert_int_equal(pb->db->n_servers, 1);

	/* b commits: its server, idle now, makes room for a */
	a->n_got = 0;
	assert_string_equal(query(e, b, "COMMIT"), "CZ");
	assert_string_equal(a->got, "TDCZ");
	assert_int_equal(pb->n_idle_servers + pb->n_active_servers, 0);
	assert_int_equal(pa->db->n_servers, 1);
	sim_close(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_and_reserve),
		cmocka_unit_test(test_size_zero_is_unbounded),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_fair_share),
		cmocka_unit_test(test_waiters_served_in_order),
		cmocka_unit_test(test_eviction_under_db_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
