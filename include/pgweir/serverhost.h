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

/* What a host that could not be reached means for its pool. */
enum host_failure {
	HOST_TRY_NEXT,		/* another host is worth a try now */
	HOST_NONE_FITS,		/* some are up, none fits: look again soon */
	HOST_ALL_DOWN,		/* back off for server_login_retry */
};

/* What a server's role says of where the primary is. */
enum primary_news {
	PRIMARY_SAME,		/* nothing new */
	PRIMARY_FOUND,		/* the first primary seen */
	PRIMARY_MOVED,		/* another host than before */
};

int serverhost_pick(struct database *db);
enum host_failure serverhost_unreachable(struct server *server);
enum primary_news serverhost_note_role(struct server *server,
    enum host_role role, int *was);
bool serverhost_some_worth_trying(const struct database *db);
void serverhost_forget(struct database *db);
enum host_role serverhost_role(const struct database *db, int host);

#endif
