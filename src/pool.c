/* SPDX-License-Identifier: ISC */
/*
 * Pools: one per (database, user), with its clients and servers on lists
 * by state, its limits and its wait queue.
 *
 * The rules live here: who gets the next free server (the client that has
 * waited longest; a server becoming free goes to it later in the same loop
 * turn, from the ready queue), when a new
 * server connection is opened (only for a waiter, within the pool's
 * size), when a server goes back (pool_release, by pool mode), and what
 * clients see when no server comes: while PostgreSQL is unreachable they
 * wait, within their wait timeout, as pgweir retries; a login PostgreSQL
 * refuses fails them at once with its own error.
 * pool_link/pool_unlink are the only writers of the client<->server link.
 *
 * The core's call rules (client, server, serverlogin, pool, relay,
 * prepared, deadline, cancel: the one cycle the layers allow):
 * - a connection's state changes only through client_set_state() and
 *   server_set_state(), closing included; its memory is freed only by the
 *   reaper, after the callbacks that closed it;
 * - the relay takes a server (pool_acquire) and gives it back
 *   (pool_release) only at message boundaries;
 * - a server that comes free or closes puts its pool on the ready queue
 *   (pool_schedule_dispatch) instead of serving a waiter from inside the
 *   callback that freed it, so one client's relay pass never runs another
 *   client's; only the same client, whose next request is already in its
 *   input, goes on at once when its transaction ends (pool_release);
 * - calls up out of the core (console, login handler, lifecycle) go
 *   through the function pointers in struct pgweir.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/poolrules.h"
#include "pgweir/proto.h"
#include "pgweir/random.h"
#include "pgweir/relay.h"
#include "pgweir/scram.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"
#include "pgweir/stats.h"

/* Shortest pause between failed server connects, whatever the config. */
#define LAUNCH_BACKOFF_MIN (200 * 1000)
/*
 * After no host of a list fit target_session_attrs: a failover is under
 * way (the primary gone, a standby not promoted yet), so look again soon,
 * not after server_login_retry; a look is one login to a standby.
 */
#define MISFIT_RETRY (500 * 1000)

/* Make a runtime database for a config entry (conf stays in cfg). */
static struct database *
database_new(struct pgweir *pw, const char *name, struct db_conf *conf,
    bool auto_db)
{
	struct database *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return NULL;
	db->name = strdup(name);
	if (db->name == NULL) {
		free(db);
		return NULL;
	}
	db->conf = conf;
	db->auto_db = auto_db;
	db->primary_host = -1;
	db->cfg = config_ref(pw->cfg);
	db->last_used = pgweir_mono_usec();
	TAILQ_INSERT_TAIL(&pw->databases, db, entry);
	return db;
}

/* Copy the "*" entry for a database name it stands in for. */
static struct db_conf *
autodb_conf(const struct db_conf *fallback, const char *name)
{
	struct db_conf *conf = calloc(1, sizeof(*conf));
	char err[256];

	if (conf == NULL)
		return NULL;
	if (dbconf_parse(conf, name, fallback->conninfo, err,
	    sizeof(err)) < 0) {
		dbconf_free(conf);
		free(conf);
		return NULL;
	}
	if (conf->dbname == NULL)
		conf->dbname = strdup(name);
	return conf;
}

/* The settings of the console's virtual database. */
static struct db_conf *
admin_db_conf(const char *name)
{
	struct db_conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		return NULL;
	conf->name = strdup(name);
	conf->conninfo = strdup("");
	conf->pool_size = 0;
	conf->min_pool_size = conf->reserve_pool_size = CONF_UNSET;
	conf->max_db_connections = conf->max_db_client_connections =
	    CONF_UNSET;
	conf->pool_mode = POOL_STATEMENT;
	conf->server_lifetime = conf->query_wait_timeout = CONF_UNSET;
	if (conf->name == NULL || conf->conninfo == NULL) {
		dbconf_free(conf);
		free(conf);
		return NULL;
	}
	return conf;
}

/* The runtime database of that name if one exists (none is made). */
static struct database *
pool_lookup_database(struct pgweir *pw, const char *name)
{
	struct database *db;

	TAILQ_FOREACH(db, &pw->databases, entry)
		if (strcmp(db->name, name) == 0)
			return db->removed ? NULL : db;
	return NULL;
}

/*
 * The database a client asks for: a [databases] entry, or one made from
 * the "*" entry; NULL when neither exists (or it was removed at reload).
 */
struct database *
pool_find_database(struct pgweir *pw, const char *name)
{
	struct database *db;
	const struct db_conf *conf;
	struct db_conf *copy;

	TAILQ_FOREACH(db, &pw->databases, entry) {
		if (strcmp(db->name, name) == 0) {
			if (db->removed)
				return NULL;
			db->last_used = pgweir_mono_usec();
			return db;
		}
	}
	if (pgweir_is_console_db(pw, name)) {
		copy = admin_db_conf(name);
		db = copy ? database_new(pw, name, copy, true) : NULL;
		if (db != NULL)
			db->admin = true;
		return db;
	}
	conf = config_find_db(pw->cfg, name);
	if (conf != NULL)
		return database_new(pw, name, (struct db_conf *)conf, false);
	if (pw->cfg->fallback_db == NULL)
		return NULL;
	copy = autodb_conf(pw->cfg->fallback_db, name);
	if (copy == NULL)
		return NULL;
	db = database_new(pw, name, copy, true);
	if (db == NULL) {
		dbconf_free(copy);
		free(copy);
		return NULL;
	}
	log_info("registered new auto-database: %s", name);
	return db;
}

/* The runtime record of a login user name. */
struct user *
pool_find_user(struct pgweir *pw, const char *name, bool create)
{
	struct user *user;

	TAILQ_FOREACH(user, &pw->users, entry)
		if (strcmp(user->name, name) == 0)
			return user;
	if (!create)
		return NULL;
	user = calloc(1, sizeof(*user));
	if (user == NULL || (user->name = strdup(name)) == NULL) {
		free(user);
		return NULL;
	}
	user->conf = config_find_user(pw->cfg, name);
	TAILQ_INSERT_TAIL(&pw->users, user, entry);
	return user;
}

