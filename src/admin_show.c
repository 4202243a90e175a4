/* SPDX-License-Identifier: ISC */
/*
 * The admin console's result sets: SHOW POOLS, STATS, CLIENTS, ... with the
 * column names, order and types of PgBouncer 1.25, so that tools written
 * for PgBouncer (pgbouncer_exporter finds columns by name) work unchanged,
 * plus pgweir's SHOW LATENCY.  Concepts pgweir does not have (peers, DNS
 * zones, file descriptor hand-over) give an empty set with the right
 * columns.  Everything here reads state and writes rows; nothing changes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "pgweir/adminshow.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/listener.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"
#include "pgweir/stats.h"
#include "pgweir/tls.h"

#define MAX_COLS 32
#define COL_LEN 256

/* A database's load_balance_hosts for SHOW (none for the console). */
static const char *
load_balance_name(const struct database *db)
{
	if (db->admin)
		return NULL;
	return db->conf->load_balance_hosts == LB_DISABLE ? "disable" :
	    "round-robin";
}

/* One row being built. */
struct row {
	char buf[MAX_COLS][COL_LEN];
	const char *v[MAX_COLS];
	int n;
};

#define C(name, type) { name, type }

static const struct admin_column cols_pools[] = {
	C("database", 's'), C("user", 's'), C("cl_active", 'i'),
	C("cl_waiting", 'i'), C("cl_active_cancel_req", 'i'),
	C("cl_waiting_cancel_req", 'i'), C("sv_active", 'i'),
	C("sv_active_cancel", 'i'), C("sv_being_canceled", 'i'),
	C("sv_idle", 'i'), C("sv_used", 'i'), C("sv_tested", 'i'),
	C("sv_login", 'i'), C("maxwait", 'i'), C("maxwait_us", 'i'),
	C("pool_mode", 's'), C("load_balance_hosts", 's'),
};

static const struct admin_column cols_stats[] = {
	C("database", 's'), C("total_server_assignment_count", 'N'),
	C("total_xact_count", 'N'), C("total_query_count", 'N'),
	C("total_received", 'N'), C("total_sent", 'N'),
	C("total_xact_time", 'N'), C("total_query_time", 'N'),
	C("total_wait_time", 'N'), C("total_client_parse_count", 'N'),
	C("total_server_parse_count", 'N'), C("total_bind_count", 'N'),
	C("total_client_login_count", 'N'),
	C("avg_server_assignment_count", 'N'), C("avg_xact_count", 'N'),
	C("avg_query_count", 'N'), C("avg_recv", 'N'), C("avg_sent", 'N'),
	C("avg_xact_time", 'N'), C("avg_query_time", 'N'),
	C("avg_wait_time", 'N'), C("avg_client_parse_count", 'N'),
	C("avg_server_parse_count", 'N'), C("avg_bind_count", 'N'),
	C("avg_client_login_count", 'N'),
};

static const struct admin_column cols_stats_totals[] = {
	C("database", 's'), C("server_assignment_count", 'N'),
	C("xact_count", 'N'), C("query_count", 'N'),
	C("bytes_received", 'N'), C("bytes_sent", 'N'), C("xact_time", 'N'),
	C("query_time", 'N'), C("wait_time", 'N'),
	C("client_parse_count", 'N'), C("server_parse_count", 'N'),
	C("bind_count", 'N'), C("client_login_count", 'N'),
};

static const struct admin_column cols_stats_averages[] = {
	C("database", 's'), C("server_assignment_count", 'N'),
	C("xact_count", 'N'), C("query_count", 'N'),
	C("bytes_received", 'N'), C("bytes_sent", 'N'), C("xact_time", 'N'),
	C("query_time", 'N'), C("wait_time", 'N'),
	C("avg_client_parse_count", 'N'), C("avg_server_parse_count", 'N'),
	C("avg_bind_count", 'N'), C("avg_client_login_count", 'N'),
};

static const struct admin_column cols_totals[] = {
	C("name", 's'), C("value", 'q'),
};

#define SOCKET_COLS \
	C("type", 's'), C("user", 's'), C("database", 's'), \
	C("replication", 's'), C("state", 's'), C("addr", 's'), \
	C("port", 'i'), C("local_addr", 's'), C("local_port", 'i'), \
	C("connect_time", 'T'), C("request_time", 'T'), C("wait", 'i'), \
	C("wait_us", 'i'), C("close_needed", 'i'), C("ptr", 's'), \
	C("link", 's'), C("remote_pid", 'i'), C("tls", 's'), \
	C("application_name", 's'), C("prepared_statements", 'i'), \
	C("id", 'i')

static const struct admin_column cols_clients[] = { SOCKET_COLS };

static const struct admin_column cols_sockets[] = {
	SOCKET_COLS, C("recv_pos", 'i'), C("pkt_pos", 'i'),
	C("pkt_remain", 'i'), C("send_pos", 'i'), C("send_remain", 'i'),
	C("pkt_avail", 'i'), C("send_avail", 'i'),
};

static const struct admin_column cols_databases[] = {
	C("name", 's'), C("host", 's'), C("port", 'i'), C("database", 's'),
	C("force_user", 's'), C("pool_size", 'i'), C("min_pool_size", 'i'),
	C("reserve_pool_size", 'i'), C("server_lifetime", 'i'),
	C("pool_mode", 's'), C("load_balance_hosts", 's'),
	C("max_connections", 'i'), C("current_connections", 'i'),
	C("max_client_connections", 'i'),
	C("current_client_connections", 'i'), C("paused", 'i'),
	C("disabled", 'i'),
};

static const struct admin_column cols_config[] = {
	C("key", 's'), C("value", 's'), C("default", 's'),
	C("changeable", 's'),
};

static const struct admin_column cols_lists[] = {
	C("list", 's'), C("items", 'i'),
};

static const struct admin_column cols_mem[] = {
	C("name", 's'), C("size", 'i'), C("used", 'i'), C("free", 'i'),
	C("memtotal", 'i'),
};

