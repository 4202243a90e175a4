/* SPDX-License-Identifier: ISC */
/*
 * A client's deadlines: the timeouts in force for it (per-user and
 * per-database values over the global ones) handed to timeouts.c, which
 * says which applies in the client's state and when; and what happens
 * when one passes.  (query_wait_notify's NOTICE to waiting clients is
 * here too, though not a deadline.)
 *
 * The lists of login, welcome, waiting and idle clients are in the order
 * their deadlines come (clients join at the tail when they enter a state),
 * so deadline_sweep(), on the janitor's tick (0.2 s), looks only at their
 * heads: no timer per client and nothing to re-arm per transaction.  The
 * login list holds two deadlines, the startup one usually the shorter; it
 * is in accept order, so the sweep walks it only as far as the shorter
 * timeout reaches back (clients older than that are few: logins take
 * milliseconds, and max_login_clients bounds them).
 * Active clients have no such order: when an active-state timeout is
 * configured, an active client gets its own timer, allocated once.
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
#include <stdio.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"
#include "pgweir/timeouts.h"

/* A per-user override if set, else the global value. */
static int64_t
user_timeout(const struct client *client, size_t user_off, int64_t global)
{
	/* the [users] entry of the name it logged in as, as in PgBouncer */
	const struct user_conf *uc = client && client->login_user ?
	    client->login_user->conf : NULL;

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
	const struct user_conf *uc = client->login_user->conf;

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

/* A client's state as timeouts.c knows it. */
static enum timeouts_phase
phase_of(const struct client *client)
{
	switch (client->state) {
	case CL_LOGIN:
		return TP_LOGIN;
	case CL_WELCOME:
		return TP_WELCOME;
	case CL_IDLE:
		return TP_IDLE;
	case CL_WAITING:
		return TP_WAITING;
	case CL_ACTIVE:
	case CL_CLOSED:
		break;
	}
	return TP_ACTIVE;
}

/*
 * The deadline that applies to a client now (monotonic usec), or 0:
 * timeouts.c's rule over its times and the timeouts in force for it.
 */
static int64_t
client_deadline(const struct client *client)
{
	const struct config *cfg = client->pw->cfg;
	const struct server *server = client->link;
	struct timeouts_in in;

	if (client->state == CL_CLOSED)
		return 0;
	in.phase = phase_of(client);
	in.in_startup = client->in_startup;
	in.replication = client->replication;
	in.request_pending = server != NULL && !rq_empty(&server->rq);
	in.in_transaction = server != NULL && server->tx_status != 'I';
	in.login_start = client->login_start;
	in.idle_since = client->idle_since;
	in.wait_start = client->wait_start;
	in.request_time = client->request_time;
	in.tx_start = client->tx_start;
	in.login_timeout = cfg->client_login_timeout;
	in.startup_timeout = cfg->client_startup_timeout;
	/* a client still logging in has no pool or user to ask yet */
	in.query_wait_timeout = client->pool != NULL &&
	    client->login_user != NULL ? query_wait_timeout(client) : 0;
	in.query_timeout = UTIMEOUT(client, query_timeout);
	in.client_idle_timeout = UTIMEOUT(client, client_idle_timeout);
	in.idle_transaction_timeout = UTIMEOUT(client,
	    idle_transaction_timeout);
	in.transaction_timeout = UTIMEOUT(client, transaction_timeout);
	return timeouts_next(&in).at;
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

static void client_deadline_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Arm an active client's timer for its nearest deadline, if that changed
 * (the other states are deadline_sweep()'s).  Cheap when no active-state
 * timeout is configured: one test.
 */
void
client_update_deadline(struct client *client)
{
	int64_t d, rel;
	struct timeval tv;

	if (!client->pw->timeouts_active && client->timer == NULL)
		return;
	d = client->state == CL_ACTIVE && client->pw->timeouts_active ?
	    client_deadline(client) : 0;
	if (d == client->deadline)
		return;
	client->deadline = d;
	if (d == 0) {
		if (client->timer != NULL)
			evtimer_del(client->timer);
		return;
	}
	if (client->timer == NULL) {
		client->timer = evtimer_new(client->pw->base,
		    client_deadline_cb, client);
		if (client->timer == NULL)
			return;
	}
	rel = d - pgweir_mono_usec();
	if (rel < 1000)
		rel = 1000;
	tv.tv_sec = (time_t)(rel / 1000000);
	tv.tv_usec = (suseconds_t)(rel % 1000000);
	evtimer_add(client->timer, &tv);
}

/* Free a client's timer (it closes). */
void
client_deadline_free(struct client *client)
{
	if (client->timer != NULL) {
		event_free(client->timer);
		client->timer = NULL;
	}
}

/* Close a client whose login, wait or idle deadline passed. */
static void
expire(struct client *client, int64_t now)
{
	switch (client->state) {
	case CL_WELCOME:
		if (passed(due(client->login_start, UTIMEOUT(client,
		    query_timeout)), now))
			client_close_error(client, SQLSTATE_QUERY_CANCELED,
			    "query_timeout");
		else if (passed(due(client->login_start,
		    query_wait_timeout(client)), now))
			client_close_error(client, SQLSTATE_QUERY_CANCELED,
			    "query_wait_timeout");
		else
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "client_login_timeout (server down)");
		return;
	case CL_LOGIN:
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    client->in_startup && passed(due(client->login_start,
		    client->pw->cfg->client_startup_timeout), now) ?
		    "client_startup_timeout (no complete startup packet)" :
		    "client_login_timeout");
		return;
	case CL_IDLE:
		client_close_error(client, SQLSTATE_IDLE_SESSION_TIMEOUT,
		    "client_idle_timeout");
		return;
	case CL_WAITING:
		client_close_error(client, SQLSTATE_QUERY_CANCELED,
		    passed(due(client->wait_start, query_wait_timeout(client)),
		    now) ? "query_wait_timeout" : "query_timeout");
		return;
	default:
		return;
	}
}

/*
 * Tell the clients of a pool that have waited query_wait_notify for a
 * server, once per wait, with a NOTICE (they go on waiting).  The waiting
 * list is in wait order, so the walk stops at the first that has not.
 */
static void
notify_waiters(struct pool *pool, int64_t notify, int64_t now)
{
	struct client *c, *next;
	char msg[160];

	TAILQ_FOREACH_SAFE(c, &pool->waiting_clients, entry, next) {
		if (!passed(due(c->wait_start, notify), now))
			break;
		if (c->wait_notified)
			continue;
		c->wait_notified = true;
		snprintf(msg, sizeof(msg), "No server connection available "
		    "in %.64s backend, client being queued", pool->db->name);
		proto_build_notice(io_wbuf(&c->io), "00000", msg);
		client_flush(c);
	}
}

/*
 * Close the clients whose login, wait or idle deadline passed, looking at
 * the head of each ordered list only (the login list as far back as its
 * shorter timeout reaches, and every waiting client when query_timeout
 * counts the wait too: a request may be older than its wait).  Runs on
 * the janitor's tick.
 */
void
deadline_sweep(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;
	int64_t now = pgweir_mono_usec();
	int64_t first = earlier(cfg->client_startup_timeout,
	    cfg->client_login_timeout);
	struct client *c, *next;
	struct pool *pool;

	/* no login client's deadline comes before login_start + first */
	TAILQ_FOREACH_SAFE(c, &pw->login_clients, entry, next) {
		if (!passed(due(c->login_start, first), now))
			break;
		if (passed(client_deadline(c), now))
			expire(c, now);
	}
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db->admin)
			continue;
		TAILQ_FOREACH_SAFE(c, &pool->welcome_clients, entry, next)
			if (passed(client_deadline(c), now))
				expire(c, now);
		if (cfg->query_wait_notify > 0)
			notify_waiters(pool, cfg->query_wait_notify, now);
		c = TAILQ_FIRST(&pool->waiting_clients);
		if (c != NULL && UTIMEOUT(c, query_timeout) > 0) {
			TAILQ_FOREACH_SAFE(c, &pool->waiting_clients, entry,
			    next)
				if (passed(client_deadline(c), now))
					expire(c, now);
		} else {
			while ((c = TAILQ_FIRST(&pool->waiting_clients)) !=
			    NULL && passed(client_deadline(c), now))
				expire(c, now);
		}
		while ((c = TAILQ_FIRST(&pool->idle_clients)) != NULL &&
		    passed(client_deadline(c), now))
			expire(c, now);
	}
}

/* An active client's timer fired: close it for the deadline that passed. */
static void
client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *client = arg;
	const struct server *server = client->link;
	int64_t now = pgweir_mono_usec();

	(void)fd;
	(void)what;
	client->deadline = 0;
	if (client->state != CL_ACTIVE || server == NULL)
		return;
	if (passed(due(client->tx_start, UTIMEOUT(client,
	    transaction_timeout)), now))
		client_close_error(client, SQLSTATE_IDLE_IN_TX_TIMEOUT,
		    "transaction timeout");
	else if (client_deadline(client) > now + 20000)
		client_update_deadline(client);	/* not yet */
	else if (!rq_empty(&server->rq))
		/*
		 * the server is cancelled and cleaned on release; PgBouncer's
		 * words for a query that ran too long (a request that waited
		 * too long says "query_timeout", with the underscore)
		 */
		client_close_error(client, SQLSTATE_QUERY_CANCELED,
		    "query timeout");
	else if (server->tx_status != 'I')
		client_close_error(client, SQLSTATE_IDLE_IN_TX_TIMEOUT,
		    "idle transaction timeout");
	else
		client_close_error(client, SQLSTATE_IDLE_SESSION_TIMEOUT,
		    "client_idle_timeout");
}
