/* SPDX-License-Identifier: ISC */
/*
 * The process's life once it runs: the janitor tick, the stats period,
 * reload and shutdown.  main.c starts things and turns
 * signals into these calls; the admin console calls them for RELOAD,
 * SHUTDOWN and PAUSE.
 */
#include "config.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pgweir/auth.h"
#include "pgweir/authfile.h"
#include "pgweir/authquery.h"
#include "pgweir/authwork.h"
#include "pgweir/certwatch.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/hba.h"
#include "pgweir/ident.h"
#include "pgweir/listener.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/sdnotify.h"
#include "pgweir/server.h"
#include "pgweir/stats.h"
#include "pgweir/tls.h"
#include "pgweir/varcache.h"

/* Whether a shutdown in progress has nothing left to wait for. */
static bool
shutdown_complete(struct pgweir *pw)
{
	struct pool *pool;

	switch (pw->shutdown) {
	case SHUTDOWN_NONE:
		return false;
	case SHUTDOWN_NOW:
		return true;
	case SHUTDOWN_WAIT_CLIENTS:
		return pw->n_clients == 0;
	case SHUTDOWN_WAIT_SERVERS:
		TAILQ_FOREACH(pool, &pw->pools, entry)
			if (pool->n_active_servers > 0 || pool->n_tested > 0)
				return false;
		return true;
	}
	return false;
}

/* After the reaper: a shutdown may have nothing left to wait for. */
void
pgweir_after_reap(struct pgweir *pw)
{
	if (shutdown_complete(pw))
		event_base_loopbreak(pw->base);
}

/* Send systemd a STATUS line with a few live numbers. */
void
pgweir_notify_status(struct pgweir *pw)
{
	int pools = 0, waiting = 0;
	struct pool *pool;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		pools++;
		waiting += pool->n_waiting;
	}
	sdnotify("STATUS=clients: %d, waiting: %d, servers: %d, pools: %d",
	    pw->n_clients, waiting, pw->n_servers, pools);
}

/*
 * During SHUTDOWN WAIT_FOR_SERVERS no server is handed out any more: the
 * clients still waiting for one are told so (at the janitor's next tick,
 * as PgBouncer does; new requests are refused at once in pool_acquire).
 */
static void
shutdown_close_waiting(struct pgweir *pw)
{
	struct pool *pool;
	struct client *c;

	TAILQ_FOREACH(pool, &pw->pools, entry)
		while ((c = TAILQ_FIRST(&pool->waiting_clients)) != NULL)
			client_close_error(c, SQLSTATE_PROTOCOL_VIOLATION,
			    "server shutting down");
}

/* Close the clients that hold no server: idle, waiting, logging in. */
static void
drain_close_unlinked(struct pgweir *pw)
{
	struct pool *pool;
	struct client *c;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client_list *lists[] = { &pool->idle_clients,
			&pool->waiting_clients, &pool->welcome_clients };
		if (pool->db->admin)
			continue;
		for (int i = 0; i < 3; i++)
			while ((c = TAILQ_FIRST(lists[i])) != NULL)
				client_close_error(c, SQLSTATE_ADMIN_SHUTDOWN,
				    DRAIN_MESSAGE);
	}
}

/*
 * A drain (SIGINT; SIGTERM with drain_on_sigterm): stop accepting, /ready
 * turns 503, clients that hold no server are closed now with FATAL 57P01,
 * each other client is closed the same way when its transaction ends
 * (pool_release), and pgweir exits once every server is released.  A
 * session-mode client keeps its server, and works, until it leaves or
 * shutdown_drain_timeout runs out.  A second signal exits at once.
 */
void
pgweir_drain(struct pgweir *pw)
{
	int64_t bound = pw->cfg->shutdown_drain_timeout;

	if (pw->shutdown != SHUTDOWN_NONE) {
		pgweir_shutdown(pw, SHUTDOWN_NOW);
		return;
	}
	pw->draining = true;
	pw->drain_deadline = bound > 0 ? pgweir_mono_usec() + bound : 0;
	log_info("draining: clients without a server are closed now, the "
	    "others when their transaction ends%s", bound > 0 ?
	    "; the rest when shutdown_drain_timeout runs out" : "");
	drain_close_unlinked(pw);
	pgweir_shutdown(pw, SHUTDOWN_WAIT_SERVERS);
}

