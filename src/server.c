/* SPDX-License-Identifier: ISC */
/*
 * A server (backend) connection's life: host name lookup, non-blocking
 * connect, TLS, then the login (serverlogin.c), parameter tracking,
 * cleanup after its client, close.
 *
 * A server is always on exactly one list of its pool, chosen by its state;
 * server_set_state() is the only writer of the state and keeps the lists
 * right.  Once logged in, its input goes through relay_server().  When a
 * client lets go of it (server_settle), pgweir brings it back to a clean,
 * idle state: finish or cancel what is outstanding, roll back an open
 * transaction, run server_reset_query where the mode asks for it.  Only a
 * server that cannot be cleaned within the bound is closed.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/cancel.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/losttx.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"
#include "pgweir/sockopt.h"
#include "pgweir/tls.h"

static void server_io_cb(struct io *io, short what, void *arg);
static void server_connect_to(struct server *server,
    const struct sockaddr *sa, socklen_t len);

static const char *const state_names[] = {
	[SV_CONNECTING] = "connecting",
	[SV_IDLE] = "idle",
	[SV_ACTIVE] = "active",
	[SV_TESTED] = "tested",
	[SV_CLOSED] = "closed",
};

/* Transitions server_set_state() accepts: allowed[from][to]. */
static const bool allowed[5][5] = {
	/* a replication client's server goes straight to its client */
	[SV_CONNECTING] = { [SV_IDLE] = true, [SV_ACTIVE] = true,
		[SV_CLOSED] = true },
	[SV_IDLE] = { [SV_ACTIVE] = true, [SV_TESTED] = true,
		[SV_CLOSED] = true },
	[SV_ACTIVE] = { [SV_IDLE] = true, [SV_TESTED] = true,
		[SV_CLOSED] = true },
	[SV_TESTED] = { [SV_IDLE] = true, [SV_CLOSED] = true },
};

/* Whether server_set_state() accepts this change (unit tests ask). */
bool
server_transition_allowed(enum server_state from, enum server_state to)
{
	return from == to || allowed[from][to];
}

/* The name of a state, for logs and SHOW SERVERS. */
const char *
server_state_name(enum server_state state)
{
	return state_names[state];
}

/*
 * Log a line prefixed with "S-ptr: db/user@addr" as PgBouncer does (the
 * ptr of SHOW SERVERS; the address once connected), escaped by log_vconn.
 */
void
server_log(const struct server *server, int level, const char *fmt, ...)
{
	char addr[64];
	struct log_conn conn = { .kind = 'S', .ptr = server,
		.id = server->id, .db = server->pool->db->name,
		.user = server->pool->server_user };
	struct peer_addr pa;
	va_list ap;

	if (!log_enabled((enum log_level)level))
		return;
	if (server->remote.ss_family == AF_INET ||
	    server->remote.ss_family == AF_INET6) {
		peer_addr_set(&pa, (const struct sockaddr *)&server->remote);
		peer_addr_format(&pa, addr, sizeof(addr));
		conn.addr = addr;
	} else if (server->remote.ss_family == AF_UNIX) {
		conn.addr = "unix";
	}
	va_start(ap, fmt);
	log_vconn((enum log_level)level, &conn, fmt, ap);
	va_end(ap);
}

/*
 * PostgreSQL could not be reached at this server's host: the host is
 * marked down (serverhost.c), and when no host of the list is worth a
 * try the pool backs off, or looks again soon when only roles stand in
 * the way.  Called before the server is closed.
 */
void
server_host_failed(struct server *server, const char *sqlstate,
    const char *message)
{
	switch (serverhost_unreachable(server)) {
	case HOST_TRY_NEXT:
		break;
	case HOST_NONE_FITS:
		pool_server_misfit(server->pool, message);
		break;
	case HOST_ALL_DOWN:
		pool_server_failed(server->pool, sqlstate, message);
		break;
	}
}

/* The server's host has this role: remembered, with a line when the
 * database's primary is found or moves. */
