/* SPDX-License-Identifier: ISC */
/*
 * [databases] and [users] entries.
 *
 * A database entry is a libpq connection string with pooler keys mixed in
 * (pool_size=, pool_mode=, ...).  We split the pairs with libpq's quoting
 * rules, keep the pooler keys, and hand the rest to PQconninfoParse so that
 * host, port, dbname, user and friends mean exactly what they mean to libpq
 * and errors read like libpq's.  URIs (postgresql://...) go to libpq whole.
 * [users] entries use the same key=value syntax with pooler keys only.
 */
#include "config.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgweir/config.h"
#include "pgweir/targetattrs.h"

enum key_type {
	KEY_STR,
	KEY_INT,
	KEY_TIME,
	KEY_MODE,
	KEY_LOAD_BALANCE,
};

/* A pooler key allowed in a [databases] or [users] entry. */
struct entry_key {
	const char *name;
	enum key_type type;
	size_t offset;
};

#define DB(f) offsetof(struct db_conf, f)
#define US(f) offsetof(struct user_conf, f)

static const struct entry_key db_keys[] = {
	{ "pool_size", KEY_INT, DB(pool_size) },
	{ "min_pool_size", KEY_INT, DB(min_pool_size) },
	{ "reserve_pool_size", KEY_INT, DB(reserve_pool_size) },
	{ "reserve_pool", KEY_INT, DB(reserve_pool_size) },
	{ "max_db_connections", KEY_INT, DB(max_db_connections) },
	{ "max_db_client_connections", KEY_INT,
	  DB(max_db_client_connections) },
	{ "server_lifetime", KEY_TIME, DB(server_lifetime) },
	{ "query_wait_timeout", KEY_TIME, DB(query_wait_timeout) },
	{ "pool_mode", KEY_MODE, DB(pool_mode) },
	{ "auth_user", KEY_STR, DB(auth_user) },
	{ "auth_query", KEY_STR, DB(auth_query) },
	{ "auth_dbname", KEY_STR, DB(auth_dbname) },
	{ "connect_query", KEY_STR, DB(connect_query) },
	{ "datestyle", KEY_STR, DB(datestyle) },
	{ "timezone", KEY_STR, DB(timezone) },
	{ "load_balance_hosts", KEY_LOAD_BALANCE, DB(load_balance_hosts) },
	{ NULL, KEY_STR, 0 },
};

static const struct entry_key user_keys[] = {
	{ "pool_mode", KEY_MODE, US(pool_mode) },
	{ "pool_size", KEY_INT, US(pool_size) },
	{ "reserve_pool_size", KEY_INT, US(reserve_pool_size) },
	{ "max_user_connections", KEY_INT, US(max_user_connections) },
	{ "max_user_client_connections", KEY_INT,
	  US(max_user_client_connections) },
	{ "query_timeout", KEY_TIME, US(query_timeout) },
	{ "idle_transaction_timeout", KEY_TIME, US(idle_transaction_timeout) },
	{ "transaction_timeout", KEY_TIME, US(transaction_timeout) },
	{ "client_idle_timeout", KEY_TIME, US(client_idle_timeout) },
	{ "query_wait_timeout", KEY_TIME, US(query_wait_timeout) },
	{ NULL, KEY_STR, 0 },
};

/*
 * The i-th pooler key a [databases] (or [users]) entry takes, or NULL past
 * the last: test_config checks them against the options table's OPT_DB
 * and OPT_USER marks, which the docs print, so neither can drift.
 */
const char *
dbconf_db_key(size_t i)
{
	return i < sizeof(db_keys) / sizeof(db_keys[0]) ? db_keys[i].name :
	    NULL;
}

const char *
dbconf_user_key(size_t i)
{
	return i < sizeof(user_keys) / sizeof(user_keys[0]) ?
	    user_keys[i].name : NULL;
}

/* The libpq keys pgweir uses, and where they go. */
static const struct {
	const char *name;
	size_t offset;
} libpq_keys[] = {
	{ "host", DB(host) },
	{ "dbname", DB(dbname) },
	{ "user", DB(user) },
	{ "password", DB(password) },
	{ "application_name", DB(application_name) },
	{ "client_encoding", DB(client_encoding) },
};

/* One key=value pair split out of an entry. */
struct pair {
	char key[64];
	char *value;		/* owned */
};

/*
 * Split "k=v k2='v 2'" with libpq's rules: blanks around '=', single
 * quotes, backslash escapes.  Returns the number of pairs, or -1 with err.
 */