/* shutdown_drain_timeout ran out: close everyone left, then exit. */
static void
drain_deadline_passed(struct pgweir *pw)
{
	struct pool *pool;
	struct client *c;

	log_info("shutdown_drain_timeout is over: closing the clients left");
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		if (pool->db->admin)
			continue;
		while ((c = TAILQ_FIRST(&pool->active_clients)) != NULL)
			client_close_error(c, SQLSTATE_ADMIN_SHUTDOWN,
			    DRAIN_MESSAGE);
	}
	drain_close_unlinked(pw);
	pgweir_shutdown(pw, SHUTDOWN_NOW);
}

/* Periodic upkeep, once a second. */
void
pgweir_janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgweir *pw = arg;

	(void)fd;
	(void)what;
	if (pw->draining && pw->drain_deadline > 0 &&
	    pgweir_mono_usec() >= pw->drain_deadline) {
		drain_deadline_passed(pw);
		return;
	}
	if (pw->shutdown == SHUTDOWN_WAIT_SERVERS)
		shutdown_close_waiting(pw);
	pool_janitor(pw);
	deadline_sweep(pw);
	for (int i = 0; i < TICK_HOOKS_MAX && pw->tick_hooks[i]; i++)
		pw->tick_hooks[i](pw);
	if (shutdown_complete(pw))
		event_base_loopbreak(pw->base);
}

/* Run fn on every janitor tick (the console's pending commands, ...). */
int
pgweir_add_tick(struct pgweir *pw, void (*fn)(struct pgweir *pw))
{
	for (int i = 0; i < TICK_HOOKS_MAX; i++) {
		if (pw->tick_hooks[i] == NULL) {
			pw->tick_hooks[i] = fn;
			return 0;
		}
	}
	return -1;
}

/* Apply the logging settings of a config and the command line. */
int
pgweir_apply_log_settings(struct pgweir *pw, const struct config *cfg)
{
	struct log_settings ls = {
		.verbose = cfg->verbose > pw->cmd_verbose ? cfg->verbose :
		    pw->cmd_verbose,
		.format = (enum log_format)cfg->log_format,
		.quiet = pw->cmd_quiet,
		.logfile = cfg->logfile,
		.syslog = cfg->syslog,
		.syslog_ident = cfg->syslog_ident,
		.syslog_facility = cfg->syslog_facility,
	};

	return log_configure(&ls);
}

/* Log options that changed but only take effect after a restart. */
static void
warn_restart_needed(const struct config *old, const struct config *cfg)
{
	for (size_t i = 0; i < config_n_options; i++) {
		const struct config_option *o = &config_options[i];
		char a[512], b[512];

		if (o->flags & OPT_RELOAD)
			continue;
		config_format_option(old, o, a, sizeof(a));
		config_format_option(cfg, o, b, sizeof(b));
		if (strcmp(a, b) != 0)
			log_warning("%s changed; the new value takes effect "
			    "after a restart", o->name);
	}
}


/*
 * Load the auth_file, auth_hba_file and auth_ident_file a config names
 * (each that is set), for a start, a reload or --check-config alike.
 * Each failure goes to report(arg, key, error); all are tried, so every
 * problem is told.  Returns the number of failures; on any, out holds
 * nothing.
 */
int
pgweir_load_auth_files(const struct config *cfg, struct auth_files *out,
    auth_files_report_fn report, void *arg)
{
	char err[512];
	int bad = 0;

	memset(out, 0, sizeof(*out));
	if (cfg->auth_file[0] != '\0' && (out->auth = authfile_load(
	    cfg->auth_file, err, sizeof(err))) == NULL && ++bad)
		report(arg, "auth_file", err);
	if (cfg->auth_hba_file[0] != '\0' && (out->hba = hba_load(
	    cfg->auth_hba_file, err, sizeof(err))) == NULL && ++bad)
		report(arg, "auth_hba_file", err);
	if (cfg->auth_ident_file[0] != '\0' && (out->ident = ident_load(
	    cfg->auth_ident_file, err, sizeof(err))) == NULL && ++bad)
		report(arg, "auth_ident_file", err);
	if (bad > 0)
		pgweir_free_auth_files(out);
	return bad;
}

void
pgweir_free_auth_files(struct auth_files *f)
{
	authfile_free(f->auth);
	hba_free(f->hba);
	ident_free(f->ident);
	memset(f, 0, sizeof(*f));
}

/* A file that does not load on reload: the running ones stay. */
static void
report_reload(void *arg, const char *key, const char *err)
{
	(void)arg;
	log_error("reload failed, keeping the running configuration: %s: %s",
	    key, err);
}

