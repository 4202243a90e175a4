/* SPDX-License-Identifier: ISC */
/*
 * The admin console: a virtual database ("pgweir", and "pgbouncer" and any
 * other name in admin_db_aliases) that people reach with psql and that
 * monitoring reads.  A console client is an ordinary client of a pool
 * with no servers; this file answers its requests itself.
 *
 * Rights: admin_users may run everything, stats_users the SHOW commands
 * (but SHOW FDS); over the unix socket, a peer running as pgweir's own
 * account is an admin without a password.  Both the simple and the
 * extended query protocol work (PgBouncer takes only the simple one,
 * which locks out drivers that always use the extended one).  Bad input
 * gets an ErrorResponse and the console stays usable.  PAUSE, SUSPEND and
 * WAIT_CLOSE answer only once their condition holds; admin_check_pending()
 * runs on the janitor tick.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgweir/admin.h"
#include "pgweir/adminshow.h"
#include "pgweir/sockopt.h"
#include "pgweir/takeover.h"
#include "pgweir/cancel.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"

#define CMD_MAX 4096		/* longest console command */
#define MSG_MAX (1024 * 1024)	/* longer messages close the connection */
#define WORDS_MAX 4
#define WORD_LEN 256
#define STMTS_MAX 16		/* named statements per console client */

/* A command that answers later. */
enum admin_pending {
	PEND_NONE,
	PEND_PAUSE,
	PEND_SUSPEND,
	PEND_WAIT_CLOSE,
};

/* One prepared statement of the extended protocol. */
struct admin_stmt {
	char *name;		/* "" for the unnamed one; owned */
	char *query;		/* owned */
};

/* A console client's session. */
struct admin_session {
	enum admin_rights rights;
	enum admin_pending pending;
	struct database *target;	/* PAUSE/WAIT_CLOSE db, NULL: all */
	bool pending_simple;		/* the answer ends with ReadyForQuery */
	bool discard_until_sync;	/* extended protocol after an error */
	bool in_extended;	/* an extended batch is being answered */
	int64_t deadline;		/* SUSPEND gives up after this */
	struct admin_stmt stmts[STMTS_MAX];
	char *portal;			/* the bound portal's query; owned */
};

/* A parsed command: words, or SET key = value. */
struct admin_cmd {
	char word[WORDS_MAX][WORD_LEN];
	int nwords;
	bool is_set;
	char value[1024];
};

/* Whether a database name is the console's. */
static bool
admin_is_console(const struct pgweir *pw, const char *dbname)
{
	return strcmp(dbname, "pgweir") == 0 ||
	    config_list_contains(pw->cfg->admin_db_aliases, dbname);
}

/* The rights of a console client. */
static enum admin_rights
admin_rights_of(const struct client *client)
{
	return client->admin ? client->admin->rights : ADMIN_NONE;
}

/* Whether a console client may do everything (beyond the client caps). */
static bool
admin_all_rights(const struct client *client)
{
	return admin_rights_of(client) == ADMIN_ALL;
}

/* Whether a unix-socket peer runs as pgweir's own account. */
static bool
admin_peer_is_self(const struct client *client)
{
	return sockopt_peer_is_self(client->io.fd, client->addr.family);
}

/*
 * After authentication: what a console login may do.  Rights are decided
 * only once the client has proven who it is, so that an unauthenticated
 * client cannot learn who may use the console (everyone is asked for a
 * password alike).  Returns 0, or -1 when the login is refused (the
 * client is closed).
 */
static int
admin_authorize(struct client *client, const char *user, bool self)
{
	const struct config *cfg = client->pw->cfg;
	struct admin_session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		client_close(client, "out of memory");
		return -1;
	}
	client->admin = s;
	if (self)
		s->rights = ADMIN_ALL;
	else if (config_list_contains(cfg->admin_users, user))
		s->rights = ADMIN_ALL;
	else if (config_list_contains(cfg->stats_users, user))
		s->rights = ADMIN_STATS;
	if (s->rights == ADMIN_NONE) {
		client_close_error(client, SQLSTATE_INSUFFICIENT_PRIVILEGE,
		    "not allowed to connect to the admin console (the user "
		    "is in neither admin_users nor stats_users)");
		return -1;
	}
	return 0;
}

/*
 * Count a console request in the console pool's stats, as PgBouncer does:
 * one transaction and one query per simple Query or extended batch (its
 * first message; Sync ends it).  SHOW TOTALS counts itself.
 */
static void
admin_count_request(struct client *client, uint8_t type)
{
	struct stats_counters *t = &client->pool->stats->total;

	if (type == PQMSG_SYNC || type == PQMSG_FLUSH ||
	    type == PQMSG_TERMINATE || client->admin->in_extended)
		return;
	t->xact_count++;
	t->query_count++;
}

/* Free a console client's session (when it closes). */
static void
admin_client_closed(struct client *client)
{
	struct admin_session *s = client->admin;

	if (s == NULL)
		return;
	if (takeover_is_channel(client))
		takeover_channel_closed(client->pw);
	for (int i = 0; i < STMTS_MAX; i++) {
		free(s->stmts[i].name);
		free(s->stmts[i].query);
	}
	free(s->portal);
	free(s);
	client->admin = NULL;
}

