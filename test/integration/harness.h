/* pgweir integration tests: a real PostgreSQL and a real pgweir. */
#ifndef PGWEIR_TEST_HARNESS_H
#define PGWEIR_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

/*
 * One test environment: a temporary directory holding a PostgreSQL
 * cluster (copied from a template made once per run) and a pgweir with a
 * generated config.  Everything lives under that directory and is removed
 * at the end; ports are picked free, so tests can run in parallel.
 */
struct it_env {
	char dir[256];		/* the temporary directory */
	char pgdir[300];	/* the cluster (also its socket directory) */
	int pg_port;
	bool pg_running;
	int port;		/* pgweir's TCP port (and unix socket name) */
	pid_t pid;		/* pgweir's process, or 0 */
	pid_t next_pid;		/* an online restart's new one, until done */
	char ini[300];		/* pgweir's config file */
	char log[300];		/* pgweir's stderr */
	char extra_env[256];	/* "NAME=value" for pgweir's environment */
	char pg_opts[1024];	/* extra "-c name=value" for PostgreSQL */
	int nofile;		/* pgweir's open-files limit, or 0 to inherit */
	char bin[300];		/* the binary to run, if not $PGWEIR_BIN */
	char run_as[64];	/* the account when root, if not postgres */
};

int it_env_init(struct it_env *e);
int it_env_fini(struct it_env *e);
int it_env_init_pgbench(struct it_env *e);

int it_pg_start(struct it_env *e);
int it_pg_stop(struct it_env *e, const char *mode);
int it_pg_restart(struct it_env *e);

int it_write_config(struct it_env *e, const char *settings,
    const char *databases);
int it_pgweir_start(struct it_env *e, const char *settings,
    const char *databases);
int it_pgweir_start_raw(struct it_env *e);
int it_pgweir_online_restart(struct it_env *e, int timeout_ms);
pid_t it_pgweir_online_restart_begin(struct it_env *e);
int it_pgweir_online_restart_end(struct it_env *e, pid_t next,
    int timeout_ms);
int it_pgweir_signal(struct it_env *e, int sig);
int it_pgweir_wait(struct it_env *e, int timeout_ms);
int it_pgweir_stop(struct it_env *e);
bool it_pgweir_alive(struct it_env *e);

PGconn *it_connect(struct it_env *e, const char *dbname, const char *user,
    const char *extra);
PGconn *it_connect_unix(struct it_env *e, const char *dbname,
    const char *user, const char *extra);
PGconn *it_connect_pg(struct it_env *e, const char *dbname);
long long it_query_int(PGconn *conn, const char *sql);
long long it_server_port(struct it_env *e, const char *db);
char *it_query_text(PGconn *conn, const char *sql);
bool it_exec_ok(PGconn *conn, const char *sql);
int it_pg_exec(struct it_env *e, const char *sql);
long long it_pg_int(struct it_env *e, const char *sql);

int it_sh(struct it_env *e, char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int it_log_count(struct it_env *e, const char *needle);
bool it_log_contains(struct it_env *e, const char *needle);
bool it_wait_log(struct it_env *e, const char *needle, int timeout_ms);
int it_free_port(void);
int it_raw_connect(struct it_env *e);
int it_make_certs(struct it_env *e);
int it_write_pg_hba(struct it_env *e, const char *lines);
void it_pg_use_tls(struct it_env *e);

/* A raw protocol client, for exact message sequences. */
int it_raw_login(struct it_env *e, const char *db, const char *user);
void it_raw_backend_key(uint32_t *pid, uint32_t *key);
int it_send_startup(int fd, const char *db, const char *user);
const char *it_write_userlist(struct it_env *e, const char *text);
long it_pgweir_rss_kb(struct it_env *e);
long long it_now_ms(void);
PGresult *it_result_within(PGconn *conn, int ms);
void it_raw_send(int fd, char type, const void *body, size_t len);
void it_raw_parse(int fd, const char *name, const char *query);
void it_raw_bind(int fd, const char *portal, const char *stmt,
    const char *param);
void it_raw_describe(int fd, char what, const char *name);
void it_raw_execute(int fd, const char *portal);
void it_raw_close(int fd, char what, const char *name);
void it_raw_sync(int fd);
int it_raw_until_ready(int fd, char *types, size_t typeslen, char *err,
    size_t errlen, char *firstval, size_t vallen);
const char *it_os_user(void);
void it_sleep_ms(int ms);
const char *it_pg_user(void);

/*
 * Run a cmocka group; IT_FILTER=name (a glob) runs only matching tests,
 * for debugging one test: IT_FILTER=test_reserve_pool make check TESTS=...
 */
#define IT_RUN_GROUP(tests, setup, teardown)                            \
	(getenv("IT_FILTER") ? cmocka_set_test_filter(getenv("IT_FILTER")) \
	    : (void)0,                                                  \
	    it_group_result(cmocka_run_group_tests((tests), (setup),       \
	    (teardown))))

/*
 * cmocka does not count a failed group teardown, and that is where a
 * sanitizer report at pgweir's exit shows: add the environments that did
 * not end cleanly.
 */
int it_group_result(int failed_tests);

/*
 * A write load for the failover tests: a child process with one
 * connection through pgweir to `db`, one insert into table t per
 * transaction for `seconds`, each attempt a line in `path`; then the
 * count of what happened before `stopped` and from `resumed` on.
 */
struct it_writes {
	int ok_before;		/* writes that succeeded before `stopped` */
	int ok_after;		/* ...from `resumed` on */
	int failed;		/* attempts that failed */
	int read_only;		/* ...with 25006: reached a read-only server */
	long long first_after;	/* ms of the first write from `resumed` on */
	long long longest_gap;	/* ms: the longest time without a write */
};
pid_t it_write_load_start(struct it_env *e, const char *db, const char *path,
    int seconds);
int it_write_load_end(pid_t writer, const char *path, long long stopped,
    long long resumed, struct it_writes *w);

#endif
