/* pgweir: forwarding cancel requests to PostgreSQL. */
#ifndef PGWEIR_CANCEL_H
#define PGWEIR_CANCEL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

struct pgweir;
struct server;

/* Cancel requests in flight to one server's backend (server->cancels). */
struct cancel;
TAILQ_HEAD(cancel_list, cancel);

int cancel_forward(struct pgweir *pw, const struct sockaddr *sa,
    socklen_t salen, uint32_t pid, uint32_t key, struct server *server);
void cancel_detach(struct cancel_list *list);
void cancel_free_all(struct pgweir *pw);

#endif