/* The console's login reply: parameters a driver looks at, then ready. */
static void
admin_login(struct client *client)
{
	static const struct {
		const char *name;
		const char *value;
	} params[] = {
		{ "server_version", PACKAGE_VERSION "/pgweir" },
		{ "server_encoding", "UTF8" },
		{ "client_encoding", "UTF8" },
		{ "DateStyle", "ISO" },
		{ "TimeZone", "GMT" },
		{ "IntervalStyle", "postgres" },
		{ "integer_datetimes", "on" },
		{ "standard_conforming_strings", "on" },
		{ "is_superuser", "on" },
		{ "application_name", "" },
	};
	struct evbuffer *out = client->io.out;

	proto_build_auth(out, PQAUTH_OK, NULL, 0);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		proto_build_parameter_status(out, params[i].name,
		    params[i].value);
	proto_build_backend_key_data(out, cancel_pid_encode(
	    client->pw->cfg->peer_id, client->slot), client->cancel_key);
	proto_build_ready_for_query(out, 'I');
	client->pool->stats->total.client_login_count++;
	client_set_state(client, CL_IDLE);
	client_log(client, LOG_LVL_LOG, "admin console login (%s)",
	    client->admin->rights == ADMIN_ALL ? "admin" : "stats");
	if (client_flush(client) == 0 && io_in_pending(&client->io) > 0)
		/* a command sent right behind the startup packet */
		admin_handle_input(client);
}

static const struct console_ops console_ops = {
	.is_console = admin_is_console,
	.authorize = admin_authorize,
	.all_rights = admin_all_rights,
	.login = admin_login,
	.input = admin_handle_input,
	.closed = admin_client_closed,
};

/*
 * Make the console reachable: its databases, its login and input, and
 * its pending commands (PAUSE, SUSPEND, WAIT_CLOSE) on every tick.
 */
int
admin_register(struct pgweir *pw)
{
	pw->console = &console_ops;
	return pgweir_add_tick(pw, admin_check_pending);
}

/* Send an ErrorResponse; in the extended protocol, skip to Sync. */
static void
admin_error(struct client *client, const char *sqlstate, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
admin_error(struct client *client, const char *sqlstate, const char *fmt,
    ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	proto_build_error(client->io.out, "ERROR", sqlstate, msg, NULL);
	if (client->admin->in_extended)
		client->admin->discard_until_sync = true;
}

/* Read one word: [A-Za-z0-9_.-]+ or "quoted"; returns chars used, -1. */
static int
read_word(const char *p, char *out, size_t outlen, bool lower)
{
	size_t n = 0;
	const char *s = p;

	if (*s == '"') {
		s++;
		while (*s && *s != '"') {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *s++;
		}
		if (*s != '"' || n == 0)
			return -1;
		s++;
	} else {
		while (isalnum((unsigned char)*s) || *s == '_' || *s == '.' ||
		    *s == '-' || *s == '*') {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = lower ? (char)tolower((unsigned char)*s) :
			    *s;
			s++;
		}
		if (n == 0)
			return -1;
	}
	out[n] = '\0';
	return (int)(s - p);
}

/* Skip blanks. */
static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/*
 * Parse one command: up to four words ("SHOW POOLS", "KILL_CLIENT 12"), or
 * SET key = value / SET key TO value where value is a word, a number or a
 * 'string' ('' for a quote).  Returns 0, or -1 on a syntax error.
 */
static int
parse_command(const char *text, struct admin_cmd *cmd)
{
	const char *p = skip_space(text);
	int n;

	memset(cmd, 0, sizeof(*cmd));
	n = read_word(p, cmd->word[0], WORD_LEN, true);
	if (n < 0)
		return -1;
	p = skip_space(p + n);
	cmd->nwords = 1;
	if (strcmp(cmd->word[0], "set") == 0) {
		size_t o = 0;
		cmd->is_set = true;
		n = read_word(p, cmd->word[1], WORD_LEN, true);
		if (n < 0)
			return -1;
		cmd->nwords = 2;
		p = skip_space(p + n);
		if (*p == '=')
			p = skip_space(p + 1);
		else if (strncasecmp(p, "to", 2) == 0 &&
		    (p[2] == ' ' || p[2] == '\t'))
			p = skip_space(p + 2);
		else
			return -1;
		if (*p == '\'') {
			for (p++;; p++) {
				if (*p == '\0')
					return -1;
				if (*p == '\'') {
					if (p[1] != '\'')
						break;
					p++;
				}
				if (o + 1 >= sizeof(cmd->value))
					return -1;
				cmd->value[o++] = *p;
			}
			p++;
		} else {
			n = read_word(p, cmd->value, sizeof(cmd->value),
			    false);
			if (n < 0)
				return -1;
			p += n;
			o = strlen(cmd->value);
		}
		cmd->value[o] = '\0';
		p = skip_space(p);
		return *p == '\0' ? 0 : -1;
	}
	while (*p != '\0') {
		if (cmd->nwords == WORDS_MAX)
			return -1;
		n = read_word(p, cmd->word[cmd->nwords], WORD_LEN, false);
		if (n < 0)
			return -1;
		cmd->nwords++;
		p = skip_space(p + n);
	}
	return 0;
}

/* A single-column, single-row result (SHOW of a parameter, SELECT 1). */
static void
one_value(struct client *client, struct admin_out *o, const char *column,
    const char *value, const char *tag)
{
	const struct admin_column col = { column, 's' };

	if (o->rowdesc)
		admin_write_columns(o->out, &col, 1);
	if (o->rows) {
		proto_build_data_row(o->out, &value, 1);
		proto_build_command_complete(o->out, tag);
	}
	(void)client;
}

/* Parameters drivers SHOW or SET on connect, and what we answer. */
static const struct {
	const char *name;
	const char *value;
} fake_params[] = {
	{ "client_encoding", "UTF8" },
	{ "server_encoding", "UTF8" },
	{ "server_version", PACKAGE_VERSION "/pgweir" },
	{ "server_version_num", "150000" },
	{ "standard_conforming_strings", "on" },
	{ "datestyle", "ISO" },
	{ "timezone", "GMT" },
	{ "intervalstyle", "postgres" },
	{ "application_name", "" },
	{ "is_superuser", "on" },
	{ "integer_datetimes", "on" },
	{ "transaction_isolation", "read committed" },
	{ "default_transaction_isolation", "read committed" },
	{ "transaction_read_only", "off" },
	{ "max_identifier_length", "63" },
	{ "extra_float_digits", "3" },
	{ "search_path", "" },
	{ "statement_timeout", "0" },
	{ "lock_timeout", "0" },
	{ "idle_in_transaction_session_timeout", "0" },
	{ "bytea_output", "hex" },
	{ "jit", "off" },
};

/* The canned value of a driver parameter, or NULL. */
static const char *
fake_param(const char *name)
{
	for (size_t i = 0; i < sizeof(fake_params) / sizeof(fake_params[0]);
	    i++)
		if (strcasecmp(fake_params[i].name, name) == 0)
			return fake_params[i].value;
	return NULL;
}

/* The database a command names (or NULL = all); false if unknown. */
static bool
target_db(struct client *client, const struct admin_cmd *cmd,
    struct database **db)
{
	struct database *d;

	*db = NULL;
	if (cmd->nwords < 2)
		return true;
	/* a name only the "*" entry would make is not a target */
	TAILQ_FOREACH(d, &client->pw->databases, entry)
		if (!d->removed && strcmp(d->name, cmd->word[1]) == 0)
			*db = d;
	if (*db == NULL && config_find_db(client->pw->cfg, cmd->word[1]))
		*db = pool_find_database(client->pw, cmd->word[1]);
	if (*db == NULL || (*db)->admin) {
		/* PgBouncer's SQLSTATE for a console command's bad target */
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION, "no such "
		    "database: %s", cmd->word[1]);
		return false;
	}
	return true;
}