/* Remember a user's SCRAM keys for logging in to servers as that user. */
void
pool_user_set_scram_keys(struct user *user, const uint8_t *client_key,
    const uint8_t *server_key)
{
	memcpy(user->scram_client_key, client_key, 32);
	memcpy(user->scram_server_key, server_key, 32);
	user->has_scram_keys = true;
}

/* The pool of (database, user); created on first use when asked. */
struct pool *
pool_find(struct pgweir *pw, struct database *db, struct user *user,
    bool create)
{
	struct pool *pool;
	const char *server_user;

	TAILQ_FOREACH(pool, &pw->pools, entry)
		if (pool->db == db && pool->user == user)
			return pool;
	if (!create)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	server_user = db->conf->user ? db->conf->user : user->name;
	pool->server_user = strdup(server_user);
	if (pool->server_user == NULL) {
		free(pool);
		return NULL;
	}
	pool->stats = calloc(1, sizeof(*pool->stats));
	if (pool->stats == NULL) {
		free(pool->server_user);
		free(pool);
		return NULL;
	}
	pool->pw = pw;
	pool->db = db;
	pool->user = user;
	pool_resolve_settings(pool, pw->cfg);
	db->n_pools++;
	user->n_pools++;
	TAILQ_INIT(&pool->welcome_clients);
	TAILQ_INIT(&pool->idle_clients);
	TAILQ_INIT(&pool->waiting_clients);
	TAILQ_INIT(&pool->active_clients);
	TAILQ_INIT(&pool->connecting_servers);
	TAILQ_INIT(&pool->idle_servers);
	TAILQ_INIT(&pool->active_servers);
	TAILQ_INIT(&pool->tested_servers);
	TAILQ_INSERT_TAIL(&pw->pools, pool, entry);
	return pool;
}

/* Free a pool that has no clients and no servers left. */
static void
pool_free(struct pool *pool)
{
	TAILQ_REMOVE(&pool->pw->pools, pool, entry);
	if (pool->on_ready)
		TAILQ_REMOVE(&pool->pw->ready_pools, pool, ready_entry);
	pool->db->n_pools--;
	pool->user->n_pools--;
	for (int i = 0; i < pool->n_welcome_params; i++) {
		free(pool->welcome[i].name);
		free(pool->welcome[i].value);
	}
	free(pool->welcome);
	varset_release(&pool->pw->vars, pool->defaults);
	free(pool->server_user);
	free(pool->stats);
	free(pool->last_error_sqlstate);
	free(pool->last_error_message);
	free(pool);
}

/* An int override: the user's, else the database's, else the global. */
static int
cascade(const struct user_conf *uc, size_t user_off, const struct db_conf *dc,
    size_t db_off, int global)
{
	if (uc != NULL && user_off != SIZE_MAX &&
	    *(const int *)((const char *)uc + user_off) != CONF_UNSET)
		return *(const int *)((const char *)uc + user_off);
	if (db_off != SIZE_MAX &&
	    *(const int *)((const char *)dc + db_off) != CONF_UNSET)
		return *(const int *)((const char *)dc + db_off);
	return global;
}

#define NO_KEY SIZE_MAX
#define USER_KEY(k) offsetof(struct user_conf, k)
#define DB_KEY(k) offsetof(struct db_conf, k)

/*
 * Resolve the pool's settings from cfg (its database's entry is already
 * the one of cfg).  PgBouncer's precedence: the user's value, else the
 * database's, else the global one; with a forced user, the database's
 * pool_size wins over the user's.
 */
void
pool_resolve_settings(struct pool *pool, const struct config *cfg)
{
	const struct user_conf *uc = pool->user->conf;
	const struct db_conf *dc = pool->db->conf;
	struct pool_settings *set = &pool->set;

	set->mode = cascade(uc, USER_KEY(pool_mode), dc, DB_KEY(pool_mode),
	    cfg->pool_mode);
	if (dc->user != NULL && dc->pool_size != CONF_UNSET)
		set->size = dc->pool_size;
	else
		set->size = cascade(uc, USER_KEY(pool_size), dc,
		    DB_KEY(pool_size), cfg->default_pool_size);
	set->reserve = cascade(uc, USER_KEY(reserve_pool_size), dc,
	    DB_KEY(reserve_pool_size), cfg->reserve_pool_size);
	set->min_size = cascade(uc, NO_KEY, dc, DB_KEY(min_pool_size),
	    cfg->min_pool_size);
	set->db_limit = cascade(uc, NO_KEY, dc, DB_KEY(max_db_connections),
	    cfg->max_db_connections);
	set->user_limit = cascade(uc, USER_KEY(max_user_connections), dc,
	    NO_KEY, cfg->max_user_connections);
	set->server_lifetime = dc->server_lifetime != CONF_UNSET ?
	    dc->server_lifetime : cfg->server_lifetime;
}

/* The pool mode in force: user's, else database's, else global. */
int
pool_mode_of(const struct pool *pool)
{
	return pool->set.mode;
}

/* Most server connections of this pool (0: no limit). */
static int
pool_size_of(const struct pool *pool)
{
	return pool->set.size;
}

/* All server connections of the pool, in any state. */
static int
pool_total_servers(const struct pool *pool)
{
	return pool->n_connecting + pool->n_idle_servers +
	    pool->n_active_servers + pool->n_tested;
}

/* Whether a recent connect or login failure says "not yet again". */
static bool
pool_in_backoff(const struct pool *pool)
{
	int64_t retry = pool->pw->cfg->server_login_retry;

	if (pool->last_error_time == 0)
		return false;
	if (pool->last_error_misfit && retry > MISFIT_RETRY)
		retry = MISFIT_RETRY;
	else if (!pool->last_error_refused && pool->retry_delay > 0)
		retry = pool->retry_delay;	/* unreachable: the breaker's */
	if (retry < LAUNCH_BACKOFF_MIN)
		retry = LAUNCH_BACKOFF_MIN;
	return pgweir_mono_usec() - pool->last_error_time < retry;
}

/*
 * Make room under a database or user cap by closing an idle server of
 * another pool that shares it.  PgBouncer waits for such a server to time
 * out; closing it at once serves the waiting pool without delay.
 */
