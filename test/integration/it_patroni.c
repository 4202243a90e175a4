/* SPDX-License-Identifier: ISC */
/*
 * pgweir next to a Patroni cluster: one etcd and two Patroni nodes on
 * this machine (Debian's patroni and etcd-server packages), each running
 * its own PostgreSQL, and a pgweir whose read-write entry lists both
 * nodes.  Under a write load, `patronictl switchover` makes the replica
 * the leader; the writes go on through the same pgweir with no
 * configuration change, only a transaction in flight when the old leader
 * stopped may fail, and no write reaches a read-only server.  The figures
 * are printed; docs/deployment.md#failover-and-patroni quotes them.
 * Skipped when patroni or etcd is not installed.
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

static struct it_env env;
static char base[400];		/* etcd's and the nodes' directory */
static int pg_port[2], api_port[2], etcd_port, etcd_peer_port;
static bool have_tools = true;

/* Write node n's Patroni configuration. */
static int
write_node(int n, const char *bindir)
{
	char path[500];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/node%d.yml", base, n + 1);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fprintf(fp,
	    "scope: pgweir-it\n"
	    "name: node%d\n"
	    "restapi:\n"
	    "  listen: 127.0.0.1:%d\n"
	    "  connect_address: 127.0.0.1:%d\n"
	    "etcd3:\n"
	    "  hosts: 127.0.0.1:%d\n"
	    "bootstrap:\n"
	    "  dcs:\n"
	    "    ttl: 10\n"
	    "    loop_wait: 1\n"
	    "    retry_timeout: 3\n"
	    /* a writer at full speed can put the replica more than the
	     * default 1 MB behind; the switchover must not be refused */
	    "    maximum_lag_on_failover: 1073741824\n"
	    "    postgresql:\n"
	    "      use_pg_rewind: false\n"
	    "      parameters:\n"
	    "        max_connections: 200\n"
	    "  initdb:\n"
	    "    - encoding: UTF8\n"
	    "    - locale: C\n"
	    "  pg_hba:\n"
	    "    - local all all trust\n"
	    "    - host all all 127.0.0.1/32 trust\n"
	    "    - local replication all trust\n"
	    "    - host replication all 127.0.0.1/32 trust\n"
	    "postgresql:\n"
	    "  listen: 127.0.0.1:%d\n"
	    "  connect_address: 127.0.0.1:%d\n"
	    "  data_dir: %s/data%d\n"
	    "  bin_dir: %s\n"
	    "  pgpass: %s/pgpass%d\n"
	    "  authentication:\n"
	    "    superuser:\n"
	    "      username: postgres\n"
	    "    replication:\n"
	    "      username: postgres\n"
	    "  parameters:\n"
	    "    unix_socket_directories: %s\n"
	    "    fsync: 'off'\n",
	    n + 1, api_port[n], api_port[n], etcd_port, pg_port[n],
	    pg_port[n], base, n + 1, bindir, base, n + 1, base);
	fclose(fp);
	return 0;
}

/* A node's role as its REST API says: 200 from /primary or /replica. */
static bool
node_is(int n, const char *what)
{
	char out[16];

	return it_sh(&env, out, sizeof(out), "curl -s -o /dev/null -w "
	    "'%%{http_code}' http://127.0.0.1:%d/%s", api_port[n], what) ==
	    0 && strcmp(out, "200") == 0;
}

/* Wait up to timeout_ms for node n to be `what`. */
static bool
wait_node(int n, const char *what, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 250) {
		if (node_is(n, what))
			return true;
		it_sleep_ms(250);
	}
	return false;
}

