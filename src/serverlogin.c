/* SPDX-License-Identifier: ISC */
/*
 * A server connection's login: the StartupMessage (the database's
 * settings and the values of the client it is opened for), answering
 * PostgreSQL's authentication request (cleartext, MD5, SCRAM-SHA-256 with
 * the password pgweir holds or the keys a client of the same user proved,
 * -PLUS over TLS), the login's ParameterStatus and cancel key, the
 * database's connect_query, and the first ReadyForQuery that hands the
 * server to its pool.  Connecting, TLS and everything after the login are
 * server.c's.
 */
#include "config.h"

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/authfile.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pgmd5.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/scram.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"
#include "pgweir/tls.h"

/* Longest message accepted from a server during login. */
#define LOGIN_MSG_MAX (64 * 1024)

/* Send a StartupMessage with these parameters and wait for the answer. */
static void
server_write_startup(struct server *server, const struct pq_param *params,
    int n)
{
	if (proto_build_startup(server->io.out, params, n) < 0) {
		server_close(server, "out of memory");
		return;
	}
	server->startup_sent = true;
	io_set_read(&server->io, true);
	server_flush(server);
}

/*
 * The StartupMessage of a replication client's own server: user and
 * database as for any server, the replication mode, and the client's own
 * parameters as it sent them (PostgreSQL judges them, not pgweir).
 */
static void
server_send_replication_startup(struct server *server,
    struct pq_param *base, int n)
{
	const struct client *client = server->repl_client;
	struct pq_param params[4 + PQ_STARTUP_PARAMS_MAX];
	const char *p = client->repl_params;
	const char *end = p + client->repl_params_len;

	memcpy(params, base, (size_t)n * sizeof(*params));
	params[n++] = (struct pq_param){ "replication",
		server->replication == PQ_REPL_LOGICAL ? "database" : "true" };
	while (p < end && n < (int)(sizeof(params) / sizeof(params[0]))) {
		const char *name = p, *value = p + strlen(p) + 1;
		params[n++] = (struct pq_param){ name, value };
		p = value + strlen(value) + 1;
	}
	server_write_startup(server, params, n);
}

/*
 * PostgreSQL refused a replication client's server (no REPLICATION role,
 * no pg_hba.conf line for replication): that client alone gets
 * PostgreSQL's error; both close with PgBouncer's "login failed".
 */
static void
server_replication_refused(struct server *server,
    const struct pq_error_fields *f)
{
	struct client *client = server->repl_client;
	char msg[512];

	server->repl_client = NULL;
	client->repl_server = NULL;
	/* PgBouncer's words first, for scripts; then PostgreSQL's reason */
	snprintf(msg, sizeof(msg), "login failed: %s", f->message);
	proto_build_error(io_wbuf(&client->io), "FATAL", f->sqlstate ?
	    f->sqlstate : SQLSTATE_CONNECTION_FAILURE, msg, NULL);
	/* the server first: both lines are logged before the client knows */
	server_close(server, "login failed");
	client_close(client, "login failed");
}

/* Send the StartupMessage once the TCP or unix connection is up. */
void
server_send_startup(struct server *server)
{
	const struct db_conf *conf = server->pool->db->conf;
	const struct var_registry *reg = &server->pw->vars;
	const struct varset *own = server->startup_vars;
	const struct varset *deflt = server->pool->defaults;
	struct pq_param params[8 + VAR_MAX];
	int n = 0;

	params[n++] = (struct pq_param){ "user", server->pool->server_user };
	params[n++] = (struct pq_param){ "database",
		conf->dbname ? conf->dbname : server->pool->db->name };
	if (server->repl_client != NULL) {
		server_send_replication_startup(server, params, n);
		return;
	}
	if (conf->application_name)
		params[n++] = (struct pq_param){ "application_name",
			conf->application_name };
	if (conf->client_encoding)
		params[n++] = (struct pq_param){ "client_encoding",
			conf->client_encoding };
	if (conf->datestyle)
		params[n++] = (struct pq_param){ "DateStyle",
			conf->datestyle };
	if (conf->timezone)
		params[n++] = (struct pq_param){ "TimeZone", conf->timezone };
	/*
	 * The values the client this server is opened for gave at its own
	 * login, where they differ from a fresh server's: RESET on this
	 * server then gives that client's values by itself.  Later entries
	 * win over the database's above.
	 */
	for (int i = 0; own != NULL && i < reg->n && deflt != NULL; i++) {
		const char *v = own->vals[i], *d = deflt->vals[i];
		if (v != NULL && (d == NULL || strcmp(v, d) != 0))
			params[n++] = (struct pq_param){ reg->names[i], v };
	}
	server_write_startup(server, params, n);
}