static bool
pool_evict_idle(struct pool *pool, bool same_db)
{
	struct pool *other;
	bool kicking;

	TAILQ_FOREACH(other, &pool->pw->pools, entry) {
		/* the one idle longest (the list's newest are first) */
		struct server *victim = TAILQ_LAST(&other->idle_servers,
		    server_list);
		if (other == pool || victim == NULL)
			continue;
		if (same_db ? other->db != pool->db : other->user != pool->user)
			continue;
		/* no kicks from this close: the caller is taking the room */
		kicking = pool->pw->kicking;
		pool->pw->kicking = true;
		/* PgBouncer's word, which its users' alerts look for */
		server_close(victim, "evicted");
		pool->pw->kicking = kicking;
		return true;
	}
	return false;
}

/* The counts poolrules.c decides on, as they are now. */
static void
pool_load_of(const struct pool *pool, struct pool_load *l)
{
	const struct client *oldest = TAILQ_FIRST(&pool->waiting_clients);

	l->size = pool->set.size;
	l->reserve = pool->set.reserve;
	/* the clock and the timeout only when the answer depends on them */
	l->oldest_wait = -1;
	l->reserve_timeout = 0;
	if (oldest != NULL && l->reserve > 0) {
		l->oldest_wait = pgweir_mono_usec() - oldest->wait_start;
		l->reserve_timeout = pool->pw->cfg->reserve_pool_timeout;
	}
	l->servers = pool_total_servers(pool);
	l->db_servers = pool->db->n_servers;
	l->db_limit = pool->set.db_limit;
	l->user_servers = pool->user->n_servers;
	l->user_limit = pool->set.user_limit;
}

/*
 * Whether the pool may open one more server connection now.  For clients
 * that wait (may_evict), an idle server of another pool is closed to make
 * room under a database or user cap, at most one per cap and call (a cap
 * lowered by a reload below the servers open is met as they are released,
 * not by emptying other pools at once); never to keep min_pool_size.
 */
static bool
pool_has_room(struct pool *pool, bool may_evict)
{
	bool evicted_db = false, evicted_user = false;
	struct pool_load l;

	for (;;) {
		pool_load_of(pool, &l);
		switch (poolrules_room(&l)) {
		case ROOM_FREE:
			return true;
		case ROOM_POOL_FULL:
			return false;
		case ROOM_DB_FULL:
			if (!may_evict || evicted_db ||
			    !pool_evict_idle(pool, true))
				return false;
			evicted_db = true;
			break;
		case ROOM_USER_FULL:
			if (!may_evict || evicted_user ||
			    !pool_evict_idle(pool, false))
				return false;
			evicted_user = true;
			break;
		}
	}
}

/* The waiting client at this place in the queue (0: the oldest), or NULL. */
static struct client *
pool_waiter_at(const struct pool *pool, int place)
{
	struct client *c;

	TAILQ_FOREACH(c, &pool->waiting_clients, entry)
		if (place-- == 0)
			return c;
	return NULL;
}

/*
 * Idle servers taken for server_check_query: each comes back to serve a
 * waiter within server_connect_timeout, or closes.  A server being
 * cleaned after its client does not count: that may take as long as
 * cancel_wait_timeout.
 */
static int
pool_checking_servers(const struct pool *pool)
{
	const struct server *s;
	int n = 0;

	TAILQ_FOREACH(s, &pool->tested_servers, entry)
		n += s->just_checked;
	return n;
}

/*
 * Open server connections for clients that need one: one per waiting
 * client not already covered by a connection in progress, within the
 * pool's size and the database and user caps; one for clients waiting
 * for the pool's first login.
 */
static void
pool_launch_if_needed(struct pool *pool)
{
	int coming;

	if (pool->db->paused || pool->pw->shutdown == SHUTDOWN_NOW ||
	    pool_in_backoff(pool))
		return;
	if (pool->welcome == NULL && pool->n_welcome > 0 &&
	    pool->n_connecting == 0) {
		if (pool_has_room(pool, true))
			server_launch(pool, NULL);
		return;
	}
	/* servers logging in or running the check query come soon */
	coming = pool->n_connecting + pool_checking_servers(pool);
	while (pool->n_waiting > coming && pool_has_room(pool, true)) {
		struct client *waiter = pool_waiter_at(pool, coming);
		struct pool_load l;

		/* PgBouncer's words, once per server of the reserve */
		pool_load_of(pool, &l);
		if (poolrules_from_reserve(&l))
			client_log(TAILQ_FIRST(&pool->waiting_clients),
			    LOG_LVL_WARNING, "taking connection from "
			    "reserve_pool");
		if (server_launch(pool, waiter) == NULL)
			return;
		coming++;
	}
}

/*
 * The next idle server to hand out, or NULL.  One whose backend is gone
 * is closed, not handed out.  One idle longer than server_check_delay
 * first runs server_check_query (it comes back through pool_server_ready
 * when the check passed, or is closed if not); a server fresh from its
 * login needs no check.
 */
static struct server *
pool_take_idle(struct pool *pool)
{
	const struct config *cfg = pool->pw->cfg;
	struct server *server;

	/*
	 * The most recently used first (PgBouncer's default), so that the
	 * others stay idle and server_idle_timeout can close them; in turn
	 * with server_round_robin.  Released servers join at the head.
	 */
	while ((server = cfg->server_round_robin ?
	    TAILQ_LAST(&pool->idle_servers, server_list) :
	    TAILQ_FIRST(&pool->idle_servers)) != NULL) {
		if (!server_idle_usable(server))
			continue;
		if (server->just_checked || cfg->server_check_query[0] ==
		    '\0' || pgweir_mono_usec() - server->idle_since <
		    cfg->server_check_delay)
			return server;
		server_start_check(server);
	}
	return NULL;
}


/* What a client gets while the pool's server logins fail. */
static void
pool_fail_client(struct pool *pool, struct client *client)
{
	char msg[512];

	/* PgBouncer's words, with PostgreSQL's error and its SQLSTATE */
	snprintf(msg, sizeof(msg), "server login has been failing, cached "
	    "error: %s (server_login_retry)", pool->last_error_message);
	client_close_error(client, pool->last_error_sqlstate, msg);
}

/*
 * The breaker opens: PostgreSQL has been unreachable for
 * server_login_fail_fast.  The clients waiting get the last error now, as do
 * new requests until a login succeeds; logins go on, every
 * server_login_retry.  One line for the change, not one per try.
 */
