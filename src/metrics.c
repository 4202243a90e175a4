/* SPDX-License-Identifier: ISC */
/*
 * A Prometheus endpoint: GET /metrics on metrics_listen_addr:metrics_port,
 * served by libevent's HTTP server in the same event loop (a cold path:
 * one request every few seconds), in the Prometheus text format.
 *
 * It shows what the admin console shows, from the same counters: pool
 * gauges, per-database counters, and the latency histograms as Prometheus
 * histograms, plus process facts.  Histogram buckets are the power-of-two
 * edges of pgweir's own histograms (16 us to 33.5 s), so their counts are
 * exact, not interpolated.  The page is built at once into one evbuffer,
 * in time linear in the number of pools and databases.
 *
 * The endpoint faces whoever can reach its port, so every request is
 * bounded: GET and HEAD only, request line and headers at most
 * METRICS_HEADERS_MAX bytes, no body at all, one request per connection,
 * at most METRICS_CONNS_MAX connections at once (the listener pauses at
 * the bound), and METRICS_TIMEOUT_SEC for a whole connection, not only
 * between bytes: evhttp's own timeout restarts at every byte, so a client
 * trickling one byte at a time would otherwise hold its slot for ever.
 * evhttp hands out no handle on a connection before its first request, so
 * each one is tracked from the bufferevent made for it (evhttp_set_bevcb):
 * a zero timer fired right after the accept finds the evhttp connection
 * behind it, asks to hear of its end (evhttp_connection_set_closecb) and
 * then waits for the deadline, when it frees the connection.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/listener.h"
#include "pgweir/log.h"
#include "pgweir/metrics.h"
#include "pgweir/pool.h"
#include "pgweir/serverhost.h"
#include "pgweir/stats.h"

/* Smallest and largest bucket edge, as powers of two microseconds. */
#define EDGE_MIN_EXP 4
#define EDGE_MAX_EXP 25

/* Bounds on what a client of the endpoint may cost (docs/admin.md). */
#define METRICS_HEADERS_MAX	8192	/* request line and headers, bytes */
#define METRICS_CONNS_MAX	16	/* connections open at once */
#define METRICS_TIMEOUT_SEC	10	/* a whole connection, and any pause */

/* One accepted connection, tracked until evhttp frees it. */
struct metrics_conn {
	TAILQ_ENTRY(metrics_conn) entry;
	struct metrics_server *ms;
	struct bufferevent *bev;	/* a reference until evcon is known */
	struct evhttp_connection *evcon; /* evhttp's; NULL until found */
	struct event *timer;		/* first finds evcon, then deadline */
	bool refused;			/* over METRICS_CONNS_MAX: close */
};

/* The endpoint: evhttp, its listener and the open connections. */
struct metrics_server {
	struct pgweir *pw;
	struct evhttp *http;		/* owned */
	struct evconnlistener *listener; /* evhttp's; paused at the bound */
	bool paused;			/* listener disabled */
	bool stopping;			/* metrics_stop is freeing evhttp */
	TAILQ_HEAD(, metrics_conn) conns;
	int n_conns;
};

