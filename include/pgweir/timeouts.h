/* pgweir: which timeout governs a client in each state (pure). */
#ifndef PGWEIR_TIMEOUTS_H
#define PGWEIR_TIMEOUTS_H

#include <stdbool.h>
#include <stdint.h>

/* The client states that have deadlines (client.h's, without closed). */
enum timeouts_phase {
	TP_LOGIN,		/* logging in */
	TP_WELCOME,		/* logged in, awaiting its first server */
	TP_IDLE,		/* between transactions, no server */
	TP_WAITING,		/* a request waits for a server */
	TP_ACTIVE,		/* linked to a server */
};

/* Each timeout a client may meet. */
enum timeout_kind {
	TK_NONE,
	TK_LOGIN,		/* client_login_timeout */
	TK_STARTUP,		/* client_startup_timeout */
	TK_QUERY_WAIT,		/* query_wait_timeout */
	TK_QUERY,		/* query_timeout */
	TK_CLIENT_IDLE,		/* client_idle_timeout */
	TK_IDLE_TRANSACTION,	/* idle_transaction_timeout */
	TK_TRANSACTION,		/* transaction_timeout */
};

/*
 * What decides a client's deadline: its state, when things began
 * (monotonic usec; 0: not begun) and the timeouts in force for it (usec;
 * 0: none).
 */
struct timeouts_in {
	enum timeouts_phase phase;
	bool in_startup;	/* no complete StartupMessage yet */
	bool replication;	/* a replication stream: no query/idle bound */
	bool request_pending;	/* active: a request awaits its answer */
	bool in_transaction;	/* active: the server is in a transaction */
	int64_t login_start;	/* accepted */
	int64_t idle_since;	/* last answer */
	int64_t wait_start;	/* began to wait for a server */
	int64_t request_time;	/* the current request came */
	int64_t tx_start;	/* the current transaction began */
	int64_t login_timeout;
	int64_t startup_timeout;
	int64_t query_wait_timeout;
	int64_t query_timeout;
	int64_t client_idle_timeout;
	int64_t idle_transaction_timeout;
	int64_t transaction_timeout;
};

/* A deadline and the timeout it comes from. */
struct timeouts_due {
	int64_t at;		/* monotonic usec; 0: none */
	enum timeout_kind kind;
};

struct timeouts_due timeouts_next(const struct timeouts_in *in);
const char *timeouts_name(enum timeout_kind kind);

#endif
