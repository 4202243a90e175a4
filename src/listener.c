/* SPDX-License-Identifier: ISC */
/*
 * Listening sockets: TCP on listen_addr (IPv4 and IPv6), the unix socket
 * .s.PGSQL.<port> in unix_socket_dir, or sockets passed by systemd socket
 * activation.  When the process runs out of file descriptors
 * (EMFILE/ENFILE), a descriptor kept in reserve for the purpose is given
 * up for a moment to accept the new client, tell it why it cannot be
 * served, and close it: clients hear "out of file descriptors" at once
 * instead of waiting in the backlog until their connect_timeout.  Should
 * even that fail, accepting pauses and a timer retries a moment later
 * instead of spinning on a listener that stays readable.
 *
 * A TCP client that comes while max_login_clients others are logging in
 * is refused the same way, at once and without waiting for it: sockets
 * that connect and then say nothing cannot fill the process.
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/listener.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/proto.h"
#include "pgweir/sdnotify.h"
#include "pgweir/sockopt.h"

/*
 * Accepts per wakeup per listener.  One: the listener stays readable
 * (level-triggered) while connections wait, so the next loop turn takes
 * the next, with the other ready sockets; accepting until EAGAIN would
 * cost a failing accept4 per login.
 */
#define ACCEPT_BATCH 1

struct listener {
	struct listener *next;
	struct pgweir *pw;
	int fd;			/* owned */
	int family;
	struct event ev;
	char *path;		/* unix socket file to unlink at exit; owned */
	bool paused;
};

static void listener_accept_cb(evutil_socket_t fd, short what, void *arg);

/* Retry accepting after running out of file descriptors. */
static void
accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgweir *pw = arg;

	(void)fd;
	(void)what;
	log_info("resuming accepting connections");
	listener_pause_all(pw, false);
}

/* Wait up to wait_ms for a packet and read (up to len bytes of) it. */
static ssize_t
recv_soon(int fd, void *buf, size_t len, int wait_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, wait_ms) != 1)
		return 0;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/*
 * Tell a client that it cannot be served, and close its socket.  Clients
 * usually ask for TLS first, and libpq shows no error text that comes in
 * place of the answer to that, so such a request gets "no", and the error
 * follows the startup packet, as PostgreSQL's own "too many clients"
 * does.  The client's packets come within a loopback round trip; the waits
 * are bounded at wait_ms each for a slow client (0: take only what has
 * already come).  What the client sent is read before closing, so that
 * closing sends FIN, not RST.
 */
static void
refuse_client(int cfd, const char *message, int wait_ms)
{
	uint8_t first[8];
	char junk[512];
	struct evbuffer *msg;

	if (recv_soon(cfd, first, sizeof(first), wait_ms) == 8 &&
	    proto_get_u32(first) == 8 &&
	    (proto_get_u32(first + 4) == PQ_SSL_REQUEST ||
	    proto_get_u32(first + 4) == PQ_GSSENC_REQUEST) &&
	    send(cfd, "N", 1, MSG_NOSIGNAL) == 1)
		(void)recv_soon(cfd, junk, sizeof(junk), wait_ms);
	msg = evbuffer_new();
	if (msg != NULL) {
		if (proto_build_error(msg, "FATAL",
		    SQLSTATE_TOO_MANY_CONNECTIONS, message, NULL) == 0)
			(void)evbuffer_write(msg, cfd);
		evbuffer_free(msg);
	}
	(void)!recv(cfd, junk, sizeof(junk), MSG_DONTWAIT);
	close(cfd);
}

/* Count a refusal; log the count at most once a second. */
static void
count_refusal(unsigned *count, int64_t *logged, const char *what)
{
	int64_t now = pgweir_mono_usec();

	(*count)++;
	if (now - *logged >= 1000000) {
		log_warning("%s: refused %u client(s)", what, *count);
		*logged = now;
		*count = 0;
	}
}

/*
 * Out of descriptors: accept one client on the reserve descriptor, tell
 * it why and close it.  False if there was no reserve or no client.
 */
static bool
refuse_out_of_fds(struct pgweir *pw, int lfd)
{
	int cfd;

	if (pw->spare_fd < 0)
		return false;
	close(pw->spare_fd);
	cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0) {
		refuse_client(cfd, "pgweir is out of file descriptors; try "
		    "again later", 10);
		count_refusal(&pw->fd_refusals, &pw->fd_refusals_logged,
		    "out of file descriptors");
	}
	pw->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return cfd >= 0;
}

/* Apply the current config's socket options to every listener (reload). */
void
listener_retune(struct pgweir *pw)
{
	for (struct listener *l = pw->listeners; l; l = l->next)
		sockopt_tune_listener(l->fd, (sa_family_t)l->family, pw->cfg);
}

