/* SPDX-License-Identifier: ISC */
/*
 * The simulator's fake PostgreSQL: a unix socket that pgweir's servers
 * connect to, and a small server behind it that answers each connection
 * the way PostgreSQL would (login, simple and extended protocol, COPY,
 * transactions, prepared statement names, errors on request).
 *
 * Its connections are events in the runtime's own event base, so one turn
 * of the loop runs pgweir and the fake alike, and only sockets with
 * something to read are read.  Every frame pgweir sends is checked: a
 * length below 4 is a bug in pgweir, not in its peer.  With echo on, each
 * statement's text comes back in its DataRow and in its errors, which the
 * two-client fuzz target uses to see whose answer reached whom.
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pgweir/proto.h"

#include "sim_int.h"

#define SIM_BIG_ROWS 6000	/* rows of 100 bytes for a query with "big" */
#define SIM_ECHO_MAX 256	/* bytes of a statement echoed back */

/* Append a message whose body is a list of NUL-terminated strings. */
static void
pg_add_strings(struct evbuffer *out, uint8_t type, const char *a,
    const char *b)
{
	struct evbuffer *body = evbuffer_new();

	if (a)
		evbuffer_add(body, a, strlen(a) + 1);
	if (b)
		evbuffer_add(body, b, strlen(b) + 1);
	sim_add_msg(out, type, evbuffer_pullup(body, -1),
	    evbuffer_get_length(body));
	evbuffer_free(body);
}

/* An ErrorResponse with severity, SQLSTATE and message. */
static void
pg_add_error(struct evbuffer *out, const char *severity, const char *code,
    const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "S%s%cV%s%cC%s%cM%s%c%c", severity, 0,
	    severity, 0, code, 0, msg, 0, 0);
	sim_add_msg(out, PQMSG_ERROR_RESPONSE, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
}

/* A one-column RowDescription. */
static void
pg_add_rowdesc(struct evbuffer *out)
{
	static const uint8_t body[] = { 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x19, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 };

	sim_add_msg(out, PQMSG_ROW_DESCRIPTION, body, sizeof(body));
}

#define SIM_ROWS_BLOCK 64	/* DataRows built at once for a big result */

/*
 * count one-column DataRows with n (at most 128) bytes of value each.  A
 * big result is hundreds or thousands of the same row: they go in blocks
 * of SIM_ROWS_BLOCK rows built once, not two evbuffer_add()s a row.
 */
static void
pg_add_datarows(struct evbuffer *out, int count, size_t n)
{
	uint8_t block[SIM_ROWS_BLOCK * (5 + 6 + 128)];
	size_t row;
	int k;

	if (n > 128)
		n = 128;
	row = 5 + 6 + n;
	block[0] = PQMSG_DATA_ROW;
	proto_put_u32(block + 1, (uint32_t)(4 + 6 + n));
	block[5] = 0;
	block[6] = 1;
	proto_put_u32(block + 7, (uint32_t)n);
	memset(block + 11, 'v', n);
	for (k = 1; k < SIM_ROWS_BLOCK && k < count; k++)
		memcpy(block + k * row, block, row);
	for (; count > 0; count -= SIM_ROWS_BLOCK) {
		k = count < SIM_ROWS_BLOCK ? count : SIM_ROWS_BLOCK;
		evbuffer_add(out, block, (size_t)k * row);
	}
}

/* A DataRow holding a statement's text (echo). */
static void
pg_add_echo_row(struct evbuffer *out, const char *q)
{
	uint8_t body[6 + SIM_ECHO_MAX];
	size_t n = strnlen(q, SIM_ECHO_MAX);

	body[0] = 0;
	body[1] = 1;
	proto_put_u32(body + 2, (uint32_t)n);
	memcpy(body + 6, q, n);
	sim_add_msg(out, PQMSG_DATA_ROW, body, 6 + n);
}

