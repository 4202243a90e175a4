/* pgweir: databases, users, pools, and linking clients to servers. */
#ifndef PGWEIR_POOL_H
#define PGWEIR_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "pgweir/pgweir.h"
#include "pgweir/stats.h"
#include "pgweir/targetattrs.h"

struct db_conf;
struct pool_stats;
struct scram_secret;
struct user_conf;
struct varset;

/* A database clients can ask for: a [databases] entry or a "*" copy. */
struct database {
	TAILQ_ENTRY(database) entry;
	char *name;			/* owned */
	struct db_conf *conf;		/* into cfg, or owned if auto */
	struct config *cfg;		/* reference held while conf is used */
	bool auto_db;	/* made from the "*" entry; conf owned */
	bool removed;			/* gone from the config at reload */
	bool paused;			/* PAUSE: no new server work */
	bool disabled;			/* DISABLE: no new clients */
	bool admin;	/* the admin console's virtual database */
	int n_clients;			/* logged-in clients */
	int n_servers;			/* server connections */
	int n_pools;			/* pools of this database */
	/* counters of pools freed while idle, so totals never go back */
	struct stats_counters retired;
	unsigned host_next;		/* host list: the next entry to use */
	/* what each host of the list said at its last login (or that it
	 * could not be reached, until host_down_until), for
	 * target_session_attrs; n_host_states of them, sized to the list */
	enum host_role *host_roles;
	int64_t *host_down_until;	/* monotonic usec */
	int n_host_states;
	int walk_failures;	/* hosts in a row that failed or misfit */
	int primary_host;		/* where the last primary was; -1 */
	uint64_t primary_switches;	/* times it moved to another host */
	/* cached DNS answer for the host entry dns_host */
	int dns_host;
	struct sockaddr_storage dns_addr;
	socklen_t dns_addrlen;		/* 0: nothing cached */
	int64_t dns_expires;		/* monotonic usec */
	bool dns_pending;		/* a lookup is running */
	/* the name did not exist (NXDOMAIN): cached dns_nxdomain_ttl */
	int dns_fail_host;
	int64_t dns_failed_at;		/* monotonic usec; 0: nothing */
	int64_t last_used;		/* monotonic usec, for autodb_idle */
};

/* A login user name with its connection counts and cached keys. */
struct user {
	TAILQ_ENTRY(user) entry;
	char *name;			/* owned */
	int n_clients;
	int n_servers;
	int n_pools;			/* pools of this user */
	/* its [users] entry in the config in force, or NULL (pool_reload
	 * points it at a new config's) */
	const struct user_conf *conf;
	/* SCRAM pass-through: from the last client proof (auth.c) */
	bool has_scram_keys;
	uint8_t scram_client_key[32];
	uint8_t scram_server_key[32];
	/* SCRAM secret derived from a plaintext one, and its source's hash */
	struct scram_secret *derived;	/* owned, or NULL */
	char *checked_password;		/* last one PAM or LDAP accepted */
	uint8_t derived_from[32];
};

/* One ParameterStatus of a server's login, replayed to clients. */
struct welcome_param {
	char *name;			/* owned */
	char *value;			/* owned */
};

/*
 * One pool per (database, user).  Each client and server is on exactly
 * one of the pool's lists, chosen by its state (client_set_state and
 * server_set_state keep that true).
 */
/*
 * A pool's settings, each the user's override, else the database's, else
 * the global value: resolved when the pool is made and when a reload or
 * SET installs a config, not on every transaction.
 */
struct pool_settings {
	int mode;			/* POOL_* */
	int size;			/* most servers (0: no limit) */
	int reserve;			/* reserve_pool_size */
	int min_size;			/* min_pool_size */
	int db_limit;			/* max_db_connections (0: none) */
	int user_limit;			/* max_user_connections (0: none) */
	int64_t server_lifetime;	/* usec */
};

struct pool {
	TAILQ_ENTRY(pool) entry;
	TAILQ_ENTRY(pool) ready_entry;	/* on pw->ready_pools */
	bool on_ready;
	struct pgweir *pw;
	struct database *db;
	struct user *user;		/* login user */
	char *server_user;		/* user for server logins; owned */
	struct pool_settings set;	/* resolved from the config in force */

	struct client_list welcome_clients; /* logged in, awaiting params */
	struct client_list idle_clients;    /* logged in, not linked */
	struct client_list waiting_clients; /* want a server, FIFO */
	struct client_list active_clients;  /* linked */
	int n_welcome, n_idle_clients, n_waiting, n_active_clients;

	struct server_list connecting_servers; /* connect + login */
	struct server_list idle_servers;       /* ready, most recent first */
	struct server_list active_servers;     /* linked */
	struct server_list tested_servers;     /* cleanup / reset running */
	int n_connecting, n_idle_servers, n_active_servers, n_tested;

	struct welcome_param *welcome;	/* a server login's params; owned */
	int n_welcome_params;
	struct varset *defaults;	/* tracked values of a fresh server */
	bool no_startup_values;		/* a client's values failed a login */

	struct pool_stats *stats;	/* counters and histograms; owned */
	char *last_error_sqlstate;	/* last connect/login failure; owned */
	char *last_error_message;
	int64_t last_error_time;	/* monotonic usec; 0: none */
	bool last_error_refused;	/* refused, not unreachable */
	bool last_error_misfit;		/* no host fit target_session_attrs */
	/* the breaker: PostgreSQL unreachable again and again */
	int unreachable_count;		/* failed connects in a row */
	int64_t unreachable_since;	/* the first of them (monotonic) */
	int64_t retry_delay;		/* wait before the next try (usec) */
	bool breaker_open;		/* failing for server_login_fail_fast:
					 * requests fail at once */
	int n_repl_waiting;	/* replication clients waiting for room */
	bool repl_resuming;		/* pool_replication_resume is running */
	uint64_t last_waiter_seq;
	int64_t unused_since;		/* monotonic usec it became empty; 0 */
};

struct database *pool_find_database(struct pgweir *pw, const char *name);
struct user *pool_find_user(struct pgweir *pw, const char *name,
    bool create);
struct pool *pool_find(struct pgweir *pw, struct database *db,
    struct user *user, bool create);
void pool_resolve_settings(struct pool *pool, const struct config *cfg);
int pool_mode_of(const struct pool *pool);

void pool_client_login(struct pool *pool, struct client *client);
bool pool_acquire(struct pool *pool, struct client *client);
void pool_link(struct client *client, struct server *server);
void pool_unlink(struct client *client, struct server *server);
void pool_release(struct server *server);
void pool_server_ready(struct server *server);
void pool_server_misfit(struct pool *pool, const char *message);
void pool_server_failed(struct pool *pool, const char *sqlstate,
    const char *message);
void pool_server_refused(struct pool *pool, const char *sqlstate,
    const char *message);
void pool_server_gone(struct pool *pool);
void pool_replication_ready(struct server *server);
void pool_replication_forget(struct client *client);
void pool_dispatch(struct pool *pool);
void pool_user_set_scram_keys(struct user *user, const uint8_t *client_key,
    const uint8_t *server_key);
void pool_reload(struct pgweir *pw, struct config *newcfg);
void pool_janitor(struct pgweir *pw);
void pool_retire_servers(struct pgweir *pw, struct database *db,
    const char *reason);
void pool_free_all(struct pgweir *pw);
int64_t pool_server_lifetime(const struct pool *pool);

#endif
