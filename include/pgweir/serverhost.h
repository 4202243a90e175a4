/*
 * pgweir: which host of a database's list a new server connection uses,
 * and what pgweir knows of each host (reachable, primary or standby), so
 * that target_session_attrs holds and a failover is followed without a
 * configuration change.
 */
#ifndef PGWEIR_SERVERHOST_H
#define PGWEIR_SERVERHOST_H

#include <stdbool.h>

#include "pgweir/targetattrs.h"

struct database;
struct server;

int serverhost_pick(struct database *db);
void serverhost_unreachable(struct server *server, const char *sqlstate,
    const char *message);
bool serverhost_accept_login(struct server *server, const char *in_hot_standby,
    const char *default_transaction_read_only);
void serverhost_on_hot_standby(struct server *server, const char *value);
void serverhost_forget(struct database *db);
enum host_role serverhost_role(const struct database *db, int host);

#endif
