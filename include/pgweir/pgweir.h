/* pgweir: the runtime context every module receives. */
#ifndef PGWEIR_PGWEIR_H
#define PGWEIR_PGWEIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event_struct.h>
#include <event2/util.h>

#include "pgweir/cancel.h"
#include "pgweir/certwatch.h"
#include "pgweir/clock.h"
#include "pgweir/io.h"
#include "pgweir/keyslots.h"
#include "pgweir/random.h"
#include "pgweir/stats.h"
#include "pgweir/tls.h"
#include "pgweir/varcache.h"

/* glibc's sys/queue.h lacks the _SAFE iterator (BSDs have it). */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                      \
	for ((var) = TAILQ_FIRST((head));                               \
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);            \
	    (var) = (tvar))
#endif

struct client;
struct server;
struct pool;
struct database;
struct user;
struct config;
struct listener;
struct authfile;
struct metrics_server;
struct hba;
struct ident_map;
struct authwork;
struct ps_registry;
struct authquery;
struct takeover;
struct client;

TAILQ_HEAD(client_list, client);
TAILQ_HEAD(server_list, server);
TAILQ_HEAD(pool_list, pool);
TAILQ_HEAD(database_list, database);
TAILQ_HEAD(user_list, user);

/* How the process is shutting down, if it is. */
/* What a drained client is told (PostgreSQL's words for 57P01 first). */
#define DRAIN_MESSAGE "terminating connection due to administrator " \
	"command: pgweir is shutting down"

enum shutdown_mode {
	SHUTDOWN_NONE,
	SHUTDOWN_WAIT_CLIENTS,	/* SIGTERM: exit when the last client left */
	SHUTDOWN_WAIT_SERVERS,	/* SIGINT: exit when every server is free */
	SHUTDOWN_NOW,
};

/*
 * The console's entry points (admin.c registers them with
 * admin_register()): the core and the login handler reach the console
 * only through these, never by name.
 */
struct console_ops {
	bool (*is_console)(const struct pgweir *pw, const char *dbname);
	int (*authorize)(struct client *client, const char *user, bool self);
	bool (*all_rights)(const struct client *client);
	void (*login)(struct client *client);
	void (*input)(struct client *client);
	void (*closed)(struct client *client);
};

/*
 * The login handler (auth.c registers it with auth_register()): what a
 * client in CL_LOGIN does with its input.
 */
struct login_ops {
	void (*start)(struct client *client);
	void (*input)(struct client *client);
	void (*free)(struct client *client);
};

#define TICK_HOOKS_MAX 4

/*
 * All mutable runtime state.  Nothing else is global (except the log),
 * so several of these could run side by side, one per worker.
 */
struct pgweir {
	struct event_base *base;	/* owned */
	struct evdns_base *dns;		/* owned; host name lookups */
	struct config *cfg;		/* current config; a reference */
	char *config_path;		/* file named on the command line */
	struct authfile *auth;		/* users of auth_file, or NULL */
	struct hba *hba;		/* auth_hba_file rules, or NULL */
	struct ident_map *ident;	/* auth_ident_file maps, or NULL */
	struct hba *ldap_rule;		/* auth_ldap_options, as a rule */
	struct authwork *authwork;	/* PAM and LDAP checks' threads, started
					 * when first needed */
	struct authquery *authquery;	/* auth_query connections and cache */
	struct tls_contexts tls;	/* TLS towards clients and servers */
	uint8_t auth_mock_key[32]; /* random; mock SCRAM for unknown users */
	struct var_registry vars;	/* tracked parameter names and sets */
	struct iobuf_cache iobufs;	/* spare buffers for connections */
	struct random_pool random;	/* cancel keys, MD5 salts */
	struct ps_registry *ps;		/* prepared statements by text */

	struct database_list databases;	/* runtime databases */
	struct user_list users;		/* runtime users (login names) */
	struct pool_list pools;		/* all pools */
	struct pool_list ready_pools;	/* dispatch due later this turn */
	struct event ready_ev;		/* runs it, after the callbacks */
	bool ready_ev_set;		/* ready_ev assigned (on first use) */
	struct stats_counters retired;	/* of databases freed while unused */
	struct client_list login_clients; /* clients logging in (CL_LOGIN) */
	struct client_list dead_clients;  /* closed, freed by the reaper */
	struct server_list dead_servers;
	struct event reap_ev;		/* runs the reaper after callbacks */
	bool reap_scheduled;
	void (*after_reap)(struct pgweir *pw);	/* lifecycle: shutdown done? */
	void (*free_client)(struct client *client);	/* the core's */
	void (*free_server)(struct server *server);

	struct slot_table slots;	/* cancel key pid -> client */
	struct cancel_list cancels;	/* cancel requests in flight */

