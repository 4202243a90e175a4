/* pgweir: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, as server and as client. */
#ifndef PGWEIR_SCRAM_H
#define PGWEIR_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN 32		/* SHA-256 output */
#define SCRAM_SALT_LEN 16		/* salt we generate, as PostgreSQL */
#define SCRAM_SALT_MAX 64		/* longest salt accepted anywhere */
#define SCRAM_ITER_MIN 1		/* iteration bounds accepted anywhere */
#define SCRAM_ITER_MAX 10000000
#define SCRAM_DEFAULT_ITERATIONS 4096	/* PostgreSQL's default */
#define SCRAM_CBIND_MAX 64		/* tls-server-end-point, to SHA-512 */
#define SCRAM_RAW_NONCE_LEN 18		/* random bytes per nonce (24 base64) */
#define SCRAM_NONCE_MAX 256		/* longest nonce part from a peer */
#define SCRAM_USER_MAX 128		/* longest user name sent in n= */
#define SCRAM_PASSWORD_MAX 1024		/* longest password, with its NUL */
#define SCRAM_MSG_MAX 1024		/* longest message kept or built */
#define SCRAM_OUT_MAX SCRAM_MSG_MAX	/* out buffer that fits any message */
#define SCRAM_SECRET_TEXT_MAX 256	/* text form of a secret, with NUL */
#define SCRAM_MECHANISMS_MAX 40		/* AuthenticationSASL mechanism list */

#define SCRAM_SHA_256 "SCRAM-SHA-256"
#define SCRAM_SHA_256_PLUS "SCRAM-SHA-256-PLUS"

/* A stored SCRAM-SHA-256 secret (RFC 5803 form, as in pg_authid). */
struct scram_secret {
	int iterations;			/* PBKDF2 rounds */
	uint8_t salt[SCRAM_SALT_MAX];	/* PBKDF2 salt */
	size_t salt_len;		/* bytes used in salt */
	uint8_t stored_key[SCRAM_KEY_LEN]; /* H(ClientKey) */
	uint8_t server_key[SCRAM_KEY_LEN]; /* HMAC(SaltedPw, "Server Key") */
};

/* Where a server-side exchange stands. */
enum scram_server_state {
	SCRAM_SV_NONE,		/* not initialised (or wiped): refuses steps */
	SCRAM_SV_INIT,		/* waiting for client-first-message */
	SCRAM_SV_FIRST,		/* server-first built, awaiting client-final */
	SCRAM_SV_DONE,		/* proof verified, server-final built */
	SCRAM_SV_FAILED,	/* a step failed; refuses further steps */
};

/*
 * pgweir as the SCRAM server, checking a client.  All fields are written by
 * scram_server_* only; callers read state, client_key and have_client_key.
 */
struct scram_server {
	enum scram_server_state state;	/* see enum */
	struct scram_secret secret;	/* copy of the user's, or the mock */
	bool mock;			/* unknown user: proof always fails */
	bool cbind_offered;		/* SCRAM-SHA-256-PLUS offered (TLS) */
	uint8_t cbind[SCRAM_CBIND_MAX];	/* tls-server-end-point of our cert */
	size_t cbind_len;		/* bytes used in cbind */
	bool plus;			/* client chose SCRAM-SHA-256-PLUS */
	char gs2[32];			/* client's gs2 header, verbatim */
	size_t gs2_len;			/* bytes used in gs2 */
	char snonce[SCRAM_NONCE_MAX + 1]; /* our nonce part; NUL-terminated */
	size_t snonce_len;		/* 0 until made (or set by a test) */
	char nonce[2 * SCRAM_NONCE_MAX + 1]; /* client nonce + snonce */
	size_t nonce_len;		/* bytes used in nonce */
	char client_first_bare[SCRAM_MSG_MAX]; /* for the AuthMessage */
	size_t client_first_bare_len;
	char server_first[SCRAM_MSG_MAX]; /* for the AuthMessage */
	size_t server_first_len;
	uint8_t client_key[SCRAM_KEY_LEN]; /* recovered from a valid proof */
	bool have_client_key;		/* client_key is set */
};

/* Where a client-side exchange stands. */
enum scram_client_state {
	SCRAM_CL_NONE,		/* not initialised (or wiped): refuses steps */
	SCRAM_CL_INIT,		/* ready to build client-first-message */
	SCRAM_CL_FIRST,		/* client-first built, awaiting server-first */
	SCRAM_CL_FINAL,		/* client-final built, awaiting server-final */
	SCRAM_CL_DONE,		/* server signature verified */
	SCRAM_CL_FAILED,	/* a step failed; refuses further steps */
};

