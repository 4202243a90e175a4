/* SPDX-License-Identifier: ISC */
/*
 * Online restart (pgweir -R): a new pgweir process takes over the
 * listening sockets and the clients of the running one, and no client sees
 * an error.
 *
 * The new process connects to the running one's console over the unix
 * socket, as pgweir's own account (an admin without a password), and sends
 * TAKEOVER.  The answer is a result set whose rows carry file descriptors
 * (SCM_RIGHTS, one per row, sent with the row's first byte): the listening
 * sockets and the /metrics one.  From then on the new process accepts;
 * the old one only finishes what it has.  Each of its clients is handed
 * over as soon as it is idle between transactions with nothing buffered:
 * a further row with the socket and what the new process needs to go on
 * (names, parameters, cancel key, named statements, SCRAM keys for server
 * logins); in session pooling its server goes with it, in the same row.
 * Other servers are not handed over; the new process opens its own.
 * Clients that cannot be handed over are closed when idle with 57P01 (TLS
 * clients: the TLS session state cannot move; other console sessions),
 * or left to finish (a replication client, a session over TLS to its
 * server).  When no client is left the old process
 * sends "done" and exits; if the new process goes away first, the old one
 * accepts again.
 *
 * Rows are text columns: task, then the task's fields.  Binary fields are
 * hex.  Both processes are the same pgweir version ("version" row).
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/cancel.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/listener.h"
#include "pgweir/log.h"
#include "pgweir/metrics.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"
#include "pgweir/sockopt.h"
#include "pgweir/takeover.h"
#include "pgweir/varcache.h"

#define TK_VERSION "1"
#define TK_COLS 17		/* task and up to 16 fields */
#define TK_CLIENT_COLS 11	/* a client row */
#define TK_PAIR_COLS 17		/* ... with its session's server */
#define TK_FDS_MAX 16		/* descriptors received, not yet used */
#define TK_WAIT_MS 10000	/* the blocking part's bound per answer */
#define TK_MSG_MAX (64 * 1024 * 1024)

struct takeover {
	struct pgweir *pw;
	/* the new process: the channel to the old one */
	int fd;
	struct event ev;
	struct evbuffer *in;		/* bytes read, not yet parsed */
	int fds[TK_FDS_MAX];		/* received, in order, not yet used */
	int n_fds;
	/* the old process: the new one's console connection */
	struct client *console;
	struct event pump_ev;		/* hands idle clients over */
	bool failed;			/* the new process went away */
	bool finished;			/* "done" sent */
	/* both */
	unsigned n_clients;		/* handed over / taken over */
	unsigned n_closed;		/* closed because they could not be */
};

/* ---- shared: rows, hex ---- */

