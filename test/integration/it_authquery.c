/* SPDX-License-Identifier: ISC */
/*
 * auth_query against a real PostgreSQL, driving the authquery module
 * directly on an event loop of the test's own (no pgweir process): secrets
 * found and not found through the recommended SECURITY DEFINER function,
 * wrong result shapes, unreachable and silent servers, query timeouts,
 * the cache and its TTL, shared lookups for bursts, cancellation (also
 * from inside callbacks), broken connections, the queue limit, host
 * names resolved with evdns (against a DNS server on the same loop), and
 * an event loop that keeps ticking while lookups run.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "harness.h"
#include "pgweir/authquery.h"

#define AUTH_QUERY "SELECT username, password FROM pgweir.get_auth($1)"
#define APP_COUNT "select count(*) from pg_stat_activity where " \
	"application_name = 'pgweir auth_query'"

static struct it_env env;
static struct event_base *base;
static char ci_unix[512], ci_tcp[512];

/* What one request's callback saw. */
struct answer {
	int calls;
	bool cached;		/* answered synchronously from the cache */
	enum authquery_status st;
	char secret[512];
	char errmsg[512];
	int64_t at_ms;
};

/* Monotonic milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Record an answer. */
static void
answer_cb(void *arg, enum authquery_status st, const char *secret,
    const char *errmsg)
{
	struct answer *a = arg;

	a->calls++;
	a->st = st;
	snprintf(a->secret, sizeof(a->secret), "%s", secret ? secret : "");
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", errmsg ? errmsg : "");
	a->at_ms = now_ms();
}

/* Start a lookup; a synchronous (cached) answer is recorded in a. */
static struct authquery_req *
lookup(struct authquery *aq, const char *ci, const char *query,
    const char *user, struct answer *a)
{
	enum authquery_status st = AQ_ERROR;
	char secret[256];
	struct authquery_req *req;

	req = authquery_lookup(aq, ci, query, user, answer_cb, a, &st, secret,
	    sizeof(secret));
	if (req == NULL) {
		a->cached = true;
		a->st = st;
		snprintf(a->secret, sizeof(a->secret), "%s", secret);
	}
	return req;
}

/* Loop state for loop_until. */
struct waiter {
	const int *counter;
	int n;
	int64_t deadline;
};

/* Stop the loop when the counter is reached or time is up. */
static void
waiter_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	(void)fd;
	(void)what;
	if ((w->counter && *w->counter >= w->n) || now_ms() >= w->deadline)
		event_base_loopbreak(base);
}

/* Run the loop until *counter >= n or timeout_ms; whether it was reached. */
static bool
loop_until(const int *counter, int n, int timeout_ms)
{
	struct waiter w = { counter, n, now_ms() + timeout_ms };
	struct timeval tv = { 0, 5000 };
	struct event *ev = event_new(base, -1, EV_PERSIST, waiter_cb, &w);

	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
	return counter && *counter >= n;
}

/* Run the loop for a while. */
static void
loop_for(int ms)
{
	loop_until(NULL, 0, ms);
}

/* Run the loop until n queries went out (at most 10 s). */
static void
wait_sent(struct authquery *aq, uint64_t n)
{
	for (int i = 0; i < 1000 && authquery_queries_sent(aq) < n; i++)
		loop_for(10);
}

/* Sum of calls over answers. */
static int
calls_sum(const struct answer *a, int n)
{
	int sum = 0;

	for (int i = 0; i < n; i++)
		sum += a[i].calls;
	return sum;
}

/* Wait until PostgreSQL shows n auth_query connections. */
static bool
pg_conns_settle(long long n)
{
	for (int i = 0; i < 100; i++) {
		if (it_pg_int(&env, APP_COUNT) == n)
			return true;
		it_sleep_ms(50);
	}
	return false;
}