/*
 * pgweir as the SCRAM client, logging in to PostgreSQL.  Written by
 * scram_client_* only.  After server-first, client_key, server_key, salt
 * and iterations hold what the exchange used (callers may cache the keys
 * per salt and iteration count to skip PBKDF2 next time).
 */
struct scram_client {
	enum scram_client_state state;	/* see enum */
	bool have_password;		/* keys come from password + salt */
	char password[SCRAM_PASSWORD_MAX]; /* wiped once keys are derived */
	size_t password_len;		/* bytes used in password */
	bool have_keys;			/* client_key and server_key are set */
	uint8_t client_key[SCRAM_KEY_LEN]; /* given, or derived */
	uint8_t server_key[SCRAM_KEY_LEN]; /* given, or derived */
	bool plus;			/* use SCRAM-SHA-256-PLUS */
	bool have_cbind;		/* on TLS: cbind is set */
	uint8_t cbind[SCRAM_CBIND_MAX];	/* tls-server-end-point of server */
	size_t cbind_len;		/* bytes used in cbind */
	char user[3 * SCRAM_USER_MAX + 1]; /* n= value, escaped; default "" */
	size_t user_len;		/* bytes used in user */
	char nonce[SCRAM_NONCE_MAX + 1]; /* our nonce; NUL-terminated */
	size_t nonce_len;		/* 0 until made (or set by a test) */
	char client_first_bare[SCRAM_MSG_MAX]; /* for the AuthMessage */
	size_t client_first_bare_len;
	uint8_t server_signature[SCRAM_KEY_LEN]; /* the v= we expect */
	uint8_t salt[SCRAM_SALT_MAX];	/* from server-first */
	size_t salt_len;		/* bytes used in salt */
	int iterations;			/* from server-first */
};

/* Secrets. */
int scram_parse_secret(const char *text, struct scram_secret *out);
int scram_salted_keys(const char *password, size_t password_len,
    const uint8_t *salt, size_t salt_len, int iterations,
    uint8_t client_key[SCRAM_KEY_LEN], uint8_t server_key[SCRAM_KEY_LEN]);
int scram_secret_from_password(const char *password, const uint8_t *salt,
    size_t salt_len, int iterations, struct scram_secret *out);
int scram_build_secret(const char *password, int iterations, char *out,
    size_t outlen);
int scram_format_secret(const struct scram_secret *secret, char *out,
    size_t outlen);

/* The AuthenticationSASL mechanism list. */
int scram_parse_mechanisms(const char *body, size_t len, bool *has_scram,
    bool *has_plus);

/* pgweir as the server. */
int scram_server_init(struct scram_server *s,
    const struct scram_secret *secret, const uint8_t *cbind,
    size_t cbind_len);
void scram_server_init_mock(struct scram_server *s, const char *username,
    const uint8_t mock_key[SCRAM_KEY_LEN]);
int scram_server_set_cbind(struct scram_server *s, const uint8_t *cbind,
    size_t cbind_len);
size_t scram_server_mechanisms(const struct scram_server *s, char *out,
    size_t outlen);
int scram_server_client_first(struct scram_server *s, const char *mechanism,
    const char *msg, size_t len, char *out, size_t outlen, size_t *outn,
    char *err, size_t errlen);
int scram_server_client_final(struct scram_server *s, const char *msg,
    size_t len, char *out, size_t outlen, size_t *outn, char *err,
    size_t errlen);
void scram_server_wipe(struct scram_server *s);

/* pgweir as the client. */
int scram_client_init_password(struct scram_client *c, const char *password,
    bool plus, const uint8_t *cbind, size_t cbind_len);
int scram_client_init_keys(struct scram_client *c,
    const uint8_t client_key[SCRAM_KEY_LEN],
    const uint8_t server_key[SCRAM_KEY_LEN], bool plus, const uint8_t *cbind,
    size_t cbind_len);
int scram_client_set_user(struct scram_client *c, const char *user);
const char *scram_client_mechanism(const struct scram_client *c);
int scram_client_first(struct scram_client *c, char *out, size_t outlen,
    size_t *outn);
int scram_client_server_first(struct scram_client *c, const char *msg,
    size_t len, char *out, size_t outlen, size_t *outn, char *err,
    size_t errlen);
int scram_client_server_final(struct scram_client *c, const char *msg,
    size_t len, char *err, size_t errlen);
void scram_client_wipe(struct scram_client *c);

/* Test hooks: fix the nonces so RFC 7677's vector can be replayed. */
int scram_client_set_nonce_for_test(struct scram_client *c,
    const char *nonce);
int scram_server_set_nonce_for_test(struct scram_server *s,
    const char *nonce);

#endif
