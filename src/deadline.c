/* SPDX-License-Identifier: ISC */
/*
 * A client's deadlines: which timeout applies in which state, the one
 * timer that fires at the nearest, and what happens then.
 *
 *   login/welcome  client_login_timeout, from accept
 *   idle           client_idle_timeout, from the last answer
 *   waiting        query_wait_timeout from the start of the wait, and
 *                  query_timeout from the start of the request
 *   active         query_timeout while a request is outstanding;
 *                  idle_transaction_timeout when idle inside a transaction;
 *                  client_idle_timeout when idle outside one (session mode);
 *                  transaction_timeout from the start of the transaction
 *
 * Names and meanings are PgBouncer's, with one difference: a query that
 * times out is cancelled on the server and the server is rolled back and
 * reused, rather than closed (the client is still disconnected).  Per-user
 * values from [users] override the global ones; query_wait_timeout also
 * has a per-database value.  When no timeout is configured the hot path
 * pays one branch (pw->timeouts_active).
 */
#include "config.h"

#include <event2/event.h>
#include <stddef.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"

/* A per-user override if set, else the global value. */
static int64_t
user_timeout(const struct client *client, size_t user_off, int64_t global)
{
	const struct user_conf *uc = client->pool ?
	    pool_user_conf(client->pool) : NULL;

	if (uc != NULL) {
		int64_t v = *(const int64_t *)((const char *)uc + user_off);
		if (v != CONF_UNSET)
			return v;
	}
	return global;
}

#define UTIMEOUT(c, name) \
	user_timeout((c), offsetof(struct user_conf, name), (c)->pw->cfg->name)

/* The wait limit: user's, else database's, else global. */
static int64_t
query_wait_timeout(const struct client *client)
{
	const struct user_conf *uc = pool_user_conf(client->pool);

	if (uc && uc->query_wait_timeout != CONF_UNSET)
		return uc->query_wait_timeout;
	if (client->pool->db->conf->query_wait_timeout != CONF_UNSET)
		return client->pool->db->conf->query_wait_timeout;
	return client->pw->cfg->query_wait_timeout;
}

/* base + timeout, or 0 when either is unset. */
static int64_t
due(int64_t base, int64_t timeout)
{
	return base > 0 && timeout > 0 ? base + timeout : 0;
}

/* The earlier of two deadlines, 0 meaning none. */
static int64_t
earlier(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* Whether any active-state timeout is configured, globally or per user. */
bool
deadline_timeouts_in_use(const struct config *cfg)
{
	if (cfg->query_timeout || cfg->idle_transaction_timeout ||
	    cfg->transaction_timeout || cfg->client_idle_timeout)
		return true;
	for (size_t i = 0; i < cfg->n_users; i++) {
		const struct user_conf *u = cfg->users[i];
		if (u->query_timeout > 0 || u->idle_transaction_timeout > 0 ||
		    u->transaction_timeout > 0 || u->client_idle_timeout > 0)
			return true;
	}
	return false;
}

/* The deadline that applies to a client now (monotonic usec), or 0. */
static int64_t
client_deadline(const struct client *client)
{
	const struct server *server = client->link;

	switch (client->state) {
	case CL_LOGIN:
	case CL_WELCOME:
		return due(client->login_start,
		    client->pw->cfg->client_login_timeout);
	case CL_IDLE:
		return due(client->idle_since,
		    UTIMEOUT(client, client_idle_timeout));
	case CL_WAITING:
		return earlier(due(client->wait_start,
		    query_wait_timeout(client)), due(client->request_time,
		    UTIMEOUT(client, query_timeout)));
	case CL_ACTIVE: {
		int64_t d;
		if (!rq_empty(&server->rq))
			d = due(client->request_time,
			    UTIMEOUT(client, query_timeout));
		else if (server->tx_status != 'I')
			d = due(client->idle_since,
			    UTIMEOUT(client, idle_transaction_timeout));
		else
			d = due(client->idle_since,
			    UTIMEOUT(client, client_idle_timeout));
		return earlier(d, due(client->tx_start,
		    UTIMEOUT(client, transaction_timeout)));
	}
	case CL_CLOSED:
		break;
	}
	return 0;
}

/* Arm the client's timer for its nearest deadline, if that changed. */
void
client_update_deadline(struct client *client)
{
	int64_t d = client_deadline(client), rel;
	struct timeval tv;

	if (d == client->deadline)
		return;
	client->deadline = d;
	if (d == 0) {
		evtimer_del(&client->timer);
		return;
	}
	rel = d - pgweir_mono_usec();
	if (rel < 1000)
		rel = 1000;
	tv.tv_sec = (time_t)(rel / 1000000);
	tv.tv_usec = (suseconds_t)(rel % 1000000);
	evtimer_add(&client->timer, &tv);
}

/*
 * Whether a deadline has passed.  libevent's timers run on the coarse
 * monotonic clock and may fire a few milliseconds before our precise one
 * says so; the slack makes the right deadline win.
 */
static bool
passed(int64_t deadline, int64_t now)
{
	return deadline > 0 && deadline <= now + 20000;
}

/* The timer fired: close the client for the deadline that passed. */
void
client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *client = arg;
	const struct server *server = client->link;
	int64_t now = pgweir_mono_usec();

	(void)fd;
	(void)what;
	client->deadline = 0;
	switch (client->state) {
	case CL_LOGIN:
	case CL_WELCOME:
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    client->state == CL_WELCOME ?
		    "client_login_timeout (server down)" :
		    "client_login_timeout");
		return;
	case CL_IDLE:
		client_close_error(client, SQLSTATE_IDLE_SESSION_TIMEOUT,
		    "client_idle_timeout");
		return;
	case CL_WAITING:
		if (passed(due(client->wait_start, query_wait_timeout(client)),
		    now))
			client_close_error(client, SQLSTATE_QUERY_CANCELED,
			    "query_wait_timeout");
		else if (passed(due(client->request_time,
		    UTIMEOUT(client, query_timeout)), now))
			client_close_error(client, SQLSTATE_QUERY_CANCELED,
			    "query_timeout");
		else
			client_update_deadline(client);
		return;
	case CL_ACTIVE:
		if (passed(due(client->tx_start,
		    UTIMEOUT(client, transaction_timeout)), now))
			client_close_error(client, SQLSTATE_IDLE_IN_TX_TIMEOUT,
			    "transaction timeout");
		else if (client_deadline(client) > now + 20000)
			client_update_deadline(client);	/* not yet */
		else if (!rq_empty(&server->rq))
			/* the server is cancelled and cleaned on release */
			client_close_error(client, SQLSTATE_QUERY_CANCELED,
			    "query_timeout");
		else if (server->tx_status != 'I')
			client_close_error(client, SQLSTATE_IDLE_IN_TX_TIMEOUT,
			    "idle transaction timeout");
		else
			client_close_error(client,
			    SQLSTATE_IDLE_SESSION_TIMEOUT,
			    "client_idle_timeout");
		return;
	case CL_CLOSED:
		return;
	}
}
