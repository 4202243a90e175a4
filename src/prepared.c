/* SPDX-License-Identifier: ISC */
/*
 * Protocol-level named prepared statements in transaction and statement
 * mode: a client's statements follow it from server to server.
 *
 * A statement's identity is its query text plus parameter types; equal
 * statements are one interned struct pstmt with a pgweir name
 * ("PGWEIR_<id>").  Each client maps its own names to pstmts; each server
 * keeps the set of pstmts prepared on it, at most max_prepared_statements,
 * least recently used first out (a hidden Close evicts one).
 *
 * The rewriting, message by message:
 *   Parse "s"       pstmt already on this server: answered here
 *                   (ParseComplete, in order); else forwarded as
 *                   Parse "PGWEIR_n".  A name in use gets PostgreSQL's
 *                   own error, raised on the server so that the batch
 *                   fails exactly as it would there.
 *   Bind "s"        Parse "PGWEIR_n" injected first if the server lacks
 *                   it (its ParseComplete hidden; its error, if any,
 *                   becomes the Bind's), then Bind "PGWEIR_n".
 *   Describe S "s"  likewise.
 *   Close S "s"     answered here: the client forgets the name; servers
 *                   keep the statement for others.
 * Unnamed statements and portals pass untouched.  Changes to a client's
 * names are made at once (later messages of the batch see them) and undone
 * if an earlier error makes the server skip the message, which is why
 * queue entries carry data.  Callers: relay.c.
 */
#include "config.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"
#include "pgweir/stats.h"

#define REG_BUCKETS 4096
#define NAME_PEEK 1024		/* Bind prefix we look at: portal + name */

/* One distinct statement: query text and parameter types. */
struct pstmt {
	struct pstmt *hnext;	/* registry chain */
	uint64_t id;
	uint32_t hash;
	uint32_t refs;		/* client names, server entries, queue data */
	uint32_t len;		/* of key */
	bool validated;		/* some server parsed it without an error */
	char sname[24];		/* its name on servers */
	char key[];		/* Parse body after the name, verbatim */
};

/* All statements, by text. */
struct ps_registry {
	struct pstmt *buckets[REG_BUCKETS];
	uint64_t next_id;
	size_t count;
	struct ps_pending *spare;	/* freed queue blocks, for reuse */
	int n_spare;			/* ...how many (PENDING_SPARE_MAX) */
};

/* A client's name for a statement. */
struct cps_entry {
	struct cps_entry *next;
	struct pstmt *ps;
	char name[];
};

/* A client's statements. */
struct client_ps {
	struct cps_entry **buckets;
	uint32_t nbuckets;
	uint32_t count;
	size_t bytes;		/* query text held, for the bound */
};

/* A statement prepared on a server, in LRU order. */
struct sps_entry {
	struct sps_entry *hnext;
	struct sps_entry *prev, *next;	/* LRU: head most recent */
	struct pstmt *ps;
	uint64_t used_batch;	/* batch (Sync count) of the last use */
};

/* A server's statements. */
struct server_ps {
	struct sps_entry *buckets[256];
	struct sps_entry *lru_head, *lru_tail;
	uint32_t count;
	uint64_t batch;		/* Syncs sent: entries of this batch stay */
};

/* Undo data of a queue entry that changed a client's names. */
struct ps_pending {
	struct pstmt *ps;	/* a reference */
	struct ps_pending *next_spare;	/* in the registry's spares */
	char name[];		/* the client's name */
};

/*
 * Queue blocks are kept for reuse, so that a named Parse or Close and a
 * statement prepared on a server for a Bind allocate nothing once warm:
 * blocks hold names up to PENDING_NAME_MAX bytes (longer ones are
 * allocated and freed as they come), and at most PENDING_SPARE_MAX wait.
 */
#define PENDING_NAME_MAX 64
#define PENDING_SPARE_MAX 256

