/* SPDX-License-Identifier: ISC */
/*
 * A client connection's life: accept, the startup phase (SSLRequest,
 * GSSENCRequest, CancelRequest, StartupMessage), login, then relaying
 * until it leaves, and close.
 *
 * A client is always on exactly one list (pw->login_clients while it logs
 * in, then its pool's list for its state); client_set_state() is the only
 * writer of the state.  Clients logging in are counted (pw->n_login_clients,
 * bounded by max_login_clients in listener.c), and so are those that have
 * not sent a StartupMessage yet (pw->n_startup_clients): they do not count
 * against max_client_conn, and client_startup_timeout ends them early.
 * Errors a client causes close only that client, with an ErrorResponse
 * that says what was wrong.  Each client has its own BackendKeyData: the
 * pid is a slot number in pw->slots, so a CancelRequest finds its client
 * in O(1), and the key is random.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/authfile.h"
#include "pgweir/cancel.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/scram.h"
#include "pgweir/server.h"
#include "pgweir/sockopt.h"
#include "pgweir/stats.h"
#include "pgweir/tls.h"

static void client_io_cb(struct io *io, short what, void *arg);
static void client_log_login(const struct client *client);
static void client_end_login_reply(const struct client *client,
    struct evbuffer *out);

static const char *const state_names[] = {
	[CL_LOGIN] = "login",
	[CL_WELCOME] = "welcome",
	[CL_IDLE] = "idle",
	[CL_WAITING] = "waiting",
	[CL_ACTIVE] = "active",
	[CL_CLOSED] = "closed",
};

/* Transitions client_set_state() accepts: allowed[from][to]. */
static const bool allowed[6][6] = {
	/* a replication client goes straight to its own server */
	[CL_LOGIN] = { [CL_WELCOME] = true, [CL_IDLE] = true,
		[CL_ACTIVE] = true, [CL_CLOSED] = true },
	[CL_WELCOME] = { [CL_IDLE] = true, [CL_CLOSED] = true },
	[CL_IDLE] = { [CL_WAITING] = true, [CL_ACTIVE] = true,
		[CL_CLOSED] = true },
	[CL_WAITING] = { [CL_ACTIVE] = true, [CL_IDLE] = true,
		[CL_CLOSED] = true },
	[CL_ACTIVE] = { [CL_IDLE] = true, [CL_CLOSED] = true },
};

/* Whether client_set_state() accepts this change (unit tests ask). */
bool
client_transition_allowed(enum client_state from, enum client_state to)
{
	return from == to || allowed[from][to];
}

/* The name of a state, for logs and SHOW CLIENTS. */
const char *
client_state_name(enum client_state state)
{
	return state_names[state];
}

static const char *client_db_name(const struct client *client);

/*
 * Log a line prefixed with "C-ptr: db/user@addr", the layout of
 * PgBouncer's lines that log tools parse (pgbadger wants the "0x" of a
 * pointer), with the ptr that SHOW CLIENTS shows.  The names came from
 * the client: log_vconn() escapes them with the message, so pass them raw.
 */
void
client_log(const struct client *client, int level, const char *fmt, ...)
{
	char addr[64];
	struct log_conn conn = { .kind = 'C', .ptr = client, .id = client->id,
		.addr = addr };
	va_list ap;

	if (!log_enabled((enum log_level)level))
		return;
	peer_addr_format(&client->addr, addr, sizeof(addr));
	if (client_user_name(client) != NULL) {
		conn.db = client_db_name(client);
		conn.user = client_user_name(client);
	}
	va_start(ap, fmt);
	log_vconn((enum log_level)level, &conn, fmt, ap);
	va_end(ap);
}

/* The list and counter that hold clients in a state (NULL, NULL: none). */
static struct client_list *
list_of(struct client *client, enum client_state state, int **count)
{
	struct pool *pool = client->pool;

	*count = NULL;
	if (state == CL_CLOSED)
		return NULL;
	if (state == CL_LOGIN || pool == NULL) {
		*count = &client->pw->n_login_clients;
		return &client->pw->login_clients;
	}
	switch (state) {
	case CL_WELCOME:
		*count = &pool->n_welcome;
		return &pool->welcome_clients;
	case CL_IDLE:
		*count = &pool->n_idle_clients;
		return &pool->idle_clients;
	case CL_WAITING:
		*count = &pool->n_waiting;
		return &pool->waiting_clients;
	case CL_ACTIVE:
		*count = &pool->n_active_clients;
		return &pool->active_clients;
	default:
		return NULL;
	}
}

/* Move a client to a new state and the list that goes with it. */
void
client_set_state(struct client *client, enum client_state state)
{
	struct client_list *from, *to;
	int *nfrom, *nto;

	if (client->state == state)
		return;
	if (!client_transition_allowed(client->state, state)) {
		client_log(client, LOG_LVL_ERROR, "invalid state change %s -> "
		    "%s", state_names[client->state], state_names[state]);
		abort();
	}
	client_log(client, LOG_LVL_NOISE, "%s -> %s",
	    state_names[client->state], state_names[state]);
	from = list_of(client, client->state, &nfrom);
	if (client->state == CL_LOGIN)
		from = &client->pw->login_clients;
	if (from) {
		TAILQ_REMOVE(from, client, entry);
		(*nfrom)--;
	}
	to = list_of(client, state, &nto);
	if (to) {
		TAILQ_INSERT_TAIL(to, client, entry);
		(*nto)++;
	}
	client->state = state;
	if (state == CL_IDLE)
		client->idle_since = pgweir_mono_usec();
	client_update_deadline(client);
	if (state == CL_IDLE && client->pw->on_client_idle != NULL)
		client->pw->on_client_idle(client->pw);
}

