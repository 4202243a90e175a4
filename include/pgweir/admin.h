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

bool admin_is_console(const struct pgweir *pw, const char *dbname);
enum admin_rights admin_rights_of(const struct client *client);
int admin_register(struct pgweir *pw);
int admin_authorize(struct client *client, const char *user, bool self);
void admin_login(struct client *client);
void admin_handle_input(struct client *client);
void admin_check_pending(struct pgweir *pw);
void admin_client_closed(struct client *client);
void admin_pause_all(struct pgweir *pw);
int admin_resume(struct pgweir *pw, struct database *target);

#endif