/* FNV-1a. */
static uint32_t
hash_bytes(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* Set up the registry. */
int
prepared_init(struct pgweir *pw)
{
	pw->ps = calloc(1, sizeof(*pw->ps));
	return pw->ps ? 0 : -1;
}

/* Free the registry (at exit, after every client and server). */
void
prepared_fini(struct pgweir *pw)
{
	if (pw->ps == NULL)
		return;
	for (int i = 0; i < REG_BUCKETS; i++) {
		struct pstmt *p = pw->ps->buckets[i], *n;
		for (; p; p = n) {
			n = p->hnext;
			free(p);
		}
	}
	while (pw->ps->spare != NULL) {
		struct ps_pending *p = pw->ps->spare;
		pw->ps->spare = p->next_spare;
		free(p);
	}
	free(pw->ps);
	pw->ps = NULL;
}

/* Number of distinct statements. */
size_t
prepared_registry_count(const struct pgweir *pw)
{
	return pw->ps ? pw->ps->count : 0;
}

/* Whether this pool's mode rewrites statements (fixed at a login). */
bool
prepared_pool_rewrites(const struct pool *pool)
{
	return pool_mode_of(pool) != POOL_SESSION;
}

/*
 * Whether a client's named statements are rewritten now: its pool's mode
 * at login said so, and max_prepared_statements is not 0 at this moment.
 * The setting is read per message, so turning it off (SET or RELOAD)
 * applies to connected clients at once: their messages pass untouched
 * from then on, under their own names, and what pgweir holds for them
 * stays until it is turned on again.
 */
bool
prepared_is_on(const struct client *client)
{
	return client->ps_on && client->pw->cfg->max_prepared_statements > 0;
}

/* Find or create the statement with this key; returns a reference. */
static struct pstmt *
pstmt_intern(struct ps_registry *reg, const char *key, size_t len)
{
	uint32_t h = hash_bytes(key, len);
	struct pstmt **b = &reg->buckets[h % REG_BUCKETS], *p;

	for (p = *b; p; p = p->hnext) {
		if (p->hash == h && p->len == len &&
		    memcmp(p->key, key, len) == 0) {
			p->refs++;
			return p;
		}
	}
	p = malloc(sizeof(*p) + len);
	if (p == NULL)
		return NULL;
	p->id = ++reg->next_id;
	p->hash = h;
	p->refs = 1;
	p->validated = false;
	p->len = (uint32_t)len;
	snprintf(p->sname, sizeof(p->sname), "PGWEIR_%" PRIu64, p->id);
	memcpy(p->key, key, len);
	p->hnext = *b;
	*b = p;
	reg->count++;
	return p;
}

/* Drop a reference; the last one frees the statement. */
static void
pstmt_release(struct ps_registry *reg, struct pstmt *p)
{
	struct pstmt **pp;

	if (p == NULL || --p->refs > 0)
		return;
	for (pp = &reg->buckets[p->hash % REG_BUCKETS]; *pp;
	    pp = &(*pp)->hnext) {
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	}
	reg->count--;
	free(p);
}

/* ---- a client's names ---- */

/* The client's entry for a name, or NULL. */
static struct cps_entry *
cps_find(const struct client_ps *c, const char *name)
{
	struct cps_entry *e;

	if (c == NULL || c->count == 0)
		return NULL;
	for (e = c->buckets[hash_bytes(name, strlen(name)) % c->nbuckets]; e;
	    e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Grow a client's table when it fills up. */
static int
cps_grow(struct client_ps *c)
{
	uint32_t n = c->nbuckets ? c->nbuckets * 2 : 16;
	struct cps_entry **nb = calloc(n, sizeof(*nb));

	if (nb == NULL)
		return -1;
	for (uint32_t i = 0; i < c->nbuckets; i++) {
		struct cps_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			uint32_t h = hash_bytes(e->name, strlen(e->name)) % n;
			next = e->next;
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
	return 0;
}

/* Map a client's name to a statement (taking a new reference). */
static int
cps_add(struct client *client, const char *name, struct pstmt *ps)
{
	struct client_ps *c = client->ps;
	struct cps_entry *e;
	uint32_t h;

	if (c == NULL) {
		c = client->ps = calloc(1, sizeof(*c));
		if (c == NULL)
			return -1;
	}
	if (c->count >= c->nbuckets && cps_grow(c) < 0)
		return -1;
	e = malloc(sizeof(*e) + strlen(name) + 1);
	if (e == NULL)
		return -1;
	strcpy(e->name, name);
	e->ps = ps;
	ps->refs++;
	h = hash_bytes(name, strlen(name)) % c->nbuckets;
	e->next = c->buckets[h];
	c->buckets[h] = e;
	c->count++;
	c->bytes += ps->len;
	return 0;
}

/* Forget a client's name (if it maps to ps, or to anything if ps NULL). */
static void
cps_remove(struct client *client, const char *name, const struct pstmt *ps)
{
	struct client_ps *c = client->ps;
	struct cps_entry **pp;

	if (c == NULL || c->count == 0)
		return;
	for (pp = &c->buckets[hash_bytes(name, strlen(name)) % c->nbuckets];
	    *pp; pp = &(*pp)->next) {
		struct cps_entry *e = *pp;
		if (strcmp(e->name, name) != 0 || (ps && e->ps != ps))
			continue;
		*pp = e->next;
		c->count--;
		c->bytes -= e->ps->len;
		pstmt_release(client->pw->ps, e->ps);
		free(e);
		return;
	}
}

/*
 * A client's names and statements, packed for another pgweir process (an
 * online restart): per name "name\0", the statement's length (4 bytes)
 * and its Parse body after the name.
 */
int
prepared_client_export(const struct client *client, struct evbuffer *out)
{
	const struct client_ps *c = client->ps;
	uint8_t b[4];

	if (c == NULL)
		return 0;
	for (uint32_t i = 0; i < c->nbuckets; i++) {
		for (const struct cps_entry *e = c->buckets[i]; e;
		    e = e->next) {
			proto_put_u32(b, e->ps->len);
			if (evbuffer_add(out, e->name, strlen(e->name) + 1) <
			    0 || evbuffer_add(out, b, 4) < 0 ||
			    evbuffer_add(out, e->ps->key, e->ps->len) < 0)
				return -1;
		}
	}
	return 0;
}

/* Give a client the names prepared_client_export() packed; -1: malformed. */
int
prepared_client_import(struct client *client, const uint8_t *p, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *name = (const char *)p + pos;
		const uint8_t *nul = memchr(p + pos, '\0', len - pos);
		struct pstmt *ps;
		uint32_t n;
		int rc;

		if (nul == NULL || (size_t)(nul - p) + 5 > len)
			return -1;
		pos = (size_t)(nul - p) + 1;
		n = proto_get_u32(p + pos);
		pos += 4;
		if (n > len - pos)
			return -1;
		ps = pstmt_intern(client->pw->ps, (const char *)p + pos, n);
		if (ps == NULL)
			return -1;
		rc = cps_add(client, name, ps);
		pstmt_release(client->pw->ps, ps);
		if (rc < 0)
			return -1;
		pos += n;
	}
	return 0;
}

/* Forget all of a client's names (DISCARD ALL, DEALLOCATE ALL, close). */
static void
cps_clear(struct client *client)
{
	struct client_ps *c = client->ps;

	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->nbuckets; i++) {
		struct cps_entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			pstmt_release(client->pw->ps, e->ps);
			free(e);
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
	c->bytes = 0;
}

/* Free a client's names (it closed). */
void
prepared_client_free(struct client *client)
{
	if (client->ps == NULL)
		return;
	cps_clear(client);
	free(client->ps->buckets);
	free(client->ps);
	client->ps = NULL;
}

/* Number of names a client has. */
size_t
prepared_client_count(const struct client *client)
{
	return client->ps ? client->ps->count : 0;
}

/* ---- a server's statements ---- */

/* The server's entry for a statement, or NULL. */
static struct sps_entry *
sps_find(const struct server_ps *s, const struct pstmt *ps)
{
	struct sps_entry *e;

	if (s == NULL)
		return NULL;
	for (e = s->buckets[ps->id % 256]; e; e = e->hnext)
		if (e->ps == ps)
			return e;
	return NULL;
}

/* Unlink an entry from the LRU list. */
static void
lru_unlink(struct server_ps *s, struct sps_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

/* Put an entry at the head of the LRU list (most recently used). */
static void
lru_push(struct server_ps *s, struct sps_entry *e)
{
	e->prev = NULL;
	e->next = s->lru_head;
	if (s->lru_head)
		s->lru_head->prev = e;
	s->lru_head = e;
	if (s->lru_tail == NULL)
		s->lru_tail = e;
}

/* Mark a statement used on a server now. */
static void
sps_touch(struct server_ps *s, struct sps_entry *e)
{
	lru_unlink(s, e);
	lru_push(s, e);
	e->used_batch = s->batch;
}

/* Forget a statement on a server (it was evicted, or never made it). */
static void
sps_remove(struct server *server, struct pstmt *ps)
{
	struct server_ps *s = server->ps;
	struct sps_entry **pp;

	if (s == NULL)
		return;
	for (pp = &s->buckets[ps->id % 256]; *pp; pp = &(*pp)->hnext) {
		struct sps_entry *e = *pp;
		if (e->ps != ps)
			continue;
		*pp = e->hnext;
		lru_unlink(s, e);
		s->count--;
		pstmt_release(server->pw->ps, e->ps);
		free(e);
		return;
	}
}

/* Record a statement as prepared on a server. */
static int
sps_add(struct server *server, struct pstmt *ps)
{
	struct server_ps *s = server->ps;
	struct sps_entry *e;

	if (s == NULL) {
		s = server->ps = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	e->ps = ps;
	ps->refs++;
	e->hnext = s->buckets[ps->id % 256];
	s->buckets[ps->id % 256] = e;
	lru_push(s, e);
	e->used_batch = s->batch;
	s->count++;
	return 0;
}

/* Forget everything prepared on a server (it was reset). */
static void
sps_clear(struct server *server)
{
	struct server_ps *s = server->ps;

	if (s == NULL)
		return;
	while (s->lru_head)
		sps_remove(server, s->lru_head->ps);
}

/* Free a server's statements (it closed). */
void
prepared_server_free(struct server *server)
{
	sps_clear(server);
	free(server->ps);
	server->ps = NULL;
}

/* Number of statements prepared on a server. */
size_t
prepared_server_count(const struct server *server)
{
	return server->ps ? server->ps->count : 0;
}

/* ---- writing messages to the server ---- */

/* Append a message made of a type, a list of strings and raw bytes. */
static void
add_msg(struct evbuffer *out, uint8_t type, const char *s1, const char *s2,
    const void *raw, size_t rawlen)
{
	uint8_t hdr[5];
	size_t len = 4 + (s1 ? strlen(s1) + 1 : 0) + (s2 ? strlen(s2) + 1 : 0) +
	    rawlen;

	hdr[0] = type;
	proto_put_u32(hdr + 1, (uint32_t)len);
	evbuffer_add(out, hdr, 5);
	if (s1)
		evbuffer_add(out, s1, strlen(s1) + 1);
	if (s2)
		evbuffer_add(out, s2, strlen(s2) + 1);
	if (rawlen)
		evbuffer_add(out, raw, rawlen);
}

/*
 * Make room for one more statement on a server: past the limit, Close the
 * least recently used one not used in the current batch (a statement the
 * batch still needs stays, and the limit is passed for a moment).
 */
static void
make_room(struct server *server)
{
	struct server_ps *s = server->ps;
	int limit = server->pw->cfg->max_prepared_statements;
	struct sps_entry *e;

	if (s == NULL || (int)s->count < limit)
		return;
	for (e = s->lru_tail; e && (int)s->count >= limit; ) {
		struct sps_entry *prev = e->prev;
		if (e->used_batch != s->batch) {
			uint8_t target = 'S';
			uint8_t body[32];
			size_t n = strlen(e->ps->sname) + 1;
			body[0] = target;
			memcpy(body + 1, e->ps->sname, n);
			add_msg(server->io.out, PQMSG_CLOSE, NULL, NULL, body,
			    n + 1);
			rq_push(&server->rq, RQ_HIDDEN_CLOSE);
			sps_remove(server, e->ps);
		}
		e = prev;
	}
}

/* Prepare a statement on a server under its pgweir name (hidden). */
static int
inject_parse(struct client *client, struct server *server, struct pstmt *ps,
    uint8_t rq_type, void *data)
{
	make_room(server);
	if (sps_add(server, ps) < 0)
		return -1;
	add_msg(server->io.out, PQMSG_PARSE, ps->sname, NULL, ps->key,
	    ps->len);
	rq_push_data(&server->rq, rq_type, data);
	client->pool->stats->total.server_parse_count++;
	return 0;
}

/* A queue data block naming a client's name and a statement. */
static struct ps_pending *
pending_new(struct ps_registry *reg, const char *name, struct pstmt *ps)
{
	size_t len = strlen(name) + 1;
	struct ps_pending *p = reg->spare;

	if (len <= PENDING_NAME_MAX && p != NULL) {
		reg->spare = p->next_spare;
		reg->n_spare--;
	} else {
		p = malloc(sizeof(*p) + (len <= PENDING_NAME_MAX ?
		    PENDING_NAME_MAX : len));
	}
	if (p == NULL)
		return NULL;
	p->next_spare = NULL;
	p->ps = ps;
	ps->refs++;
	strcpy(p->name, name);
	return p;
}

/* Free a queue data block. */
static void
pending_free(struct server *server, struct ps_pending *p)
{
	struct ps_registry *reg = server->pw->ps;

	if (p == NULL)
		return;
	pstmt_release(reg, p->ps);
	if (strlen(p->name) < PENDING_NAME_MAX &&
	    reg->n_spare < PENDING_SPARE_MAX) {
		p->next_spare = reg->spare;
		reg->spare = p;
		reg->n_spare++;
		return;
	}
	free(p);
}

/*
 * Fail the client's current request with PostgreSQL's own error, raised on
 * the server so the batch fails as it would there (the server skips to
 * the next Sync and rolls back an implicit transaction).
 */
static void
raise_on_server(struct client *client, struct server *server,
    const char *sqlstate, const char *message)
{
	struct evbuffer *q = evbuffer_new();
	static const uint8_t no_params[2] = { 0, 0 };
	uint8_t bind_tail[6] = { 0, 0, 0, 0, 0, 0 };
	uint8_t exec_tail[4] = { 0, 0, 0, 0 };
	uint8_t tag[8];
	char hex[17];

	if (q == NULL)
		return;
	RAND_bytes(tag, sizeof(tag));
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", tag[i]);
	evbuffer_add_printf(q, "DO $pgweir_%s$BEGIN RAISE EXCEPTION USING "
	    "ERRCODE = '%s', MESSAGE = E'", hex, sqlstate);
	for (const char *p = message; *p; p++) {
		if (*p == '\'' || *p == '\\')
			evbuffer_add(q, p, 1);
		evbuffer_add(q, p, 1);
	}
	evbuffer_add_printf(q, "'; END$pgweir_%s$", hex);
	evbuffer_add(q, "", 1);
	evbuffer_add(q, no_params, 2);
	add_msg(server->io.out, PQMSG_PARSE, "", NULL,
	    evbuffer_pullup(q, -1), evbuffer_get_length(q));
	rq_push(&server->rq, RQ_HIDDEN_PARSE);
	add_msg(server->io.out, PQMSG_BIND, "", "", bind_tail, 6);
	rq_push(&server->rq, RQ_HIDDEN_BIND);
	add_msg(server->io.out, PQMSG_EXECUTE, "", NULL, exec_tail, 4);
	rq_push(&server->rq, PQMSG_EXECUTE);
	server->rq.unsynced = true;
	evbuffer_free(q);
	(void)client;
}

/* A client's Parse of a named statement. */
static enum ps_result
on_parse(struct client *client, struct server *server, char *msg,
    size_t total)
{
	const struct config *cfg = client->pw->cfg;
	char *body = msg + PQ_HEADER_LEN, *name = body;
	size_t blen = total - PQ_HEADER_LEN, nlen;
	struct cps_entry *have;
	struct pstmt *ps;
	char err[256];

	nlen = strnlen(name, blen);
	if (nlen == blen)
		return PS_PASS;		/* malformed: the server says so */
	if (nlen == 0)
		return PS_PASS;		/* the unnamed statement */
	client->pool->stats->total.client_parse_count++;
	have = cps_find(client->ps, name);
	if (have != NULL) {
		client_log(client, LOG_LVL_LOG, "prepared statement '%.200s' "
		    "was already prepared", name);
		snprintf(err, sizeof(err), "prepared statement \"%s\" already "
		    "exists", name);
		raise_on_server(client, server, "42P05", err);
		return PS_DONE;
	}
	if (client->ps && (client->ps->count >=
	    (uint32_t)cfg->max_client_prepared_statements ||
	    client->ps->bytes + (blen - nlen - 1) >
	    (size_t)cfg->max_client_prepared_bytes)) {
		snprintf(err, sizeof(err), "too many prepared statements for "
		    "one connection (max_client_prepared_statements %d, "
		    "max_client_prepared_bytes %d): close some",
		    cfg->max_client_prepared_statements,
		    cfg->max_client_prepared_bytes);
		raise_on_server(client, server, "54000", err);
		return PS_DONE;
	}
	ps = pstmt_intern(client->pw->ps, name + nlen + 1, blen - nlen - 1);
	if (ps == NULL || cps_add(client, name, ps) < 0) {
		pstmt_release(client->pw->ps, ps);
		client_close(client, "out of memory");
		return PS_CLOSED;
	}
	{
		struct sps_entry *e = sps_find(server->ps, ps);
		struct ps_pending *pend = pending_new(client->pw->ps, name, ps);
		pstmt_release(client->pw->ps, ps);	/* the map holds it */
		if (pend == NULL) {
			client_close(client, "out of memory");
			return PS_CLOSED;
		}
		if (e != NULL) {
			/* already there: answered here, in order */
			sps_touch(server->ps, e);
			rq_push_data(&server->rq, RQ_FAKE_PARSE, pend);
		} else if (inject_parse(client, server, ps, PQMSG_PARSE,
		    pend) < 0) {
			pending_free(server, pend);
			client_close(client, "out of memory");
			return PS_CLOSED;
		}
	}
	server->rq.unsynced = true;
	return PS_DONE;
}

/* Make sure a server has a statement before a message that uses it. */
static int
ensure_on_server(struct client *client, struct server *server,
    struct pstmt *ps)
{
	struct sps_entry *e = sps_find(server->ps, ps);

	if (e != NULL) {
		sps_touch(server->ps, e);
		return 0;
	}
	{
		struct ps_pending *pend = pending_new(client->pw->ps, "", ps);
		if (pend == NULL || inject_parse(client, server, ps,
		    RQ_HIDDEN_PARSE, pend) < 0) {
			pending_free(server, pend);
			return -1;
		}
	}
	return 0;
}

/* A client's Describe or Close of a statement (small messages). */
static enum ps_result
on_describe_or_close(struct client *client, struct server *server,
    uint8_t type, char *msg, size_t total)
{
	char *body = msg + PQ_HEADER_LEN, *name = body + 1;
	size_t blen = total - PQ_HEADER_LEN;
	struct cps_entry *e;
	struct ps_pending *pend;

	if (blen < 2 || body[0] != 'S' || strnlen(name, blen - 1) ==
	    blen - 1 || name[0] == '\0')
		return PS_PASS;
	e = cps_find(client->ps, name);
	if (type == PQMSG_DESCRIBE) {
		uint8_t b[32];
		if (e == NULL)
			return PS_PASS;	/* the server: "does not exist" */
		if (ensure_on_server(client, server, e->ps) < 0) {
			client_close(client, "out of memory");
			return PS_CLOSED;
		}
		b[0] = 'S';
		memcpy(b + 1, e->ps->sname, strlen(e->ps->sname) + 1);
		add_msg(server->io.out, PQMSG_DESCRIBE, NULL, NULL, b,
		    strlen(e->ps->sname) + 2);
		rq_push(&server->rq, PQMSG_DESCRIBE);
		server->rq.unsynced = true;
		return PS_DONE;
	}
	/* Close: the client forgets its name; answered here, in order */
	pend = e ? pending_new(client->pw->ps, name, e->ps) : NULL;
	if (e != NULL) {
		if (pend == NULL) {
			client_close(client, "out of memory");
			return PS_CLOSED;
		}
		cps_remove(client, name, NULL);
	}
	rq_push_data(&server->rq, RQ_FAKE_CLOSE, pend);
	server->rq.unsynced = true;
	return PS_DONE;
}

/*
 * Where the portal and statement names of a Bind end, for names longer
 * than the peek window: found in the buffer in place, then the prefix is
 * made contiguous.  Only such rare Binds pay for this.  Returns PS_DONE
 * with *prefix set to the pulled-up bytes, PS_WAIT or PS_PASS (malformed).
 */
static enum ps_result
bind_long_prefix(struct evbuffer *in, size_t total, size_t *plen,
    size_t *nlen, char **prefix)
{
	size_t avail = evbuffer_get_length(in);
	size_t limit = avail < total ? avail : total;
	struct evbuffer_ptr start, end, nul;

	if (evbuffer_ptr_set(in, &start, PQ_HEADER_LEN, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET) < 0)
		return PS_PASS;
	nul = evbuffer_search_range(in, "", 1, &start, &end);
	if (nul.pos < 0)
		return limit < total ? PS_WAIT : PS_PASS;
	*plen = (size_t)nul.pos - PQ_HEADER_LEN;
	if (evbuffer_ptr_set(in, &nul, 1, EVBUFFER_PTR_ADD) < 0)
		return limit < total ? PS_WAIT : PS_PASS;
	start = nul;
	nul = evbuffer_search_range(in, "", 1, &start, &end);
	if (nul.pos < 0)
		return limit < total ? PS_WAIT : PS_PASS;
	*nlen = (size_t)nul.pos - (size_t)start.pos;
	*prefix = (char *)evbuffer_pullup(in, nul.pos + 1);
	return *prefix ? PS_DONE : PS_PASS;
}

/* A client's Bind: the statement name is rewritten, the rest streams. */
static enum ps_result
on_bind(struct client *client, struct server *server,
    const struct pq_header *hdr)
{
	struct evbuffer *in = client->io.in;
	size_t avail = evbuffer_get_length(in), total = 1 + hdr->len;
	size_t peek = avail < total ? avail : total, plen, nlen, prefix, rest;
	char buf[NAME_PEEK + PQ_HEADER_LEN], *p;
	const char *portal, *name;
	struct cps_entry *e;
	enum ps_result r;
	uint8_t h[5];

	if (peek > sizeof(buf))
		peek = sizeof(buf);
	evbuffer_copyout(in, buf, peek);
	portal = buf + PQ_HEADER_LEN;
	plen = strnlen(portal, peek - PQ_HEADER_LEN);
	nlen = 0;
	if (PQ_HEADER_LEN + plen + 1 < peek)
		nlen = strnlen(portal + plen + 1, peek - PQ_HEADER_LEN -
		    plen - 1);
	if (PQ_HEADER_LEN + plen + 1 + nlen >= peek) {
		/* the names are not all here yet, or pass the window */
		if (peek < total && peek < sizeof(buf))
			return PS_WAIT;
		if (peek < sizeof(buf))
			return PS_PASS;	/* malformed: the server says */
		r = bind_long_prefix(in, total, &plen, &nlen, &p);
		if (r != PS_DONE)
			return r;
		portal = p + PQ_HEADER_LEN;
	}
	name = portal + plen + 1;
	if (nlen == 0)
		return PS_PASS;		/* the unnamed statement */
	client->pool->stats->total.bind_count++;
	e = cps_find(client->ps, name);
	if (e == NULL)
		return PS_PASS;		/* the server: "does not exist" */
	if (ensure_on_server(client, server, e->ps) < 0) {
		client_close(client, "out of memory");
		return PS_CLOSED;
	}
	/* header, portal and pgweir's name; the rest of the Bind follows */
	prefix = PQ_HEADER_LEN + plen + 1 + nlen + 1;
	rest = total - prefix;
	h[0] = PQMSG_BIND;
	proto_put_u32(h + 1, (uint32_t)(4 + plen + 1 +
	    strlen(e->ps->sname) + 1 + rest));
	evbuffer_add(server->io.out, h, 5);
	evbuffer_add(server->io.out, portal, plen + 1);
	evbuffer_add(server->io.out, e->ps->sname, strlen(e->ps->sname) + 1);
	evbuffer_drain(in, prefix);
	client->pool->stats->total.bytes_received += prefix;
	rq_push(&server->rq, PQMSG_BIND);
	server->rq.unsynced = true;
	client->pkt_remain = (uint32_t)rest;	/* relay_client moves it */
	return PS_DONE;
}

/*
 * Look at a client message that may name a statement (Parse, Bind,
 * Describe, Close) and rewrite or answer it.  The message starts at the
 * head of the client's input; the caller has moved everything before it.
 */
enum ps_result
prepared_client_message(struct client *client, struct server *server,
    const struct pq_header *hdr)
{
	struct evbuffer *in = client->io.in;
	size_t total = 1 + (size_t)hdr->len;
	enum ps_result rc;
	char *msg;

	if (rq_full(&server->rq))
		return PS_WAIT;
	if (hdr->type == PQMSG_BIND)
		return on_bind(client, server, hdr);
	if (evbuffer_get_length(in) < total)
		return PS_WAIT;
	msg = (char *)evbuffer_pullup(in, (ev_ssize_t)total);
	if (msg == NULL) {
		client_close(client, "out of memory");
		return PS_CLOSED;
	}
	if (hdr->type == PQMSG_PARSE)
		rc = on_parse(client, server, msg, total);
	else
		rc = on_describe_or_close(client, server, hdr->type, msg,
		    total);
	if (rc == PS_DONE) {
		evbuffer_drain(in, total);
		client->pool->stats->total.bytes_received += total;
	}
	return rc;
}

/* A queue entry of ours was answered as expected. */
void
prepared_entry_done(struct server *server, uint8_t type, void *data)
{
	struct ps_pending *p = data;

	if (p != NULL && (type == PQMSG_PARSE || type == RQ_HIDDEN_PARSE))
		p->ps->validated = true;
	if (type == PQMSG_PARSE || type == RQ_FAKE_PARSE ||
	    type == RQ_FAKE_CLOSE || type == RQ_HIDDEN_PARSE)
		pending_free(server, p);
}

/* The registered statement with this key, or NULL (no reference taken). */
static struct pstmt *
pstmt_lookup(struct ps_registry *reg, const char *key, size_t len)
{
	uint32_t h = hash_bytes(key, len);
	struct pstmt *p;

	for (p = reg->buckets[h % REG_BUCKETS]; p; p = p->hnext)
		if (p->hash == h && p->len == len &&
		    memcmp(p->key, key, len) == 0)
			return p;
	return NULL;
}

/*
 * A message from a client that has no server right now.  Some need none:
 * a Parse of a statement some server already parsed without an error
 * (the client's name is recorded; the statement is prepared wherever the
 * client's Bind lands), a Close of a statement, and a Sync (an unlinked
 * client is idle, outside any transaction).  Answering them here means a
 * client never waits for a server just to prepare, which also keeps
 * drivers that prepare synchronously (pgbench -M prepared) from
 * deadlocking against clients that hold servers.
 */
enum ps_result
prepared_unlinked_message(struct client *client, const struct pq_header *hdr)
{
	struct evbuffer *in = client->io.in;
	size_t total = 1 + (size_t)hdr->len;
	char *msg, *body, *name;
	size_t blen, nlen;
	struct pstmt *ps;

	if (hdr->type == PQMSG_SYNC) {
		/* a Sync with a body is malformed: a server says so */
		if (hdr->len != 4)
			return PS_PASS;
		evbuffer_drain(in, total);
		proto_build_ready_for_query(client->io.out, 'I');
		return PS_DONE;
	}
	if (hdr->type != PQMSG_PARSE && hdr->type != PQMSG_CLOSE)
		return PS_PASS;
	if (evbuffer_get_length(in) < total)
		return total > 64 * 1024 ? PS_PASS : PS_WAIT;
	msg = (char *)evbuffer_pullup(in, (ev_ssize_t)total);
	if (msg == NULL)
		return PS_PASS;
	body = msg + PQ_HEADER_LEN;
	blen = total - PQ_HEADER_LEN;
	if (hdr->type == PQMSG_CLOSE) {
		if (blen < 2 || body[0] != 'S' ||
		    strnlen(body + 1, blen - 1) == blen - 1)
			return PS_PASS;
		cps_remove(client, body + 1, NULL);
		proto_build_simple(client->io.out, PQMSG_CLOSE_COMPLETE);
		evbuffer_drain(in, total);
		return PS_DONE;
	}
	name = body;
	nlen = strnlen(name, blen);
	if (nlen == 0 || nlen == blen || cps_find(client->ps, name) != NULL)
		return PS_PASS;	/* unnamed, malformed or a name in use */
	ps = pstmt_lookup(client->pw->ps, name + nlen + 1, blen - nlen - 1);
	if (ps == NULL || !ps->validated)
		return PS_PASS;	/* only a server can say if it parses */
	if (client->ps && (client->ps->count >= (uint32_t)client->pw->cfg->
	    max_client_prepared_statements || client->ps->bytes + ps->len >
	    (size_t)client->pw->cfg->max_client_prepared_bytes))
		return PS_PASS;
	if (cps_add(client, name, ps) < 0) {
		client_close(client, "out of memory");
		return PS_CLOSED;
	}
	client->pool->stats->total.client_parse_count++;
	proto_build_simple(client->io.out, PQMSG_PARSE_COMPLETE);
	evbuffer_drain(in, total);
	return PS_DONE;
}

/*
 * An entry the server skipped (an error came first) or that failed: undo
 * what it changed, so that the client's names are what PostgreSQL would
 * have left.
 */
void
prepared_entry_skipped(struct server *server, uint8_t type, void *data)
{
	struct ps_pending *p = data;
	struct client *client = server->link;

	switch (type) {
	case RQ_HIDDEN_PARSE:
		if (p != NULL)
			sps_remove(server, p->ps);
		break;
	case PQMSG_PARSE:
		if (p != NULL) {
			sps_remove(server, p->ps);
			if (client)
				cps_remove(client, p->name, p->ps);
		}
		break;
	case RQ_FAKE_PARSE:
		if (p != NULL && client)
			cps_remove(client, p->name, p->ps);
		break;
	case RQ_FAKE_CLOSE:
		if (p != NULL && client && cps_find(client->ps, p->name) ==
		    NULL)
			cps_add(client, p->name, p->ps);
		break;
	default:
		return;
	}
	pending_free(server, p);
}

/* Answer the entries at the head of the queue that pgweir answers. */
void
prepared_emit_fakes(struct server *server)
{
	struct request_queue *rq = &server->rq;

	/*
	 * Not inside a message the server is still sending to the client:
	 * relay_server emits them once that message is through.
	 */
	if (server->pkt_remain > 0 && server->pkt_forward)
		return;
	for (;;) {
		uint8_t t = rq_head(rq);
		struct client *client = server->link;

		if (t != RQ_FAKE_PARSE && t != RQ_FAKE_CLOSE)
			return;
		if (client != NULL && client->state != CL_CLOSED)
			proto_build_simple(client->io.out, t ==
			    RQ_FAKE_PARSE ? PQMSG_PARSE_COMPLETE :
			    PQMSG_CLOSE_COMPLETE);
		prepared_entry_done(server, t, rq_head_data(rq));
		rq_pop(rq);
	}
}

/*
 * DISCARD ALL or DEALLOCATE ALL ran on a server: nothing is prepared there
 * any more; if it was the client's own statement, its names are gone too.
 */
void
prepared_on_reset(struct server *server, struct client *client)
{
	sps_clear(server);
	if (client != NULL)
		cps_clear(client);
}

/* A Sync went to the server: statements of the next batch may go. */
void
prepared_on_sync(struct server *server)
{
	if (server->ps)
		server->ps->batch++;
}