/* Give the client a cancel-key slot; pid = slot number. */
static int
slot_acquire(struct pgweir *pw, struct client *client)
{
	uint32_t slot = slots_take(&pw->slots, client);

	if (slot == 0)
		return -1;
	client->slot = slot;
	if (random_take(&pw->random, &client->cancel_key,
	    sizeof(client->cancel_key)) < 0)
		return -1;
	if (pw->cfg->peer_id > 0)
		/* a full hop count, as PgBouncer's keys carry */
		client->cancel_key |= CANCEL_TTL_MASK;
	return 0;
}

/* Return the client's slot. */
static void
slot_release(struct pgweir *pw, struct client *client)
{
	slots_put(&pw->slots, client->slot);
	client->slot = 0;
}

/*
 * Keep slots 1 to below-1 for clients of the previous process, which keep
 * their cancel keys when they are handed over (an online restart), until
 * client_release_reserved_slots().  Before any client exists.
 */
int
client_reserve_slots(struct pgweir *pw, uint32_t below)
{
	return slots_hold_below(&pw->slots, below);
}

/* A handed-over client takes back its own slot and key, when reserved. */
static void
slot_claim(struct pgweir *pw, struct client *client, uint32_t slot,
    uint32_t key)
{
	if (!slots_is_held(&pw->slots, slot)) {
		client_log(client, LOG_LVL_WARNING, "its cancel key could not "
		    "be kept: cancels it sends will not find it");
		return;
	}
	slot_release(pw, client);
	slots_claim(&pw->slots, slot, client);
	client->slot = slot;
	client->cancel_key = key;
}

/* The takeover is over: the slots nobody claimed are free again. */
void
client_release_reserved_slots(struct pgweir *pw)
{
	slots_end_hold(&pw->slots);
}

/* The highest cancel-key slot in use, for a takeover to keep. */
uint32_t
client_slots_in_use_below(const struct pgweir *pw)
{
	return slots_in_use_below(&pw->slots);
}

/*
 * The client that a CancelRequest names, or NULL.  The key is compared in
 * constant time so that timing does not leak how much of a guess matched.
 */
static struct client *
client_find_by_key(struct pgweir *pw, uint32_t pid, uint32_t key)
{
	struct client *client;
	uint32_t diff;

	client = slots_owner(&pw->slots,
	    cancel_pid_slot(pw->cfg->peer_id, pid));
	if (client == NULL)
		return NULL;
	diff = client->cancel_key ^ key;
	return diff == 0 ? client : NULL;
}

/* Set up a freshly accepted connection (fd already non-blocking). */
struct client *
client_accept(struct pgweir *pw, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct client *client = calloc(1, sizeof(*client));

	(void)salen;
	if (client == NULL)
		return NULL;
	client->id = ++pw->next_id;
	client->pw = pw;
	client->state = CL_LOGIN;
	peer_addr_set(&client->addr, sa);
	client->connect_time = pgweir_now_usec(pw);
	client->vars = varset_ref(pw->vars.empty);
	/* TCP clients inherit the options from the listening socket */
	if (sa->sa_family == AF_UNIX)
		sockopt_tune(fd, sa->sa_family, pw->cfg);
	if (io_init(&client->io, pw->base, fd, client_io_cb, client,
	    &pw->iobufs) < 0 ||
	    slot_acquire(pw, client) < 0) {
		io_close(&client->io);
		slot_release(pw, client);
		varset_release(&pw->vars, client->vars);
		free(client);
		return NULL;
	}
	client->io.max_write = sockopt_write_bound(pw->cfg);
	TAILQ_INSERT_TAIL(&pw->login_clients, client, entry);
	pw->n_login_clients++;
	client->counted = true;
	pw->n_clients++;
	client->in_startup = true;
	pw->n_startup_clients++;
	client->login_start = pgweir_mono_usec();
	client_update_deadline(client);
	client_log(client, LOG_LVL_DEBUG, "connection accepted");
	return client;
}

/*
 * An idle client with nothing buffered gives its buffers back: idle
 * clients cost their struct, their event and their socket only.
 */
void
client_maybe_release(struct client *client)
{
	if (client->state == CL_IDLE && client->admin == NULL)
		io_release_buffers(&client->io);
}

/* Write pending output now; closes the client on a socket error. */
int
client_flush(struct client *client)
{
	if (io_flush(&client->io) < 0) {
		client_close(client, "write to client failed");
		return -1;
	}
	return 0;
}