static void
hex_encode(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode hex in place; the length, or -1 when it is not hex. */
static ssize_t
hex_decode(char *s)
{
	size_t n = strlen(s);

	if (n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		s[i] = (char)(hi << 4 | lo);
	}
	s[n / 2] = '\0';
	return (ssize_t)(n / 2);
}

/* An evbuffer's bytes as a hex string (malloc'ed), or NULL. */
static char *
hex_of_buffer(struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char *out = malloc(2 * len + 1);
	const uint8_t *p = len ? evbuffer_pullup(b, -1) : NULL;

	if (out == NULL || (len && p == NULL)) {
		free(out);
		return NULL;
	}
	hex_encode(p, len, out);
	return out;
}

/*
 * Split a DataRow body into NUL-terminated columns (in place: each
 * column's 4-byte length before it leaves room for the NUL of the one
 * before).  Returns the column count, or -1 when malformed.
 */
static int
split_row(uint8_t *body, size_t len, char **cols, int max)
{
	size_t pos = 2;
	int n;

	if (len < 2)
		return -1;
	n = body[0] << 8 | body[1];
	if (n > max)
		return -1;
	for (int i = 0; i < n; i++) {
		uint32_t clen;

		if (len - pos < 4)
			return -1;
		clen = proto_get_u32(body + pos);
		if (clen == 0xffffffffu)
			clen = 0;
		if (clen > len - pos - 4)
			return -1;
		memmove(body + pos, body + pos + 4, clen);
		body[pos + clen] = '\0';
		cols[i] = (char *)body + pos;
		pos += 4 + clen;
	}
	return pos == len ? n : -1;
}

/* ---- the old process: hand over ---- */

/*
 * Send one row; the nfds descriptors fds travel with its first byte.
 * What the socket does not take at once follows through the console's
 * buffer.
 */
static int
send_row_fds(struct takeover *t, const char *const *vals, int n,
    const int *fds, int nfds)
{
	struct client *console = t->console;
	struct evbuffer *msg = evbuffer_new();
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	struct msghdr mh;
	struct iovec iov;
	ssize_t w;
	int rc = -1;

	if (msg == NULL || nfds > 2 || proto_build_data_row(msg, vals, n) < 0)
		goto out;
	if (nfds == 0) {
		rc = evbuffer_add_buffer(io_wbuf(&console->io), msg);
		goto out;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_len = evbuffer_get_length(msg);
	iov.iov_base = evbuffer_pullup(msg, -1);
	if (iov.iov_base == NULL)
		goto out;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	ctl.h.cmsg_level = SOL_SOCKET;
	ctl.h.cmsg_type = SCM_RIGHTS;
	ctl.h.cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(&ctl.h), fds, (size_t)nfds * sizeof(int));
	do
		w = sendmsg(console->io.fd, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		goto out;
	evbuffer_drain(msg, (size_t)w);
	rc = evbuffer_add_buffer(io_wbuf(&console->io), msg);
out:
	if (msg != NULL)
		evbuffer_free(msg);
	return rc;
}

/* One row with one descriptor (fd >= 0) or none. */
static int
send_row(struct takeover *t, const char *const *vals, int n, int fd)
{
	return send_row_fds(t, vals, n, &fd, fd >= 0 ? 1 : 0);
}

/* Whether the console's output has gone out (rows with fds wait for it). */
static bool
channel_drained(struct takeover *t)
{
	if (t->console == NULL || t->console->state == CL_CLOSED ||
	    client_flush(t->console) < 0)
		return false;
	return io_out_pending(&t->console->io) == 0;
}

/* Wait (briefly, blocking) until the console's output has gone out. */
static int
channel_wait_drained(struct takeover *t)
{
	for (int i = 0; i < 50; i++) {
		struct pollfd pfd = { .fd = -1, .events = POLLOUT };
		if (channel_drained(t))
			return 0;
		if (t->console == NULL || t->console->state == CL_CLOSED)
			return -1;
		pfd.fd = t->console->io.fd;
		(void)poll(&pfd, 1, 100);
	}
	return -1;
}

static int
send_listener(void *arg, int fd, const char *path)
{
	struct takeover *t = arg;
	const char *vals[] = { "listener", path ? path : "" };

	if (channel_wait_drained(t) < 0)
		return -1;
	return send_row(t, vals, 2, fd);
}

/* Pack what the new process needs to go on with a client. */
static int
send_client(struct takeover *t, struct client *client)
{
	struct pgweir *pw = t->pw;
	const struct user *u = client->login_user;
	struct evbuffer *vars = evbuffer_new(), *reset = evbuffer_new();
	struct evbuffer *ps = evbuffer_new();
	const struct server *sv = client->link;
	char slot[16], key[16], since[24], keys[129];
	char spid[16], skey[16], shost[16], ssince[24];
	char *hv = NULL, *hr = NULL, *hp = NULL, *sv_v = NULL, *sv_r = NULL;
	int rc = -1;

	if (vars == NULL || reset == NULL || ps == NULL ||
	    varset_pack(&pw->vars, client->vars, vars) < 0 ||
	    (client->reset_vars != NULL && varset_pack(&pw->vars,
	    client->reset_vars, reset) < 0) ||
	    prepared_client_export(client, ps) < 0 ||
	    (hv = hex_of_buffer(vars)) == NULL ||
	    (hr = hex_of_buffer(reset)) == NULL ||
	    (hp = hex_of_buffer(ps)) == NULL)
		goto out;
	if (sv != NULL) {
		evbuffer_drain(vars, evbuffer_get_length(vars));
		evbuffer_drain(reset, evbuffer_get_length(reset));
		if (varset_pack(&pw->vars, sv->vars, vars) < 0 ||
		    (sv->reset_vars != NULL && varset_pack(&pw->vars,
		    sv->reset_vars, reset) < 0) ||
		    (sv_v = hex_of_buffer(vars)) == NULL ||
		    (sv_r = hex_of_buffer(reset)) == NULL)
			goto out;
		snprintf(spid, sizeof(spid), "%" PRIu32, sv->backend_pid);
		snprintf(skey, sizeof(skey), "%" PRIu32, sv->backend_key);
		snprintf(shost, sizeof(shost), "%d", sv->host);
		snprintf(ssince, sizeof(ssince), "%lld",
		    (long long)sv->connect_time);
	}
	snprintf(slot, sizeof(slot), "%" PRIu32, client->slot);
	snprintf(key, sizeof(key), "%" PRIu32, client->cancel_key);
	snprintf(since, sizeof(since), "%lld", (long long)client->connect_time);
	keys[0] = '\0';
	if (u->has_scram_keys) {
		uint8_t both[64];
		memcpy(both, u->scram_client_key, 32);
		memcpy(both + 32, u->scram_server_key, 32);
		hex_encode(both, sizeof(both), keys);
		OPENSSL_cleanse(both, sizeof(both));
	}
	{
		const char *vals[] = { "client", u->name,
			client->pool->db->name, slot, key, since, hv, hr, keys,
			u->checked_password ? u->checked_password : "", hp,
			spid, skey, sv_v, sv_r, shost, ssince };
		int fds[2] = { client->io.fd, sv ? sv->io.fd : -1 };
		rc = send_row_fds(t, vals, sv ? TK_PAIR_COLS : TK_CLIENT_COLS,
		    fds, sv ? 2 : 1);
	}
	OPENSSL_cleanse(keys, sizeof(keys));
out:
	free(hv);
	free(hr);
	free(hp);
	free(sv_v);
	free(sv_r);
	if (vars)
		evbuffer_free(vars);
	if (reset)
		evbuffer_free(reset);
	if (ps)
		evbuffer_free(ps);
	return rc;
}

/* Whether a client can move now: idle, nothing half-read or half-sent. */
static bool
can_hand_over(const struct client *c)
{
	return c->state == CL_IDLE && c->link == NULL && c->admin == NULL &&
	    c->io.ssl == NULL && c->replication == PQ_REPL_NONE &&
	    c->logged_in && io_in_pending(&c->io) == 0 &&
	    io_out_pending(&c->io) == 0 && c->pkt_remain == 0 &&
	    c->pkt_discard == 0 && !c->discard_until_sync &&
	    !c->read_paused;
}

/*
 * Whether a client holding a server for its session can move with it now:
 * both idle between transactions, nothing on the way in either direction,
 * no TLS on either side.
 */
static bool
can_hand_over_pair(const struct client *c)
{
	const struct server *s = c->link;

	return c->state == CL_ACTIVE && s != NULL && s->state == SV_ACTIVE &&
	    pool_mode_of(c->pool) == POOL_SESSION && c->admin == NULL &&
	    c->io.ssl == NULL && s->io.ssl == NULL &&
	    c->replication == PQ_REPL_NONE && s->replication == PQ_REPL_NONE &&
	    c->logged_in && s->logged_in && s->tx_status == 'I' &&
	    rq_empty(&s->rq) && io_in_pending(&c->io) == 0 &&
	    io_out_pending(&c->io) == 0 && io_in_pending(&s->io) == 0 &&
	    io_out_pending(&s->io) == 0 && c->pkt_remain == 0 &&
	    c->pkt_discard == 0 && s->pkt_remain == 0 &&
	    !c->discard_until_sync && !s->rq.discard_until_sync &&
	    !s->rq.copy_in && !s->copy_both && !s->rq.unsynced &&
	    !c->read_paused && !s->read_paused && !s->close_needed &&
	    !s->reset_pending && !s->restoring && !s->in_connect_query &&
	    !s->internal_failed && TAILQ_EMPTY(&s->cancels);
}

/* An idle client that cannot move is told to reconnect (to the new one). */
static bool
must_close(const struct takeover *t, const struct client *c)
{
	return c != t->console && c->state == CL_IDLE && c->link == NULL &&
	    (c->io.ssl != NULL || c->admin != NULL);
}

/* Clients left, the console that asks excluded. */
static int
clients_left(const struct takeover *t)
{
	const struct pool *pool;
	int n = 0;
	const struct client *c;

	TAILQ_FOREACH(c, &t->pw->login_clients, entry)
		n++;
	TAILQ_FOREACH(pool, &t->pw->pools, entry)
		n += pool->n_welcome + pool->n_idle_clients + pool->n_waiting +
		    pool->n_active_clients;
	return n - (t->console != NULL);
}

/* The new process went away before the end: serve on as before. */
static void
takeover_fail(struct takeover *t)
{
	struct pgweir *pw = t->pw;

	t->failed = true;
	pw->on_client_idle = NULL;
	log_warning("online restart failed: the new process went away after "
	    "taking %u client(s); accepting connections again", t->n_clients);
	listener_pause_all(pw, false);
	if (pw->metrics == NULL && metrics_start(pw) < 0)
		log_warning("/metrics is not served until a restart");
}

/*
 * Send a client (and its session's server, if linked) to the new process
 * and close them here without a word.  -1 when the channel is busy: the
 * next tick or idle client goes on.
 */
static int
hand_over(struct takeover *t, struct client *c)
{
	struct server *s = c->link;

	if (!channel_drained(t))
		return -1;
	if (send_client(t, c) < 0) {
		if (errno == EAGAIN)
			return -1;	/* the new one is busy */
		client_log(c, LOG_LVL_WARNING, "could not hand over: %s",
		    strerror(errno));
		return 0;
	}
	t->n_clients++;
	if (s != NULL) {
		pool_unlink(c, s);
		server_close_handed_over(s);
	}
	client_close(c, "handed over to the new process");
	return 0;
}

/* Hand over every client that can move now; end when none is left. */
static void
takeover_pump(struct pgweir *pw)
{
	struct takeover *t = pw->takeover;
	struct pool *pool;

	if (t == NULL || t->console == NULL || t->failed || t->finished)
		return;
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client *c, *next;

		for (c = TAILQ_FIRST(&pool->active_clients); c; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (can_hand_over_pair(c) && hand_over(t, c) < 0)
				return;
		}
		for (c = TAILQ_FIRST(&pool->idle_clients); c; c = next) {
			next = TAILQ_NEXT(c, entry);
			if (must_close(t, c)) {
				client_close_error(c, SQLSTATE_ADMIN_SHUTDOWN,
				    "pgweir is restarting: connect again");
				t->n_closed++;
			} else if (can_hand_over(c) && hand_over(t, c) < 0) {
				return;
			}
		}
	}
	if (clients_left(t) > 0 || !channel_drained(t))
		return;
	{
		char n[16];
		const char *vals[] = { "done", n };
		snprintf(n, sizeof(n), "%u", t->n_clients);
		(void)send_row(t, vals, 2, -1);
		(void)channel_wait_drained(t);
	}
	t->finished = true;
	/* the sockets (and the unix socket's file) live on in the new one */
	listener_close_handed_over(pw);
	log_info("online restart: %u client(s) handed over, %u closed; "
	    "exiting", t->n_clients, t->n_closed);
	pw->on_client_idle = NULL;
	pgweir_shutdown(pw, SHUTDOWN_NOW);
}

static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	takeover_pump(arg);
}

