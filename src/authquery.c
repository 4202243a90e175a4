/* SPDX-License-Identifier: ISC */
/*
 * auth_query: looking up a user's secret on PostgreSQL with libpq, without
 * ever blocking the event loop, plus a short-lived cache of the answers.
 *
 * There is one persistent connection per distinct connection string (the
 * caller builds it: host, port, dbname, user=auth_user, password), made
 * with PQconnectStartParams/PQconnectPoll and then used in non-blocking
 * mode with PQsendQueryParams, PQflush, PQconsumeInput, PQisBusy and
 * PQgetResult.  One raw libevent event follows PQsocket(), which can change
 * between PQconnectPoll steps when libpq moves on to another host, so while
 * connecting the event is re-assigned after every step.  Each connection
 * runs one query at a time from its queue; connections run in parallel.
 * Deadlines for connect and query are libevent timers (libpq's
 * connect_timeout only works for blocking connects); a query that runs out
 * of time closes its connection, because libpq 15 has no non-blocking
 * cancel.  libpq would resolve host names with a blocking getaddrinfo, so
 * when given an evdns base this module has hostlist.c resolve them first
 * and hands libpq hostaddr= lists (one entry per address, so its fallback
 * from one address to the next still works).
 *
 * A lookup is keyed by (conninfo, query, user).  Requests for a key that is
 * already queued or in flight join that lookup, so a burst of logins of one
 * user costs one query; a request whose client went away is cancelled, and
 * a lookup nobody waits for any more is dropped from the queue (once sent,
 * its answer still fills the cache).  Answers AQ_FOUND and AQ_NOT_FOUND are
 * cached for cache_ttl; errors are not.  Secrets are wiped before their
 * memory is freed and are never logged; neither is the connection string,
 * which may hold a password.
 *
 * Callbacks always run from the event loop, never from inside
 * authquery_lookup.  They may start lookups, cancel other requests and
 * flush the cache, but not free the authquery; to make that safe, nothing
 * that a callback can reach is freed under it (see aq->running).  The auth
 * code calls this module; main.c owns the struct authquery.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "pgweir/authquery.h"
#include "pgweir/clock.h"
#include "pgweir/hostlist.h"
#include "pgweir/log.h"

/* glibc's sys/queue.h lacks the _SAFE iterator (BSDs have it). */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                      \
	for ((var) = TAILQ_FIRST((head));                               \
	    (var) && ((tvar) = TAILQ_NEXT((var), field), 1);            \
	    (var) = (tvar))
#endif

#define AQ_CACHE_BUCKETS	4096	/* hash chains; a power of two */
#define AQ_ERRMSG_MAX		512
#define AQ_APPLICATION_NAME	"pgweir auth_query"

/* A connection's life; the event and the timer follow the state. */
enum aq_conn_state {
	AQC_CLOSED,		/* no PGconn */
	AQC_CONNECTING,		/* PQconnectPoll steps; connect deadline */
	AQC_IDLE,		/* connected, nothing in flight; EV_READ */
	AQC_BUSY,		/* one query in flight; query deadline */
};

/* Where a lookup is, which decides the list it is on. */
enum aq_lookup_state {
	AQL_QUEUED,		/* on its connection's queue */
	AQL_SENT,		/* its connection's query in flight */
	AQL_DONE,		/* answered, on aq->done until delivered */
	AQL_DELIVERING,		/* on no list; callbacks running */
};

struct aq_lookup;

/* One request: a client waiting for a lookup. */
struct authquery_req {
	TAILQ_ENTRY(authquery_req) entry;	/* in lookup->reqs */
	struct aq_lookup *lookup;	/* what it waits for; not owned */
	authquery_cb cb;
	void *arg;
};
TAILQ_HEAD(aq_req_list, authquery_req);

/* One query for (conninfo, query, user), shared by its requests. */
struct aq_lookup {
	TAILQ_ENTRY(aq_lookup) entry;	/* in conn->queue or aq->done */
	struct authquery *aq;
	enum aq_lookup_state state;
	struct aq_conn *conn;	/* where it runs; NULL once answered */
	struct aq_req_list reqs;	/* owned; may be empty once sent */
	bool answered;		/* status (and secret or errmsg) are set */
	enum authquery_status status;
	char *secret;		/* AQ_FOUND: owned, wiped before free */
	char *errmsg;		/* AQ_ERROR: owned */
	char *user;		/* owned */
	char *query;		/* owned */
};
TAILQ_HEAD(aq_lookup_list, aq_lookup);

/* One persistent libpq connection and its queue. */
struct aq_conn {
	TAILQ_ENTRY(aq_conn) entry;	/* in aq->conns */
	struct authquery *aq;
	unsigned id;		/* for log lines */
	char *conninfo;		/* owned; may hold a password: never logged */
	PGconn *pg;		/* owned, or NULL when closed */
	enum aq_conn_state state;
	struct event *ev;	/* owned; on PQsocket(pg) */
	int ev_fd;		/* the fd ev is assigned to, or -1 */
	short ev_what;		/* what ev waits for while added */
	bool want_write;	/* PQflush has more to send */
	struct event *timer;	/* owned; the connect or query deadline */
	struct event *kick;	/* owned; runs the queue from the loop */
	struct aq_lookup_list queue;	/* owned; waiting to be sent */
	struct aq_lookup *sent;	/* owned; in flight while AQC_BUSY */
	size_t npending;	/* queued + sent */
	struct hostlist *resolving;	/* owned; while host names resolve */
};