/* Queue an ErrorResponse (severity ERROR) to the client. */
void
client_send_error(struct client *client, const char *sqlstate,
    const char *message)
{
	if (client->pw->cfg->log_pooler_errors)
		client_log(client, LOG_LVL_WARNING, "pooler error: %s",
		    message);
	proto_build_error(io_wbuf(&client->io), "ERROR", sqlstate, message,
	    NULL);
}

/* Send a FATAL ErrorResponse and close the client. */
void
client_close_error(struct client *client, const char *sqlstate,
    const char *message)
{
	if (client->state == CL_CLOSED)
		return;
	if (client->pw->cfg->log_pooler_errors)
		client_log(client, LOG_LVL_WARNING, "pooler error: %s",
		    message);
	proto_build_error(io_wbuf(&client->io), "FATAL", sqlstate, message,
	    NULL);
	/* a refused login is worth a line at the default level */
	if (client->state == CL_LOGIN && !client->logged_in)
		client->close_loud = true;
	client_close(client, message);
}

/* Read again after backpressure eased, and process what is buffered. */
void
client_resume_read(struct client *client)
{
	if (!client->read_paused || client->state == CL_CLOSED)
		return;
	client->read_paused = false;
	io_set_read(&client->io, true);
	if (io_in_pending(&client->io) > 0 && client->state != CL_LOGIN &&
	    client->state != CL_WELCOME)
		relay_client(client);
}

/*
 * Send the login reply: AuthenticationOk, the server's parameters with the
 * client's own values where it set them, its BackendKeyData and
 * ReadyForQuery; from now on its requests go to servers.
 */
void
client_finish_login(struct client *client)
{
	struct pool *pool = client->pool;
	struct pgweir *pw = client->pw;
	struct evbuffer *out = io_wbuf(&client->io);
	struct varset *merged;

	merged = varset_merge(&pw->vars, client->vars, pool->defaults);
	if (merged == NULL) {
		client_close(client, "out of memory");
		return;
	}
	varset_release(&pw->vars, client->vars);
	client->vars = merged;
	client->reset_vars = varset_ref(merged);

	proto_build_auth(out, PQAUTH_OK, NULL, 0);
	for (int i = 0; i < pool->n_welcome_params; i++) {
		const struct welcome_param *p = &pool->welcome[i];
		int idx = var_find(&pw->vars, p->name);
		const char *value = p->value;
		if (idx >= 0 && client->vars->vals[idx] != NULL)
			value = client->vars->vals[idx];
		proto_build_parameter_status(out, p->name, value);
	}
	client_end_login_reply(client, out);
	pool->stats->total.client_login_count++;
	client->ps_on = prepared_pool_rewrites(pool);
	client_set_state(client, CL_IDLE);
	client_log_login(client);
	if (client_flush(client) < 0)
		return;
	/* also to read again after the bound of the wait for this reply */
	if (io_in_pending(&client->io) > 0 || client->read_paused)
		relay_client(client);
	else
		client_maybe_release(client);
}

/*
 * The end of every login reply: pgweir's key for cancels (in PgBouncer's
 * layout when peering), login_notify_message, ReadyForQuery.
 */
static void
client_end_login_reply(const struct client *client, struct evbuffer *out)
{
	const struct config *cfg = client->pw->cfg;

	proto_build_backend_key_data(out, cancel_pid_encode(cfg->peer_id,
	    client->slot), client->cancel_key);
	if (cfg->login_notify_message[0] != '\0')
		proto_build_notice(out, "00000", cfg->login_notify_message);
	proto_build_ready_for_query(out, 'I');
}

/*
 * A replication client's server has logged in: the client gets that
 * server's own parameters (its session is that server's, never shared),
 * pgweir's key for cancels, and from now on talks to the server through
 * the relay until one of them leaves.
 */
void
client_finish_replication(struct client *client, struct server *server)
{
	struct evbuffer *out = io_wbuf(&client->io);

	proto_build_auth(out, PQAUTH_OK, NULL, 0);
	for (int i = 0; i < server->n_login_params; i++)
		proto_build_parameter_status(out, server->login_params[i].name,
		    server->login_params[i].value);
	client_end_login_reply(client, out);
	client->pool->stats->total.client_login_count++;
	client->ps_on = false;
	client_set_state(client, CL_ACTIVE);
	client_log_login(client);
	if (client_flush(client) == 0 && io_in_pending(&client->io) > 0)
		relay_client(client);
}

/* PgBouncer's login line, for log_connections. */
static void
client_log_login(const struct client *client)
{
	static const char *const repl[] = { [PQ_REPL_NONE] = "no",
		[PQ_REPL_PHYSICAL] = "yes", [PQ_REPL_LOGICAL] = "database" };
	char tls[128];

	if (!client->pw->cfg->log_connections)
		return;
	tls_describe(client->io.ssl, tls, sizeof(tls));
	client_log(client, LOG_LVL_LOG, "login attempt: db=%s user=%s tls=%s "
	    "replication=%s", client->pool->db->name, client_user_name(client),
	    tls[0] ? tls : "no", repl[client->replication]);
}

/*
 * application_name_add_host: "name - address:port" (PgBouncer's form,
 * "app" when the client gave none), so that PostgreSQL's views show
 * where a pooled query came from.  Only at login, as in PgBouncer.
 */