	struct listener *listeners;	/* owned, a list */
	struct event accept_retry_ev;	/* re-enables accept after EMFILE */
	int spare_fd;			/* reserve, to refuse when out of fds */
	unsigned fd_refusals;		/* refused since the last log line */
	int64_t fd_refusals_logged;	/* when that line was (mono usec) */
	int n_clients;			/* client connections (not admin) */
	int n_login_clients;		/* on login_clients */
	int n_startup_clients;		/* of those, before a StartupMessage */
	unsigned login_refusals;	/* refused past max_login_clients */
	int64_t login_refusals_logged;	/* when that was last logged */
	int n_servers;			/* server connections */
	uint64_t next_id;		/* connection ids, from 1 */

	int cmd_verbose;		/* -v count */
	bool cmd_quiet;			/* -q or -d: no stderr */
	bool suspended;			/* SUSPEND: no socket is read */
	struct event stats_ev;		/* ends a stats period */
	struct metrics_server *metrics;	/* /metrics endpoint, or NULL; owned */
	int64_t started;		/* wall clock usec, for metrics */
	bool timeouts_active;		/* some active-state timeout is set */
	bool pidfile_written;		/* ours to remove at exit */
	bool kicking;			/* pool_kick_related is running */
	bool forced_pools_made;	/* forced users' pools made, this config */
	int64_t dns_zone_checked;	/* last dns_zone_check_period expiry */
	enum shutdown_mode shutdown;
	bool draining;			/* a drain: clients close when idle
					 * with DRAIN_MESSAGE (57P01) */
	int64_t drain_deadline;		/* monotonic usec; 0: no bound */
	struct event janitor_ev;	/* periodic upkeep */
	struct event *signal_evs[8];
	int exit_code;
	const struct console_ops *console;	/* or NULL: no console */
	const struct login_ops *login;		/* authentication */
	/* run on every janitor tick, after the core's upkeep */
	void (*tick_hooks[TICK_HOOKS_MAX])(struct pgweir *pw);
	struct certwatch certwatch;	/* TLS files in force (certwatch.c) */
	struct takeover *takeover;	/* an online restart, either side */
	/* a client became idle (the online restart hands it over) */
	void (*on_client_idle)(struct pgweir *pw);
	/* a cancel for a key nobody here has (the online restart's new
	 * process sends it on to the old one) */
	void (*forward_cancel)(struct pgweir *pw, uint32_t pid, uint32_t key);
	bool metrics_fd_inherited;	/* from the previous process: */
	int inherited_metrics_fd;	/* /metrics' listening socket */
};

void pgweir_schedule_reap(struct pgweir *pw);
void pgweir_reaper_init(struct pgweir *pw,
    void (*free_client)(struct client *), void (*free_server)(struct server *));
void pgweir_reap_cb(evutil_socket_t fd, short what, void *arg);
void pgweir_after_reap(struct pgweir *pw);
void pgweir_drain(struct pgweir *pw);
void pgweir_close_all(struct pgweir *pw, const char *reason);
void pgweir_free_pools(struct pgweir *pw);
void pgweir_runtime_clear(struct pgweir *pw);
int pgweir_runtime_init(struct pgweir *pw, char *err, size_t errlen);
void pgweir_free_runtime(struct pgweir *pw);
void pgweir_janitor_cb(evutil_socket_t fd, short what, void *arg);
int pgweir_add_tick(struct pgweir *pw, void (*fn)(struct pgweir *pw));

/* Whether a database name is the console's (one registered). */
static inline bool
pgweir_is_console_db(const struct pgweir *pw, const char *dbname)
{
	return pw->console != NULL && pw->console->is_console(pw, dbname);
}
void pgweir_stats_cb(evutil_socket_t fd, short what, void *arg);
int pgweir_apply_log_settings(struct pgweir *pw, const struct config *cfg);
int pgweir_reload(struct pgweir *pw);

/* The files a config names for authentication, loaded together. */
struct auth_files {
	struct authfile *auth;
	struct hba *hba;
	struct ident_map *ident;
};
typedef void (*auth_files_report_fn)(void *arg, const char *key,
    const char *err);
int pgweir_load_auth_files(const struct config *cfg, struct auth_files *out,
    auth_files_report_fn report, void *arg);
void pgweir_free_auth_files(struct auth_files *f);
void pgweir_shutdown(struct pgweir *pw, enum shutdown_mode mode);
void pgweir_notify_status(struct pgweir *pw);
void pgweir_stats_arm(struct pgweir *pw);
int pgweir_set_option(struct pgweir *pw, const char *name, const char *value,
    char *err, size_t errlen, char *notice, size_t noticelen);

#endif
