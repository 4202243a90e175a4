/* pgweir: OpenSSL contexts for both sides, and per-connection TLS facts. */
#ifndef PGWEIR_TLS_H
#define PGWEIR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct config;

/* The TLS contexts built from one config. */
struct tls_contexts {
	SSL_CTX *client_side;	/* pgweir as TLS server to clients, or NULL */
	SSL_CTX *server_side;	/* pgweir as TLS client to PostgreSQL */
	struct config *cfg;	/* built from it (a reference): its sslmodes
				   are the ones in force */
};

int tls_build(struct config *cfg, struct tls_contexts *out, char *err,
    size_t errlen);
void tls_free(struct tls_contexts *t);
bool tls_is_option(const char *name);
bool tls_same_server_settings(const struct config *a,
    const struct config *b);
SSL *tls_accept_new(SSL_CTX *ctx, int fd);
SSL *tls_connect_new(SSL_CTX *ctx, int fd, const char *hostname,
    bool verify_host);
int tls_end_point_hash(SSL *ssl, bool own_cert, uint8_t *out, size_t *len);
void tls_describe(SSL *ssl, char *buf, size_t len);
bool tls_alpn_postgresql(SSL *ssl);
int tls_peer_common_name(SSL *ssl, char *buf, size_t len,
    const char **why);

#endif
