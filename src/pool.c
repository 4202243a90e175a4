/* SPDX-License-Identifier: ISC */
/*
 * Pools: one per (database, user), with its clients and servers on lists
 * by state, its limits and its wait queue.
 *
 * The rules live here: who gets the next free server (the client that has
 * waited longest; a server becoming free goes straight to it), when a new
 * server connection is opened (only for a waiter, within the pool's
 * size), when a server goes back (pool_release, by pool mode), and what
 * clients see when PostgreSQL cannot be reached (the backend's own error
 * at once, and for server_login_retry afterwards, never a hang).
 * pool_link/pool_unlink are the only writers of the client<->server link.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/server.h"

/* Shortest pause between failed server connects, whatever the config. */
#define LAUNCH_BACKOFF_MIN (200 * 1000)

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
	}
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
	TAILQ_INSERT_TAIL(&pw->users, user, entry);
	return user;
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
	pool->pw = pw;
	pool->db = db;
	pool->user = user;
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
void
pool_free(struct pool *pool)
{
	TAILQ_REMOVE(&pool->pw->pools, pool, entry);
	for (int i = 0; i < pool->n_welcome_params; i++) {
		free(pool->welcome[i].name);
		free(pool->welcome[i].value);
	}
	free(pool->welcome);
	varset_release(&pool->pw->vars, pool->defaults);
	free(pool->server_user);
	free(pool->last_error_sqlstate);
	free(pool->last_error_message);
	free(pool);
}

/* The [users] entry of the pool's login user, or NULL. */
static const struct user_conf *
pool_user_conf(const struct pool *pool)
{
	return config_find_user(pool->pw->cfg, pool->user->name);
}

/* The pool mode in force: user's, else database's, else global. */
int
pool_mode_of(const struct pool *pool)
{
	const struct user_conf *uc = pool_user_conf(pool);

	if (uc && uc->pool_mode != CONF_UNSET)
		return uc->pool_mode;
	if (pool->db->conf->pool_mode != CONF_UNSET)
		return pool->db->conf->pool_mode;
	return pool->pw->cfg->pool_mode;
}

/* Most server connections of this pool (0: no limit). */
int
pool_size_of(const struct pool *pool)
{
	const struct user_conf *uc = pool_user_conf(pool);

	if (uc && uc->pool_size != CONF_UNSET)
		return uc->pool_size;
	if (pool->db->conf->pool_size != CONF_UNSET)
		return pool->db->conf->pool_size;
	return pool->pw->cfg->default_pool_size;
}

/* All server connections of the pool, in any state. */
int
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
	if (retry < LAUNCH_BACKOFF_MIN)
		retry = LAUNCH_BACKOFF_MIN;
	return pgweir_mono_usec() - pool->last_error_time < retry;
}

/*
 * Open server connections for clients that need one: one per waiting
 * client not already covered by a connection in progress, within the
 * pool size; one for clients waiting for the pool's first login.
 */
static void
pool_launch_if_needed(struct pool *pool)
{
	int size = pool_size_of(pool);

	if (pool->db->paused || pool->pw->shutdown == SHUTDOWN_NOW ||
	    pool_in_backoff(pool))
		return;
	if (pool->welcome == NULL && pool->n_welcome > 0 &&
	    pool->n_connecting == 0) {
		server_launch(pool);
		return;
	}
	while (pool->n_waiting > pool->n_connecting &&
	    (size == 0 || pool_total_servers(pool) < size)) {
		if (server_launch(pool) == NULL)
			return;
	}
}

/*
 * A client has authenticated: finish its login now if the pool knows the
 * server's parameters, else once the first server connection is up.
 */
void
pool_client_login(struct pool *pool, struct client *client)
{
	if (pool->welcome != NULL) {
		client_finish_login(client);
		return;
	}
	if (pool_total_servers(pool) == 0 && pool_in_backoff(pool) &&
	    pool->last_error_message != NULL) {
		/* fail fast with the server's own error */
		client_close_error(client, pool->last_error_sqlstate,
		    pool->last_error_message);
		return;
	}
	client_set_state(client, CL_WELCOME);
	pool_launch_if_needed(pool);
}

/*
 * The client has a request: link it to a free server now (true), or put
 * it at the end of the wait queue (false).  Strictly first come, first
 * served: a free server is never taken past a waiting client.
 */