static void
pool_breaker_open(struct pool *pool, const char *message)
{
	struct client *client;

	pool->breaker_open = true;
	log_warning("pool %s/%s: server logins have failed for %lld s (%s): "
	    "requests fail at once until one succeeds", pool->db->name,
	    pool->user->name, (long long)((pgweir_mono_usec() -
	    pool->unreachable_since) / 1000000), message);
	while ((client = TAILQ_FIRST(&pool->welcome_clients)) != NULL)
		pool_fail_client(pool, client);
	while ((client = TAILQ_FIRST(&pool->waiting_clients)) != NULL)
		pool_fail_client(pool, client);
}

/* A server logged in: the failures in a row are over. */
static void
pool_logins_succeed(struct pool *pool)
{
	pool->last_error_time = 0;
	pool->unreachable_count = 0;
	pool->retry_delay = 0;
	if (pool->breaker_open)
		log_info("pool %s/%s: server logins succeed again",
		    pool->db->name, pool->user->name);
	pool->breaker_open = false;
}

/*
 * Whether a client's login or request fails at once (and closes it): the
 * pool's last login was refused less than server_login_retry ago and no
 * server of the pool is left, so waiting would only end in the same
 * error.  An unreachable PostgreSQL is waited for instead, unless the
 * breaker is open (unreachable for server_login_fail_fast already).  Once the
 * wait before the next try is over, a request waits for that try.
 */
static bool
pool_fails_fast(struct pool *pool, struct client *client)
{
	if (pool_total_servers(pool) > 0 || pool->last_error_message == NULL ||
	    !(pool->last_error_refused || pool->breaker_open) ||
	    !pool_in_backoff(pool))
		return false;
	pool_fail_client(pool, client);
	return true;
}

/*
 * A replication client gets a server of its own, opened with its startup
 * parameters and never shared, within the pool's size and caps; when the
 * pool is full it closes an idle server of the pool (PgBouncer does the
 * same), or waits, still logging in, for a server of the pool to close.
 */
static void
pool_replication_launch(struct pool *pool, struct client *client)
{
	struct server *idle;

	if (!pool_has_room(pool, true)) {
		idle = TAILQ_LAST(&pool->idle_servers, server_list);
		if (idle != NULL)
			server_close(idle, "evicted");
		if (idle == NULL || !pool_has_room(pool, true)) {
			if (!client->repl_waiting)
				pool->n_repl_waiting++;
			client->repl_waiting = true;
			return;
		}
	}
	if (client->repl_waiting) {
		client->repl_waiting = false;
		pool->n_repl_waiting--;
	}
	/* NULL: it failed at once, and closed the client with it */
	client->repl_server = server_launch(pool, client);
}

/* Replication clients waiting for room: one server each, while it lasts. */
static void
pool_replication_resume(struct pool *pool)
{
	struct client *client, *next;

	if (pool->repl_resuming)
		return;		/* a close inside a launch: the loop goes on */
	pool->repl_resuming = true;
	TAILQ_FOREACH_SAFE(client, &pool->pw->login_clients, entry, next) {
		if (pool->n_repl_waiting == 0 || !pool_has_room(pool, false))
			break;
		if (client->pool == pool && client->repl_waiting)
			pool_replication_launch(pool, client);
	}
	pool->repl_resuming = false;
}

/*
 * A replication client's server has logged in: link the two for as long
 * as they both live.
 */
void
pool_replication_ready(struct server *server)
{
	struct client *client = server->repl_client;

	server->repl_client = NULL;
	client->repl_server = NULL;
	pool_logins_succeed(server->pool);
	server_set_state(server, SV_ACTIVE);
	client->link = server;
	server->link = client;
	client_finish_replication(client, server);
}

/* A replication client leaves before its server is linked to it. */
void
pool_replication_forget(struct client *client)
{
	struct server *server = client->repl_server;

	if (client->repl_waiting) {
		client->repl_waiting = false;
		client->pool->n_repl_waiting--;
	}
	if (server != NULL) {
		client->repl_server = NULL;
		server->repl_client = NULL;
		server_close(server, "replication client left");
	}
}

/*
 * A client has authenticated: finish its login now if the pool knows the
 * server's parameters, else once the first server connection is up.
 */
void
pool_client_login(struct pool *pool, struct client *client)
{
	if (pool->db->admin) {
		pool->pw->console->login(client);
		return;
	}
	if (client->replication != PQ_REPL_NONE) {
		pool_replication_launch(pool, client);
		return;
	}
	if (pool->welcome != NULL) {
		client_finish_login(client);
		return;
	}
	if (pool_fails_fast(pool, client))
		return;
	client_set_state(client, CL_WELCOME);
	pool_launch_if_needed(pool);
}

/*
 * max_wait_clients and max_expected_wait: a request that would join too
 * long a queue fails at once (53300), rather than waiting into
 * query_wait_timeout while it holds a connection and a place.  The
 * expected wait counts the servers the pool may have (its size), or
 * those it has when it has no size.
 */
static bool
pool_refuses_waiter(struct pool *pool, struct client *client)
{
	const struct config *cfg = pool->pw->cfg;
	char msg[256];

	if (cfg->max_wait_clients > 0 &&
	    pool->n_waiting >= cfg->max_wait_clients) {
		snprintf(msg, sizeof(msg), "too many clients waiting for a "
		    "server (max_wait_clients = %d)", cfg->max_wait_clients);
	} else if (cfg->max_expected_wait > 0) {
		int size = pool_size_of(pool);
		uint64_t wait = stats_expected_wait(pool->stats,
		    pool->n_waiting, size > 0 ? size :
		    pool_total_servers(pool));
		if (wait <= (uint64_t)cfg->max_expected_wait)
			return false;
		snprintf(msg, sizeof(msg), "the wait for a server would be "
		    "about %.1f s (max_expected_wait = %.1f s)",
		    (double)wait / 1e6, (double)cfg->max_expected_wait / 1e6);
	} else {
		return false;
	}
	client_close_error(client, SQLSTATE_TOO_MANY_CONNECTIONS, msg);
	return true;
}

/*
 * The client has a request: link it to a free server now (true), or put
 * it at the end of the wait queue (false).  Strictly first come, first
 * served: a free server is never taken past a waiting client.
 */