static const struct admin_column cols_users[] = {
	C("name", 's'), C("pool_size", 's'), C("reserve_pool_size", 's'),
	C("pool_mode", 's'), C("max_user_connections", 'i'),
	C("current_connections", 'i'), C("max_user_client_connections", 'i'),
	C("current_client_connections", 'i'),
};

static const struct admin_column cols_state[] = {
	C("key", 's'), C("value", 's'),
};

static const struct admin_column cols_version[] = { C("version", 's') };

static const struct admin_column cols_fds[] = {
	C("fd", 'i'), C("task", 's'), C("user", 's'), C("database", 's'),
	C("addr", 's'), C("port", 'i'), C("cancel", 'q'), C("link", 'i'),
	C("client_encoding", 's'), C("std_strings", 's'),
	C("datestyle", 's'), C("timezone", 's'), C("password", 's'),
	C("scram_client_key", 'b'), C("scram_server_key", 'b'),
};

static const struct admin_column cols_dns_hosts[] = {
	C("hostname", 's'), C("ttl", 'q'), C("addrs", 's'),
};

static const struct admin_column cols_dns_zones[] = {
	C("zonename", 's'), C("serial", 'q'), C("count", 'i'),
};

static const struct admin_column cols_hosts[] = {
	C("database", 's'), C("host", 's'), C("port", 'i'),
	C("target_session_attrs", 's'), C("role", 's'), C("servers", 'i'),
};

static const struct admin_column cols_peers[] = {
	C("peer_id", 'i'), C("host", 's'), C("port", 'i'), C("pool_size", 'i'),
};

static const struct admin_column cols_peer_pools[] = {
	C("peer_id", 'i'), C("cl_active_cancel_req", 'i'),
	C("cl_waiting_cancel_req", 'i'), C("sv_active_cancel", 'i'),
	C("sv_login", 'i'),
};

static const struct admin_column cols_latency[] = {
	C("database", 's'), C("user", 's'), C("metric", 's'),
	C("window", 's'), C("count", 'q'), C("p50_us", 'q'),
	C("p90_us", 'q'), C("p99_us", 'q'), C("p999_us", 'q'),
	C("max_us", 'q'),
};

typedef void (*show_fn)(struct pgweir *pw, struct admin_out *o);

static void show_pools(struct pgweir *, struct admin_out *);
static void show_stats(struct pgweir *, struct admin_out *);
static void show_stats_totals(struct pgweir *, struct admin_out *);
static void show_stats_averages(struct pgweir *, struct admin_out *);
static void show_totals(struct pgweir *, struct admin_out *);
static void show_clients(struct pgweir *, struct admin_out *);
static void show_servers(struct pgweir *, struct admin_out *);
static void show_sockets(struct pgweir *, struct admin_out *);
static void show_active_sockets(struct pgweir *, struct admin_out *);
static void show_databases(struct pgweir *, struct admin_out *);
static void show_config(struct pgweir *, struct admin_out *);
static void show_lists(struct pgweir *, struct admin_out *);
static void show_mem(struct pgweir *, struct admin_out *);
static void show_users(struct pgweir *, struct admin_out *);
static void show_state(struct pgweir *, struct admin_out *);
static void show_version(struct pgweir *, struct admin_out *);
static void show_dns_hosts(struct pgweir *, struct admin_out *);
static void show_peers(struct pgweir *, struct admin_out *);
static void show_peer_pools(struct pgweir *, struct admin_out *);
static void show_latency(struct pgweir *, struct admin_out *);
static void show_fds(struct pgweir *, struct admin_out *);
static void show_dns_zones(struct pgweir *, struct admin_out *);
static void show_hosts(struct pgweir *, struct admin_out *);

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The SHOW commands: name, columns, and the function that fills them. */
static const struct {
	const char *name;
	const struct admin_column *cols;
	int ncols;
	show_fn fn;
} shows[] = {
	{ "pools", cols_pools, N(cols_pools), show_pools },
	{ "stats", cols_stats, N(cols_stats), show_stats },
	{ "stats_totals", cols_stats_totals, N(cols_stats_totals),
	  show_stats_totals },
	{ "stats_averages", cols_stats_averages, N(cols_stats_averages),
	  show_stats_averages },
	{ "totals", cols_totals, N(cols_totals), show_totals },
	{ "clients", cols_clients, N(cols_clients), show_clients },
	{ "servers", cols_clients, N(cols_clients), show_servers },
	{ "sockets", cols_sockets, N(cols_sockets), show_sockets },
	{ "active_sockets", cols_sockets, N(cols_sockets),
	  show_active_sockets },
	{ "databases", cols_databases, N(cols_databases), show_databases },
	{ "config", cols_config, N(cols_config), show_config },
	{ "lists", cols_lists, N(cols_lists), show_lists },
	{ "mem", cols_mem, N(cols_mem), show_mem },
	{ "users", cols_users, N(cols_users), show_users },
	{ "state", cols_state, N(cols_state), show_state },
	{ "version", cols_version, N(cols_version), show_version },
	{ "fds", cols_fds, N(cols_fds), show_fds },
	{ "dns_hosts", cols_dns_hosts, N(cols_dns_hosts), show_dns_hosts },
	{ "dns_zones", cols_dns_zones, N(cols_dns_zones), show_dns_zones },
	{ "hosts", cols_hosts, N(cols_hosts), show_hosts },
	{ "peers", cols_peers, N(cols_peers), show_peers },
	{ "peer_pools", cols_peer_pools, N(cols_peer_pools), show_peer_pools },
	{ "latency", cols_latency, N(cols_latency), show_latency },
};

/* The PostgreSQL type oid of a column type letter. */
static uint32_t
type_oid(char t)
{
	switch (t) {
	case 'i':
		return 23;
	case 'q':
		return 20;
	case 'N':
		return 1700;
	case 'b':
		return 17;
	default:
		return 25;
	}
}