/* A NoticeResponse quoting a statement (echo), before its answer. */
static void
pg_add_echo_notice(struct sim *e, struct sim_pgconn *c, const char *q)
{
	char msg[SIM_ECHO_MAX + 2];

	if (!e->opts.echo)
		return;
	snprintf(msg, sizeof(msg), "M%.*s", SIM_ECHO_MAX, q);
	pg_add_strings(c->out, PQMSG_NOTICE_RESPONSE, "SNOTICE", msg);
}

/* ReadyForQuery with the connection's status. */
static void
pg_add_rfq(struct sim_pgconn *c)
{
	sim_add_msg(c->out, PQMSG_READY_FOR_QUERY, &c->tx, 1);
}

/* Whether the fake server should fail this request (error_every). */
static bool
pg_should_fail(struct sim *e, const char *query)
{
	e->requests++;
	if (query && (strstr(query, "error") || strstr(query, "ERROR")))
		return true;
	return e->opts.error_every > 0 && e->requests % e->opts.error_every ==
	    0;
}

/* An error in the current transaction, as PostgreSQL reports it. */
static void
pg_fail(struct sim_pgconn *c, const char *code, const char *msg)
{
	pg_add_error(c->out, "ERROR", code, msg);
	if (c->in_block)
		c->tx = 'E';
}

/* Read a string literal, '...' or E'...'; returns what follows, or NULL. */
static const char *
pg_literal(const char *p, char *out, size_t outlen)
{
	bool escapes = false;
	size_t n = 0;

	if (*p == 'E' || *p == 'e') {
		escapes = true;
		p++;
	}
	if (*p != '\'')
		return NULL;
	for (p++; *p; p++) {
		if (*p == '\'' && p[1] != '\'') {
			out[n] = '\0';
			return p + 1;
		}
		if (*p == '\'' || (escapes && *p == '\\' && p[1]))
			p++;	/* '' is a quote, \x is x */
		if (n + 1 < outlen)
			out[n++] = *p;
	}
	return NULL;
}

/* ParameterStatus for every set_config(name, value, ...) in a query. */
static void
pg_report_set_config(struct sim_pgconn *c, const char *q)
{
	const char *p = q;

	while ((p = strstr(p, "set_config(")) != NULL) {
		char name[64], value[256];

		p += 11;
		if ((p = pg_literal(p, name, sizeof(name))) == NULL)
			return;
		while (*p == ',' || *p == ' ')
			p++;
		if ((p = pg_literal(p, value, sizeof(value))) == NULL)
			return;
		pg_add_strings(c->out, PQMSG_PARAMETER_STATUS, name, value);
	}
}

/* Whether a query begins with a keyword (case-insensitive). */
static bool
pg_is(const char *q, const char *kw)
{
	while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '(')
		q++;
	return strncasecmp(q, kw, strlen(kw)) == 0;
}

/*
 * Run one statement of a query: what PostgreSQL would send for it, up to
 * and not including ReadyForQuery.  Returns false if it failed.
 */