bool
pool_acquire(struct pool *pool, struct client *client)
{
	struct server *server = NULL;

	if (pool->n_waiting == 0 && !pool->db->paused)
		server = pool_take_idle(pool);
	if (server != NULL) {
		pool_link(client, server);
		return client->link != NULL;
	}
	if (client->state == CL_WAITING) {
		/*
		 * More bytes of a request that already waits (a large one
		 * arrives in many reads): it keeps its place, as every waiter
		 * does through a failed connect, until query_wait_timeout.
		 */
		pool_launch_if_needed(pool);
		return false;
	}
	if (pool->pw->shutdown == SHUTDOWN_WAIT_SERVERS) {
		/* the shutdown keeps every pool paused: no server comes */
		client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "server shutting down");
		return false;
	}
	if (pool_refuses_waiter(pool, client))
		return false;
	client->wait_start = pgweir_mono_usec();
	client->wait_notified = false;
	client_set_state(client, CL_WAITING);
	if (pool_fails_fast(pool, client))
		return false;
	pool_launch_if_needed(pool);
	return false;
}

/*
 * Link a client to an idle server.  If the client's session parameters
 * differ from the server's, a set_config() query goes first; its answers
 * are swallowed by the relay.
 */
void
pool_link(struct client *client, struct server *server)
{
	struct pgweir *pw = client->pw;

	uint64_t waited = 0;

	if (client->state == CL_WAITING) {
		int64_t w = pgweir_mono_usec() - client->wait_start;
		waited = w > 0 ? (uint64_t)w : 0;
	}
	/* immediate links count too: the wait percentiles include them */
	client->pool->stats->total.server_assignment_count++;
	client->pool->stats->total.wait_time += waited;
	stats_record(client->pool->stats, LAT_WAIT, waited);
	client->link = server;
	server->link = client;
	server->just_checked = false;
	client_set_state(client, CL_ACTIVE);
	server_set_state(server, SV_ACTIVE);
	if (client->vars != server->vars) {
		struct evbuffer *sql = evbuffer_new();
		int n = sql ? varset_build_sync_query(&pw->vars, client->vars,
		    server->vars, sql) : -1;
		if (n > 0 && log_enabled(LOG_LVL_DEBUG)) {
			/* PgBouncer's words, which its users grep for */
			char what[512];
			varset_describe_diff(&pw->vars, client->vars,
			    server->vars, what, sizeof(what));
			client_log(client, LOG_LVL_DEBUG, "varcache_apply: %s",
			    what);
		}
		if (n > 0) {
			evbuffer_add(sql, "", 1);
			/* sent with the request that made the link */
			server_queue_internal(server,
			    (const char *)evbuffer_pullup(sql, -1));
		}
		if (sql)
			evbuffer_free(sql);
		if (n < 0) {
			client_close(client, "out of memory");
			return;
		}
		if (server->state == SV_CLOSED)
			return;
		/* assume success; ParameterStatus answers refine it */
		varset_release(&pw->vars, server->vars);
		server->vars = varset_ref(client->vars);
	}
}

/*
 * Cut the link between a client and its server (both stay where they
 * are).  A server that stopped reading because this client was slow reads
 * again: it still owes answers to its cleanup, and has no client now.
 */
void
pool_unlink(struct client *client, struct server *server)
{
	client->link = NULL;
	server->link = NULL;
	if (server->read_paused) {
		server->read_paused = false;
		if (!server->pw->suspended)
			io_set_read(&server->io, true);
	}
}

/*
 * The client is done with its server (end of transaction, end of
 * statement, or the client left).  The server is cleaned and made idle,
 * and goes to the next waiter; a client with more requests queues again.
 */
void
pool_release(struct server *server)
{
	struct client *client = server->link;
	int mode = pool_mode_of(server->pool);

	if (client == NULL)
		return;
	pool_unlink(client, server);
	if (server->replication != PQ_REPL_NONE) {
		/* a replication session is its client's alone, and ends */
		server_close(server, "replication client left");
		if (client->state != CL_CLOSED)
			client_close(client, "replication server closed");
		return;
	}
	if (client->state != CL_CLOSED)
		client_set_state(client, CL_IDLE);
	if (mode == POOL_SESSION || server->pw->cfg->server_reset_query_always)
		server->reset_pending = true;
	server_settle(server);
	if (client->state == CL_IDLE && client->pw->draining)
		/* a drain: its transaction is over, and so is it */
		client_close_error(client, SQLSTATE_ADMIN_SHUTDOWN,
		    DRAIN_MESSAGE);
	else if (client->state == CL_IDLE &&
	    (io_in_pending(&client->io) > 0 || client->read_paused))
		relay_client(client);
}

static void pool_kick_related(struct pool *pool);
static void pool_schedule_dispatch(struct pool *pool);

/* Whether two pools share the database's (or the user's) cap. */
static bool
same_group(const struct pool *a, const struct pool *b, bool by_db)
{
	return by_db ? a->db == b->db : a->user == b->user;
}

/*
 * Fair shares under a shared cap.  When the pools of a database (or of a
 * user) have filled max_db_connections (max_user_connections), a server
 * released in a pool that holds more than its fair share is closed if
 * another pool of the group, below its share, has clients waiting: that
 * pool opens one in its place.  Otherwise a busy pool would keep every
 * server for its own queue, and a small one would wait for the busy one
 * to run dry.  The needy pool with the longest-waiting client goes first;
 * it is put on the ready queue before the server closes, so that it, not
 * the busy pool, takes the room.
 */
static bool
pool_give_share(struct pool *pool, bool by_db)
{
	int limit = by_db ? pool->set.db_limit : pool->set.user_limit;
	int used = by_db ? pool->db->n_servers : pool->user->n_servers;
	struct pool *other, *needy = NULL;
	int competing = 0, share;

	if (limit <= 0 || used < limit || pool->n_idle_servers == 0)
		return false;
	TAILQ_FOREACH(other, &pool->pw->pools, entry)
		if (same_group(other, pool, by_db) && (other->n_waiting > 0 ||
		    pool_total_servers(other) > 0))
			competing++;
	share = poolrules_fair_share(limit, competing);
	if (pool_total_servers(pool) <= share)
		return false;
	TAILQ_FOREACH(other, &pool->pw->pools, entry) {
		if (other == pool || !same_group(other, pool, by_db) ||
		    other->n_waiting == 0 || pool_total_servers(other) >= share)
			continue;
		if (needy == NULL ||
		    TAILQ_FIRST(&other->waiting_clients)->wait_start <
		    TAILQ_FIRST(&needy->waiting_clients)->wait_start)
			needy = other;
	}
	if (needy == NULL)
		return false;
	pool_schedule_dispatch(needy);
	/* PgBouncer's word for a server closed to make room */
	server_close(TAILQ_LAST(&pool->idle_servers, server_list), "evicted");
	return true;
}