/* A cluster with the roles and the recommended function; an event base. */
static int
setup(void **state)
{
	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	if (it_pg_exec(&env,
	    "SET password_encryption = 'scram-sha-256';"
	    "CREATE ROLE alice LOGIN PASSWORD 'a1';"
	    "CREATE ROLE bob NOLOGIN PASSWORD 'b1';"
	    "CREATE ROLE carol LOGIN PASSWORD 'c1' VALID UNTIL '2000-01-01';"
	    "CREATE ROLE dave LOGIN;"
	    "CREATE ROLE erin LOGIN PASSWORD 'e1';"
	    "CREATE SCHEMA pgweir;"
	    "CREATE FUNCTION pgweir.get_auth(p_usename text) "
	    "RETURNS TABLE(username text, password text) LANGUAGE sql "
	    "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ "
	    "SELECT rolname::text, CASE WHEN rolvaliduntil < now() THEN NULL "
	    "ELSE rolpassword END FROM pg_authid WHERE rolname = p_usename "
	    "AND rolcanlogin $$;"
	    "REVOKE ALL ON FUNCTION pgweir.get_auth(text) FROM PUBLIC;"
	    "CREATE ROLE pgweir_auth LOGIN;"
	    "GRANT USAGE ON SCHEMA pgweir TO pgweir_auth;"
	    "GRANT EXECUTE ON FUNCTION pgweir.get_auth(text) TO pgweir_auth;")
	    < 0)
		return -1;
	snprintf(ci_unix, sizeof(ci_unix), "host=%s port=%d dbname=postgres "
	    "user=pgweir_auth", env.pgdir, env.pg_port);
	snprintf(ci_tcp, sizeof(ci_tcp), "host=127.0.0.1 port=%d "
	    "dbname=postgres user=pgweir_auth", env.pg_port);
	base = event_base_new();
	return base ? 0 : -1;
}

/* Stop everything. */
static int
teardown(void **state)
{
	(void)state;
	if (base)
		event_base_free(base);
	return it_env_fini(&env);
}

/* A SCRAM secret, the very one in pg_authid, over one reused connection. */
static void
test_found(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[3];
	PGconn *pg;
	char *expect;

	(void)state;
	memset(a, 0, sizeof(a));
	assert_true(pg_conns_settle(0));
	authquery_set_cache_ttl(aq, 0);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[0]));
	/* never answered from inside authquery_lookup */
	assert_int_equal(a[0].calls, 0);
	assert_true(loop_until(&a[0].calls, 1, 10000));
	assert_int_equal(a[0].st, AQ_FOUND);
	assert_memory_equal(a[0].secret, "SCRAM-SHA-256$", 14);
	assert_string_equal(a[0].errmsg, "");

	pg = it_connect_pg(&env, "postgres");
	expect = it_query_text(pg, "select rolpassword from pg_authid "
	    "where rolname = 'alice'");
	PQfinish(pg);
	assert_non_null(expect);
	assert_string_equal(a[0].secret, expect);
	free(expect);

	/* later lookups reuse the connection */
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "erin", &a[1]));
	assert_true(loop_until(&a[1].calls, 1, 10000));
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[2]));
	assert_true(loop_until(&a[2].calls, 1, 10000));
	assert_string_equal(a[2].secret, a[0].secret);
	assert_int_equal(authquery_queries_sent(aq), 3);
	assert_int_equal(authquery_connections(aq), 1);
	assert_int_equal(it_pg_int(&env, APP_COUNT), 1);
	authquery_free(aq);
	assert_true(pg_conns_settle(0));
}

/*
 * Unknown, NOLOGIN, odd names: AQ_NOT_FOUND; expired and no password (a
 * NULL secret): found, with no password.
 */
static void
test_not_found(void **state)
{
	static const char *const users[] = { "nobody", "bob", "carol",
		"dave", "alice' OR true --", "" };
	struct authquery *aq = authquery_new(base);
	struct answer a[6];

	(void)state;
	memset(a, 0, sizeof(a));
	for (int i = 0; i < 6; i++)
		assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, users[i],
		    &a[i]));
	for (int i = 0; i < 6; i++) {
		assert_true(loop_until(&a[i].calls, 1, 10000));
		assert_int_equal(a[i].calls, 1);
		/* carol (expired) and dave (no password) exist */
		assert_int_equal(a[i].st, i == 2 || i == 3 ? AQ_FOUND :
		    AQ_NOT_FOUND);
		assert_string_equal(a[i].secret, "");
	}
	assert_int_equal(authquery_queries_sent(aq), 6);
	authquery_free(aq);
}

