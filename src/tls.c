/* SPDX-License-Identifier: ISC */
/*
 * OpenSSL contexts for both sides, built from the client_tls_* and
 * server_tls_* settings, plus the per-connection facts others need: the
 * tls-server-end-point hash for SCRAM channel binding, the certificate's
 * common name for cert authentication, and "TLSv1.3/cipher" for logs and
 * SHOW CLIENTS.
 *
 * Contexts are built whole at start-up and at reload; a reload whose files
 * do not load keeps the old contexts (connections hold their own reference
 * through their SSL objects, so swapping is safe at any time).  The
 * contexts keep the config they were built from: its sslmodes are the
 * ones in force, even while a console SET has left the running config's
 * TLS settings incomplete (a key set, its certificate not yet).
 */
#include "config.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pgweir/config.h"
#include "pgweir/file.h"
#include "pgweir/tls.h"

/* The protocol name TLS clients of PostgreSQL 17 ask for with ALPN. */
static const unsigned char alpn_postgresql[] = "\x0apostgresql";

/* OpenSSL's last error as text, for messages. */
static void
ssl_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

/* Map one protocol name to its version number; 0 when unknown. */
static int
protocol_version(const char *name, size_t len)
{
	static const struct {
		const char *name;
		int version;
	} names[] = {
		{ "tlsv1.0", TLS1_VERSION }, { "tlsv1", TLS1_VERSION },
		{ "tlsv1.1", TLS1_1_VERSION }, { "tlsv1.2", TLS1_2_VERSION },
		{ "tlsv1.3", TLS1_3_VERSION },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len &&
		    strncasecmp(names[i].name, name, len) == 0)
			return names[i].version;
	return 0;
}

/*
 * Apply a protocols setting: "secure" (TLS 1.2 and 1.3), "all"/"legacy",
 * or a comma list of tlsv1.0 .. tlsv1.3 (the lowest and highest listed
 * bound the range).
 */
static int
set_protocols(SSL_CTX *ctx, const char *spec, char *err, size_t errlen)
{
	int lo = 0, hi = 0;

	if (spec[0] == '\0' || strcasecmp(spec, "secure") == 0) {
		lo = TLS1_2_VERSION;
		hi = 0;
	} else if (strcasecmp(spec, "all") == 0 ||
	    strcasecmp(spec, "legacy") == 0) {
		lo = TLS1_VERSION;
	} else {
		const char *p = spec;
		while (*p) {
			size_t n;
			int v;
			while (*p == ',' || *p == ' ')
				p++;
			n = strcspn(p, ", ");
			if (n == 0)
				break;
			v = protocol_version(p, n);
			if (v == 0) {
				snprintf(err, errlen, "unknown TLS protocol "
				    "\"%.*s\"", (int)n, p);
				return -1;
			}
			if (lo == 0 || v < lo)
				lo = v;
			if (v > hi)
				hi = v;
			p += n;
		}
	}
	if (!SSL_CTX_set_min_proto_version(ctx, lo) ||
	    !SSL_CTX_set_max_proto_version(ctx, hi)) {
		snprintf(err, errlen, "cannot use TLS protocols \"%s\"", spec);
		return -1;
	}
	return 0;
}

/* Apply ciphers (TLS 1.2 and below) and TLS 1.3 suites. */
static int
set_ciphers(SSL_CTX *ctx, const char *ciphers, const char *tls13, char *err,
    size_t errlen)
{
	static const char *const defaults[] = { "", "default", "secure",
		"fast", "normal", NULL };
	bool use_default = false;

	for (int i = 0; defaults[i]; i++)
		if (strcasecmp(ciphers, defaults[i]) == 0)
			use_default = true;
	if (!use_default && !SSL_CTX_set_cipher_list(ctx,
	    strcasecmp(ciphers, "all") == 0 ? "ALL" : ciphers)) {
		snprintf(err, errlen, "invalid cipher list \"%s\"", ciphers);
		return -1;
	}
	if (tls13[0] != '\0' && !SSL_CTX_set_ciphersuites(ctx, tls13)) {
		snprintf(err, errlen, "failed to set the TLSv1.3 cipher suites "
		    "\"%s\"", tls13);
		return -1;
	}
	return 0;
}

