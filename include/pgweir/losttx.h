/*
 * pgweir: a transaction lost with its server.  In transaction and
 * statement pooling, a client idle inside a transaction whose server goes
 * away (the primary failed) keeps its connection: its next request learns
 * that the transaction is gone, and until it ends the transaction it is
 * answered as PostgreSQL answers an aborted one; then it gets a fresh
 * server for its next transaction.
 */
#ifndef PGWEIR_LOSTTX_H
#define PGWEIR_LOSTTX_H

#include <stdbool.h>
#include <stddef.h>

#include "pgweir/config.h"

struct client;
struct pq_header;
struct server;

/* What losttx_on_message did with the message. */
enum losttx_step {
	LOSTTX_DONE,		/* answered (or dropped): go on to the next */
	LOSTTX_ENDED,		/* ...and that ended the lost transaction */
	LOSTTX_WAIT,		/* the rest of the message is still coming */
};

bool losttx_keep_client(const struct client *client,
    const struct server *server, enum pool_mode mode);
void losttx_begin(struct client *client);
enum losttx_step losttx_on_message(struct client *client,
    const struct pq_header *hdr, size_t avail);
bool losttx_is_end_statement(const char *sql);

#endif
