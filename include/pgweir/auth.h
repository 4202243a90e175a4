/* pgweir: client authentication. */
#ifndef PGWEIR_AUTH_H
#define PGWEIR_AUTH_H

struct client;

void auth_start(struct client *client);
void auth_handle_input(struct client *client);
void auth_free(struct client *client);

#endif
