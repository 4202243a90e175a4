/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of prepared statements in transaction mode: the statement
 * registry and the rewriting of the message stream, in process.
 *
 * The simulator of test/sim/ runs pgweir in process in front of its
 * fake PostgreSQL, which keeps statements per connection and answers as
 * PostgreSQL does ("prepared statement does not exist" for a name it was
 * never given).  A test sends a client's messages through the relay and
 * checks the types of the messages the client gets back; the harness also
 * aborts if an answer goes missing or comes out of order.
 */
#include "config.h"

#include <event2/buffer.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"

#include "sim.h"

/* ---- building a client's stream ---- */

/* Bind the unnamed portal to a statement, no parameters; Execute it. */
static void
add_bind_execute(struct evbuffer *b, const char *stmt)
{
	static const uint8_t exec[5] = { 0, 0, 0, 0, 0 };

	sim_add_bind(b, stmt);
	sim_add_msg(b, PQMSG_EXECUTE, exec, sizeof(exec));
}

/* Describe or Close ('D' or 'C') of a statement. */
static void
add_statement_op(struct evbuffer *b, uint8_t type, const char *stmt)
{
	char body[64];
	size_t n = strlen(stmt);

	body[0] = 'S';
	memcpy(body + 1, stmt, n + 1);
	sim_add_msg(b, type, body, n + 2);
}

static void
add_sync(struct evbuffer *b)
{
	sim_add_msg(b, PQMSG_SYNC, NULL, 0);
}

static void
add_query(struct evbuffer *b, const char *sql)
{
	sim_add_msg(b, PQMSG_QUERY, sql, strlen(sql) + 1);
}

/* ---- the environment ---- */

struct env {
	struct sim *e;
	struct sim_client *a;
	struct evbuffer *b;	/* what a test is about to send */
};

/* Transaction mode, one server, a logged-in client "a". */
static void
env_open(struct env *t, int max_prepared)
{
	struct sim_opts o;

	memset(&o, 0, sizeof(o));
	o.pool_mode = POOL_TRANSACTION;
	o.max_prepared = max_prepared;
	o.pool_size = 1;
	o.auth_type = AUTH_TRUST;
	o.check_frames = true;
	o.check_answers = true;
	t->e = sim_open(&o);
	t->b = evbuffer_new();
	t->a = sim_client_open(t->e, false);
	assert_non_null(t->a);
	assert_int_equal(sim_client_login(t->e, t->a, "db", "u1", NULL), 0);
}

static void
env_close(struct env *t)
{
	evbuffer_free(t->b);
	sim_close(t->e);
}

/* cmocka fixtures: the environment with room for 200 statements. */
static int
setup(void **state)
{
	struct env *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	env_open(t, 200);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	env_close(*state);
	free(*state);
	return 0;
}

static struct sim_client *
client_new(struct env *t)
{
	struct sim_client *fc = sim_client_open(t->e, false);

	assert_non_null(fc);
	assert_int_equal(sim_client_login(t->e, fc, "db", "u1", NULL), 0);
	return fc;
}

/*
 * Send what b holds (in pieces of at most piece bytes; 0: at once), let
 * it all through, and return the types of what came back.
 */
static const char *
exchange(struct env *t, struct sim_client *fc, struct evbuffer *b,
    size_t piece)
{
	size_t len = evbuffer_get_length(b);
	const uint8_t *data = evbuffer_pullup(b, -1);

	fc->n_got = 0;
	fc->got[0] = '\0';
	if (piece == 0)
		piece = len;
	for (size_t off = 0; off < len; off += piece) {
		sim_client_inject(t->e, fc, data + off,
		    len - off < piece ? len - off : piece);
		sim_pump(t->e);
	}
	evbuffer_drain(b, len);
	return fc->got;
}

/* The backend goes away; the next transaction gets a new one. */
static void
lose_server(struct env *t)
{
	struct server *s = sim_server_any(t->e);

	assert_non_null(s);
	server_close(s, "test: the backend went away");
	sim_pump(t->e);
}

/* ---- tests ---- */

/*
 * A statement follows its client to a backend that never saw it: pgweir
 * prepares it there first and hides that ParseComplete.
 */