static int
client_add_host_to_appname(struct client *client)
{
	struct pgweir *pw = client->pw;
	int idx = var_register(&pw->vars, "application_name");
	char addr[80], name[400];
	struct varset *vs;

	if (idx < 0)
		return 0;
	peer_addr_format(&client->addr, addr, sizeof(addr));
	snprintf(name, sizeof(name), "%s - %s", client->vars->vals[idx] ?
	    client->vars->vals[idx] : "app", addr);
	vs = varset_with(&pw->vars, client->vars, idx, name);
	if (vs == NULL) {
		client_close(client, "out of memory");
		return -1;
	}
	varset_release(&pw->vars, client->vars);
	client->vars = vs;
	return 0;
}

/* Accept the startup parameters: tracked ones are kept, ignored dropped. */
static int
client_take_params(struct client *client, const struct pq_startup *sp)
{
	struct pgweir *pw = client->pw;
	char msg[160];

	for (int i = 0; i < sp->n_params; i++) {
		const char *name = sp->params[i].name;
		struct varset *vs;
		int idx;

		if (config_list_contains(pw->cfg->ignore_startup_parameters,
		    name))
			continue;
		idx = var_find(&pw->vars, name);
		if (idx < 0 && sp->from_options[i] &&
		    config_list_contains(pw->cfg->ignore_startup_parameters,
		    "options"))
			continue;	/* the rest of an ignored options */
		if (idx < 0) {
			snprintf(msg, sizeof(msg), "unsupported startup "
			    "parameter%s: %.79s", sp->from_options[i] ?
			    " in options" : "", name);
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    msg);
			return -1;
		}
		vs = varset_with(&pw->vars, client->vars, idx,
		    sp->params[i].value);
		if (vs == NULL) {
			client_close(client, "out of memory");
			return -1;
		}
		varset_release(&pw->vars, client->vars);
		client->vars = vs;
	}
	if (pw->cfg->application_name_add_host)
		return client_add_host_to_appname(client);
	return 0;
}

/* Append "name\0value\0" to a packed parameter list. */
static int
add_packed(struct evbuffer *b, const char *name, const char *value)
{
	return evbuffer_add(b, name, strlen(name) + 1) < 0 ||
	    evbuffer_add(b, value, strlen(value) + 1) < 0 ? -1 : 0;
}

/*
 * A replication client's startup parameters, kept for the StartupMessage
 * of its own server (PostgreSQL, not pgweir, judges them): everything but
 * user, database and replication, the switches of options joined again
 * into one options value, blanks and backslashes escaped as libpq does.
 */
static int
client_keep_repl_params(struct client *client, const struct pq_startup *sp)
{
	struct evbuffer *all = evbuffer_new(), *opts = evbuffer_new();
	int rc = -1;

	if (all == NULL || opts == NULL)
		goto out;
	for (int i = 0; i < sp->n_params; i++) {
		const char *v = sp->params[i].value;
		if (!sp->from_options[i]) {
			if (add_packed(all, sp->params[i].name, v) < 0)
				goto out;
			continue;
		}
		if (evbuffer_add_printf(opts, "%s-c %s=",
		    evbuffer_get_length(opts) ? " " : "",
		    sp->params[i].name) < 0)
			goto out;
		for (; *v; v++)
			if (((*v == ' ' || *v == '\\') &&
			    evbuffer_add(opts, "\\", 1) < 0) ||
			    evbuffer_add(opts, v, 1) < 0)
				goto out;
	}
	if (evbuffer_get_length(opts) > 0 && (evbuffer_add(opts, "", 1) < 0 ||
	    add_packed(all, "options",
	    (const char *)evbuffer_pullup(opts, -1)) < 0))
		goto out;
	client->repl_params_len = evbuffer_get_length(all);
	client->repl_params = malloc(client->repl_params_len + 1);
	if (client->repl_params == NULL)
		goto out;
	evbuffer_remove(all, client->repl_params, client->repl_params_len);
	rc = 0;
out:
	if (all)
		evbuffer_free(all);
	if (opts)
		evbuffer_free(opts);
	return rc;
}

/*
 * The per-database or per-user client cap this login would pass, as the
 * error message that names it, or NULL when there is room.
 */
static const char *
client_limit_reached(const struct pool *pool, const struct user *login)
{
	const struct config *cfg = pool->pw->cfg;
	const struct user_conf *uc = login->conf;
	int db_max = pool->db->conf->max_db_client_connections != CONF_UNSET ?
	    pool->db->conf->max_db_client_connections :
	    cfg->max_db_client_connections;
	int user_max = uc && uc->max_user_client_connections != CONF_UNSET ?
	    uc->max_user_client_connections :
	    cfg->max_user_client_connections;

	if (db_max > 0 && pool->db->n_clients >= db_max)
		return "no more connections allowed "
		    "(max_db_client_connections)";
	if (user_max > 0 && login->n_clients >= user_max)
		return "no more connections allowed "
		    "(max_user_client_connections)";
	return NULL;
}

/* The startup phase is over (a StartupMessage came, or the client left). */
static void
client_end_startup(struct client *client)
{
	if (client->in_startup) {
		client->in_startup = false;
		client->pw->n_startup_clients--;
	}
}

