/* SPDX-License-Identifier: ISC */
/*
 * Forwarding a CancelRequest to PostgreSQL: a new connection to the
 * backend's server, one 16-byte packet, then wait until PostgreSQL closes
 * the connection, which it does once it has signalled the backend.  Until
 * then the cancel may still land on whatever the backend runs next, so
 * the server it aims at is not given to another client while one is in
 * flight: server_settle() waits for the list server->cancels to empty,
 * and is called again from here when the last one ends.  A cancel whose
 * fate is unknown (timeout) leaves the server marked for closing.  This
 * is a cold path, so it uses a bufferevent, which owns the socket.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/cancel.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"
#include "pgweir/sockopt.h"

/* One cancel request on its way. */
struct cancel {
	struct bufferevent *bev;	/* connection to PostgreSQL; owned */
	struct server *server;		/* aimed at; NULL once it closed */
	struct pgweir *pw;
	bool sent;			/* the packet is out */
	int peer_id;			/* forwarded to this peer, or 0 */
	TAILQ_ENTRY(cancel) entry;	/* in server->cancels */
	TAILQ_ENTRY(cancel) all;	/* in pw->cancels, freed at exit */
};

/*
 * The cancel is over: free it, and let its server (if it still waits
 * without a client) go on with its cleanup.  May close the server.
 */
static void
cancel_done(struct cancel *c, bool landed)
{
	struct server *server = c->server;

	bufferevent_free(c->bev);
	TAILQ_REMOVE(&c->pw->cancels, c, all);
	if (server != NULL) {
		TAILQ_REMOVE(&server->cancels, c, entry);
		if (!landed)
			server->close_needed = true;
	}
	free(c);
	if (server != NULL && TAILQ_EMPTY(&server->cancels) &&
	    server->link == NULL && server->state == SV_TESTED)
		server_settle(server);
}

/* The packet is out: wait for PostgreSQL to hang up. */
static void
cancel_write_cb(struct bufferevent *bev, void *arg)
{
	struct cancel *c = arg;

	c->sent = true;
	bufferevent_enable(bev, EV_READ);
}

/* PostgreSQL answers nothing; drop whatever comes. */
static void
cancel_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

/*
 * Connection events: EOF after the packet means the backend has been
 * signalled; a failure before it means the cancel never arrived; a
 * timeout after it means nobody knows.
 */
static void
cancel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct cancel *c = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		log_debug("cancel request: no answer in time");
		cancel_done(c, !c->sent);
	} else if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (!c->sent)
			log_debug("cancel request could not be delivered");
		cancel_done(c, true);
	}
}

/*
 * Send a CancelRequest for backend pid/key to the server at sa; server
 * (or NULL) is the connection it aims at, which waits for it.
 */