/* Write a RowDescription for columns. */
void
admin_write_columns(struct evbuffer *out, const struct admin_column *cols,
    int ncols)
{
	const char *names[MAX_COLS];
	uint32_t oids[MAX_COLS];

	for (int i = 0; i < ncols; i++) {
		names[i] = cols[i].name;
		oids[i] = type_oid(cols[i].type);
	}
	proto_build_row_description(out, names, oids, ncols);
}

/* Start a row. */
static void
row_start(struct row *r)
{
	r->n = 0;
}

/* Add a text value (NULL is SQL NULL). */
static void
row_text(struct row *r, const char *s)
{
	if (s == NULL) {
		r->v[r->n++] = NULL;
		return;
	}
	snprintf(r->buf[r->n], COL_LEN, "%s", s);
	r->v[r->n] = r->buf[r->n];
	r->n++;
}

/* Add a formatted value. */
static void
row_fmt(struct row *r, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static void
row_fmt(struct row *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->buf[r->n], COL_LEN, fmt, ap);
	va_end(ap);
	r->v[r->n] = r->buf[r->n];
	r->n++;
}

/* Add an integer. */
static void
row_int(struct row *r, long long v)
{
	row_fmt(r, "%lld", v);
}

/* Send a row (if rows are wanted). */
static void
row_emit(struct admin_out *o, struct row *r)
{
	if (o->rows)
		proto_build_data_row(o->out, r->v, r->n);
}

/* A wall-clock time (usec) as "YYYY-MM-DD HH:MM:SS UTC", or NULL if 0. */
static void
row_time(struct row *r, int64_t usec)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (usec <= 0) {
		row_text(r, NULL);
		return;
	}
	gmtime_r(&t, &tm);
	strftime(r->buf[r->n], COL_LEN, "%Y-%m-%d %H:%M:%S UTC", &tm);
	r->v[r->n] = r->buf[r->n];
	r->n++;
}

/* A monotonic time turned into wall-clock usec (0 stays 0). */
static int64_t
mono_to_wall(struct pgweir *pw, int64_t mono)
{
	if (mono <= 0)
		return 0;
	return pgweir_now_usec(pw) - (pgweir_mono_usec() - mono);
}

/*
 * Write a whole result: RowDescription (if asked), the rows written by fn
 * in between, and CommandComplete "SHOW".
 */
int
admin_show(struct pgweir *pw, const char *what, struct admin_out *o)
{
	for (size_t i = 0; i < sizeof(shows) / sizeof(shows[0]); i++) {
		if (strcasecmp(shows[i].name, what) != 0)
			continue;
		if (o->rowdesc)
			admin_write_columns(o->out, shows[i].cols,
			    shows[i].ncols);
		if (o->rows) {
			shows[i].fn(pw, o);
			proto_build_command_complete(o->out, "SHOW");
		}
		return 0;
	}
	return -1;
}

/* The replication column of SHOW CLIENTS and SHOW SERVERS. */
static const char *
replication_name(uint8_t mode)
{
	return mode == PQ_REPL_LOGICAL ? "logical" : mode == PQ_REPL_PHYSICAL ?
	    "physical" : "none";
}

/* Idle servers that will run the check query before reuse. */
static int
pool_used_servers(const struct pool *pool)
{
	const struct config *cfg = pool->pw->cfg;
	const struct server *s;
	int64_t now = pgweir_mono_usec();
	int n = 0;

	if (cfg->server_check_query[0] == '\0')
		return 0;
	TAILQ_FOREACH(s, &pool->idle_servers, entry)
		if (now - s->idle_since >= cfg->server_check_delay &&
		    !s->just_checked)
			n++;
	return n;
}

static void
show_pools(struct pgweir *pw, struct admin_out *o)
{
	struct pool *pool;
	struct row r;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct client *oldest =
		    TAILQ_FIRST(&pool->waiting_clients);
		int64_t wait = oldest ? pgweir_mono_usec() -
		    oldest->wait_start : 0;
		int used = pool_used_servers(pool);

		row_start(&r);
		row_text(&r, pool->db->name);
		row_text(&r, pool->user->name);
		row_int(&r, pool->n_active_clients + pool->n_idle_clients);
		row_int(&r, pool->n_waiting);
		row_int(&r, 0);
		row_int(&r, 0);
		row_int(&r, pool->n_active_servers);
		row_int(&r, 0);
		row_int(&r, 0);
		row_int(&r, pool->n_idle_servers - used);
		row_int(&r, used);
		row_int(&r, pool->n_tested);
		row_int(&r, pool->n_connecting);
		row_int(&r, wait / 1000000);
		row_int(&r, wait % 1000000);
		row_text(&r, config_pool_mode_name(pool_mode_of(pool)));
		row_text(&r, load_balance_name(pool->db));
		row_emit(o, &r);
	}
}

/* The counters of a database: totals and last-period deltas, summed. */
static void
db_counters(struct pgweir *pw, const struct database *db,
    struct stats_counters *total, struct stats_counters *last)
{
	struct pool *pool;

	/* pools freed while idle left their counts on the database */
	*total = db->retired;
	memset(last, 0, sizeof(*last));
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db != db)
			continue;
		stats_add(total, &pool->stats->total);
		stats_add(last, &pool->stats->last);
	}
}

/*
 * Append the 12 totals of SHOW STATS_TOTALS order (client_login_count
 * last, where PgBouncer's next release adds it).
 */
static void
row_totals(struct row *r, const struct stats_counters *t)
{
	row_int(r, (long long)t->server_assignment_count);
	row_int(r, (long long)t->xact_count);
	row_int(r, (long long)t->query_count);
	row_int(r, (long long)t->bytes_received);
	row_int(r, (long long)t->bytes_sent);
	row_int(r, (long long)t->xact_time);
	row_int(r, (long long)t->query_time);
	row_int(r, (long long)t->wait_time);
	row_int(r, (long long)t->client_parse_count);
	row_int(r, (long long)t->server_parse_count);
	row_int(r, (long long)t->bind_count);
	row_int(r, (long long)t->client_login_count);
}

