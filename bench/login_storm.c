/* SPDX-License-Identifier: ISC */
/*
 * login_storm: log in over and over with SCRAM-SHA-256, as fast as a
 * pooler lets it, without the client's own PBKDF2 in the way (libpq
 * derives the salted password anew for every connection, which caps
 * pgbench -C at a few hundred SCRAM logins a second per core).  The keys
 * are derived once, from the first exchange's salt and iteration count,
 * and reused (pgweir's own SCRAM client code, which caches them the same
 * way when it logs in to PostgreSQL).  Each login goes to
 * ReadyForQuery, then Terminate.  Used by bench/run's fairness runs.
 *
 *   login_storm HOST PORT USER PASSWORD DBNAME THREADS SECONDS
 *
 * Prints "logins N in S s: R/s" (and "failed K" for logins that failed).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pgweir/scram.h"

/* What every thread shares: the target, the keys once derived, counts. */
static struct {
	struct sockaddr_in addr;
	const char *user, *password, *db;
	double end;			/* CLOCK_MONOTONIC seconds */
	pthread_mutex_t lock;
	bool have_keys;
	uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
	long logins, failed;
} g = { .lock = PTHREAD_MUTEX_INITIALIZER };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send or receive exactly len bytes; 0 or -1. */
static int
xfer(int fd, void *buf, size_t len, bool sending)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) :
		    recv(fd, p, len, 0);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_all(int fd, const void *buf, size_t len)
{
	return xfer(fd, (void *)(uintptr_t)buf, len, true);
}

static int
recv_all(int fd, void *buf, size_t len)
{
	return xfer(fd, buf, len, false);
}

/* One message from the server: its type, its body in buf; -1 on error. */
static int
read_msg(int fd, char *type, char *buf, size_t size, size_t *len)
{
	uint8_t hdr[5];
	uint32_t n;

	if (recv_all(fd, hdr, 5) < 0)
		return -1;
	n = ((uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
	    (uint32_t)hdr[3] << 8 | hdr[4]);
	if (n < 4 || n - 4 >= size)
		return -1;
	*type = (char)hdr[0];
	*len = n - 4;
	if (recv_all(fd, buf, *len) < 0)
		return -1;
	buf[*len] = '\0';
	return 0;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const char *p)
{
	const uint8_t *u = (const uint8_t *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	    (uint32_t)u[2] << 8 | u[3];
}

/* A 'p' message: SASLInitialResponse (with mechanism) or SASLResponse. */
static int
send_sasl(int fd, const char *mechanism, const char *data, size_t len)
{
	uint8_t msg[1024];
	size_t o = 5;

	if (len + 64 > sizeof(msg))
		return -1;
	msg[0] = 'p';
	if (mechanism != NULL) {
		memcpy(msg + o, mechanism, strlen(mechanism) + 1);
		o += strlen(mechanism) + 1;
		put32(msg + o, (uint32_t)len);
		o += 4;
	}
	memcpy(msg + o, data, len);
	o += len;
	put32(msg + 1, (uint32_t)(o - 1));
	return send_all(fd, msg, o);
}

/* One whole login, to ReadyForQuery, then Terminate; 0 or -1. */
static int
login_once(void)
{
	static const uint8_t terminate[5] = { 'X', 0, 0, 0, 4 };
	struct scram_client c;
	char buf[4096], out[1024], err[200], type;
	uint8_t startup[512];
	size_t len, outn, o = 8;
	int fd, one = 1, rc = -1;
	bool keys;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0)
		goto done;
	put32(startup + 4, 196608);
	o += (size_t)snprintf((char *)startup + o, sizeof(startup) - o,
	    "user%c%s%cdatabase%c%s%c", 0, g.user, 0, 0, g.db, 0) + 1;
	startup[o - 1] = 0;
	put32(startup, (uint32_t)o);
	if (send_all(fd, startup, o) < 0 ||
	    read_msg(fd, &type, buf, sizeof(buf), &len) < 0 || type != 'R' ||
	    len < 4 || get32(buf) != 10)
		goto done;
	pthread_mutex_lock(&g.lock);
	keys = g.have_keys;
	if (keys)
		scram_client_init_keys(&c, g.client_key, g.server_key, false,
		    NULL, 0);
	pthread_mutex_unlock(&g.lock);
	if (!keys && scram_client_init_password(&c, g.password, false, NULL,
	    0) < 0)
		goto done;
	if (scram_client_set_user(&c, "") < 0 ||
	    scram_client_first(&c, out, sizeof(out), &outn) < 0 ||
	    send_sasl(fd, "SCRAM-SHA-256", out, outn) < 0 ||
	    read_msg(fd, &type, buf, sizeof(buf), &len) < 0 || type != 'R' ||
	    len < 4 || get32(buf) != 11 ||
	    scram_client_server_first(&c, buf + 4, len - 4, out, sizeof(out),
	    &outn, err, sizeof(err)) < 0 ||
	    send_sasl(fd, NULL, out, outn) < 0 ||
	    read_msg(fd, &type, buf, sizeof(buf), &len) < 0 || type != 'R' ||
	    len < 4 || get32(buf) != 12 ||
	    scram_client_server_final(&c, buf + 4, len - 4, err,
	    sizeof(err)) < 0)
		goto wipe;
	if (!keys) {
		pthread_mutex_lock(&g.lock);
		memcpy(g.client_key, c.client_key, SCRAM_KEY_LEN);
		memcpy(g.server_key, c.server_key, SCRAM_KEY_LEN);
		g.have_keys = true;
		pthread_mutex_unlock(&g.lock);
	}
	do {
		if (read_msg(fd, &type, buf, sizeof(buf), &len) < 0 ||
		    type == 'E')
			goto wipe;
	} while (type != 'Z');
	(void)send_all(fd, terminate, sizeof(terminate));
	rc = 0;
wipe:
	scram_client_wipe(&c);
done:
	close(fd);
	return rc;
}

static void *
storm(void *arg)
{
	long ok = 0, bad = 0;

	(void)arg;
	while (now() < g.end) {
		if (login_once() == 0)
			ok++;
		else
			bad++;
	}
	pthread_mutex_lock(&g.lock);
	g.logins += ok;
	g.failed += bad;
	pthread_mutex_unlock(&g.lock);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t threads[256];
	int nthreads;
	double start, seconds;

	if (argc != 8) {
		fprintf(stderr, "usage: login_storm HOST PORT USER PASSWORD "
		    "DBNAME THREADS SECONDS\n");
		return 2;
	}
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &g.addr.sin_addr) != 1) {
		fprintf(stderr, "login_storm: HOST must be an IPv4 address\n");
		return 2;
	}
	g.user = argv[3];
	g.password = argv[4];
	g.db = argv[5];
	nthreads = atoi(argv[6]);
	seconds = atof(argv[7]);
	if (nthreads < 1 || nthreads > 256 || seconds <= 0) {
		fprintf(stderr, "login_storm: 1-256 threads, seconds > 0\n");
		return 2;
	}
	start = now();
	g.end = start + seconds;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&threads[i], NULL, storm, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	seconds = now() - start;
	printf("logins %ld in %.1f s: %.0f/s\n", g.logins, seconds,
	    (double)g.logins / seconds);
	if (g.failed > 0)
		printf("failed %ld\n", g.failed);
	return g.logins > 0 ? 0 : 1;
}