/* Whether a database is in a command's scope (never the console). */
static bool
in_scope(const struct database *db, const struct database *target)
{
	return !db->admin && (target == NULL || db == target);
}

/* Close every client and server of the databases in scope (KILL). */
static void
kill_databases(struct pgweir *pw, struct database *target)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client *c;
		struct server *s;
		struct client_list *cl[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };

		if (!in_scope(pool->db, target))
			continue;
		for (int i = 0; i < 4; i++)
			while ((c = TAILQ_FIRST(cl[i])) != NULL)
				client_close_error(c, SQLSTATE_ADMIN_SHUTDOWN,
				    "terminating connection due to "
				    "administrator command (KILL)");
		while ((s = TAILQ_FIRST(&pool->idle_servers)) ||
		    (s = TAILQ_FIRST(&pool->tested_servers)) ||
		    (s = TAILQ_FIRST(&pool->connecting_servers)) ||
		    (s = TAILQ_FIRST(&pool->active_servers)))
			server_close(s, "KILL from the admin console");
	}
}

/* RECONNECT: every server of the scope closes once it is free. */
static void
reconnect_databases(struct pgweir *pw, struct database *target)
{
	pool_retire_servers(pw, target, "RECONNECT from the admin console");
}

/* Whether a pending command's condition holds now. */
static bool
pending_done(struct pgweir *pw, struct admin_session *s)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct server *sv;

		if (s->pending == PEND_SUSPEND) {
			struct client *c;
			TAILQ_FOREACH(c, &pool->active_clients, entry)
				if (io_out_pending(&c->io) > 0)
					return false;
			TAILQ_FOREACH(sv, &pool->active_servers, entry)
				if (io_out_pending(&sv->io) > 0)
					return false;
			continue;
		}
		if (!in_scope(pool->db, s->target))
			continue;
		if (s->pending == PEND_PAUSE && (pool->n_active_servers > 0 ||
		    pool->n_tested > 0))
			return false;
		if (s->pending == PEND_WAIT_CLOSE) {
			const struct server_list *lists[] = {
				&pool->active_servers, &pool->tested_servers,
				&pool->connecting_servers,
				&pool->idle_servers };
			for (int i = 0; i < 4; i++)
				TAILQ_FOREACH(sv, lists[i], entry)
					if (sv->close_needed)
						return false;
		}
	}
	return true;
}