/* Wrong shapes and failing queries: AQ_ERROR, connection kept, no cache. */
static void
test_bad_query(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[7];

	(void)state;
	memset(a, 0, sizeof(a));
	lookup(aq, ci_unix, "SELECT $1::text", "alice", &a[0]);
	lookup(aq, ci_unix, "SELECT $1::text, 'a', 'b'", "alice", &a[1]);
	lookup(aq, ci_unix, "SELECT nonsense FROM", "alice", &a[2]);
	lookup(aq, ci_unix, "SELECT rolname::text, 'x' FROM pg_roles "
	    "WHERE $1::text IS NOT NULL", "alice", &a[3]);
	lookup(aq, ci_unix, "SET work_mem = '1MB'", "alice", &a[4]);
	lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[5]);
	assert_true(loop_until(&a[5].calls, 1, 10000));
	assert_int_equal(calls_sum(a, 6), 6);
	for (int i = 0; i < 5; i++)
		assert_int_equal(a[i].st, AQ_ERROR);
	assert_string_equal(a[0].errmsg, "auth_query must return 2 columns "
	    "(name, secret), got 1");
	assert_string_equal(a[1].errmsg, "auth_query must return 2 columns "
	    "(name, secret), got 3");
	assert_non_null(strstr(a[2].errmsg, "auth_query failed"));
	assert_non_null(strstr(a[2].errmsg, "syntax error"));
	assert_non_null(strstr(a[3].errmsg, "at most 1 row"));
	/* a parameter with no statement to bind it to is an error too */
	assert_non_null(strstr(a[4].errmsg, "auth_query"));
	/* the connection survived the errors */
	assert_int_equal(a[5].st, AQ_FOUND);
	assert_int_equal(authquery_connections(aq), 1);
	/* errors are not cached */
	assert_non_null(lookup(aq, ci_unix, "SELECT $1::text", "alice",
	    &a[6]));
	assert_true(loop_until(&a[6].calls, 1, 10000));
	assert_int_equal(a[6].st, AQ_ERROR);
	authquery_free(aq);
}

/* Nothing listening: every waiting lookup fails at once; no cache. */
static void
test_refused(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[3];
	char ci[256];
	int64_t t0;

	(void)state;
	memset(a, 0, sizeof(a));
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=postgres "
	    "user=pgweir_auth", it_free_port());
	t0 = now_ms();
	lookup(aq, ci, AUTH_QUERY, "alice", &a[0]);
	lookup(aq, ci, AUTH_QUERY, "erin", &a[1]);
	assert_true(loop_until(&a[1].calls, 1, 5000));
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(a[0].calls, 1);
	assert_int_equal(a[0].st, AQ_ERROR);
	assert_int_equal(a[1].st, AQ_ERROR);
	assert_non_null(strstr(a[0].errmsg, "could not connect to auth_query "
	    "server"));
	assert_null(strchr(a[0].errmsg, '\n'));
	assert_int_equal(authquery_connections(aq), 0);
	/* the next lookup tries again */
	assert_non_null(lookup(aq, ci, AUTH_QUERY, "alice", &a[2]));
	assert_true(loop_until(&a[2].calls, 1, 5000));
	assert_int_equal(a[2].st, AQ_ERROR);
	authquery_free(aq);
}

/* Ticks of a 10 ms timer, and the longest gap between two. */
struct ticker {
	int ticks;
	int64_t last;
	int64_t max_gap;
};

/* Count a tick. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ticker *t = arg;
	int64_t now = now_ms();

	(void)fd;
	(void)what;
	if (t->last && now - t->last > t->max_gap)
		t->max_gap = now - t->last;
	t->last = now;
	t->ticks++;
}

/* A server that accepts TCP but never answers: our own connect timeout. */
static void
test_connect_timeout(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct answer a;
	struct ticker t = { 0, 0, 0 };
	struct timeval tv = { 0, 10000 };
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, &t);
	char ci[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int64_t t0;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	/* connect_timeout only works for blocking connects: ours must */
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=postgres "
	    "user=pgweir_auth connect_timeout=1", ntohs(sin.sin_port));
	authquery_set_timeout(aq, 400000);
	event_add(tick, &tv);
	t0 = now_ms();
	lookup(aq, ci, AUTH_QUERY, "alice", &a);
	assert_true(loop_until(&a.calls, 1, 10000));
	event_free(tick);
	close(fd);
	assert_int_equal(a.st, AQ_ERROR);
	assert_non_null(strstr(a.errmsg, "timeout"));
	assert_true(a.at_ms - t0 >= 350);
	assert_true(a.at_ms - t0 < 3000);
	/* the loop kept running meanwhile */
	assert_true(t.ticks >= 20);
	assert_true(t.max_gap < 400);
	authquery_free(aq);
}