/* Write a label value with Prometheus escaping. */
static void
add_label(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* A metric's HELP and TYPE lines. */
static void
header(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* name{database="..",user=".."[,extra]} value */
static void
sample(struct evbuffer *out, const char *name, const struct pool *pool,
    const char *db, const char *extra, double value)
{
	evbuffer_add_printf(out, "%s{database=\"", name);
	add_label(out, pool ? pool->db->name : db);
	if (pool) {
		evbuffer_add(out, "\",user=\"", 8);
		add_label(out, pool->user->name);
	}
	evbuffer_add_printf(out, "\"%s%s} %.17g\n", extra ? "," : "",
	    extra ? extra : "", value);
}

/*
 * The hosts of databases with a host list: one sample per host, labelled
 * with the role pgweir knows (SHOW HOSTS), and the switches of primary.
 */
static void
render_hosts(struct pgweir *pw, struct evbuffer *out)
{
	static const char role[] = "pgweir_database_host_role";
	static const char moves[] = "pgweir_database_primary_switches_total";
	struct database *db;

	header(out, role, "gauge", "1 for each host of a database's list, "
	    "labelled with its role (primary, standby, unreachable, "
	    "unknown).");
	TAILQ_FOREACH(db, &pw->databases, entry) {
		const struct db_conf *c = db->conf;
		if (db->admin || c->n_hosts <= 1)
			continue;
		for (int i = 0; i < c->n_hosts; i++) {
			evbuffer_add_printf(out, "%s{database=\"", role);
			add_label(out, db->name);
			evbuffer_add(out, "\",host=\"", 8);
			add_label(out, c->hosts[i]);
			evbuffer_add_printf(out,
			    "\",port=\"%d\",role=\"%s\"} 1\n", c->ports[i],
			    targetattrs_role_name(serverhost_role(db, i)));
		}
	}
	header(out, moves, "counter", "Times the primary of a database's "
	    "host list moved to another host.");
	TAILQ_FOREACH(db, &pw->databases, entry)
		if (!db->admin && db->conf->n_hosts > 1)
			sample(out, moves, NULL, db->name, NULL,
			    (double)db->primary_switches);
}

/* Process facts, in the names every Prometheus client library uses. */
static void
render_process(struct pgweir *pw, struct evbuffer *out)
{
	struct rusage ru;
	struct rlimit rl;
	long pagesize = sysconf(_SC_PAGESIZE);
	unsigned long vsize = 0, rss = 0;
	int fds = 0;
	DIR *dir;
	FILE *fp;

	getrusage(RUSAGE_SELF, &ru);
	header(out, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.");
	evbuffer_add_printf(out, "process_cpu_seconds_total %.6f\n",
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	dir = opendir("/proc/self/fd");
	if (dir != NULL) {
		struct dirent *d;
		while ((d = readdir(dir)) != NULL)
			fds += d->d_name[0] != '.';
		closedir(dir);
		fds--;		/* the directory's own descriptor */
	}
	header(out, "process_open_fds", "gauge",
	    "Number of open file descriptors.");
	evbuffer_add_printf(out, "process_open_fds %d\n", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		header(out, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		evbuffer_add_printf(out, "process_max_fds %llu\n",
		    (unsigned long long)rl.rlim_cur);
	}
	fp = fopen("/proc/self/statm", "r");
	if (fp != NULL) {
		if (fscanf(fp, "%lu %lu", &vsize, &rss) != 2)
			vsize = rss = 0;
		fclose(fp);
	}
	header(out, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.");
	evbuffer_add_printf(out, "process_resident_memory_bytes %lu\n",
	    rss * (unsigned long)pagesize);
	header(out, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.");
	evbuffer_add_printf(out, "process_virtual_memory_bytes %lu\n",
	    vsize * (unsigned long)pagesize);
	header(out, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	evbuffer_add_printf(out, "process_start_time_seconds %.3f\n",
	    (double)pw->started / 1e6);
}

/* Pool gauges: clients and servers by state, the longest wait. */
static void
render_pools(struct pgweir *pw, struct evbuffer *out)
{
	struct pool *pool;

	header(out, "pgweir_pool_client_connections", "gauge",
	    "Client connections of a pool, by state.");
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		sample(out, "pgweir_pool_client_connections", pool, NULL,
		    "state=\"active\"", pool->n_active_clients);
		sample(out, "pgweir_pool_client_connections", pool, NULL,
		    "state=\"idle\"", pool->n_idle_clients);
		sample(out, "pgweir_pool_client_connections", pool, NULL,
		    "state=\"waiting\"", pool->n_waiting);
	}
	header(out, "pgweir_pool_server_connections", "gauge",
	    "Server connections of a pool, by state.");
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db->admin)
			continue;
		sample(out, "pgweir_pool_server_connections", pool, NULL,
		    "state=\"active\"", pool->n_active_servers);
		sample(out, "pgweir_pool_server_connections", pool, NULL,
		    "state=\"idle\"", pool->n_idle_servers);
		sample(out, "pgweir_pool_server_connections", pool, NULL,
		    "state=\"tested\"", pool->n_tested);
		sample(out, "pgweir_pool_server_connections", pool, NULL,
		    "state=\"login\"", pool->n_connecting);
	}
	header(out, "pgweir_pool_max_wait_seconds", "gauge",
	    "How long the oldest waiting client of a pool has waited.");
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct client *c = TAILQ_FIRST(&pool->waiting_clients);
		double w = c ? (double)(pgweir_mono_usec() - c->wait_start) /
		    1e6 : 0;
		sample(out, "pgweir_pool_max_wait_seconds", pool, NULL, NULL,
		    w);
	}
}

/* A database and the counters of its pools, summed. */
struct db_sum {
	const struct database *db;
	struct stats_counters sum;
};

/* Order db_sums by database address, for bsearch. */
static int
db_sum_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct db_sum *)a)->db;
	uintptr_t y = (uintptr_t)((const struct db_sum *)b)->db;

	return x < y ? -1 : x > y;
}

/* The per-database counters, summed over the database's pools. */
static int
render_databases(struct pgweir *pw, struct evbuffer *out)
{
	static const struct {
		const char *name;
		size_t offset;
		double scale;		/* microseconds to seconds */
		const char *help;
	} counters[] = {
#define F(x) offsetof(struct stats_counters, x)
		{ "pgweir_database_server_assignments_total",
		  F(server_assignment_count), 1,
		  "Times a server connection was given to a client." },
		{ "pgweir_database_transactions_total", F(xact_count), 1,
		  "Transactions pooled." },
		{ "pgweir_database_queries_total", F(query_count), 1,
		  "Queries (requests answered by ReadyForQuery) pooled." },
		{ "pgweir_database_received_bytes_total", F(bytes_received), 1,
		  "Bytes received from clients." },
		{ "pgweir_database_sent_bytes_total", F(bytes_sent), 1,
		  "Bytes sent to clients." },
		{ "pgweir_database_transaction_seconds_total", F(xact_time),
		  1e-6, "Time spent in transactions." },
		{ "pgweir_database_query_seconds_total", F(query_time), 1e-6,
		  "Time spent in queries." },
		{ "pgweir_database_wait_seconds_total", F(wait_time), 1e-6,
		  "Time clients spent waiting for a server." },
		{ "pgweir_database_client_parses_total",
		  F(client_parse_count), 1,
		  "Named prepared statements clients parsed." },
		{ "pgweir_database_server_parses_total",
		  F(server_parse_count), 1,
		  "Named prepared statements parsed on servers." },
		{ "pgweir_database_binds_total", F(bind_count), 1,
		  "Binds of named prepared statements." },
		{ "pgweir_database_client_logins_total",
		  F(client_login_count), 1, "Client logins." },
#undef F
	};
	struct db_sum *sums;
	struct database *db;
	struct pool *pool;
	size_t n = 0, k;

	/* one pass over the pools, not one per database and counter */
	TAILQ_FOREACH(db, &pw->databases, entry)
		n++;
	sums = calloc(n ? n : 1, sizeof(*sums));
	if (sums == NULL)
		return -1;
	k = 0;
	TAILQ_FOREACH(db, &pw->databases, entry) {
		/* pools freed while unused left their counts on the database */
		sums[k].sum = db->retired;
		sums[k++].db = db;
	}
	qsort(sums, n, sizeof(*sums), db_sum_cmp);
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct db_sum key = { .db = pool->db }, *found;
		found = bsearch(&key, sums, n, sizeof(*sums), db_sum_cmp);
		if (found != NULL)
			stats_add(&found->sum, &pool->stats->total);
	}
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		header(out, counters[i].name, "counter", counters[i].help);
		for (k = 0; k < n; k++) {
			uint64_t v;
			memcpy(&v, (const char *)&sums[k].sum +
			    counters[i].offset, sizeof(v));
			sample(out, counters[i].name, NULL, sums[k].db->name,
			    NULL, (double)v * counters[i].scale);
		}
	}
	free(sums);
	header(out, "pgweir_database_paused", "gauge",
	    "1 while the database is paused.");
	TAILQ_FOREACH(db, &pw->databases, entry)
		sample(out, "pgweir_database_paused", NULL, db->name, NULL,
		    db->paused);
	header(out, "pgweir_database_disabled", "gauge",
	    "1 while the database refuses new clients.");
	TAILQ_FOREACH(db, &pw->databases, entry)
		sample(out, "pgweir_database_disabled", NULL, db->name, NULL,
		    db->disabled);
	render_hosts(pw, out);
	return 0;
}

