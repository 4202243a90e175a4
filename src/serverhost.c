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
 *
 * This module keeps the host states and says what they mean; it never
 * calls into the core: server.c and serverlogin.c act on its answers
 * (back off the pool, close the server, log the primary's moves).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/clock.h"
#include "pgweir/config.h"
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
bool
serverhost_some_worth_trying(const struct database *db)
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
 * host at once; what the pool should do (server.c does it) is said only
 * when no host is worth a try.  Called before the server is closed.
 */
enum host_failure
serverhost_unreachable(struct server *server)
{
	struct database *db = server->pool->db;

	if (host_states(db) && server->host < db->n_host_states) {
		db->host_roles[server->host] = HOST_DOWN;
		db->host_down_until[server->host] = pgweir_mono_usec() +
		    server->pw->cfg->server_login_retry;
		if (serverhost_some_worth_trying(db))
			return HOST_TRY_NEXT;
		if (db->conf->target_session_attrs != TA_ANY &&
		    some_host_misfits(db))
			return HOST_NONE_FITS;
	}
	return HOST_ALL_DOWN;
}

/*
 * A server's host has this role (at login, or reported since): the
 * database remembers it, and where its primary is.  PRIMARY_FOUND or
 * PRIMARY_MOVED (with the previous primary's host in *was) when that
 * changed, for the caller's log line.
 */
enum primary_news
serverhost_note_role(struct server *server, enum host_role role, int *was)
{
	struct database *db = server->pool->db;

	server->role = role;
	if (!host_states(db) || server->host >= db->n_host_states)
		return PRIMARY_SAME;
	db->host_roles[server->host] = role;
	if (role != HOST_PRIMARY && role != HOST_PRIMARY_READ_ONLY)
		return PRIMARY_SAME;
	*was = db->primary_host;
	if (*was == server->host)
		return PRIMARY_SAME;
	db->primary_host = server->host;
	if (*was < 0 || *was >= db->conf->n_hosts)
		return PRIMARY_FOUND;
	db->primary_switches++;
	return PRIMARY_MOVED;
}