/* A query that runs too long fails; the next lookup reconnects. */
static void
test_query_timeout(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[2];
	int64_t t0;

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_timeout(aq, 300000);
	t0 = now_ms();
	lookup(aq, ci_unix, "SELECT $1::text, 'x' FROM pg_sleep(3)", "alice",
	    &a[0]);
	assert_true(loop_until(&a[0].calls, 1, 10000));
	assert_int_equal(a[0].st, AQ_ERROR);
	assert_non_null(strstr(a[0].errmsg, "timed out"));
	assert_true(a[0].at_ms - t0 < 2000);
	assert_int_equal(authquery_connections(aq), 0);
	authquery_set_timeout(aq, 15000000);
	lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[1]);
	assert_true(loop_until(&a[1].calls, 1, 10000));
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_int_equal(authquery_connections(aq), 1);
	authquery_free(aq);
}

/* Answers are reused until the TTL passes; not-found too; bounded size. */
static void
test_cache(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[16];
	enum authquery_status st;
	char small[8];

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_cache_ttl(aq, 700000);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[0]));
	assert_true(loop_until(&a[0].calls, 1, 10000));
	assert_int_equal(a[0].st, AQ_FOUND);
	/* the second one is answered at once, with no query */
	assert_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[1]));
	assert_true(a[1].cached);
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_string_equal(a[1].secret, a[0].secret);
	assert_int_equal(authquery_queries_sent(aq), 1);
	/* no such user: cached as well */
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "nobody", &a[2]));
	assert_true(loop_until(&a[2].calls, 1, 10000));
	assert_null(lookup(aq, ci_unix, AUTH_QUERY, "nobody", &a[3]));
	assert_int_equal(a[3].st, AQ_NOT_FOUND);
	assert_int_equal(authquery_queries_sent(aq), 2);
	/* the key includes the query and the connection string */
	assert_non_null(lookup(aq, ci_tcp, AUTH_QUERY, "alice", &a[4]));
	assert_true(loop_until(&a[4].calls, 1, 10000));
	assert_string_equal(a[4].secret, a[0].secret);
	/* a buffer too small for the secret: asked again, answered later */
	assert_non_null(authquery_lookup(aq, ci_unix, AUTH_QUERY, "alice",
	    answer_cb, &a[5], &st, small, sizeof(small)));
	assert_true(loop_until(&a[5].calls, 1, 10000));
	assert_string_equal(a[5].secret, a[0].secret);
	/* after the TTL, a new query */
	it_sleep_ms(800);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[6]));
	assert_true(loop_until(&a[6].calls, 1, 10000));
	assert_int_equal(a[6].st, AQ_FOUND);
	assert_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[7]));
	/* a flush forgets everything */
	authquery_flush_cache(aq);
	assert_int_equal(authquery_cache_size(aq), 0);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[8]));
	assert_true(loop_until(&a[8].calls, 1, 10000));
	assert_int_equal(a[8].st, AQ_FOUND);
	/* the size bound evicts the oldest */
	authquery_set_cache_max(aq, 2);
	assert_int_equal(authquery_cache_size(aq), 1);
	lookup(aq, ci_unix, AUTH_QUERY, "erin", &a[9]);
	assert_true(loop_until(&a[9].calls, 1, 10000));
	lookup(aq, ci_unix, AUTH_QUERY, "dave", &a[10]);
	assert_true(loop_until(&a[10].calls, 1, 10000));
	assert_int_equal(authquery_cache_size(aq), 2);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[11]));
	assert_true(loop_until(&a[11].calls, 1, 10000));
	assert_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[12]));
	/* TTL 0: no cache at all */
	authquery_set_cache_ttl(aq, 0);
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[13]));
	assert_true(loop_until(&a[13].calls, 1, 10000));
	assert_non_null(lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[14]));
	assert_true(loop_until(&a[14].calls, 1, 10000));
	assert_int_equal(authquery_cache_size(aq), 0);
	authquery_free(aq);
}