/*
 * Append the 12 averages over the last stats_period: counts and bytes per
 * second; times per transaction, per query, and per server assignment.
 */
static void
row_averages(struct pgweir *pw, struct row *r, const struct stats_counters *l)
{
	double secs = (double)pw->cfg->stats_period / 1e6;

#define PER_SEC(x) (long long)((double)(x) / secs + 0.5)
#define PER(x, n) (long long)((n) ? (x) / (n) : 0)
	row_int(r, PER_SEC(l->server_assignment_count));
	row_int(r, PER_SEC(l->xact_count));
	row_int(r, PER_SEC(l->query_count));
	row_int(r, PER_SEC(l->bytes_received));
	row_int(r, PER_SEC(l->bytes_sent));
	row_int(r, PER(l->xact_time, l->xact_count));
	row_int(r, PER(l->query_time, l->query_count));
	row_int(r, PER(l->wait_time, l->server_assignment_count));
	row_int(r, PER_SEC(l->client_parse_count));
	row_int(r, PER_SEC(l->server_parse_count));
	row_int(r, PER_SEC(l->bind_count));
	row_int(r, PER_SEC(l->client_login_count));
#undef PER_SEC
#undef PER
}

/* Databases in config order, then those made from "*" and the console. */
static void
for_each_database(struct pgweir *pw,
    void (*fn)(struct pgweir *, struct database *, void *), void *arg)
{
	struct database *db;

	for (size_t i = 0; i < pw->cfg->n_databases; i++) {
		db = pool_find_database(pw, pw->cfg->databases[i]->name);
		if (db != NULL)
			fn(pw, db, arg);
	}
	TAILQ_FOREACH(db, &pw->databases, entry)
		if (db->auto_db || db->admin || db->removed)
			fn(pw, db, arg);
}

/* One SHOW STATS* row; which = 0 all, 1 totals, 2 averages. */
struct stats_row_arg {
	struct admin_out *o;
	int which;
};

static void
stats_row(struct pgweir *pw, struct database *db, void *arg)
{
	struct stats_row_arg *a = arg;
	struct stats_counters total, last;
	struct row r;

	db_counters(pw, db, &total, &last);
	row_start(&r);
	row_text(&r, db->name);
	if (a->which != 2)
		row_totals(&r, &total);
	if (a->which != 1)
		row_averages(pw, &r, &last);
	row_emit(a->o, &r);
}

static void
show_stats(struct pgweir *pw, struct admin_out *o)
{
	struct stats_row_arg a = { o, 0 };

	for_each_database(pw, stats_row, &a);
}

static void
show_stats_totals(struct pgweir *pw, struct admin_out *o)
{
	struct stats_row_arg a = { o, 1 };

	for_each_database(pw, stats_row, &a);
}

static void
show_stats_averages(struct pgweir *pw, struct admin_out *o)
{
	struct stats_row_arg a = { o, 2 };

	for_each_database(pw, stats_row, &a);
}

static void
show_totals(struct pgweir *pw, struct admin_out *o)
{
	static const char *const names[] = { "server_assignment_count",
		"xact_count", "query_count", "client_bytes", "server_bytes",
		"xact_time", "query_time", "wait_time", "ps_client_parse_count",
		"ps_server_parse_count", "ps_bind_count",
		"client_login_count" };
	struct stats_counters total, last;
	struct database *db;
	struct pool *pool;
	struct row vals;
	struct row r;

	total = pw->retired;
	memset(&last, 0, sizeof(last));
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		stats_add(&total, &pool->stats->total);
		stats_add(&last, &pool->stats->last);
	}
	TAILQ_FOREACH(db, &pw->databases, entry)
		stats_add(&total, &db->retired);
	row_start(&vals);
	row_totals(&vals, &total);
	row_averages(pw, &vals, &last);
	for (int i = 0; i < 24; i++) {
		row_start(&r);
		row_fmt(&r, "%s_%s", i < 12 ? "total" : "avg", names[i % 12]);
		row_text(&r, vals.v[i]);
		row_emit(o, &r);
	}
}

/* An address and port from a socket's own end or its peer's. */
static void
row_sockaddr(struct row *r, int fd, bool local)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct peer_addr pa;
	char buf[64];

	if (fd < 0 || (local ? getsockname(fd, (struct sockaddr *)&ss, &len) :
	    getpeername(fd, (struct sockaddr *)&ss, &len)) < 0 ||
	    ss.ss_family == AF_UNIX) {
		row_text(r, "unix");
		row_int(r, 0);
		return;
	}
	peer_addr_set(&pa, (struct sockaddr *)&ss);
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, pa.ip.v4, buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, pa.ip.v6, buf, sizeof(buf));
	row_text(r, buf);
	row_int(r, pa.port);
}

/* The application_name a client runs with, or "". */
static const char *
client_app_name(struct pgweir *pw, const struct client *c)
{
	int idx = var_find(&pw->vars, "application_name");

	if (c == NULL || idx < 0 || c->vars == NULL ||
	    c->vars->vals[idx] == NULL)
		return "";
	return c->vars->vals[idx];
}

/* The buffer columns of SHOW SOCKETS. */
static void
row_buffers(struct row *r, const struct io *io, uint32_t remain)
{
	size_t in = io_in_pending(io), out = io_out_pending(io);

	row_int(r, (long long)in);
	row_int(r, 0);
	row_int(r, remain);
	row_int(r, (long long)out);
	row_int(r, (long long)out);
	row_int(r, (long long)in);
	row_int(r, (long long)out);
}