/* One latency histogram of every pool. */
static void
render_histogram(struct pgweir *pw, struct evbuffer *out, const char *name,
    enum stats_latency kind, const char *help)
{
	struct pool *pool;
	char le[64], bucket[96];

	header(out, name, "histogram", help);
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		const struct histogram *h = &pool->stats->all[kind];
		char sum[96], count[96];

		if (pool->db->admin)
			continue;
		for (int e = EDGE_MIN_EXP; e <= EDGE_MAX_EXP; e++) {
			uint64_t edge = (uint64_t)1 << e;
			snprintf(le, sizeof(le), "le=\"%.6g\"",
			    (double)edge / 1e6);
			sample(out, bucket, pool, NULL, le,
			    (double)hist_count_below(h, edge));
		}
		sample(out, bucket, pool, NULL, "le=\"+Inf\"",
		    (double)h->count);
		snprintf(sum, sizeof(sum), "%s_sum", name);
		snprintf(count, sizeof(count), "%s_count", name);
		sample(out, sum, pool, NULL, NULL, (double)h->sum / 1e6);
		sample(out, count, pool, NULL, NULL, (double)h->count);
	}
}

/* The whole /metrics page. */
int
metrics_render(struct pgweir *pw, struct evbuffer *out)
{
	header(out, "pgweir_up", "gauge", "1: pgweir is running.");
	evbuffer_add_printf(out, "pgweir_up 1\n");
	header(out, "pgweir_info", "gauge", "pgweir's version.");
	evbuffer_add_printf(out, "pgweir_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	header(out, "pgweir_client_connections", "gauge",
	    "All client connections (the admin console not counted).");
	evbuffer_add_printf(out, "pgweir_client_connections %d\n",
	    pw->n_clients);
	header(out, "pgweir_server_connections", "gauge",
	    "All server connections.");
	evbuffer_add_printf(out, "pgweir_server_connections %d\n",
	    pw->n_servers);
	render_process(pw, out);
	render_pools(pw, out);
	if (render_databases(pw, out) < 0)
		return -1;
	render_histogram(pw, out, "pgweir_pool_wait_seconds", LAT_WAIT,
	    "Time clients waited for a server (immediate links count 0).");
	render_histogram(pw, out, "pgweir_pool_query_seconds", LAT_QUERY,
	    "Time from a request to its ReadyForQuery.");
	render_histogram(pw, out, "pgweir_pool_transaction_seconds", LAT_XACT,
	    "Time from a transaction's first request to its end.");
	return 0;
}