/* 50 logins of one user and 50 of another: two queries. */
static void
test_burst(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[100];

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_cache_ttl(aq, 0);
	for (int i = 0; i < 100; i++)
		assert_non_null(lookup(aq, ci_unix, AUTH_QUERY,
		    i % 2 ? "nobody" : "alice", &a[i]));
	for (int i = 0; i < 100; i++)
		assert_true(loop_until(&a[i].calls, 1, 10000));
	for (int i = 0; i < 100; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].st, i % 2 ? AQ_NOT_FOUND : AQ_FOUND);
		if (i % 2 == 0)
			assert_string_equal(a[i].secret, a[0].secret);
	}
	assert_int_equal(authquery_queries_sent(aq), 2);
	authquery_free(aq);
}

#define SLOW_QUERY "SELECT $1::text, 'slow' FROM pg_sleep(0.3)"

/* Cancelled requests are never called back; the others still are. */
static void
test_cancel(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct authquery_req *r[5];
	struct answer a[6];

	(void)state;
	memset(a, 0, sizeof(a));
	r[0] = lookup(aq, ci_unix, SLOW_QUERY, "u1", &a[0]);
	r[1] = lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[1]);
	r[2] = lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[2]);
	r[3] = lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[3]);
	r[4] = lookup(aq, ci_unix, AUTH_QUERY, "erin", &a[4]);
	for (int i = 0; i < 5; i++)
		assert_non_null(r[i]);
	/* the slow query goes out; the others queue behind it */
	wait_sent(aq, 1);
	assert_int_equal(authquery_queries_sent(aq), 1);
	authquery_cancel(r[0]);		/* in flight */
	authquery_cancel(r[2]);		/* one of three on a shared lookup */
	authquery_cancel(r[4]);		/* the only one: never sent */
	assert_true(loop_until(&a[3].calls, 1, 10000));
	loop_for(300);
	assert_int_equal(a[0].calls, 0);
	assert_int_equal(a[2].calls, 0);
	assert_int_equal(a[4].calls, 0);
	assert_int_equal(a[1].calls, 1);
	assert_int_equal(a[3].calls, 1);
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_int_equal(authquery_queries_sent(aq), 2);
	/* the cancelled query's answer still went to the cache */
	assert_null(lookup(aq, ci_unix, SLOW_QUERY, "u1", &a[5]));
	assert_int_equal(a[5].st, AQ_FOUND);
	assert_string_equal(a[5].secret, "slow");
	authquery_free(aq);
}

/* A callback that cancels, flushes and starts a lookup of its own. */
struct reenter {
	struct authquery *aq;
	struct authquery_req *cancel[2];
	struct answer self;
	struct answer started;
};

/* From inside a callback: cancel two requests, flush, start a lookup. */
static void
reenter_cb(void *arg, enum authquery_status st, const char *secret,
    const char *errmsg)
{
	struct reenter *re = arg;

	answer_cb(&re->self, st, secret, errmsg);
	authquery_cancel(re->cancel[0]);
	authquery_cancel(re->cancel[1]);
	authquery_flush_cache(re->aq);
	assert_non_null(lookup(re->aq, ci_unix, AUTH_QUERY, "dave",
	    &re->started));
	/* not answered from inside authquery_lookup */
	assert_int_equal(re->started.calls, 0);
}

/* Callbacks may cancel, flush and look up; the cancelled never run. */
static void
test_reentrant(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct reenter re;
	struct answer a[2];
	enum authquery_status st;
	char secret[256];

	(void)state;
	memset(&re, 0, sizeof(re));
	memset(a, 0, sizeof(a));
	re.aq = aq;
	authquery_set_cache_ttl(aq, 0);
	assert_non_null(authquery_lookup(aq, ci_unix, AUTH_QUERY, "alice",
	    reenter_cb, &re, &st, secret, sizeof(secret)));
	/* same lookup as the callback's own, then a queued other one */
	re.cancel[0] = lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[0]);
	re.cancel[1] = lookup(aq, ci_unix, AUTH_QUERY, "erin", &a[1]);
	assert_true(loop_until(&re.started.calls, 1, 10000));
	loop_for(200);
	assert_int_equal(re.self.calls, 1);
	assert_int_equal(re.self.st, AQ_FOUND);
	assert_int_equal(a[0].calls, 0);
	assert_int_equal(a[1].calls, 0);
	assert_int_equal(re.started.calls, 1);
	/* dave exists, without a password */
	assert_int_equal(re.started.st, AQ_FOUND);
	assert_string_equal(re.started.secret, "");
	assert_int_equal(authquery_queries_sent(aq), 2);
	authquery_free(aq);
}