/* The user name a client gave (login) or logged in with (pool). */
const char *
client_user_name(const struct client *client)
{
	if (client->login != NULL)
		return client->login->user;
	return client->login_user ? client->login_user->name : NULL;
}

/* The database name a client asked for or logged in to. */
static const char *
client_db_name(const struct client *client)
{
	if (client->login != NULL)
		return client->login->database;
	return client->pool ? client->pool->db->name : NULL;
}

/* Free what a login held (the login ended, either way). */
static void
client_login_free(struct client *client)
{
	struct client_login *l = client->login;

	if (l == NULL)
		return;
	free(l->user);
	free(l->database);
	config_unref(l->cfg);
	if (l->checked_password != NULL) {
		OPENSSL_cleanse(l->checked_password,
		    strlen(l->checked_password));
		free(l->checked_password);
	}
	if (l->derived != NULL) {
		OPENSSL_cleanse(l->derived, sizeof(*l->derived));
		free(l->derived);
	}
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
	client->login = NULL;
}

/*
 * Remember what a StartupMessage asks for, without making anything in the
 * pools: names, and the settings that authentication reads (the database's
 * [databases] entry, else the "*" entry; none for the console).
 */
static int
client_login_new(struct client *client, const char *user,
    const char *database, bool admin)
{
	struct pgweir *pw = client->pw;
	struct client_login *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -1;
	client->login = l;
	l->user = strdup(user);
	l->database = strdup(database);
	if (l->user == NULL || l->database == NULL)
		return -1;
	l->admin = admin;
	l->cfg = config_ref(pw->cfg);
	if (!admin) {
		l->conf = config_find_db(pw->cfg, database);
		if (l->conf == NULL)
			l->conf = pw->cfg->fallback_db;
	}
	return 0;
}

/* A startup packet's checks that need no user or pool; false: closed. */
static bool
client_check_startup(struct client *client, bool admin)
{
	struct pgweir *pw = client->pw;

	if (admin) {
		/* the console does not count against max_client_conn */
		client->counted = false;
		pw->n_clients--;
	} else if (pw->n_clients - pw->n_startup_clients >
	    pw->cfg->max_client_conn) {
		/* sockets still in their startup phase do not count */
		client_close_error(client, SQLSTATE_TOO_MANY_CONNECTIONS,
		    "no more connections allowed (max_client_conn)");
		return false;
	}
	if (pw->shutdown != SHUTDOWN_NONE && !admin) {
		/* the console stays reachable on the unix socket */
		client_close_error(client, SQLSTATE_CANNOT_CONNECT_NOW,
		    "pgweir is shutting down");
		return false;
	}
	/*
	 * Whether the database exists or is disabled is told only after
	 * authentication (client_join_pool): before it, a name that is not
	 * configured is answered exactly like one that is.
	 */
	return true;
}

/*
 * The database and user a StartupMessage asks for; authenticate.  No
 * user, pool or database object is made before authentication succeeds
 * (client_join_pool), so a stream of made-up names costs nothing that
 * outlives its connections.
 */
static void
client_on_StartupMessage(struct client *client, struct pq_startup *sp)
{
	struct pgweir *pw = client->pw;
	bool admin = pgweir_is_console_db(pw, sp->database);

	if ((sp->code & 0xffff) != 0 || sp->n_unknown_options > 0) {
		/* we speak 3.0 and no protocol extensions */
		proto_build_negotiate_protocol_version(client->io.out, 0,
		    sp->unknown_options, sp->n_unknown_options);
	}
	if (client->direct_tls && !tls_alpn_postgresql(client->io.ssl)) {
		/* PostgreSQL insists on ALPN for direct TLS, and so do we */
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "direct TLS connection without ALPN \"postgresql\"");
		return;
	}
	if (client->io.ssl == NULL && client->addr.family != AF_UNIX &&
	    pw->tls.cfg->client_tls_sslmode >= TLS_REQUIRE) {
		client_close_error(client, SQLSTATE_INVALID_AUTHORIZATION,
		    "SSL required");
		return;
	}
	if (sp->replication != PQ_REPL_NONE && admin) {
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "replication connections are not allowed on the admin "
		    "console");
		return;
	}
	if (!client_check_startup(client, admin))
		return;
	if (sp->replication != PQ_REPL_NONE) {
		/* its parameters go to its own server as they came */
		client->replication = sp->replication;
		if (client_keep_repl_params(client, sp) < 0) {
			client_close(client, "out of memory");
			return;
		}
	} else if (client_take_params(client, sp) < 0) {
		return;
	}
	if (client_login_new(client, sp->user, sp->database, admin) < 0) {
		client_close(client, "out of memory");
		return;
	}
	pw->login->start(client);
}

/*
 * Make (or find) the database, user and pool of a client that has proven
 * who it is, and count it there; check the per-database and per-user
 * client caps when asked.  Closes the client and returns false when that
 * fails.
 */
