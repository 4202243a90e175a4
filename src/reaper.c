/* SPDX-License-Identifier: ISC */
/*
 * The reaper: closed clients and servers are freed after the callbacks
 * that closed them have returned, so that none of them is left holding a
 * freed connection.  Core: it frees what client.c and server.c closed;
 * what happens next (a shutdown that may be complete) is pw->after_reap,
 * set by the layer that knows.
 */
#include "config.h"

#include <event2/event.h>

#include "pgweir/client.h"
#include "pgweir/pgweir.h"
#include "pgweir/server.h"

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
		client_free(client);
	}
	while ((server = TAILQ_FIRST(&pw->dead_servers)) != NULL) {
		TAILQ_REMOVE(&pw->dead_servers, server, entry);
		server_free(server);
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