/* A 500 ms query (and its connect) while a 10 ms timer keeps ticking. */
static void
test_loop_not_blocked(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct ticker t = { 0, 0, 0 };
	struct timeval tv = { 0, 10000 };
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, &t);
	struct answer a;
	int64_t t0;

	(void)state;
	memset(&a, 0, sizeof(a));
	event_add(tick, &tv);
	t0 = now_ms();
	lookup(aq, ci_tcp, "SELECT $1::text, 'x' FROM pg_sleep(0.5)", "alice",
	    &a);
	assert_true(loop_until(&a.calls, 1, 10000));
	event_free(tick);
	assert_int_equal(a.st, AQ_FOUND);
	assert_string_equal(a.secret, "x");
	assert_true(a.at_ms - t0 >= 500);
	assert_true(t.ticks >= 25);
	assert_true(t.max_gap < 400);
	authquery_free(aq);
}

/* Two connection strings: two connections, queries in parallel. */
static void
test_parallel(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[2];
	int64_t t0;

	(void)state;
	memset(a, 0, sizeof(a));
	t0 = now_ms();
	lookup(aq, ci_unix, "SELECT $1::text, 'x' FROM pg_sleep(1)", "alice",
	    &a[0]);
	lookup(aq, ci_tcp, "SELECT $1::text, 'x' FROM pg_sleep(1)", "alice",
	    &a[1]);
	assert_true(loop_until(&a[0].calls, 1, 10000));
	assert_true(loop_until(&a[1].calls, 1, 10000));
	assert_int_equal(a[0].st, AQ_FOUND);
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_true(now_ms() - t0 < 1800);
	assert_int_equal(authquery_connections(aq), 2);
	authquery_free(aq);
}

/* The server ends the connection: mid-query, and while idle. */
static void
test_broken_connection(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[5];

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_cache_ttl(aq, 0);
	assert_true(pg_conns_settle(0));
	lookup(aq, ci_unix, "SELECT $1::text, 'x' FROM pg_sleep(5)", "u1",
	    &a[0]);
	lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[1]);
	wait_sent(aq, 1);
	loop_for(100);
	assert_int_equal(it_pg_exec(&env, "select pg_terminate_backend(pid) "
	    "from pg_stat_activity where application_name = "
	    "'pgweir auth_query'"), 0);
	assert_true(loop_until(&a[1].calls, 1, 10000));
	assert_int_equal(a[0].calls, 1);
	assert_int_equal(a[0].st, AQ_ERROR);
	assert_non_null(strstr(a[0].errmsg, "connection"));
	/* the one queued behind it got a new connection */
	assert_int_equal(a[1].st, AQ_FOUND);
	assert_int_equal(authquery_connections(aq), 1);

	/* killed while idle: noticed, and the next lookup reconnects */
	assert_int_equal(it_pg_exec(&env, "select pg_terminate_backend(pid) "
	    "from pg_stat_activity where application_name = "
	    "'pgweir auth_query'"), 0);
	for (int i = 0; i < 500 && authquery_connections(aq) > 0; i++)
		loop_for(10);
	assert_int_equal(authquery_connections(aq), 0);
	lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[2]);
	assert_true(loop_until(&a[2].calls, 1, 10000));
	assert_int_equal(a[2].st, AQ_FOUND);
	authquery_free(aq);
}