/* A client became idle: hand it over soon (not inside the relay). */
static void
on_client_idle(struct pgweir *pw)
{
	if (pw->takeover != NULL)
		event_active(&pw->takeover->pump_ev, 0, 0);
}

/*
 * TAKEOVER on the console: answer with the listening sockets, stop
 * accepting, and hand clients over from now on.  The RowDescription and
 * the rows go out here; the caller adds CommandComplete and ReadyForQuery.
 */
int
takeover_serve(struct client *console, char *err, size_t errlen)
{
	struct pgweir *pw = console->pw;
	static const char *const names[TK_COLS] = { "task", "a", "b", "c",
		"d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
		"p" };
	uint32_t oids[TK_COLS];
	struct takeover *t;
	char below[16];
	const char *version[] = { "version", TK_VERSION, below };
	int mfd;

	if (pw->takeover != NULL || pw->shutdown != SHUTDOWN_NONE) {
		snprintf(err, errlen, "pgweir is already being replaced or "
		    "shutting down");
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->pw = pw;
	t->fd = -1;
	t->console = console;
	pw->takeover = t;
	event_assign(&t->pump_ev, pw->base, -1, 0, pump_cb, pw);
	for (int i = 0; i < TK_COLS; i++)
		oids[i] = 25;
	snprintf(below, sizeof(below), "%" PRIu32,
	    client_slots_in_use_below(pw));
	/* the listeners stay open (paused) until the end, in case */
	listener_pause_all(pw, true);
	if (proto_build_row_description(io_wbuf(&console->io), names, oids,
	    TK_COLS) < 0 || send_row(t, version, 3, -1) < 0 ||
	    listener_each(pw, send_listener, t) < 0 ||
	    ((mfd = metrics_listen_fd(pw)) >= 0 &&
	    (channel_wait_drained(t) < 0 ||
	    send_row(t, (const char *[]){ "metrics" }, 1, mfd) < 0))) {
		snprintf(err, errlen, "could not hand the listening sockets "
		    "over: %s", strerror(errno));
		listener_pause_all(pw, false);
		pw->takeover = NULL;
		free(t);
		return -1;
	}
	metrics_stop(pw);
	log_info("online restart: the new process has the listening "
	    "sockets; handing clients over as they become idle");
	pw->on_client_idle = on_client_idle;
	/* the new process owns the pidfile and the unix socket file now */
	pw->pidfile_written = false;
	event_active(&t->pump_ev, 0, 0);
	return 0;
}

/* The janitor's tick: clients that became movable without a state change. */
void
takeover_tick(struct pgweir *pw)
{
	if (pw->takeover != NULL && pw->takeover->console != NULL)
		takeover_pump(pw);
}

/*
 * The console that asked closed (admin.c tells): before "done" that means
 * the new process went away.
 */
void
takeover_channel_closed(struct pgweir *pw)
{
	struct takeover *t = pw->takeover;

	if (t == NULL || t->console == NULL)
		return;
	t->console = NULL;
	if (!t->finished && !t->failed)
		takeover_fail(t);
}

/* Whether this console client is the new process asking (kept to the end). */
bool
takeover_is_channel(const struct client *client)
{
	return client->pw->takeover != NULL &&
	    client->pw->takeover->console == client;
}

/* ---- the new process: take over ---- */

/* Read what is there (with descriptors); bytes, 0 at EOF, -1. */
static ssize_t
channel_read(struct takeover *t)
{
	char buf[16384];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(TK_FDS_MAX * sizeof(int))];
	} ctl;
	struct msghdr mh;
	struct iovec iov = { buf, sizeof(buf) };
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(t->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
	    c = CMSG_NXTHDR(&mh, c)) {
		size_t k;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (t->n_fds < TK_FDS_MAX)
				t->fds[t->n_fds++] = fd;
			else
				close(fd);
		}
	}
	if (n > 0 && evbuffer_add(t->in, buf, (size_t)n) < 0)
		return -1;
	return n;
}

