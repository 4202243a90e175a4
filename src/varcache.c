/* SPDX-License-Identifier: ISC */
/*
 * Tracked session parameters.
 *
 * The server reports parameters such as TimeZone and application_name
 * with ParameterStatus.  Each client has its own values (from its startup
 * packet and from what its own SETs made the server report) and each
 * server connection has the values it runs with.  Sets of values are
 * interned and reference-counted, so equal sets are one object: when a
 * client is linked to a server whose set is a different object, the relay
 * sends one set_config() query to bring the server in line first.
 *
 * Names come from a fixed core list, track_extra_parameters and whatever
 * settable parameter a server reports, never from clients directly.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pgweir/varcache.h"

/* Parameters the server reports that a client cannot set. */
static const char *const reported_only[] = {
	"server_version", "server_encoding", "integer_datetimes",
	"is_superuser", "session_authorization", "in_hot_standby",
	"scram_iterations", NULL,
};

/* Always tracked, as PostgreSQL reports them. */
static const char *const core_names[] = {
	"client_encoding", "DateStyle", "TimeZone",
	"standard_conforming_strings", "application_name", NULL,
};

/* Whether the server reports this parameter but clients cannot set it. */
static bool
var_is_reported_only(const char *name)
{
	for (int i = 0; reported_only[i]; i++)
		if (strcasecmp(reported_only[i], name) == 0)
			return true;
	return false;
}

/* Index of a tracked parameter (case-insensitive), or -1. */
int
var_find(const struct var_registry *reg, const char *name)
{
	for (int i = 0; i < reg->n; i++)
		if (strcasecmp(reg->names[i], name) == 0)
			return i;
	return -1;
}

/*
 * Track a parameter; returns its index, or -1 when it cannot be tracked
 * (reported-only, or the table is full).  The first spelling wins, except
 * that a server's spelling replaces ours (the server knows best).
 */
int
var_register(struct var_registry *reg, const char *name)
{
	int idx = var_find(reg, name);

	if (idx >= 0)
		return idx;
	if (var_is_reported_only(name) || reg->n >= VAR_MAX)
		return -1;
	reg->names[reg->n] = strdup(name);
	if (reg->names[reg->n] == NULL)
		return -1;
	return reg->n++;
}

/* FNV-1a over the values, NULLs included. */
static uint32_t
vals_hash(const char *const *vals)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < VAR_MAX; i++) {
		const char *s = vals[i] ? vals[i] : "";
		h ^= vals[i] ? 1u : 0u;
		h *= 16777619u;
		for (; *s; s++) {
			h ^= (uint8_t)*s;
			h *= 16777619u;
		}
		h ^= 0xffu;
		h *= 16777619u;
	}
	return h;
}

/* Whether a varset holds exactly these values. */
static bool
vals_equal(const struct varset *vs, const char *const *vals)
{
	for (int i = 0; i < VAR_MAX; i++) {
		if ((vs->vals[i] == NULL) != (vals[i] == NULL))
			return false;
		if (vals[i] && strcmp(vs->vals[i], vals[i]) != 0)
			return false;
	}
	return true;
}

/* Find or create the interned set with these values; returns a reference. */
static struct varset *
intern(struct var_registry *reg, const char *const *vals)
{
	uint32_t h = vals_hash(vals);
	struct varset **bucket = &reg->buckets[h % VAR_BUCKETS], *vs;
	size_t total = 0;
	char *p;

	for (vs = *bucket; vs; vs = vs->next) {
		if (vs->hash == h && vals_equal(vs, vals)) {
			vs->refcount++;
			return vs;
		}
	}
	for (int i = 0; i < VAR_MAX; i++)
		if (vals[i])
			total += strlen(vals[i]) + 1;
	vs = calloc(1, sizeof(*vs) + total);
	if (vs == NULL)
		return NULL;
	vs->refcount = 1;
	vs->hash = h;
	p = vs->data;
	for (int i = 0; i < VAR_MAX; i++) {
		if (vals[i]) {
			size_t len = strlen(vals[i]) + 1;
			memcpy(p, vals[i], len);
			vs->vals[i] = p;
			p += len;
		}
	}
	vs->next = *bucket;
	*bucket = vs;
	return vs;
}