void
server_note_role(struct server *server, enum host_role role)
{
	const struct database *db = server->pool->db;
	const struct db_conf *conf = db->conf;
	int was = -1;

	switch (serverhost_note_role(server, role, &was)) {
	case PRIMARY_SAME:
		break;
	case PRIMARY_FOUND:
		server_log(server, LOG_LVL_LOG, "primary of database %s is "
		    "%s:%d", db->name, conf->hosts[server->host],
		    conf->ports[server->host]);
		break;
	case PRIMARY_MOVED:
		server_log(server, LOG_LVL_LOG, "primary of database %s "
		    "moved from %s:%d to %s:%d", db->name, conf->hosts[was],
		    conf->ports[was], conf->hosts[server->host],
		    conf->ports[server->host]);
		break;
	}
}

/*
 * ParameterStatus in_hot_standby while the server is open: PostgreSQL
 * reports the change when a standby is promoted.  A server that no longer
 * fits is retired when it is released.
 */
void
server_on_hot_standby(struct server *server, const char *value)
{
	enum host_role role = targetattrs_role_of(value,
	    server->login_read_only ? "on" : "off");
	enum target_attrs ta = server->pool->db->conf->target_session_attrs;

	if (role == server->role || server->repl_client != NULL)
		return;
	server_log(server, LOG_LVL_LOG, "server is now %s "
	    "(in_hot_standby=%s)", targetattrs_role_name(role), value);
	server_note_role(server, role);
	if (!targetattrs_accepts(ta, role, false))
		server->close_needed = true;
}

/* The pool list and counter that hold servers in a state. */
static struct server_list *
list_of(struct pool *pool, enum server_state state, int **count)
{
	switch (state) {
	case SV_CONNECTING:
		*count = &pool->n_connecting;
		return &pool->connecting_servers;
	case SV_IDLE:
		*count = &pool->n_idle_servers;
		return &pool->idle_servers;
	case SV_ACTIVE:
		*count = &pool->n_active_servers;
		return &pool->active_servers;
	case SV_TESTED:
		*count = &pool->n_tested;
		return &pool->tested_servers;
	case SV_CLOSED:
		break;
	}
	*count = NULL;
	return NULL;
}

/*
 * Move a server to a new state and the list that goes with it.  Idle
 * servers are pushed at the head, so reuse is most-recently-used first:
 * that keeps the working set of backends small and warm.
 */
void
server_set_state(struct server *server, enum server_state state)
{
	struct pool *pool = server->pool;
	struct server_list *from, *to;
	int *nfrom, *nto;

	if (server->state == state)
		return;
	if (!server_transition_allowed(server->state, state)) {
		server_log(server, LOG_LVL_ERROR, "invalid state change %s "
		    "-> %s", state_names[server->state], state_names[state]);
		abort();
	}
	server_log(server, LOG_LVL_NOISE, "%s -> %s",
	    state_names[server->state], state_names[state]);
	from = list_of(pool, server->state, &nfrom);
	if (from) {
		TAILQ_REMOVE(from, server, entry);
		(*nfrom)--;
	}
	to = list_of(pool, state, &nto);
	if (to) {
		if (state == SV_IDLE)
			TAILQ_INSERT_HEAD(to, server, entry);
		else
			TAILQ_INSERT_TAIL(to, server, entry);
		(*nto)++;
	}
	if (state == SV_IDLE)
		server->idle_since = pgweir_mono_usec();
	server->state = state;
}

/* Arm the server's deadline timer. */
void
server_arm_timer(struct server *server, int64_t usec)
{
	struct timeval tv = { (time_t)(usec / 1000000),
		(suseconds_t)(usec % 1000000) };

	if (usec > 0)
		evtimer_add(&server->timer, &tv);
	else
		evtimer_del(&server->timer);
}

/* The deadline passed: connect/login or cleanup took too long. */
static void
server_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *server = arg;

	(void)fd;
	(void)what;
	if (server->state == SV_CONNECTING) {
		server_host_failed(server, SQLSTATE_CANNOT_CONNECT,
		    "server connect timeout");
		server_close(server, "connect timeout");
	} else if (server->state == SV_TESTED) {
		server_close(server, "cleanup did not finish in time");
	}
}

/*
 * A connect failed (errno err): PostgreSQL is unreachable at that address
 * for now.  The log and the pool remember libpq's kind of message; the
 * close reason is PgBouncer's, "connect failed".
 */
