/*
 * pgweir: target_session_attrs, libpq's rule for which server of a host
 * list a connection may use (primary or standby, read-write or read-only),
 * and the choice of the host a new server connection tries.  Pure: the
 * server's role comes in, a decision goes out.
 */
#ifndef PGWEIR_TARGETATTRS_H
#define PGWEIR_TARGETATTRS_H

#include <stdbool.h>

/* libpq's values of target_session_attrs. */
enum target_attrs {
	TA_ANY,
	TA_READ_WRITE,
	TA_READ_ONLY,
	TA_PRIMARY,
	TA_STANDBY,
	TA_PREFER_STANDBY,
};

/* What a server said at login about itself. */
enum host_role {
	HOST_UNKNOWN,		/* not connected yet, or forgotten */
	HOST_PRIMARY,		/* in_hot_standby = off, writable */
	/* a primary with default_transaction_read_only on */
	HOST_PRIMARY_READ_ONLY,
	HOST_STANDBY,		/* in_hot_standby = on */
	HOST_DOWN,		/* the last connect or login to it failed */
};

int targetattrs_parse(const char *text, enum target_attrs *out);
const char *targetattrs_name(enum target_attrs ta);
const char *targetattrs_role_name(enum host_role role);

/* The role from the login's in_hot_standby and default_transaction_read_only
 * (NULL when the server did not report it: PostgreSQL 13 and older). */
enum host_role targetattrs_role_of(const char *in_hot_standby,
    const char *default_transaction_read_only);

/*
 * Whether a server of this role serves a connection with these attributes.
 * `last_resort`: every other host of the list was tried and none fitted
 * (prefer-standby then takes a primary, as libpq does).
 */
bool targetattrs_accepts(enum target_attrs ta, enum host_role role,
    bool last_resort);

/*
 * Which host of a list of n a new server connection tries: from *cursor
 * on, the first that is not down and whose known role fits (or is not
 * known); if none, the next host that is up, or else the next one, in
 * turn (hosts come back and roles change: a failover).
 * With `advance` (load_balance_hosts = round-robin) the cursor moves past
 * the host picked, else it stays on it.
 */
/* Whether some host of the list is worth a try (up; role fits or unknown). */
bool targetattrs_any_worth_trying(enum target_attrs ta,
    const enum host_role *roles, int n);

int targetattrs_pick_host(enum target_attrs ta, const enum host_role *roles,
    int n, unsigned *cursor, bool advance);

#endif