/* One SHOW CLIENTS row (with buffers for SHOW SOCKETS). */
static void
client_row(struct pgweir *pw, struct admin_out *o, const struct client *c,
    const char *state, bool sockets)
{
	char tls[128];
	struct row r;
	int64_t wait = c->state == CL_WAITING ? pgweir_mono_usec() -
	    c->wait_start : 0;

	row_start(&r);
	row_text(&r, "C");
	row_text(&r, client_user_name(c));
	row_text(&r, c->pool->db->name);
	row_text(&r, replication_name(c->replication));
	row_text(&r, state);
	row_sockaddr(&r, c->io.fd, false);
	row_sockaddr(&r, c->io.fd, true);
	row_time(&r, c->connect_time);
	row_time(&r, mono_to_wall(pw, c->request_time));
	row_int(&r, wait / 1000000);
	row_int(&r, wait % 1000000);
	row_int(&r, 0);
	row_fmt(&r, "%p", (const void *)c);
	if (c->link)
		row_fmt(&r, "%p", (const void *)c->link);
	else
		row_text(&r, "");
	row_int(&r, 0);
	tls_describe(c->io.ssl, tls, sizeof(tls));
	row_text(&r, tls);
	row_text(&r, client_app_name(pw, c));
	row_int(&r, (long long)prepared_client_count(c));
	row_int(&r, (long long)c->id);
	if (sockets)
		row_buffers(&r, &c->io, c->pkt_remain);
	row_emit(o, &r);
}

/* The PgBouncer name of a server's state. */
static const char *
server_state_label(const struct server *s)
{
	switch (s->state) {
	case SV_CONNECTING:
		return "login";
	case SV_IDLE:
		return "idle";
	case SV_ACTIVE:
		return "active";
	case SV_TESTED:
		return "tested";
	case SV_CLOSED:
		break;
	}
	return "closed";
}

/* One SHOW SERVERS row. */
static void
server_row(struct pgweir *pw, struct admin_out *o, const struct server *s,
    bool sockets)
{
	char tls[128];
	struct row r;

	row_start(&r);
	row_text(&r, "S");
	row_text(&r, s->pool->server_user);
	row_text(&r, s->pool->db->name);
	row_text(&r, replication_name(s->replication));
	row_text(&r, server_state_label(s));
	row_sockaddr(&r, s->io.fd, false);
	row_sockaddr(&r, s->io.fd, true);
	row_time(&r, s->connect_time);
	row_time(&r, mono_to_wall(pw, s->idle_since));
	row_int(&r, 0);
	row_int(&r, 0);
	row_int(&r, s->close_needed);
	row_fmt(&r, "%p", (const void *)s);
	if (s->link)
		row_fmt(&r, "%p", (const void *)s->link);
	else
		row_text(&r, "");
	row_int(&r, s->backend_pid);
	tls_describe(s->io.ssl, tls, sizeof(tls));
	row_text(&r, tls);
	row_text(&r, client_app_name(pw, s->link));
	row_int(&r, (long long)prepared_server_count(s));
	row_int(&r, (long long)s->id);
	if (sockets)
		row_buffers(&r, &s->io, s->pkt_remain);
	row_emit(o, &r);
}

/* Rows for every logged-in client (clients in login are not shown). */
static void
clients_rows(struct pgweir *pw, struct admin_out *o, bool sockets,
    bool active_only)
{
	struct pool *pool;
	const struct client *c;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		TAILQ_FOREACH(c, &pool->active_clients, entry)
			if (!active_only || io_in_pending(&c->io) ||
			    io_out_pending(&c->io))
				client_row(pw, o, c, sockets ? "cl_active" :
				    "active", sockets);
		TAILQ_FOREACH(c, &pool->idle_clients, entry)
			if (!active_only || io_in_pending(&c->io) ||
			    io_out_pending(&c->io))
				client_row(pw, o, c, sockets ? "cl_active" :
				    "idle", sockets);
		TAILQ_FOREACH(c, &pool->waiting_clients, entry)
			if (!active_only || io_in_pending(&c->io) ||
			    io_out_pending(&c->io))
				client_row(pw, o, c, sockets ? "cl_waiting" :
				    "waiting", sockets);
	}
}

/* Rows for every server connection. */
static void
servers_rows(struct pgweir *pw, struct admin_out *o, bool sockets,
    bool active_only)
{
	struct pool *pool;
	const struct server *s;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct server_list *lists[] = {
			&pool->active_servers, &pool->idle_servers,
			&pool->tested_servers, &pool->connecting_servers };
		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(s, lists[i], entry)
				if (!active_only || io_in_pending(&s->io) ||
				    io_out_pending(&s->io))
					server_row(pw, o, s, sockets);
	}
}

static void
show_clients(struct pgweir *pw, struct admin_out *o)
{
	clients_rows(pw, o, false, false);
}

static void
show_servers(struct pgweir *pw, struct admin_out *o)
{
	servers_rows(pw, o, false, false);
}

static void
show_sockets(struct pgweir *pw, struct admin_out *o)
{
	clients_rows(pw, o, true, false);
	servers_rows(pw, o, true, false);
}

static void
show_active_sockets(struct pgweir *pw, struct admin_out *o)
{
	clients_rows(pw, o, true, true);
	servers_rows(pw, o, true, true);
}

/* A per-database limit, or the global one. */
static int
db_limit(int v, int global)
{
	return v != CONF_UNSET ? v : global;
}

/* One SHOW DATABASES row. */
static void
database_row(struct pgweir *pw, struct database *db, void *arg)
{
	const struct db_conf *c = db->conf;
	const struct config *cfg = pw->cfg;
	struct admin_out *o = arg;
	struct row r;

	row_start(&r);
	row_text(&r, db->name);
	row_text(&r, db->admin ? NULL : c->host ? c->host :
	    cfg->unix_socket_dir);
	row_int(&r, c->port);
	row_text(&r, db->admin ? db->name : c->dbname ? c->dbname :
	    db->name);
	row_text(&r, c->user);
	row_int(&r, db_limit(c->pool_size, cfg->default_pool_size));
	row_int(&r, db_limit(c->min_pool_size, cfg->min_pool_size));
	row_int(&r, db_limit(c->reserve_pool_size, cfg->reserve_pool_size));
	row_int(&r, (c->server_lifetime != CONF_UNSET ? c->server_lifetime :
	    cfg->server_lifetime) / 1000000);
	row_text(&r, config_pool_mode_name(c->pool_mode != CONF_UNSET ?
	    c->pool_mode : cfg->pool_mode));
	row_text(&r, load_balance_name(db));
	row_int(&r, db_limit(c->max_db_connections, cfg->max_db_connections));
	row_int(&r, db->n_servers);
	row_int(&r, db_limit(c->max_db_client_connections,
	    cfg->max_db_client_connections));
	row_int(&r, db->n_clients);
	row_int(&r, db->paused);
	row_int(&r, db->disabled);
	row_emit(o, &r);
}