/* The pools on the ready queue get their turn: dispatch, then kicks. */
static void
pool_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgweir *pw = arg;
	struct pool *pool;

	(void)fd;
	(void)what;
	while ((pool = TAILQ_FIRST(&pw->ready_pools)) != NULL) {
		TAILQ_REMOVE(&pw->ready_pools, pool, ready_entry);
		pool->on_ready = false;
		while (pool_give_share(pool, true) ||
		    pool_give_share(pool, false))
			;
		pool_dispatch(pool);
		if (pool->n_idle_servers > 0)
			pool_kick_related(pool);
	}
}

/*
 * Give the pool's idle servers to its waiters later in this loop turn,
 * not from inside the callback that freed or closed a server: the relay
 * of one client then never runs inside the relay of another.  FIFO stays
 * exact: a server that came free stays idle until then, and a client that
 * arrives meanwhile queues behind the waiters (pool_acquire takes an idle
 * server only when nobody waits).
 */
static void
pool_schedule_dispatch(struct pool *pool)
{
	struct pgweir *pw = pool->pw;

	if (pool->on_ready)
		return;
	if (!pw->ready_ev_set) {
		TAILQ_INIT(&pw->ready_pools);
		event_assign(&pw->ready_ev, pw->base, -1, 0, pool_ready_cb,
		    pw);
		pw->ready_ev_set = true;
	}
	pool->on_ready = true;
	TAILQ_INSERT_TAIL(&pw->ready_pools, pool, ready_entry);
	event_active(&pw->ready_ev, EV_TIMEOUT, 0);
}

/* Give idle servers to waiting clients, oldest waiter first. */
void
pool_dispatch(struct pool *pool)
{
	while (pool->n_waiting > 0 && !pool->db->paused) {
		/* the server first: taking it may close dead ones, and
		 * serve waiters from there */
		struct server *server = pool_take_idle(pool);
		struct client *client = TAILQ_FIRST(&pool->waiting_clients);

		if (server == NULL || client == NULL)
			break;
		pool_link(client, server);
		if (client->state == CL_ACTIVE)
			relay_client(client);
	}
	pool_launch_if_needed(pool);
}

/*
 * Pools that share a database or user cap with this one and have clients
 * waiting (for a request, or for the pool's first server to log in) may
 * now take this pool's idle server (they close it to make room).  Not
 * re-entered: a kick inside a kick waits for the janitor.
 */
static void
pool_kick_related(struct pool *pool)
{
	struct pgweir *pw = pool->pw;
	struct pool *other;

	if (pw->kicking || (pool->set.db_limit == 0 &&
	    pool->set.user_limit == 0))
		return;
	pw->kicking = true;
	TAILQ_FOREACH(other, &pw->pools, entry) {
		if (other != pool && (other->n_waiting > 0 ||
		    other->n_welcome > 0) &&
		    (other->db == pool->db || other->user == pool->user))
			pool_dispatch(other);
	}
	pw->kicking = false;
}

/*
 * A server became usable (first login, or cleaned after use).  Clients
 * waiting for the pool's parameters can finish logging in; then the
 * server goes to the first waiter.
 */
void
pool_server_ready(struct server *server)
{
	struct pool *pool = server->pool;
	struct client *client;

	if (server->state == SV_CONNECTING) {
		server_set_state(server, SV_IDLE);
		pool_logins_succeed(pool);	/* the server is back */
	}
	while ((client = TAILQ_FIRST(&pool->welcome_clients)) != NULL)
		client_finish_login(client);
	/* the common case (nobody waits, no shared cap) costs no event */
	if (pool->n_waiting > 0 || pool->set.db_limit > 0 ||
	    pool->set.user_limit > 0)
		pool_schedule_dispatch(pool);
	else
		pool_launch_if_needed(pool);
}

/*
 * Servers of the pool that will serve again: not those marked to close
 * (RECONNECT, a changed config), which go when their client lets go.
 */
static int
pool_usable_servers(const struct pool *pool)
{
	const struct server_list *lists[] = { &pool->connecting_servers,
		&pool->idle_servers, &pool->active_servers,
		&pool->tested_servers };
	const struct server *server;
	int n = 0;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		TAILQ_FOREACH(server, lists[i], entry)
			n += !server->close_needed;
	return n;
}

/* Remember a failed connect or login, for server_login_retry. */
static void
pool_note_failure(struct pool *pool, const char *sqlstate,
    const char *message, bool refused)
{
	free(pool->last_error_sqlstate);
	free(pool->last_error_message);
	pool->last_error_sqlstate = strdup(sqlstate);
	pool->last_error_message = strdup(message);
	pool->last_error_time = pgweir_mono_usec();
	pool->last_error_refused = refused;
	pool->last_error_misfit = false;
}

/*
 * PostgreSQL could not be reached (connect refused or timed out, host
 * name not found, the connection closed during login: a restart).  The
 * pool waits server_login_retry before the next try; clients logging in
 * or waiting keep waiting, within their wait timeout, and are served as
 * soon as PostgreSQL is back.  Called before the failed server is closed.
 */
void
pool_server_failed(struct pool *pool, const char *sqlstate,
    const char *message)
{
	const struct config *cfg = pool->pw->cfg;
	int64_t now = pgweir_mono_usec();
	uint32_t rnd = 0;

	pool_note_failure(pool, sqlstate, message, false);
	if (pool->unreachable_count++ == 0)
		pool->unreachable_since = now;
	(void)random_take(&pool->pw->random, &rnd, sizeof(rnd));
	pool->retry_delay = poolrules_retry_delay(pool->unreachable_count,
	    cfg->server_login_retry, rnd);
	if (!pool->breaker_open && cfg->server_login_fail_fast > 0 &&
	    pool->unreachable_count > 1 &&
	    now - pool->unreachable_since >= cfg->server_login_fail_fast)
		pool_breaker_open(pool, message);
}

/*
 * No host of the database's list is (now) what its target_session_attrs
 * asks for: clients keep waiting, within their wait timeout, and the pool
 * looks again after MISFIT_RETRY.  Called before the server is closed.
 */