/*
 * Refuse what OpenSSL would read forever or without bound (/dev/zero, a
 * FIFO, a huge file): TLS files must be regular files like the config.
 */
static int
check_file(const char *path, const char *what, char *err, size_t errlen)
{
	char msg[256];

	if (file_check(path, FILE_CONF_MAX, msg, sizeof(msg)) == 0)
		return 0;
	snprintf(err, errlen, "could not load %s \"%s\": %s", what, path,
	    msg);
	return -1;
}

/* Load a certificate chain and its key, checking that they match. */
static int
load_cert_key(SSL_CTX *ctx, const char *cert, const char *key, char *err,
    size_t errlen)
{
	char ssl_err[256];

	if (check_file(cert, "certificate", err, errlen) < 0 ||
	    check_file(key, "private key", err, errlen) < 0)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error_text(ssl_err, sizeof(ssl_err));
		snprintf(err, errlen, "could not load certificate \"%s\": %s",
		    cert, ssl_err);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_error_text(ssl_err, sizeof(ssl_err));
		snprintf(err, errlen, "could not load private key \"%s\": %s",
		    key, ssl_err);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "private key \"%s\" does not match "
		    "certificate \"%s\"", key, cert);
		return -1;
	}
	return 0;
}

/* Load CA certificates that peers' certificates must chain to. */
static int
load_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
	char ssl_err[256];

	if (check_file(ca, "CA file", err, errlen) < 0)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ssl_error_text(ssl_err, sizeof(ssl_err));
		snprintf(err, errlen, "could not load CA file \"%s\": %s", ca,
		    ssl_err);
		return -1;
	}
	return 0;
}

/* ALPN on the client side: agree to "postgresql" and nothing else. */
static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_postgresql,
	    sizeof(alpn_postgresql) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* The context for client connections (pgweir is the TLS server). */
