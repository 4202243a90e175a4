/* pgweir: moving messages between a linked client and server. */
#ifndef PGWEIR_RELAY_H
#define PGWEIR_RELAY_H

struct client;
struct server;

/* Bytes asked of the kernel per read. */
#define RELAY_READ_SIZE (32 * 1024)
/* Output past this stops reading from the other side... */
#define RELAY_OUT_HIGH (256 * 1024)
/* ...until it drains below this. */
#define RELAY_OUT_LOW (32 * 1024)
/* Input a client may buffer while it has no server. */
#define RELAY_IN_UNLINKED_MAX (256 * 1024)

void relay_client(struct client *client);
void relay_server(struct server *server);

#endif