/*
 * The checks every endpoint makes: GET or HEAD, no body.  False when the
 * request has been answered with an error.
 */
static bool
request_ok(struct evhttp_request *req)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	evhttp_add_header(headers, "Connection", "close");
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "only GET and HEAD");
		return false;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
		evhttp_send_error(req, 413, "no body expected");
		return false;
	}
	return true;
}

/* A short text answer. */
static void
send_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL || evbuffer_add(out, text, strlen(text)) < 0) {
		if (out != NULL)
			evbuffer_free(out);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/*
 * GET /healthz: the event loop answers.  Nothing about PostgreSQL: a
 * database outage must not make an orchestrator restart every pooler.
 */
static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (request_ok(req))
		send_text(req, 200, "OK", "ok\n");
}

/* Why pgweir should get no new clients now, or NULL. */
static const char *
not_ready_because(struct pgweir *pw)
{
	const struct database *db;
	bool any = false, all_paused = true;

	if (pw->shutdown != SHUTDOWN_NONE)
		return "shutting down";
	if (!listener_accepting(pw))
		return "not accepting connections";
	if (pw->suspended)
		return "suspended";
	TAILQ_FOREACH(db, &pw->databases, entry) {
		if (db->admin)
			continue;
		any = true;
		all_paused &= db->paused;
	}
	return any && all_paused ? "paused" : NULL;
}