/* A cached answer for (conn, query, user). */
struct aq_cache_entry {
	TAILQ_ENTRY(aq_cache_entry) order;	/* in aq->cache_order */
	struct aq_cache_entry *next;	/* hash chain */
	const struct aq_conn *conn;	/* key; entries die before it */
	uint32_t hash;
	int64_t expires;	/* monotonic usec */
	enum authquery_status status;	/* AQ_FOUND or AQ_NOT_FOUND */
	char *secret;		/* AQ_FOUND: owned, wiped before free */
	const char *query;	/* points into key */
	char key[];		/* user '\0' query '\0' */
};

/* The module's state; one per process. */
struct authquery {
	struct event_base *base;	/* not owned */
	struct evdns_base *dns;		/* not owned; NULL: libpq resolves */
	TAILQ_HEAD(, aq_conn) conns;	/* owned */
	struct aq_lookup_list done;	/* owned; answered, undelivered */
	struct event *done_ev;	/* owned; delivers aq->done */
	struct aq_conn *running;	/* connection whose callback runs */
	unsigned next_id;
	int64_t timeout;	/* usec, connect and query */
	struct timeval timeout_tv;
	const struct timeval *timeout_tvp;	/* common timeout, or &tv */
	size_t max_pending;	/* per connection */
	int64_t cache_ttl;	/* usec; 0: no cache */
	size_t cache_max;
	struct aq_cache_entry **buckets;	/* owned; NULL until used */
	TAILQ_HEAD(, aq_cache_entry) cache_order;	/* oldest first */
	size_t ncache;
	uint64_t queries_sent;	/* for tests and stats */
};

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_run(struct aq_conn *conn);
static void conn_hosts_free(struct aq_conn *conn);
static void conn_log(const struct aq_conn *conn, enum log_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Wipe and free a string that may hold a secret or a password. */
static void
secret_free(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

/*
 * Build "prefix: detail" on one line: libpq's messages end with a newline
 * and may span several lines (one per host tried).
 */
static void
errmsg_build(char *buf, size_t len, const char *prefix, const char *detail)
{
	size_t n;

	if (detail == NULL || detail[0] == '\0')
		snprintf(buf, len, "%s", prefix);
	else
		snprintf(buf, len, "%s: %s", prefix, detail);
	/* whitespace runs become one space */
	for (char *r = buf, *w = buf;; r++) {
		bool space = *r == ' ' || *r == '\n' || *r == '\r' ||
		    *r == '\t';

		if (space && (w == buf || w[-1] == ' '))
			continue;
		*w++ = space ? ' ' : *r;
		if (*r == '\0')
			break;
	}
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

/* FNV-1a over the cache key. */
static uint32_t
cache_hash(const struct aq_conn *conn, const char *query, const char *user)
{
	uintptr_t c = (uintptr_t)conn;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(c); i++, c >>= 8)
		h = (h ^ (uint8_t)c) * 16777619u;
	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (const char *p = query; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* Unlink a cache entry, wipe its secret and free it. */
static void
cache_remove(struct authquery *aq, struct aq_cache_entry *e)
{
	struct aq_cache_entry **pp = &aq->buckets[e->hash &
	    (AQ_CACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	TAILQ_REMOVE(&aq->cache_order, e, order);
	aq->ncache--;
	secret_free(e->secret);
	free(e);
}

/* Drop every cached answer. */
static void
cache_clear(struct authquery *aq)
{
	struct aq_cache_entry *e;

	while ((e = TAILQ_FIRST(&aq->cache_order)) != NULL)
		cache_remove(aq, e);
}

/* The live entry for a key, or NULL; an expired one is removed. */
static struct aq_cache_entry *
cache_find(struct authquery *aq, const struct aq_conn *conn,
    const char *query, const char *user)
{
	uint32_t h;
	struct aq_cache_entry *e;

	if (aq->buckets == NULL || aq->ncache == 0)
		return NULL;
	h = cache_hash(conn, query, user);
	for (e = aq->buckets[h & (AQ_CACHE_BUCKETS - 1)]; e; e = e->next) {
		if (e->hash == h && e->conn == conn &&
		    strcmp(e->key, user) == 0 && strcmp(e->query, query) == 0)
			break;
	}
	if (e != NULL && e->expires <= pgweir_mono_usec()) {
		cache_remove(aq, e);
		e = NULL;
	}
	return e;
}

/* Remember a lookup's answer (AQ_FOUND or AQ_NOT_FOUND only). */
static void
cache_insert(struct authquery *aq, const struct aq_conn *conn,
    const struct aq_lookup *lk)
{
	size_t ulen = strlen(lk->user), qlen = strlen(lk->query);
	int64_t now = pgweir_mono_usec();
	struct aq_cache_entry *e;
	size_t b;

	if (aq->cache_ttl <= 0 || aq->cache_max == 0 || lk->status == AQ_ERROR)
		return;
	if (aq->buckets == NULL) {
		aq->buckets = calloc(AQ_CACHE_BUCKETS, sizeof(*aq->buckets));
		if (aq->buckets == NULL)
			return;
	}
	/* expired entries first, then the oldest while full */
	while ((e = TAILQ_FIRST(&aq->cache_order)) != NULL &&
	    e->expires <= now)
		cache_remove(aq, e);
	if ((e = cache_find(aq, conn, lk->query, lk->user)) != NULL)
		cache_remove(aq, e);
	while (aq->ncache >= aq->cache_max)
		cache_remove(aq, TAILQ_FIRST(&aq->cache_order));
	e = calloc(1, sizeof(*e) + ulen + 1 + qlen + 1);
	if (e == NULL)
		return;
	if (lk->status == AQ_FOUND &&
	    (e->secret = strdup(lk->secret)) == NULL) {
		free(e);
		return;
	}
	memcpy(e->key, lk->user, ulen + 1);
	memcpy(e->key + ulen + 1, lk->query, qlen + 1);
	e->query = e->key + ulen + 1;
	e->conn = conn;
	e->status = lk->status;
	e->expires = now + aq->cache_ttl;
	e->hash = cache_hash(conn, lk->query, lk->user);
	b = e->hash & (AQ_CACHE_BUCKETS - 1);
	e->next = aq->buckets[b];
	aq->buckets[b] = e;
	TAILQ_INSERT_TAIL(&aq->cache_order, e, order);
	aq->ncache++;
}

/* A new lookup with no requests yet. */
static struct aq_lookup *
lookup_new(struct authquery *aq, const char *query, const char *user)
{
	struct aq_lookup *lk = calloc(1, sizeof(*lk));

	if (lk == NULL)
		return NULL;
	lk->aq = aq;
	TAILQ_INIT(&lk->reqs);
	lk->user = strdup(user);
	lk->query = strdup(query);
	if (lk->user == NULL || lk->query == NULL) {
		free(lk->user);
		free(lk->query);
		free(lk);
		return NULL;
	}
	return lk;
}

/* Free a lookup that is on no list, and its requests (no callbacks). */
static void
lookup_free(struct aq_lookup *lk)
{
	struct authquery_req *req;

	while ((req = TAILQ_FIRST(&lk->reqs)) != NULL) {
		TAILQ_REMOVE(&lk->reqs, req, entry);
		free(req);
	}
	secret_free(lk->secret);
	free(lk->errmsg);
	free(lk->user);
	free(lk->query);
	free(lk);
}

/* Set a lookup's answer unless it has one already. */
static void
lookup_answer(struct aq_lookup *lk, enum authquery_status st,
    const char *secret, const char *errmsg)
{
	if (lk->answered)
		return;
	lk->answered = true;
	lk->status = st;
	if (st == AQ_FOUND && (lk->secret = strdup(secret)) == NULL) {
		lk->status = AQ_ERROR;
		errmsg = "out of memory";
	}
	if (lk->status == AQ_ERROR) {
		lk->errmsg = strdup(errmsg ? errmsg : "unknown error");
		if (lk->errmsg == NULL)
			lk->errmsg = strdup("out of memory");
	}
}

/*
 * Answer a lookup (if not yet answered), cache the answer, and move it to
 * aq->done; the caller runs done_run() or activates done_ev.  The lookup
 * must be off its connection's lists already.
 */
static void
lookup_finish(struct aq_lookup *lk, enum authquery_status st,
    const char *secret, const char *errmsg)
{
	struct authquery *aq = lk->aq;

	lookup_answer(lk, st, secret, errmsg);
	if (lk->conn != NULL && lk->errmsg == NULL)
		cache_insert(aq, lk->conn, lk);
	lk->conn = NULL;
	lk->state = AQL_DONE;
	TAILQ_INSERT_TAIL(&aq->done, lk, entry);
}

/*
 * Call every request's callback with the lookup's answer, then free it.
 * Each request is unlinked and freed before its callback runs, so that a
 * callback cancelling another request of the same lookup finds a
 * consistent list; the lookup itself stays until the last one returns.
 */
static void
lookup_deliver(struct aq_lookup *lk)
{
	struct authquery_req *req;

	lk->state = AQL_DELIVERING;
	while ((req = TAILQ_FIRST(&lk->reqs)) != NULL) {
		authquery_cb cb = req->cb;
		void *arg = req->arg;

		TAILQ_REMOVE(&lk->reqs, req, entry);
		free(req);
		cb(arg, lk->status, lk->status == AQ_FOUND ? lk->secret : NULL,
		    lk->status == AQ_ERROR ? lk->errmsg : NULL);
	}
	lookup_free(lk);
}

/* Deliver every answered lookup; callbacks may add more to the list. */
static void
done_run(struct authquery *aq)
{
	struct aq_lookup *lk;

	while ((lk = TAILQ_FIRST(&aq->done)) != NULL) {
		TAILQ_REMOVE(&aq->done, lk, entry);
		lookup_deliver(lk);
	}
}

/* Deferred delivery of lookups answered outside a connection callback. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	done_run(arg);
}

/* The connection's queued or in-flight lookup for a key, or NULL. */
static struct aq_lookup *
conn_find_lookup(struct aq_conn *conn, const char *query, const char *user)
{
	struct aq_lookup *lk;

	if (conn->sent && strcmp(conn->sent->user, user) == 0 &&
	    strcmp(conn->sent->query, query) == 0)
		return conn->sent;
	TAILQ_FOREACH(lk, &conn->queue, entry)
		if (strcmp(lk->user, user) == 0 &&
		    strcmp(lk->query, query) == 0)
			return lk;
	return NULL;
}

/* The connection for a connection string, or NULL. */
static struct aq_conn *
conn_find(struct authquery *aq, const char *conninfo)
{
	struct aq_conn *conn;

	TAILQ_FOREACH(conn, &aq->conns, entry)
		if (strcmp(conn->conninfo, conninfo) == 0)
			return conn;
	return NULL;
}

/* A string for a log line, "" for NULL. */
static const char *
nz(const char *s)
{
	return s ? s : "";
}

/* Log a line prefixed with "A-id: auth_query user@host:port/db". */
static void
conn_log(const struct aq_conn *conn, enum log_level level, const char *fmt,
    ...)
{
	char prefix[320];
	struct log_conn lc = { .kind = 'A', .id = conn->id, .text = prefix };
	va_list ap;

	if (!log_enabled(level))
		return;
	if (conn->pg != NULL)
		snprintf(prefix, sizeof(prefix), "A-%u: auth_query %s@%s:%s/%s",
		    conn->id, nz(PQuser(conn->pg)), nz(PQhost(conn->pg)),
		    nz(PQport(conn->pg)), nz(PQdb(conn->pg)));
	else
		snprintf(prefix, sizeof(prefix), "A-%u: auth_query", conn->id);
	va_start(ap, fmt);
	log_vconn(level, &lc, fmt, ap);
	va_end(ap);
}

/* Connection timer and kick callbacks, defined below. */
static void conn_timeout_cb(evutil_socket_t fd, short what, void *arg);
static void conn_kick_cb(evutil_socket_t fd, short what, void *arg);

/* A new, closed connection for a connection string. */
static struct aq_conn *
conn_new(struct authquery *aq, const char *conninfo)
{
	struct aq_conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->aq = aq;
	conn->id = ++aq->next_id;
	conn->ev_fd = -1;
	TAILQ_INIT(&conn->queue);
	conn->conninfo = strdup(conninfo);
	conn->ev = event_new(aq->base, -1, 0, conn_io_cb, conn);
	conn->timer = evtimer_new(aq->base, conn_timeout_cb, conn);
	conn->kick = event_new(aq->base, -1, 0, conn_kick_cb, conn);
	if (conn->conninfo == NULL || conn->ev == NULL ||
	    conn->timer == NULL || conn->kick == NULL) {
		secret_free(conn->conninfo);
		if (conn->ev)
			event_free(conn->ev);
		if (conn->timer)
			event_free(conn->timer);
		if (conn->kick)
			event_free(conn->kick);
		free(conn);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&aq->conns, conn, entry);
	return conn;
}

/*
 * Make the io event wait for `what` on fd.  While connecting, force is
 * set: libpq may have closed the old socket and opened a new one under the
 * same number, which the kernel dropped from the epoll set, so the event
 * is deleted and added again rather than trusted to be current.
 */
static int
conn_arm(struct aq_conn *conn, int fd, short what, bool force)
{
	if (!force && fd == conn->ev_fd && what == conn->ev_what)
		return 0;
	event_del(conn->ev);
	conn->ev_fd = -1;
	conn->ev_what = 0;
	if (fd < 0)
		return -1;
	if (event_assign(conn->ev, conn->aq->base, fd, what | EV_PERSIST,
	    conn_io_cb, conn) < 0 || event_add(conn->ev, NULL) < 0)
		return -1;
	conn->ev_fd = fd;
	conn->ev_what = what;
	return 0;
}

/*
 * A notice from the server (RAISE NOTICE in the query, or the FATAL error
 * of a shutdown while idle) goes to the log, not to libpq's default of
 * stderr.
 */
static void
conn_notice_cb(void *arg, const char *message)
{
	const struct aq_conn *conn = arg;
	int n = (int)strnlen(message, AQ_ERRMSG_MAX);

	while (n > 0 && message[n - 1] == '\n')
		n--;
	conn_log(conn, LOG_LVL_DEBUG, "server says: %.*s", n, message);
}

/* Close the libpq connection; the queue stays. */
static void
conn_disconnect(struct aq_conn *conn)
{
	conn_hosts_free(conn);
	/* delete the event before PQfinish closes its fd */
	event_del(conn->ev);
	conn->ev_fd = -1;
	conn->ev_what = 0;
	evtimer_del(conn->timer);
	if (conn->pg != NULL) {
		PQfinish(conn->pg);
		conn->pg = NULL;
	}
	conn->want_write = false;
	conn->state = AQC_CLOSED;
}

/* Free a connection and its lookups without calling back. */
static void
conn_free(struct aq_conn *conn)
{
	struct aq_lookup *lk;

	conn_disconnect(conn);
	TAILQ_REMOVE(&conn->aq->conns, conn, entry);
	while ((lk = TAILQ_FIRST(&conn->queue)) != NULL) {
		TAILQ_REMOVE(&conn->queue, lk, entry);
		lookup_free(lk);
	}
	if (conn->sent)
		lookup_free(conn->sent);
	event_free(conn->ev);
	event_free(conn->timer);
	event_free(conn->kick);
	secret_free(conn->conninfo);
	free(conn);
}

/* Run the connection's queue from the loop (never from a caller's stack). */
static void
conn_kick(struct aq_conn *conn)
{
	event_active(conn->kick, EV_TIMEOUT, 0);
}

/*
 * The connection failed (could not connect, broke, or timed out): close
 * it, answer the lookup in flight with AQ_ERROR (unless its result was
 * complete already), and, if it never got connected, the queued ones too,
 * since they were waiting for this very attempt.  Lookups queued behind a
 * broken connection get a new one.  Calls back.
 */
static void
conn_fail(struct aq_conn *conn, const char *errmsg)
{
	bool connecting = conn->state == AQC_CONNECTING;
	struct aq_lookup *lk;

	conn_log(conn, LOG_LVL_WARNING, "closing because: %s", errmsg);
	conn_disconnect(conn);
	if ((lk = conn->sent) != NULL) {
		conn->sent = NULL;
		conn->npending--;
		lookup_finish(lk, AQ_ERROR, NULL, errmsg);
	}
	if (connecting) {
		while ((lk = TAILQ_FIRST(&conn->queue)) != NULL) {
			TAILQ_REMOVE(&conn->queue, lk, entry);
			conn->npending--;
			lookup_finish(lk, AQ_ERROR, NULL, errmsg);
		}
	}
	done_run(conn->aq);
	if (!TAILQ_EMPTY(&conn->queue))
		conn_kick(conn);
}

/* conn_fail with libpq's error message after a prefix. */
static void
conn_fail_pq(struct aq_conn *conn, const char *prefix)
{
	char msg[AQ_ERRMSG_MAX];

	errmsg_build(msg, sizeof(msg), prefix,
	    conn->pg ? PQerrorMessage(conn->pg) : NULL);
	conn_fail(conn, msg);
}

/*
 * Start libpq.  fallback_application_name comes first so that the
 * connection string may set its own application_name; host, hostaddr and
 * port, when given (host names resolved), come after it and win.  Nothing
 * else is added: no client settings reach this connection.
 */
static void
conn_start(struct aq_conn *conn, const char *host, const char *hostaddr,
    const char *port)
{
	const char *keys[6], *vals[6];
	int n = 0;

	keys[n] = "fallback_application_name";
	vals[n++] = AQ_APPLICATION_NAME;
	keys[n] = "dbname";
	vals[n++] = conn->conninfo;
	if (hostaddr != NULL) {
		keys[n] = "host";
		vals[n++] = host;
		keys[n] = "hostaddr";
		vals[n++] = hostaddr;
	}
	if (port != NULL) {
		keys[n] = "port";
		vals[n++] = port;
	}
	keys[n] = NULL;
	vals[n] = NULL;
	conn->pg = PQconnectStartParams(keys, vals, 1);
	if (conn->pg == NULL) {
		conn_fail(conn, "out of memory");
		return;
	}
	if (PQstatus(conn->pg) == CONNECTION_BAD) {
		conn_fail_pq(conn, "could not connect to auth_query server");
		return;
	}
	PQsetNoticeProcessor(conn->pg, conn_notice_cb, conn);
	conn_log(conn, LOG_LVL_DEBUG, "connecting");
	/* after a successful start, act as if PQconnectPoll said WRITING */
	if (conn_arm(conn, PQsocket(conn->pg), EV_WRITE, true) < 0)
		conn_fail(conn, "could not connect to auth_query server: "
		    "cannot watch the socket");
}

/* Stop resolving the host list, if it still is. */
static void
conn_hosts_free(struct aq_conn *conn)
{
	hostlist_cancel(conn->resolving);
	conn->resolving = NULL;
}

/* The host list is resolved (or could not be): libpq starts on it. */
static void
conn_hosts_done(void *arg, const char *hosts, const char *addrs,
    const char *ports, const char *errmsg)
{
	struct aq_conn *conn = arg;
	struct aq_conn *prev = conn->aq->running;
	char msg[AQ_ERRMSG_MAX];

	conn->resolving = NULL;
	conn->aq->running = conn;
	if (errmsg != NULL) {
		snprintf(msg, sizeof(msg), "could not connect to auth_query "
		    "server: %s", errmsg);
		conn_fail(conn, msg);
	} else {
		conn_start(conn, hosts, addrs, ports);
	}
	conn->aq->running = prev;
}

/*
 * Start connecting: check the string, resolve host names with evdns when
 * there is an evdns base (libpq would resolve them with a blocking
 * getaddrinfo), then start libpq.  The connect deadline starts here.
 */
static void
conn_connect(struct aq_conn *conn)
{
	PQconninfoOption *opts;
	const char *host = NULL, *hostaddr = NULL, *port = NULL;
	char *perr = NULL;

	conn->state = AQC_CONNECTING;
	/*
	 * A malformed string's parse error quotes part of it, which may be the
	 * password: check it here and report it without the details.
	 */
	opts = PQconninfoParse(conn->conninfo, &perr);
	if (opts == NULL) {
		if (perr != NULL) {
			OPENSSL_cleanse(perr, strlen(perr));
			PQfreemem(perr);
		}
		conn_fail(conn, "invalid auth_query connection string");
		return;
	}
	evtimer_add(conn->timer, conn->aq->timeout_tvp);
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	if (conn->aq->dns != NULL && host != NULL && host[0] != '\0' &&
	    (hostaddr == NULL || hostaddr[0] == '\0'))
		conn->resolving = hostlist_resolve(conn->aq->dns, host, port,
		    conn_hosts_done, conn);
	else
		conn_start(conn, NULL, NULL, NULL);
	/* PQconninfoFree does not wipe the password */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			OPENSSL_cleanse(o->val, strlen(o->val));
	PQconninfoFree(opts);
}

/* One PQconnectPoll step, then wait for what libpq asks for. */
static void
conn_connect_step(struct aq_conn *conn)
{
	short what;

	switch (PQconnectPoll(conn->pg)) {
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(conn->pg, 1) != 0) {
			conn_fail_pq(conn, "could not set auth_query "
			    "connection non-blocking");
			return;
		}
		evtimer_del(conn->timer);
		conn->state = AQC_IDLE;
		conn_log(conn, LOG_LVL_DEBUG, "connected");
		/* reading while idle notices a server that goes away */
		if (conn_arm(conn, PQsocket(conn->pg), EV_READ, true) < 0) {
			conn_fail(conn, "lost connection to auth_query server");
			return;
		}
		conn_run(conn);
		return;
	case PGRES_POLLING_READING:
		what = EV_READ;
		break;
	case PGRES_POLLING_WRITING:
	case PGRES_POLLING_ACTIVE:
		what = EV_WRITE;
		break;
	case PGRES_POLLING_FAILED:
	default:
		conn_fail_pq(conn, "could not connect to auth_query server");
		return;
	}
	/* PQsocket may have changed: libpq moved on to the next host */
	if (conn_arm(conn, PQsocket(conn->pg), what, true) < 0)
		conn_fail(conn, "could not connect to auth_query server: "
		    "cannot watch the socket");
}

/* Send the next queued lookup. */
static void
conn_send(struct aq_conn *conn)
{
	struct aq_lookup *lk = TAILQ_FIRST(&conn->queue);
	const char *params[1];
	int r;

	TAILQ_REMOVE(&conn->queue, lk, entry);
	lk->state = AQL_SENT;
	conn->sent = lk;
	conn->state = AQC_BUSY;
	/* the user name is a parameter, never interpolated into the text */
	params[0] = lk->user;
	if (!PQsendQueryParams(conn->pg, lk->query, 1, NULL, params, NULL,
	    NULL, 0)) {
		conn_fail_pq(conn, "could not send auth_query");
		return;
	}
	conn->aq->queries_sent++;
	evtimer_add(conn->timer, conn->aq->timeout_tvp);
	if ((r = PQflush(conn->pg)) < 0) {
		conn_fail_pq(conn, "could not send auth_query");
		return;
	}
	conn->want_write = r == 1;
	if (conn_arm(conn, PQsocket(conn->pg),
	    EV_READ | (conn->want_write ? EV_WRITE : 0), false) < 0)
		conn_fail(conn, "lost connection to auth_query server");
}

/* Send the next lookup or connect, as the state allows. */
static void
conn_run(struct aq_conn *conn)
{
	if (TAILQ_EMPTY(&conn->queue))
		return;
	if (conn->state == AQC_CLOSED)
		conn_connect(conn);
	else if (conn->state == AQC_IDLE)
		conn_send(conn);
}

/*
 * Turn the query's first result into an answer.  The shape is checked
 * strictly: exactly two columns (name, secret) and at most one row; zero
 * rows mean "no such user".  A row with a NULL or empty secret is a user
 * without a password: found, with "" as its secret, so that methods that
 * need no password (trust) let it in and every password method fails.
 */
static void
lookup_take_result(struct aq_lookup *lk, const PGresult *res)
{
	char msg[AQ_ERRMSG_MAX];
	const char *primary;

	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (PQnfields(res) != 2) {
			snprintf(msg, sizeof(msg), "auth_query must return 2 "
			    "columns (name, secret), got %d", PQnfields(res));
			lookup_answer(lk, AQ_ERROR, NULL, msg);
		} else if (PQntuples(res) > 1) {
			snprintf(msg, sizeof(msg), "auth_query must return at "
			    "most 1 row, got %d", PQntuples(res));
			lookup_answer(lk, AQ_ERROR, NULL, msg);
		} else if (PQntuples(res) == 0)
			lookup_answer(lk, AQ_NOT_FOUND, NULL, NULL);
		else
			lookup_answer(lk, AQ_FOUND, PQgetisnull(res, 0, 1) ?
			    "" : PQgetvalue(res, 0, 1), NULL);
		break;
	case PGRES_COMMAND_OK:
	case PGRES_EMPTY_QUERY:
		lookup_answer(lk, AQ_ERROR, NULL, "auth_query must return 2 "
		    "columns (name, secret), got 0");
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
		primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		errmsg_build(msg, sizeof(msg), "auth_query failed",
		    primary ? primary : PQresultErrorMessage(res));
		lookup_answer(lk, AQ_ERROR, NULL, msg);
		break;
	default:
		snprintf(msg, sizeof(msg), "auth_query returned an unexpected "
		    "result: %s", PQresStatus(PQresultStatus(res)));
		lookup_answer(lk, AQ_ERROR, NULL, msg);
		break;
	}
}

/*
 * The query in flight made progress: flush, read, and take results while
 * libpq has them complete.  PQgetResult is only called when PQisBusy says
 * it will not block; its NULL ends the query.
 */
static void
conn_query_step(struct aq_conn *conn, short what)
{
	PGconn *pg = conn->pg;
	struct aq_lookup *lk = conn->sent;
	PGresult *res;
	int r;

	if ((what & EV_READ) && !PQconsumeInput(pg)) {
		conn_fail_pq(conn, "lost connection to auth_query server");
		return;
	}
	if (conn->want_write) {
		if ((r = PQflush(pg)) < 0) {
			conn_fail_pq(conn, "lost connection to auth_query "
			    "server");
			return;
		}
		conn->want_write = r == 1;
	}
	while (!PQisBusy(pg)) {
		ExecStatusType st;

		if ((res = PQgetResult(pg)) == NULL)
			goto done;
		st = PQresultStatus(res);
		if (!lk->answered)
			lookup_take_result(lk, res);
		PQclear(res);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		    st == PGRES_COPY_BOTH) {
			/* libpq would hand out COPY results forever */
			conn_fail(conn, "auth_query must not be COPY");
			return;
		}
	}
	if (conn_arm(conn, PQsocket(pg),
	    EV_READ | (conn->want_write ? EV_WRITE : 0), false) < 0)
		conn_fail(conn, "lost connection to auth_query server");
	return;

done:
	evtimer_del(conn->timer);
	conn->sent = NULL;
	conn->npending--;
	conn->state = AQC_IDLE;
	lookup_finish(lk, AQ_ERROR, NULL, "auth_query returned no result");
	if (PQstatus(pg) == CONNECTION_BAD) {
		conn_log(conn, LOG_LVL_WARNING, "closing because: connection "
		    "lost");
		conn_disconnect(conn);
	} else if (conn_arm(conn, PQsocket(pg), EV_READ, false) < 0) {
		conn_disconnect(conn);
	}
	done_run(conn->aq);
	/* a callback may have flushed (and closed) this connection */
	conn_run(conn);
}

/*
 * Readable while idle: the server said something unasked (a notice, or
 * the FATAL error and EOF of a shutdown).  Consume it; on EOF close, so
 * that the next lookup connects afresh.
 */
static void
conn_idle_read(struct aq_conn *conn)
{
	PGnotify *n;

	if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) == CONNECTION_BAD) {
		conn_log(conn, LOG_LVL_LOG, "closing because: server closed "
		    "the connection");
		conn_disconnect(conn);
		conn_run(conn);
		return;
	}
	while ((n = PQnotifies(conn->pg)) != NULL)
		PQfreemem(n);
}

/* Socket readiness, dispatched by state. */
static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aq_conn *conn = arg;
	struct aq_conn *prev = conn->aq->running;

	(void)fd;
	conn->aq->running = conn;
	switch (conn->state) {
	case AQC_CONNECTING:
		if (conn->pg != NULL)
			conn_connect_step(conn);
		break;
	case AQC_BUSY:
		conn_query_step(conn, what);
		break;
	case AQC_IDLE:
		conn_idle_read(conn);
		break;
	case AQC_CLOSED:
		event_del(conn->ev);
		break;
	}
	conn->aq->running = prev;
}