/*
 * The command finished (or gave up): answer it.  later: the answer comes
 * after the command's turn, so a simple Query's ReadyForQuery is ours to
 * send too.
 */
static void
pending_finish(struct client *client, bool later)
{
	struct admin_session *s = client->admin;
	struct pgweir *pw = client->pw;
	struct pool *pool;
	static const char *const tags[] = { "", "PAUSE", "SUSPEND",
		"WAIT_CLOSE" };

	if (s->pending == PEND_PAUSE) {
		/* a paused pool keeps no servers: PostgreSQL may restart */
		TAILQ_FOREACH(pool, &pw->pools, entry) {
			struct server *sv, *next;
			if (!in_scope(pool->db, s->target))
				continue;
			TAILQ_FOREACH_SAFE(sv, &pool->idle_servers, entry,
			    next)
				server_close(sv, "PAUSE");
		}
	}
	proto_build_command_complete(client->io.out, tags[s->pending]);
	if (later && s->pending_simple)
		proto_build_ready_for_query(client->io.out, 'I');
	s->pending = PEND_NONE;
	client_flush(client);
}

/* Answer the console commands whose condition now holds. */
void
admin_check_pending(struct pgweir *pw)
{
	struct pool *pool;
	int64_t now = pgweir_mono_usec();

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client *c, *next;

		if (!pool->db->admin)
			continue;
		TAILQ_FOREACH_SAFE(c, &pool->idle_clients, entry, next) {
			struct admin_session *s = c->admin;
			if (s == NULL || s->pending == PEND_NONE)
				continue;
			if (pending_done(pw, s) || (s->pending ==
			    PEND_SUSPEND && now >= s->deadline)) {
				pending_finish(c, true);
				if (c->state != CL_CLOSED &&
				    io_in_pending(&c->io) > 0)
					admin_handle_input(c);
			}
		}
	}
}

/* Stop or resume reading every pooled connection (SUSPEND / RESUME). */
static void
suspend_all(struct pgweir *pw, bool on)
{
	struct pool *pool;

	pw->suspended = on;
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client *c;
		struct server *sv;
		struct client_list *cl[] = { &pool->idle_clients,
			&pool->waiting_clients, &pool->active_clients };
		const struct server_list *sl[] = { &pool->active_servers,
			&pool->idle_servers, &pool->tested_servers };

		if (pool->db->admin)
			continue;
		for (int i = 0; i < 3; i++)
			TAILQ_FOREACH(c, cl[i], entry)
				if (!c->read_paused)
					io_set_read(&c->io, !on);
		for (int i = 0; i < 3; i++)
			TAILQ_FOREACH(sv, sl[i], entry)
				if (!sv->read_paused)
					io_set_read(&sv->io, !on);
	}
}

/*
 * Pause every database (SIGUSR1): no new transaction starts; idle servers
 * close now and busy ones when released, as after PAUSE.
 */
void
admin_pause_all(struct pgweir *pw)
{
	struct database *d;
	struct pool *pool;

	TAILQ_FOREACH(d, &pw->databases, entry)
		if (in_scope(d, NULL))
			d->paused = true;
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct server *sv, *next;
		if (!in_scope(pool->db, NULL))
			continue;
		TAILQ_FOREACH_SAFE(sv, &pool->idle_servers, entry, next)
			server_close(sv, "PAUSE");
	}
}

/*
 * Undo PAUSE, KILL and SUSPEND for one database or all (RESUME, SIGUSR2);
 * waiting clients go on.  -1 during a shutdown: its pause must hold.
 */
int
admin_resume(struct pgweir *pw, struct database *target)
{
	struct database *d;
	struct pool *pool;

	if (pw->shutdown != SHUTDOWN_NONE)
		return -1;
	if (pw->suspended)
		suspend_all(pw, false);
	TAILQ_FOREACH(d, &pw->databases, entry)
		if (in_scope(d, target))
			d->paused = false;
	TAILQ_FOREACH(pool, &pw->pools, entry)
		if (in_scope(pool->db, target))
			pool_dispatch(pool);
	return 0;
}