/* The oldest descriptor received and not yet used, or -1. */
static int
take_fd(struct takeover *t)
{
	int fd;

	if (t->n_fds == 0)
		return -1;
	fd = t->fds[0];
	memmove(t->fds, t->fds + 1, (size_t)--t->n_fds * sizeof(int));
	return fd;
}

/* The next whole message (body malloc'ed), 1; 0: not yet; -1: bad. */
static int
next_message(struct takeover *t, uint8_t *type, uint8_t **body, size_t *len)
{
	uint8_t h[5];
	uint32_t mlen;

	if (evbuffer_copyout(t->in, h, 5) < 5)
		return 0;
	mlen = proto_get_u32(h + 1);
	if (mlen < 4 || mlen > TK_MSG_MAX)
		return -1;
	if (evbuffer_get_length(t->in) < (size_t)mlen + 1)
		return 0;
	*type = h[0];
	*len = mlen - 4;
	*body = malloc(*len + 1);
	if (*body == NULL)
		return -1;
	evbuffer_drain(t->in, 5);
	evbuffer_remove(t->in, *body, *len);
	return 1;
}

/* Wait for the next message (the blocking part, before the loop runs). */
static int
wait_message(struct takeover *t, uint8_t *type, uint8_t **body, size_t *len)
{
	for (;;) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };
		int rc = next_message(t, type, body, len);
		ssize_t n;

		if (rc != 0)
			return rc;
		if (poll(&pfd, 1, TK_WAIT_MS) != 1) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = channel_read(t);
		if (n == 0)
			errno = ECONNRESET;
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			return -1;
	}
}

