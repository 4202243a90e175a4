/* pgweir: a peer's address in compact form. */
#ifndef PGWEIR_ADDR_H
#define PGWEIR_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A peer's address in compact form (logs, SHOW CLIENTS). */
struct peer_addr {
	sa_family_t family;		/* AF_INET, AF_INET6 or AF_UNIX */
	uint16_t port;			/* host order */
	union {
		uint8_t v4[4];
		uint8_t v6[16];
	} ip;
};

int peer_addr_format(const struct peer_addr *a, char *buf, size_t len);
void peer_addr_set(struct peer_addr *a, const struct sockaddr *sa);

#endif