static int
setup(void **state)
{
	const char *scripts = getenv("PGWEIR_SCRIPTS");
	const char *own = getuid() == 0 ? "runuser -u postgres -- " : "";
	char out[2048], bindir[256], settings[256], dbs[512];

	(void)state;
	if (it_sh(&env, NULL, 0, "command -v patroni && command -v "
	    "patronictl && command -v etcd") != 0) {
		have_tools = false;
		return 0;
	}
	if (it_env_init(&env) < 0)
		return -1;
	if (it_sh(&env, bindir, sizeof(bindir), "%s/pgcluster.sh bindir",
	    scripts ? scripts : "scripts") != 0)
		return -1;
	bindir[strcspn(bindir, "\n")] = '\0';
	/* Patroni wants pg_ctl, initdb, pg_basebackup in one place */
	if (it_sh(&env, out, sizeof(out), "test -x '%s/pg_basebackup' || "
	    "echo /usr/lib/postgresql/*/bin", bindir) == 0 && out[0])
		snprintf(bindir, sizeof(bindir), "%.*s",
		    (int)strcspn(out, " \n"), out);
	snprintf(base, sizeof(base), "%s/patroni", env.dir);
	for (int n = 0; n < 2; n++) {
		pg_port[n] = it_free_port();
		api_port[n] = it_free_port();
	}
	etcd_port = it_free_port();
	etcd_peer_port = it_free_port();
	if (it_sh(&env, out, sizeof(out), "mkdir -p '%s' && chown postgres: "
	    "'%s' 2>/dev/null; chmod 700 '%s'", base, base, base) != 0)
		return -1;
	if (write_node(0, bindir) < 0 || write_node(1, bindir) < 0)
		return -1;
	if (it_sh(&env, out, sizeof(out), "cd '%s' && (setsid sh -c 'echo $$ "
	    "> etcd.pid; exec etcd --name e1 --data-dir %s/etcd "
	    "--listen-client-urls http://127.0.0.1:%d "
	    "--advertise-client-urls http://127.0.0.1:%d "
	    "--listen-peer-urls http://127.0.0.1:%d "
	    "--initial-advertise-peer-urls http://127.0.0.1:%d "
	    "--initial-cluster e1=http://127.0.0.1:%d' > etcd.log 2>&1 "
	    "< /dev/null &)", base, base, etcd_port, etcd_port,
	    etcd_peer_port, etcd_peer_port, etcd_peer_port) != 0)
		return -1;
	it_sleep_ms(1000);
	/* the first node bootstraps the cluster, the second follows it */
	for (int n = 0; n < 2; n++) {
		if (it_sh(&env, out, sizeof(out), "cd '%s' && (setsid sh -c "
		    "'echo $$ > patroni%d.pid; exec %spatroni %s/node%d.yml' "
		    "> patroni%d.log 2>&1 < /dev/null &)", base, n + 1, own,
		    base, n + 1, n + 1) != 0)
			return -1;
		if (!wait_node(n, n == 0 ? "primary" : "replica", 60000)) {
			it_sh(&env, out, sizeof(out),
			    "tail -20 '%s/patroni%d.log'", base, n + 1);
			fprintf(stderr, "patroni node%d did not start:\n%s\n",
			    n + 1, out);
			return -1;
		}
	}
	if (it_sh(&env, out, sizeof(out), "psql -X -q -h 127.0.0.1 -p %d -U "
	    "postgres -d postgres -c 'create table t (id int)'",
	    pg_port[0]) != 0)
		return -1;
	snprintf(settings, sizeof(settings), "pool_mode = transaction\n"
	    "admin_users = postgres\nserver_login_retry = 15\n"
	    "query_wait_timeout = 60\n");
	snprintf(dbs, sizeof(dbs),
	    "rw = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres "
	    "target_session_attrs=read-write\n"
	    "ro = host=127.0.0.1,127.0.0.1 port=%d,%d dbname=postgres "
	    "target_session_attrs=standby\n",
	    pg_port[1], pg_port[0], pg_port[0], pg_port[1]);
	return it_pgweir_start(&env, settings, dbs);
}

static int
teardown(void **state)
{
	(void)state;
	if (!have_tools)
		return 0;
	/*
	 * Each was started in a session of its own: stop the whole group
	 * (Patroni stops its PostgreSQL), then make sure nothing is left.
	 */
	it_sh(&env, NULL, 0, "cd '%s' && for f in patroni1 patroni2 etcd; do "
	    "test -f $f.pid || continue; g=$(cat $f.pid); kill -TERM -$g; "
	    "for i in $(seq 60); do kill -0 -$g 2>/dev/null || break; "
	    "sleep 0.5; done; kill -KILL -$g 2>/dev/null; done; "
	    "for d in data1 data2; do test -f $d/postmaster.pid && "
	    "kill -QUIT $(head -1 $d/postmaster.pid) 2>/dev/null; done; true",
	    base);
	return it_env_fini(&env);
}

/*
 * patronictl switchover under a write load: the leader moves to the
 * other node and the writes follow it through the same pgweir.
 */
static void
test_switchover_under_write_load(void **state)
{
	char path[400], out[4096];
	long long asked, done;
	struct it_writes w;
	pid_t writer;

	(void)state;
	if (!have_tools) {
		fprintf(stderr, "patroni or etcd is not installed: skipped\n");
		skip();
	}
	assert_int_equal(it_server_port(&env, "rw"), pg_port[0]);
	assert_int_equal(it_server_port(&env, "ro"), pg_port[1]);
	snprintf(path, sizeof(path), "%s/writes", env.dir);
	writer = it_write_load_start(&env, "rw", path, 14);
	assert_true(writer > 0);
	it_sleep_ms(2000);
	asked = it_now_ms();
	/*
	 * patronictl exits 0 even when Patroni refuses the switchover (a
	 * candidate not ready yet on a loaded machine): try again until it
	 * says it switched.
	 */
	for (int tries = 0;; tries++) {
		if (it_sh(&env, out, sizeof(out), "patronictl -c "
		    "'%s/node1.yml' switchover --leader node1 --candidate "
		    "node2 --force", base) == 0 &&
		    strstr(out, "Successfully switched over") != NULL)
			break;
		if (tries == 5)
			fail_msg("patronictl switchover: %s", out);
		it_sleep_ms(2000);
	}
	done = it_now_ms();
	assert_true(wait_node(1, "primary", 30000));
	assert_int_equal(it_write_load_end(writer, path, asked, done, &w), 0);
	printf("switchover: %d writes before, %d after; %d failed; "
	    "patronictl took %lld ms; first write %lld ms after it returned; "
	    "writes paused %lld ms at most\n", w.ok_before, w.ok_after,
	    w.failed, done - asked,
	    w.first_after ? w.first_after - done : -1, w.longest_gap);
	assert_true(w.ok_before > 0);
	assert_true(w.ok_after > 0);
	assert_int_equal(w.read_only, 0);
	/* the old leader stops: what was in flight then */
	assert_true(w.failed <= 2);
	assert_true(it_log_contains(&env, "primary of database rw moved "
	    "from "));
	assert_int_equal(it_server_port(&env, "rw"), pg_port[1]);
	/* the old leader comes back as a replica: standby reads go there */
	assert_true(wait_node(0, "replica", 30000));
	for (int i = 0; i < 60 && it_server_port(&env, "ro") != pg_port[0]; i++)
		it_sleep_ms(500);
	assert_int_equal(it_server_port(&env, "ro"), pg_port[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switchover_under_write_load),
	};

	return IT_RUN_GROUP(tests, setup, teardown);
}
