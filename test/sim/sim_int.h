/* pgweir simulator: what sim.c and its fake PostgreSQL share. */
#ifndef PGWEIR_SIM_INT_H
#define PGWEIR_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event_struct.h>

#include "pgweir/pgweir.h"

#include "sim.h"

#define SIM_CLIENTS_MAX 32
#define SIM_PG_CONNS_MAX 16
#define SIM_PG_STMTS_MAX 32
#define SIM_READ_SIZE (32 * 1024) /* the most one read of the harness takes */

struct authfile;
struct config;
struct hba;

/* One connection to the fake PostgreSQL. */
struct sim_pgconn {
	struct sim *sim;	/* the runtime it serves */
	int fd;			/* -1: closed */
	struct event ev;	/* read interest, in the runtime's base */
	struct evbuffer *in;	/* bytes from pgweir not yet handled */
	struct evbuffer *out;	/* answers not yet written */
	uint32_t pid;		/* its BackendKeyData pid */
	bool started;		/* StartupMessage seen and answered */
	bool closing;		/* close once the answer is written */
	bool login_done;	/* AuthenticationOk ... ReadyForQuery sent */
	char tx;		/* 'I', 'T' or 'E' */
	bool in_block;		/* inside BEGIN ... COMMIT */
	bool skip;		/* error in extended mode: skip to Sync */
	bool copy_in;		/* COPY FROM STDIN running */
	bool copy_simple;	/* ...started by a simple Query */
	char *portal;		/* the unnamed portal's query; owned */
	char *stmt_name[SIM_PG_STMTS_MAX]; /* prepared statements; owned */
	char *stmt_query[SIM_PG_STMTS_MAX]; /* their queries; owned */
};

/*
 * An in-process pgweir and everything around it.  Built once per config
 * and kept in a cache; sim_close() resets it to the state just after it
 * was built, so the next input starts from the same place.
 */
struct sim {
	struct pgweir pw;	/* the runtime */
	struct sim_opts opts;	/* this input's options */
	char *cfg_text;		/* the config it was built from; the key */
	struct config *cfg0;	/* the config built, to see a RELOAD or SET */
	struct authfile *auth0;	/* ...and the auth_file */
	struct hba *hba0;	/* ...and the hba rules */
	struct event *accept_ev; /* the fake PostgreSQL's listener */
	struct sim_client clients[SIM_CLIENTS_MAX]; /* the harness's clients */
	int n_clients;		/* clients[] in use */
	struct sim_pgconn pg[SIM_PG_CONNS_MAX]; /* fake server connections */
	unsigned requests;	/* counted for error_every */
	uint32_t next_pid;	/* BackendKeyData pids, from 1 */
	struct sim *next;	/* in the cache */
};

/* Process-wide: the directory, the fake PostgreSQL's listening socket. */
struct sim_global {
	bool ready;		/* sim_global_init() ran */
	bool trace;		/* PGWEIR_FUZZ_TRACE: print message types */
	char dir[80];		/* short enough for a sun_path */
	char sock[128];		/* the fake PostgreSQL's socket */
	int listen_fd;		/* ...listening */
	int metrics_port;	/* a free port for /metrics, or 0 */
	struct sim *cache;	/* runtimes built, newest first */
	int n_cache;		/* how many */
	const struct sim *ini_of; /* whose config pgweir.ini holds */
};

extern struct sim_global sim_global;

void sim_pg_accept_cb(evutil_socket_t fd, short what, void *arg);
bool sim_pg_flush(struct sim *e);
void sim_pg_close(struct sim_pgconn *c);
void sim_pg_reset(struct sim *e);
int sim_read(int fd, struct evbuffer *into, size_t max);
size_t sim_frame(struct evbuffer *b, uint8_t *type, const char *to);

#endif