/* Find a client by its id (SHOW CLIENTS' id column). */
static struct client *
find_client(struct pgweir *pw, uint64_t id)
{
	struct pool *pool;
	struct client *c;

	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client_list *cl[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };
		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(c, cl[i], entry)
				if (c->id == id)
					return c;
	}
	TAILQ_FOREACH(c, &pw->login_clients, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/* SHOW HELP: the command list as a NOTICE. */
static void
show_help(struct client *client, struct admin_out *o)
{
	static const char help[] =
	    "Console usage\n"
	    "\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION\n"
	    "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS|LATENCY\n"
	    "\tSHOW LISTS|MEM|STATE|SOCKETS|ACTIVE_SOCKETS|FDS|DNS_HOSTS\n"
	    "\tSHOW HOSTS\n"
	    "\tSET key = arg\n"
	    "\tRELOAD\n"
	    "\tPAUSE [<db>]\n"
	    "\tRESUME [<db>]\n"
	    "\tDISABLE <db>\n"
	    "\tENABLE <db>\n"
	    "\tRECONNECT [<db>]\n"
	    "\tKILL [<db>]\n"
	    "\tKILL_CLIENT <id>\n"
	    "\tSUSPEND\n"
	    "\tSHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]\n"
	    "\tWAIT_CLOSE [<db>]";

	if (o->rows) {
		proto_build_notice(o->out, "00000", help);
		proto_build_command_complete(o->out, "SHOW");
	}
	(void)client;
}

/* Whether the client may run a command that changes things. */
static bool
need_admin(struct client *client)
{
	if (client->admin->rights == ADMIN_ALL)
		return true;
	admin_error(client, SQLSTATE_INSUFFICIENT_PRIVILEGE, "admin access "
	    "needed (the user is only in stats_users)");
	return false;
}

/* A SHOW (or SELECT alias) command. */
static void
run_show(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o)
{
	const char *what = cmd->word[1];
	const char *value;
	char lower[WORD_LEN];

	if (cmd->nwords != 2) {
		admin_error(client, SQLSTATE_SYNTAX_ERROR, "SHOW takes one "
		    "word, like SHOW POOLS; try SHOW HELP");
		return;
	}
	if (strcasecmp(what, "help") == 0) {
		show_help(client, o);
		return;
	}
	if (strcasecmp(what, "fds") == 0 && !need_admin(client))
		return;
	if (admin_show(client->pw, what, o) == 0)
		return;
	value = fake_param(what);
	if (value != NULL) {
		size_t i;
		for (i = 0; what[i] && i + 1 < sizeof(lower); i++)
			lower[i] = (char)tolower((unsigned char)what[i]);
		lower[i] = '\0';
		one_value(client, o, lower, value, "SHOW");
		return;
	}
	admin_error(client, SQLSTATE_SYNTAX_ERROR, "unknown SHOW command: "
	    "%s; try SHOW HELP", what);
}

/* SET: a driver's harmless setting, or a reloadable pgweir option. */
static void
run_set(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o)
{
	char err[512], notice[512];

	if (fake_param(cmd->word[1]) != NULL) {
		/* drivers set these on connect; the console has no session */
		if (o->rows)
			proto_build_command_complete(o->out, "SET");
		return;
	}
	if (!need_admin(client))
		return;
	if (!o->rows)
		return;
	if (pgweir_set_option(client->pw, cmd->word[1], cmd->value, err,
	    sizeof(err), notice, sizeof(notice)) < 0) {
		admin_error(client, SQLSTATE_CONFIG_FILE_ERROR, "%s", err);
		return;
	}
	/* accepted, but not in force (TLS settings half-way through) */
	if (notice[0] != '\0')
		proto_build_notice(o->out, "00000", notice);
	proto_build_command_complete(o->out, "SET");
}

/* Start a command that answers later. */
static void
run_pending(struct client *client, enum admin_pending what,
    struct database *target, bool simple)
{
	struct admin_session *s = client->admin;

	s->pending = what;
	s->target = target;
	s->pending_simple = simple;
	s->deadline = pgweir_mono_usec() + client->pw->cfg->suspend_timeout;
	if (pending_done(client->pw, s))
		pending_finish(client, false);
}

/*
 * The control commands (admins only).  Each returns true when its answer
 * comes later (PAUSE and friends).
 */
typedef bool (*cmd_fn)(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple);

/* PAUSE [db]: no new transactions; answers when running ones are done. */
static bool
cmd_pause(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db, *d;

	(void)o;
	if (!target_db(client, cmd, &db))
		return false;
	TAILQ_FOREACH(d, &client->pw->databases, entry)
		if (in_scope(d, db))
			d->paused = true;
	run_pending(client, PEND_PAUSE, db, simple);
	return client->admin->pending != PEND_NONE;
}

static bool
cmd_resume(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db;

	(void)simple;
	if (!target_db(client, cmd, &db))
		return false;
	if (admin_resume(client->pw, db) < 0) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "pooler is shutting down");
		return false;
	}
	proto_build_command_complete(o->out, "RESUME");
	return false;
}

static bool
cmd_suspend(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	(void)cmd;
	(void)o;
	suspend_all(client->pw, true);
	run_pending(client, PEND_SUSPEND, NULL, simple);
	return client->admin->pending != PEND_NONE;
}

/* DISABLE db / ENABLE db: whether new clients may log in. */
static bool
cmd_enable(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db;
	bool disable = cmd->word[0][0] == 'd';

	(void)simple;
	if (!target_db(client, cmd, &db))
		return false;
	db->disabled = disable;
	proto_build_command_complete(o->out, disable ? "DISABLE" : "ENABLE");
	return false;
}

static bool
cmd_reconnect(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db;

	(void)simple;
	if (!target_db(client, cmd, &db))
		return false;
	reconnect_databases(client->pw, db);
	proto_build_command_complete(o->out, "RECONNECT");
	return false;
}

static bool
cmd_kill(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db, *d;

	(void)simple;
	if (!target_db(client, cmd, &db))
		return false;
	/* new clients wait for RESUME */
	TAILQ_FOREACH(d, &client->pw->databases, entry)
		if (in_scope(d, db))
			d->paused = true;
	kill_databases(client->pw, db);
	proto_build_command_complete(o->out, "KILL");
	return false;
}

