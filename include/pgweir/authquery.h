/* pgweir: looking up secrets with auth_query, asynchronously. */
#ifndef PGWEIR_AUTHQUERY_H
#define PGWEIR_AUTHQUERY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;

/* One per process: owns the libpq connections, the queues and the cache. */
struct authquery;

/* One pending lookup, as seen by the one who asked for it. */
struct authquery_req;

/*
 * The answer.  AQ_FOUND comes with the secret, "" for a user without a
 * password (a NULL or empty secret): such a user may log in only where no
 * password is asked (trust).  AQ_NOT_FOUND (no row) must fail a password
 * login exactly like a wrong password; AQ_ERROR (could not connect, the
 * query failed or returned the wrong shape) comes with a message.
 */
enum authquery_status {
	AQ_FOUND,
	AQ_NOT_FOUND,
	AQ_ERROR,
};

/*
 * Called once per request, from the event loop.  secret is set for
 * AQ_FOUND, errmsg for AQ_ERROR; both are valid only during the call.
 * A callback may start new lookups and cancel other requests (not its
 * own: the handle is dead once its callback runs), and may flush the
 * cache; it must not free the authquery.
 */
typedef void (*authquery_cb)(void *arg, enum authquery_status st,
    const char *secret, const char *errmsg);

/* Defaults and limits; each has a setter below. */
#define AUTHQUERY_DEFAULT_CACHE_TTL	(5 * 1000000LL)	/* usec */
#define AUTHQUERY_DEFAULT_TIMEOUT	(15 * 1000000LL) /* usec */
#define AUTHQUERY_DEFAULT_MAX_PENDING	1000	/* per connection */
#define AUTHQUERY_DEFAULT_CACHE_MAX	10000	/* entries */

struct authquery *authquery_new(struct event_base *base);
void authquery_free(struct authquery *aq);
void authquery_set_cache_ttl(struct authquery *aq, int64_t usec);
void authquery_set_timeout(struct authquery *aq, int64_t usec);
void authquery_set_max_pending(struct authquery *aq, size_t n);
void authquery_set_dns(struct authquery *aq, struct evdns_base *dns);
void authquery_set_cache_max(struct authquery *aq, size_t n);
struct authquery_req *authquery_lookup(struct authquery *aq,
    const char *conninfo, const char *query, const char *user,
    authquery_cb cb, void *arg, enum authquery_status *cached_status,
    char *cached_secret, size_t secret_len);
void authquery_cancel(struct authquery_req *req);
void authquery_flush_cache(struct authquery *aq);
uint64_t authquery_queries_sent(const struct authquery *aq);
size_t authquery_cache_size(const struct authquery *aq);
size_t authquery_connections(const struct authquery *aq);

#endif
