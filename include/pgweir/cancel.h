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

/*
 * Peering (peer_id, [peers]), in PgBouncer's layout so that mixed fleets
 * work: the peer id is in bytes 1-2 of the pid a client is given, the
 * two low bits of its key count the hops a cancel may still make.
 */
#define CANCEL_TTL_MASK 0x03u
uint32_t cancel_pid_encode(int peer_id, uint32_t slot);
uint32_t cancel_pid_slot(int peer_id, uint32_t pid);
int cancel_pid_peer(uint32_t pid);
void cancel_to_peer(struct pgweir *pw, int peer_id, uint32_t pid,
    uint32_t key);
int cancel_count_to_peer(const struct pgweir *pw, int peer_id);
void cancel_free_all(struct pgweir *pw);

#endif
