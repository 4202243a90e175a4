/*
 * pgweir simulator: pgweir's core in process, in front of a fake
 * PostgreSQL; used by the fuzz targets and the unit tests.
 */
#ifndef PGWEIR_SIM_H
#define PGWEIR_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct event;
struct evbuffer;
struct pgweir;
struct server;
struct sim;

/* What kind of pgweir sim_open() gives, and how the harness behaves. */
struct sim_opts {
	int pool_mode;		/* enum pool_mode */
	int max_prepared;	/* max_prepared_statements */
	int pool_size;		/* default_pool_size */
	int auth_type;		/* enum auth_type */
	bool tls;		/* client_tls_sslmode = allow, with a cert */
	bool hba;		/* auth_type = hba with a fixed rule set */
	bool metrics;		/* serve /metrics (sim_http_open) */
	bool pg_silent;		/* the fake PostgreSQL answers logins only */
	bool pg_mute;		/* ...and not even logins */
	bool echo;		/* ...echoes each statement (notice, row) */
	bool pg_standby;	/* the fake PostgreSQL is a standby (as a
				 * server before 14 says: only when asked) */
	bool slow_clients;	/* client peers read at most 4 kB per turn */
	bool reload_file;	/* write the config where RELOAD finds it */
	bool check_frames;	/* abort if pgweir sends a malformed frame */
	bool check_answers;	/* abort if an answer goes missing */
	unsigned error_every;	/* fake PostgreSQL fails every nth request */
	unsigned big_rows;	/* rows of a "big" query; 0: 6000 (600 kB) */
	const char *extra;	/* more [pgweir] lines, or NULL */
};

/* A client connection of the harness: pgweir's end and ours. */
struct sim_client {
	struct sim *sim;	/* the runtime it belongs to */
	uint64_t id;		/* pgweir's client id; 0: not a client */
	int peer;		/* our end of the socketpair, or -1 */
	struct event *ev;	/* read interest on peer; owned */
	struct evbuffer *seen;	/* what pgweir sent, for frame checks */
	struct evbuffer *all;	/* everything it sent, if kept, or NULL */
	bool frames;		/* check framing of what pgweir sends */
	bool in_startup;	/* single-byte SSL answers may come */
	/* the answer oracle: what the client is owed and what it got */
	bool counting;		/* logged in: count from now on */
	bool model_off;		/* something the count cannot follow */
	bool skipping;		/* an error: PostgreSQL skips to Sync */
	struct evbuffer *sent;	/* bytes sent, not yet a whole message */
	uint8_t owed[1024];	/* answers owed, oldest first (a ring) */
	unsigned owed_head;	/* the oldest in owed[] */
	unsigned owed_n;	/* how many */
	char got[1024];		/* types received after login, for tests */
	size_t n_got;		/* ...how many */
};

struct sim *sim_open(const struct sim_opts *o);
void sim_close(struct sim *e);
struct pgweir *sim_pw(struct sim *e);
void sim_pump(struct sim *e);
const char *sim_write_file(const char *name, const void *data, size_t len);

struct sim_client *sim_client_open(struct sim *e, bool unix_peer);
struct sim_client *sim_http_open(struct sim *e);
void sim_client_keep(struct sim_client *fc);
int sim_client_login(struct sim *e, struct sim_client *fc,
    const char *db, const char *user, const char *const *params);
struct client *sim_client_get(struct sim *e, const struct sim_client *fc);
void sim_client_write(struct sim *e, struct sim_client *fc,
    const void *data, size_t len);
void sim_client_inject(struct sim *e, struct sim_client *fc,
    const void *data, size_t len);
void sim_client_cancel(struct sim *e, const struct sim_client *target);
void sim_client_hangup(struct sim *e, struct sim_client *fc);
void sim_client_expect_answers(struct sim_client *fc);

struct server *sim_server_any(struct sim *e);
void sim_server_inject(struct sim *e, struct server *server,
    const void *data, size_t len);
void sim_pg_write(struct sim *e, const void *data, size_t len);

void sim_add_msg(struct evbuffer *out, uint8_t type, const void *body,
    size_t len);
void sim_add_parse(struct evbuffer *out, const char *name, const char *query);
void sim_add_bind(struct evbuffer *out, const char *stmt);
void sim_add_startup(struct evbuffer *out, const char *user, const char *db,
    const char *const *params);
bool sim_contains_ci(const uint8_t *data, size_t len, const char *word);

#endif