static void
server_connect_failed(struct server *server, const struct sockaddr *sa,
    int err)
{
	char where[160], msg[256];

	if (sa->sa_family == AF_UNIX) {
		snprintf(where, sizeof(where), "socket \"%s\"",
		    ((const struct sockaddr_un *)sa)->sun_path);
	} else {
		struct peer_addr pa;
		peer_addr_set(&pa, sa);
		peer_addr_format(&pa, where, sizeof(where));
	}
	snprintf(msg, sizeof(msg), "could not connect to server at %s: %s",
	    where, strerror(err));
	server_log(server, LOG_LVL_WARNING, "%s", msg);
	server_host_failed(server, SQLSTATE_CANNOT_CONNECT, msg);
	server_close(server, "connect failed");
}

/* The host (NULL: unix_socket_dir) and port this server connects to. */
static const char *
server_host(const struct server *server)
{
	const struct db_conf *conf = server->pool->db->conf;

	return conf->n_hosts > 0 ? conf->hosts[server->host] : NULL;
}

static int
server_port(const struct server *server)
{
	const struct db_conf *conf = server->pool->db->conf;

	return conf->n_hosts > 0 ? conf->ports[server->host] : conf->port;
}

/* The host name did not resolve: the server fails as unreachable. */
static void
server_dns_failed(struct server *server, int result, bool cached)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "could not resolve host \"%s\": %s",
	    server_host(server), evutil_gai_strerror(result));
	/* a remembered answer was logged when it came */
	server_log(server, cached ? LOG_LVL_DEBUG : LOG_LVL_WARNING, "%s%s",
	    msg, cached ? " (remembered, dns_nxdomain_ttl)" : "");
	server_host_failed(server, SQLSTATE_CANNOT_CONNECT, msg);
	/* PgBouncer's words */
	server_close(server, "server DNS lookup failed");
}

/* Connect to the address found for a host name. */
static void
server_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct server *server = arg;
	struct database *db = server->pool->db;
	struct evutil_addrinfo *pick = res;

	server->dns_req = NULL;
	db->dns_pending = false;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	if (result != 0 || res == NULL) {
		if (res)
			evutil_freeaddrinfo(res);
		if (result == EVUTIL_EAI_NONAME) {
			/* no such name: say so at once for a while */
			db->dns_fail_host = server->host;
			db->dns_failed_at = pgweir_mono_usec();
		}
		server_dns_failed(server, result, false);
		return;
	}
	db->dns_failed_at = 0;
	/*
	 * Take the first IPv4 answer if there is one: "localhost" often lists
	 * ::1 first while the server listens on 127.0.0.1 only.
	 */
	for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
	}
	if (db->dns_addrlen > 0 && db->dns_host == server->host &&
	    (db->dns_addrlen != pick->ai_addrlen ||
	    memcmp(&db->dns_addr, pick->ai_addr, pick->ai_addrlen) != 0)) {
		/* the name moved: servers to the old address go */
		server_log(server, LOG_LVL_LOG, "host \"%s\" has a new "
		    "address; closing the servers to the old one",
		    server_host(server));
		pool_retire_servers(server->pw, db, "host address changed");
		server->close_needed = false;	/* this one goes to the new */
	}
	memcpy(&db->dns_addr, pick->ai_addr, pick->ai_addrlen);
	db->dns_addrlen = pick->ai_addrlen;
	db->dns_host = server->host;
	db->dns_expires = pgweir_mono_usec() + server->pw->cfg->dns_max_ttl;
	evutil_freeaddrinfo(res);
	server_connect_to(server, (struct sockaddr *)&db->dns_addr,
	    db->dns_addrlen);
}

/* Work out where the pool's database lives and start connecting. */
static void
server_start_connect(struct server *server)
{
	struct pgweir *pw = server->pw;
	struct database *db = server->pool->db;
	const char *host = server_host(server);
	int port = server_port(server);
	struct sockaddr_storage addr;
	socklen_t len;
	struct evutil_addrinfo hints;

	switch (sockaddr_of_host(host, pw->cfg->unix_socket_dir, port, &addr,
	    &len)) {
	case 1:
		server_connect_to(server, (struct sockaddr *)&addr, len);
		return;
	case -1:
		server_host_failed(server, SQLSTATE_CANNOT_CONNECT,
		    "unix socket path too long");
		server_close(server, "unix socket path too long");
		return;
	}
	/* the current dns_nxdomain_ttl counts, even if set since */
	if (db->dns_failed_at > 0 && db->dns_fail_host == server->host &&
	    pgweir_mono_usec() - db->dns_failed_at <
	    pw->cfg->dns_nxdomain_ttl) {
		server_dns_failed(server, EVUTIL_EAI_NONAME, true);
		return;
	}
	if (db->dns_addrlen > 0 && db->dns_host == server->host &&
	    db->dns_expires > pgweir_mono_usec()) {
		server_connect_to(server, (struct sockaddr *)&db->dns_addr,
		    db->dns_addrlen);
		return;
	}
	/* never block the loop on a lookup: evdns answers in a callback */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	{
		char service[8];
		snprintf(service, sizeof(service), "%d", port);
		db->dns_pending = true;
		server->dns_req = evdns_getaddrinfo(pw->dns, host, service,
		    &hints, server_dns_cb, server);
	}
}

