/* SPDX-License-Identifier: ISC */
/*
 * Socket options shared by accepted clients and server connections:
 * TCP_NODELAY (every message is a whole request or answer, so waiting to
 * coalesce only adds latency), keepalive settings and buffer sizes from
 * the config.  Failures are not fatal: the connection works without them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

/* Whether a unix-socket peer runs as this process's own account. */
bool
sockopt_peer_is_self(int fd, sa_family_t family)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return family == AF_UNIX && getsockopt(fd, SOL_SOCKET, SO_PEERCRED,
	    &cred, &len) == 0 && cred.uid == geteuid();
}

/*
 * The most one send(2) should write on a socket tuned by sockopt_tune (0:
 * no bound).  A send buffer shrunk by tcp_socket_buffer is filled best in
 * writes of its own size (see io_flush).
 */
size_t
sockopt_write_bound(const struct config *cfg)
{
	return cfg->tcp_socket_buffer > 0 ? (size_t)cfg->tcp_socket_buffer : 0;
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

/*
 * The address of a PostgreSQL-style host entry without a name lookup: a
 * unix socket directory (a path, or NULL/empty for unix_dir, or "/tmp")
 * gives its .s.PGSQL.port socket; an IPv4 or IPv6 literal gives that
 * address.  Returns 1, 0 when host is a name to look up, -1 when the
 * socket path is too long.
 */
int
sockaddr_of_host(const char *host, const char *unix_dir, int port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (host == NULL || host[0] == '/' || host[0] == '\0') {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		const char *dir = host && host[0] ? host : unix_dir;
		if (dir == NULL || dir[0] == '\0')
			dir = "/tmp";
		un->sun_family = AF_UNIX;
		if ((size_t)snprintf(un->sun_path, sizeof(un->sun_path),
		    "%s/.s.PGSQL.%d", dir, port) >= sizeof(un->sun_path))
			return -1;
		*len = sizeof(*un);
		return 1;
	}
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 1;
	}
	if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 1;
	}
	return 0;
}
