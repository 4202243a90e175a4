/* SPDX-License-Identifier: ISC */
/*
 * Host name lookups for [databases] entries against a DNS server of the
 * test's own (libevent's evdns server, in a child process, named in
 * pgweir's resolv_conf): answers are cached for dns_max_ttl, names that do
 * not exist for dns_nxdomain_ttl, and dns_zone_check_period makes every
 * cached name be looked up again; SHOW DNS_ZONES lists the zones.
 */
#include "config.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static struct it_env env;
static pid_t dns_pid;
static char queries_path[400];

/* pg.dnstest is 127.0.0.1; every other name does not exist. */
static void
dns_cb(struct evdns_server_request *req, void *arg)
{
	FILE *log = arg;
	uint32_t lo = htonl(0x7f000001);
	int rcode = 0;

	for (int i = 0; i < req->nquestions; i++) {
		const struct evdns_server_question *q = req->questions[i];

		fprintf(log, "%s\n", q->name);
		if (strcasecmp(q->name, "pg.dnstest") != 0)
			rcode = 3;	/* NXDOMAIN */
		else if (q->type == EVDNS_TYPE_A)
			evdns_server_request_add_a_reply(req, q->name, 1, &lo,
			    600);
	}
	fflush(log);
	evdns_server_request_respond(req, rcode);
}

/* Start the DNS server; its port, or -1. */
static int
dns_start(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		return -1;
	dns_pid = fork();
	if (dns_pid < 0)
		return -1;
	if (dns_pid == 0) {
		struct event_base *base = event_base_new();
		FILE *log = fopen(queries_path, "a");
		if (base == NULL || log == NULL)
			_exit(1);
		evutil_make_socket_nonblocking(fd);
		if (evdns_add_server_port_with_base(base, fd, 0, dns_cb,
		    log) == NULL)
			_exit(1);
		event_base_dispatch(base);
		_exit(0);
	}
	close(fd);
	return ntohs(sin.sin_port);
}

static int
setup(void **state)
{
	char settings[1024], dbs[512], out[64];
	int port;

	(void)state;
	if (it_env_init(&env) < 0 || it_pg_start(&env) < 0)
		return -1;
	snprintf(queries_path, sizeof(queries_path), "%s/dns-queries",
	    env.dir);
	port = dns_start();
	if (port < 0 || it_sh(&env, out, sizeof(out), "echo 'nameserver "
	    "127.0.0.1:%d' > %s/resolv.conf", port, env.dir) != 0)
		return -1;
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "resolv_conf = %s/resolv.conf\ndns_max_ttl = 600\n"
	    "dns_nxdomain_ttl = 600\nquery_wait_timeout = 2\n"
	    "admin_users = postgres\nserver_login_retry = 0\n", env.dir);
	snprintf(dbs, sizeof(dbs), "good = host=pg.dnstest port=%d "
	    "dbname=postgres\ngone = host=gone.dnstest port=%d "
	    "dbname=postgres\n", env.pg_port, env.pg_port);
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	(void)state;
	if (dns_pid > 0) {
		kill(dns_pid, SIGKILL);
		waitpid(dns_pid, NULL, 0);
	}
	return it_env_fini(&env);
}

/* Questions the DNS server has had about a name (evdns varies the case). */
static int
queries_for(const char *name)
{
	char out[64];

	it_sh(&env, out, sizeof(out), "grep -c -i -x '%s' %s || true", name,
	    queries_path);
	return atoi(out);
}

/* A console command, as admin over TCP; true when it succeeded. */
static bool
admin(const char *sql)
{
	PGconn *c = it_connect(&env, "pgweir", "postgres", NULL);
	bool ok = it_exec_ok(c, sql);

	PQfinish(c);
	return ok;
}

/* Connect to a database and run a query; true when it worked. */
static bool
use(const char *db)
{
	PGconn *c = it_connect(&env, db, "postgres", NULL);
	bool ok = PQstatus(c) == CONNECTION_OK &&
	    it_query_int(c, "select 1") == 1;

	PQfinish(c);
	return ok;
}

/*
 * A name that does not exist fails the connection, and is not asked for
 * again while dns_nxdomain_ttl lasts; with 0 it is asked every time.
 */
static void
test_nxdomain_is_remembered(void **state)
{
	int first;

	(void)state;
	assert_false(use("gone"));
	first = queries_for("gone.dnstest");
	assert_true(first >= 1);
	assert_false(use("gone"));
	assert_int_equal(queries_for("gone.dnstest"), first);

	assert_true(admin("set dns_nxdomain_ttl = 0"));
	assert_true(admin("reconnect gone"));
	assert_false(use("gone"));
	assert_true(queries_for("gone.dnstest") > first);
	assert_true(admin("set dns_nxdomain_ttl = 600"));
}

/*
 * An answer serves new servers for dns_max_ttl; with
 * dns_zone_check_period every cached name is looked up again, and SHOW
 * DNS_ZONES lists its zone.
 */
static void
test_zone_check_looks_names_up_again(void **state)
{
	PGconn *c;
	PGresult *res;
	int first;

	(void)state;
	assert_true(use("good"));
	first = queries_for("pg.dnstest");
	assert_true(first >= 1);
	/* a new server for the same name: from the cache */
	assert_true(admin("reconnect good"));
	assert_true(use("good"));
	assert_int_equal(queries_for("pg.dnstest"), first);

	assert_true(admin("set dns_zone_check_period = 1"));
	it_sleep_ms(1500);
	assert_true(admin("reconnect good"));
	assert_true(use("good"));
	assert_true(queries_for("pg.dnstest") > first);

	c = it_connect(&env, "pgweir", "postgres", NULL);
	res = PQexec(c, "SHOW DNS_ZONES");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), "dnstest");
	assert_string_equal(PQgetvalue(res, 0, 2), "1");
	PQclear(res);
	PQfinish(c);
	assert_true(admin("set dns_zone_check_period = 0"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nxdomain_is_remembered),
		cmocka_unit_test(test_zone_check_looks_names_up_again),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
