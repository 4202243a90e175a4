/* pgweir: configuration (options table, ini files, [databases], [users]). */
#ifndef PGWEIR_CONFIG_H
#define PGWEIR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pool_mode {
	POOL_SESSION,
	POOL_TRANSACTION,
	POOL_STATEMENT,
};

enum auth_type {
	AUTH_ANY,
	AUTH_TRUST,
	AUTH_PLAIN,
	AUTH_MD5,
	AUTH_SCRAM,
	AUTH_CERT,
	AUTH_HBA,
	AUTH_PAM,
	AUTH_LDAP,
};

enum tls_mode {
	TLS_DISABLE,
	TLS_ALLOW,
	TLS_PREFER,
	TLS_REQUIRE,
	TLS_VERIFY_CA,
	TLS_VERIFY_FULL,
};

/* A value that a [databases] or [users] entry leaves to the level above. */
#define CONF_UNSET (-1)

/* One [databases] entry: libpq connection keys plus pooler keys. */
struct db_conf {
	char *name;		/* the name clients connect to */
	char *host;		/* NULL: unix socket in unix_socket_dir;
				 * may be a comma-separated list */
	int port;		/* default 5432; the first of a list */
	char *port_list;	/* "p1,p2,..." as written, or NULL */
	char **hosts;		/* host split at commas; n_hosts of them */
	int *ports;		/* the port of each host */
	int n_hosts;		/* 0: host is NULL (unix_socket_dir) */
	int load_balance_hosts;	/* CONF_UNSET or enum load_balance */
	int target_session_attrs; /* enum target_attrs (targetattrs.h) */
	char *dbname;		/* NULL: same as name */
	char *user;		/* forced server user, or NULL */
	char *password;		/* password of the forced user, or NULL */
	char *application_name;	/* NULL: the client's own */
	char *client_encoding;	/* requested at server connect, or NULL */
	char *datestyle;	/* requested at server connect, or NULL */
	char *timezone;		/* requested at server connect, or NULL */
	char *connect_query;	/* run once per new server connection */
	char *auth_user;	/* per-database auth_user, or NULL */
	char *auth_query;	/* per-database auth_query, or NULL */
	char *auth_dbname;	/* per-database auth_dbname, or NULL */
	int pool_size;		/* CONF_UNSET or a size */
	int min_pool_size;
	int reserve_pool_size;
	int max_db_connections;
	int max_db_client_connections;
	int pool_mode;		/* CONF_UNSET or enum pool_mode */
	int64_t server_lifetime; /* usec, or CONF_UNSET */
	int64_t query_wait_timeout; /* usec, or CONF_UNSET */
	char *conninfo;		/* the entry's text as written, for diffs */
};

/* How a database's host list is used (load_balance_hosts). */
enum load_balance {
	LB_ROUND_ROBIN,		/* each new connection: the next host */
	LB_DISABLE,		/* the same host until a connect fails */
};

/* One [users] entry: per-user pooler overrides. */
struct user_conf {
	char *name;
	char *text;		/* the entry as written, for copies */
	int pool_mode;		/* CONF_UNSET or enum pool_mode */
	int pool_size;
	int reserve_pool_size;
	int max_user_connections;
	int max_user_client_connections;
	int64_t query_timeout;	/* usec, or CONF_UNSET, likewise below */
	int64_t idle_transaction_timeout;
	int64_t transaction_timeout;
	int64_t client_idle_timeout;
	int64_t query_wait_timeout;
};

/*
 * The whole configuration.  Fields of the [pgweir] section are named exactly
 * like their ini keys; times are microseconds.  A config is immutable once
 * loaded and reference-counted, so that connections may keep pointing into
 * the one they started with while a reload swaps in the next.
 */
struct config {
	int refcount;

	/* process, listening, general */
	char *logfile;
	char *pidfile;
	char *listen_addr;
	int listen_port;
	char *unix_socket_dir;
	int unix_socket_mode;
	char *unix_socket_group;
	char *user;
	int listen_backlog;
	int so_reuseport;
	int peer_id;
	char *conffile;
	char *service_name;
	char *job_name;
	int64_t stats_period;
	int disable_pqexec;
	int application_name_add_host;
	int max_prepared_statements;
	int max_client_prepared_statements;
	int max_client_prepared_bytes;
	int scram_iterations;
	char *login_notify_message;
	char *metrics_listen_addr;
	int metrics_port;

	/* pool sizing and limits */
	int pool_mode;
	int max_client_conn;
	int max_login_clients;
	int max_wait_clients;		/* per pool; 0: no bound */
	int64_t max_expected_wait;	/* usec; 0: no bound */
	int default_pool_size;
	int min_pool_size;
	int reserve_pool_size;
	int64_t reserve_pool_timeout;
	int max_db_connections;
	int max_db_client_connections;
	int max_user_connections;
	int max_user_client_connections;
	int server_round_robin;
	int64_t autodb_idle_timeout;
	int64_t pool_idle_timeout;

	/* startup parameters */
	char *track_extra_parameters;
	char *ignore_startup_parameters;

	/* authentication and console access */
	int auth_type;
	char *auth_file;
	char *auth_hba_file;
	char *auth_ident_file;
	char *auth_user;
	char *auth_query;
	char *auth_dbname;
	int64_t auth_query_cache_ttl;
	char *auth_ldap_options;
	char *admin_users;
	char *admin_db_aliases;
	char *stats_users;