/* Stop or resume accepting on every listener. */
void
listener_pause_all(struct pgweir *pw, bool paused)
{
	for (struct listener *l = pw->listeners; l; l = l->next) {
		if (l->paused == paused)
			continue;
		l->paused = paused;
		if (paused)
			event_del(&l->ev);
		else
			event_add(&l->ev, NULL);
	}
}

/* Accept what is waiting on a listener. */
static void
listener_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct pgweir *pw = l->pw;

	(void)what;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			struct timeval tv = { 0, 500000 };
			switch (errno) {
			case EAGAIN:
			case EINTR:
			case ECONNABORTED:
				return;
			case EMFILE:
			case ENFILE:
				if (refuse_out_of_fds(pw, fd))
					return;
				/* FALLTHROUGH */
			case ENOBUFS:
			case ENOMEM:
				log_warning("accept failed: %s; pausing "
				    "accepting for 0.5 s", strerror(errno));
				listener_pause_all(pw, true);
				evtimer_add(&pw->accept_retry_ev, &tv);
				return;
			default:
				log_warning("accept failed: %s",
				    strerror(errno));
				return;
			}
		}
		if (len == 0 || ss.ss_family == AF_UNSPEC)
			ss.ss_family = AF_UNIX;
		if (ss.ss_family != AF_UNIX && pw->cfg->max_login_clients > 0 &&
		    pw->n_login_clients >= pw->cfg->max_login_clients) {
			/* no waiting here: a flood must not stall the loop */
			refuse_client(cfd, "too many clients logging in", 0);
			count_refusal(&pw->login_refusals,
			    &pw->login_refusals_logged,
			    "too many clients logging in (max_login_clients)");
			continue;
		}
		if (client_accept(pw, cfd, (struct sockaddr *)&ss, len) ==
		    NULL) {
			log_warning("could not set up a client connection");
			close(cfd);
		}
	}
}

/* Add a listening socket to the list and the loop. */
static int
listener_add(struct pgweir *pw, int fd, int family, const char *path)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -1;
	l->pw = pw;
	l->fd = fd;
	l->family = family;
	/* accepted sockets inherit these: no system calls per client */
	sockopt_tune_listener(fd, (sa_family_t)family, pw->cfg);
	l->path = path ? strdup(path) : NULL;
	event_assign(&l->ev, pw->base, fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, l);
	event_add(&l->ev, NULL);
	l->next = pw->listeners;
	pw->listeners = l;
	return 0;
}

/* Open one TCP listener on a resolved address. */
static int
listen_tcp(struct pgweir *pw, const struct addrinfo *ai)
{
	const struct config *cfg = pw->cfg;
	char host[NI_MAXHOST] = "?";
	int one = 1, fd;

	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0,
	    NI_NUMERICHOST);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg->so_reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (cfg->tcp_defer_accept > 0) {
		int secs = cfg->tcp_defer_accept;
		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
		    sizeof(secs));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, cfg->listen_backlog) < 0)
		goto fail;
	log_info("listening on %s%s%s:%d", ai->ai_family == AF_INET6 ? "[" :
	    "", host, ai->ai_family == AF_INET6 ? "]" : "", cfg->listen_port);
	return listener_add(pw, fd, ai->ai_family, NULL);