static SSL_CTX *
build_client_side(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (cfg->client_tls_sslmode == TLS_DISABLE)
		return NULL;
	if (cfg->client_tls_cert_file[0] == '\0' ||
	    cfg->client_tls_key_file[0] == '\0') {
		snprintf(err, errlen, "client_tls_sslmode = %s needs "
		    "client_tls_cert_file and client_tls_key_file",
		    cfg->client_tls_sslmode == TLS_ALLOW ? "allow" :
		    cfg->client_tls_sslmode == TLS_PREFER ? "prefer" :
		    "require or stricter");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	if (set_protocols(ctx, cfg->client_tls_protocols, err, errlen) < 0 ||
	    set_ciphers(ctx, cfg->client_tls_ciphers,
	    cfg->client_tls13_ciphers, err, errlen) < 0 ||
	    load_cert_key(ctx, cfg->client_tls_cert_file,
	    cfg->client_tls_key_file, err, errlen) < 0)
		goto fail;
	if (strcasecmp(cfg->client_tls_ecdhcurve, "auto") != 0 &&
	    strcasecmp(cfg->client_tls_ecdhcurve, "none") != 0 &&
	    !SSL_CTX_set1_groups_list(ctx, cfg->client_tls_ecdhcurve)) {
		snprintf(err, errlen, "unknown ECDH curve \"%s\"",
		    cfg->client_tls_ecdhcurve);
		goto fail;
	}
	if (strcasecmp(cfg->client_tls_dheparams, "none") != 0)
		SSL_CTX_set_dh_auto(ctx, 1);
	if (cfg->client_tls_ca_file[0] != '\0' &&
	    load_ca(ctx, cfg->client_tls_ca_file, err, errlen) < 0)
		goto fail;
	if (cfg->client_tls_sslmode >= TLS_VERIFY_CA) {
		if (cfg->client_tls_ca_file[0] == '\0') {
			snprintf(err, errlen, "client_tls_sslmode verify-ca "
			    "and verify-full need client_tls_ca_file");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	} else if (cfg->client_tls_ca_file[0] != '\0') {
		/* ask for a certificate (for cert auth), do not insist */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* The context for server connections (pgweir is the TLS client). */
static SSL_CTX *
build_server_side(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (cfg->server_tls_sslmode == TLS_DISABLE)
		return NULL;
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (set_protocols(ctx, cfg->server_tls_protocols, err, errlen) < 0 ||
	    set_ciphers(ctx, cfg->server_tls_ciphers,
	    cfg->server_tls13_ciphers, err, errlen) < 0)
		goto fail;
	if (cfg->server_tls_cert_file[0] != '\0' &&
	    load_cert_key(ctx, cfg->server_tls_cert_file,
	    cfg->server_tls_key_file, err, errlen) < 0)
		goto fail;
	if (cfg->server_tls_ca_file[0] != '\0' &&
	    load_ca(ctx, cfg->server_tls_ca_file, err, errlen) < 0)
		goto fail;
	if (cfg->server_tls_sslmode >= TLS_VERIFY_CA) {
		/* without a CA file, the system's trust store (as PgBouncer) */
		if (cfg->server_tls_ca_file[0] == '\0' &&
		    SSL_CTX_set_default_verify_paths(ctx) != 1) {
			snprintf(err, errlen, "server_tls_sslmode %s: cannot "
			    "load the system's CA certificates; set "
			    "server_tls_ca_file", cfg->server_tls_sslmode ==
			    TLS_VERIFY_FULL ? "verify-full" : "verify-ca");
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * Build both contexts from a config (they keep a reference to it).  On
 * error, err says what is wrong and out is untouched.
 */
int
tls_build(struct config *cfg, struct tls_contexts *out, char *err,
    size_t errlen)
{
	struct tls_contexts t = { NULL, NULL, NULL };

	err[0] = '\0';
	t.client_side = build_client_side(cfg, err, errlen);
	if (t.client_side == NULL && err[0] != '\0')
		return -1;
	t.server_side = build_server_side(cfg, err, errlen);
	if (t.server_side == NULL && err[0] != '\0') {
		SSL_CTX_free(t.client_side);
		return -1;
	}
	t.cfg = config_ref(cfg);
	*out = t;
	return 0;
}

/* Drop our references to both contexts and their config. */
void
tls_free(struct tls_contexts *t)
{
	SSL_CTX_free(t->client_side);
	SSL_CTX_free(t->server_side);
	config_unref(t->cfg);
	t->client_side = t->server_side = NULL;
	t->cfg = NULL;
}

/* Whether an option is one of the client_tls_* or server_tls_* keys. */
bool
tls_is_option(const char *name)
{
	return (strncmp(name, "client_tls", 10) == 0 ||
	    strncmp(name, "server_tls", 10) == 0);
}

/*
 * Whether two configs connect to servers with the same TLS settings (file
 * contents aside; a reload re-reads those for new connections anyway).
 */
bool
tls_same_server_settings(const struct config *a, const struct config *b)
{
	static const char *const keys[] = { "server_tls_sslmode",
		"server_tls_ca_file", "server_tls_key_file",
		"server_tls_cert_file", "server_tls_protocols",
		"server_tls_ciphers", "server_tls13_ciphers", NULL };

	if (a == NULL || b == NULL)
		return a == b;
	for (int i = 0; keys[i]; i++) {
		const struct config_option *o = config_find_option(keys[i]);
		char va[512], vb[512];
		config_format_option(a, o, va, sizeof(va));
		config_format_option(b, o, vb, sizeof(vb));
		if (strcmp(va, vb) != 0)
			return false;
	}
	return true;
}

/* A TLS server-side object for an accepted client socket. */
SSL *
tls_accept_new(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

/* A TLS client-side object for a server socket; verify the name if asked. */
SSL *
tls_connect_new(SSL_CTX *ctx, int fd, const char *hostname, bool verify_host)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (hostname != NULL && hostname[0] != '/') {
		unsigned char ip[16];
		bool is_ip = inet_pton(AF_INET, hostname, ip) == 1 ||
		    inet_pton(AF_INET6, hostname, ip) == 1;
		if (!is_ip)
			SSL_set_tlsext_host_name(ssl, hostname);
		if (verify_host && (is_ip ?
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    hostname) != 1 : SSL_set1_host(ssl, hostname) != 1))
			goto fail;
	}
	SSL_set_alpn_protos(ssl, alpn_postgresql,
	    sizeof(alpn_postgresql) - 1);
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/*
 * The tls-server-end-point channel binding data (RFC 5929): the hash of
 * the server certificate, with the certificate's own signature hash, and
 * SHA-256 in place of MD5 or SHA-1.  own_cert: pgweir is the TLS server.
 */
int
tls_end_point_hash(SSL *ssl, bool own_cert, uint8_t *out, size_t *len)
{
	X509 *cert = own_cert ? SSL_get_certificate(ssl) :
	    SSL_get1_peer_certificate(ssl);
	const EVP_MD *md;
	int nid = NID_undef;
	unsigned int n = 0;
	int rc = -1;

	if (cert == NULL)
		return -1;
	if (X509_get_signature_info(cert, &nid, NULL, NULL, NULL) != 1)
		goto out;
	if (nid == NID_md5 || nid == NID_sha1)
		nid = NID_sha256;
	md = EVP_get_digestbynid(nid);
	if (md == NULL)
		goto out;
	if (X509_digest(cert, md, out, &n) == 1) {
		*len = n;
		rc = 0;
	}
out:
	if (!own_cert)
		X509_free(cert);
	return rc;
}

/* "TLSv1.3/TLS_AES_256_GCM_SHA384", or "" without TLS. */
void
tls_describe(SSL *ssl, char *buf, size_t len)
{
	if (ssl == NULL) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%s/%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
}

/* Whether ALPN settled on "postgresql". */
bool
tls_alpn_postgresql(SSL *ssl)
{
	const unsigned char *p;
	unsigned int n;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == sizeof(alpn_postgresql) - 2 &&
	    memcmp(p, alpn_postgresql + 1, n) == 0;
}

/*
 * The common name of a verified peer certificate, NUL-terminated in buf.
 * -1 when there is no verified certificate or no common name, or when the
 * name cannot stand for a user: then *why (else NULL) says what is wrong.
 * The name is taken with its length: a CA-signed "alice\0.evil.example"
 * must not read as "alice", so a name with an embedded NUL is refused (as
 * PostgreSQL refuses it), and so is one too long for buf rather than cut.
 */
int
tls_peer_common_name(SSL *ssl, char *buf, size_t len, const char **why)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	X509_NAME *name;
	const ASN1_STRING *cn;
	const unsigned char *p;
	int i, n, rc = -1;

	*why = NULL;
	buf[0] = '\0';
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		goto done;
	name = X509_get_subject_name(cert);
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0)
		goto done;
	cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	p = ASN1_STRING_get0_data(cn);
	n = ASN1_STRING_length(cn);
	if (n <= 0)
		goto done;
	if (memchr(p, '\0', (size_t)n) != NULL) {
		*why = "the client certificate's common name contains an "
		    "embedded null";
		goto done;
	}
	if ((size_t)n >= len) {
		*why = "the client certificate's common name is too long";
		goto done;
	}
	memcpy(buf, p, (size_t)n);
	buf[n] = '\0';
	rc = 0;
done:
	X509_free(cert);
	return rc;
}
