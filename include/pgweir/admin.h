/* pgweir: the admin console, a virtual database reached with psql. */
#ifndef PGWEIR_ADMIN_H
#define PGWEIR_ADMIN_H

#include <stdbool.h>

struct pgweir;
struct client;
struct database;

/* What a console user may do. */
enum admin_rights {
	ADMIN_NONE,
	ADMIN_STATS,		/* stats_users: SHOW (but FDS) */
	ADMIN_ALL,		/* admin_users, or pgweir's own account */
};

int admin_register(struct pgweir *pw);
void admin_handle_input(struct client *client);
void admin_check_pending(struct pgweir *pw);
void admin_pause_all(struct pgweir *pw);
int admin_resume(struct pgweir *pw, struct database *target);

#endif
