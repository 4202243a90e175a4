/* pgweir: server (backend) connections. */
#ifndef PGWEIR_SERVER_H
#define PGWEIR_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "pgweir/cancel.h"
#include "pgweir/client.h"
#include "pgweir/io.h"
#include "pgweir/pgweir.h"
#include "pgweir/rqueue.h"
#include "pgweir/targetattrs.h"

struct evdns_getaddrinfo_request;
struct welcome_param;
struct scram_client;
struct server_ps;

/* A server's state; it also decides which pool list it is on. */
enum server_state {
	SV_CONNECTING,	/* DNS, TCP connect, login */
	SV_IDLE,	/* ready for a client */
	SV_ACTIVE,	/* linked to a client */
	SV_TESTED,	/* no client; cleanup or reset query running */
	SV_CLOSED,	/* closed; the reaper frees it */
};

struct server {
	struct io io;			/* socket and buffers; owned */
	uint64_t id;
	enum server_state state;	/* only server_set_state() writes it */
	struct pgweir *pw;
	struct pool *pool;
	struct client *link;		/* linked client (pool_link) */
	struct client *repl_client;	/* a replication client's own server:
					 * that client, while this logs in */
	uint8_t replication;		/* PQ_REPL_*: opened for replication */
	TAILQ_ENTRY(server) entry;	/* in the pool list of its state */
	int host;			/* entry of the database's host list */
	enum host_role role;		/* what its host said it is */
	bool login_read_only;	/* default_transaction_read_only at login */
	struct sockaddr_storage remote;	/* where it connected (for cancels) */
	socklen_t remote_len;
	struct evdns_getaddrinfo_request *dns_req; /* lookup in flight */
	struct varset *vars;		/* parameter values it runs with */
	struct varset *reset_vars;	/* login values: what RESET gives */
	struct varset *startup_vars;	/* a client's, sent at login; or NULL */
	struct request_queue rq;	/* outstanding requests */
	struct welcome_param *login_params; /* ParameterStatus at login */
	int n_login_params;
	uint32_t backend_pid;		/* from BackendKeyData */
	uint32_t backend_key;
	uint32_t pkt_remain;		/* bytes of a message still to pass */
	bool pkt_forward;	/* ...and whether they go to the client */
	char tx_status;			/* from the last ReadyForQuery */
	bool logged_in;			/* login finished */
	bool copy_both;			/* in COPY BOTH (replication) */
	bool internal_failed;		/* a query of ours failed */
	bool reset_pending;	/* run server_reset_query when settled */
	bool role_changed;		/* SET ROLE or SESSION AUTH. ran */
	bool restoring;			/* restoring startup values */
	bool cancel_sent;		/* a cancel went out during cleanup */
	struct cancel_list cancels;	/* cancels in flight to it (cancel.c) */
	bool close_needed;		/* close instead of reuse (reload) */
	bool ended_unasked;		/* sent an error nobody asked for */
	bool read_paused;		/* backpressure from the client side */
	bool auth_sent;			/* a password went out */
	bool just_checked;		/* passed server_check_query just now */
	bool in_connect_query;		/* connect_query answers due */
	bool in_role_probe;		/* the role probe's answers due */
	const char *probed_hot_standby;	/* its answer: "on", "off" or NULL */
	const char *probed_read_only;
	bool tls_requested;		/* SSLRequest sent, answer pending */
	bool startup_sent;		/* StartupMessage went out */
	struct scram_client *scram;	/* during a SCRAM login; owned */
	struct server_ps *ps;		/* statements prepared here; owned */
	int64_t connect_time;		/* wall clock usec */
	int64_t idle_since;		/* monotonic usec */
	int64_t created;		/* monotonic usec */
	struct event timer;		/* connect / cleanup deadline */
};

/* What the process that hands a server over knows of it (takeover.c). */
struct server_handover {
	uint32_t backend_pid;		/* its BackendKeyData */
	uint32_t backend_key;
	struct varset *vars;		/* references, given to the server */
	struct varset *reset_vars;
	int host;			/* entry of the database's host list */
	int64_t connect_time;		/* wall clock usec */
};

struct server *server_launch(struct pool *pool, struct client *for_client);
struct server *server_adopt(struct pool *pool, int fd,
    const struct server_handover *h);
void server_set_state(struct server *server, enum server_state state);
void server_close(struct server *server, const char *reason);
void server_close_handed_over(struct server *server);
void server_free(struct server *server);
void server_host_failed(struct server *server, const char *sqlstate,
    const char *message);
void server_note_role(struct server *server, enum host_role role);
void server_on_hot_standby(struct server *server, const char *value);
void server_log(const struct server *server, int level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
void server_settle(struct server *server);
void server_resume_read(struct server *server);
int server_flush(struct server *server);
int server_send_internal(struct server *server, const char *sql);
int server_queue_internal(struct server *server, const char *sql);
void server_cancel_backend(struct server *server);
void server_start_check(struct server *server);
bool server_fast_close(struct server *server);
bool server_idle_usable(struct server *server);
const char *server_state_name(enum server_state state);
void server_arm_timer(struct server *server, int64_t usec);

/* The login (serverlogin.c). */
void server_send_startup(struct server *server);
void server_handle_login(struct server *server);
void server_login_broken(struct server *server, const char *sqlstate,
    const char *message);
void server_free_login_params(struct server *server);
void server_free_scram(struct server *server);

bool server_transition_allowed(enum server_state from,
    enum server_state to);

#endif