static bool
pg_run_statement(struct sim *e, struct sim_pgconn *c, const char *q,
    bool simple)
{
	pg_add_echo_notice(e, c, q);
	if (c->tx == 'E' && !pg_is(q, "rollback") && !pg_is(q, "abort") &&
	    !pg_is(q, "commit") && !pg_is(q, "end")) {
		pg_fail(c, "25P02", "current transaction is aborted, commands "
		    "ignored until end of transaction block");
		return false;
	}
	if (strstr(q, "RAISE EXCEPTION") != NULL) {
		/* pgweir's way to fail a request on the server */
		const char *code = strstr(q, "ERRCODE = '");
		char sqlstate[6] = "P0001";
		if (code != NULL && strlen(code) >= 16)
			memcpy(sqlstate, code + 11, 5);
		pg_fail(c, sqlstate, "raised by pgweir");
		return false;
	}
	if (pg_should_fail(e, q)) {
		pg_fail(c, "42000", "the fake server fails this one");
		return false;
	}
	if (strstr(q, "notice"))
		pg_add_strings(c->out, PQMSG_NOTICE_RESPONSE, "SNOTICE",
		    "Ma notice");
	if (pg_is(q, "begin") || pg_is(q, "start")) {
		c->in_block = true;
		c->tx = 'T';
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "BEGIN", NULL);
	} else if (pg_is(q, "commit") || pg_is(q, "end") ||
	    pg_is(q, "rollback") || pg_is(q, "abort")) {
		bool rb = c->tx == 'E' || pg_is(q, "rollback") ||
		    pg_is(q, "abort");
		c->in_block = false;
		c->tx = 'I';
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, rb ?
		    "ROLLBACK" : "COMMIT", NULL);
	} else if (pg_is(q, "discard all") || pg_is(q, "deallocate all")) {
		for (int i = 0; i < SIM_PG_STMTS_MAX; i++) {
			free(c->stmt_name[i]);
			free(c->stmt_query[i]);
			c->stmt_name[i] = c->stmt_query[i] = NULL;
		}
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE,
		    pg_is(q, "discard") ? "DISCARD ALL" : "DEALLOCATE ALL",
		    NULL);
	} else if (pg_is(q, "copy") && strstr(q, "stdin")) {
		static const uint8_t in[] = { 0, 0, 1, 0, 0 };
		sim_add_msg(c->out, PQMSG_COPY_IN_RESPONSE, in, sizeof(in));
		c->copy_in = true;
		c->copy_simple = simple;
	} else if (pg_is(q, "copy")) {
		static const uint8_t outr[] = { 0, 0, 1, 0, 0 };
		sim_add_msg(c->out, PQMSG_COPY_OUT_RESPONSE, outr,
		    sizeof(outr));
		sim_add_msg(c->out, PQMSG_COPY_DATA, "1\tx\n", 4);
		sim_add_msg(c->out, PQMSG_COPY_DATA, "2\ty\n", 4);
		sim_add_msg(c->out, PQMSG_COPY_DONE, NULL, 0);
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "COPY 2", NULL);
	} else if (strstr(q, "pg_is_in_recovery()") != NULL) {
		/* what a server says of itself when asked (a standby's
		 * transactions are read-only) */
		const char *v = e->opts.pg_standby ? "t" : "f";
		const char *ro = e->opts.pg_standby ? "on" : "off";
		uint8_t row[64];
		size_t n = 0;
		row[n++] = 0;
		row[n++] = 2;
		proto_put_u32(row + n, 1);
		n += 4;
		row[n++] = (uint8_t)v[0];
		proto_put_u32(row + n, (uint32_t)strlen(ro));
		n += 4;
		memcpy(row + n, ro, strlen(ro));
		n += strlen(ro);
		if (simple)
			pg_add_rowdesc(c->out);
		sim_add_msg(c->out, PQMSG_DATA_ROW, row, n);
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "SELECT 1",
		    NULL);
	} else if (pg_is(q, "set") || pg_is(q, "reset")) {
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "SET", NULL);
	} else if (*q == '\0') {
		sim_add_msg(c->out, PQMSG_EMPTY_QUERY_RESPONSE, NULL, 0);
	} else {
		int rows = 1;
		if (strstr(q, "big") != NULL)
			rows = e->opts.big_rows ? (int)e->opts.big_rows :
			    SIM_BIG_ROWS;
		pg_report_set_config(c, q);
		if (simple)
			pg_add_rowdesc(c->out);
		if (e->opts.echo)
			pg_add_echo_row(c->out, q);
		pg_add_datarows(c->out, e->opts.echo ? rows - 1 : rows,
		    rows > 1 ? 100 : 1);
		if (strstr(q, "notify"))
			pg_add_strings(c->out, PQMSG_NOTIFICATION_RESPONSE,
			    "\0\0\0\1ch", "payload");
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, rows > 1 ?
		    "SELECT many" : "SELECT 1", NULL);
	}
	return true;
}