static void
show_databases(struct pgweir *pw, struct admin_out *o)
{
	for_each_database(pw, database_row, o);
}

static void
show_config(struct pgweir *pw, struct admin_out *o)
{
	struct row r;

	for (size_t i = 0; i < config_n_options; i++) {
		const struct config_option *opt = &config_options[i];
		char value[COL_LEN];

		if (opt->flags & OPT_SENSITIVE)
			snprintf(value, sizeof(value), "%s", "********");
		else
			config_format_option(pw->cfg, opt, value,
			    sizeof(value));
		row_start(&r);
		row_text(&r, opt->name);
		row_text(&r, value);
		row_text(&r, opt->def);
		row_text(&r, (opt->flags & OPT_RELOAD) ? "yes" : "no");
		row_emit(o, &r);
	}
}

/* One "name, count" row. */
static void
pair_row(struct admin_out *o, const char *name, long long n)
{
	struct row r;

	row_start(&r);
	row_text(&r, name);
	row_int(&r, n);
	row_emit(o, &r);
}

static void
show_lists(struct pgweir *pw, struct admin_out *o)
{
	struct database *db;
	struct user *user;
	struct pool *pool;
	const struct client *c;
	int dbs = 0, users = 0, pools = 0, logins = 0, dns = 0, pending = 0;

	TAILQ_FOREACH(db, &pw->databases, entry) {
		dbs++;
		dns += db->dns_addrlen > 0;
		pending += db->dns_pending;
	}
	TAILQ_FOREACH(user, &pw->users, entry)
		users++;
	TAILQ_FOREACH(pool, &pw->pools, entry)
		pools++;
	TAILQ_FOREACH(c, &pw->login_clients, entry)
		logins++;
	pair_row(o, "databases", dbs);
	pair_row(o, "users", users);
	pair_row(o, "peers", 0);
	pair_row(o, "pools", pools);
	pair_row(o, "peer_pools", 0);
	pair_row(o, "free_clients", 0);
	pair_row(o, "used_clients", pw->n_clients);
	pair_row(o, "login_clients", logins);
	pair_row(o, "free_servers", 0);
	pair_row(o, "used_servers", pw->n_servers);
	pair_row(o, "dns_names", dns);
	pair_row(o, "dns_zones", 0);
	pair_row(o, "dns_queries", pending);
	pair_row(o, "dns_pending", pending);
}

/* One SHOW MEM row for a kind of object. */
static void
mem_row(struct admin_out *o, const char *name, size_t size, long long used)
{
	struct row r;

	row_start(&r);
	row_text(&r, name);
	row_int(&r, (long long)size);
	row_int(&r, used);
	row_int(&r, 0);
	row_int(&r, (long long)size * used);
	row_emit(o, &r);
}

/*
 * pgweir has no slab caches: objects are allocated one by one and freed
 * when done, so "free" is always 0 and memtotal is size * used.
 */
static void
show_mem(struct pgweir *pw, struct admin_out *o)
{
	struct database *db;
	struct user *user;
	struct pool *pool;
	long long dbs = 0, users = 0, pools = 0;

	TAILQ_FOREACH(db, &pw->databases, entry)
		dbs++;
	TAILQ_FOREACH(user, &pw->users, entry)
		users++;
	TAILQ_FOREACH(pool, &pw->pools, entry)
		pools++;
	mem_row(o, "user_cache", sizeof(struct user), users);
	mem_row(o, "db_cache", sizeof(struct database), dbs);
	mem_row(o, "pool_cache", sizeof(struct pool) +
	    sizeof(struct pool_stats), pools);
	mem_row(o, "server_cache", sizeof(struct server), pw->n_servers);
	mem_row(o, "client_cache", sizeof(struct client), pw->n_clients);
}

/*
 * SHOW PEER_POOLS: a row per peer.  pgweir forwards a peer's cancel on a
 * connection of its own as soon as it arrives, so no client waits for
 * one: sv_active_cancel counts those still on their way.
 */
static void
show_peer_pools(struct pgweir *pw, struct admin_out *o)
{
	const struct config *cfg = pw->cfg;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		int id = atoi(cfg->peers[i]->name);
		struct row r;

		row_start(&r);
		row_int(&r, id);
		row_int(&r, 0);
		row_int(&r, 0);
		row_int(&r, cancel_count_to_peer(pw, id));
		row_int(&r, 0);
		row_emit(o, &r);
	}
}

/* SHOW PEERS: the [peers] entries, where cancels of their clients go. */
static void
show_peers(struct pgweir *pw, struct admin_out *o)
{
	const struct config *cfg = pw->cfg;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct db_conf *p = cfg->peers[i];
		struct row r;

		row_start(&r);
		row_int(&r, atoi(p->name));
		row_text(&r, p->host ? p->host : cfg->unix_socket_dir);
		row_int(&r, p->port);
		row_int(&r, db_limit(p->pool_size, cfg->default_pool_size));
		row_emit(o, &r);
	}
}