/*
 * Fail a login on authentication: pgweir cannot answer what the server
 * asks, or the server's proof is wrong.  A retry does not mend that, so
 * the clients waiting for the pool get the error as for a refused login.
 */
static void
server_login_fail(struct server *server, const char *sqlstate,
    const char *message)
{
	pool_server_refused(server->pool, sqlstate, message);
	server_close(server, message);
}

/*
 * Fail a login on TLS or on the protocol: PgBouncer treats these as a
 * server that cannot be reached (a certificate may be fixed, a server
 * restarted), so clients keep waiting while pgweir retries; the log
 * says why.
 */
void
server_login_broken(struct server *server, const char *sqlstate,
    const char *message)
{
	server_log(server, LOG_LVL_WARNING, "%s", message);
	server_host_failed(server, sqlstate, message);
	server_close(server, message);
}

/* The secret pgweir holds for the pool's server user, or NULL. */
static const char *
server_secret(struct server *server)
{
	const struct db_conf *conf = server->pool->db->conf;
	const struct authfile_entry *e;

	if (conf->password && conf->user)
		return conf->password;
	e = authfile_find(server->pw->auth, server->pool->server_user);
	if (e != NULL)
		return e->secret;
	/* auth_type = pam: the password the user's client gave */
	if (conf->user == NULL && server->pool->user->checked_password != NULL)
		return server->pool->user->checked_password;
	return NULL;
}

/* Whether a secret is a stored hash rather than a password. */
static bool
is_hashed(const char *secret)
{
	return strncmp(secret, "md5", 3) == 0 ||
	    strncmp(secret, "SCRAM-SHA-256$", 14) == 0;
}

/*
 * Start SCRAM with the server: with the password if pgweir has it, else
 * with the ClientKey a client of the same user proved (pass-through), so
 * that no plaintext password needs to be stored anywhere.  Over TLS,
 * SCRAM-SHA-256-PLUS binds the exchange to the server's certificate.
 */