/* The connect or query deadline passed. */
static void
conn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aq_conn *conn = arg;
	struct aq_conn *prev = conn->aq->running;
	char msg[128];

	(void)fd;
	(void)what;
	conn->aq->running = conn;
	if (conn->state == AQC_CONNECTING) {
		snprintf(msg, sizeof(msg), "could not connect to auth_query "
		    "server: timeout after %.1f s",
		    (double)conn->aq->timeout / 1e6);
		conn_fail(conn, msg);
	} else if (conn->state == AQC_BUSY) {
		/* no non-blocking cancel in libpq 15: drop the connection */
		snprintf(msg, sizeof(msg), "auth_query timed out after %.1f s",
		    (double)conn->aq->timeout / 1e6);
		conn_fail(conn, msg);
	}
	conn->aq->running = prev;
}

/* Run the queue (a lookup was added, or a broken connection left some). */
static void
conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct aq_conn *conn = arg;
	struct aq_conn *prev = conn->aq->running;

	(void)fd;
	(void)what;
	conn->aq->running = conn;
	conn_run(conn);
	conn->aq->running = prev;
}

/* A new module with no connections and an empty cache. */
struct authquery *
authquery_new(struct event_base *base)
{
	struct authquery *aq = calloc(1, sizeof(*aq));

	if (aq == NULL)
		return NULL;
	aq->base = base;
	TAILQ_INIT(&aq->conns);
	TAILQ_INIT(&aq->done);
	TAILQ_INIT(&aq->cache_order);
	aq->done_ev = event_new(base, -1, 0, done_cb, aq);
	if (aq->done_ev == NULL) {
		free(aq);
		return NULL;
	}
	aq->cache_ttl = AUTHQUERY_DEFAULT_CACHE_TTL;
	aq->cache_max = AUTHQUERY_DEFAULT_CACHE_MAX;
	aq->max_pending = AUTHQUERY_DEFAULT_MAX_PENDING;
	authquery_set_timeout(aq, AUTHQUERY_DEFAULT_TIMEOUT);
	return aq;
}