static bool
cmd_kill_client(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	char *end;
	unsigned long long id = strtoull(cmd->word[1], &end, 10);
	struct client *victim;

	(void)simple;
	if (!isdigit((unsigned char)cmd->word[1][0]) || *end) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "invalid client pointer supplied");
		return false;
	}
	victim = find_client(client->pw, id);
	if (victim == NULL || victim == client) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION,
		    "client not found");
		return false;
	}
	client_close_error(victim, SQLSTATE_ADMIN_SHUTDOWN,
	    "terminating connection due to administrator command "
	    "(KILL_CLIENT)");
	proto_build_command_complete(o->out, "KILL_CLIENT");
	return false;
}

static bool
cmd_wait_close(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	struct database *db;

	(void)o;
	if (!target_db(client, cmd, &db))
		return false;
	run_pending(client, PEND_WAIT_CLOSE, db, simple);
	return client->admin->pending != PEND_NONE;
}

/*
 * TAKEOVER (pgweir -R), and TAKEOVER CANCEL pid key for a cancel that
 * reached the new process first: only pgweir's own account, on the unix
 * socket, in the simple protocol.
 */
static bool
cmd_takeover(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	char err[256];

	if (!simple || !admin_peer_is_self(client) || (cmd->nwords != 1 &&
	    (cmd->nwords != 4 || strcasecmp(cmd->word[1], "cancel") != 0))) {
		admin_error(client, SQLSTATE_INSUFFICIENT_PRIVILEGE,
		    "TAKEOVER is for pgweir -R, run as pgweir's own account "
		    "on the unix socket");
		return false;
	}
	if (cmd->nwords == 4)
		(void)client_cancel_by_key(client->pw, (uint32_t)strtoul(
		    cmd->word[2], NULL, 10), (uint32_t)strtoul(cmd->word[3],
		    NULL, 10));
	else if (takeover_serve(client, err, sizeof(err)) < 0) {
		admin_error(client, SQLSTATE_OBJECT_IN_USE, "%s", err);
		return false;
	}
	proto_build_command_complete(o->out, "TAKEOVER");
	return false;
}

static bool
cmd_reload(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	(void)cmd;
	(void)simple;
	if (pgweir_reload(client->pw) < 0) {
		admin_error(client, SQLSTATE_CONFIG_FILE_ERROR,
		    "RELOAD failed, see logs for additional details");
		return false;
	}
	proto_build_command_complete(o->out, "RELOAD");
	return false;
}

/* SHUTDOWN [WAIT_FOR_SERVERS | WAIT_FOR_CLIENTS] */
static bool
cmd_shutdown(struct client *client, const struct admin_cmd *cmd,
    struct admin_out *o, bool simple)
{
	enum shutdown_mode mode = SHUTDOWN_NOW;

	(void)simple;
	if (cmd->nwords == 2 && strcasecmp(cmd->word[1],
	    "wait_for_servers") == 0)
		mode = SHUTDOWN_WAIT_SERVERS;
	else if (cmd->nwords == 2 && strcasecmp(cmd->word[1],
	    "wait_for_clients") == 0)
		mode = SHUTDOWN_WAIT_CLIENTS;
	else if (cmd->nwords == 2) {
		admin_error(client, SQLSTATE_SYNTAX_ERROR, "SHUTDOWN takes "
		    "WAIT_FOR_SERVERS or WAIT_FOR_CLIENTS");
		return false;
	}
	proto_build_command_complete(o->out, "SHUTDOWN");
	client_flush(client);
	pgweir_shutdown(client->pw, mode);
	return false;
}

/* The control commands: verb, words allowed (verb included), handler. */
static const struct {
	const char *verb;
	int min_words, max_words;
	cmd_fn fn;
} commands[] = {
	{ "pause", 1, 2, cmd_pause },
	{ "resume", 1, 2, cmd_resume },
	{ "suspend", 1, 1, cmd_suspend },
	{ "disable", 2, 2, cmd_enable },
	{ "enable", 2, 2, cmd_enable },
	{ "reconnect", 1, 2, cmd_reconnect },
	{ "kill", 1, 2, cmd_kill },
	{ "kill_client", 2, 2, cmd_kill_client },
	{ "wait_close", 1, 2, cmd_wait_close },
	{ "takeover", 1, 4, cmd_takeover },
	{ "reload", 1, 1, cmd_reload },
	{ "shutdown", 1, 2, cmd_shutdown },
};

/*
 * Run one command.  o says which parts of its result to write (a Describe
 * wants only the RowDescription and must not run anything).  Returns true
 * when the answer is deferred (PAUSE and friends).
 */