/* Distinct lookups beyond the limit fail; joining a pending one does not. */
static void
test_queue_limit(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[5];
	struct authquery_req *r;

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_max_pending(aq, 3);
	lookup(aq, ci_unix, SLOW_QUERY, "u1", &a[0]);
	lookup(aq, ci_unix, SLOW_QUERY, "u2", &a[1]);
	lookup(aq, ci_unix, SLOW_QUERY, "u3", &a[2]);
	r = lookup(aq, ci_unix, SLOW_QUERY, "u4", &a[3]);
	assert_non_null(r);
	lookup(aq, ci_unix, SLOW_QUERY, "u1", &a[4]);
	/* the refusal, too, comes from the loop */
	assert_int_equal(a[3].calls, 0);
	assert_true(loop_until(&a[3].calls, 1, 10000));
	assert_int_equal(a[3].st, AQ_ERROR);
	assert_string_equal(a[3].errmsg, "too many pending auth_query "
	    "lookups");
	assert_true(loop_until(&a[2].calls, 1, 10000));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(a[i].calls, 1);
		if (i != 3)
			assert_int_equal(a[i].st, AQ_FOUND);
	}
	assert_int_equal(authquery_queries_sent(aq), 3);
	authquery_free(aq);
}

/* A list of hosts: the first refuses, libpq moves to the next socket. */
static void
test_host_fallback(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a;
	char ci[512];

	(void)state;
	memset(&a, 0, sizeof(a));
	snprintf(ci, sizeof(ci), "host=127.0.0.1,%s port=%d,%d "
	    "dbname=postgres user=pgweir_auth", env.pgdir, it_free_port(),
	    env.pg_port);
	lookup(aq, ci, AUTH_QUERY, "alice", &a);
	assert_true(loop_until(&a.calls, 1, 10000));
	assert_int_equal(a.st, AQ_FOUND);
	authquery_free(aq);
}

/* A malformed connection string: an error that does not quote it. */
static void
test_bad_conninfo(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a;

	(void)state;
	memset(&a, 0, sizeof(a));
	lookup(aq, "host=/tmp password=s3cret junk", AUTH_QUERY, "alice", &a);
	assert_true(loop_until(&a.calls, 1, 10000));
	assert_int_equal(a.st, AQ_ERROR);
	assert_null(strstr(a.errmsg, "s3cret"));
	assert_null(strstr(a.errmsg, "junk"));
	authquery_free(aq);
}

/* DNS on the test's own loop: questions seen so far. */
struct fake_dns {
	int queries;
};

/*
 * pg.aqtest is 127.0.0.1; multi.aqtest is 127.0.0.2 (nothing listens)
 * then 127.0.0.1; slow.aqtest is never answered; other names do not exist.
 */
static void
dns_server_cb(struct evdns_server_request *req, void *arg)
{
	struct fake_dns *fd = arg;
	uint32_t addrs[2] = { htonl(0x7f000002), htonl(0x7f000001) };
	int rcode = 0;

	fd->queries++;
	for (int i = 0; i < req->nquestions; i++) {
		const struct evdns_server_question *q = req->questions[i];

		if (strcasecmp(q->name, "slow.aqtest") == 0) {
			evdns_server_request_drop(req);
			return;
		}
		if (strcasecmp(q->name, "pg.aqtest") == 0) {
			if (q->type == EVDNS_TYPE_A)
				evdns_server_request_add_a_reply(req, q->name,
				    1, &addrs[1], 60);
		} else if (strcasecmp(q->name, "multi.aqtest") == 0) {
			if (q->type == EVDNS_TYPE_A)
				evdns_server_request_add_a_reply(req, q->name,
				    2, addrs, 60);
		} else {
			rcode = 3;	/* NXDOMAIN */
		}
	}
	evdns_server_request_respond(req, rcode);
}

/* One lookup of alice over a connection string; its answer. */
static struct answer
dns_lookup(struct authquery *aq, const char *ci)
{
	struct answer a;

	memset(&a, 0, sizeof(a));
	lookup(aq, ci, AUTH_QUERY, "alice", &a);
	loop_until(&a.calls, 1, 10000);
	return a;
}