/* Open a non-blocking socket and start connecting to sa. */
static void
server_connect_to(struct server *server, const struct sockaddr *sa,
    socklen_t len)
{
	int fd, err;

	memcpy(&server->remote, sa, len);
	server->remote_len = len;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	sockopt_tune(fd, sa->sa_family, server->pw->cfg);
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS)
		goto fail;
	if (io_init(&server->io, server->pw->base, fd, server_io_cb, server,
	    &server->pw->iobufs) < 0) {
		close(fd);
		fd = -1;
		errno = ENOMEM;
		goto fail;
	}
	server->io.max_write = sockopt_write_bound(server->pw->cfg);
	/* writable means connected (or failed): SO_ERROR tells */
	io_set_read(&server->io, false);
	io_set_write(&server->io, true);
	return;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	server_connect_failed(server, sa, err);
}

/*
 * A new server of the pool, connecting (on its list, counted), with no
 * socket yet; NULL when out of memory.
 */
static struct server *
server_new(struct pool *pool)
{
	struct pgweir *pw = pool->pw;
	struct server *server = calloc(1, sizeof(*server));
	int *count;

	if (server == NULL)
		return NULL;
	server->id = ++pw->next_id;
	server->pw = pw;
	server->pool = pool;
	server->state = SV_CONNECTING;
	server->io.fd = -1;
	server->tx_status = 'I';
	server->created = pgweir_mono_usec();
	evtimer_assign(&server->timer, pw->base, server_timer_cb, server);
	TAILQ_INIT(&server->cancels);
	TAILQ_INSERT_TAIL(list_of(pool, SV_CONNECTING, &count), server,
	    entry);
	(*count)++;
	pw->n_servers++;
	pool->db->n_servers++;
	pool->user->n_servers++;
	return server;
}

/*
 * Start a new server connection for a pool.  NULL when it could not even
 * start: out of memory, or the connect failed at once (PostgreSQL's unix
 * socket is gone, no file descriptor left), which closed it and put the
 * pool in backoff.  Callers that launch in a loop stop on NULL; a closed
 * server returned here would make them launch again at once, forever.
 */
struct server *
server_launch(struct pool *pool, struct client *for_client)
{
	struct pgweir *pw = pool->pw;
	struct server *server = server_new(pool);

	if (server == NULL) {
		log_error("out of memory for a server connection");
		return NULL;
	}
	server->vars = varset_ref(pw->vars.empty);
	if (for_client != NULL && for_client->replication != PQ_REPL_NONE) {
		server->repl_client = for_client;
		server->replication = for_client->replication;
	}
	if (for_client != NULL && for_client->reset_vars != NULL &&
	    pool->defaults != NULL && !pool->no_startup_values &&
	    for_client->reset_vars != pool->defaults)
		server->startup_vars = varset_ref(for_client->reset_vars);
	server->host = serverhost_pick(pool->db);
	server->connect_time = pgweir_now_usec(pw);
	server_log(server, LOG_LVL_DEBUG, "new server connection");
	server_arm_timer(server, pw->cfg->server_connect_timeout);
	server_start_connect(server);
	/* still in memory until the reaper runs */
	return server->state == SV_CLOSED ? NULL : server;
}

/*
 * A server the previous pgweir process handed over with its client (an
 * online restart, session pooling): logged in and idle in a session, so
 * it only needs its socket and what pgweir knew of it.  Owns fd and the
 * varsets from the start; NULL when out of memory (fd closed).  The
 * caller links it to its client.
 */