static bool
run_command(struct client *client, const char *text, struct admin_out *o,
    bool simple)
{
	struct admin_cmd cmd;
	const char *verb;
	char esc[80];

	if (strlen(text) > CMD_MAX) {
		admin_error(client, SQLSTATE_SYNTAX_ERROR, "command too long");
		return false;
	}
	if (*skip_space(text) == '\0') {
		if (o->rows)
			proto_build_simple(o->out,
			    PQMSG_EMPTY_QUERY_RESPONSE);
		return false;
	}
	if (parse_command(text, &cmd) < 0) {
		log_escape(esc, sizeof(esc), text, strlen(text));
		admin_error(client, SQLSTATE_SYNTAX_ERROR, "invalid command "
		    "\"%s\"; try SHOW HELP", esc);
		return false;
	}
	verb = cmd.word[0];
	if (strcmp(verb, "show") == 0) {
		run_show(client, &cmd, o);
		return false;
	}
	if (strcmp(verb, "select") == 0 && cmd.nwords == 2 &&
	    isdigit((unsigned char)cmd.word[1][0])) {
		one_value(client, o, "?column?", cmd.word[1], "SELECT 1");
		return false;
	}
	if (strcmp(verb, "select") == 0) {
		run_show(client, &cmd, o);
		return false;
	}
	if (strcmp(verb, "set") == 0) {
		run_set(client, &cmd, o);
		return false;
	}
	if (!o->rows)
		return false;	/* Describe of a control command: NoData */
	if (!need_admin(client))
		return false;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(verb, commands[i].verb) == 0 &&
		    cmd.nwords >= commands[i].min_words &&
		    cmd.nwords <= commands[i].max_words)
			return commands[i].fn(client, &cmd, o, simple);
	log_escape(esc, sizeof(esc), text, strlen(text));
	admin_error(client, SQLSTATE_SYNTAX_ERROR, "unknown command \"%s\"; "
	    "try SHOW HELP", esc);
	return false;
}

/*
 * A simple Query: one or more commands separated by ';', each answered in
 * turn, then ReadyForQuery (unless a command answers later).
 */
static void
admin_on_Query(struct client *client, char *sql)
{
	struct admin_out o = { client->io.out, true, true };
	char *p = sql;

	client->admin->in_extended = false;
	while (p != NULL) {
		char *end = NULL, *q = p;
		bool in_quote = false;

		for (; *q; q++) {
			if (*q == '\'')
				in_quote = !in_quote;
			else if (*q == ';' && !in_quote) {
				end = q;
				break;
			}
		}
		if (end)
			*end = '\0';
		if (*skip_space(p) != '\0' || (end == NULL && p == sql)) {
			if (run_command(client, p, &o, true))
				return;	/* ReadyForQuery comes later */
		}
		p = end ? end + 1 : NULL;
		if (p && *skip_space(p) == '\0')
			p = NULL;
	}
	proto_build_ready_for_query(client->io.out, 'I');
}

/* The statement slot of a name, for lookups (or a free one if create). */
static struct admin_stmt *
stmt_find(struct admin_session *s, const char *name, bool create)
{
	struct admin_stmt *free_slot = NULL;

	for (int i = 0; i < STMTS_MAX; i++) {
		if (s->stmts[i].name && strcmp(s->stmts[i].name, name) == 0)
			return &s->stmts[i];
		if (s->stmts[i].name == NULL && free_slot == NULL)
			free_slot = &s->stmts[i];
	}
	return create ? free_slot : NULL;
}

/* Read a NUL-terminated string of a message body; NULL if malformed. */
static const char *
body_string(const char *body, size_t len, size_t *pos)
{
	const char *s = body + *pos;
	const char *nul;

	if (*pos >= len)
		return NULL;
	nul = memchr(s, '\0', len - *pos);
	if (nul == NULL)
		return NULL;
	*pos += (size_t)(nul - s) + 1;
	return s;
}

/* Parse: remember the statement. */
static void
admin_on_Parse(struct client *client, const char *body, size_t len)
{
	struct admin_session *s = client->admin;
	size_t pos = 0;
	const char *name = body_string(body, len, &pos);
	const char *query = name ? body_string(body, len, &pos) : NULL;
	struct admin_stmt *st;

	if (query == NULL) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION, "malformed "
		    "Parse message");
		return;
	}
	if (pos + 2 <= len && (body[pos] != 0 || body[pos + 1] != 0)) {
		admin_error(client, SQLSTATE_FEATURE_NOT_SUPPORTED, "the admin "
		    "console takes no parameters");
		return;
	}
	st = stmt_find(s, name, true);
	if (st == NULL) {
		admin_error(client, SQLSTATE_TOO_MANY_CONNECTIONS, "too many "
		    "prepared statements on the admin console");
		return;
	}
	if (st->name == NULL)
		st->name = strdup(name);
	free(st->query);
	st->query = strdup(query);
	proto_build_simple(client->io.out, PQMSG_PARSE_COMPLETE);
}