/*
 * The server a session client had: set it up here, linked to the client.
 * -1 when it could not be (the client is closed: its session is gone).
 */
static int
adopt_server(struct takeover *t, struct client *client, int fd, char **col)
{
	struct pgweir *pw = t->pw;
	struct server_handover h;
	struct server *server;
	ssize_t lv = hex_decode(col[13]), lr = hex_decode(col[14]);

	memset(&h, 0, sizeof(h));
	h.backend_pid = (uint32_t)strtoul(col[11], NULL, 10);
	h.backend_key = (uint32_t)strtoul(col[12], NULL, 10);
	h.host = atoi(col[15]);
	h.connect_time = strtoll(col[16], NULL, 10);
	if (lv < 0 || lr < 0 ||
	    (h.vars = varset_unpack(&pw->vars, col[13], (size_t)lv)) == NULL) {
		close(fd);
		client_close(client, "its server could not be taken over");
		return -1;
	}
	h.reset_vars = lr > 0 ? varset_unpack(&pw->vars, col[14],
	    (size_t)lr) : NULL;
	if (h.reset_vars == NULL)
		h.reset_vars = varset_ref(h.vars);
	server = server_adopt(client->pool, fd, &h);
	if (server == NULL) {
		client_close(client, "its server could not be taken over");
		return -1;
	}
	pool_link(client, server);
	return 0;
}