struct server *
server_adopt(struct pool *pool, int fd, const struct server_handover *h)
{
	struct pgweir *pw = pool->pw;
	struct server *server = server_new(pool);

	if (server == NULL || io_init(&server->io, pw->base, fd,
	    server_io_cb, server, &pw->iobufs) < 0) {
		if (server != NULL) {
			server->io.fd = -1;
			server->logged_in = false;
			server_close(server, "out of memory");
		}
		close(fd);
		varset_release(&pw->vars, h->vars);
		varset_release(&pw->vars, h->reset_vars);
		return NULL;
	}
	server->io.max_write = sockopt_write_bound(pw->cfg);
	server->vars = h->vars;
	server->reset_vars = h->reset_vars;
	server->backend_pid = h->backend_pid;
	server->backend_key = h->backend_key;
	/* a host list shortened by the new config: the entry may be gone */
	server->host = h->host >= 0 && h->host < pool->db->conf->n_hosts ?
	    h->host : 0;
	server->remote_len = sizeof(server->remote);
	if (getpeername(fd, (struct sockaddr *)&server->remote,
	    &server->remote_len) < 0)
		server->remote_len = 0;
	server->connect_time = h->connect_time;
	server->logged_in = true;
	server->startup_sent = true;
	server_log(server, LOG_LVL_DEBUG, "taken over from the previous "
	    "process, backend pid %u", server->backend_pid);
	return server;
}

/* "new connection to server (from local address)", as PgBouncer says. */
static void
server_log_connected(const struct server *server)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct peer_addr pa;
	char from[80];

	if (!server->pw->cfg->log_connections)
		return;
	if (server->remote.ss_family == AF_UNIX ||
	    getsockname(server->io.fd, (struct sockaddr *)&local, &len) < 0) {
		server_log(server, LOG_LVL_LOG, "new connection to server");
		return;
	}
	peer_addr_set(&pa, (const struct sockaddr *)&local);
	peer_addr_format(&pa, from, sizeof(from));
	server_log(server, LOG_LVL_LOG, "new connection to server (from %s)",
	    from);
}

/* A connect finished, one way or the other. */
static void
server_on_connected(struct server *server)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(server->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		server_connect_failed(server,
		    (const struct sockaddr *)&server->remote, err);
		return;
	}
	io_set_write(&server->io, false);
	server_log_connected(server);
	if (server->pw->tls.server_side != NULL &&
	    server->remote.ss_family != AF_UNIX) {
		/* ask for TLS first; the answer is one byte, 'S' or 'N' */
		uint8_t req[8];
		proto_put_u32(req, 8);
		proto_put_u32(req + 4, PQ_SSL_REQUEST);
		evbuffer_add(server->io.out, req, sizeof(req));
		server->tls_requested = true;
		io_set_read(&server->io, true);
		server_flush(server);
		return;
	}
	server_send_startup(server);
}

/*
 * The server's answer to our SSLRequest.  'S': TLS, verifying its
 * certificate (and name) as server_tls_sslmode says (the one in force:
 * the TLS contexts' config); 'N': plaintext, unless TLS is required.  A
 * server that sends more than the one byte is refused: those bytes would
 * have come in the clear.
 */
static void
server_on_tls_answer(struct server *server)
{
	struct pgweir *pw = server->pw;
	uint8_t answer;
	SSL *ssl;

	if (evbuffer_get_length(server->io.in) != 1) {
		server_login_broken(server, SQLSTATE_PROTOCOL_VIOLATION,
		    "received unencrypted data after SSL response");
		return;
	}
	evbuffer_remove(server->io.in, &answer, 1);
	server->tls_requested = false;
	if (answer == 'N') {
		if (pw->tls.cfg->server_tls_sslmode >= TLS_REQUIRE) {
			server_login_broken(server, SQLSTATE_CANNOT_CONNECT,
			    "server does not support TLS, and "
			    "server_tls_sslmode requires it");
			return;
		}
		server_send_startup(server);
		return;
	}
	if (answer != 'S') {
		server_login_broken(server, SQLSTATE_PROTOCOL_VIOLATION,
		    "invalid answer to SSLRequest from server");
		return;
	}
	ssl = tls_connect_new(pw->tls.server_side, server->io.fd,
	    server_host(server),
	    pw->tls.cfg->server_tls_sslmode == TLS_VERIFY_FULL);
	if (ssl == NULL) {
		server_login_broken(server, SQLSTATE_CANNOT_CONNECT,
		    "could not set up TLS to the server");
		return;
	}
	io_start_tls(&server->io, ssl);
	/* the first SSL_write drives the handshake */
	server_send_startup(server);
}