/*
 * GET /ready: 200 while pgweir accepts and serves new clients; 503 while
 * it is shutting down (draining), being replaced, paused or suspended,
 * so that a balancer sends new clients elsewhere.
 */
static void
ready_cb(struct evhttp_request *req, void *arg)
{
	struct metrics_server *ms = arg;
	const char *why = not_ready_because(ms->pw);
	char text[64];

	if (!request_ok(req))
		return;
	if (why == NULL) {
		send_text(req, 200, "OK", "ready\n");
		return;
	}
	snprintf(text, sizeof(text), "not ready: %s\n", why);
	send_text(req, 503, "Service Unavailable", text);
}

/* GET or HEAD /metrics (evhttp has refused any body already). */
static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics_server *ms = arg;
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *out;

	if (!request_ok(req))
		return;
	out = evbuffer_new();
	if (out == NULL || metrics_render(ms->pw, out) < 0) {
		if (out != NULL)
			evbuffer_free(out);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(headers, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* Anything else: 404. */
static void
other_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "try /metrics, /healthz or /ready");
}

/* Forget a connection; accept again when below the bound. */
static void
conn_free(struct metrics_conn *mc)
{
	struct metrics_server *ms = mc->ms;

	TAILQ_REMOVE(&ms->conns, mc, entry);
	ms->n_conns--;
	event_free(mc->timer);
	if (mc->bev != NULL)
		bufferevent_decref(mc->bev);
	free(mc);
	if (ms->paused && !ms->stopping && ms->n_conns < METRICS_CONNS_MAX) {
		evconnlistener_enable(ms->listener);
		ms->paused = false;
	}
}

/* evhttp is freeing the connection. */
static void
conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_free(arg);
}

/*
 * First run, just after the accept: find evhttp's connection behind the
 * bufferevent (the callbacks' argument evhttp set), or learn that it has
 * gone already (bufferevent_free cleared the callbacks; our reference kept
 * the bufferevent readable).  Second run: the deadline; freeing the
 * connection calls conn_close_cb, which frees mc.
 */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_conn *mc = arg;
	struct timeval tv = { METRICS_TIMEOUT_SEC, 0 };
	void *cbarg = NULL;

	(void)fd;
	(void)what;
	if (mc->evcon != NULL) {
		log_debug("metrics: closing a connection open for %d s",
		    METRICS_TIMEOUT_SEC);
		evhttp_connection_free(mc->evcon);
		return;
	}
	bufferevent_getcb(mc->bev, NULL, NULL, NULL, &cbarg);
	bufferevent_decref(mc->bev);
	mc->bev = NULL;
	if (cbarg == NULL) {
		conn_free(mc);
		return;
	}
	mc->evcon = cbarg;
	evhttp_connection_set_closecb(mc->evcon, conn_close_cb, mc);
	if (mc->refused) {
		evhttp_connection_free(mc->evcon);
		return;
	}
	evtimer_add(mc->timer, &tv);
}

/*
 * evhttp's hook for a new connection's bufferevent: make it, and track
 * the connection.  Returning NULL makes evhttp create one itself, which
 * is then not tracked; only when memory is short.
 */
static struct bufferevent *
conn_bev_cb(struct event_base *base, void *arg)
{
	struct metrics_server *ms = arg;
	struct timeval now = { 0, 0 };
	struct metrics_conn *mc;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	mc = calloc(1, sizeof(*mc));
	if (bev == NULL || mc == NULL)
		goto fail;
	mc->timer = evtimer_new(base, conn_timer_cb, mc);
	if (mc->timer == NULL)
		goto fail;
	bufferevent_incref(bev);
	mc->bev = bev;
	mc->ms = ms;
	TAILQ_INSERT_TAIL(&ms->conns, mc, entry);
	/* the listener may accept a few more in one go: those are closed */
	mc->refused = ++ms->n_conns > METRICS_CONNS_MAX;
	if (ms->n_conns >= METRICS_CONNS_MAX && !ms->paused) {
		evconnlistener_disable(ms->listener);
		ms->paused = true;
	}
	evtimer_add(mc->timer, &now);
	return bev;
fail:
	free(mc);
	return bev;
}

