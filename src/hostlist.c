/* SPDX-License-Identifier: ISC */
/*
 * Resolving a libpq host list with evdns before libpq sees it: libpq would
 * resolve names with a blocking getaddrinfo() on the event loop.  Each
 * name becomes one (host, hostaddr, port) entry per address, in order, so
 * libpq still tries them one after another; a socket path or an address
 * needs no lookup; a name that does not resolve is left out, as libpq
 * would skip it.  Used by auth_query's connections (authquery.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/hostlist.h"
#include "pgweir/log.h"

#define HOSTLIST_MAX_ADDRS 8	/* addresses tried per host name */

/* One element of the host list. */
struct hl_host {
	struct hostlist *hl;
	struct evdns_getaddrinfo_request *req;	/* while resolving */
	const char *name;	/* points into hl->hostbuf */
	const char *port;	/* element of a port list, or NULL */
	int err;		/* evdns error when it failed */
	int naddrs;		/* addresses found (0: none, or failed) */
	char addrs[HOSTLIST_MAX_ADDRS][INET6_ADDRSTRLEN];
};

struct hostlist {
	hostlist_done_fn done;
	void *arg;
	struct hl_host *hosts;	/* owned */
	size_t nhosts;
	size_t pending;		/* evdns answers still to come */
	bool starting;		/* evdns requests are being started */
	bool multiport;		/* the string has a port list */
	char *hostbuf;		/* owned; the host list, split at commas */
	char *portbuf;		/* owned; the port list, split at commas */
};

/* Whether a host list element is a name to resolve (not a path or IP). */
static bool
is_name(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return h[0] != '\0' && h[0] != '/' && h[0] != '@' &&
	    inet_pton(AF_INET, h, buf) != 1 && inet_pton(AF_INET6, h, buf) != 1;
}

/* The number of elements of a comma-separated list. */
static size_t
list_count(const char *s)
{
	size_t n = 1;

	while ((s = strchr(s, ',')) != NULL) {
		n++;
		s++;
	}
	return n;
}

/* The next element of a list split in place at *sp; NULL at the end. */
static char *
list_next(char **sp)
{
	char *s = *sp, *comma;

	if (s == NULL)
		return NULL;
	if ((comma = strchr(s, ',')) != NULL) {
		*comma = '\0';
		*sp = comma + 1;
	} else {
		*sp = NULL;
	}
	return s;
}

/* Append s (and a comma before it unless first) to a list being built. */
static void
list_add(char *buf, size_t *o, const char *s, bool first)
{
	size_t n = strlen(s);

	if (!first)
		buf[(*o)++] = ',';
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

/* Cancel what is outstanding and free everything. */
void
hostlist_cancel(struct hostlist *hl)
{
	if (hl == NULL)
		return;
	for (size_t i = 0; i < hl->nhosts; i++) {
		/* its callback comes later with EVUTIL_EAI_CANCEL, and then
		 * touches nothing */
		if (hl->hosts[i].req != NULL)
			evdns_getaddrinfo_cancel(hl->hosts[i].req);
	}
	free(hl->hosts);
	free(hl->hostbuf);
	free(hl->portbuf);
	free(hl);
}

/* Answer with an error, then free. */
static void
fail(struct hostlist *hl, const char *msg)
{
	hl->done(hl->arg, NULL, NULL, NULL, msg);
	hostlist_cancel(hl);
}

/* Every name is resolved: build libpq's lists, answer, free. */
static void
finish(struct hostlist *hl)
{
	char *hosts, *addrs, *ports, msg[512];
	size_t hlen = 1, alen = 1, plen = 1, ho = 0, ao = 0, po = 0, n = 0;
	const struct hl_host *failed = NULL;

	for (size_t i = 0; i < hl->nhosts; i++) {
		const struct hl_host *h = &hl->hosts[i];

		if (h->naddrs == 0 && failed == NULL)
			failed = h;
		for (int j = 0; j < h->naddrs; j++) {
			hlen += strlen(h->name) + 1;
			alen += strlen(h->addrs[j]) + 1;
			plen += (h->port ? strlen(h->port) : 0) + 1;
		}
		n += (size_t)h->naddrs;
	}
	if (n == 0) {
		snprintf(msg, sizeof(msg), "could not translate host name "
		    "\"%s\" to address: %s", failed ? failed->name : "",
		    failed ? evutil_gai_strerror(failed->err) : "");
		fail(hl, msg);
		return;
	}
	hosts = malloc(hlen);
	addrs = malloc(alen);
	ports = malloc(plen);
	if (hosts == NULL || addrs == NULL || ports == NULL) {
		free(hosts);
		free(addrs);
		free(ports);
		fail(hl, "out of memory");
		return;
	}
	hosts[0] = addrs[0] = ports[0] = '\0';
	n = 0;
	for (size_t i = 0; i < hl->nhosts; i++) {
		const struct hl_host *h = &hl->hosts[i];

		for (int j = 0; j < h->naddrs; j++, n++) {
			list_add(hosts, &ho, h->name, n == 0);
			list_add(addrs, &ao, h->addrs[j], n == 0);
			list_add(ports, &po, h->port ? h->port : "", n == 0);
		}
	}
	hl->done(hl->arg, hosts, addrs, hl->multiport ? ports : NULL, NULL);
	free(hosts);
	free(addrs);
	free(ports);
	hostlist_cancel(hl);
}

/* evdns answered for one host name (or the lookup was cancelled). */
static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct hl_host *h;

	/* cancelled: arg may be freed already */
	if (result == EVUTIL_EAI_CANCEL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	h = arg;
	h->req = NULL;
	h->err = result;
	for (const struct evutil_addrinfo *ai = res;
	    ai != NULL && h->naddrs < HOSTLIST_MAX_ADDRS; ai = ai->ai_next) {
		const void *a;

		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)
			    (const void *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)
			    (const void *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, h->addrs[h->naddrs],
		    sizeof(h->addrs[0])) != NULL)
			h->naddrs++;
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
	if (h->naddrs == 0)
		log_debug("could not resolve \"%s\": %s", h->name,
		    result ? evutil_gai_strerror(result) : "no address");
	if (--h->hl->pending > 0 || h->hl->starting)
		return;
	finish(h->hl);
}