/* Why a TLS session with the server failed, for the client and the log. */
static void
server_tls_failure(struct server *server, char *buf, size_t len)
{
	long v = SSL_get_verify_result(server->io.ssl);

	if (v != X509_V_OK)
		snprintf(buf, len, "TLS to the server failed: certificate "
		    "verify failed: %s", X509_verify_cert_error_string(v));
	else
		snprintf(buf, len, "TLS to the server failed");
}

/* Write pending output now; closes the server on a socket error. */
int
server_flush(struct server *server)
{
	if (io_flush(&server->io) < 0) {
		server_close(server, "write to server failed");
		return -1;
	}
	return 0;
}

/* Read again after backpressure eased, and process what is buffered. */
void
server_resume_read(struct server *server)
{
	if (!server->read_paused || server->state == SV_CLOSED)
		return;
	server->read_paused = false;
	io_set_read(&server->io, true);
	if (io_in_pending(&server->io) > 0)
		relay_server(server);
}

/* All readiness of a server socket. */
static void
server_io_cb(struct io *io, short what, void *arg)
{
	struct server *server = arg;
	ssize_t n;

	if (what & EV_WRITE) {
		if (!io_is_open(io) || server->state == SV_CLOSED)
			return;
		if (server->state == SV_CONNECTING && !server->io.want_read &&
		    !server->startup_sent && !server->tls_requested) {
			server_on_connected(server);
			return;
		}
		if (server_flush(server) < 0)
			return;
		if (server->link && server->link->read_paused &&
		    io_out_pending(io) < RELAY_OUT_LOW)
			client_resume_read(server->link);
	}
	if (!(what & EV_READ) || server->state == SV_CLOSED)
		return;
	n = io_read(io, relay_read_size(server->pw->cfg));
	if (n == IO_AGAIN)
		return;
	if (n <= 0) {
		if (server->state == SV_CONNECTING && server->io.ssl != NULL &&
		    !SSL_is_init_finished(server->io.ssl)) {
			char msg[256];
			server_tls_failure(server, msg, sizeof(msg));
			server_login_broken(server, SQLSTATE_CONNECTION_FAILURE,
			    msg);
		} else if (server->state == SV_CONNECTING) {
			/* PostgreSQL going down or starting up: retried */
			server_host_failed(server,
			    SQLSTATE_CONNECTION_FAILURE,
			    "server closed the connection during login");
			server_close(server, "server closed the connection "
			    "during login");
		}
		else
			server_close(server, n == 0 ?
			    "server closed the connection" :
			    "read from server failed");
		return;
	}
	if (server->state == SV_CONNECTING && server->tls_requested)
		server_on_tls_answer(server);
	else if (server->state == SV_CONNECTING)
		server_handle_login(server);
	else
		relay_server(server);
}

/* Send a query of pgweir's own; its answers are swallowed by the relay. */
int
server_send_internal(struct server *server, const char *sql)
{
	if (server_queue_internal(server, sql) < 0)
		return -1;
	return server_flush(server);
}

/*
 * The same, left in the output buffer: the client's request that follows
 * goes out with it in one write.
 */
int
server_queue_internal(struct server *server, const char *sql)
{
	if (proto_build_query(server->io.out, sql) < 0) {
		server_close(server, "out of memory");
		return -1;
	}
	rq_push(&server->rq, RQ_INTERNAL);
	return 0;
}

/*
 * Ask PostgreSQL to cancel what this backend is running.  The server is
 * not reused until the cancel has landed (see cancel.c).
 */
void
server_cancel_backend(struct server *server)
{
	if (server->backend_pid == 0 || server->remote_len == 0)
		return;
	cancel_forward(server->pw, (struct sockaddr *)&server->remote,
	    server->remote_len, server->backend_pid, server->backend_key,
	    server);
}

/*
 * Bring a server without a client back to a clean idle state, one step at
 * a time; called after the client lets go and after each answer while
 * unlinked.  Steps: wait for outstanding answers (cancelling a running
 * query once) and for cancel requests still on their way, end a COPY,
 * Sync extended messages, roll back an open transaction, give back the
 * login role if the client changed it, run the reset query if asked,
 * then go idle.  May close the server; check its state
 * after.
 */