/* A simple Query: each ';'-separated statement, then ReadyForQuery. */
static void
pg_on_query(struct sim *e, struct sim_pgconn *c, char *q)
{
	char *p = q;
	bool any = false;

	while (p != NULL) {
		char *end = strchr(p, ';');
		if (end)
			*end = '\0';
		while (*p == ' ' || *p == '\n')
			p++;
		if (*p != '\0' || !any) {
			if (*p == '\0' && end == NULL) {
				sim_add_msg(c->out, PQMSG_EMPTY_QUERY_RESPONSE,
				    NULL, 0);
			} else if (*p != '\0') {
				any = true;
				if (!pg_run_statement(e, c, p, true))
					break;
				if (c->copy_in)
					return;	/* RFQ after the copy */
			}
		}
		p = end ? end + 1 : NULL;
	}
	pg_add_rfq(c);
}

/* The slot of a prepared statement name, or -1. */
static int
pg_stmt_find(struct sim_pgconn *c, const char *name)
{
	for (int i = 0; i < SIM_PG_STMTS_MAX; i++)
		if (c->stmt_name[i] && strcmp(c->stmt_name[i], name) == 0)
			return i;
	return -1;
}

/* The query a statement name stands for ("" for unknown). */
static const char *
pg_stmt_query(struct sim_pgconn *c, const char *name)
{
	int i = pg_stmt_find(c, name);

	return i >= 0 ? c->stmt_query[i] : "";
}

/* An error in extended mode: skip to the next Sync. */
static void
pg_fail_extended(struct sim_pgconn *c, const char *code, const char *msg)
{
	pg_fail(c, code, msg);
	c->skip = true;
}

/* Parse: remember the statement, or refuse as PostgreSQL would. */
static void
pg_on_parse(struct sim *e, struct sim_pgconn *c, const char *body,
    size_t len)
{
	size_t n = strnlen(body, len), q;
	const char *query;

	if (n == len || (q = strnlen(body + n + 1, len - n - 1)) ==
	    len - n - 1) {
		pg_fail_extended(c, "08P01", "invalid Parse message");
		return;
	}
	query = body + n + 1;
	pg_add_echo_notice(e, c, query);
	if (c->tx == 'E') {
		pg_fail_extended(c, "25P02", "current transaction is aborted");
		return;
	}
	if (pg_should_fail(e, query)) {
		pg_fail_extended(c, "42601", "syntax error (fake)");
		return;
	}
	if (n > 0) {
		int slot = -1;
		if (pg_stmt_find(c, body) >= 0) {
			pg_fail_extended(c, "42P05", "prepared statement "
			    "already exists");
			return;
		}
		for (int i = 0; i < SIM_PG_STMTS_MAX && slot < 0; i++)
			if (c->stmt_name[i] == NULL)
				slot = i;
		if (slot < 0) {
			pg_fail_extended(c, "53200", "out of statements");
			return;
		}
		c->stmt_name[slot] = strdup(body);
		c->stmt_query[slot] = strdup(query);
	} else {
		int i = pg_stmt_find(c, "");
		if (i < 0) {
			for (i = 0; i < SIM_PG_STMTS_MAX; i++)
				if (c->stmt_name[i] == NULL)
					break;
			if (i == SIM_PG_STMTS_MAX)
				i = 0;
			free(c->stmt_name[i]);
			c->stmt_name[i] = strdup("");
		}
		free(c->stmt_query[i]);
		c->stmt_query[i] = strdup(query);
	}
	sim_add_msg(c->out, PQMSG_PARSE_COMPLETE, NULL, 0);
}