/* Set up the registry with the core names and track_extra_parameters. */
int
varcache_init(struct var_registry *reg, const char *track_extra)
{
	const char *none[VAR_MAX] = { 0 };

	memset(reg, 0, sizeof(*reg));
	for (int i = 0; core_names[i]; i++)
		if (var_register(reg, core_names[i]) < 0)
			return -1;
	while (track_extra && *track_extra) {
		char name[64];
		size_t len = 0;
		while (*track_extra == ',' || *track_extra == ' ')
			track_extra++;
		while (*track_extra && *track_extra != ',' &&
		    *track_extra != ' ') {
			if (len + 1 < sizeof(name))
				name[len++] = *track_extra;
			track_extra++;
		}
		name[len] = '\0';
		if (len > 0 && var_register(reg, name) < 0)
			return -1;
	}
	reg->empty = intern(reg, none);
	return reg->empty ? 0 : -1;
}

/* Free every name and set (at exit). */
void
varcache_fini(struct var_registry *reg)
{
	for (int i = 0; i < VAR_BUCKETS; i++) {
		struct varset *vs = reg->buckets[i], *next;
		for (; vs; vs = next) {
			next = vs->next;
			free(vs);
		}
	}
	for (int i = 0; i < reg->n; i++)
		free(reg->names[i]);
	memset(reg, 0, sizeof(*reg));
}

/* Take another reference. */
struct varset *
varset_ref(struct varset *vs)
{
	vs->refcount++;
	return vs;
}

/* Drop a reference; an unused set leaves the table. */
void
varset_release(struct var_registry *reg, struct varset *vs)
{
	struct varset **pp;

	if (vs == NULL || --vs->refcount > 0)
		return;
	for (pp = &reg->buckets[vs->hash % VAR_BUCKETS]; *pp;
	    pp = &(*pp)->next) {
		if (*pp == vs) {
			*pp = vs->next;
			break;
		}
	}
	free(vs);
}

/*
 * The set equal to base except that parameter idx has value (NULL: not
 * known).  Returns a new reference (base keeps its own), or NULL when out
 * of memory.
 */
struct varset *
varset_with(struct var_registry *reg, struct varset *base, int idx,
    const char *value)
{
	const char *vals[VAR_MAX];

	memcpy(vals, base->vals, sizeof(vals));
	vals[idx] = value;
	return intern(reg, vals);
}

/*
 * A set's known values as "name\0value\0..." (for another pgweir
 * process, which may number the names differently).
 */
int
varset_pack(const struct var_registry *reg, const struct varset *vs,
    struct evbuffer *out)
{
	for (int i = 0; i < reg->n; i++) {
		if (vs->vals[i] == NULL)
			continue;
		if (evbuffer_add(out, reg->names[i], strlen(reg->names[i]) +
		    1) < 0 || evbuffer_add(out, vs->vals[i],
		    strlen(vs->vals[i]) + 1) < 0)
			return -1;
	}
	return 0;
}

/*
 * The set varset_pack() packed; names this process does not track yet are
 * registered.  A new reference, or NULL when malformed or out of memory.
 */
struct varset *
varset_unpack(struct var_registry *reg, const char *p, size_t len)
{
	const char *vals[VAR_MAX] = { NULL };
	size_t pos = 0;

	while (pos < len) {
		const char *name = p + pos, *value, *end;
		int idx;

		end = memchr(name, '\0', len - pos);
		if (end == NULL || (size_t)(end + 1 - p) >= len)
			return NULL;
		value = end + 1;
		end = memchr(value, '\0', len - (size_t)(value - p));
		if (end == NULL)
			return NULL;
		pos = (size_t)(end + 1 - p);
		idx = var_register(reg, name);
		if (idx >= 0)
			vals[idx] = value;
	}
	return intern(reg, vals);
}

/*
 * The set with want's values where want has one and have's elsewhere: what
 * a client's values look like filled in from a server's (login defaults).
 */
