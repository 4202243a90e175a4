/* pgweir: moving messages between a linked client and server. */
#ifndef PGWEIR_RELAY_H
#define PGWEIR_RELAY_H

#include <stddef.h>

#include "pgweir/config.h"

struct client;
struct server;
/* Output past this stops reading from the other side... */
#define RELAY_OUT_HIGH (256 * 1024)
/* ...until it drains below this. */
#define RELAY_OUT_LOW (32 * 1024)
/* Input a client may buffer while it has no server. */
#define RELAY_IN_UNLINKED_MAX (256 * 1024)

/* The least read: smaller ones cost system calls and help no one. */
#define RELAY_READ_MIN (32 * 1024)

/*
 * Bytes read from one connection per loop turn, before the other ready
 * connections get theirs: PgBouncer's sbuf_loopcnt reads of pkt_buf (0:
 * no limit but the relay's own output bound), but not less than
 * RELAY_READ_MIN (PgBouncer's defaults give 20 KB; reading 32 KB served
 * 2 MB results 12% faster).  One read asks for all of it.
 */
static inline size_t
relay_read_size(const struct config *cfg)
{
	size_t n = (size_t)cfg->pkt_buf * (size_t)cfg->sbuf_loopcnt;

	if (cfg->sbuf_loopcnt == 0)
		return RELAY_OUT_HIGH;
	return n > RELAY_READ_MIN ? n : RELAY_READ_MIN;
}

void relay_client(struct client *client);
void relay_server(struct server *server);

#endif
