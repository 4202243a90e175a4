/* SPDX-License-Identifier: ISC */
/*
 * The hosts of a database's list, as server connections find them.
 *
 * Each host has a state: what its last login said (primary, primary
 * read-only, standby: PostgreSQL 14 and later report in_hot_standby and
 * default_transaction_read_only at login), or that it could not be
 * reached (until server_login_retry has passed).  A new server takes the
 * next host worth a try (targetattrs_pick_host); a host that cannot be
 * reached, or whose role does not fit the database's
 * target_session_attrs, sends the next launch to the next host at once,
 * and only when no host of the list is worth a try does the pool back
 * off: server_login_retry when every host is down, half a second when
 * some are up but none fits (a failover under way: the primary gone, a
 * standby about to be promoted).  A server whose host changes role while
 * it is open (in_hot_standby turns off on promotion) is retired at its
 * next release if it no longer fits.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"

/* The per-host states, sized to the list (serverhost_forget empties them). */
static bool
host_states(struct database *db)
{
	int n = db->conf->n_hosts;

	if (n <= 1)
		return false;
	if (db->n_host_states == n)
		return true;
	serverhost_forget(db);
	db->host_roles = calloc((size_t)n, sizeof(*db->host_roles));
	db->host_down_until = calloc((size_t)n, sizeof(*db->host_down_until));
	db->n_host_states = db->host_roles && db->host_down_until ? n : 0;
	return db->n_host_states == n;
}

/* A down host is worth another try once server_login_retry has passed. */
static void
expire_down_hosts(struct database *db, int64_t now)
{
	for (int i = 0; i < db->n_host_states; i++)
		if (db->host_roles[i] == HOST_DOWN &&
		    now >= db->host_down_until[i])
			db->host_roles[i] = HOST_UNKNOWN;
}

/*
 * Which entry of the database's host list a new server uses: the next one
 * worth a try each time (round-robin), or the same one until it fails or
 * misfits (disable), as PgBouncer's load_balance_hosts says.
 */
int
serverhost_pick(struct database *db)
{
	const struct db_conf *conf = db->conf;

	if (!host_states(db)) {
		if (conf->n_hosts <= 1)
			return 0;
		/* out of memory: the list in turn, as if nothing were known */
		return (int)(db->host_next++ % (unsigned)conf->n_hosts);
	}
	expire_down_hosts(db, pgweir_mono_usec());
	return targetattrs_pick_host(conf->target_session_attrs,
	    db->host_roles, db->n_host_states, &db->host_next,
	    conf->load_balance_hosts != LB_DISABLE);
}

/*
 * Empty the per-host states: the database's entry changed at a reload
 * (other hosts, ports or target_session_attrs), so what was known of its
 * hosts no longer holds; or the database is freed.
 */
void
serverhost_forget(struct database *db)
{
	free(db->host_roles);
	free(db->host_down_until);
	db->host_roles = NULL;
	db->host_down_until = NULL;
	db->n_host_states = 0;
	db->primary_host = -1;
}

enum host_role
serverhost_role(const struct database *db, int host)
{
	if (host < 0 || host >= db->n_host_states)
		return HOST_UNKNOWN;
	return db->host_roles[host];
}

/* Whether some host of the list is worth a try now. */
static bool
some_host_worth_trying(const struct database *db)
{
	return db->n_host_states > 1 && targetattrs_any_worth_trying(
	    db->conf->target_session_attrs, db->host_roles,
	    db->n_host_states);
}

/* Whether some host is up and only its role stands in the way. */
static bool
some_host_misfits(const struct database *db)
{
	for (int i = 0; i < db->n_host_states; i++)
		if (db->host_roles[i] != HOST_DOWN &&
		    db->host_roles[i] != HOST_UNKNOWN)
			return true;
	return false;
}

/*
 * PostgreSQL could not be reached at this server's host.  With a host
 * list, the host is marked down and the next launch goes to the next
 * host at once; the pool backs off (pool_server_failed) only when no
 * host is worth a try.  Called before the server is closed.
 */
void
serverhost_unreachable(struct server *server, const char *sqlstate,
    const char *message)
{
	struct database *db = server->pool->db;

	if (host_states(db) && server->host < db->n_host_states) {
		db->host_roles[server->host] = HOST_DOWN;
		db->host_down_until[server->host] = pgweir_mono_usec() +
		    server->pw->cfg->server_login_retry;
		if (some_host_worth_trying(db))
			return;
		if (db->conf->target_session_attrs != TA_ANY &&
		    some_host_misfits(db)) {
			pool_server_misfit(server->pool, message);
			return;
		}
	}
	pool_server_failed(server->pool, sqlstate, message);
}

/* Record where the primary is, with a line when it moved. */
static void
note_primary(struct server *server)
{
	struct database *db = server->pool->db;
	const struct db_conf *conf = db->conf;
	int was = db->primary_host;

	if (was == server->host)
		return;
	db->primary_host = server->host;
	if (was < 0 || was >= conf->n_hosts)
		server_log(server, LOG_LVL_LOG, "primary of database %s is "
		    "%s:%d", db->name, conf->hosts[server->host],
		    conf->ports[server->host]);
	else {
		db->primary_switches++;
		server_log(server, LOG_LVL_LOG, "primary of database %s "
		    "moved from %s:%d to %s:%d", db->name, conf->hosts[was],
		    conf->ports[was], conf->hosts[server->host],
		    conf->ports[server->host]);
	}
}

/* The role a server's host has now: what the database knows, and where
 * the primary is. */
static void
note_role(struct server *server, enum host_role role)
{
	struct database *db = server->pool->db;

	server->role = role;
	if (!host_states(db) || server->host >= db->n_host_states)
		return;
	db->host_roles[server->host] = role;
	if (role == HOST_PRIMARY || role == HOST_PRIMARY_READ_ONLY)
		note_primary(server);
}

/*
 * A server's login is done: whether it serves its database's
 * target_session_attrs.  If not, it is closed and the next launch goes to
 * the next host worth a try; when none is, the pool looks again soon
 * (pool_server_misfit), and prefer-standby takes what it has.
 */
bool
serverhost_accept_login(struct server *server, const char *in_hot_standby,
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
	note_role(server, role);
	others = some_host_worth_trying(db);
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
 * ParameterStatus in_hot_standby while the server is open: PostgreSQL
 * reports the change when a standby is promoted.  A server that no longer
 * fits is retired when it is released.
 */
void
serverhost_on_hot_standby(struct server *server, const char *value)
{
	enum host_role role = targetattrs_role_of(value,
	    server->login_read_only ? "on" : "off");
	enum target_attrs ta = server->pool->db->conf->target_session_attrs;

	if (role == server->role || server->repl_client != NULL)
		return;
	server_log(server, LOG_LVL_LOG, "server is now %s "
	    "(in_hot_standby=%s)", targetattrs_role_name(role), value);
	note_role(server, role);
	if (!targetattrs_accepts(ta, role, false))
		server->close_needed = true;
}