/* A client row: set the client up here. */
static void
adopt_client(struct takeover *t, char **col, int n)
{
	struct pgweir *pw = t->pw;
	struct client_handover h;
	struct client *client;
	ssize_t lv, lr, lk, lp;
	int fd = take_fd(t);

	int sfd = n == TK_PAIR_COLS ? take_fd(t) : -1;

	if (fd < 0 || (n != TK_CLIENT_COLS && n != TK_PAIR_COLS) ||
	    (n == TK_PAIR_COLS && sfd < 0)) {
		log_warning("online restart: a client came without its "
		    "socket; it is lost");
		if (fd >= 0)
			close(fd);
		if (sfd >= 0)
			close(sfd);
		return;
	}
	lv = hex_decode(col[6]);
	lr = hex_decode(col[7]);
	lk = hex_decode(col[8]);
	lp = hex_decode(col[10]);
	memset(&h, 0, sizeof(h));
	h.user = col[1];
	h.database = col[2];
	h.slot = (uint32_t)strtoul(col[3], NULL, 10);
	h.cancel_key = (uint32_t)strtoul(col[4], NULL, 10);
	h.connect_time = strtoll(col[5], NULL, 10);
	h.scram_keys = lk == 64 ? (const uint8_t *)col[8] : NULL;
	h.password = col[9][0] != '\0' ? col[9] : NULL;
	if (lv < 0 || lr < 0 || lk < 0 || lp < 0 ||
	    (h.vars = varset_unpack(&pw->vars, col[6], (size_t)lv)) == NULL) {
		log_warning("online restart: a client's state is malformed; "
		    "it is lost");
		close(fd);
		if (sfd >= 0)
			close(sfd);
		return;
	}
	h.reset_vars = lr > 0 ? varset_unpack(&pw->vars, col[7], (size_t)lr) :
	    varset_ref(h.vars);
	if (h.reset_vars == NULL)
		h.reset_vars = varset_ref(h.vars);
	client = client_adopt(pw, fd, &h);
	OPENSSL_cleanse(col[8], strlen(col[8]));
	OPENSSL_cleanse(col[9], strlen(col[9]));
	if (client == NULL) {
		if (sfd >= 0)
			close(sfd);
		return;
	}
	if (sfd >= 0 && adopt_server(t, client, sfd, col) < 0)
		return;
	if (lp > 0 && prepared_client_import(client, (const uint8_t *)col[10],
	    (size_t)lp) < 0) {
		client_close(client, "its prepared statements could not be "
		    "taken over");
		return;
	}
	t->n_clients++;
}