static void
test_statement_follows_client(void **state)
{
	struct env *t = *state;
	struct evbuffer *b = t->b;

	sim_add_parse(b, "s1", "select 1");
	add_bind_execute(b, "s1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "12DCZ");
	assert_int_equal(prepared_client_count(sim_client_get(t->e, t->a)), 1);

	lose_server(t);
	add_bind_execute(b, "s1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "2DCZ");
	/* Describe on yet another backend: prepared there too */
	lose_server(t);
	add_statement_op(b, PQMSG_DESCRIBE, "s1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "tTZ");
}

/*
 * The registry keys statements by text: two clients' names for the same
 * query are one statement, prepared once on the shared backend, and a
 * Parse of a statement the backend already has costs no round trip.
 */
static void
test_registry_shares_statements(void **state)
{
	struct env *t = *state;
	struct evbuffer *b = t->b;
	struct sim_client *c2;

	c2 = client_new(t);
	sim_add_parse(b, "a_name", "select 42");
	add_bind_execute(b, "a_name");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "12DCZ");
	sim_add_parse(b, "another_name", "select 42");
	add_bind_execute(b, "another_name");
	add_sync(b);
	assert_string_equal(exchange(t, c2, b, 0), "12DCZ");
	sim_add_parse(b, "third", "select 43");
	add_sync(b);
	assert_string_equal(exchange(t, c2, b, 0), "1Z");
	assert_int_equal(prepared_registry_count(sim_pw(t->e)), 2);
	assert_int_equal(prepared_client_count(sim_client_get(t->e, t->a)), 1);
	assert_int_equal(prepared_client_count(sim_client_get(t->e, c2)), 2);
	assert_int_equal(prepared_server_count(sim_server_any(t->e)), 2);
}

/*
 * Re-using a name without closing it is PostgreSQL's own error, not a
 * disconnect; after a Close, the name is free again.  Close is answered
 * for the client alone.
 */
static void
test_name_reuse_and_close(void **state)
{
	struct env *t = *state;
	struct evbuffer *b = t->b;

	sim_add_parse(b, "s1", "select 1");
	add_sync(b);
	sim_add_parse(b, "s1", "select 2");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "1ZEZ");
	add_statement_op(b, PQMSG_CLOSE, "s1");
	sim_add_parse(b, "s1", "select 2");
	add_bind_execute(b, "s1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "312DCZ");
	assert_int_equal(prepared_client_count(sim_client_get(t->e, t->a)), 1);
}

/* DISCARD ALL forgets the client's names: the server then says so. */
static void
test_discard_all_forgets_names(void **state)
{
	struct env *t = *state;
	struct evbuffer *b = t->b;

	sim_add_parse(b, "s1", "select 1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "1Z");
	add_query(b, "DISCARD ALL");
	assert_string_equal(exchange(t, t->a, b, 0), "CZ");
	assert_int_equal(prepared_client_count(sim_client_get(t->e, t->a)), 0);
	add_bind_execute(b, "s1");
	add_sync(b);
	assert_string_equal(exchange(t, t->a, b, 0), "EZ");
}

/*
 * With room for two statements per backend, a third evicts the least
 * recently used (Close on the backend, hidden), and using an evicted one
 * prepares it again: the client sees none of it.
 */
static void
test_lru_eviction(void **state)
{
	static const char *const names[] = { "a", "b", "c", "a", "c", "b" };
	static const char *const texts[] = { "select 1", "select 2",
		"select 3" };
	struct env t;
	struct evbuffer *b;

	(void)state;
	env_open(&t, 2);
	b = t.b;
	for (int i = 0; i < 3; i++) {
		sim_add_parse(b, names[i], texts[i]);
		add_sync(b);
		assert_string_equal(exchange(&t, t.a, b, 0), "1Z");
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		add_bind_execute(b, names[i]);
		add_sync(b);
		assert_string_equal(exchange(&t, t.a, b, 0), "2DCZ");
		assert_true(prepared_server_count(sim_server_any(t.e)) <= 2);
	}
	env_close(&t);
}

/*
 * One pipelined batch (Parse, Bind/Execute, Describe, a reused name, a
 * Close, a new Parse of the name) split in two at every byte, and in
 * pieces of every size up to 16: the client gets the same answers every
 * time.
 */
static void
test_batch_split_everywhere(void **state)
{
	struct evbuffer *batch = evbuffer_new();
	const char *want = "12DCZ" "tTZ" "EZ" "312DCZ" "2DCZ";
	size_t len;
	uint8_t *data;

	(void)state;
	sim_add_parse(batch, "s1", "select 1");
	add_bind_execute(batch, "s1");
	add_sync(batch);
	add_statement_op(batch, PQMSG_DESCRIBE, "s1");
	add_sync(batch);
	sim_add_parse(batch, "s1", "select 2");
	add_sync(batch);
	add_statement_op(batch, PQMSG_CLOSE, "s1");
	sim_add_parse(batch, "s1", "select 2");
	add_bind_execute(batch, "s1");
	add_sync(batch);
	add_bind_execute(batch, "s1");
	add_sync(batch);
	len = evbuffer_get_length(batch);
	data = malloc(len);
	assert_non_null(data);
	evbuffer_copyout(batch, data, len);

	for (size_t cut = 0; cut <= len; cut++) {
		struct env t;
		env_open(&t, 200);
		t.a->n_got = 0;
		sim_client_inject(t.e, t.a, data, cut);
		sim_pump(t.e);
		sim_client_inject(t.e, t.a, data + cut, len - cut);
		sim_pump(t.e);
		if (strcmp(t.a->got, want) != 0)
			fail_msg("cut at byte %zu of %zu: got %s, want %s",
			    cut, len, t.a->got, want);
		env_close(&t);
	}
	for (size_t piece = 1; piece <= 16; piece++) {
		struct env t;
		env_open(&t, 200);
		evbuffer_add(t.b, data, len);
		if (strcmp(exchange(&t, t.a, t.b, piece), want) != 0)
			fail_msg("pieces of %zu bytes: got %s, want %s",
			    piece, t.a->got, want);
		env_close(&t);
	}
	free(data);
	evbuffer_free(batch);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_statement_follows_client,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_shares_statements,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_reuse_and_close,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_all_forgets_names,
		    setup, teardown),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_batch_split_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
