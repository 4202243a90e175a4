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
 * exact, not interpolated.
 */
#include "config.h"

#include <dirent.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/metrics.h"
#include "pgweir/pool.h"
#include "pgweir/stats.h"

/* Smallest and largest bucket edge, as powers of two microseconds. */
#define EDGE_MIN_EXP 4
#define EDGE_MAX_EXP 25

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

/* The per-database counters, summed over the database's pools. */
static void
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
	struct database *db;

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		header(out, counters[i].name, "counter", counters[i].help);
		TAILQ_FOREACH(db, &pw->databases, entry) {
			struct stats_counters sum;
			struct pool *pool;
			uint64_t v;
			/* pools freed while idle left their counts here */
			sum = db->retired;
			TAILQ_FOREACH(pool, &pw->pools, entry)
				if (pool->db == db)
					stats_add(&sum, &pool->stats->total);
			memcpy(&v, (const char *)&sum + counters[i].offset,
			    sizeof(v));
			sample(out, counters[i].name, NULL, db->name, NULL,
			    (double)v * counters[i].scale);
		}
	}
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
	render_databases(pw, out);
	render_histogram(pw, out, "pgweir_pool_wait_seconds", LAT_WAIT,
	    "Time clients waited for a server (immediate links count 0).");
	render_histogram(pw, out, "pgweir_pool_query_seconds", LAT_QUERY,
	    "Time from a request to its ReadyForQuery.");
	render_histogram(pw, out, "pgweir_pool_transaction_seconds", LAT_XACT,
	    "Time from a transaction's first request to its end.");
	return 0;
}

/* GET /metrics. */
static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct pgweir *pw = arg;
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "only GET");
		evbuffer_free(out);
		return;
	}
	metrics_render(pw, out);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* Anything else: 404. */
static void
other_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "try /metrics");
}

/* Start the endpoint if metrics_port is set. */
int
metrics_start(struct pgweir *pw)
{
	const struct config *cfg = pw->cfg;

	if (cfg->metrics_port == 0)
		return 0;
	pw->http = evhttp_new(pw->base);
	if (pw->http == NULL)
		return -1;
	evhttp_set_allowed_methods(pw->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(pw->http, 10);
	evhttp_set_cb(pw->http, "/metrics", metrics_cb, pw);
	evhttp_set_gencb(pw->http, other_cb, pw);
	if (evhttp_bind_socket(pw->http, cfg->metrics_listen_addr,
	    (ev_uint16_t)cfg->metrics_port) < 0) {
		log_error("could not listen for metrics on %s:%d",
		    cfg->metrics_listen_addr, cfg->metrics_port);
		evhttp_free(pw->http);
		pw->http = NULL;
		return -1;
	}
	log_info("serving Prometheus metrics on http://%s:%d/metrics",
	    cfg->metrics_listen_addr, cfg->metrics_port);
	return 0;
}

/* Stop the endpoint. */
void
metrics_stop(struct pgweir *pw)
{
	if (pw->http != NULL) {
		evhttp_free(pw->http);
		pw->http = NULL;
	}
}
