/* SPDX-License-Identifier: ISC */
/*
 * target_session_attrs as libpq defines it, decided from what PostgreSQL
 * 14 and later report at login (in_hot_standby,
 * default_transaction_read_only), so the check costs no round trip.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "pgweir/targetattrs.h"

static const char *const names[] = {
	[TA_ANY] = "any",
	[TA_READ_WRITE] = "read-write",
	[TA_READ_ONLY] = "read-only",
	[TA_PRIMARY] = "primary",
	[TA_STANDBY] = "standby",
	[TA_PREFER_STANDBY] = "prefer-standby",
};

int
targetattrs_parse(const char *text, enum target_attrs *out)
{
	for (int i = TA_ANY; i <= TA_PREFER_STANDBY; i++) {
		if (strcasecmp(text, names[i]) == 0) {
			*out = (enum target_attrs)i;
			return 0;
		}
	}
	return -1;
}

const char *
targetattrs_name(enum target_attrs ta)
{
	return ta >= TA_ANY && ta <= TA_PREFER_STANDBY ? names[ta] : "?";
}

const char *
targetattrs_role_name(enum host_role role)
{
	switch (role) {
	case HOST_PRIMARY:
		return "primary";
	case HOST_PRIMARY_READ_ONLY:
		return "primary (read-only)";
	case HOST_STANDBY:
		return "standby";
	case HOST_DOWN:
		return "unreachable";
	case HOST_UNKNOWN:
		break;
	}
	return "unknown";
}

enum host_role
targetattrs_role_of(const char *in_hot_standby,
    const char *default_transaction_read_only)
{
	if (in_hot_standby == NULL)
		return HOST_UNKNOWN;
	if (strcmp(in_hot_standby, "on") == 0)
		return HOST_STANDBY;
	if (default_transaction_read_only != NULL &&
	    strcmp(default_transaction_read_only, "on") == 0)
		return HOST_PRIMARY_READ_ONLY;
	return HOST_PRIMARY;
}

bool
targetattrs_accepts(enum target_attrs ta, enum host_role role,
    bool last_resort)
{
	switch (ta) {
	case TA_ANY:
		return true;
	case TA_READ_WRITE:
		return role == HOST_PRIMARY;
	case TA_READ_ONLY:
		return role == HOST_STANDBY || role == HOST_PRIMARY_READ_ONLY;
	case TA_PRIMARY:
		return role == HOST_PRIMARY || role == HOST_PRIMARY_READ_ONLY;
	case TA_STANDBY:
		return role == HOST_STANDBY;
	case TA_PREFER_STANDBY:
		/* a server that did not say (before PostgreSQL 14) only
		 * as a last resort, like a primary */
		return role == HOST_STANDBY || last_resort;
	}
	return false;
}

/* Whether a host is worth a try: up, and its role fits or is not known. */
static bool
worth_trying(enum target_attrs ta, enum host_role role)
{
	if (role == HOST_DOWN)
		return false;
	return role == HOST_UNKNOWN || targetattrs_accepts(ta, role, false);
}

bool
targetattrs_any_worth_trying(enum target_attrs ta,
    const enum host_role *roles, int n)
{
	for (int i = 0; i < n; i++)
		if (worth_trying(ta, roles[i]))
			return true;
	return false;
}

int
targetattrs_pick_host(enum target_attrs ta, const enum host_role *roles,
    int n, unsigned *cursor, bool advance)
{
	int start;

	if (n <= 1)
		return 0;
	start = (int)(*cursor % (unsigned)n);
	for (int i = 0; i < n; i++) {
		int h = (start + i) % n;
		if (worth_trying(ta, roles[h])) {
			*cursor = advance ? (unsigned)h + 1 : (unsigned)h;
			return h;
		}
	}
	/*
	 * None: the next host that is up, each retry another (a standby
	 * about to be promoted is more likely to serve soon than a host that
	 * refused connections); if all are down, the next one.
	 */
	for (int i = 0; i < n; i++) {
		int h = (start + i) % n;
		if (roles[h] != HOST_DOWN) {
			*cursor = (unsigned)h + 1;
			return h;
		}
	}
	*cursor = (unsigned)start + 1;
	return start;
}
