/* SPDX-License-Identifier: ISC */
/*
 * Socket options shared by accepted clients and server connections:
 * TCP_NODELAY (every message is a whole request or answer, so waiting to
 * coalesce only adds latency), keepalive settings and buffer sizes from
 * the config.  Failures are not fatal: the connection works without them.
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "pgweir/config.h"
#include "pgweir/sockopt.h"

/* Apply the configured options to a connected (or connecting) socket. */
void
sockopt_tune(int fd, sa_family_t family, const struct config *cfg)
{
	int one = 1, v;

	if (cfg->tcp_socket_buffer > 0) {
		v = cfg->tcp_socket_buffer;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	if (family != AF_INET && family != AF_INET6)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->tcp_keepalive) {
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if ((v = cfg->tcp_keepcnt) > 0)
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
		if ((v = cfg->tcp_keepidle) > 0)
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v,
			    sizeof(v));
		if ((v = cfg->tcp_keepintvl) > 0)
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v,
			    sizeof(v));
	}
	if ((v = cfg->tcp_user_timeout) > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

/*
 * The same on a listening socket, which accepted sockets inherit from;
 * called again on reload, so what was switched off is switched off.
 */
void
sockopt_tune_listener(int fd, sa_family_t family, const struct config *cfg)
{
	int zero = 0;

	sockopt_tune(fd, family, cfg);
	if (family != AF_INET && family != AF_INET6)
		return;
	if (!cfg->tcp_keepalive)
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof(zero));
	if (cfg->tcp_user_timeout <= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &zero,
		    sizeof(zero));
}