/* Close everything and free; pending callbacks are not called. */
void
authquery_free(struct authquery *aq)
{
	struct aq_conn *conn;
	struct aq_lookup *lk;

	if (aq == NULL)
		return;
	while ((conn = TAILQ_FIRST(&aq->conns)) != NULL)
		conn_free(conn);
	while ((lk = TAILQ_FIRST(&aq->done)) != NULL) {
		TAILQ_REMOVE(&aq->done, lk, entry);
		lookup_free(lk);
	}
	cache_clear(aq);
	free(aq->buckets);
	event_free(aq->done_ev);
	free(aq);
}

/* How long answers are cached; 0 disables the cache.  Clears it. */
void
authquery_set_cache_ttl(struct authquery *aq, int64_t usec)
{
	aq->cache_ttl = usec > 0 ? usec : 0;
	cache_clear(aq);
}

/* The most answers cached; the oldest go first. */
void
authquery_set_cache_max(struct authquery *aq, size_t n)
{
	aq->cache_max = n;
	while (aq->ncache > n)
		cache_remove(aq, TAILQ_FIRST(&aq->cache_order));
}

/* The connect and query deadline; applies to the next connect or query. */
void
authquery_set_timeout(struct authquery *aq, int64_t usec)
{
	if (usec <= 0)
		usec = AUTHQUERY_DEFAULT_TIMEOUT;
	aq->timeout = usec;
	aq->timeout_tv.tv_sec = (time_t)(usec / 1000000);
	aq->timeout_tv.tv_usec = (suseconds_t)(usec % 1000000);
	/* libevent keeps at most 256 common timeouts per base */
	aq->timeout_tvp = event_base_init_common_timeout(aq->base,
	    &aq->timeout_tv);
	if (aq->timeout_tvp == NULL)
		aq->timeout_tvp = &aq->timeout_tv;
}