/* Start the endpoint if metrics_port is set. */
int
metrics_start(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;
	struct metrics_server *ms;
	struct evhttp_bound_socket *bound;

	if (cfg->metrics_port == 0)
		return 0;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return -1;
	ms->pw = pw;
	TAILQ_INIT(&ms->conns);
	ms->http = evhttp_new(pw->base);
	if (ms->http == NULL) {
		free(ms);
		return -1;
	}
	pw->metrics = ms;
	evhttp_set_allowed_methods(ms->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(ms->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(ms->http, 0);
	evhttp_set_timeout(ms->http, METRICS_TIMEOUT_SEC);
	evhttp_set_bevcb(ms->http, conn_bev_cb, ms);
	evhttp_set_cb(ms->http, "/metrics", metrics_cb, ms);
	evhttp_set_cb(ms->http, "/healthz", healthz_cb, ms);
	evhttp_set_cb(ms->http, "/ready", ready_cb, ms);
	evhttp_set_gencb(ms->http, other_cb, ms);
	if (pw->metrics_fd_inherited) {
		/* the previous process's socket (online restart) */
		pw->metrics_fd_inherited = false;
		bound = evhttp_accept_socket_with_handle(ms->http,
		    pw->inherited_metrics_fd);
		if (bound == NULL)
			close(pw->inherited_metrics_fd);
	} else {
		bound = evhttp_bind_socket_with_handle(ms->http,
		    cfg->metrics_listen_addr, (ev_uint16_t)cfg->metrics_port);
	}
	if (bound == NULL) {
		log_error("could not listen for metrics on %s:%d",
		    cfg->metrics_listen_addr, cfg->metrics_port);
		metrics_stop(pw);
		return -1;
	}
	ms->listener = evhttp_bound_socket_get_listener(bound);
	log_info("serving Prometheus metrics on http://%s:%d/metrics",
	    cfg->metrics_listen_addr, cfg->metrics_port);
	return 0;
}

/*
 * Open the endpoint's listening socket now, before pgweir drops root and
 * goes to the background: a port below 1024 can be bound, and a port in
 * use fails the start where the shell sees it.  metrics_start takes the
 * socket as it takes one an online restart handed over.
 */
int
metrics_listen_early(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;
	struct evutil_addrinfo hints, *ai = NULL;
	char port[16];
	int fd = -1, one = 1;

	if (cfg->metrics_port == 0 || pw->metrics_fd_inherited)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%d", cfg->metrics_port);
	if (evutil_getaddrinfo(cfg->metrics_listen_addr, port, &hints,
	    &ai) != 0 || ai == NULL) {
		log_fatal("could not listen for metrics on %s:%d: the address "
		    "does not resolve", cfg->metrics_listen_addr,
		    cfg->metrics_port);
		return -1;
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) < 0 ||
	    listen(fd, 128) < 0 || evutil_make_socket_nonblocking(fd) < 0 ||
	    evutil_make_socket_closeonexec(fd) < 0) {
		log_fatal("could not listen for metrics on %s:%d: %s",
		    cfg->metrics_listen_addr, cfg->metrics_port,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		evutil_freeaddrinfo(ai);
		return -1;
	}
	evutil_freeaddrinfo(ai);
	pw->inherited_metrics_fd = fd;
	pw->metrics_fd_inherited = true;
	return 0;
}

/* The endpoint's listening socket (to hand over), or -1. */
int
metrics_listen_fd(const struct pgweir *pw)
{
	if (pw->metrics == NULL || pw->metrics->listener == NULL)
		return -1;
	return evconnlistener_get_fd(pw->metrics->listener);
}

/* Stop the endpoint: evhttp frees its connections, then the rest go. */
void
metrics_stop(struct pgweir *pw)
{
	struct metrics_server *ms = pw->metrics;

	if (ms == NULL)
		return;
	ms->stopping = true;
	evhttp_free(ms->http);
	while (!TAILQ_EMPTY(&ms->conns))
		conn_free(TAILQ_FIRST(&ms->conns));
	free(ms);
	pw->metrics = NULL;
}