/* Host names resolved with evdns, never with a blocking getaddrinfo. */
static void
test_dns(void **state)
{
	struct fake_dns fdns = { 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);
	struct evdns_server_port *sp;
	struct evdns_base *dns;
	struct authquery *aq, *aq2;
	struct answer a;
	char ci[512], ns[64];
	int64_t t0;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(ufd >= 0);
	assert_int_equal(bind(ufd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(ufd, (struct sockaddr *)&sin, &len), 0);
	evutil_make_socket_nonblocking(ufd);
	sp = evdns_add_server_port_with_base(base, ufd, 0, dns_server_cb,
	    &fdns);
	assert_non_null(sp);
	dns = evdns_base_new(base, 0);
	assert_non_null(dns);
	snprintf(ns, sizeof(ns), "127.0.0.1:%d", ntohs(sin.sin_port));
	assert_int_equal(evdns_base_nameserver_ip_add(dns, ns), 0);
	aq = authquery_new(base);
	authquery_set_dns(aq, dns);
	authquery_set_cache_ttl(aq, 0);

	/* a name, answered by a server on this very loop */
	snprintf(ci, sizeof(ci), "host=pg.aqtest port=%d dbname=postgres "
	    "user=pgweir_auth", env.pg_port);
	a = dns_lookup(aq, ci);
	assert_int_equal(a.st, AQ_FOUND);
	assert_true(fdns.queries >= 1);
	authquery_flush_cache(aq);

	/* two addresses: the first refuses, libpq tries the second */
	snprintf(ci, sizeof(ci), "host=multi.aqtest port=%d "
	    "dbname=postgres user=pgweir_auth", env.pg_port);
	a = dns_lookup(aq, ci);
	assert_int_equal(a.st, AQ_FOUND);

	/* no such name */
	snprintf(ci, sizeof(ci), "host=nxdomain.aqtest port=%d "
	    "dbname=postgres user=pgweir_auth", env.pg_port);
	a = dns_lookup(aq, ci);
	assert_int_equal(a.st, AQ_ERROR);
	assert_non_null(strstr(a.errmsg, "could not translate host name "
	    "\"nxdomain.aqtest\""));

	/* a list: the unknown name is skipped, ports stay with their hosts */
	snprintf(ci, sizeof(ci), "host=nxdomain.aqtest,multi.aqtest,%s "
	    "port=1,%d,%d dbname=postgres user=pgweir_auth", env.pgdir,
	    it_free_port(), env.pg_port);
	a = dns_lookup(aq, ci);
	assert_int_equal(a.st, AQ_FOUND);

	/* never answered: the connect deadline covers the lookup */
	authquery_set_timeout(aq, 400000);
	snprintf(ci, sizeof(ci), "host=slow.aqtest port=%d dbname=postgres "
	    "user=pgweir_auth", env.pg_port);
	t0 = now_ms();
	a = dns_lookup(aq, ci);
	assert_int_equal(a.st, AQ_ERROR);
	assert_non_null(strstr(a.errmsg, "timeout"));
	assert_true(a.at_ms - t0 < 3000);

	/* freed while a name is being looked up: the late cancel is harmless */
	aq2 = authquery_new(base);
	authquery_set_dns(aq2, dns);
	memset(&a, 0, sizeof(a));
	lookup(aq2, ci, AUTH_QUERY, "alice", &a);
	loop_for(50);
	authquery_free(aq2);
	loop_for(200);
	assert_int_equal(a.calls, 0);

	authquery_free(aq);
	loop_for(100);
	evdns_base_free(dns, 0);
	evdns_close_server_port(sp);
	close(ufd);
}

/* Freeing with lookups queued and in flight: no callbacks, no leaks. */
static void
test_free_pending(void **state)
{
	struct authquery *aq = authquery_new(base);
	struct answer a[4];

	(void)state;
	memset(a, 0, sizeof(a));
	authquery_set_max_pending(aq, 1);
	lookup(aq, ci_unix, SLOW_QUERY, "u1", &a[0]);
	lookup(aq, ci_unix, AUTH_QUERY, "alice", &a[1]);	/* refused */
	loop_for(100);
	assert_int_equal(a[1].calls, 1);
	lookup(aq, ci_tcp, AUTH_QUERY, "alice", &a[2]);		/* queued */
	lookup(aq, ci_unix, AUTH_QUERY, "erin", &a[3]);	/* refusal due */
	authquery_free(aq);
	loop_for(500);
	assert_int_equal(calls_sum(a, 4), 1);
	assert_int_equal(a[1].st, AQ_ERROR);
	assert_true(pg_conns_settle(0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_bad_query),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_query_timeout),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_reentrant),
		cmocka_unit_test(test_loop_not_blocked),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_broken_connection),
		cmocka_unit_test(test_queue_limit),
		cmocka_unit_test(test_host_fallback),
		cmocka_unit_test(test_bad_conninfo),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_free_pending),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