/*
 * Resolve host names with this evdns base (not owned; it must outlive
 * aq's lookups: free aq first).  Without one, libpq resolves them itself,
 * with a getaddrinfo that blocks the loop.
 */
void
authquery_set_dns(struct authquery *aq, struct evdns_base *dns)
{
	aq->dns = dns;
}

/* The most distinct lookups queued or in flight per connection. */
void
authquery_set_max_pending(struct authquery *aq, size_t n)
{
	aq->max_pending = n > 0 ? n : 1;
}

/* Answer from the cache into the caller's buffers; false on a miss. */
static bool
cache_answer(struct authquery *aq, const struct aq_conn *conn,
    const char *query, const char *user, enum authquery_status *st,
    char *secret, size_t secret_len)
{
	struct aq_cache_entry *e;

	if (aq->cache_ttl <= 0 || st == NULL)
		return false;
	if ((e = cache_find(aq, conn, query, user)) == NULL)
		return false;
	if (e->status == AQ_FOUND) {
		size_t n = strlen(e->secret);

		/* too small a buffer: ask again, the callback has no limit */
		if (secret == NULL || n >= secret_len)
			return false;
		memcpy(secret, e->secret, n + 1);
	} else if (secret != NULL && secret_len > 0) {
		secret[0] = '\0';
	}
	*st = e->status;
	return true;
}

