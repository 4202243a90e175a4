/* pgweir: socket options for client and server connections. */
#ifndef PGWEIR_SOCKOPT_H
#define PGWEIR_SOCKOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct config;

void sockopt_tune(int fd, sa_family_t family, const struct config *cfg);
size_t sockopt_write_bound(const struct config *cfg);
bool sockopt_peer_is_self(int fd, sa_family_t family);
void sockopt_tune_listener(int fd, sa_family_t family,
    const struct config *cfg);
int sockaddr_of_host(const char *host, const char *unix_dir, int port,
    struct sockaddr_storage *ss, socklen_t *len);

#endif