static bool
client_enter_pool(struct client *client, bool check_caps)
{
	struct pgweir *pw = client->pw;
	struct client_login *l = client->login;
	struct database *db;
	struct user *user, *login_user;
	struct pool *pool;
	const char *limit;
	char msg[200];

	db = pool_find_database(pw, l->database);
	if (db == NULL) {
		/* not configured, or removed by a reload meanwhile */
		snprintf(msg, sizeof(msg), "no such database: %.79s",
		    l->database);
		client_close_error(client, SQLSTATE_INVALID_CATALOG, msg);
		return false;
	}
	if (db->disabled) {
		snprintf(msg, sizeof(msg), "database \"%.79s\" is disabled",
		    l->database);
		client_close_error(client, SQLSTATE_CANNOT_CONNECT_NOW, msg);
		return false;
	}
	/*
	 * With a forced user= every client of the database shares the one
	 * pool of that user, as in PgBouncer: its servers serve them all.
	 */
	login_user = pool_find_user(pw, l->user, true);
	user = db->conf->user != NULL ? pool_find_user(pw, db->conf->user,
	    true) : login_user;
	pool = user && login_user ? pool_find(pw, db, user, true) : NULL;
	if (pool == NULL) {
		client_close(client, "out of memory");
		return false;
	}
	if (l->has_scram_keys)
		pool_user_set_scram_keys(login_user, l->scram_client_key,
		    l->scram_server_key);
	if (l->checked_password != NULL) {
		/* the newest password PAM accepted logs in to PostgreSQL */
		if (login_user->checked_password != NULL) {
			OPENSSL_cleanse(login_user->checked_password,
			    strlen(login_user->checked_password));
			free(login_user->checked_password);
		}
		login_user->checked_password = l->checked_password;
		l->checked_password = NULL;
	}
	if (l->derived != NULL && login_user->derived == NULL) {
		login_user->derived = l->derived;
		memcpy(login_user->derived_from, l->derived_from,
		    sizeof(login_user->derived_from));
		l->derived = NULL;
	}
	/* on the console only admin_users pass beyond the caps */
	if (check_caps && (!db->admin || !pw->console->all_rights(client)) &&
	    (limit = client_limit_reached(pool, login_user)) != NULL) {
		client_close_error(client, SQLSTATE_TOO_MANY_CONNECTIONS,
		    limit);
		return false;
	}
	client_login_free(client);
	client->pool = pool;
	client->logged_in = true;
	db->n_clients++;
	login_user->n_clients++;
	client->login_user = login_user;
	return true;
}

/*
 * Authentication succeeded: join the pool (client_enter_pool) and log in.
 * Closes the client when that fails.
 */
void
client_join_pool(struct client *client)
{
	if (client_enter_pool(client, true))
		pool_client_login(client->pool, client);
}

/*
 * A client that the previous pgweir process handed over in an online
 * restart (takeover.c): it logged in there and was idle, so it joins its
 * pool at once, idle, with the parameters, statements and cancel key it
 * had; nothing is sent to it.  Owns fd and the varsets from the start;
 * NULL when the client could not be set up (it is closed).
 */
struct client *
client_adopt(struct pgweir *pw, int fd, const struct client_handover *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct client *client;
	struct client_login *l;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 || len == 0 ||
	    ss.ss_family == AF_UNSPEC) {
		ss.ss_family = AF_UNIX;
		len = sizeof(sa_family_t);
	}
	client = client_accept(pw, fd, (struct sockaddr *)&ss, len);
	if (client == NULL) {
		close(fd);
		varset_release(&pw->vars, h->vars);
		varset_release(&pw->vars, h->reset_vars);
		return NULL;
	}
	varset_release(&pw->vars, client->vars);
	client->vars = h->vars;
	client->reset_vars = h->reset_vars;
	client->connect_time = h->connect_time;
	if (h->connect_time > 0)
		/* its age in logs counts from its first connection */
		client->login_start -= pgweir_now_usec(pw) - h->connect_time;
	if (client_login_new(client, h->user, h->database, false) < 0) {
		client_close(client, "out of memory");
		return NULL;
	}
	l = client->login;
	if (h->scram_keys != NULL) {
		l->has_scram_keys = true;
		memcpy(l->scram_client_key, h->scram_keys, 32);
		memcpy(l->scram_server_key, h->scram_keys + 32, 32);
	}
	if (h->password != NULL)
		l->checked_password = strdup(h->password);
	client_end_startup(client);
	if (h->password != NULL && l->checked_password == NULL) {
		client_close(client, "out of memory");
		return NULL;
	}
	if (!client_enter_pool(client, false))
		return NULL;
	slot_claim(pw, client, h->slot, h->cancel_key);
	client->ps_on = prepared_pool_rewrites(client->pool);
	client_set_state(client, CL_IDLE);
	client_log(client, LOG_LVL_DEBUG, "taken over from the previous "
	    "process");
	return client;
}

/*
 * Cancel a request that is still waiting for a server: it leaves the queue
 * and gets "canceling statement due to user request", as if the server had
 * cancelled it.  The request's buffered messages are dropped up to the end
 * of the request (Query, FunctionCall or Sync); an extended batch whose
 * Sync has not arrived yet is dropped as it comes, then answered with
 * ReadyForQuery, as a server does after an error.
 */
