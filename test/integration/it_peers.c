/* SPDX-License-Identifier: ISC */
/*
 * Peering ([peers], peer_id): two pgweir processes in front of one
 * PostgreSQL, each knowing the other.  A cancel request that reaches the
 * process that does not hold the client (as behind so_reuseport or a
 * balancer) is forwarded to the one that does, and the query is
 * cancelled.  Keys are in PgBouncer's layout (peer id in bytes 1-2 of the
 * pid, a hop count in the key's low bits); a key whose hops are used up
 * or that names an unknown peer is dropped with PgBouncer's log words.
 */
#include "config.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env a, b;	/* a runs PostgreSQL; b shares it */

/* Start one process of the group, naming the other as its peer. */
static int
start_peer(struct it_env *self, int id, struct it_env *other, int other_id)
{
	char settings[1024], dbs[512];

	snprintf(dbs, sizeof(dbs), "postgres = host=%s port=%d", a.pgdir,
	    a.pg_port);
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "admin_users = postgres\npeer_id = %d\n[peers]\n"
	    "%d = host=%s port=%d\n", id, other_id, other->dir, other->port);
	return it_pgweir_start(self, settings, dbs);
}

static int
setup(void **state)
{
	(void)state;
	if (it_env_init(&a) < 0 || it_pg_start(&a) < 0 ||
	    it_env_init(&b) < 0)
		return -1;
	if (start_peer(&a, 1, &b, 2) < 0 || start_peer(&b, 2, &a, 1) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	int rc;

	(void)state;
	rc = it_env_fini(&b);
	return it_env_fini(&a) < 0 || rc < 0 ? -1 : 0;
}

/* Send a CancelRequest to a process over its unix socket. */
static void
send_cancel(struct it_env *to, uint32_t pid, uint32_t key)
{
	struct sockaddr_un un;
	uint32_t pkt[4] = { htonl(16), htonl(80877102), htonl(pid),
		htonl(key) };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/.s.PGSQL.%d", to->dir,
	    to->port);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(write(fd, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	close(fd);
}

/* A client of process a, logged in over TCP: its socket, pid and key. */
static int
login_to_a(uint32_t *pid, uint32_t *key)
{
	int fd = it_raw_login(&a, "postgres", "postgres");

	assert_true(fd >= 0);
	it_raw_backend_key(pid, key);
	return fd;
}

/* A query that sleeps, cancelled through the process at "via". */
static void
cancel_through(struct it_env *via)
{
	static const char sql[] = "select pg_sleep(20)";
	char err[512] = "";
	uint32_t pid, key;
	long long t0;
	int fd = login_to_a(&pid, &key);

	/* PgBouncer's layout: our peer id in bytes 1-2, all hops left */
	assert_int_equal((pid >> 16) & 0xff, 1);
	assert_int_equal(key & 3, 3);
	it_raw_send(fd, 'Q', sql, sizeof(sql));
	it_sleep_ms(300);
	t0 = it_now_ms();
	send_cancel(via, pid, key);
	assert_int_equal(it_raw_until_ready(fd, NULL, 0, err, sizeof(err),
	    NULL, 0), 0);
	if (strstr(err, "canceling statement due to user request") == NULL)
		fail_msg("no cancel: \"%s\"", err);
	assert_true(it_now_ms() - t0 < 10000);
	close(fd);
}

static void
test_cancel_forwarded_to_peer(void **state)
{
	(void)state;
	cancel_through(&b);
	/* and one that reaches the right process directly still lands */
	cancel_through(&a);
}

/* Hops used up, or a peer nobody knows: dropped, and logged. */
static void
test_cancel_dropped(void **state)
{
	uint32_t pid, key;
	int fd = login_to_a(&pid, &key);

	(void)state;
	send_cancel(&b, pid, key & ~3u);
	assert_true(it_wait_log(&b, "failed to forward cancel request because "
	    "its TTL was exhausted", 3000));
	/* peer 7 in bytes 1-2 */
	send_cancel(&b, (pid & 0xff0000ffu) | 7u << 16, key);
	assert_true(it_wait_log(&b, "could not find peer 7", 3000));
	/* the client was never touched */
	it_raw_send(fd, 'Q', "select 1", 9);
	assert_int_equal(it_raw_until_ready(fd, NULL, 0, NULL, 0, NULL, 0), 0);
	close(fd);
}

/* SHOW PEERS lists the [peers] entries; SHOW PEER_POOLS has their rows. */
static void
test_show_peers(void **state)
{
	PGconn *console = it_connect(&a, "pgweir", "postgres", NULL);
	PGresult *res = PQexec(console, "SHOW PEERS");
	char port[16];

	(void)state;
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	assert_string_equal(PQgetvalue(res, 0, 1), b.dir);
	snprintf(port, sizeof(port), "%d", b.port);
	assert_string_equal(PQgetvalue(res, 0, 2), port);
	PQclear(res);
	/* and a row per peer in SHOW PEER_POOLS, nothing in flight now */
	res = PQexec(console, "SHOW PEER_POOLS");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "2");
	assert_string_equal(PQgetvalue(res, 0, 3), "0");
	PQclear(res);
	PQfinish(console);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_forwarded_to_peer),
		cmocka_unit_test(test_cancel_dropped),
		cmocka_unit_test(test_show_peers),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