static void pgweir_install_config(struct pgweir *pw, struct config *cfg,
    struct tls_contexts *tls);

/*
 * Reload: parse the file (and auth_file) into new objects, and only if all
 * of it is good, swap them in.  A bad file changes nothing.
 */
int
pgweir_reload(struct pgweir *pw)
{
	struct config_error err;
	struct config *cfg;
	struct auth_files files;
	struct tls_contexts tls;
	const char *path = pw->cfg->conffile[0] ? pw->cfg->conffile :
	    pw->config_path;
	char aerr[512];

	log_info("reloading configuration from %s", path);
	cfg = config_load(path, &err);
	if (cfg == NULL) {
		log_error("reload failed, keeping the running configuration: "
		    "%s", err.msg);
		return -1;
	}
	if (pgweir_load_auth_files(cfg, &files, report_reload, NULL) > 0) {
		config_unref(cfg);
		return -1;
	}
	/* certificates are re-read at every reload, for new connections */
	if (tls_build(cfg, &tls, aerr, sizeof(aerr)) < 0) {
		log_error("reload failed, keeping the running configuration "
		    "and certificates: %s", aerr);
		goto fail;
	}
	if (pgweir_apply_log_settings(pw, cfg) < 0) {
		log_error("reload failed, keeping the running configuration: "
		    "cannot open logfile");
		tls_free(&tls);
		goto fail;
	}
	warn_restart_needed(pw->cfg, cfg);
	pgweir_install_config(pw, cfg, &tls);
	authfile_free(pw->auth);
	pw->auth = files.auth;
	hba_free(pw->hba);
	pw->hba = files.hba;
	ident_free(pw->ident);
	pw->ident = files.ident;
	log_info("configuration reloaded");
	return 0;
fail:
	pgweir_free_auth_files(&files);
	config_unref(cfg);
	return -1;
}

/* Start a graceful or immediate shutdown. */
void
pgweir_shutdown(struct pgweir *pw, enum shutdown_mode mode)
{
	struct database *db;

	if (pw->shutdown != SHUTDOWN_NONE || mode == SHUTDOWN_NOW) {
		log_info("exiting now");
		pw->shutdown = SHUTDOWN_NOW;
		event_base_loopbreak(pw->base);
		return;
	}
	pw->shutdown = mode;
	sdnotify("STOPPING=1");
	listener_close_tcp(pw);
	if (mode == SHUTDOWN_WAIT_CLIENTS) {
		log_info("shutting down: no new connections; exiting when the "
		    "last client has left (%d now)", pw->n_clients);
	} else {
		log_info("shutting down: no new connections; exiting when "
		    "every server is released");
		TAILQ_FOREACH(db, &pw->databases, entry)
			db->paused = true;
	}
	if (shutdown_complete(pw))
		event_base_loopbreak(pw->base);
}


/* Per second, over a period of secs seconds. */
static unsigned long long
per_sec(uint64_t n, double secs)
{
	return (unsigned long long)((double)n / secs + 0.5);
}

/* Average of a time total over a count, in microseconds. */
static unsigned long long
per_item(uint64_t total, uint64_t count)
{
	return count ? (unsigned long long)(total / count) : 0;
}

/*
 * A stats period ended: every pool keeps the period's deltas and
 * histograms (SHOW STATS averages, SHOW LATENCY), and the totals go to the
 * log (log_stats) and to systemd's STATUS line.
 */
void
pgweir_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgweir *pw = arg;
	struct stats_counters sum;
	double secs = (double)pw->cfg->stats_period / 1e6;
	struct pool *pool;
	char line[512];

	(void)fd;
	(void)what;
	memset(&sum, 0, sizeof(sum));
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		stats_period_end(pool->stats);
		stats_add(&sum, &pool->stats->last);
	}
	snprintf(line, sizeof(line), "%llu xacts/s, %llu queries/s, %llu "
	    "client parses/s, %llu server parses/s, %llu binds/s, %llu "
	    "client logins/s, in %llu B/s, out %llu B/s, xact %llu us, "
	    "query %llu us, wait %llu us",
	    per_sec(sum.xact_count, secs), per_sec(sum.query_count, secs),
	    per_sec(sum.client_parse_count, secs),
	    per_sec(sum.server_parse_count, secs),
	    per_sec(sum.bind_count, secs),
	    per_sec(sum.client_login_count, secs),
	    per_sec(sum.bytes_received, secs), per_sec(sum.bytes_sent, secs),
	    per_item(sum.xact_time, sum.xact_count),
	    per_item(sum.query_time, sum.query_count),
	    per_item(sum.wait_time, sum.server_assignment_count));
	if (pw->cfg->log_stats)
		log_info("stats: %s", line);
	sdnotify("STATUS=stats: %s; clients: %d, servers: %d", line,
	    pw->n_clients, pw->n_servers);
}

