/* SPDX-License-Identifier: ISC */
/*
 * Client authentication: choosing the method (auth_type, or the first
 * matching auth_hba_file rule), finding the user's secret (auth_file, else
 * auth_query), and running the exchange: cleartext password, MD5,
 * SCRAM-SHA-256 (-PLUS over TLS, with tls-server-end-point binding), peer
 * credentials on the unix socket, or a verified TLS client certificate.
 *
 * Security rules kept here: an unknown user goes through the same exchange
 * as a known one and fails with the same error (a mock SCRAM run, a dummy
 * MD5 comparison); secrets are compared in constant time; nonces and salts
 * come from OpenSSL's generator; secrets and passwords are wiped after use
 * and never logged.  The per-login state (about 4 kB with SCRAM) exists only
 * while the client authenticates.  Callers: client.c after the startup
 * packet, and for each PasswordMessage; it ends in pool_client_login() or
 * in closing the client.
 */
#include "config.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgweir/auth.h"
#include "pgweir/authfile.h"
#include "pgweir/authquery.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/authwork.h"
#include "pgweir/hba.h"
#include "pgweir/ident.h"
#include "pgweir/log.h"
#include "pgweir/pgmd5.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/scram.h"
#include "pgweir/sockopt.h"
#include "pgweir/tls.h"

/* Longest authentication message accepted from a client. */
#define AUTH_MSG_MAX 8192

/* Where a login is in its exchange. */
enum auth_step {
	AUTH_WAIT_SECRET,	/* auth_query is running */
	AUTH_WAIT_PASSWORD,	/* sent AuthenticationCleartextPassword */
	AUTH_WAIT_MD5,		/* sent AuthenticationMD5Password */
	AUTH_WAIT_SASL_FIRST,	/* sent AuthenticationSASL */
	AUTH_WAIT_SASL_FINAL,	/* sent AuthenticationSASLContinue */
	AUTH_WAIT_CHECK,	/* PAM or LDAP checks it, off the loop */
};

/* The state of one login's authentication; freed when it ends. */
struct auth_state {
	enum hba_method method;
	enum auth_step step;
	char *secret;			/* the user's secret; wiped, owned */
	bool mock;	/* unknown user: must fail like a bad one */
	uint8_t md5_salt[4];
	struct authquery_req *aq;	/* lookup in flight, or NULL */
	struct authwork_req *check;	/* PAM or LDAP check in flight */
	bool external;			/* PAM or LDAP, not a secret, checks */
	char *ldap_options;		/* the ldap rule's options; owned */
	struct scram_server scram;
};

/* Free a login's state, wiping what was secret. */
static void
auth_free(struct client *client)
{
	struct auth_state *a = client->auth;

	if (a == NULL)
		return;
	if (a->aq)
		authquery_cancel(a->aq);
	if (a->check)
		authwork_cancel(a->check);
	free(a->ldap_options);
	if (a->secret) {
		OPENSSL_cleanse(a->secret, strlen(a->secret));
		free(a->secret);
	}
	scram_server_wipe(&a->scram);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	client->auth = NULL;
}

/* The user name the client logged in with. */
static const char *
login_user(const struct client *client)
{
	return client->login->user;
}

/*
 * The failure every password method ends with, known user or not.  The
 * wording follows the exchange, as PgBouncer's does: "SASL authentication
 * failed" once a SCRAM exchange began, else PostgreSQL's "password
 * authentication failed".  An unknown user runs the same exchange as the
 * known users would, so the wording tells nothing about who exists.
 */
static void
auth_fail_password(struct client *client, const char *why)
{
	struct auth_state *a = client->auth;
	char msg[200];

	/* the reason goes to the log only: the client learns nothing */
	client_log(client, LOG_LVL_LOG, "authentication failed: %s", why);
	if (a != NULL && (a->step == AUTH_WAIT_SASL_FIRST ||
	    a->step == AUTH_WAIT_SASL_FINAL))
		snprintf(msg, sizeof(msg), "SASL authentication failed");
	else
		snprintf(msg, sizeof(msg), "password authentication failed "
		    "for user \"%.63s\"", login_user(client));
	auth_free(client);
	client_close_error(client, SQLSTATE_INVALID_PASSWORD, msg);
}

/* A configuration problem stops this login; the log says which. */
static void
auth_fail_config(struct client *client)
{
	auth_free(client);
	client_close_error(client, SQLSTATE_CONFIG_FILE_ERROR,
	    "bouncer config error");
}

/*
 * Under trust, a user pgweir does not know is refused (there is no
 * password to hide behind: with trust, refusal itself tells).
 */
static void
auth_fail_trust(struct client *client, const char *message)
{
	auth_free(client);
	client_close_error(client, SQLSTATE_INVALID_AUTHORIZATION, message);
}