	/* logging */
	int log_format;		/* enum log_format */
	int syslog;
	char *syslog_ident;
	char *syslog_facility;
	int log_connections;
	int log_disconnections;
	int log_pooler_errors;
	int log_stats;
	int verbose;

	/* server connection hygiene and health */
	char *server_reset_query;
	int server_reset_query_always;
	int64_t server_check_delay;
	char *server_check_query;
	int server_fast_close;
	int64_t server_lifetime;
	int64_t server_idle_timeout;
	int64_t server_connect_timeout;
	int64_t server_login_retry;
	int64_t server_login_fail_fast;
	int64_t client_startup_timeout;
	int64_t client_login_timeout;
	int64_t query_wait_notify;

	/* DNS */
	int64_t dns_max_ttl;
	int64_t dns_nxdomain_ttl;
	int64_t dns_zone_check_period;
	char *resolv_conf;

	/* TLS */
	int client_tls_sslmode;
	char *client_tls_key_file;
	char *client_tls_cert_file;
	char *client_tls_ca_file;
	char *client_tls_protocols;
	char *client_tls_ciphers;
	char *client_tls13_ciphers;
	char *client_tls_ecdhcurve;
	char *client_tls_dheparams;
	int server_tls_sslmode;
	char *server_tls_ca_file;
	char *server_tls_key_file;
	char *server_tls_cert_file;
	char *server_tls_protocols;
	char *server_tls_ciphers;
	char *server_tls13_ciphers;

	/* dangerous timeouts */
	int64_t query_timeout;
	int64_t query_wait_timeout;
	int64_t cancel_wait_timeout;
	int64_t client_idle_timeout;
	int64_t idle_transaction_timeout;
	int64_t transaction_timeout;
	int64_t suspend_timeout;
	int64_t shutdown_drain_timeout;
	int drain_on_sigterm;

	/* low-level network */
	int pkt_buf;
	int max_packet_size;
	int sbuf_loopcnt;
	int tcp_defer_accept;
	int tcp_socket_buffer;
	int tcp_keepalive;
	int tcp_keepcnt;
	int tcp_keepidle;
	int tcp_keepintvl;
	int tcp_user_timeout;

	/* [databases] and [users] */
	struct db_conf **databases;	/* owned, in file order */
	size_t n_databases;
	struct db_conf *fallback_db;	/* the "*" entry, or NULL; owned */
	struct user_conf **users;	/* owned, in file order */
	size_t n_users;
	struct db_conf **peers;		/* [peers]: name is the peer id */
	size_t n_peers;
};

/* Option value types. */
enum opt_type {
	OPT_BOOL,
	OPT_INT,
	OPT_TIME,
	OPT_STRING,
	OPT_ENUM,
	OPT_OCTAL,
};

/* Option flags. */
#define OPT_RELOAD	0x01	/* a reload or SET applies it at runtime */
#define OPT_SENSITIVE	0x02	/* never shown or logged */
#define OPT_LATER	0x04	/* PgBouncer has it; pgweir does not act yet */
#define OPT_PGWEIR	0x08	/* pgweir's own key (PgBouncer lacks it) */
#define OPT_DB		0x10	/* a [databases] entry may override it */
#define OPT_USER	0x20	/* a [users] entry may override it */

/* One row of the options table. */
struct config_option {
	const char *name;
	enum opt_type type;
	size_t offset;		/* into struct config */
	const char *def;	/* default, in ini syntax */
	long long min, max;	/* limits for OPT_INT / OPT_TIME (seconds) */
	const char *const *choices; /* for OPT_ENUM, NULL-terminated */
	unsigned flags;
	const char *help; /* one or two sentences for docs and SHOW CONFIG */
};

/* The options table, in the order SHOW CONFIG and the docs list them. */
extern const struct config_option config_options[];
extern const size_t config_n_options;

/* A config error: where, which key, what. */
struct config_error {
	char msg[512];
};

const struct config_option *config_find_option(const char *name);
const char *config_entry_key(const struct config_option *opt);
int config_set_option(struct config *cfg, const struct config_option *opt,
    const char *value, char *err, size_t errlen);
int config_format_option(const struct config *cfg,
    const struct config_option *opt, char *buf, size_t buflen);

struct config *config_new_defaults(void);
struct config *config_load(const char *path, struct config_error *err);
struct config *config_load_string(const char *text, const char *name,
    struct config_error *err);
struct config *config_ref(struct config *cfg);
struct config *config_clone(const struct config *src);
int config_validate(struct config *cfg, struct config_error *err,
    const char *path);
void config_unref(struct config *cfg);

const struct db_conf *config_find_db(const struct config *cfg,
    const char *name);
const struct user_conf *config_find_user(const struct config *cfg,
    const char *name);
bool config_list_contains(const char *list, const char *name);
const char *config_pool_mode_name(int mode);
const char *config_auth_type_name(int type);

int dbconf_parse(struct db_conf *db, const char *name, const char *text,
    char *err, size_t errlen);
void dbconf_free(struct db_conf *db);
bool dbconf_same_server(const struct db_conf *a, const struct db_conf *b);
const char *dbconf_db_key(size_t i);
const char *dbconf_user_key(size_t i);
int userconf_parse(struct user_conf *u, const char *name, const char *text,
    char *err, size_t errlen);
void userconf_free(struct user_conf *u);

int config_write_docs(FILE *out);
int config_write_example(FILE *out);
int config_write_man(FILE *out);

#endif