fail:
	log_error("could not listen on %s:%d: %s", host, cfg->listen_port,
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Open TCP listeners for each entry of listen_addr ("*" = all). */
static int
listen_tcp_all(struct pgweir *pw)
{
	const char *p = pw->cfg->listen_addr;
	char port[8];

	snprintf(port, sizeof(port), "%d", pw->cfg->listen_port);
	while (*p) {
		struct addrinfo hints, *res, *ai;
		char host[256];
		size_t len = 0;
		int rc;

		while (*p == ',' || *p == ' ')
			p++;
		while (*p && *p != ',' && *p != ' ' && len + 1 < sizeof(host))
			host[len++] = *p++;
		host[len] = '\0';
		if (len == 0)
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		hints.ai_family = AF_UNSPEC;
		/* at start-up a blocking lookup is fine: nothing runs yet */
		rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port,
		    &hints, &res);
		if (rc != 0) {
			log_error("listen_addr: cannot resolve \"%s\": %s",
			    host, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai; ai = ai->ai_next) {
			/*
			 * "*" asks for every family the host has; a machine
			 * without IPv6 is not an error, only a warning.
			 */
			if (listen_tcp(pw, ai) < 0 && (strcmp(host, "*") != 0 ||
			    ai->ai_family != AF_INET6)) {
				freeaddrinfo(res);
				return -1;
			}
		}
		freeaddrinfo(res);
	}
	return 0;
}

/*
 * Open the unix socket.  A socket file left by a crashed process is
 * removed; one that still answers belongs to a running pgweir (or
 * PostgreSQL) and is an error rather than something to steal.
 */
static int
listen_unix(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "%s/.s.PGSQL.%d", cfg->unix_socket_dir, cfg->listen_port) >=
	    sizeof(sun.sun_path)) {
		log_error("unix_socket_dir: path too long");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ==
	    0) {
		log_error("%s is in use by a running server", sun.sun_path);
		close(fd);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(sun.sun_path, (mode_t)cfg->unix_socket_mode) < 0 ||
	    listen(fd, cfg->listen_backlog) < 0) {
		log_error("could not listen on %s: %s", sun.sun_path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (cfg->unix_socket_group[0] != '\0') {
		struct group *gr = getgrnam(cfg->unix_socket_group);
		if (gr == NULL || chown(sun.sun_path, (uid_t)-1, gr->gr_gid) <
		    0)
			log_warning("unix_socket_group: could not give %s to "
			    "group \"%s\"", sun.sun_path,
			    cfg->unix_socket_group);
	}
	log_info("listening on unix socket %s", sun.sun_path);
	return listener_add(pw, fd, AF_UNIX, sun.sun_path);
}

/* What every way of listening needs first: the reserve fd, the timer. */
static void
listener_init(struct pgweir *pw)
{
	if (event_initialized(&pw->accept_retry_ev))
		return;
	pw->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	evtimer_assign(&pw->accept_retry_ev, pw->base, accept_retry_cb, pw);
}

/*
 * Listen on a socket the previous process handed over (an online
 * restart); path is the unix socket file to remove at exit, or NULL.
 */
int
listener_adopt(struct pgweir *pw, int fd, const char *path)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	listener_init(pw);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	return listener_add(pw, fd, ss.ss_family, path);
}

/* Call fn for each listening socket (to hand them over); stops at -1. */
int
listener_each(struct pgweir *pw, int (*fn)(void *arg, int fd,
    const char *path), void *arg)
{
	for (struct listener *l = pw->listeners; l; l = l->next)
		if (fn(arg, l->fd, l->path) < 0)
			return -1;
	return 0;
}

/* Open every configured listener, or take systemd's. */
int
listener_open_all(struct pgweir *pw)
{
	int n = sdnotify_listen_fds();

	listener_init(pw);
	if (n > 0) {
		for (int fd = 3; fd < 3 + n; fd++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
				continue;
			evutil_make_socket_nonblocking(fd);
			evutil_make_socket_closeonexec(fd);
			if (listener_add(pw, fd, ss.ss_family, NULL) < 0)
				return -1;
		}
		log_info("using %d socket(s) from systemd; listen_addr and "
		    "unix_socket_dir are not used", n);
		return 0;
	}
	if (pw->cfg->listen_addr[0] != '\0' && listen_tcp_all(pw) < 0)
		return -1;
	if (pw->cfg->unix_socket_dir[0] != '\0' && listen_unix(pw) < 0)
		return -1;
	if (pw->listeners == NULL) {
		log_error("nothing to listen on: set listen_addr or "
		    "unix_socket_dir");
		return -1;
	}
	return 0;
}

/* Close the listeners matching a predicate. */
static void
close_matching(struct pgweir *pw, bool tcp_only, bool keep_files)
{
	struct listener **lp = &pw->listeners;

	while (*lp) {
		struct listener *l = *lp;
		if (tcp_only && l->family == AF_UNIX) {
			lp = &l->next;
			continue;
		}
		*lp = l->next;
		event_del(&l->ev);
		close(l->fd);
		if (l->path && !keep_files)
			unlink(l->path);
		free(l->path);
		free(l);
	}
}

/* Close all listeners and remove the unix socket file. */
void
listener_close_all(struct pgweir *pw)
{
	close_matching(pw, false, false);
	evtimer_del(&pw->accept_retry_ev);
	if (pw->spare_fd >= 0)
		close(pw->spare_fd);
	pw->spare_fd = -1;
}

/* Close the TCP listeners only (shutdown keeps the unix socket). */
void
listener_close_tcp(struct pgweir *pw)
{
	close_matching(pw, true, false);
}

/*
 * Close every listener but leave the unix socket file: the sockets live
 * on in the process they were handed over to.
 */
void
listener_close_handed_over(struct pgweir *pw)
{
	close_matching(pw, false, true);
}

/* Whether some listener takes new connections (open and not paused). */
bool
listener_accepting(const struct pgweir *pw)
{
	for (const struct listener *l = pw->listeners; l; l = l->next)
		if (!l->paused)
			return true;
	return false;
}