void
server_settle(struct server *server)
{
	struct pgweir *pw = server->pw;
	bool busy;

	if (server->state == SV_CLOSED || server->link != NULL)
		return;
	if (server->internal_failed) {
		server_close(server, "cleanup query failed");
		return;
	}
	if (server->copy_both) {
		server_close(server, "client left during COPY BOTH");
		return;
	}
	/*
	 * A cancel still on its way would hit the next client's query: wait
	 * for it to land (cancel.c calls us again).
	 */
	busy = !rq_empty(&server->rq) || server->rq.unsynced ||
	    server->rq.copy_in || !TAILQ_EMPTY(&server->cancels);
	if (busy) {
		if (server->state != SV_TESTED) {
			server_set_state(server, SV_TESTED);
			server_arm_timer(server,
			    pw->cfg->cancel_wait_timeout > 0 ?
			    pw->cfg->cancel_wait_timeout : 10 * 1000000);
		}
		if (server->rq.copy_in) {
			static const char reason[] = "client disconnected";
			proto_build_message(server->io.out, PQMSG_COPY_FAIL,
			    reason, sizeof(reason));
			server->rq.copy_in = false;
		}
		if (server->rq.unsynced) {
			/* a Sync makes the server finish and report */
			proto_build_simple(server->io.out, PQMSG_SYNC);
			rq_push(&server->rq, PQMSG_SYNC);
			server->rq.unsynced = false;
			server->rq.discard_until_sync = false;
		}
		if (!server->cancel_sent && !rq_empty(&server->rq)) {
			server->cancel_sent = true;
			server_cancel_backend(server);
		}
		server_flush(server);
		return;
	}
	if (server->tx_status != 'I') {
		if (server->state != SV_TESTED) {
			server_set_state(server, SV_TESTED);
			server_arm_timer(server, 10 * 1000000);
		}
		server->tx_status = 'I';
		server_send_internal(server, "ROLLBACK");
		return;
	}
	if (server->role_changed) {
		/*
		 * The backend runs as another role than it logged in as:
		 * back to its own before anyone else gets it.  A failure
		 * closes it (internal_failed above).
		 */
		server->role_changed = false;
		if (server->state != SV_TESTED) {
			server_set_state(server, SV_TESTED);
			server_arm_timer(server, 10 * 1000000);
		}
		server_send_internal(server, "RESET ROLE; "
		    "RESET SESSION AUTHORIZATION");
		return;
	}
	if (server->reset_pending) {
		server->reset_pending = false;
		if (pw->cfg->server_reset_query[0] != '\0') {
			if (server->state != SV_TESTED) {
				server_set_state(server, SV_TESTED);
				server_arm_timer(server, 10 * 1000000);
			}
			server_send_internal(server,
			    pw->cfg->server_reset_query);
			return;
		}
	}
	server_arm_timer(server, 0);
	server->cancel_sent = false;
	if (server->close_needed || pw->shutdown == SHUTDOWN_NOW) {
		server_close(server, "obsolete connection");
		return;
	}
	if (pgweir_mono_usec() - server->created >=
	    pool_server_lifetime(server->pool)) {
		server_close(server, "server lifetime over");
		return;
	}
	server_set_state(server, SV_IDLE);
	pool_server_ready(server);
}

/*
 * server_fast_close: a session-mode server that must not be reused
 * (close_needed) closes as soon as its client is between transactions,
 * and its client with it ("database configuration changed"), instead of
 * lasting as long as the session.  Returns true if it closed.
 */
bool
server_fast_close(struct server *server)
{
	struct client *client = server->link;

	if (!server->close_needed || client == NULL ||
	    !server->pw->cfg->server_fast_close ||
	    pool_mode_of(server->pool) != POOL_SESSION ||
	    server->tx_status != 'I' || !rq_empty(&server->rq) ||
	    server->rq.copy_in || server->copy_both || server->rq.unsynced ||
	    client->pkt_remain > 0)
		return false;
	pool_unlink(client, server);
	client_close_error(client, SQLSTATE_ADMIN_SHUTDOWN,
	    "database configuration changed");
	server_close(server, "database configuration changed");
	return true;
}

