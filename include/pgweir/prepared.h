/* pgweir: protocol-level prepared statements in transaction mode. */
#ifndef PGWEIR_PREPARED_H
#define PGWEIR_PREPARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct server;
struct pool;
struct pgweir;
struct pq_header;
struct evbuffer;

/* What prepared_client_message() did with a message. */
enum ps_result {
	PS_PASS,	/* nothing: forward it as it is */
	PS_DONE,	/* handled: consumed, rewritten or answered */
	PS_WAIT,	/* more of the message must arrive first */
	PS_CLOSED,	/* the client was closed */
};

int prepared_init(struct pgweir *pw);
void prepared_fini(struct pgweir *pw);
bool prepared_pool_rewrites(const struct pool *pool);
bool prepared_is_on(const struct client *client);
enum ps_result prepared_client_message(struct client *client,
    struct server *server, const struct pq_header *hdr);
enum ps_result prepared_unlinked_message(struct client *client,
    const struct pq_header *hdr);
void prepared_entry_done(struct server *server, uint8_t type, void *data);
void prepared_entry_skipped(struct server *server, uint8_t type, void *data);
void prepared_emit_fakes(struct server *server);
void prepared_on_reset(struct server *server, struct client *client);
void prepared_on_sync(struct server *server);
void prepared_server_free(struct server *server);
void prepared_client_free(struct client *client);
size_t prepared_client_count(const struct client *client);
int prepared_client_export(const struct client *client, struct evbuffer *out);
int prepared_client_import(struct client *client, const uint8_t *p,
    size_t len);
size_t prepared_server_count(const struct server *server);
size_t prepared_registry_count(const struct pgweir *pw);

#endif
