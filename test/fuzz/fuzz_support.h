/* pgweir fuzzing: an in-process pgweir with a fake PostgreSQL behind it. */
#ifndef PGWEIR_FUZZ_SUPPORT_H
#define PGWEIR_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct evbuffer;
struct fz_env;
struct pgweir;
struct server;

/* What kind of pgweir fz_env_new() builds. */
struct fz_opts {
	int pool_mode;		/* enum pool_mode */
	int max_prepared;	/* max_prepared_statements */
	int pool_size;		/* default_pool_size */
	int auth_type;		/* enum auth_type */
	bool tls;		/* client_tls_sslmode = allow, with a cert */
	bool hba;		/* auth_type = hba with a fixed rule set */
	bool pg_silent;		/* the fake PostgreSQL answers logins only */
	bool pg_mute;		/* ...and not even logins */
	bool slow_clients;	/* client peers read at most 4 kB per turn */
	bool reload_file;	/* write the config where RELOAD finds it */
	bool check_frames;	/* abort if pgweir sends a malformed frame */
	bool check_answers;	/* abort if an answer goes missing */
	unsigned error_every;	/* fake PostgreSQL fails every nth request */
	const char *extra;	/* more [pgweir] lines, or NULL */
};

/* A client connection of the harness: pgweir's end and ours. */
struct fz_client {
	uint64_t id;		/* pgweir's client id; 0: never accepted */
	int peer;		/* our end of the socketpair, or -1 */
	struct evbuffer *seen;	/* what pgweir sent, for frame checks */
	bool frames;		/* check framing of what pgweir sends */
	bool in_startup;	/* single-byte SSL answers may come */
	/* the answer oracle: what the client is owed and what it got */
	bool counting;		/* logged in: count from now on */
	bool model_off;		/* something the count cannot follow */
	bool skipping;		/* an error: PostgreSQL skips to Sync */
	struct evbuffer *sent;	/* bytes sent, not yet a whole message */
	uint8_t owed[1024];	/* answers owed, oldest first (a ring) */
	unsigned owed_head, owed_n;
	/* types of the messages received after login, for unit tests */
	char got[1024];
	size_t n_got;
};

struct fz_env *fz_env_new(const struct fz_opts *o);
void fz_env_free(struct fz_env *e);
struct pgweir *fz_pw(struct fz_env *e);
void fz_pump(struct fz_env *e);

struct fz_client *fz_client_open(struct fz_env *e, bool unix_peer);
int fz_client_login(struct fz_env *e, struct fz_client *fc,
    const char *db, const char *user, const char *const *params);
struct client *fz_client_get(struct fz_env *e, const struct fz_client *fc);
void fz_client_write(struct fz_env *e, struct fz_client *fc,
    const void *data, size_t len);
void fz_client_inject(struct fz_env *e, struct fz_client *fc,
    const void *data, size_t len);
void fz_client_cancel(struct fz_env *e, const struct fz_client *target);
void fz_client_hangup(struct fz_env *e, struct fz_client *fc);
void fz_client_expect_answers(struct fz_client *fc);

struct server *fz_server_any(struct fz_env *e);
void fz_server_inject(struct fz_env *e, struct server *server,
    const void *data, size_t len);
void fz_pg_write(struct fz_env *e, const void *data, size_t len);

void fz_add_msg(struct evbuffer *out, uint8_t type, const void *body,
    size_t len);
void fz_add_parse(struct evbuffer *out, const char *name, const char *query);
void fz_add_bind(struct evbuffer *out, const char *stmt);
void fz_add_startup(struct evbuffer *out, const char *user, const char *db,
    const char *const *params);
bool fz_contains_ci(const uint8_t *data, size_t len, const char *word);

#endif