static void
client_cancel_wait(struct client *client)
{
	struct evbuffer *in = client->io.in;
	bool ended = false;

	client_set_state(client, CL_IDLE);
	while (!ended) {
		struct pq_header hdr;
		size_t avail = evbuffer_get_length(in), total;

		if (proto_peek_header(in, 0, &hdr) <= 0) {
			/* a partial header: drop it, it ends later */
			evbuffer_drain(in, avail);
			break;
		}
		total = 1 + (size_t)hdr.len;
		ended = hdr.type == PQMSG_QUERY || hdr.type == PQMSG_SYNC ||
		    hdr.type == PQMSG_FUNCTION_CALL;
		if (avail < total) {
			evbuffer_drain(in, avail);
			client->pkt_discard = (uint32_t)(total - avail);
			break;
		}
		evbuffer_drain(in, total);
	}
	proto_build_error(io_wbuf(&client->io), "ERROR",
	    SQLSTATE_QUERY_CANCELED, "canceling statement due to user request",
	    NULL);
	if (ended)
		proto_build_ready_for_query(io_wbuf(&client->io), 'I');
	else
		client->discard_until_sync = true;
	if (client_flush(client) < 0)
		return;
	/* also to read again: the rest of the request may still be coming */
	if (io_in_pending(&client->io) > 0 || client->read_paused)
		relay_client(client);
}

/* A CancelRequest: forward it for a running query, then hang up. */
static void
client_on_CancelRequest(struct client *client, const struct pq_startup *sp)
{
	struct pgweir *pw = client->pw;
	uint32_t key = sp->cancel_key;
	if (pw->cfg->peer_id > 0) {
		int peer = cancel_pid_peer(sp->cancel_pid);
		if (peer != pw->cfg->peer_id) {
			/* another process's client: to that peer */
			cancel_to_peer(pw, peer, sp->cancel_pid, key);
			client_close(client, "cancel request forwarded to "
			    "peer");
			return;
		}
		key |= CANCEL_TTL_MASK;	/* ours carry every hop */
	}
	if (!client_cancel_by_key(pw, sp->cancel_pid, key) &&
	    pw->forward_cancel != NULL)
		/* a client the previous process has not handed over yet */
		pw->forward_cancel(pw, sp->cancel_pid, key);
	/* as PostgreSQL does: no answer, whatever happened */
	client_close(client, "cancel request handled");
}

/*
 * Cancel what the client with this key is doing: its query on its
 * server, or its wait for one.  False when no client has the key.
 */
bool
client_cancel_by_key(struct pgweir *pw, uint32_t pid, uint32_t key)
{
	struct client *target = client_find_by_key(pw, pid, key);

	if (target != NULL && target->link != NULL) {
		client_log(target, LOG_LVL_LOG, "cancel request forwarded");
		server_cancel_backend(target->link);
	} else if (target != NULL && target->state == CL_WAITING) {
		/* PgBouncer leaves it queued; we end the wait, as asked */
		client_log(target, LOG_LVL_LOG, "cancel request: leaves the "
		    "wait queue");
		client_cancel_wait(target);
	}
	return target != NULL;
}

/*
 * An SSLRequest: 'S' and a TLS handshake when TLS is configured (not on
 * the unix socket, where PostgreSQL does not offer it either), else 'N'.
 * Bytes the client sent after the request without waiting for the answer
 * came in the clear: taking them as part of the TLS session is the
 * buffer-stuffing attack of CVE-2021-23214, so they end the connection.
 */
static void
client_on_SSLRequest(struct client *client)
{
	SSL_CTX *ctx = client->pw->tls.client_side;
	SSL *ssl;

	if (ctx == NULL || client->io.ssl != NULL ||
	    client->addr.family == AF_UNIX) {
		evbuffer_add(client->io.out, "N", 1);
		client_flush(client);
		return;
	}
	if (io_in_pending(&client->io) > 0) {
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "received unencrypted data after SSL request");
		return;
	}
	evbuffer_add(client->io.out, "S", 1);
	if (client_flush(client) < 0)
		return;
	ssl = tls_accept_new(ctx, client->io.fd);
	if (ssl == NULL) {
		client_close(client, "could not set up TLS");
		return;
	}
	io_start_tls(&client->io, ssl);
}

/*
 * The startup phase: read one length-prefixed packet at a time.  An
 * SSLRequest or GSSENCRequest is answered 'N' (no encryption here) and
 * the client goes on in plaintext.
 */
static void
client_handle_startup(struct client *client)
{
	struct evbuffer *in = client->io.in;

	while (client->state == CL_LOGIN) {
		char head[4], err[200];
		char pkt[PQ_STARTUP_MAX];
		struct pq_startup sp;
		uint32_t len;

		if (client->auth != NULL) {
			client->pw->login->input(client);
			return;
		}
		if (evbuffer_get_length(in) < 4)
			return;
		evbuffer_copyout(in, head, 4);
		len = proto_get_u32(head);
		if (len < 8 || len > PQ_STARTUP_MAX) {
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "invalid length of startup packet");
			return;
		}
		if (evbuffer_get_length(in) < len)
			return;
		evbuffer_remove(in, pkt, len);
		if (proto_parse_startup(pkt, len, &sp, err, sizeof(err)) < 0) {
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    err);
			return;
		}
		switch (sp.code) {
		case PQ_SSL_REQUEST:
			client_on_SSLRequest(client);
			continue;
		case PQ_GSSENC_REQUEST:
			evbuffer_add(client->io.out, "N", 1);
			if (client_flush(client) < 0)
				return;
			continue;
		case PQ_CANCEL_REQUEST:
			client_on_CancelRequest(client, &sp);
			return;
		default:
			client_end_startup(client);
			client_on_StartupMessage(client, &sp);
			/* pkt goes out of scope: nothing may keep pointers */
			if (client->state != CL_CLOSED)
				client_flush(client);
			return;
		}
	}
}

