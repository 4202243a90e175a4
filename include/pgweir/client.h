/* pgweir: client connections. */
#ifndef PGWEIR_CLIENT_H
#define PGWEIR_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "pgweir/addr.h"
#include "pgweir/io.h"
#include "pgweir/pgweir.h"

struct config;
struct auth_state;
struct admin_session;
struct client_ps;
struct db_conf;
struct scram_secret;

/*
 * What a client asked for while it logs in: names and settings only.
 * Nothing is made in the pools for it (no user, pool or database object)
 * until it has authenticated; client_join_pool() does that.  Allocated at
 * the StartupMessage and freed when the login ends either way.
 */
struct client_login {
	char *user;			/* startup packet's user; owned */
	char *database;			/* its database name; owned */
	const struct db_conf *conf;	/* entry or "*" entry; NULL: console */
	struct config *cfg;		/* reference that keeps conf alive */
	bool admin;			/* the console's virtual database */
	bool trusted_peer;		/* pgweir's own account, unix socket */
	/* SCRAM pass-through keys proven during the login (auth.c) */
	bool has_scram_keys;
	uint8_t scram_client_key[32];
	uint8_t scram_server_key[32];
	/* the password PAM or LDAP accepted: it logs in to PostgreSQL too */
	char *checked_password;		/* owned, wiped, or NULL */
	/* a SCRAM secret derived from a plaintext one, for the user's cache */
	struct scram_secret *derived;	/* owned, or NULL */
	uint8_t derived_from[32];
};

/* A client's state; it also decides which list the client is on. */
enum client_state {
	CL_LOGIN,	/* startup and authentication (pw->login_clients) */
	CL_WELCOME,	/* authenticated, waiting for server parameters */
	CL_IDLE,	/* logged in, not linked */
	CL_WAITING,	/* has a request, waiting for a server (FIFO) */
	CL_ACTIVE,	/* linked to a server */
	CL_CLOSED,	/* closed; the reaper frees it */
};

struct client {
	struct io io;			/* socket and buffers; owned */
	uint64_t id;			/* unique, for logs and KILL_CLIENT */
	enum client_state state;	/* only client_set_state() writes it */
	struct pgweir *pw;
	struct pool *pool;		/* NULL until authenticated */
	struct user *login_user;	/* the name it logged in as; the pool's
					 * user differs under a forced user= */
	struct client_login *login;	/* during login only; owned */
	struct server *link;		/* linked server (pool_link) */
	TAILQ_ENTRY(client) entry;	/* in the list of its state */
	struct peer_addr addr;		/* remote end */
	struct varset *vars;		/* its parameter values; a reference */
	struct varset *reset_vars;	/* login values: what RESET gives */
	uint32_t slot;			/* cancel key pid; slot in pw->slots */
	uint32_t cancel_key;		/* random cancel key secret */
	uint32_t pkt_remain;	/* bytes of a message still to forward */
	uint32_t pkt_discard;	/* bytes of a cancelled request to drop */
	int64_t connect_time;		/* wall clock usec */
	/* monotonic usec; written by relay.c and pool.c, read by deadline.c */
	int64_t login_start;		/* accepted */
	int64_t request_time;		/* the current request began */
	int64_t tx_start;	/* the current transaction began, or 0 */
	int64_t idle_since;		/* last answer completed */
	int64_t wait_start;		/* began waiting for a server */
	int64_t deadline;		/* when the timer fires, or 0 */
	struct event *timer;		/* active-state deadline; owned/lazy */
	struct auth_state *auth;	/* during authentication only; owned */
	struct admin_session *admin;	/* console clients only; owned */
	struct client_ps *ps;		/* its named statements; owned */
	bool counted;			/* counted in pw->n_clients */
	bool in_startup;		/* in pw->n_startup_clients */
	bool logged_in;			/* counted in db/user client counts */
	bool close_loud;		/* a refused login: log its close */
	bool read_paused;		/* backpressure from the server side */
	bool discard_until_sync; /* a cancelled extended batch: drop it */
	/* its transaction was lost with its server (losttx.c) */
	bool tx_lost;			/* answered here until it ends it */
	bool tx_lost_told;		/* it was told why (08006) */
	bool lost_parsed_end;		/* this batch parsed ROLLBACK/COMMIT */
	bool lost_rolled_back;		/* ...and executed it */
	bool lost_batch_failed;		/* an error: drop up to Sync */
	bool direct_tls;		/* began with a TLS ClientHello */
	bool first_byte_seen;		/* the direct-TLS check was done */
	bool ps_on;			/* its mode rewrites statements */
	uint8_t replication;		/* PQ_REPL_*: a replication client */
	char *repl_params;		/* its startup parameters, packed
					 * "name\0value\0...", for its server */
	size_t repl_params_len;
	struct server *repl_server;	/* its server while that logs in */
	bool repl_waiting;		/* for room in its pool to open one */
	bool reset_seen;		/* RESET or DISCARD ALL ran (relay.c) */
	bool wait_notified;		/* query_wait_notify sent */
};

/* What the process that hands a client over knows of it (takeover.c). */
struct client_handover {
	const char *user;		/* the name it logged in as */
	const char *database;
	uint32_t slot;			/* its cancel key, kept */
	uint32_t cancel_key;
	int64_t connect_time;		/* wall clock usec */
	struct varset *vars;		/* references, given to the client */
	struct varset *reset_vars;
	const uint8_t *scram_keys;	/* client and server key, or NULL */
	const char *password;		/* PAM/LDAP-checked one, or NULL */
};

struct client *client_accept(struct pgweir *pw, int fd,
    const struct sockaddr *sa, socklen_t salen);
struct client *client_adopt(struct pgweir *pw, int fd,
    const struct client_handover *h);
int client_reserve_slots(struct pgweir *pw, uint32_t below);
void client_release_reserved_slots(struct pgweir *pw);
uint32_t client_slots_in_use_below(const struct pgweir *pw);
void client_set_state(struct client *client, enum client_state state);
void client_close(struct client *client, const char *reason);
void client_close_error(struct client *client, const char *sqlstate,
    const char *message);
void client_send_error(struct client *client, const char *sqlstate,
    const char *message);
void client_finish_login(struct client *client);
void client_finish_replication(struct client *client, struct server *server);
void client_join_pool(struct client *client);
const char *client_user_name(const struct client *client);
void client_free(struct client *client);
void client_log(const struct client *client, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void client_resume_read(struct client *client);
int client_flush(struct client *client);
void client_maybe_release(struct client *client);
bool client_cancel_by_key(struct pgweir *pw, uint32_t pid, uint32_t key);
const char *client_state_name(enum client_state state);
bool client_transition_allowed(enum client_state from,
    enum client_state to);

/* deadline.c: the timeouts that apply to a client in its state */
void client_update_deadline(struct client *client);
void client_deadline_free(struct client *client);
void deadline_sweep(struct pgweir *pw);
bool deadline_timeouts_in_use(const struct config *cfg);

#endif