static int
split_pairs(const char *text, struct pair *pairs, int max, char *err,
    size_t errlen)
{
	const char *p = text;
	int n = 0;

	for (;;) {
		size_t klen = 0, vlen = 0, cap;
		char *v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return n;
		if (n == max) {
			snprintf(err, errlen, "too many settings");
			goto fail;
		}
		while (*p && *p != '=' && *p != ' ' && *p != '\t') {
			if (klen + 1 < sizeof(pairs[n].key))
				pairs[n].key[klen++] = *p;
			p++;
		}
		pairs[n].key[klen] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=') {
			snprintf(err, errlen, "missing \"=\" after \"%s\"",
			    pairs[n].key);
			goto fail;
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		cap = strlen(p) + 1;
		v = malloc(cap);
		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (*p == '\'') {
			p++;
			for (;;) {
				if (*p == '\0') {
					free(v);
					snprintf(err, errlen, "unterminated "
					    "quoted value of \"%s\"",
					    pairs[n].key);
					goto fail;
				}
				if (*p == '\'') {
					p++;
					break;
				}
				if (*p == '\\' && p[1] != '\0')
					p++;
				v[vlen++] = *p++;
			}
		} else {
			while (*p && *p != ' ' && *p != '\t') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				v[vlen++] = *p++;
			}
		}
		v[vlen] = '\0';
		pairs[n++].value = v;
	}
fail:
	for (int i = 0; i < n; i++)
		free(pairs[i].value);
	return -1;
}

/* Append " key='value'" to a libpq connection string, quoting as libpq. */
static int
conninfo_append(char **buf, size_t *len, const char *key, const char *value)
{
	size_t need = *len + strlen(key) + 2 * strlen(value) + 6;
	char *grown = realloc(*buf, need);
	size_t o = *len;

	if (grown == NULL)
		return -1;
	o += (size_t)sprintf(grown + o, "%s%s='", o ? " " : "", key);
	for (const char *v = value; *v; v++) {
		if (*v == '\'' || *v == '\\')
			grown[o++] = '\\';
		grown[o++] = *v;
	}
	grown[o++] = '\'';
	grown[o] = '\0';
	*buf = grown;
	*len = o;
	return 0;
}