int
cancel_forward(struct pgweir *pw, const struct sockaddr *sa, socklen_t salen,
    uint32_t pid, uint32_t key, struct server *server)
{
	struct cancel *c;
	int64_t t = pw->cfg->cancel_wait_timeout > 0 ?
	    pw->cfg->cancel_wait_timeout : 10 * 1000000;
	struct timeval tv = { (time_t)(t / 1000000),
		(suseconds_t)(t % 1000000) };

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->bev = bufferevent_socket_new(pw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return -1;
	}
	bufferevent_setcb(c->bev, cancel_read_cb, cancel_write_cb,
	    cancel_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (proto_build_cancel_request(bufferevent_get_output(c->bev), pid,
	    key) < 0 ||
	    bufferevent_socket_connect(c->bev, (struct sockaddr *)sa,
	    (int)salen) < 0) {
		bufferevent_free(c->bev);
		free(c);
		return -1;
	}
	bufferevent_enable(c->bev, EV_WRITE);
	c->pw = pw;
	TAILQ_INSERT_TAIL(&pw->cancels, c, all);
	if (server != NULL) {
		c->server = server;
		TAILQ_INSERT_TAIL(&server->cancels, c, entry);
	}
	return 0;
}

/* The server closes: its cancels go on without it. */
void
cancel_detach(struct cancel_list *list)
{
	struct cancel *c;

	while ((c = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, c, entry);
		c->server = NULL;
	}
}

/* pgweir exits: drop the cancels still on their way. */
void
cancel_free_all(struct pgweir *pw)
{
	struct cancel *c;

	while ((c = TAILQ_FIRST(&pw->cancels)) != NULL) {
		TAILQ_REMOVE(&pw->cancels, c, all);
		if (c->server != NULL)
			TAILQ_REMOVE(&c->server->cancels, c, entry);
		bufferevent_free(c->bev);
		free(c);
	}
}

/*
 * The pid a client is given for its cancel-key slot.  Without peering it
 * is the slot itself; with a peer_id, bytes 1 and 2 (big-endian) hold the
 * peer id, as PgBouncer does, and the slot keeps bytes 0 and 3, so up to
 * 65,535 clients per process (far above the open-files limit).
 */
uint32_t
cancel_pid_encode(int peer_id, uint32_t slot)
{
	if (peer_id <= 0)
		return slot;
	return ((slot >> 8) & 0xffu) << 24 | ((uint32_t)peer_id & 0xffu) <<
	    16 | (((uint32_t)peer_id >> 8) & 0xffu) << 8 | (slot & 0xffu);
}

/* The slot a pid names (cancel_pid_encode's inverse). */
uint32_t
cancel_pid_slot(int peer_id, uint32_t pid)
{
	if (peer_id <= 0)
		return pid;
	return (pid >> 24) << 8 | (pid & 0xffu);
}

/* The peer id a pid carries (meaningful only when peering). */
int
cancel_pid_peer(uint32_t pid)
{
	return (int)(((pid >> 16) & 0xffu) | ((pid >> 8) & 0xffu) << 8);
}

/* Forward to a peer and remember which (SHOW PEER_POOLS counts them). */
static void
forward_to_peer(struct pgweir *pw, int peer_id, const struct sockaddr *sa,
    socklen_t len, uint32_t pid, uint32_t key)
{
	if (cancel_forward(pw, sa, len, pid, key, NULL) == 0)
		TAILQ_LAST(&pw->cancels, cancel_list)->peer_id = peer_id;
}

/* Cancel requests on their way to a peer now. */
int
cancel_count_to_peer(const struct pgweir *pw, int peer_id)
{
	const struct cancel *c;
	int n = 0;

	TAILQ_FOREACH(c, &pw->cancels, all)
		n += c->peer_id == peer_id;
	return n;
}

/* A cancel for a peer whose host is a name: sent once it is resolved. */
struct peer_lookup {
	struct pgweir *pw;
	uint32_t pid, key;
	int peer_id;
};

static void
peer_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct peer_lookup *l = arg;

	if (result == 0 && res != NULL)
		forward_to_peer(l->pw, l->peer_id, res->ai_addr,
		    (socklen_t)res->ai_addrlen, l->pid, l->key);
	else if (result != EVUTIL_EAI_CANCEL)
		log_warning("cannot forward a cancel request to peer %d: %s",
		    l->peer_id, evutil_gai_strerror(result));
	if (res != NULL)
		evutil_freeaddrinfo(res);
	free(l);
}

/*
 * A CancelRequest whose key belongs to another process of the peering
 * group: forward it there, one hop fewer.  A key whose hops are used up
 * (a loop between misconfigured peers) or an unknown peer is dropped,
 * with PgBouncer's log words.
 */
void
cancel_to_peer(struct pgweir *pw, int peer_id, uint32_t pid, uint32_t key)
{
	const struct db_conf *peer = NULL;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *host;
	int port, rc;

	if ((key & CANCEL_TTL_MASK) == 0) {
		log_info("failed to forward cancel request because its TTL "
		    "was exhausted");
		return;
	}
	key--;
	for (size_t i = 0; i < pw->cfg->n_peers && peer == NULL; i++)
		if (atoi(pw->cfg->peers[i]->name) == peer_id)
			peer = pw->cfg->peers[i];
	if (peer == NULL) {
		log_info("could not find peer %d to forward a cancel request "
		    "to", peer_id);
		return;
	}
	host = peer->n_hosts > 0 ? peer->hosts[0] : NULL;
	port = peer->n_hosts > 0 ? peer->ports[0] : peer->port;
	log_debug("forwarding cancellation request to peer %d", peer_id);
	rc = sockaddr_of_host(host, pw->cfg->unix_socket_dir, port, &ss, &len);
	if (rc > 0) {
		forward_to_peer(pw, peer_id, (struct sockaddr *)&ss, len, pid,
		    key);
	} else if (rc == 0) {
		struct evutil_addrinfo hints;
		struct peer_lookup *l = calloc(1, sizeof(*l));
		char service[8];
		if (l == NULL)
			return;
		*l = (struct peer_lookup){ pw, pid, key, peer_id };
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		snprintf(service, sizeof(service), "%d", port);
		/* NULL: answered (and freed) in the callback already */
		(void)evdns_getaddrinfo(pw->dns, host, service, &hints,
		    peer_dns_cb, l);
	}
}