/*
 * Resolve a host list (and its port list, one port or one per host) with
 * evdns.  done is called once, maybe before this returns (evdns knew every
 * name, there was none to look up, or the lists are wrong): then the
 * answer is NULL, else the handle, valid until done is called or
 * hostlist_cancel(); done must not cancel it.  Elements with backslash
 * escapes are not supported (host names have no commas).
 */
struct hostlist *
hostlist_resolve(struct evdns_base *dns, const char *host, const char *port,
    hostlist_done_fn done, void *arg)
{
	struct evutil_addrinfo hints;
	size_t nhosts = list_count(host);
	size_t nports = port && port[0] ? list_count(port) : 0;
	struct hostlist *hl = calloc(1, sizeof(*hl));
	char *hp, *pp;

	if (hl == NULL) {
		done(arg, NULL, NULL, NULL, "out of memory");
		return NULL;
	}
	hl->done = done;
	hl->arg = arg;
	if (nports > 1 && nports != nhosts) {
		fail(hl, "invalid connection string: the port list does not "
		    "match the host list");
		return NULL;
	}
	hl->multiport = nports > 1;
	hl->hostbuf = strdup(host);
	hl->portbuf = hl->multiport ? strdup(port) : NULL;
	hl->hosts = calloc(nhosts, sizeof(*hl->hosts));
	if (hl->hostbuf == NULL || hl->hosts == NULL ||
	    (hl->multiport && hl->portbuf == NULL)) {
		fail(hl, "out of memory");
		return NULL;
	}
	hl->nhosts = nhosts;
	hp = hl->hostbuf;
	pp = hl->portbuf;
	for (size_t i = 0; i < nhosts; i++) {
		struct hl_host *h = &hl->hosts[i];

		h->hl = hl;
		h->name = list_next(&hp);
		h->port = hl->multiport ? list_next(&pp) : NULL;
		if (is_name(h->name)) {
			hl->pending++;
			continue;
		}
		/* a socket path or an address: libpq needs no lookup */
		snprintf(h->addrs[0], sizeof(h->addrs[0]), "%s",
		    h->name[0] == '/' || h->name[0] == '@' ? "" : h->name);
		h->naddrs = 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hl->starting = true;
	for (size_t i = 0; i < nhosts; i++) {
		struct hl_host *h = &hl->hosts[i];

		if (!is_name(h->name))
			continue;
		/* the callback may run (clearing h->req) before it returns */
		h->req = evdns_getaddrinfo(dns, h->name, NULL, &hints, dns_cb,
		    h);
	}
	hl->starting = false;
	if (hl->pending == 0) {
		finish(hl);
		return NULL;
	}
	return hl;
}