/*
 * Look up user's secret with query ($1 = user) over a connection made
 * from conninfo.  Returns a request whose callback runs later from the
 * loop, exactly once unless cancelled; or NULL when answered at once,
 * with *cached_status set: AQ_FOUND (secret copied into cached_secret) or
 * AQ_NOT_FOUND from the cache, or AQ_ERROR when out of memory.
 */
struct authquery_req *
authquery_lookup(struct authquery *aq, const char *conninfo,
    const char *query, const char *user, authquery_cb cb, void *arg,
    enum authquery_status *cached_status, char *cached_secret,
    size_t secret_len)
{
	struct aq_conn *conn = conn_find(aq, conninfo);
	struct authquery_req *req = NULL;
	struct aq_lookup *lk;

	if (conn != NULL && cache_answer(aq, conn, query, user,
	    cached_status, cached_secret, secret_len))
		return NULL;
	if ((req = calloc(1, sizeof(*req))) == NULL)
		goto fail;
	if (conn == NULL && (conn = conn_new(aq, conninfo)) == NULL)
		goto fail;
	if ((lk = conn_find_lookup(conn, query, user)) == NULL) {
		if ((lk = lookup_new(aq, query, user)) == NULL)
			goto fail;
		if (conn->npending >= aq->max_pending) {
			conn_log(conn, LOG_LVL_DEBUG, "%zu lookups pending, "
			    "refusing another", conn->npending);
			lookup_finish(lk, AQ_ERROR, NULL,
			    "too many pending auth_query lookups");
			event_active(aq->done_ev, EV_TIMEOUT, 0);
		} else {
			lk->conn = conn;
			lk->state = AQL_QUEUED;
			TAILQ_INSERT_TAIL(&conn->queue, lk, entry);
			conn->npending++;
			conn_kick(conn);
		}
	}
	req->lookup = lk;
	req->cb = cb;
	req->arg = arg;
	TAILQ_INSERT_TAIL(&lk->reqs, req, entry);
	return req;

fail:
	free(req);
	if (cached_status != NULL)
		*cached_status = AQ_ERROR;
	if (cached_secret != NULL && secret_len > 0)
		cached_secret[0] = '\0';
	return NULL;
}