/*
 * Authentication succeeded: console rights are decided now (never before,
 * so nobody learns them without a password), then on to the pool.
 */
static void
auth_succeed(struct client *client)
{
	struct client_login *l = client->login;

	auth_free(client);
	if (l->admin && client->pw->console->authorize(client, l->user,
	    l->trusted_peer) < 0)
		return;
	client_join_pool(client);
}

/* Keep proven SCRAM keys: they log in to PostgreSQL for this user. */
static void
auth_keep_scram_keys(struct client *client, const uint8_t *client_key,
    const uint8_t *server_key)
{
	struct client_login *l = client->login;

	memcpy(l->scram_client_key, client_key, sizeof(l->scram_client_key));
	memcpy(l->scram_server_key, server_key, sizeof(l->scram_server_key));
	l->has_scram_keys = true;
}

/* Compare two strings in constant time (for their length, at least). */
static bool
secret_equal(const char *a, const char *b)
{
	uint8_t ha[EVP_MAX_MD_SIZE], hb[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;

	/* hashing first makes the comparison independent of the lengths */
	if (EVP_Digest(a, strlen(a), ha, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, strlen(b), hb, &lb, EVP_sha256(), NULL) != 1)
		return false;
	return la == lb && CRYPTO_memcmp(ha, hb, la) == 0;
}

/* The kind of a stored secret. */
static bool
is_md5_secret(const char *s)
{
	return strncmp(s, "md5", 3) == 0 && strlen(s) == PGMD5_LEN - 1;
}

static bool
is_scram_secret(const char *s)
{
	return strncmp(s, "SCRAM-SHA-256$", 14) == 0;
}

/*
 * The SCRAM secret for a plaintext password, as PostgreSQL would store it.
 * The salt is derived from the user name with the process's mock key (the
 * same derivation mock logins use, so real and unknown users look alike)
 * and the result is cached on the user: PBKDF2 runs once per password, not
 * once per login.
 */
static int
scram_build_secret_cached(struct client *client, struct scram_secret *out)
{
	struct client_login *l = client->login;
	/* a user that has logged in before holds the cache; else the login */
	struct user *user = pool_find_user(client->pw, l->user, false);
	struct scram_secret **cache = user ? &user->derived : &l->derived;
	uint8_t *cached_from = user ? user->derived_from : l->derived_from;
	const char *password = client->auth->secret;
	uint8_t digest[32], salt[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0, slen = 0;

	if (EVP_Digest(password, strlen(password), digest, &dlen,
	    EVP_sha256(), NULL) != 1)
		return -1;
	if (*cache != NULL &&
	    CRYPTO_memcmp(cached_from, digest, sizeof(digest)) == 0) {
		*out = **cache;
		return 0;
	}
	if (HMAC(EVP_sha256(), client->pw->auth_mock_key, SCRAM_KEY_LEN,
	    (const unsigned char *)l->user, strlen(l->user), salt,
	    &slen) == NULL)
		return -1;
	if (scram_secret_from_password(password, salt, SCRAM_SALT_LEN,
	    client->pw->cfg->scram_iterations, out) < 0)
		return -1;
	if (*cache == NULL)
		*cache = malloc(sizeof(**cache));
	if (*cache != NULL) {
		**cache = *out;
		memcpy(cached_from, digest, sizeof(digest));
	}
	return 0;
}

/* Send an Authentication request and flush. */
static int
auth_send(struct client *client, uint32_t code, const void *data, size_t len)
{
	proto_build_auth(client->io.out, code, data, len);
	return client_flush(client);
}

/* Start a SCRAM exchange (real or mock). */
static void
auth_start_scram(struct client *client)
{
	struct auth_state *a = client->auth;
	struct scram_secret secret;
	uint8_t cbind[SCRAM_CBIND_MAX];
	size_t cbind_len = 0;
	char mechs[SCRAM_MECHANISMS_MAX];
	size_t n;

	if (client->io.ssl != NULL &&
	    tls_end_point_hash(client->io.ssl, true, cbind, &cbind_len) < 0)
		cbind_len = 0;
	if (!a->mock && is_scram_secret(a->secret)) {
		if (scram_parse_secret(a->secret, &secret) < 0)
			a->mock = true;
	} else if (!a->mock && !is_md5_secret(a->secret)) {
		/* a plaintext password: the secret PostgreSQL would keep */
		if (scram_build_secret_cached(client, &secret) < 0)
			a->mock = true;
	} else {
		/* SCRAM cannot check an MD5 secret; fail like a bad password */
		if (!a->mock)
			client_log(client, LOG_LVL_LOG, "user has an MD5 "
			    "secret; SCRAM needs a plaintext or SCRAM secret");
		a->mock = true;
	}
	if (a->mock)
		scram_server_init_mock(&a->scram, login_user(client),
		    client->pw->auth_mock_key);
	else if (scram_server_init(&a->scram, &secret, NULL, 0) < 0) {
		auth_fail_password(client, "SCRAM set-up failed");
		return;
	}
	OPENSSL_cleanse(&secret, sizeof(secret));
	if (cbind_len > 0)
		scram_server_set_cbind(&a->scram, cbind, cbind_len);
	n = scram_server_mechanisms(&a->scram, mechs, sizeof(mechs));
	a->step = AUTH_WAIT_SASL_FIRST;
	auth_send(client, PQAUTH_SASL, mechs, n);
}

/*
 * Under md5, which challenge an unknown user gets.  A known user with a
 * SCRAM secret is asked for SCRAM (MD5 cannot check it), the others for
 * MD5; an unknown user is asked as most known users are, so the kind of
 * challenge does not tell who exists.  With no auth_file to count (users
 * from auth_query), SCRAM: PostgreSQL's default password_encryption.
 */
static bool
mock_prefers_scram(const struct pgweir *pw)
{
	if (pw->auth == NULL || pw->auth->n == 0)
		return true;
	return pw->auth->n_scram * 2 >= pw->auth->n;
}

/* Ask for the password in the way the method and the secret allow. */
static void
auth_challenge(struct client *client)
{
	struct auth_state *a = client->auth;

	switch (a->method) {
	case HBA_PASSWORD:
		a->step = AUTH_WAIT_PASSWORD;
		auth_send(client, PQAUTH_CLEARTEXT, NULL, 0);
		return;
	case HBA_MD5:
		/* a SCRAM secret cannot answer MD5: upgrade, as PostgreSQL */
		if (a->mock ? mock_prefers_scram(client->pw) :
		    is_scram_secret(a->secret)) {
			auth_start_scram(client);
			return;
		}
		if (random_take(&client->pw->random, a->md5_salt,
		    sizeof(a->md5_salt)) < 0) {
			auth_fail_password(client, "no random salt");
			return;
		}
		a->step = AUTH_WAIT_MD5;
		auth_send(client, PQAUTH_MD5, a->md5_salt, 4);
		return;
	case HBA_SCRAM:
		auth_start_scram(client);
		return;
	default:
		auth_fail_password(client, "no password method");
		return;
	}
}

/*
 * Take the user's secret for this login.  An empty one is no password at
 * all (PostgreSQL stores none for an empty password): the user can only
 * fail, exactly like an unknown one.
 */
static void
auth_take_secret(struct client *client, const char *secret)
{
	struct auth_state *a = client->auth;

	if (secret == NULL || secret[0] == '\0') {
		if (secret != NULL)
			client_log(client, LOG_LVL_LOG, "user has an empty "
			    "password; password logins are refused");
		a->mock = true;
		return;
	}
	a->secret = strdup(secret);
	if (a->secret == NULL)
		a->mock = true;
}

/*
 * The user is known (found is true) or not: go on.  Trust lets a known
 * user in whatever its secret (none, for a role without a password); the
 * password methods ask for the password, an unknown user included.
 */
static void
auth_proceed(struct client *client, bool found, const char *secret,
    const char *unknown_msg)
{
	struct auth_state *a = client->auth;

	if (a->method == HBA_TRUST) {
		if (found)
			auth_succeed(client);
		else
			auth_fail_trust(client, unknown_msg);
		return;
	}
	if (found)
		auth_take_secret(client, secret);
	else
		a->mock = true;
	auth_challenge(client);
}

/* auth_query answered: go on with the secret, or as an unknown user. */
static void
auth_query_done(void *arg, enum authquery_status st, const char *secret,
    const char *errmsg)
{
	struct client *client = arg;
	struct auth_state *a = client->auth;

	a->aq = NULL;
	if (st == AQ_ERROR) {
		client_log(client, LOG_LVL_WARNING, "%s",
		    errmsg ? errmsg : "auth_query failed");
		auth_fail_config(client);
		return;
	}
	if (st == AQ_NOT_FOUND)
		client_log(client, LOG_LVL_LOG, "no such user: %s",
		    login_user(client));
	auth_proceed(client, st == AQ_FOUND, secret, "no such user");
}

/* Append key='value' to a libpq connection string, quoted as libpq wants. */
static size_t
conninfo_add(char *out, size_t len, size_t o, const char *key,
    const char *value)
{
	if (value == NULL || o >= len)
		return o;
	o += (size_t)snprintf(out + o, len - o, "%s%s='", o ? " " : "", key);
	for (const char *p = value; *p && o + 3 < len; p++) {
		if (*p == '\'' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	if (o + 2 < len) {
		out[o++] = '\'';
		out[o] = '\0';
	}
	return o;
}

/* What auth_find_authdb decided. */
enum authdb_result {
	AUTHDB_FOUND,		/* run auth_query there */
	AUTHDB_NONE,		/* nothing to ask: an unknown user */
	AUTHDB_CLOSED,		/* a config error closed the client */
};

/*
 * The database entry auth_query runs in: the login database's
 * auth_dbname, else the global one, else the login database itself.
 * The console cannot serve (it has no PostgreSQL behind it); a named
 * database that is not configured (nor made by "*") or is disabled stops
 * the login, as in PgBouncer.  Only logins that need auth_query get here.
 */
static enum authdb_result
auth_find_authdb(struct client *client, const struct db_conf **confp,
    const char **dbnamep)
{
	struct pgweir *pw = client->pw;
	const struct db_conf *conf = client->login->conf;
	const char *dbname = conf && conf->auth_dbname ? conf->auth_dbname :
	    pw->cfg->auth_dbname[0] ? pw->cfg->auth_dbname : NULL;
	struct database *authdb;
	char msg[200];

	*dbnamep = dbname;
	*confp = conf;
	if (dbname == NULL)
		return conf != NULL ? AUTHDB_FOUND : AUTHDB_NONE;
	if (pgweir_is_console_db(pw, dbname)) {
		/* the config checks refuse this; an alias may have changed */
		client_log(client, LOG_LVL_ERROR, "cannot use the reserved "
		    "\"%s\" database as an auth_dbname", dbname);
		auth_fail_config(client);
		return AUTHDB_CLOSED;
	}
	authdb = pool_find_database(pw, dbname);
	if (authdb == NULL) {
		client_log(client, LOG_LVL_ERROR, "authentication database "
		    "\"%s\" is not configured", dbname);
		auth_fail_config(client);
		return AUTHDB_CLOSED;
	}
	if (authdb->disabled) {
		snprintf(msg, sizeof(msg), "authentication database "
		    "\"%.63s\" is disabled", dbname);
		auth_free(client);
		client_close_error(client, SQLSTATE_CANNOT_CONNECT_NOW, msg);
		return AUTHDB_CLOSED;
	}
	*confp = authdb->conf;
	return AUTHDB_FOUND;
}

/*
 * auth_query's connection goes to PostgreSQL like a server connection, so
 * the server_tls_* settings apply to it too (CloudNativePG's hba, say,
 * only lets TLS in).  Without server_tls_cert_file no client certificate
 * is sent: libpq would otherwise read ~/.postgresql/postgresql.crt of
 * whatever HOME pgweir inherited, and fail when it may not read it (it
 * goes on without one when the path does not exist).
 */
static size_t
auth_query_tls(const struct config *cfg, char *out, size_t len, size_t o)
{
	static const char no_cert[] = "/dev/null/pgweir-sends-no-certificate";
	const struct config_option *mode =
	    config_find_option("server_tls_sslmode");

	o = conninfo_add(out, len, o, "sslmode",
	    mode->choices[cfg->server_tls_sslmode]);
	if (cfg->server_tls_ca_file && cfg->server_tls_ca_file[0])
		o = conninfo_add(out, len, o, "sslrootcert",
		    cfg->server_tls_ca_file);
	if (cfg->server_tls_cert_file && cfg->server_tls_cert_file[0]) {
		o = conninfo_add(out, len, o, "sslcert",
		    cfg->server_tls_cert_file);
		o = conninfo_add(out, len, o, "sslkey",
		    cfg->server_tls_key_file);
	} else {
		o = conninfo_add(out, len, o, "sslcert", no_cert);
	}
	return o;
}

/* The libpq connection string auth_query uses for this login. */
static int
auth_query_conninfo(struct client *client, const struct db_conf *conf,
    const char *dbname, const char *auth_user, char *out, size_t len)
{
	struct pgweir *pw = client->pw;
	const struct authfile_entry *e = authfile_find(pw->auth, auth_user);
	const char *password = NULL;
	char host[512], port[16];
	size_t o = 0;

	if (conf->host == NULL || conf->host[0] == '\0')
		snprintf(host, sizeof(host), "%s", pw->cfg->unix_socket_dir);
	else
		snprintf(host, sizeof(host), "%s", conf->host);
	if (e != NULL && !is_md5_secret(e->secret) &&
	    !is_scram_secret(e->secret))
		password = e->secret;
	else if (conf->user && strcmp(conf->user, auth_user) == 0)
		password = conf->password;
	snprintf(port, sizeof(port), "%d", conf->port);
	out[0] = '\0';
	o = conninfo_add(out, len, o, "host", host);
	o = conninfo_add(out, len, o, "port", port);
	o = conninfo_add(out, len, o, "dbname", conf->dbname ? conf->dbname :
	    dbname ? dbname : client->login->database);
	o = conninfo_add(out, len, o, "user", auth_user);
	o = conninfo_add(out, len, o, "password", password);
	o = conninfo_add(out, len, o, "application_name", "pgweir auth_query");
	if (host[0] != '/' && host[0] != '@')
		o = auth_query_tls(pw->cfg, out, len, o);
	return o + 2 >= len ? -1 : 0;
}

/* The auth_user of this login, or NULL when auth_query is not in use. */
static const char *
auth_user_of(const struct client *client)
{
	const struct db_conf *conf = client->login->conf;
	const char *auth_user = conf && conf->auth_user ? conf->auth_user :
	    client->pw->cfg->auth_user;

	return auth_user != NULL && auth_user[0] != '\0' ? auth_user : NULL;
}

/*
 * Find the user's secret: auth_file, else auth_query, else none (an
 * unknown user: a mock exchange, or under trust a refusal).
 */
static void
auth_find_secret(struct client *client)
{
	struct pgweir *pw = client->pw;
	struct auth_state *a = client->auth;
	const struct authfile_entry *e = authfile_find(pw->auth,
	    login_user(client));
	const struct db_conf *conf = client->login->conf;
	const char *auth_user = auth_user_of(client), *dbname;
	const char *query = conf && conf->auth_query ? conf->auth_query :
	    pw->cfg->auth_query;
	enum authquery_status st;
	char conninfo[1024], secret[SCRAM_SECRET_TEXT_MAX];

	if (e != NULL) {
		auth_proceed(client, true, e->secret, NULL);
		return;
	}
	/*
	 * A name that is not UTF-8 cannot be a role: answer as for an unknown
	 * user, without asking PostgreSQL (which would fail the query, and
	 * errors are not cached).
	 */
	if (!proto_is_valid_utf8(login_user(client),
	    strlen(login_user(client))) || auth_user == NULL) {
		auth_proceed(client, false, NULL,
		    "\"trust\" authentication failed");
		return;
	}
	switch (auth_find_authdb(client, &conf, &dbname)) {
	case AUTHDB_CLOSED:
		return;
	case AUTHDB_NONE:
		auth_proceed(client, false, NULL,
		    "\"trust\" authentication failed");
		return;
	case AUTHDB_FOUND:
		break;
	}
	if (auth_query_conninfo(client, conf, dbname, auth_user, conninfo,
	    sizeof(conninfo)) < 0) {
		OPENSSL_cleanse(conninfo, sizeof(conninfo));
		auth_proceed(client, false, NULL,
		    "\"trust\" authentication failed");
		return;
	}
	a->step = AUTH_WAIT_SECRET;
	a->aq = authquery_lookup(pw->authquery, conninfo, query,
	    login_user(client), auth_query_done, client, &st, secret,
	    sizeof(secret));
	OPENSSL_cleanse(conninfo, sizeof(conninfo));
	if (a->aq == NULL)
		auth_query_done(client, st, secret, "auth_query failed");
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* The hba connection type of a client. */
static enum hba_conn
auth_conn_type(const struct client *client)
{
	if (client->addr.family == AF_UNIX)
		return HBA_CONN_LOCAL;
	return client->io.ssl ? HBA_CONN_HOST_SSL : HBA_CONN_HOST_NOSSL;
}

/*
 * Whether a client proven to be system_user may log in as the user it
 * names: the same name, or, with a map= option, a line of that map in the
 * auth_ident_file.
 */
static bool
auth_name_maps(const struct client *client, const char *map,
    const char *system_user)
{
	if (map == NULL)
		return strcmp(system_user, login_user(client)) == 0;
	return ident_allows(client->pw->ident, map, system_user,
	    login_user(client));
}

/* Peer authentication: the unix socket's peer must be the named user. */
static void
auth_peer(struct client *client, const char *map)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct passwd pwd, *res = NULL;
	char buf[1024], msg[160];

	if (client->addr.family == AF_UNIX &&
	    getsockopt(client->io.fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == 0 &&
	    getpwuid_r(cred.uid, &pwd, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && auth_name_maps(client, map, res->pw_name)) {
		auth_succeed(client);
		return;
	}
	snprintf(msg, sizeof(msg), "Peer authentication failed for user "
	    "\"%.63s\"", login_user(client));
	auth_free(client);
	client_close_error(client, SQLSTATE_INVALID_AUTHORIZATION, msg);
}

/* Cert authentication: a verified client certificate naming the user. */
static void
auth_cert(struct client *client, const char *map)
{
	char cn[256], msg[160];
	const char *why = NULL;

	if (client->io.ssl != NULL &&
	    tls_peer_common_name(client->io.ssl, cn, sizeof(cn), &why) == 0 &&
	    auth_name_maps(client, map, cn)) {
		auth_succeed(client);
		return;
	}
	if (why != NULL) {
		/* a name that cannot be compared whole is refused outright */
		auth_free(client);
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION, why);
		return;
	}
	snprintf(msg, sizeof(msg), "certificate authentication failed for "
	    "user \"%.63s\"", login_user(client));
	auth_free(client);
	client_close_error(client, SQLSTATE_INVALID_AUTHORIZATION, msg);
}

/* A socket address for hba matching, from the compact peer address. */
static const struct sockaddr *
client_sockaddr(const struct client *client, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (client->addr.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, client->addr.ip.v4, 4);
		return (struct sockaddr *)ss;
	}
	if (client->addr.family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, client->addr.ip.v6, 16);
		return (struct sockaddr *)ss;
	}
	return NULL;
}

/*
 * auth_type = ldap: auth_ldap_options are the options of an ldap rule
 * that matches every client; read by the hba parser, so that they mean
 * what they mean on an ldap line.  The rule (pw->ldap_rule) lives until
 * the next login: its options are copied before that.
 */
static bool
auth_global_ldap(struct client *client, enum hba_method *method,
    const char **map)
{
	struct pgweir *pw = client->pw;
	char text[2048], err[300] = "no options";

	hba_free(pw->ldap_rule);
	snprintf(text, sizeof(text), "local all all ldap %s\n",
	    pw->cfg->auth_ldap_options);
	pw->ldap_rule = hba_parse(text, "auth_ldap_options", NULL, err,
	    sizeof(err));
	if (pw->ldap_rule == NULL || hba_match(pw->ldap_rule, HBA_CONN_LOCAL,
	    "x", "x", NULL, method, map) < 0) {
		log_error("auth_ldap_options: %s", err);
		auth_fail_config(client);
		return false;
	}
	return true;
}

/* Pick the method for this login; false when the login is refused. */
static bool
auth_pick_method(struct client *client, enum hba_method *method,
    const char **map)
{
	struct pgweir *pw = client->pw;
	struct sockaddr_storage ss;
	char msg[300], addr[64];
	int rc;

	switch (pw->cfg->auth_type) {
	case AUTH_ANY:
	case AUTH_TRUST:
		*method = HBA_TRUST;
		return true;
	case AUTH_PLAIN:
		*method = HBA_PASSWORD;
		return true;
	case AUTH_MD5:
		*method = HBA_MD5;
		return true;
	case AUTH_SCRAM:
		*method = HBA_SCRAM;
		return true;
	case AUTH_CERT:
		*method = HBA_CERT;
		return true;
	case AUTH_PAM:
		*method = HBA_PASSWORD;	/* a cleartext password, for PAM */
		return true;
	case AUTH_LDAP:
		return auth_global_ldap(client, method, map);
	case AUTH_HBA:
		break;
	}
	rc = pw->hba ? hba_match(pw->hba, auth_conn_type(client),
	    client->login->database, login_user(client),
	    client_sockaddr(client, &ss), method, map) : -1;
	if (rc == 0 && *method != HBA_REJECT)
		return true;
	peer_addr_format(&client->addr, addr, sizeof(addr));
	snprintf(msg, sizeof(msg), "%s for host \"%s\", user \"%.63s\", "
	    "database \"%.63s\", %s", rc < 0 ? "no auth_hba_file entry" :
	    "auth_hba_file rejects connection", addr, login_user(client),
	    client->login->database, client->io.ssl ? "SSL encryption" :
	    "no encryption");
	client_close_error(client, SQLSTATE_INVALID_AUTHORIZATION, msg);
	return false;
}

static void auth_start(struct client *client);
static void auth_handle_input(struct client *client);

static const struct login_ops login_ops = {
	.start = auth_start,
	.input = auth_handle_input,
	.free = auth_free,
};

/* Make this the login handler of every client. */
void
auth_register(struct pgweir *pw)
{
	pw->login = &login_ops;
}

/*
 * Authenticate a client whose startup packet named its database and user.
 * Ends in pool_client_login(), or closes the client; may return before
 * that, waiting for the client's answers or for auth_query.
 */
static void
auth_start(struct client *client)
{
	struct pgweir *pw = client->pw;
	enum hba_method method;
	const char *map = NULL;	/* the rule's map=, valid during this call */

	if (client->login->admin && sockopt_peer_is_self(client->io.fd,
	    client->addr.family)) {
		/* pgweir's own account on the unix socket */
		client->login->trusted_peer = true;
		auth_succeed(client);
		return;
	}
	if (!auth_pick_method(client, &method, &map))
		return;
	switch (method) {
	case HBA_TRUST:
		/*
		 * Trust still needs a user pgweir knows, when it has a list
		 * to know them by: the auth_file, or auth_query.  The
		 * console decides its rights itself; "any" ignores the name.
		 */
		if (client->login->admin || pw->cfg->auth_type == AUTH_ANY ||
		    (pw->auth == NULL && auth_user_of(client) == NULL)) {
			auth_succeed(client);
			return;
		}
		break;
	case HBA_REJECT:
		return;		/* auth_pick_method refused it */
	case HBA_PEER:
	case HBA_CERT:
	case HBA_LDAP:
	case HBA_PASSWORD:
	case HBA_MD5:
	case HBA_SCRAM:
		break;
	}
	client->auth = calloc(1, sizeof(*client->auth));
	if (client->auth == NULL) {
		client_close(client, "out of memory");
		return;
	}
	client->auth->method = method;
	if ((pw->cfg->auth_type == AUTH_PAM && !client->login->admin) ||
	    method == HBA_LDAP) {
		/* PAM or LDAP, not the auth_file, knows the users */
		client->auth->external = true;
		if (method == HBA_LDAP && (map == NULL ||
		    (client->auth->ldap_options = strdup(map)) == NULL)) {
			auth_fail_config(client);
			return;
		}
		client->auth->step = AUTH_WAIT_PASSWORD;
		auth_send(client, PQAUTH_CLEARTEXT, NULL, 0);
		return;
	}
	if (method == HBA_PEER)
		auth_peer(client, map);
	else if (method == HBA_CERT)
		auth_cert(client, map);
	else
		auth_find_secret(client);
}

/* Check a cleartext password against the secret, whatever its kind. */
static bool
check_cleartext(struct client *client, const char *password)
{
	struct auth_state *a = client->auth;
	char md5[PGMD5_LEN];
	struct scram_secret stored;
	bool ok = false;

	if (a->mock || password[0] == '\0') {
		/* the same work as for a real user with an md5 secret */
		pgmd5_hash(password, login_user(client), md5);
		secret_equal(md5, "md5-never-matches");
		return false;
	}
	if (is_md5_secret(a->secret)) {
		ok = pgmd5_hash(password, login_user(client), md5) == 0 &&
		    secret_equal(md5, a->secret);
	} else if (is_scram_secret(a->secret)) {
		uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
		uint8_t hk[EVP_MAX_MD_SIZE];
		unsigned int hlen = 0;

		ok = scram_parse_secret(a->secret, &stored) == 0 &&
		    scram_salted_keys(password, strlen(password), stored.salt,
		    stored.salt_len, stored.iterations, ck, sk) == 0 &&
		    EVP_Digest(ck, sizeof(ck), hk, &hlen, EVP_sha256(),
		    NULL) == 1 && hlen == SCRAM_KEY_LEN &&
		    CRYPTO_memcmp(hk, stored.stored_key, SCRAM_KEY_LEN) == 0 &&
		    CRYPTO_memcmp(sk, stored.server_key, SCRAM_KEY_LEN) == 0;
		/* the password gives the ClientKey: pass-through works too */
		if (ok)
			auth_keep_scram_keys(client, ck, sk);
		OPENSSL_cleanse(ck, sizeof(ck));
		OPENSSL_cleanse(sk, sizeof(sk));
		OPENSSL_cleanse(&stored, sizeof(stored));
	} else {
		ok = secret_equal(password, a->secret);
	}
	OPENSSL_cleanse(md5, sizeof(md5));
	return ok;
}

/* Check an MD5 answer against the secret. */
static bool
check_md5(struct client *client, const char *answer)
{
	struct auth_state *a = client->auth;
	char stored[PGMD5_LEN], expect[PGMD5_LEN];
	bool ok;

	if (a->mock || is_scram_secret(a->secret)) {
		snprintf(stored, sizeof(stored), "md5%032d", 0);
	} else if (is_md5_secret(a->secret)) {
		snprintf(stored, sizeof(stored), "%s", a->secret);
	} else if (pgmd5_hash(a->secret, login_user(client), stored) < 0) {
		return false;
	}
	ok = pgmd5_salted(stored, a->md5_salt, expect) == 0 &&
	    secret_equal(answer, expect) && !a->mock;
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(expect, sizeof(expect));
	return ok;
}

/* PAM's or LDAP's answer, on the loop. */
static void
auth_check_done(void *arg, bool ok, const char *why)
{
	struct client *client = arg;

	client->auth->check = NULL;
	if (!ok) {
		OPENSSL_cleanse(client->login->checked_password,
		    strlen(client->login->checked_password));
		free(client->login->checked_password);
		client->login->checked_password = NULL;
		auth_fail_password(client, why);
		return;
	}
	auth_succeed(client);
}

/*
 * auth_type = pam, or an ldap rule: hand the password to a worker thread
 * (authwork.c); the login goes on in auth_check_done.  The password is
 * kept: it logs in to PostgreSQL as that user too.
 */
static void
auth_start_check(struct client *client, const char *password)
{
	struct pgweir *pw = client->pw;
	struct auth_state *a = client->auth;
	const char *opts = a->ldap_options;
	void *job;

	if (pw->authwork == NULL)
		pw->authwork = authwork_new(pw->base);
	client->login->checked_password = strdup(password);
	job = authjob_new(login_user(client), password, opts,
	    opts ? strlen(opts) + 1 : 0);
	if (pw->authwork == NULL || client->login->checked_password == NULL ||
	    job == NULL) {
		authjob_free(job);
		auth_fail_config(client);
		return;
	}
	a->step = AUTH_WAIT_CHECK;
	a->check = authwork_submit(pw->authwork, opts ? authldap_run :
	    authpam_run, job, authjob_free, auth_check_done, client);
	if (a->check == NULL)
		client_close(client, "out of memory");
}

/* One PasswordMessage / SASLInitialResponse / SASLResponse. */
static void
auth_on_password(struct client *client, char *body, size_t len)
{
	struct auth_state *a = client->auth;
	char out[SCRAM_OUT_MAX], err[200];
	size_t outn = 0;

	switch (a->step) {
	case AUTH_WAIT_PASSWORD:
	case AUTH_WAIT_MD5:
		if (len == 0 || body[len - 1] != '\0' ||
		    strlen(body) != len - 1) {
			auth_fail_password(client, "malformed password "
			    "message");
			return;
		}
		if (a->step == AUTH_WAIT_PASSWORD && a->external) {
			auth_start_check(client, body);
			return;
		}
		if (a->step == AUTH_WAIT_PASSWORD ? check_cleartext(client,
		    body) : check_md5(client, body))
			auth_succeed(client);
		else
			auth_fail_password(client, a->mock ? "no such user" :
			    "wrong password");
		return;
	case AUTH_WAIT_SASL_FIRST: {
		const char *mech = body;
		const char *nul = memchr(body, '\0', len);
		size_t mlen, dlen;
		uint32_t declared;

		if (nul == NULL || (size_t)(nul - body) + 5 > len) {
			auth_fail_password(client, "malformed "
			    "SASLInitialResponse");
			return;
		}
		mlen = (size_t)(nul - body) + 1;
		declared = proto_get_u32(body + mlen);
		dlen = len - mlen - 4;
		if (declared == 0xffffffffu || declared != dlen) {
			auth_fail_password(client, "malformed "
			    "SASLInitialResponse");
			return;
		}
		if (scram_server_client_first(&a->scram, mech, body + mlen + 4,
		    dlen, out, sizeof(out), &outn, err, sizeof(err)) < 0) {
			auth_fail_password(client, err);
			return;
		}
		a->step = AUTH_WAIT_SASL_FINAL;
		auth_send(client, PQAUTH_SASL_CONTINUE, out, outn);
		return;
	}
	case AUTH_WAIT_SASL_FINAL:
		if (scram_server_client_final(&a->scram, body, len, out,
		    sizeof(out), &outn, err, sizeof(err)) < 0 || a->mock) {
			auth_fail_password(client, a->mock ? "no such user" :
			    err);
			return;
		}
		/* keep the ClientKey: it can log in to PostgreSQL for us */
		if (a->scram.have_client_key)
			auth_keep_scram_keys(client, a->scram.client_key,
			    a->scram.secret.server_key);
		proto_build_auth(client->io.out, PQAUTH_SASL_FINAL, out, outn);
		auth_succeed(client);
		return;
	case AUTH_WAIT_SECRET:
	case AUTH_WAIT_CHECK:
		break;
	}
	client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
	    "unexpected password message");
}

/*
 * Input from a client in authentication: PasswordMessage-type messages
 * only ('p'); anything else is a protocol violation.
 */
static void
auth_handle_input(struct client *client)
{
	struct evbuffer *in = client->io.in;

	while (client->auth != NULL && client->state == CL_LOGIN) {
		struct pq_header hdr;
		size_t total;
		char *msg;
		int rc = proto_peek_header(in, 0, &hdr);

		if (rc == 0)
			return;
		if (rc < 0 || hdr.type != PQMSG_PASSWORD ||
		    hdr.len > AUTH_MSG_MAX) {
			auth_free(client);
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "expected a password message during "
			    "authentication");
			return;
		}
		total = 1 + (size_t)hdr.len;
		if (evbuffer_get_length(in) < total)
			return;
		if (client->auth->step == AUTH_WAIT_SECRET) {
			auth_free(client);
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "password message before the server asked");
			return;
		}
		msg = malloc(total + 1);
		if (msg == NULL) {
			client_close(client, "out of memory");
			return;
		}
		evbuffer_remove(in, msg, total);
		msg[total] = '\0';
		auth_on_password(client, msg + PQ_HEADER_LEN,
		    total - PQ_HEADER_LEN);
		OPENSSL_cleanse(msg, total);
		free(msg);
	}
}