/* (Re)arm the stats period timer with the configured period. */
void
pgweir_stats_arm(struct pgweir *pw)
{
	struct timeval tv = { (time_t)(pw->cfg->stats_period / 1000000),
		(suseconds_t)(pw->cfg->stats_period % 1000000) };

	if (event_initialized(&pw->stats_ev))
		event_del(&pw->stats_ev);
	event_assign(&pw->stats_ev, pw->base, -1, EV_PERSIST, pgweir_stats_cb,
	    pw);
	event_add(&pw->stats_ev, &tv);
}

/*
 * Put a new, valid config in place (the caller's reference moves to pw),
 * with the TLS contexts built from it, or, with tls NULL, keeping the
 * contexts in force.  When the server-side TLS settings change, every
 * server connection retires: turning TLS on (or stricter) must not leave
 * old plaintext or weaker connections in use.  Used by reload and by SET.
 */
static void
pgweir_install_config(struct pgweir *pw, struct config *cfg,
    struct tls_contexts *tls)
{
	pool_reload(pw, cfg);
	if (tls != NULL && !tls_same_server_settings(pw->tls.cfg, tls->cfg)) {
		log_info("server TLS settings changed: server connections "
		    "are replaced as they are released");
		pool_retire_servers(pw, NULL,
		    "database configuration changed");
	}
	config_unref(pw->cfg);
	pw->cfg = cfg;
	pw->timeouts_active = deadline_timeouts_in_use(cfg);
	if (tls != NULL) {
		tls_free(&pw->tls);
		pw->tls = *tls;
		certwatch_reset(pw);
	}
	authquery_flush_cache(pw->authquery);
	authquery_set_cache_ttl(pw->authquery, cfg->auth_query_cache_ttl);
	listener_retune(pw);
	pgweir_stats_arm(pw);
}

/*
 * SET key = value from the admin console: a copy of the running config
 * with one reloadable option changed, validated and installed.  The next
 * RELOAD reads the file again and replaces it.
 *
 * TLS keys are set one at a time, so a rotation passes through states
 * that do not work yet (a new key with the old certificate; verify-full
 * before its CA file).  Such a SET is accepted, as PgBouncer accepts it:
 * the value is kept, the TLS contexts in force stay, and notice says why;
 * the SET that completes the settings puts them in force.  Other keys
 * leave the TLS contexts alone.
 */
int
pgweir_set_option(struct pgweir *pw, const char *name, const char *value,
    char *err, size_t errlen, char *notice, size_t noticelen)
{
	const struct config_option *opt = config_find_option(name);
	struct config_error cerr = { .msg = "" };
	struct tls_contexts tls;
	struct config *cfg;
	bool tls_key;
	char msg[384];

	if (opt == NULL) {
		snprintf(err, errlen, "unknown setting \"%s\"", name);
		return -1;
	}
	if (!(opt->flags & OPT_RELOAD)) {
		snprintf(err, errlen, "%s cannot be changed at runtime (it "
		    "takes effect after a restart)", opt->name);
		return -1;
	}
	cfg = config_clone(pw->cfg);
	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (config_set_option(cfg, opt, value, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", opt->name, msg);
		config_unref(cfg);
		return -1;
	}
	if (config_validate(cfg, &cerr, "SET") < 0) {
		snprintf(err, errlen, "%s", cerr.msg);
		config_unref(cfg);
		return -1;
	}
	notice[0] = '\0';
	tls_key = tls_is_option(opt->name);
	if (tls_key && tls_build(cfg, &tls, msg, sizeof(msg)) < 0) {
		snprintf(notice, noticelen, "TLS settings could not be "
		    "applied, still using old configuration: %s", msg);
		tls_key = false;
	}
	if (pgweir_apply_log_settings(pw, cfg) < 0) {
		snprintf(err, errlen, "cannot open the log file");
		if (tls_key)
			tls_free(&tls);
		config_unref(cfg);
		return -1;
	}
	pgweir_install_config(pw, cfg, tls_key ? &tls : NULL);
	log_info("%s set to \"%s\" from the admin console", opt->name,
	    (opt->flags & OPT_SENSITIVE) ? "********" : value);
	if (notice[0] != '\0')
		log_warning("%s", notice);
	return 0;
}

/*
 * Close every client and server, in the pools and still logging in, for
 * one reason; the reaper frees them.  The exit paths of main() and the
 * simulator's reset between inputs share it.
 */
void
pgweir_close_all(struct pgweir *pw, const char *reason)
{
	struct pool *pool;
	struct client *c;
	struct server *s;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client_list *cl[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };
		for (size_t i = 0; i < 4; i++)
			while ((c = TAILQ_FIRST(cl[i])) != NULL)
				client_close(c, reason);
		while ((s = TAILQ_FIRST(&pool->idle_servers)) ||
		    (s = TAILQ_FIRST(&pool->connecting_servers)) ||
		    (s = TAILQ_FIRST(&pool->tested_servers)) ||
		    (s = TAILQ_FIRST(&pool->active_servers)))
			server_close(s, reason);
	}
	while ((c = TAILQ_FIRST(&pw->login_clients)) != NULL)
		client_close(c, reason);
}