static int
server_start_scram(struct server *server, const char *body, size_t len)
{
	struct user *user = server->pool->user;
	const char *secret = server_secret(server);
	uint8_t cbind[SCRAM_CBIND_MAX];
	size_t cbind_len = 0, outn = 0;
	char out[SCRAM_OUT_MAX];
	bool has_scram = false, has_plus = false, plus;
	struct evbuffer *msg = server->io.out;
	const char *mech;
	int rc;

	if (scram_parse_mechanisms(body, len, &has_scram, &has_plus) < 0 ||
	    (!has_scram && !has_plus)) {
		server_login_fail(server, SQLSTATE_FEATURE_NOT_SUPPORTED,
		    "none of the server's SASL mechanisms is supported");
		return -1;
	}
	if (server->io.ssl != NULL && tls_end_point_hash(server->io.ssl,
	    false, cbind, &cbind_len) < 0)
		cbind_len = 0;
	plus = has_plus && cbind_len > 0;
	server->scram = calloc(1, sizeof(*server->scram));
	if (server->scram == NULL) {
		server_close(server, "out of memory");
		return -1;
	}
	if (secret != NULL && !is_hashed(secret))
		rc = scram_client_init_password(server->scram, secret, plus,
		    cbind_len ? cbind : NULL, cbind_len);
	else if (user->has_scram_keys &&
	    strcmp(user->name, server->pool->server_user) == 0 &&
	    (secret == NULL || strncmp(secret, "SCRAM-SHA-256$", 14) == 0))
		rc = scram_client_init_keys(server->scram,
		    user->scram_client_key, user->scram_server_key, plus,
		    cbind_len ? cbind : NULL, cbind_len);
	else {
		char m[300];
		/* "wrong password type" is PgBouncer's phrase for this */
		snprintf(m, sizeof(m), "server login failed: wrong password "
		    "type: cannot log in to the server as \"%s\" with SCRAM: "
		    "pgweir has no password for it, and no client of that user "
		    "has logged in with SCRAM yet", server->pool->server_user);
		server_login_fail(server, SQLSTATE_INVALID_PASSWORD, m);
		return -1;
	}
	if (rc < 0 || scram_client_first(server->scram, out, sizeof(out),
	    &outn) < 0) {
		server_login_fail(server, SQLSTATE_INVALID_PASSWORD,
		    "SCRAM set-up failed");
		return -1;
	}
	/* SASLInitialResponse: mechanism, Int32 length, data */
	mech = scram_client_mechanism(server->scram);
	{
		uint8_t hdr[5], n[4];
		size_t total = strlen(mech) + 1 + 4 + outn;
		hdr[0] = PQMSG_PASSWORD;
		proto_put_u32(hdr + 1, (uint32_t)(total + 4));
		proto_put_u32(n, (uint32_t)outn);
		evbuffer_add(msg, hdr, 5);
		evbuffer_add(msg, mech, strlen(mech) + 1);
		evbuffer_add(msg, n, 4);
		evbuffer_add(msg, out, outn);
	}
	OPENSSL_cleanse(out, sizeof(out));
	server->auth_sent = true;
	return server_flush(server);
}

/* Free the SCRAM state of a login. */
void
server_free_scram(struct server *server)
{
	if (server->scram != NULL) {
		scram_client_wipe(server->scram);
		free(server->scram);
		server->scram = NULL;
	}
}

/* Answer an authentication request from the server. */
static int
server_on_Authentication(struct server *server, const uint8_t *body,
    size_t len)
{
	const char *password;
	char md5[PGMD5_LEN], stored[PGMD5_LEN];
	char out[SCRAM_OUT_MAX], err[200];
	size_t outn = 0;
	uint32_t code;

	if (len < 4) {
		server_login_fail(server, SQLSTATE_PROTOCOL_VIOLATION,
		    "invalid authentication request from server");
		return -1;
	}
	code = proto_get_u32(body);
	switch (code) {
	case PQAUTH_OK:
		server_free_scram(server);
		return 0;
	case PQAUTH_SASL:
		return server_start_scram(server, (const char *)body + 4,
		    len - 4);
	case PQAUTH_SASL_CONTINUE:
		if (server->scram == NULL ||
		    scram_client_server_first(server->scram,
		    (const char *)body + 4, len - 4, out, sizeof(out), &outn,
		    err, sizeof(err)) < 0) {
			server_log(server, LOG_LVL_WARNING, "SCRAM: %s",
			    server->scram ? err : "no exchange");
			server_login_fail(server, SQLSTATE_INVALID_PASSWORD,
			    "SCRAM authentication with the server failed");
			return -1;
		}
		proto_build_password(server->io.out, out, outn);
		OPENSSL_cleanse(out, sizeof(out));
		return server_flush(server);
	case PQAUTH_SASL_FINAL:
		if (server->scram == NULL ||
		    scram_client_server_final(server->scram,
		    (const char *)body + 4, len - 4, err, sizeof(err)) < 0) {
			server_log(server, LOG_LVL_WARNING, "SCRAM: %s",
			    server->scram ? err : "no exchange");
			server_login_fail(server, SQLSTATE_INVALID_PASSWORD,
			    "the server's SCRAM signature does not verify");
			return -1;
		}
		return 0;
	}
	password = server_secret(server);
	if (password == NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "server asks for a password for "
		    "user \"%s\", but pgweir has none (set password= in "
		    "[databases] or add the user to auth_file)",
		    server->pool->server_user);
		server_login_fail(server, SQLSTATE_INVALID_PASSWORD, msg);
		return -1;
	}
	switch (code) {
	case PQAUTH_CLEARTEXT:
		if (is_hashed(password)) {
			server_login_fail(server, SQLSTATE_INVALID_PASSWORD,
			    "server asks for a cleartext password, but pgweir "
			    "only has a hashed secret");
			return -1;
		}
		proto_build_password(server->io.out, password,
		    strlen(password) + 1);
		break;
	case PQAUTH_MD5:
		if (len < 8)
			goto bad;
		if (strncmp(password, "md5", 3) == 0 &&
		    strlen(password) == PGMD5_LEN - 1)
			snprintf(stored, sizeof(stored), "%s", password);
		else if (is_hashed(password) || pgmd5_hash(password,
		    server->pool->server_user, stored) < 0)
			goto unsupported;
		if (pgmd5_salted(stored, body + 4, md5) < 0)
			goto bad;
		proto_build_password(server->io.out, md5, strlen(md5) + 1);
		OPENSSL_cleanse(md5, sizeof(md5));
		OPENSSL_cleanse(stored, sizeof(stored));
		break;
	default:
		goto unsupported;
	}
	server->auth_sent = true;
	return server_flush(server);