/*
 * A cancel whose key is one the old process may still have (its slot is
 * kept and not yet claimed): the old process cancels it, if it can.
 */
static void
forward_cancel(struct pgweir *pw, uint32_t pid, uint32_t key)
{
	struct takeover *t = pw->takeover;
	uint32_t slot = cancel_pid_slot(pw->cfg->peer_id, pid);
	struct evbuffer *q;
	char sql[64];

	if (t == NULL || t->fd < 0 || !slots_is_held(&pw->slots, slot))
		return;
	snprintf(sql, sizeof(sql), "TAKEOVER CANCEL %" PRIu32 " %" PRIu32,
	    pid, key);
	q = evbuffer_new();
	if (q == NULL || proto_build_query(q, sql) < 0 ||
	    evbuffer_write(q, t->fd) < (int)strlen(sql) + 6)
		log_warning("online restart: a cancel request for a client of "
		    "the previous process could not be sent on");
	else
		log_info("online restart: cancel request sent on to the "
		    "previous process");
	if (q != NULL)
		evbuffer_free(q);
}

/* The end, whole or not: the slots nobody claimed are free again. */
static void
receive_end(struct takeover *t, bool whole)
{
	struct pgweir *pw = t->pw;

	if (whole)
		log_info("online restart complete: %u client(s) taken over",
		    t->n_clients);
	else
		log_warning("online restart: the previous process went away "
		    "before handing everything over (%u client(s) taken over)",
		    t->n_clients);
	client_release_reserved_slots(pw);
	pw->forward_cancel = NULL;
	takeover_free(pw);
}

/* The channel is readable: rows of clients handed over, then "done". */
static void
receive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct takeover *t = arg;
	ssize_t n = channel_read(t);
	uint8_t type, *body;
	size_t len;
	int rc;

	(void)fd;
	(void)what;
	if (n < 0 && errno == EAGAIN)
		return;
	while ((rc = next_message(t, &type, &body, &len)) == 1) {
		char *col[TK_COLS];
		int ncol = type == PQMSG_DATA_ROW ? split_row(body, len, col,
		    TK_COLS) : 0;
		bool done = ncol >= 1 && strcmp(col[0], "done") == 0;

		if (ncol >= 1 && strcmp(col[0], "client") == 0)
			adopt_client(t, col, ncol);
		free(body);
		if (done) {
			receive_end(t, true);
			return;
		}
	}
	if (rc < 0 || n <= 0)
		receive_end(t, false);
}

/* Log in to the running process's console and send TAKEOVER. */
static int
ask(struct takeover *t, const char *path)
{
	static const struct pq_param login[] = {
		{ "user", "pgweir" }, { "database", "pgweir" },
		{ "application_name", "pgweir online restart" },
	};
	struct evbuffer *out = evbuffer_new();
	int rc = -1;

	if (out != NULL && proto_build_startup(out, login, 3) == 0 &&
	    proto_build_query(out, "TAKEOVER") == 0) {
		rc = 0;
		while (rc == 0 && evbuffer_get_length(out) > 0) {
			struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };
			if (evbuffer_write(out, t->fd) < 0 && errno != EAGAIN &&
			    errno != EINTR)
				rc = -1;
			else if (evbuffer_get_length(out) > 0 &&
			    poll(&pfd, 1, TK_WAIT_MS) != 1)
				rc = -1;
		}
	}
	if (out)
		evbuffer_free(out);
	if (rc < 0)
		log_fatal("online restart: could not talk to %s: %s", path,
		    strerror(errno));
	return rc;
}

/* A row of the first answer: the version, a listener, /metrics. */
static int
take_row(struct takeover *t, char **col, int n)
{
	struct pgweir *pw = t->pw;
	int fd;

	if (n >= 3 && strcmp(col[0], "version") == 0) {
		if (strcmp(col[1], TK_VERSION) != 0) {
			log_fatal("online restart: the running pgweir hands "
			    "over in another format (%s); restart it instead",
			    col[1]);
			return -1;
		}
		return client_reserve_slots(pw, (uint32_t)strtoul(col[2],
		    NULL, 10));
	}
	if (strcmp(col[0], "listener") != 0 && strcmp(col[0], "metrics") != 0)
		return 0;
	fd = take_fd(t);
	if (fd < 0) {
		log_fatal("online restart: a listening socket came without "
		    "its descriptor");
		return -1;
	}
	if (strcmp(col[0], "metrics") == 0) {
		pw->inherited_metrics_fd = fd;
		pw->metrics_fd_inherited = true;
		return 0;
	}
	if (listener_adopt(pw, fd, n >= 2 && col[1][0] ? col[1] : NULL) < 0) {
		close(fd);
		return -1;
	}
	log_info("listening on a socket taken over from the running pgweir");
	return 0;
}