/*
 * The first byte is a TLS handshake record: a client that speaks TLS at
 * once (PostgreSQL 17's sslnegotiation=direct).  Nothing has been read
 * yet, so OpenSSL gets the whole ClientHello from the socket.
 */
static int
client_start_direct_tls(struct client *client)
{
	SSL_CTX *ctx = client->pw->tls.client_side;
	SSL *ssl;

	if (ctx == NULL || client->addr.family == AF_UNIX) {
		client_close(client, "direct TLS is not configured");
		return -1;
	}
	ssl = tls_accept_new(ctx, client->io.fd);
	if (ssl == NULL) {
		client_close(client, "could not set up TLS");
		return -1;
	}
	io_start_tls(&client->io, ssl);
	client->direct_tls = true;
	return 0;
}

/* All readiness of a client socket. */
static void
client_io_cb(struct io *io, short what, void *arg)
{
	struct client *client = arg;
	ssize_t n;

	if (client->state == CL_CLOSED)
		return;
	if (what & EV_WRITE) {
		if (client_flush(client) < 0)
			return;
		if (client->link && client->link->read_paused &&
		    io_out_pending(io) < RELAY_OUT_LOW)
			server_resume_read(client->link);
		client_maybe_release(client);
	}
	if (!(what & EV_READ) || client->state == CL_CLOSED)
		return;
	if (client->state == CL_LOGIN && !client->first_byte_seen) {
		client->first_byte_seen = true;
		/* the peek costs a system call: only where TLS could follow */
		if (client->pw->tls.client_side != NULL &&
		    client->addr.family != AF_UNIX &&
		    io_peek_byte(io) == 0x16 &&
		    client_start_direct_tls(client) < 0)
			return;
	}
	n = io_read(io, relay_read_size(client->pw->cfg));
	if (n == IO_AGAIN)
		return;
	if (n <= 0) {
		client_close(client, n == 0 ? "client closed the connection" :
		    "read from client failed");
		return;
	}
	switch (client->state) {
	case CL_LOGIN:
		client_handle_startup(client);
		break;
	case CL_WELCOME:
		/* requests wait until the login reply is out */
		if (io_in_pending(io) > RELAY_IN_UNLINKED_MAX) {
			client->read_paused = true;
			io_set_read(io, false);
		}
		break;
	default:
		if (client->admin)
			client->pw->console->input(client);
		else
			relay_client(client);
		break;
	}
}

/*
 * Close a client: let go of its server (which is cleaned and reused, not
 * closed), leave its lists, and hand it to the reaper.  Output already
 * queued (an ErrorResponse) is written once, best effort.
 */
void
client_close(struct client *client, const char *reason)
{
	struct pgweir *pw = client->pw;

	if (client->state == CL_CLOSED)
		return;
	if (pw->login != NULL)
		pw->login->free(client);
	if (client->admin != NULL)
		pw->console->closed(client);
	if (pw->cfg->log_disconnections || client->state == CL_LOGIN)
		client_log(client, client->logged_in || client->close_loud ?
		    LOG_LVL_LOG : LOG_LVL_DEBUG, "closing because: %s "
		    "(age=%llds)", reason, (long long)((pgweir_mono_usec() -
		    client->login_start) / 1000000));
	pool_replication_forget(client);
	if (client->link != NULL) {
		struct server *server = client->link;
		if (server->state != SV_CLOSED) {
			/* mark closed first so release leaves it alone */
			client_set_state(client, CL_CLOSED);
			if (client->pkt_remain > 0) {
				/* it has part of a message: not reusable */
				pool_unlink(client, server);
				server_close(server, "client left in the "
				    "middle of a message");
			} else {
				pool_release(server);
			}
		}
		client->link = NULL;
	}
	client_set_state(client, CL_CLOSED);
	client_deadline_free(client);
	if (io_is_open(&client->io)) {
		io_flush(&client->io);
		io_close(&client->io);
	}
	slot_release(pw, client);
	client_end_startup(client);
	if (client->counted) {
		pw->n_clients--;
		client->counted = false;
	}
	if (client->logged_in) {
		client->pool->db->n_clients--;
		client->login_user->n_clients--;
		client->logged_in = false;
	}
	TAILQ_INSERT_TAIL(&pw->dead_clients, client, entry);
	pgweir_schedule_reap(pw);
}

/* Free a closed client (the reaper calls this). */
void
client_free(struct client *client)
{
	client_login_free(client);
	prepared_client_free(client);
	free(client->repl_params);
	varset_release(&client->pw->vars, client->vars);
	varset_release(&client->pw->vars, client->reset_vars);
	free(client);
}