/*
 * Free the pools, databases and users and the cancel requests in flight,
 * once every connection is closed and reaped: the part of the runtime
 * that clients create.  The simulator resets with it between inputs.
 */
void
pgweir_free_pools(struct pgweir *pw)
{
	cancel_free_all(pw);
	pool_free_all(pw);
}

/*
 * An empty runtime: no config yet, every list empty, no descriptor.
 * main() and the simulator of test/sim/ start from it.
 */
void
pgweir_runtime_clear(struct pgweir *pw)
{
	memset(pw, 0, sizeof(*pw));
	TAILQ_INIT(&pw->databases);
	TAILQ_INIT(&pw->users);
	TAILQ_INIT(&pw->pools);
	TAILQ_INIT(&pw->login_clients);
	TAILQ_INIT(&pw->dead_clients);
	TAILQ_INIT(&pw->dead_servers);
	TAILQ_INIT(&pw->cancels);
	pw->spare_fd = -1;
	pw->inherited_metrics_fd = -1;
}

/*
 * What every runtime needs once pw->cfg is set, built the same way for
 * main() and the simulator: the statement registry, the tracked
 * parameters, the event loop, auth_query's state, the reaper (given the
 * core's free functions) and the login handler.  Listening, signals, the
 * console and /metrics are each caller's.  0, or -1 with the reason in
 * err; pgweir_free_runtime() frees what was built.
 */
int
pgweir_runtime_init(struct pgweir *pw, char *err, size_t errlen)
{
	const char *why = "out of memory";

	pw->timeouts_active = deadline_timeouts_in_use(pw->cfg);
	if (prepared_init(pw) < 0)
		goto fail;
	if (varcache_init(&pw->vars, pw->cfg->track_extra_parameters) < 0) {
		why = "track_extra_parameters: too many parameters";
		goto fail;
	}
	pw->base = event_base_new();
	if (pw->base == NULL) {
		why = "could not create the event loop";
		goto fail;
	}
	pw->authquery = authquery_new(pw->base);
	if (pw->authquery == NULL)
		goto fail;
	authquery_set_cache_ttl(pw->authquery, pw->cfg->auth_query_cache_ttl);
	pgweir_reaper_init(pw, client_free, server_free);
	auth_register(pw);
	return 0;
fail:
	snprintf(err, errlen, "%s", why);
	return -1;
}

/*
 * Free what pgweir built at run time, once every connection is closed and
 * reaped: pools, databases, users, the cancel requests in flight, the
 * auth_query connections, the buffer cache, the cancel-key slots, the auth
 * and TLS state, the statement registry, the parameter sets.  Before the
 * event loop is freed; the exit paths of main() and of the simulator
 * share it.
 */
void
pgweir_free_runtime(struct pgweir *pw)
{
	pgweir_free_pools(pw);
	authquery_free(pw->authquery);
	pw->authquery = NULL;
	iobuf_cache_fini(&pw->iobufs);
	slots_free(&pw->slots);
	hba_free(pw->hba);
	pw->hba = NULL;
	ident_free(pw->ident);
	pw->ident = NULL;
	authwork_free(pw->authwork);
	pw->authwork = NULL;
	hba_free(pw->ldap_rule);
	pw->ldap_rule = NULL;
	tls_free(&pw->tls);
	authfile_free(pw->auth);
	pw->auth = NULL;
	prepared_fini(pw);
	varcache_fini(&pw->vars);
}