/* One SHOW USERS row. */
static void
user_row(struct pgweir *pw, struct admin_out *o, const char *name,
    const struct user_conf *uc, const struct user *u)
{
	const struct config *cfg = pw->cfg;
	struct row r;

	row_start(&r);
	row_text(&r, name);
	if (uc && uc->pool_size != CONF_UNSET)
		row_fmt(&r, "%9d", uc->pool_size);
	else
		row_text(&r, "");
	if (uc && uc->reserve_pool_size != CONF_UNSET)
		row_fmt(&r, "%9d", uc->reserve_pool_size);
	else
		row_text(&r, "");
	row_text(&r, uc && uc->pool_mode != CONF_UNSET ?
	    config_pool_mode_name(uc->pool_mode) : "");
	row_int(&r, uc && uc->max_user_connections != CONF_UNSET ?
	    uc->max_user_connections : cfg->max_user_connections);
	row_int(&r, u ? u->n_servers : 0);
	row_int(&r, uc && uc->max_user_client_connections != CONF_UNSET ?
	    uc->max_user_client_connections :
	    cfg->max_user_client_connections);
	row_int(&r, u ? u->n_clients : 0);
	row_emit(o, &r);
}

static void
show_users(struct pgweir *pw, struct admin_out *o)
{
	struct user *u;

	for (size_t i = 0; i < pw->cfg->n_users; i++)
		if (pool_find_user(pw, pw->cfg->users[i]->name, false) == NULL)
			user_row(pw, o, pw->cfg->users[i]->name,
			    pw->cfg->users[i], NULL);
	TAILQ_FOREACH(u, &pw->users, entry)
		user_row(pw, o, u->name, u->conf,
		    u);
}

static void
show_state(struct pgweir *pw, struct admin_out *o)
{
	struct database *db;
	bool paused = false;
	struct row r;

	TAILQ_FOREACH(db, &pw->databases, entry)
		paused |= db->paused && !db->admin;
	row_start(&r);
	row_text(&r, "active");
	row_text(&r, !paused && !pw->suspended ? "yes" : "no");
	row_emit(o, &r);
	row_start(&r);
	row_text(&r, "paused");
	row_text(&r, paused ? "yes" : "no");
	row_emit(o, &r);
	row_start(&r);
	row_text(&r, "suspended");
	row_text(&r, pw->suspended ? "yes" : "no");
	row_emit(o, &r);
}

static void
show_version(struct pgweir *pw, struct admin_out *o)
{
	struct row r;

	(void)pw;
	row_start(&r);
	row_text(&r, "pgweir " PACKAGE_VERSION);
	row_emit(o, &r);
}

static void
show_dns_hosts(struct pgweir *pw, struct admin_out *o)
{
	struct database *db;
	struct row r;

	TAILQ_FOREACH(db, &pw->databases, entry) {
		struct peer_addr pa;
		char addr[64];
		int64_t ttl;

		if (db->dns_addrlen == 0 || db->conf->host == NULL)
			continue;
		peer_addr_set(&pa, (struct sockaddr *)&db->dns_addr);
		peer_addr_format(&pa, addr, sizeof(addr));
		ttl = (db->dns_expires - pgweir_mono_usec()) / 1000000;
		row_start(&r);
		row_text(&r, db->conf->host);
		row_int(&r, ttl > 0 ? ttl : 0);
		row_text(&r, addr);
		row_emit(o, &r);
	}
}

/* A tracked parameter's value in a set, or NULL. */
static const char *
var_value(struct pgweir *pw, const struct varset *vs, const char *name)
{
	int idx = var_find(&pw->vars, name);

	return vs != NULL && idx >= 0 ? vs->vals[idx] : NULL;
}

/*
 * One SHOW FDS row of a connection: its socket, names, address, cancel
 * key (pid in the high half), the socket it is linked to, and the
 * parameters PgBouncer lists.  Secrets are never shown.
 */
static void
fd_row(struct pgweir *pw, struct admin_out *o, const struct io *io,
    const char *task, const char *user, const char *db,
    const struct peer_addr *pa, unsigned long long cancel,
    const struct io *link, const struct varset *vs)
{
	struct row r;
	char addr[64];

	row_start(&r);
	row_int(&r, io->fd);
	row_text(&r, task);
	row_text(&r, user);
	row_text(&r, db);
	if (pa != NULL && (pa->family == AF_INET || pa->family == AF_INET6) &&
	    inet_ntop(pa->family, pa->family == AF_INET ?
	    (const void *)pa->ip.v4 : (const void *)pa->ip.v6, addr,
	    sizeof(addr)) != NULL) {
		row_text(&r, addr);
		row_int(&r, pa->port);
	} else {
		row_text(&r, "unix");
		row_int(&r, pw->cfg->listen_port);
	}
	row_fmt(&r, "%llu", cancel);
	row_int(&r, link != NULL ? link->fd : 0);
	row_text(&r, var_value(pw, vs, "client_encoding"));
	row_text(&r, var_value(pw, vs, "standard_conforming_strings"));
	row_text(&r, var_value(pw, vs, "DateStyle"));
	row_text(&r, var_value(pw, vs, "TimeZone"));
	row_text(&r, NULL);
	row_text(&r, NULL);
	row_text(&r, NULL);
	row_emit(o, &r);
}

/* Where SHOW FDS rows of listeners go. */
struct fds_out {
	struct pgweir *pw;
	struct admin_out *o;
};

/* A listening socket's SHOW FDS row. */
static int
fd_listener_row(void *arg, int fd, const char *path)
{
	struct fds_out *f = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct peer_addr pa;
	struct io io = { .fd = fd };

	(void)path;
	memset(&pa, 0, sizeof(pa));
	pa.family = AF_UNIX;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		peer_addr_set(&pa, (struct sockaddr *)&ss);
	fd_row(f->pw, f->o, &io, "pooler", NULL, NULL, &pa, 0, NULL, NULL);
	return 0;
}