/*
 * The client went away: its callback will not run.  A queued lookup that
 * nobody waits for any more is dropped; one in flight runs to the end and
 * its answer goes to the cache.
 */
void
authquery_cancel(struct authquery_req *req)
{
	struct aq_lookup *lk;

	if (req == NULL)
		return;
	lk = req->lookup;
	TAILQ_REMOVE(&lk->reqs, req, entry);
	free(req);
	if (!TAILQ_EMPTY(&lk->reqs))
		return;
	switch (lk->state) {
	case AQL_QUEUED:
		TAILQ_REMOVE(&lk->conn->queue, lk, entry);
		lk->conn->npending--;
		lookup_free(lk);
		break;
	case AQL_DONE:
		TAILQ_REMOVE(&lk->aq->done, lk, entry);
		lookup_free(lk);
		break;
	case AQL_SENT:
	case AQL_DELIVERING:
		break;
	}
}

/*
 * Forget every cached answer and close idle connections, whose strings
 * may be stale after a reload.  A connection whose callback is running is
 * only disconnected, never freed under it.
 */
void
authquery_flush_cache(struct authquery *aq)
{
	struct aq_conn *conn, *tmp;

	cache_clear(aq);
	TAILQ_FOREACH_SAFE(conn, &aq->conns, entry, tmp) {
		if (conn->npending > 0 || !TAILQ_EMPTY(&conn->queue))
			continue;
		if (conn == aq->running)
			conn_disconnect(conn);
		else
			conn_free(conn);
	}
}

/* Queries sent so far (for tests and stats). */
uint64_t
authquery_queries_sent(const struct authquery *aq)
{
	return aq->queries_sent;
}

/* Answers in the cache, live or not yet purged. */
size_t
authquery_cache_size(const struct authquery *aq)
{
	return aq->ncache;
}

/* Open (or opening) connections. */
size_t
authquery_connections(const struct authquery *aq)
{
	const struct aq_conn *conn;
	size_t n = 0;

	TAILQ_FOREACH(conn, &aq->conns, entry)
		if (conn->pg != NULL)
			n++;
	return n;
}
