/* SPDX-License-Identifier: ISC */
/*
 * A peer's address kept in a few bytes (a client holds one for its whole
 * life, so not a whole sockaddr_storage), and printed the way log lines
 * and SHOW CLIENTS show it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "pgweir/addr.h"

/* Fill a compact address from a socket address. */
void
peer_addr_set(struct peer_addr *a, const struct sockaddr *sa)
{
	memset(a, 0, sizeof(*a));
	a->family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(a->ip.v4, &in->sin_addr, 4);
		a->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		memcpy(a->ip.v6, &in6->sin6_addr, 16);
		a->port = ntohs(in6->sin6_port);
	}
}

/* Print an address as "1.2.3.4:5", "[::1]:5" or "unix". */
int
peer_addr_format(const struct peer_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (a->family) {
	case AF_INET:
		inet_ntop(AF_INET, a->ip.v4, ip, sizeof(ip));
		return snprintf(buf, len, "%s:%u", ip, a->port);
	case AF_INET6:
		inet_ntop(AF_INET6, a->ip.v6, ip, sizeof(ip));
		return snprintf(buf, len, "[%s]:%u", ip, a->port);
	default:
		return snprintf(buf, len, "unix");
	}
}