/* One extended-protocol or copy message after login. */
static void
pg_on_message(struct sim *e, struct sim_pgconn *c, uint8_t type,
    char *body, size_t len)
{
	if (c->copy_in) {
		switch (type) {
		case PQMSG_COPY_DATA:
		case PQMSG_SYNC:
		case PQMSG_FLUSH:
			return;
		case PQMSG_COPY_DONE:
			pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "COPY 1",
			    NULL);
			break;
		default:
			pg_fail(c, "57014", "COPY from stdin failed");
			if (!c->copy_simple)
				c->skip = true;
			break;
		}
		c->copy_in = false;
		if (c->copy_simple)
			pg_add_rfq(c);
		return;
	}
	if (c->skip && type != PQMSG_SYNC)
		return;
	switch (type) {
	case PQMSG_QUERY:
		/* a simple query runs in the unnamed portal: the old goes */
		free(c->portal);
		c->portal = NULL;
		body[len ? len - 1 : 0] = '\0';
		pg_on_query(e, c, body);
		return;
	case PQMSG_PARSE:
		pg_on_parse(e, c, body, len);
		return;
	case PQMSG_BIND: {
		size_t p = strnlen(body, len);
		const char *stmt = p < len ? body + p + 1 : "";
		if (p >= len || strnlen(stmt, len - p - 1) == len - p - 1) {
			pg_fail_extended(c, "08P01", "invalid Bind message");
			return;
		}
		if (pg_stmt_find(c, stmt) < 0) {
			pg_fail_extended(c, "26000", "prepared statement does "
			    "not exist");
			return;
		}
		free(c->portal);
		c->portal = strdup(pg_stmt_query(c, stmt));
		sim_add_msg(c->out, PQMSG_BIND_COMPLETE, NULL, 0);
		return;
	}
	case PQMSG_DESCRIBE:
		if (len < 2 || strnlen(body + 1, len - 1) == len - 1) {
			pg_fail_extended(c, "08P01", "invalid Describe");
			return;
		}
		if (body[0] == 'S') {
			static const uint8_t none[2] = { 0, 0 };
			if (pg_stmt_find(c, body + 1) < 0) {
				pg_fail_extended(c, "26000", "prepared "
				    "statement does not exist");
				return;
			}
			sim_add_msg(c->out, PQMSG_PARAMETER_DESCRIPTION, none,
			    2);
		} else if (c->portal == NULL) {
			pg_fail_extended(c, "34000", "portal does not exist");
			return;
		}
		pg_add_rowdesc(c->out);
		return;
	case PQMSG_EXECUTE:
		if (c->portal == NULL) {
			pg_fail_extended(c, "34000", "portal does not exist");
			return;
		}
		if (!pg_run_statement(e, c, c->portal, false))
			c->skip = true;
		return;
	case PQMSG_CLOSE:
		if (len >= 2 && body[0] == 'S' &&
		    strnlen(body + 1, len - 1) < len - 1) {
			int i = pg_stmt_find(c, body + 1);
			if (i >= 0) {
				free(c->stmt_name[i]);
				free(c->stmt_query[i]);
				c->stmt_name[i] = c->stmt_query[i] = NULL;
			}
		}
		sim_add_msg(c->out, PQMSG_CLOSE_COMPLETE, NULL, 0);
		return;
	case PQMSG_SYNC:
		c->skip = false;
		if (!c->in_block) {
			/* the implicit transaction ends, and its portals */
			c->tx = 'I';
			free(c->portal);
			c->portal = NULL;
		}
		pg_add_rfq(c);
		return;
	case PQMSG_FLUSH:
	case PQMSG_COPY_DATA:
	case PQMSG_COPY_DONE:
	case PQMSG_COPY_FAIL:
		return;		/* PostgreSQL ignores these outside COPY */
	case PQMSG_FUNCTION_CALL: {
		static const uint8_t res[] = { 0, 0, 0, 1, '7' };
		sim_add_msg(c->out, PQMSG_FUNCTION_CALL_RESPONSE, res,
		    sizeof(res));
		pg_add_rfq(c);
		return;
	}
	default:
		pg_add_error(c->out, "FATAL", "08P01", "invalid frontend "
		    "message type");
		c->closing = true;
		return;
	}
}