/*
 * Until the end of TAKEOVER's answer: the login, then the rows of the
 * listening sockets.  An ErrorResponse ends it.
 */
static int
take_listeners(struct takeover *t)
{
	for (;;) {
		uint8_t type, *body;
		size_t len;
		char *col[TK_COLS];
		int n, rc = 0;

		if (wait_message(t, &type, &body, &len) < 0) {
			log_fatal("online restart: no answer from the running "
			    "pgweir: %s", strerror(errno));
			return -1;
		}
		body[len] = '\0';
		if (type == PQMSG_ERROR_RESPONSE) {
			struct pq_error_fields f;
			memset(&f, 0, sizeof(f));
			(void)proto_parse_error((const char *)body, len, &f);
			log_fatal("online restart refused: %s", f.message ?
			    f.message : "(no message)");
			rc = -1;
		} else if (type == PQMSG_AUTHENTICATION &&
		    (len < 4 || proto_get_u32(body) != PQAUTH_OK)) {
			log_fatal("online restart: the running pgweir asks for "
			    "a password; run the new one as the same account");
			rc = -1;
		} else if (type == PQMSG_DATA_ROW) {
			n = split_row(body, len, col, TK_COLS);
			rc = n < 1 ? -1 : take_row(t, col, n);
		} else if (type == PQMSG_READY_FOR_QUERY &&
		    t->pw->listeners != NULL) {
			free(body);
			return 0;
		}
		free(body);
		if (rc < 0)
			return -1;
	}
}

/*
 * -R: take over from the pgweir running on this config's unix socket.
 * Returns 1 when its listening sockets are ours (its clients follow
 * through the event loop), 0 when none runs (start as usual), -1 on
 * failure (said why).
 */
int
takeover_connect(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	struct takeover *t;
	const char *path;
	int fd;

	if (cfg->unix_socket_dir[0] == '\0') {
		log_fatal("online restart (-R) needs unix_socket_dir: the "
		    "running pgweir is reached on its unix socket");
		return -1;
	}
	if (sockaddr_of_host(cfg->unix_socket_dir, NULL, cfg->listen_port,
	    &ss, &len) != 1) {
		log_fatal("unix_socket_dir: path too long");
		return -1;
	}
	path = ((struct sockaddr_un *)&ss)->sun_path;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		if (fd >= 0)
			close(fd);
		log_info("online restart: no pgweir answers on %s; starting "
		    "as usual", path);
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL || (t->in = evbuffer_new()) == NULL) {
		free(t);
		close(fd);
		log_fatal("out of memory");
		return -1;
	}
	t->pw = pw;
	t->fd = fd;
	pw->takeover = t;
	log_info("online restart: taking over from the pgweir on %s", path);
	if (ask(t, path) < 0 || take_listeners(t) < 0)
		return -1;
	evutil_make_socket_nonblocking(fd);
	pw->forward_cancel = forward_cancel;
	event_assign(&t->ev, pw->base, fd, EV_READ | EV_PERSIST, receive_cb,
	    t);
	event_add(&t->ev, NULL);
	return 1;
}

/* Free the takeover state (either side); the channel closes. */
void
takeover_free(struct pgweir *pw)
{
	struct takeover *t = pw->takeover;

	if (t == NULL)
		return;
	pw->takeover = NULL;
	pw->on_client_idle = NULL;
	pw->forward_cancel = NULL;
	if (t->fd >= 0) {
		if (event_initialized(&t->ev))
			event_del(&t->ev);
		close(t->fd);
	}
	while (t->n_fds > 0)
		close(take_fd(t));
	if (t->in)
		evbuffer_free(t->in);
	if (event_initialized(&t->pump_ev))
		event_del(&t->pump_ev);
	free(t);
}