bad:
	server_login_fail(server, SQLSTATE_PROTOCOL_VIOLATION,
	    "invalid authentication request from server");
	return -1;
unsupported:
	{
		char msg[160];
		snprintf(msg, sizeof(msg), "server requested an authentication "
		    "method pgweir cannot answer with the secret it has (code "
		    "%u)", code);
		server_login_fail(server, SQLSTATE_FEATURE_NOT_SUPPORTED, msg);
	}
	return -1;
}

/* Remember a ParameterStatus from login. */
static int
server_keep_login_param(struct server *server, const char *name,
    const char *value)
{
	struct welcome_param *grown;
	int idx;

	grown = realloc(server->login_params,
	    (size_t)(server->n_login_params + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	server->login_params = grown;
	grown[server->n_login_params].name = strdup(name);
	grown[server->n_login_params].value = strdup(value);
	server->n_login_params++;
	idx = var_register(&server->pw->vars, name);
	if (idx >= 0) {
		struct varset *vs = varset_with(&server->pw->vars,
		    server->vars, idx, value);
		if (vs == NULL)
			return -1;
		varset_release(&server->pw->vars, server->vars);
		server->vars = vs;
	}
	return 0;
}

/* Free the login parameter list. */
void
server_free_login_params(struct server *server)
{
	for (int i = 0; i < server->n_login_params; i++) {
		free(server->login_params[i].name);
		free(server->login_params[i].value);
	}
	free(server->login_params);
	server->login_params = NULL;
	server->n_login_params = 0;
}

/*
 * An answer to connect_query, which runs after the login and before the
 * server serves anyone (its ParameterStatus and ReadyForQuery are
 * handled as the login's).  Its rows are not wanted; an error is logged
 * and otherwise ignored, as PgBouncer does.  True if consumed.
 */
static bool
server_connect_query_answer(struct server *server, uint8_t type,
    const char *body, size_t len)
{
	struct pq_error_fields f;

	if (type == PQMSG_PARAMETER_STATUS || type == PQMSG_READY_FOR_QUERY)
		return false;
	if (type == PQMSG_ERROR_RESPONSE)
		server_log(server, LOG_LVL_WARNING, "connect_query failed: "
		    "%.255s", proto_parse_error(body, len, &f) == 0 &&
		    f.message ? f.message : "?");
	return true;
}

/* A ParameterStatus value of the login, or NULL if the server sent none. */
static const char *
login_param(const struct server *server, const char *name)
{
	for (int i = 0; i < server->n_login_params; i++)
		if (strcmp(server->login_params[i].name, name) == 0)
			return server->login_params[i].value;
	return NULL;
}

/*
 * For a server that does not report in_hot_standby (PostgreSQL 13 and
 * older) when the database has target_session_attrs: one query that says
 * both what libpq would ask (pg_is_in_recovery() for primary/standby,
 * transaction_read_only for read-write/read-only).
 */
#define ROLE_PROBE "SELECT pg_catalog.pg_is_in_recovery(), " \
	"pg_catalog.current_setting('transaction_read_only')"

/* The role probe's DataRow: two text columns, "t"/"f" and "on"/"off". */
static void
role_probe_row(struct server *server, const char *body, size_t len)
{
	const char *col[2] = { NULL, NULL };
	size_t off = 2, clen[2] = { 0, 0 };

	if (len < 2 || (((uint8_t)body[0] << 8) | (uint8_t)body[1]) != 2)
		return;
	for (int i = 0; i < 2; i++) {
		uint32_t n;
		if (off + 4 > len)
			return;
		n = proto_get_u32(body + off);
		off += 4;
		if (n == UINT32_MAX || n > len - off)
			return;
		col[i] = body + off;
		clen[i] = n;
		off += n;
	}
	server->probed_hot_standby = clen[0] == 1 && col[0][0] == 't' ?
	    "on" : "off";
	server->probed_read_only = clen[1] == 2 && memcmp(col[1], "on", 2) ==
	    0 ? "on" : "off";
}

/*
 * An answer to the role probe.  An error leaves the role unknown (the
 * server then serves only target_session_attrs = any and, as a last
 * resort, prefer-standby).  True if consumed.
 */
static bool
role_probe_answer(struct server *server, uint8_t type, const char *body,
    size_t len)
{
	struct pq_error_fields f;

	switch (type) {
	case PQMSG_PARAMETER_STATUS:
	case PQMSG_READY_FOR_QUERY:
		return false;
	case PQMSG_DATA_ROW:
		role_probe_row(server, body, len);
		return true;
	case PQMSG_ERROR_RESPONSE:
		server_log(server, LOG_LVL_WARNING, "could not tell whether "
		    "the server is a standby: %.255s", proto_parse_error(body,
		    len, &f) == 0 && f.message ? f.message : "?");
		return true;
	default:
		return true;
	}
}


/*
 * A server's login is done: whether it serves its database's
 * target_session_attrs.  If not, it is closed and the next launch goes to
 * the next host worth a try; when none is, the pool looks again soon
 * (pool_server_misfit), and prefer-standby takes what it has.
 */
static bool
fits_target(struct server *server, const char *in_hot_standby,
    const char *default_transaction_read_only)
{
	struct database *db = server->pool->db;
	enum target_attrs ta = db->conf->target_session_attrs;
	enum host_role role = targetattrs_role_of(in_hot_standby,
	    default_transaction_read_only);
	char msg[256];
	bool others;

	server->login_read_only = default_transaction_read_only != NULL &&
	    strcmp(default_transaction_read_only, "on") == 0;
	server_note_role(server, role);
	others = serverhost_some_worth_trying(db);
	if (targetattrs_accepts(ta, role, !others))
		return true;
	snprintf(msg, sizeof(msg), "server is %s%s, not what "
	    "target_session_attrs=%s asks for", targetattrs_role_name(role),
	    in_hot_standby ? "" : " (it does not report in_hot_standby: "
	    "PostgreSQL 13 or older)", targetattrs_name(ta));
	server_log(server, LOG_LVL_LOG, "%s: %s", msg, others ?
	    "trying the next host" : "no host fits now, trying again soon");
	if (!others)
		pool_server_misfit(server->pool, msg);
	server_close(server, "server does not fit target_session_attrs");
	return false;
}

/*
 * Whether the server may serve its database's target_session_attrs:
 * decided from the login's in_hot_standby (PostgreSQL 14 and later), or,
 * for an older server, from the role probe run first.  1: go on with the
 * login; 0: the probe went out (its ReadyForQuery comes back here); -1:
 * the server was closed.
 */
static int
login_check_role(struct server *server)
{
	const char *hot_standby, *read_only;

	if (server->repl_client != NULL)
		return 1;
	if (server->in_role_probe) {
		server->in_role_probe = false;
		hot_standby = server->probed_hot_standby;
		read_only = server->probed_read_only;
	} else {
		hot_standby = login_param(server, "in_hot_standby");
		read_only = login_param(server,
		    "default_transaction_read_only");
		if (hot_standby == NULL &&
		    server->pool->db->conf->target_session_attrs != TA_ANY) {
			if (proto_build_query(server->io.out, ROLE_PROBE) < 0) {
				server_close(server, "out of memory");
				return -1;
			}
			server->in_role_probe = true;
			server_flush(server);
			return 0;
		}
	}
	return fits_target(server, hot_standby, read_only) ? 1 : -1;
}

/*
 * The server refused the login (ErrorResponse).  Who sees the error, and
 * whether the pool counts it as its failure, depends on why.
 */
static void
login_refused(struct server *server, const char *body, size_t blen)
{
	struct pq_error_fields f;
	char reason[256];

	if (proto_parse_error(body, blen, &f) < 0 || f.message == NULL) {
		server_login_fail(server, SQLSTATE_CONNECTION_FAILURE,
		    "server refused the login");
		return;
	}
	/* PgBouncer's words, which its users grep for */
	server_log(server, LOG_LVL_WARNING, "server login failed: %s %s",
	    f.severity ? f.severity : "FATAL", f.message);
	if (server->repl_client != NULL) {
		/* its client's own login, not the pool's */
		server_replication_refused(server, &f);
		return;
	}
	if (server->startup_vars != NULL && f.sqlstate &&
	    (strncmp(f.sqlstate, "22", 2) == 0 ||
	    strcmp(f.sqlstate, "42704") == 0)) {
		/*
		 * A client's startup value the server does not take: not the
		 * pool's failure.  Its servers open with no client's values
		 * from now on (the client gets the error when its values are
		 * applied).
		 */
		server->pool->no_startup_values = true;
		server_close(server, "login failed");
		return;
	}
	if (f.sqlstate && strcmp(f.sqlstate, SQLSTATE_CANNOT_CONNECT_NOW) ==
	    0) {
		/*
		 * Starting up or shutting down: unreachable for a moment,
		 * so a host list moves on to its next host at once.
		 */
		server_host_failed(server, f.sqlstate, f.message);
		snprintf(reason, sizeof(reason), "%s", f.message);
		server_close(server, reason);
		return;
	}
	/* the client sees the backend's own error */
	pool_server_refused(server->pool, f.sqlstate ? f.sqlstate :
	    SQLSTATE_CONNECTION_FAILURE, f.message);
	/* PgBouncer's close reason: the error itself */
	snprintf(reason, sizeof(reason), "%s", f.message);
	server_close(server, reason);
}

/*
 * The login's ReadyForQuery: the database's connect_query runs first if
 * it has one; then the server is logged in and goes to its pool (or to
 * its replication client), and what followed the ReadyForQuery goes
 * through the relay.  Returns true when the login goes on.
 */
static bool
login_ready(struct server *server, char status)
{
	const char *connect_query = server->pool->db->conf->connect_query;
	struct pool *pool = server->pool;

	server->tx_status = status;
	/* before connect_query, which may write: is it the right server? */
	if (!server->in_connect_query) {
		int rc = login_check_role(server);
		if (rc <= 0)
			return rc == 0;
	}
	if (!server->in_connect_query && connect_query != NULL) {
		server->in_connect_query = true;
		if (proto_build_query(server->io.out, connect_query) < 0) {
			server_close(server, "out of memory");
			return false;
		}
		server_flush(server);
		return true;
	}
	server->in_connect_query = false;
	server->logged_in = true;
	server->reset_vars = varset_ref(server->vars);
	server_arm_timer(server, 0);
	server_log(server, LOG_LVL_DEBUG, "login done, backend pid %u",
	    server->backend_pid);
	if (server->repl_client != NULL) {
		/* its client takes these parameters */
		pool_replication_ready(server);
		server_free_login_params(server);
	} else {
		if (pool->welcome == NULL) {
			/* the pool adopts this login's parameters */
			pool->welcome = server->login_params;
			pool->n_welcome_params = server->n_login_params;
			pool->defaults = varset_ref(server->vars);
			server->login_params = NULL;
			server->n_login_params = 0;
		}
		server_free_login_params(server);
		/* fresh from login: no server_check_query needed */
		server->just_checked = true;
		pool_server_ready(server);
	}
	if (server->state != SV_CLOSED &&
	    evbuffer_get_length(server->io.in) > 0)
		relay_server(server);
	return false;
}

/*
 * One login-phase message other than ReadyForQuery: authentication,
 * parameters, the cancel key, an error.  Returns true when the login
 * goes on.
 */
static bool
login_message(struct server *server, uint8_t type, const char *body,
    size_t blen)
{
	const char *name, *value;

	if (server->in_connect_query &&
	    server_connect_query_answer(server, type, body, blen))
		return true;
	if (server->in_role_probe &&
	    role_probe_answer(server, type, body, blen))
		return true;
	switch (type) {
	case PQMSG_AUTHENTICATION:
		return server_on_Authentication(server, (const uint8_t *)body,
		    blen) == 0;
	case PQMSG_PARAMETER_STATUS:
		if (proto_parse_parameter_status(body, blen, &name,
		    &value) < 0 ||
		    server_keep_login_param(server, name, value) < 0) {
			server_close(server, "bad ParameterStatus");
			return false;
		}
		return true;
	case PQMSG_BACKEND_KEY_DATA:
		if (blen >= 8) {
			server->backend_pid = proto_get_u32(body);
			server->backend_key = proto_get_u32(body + 4);
		}
		return true;
	case PQMSG_ERROR_RESPONSE:
		login_refused(server, body, blen);
		return false;
	case PQMSG_NEGOTIATE_PROTOCOL_VERSION:
	case PQMSG_NOTICE_RESPONSE:
		return true;
	default:
		server_login_broken(server, SQLSTATE_PROTOCOL_VIOLATION,
		    "unexpected message from server during login");
		return false;
	}
}

/*
 * Handle login-phase messages: authentication, parameters, key, and the
 * first ReadyForQuery that makes the server usable.
 */
void
server_handle_login(struct server *server)
{
	struct evbuffer *in = server->io.in;

	while (server->state == SV_CONNECTING) {
		struct pq_header hdr;
		size_t total, blen;
		const uint8_t *msg;
		int rc = proto_peek_header(in, 0, &hdr);

		if (rc == 0)
			return;
		if (rc < 0 || hdr.len > LOGIN_MSG_MAX) {
			server_login_broken(server, SQLSTATE_PROTOCOL_VIOLATION,
			    "invalid message from server during login");
			return;
		}
		total = 1 + hdr.len;
		if (evbuffer_get_length(in) < total)
			return;
		msg = evbuffer_pullup(in, (ev_ssize_t)total);
		if (msg == NULL) {
			server_close(server, "out of memory");
			return;
		}
		blen = total - PQ_HEADER_LEN;
		if (hdr.type == PQMSG_READY_FOR_QUERY) {
			char status = blen >= 1 ? (char)msg[PQ_HEADER_LEN] :
			    'I';
			evbuffer_drain(in, total);
			if (!login_ready(server, status))
				return;
			continue;
		}
		if (!login_message(server, hdr.type,
		    (const char *)msg + PQ_HEADER_LEN, blen))
			return;
		evbuffer_drain(in, total);
	}
}