bool
pool_acquire(struct pool *pool, struct client *client)
{
	struct server *server = TAILQ_FIRST(&pool->idle_servers);

	if (server != NULL && pool->n_waiting == 0 && !pool->db->paused) {
		pool_link(client, server);
		return client->link != NULL;
	}
	if (client->state != CL_WAITING) {
		client->wait_start = pgweir_mono_usec();
		client_set_state(client, CL_WAITING);
	}
	if (pool_total_servers(pool) == 0 && pool_in_backoff(pool) &&
	    pool->last_error_message != NULL) {
		client_close_error(client, pool->last_error_sqlstate,
		    pool->last_error_message);
		return false;
	}
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

	client->link = server;
	server->link = client;
	client_set_state(client, CL_ACTIVE);
	server_set_state(server, SV_ACTIVE);
	if (client->vars != server->vars) {
		struct evbuffer *sql = evbuffer_new();
		int n = sql ? varset_build_sync_query(&pw->vars, client->vars,
		    server->vars, sql) : -1;
		if (n > 0) {
			evbuffer_add(sql, "", 1);
			server_send_internal(server,
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

/* Cut the link between a client and its server (both stay where they are). */
void
pool_unlink(struct client *client, struct server *server)
{
	client->link = NULL;
	server->link = NULL;
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
	if (client->state != CL_CLOSED)
		client_set_state(client, CL_IDLE);
	if (mode == POOL_SESSION || server->pw->cfg->server_reset_query_always)
		server->reset_pending = true;
	server_settle(server);
	if (client->state == CL_IDLE && io_in_pending(&client->io) > 0)
		relay_client(client);
}

/* Give idle servers to waiting clients, oldest waiter first. */
void
pool_dispatch(struct pool *pool)
{
	while (pool->n_waiting > 0 && pool->n_idle_servers > 0 &&
	    !pool->db->paused) {
		struct client *client = TAILQ_FIRST(&pool->waiting_clients);
		struct server *server = TAILQ_FIRST(&pool->idle_servers);

		pool_link(client, server);
		if (client->state == CL_ACTIVE)
			relay_client(client);
	}
	pool_launch_if_needed(pool);
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

	if (server->state == SV_CONNECTING)
		server_set_state(server, SV_IDLE);
	while ((client = TAILQ_FIRST(&pool->welcome_clients)) != NULL)
		client_finish_login(client);
	pool_dispatch(pool);
}

/*
 * A server connect or login failed.  Remember the error (new clients get
 * it at once for server_login_retry), and if no other server of the pool
 * is alive, fail everyone waiting: they would otherwise wait for nothing.
 * Called before the failed server is closed.
 */
void
pool_server_failed(struct pool *pool, const char *sqlstate,
    const char *message)
{
	struct client *client;
	int alive = pool_total_servers(pool) - 1;

	free(pool->last_error_sqlstate);
	free(pool->last_error_message);
	pool->last_error_sqlstate = strdup(sqlstate);
	pool->last_error_message = strdup(message);
	pool->last_error_time = pgweir_mono_usec();
	if (alive > 0)
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
	pool_dispatch(pool);
}

/* Close the idle servers of databases whose connection settings changed. */
static void
database_retire_servers(struct pgweir *pw, struct database *db)
{
	struct pool *pool;
	struct server *server, *next;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db != db)
			continue;
		TAILQ_FOREACH_SAFE(server, &pool->idle_servers, entry, next)
			server_close(server, "database changed at reload");
		TAILQ_FOREACH(server, &pool->active_servers, entry)
			server->close_needed = true;
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

	TAILQ_FOREACH(db, &pw->databases, entry) {
		struct db_conf *conf = NULL;
		bool owned = false;

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
		if (!dbconf_same_server(db->conf, conf))
			database_retire_servers(pw, db);
		if (db->auto_db) {
			dbconf_free(db->conf);
			free(db->conf);
		}
		db->conf = conf;
		db->auto_db = owned;
		config_unref(db->cfg);
		db->cfg = config_ref(newcfg);
	}
}

/* Periodic upkeep: retry launches after a failure, idle timeouts. */
void
pool_janitor(struct pgweir *pw)
{
	struct pool *pool, *next;
	int64_t now = pgweir_mono_usec();
	const struct config *cfg = pw->cfg;

	TAILQ_FOREACH_SAFE(pool, &pw->pools, entry, next) {
		struct server *server, *snext;

		TAILQ_FOREACH_SAFE(server, &pool->idle_servers, entry,
		    snext) {
			if (cfg->server_idle_timeout > 0 &&
			    now - server->idle_since >
			    cfg->server_idle_timeout)
				server_close(server, "server idle timeout");
			else if (cfg->server_lifetime > 0 &&
			    now - server->created > cfg->server_lifetime)
				server_close(server, "server lifetime over");
		}
		if (pool->n_waiting > 0)
			pool_dispatch(pool);
	}
}