/* Close a fake server connection and free its state. */
void
sim_pg_close(struct sim_pgconn *c)
{
	if (c->in == NULL)
		return;
	event_del(&c->ev);
	close(c->fd);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c->portal);
	for (int i = 0; i < SIM_PG_STMTS_MAX; i++) {
		free(c->stmt_name[i]);
		free(c->stmt_query[i]);
	}
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The login answer: AuthenticationOk, parameters, key, ReadyForQuery. */
static void
pg_login(struct sim *e, struct sim_pgconn *c, const char *appname)
{
	static const char *const params[] = {
		"server_version", "15.18", "server_encoding", "UTF8",
		"client_encoding", "UTF8", "DateStyle", "ISO, MDY",
		"TimeZone", "UTC", "integer_datetimes", "on",
		"standard_conforming_strings", "on", "IntervalStyle",
		"postgres", "is_superuser", "on", NULL };
	uint8_t ok[4] = { 0, 0, 0, 0 }, key[8];

	sim_add_msg(c->out, PQMSG_AUTHENTICATION, ok, 4);
	for (int i = 0; params[i]; i += 2)
		pg_add_strings(c->out, PQMSG_PARAMETER_STATUS, params[i],
		    params[i + 1]);
	pg_add_strings(c->out, PQMSG_PARAMETER_STATUS, "application_name",
	    appname);
	c->pid = ++e->next_pid;
	proto_put_u32(key, c->pid);
	proto_put_u32(key + 4, 0x5eed);
	sim_add_msg(c->out, PQMSG_BACKEND_KEY_DATA, key, 8);
	c->tx = 'I';
	pg_add_rfq(c);
	c->login_done = true;
}

/*
 * The first packet of a connection: a CancelRequest (the connection just
 * closes), an SSLRequest ('N'), or a StartupMessage.  Returns false when
 * the connection is to be closed.
 */
static bool
pg_on_startup(struct sim *e, struct sim_pgconn *c)
{
	uint8_t head[8];
	char pkt[PQ_STARTUP_MAX];
	uint32_t len, code;
	const char *appname = "";

	if (evbuffer_get_length(c->in) < 8)
		return true;
	evbuffer_copyout(c->in, head, 8);
	len = proto_get_u32(head);
	code = proto_get_u32(head + 4);
	if (len < 8 || len > sizeof(pkt)) {
		fprintf(stderr, "fuzz: pgweir sent a startup packet of length "
		    "%u\n", len);
		abort();
	}
	if (evbuffer_get_length(c->in) < len)
		return true;
	evbuffer_remove(c->in, pkt, len);
	if (code == PQ_CANCEL_REQUEST)
		return false;
	if (code == PQ_SSL_REQUEST || code == PQ_GSSENC_REQUEST) {
		evbuffer_add(c->out, "N", 1);
		return true;
	}
	if (pkt[len - 1] != '\0' || code != PQ_PROTOCOL_3_0) {
		fprintf(stderr, "fuzz: pgweir sent a bad StartupMessage\n");
		abort();
	}
	for (size_t p = 8; p < len - 1;) {
		const char *name = pkt + p;
		p += strlen(name) + 1;
		if (p >= len - 1)
			break;
		if (strcmp(name, "application_name") == 0)
			appname = pkt + p;
		p += strlen(pkt + p) + 1;
	}
	c->started = true;
	if (!e->opts.pg_mute)
		pg_login(e, c, appname);
	return true;
}

/*
 * Handle what a fake server connection received.  Frames pgweir sends are
 * checked: a length below 4 is a bug in pgweir, not in its peer.
 */