/* Every socket pgweir holds for clients: listeners, clients, servers. */
static void
show_fds(struct pgweir *pw, struct admin_out *o)
{
	struct fds_out f = { pw, o };
	struct pool *pool;
	const struct client *c;
	const struct server *sv;

	listener_each(pw, fd_listener_row, &f);
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct client_list *cl[] = { &pool->active_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->welcome_clients };
		const struct server_list *sl[] = { &pool->active_servers,
			&pool->idle_servers, &pool->tested_servers };

		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(c, cl[i], entry)
				fd_row(pw, o, &c->io, "client",
				    client_user_name(c), pool->db->name,
				    &c->addr, (unsigned long long)
				    cancel_pid_encode(pw->cfg->peer_id,
				    c->slot) << 32 | c->cancel_key,
				    c->link ? &c->link->io : NULL, c->vars);
		for (int i = 0; i < 3; i++)
			TAILQ_FOREACH(sv, sl[i], entry) {
				struct peer_addr pa;
				peer_addr_set(&pa,
				    (const struct sockaddr *)&sv->remote);
				fd_row(pw, o, &sv->io, "server",
				    pool->user->name, pool->db->name, &pa,
				    (unsigned long long)sv->backend_pid << 32 |
				    sv->backend_key, sv->link ?
				    &sv->link->io : NULL, sv->vars);
			}
	}
}

/*
 * Server connections of a database on one host of its list, and the role
 * the newest of them found there (for a list of one host, which keeps no
 * per-host state).
 */
static int
host_servers(struct pgweir *pw, const struct database *db, int host,
    enum host_role *role)
{
	struct pool *pool;
	const struct server *s;
	int n = 0;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct server_list *lists[] = {
			&pool->active_servers, &pool->idle_servers,
			&pool->tested_servers, &pool->connecting_servers };
		if (pool->db != db)
			continue;
		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(s, lists[i], entry) {
				if (s->host != host)
					continue;
				n++;
				if (s->logged_in && s->role != HOST_UNKNOWN)
					*role = s->role;
			}
	}
	return n;
}

/* SHOW HOSTS rows of one database: each host of its list. */
static void
hosts_rows(struct pgweir *pw, struct database *db, void *arg)
{
	struct admin_out *o = arg;
	const struct db_conf *c = db->conf;
	struct row r;

	if (db->admin)
		return;
	for (int i = 0; i < (c->n_hosts > 0 ? c->n_hosts : 1); i++) {
		enum host_role known = serverhost_role(db, i);
		enum host_role seen = HOST_UNKNOWN;
		int n = host_servers(pw, db, i, &seen);
		enum host_role role = known != HOST_UNKNOWN ? known : seen;

		row_start(&r);
		row_text(&r, db->name);
		row_text(&r, c->n_hosts > 0 ? c->hosts[i] :
		    pw->cfg->unix_socket_dir);
		row_int(&r, c->n_hosts > 0 ? c->ports[i] : c->port);
		row_text(&r, targetattrs_name(c->target_session_attrs));
		row_text(&r, targetattrs_role_name(role));
		row_int(&r, n);
		row_emit(o, &r);
	}
}

/*
 * Each host of each database's list: what pgweir knows of it (primary,
 * standby, unreachable) and how many server connections it has there.
 */
static void
show_hosts(struct pgweir *pw, struct admin_out *o)
{
	for_each_database(pw, hosts_rows, o);
}

/* The zone of a cached host name: what follows its first dot, or NULL. */
static const char *
dns_zone_of(const struct database *db)
{
	const char *dot;

	if (db->dns_addrlen == 0 || db->conf->n_hosts == 0 ||
	    db->dns_host >= db->conf->n_hosts)
		return NULL;
	dot = strchr(db->conf->hosts[db->dns_host], '.');
	return dot != NULL && dot[1] != '\0' ? dot + 1 : NULL;
}

/*
 * With dns_zone_check_period, the zones of the cached host names and how
 * many names each has.  pgweir does not read SOA records (it looks the
 * names up again instead, see pool_janitor), so serial is 0.
 */
static void
show_dns_zones(struct pgweir *pw, struct admin_out *o)
{
	struct database *db, *prev;
	struct row r;

	if (pw->cfg->dns_zone_check_period <= 0)
		return;
	TAILQ_FOREACH(db, &pw->databases, entry) {
		const char *zone = dns_zone_of(db);
		bool seen = false;
		int count = 0;

		if (zone == NULL)
			continue;
		for (prev = TAILQ_FIRST(&pw->databases); prev != db;
		    prev = TAILQ_NEXT(prev, entry))
			seen |= dns_zone_of(prev) != NULL &&
			    strcasecmp(dns_zone_of(prev), zone) == 0;
		if (seen)
			continue;
		for (prev = db; prev != NULL; prev = TAILQ_NEXT(prev, entry))
			count += dns_zone_of(prev) != NULL &&
			    strcasecmp(dns_zone_of(prev), zone) == 0;
		row_start(&r);
		row_text(&r, zone);
		row_int(&r, 0);
		row_int(&r, count);
		row_emit(o, &r);
	}
}

/* One SHOW LATENCY row. */
static void
latency_row(struct admin_out *o, const struct pool *pool, const char *metric,
    const char *window, const struct histogram *h)
{
	struct row r;

	row_start(&r);
	row_text(&r, pool->db->name);
	row_text(&r, pool->user->name);
	row_text(&r, metric);
	row_text(&r, window);
	row_int(&r, (long long)h->count);
	row_int(&r, (long long)hist_quantile(h, 0.50));
	row_int(&r, (long long)hist_quantile(h, 0.90));
	row_int(&r, (long long)hist_quantile(h, 0.99));
	row_int(&r, (long long)hist_quantile(h, 0.999));
	row_int(&r, (long long)h->max);
	row_emit(o, &r);
}

/*
 * Per pool, for wait, query and transaction times: count, p50, p90, p99,
 * p99.9 and max in microseconds, over the last whole stats_period and
 * since start.  Quantiles are within 3.2 % of the true value.
 */
static void
show_latency(struct pgweir *pw, struct admin_out *o)
{
	static const char *const metrics[LAT_KINDS] = { "wait", "query",
		"xact" };
	struct pool *pool;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db->admin)
			continue;
		for (int k = 0; k < LAT_KINDS; k++) {
			latency_row(o, pool, metrics[k], "period",
			    &pool->stats->period[k]);
			latency_row(o, pool, metrics[k], "total",
			    &pool->stats->all[k]);
		}
	}
}