/* Bind: the statement becomes the portal (no parameters). */
static void
admin_on_Bind(struct client *client, const char *body, size_t len)
{
	struct admin_session *s = client->admin;
	size_t pos = 0;
	const char *portal = body_string(body, len, &pos);
	const char *name = portal ? body_string(body, len, &pos) : NULL;
	const struct admin_stmt *st = name ? stmt_find(s, name, false) : NULL;
	uint16_t nformats, nparams;

	if (name == NULL || pos + 2 > len) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION, "malformed "
		    "Bind message");
		return;
	}
	nformats = (uint16_t)((uint8_t)body[pos] << 8 | (uint8_t)body[pos + 1]);
	pos += 2 + 2 * (size_t)nformats;
	if (pos + 2 > len) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION, "malformed "
		    "Bind message");
		return;
	}
	nparams = (uint16_t)((uint8_t)body[pos] << 8 | (uint8_t)body[pos + 1]);
	if (nparams > 0) {
		admin_error(client, SQLSTATE_FEATURE_NOT_SUPPORTED, "the admin "
		    "console takes no parameters");
		return;
	}
	if (st == NULL) {
		admin_error(client, "26000", "prepared statement \"%s\" does "
		    "not exist", name);
		return;
	}
	free(s->portal);
	s->portal = strdup(st->query);
	proto_build_simple(client->io.out, PQMSG_BIND_COMPLETE);
}

/* Describe: the columns of a statement or of the portal, without running. */
static void
admin_on_Describe(struct client *client, const char *body, size_t len)
{
	struct admin_session *s = client->admin;
	struct admin_out o = { client->io.out, true, false };
	size_t pos = 1;
	const char *name = len > 1 ? body_string(body, len, &pos) : NULL;
	const char *query = NULL;
	size_t before;

	if (name == NULL || (body[0] != 'S' && body[0] != 'P')) {
		admin_error(client, SQLSTATE_PROTOCOL_VIOLATION, "malformed "
		    "Describe message");
		return;
	}
	if (body[0] == 'S') {
		const struct admin_stmt *st = stmt_find(s, name, false);
		static const uint8_t no_params[2] = { 0, 0 };
		if (st == NULL) {
			admin_error(client, "26000", "prepared statement "
			    "\"%s\" does not exist", name);
			return;
		}
		query = st->query;
		proto_build_message(client->io.out,
		    PQMSG_PARAMETER_DESCRIPTION, no_params, 2);
	} else {
		query = s->portal;
		if (query == NULL) {
			admin_error(client, "34000", "portal \"%s\" does not "
			    "exist", name);
			return;
		}
	}
	before = evbuffer_get_length(client->io.out);
	run_command(client, query, &o, false);
	if (evbuffer_get_length(client->io.out) == before)
		proto_build_simple(client->io.out, PQMSG_NO_DATA);
}

/* Execute: run the portal's command; rows without a RowDescription. */
static bool
admin_on_Execute(struct client *client)
{
	struct admin_session *s = client->admin;
	struct admin_out o = { client->io.out, false, true };

	if (s->portal == NULL) {
		admin_error(client, "34000", "portal \"\" does not exist");
		return false;
	}
	return run_command(client, s->portal, &o, false);
}

/*
 * Input from a console client: simple Query, the extended protocol
 * (Parse, Bind, Describe, Execute, Sync, Flush, Close) and Terminate.
 */
void
admin_handle_input(struct client *client)
{
	struct evbuffer *in = client->io.in;

	while (client->state != CL_CLOSED && client->admin->pending ==
	    PEND_NONE) {
		struct pq_header hdr;
		size_t total;
		char *msg, *body;
		size_t blen;
		int rc = proto_peek_header(in, 0, &hdr);

		if (rc == 0)
			break;
		if (rc < 0 || hdr.len > MSG_MAX) {
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "invalid or oversized message to the admin "
			    "console");
			return;
		}
		total = 1 + (size_t)hdr.len;
		if (evbuffer_get_length(in) < total)
			break;
		msg = malloc(total + 1);
		if (msg == NULL) {
			client_close(client, "out of memory");
			return;
		}
		evbuffer_remove(in, msg, total);
		msg[total] = '\0';
		body = msg + PQ_HEADER_LEN;
		blen = total - PQ_HEADER_LEN;
		if (client->admin->discard_until_sync &&
		    hdr.type != PQMSG_SYNC) {
			free(msg);
			continue;
		}
		admin_count_request(client, hdr.type);
		switch (hdr.type) {
		case PQMSG_QUERY:
			admin_on_Query(client, body);
			break;
		case PQMSG_PARSE:
			client->admin->in_extended = true;
			admin_on_Parse(client, body, blen);
			break;
		case PQMSG_BIND:
			client->admin->in_extended = true;
			admin_on_Bind(client, body, blen);
			break;
		case PQMSG_DESCRIBE:
			client->admin->in_extended = true;
			admin_on_Describe(client, body, blen);
			break;
		case PQMSG_EXECUTE:
			client->admin->in_extended = true;
			admin_on_Execute(client);
			break;
		case PQMSG_CLOSE:
			client->admin->in_extended = true;
			proto_build_simple(client->io.out,
			    PQMSG_CLOSE_COMPLETE);
			break;
		case PQMSG_SYNC:
			client->admin->discard_until_sync = false;
			client->admin->in_extended = false;
			proto_build_ready_for_query(client->io.out, 'I');
			break;
		case PQMSG_FLUSH:
			break;
		case PQMSG_TERMINATE:
			free(msg);
			client_close(client, "client sent Terminate");
			return;
		default:
			free(msg);
			client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION,
			    "unexpected message to the admin console");
			return;
		}
		free(msg);
	}
	client_flush(client);
}