struct varset *
varset_merge(struct var_registry *reg, struct varset *want,
    struct varset *have)
{
	const char *vals[VAR_MAX];

	for (int i = 0; i < VAR_MAX; i++)
		vals[i] = want->vals[i] ? want->vals[i] : have->vals[i];
	return intern(reg, vals);
}

/* Append value as an E'' string literal, right whatever the server's
 * standard_conforming_strings is. */
static int
add_literal(struct evbuffer *sql, const char *value)
{
	if (evbuffer_add(sql, "E'", 2) < 0)
		return -1;
	for (const char *p = value; *p; p++) {
		if ((*p == '\'' || *p == '\\') && evbuffer_add(sql, p, 1) < 0)
			return -1;
		if (evbuffer_add(sql, p, 1) < 0)
			return -1;
	}
	return evbuffer_add(sql, "'", 1);
}

/*
 * Append, for each parameter whose wanted value differs from what the
 * server has, first (for the first one) or next, the name and the value as
 * literals separated by a comma, then close.  Returns their number, or -1.
 */
static int
add_differing(const struct var_registry *reg, const struct varset *want,
    const struct varset *have, struct evbuffer *sql, const char *first,
    const char *next, const char *close)
{
	int n = 0;

	for (int i = 0; i < reg->n; i++) {
		const char *w = want->vals[i], *h = have->vals[i];
		if (w == NULL || (h != NULL && strcmp(w, h) == 0))
			continue;
		if (evbuffer_add_printf(sql, "%s", n == 0 ? first : next) < 0 ||
		    add_literal(sql, reg->names[i]) < 0 ||
		    evbuffer_add(sql, ", ", 2) < 0 ||
		    add_literal(sql, w) < 0 ||
		    evbuffer_add_printf(sql, "%s", close) < 0)
			return -1;
		n++;
	}
	return n;
}

/*
 * Append one SELECT that sets on a server every parameter whose wanted
 * value differs from what the server has.  set_config() is used rather than
 * SET because it takes the value as the server reported it (search_path's
 * list syntax included).  Returns the number of parameters set, or -1.
 */
int
varset_build_sync_query(const struct var_registry *reg,
    const struct varset *want, const struct varset *have,
    struct evbuffer *sql)
{
	return add_differing(reg, want, have, sql,
	    "SELECT pg_catalog.set_config(", ", pg_catalog.set_config(",
	    ", false)");
}

/*
 * The parameters varset_build_sync_query sets, for the log, in SQL as a
 * reader would write it ("SET DateStyle='ISO'; ..."), cut to len.
 */
void
varset_describe_diff(const struct var_registry *reg,
    const struct varset *want, const struct varset *have, char *buf,
    size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < reg->n && used < len; i++) {
		const char *w = want->vals[i], *h = have->vals[i];
		int n;
		if (w == NULL || (h != NULL && strcmp(w, h) == 0))
			continue;
		n = snprintf(buf + used, len - used, "%sSET %s='%s'",
		    used ? "; " : "", reg->names[i], w);
		used += n > 0 ? (size_t)n : 0;
	}
}

/*
 * Append one SELECT that gives back, on a server where RESET, RESET ALL or
 * DISCARD ALL just ran for a client, the client's own login value of each
 * parameter whose login value differs from the server's: a direct
 * connection's RESET returns to what its startup packet said, a pooled
 * server's to what its own did.  Only parameters that are not set in the
 * session any more (pg_settings.source is not "session") are touched, so a
 * RESET of one parameter leaves the others as the client set them.
 * Returns the number of parameters considered, or -1.
 */
int
varset_build_restore_query(const struct var_registry *reg,
    const struct varset *want, const struct varset *have,
    struct evbuffer *sql)
{
	int n = add_differing(reg, want, have, sql,
	    "SELECT pg_catalog.set_config(v.n, v.s, false) FROM (VALUES (",
	    ", (", ")");

	if (n > 0 && evbuffer_add_printf(sql, ") AS v(n, s) JOIN "
	    "pg_catalog.pg_settings p ON lower(p.name) = lower(v.n) "
	    "WHERE p.source <> 'session'") < 0)
		return -1;
	return n;
}
