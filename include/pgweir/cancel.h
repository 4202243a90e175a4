/* pgweir: forwarding cancel requests to PostgreSQL. */
#ifndef PGWEIR_CANCEL_H
#define PGWEIR_CANCEL_H

#include <stdint.h>
#include <sys/socket.h>

struct pgweir;

int cancel_forward(struct pgweir *pw, const struct sockaddr *sa,
    socklen_t salen, uint32_t pid, uint32_t key);

#endif