void
pool_server_misfit(struct pool *pool, const char *message)
{
	pool_note_failure(pool, SQLSTATE_CANNOT_CONNECT, message, false);
	pool->last_error_misfit = true;
}

/*
 * PostgreSQL refused a server login (or pgweir could not answer its
 * authentication): a retry will not mend it soon.  If no other
 * server of the pool is alive, the clients logging in and waiting get
 * the error at once, as PgBouncer does, and so does each new request
 * for server_login_retry.  Not for 57P03 (starting up, shutting down):
 * that is PostgreSQL being unreachable for a moment.  Called before the
 * refused server is closed.
 */
void
pool_server_refused(struct pool *pool, const char *sqlstate,
    const char *message)
{
	struct client *client;
	bool transient = strcmp(sqlstate, SQLSTATE_CANNOT_CONNECT_NOW) == 0;

	pool_note_failure(pool, sqlstate, message, !transient);
	/* the refused server is not closed yet: it counts itself */
	if (transient || pool_usable_servers(pool) > 1)
		return;
	while ((client = TAILQ_FIRST(&pool->welcome_clients)) != NULL)
		client_close_error(client, sqlstate, message);
	while ((client = TAILQ_FIRST(&pool->waiting_clients)) != NULL)
		client_close_error(client, sqlstate, message);
}

/* A server of the pool closed: replace it if someone is waiting. */
void
pool_server_gone(struct pool *pool)
{
	if (pool->n_repl_waiting > 0)
		pool_replication_resume(pool);
	pool_schedule_dispatch(pool);
}

/*
 * Retire the servers of a database (NULL: of every database) whose
 * connection settings or address changed, or on RECONNECT: idle ones
 * close now, the others when they are released, so none is reused.
 */
void
pool_retire_servers(struct pgweir *pw, struct database *db,
    const char *reason)
{
	struct pool *pool;
	struct server *server, *next;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db->admin || (db != NULL && pool->db != db))
			continue;
		TAILQ_FOREACH_SAFE(server, &pool->idle_servers, entry, next)
			server_close(server, reason);
		TAILQ_FOREACH_SAFE(server, &pool->active_servers, entry,
		    next) {
			server->close_needed = true;
			server_fast_close(server);
		}
		TAILQ_FOREACH(server, &pool->tested_servers, entry)
			server->close_needed = true;
		TAILQ_FOREACH(server, &pool->connecting_servers, entry)
			server->close_needed = true;
		/* the pool must learn the new server's parameters */
		pool->last_error_time = 0;
	}
}

/*
 * Point runtime databases at a new config.  Databases whose server side
 * changed retire their servers; removed ones refuse new clients and go
 * away when their last client does.
 */
void
pool_reload(struct pgweir *pw, struct config *newcfg)
{
	struct database *db;
	struct user *user;
	struct pool *pool;

	pw->forced_pools_made = false;	/* the new config may add some */
	TAILQ_FOREACH(db, &pw->databases, entry) {
		struct db_conf *conf = NULL;
		bool owned = false;

		if (db->admin) {
			config_unref(db->cfg);
			db->cfg = config_ref(newcfg);
			continue;
		}
		if (db->auto_db) {
			if (newcfg->fallback_db != NULL &&
			    config_find_db(newcfg, db->name) == NULL) {
				conf = autodb_conf(newcfg->fallback_db,
				    db->name);
				owned = true;
			}
		} else {
			conf = (struct db_conf *)config_find_db(newcfg,
			    db->name);
		}
		if (conf == NULL) {
			if (!db->removed)
				log_info("database \"%s\" removed from the "
				    "configuration", db->name);
			db->removed = true;
			continue;
		}
		db->removed = false;
		if (!dbconf_same_server(db->conf, conf)) {
			pool_retire_servers(pw, db,
			    "database configuration changed");
			serverhost_forget(db);
		}
		if (db->auto_db) {
			dbconf_free(db->conf);
			free(db->conf);
		}
		db->conf = conf;
		db->auto_db = owned;
		config_unref(db->cfg);
		db->cfg = config_ref(newcfg);
	}
	TAILQ_FOREACH(user, &pw->users, entry)
		user->conf = config_find_user(newcfg, user->name);
	TAILQ_FOREACH(pool, &pw->pools, entry)
		pool_resolve_settings(pool, newcfg);
}

/* The configured lifetime of a pool's servers (usec). */
int64_t
pool_server_lifetime(const struct pool *pool)
{
	return pool->set.server_lifetime;
}

/* The pool's min_pool_size: database's, else global. */
static int
pool_min_size(const struct pool *pool)
{
	return pool->set.min_size;
}

/* Whether a pool has no client, and no server other than idle ones. */
static bool
pool_is_unused(const struct pool *pool)
{
	return pool->n_welcome + pool->n_idle_clients + pool->n_waiting +
	    pool->n_active_clients == 0 && pool->n_connecting +
	    pool->n_active_servers + pool->n_tested == 0;
}

/* Free a runtime user that no pool and no client uses any more. */
static void
user_free(struct pgweir *pw, struct user *user)
{
	TAILQ_REMOVE(&pw->users, user, entry);
	OPENSSL_cleanse(user->scram_client_key,
	    sizeof(user->scram_client_key));
	if (user->derived != NULL)
		OPENSSL_cleanse(user->derived, sizeof(*user->derived));
	free(user->derived);
	if (user->checked_password != NULL) {
		OPENSSL_cleanse(user->checked_password,
		    strlen(user->checked_password));
		free(user->checked_password);
	}
	free(user->name);
	free(user);
}

/* Free a database made from "*" (or removed) that nothing uses. */
static void
database_free(struct pgweir *pw, struct database *db)
{
	TAILQ_REMOVE(&pw->databases, db, entry);
	/* SHOW TOTALS never goes back */
	stats_add(&pw->retired, &db->retired);
	if (db->auto_db) {
		dbconf_free(db->conf);
		free(db->conf);
	}
	config_unref(db->cfg);
	serverhost_forget(db);
	free(db->name);
	free(db);
}

/*
 * Free what nobody uses: a pool of a "*" database with no client for
 * autodb_idle_timeout (its idle servers are closed first), any other pool
 * with no client and no server for pool_idle_timeout; then users left
 * with no pool, then databases made from the "*" entry or removed from
 * the config that have no pool left.  Counters stay on the database (and
 * then on pw), so totals never go back.  A pool is freed at the earliest
 * one tick after it became empty, once the reaper has freed every
 * connection that pointed at it.  Pools of a forced user kept warm by
 * min_pool_size stay.
 */
