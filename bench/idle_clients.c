/* SPDX-License-Identifier: ISC */
/*
 * idle_clients: open N connections to a PostgreSQL-protocol server, log
 * each in (trust authentication), and hold them idle until killed.  Used
 * by the benchmark to measure a pooler's memory per idle client.
 *
 *   idle_clients HOST PORT USER DBNAME N [SOURCE_ADDR_BASE]
 *
 * Connections are non-blocking and driven by epoll, so thousands log in
 * in seconds.  With SOURCE_ADDR_BASE (e.g. 127.0.0.2) the connections are
 * spread over that address and the following ones, 20,000 per address, so
 * one process is not limited by the ephemeral port range.  Prints
 * "ready N" once N clients are logged in (or "failed K" and exits 1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* One connection's progress: bytes of the startup packet sent, state. */
struct conn {
	int sent;
	int ready;
	char buf[512];
	int got;
};

static struct conn *conns;
static uint8_t startup[256];
static size_t startup_len;

/* Build the StartupMessage once. */
static void
build_startup(const char *user, const char *db)
{
	size_t o = 8;
	uint32_t n;

	o += (size_t)sprintf((char *)startup + o, "user") + 1;
	o += (size_t)sprintf((char *)startup + o, "%s", user) + 1;
	o += (size_t)sprintf((char *)startup + o, "database") + 1;
	o += (size_t)sprintf((char *)startup + o, "%s", db) + 1;
	startup[o++] = 0;
	n = htonl((uint32_t)o);
	memcpy(startup, &n, 4);
	n = htonl(196608);
	memcpy(startup + 4, &n, 4);
	startup_len = o;
}

/* Whether the bytes read so far end with ReadyForQuery. */
static int
saw_ready(struct conn *c)
{
	return c->got >= 6 && memcmp(c->buf + c->got - 6, "Z\0\0\0\5I", 6) ==
	    0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa, src;
	struct epoll_event ev, evs[256];
	struct rlimit rl;
	int n, ep, ready = 0, failed = 0;
	int use_src = argc > 6;

	if (argc < 6) {
		fprintf(stderr, "usage: idle_clients HOST PORT USER DBNAME N "
		    "[SOURCE_ADDR_BASE]\n");
		return 2;
	}
	n = atoi(argv[5]);
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	build_startup(argv[3], argv[4]);
	conns = calloc((size_t)n + 64 + rl.rlim_cur, sizeof(*conns));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &sa.sin_addr);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	if (use_src)
		inet_pton(AF_INET, argv[6], &src.sin_addr);
	ep = epoll_create1(0);

	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			fprintf(stderr, "socket: %s (after %d)\n",
			    strerror(errno), i);
			printf("failed %d\n", i);
			return 1;
		}
		if (use_src) {
			struct sockaddr_in s = src;
			s.sin_addr.s_addr = htonl(ntohl(src.sin_addr.s_addr) +
			    (uint32_t)(i / 20000));
			if (bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0) {
				fprintf(stderr, "bind: %s\n", strerror(errno));
				return 1;
			}
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno != EINPROGRESS) {
			failed++;
			close(fd);
			continue;
		}
		ev.events = EPOLLOUT | EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		/* do not let thousands of logins pile up unanswered */
		while (i - ready - failed > 500) {
			int k = epoll_wait(ep, evs, 256, 1000);
			for (int j = 0; j < k; j++) {
				int f = evs[j].data.fd;
				struct conn *c = &conns[f];
				if ((evs[j].events & EPOLLOUT) &&
				    c->sent < (int)startup_len) {
					ssize_t w = write(f, startup + c->sent,
					    startup_len - (size_t)c->sent);
					if (w > 0)
						c->sent += (int)w;
					if (c->sent == (int)startup_len) {
						ev.events = EPOLLIN;
						ev.data.fd = f;
						epoll_ctl(ep, EPOLL_CTL_MOD, f,
						    &ev);
					}
				}
				if (evs[j].events & (EPOLLIN | EPOLLERR |
				    EPOLLHUP)) {
					ssize_t r = read(f, c->buf + c->got,
					    sizeof(c->buf) - (size_t)c->got);
					if (r <= 0) {
						failed++;
						epoll_ctl(ep, EPOLL_CTL_DEL, f,
						    NULL);
						close(f);
						continue;
					}
					c->got += (int)r;
					if (saw_ready(c) && !c->ready) {
						c->ready = 1;
						ready++;
						epoll_ctl(ep, EPOLL_CTL_DEL, f,
						    NULL);
					} else if (c->got > 400) {
						/* keep the tail only */
						memmove(c->buf, c->buf +
						    c->got - 16, 16);
						c->got = 16;
					}
				}
			}
			if (k == 0)
				break;
		}
	}
	while (ready + failed < n) {
		int k = epoll_wait(ep, evs, 256, 10000);
		if (k <= 0)
			break;
		for (int j = 0; j < k; j++) {
			int f = evs[j].data.fd;
			struct conn *c = &conns[f];
			if ((evs[j].events & EPOLLOUT) &&
			    c->sent < (int)startup_len) {
				ssize_t w = write(f, startup + c->sent,
				    startup_len - (size_t)c->sent);
				if (w > 0)
					c->sent += (int)w;
				if (c->sent == (int)startup_len) {
					ev.events = EPOLLIN;
					ev.data.fd = f;
					epoll_ctl(ep, EPOLL_CTL_MOD, f, &ev);
				}
			}
			if (evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				ssize_t r = read(f, c->buf + c->got,
				    sizeof(c->buf) - (size_t)c->got);
				if (r <= 0) {
					failed++;
					epoll_ctl(ep, EPOLL_CTL_DEL, f, NULL);
					close(f);
					continue;
				}
				c->got += (int)r;
				if (saw_ready(c) && !c->ready) {
					c->ready = 1;
					ready++;
					epoll_ctl(ep, EPOLL_CTL_DEL, f, NULL);
				} else if (c->got > 400) {
					memmove(c->buf, c->buf + c->got - 16,
					    16);
					c->got = 16;
				}
			}
		}
	}
	if (ready < n) {
		printf("failed %d (ready %d)\n", n - ready, ready);
		fflush(stdout);
		return 1;
	}
	printf("ready %d\n", ready);
	fflush(stdout);
	pause();
	return 0;
}