static void
pg_handle(struct sim *e, struct sim_pgconn *c)
{
	for (;;) {
		uint8_t type;
		size_t total;
		char *msg;

		if (!c->started) {
			if (!pg_on_startup(e, c)) {
				sim_pg_close(c);
				return;
			}
			if (!c->started)
				return;
			continue;
		}
		if ((total = sim_frame(c->in, &type, "a server")) == 0)
			return;
		if (sim_global.trace)
			fprintf(stderr, "sim: server pid %u got '%c'\n",
			    c->pid, type);
		if (type == PQMSG_TERMINATE) {
			sim_pg_close(c);
			return;
		}
		if (e->opts.pg_silent || !c->login_done) {
			evbuffer_drain(c->in, total);
			continue;
		}
		msg = malloc(total + 1);
		if (msg == NULL)
			abort();
		evbuffer_remove(c->in, msg, total);
		msg[total] = '\0';
		pg_on_message(e, c, type, msg + 5, total - 5);
		free(msg);
		if (c->closing)
			return;
	}
}

/* Write what a connection has to say; close it when it is done. */
static bool
pg_write(struct sim_pgconn *c)
{
	bool progress = false;
	int n = 0;

	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n <= 0)
			break;
		progress = true;
	}
	if (c->closing && (evbuffer_get_length(c->out) == 0 || n < 0)) {
		sim_pg_close(c);
		progress = true;
	}
	return progress;
}

/* A fake server connection is readable: read once, answer, write. */
static void
pg_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_pgconn *c = arg;
	struct sim *e = c->sim;
	int n;

	(void)fd;
	(void)what;
	if (c->closing) {
		pg_write(c);
		return;
	}
	n = sim_read(c->fd, c->in, SIM_READ_SIZE);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		sim_pg_close(c);
		return;
	}
	pg_handle(e, c);
	if (c->in != NULL)
		pg_write(c);
}

/* pgweir connects a server: take it into a free slot. */
void
sim_pg_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sim *e = arg;
	int fd;

	(void)what;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		struct sim_pgconn *c = NULL;
		for (int i = 0; i < SIM_PG_CONNS_MAX && c == NULL; i++)
			if (e->pg[i].in == NULL)
				c = &e->pg[i];
		if (c == NULL) {
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->sim = e;
		c->fd = fd;
		c->in = evbuffer_new();
		c->out = evbuffer_new();
		c->tx = 'I';
		event_assign(&c->ev, e->pw.base, fd, EV_READ | EV_PERSIST,
		    pg_read_cb, c);
		event_add(&c->ev, NULL);
	}
}

/*
 * Write what is still waiting for every fake server connection (answers
 * the socket did not take at once, raw bytes of sim_pg_write()); whether
 * anything moved.
 */
bool
sim_pg_flush(struct sim *e)
{
	bool progress = false;

	for (int i = 0; i < SIM_PG_CONNS_MAX; i++)
		if (e->pg[i].in != NULL &&
		    evbuffer_get_length(e->pg[i].out) > 0)
			progress |= pg_write(&e->pg[i]);
	return progress;
}

/* Close every fake server connection and start counting afresh. */
void
sim_pg_reset(struct sim *e)
{
	int fd;

	for (int i = 0; i < SIM_PG_CONNS_MAX; i++)
		sim_pg_close(&e->pg[i]);
	while ((fd = accept(sim_global.listen_fd, NULL, NULL)) >= 0)
		close(fd);
	e->requests = 0;
	e->next_pid = 0;
}

/* Write raw bytes as the first open fake server connection's answer. */
void
sim_pg_write(struct sim *e, const void *data, size_t len)
{
	for (int i = 0; i < SIM_PG_CONNS_MAX; i++) {
		struct sim_pgconn *c = &e->pg[i];
		if (c->in != NULL && !c->closing && c->started) {
			evbuffer_add(c->out, data, len);
			return;
		}
	}
}
