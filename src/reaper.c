/* SPDX-License-Identifier: ISC */
/*
 * The reaper: closed clients and servers are freed after the callbacks
 * that closed them have returned, so that none of them is left holding a
 * freed connection.  Runtime, below the core: it frees what client.c and
 * server.c closed through the functions they hand it (pgweir_reaper_init),
 * and what happens next (a shutdown that may be complete) is
 * pw->after_reap, set by the layer that knows.
 */
#include "config.h"

#include <event2/event.h>

#include "pgweir/client.h"
#include "pgweir/pgweir.h"
#include "pgweir/server.h"

/* Set the reaper up: its event, and how closed connections are freed. */
void
pgweir_reaper_init(struct pgweir *pw, void (*free_client)(struct client *),
    void (*free_server)(struct server *))
{
	pw->free_client = free_client;
	pw->free_server = free_server;
	event_assign(&pw->reap_ev, pw->base, -1, 0, pgweir_reap_cb, pw);
}

/* Free closed connections once no callback can still be using them. */
void
pgweir_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgweir *pw = arg;
	struct client *client;
	struct server *server;

	(void)fd;
	(void)what;
	pw->reap_scheduled = false;
	while ((client = TAILQ_FIRST(&pw->dead_clients)) != NULL) {
		TAILQ_REMOVE(&pw->dead_clients, client, entry);
		pw->free_client(client);
	}
	while ((server = TAILQ_FIRST(&pw->dead_servers)) != NULL) {
		TAILQ_REMOVE(&pw->dead_servers, server, entry);
		pw->free_server(server);
	}
	if (pw->after_reap != NULL)
		pw->after_reap(pw);
}

/* Ask the reaper to run after the current callbacks. */
void
pgweir_schedule_reap(struct pgweir *pw)
{
	if (!pw->reap_scheduled) {
		pw->reap_scheduled = true;
		event_active(&pw->reap_ev, EV_TIMEOUT, 0);
	}
}