static void
pool_free_unused(struct pgweir *pw, int64_t now)
{
	struct pool *pool, *pnext;
	struct user *user, *unext;
	struct database *db, *dnext;

	TAILQ_FOREACH_SAFE(pool, &pw->pools, entry, pnext) {
		struct server *server, *snext;
		/* "*" pools give up their idle servers; others wait for them */
		bool auto_db = pool->db->auto_db && !pool->db->admin;
		int64_t idle = auto_db ? pw->cfg->autodb_idle_timeout :
		    pw->cfg->pool_idle_timeout;

		if (!pool_is_unused(pool) || (!auto_db &&
		    pool->n_idle_servers > 0) || (!auto_db && idle == 0) ||
		    (pool->db->conf->user != NULL && pool_min_size(pool) > 0)) {
			/* in use, kept, or kept warm for a forced user */
			pool->unused_since = 0;
			continue;
		}
		if (pool->unused_since == 0) {
			pool->unused_since = now;
			continue;
		}
		if (now - pool->unused_since < idle)
			continue;
		if (pool->n_idle_servers > 0) {
			/* freed on a later tick, once these are reaped */
			TAILQ_FOREACH_SAFE(server, &pool->idle_servers, entry,
			    snext)
				server_close(server, "pool unused for "
				    "autodb_idle_timeout");
			continue;
		}
		stats_add(&pool->db->retired, &pool->stats->total);
		pool_free(pool);
	}
	TAILQ_FOREACH_SAFE(user, &pw->users, entry, unext)
		if (user->n_pools == 0 && user->n_clients == 0 &&
		    user->n_servers == 0)
			user_free(pw, user);
	TAILQ_FOREACH_SAFE(db, &pw->databases, entry, dnext)
		if ((db->auto_db || db->removed) && !db->admin &&
		    db->n_pools == 0 && db->n_clients == 0 &&
		    db->n_servers == 0 && !db->paused && !db->disabled &&
		    !db->dns_pending)
			database_free(pw, db);
}

/* Free every pool, database and user (at exit, connections reaped). */
void
pool_free_all(struct pgweir *pw)
{
	struct pool *pool;
	struct database *db;
	struct user *user;

	while ((pool = TAILQ_FIRST(&pw->pools)) != NULL)
		pool_free(pool);
	if (pw->ready_ev_set)
		event_del(&pw->ready_ev);
	while ((db = TAILQ_FIRST(&pw->databases)) != NULL)
		database_free(pw, db);
	while ((user = TAILQ_FIRST(&pw->users)) != NULL)
		user_free(pw, user);
}

/*
 * Make the pools of [databases] entries with a forced user and a
 * min_pool_size, so that the janitor opens their servers before any
 * client comes (PgBouncer does the same).  Once per config: at startup
 * and after each reload; such pools are never freed while configured.
 */
static void
pool_make_forced(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;

	if (pw->forced_pools_made)
		return;
	pw->forced_pools_made = true;
	for (size_t i = 0; i < cfg->n_databases; i++) {
		const struct db_conf *conf = cfg->databases[i];
		int min = conf->min_pool_size != CONF_UNSET ?
		    conf->min_pool_size : cfg->min_pool_size;
		struct database *db;
		struct user *user;

		if (conf->user == NULL || min <= 0)
			continue;
		db = pool_lookup_database(pw, conf->name);
		if (db != NULL && db->n_pools > 0)
			continue;	/* made, or in use already */
		if (db == NULL)
			db = pool_find_database(pw, conf->name);
		user = pool_find_user(pw, conf->user, true);
		if (db == NULL || user == NULL ||
		    pool_find(pw, db, user, true) == NULL) {
			log_warning("out of memory for the pool of database "
			    "\"%s\"", conf->name);
			pw->forced_pools_made = false;	/* next tick */
		}
	}
}

/*
 * Periodic upkeep: close idle servers past server_idle_timeout (down to
 * min_pool_size) or server_lifetime, keep min_pool_size servers open for
 * pools that have clients or a forced user, and retry opening servers
 * for waiting clients (after a failure, or once the reserve applies).
 */
void
pool_janitor(struct pgweir *pw)
{
	struct pool *pool, *next;
	int64_t now = pgweir_mono_usec();
	const struct config *cfg = pw->cfg;

	pool_make_forced(pw);
	if (cfg->dns_zone_check_period > 0 && now - pw->dns_zone_checked >=
	    cfg->dns_zone_check_period) {
		/*
		 * PgBouncer polls the zones' SOA serials and looks the names
		 * up again when one changes; pgweir looks every cached name
		 * up again at its next connection (server_dns_cb retires the
		 * servers of a name whose address changed).
		 */
		struct database *db;
		TAILQ_FOREACH(db, &pw->databases, entry)
			db->dns_expires = 0;
		pw->dns_zone_checked = now;
	}
	TAILQ_FOREACH_SAFE(pool, &pw->pools, entry, next) {
		struct server *server, *snext;
		int min;

		if (pool->db->admin)
			continue;
		min = pool_min_size(pool);
		int64_t lifetime = pool_server_lifetime(pool);

		TAILQ_FOREACH_SAFE(server, &pool->idle_servers, entry,
		    snext) {
			if (now - server->created >= lifetime)
				server_close(server, "server lifetime over");
			else if (cfg->server_idle_timeout > 0 &&
			    now - server->idle_since >
			    cfg->server_idle_timeout &&
			    pool_total_servers(pool) > min)
				server_close(server, "server idle timeout");
		}
		/* retries after a failed connect, once backoff is over */
		if (pool->n_waiting > 0 || pool->n_welcome > 0)
			pool_dispatch(pool);
		if (min > 0 && !pool->db->paused && !pool_in_backoff(pool) &&
		    pw->shutdown == SHUTDOWN_NONE &&
		    (pool->db->conf->user != NULL || pool->n_idle_clients +
		    pool->n_active_clients + pool->n_waiting > 0)) {
			while (pool_total_servers(pool) < min &&
			    pool_has_room(pool, false))
				if (server_launch(pool, NULL) == NULL)
					break;
		}
	}
	pool_free_unused(pw, now);
}