/* Set a pooler key of an entry from its text. */
static int
set_entry_key(void *base, const struct entry_key *k, const char *value,
    char *err, size_t errlen)
{
	char *field = (char *)base + k->offset;
	char *end;

	switch (k->type) {
	case KEY_STR:
		free(*(char **)field);
		*(char **)field = strdup(value);
		return *(char **)field ? 0 : -1;
	case KEY_INT: {
		long n;
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < 0 || n > 1000000) {
			snprintf(err, errlen, "%s: invalid number \"%s\"",
			    k->name, value);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case KEY_TIME: {
		double s;
		errno = 0;
		s = strtod(value, &end);
		if (errno || end == value || *end || s < 0 || s > 1e9) {
			snprintf(err, errlen, "%s: invalid duration \"%s\" "
			    "(seconds)", k->name, value);
			return -1;
		}
		*(int64_t *)field = (int64_t)(s * 1e6);
		return 0;
	}
	case KEY_MODE:
		for (int m = POOL_SESSION; m <= POOL_STATEMENT; m++) {
			if (strcasecmp(value, config_pool_mode_name(m)) == 0) {
				*(int *)field = m;
				return 0;
			}
		}
		snprintf(err, errlen, "pool_mode: invalid value \"%s\" "
		    "(choose one of session, transaction, statement)", value);
		return -1;
	case KEY_LOAD_BALANCE:
		if (strcasecmp(value, "round-robin") == 0) {
			*(int *)field = LB_ROUND_ROBIN;
			return 0;
		}
		if (strcasecmp(value, "disable") == 0) {
			*(int *)field = LB_DISABLE;
			return 0;
		}
		snprintf(err, errlen, "load_balance_hosts: invalid value "
		    "\"%s\" (choose one of round-robin, disable)", value);
		return -1;
	}
	return -1;
}

/* Find a pooler key by name. */
static const struct entry_key *
find_entry_key(const struct entry_key *keys, const char *name)
{
	for (int i = 0; keys[i].name; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Take what libpq parsed into the entry; refuse keys pgweir cannot honour. */
static int
take_libpq_options(struct db_conf *db, PQconninfoOption *opts, char *err,
    size_t errlen)
{
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		bool used = false;

		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "port") == 0) {
			free(db->port_list);
			db->port_list = strdup(o->val);
			if (db->port_list == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			continue;
		}
		if (strcmp(o->keyword, "target_session_attrs") == 0) {
			enum target_attrs ta;
			if (targetattrs_parse(o->val, &ta) < 0) {
				snprintf(err, errlen, "target_session_attrs: "
				    "invalid value \"%s\" (choose one of any, "
				    "read-write, read-only, primary, standby, "
				    "prefer-standby)", o->val);
				return -1;
			}
			db->target_session_attrs = (int)ta;
			continue;
		}
		if (strcmp(o->keyword, "hostaddr") == 0) {
			if (db->host == NULL)
				db->host = strdup(o->val);
			continue;
		}
		for (size_t i = 0; i < sizeof(libpq_keys) /
		    sizeof(libpq_keys[0]); i++) {
			if (strcmp(o->keyword, libpq_keys[i].name) == 0) {
				char **f = (char **)((char *)db +
				    libpq_keys[i].offset);
				free(*f);
				*f = strdup(o->val);
				used = true;
			}
		}
		if (!used) {
			snprintf(err, errlen, "connection option \"%s\" is "
			    "not supported in [databases]%s", o->keyword,
			    strncmp(o->keyword, "ssl", 3) == 0 ?
			    " (use server_tls_* settings)" : "");
			return -1;
		}
	}
	return 0;
}

/* The next item of a comma-separated list, blanks trimmed; NULL at end. */
static char *
next_item(char **cursor)
{
	char *item = *cursor, *end;

	if (item == NULL)
		return NULL;
	end = strchr(item, ',');
	*cursor = end ? end + 1 : NULL;
	if (end)
		*end = '\0';
	while (*item == ' ' || *item == '\t')
		item++;
	end = item + strlen(item);
	while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return item;
}

/*
 * Split host and port into the host list libpq allows: "a,b,c" with one
 * port for all or one port each.  An empty item is the unix socket
 * directory, as in libpq.
 */
static int
split_hosts(struct db_conf *db, char *err, size_t errlen)
{
	char *hosts = db->host ? strdup(db->host) : NULL;
	char *ports = strdup(db->port_list ? db->port_list : "5432");
	char *cur, *item;
	int n = 1, n_ports = 0, rc = -1;

	if ((db->host && hosts == NULL) || ports == NULL)
		goto oom;
	for (const char *p = db->host; p && *p; p++)
		n += *p == ',';
	db->hosts = calloc((size_t)n, sizeof(*db->hosts));
	db->ports = calloc((size_t)n, sizeof(*db->ports));
	if (db->hosts == NULL || db->ports == NULL)
		goto oom;
	db->n_hosts = db->host ? n : 0;
	cur = hosts;
	for (int i = 0; hosts && i < n; i++) {
		item = next_item(&cur);
		db->hosts[i] = strdup(item ? item : "");
		if (db->hosts[i] == NULL)
			goto oom;
	}
	cur = ports;
	while ((item = next_item(&cur)) != NULL) {
		char *end;
		long port = strtol(item, &end, 10);
		if (*item == '\0' || *end || port < 1 || port > 65535) {
			snprintf(err, errlen, "port: invalid port \"%s\"",
			    db->port_list);
			goto out;
		}
		if (n_ports < n)
			db->ports[n_ports] = (int)port;
		n_ports++;
	}
	if (n_ports != 1 && n_ports != n) {
		snprintf(err, errlen, "port: %d ports for %d hosts (give one "
		    "port, or one per host)", n_ports, n);
		goto out;
	}
	for (int i = 1; n_ports == 1 && i < n; i++)
		db->ports[i] = db->ports[0];
	db->port = db->ports[0];
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(hosts);
	free(ports);
	return rc;
}

/* Parse one [databases] entry; on error err says what and db is partial. */
int
dbconf_parse(struct db_conf *db, const char *name, const char *text,
    char *err, size_t errlen)
{
	struct pair pairs[64];
	PQconninfoOption *opts;
	char *libpq = NULL, *pqerr = NULL;
	size_t libpq_len = 0;
	int n, rc = -1;

	memset(db, 0, sizeof(*db));
	db->name = strdup(name);
	db->conninfo = strdup(text);
	db->port = 5432;
	db->pool_size = db->min_pool_size = db->reserve_pool_size =
	    CONF_UNSET;
	db->max_db_connections = db->max_db_client_connections = CONF_UNSET;
	db->pool_mode = CONF_UNSET;
	db->server_lifetime = db->query_wait_timeout = CONF_UNSET;
	db->load_balance_hosts = CONF_UNSET;
	if (db->name == NULL || db->conninfo == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strcmp(name, "pgweir") == 0 || strcmp(name, "pgbouncer") == 0) {
		snprintf(err, errlen, "the name is reserved for the admin "
		    "console");
		return -1;
	}

	if (strncmp(text, "postgres://", 11) == 0 ||
	    strncmp(text, "postgresql://", 13) == 0) {
		n = 0;
		libpq = strdup(text);
	} else {
		n = split_pairs(text, pairs, 64, err, errlen);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			const struct entry_key *k = find_entry_key(db_keys,
			    pairs[i].key);
			if (k != NULL) {
				if (set_entry_key(db, k, pairs[i].value, err,
				    errlen) < 0)
					goto out;
			} else if (conninfo_append(&libpq, &libpq_len,
			    pairs[i].key, pairs[i].value) < 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
	}
	opts = PQconninfoParse(libpq ? libpq : "", &pqerr);
	if (opts == NULL) {
		size_t len;
		snprintf(err, errlen, "%s", pqerr ? pqerr : "out of memory");
		len = strlen(err);
		while (len > 0 && err[len - 1] == '\n')
			err[--len] = '\0';
		goto out;
	}
	rc = take_libpq_options(db, opts, err, errlen);
	PQconninfoFree(opts);
	if (rc == 0)
		rc = split_hosts(db, err, errlen);
out:
	PQfreemem(pqerr);
	free(libpq);
	for (int i = 0; i < n; i++)
		free(pairs[i].value);
	return rc;
}

/* Free what a db_conf owns (not the struct itself). */
void
dbconf_free(struct db_conf *db)
{
	char **strings[] = { &db->name, &db->host, &db->dbname, &db->user,
		&db->password, &db->application_name, &db->client_encoding,
		&db->datestyle, &db->timezone, &db->connect_query,
		&db->auth_user, &db->auth_query, &db->auth_dbname,
		&db->conninfo, &db->port_list };

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
	for (int i = 0; db->hosts && i < db->n_hosts; i++)
		free(db->hosts[i]);
	free(db->hosts);
	free(db->ports);
	db->hosts = NULL;
	db->ports = NULL;
	db->n_hosts = 0;
}

/* NULL-safe string equality. */
static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Whether two entries reach the same server the same way; when not, a
 * reload must retire the old server connections.
 */
bool
dbconf_same_server(const struct db_conf *a, const struct db_conf *b)
{
	return same_str(a->host, b->host) && a->port == b->port &&
	    same_str(a->port_list, b->port_list) &&
	    same_str(a->dbname, b->dbname) && same_str(a->user, b->user) &&
	    same_str(a->password, b->password) &&
	    same_str(a->application_name, b->application_name) &&
	    same_str(a->client_encoding, b->client_encoding) &&
	    same_str(a->datestyle, b->datestyle) &&
	    same_str(a->timezone, b->timezone) &&
	    same_str(a->connect_query, b->connect_query) &&
	    a->target_session_attrs == b->target_session_attrs;
}

/* Parse one [users] entry. */
int
userconf_parse(struct user_conf *u, const char *name, const char *text,
    char *err, size_t errlen)
{
	struct pair pairs[32];
	int n, rc = 0;

	memset(u, 0, sizeof(*u));
	u->name = strdup(name);
	u->text = strdup(text);
	u->pool_mode = u->pool_size = u->reserve_pool_size = CONF_UNSET;
	u->max_user_connections = u->max_user_client_connections = CONF_UNSET;
	u->query_timeout = u->idle_transaction_timeout = CONF_UNSET;
	u->transaction_timeout = u->client_idle_timeout = CONF_UNSET;
	u->query_wait_timeout = CONF_UNSET;
	if (u->name == NULL || u->text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = split_pairs(text, pairs, 32, err, errlen);
	if (n < 0)
		return -1;
	for (int i = 0; i < n && rc == 0; i++) {
		const struct entry_key *k = find_entry_key(user_keys,
		    pairs[i].key);
		if (k == NULL) {
			snprintf(err, errlen, "unknown setting \"%s\" (a "
			    "[users] entry takes pool_mode, pool_size, "
			    "reserve_pool_size, max_user_connections, "
			    "max_user_client_connections and timeouts)",
			    pairs[i].key);
			rc = -1;
		} else {
			rc = set_entry_key(u, k, pairs[i].value, err, errlen);
		}
	}
	for (int i = 0; i < n; i++)
		free(pairs[i].value);
	return rc;
}

/* Free what a user_conf owns. */
void
userconf_free(struct user_conf *u)
{
	free(u->name);
	free(u->text);
	u->name = NULL;
	u->text = NULL;
}
