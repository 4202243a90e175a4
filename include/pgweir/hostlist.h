/* pgweir: resolving a libpq host list with evdns, without blocking. */
#ifndef PGWEIR_HOSTLIST_H
#define PGWEIR_HOSTLIST_H

struct evdns_base;
struct hostlist;

/*
 * The answer: libpq's host, hostaddr and port lists with one entry per
 * address (ports NULL when the string had one port or none), or an error
 * message (and the lists NULL).  Everything is freed after the call.
 */
typedef void (*hostlist_done_fn)(void *arg, const char *hosts,
    const char *addrs, const char *ports, const char *errmsg);

struct hostlist *hostlist_resolve(struct evdns_base *dns, const char *host,
    const char *port, hostlist_done_fn done, void *arg);
void hostlist_cancel(struct hostlist *hl);

#endif
