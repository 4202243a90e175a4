/* pgweir: client authentication. */
#ifndef PGWEIR_AUTH_H
#define PGWEIR_AUTH_H

struct client;
struct pgweir;

void auth_start(struct client *client);
void auth_handle_input(struct client *client);
void auth_free(struct client *client);
void auth_register(struct pgweir *pw);

#endif