/*
 * Whether an idle server can be handed to a client.  Its backend may have
 * gone since the event loop last looked (pg_terminate_backend, a
 * restart): the client would get that error instead of a working server.
 * One peek at the socket tells; anything the server said while idle is
 * read now, which closes it if it is gone.
 */
bool
server_idle_usable(struct server *server)
{
	char byte;
	ssize_t n = recv(server->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		server_io_cb(&server->io, EV_READ, server);
	/* an error it sent while idle set close_needed (relay.c) */
	if (server->state == SV_IDLE && server->close_needed)
		server_close(server, "server ended the session while idle");
	return server->state == SV_IDLE;
}

/*
 * Run server_check_query on an idle server before it is handed out again
 * ("<empty>" sends an empty query, the cheapest round trip).  It comes
 * back through server_settle and pool_server_ready, or is closed.
 */
void
server_start_check(struct server *server)
{
	const char *q = server->pw->cfg->server_check_query;

	server_set_state(server, SV_TESTED);
	server_arm_timer(server, server->pw->cfg->server_connect_timeout);
	server->just_checked = true;
	server_send_internal(server, strcmp(q, "<empty>") == 0 ? "" : q);
}

/*
 * Close a server: tell PostgreSQL goodbye, drop it from its pool, fail its
 * client if it had one.  Freed later by the reaper.
 */
void
server_close(struct server *server, const char *reason)
{
	struct pool *pool = server->pool;
	struct pgweir *pw = server->pw;
	struct client *client = server->link;

	if (server->state == SV_CLOSED)
		return;
	server_log(server, LOG_LVL_LOG, "closing because: %s (age=%llds)",
	    reason, (long long)((pgweir_mono_usec() - server->created) /
	    1000000));
	if (server->repl_client != NULL) {
		/* a replication client's server that never logged in */
		struct client *waiting = server->repl_client;
		server->repl_client = NULL;
		waiting->repl_server = NULL;
		client_close_error(waiting, SQLSTATE_CONNECTION_FAILURE,
		    reason);
	}
	if (client != NULL) {
		bool keep = losttx_keep_client(client, server,
		    pool_mode_of(pool));
		pool_unlink(client, server);
		if (keep) {
			losttx_begin(client);
			client_set_state(client, CL_IDLE);
			client_log(client, LOG_LVL_LOG, "server connection "
			    "lost inside a transaction; the client keeps its "
			    "connection and must end the transaction");
		} else
			client_close_error(client, SQLSTATE_CONNECTION_FAILURE,
			    "server connection closed unexpectedly");
	}
	if (server->dns_req) {
		evdns_getaddrinfo_cancel(server->dns_req);
		server->dns_req = NULL;
		pool->db->dns_pending = false;
	}
	evtimer_del(&server->timer);
	cancel_detach(&server->cancels);
	if (io_is_open(&server->io)) {
		if (server->logged_in) {
			/* a polite Terminate; nothing is lost if it fails */
			proto_build_simple(server->io.out, PQMSG_TERMINATE);
			io_flush(&server->io);
		}
		io_close(&server->io);
	}
	server_set_state(server, SV_CLOSED);
	pw->n_servers--;
	pool->db->n_servers--;
	pool->user->n_servers--;
	TAILQ_INSERT_TAIL(&pw->dead_servers, server, entry);
	pgweir_schedule_reap(pw);
	pool_server_gone(pool);
}

/*
 * Close a server whose socket another process owns now (an online
 * restart handed it over): nothing is sent on it, not even Terminate.
 * Unlink it first.
 */
void
server_close_handed_over(struct server *server)
{
	server->logged_in = false;
	server_close(server, "handed over to the new process");
}

/* Free a closed server (the reaper calls this). */
void
server_free(struct server *server)
{
	server_free_login_params(server);
	server_free_scram(server);
	while (!rq_empty(&server->rq)) {
		void *data = rq_head_data(&server->rq);
		if (data != NULL)
			prepared_entry_done(server, rq_head(&server->rq), data);
		rq_pop(&server->rq);
	}
	prepared_server_free(server);
	varset_release(&server->pw->vars, server->vars);
	varset_release(&server->pw->vars, server->reset_vars);
	varset_release(&server->pw->vars, server->startup_vars);
	free(server);
}
