/* SPDX-License-Identifier: ISC */
/*
 * Fuzzing support: a whole pgweir in process, built from the library's own
 * constructors, with both of its sides on local sockets.
 *
 * Clients are socketpair(2)s given to client_accept(); the harness keeps
 * the other end, writes what a client would send and reads (and checks the
 * framing of) what pgweir answers.  Servers are real: [databases] points
 * at a unix socket this file listens on, so server_launch() connects and
 * logs in through server.c's own code, and a small fake PostgreSQL here
 * answers each connection the way PostgreSQL would (login, simple and
 * extended protocol, COPY, transactions, prepared statement names, errors
 * on request).  Fuzz bytes either go through the sockets (the real read
 * path) or straight into a connection's input buffer followed by what its
 * io callback would call (relay_client, admin_handle_input, relay_server),
 * but only when the io has read interest, as the event loop would.
 *
 * Everything an environment makes is freed by fz_env_free(), so leak
 * reports are pgweir's.  The listening socket, the certificate and the
 * temporary directory live for the whole process.  Nothing is written
 * outside that directory.
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/admin.h"
#include "pgweir/authfile.h"
#include "pgweir/authquery.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/hba.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/server.h"
#include "pgweir/tls.h"
#include "pgweir/varcache.h"

#include "fuzz_support.h"

#define FZ_CLIENTS_MAX 32
#define FZ_PG_CONNS_MAX 16
#define FZ_PG_STMTS_MAX 32
#define FZ_PUMP_TURNS 400
#define FZ_BIG_ROWS 6000	/* rows of 100 bytes for a query with "big" */

/* A self-signed P-256 certificate for client_tls_* (CN=localhost). */
static const char fz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXP6+HJhXJSrva4sT\n"
    "BQrpd31kACVi0ZoMKveHoGY+qOyhRANCAATTw0PSnR6WoizIMw4Ah/A0kUMs1iqU\n"
    "c6naNwoUHjwvnLmlk3MBv6YI837cy0aurCYFtug32l9Jv/chyE/pveRH\n"
    "-----END PRIVATE KEY-----\n";
static const char fz_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgDCCASWgAwIBAgIUPX8E+fLprGdvT04m+nJHLGzs/VkwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzA0NDAxNloYDzIxMjYxMTAz\n"
    "MDQ0MDE2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAATTw0PSnR6WoizIMw4Ah/A0kUMs1iqUc6naNwoUHjwvnLmlk3MBv6YI\n"
    "837cy0aurCYFtug32l9Jv/chyE/pveRHo1MwUTAdBgNVHQ4EFgQUKenZAwzcRDRu\n"
    "pNFUR4x6zTtF01EwHwYDVR0jBBgwFoAUKenZAwzcRDRupNFUR4x6zTtF01EwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAgLBNq+LWSuEEClLne2CU\n"
    "2vpOv5h1Wr+lLn9qdcaNZosCIQCAAQNHItbjnxosCEgUvxpe8IJECnA6qctg3WjL\n"
    "eActlw==\n"
    "-----END CERTIFICATE-----\n";

/*
 * Users of the auth_file: a plaintext, an MD5 and a SCRAM secret (16
 * iterations, so that logins stay fast), all for the password "pw".
 */
static const char fz_authfile[] =
    "\"alice\" \"pw\"\n"
    "\"bob\" \"md59e8b47dd245ed6fdb3fd1657224800c4\"\n"
    "\"carol\" \"SCRAM-SHA-256$16:cGd3ZWlyLWZ1enotc2FsdA==$"
    "nAxIuCy41L8tGb3z3MYrGbZ+jRiV4NG7XFnqPV0EAdA=:"
    "vYf9Vvm1DRW82O9yBYzq/M6bXr6aNDebxrQ4unjlNho=\"\n"
    "\"fz\" \"md5ecf6b0ce462868565e78a0695028beb9\"\n"
    "\"u1\" \"pw\"\n"
    "\"u2\" \"pw\"\n"
    "\"admin\" \"pw\"\n"
    "\"stats\" \"pw\"\n";

/* Rules for auth_type = hba: every method on some path. */
static const char fz_hba[] =
    "local all admin peer\n"
    "local all all trust\n"
    "hostssl all all 0.0.0.0/0 cert\n"
    "host db alice 127.0.0.1/32 scram-sha-256\n"
    "host all bob 0.0.0.0/0 md5\n"
    "host all carol 127.0.0.0/8 password\n"
    "host all nobody all reject\n"
    "host pgweir,pgbouncer admin,stats 127.0.0.1/32 password\n"
    "host all all 127.0.0.1/32 trust\n";

/* One connection to the fake PostgreSQL. */
struct fz_pgconn {
	int fd;			/* -1: closed */
	struct evbuffer *in;	/* bytes from pgweir not yet handled */
	struct evbuffer *out;	/* answers not yet written */
	uint32_t pid;		/* its BackendKeyData pid */
	bool started;		/* StartupMessage seen and answered */
	bool closing;		/* close once the answer is written */
	bool login_done;
	char tx;		/* 'I', 'T' or 'E' */
	bool in_block;		/* inside BEGIN ... COMMIT */
	bool skip;		/* error in extended mode: skip to Sync */
	bool copy_in;		/* COPY FROM STDIN running */
	bool copy_simple;	/* ...started by a simple Query */
	char *portal;		/* the unnamed portal's query; owned */
	char *stmt_name[FZ_PG_STMTS_MAX]; /* prepared statements; owned */
	char *stmt_query[FZ_PG_STMTS_MAX];
};

/* An in-process pgweir and everything around it. */
struct fz_env {
	struct pgweir pw;
	struct fz_opts opts;
	struct fz_client clients[FZ_CLIENTS_MAX];
	int n_clients;
	struct fz_pgconn pg[FZ_PG_CONNS_MAX];
	unsigned requests;	/* counted for error_every */
	uint32_t next_pid;
};

/* PGWEIR_FUZZ_TRACE: print the messages clients and servers receive. */
static bool fz_trace;

/* Process-wide: the directory, the fake PostgreSQL's listening socket. */
static struct {
	bool ready;
	char dir[80];		/* short enough for a sun_path */
	char sock[128];
	int listen_fd;
} fz_global = { .listen_fd = -1 };

/* Remove what fz_global_init() made (at exit). */
static void
fz_global_fini(void)
{
	static const char *const files[] = { "server.key", "server.crt",
		"hba.conf", "userlist.txt", "pgweir.ini", ".s.PGSQL.5432" };
	char path[208];

	if (!fz_global.ready)
		return;
	if (fz_global.listen_fd >= 0)
		close(fz_global.listen_fd);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fz_global.dir, files[i]);
		unlink(path);
	}
	rmdir(fz_global.dir);
	fz_global.ready = false;
}

/* Write a whole file in the fuzzing directory. */
static void
fz_write_file(const char *name, const char *text)
{
	char path[208];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", fz_global.dir, name);
	fp = fopen(path, "w");
	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
		perror(path);
		abort();
	}
}

/*
 * Once per process: a private directory with the certificate, the
 * auth_file, the hba file, and the fake PostgreSQL's socket; SIGPIPE
 * ignored as pgweir's main() does; log lines formatted but not written.
 */
static void
fz_global_init(void)
{
	struct sockaddr_un sun;
	const char *tmp = getenv("TMPDIR");
	struct log_settings ls = { .verbose = 2, .quiet = true };

	if (fz_global.ready)
		return;
	if (getenv("PGWEIR_FUZZ_LOG") != NULL)
		ls.quiet = false;
	fz_trace = getenv("PGWEIR_FUZZ_TRACE") != NULL;
	log_configure(&ls);
	signal(SIGPIPE, SIG_IGN);
	snprintf(fz_global.dir, sizeof(fz_global.dir), "%s/pgweir-fuzz.XXXXXX",
	    tmp && tmp[0] && strlen(tmp) < 60 ? tmp : "/tmp");
	if (mkdtemp(fz_global.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	fz_global.ready = true;
	atexit(fz_global_fini);
	fz_write_file("server.key", fz_key_pem);
	fz_write_file("server.crt", fz_cert_pem);
	fz_write_file("hba.conf", fz_hba);
	fz_write_file("userlist.txt", fz_authfile);
	snprintf(fz_global.sock, sizeof(fz_global.sock), "%s/.s.PGSQL.5432",
	    fz_global.dir);
	fz_global.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", fz_global.sock);
	if (fz_global.listen_fd < 0 || bind(fz_global.listen_fd,
	    (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fz_global.listen_fd, 128) < 0) {
		perror("fake PostgreSQL socket");
		abort();
	}
}

/* Whether data holds word, ignoring case. */
bool
fz_contains_ci(const uint8_t *data, size_t len, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (strncasecmp((const char *)data + i, word, n) == 0)
			return true;
	return false;
}

/* Append one message: type, length, body. */
void
fz_add_msg(struct evbuffer *out, uint8_t type, const void *body, size_t len)
{
	uint8_t hdr[5];

	hdr[0] = type;
	proto_put_u32(hdr + 1, (uint32_t)(len + 4));
	evbuffer_add(out, hdr, 5);
	if (len > 0)
		evbuffer_add(out, body, len);
}

/* Append Parse: statement name, query, no parameter types. */
void
fz_add_parse(struct evbuffer *out, const char *name, const char *query)
{
	struct evbuffer *m = evbuffer_new();

	evbuffer_add(m, name, strlen(name) + 1);
	evbuffer_add(m, query, strlen(query) + 1);
	evbuffer_add(m, "\0\0", 2);
	fz_add_msg(out, PQMSG_PARSE, evbuffer_pullup(m, -1),
	    evbuffer_get_length(m));
	evbuffer_free(m);
}

/* Append Bind: the unnamed portal to a statement, no parameters. */
void
fz_add_bind(struct evbuffer *out, const char *stmt)
{
	struct evbuffer *m = evbuffer_new();
	static const uint8_t counts[6] = { 0, 0, 0, 0, 0, 0 };

	evbuffer_add(m, "", 1);
	evbuffer_add(m, stmt, strlen(stmt) + 1);
	evbuffer_add(m, counts, sizeof(counts));
	fz_add_msg(out, PQMSG_BIND, evbuffer_pullup(m, -1),
	    evbuffer_get_length(m));
	evbuffer_free(m);
}

/* Append a StartupMessage (protocol 3.0) with extra name/value pairs. */
void
fz_add_startup(struct evbuffer *out, const char *user, const char *db,
    const char *const *params)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t head[8];

	evbuffer_add(b, "user", 5);
	evbuffer_add(b, user, strlen(user) + 1);
	evbuffer_add(b, "database", 9);
	evbuffer_add(b, db, strlen(db) + 1);
	for (int i = 0; params && params[i] && params[i + 1]; i += 2) {
		evbuffer_add(b, params[i], strlen(params[i]) + 1);
		evbuffer_add(b, params[i + 1], strlen(params[i + 1]) + 1);
	}
	evbuffer_add(b, "", 1);
	proto_put_u32(head, (uint32_t)(8 + evbuffer_get_length(b)));
	proto_put_u32(head + 4, PQ_PROTOCOL_3_0);
	evbuffer_add(out, head, 8);
	evbuffer_add_buffer(out, b);
	evbuffer_free(b);
}

/* ---- the fake PostgreSQL ---- */

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
	fz_add_msg(out, type, evbuffer_pullup(body, -1),
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
	fz_add_msg(out, PQMSG_ERROR_RESPONSE, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
}

/* A one-column RowDescription. */
static void
pg_add_rowdesc(struct evbuffer *out)
{
	static const uint8_t body[] = { 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x19, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 };

	fz_add_msg(out, PQMSG_ROW_DESCRIPTION, body, sizeof(body));
}

/* A one-column DataRow with n (at most 128) bytes of value. */
static void
pg_add_datarow(struct evbuffer *out, size_t n)
{
	uint8_t body[6 + 128];

	if (n > 128)
		n = 128;
	body[0] = 0;
	body[1] = 1;
	proto_put_u32(body + 2, (uint32_t)n);
	memset(body + 6, 'v', n);
	fz_add_msg(out, PQMSG_DATA_ROW, body, 6 + n);
}

/* ReadyForQuery with the connection's status. */
static void
pg_add_rfq(struct fz_pgconn *c)
{
	fz_add_msg(c->out, PQMSG_READY_FOR_QUERY, &c->tx, 1);
}

/* Whether the fake server should fail this request (error_every). */
static bool
pg_should_fail(struct fz_env *e, const char *query)
{
	e->requests++;
	if (query && (strstr(query, "error") || strstr(query, "ERROR")))
		return true;
	return e->opts.error_every > 0 && e->requests % e->opts.error_every ==
	    0;
}

/* An error in the current transaction, as PostgreSQL reports it. */
static void
pg_fail(struct fz_pgconn *c, const char *code, const char *msg)
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
pg_report_set_config(struct fz_pgconn *c, const char *q)
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
pg_run_statement(struct fz_env *e, struct fz_pgconn *c, const char *q,
    bool simple)
{
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
		for (int i = 0; i < FZ_PG_STMTS_MAX; i++) {
			free(c->stmt_name[i]);
			free(c->stmt_query[i]);
			c->stmt_name[i] = c->stmt_query[i] = NULL;
		}
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE,
		    pg_is(q, "discard") ? "DISCARD ALL" : "DEALLOCATE ALL",
		    NULL);
	} else if (pg_is(q, "copy") && strstr(q, "stdin")) {
		static const uint8_t in[] = { 0, 0, 1, 0, 0 };
		fz_add_msg(c->out, PQMSG_COPY_IN_RESPONSE, in, sizeof(in));
		c->copy_in = true;
		c->copy_simple = simple;
	} else if (pg_is(q, "copy")) {
		static const uint8_t outr[] = { 0, 0, 1, 0, 0 };
		fz_add_msg(c->out, PQMSG_COPY_OUT_RESPONSE, outr,
		    sizeof(outr));
		fz_add_msg(c->out, PQMSG_COPY_DATA, "1\tx\n", 4);
		fz_add_msg(c->out, PQMSG_COPY_DATA, "2\ty\n", 4);
		fz_add_msg(c->out, PQMSG_COPY_DONE, NULL, 0);
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "COPY 2", NULL);
	} else if (pg_is(q, "set") || pg_is(q, "reset")) {
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, "SET", NULL);
	} else if (*q == '\0') {
		fz_add_msg(c->out, PQMSG_EMPTY_QUERY_RESPONSE, NULL, 0);
	} else {
		int rows = strstr(q, "big") ? FZ_BIG_ROWS : 1;
		pg_report_set_config(c, q);
		if (simple)
			pg_add_rowdesc(c->out);
		for (int i = 0; i < rows; i++)
			pg_add_datarow(c->out, rows > 1 ? 100 : 1);
		if (strstr(q, "notify"))
			pg_add_strings(c->out, PQMSG_NOTIFICATION_RESPONSE,
			    "\0\0\0\1ch", "payload");
		pg_add_strings(c->out, PQMSG_COMMAND_COMPLETE, rows > 1 ?
		    "SELECT 6000" : "SELECT 1", NULL);
	}
	return true;
}

/* A simple Query: each ';'-separated statement, then ReadyForQuery. */
static void
pg_on_query(struct fz_env *e, struct fz_pgconn *c, char *q)
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
				fz_add_msg(c->out, PQMSG_EMPTY_QUERY_RESPONSE,
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
pg_stmt_find(struct fz_pgconn *c, const char *name)
{
	for (int i = 0; i < FZ_PG_STMTS_MAX; i++)
		if (c->stmt_name[i] && strcmp(c->stmt_name[i], name) == 0)
			return i;
	return -1;
}

/* The query a statement name stands for ("" for unknown). */
static const char *
pg_stmt_query(struct fz_pgconn *c, const char *name)
{
	int i = pg_stmt_find(c, name);

	return i >= 0 ? c->stmt_query[i] : "";
}

/* An error in extended mode: skip to the next Sync. */
static void
pg_fail_extended(struct fz_pgconn *c, const char *code, const char *msg)
{
	pg_fail(c, code, msg);
	c->skip = true;
}

/* Parse: remember the statement, or refuse as PostgreSQL would. */
static void
pg_on_parse(struct fz_env *e, struct fz_pgconn *c, const char *body,
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
		for (int i = 0; i < FZ_PG_STMTS_MAX && slot < 0; i++)
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
			for (i = 0; i < FZ_PG_STMTS_MAX; i++)
				if (c->stmt_name[i] == NULL)
					break;
			if (i == FZ_PG_STMTS_MAX)
				i = 0;
			free(c->stmt_name[i]);
			c->stmt_name[i] = strdup("");
		}
		free(c->stmt_query[i]);
		c->stmt_query[i] = strdup(query);
	}
	fz_add_msg(c->out, PQMSG_PARSE_COMPLETE, NULL, 0);
}

/* One extended-protocol or copy message after login. */
static void
pg_on_message(struct fz_env *e, struct fz_pgconn *c, uint8_t type,
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
		fz_add_msg(c->out, PQMSG_BIND_COMPLETE, NULL, 0);
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
			fz_add_msg(c->out, PQMSG_PARAMETER_DESCRIPTION, none,
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
		fz_add_msg(c->out, PQMSG_CLOSE_COMPLETE, NULL, 0);
		return;
	case PQMSG_SYNC:
		c->skip = false;
		if (!c->in_block)
			c->tx = 'I';
		pg_add_rfq(c);
		return;
	case PQMSG_FLUSH:
	case PQMSG_COPY_DATA:
	case PQMSG_COPY_DONE:
	case PQMSG_COPY_FAIL:
		return;		/* PostgreSQL ignores these outside COPY */
	case PQMSG_FUNCTION_CALL: {
		static const uint8_t res[] = { 0, 0, 0, 1, '7' };
		fz_add_msg(c->out, PQMSG_FUNCTION_CALL_RESPONSE, res,
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
static void
pg_close(struct fz_pgconn *c)
{
	if (c->in == NULL)
		return;
	close(c->fd);
	evbuffer_free(c->in);
	evbuffer_free(c->out);
	free(c->portal);
	for (int i = 0; i < FZ_PG_STMTS_MAX; i++) {
		free(c->stmt_name[i]);
		free(c->stmt_query[i]);
	}
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* The login answer: AuthenticationOk, parameters, key, ReadyForQuery. */
static void
pg_login(struct fz_env *e, struct fz_pgconn *c, const char *appname)
{
	static const char *const params[] = {
		"server_version", "15.18", "server_encoding", "UTF8",
		"client_encoding", "UTF8", "DateStyle", "ISO, MDY",
		"TimeZone", "UTC", "integer_datetimes", "on",
		"standard_conforming_strings", "on", "IntervalStyle",
		"postgres", "is_superuser", "on", NULL };
	uint8_t ok[4] = { 0, 0, 0, 0 }, key[8];

	fz_add_msg(c->out, PQMSG_AUTHENTICATION, ok, 4);
	for (int i = 0; params[i]; i += 2)
		pg_add_strings(c->out, PQMSG_PARAMETER_STATUS, params[i],
		    params[i + 1]);
	pg_add_strings(c->out, PQMSG_PARAMETER_STATUS, "application_name",
	    appname);
	c->pid = ++e->next_pid;
	proto_put_u32(key, c->pid);
	proto_put_u32(key + 4, 0x5eed);
	fz_add_msg(c->out, PQMSG_BACKEND_KEY_DATA, key, 8);
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
pg_on_startup(struct fz_env *e, struct fz_pgconn *c)
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
pg_handle(struct fz_env *e, struct fz_pgconn *c)
{
	for (;;) {
		uint8_t head[5];
		size_t total;
		uint32_t len;
		char *msg;

		if (!c->started) {
			if (!pg_on_startup(e, c)) {
				pg_close(c);
				return;
			}
			if (!c->started)
				return;
			continue;
		}
		if (evbuffer_get_length(c->in) < 5)
			return;
		evbuffer_copyout(c->in, head, 5);
		len = proto_get_u32(head + 1);
		if (len < 4) {
			fprintf(stderr, "fuzz: pgweir sent a message of type "
			    "0x%02x with length %u to a server\n", head[0],
			    len);
			abort();
		}
		total = 1 + (size_t)len;
		if (evbuffer_get_length(c->in) < total)
			return;
		if (fz_trace)
			fprintf(stderr, "fuzz: server pid %u got '%c'\n",
			    c->pid, head[0]);
		if (head[0] == PQMSG_TERMINATE) {
			pg_close(c);
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
		pg_on_message(e, c, head[0], msg + 5, total - 5);
		free(msg);
		if (c->closing)
			return;
	}
}

/* Accept, read, answer and write for every fake server connection. */
static bool
pg_poll(struct fz_env *e)
{
	bool progress = false;
	int fd;

	while ((fd = accept4(fz_global.listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		struct fz_pgconn *c = NULL;
		for (int i = 0; i < FZ_PG_CONNS_MAX && c == NULL; i++)
			if (e->pg[i].in == NULL)
				c = &e->pg[i];
		progress = true;
		if (c == NULL) {
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->in = evbuffer_new();
		c->out = evbuffer_new();
		c->tx = 'I';
	}
	for (int i = 0; i < FZ_PG_CONNS_MAX; i++) {
		struct fz_pgconn *c = &e->pg[i];
		int n = 0;

		if (c->in == NULL)
			continue;
		if (!c->closing) {
			while ((n = evbuffer_read(c->in, c->fd, 65536)) > 0)
				progress = true;
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				pg_close(c);
				progress = true;
				continue;
			}
			pg_handle(e, c);
			if (c->in == NULL)
				continue;
		}
		while (evbuffer_get_length(c->out) > 0) {
			n = evbuffer_write(c->out, c->fd);
			if (n <= 0)
				break;
			progress = true;
		}
		if (c->closing && (evbuffer_get_length(c->out) == 0 ||
		    n < 0)) {
			pg_close(c);
			progress = true;
		}
	}
	return progress;
}

/* Write raw bytes as the first open fake server connection's answer. */
void
fz_pg_write(struct fz_env *e, const void *data, size_t len)
{
	for (int i = 0; i < FZ_PG_CONNS_MAX; i++) {
		struct fz_pgconn *c = &e->pg[i];
		if (c->in != NULL && !c->closing && c->started) {
			evbuffer_add(c->out, data, len);
			return;
		}
	}
}

/* ---- clients ---- */

/* pgweir's client of a harness client, or NULL once it is freed. */
struct client *
fz_client_get(struct fz_env *e, const struct fz_client *fc)
{
	struct pgweir *pw = &e->pw;
	struct client *c;
	struct pool *pool;

	if (fc == NULL || fc->id == 0)
		return NULL;
	TAILQ_FOREACH(c, &pw->login_clients, entry)
		if (c->id == fc->id)
			return c;
	TAILQ_FOREACH(c, &pw->dead_clients, entry)
		if (c->id == fc->id)
			return c;
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client_list *lists[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };
		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(c, lists[i], entry)
				if (c->id == fc->id)
					return c;
	}
	return NULL;
}

/*
 * The answer oracle.  PostgreSQL owes a client, in order, a ParseComplete
 * per Parse, a BindComplete per Bind, a CloseComplete per Close and a
 * ReadyForQuery per Sync, Query or FunctionCall; an error in the extended
 * protocol cancels what is owed up to the next Sync.  pgweir's rewriting
 * (answers of its own, hidden Parses, moving between servers) must keep
 * exactly that.  COPY, which the model does not follow, turns it off for
 * the client.  'z' stands for the ReadyForQuery of a Query/FunctionCall.
 */
static void
owe(struct fz_client *fc, uint8_t what)
{
	if (fc->owed_n == sizeof(fc->owed)) {
		fc->model_off = true;
		return;
	}
	fc->owed[(fc->owed_head + fc->owed_n++) % sizeof(fc->owed)] = what;
}

/* The oldest answer owed, or 0. */
static uint8_t
owed_head(const struct fz_client *fc)
{
	return fc->owed_n ? fc->owed[fc->owed_head] : 0;
}

/* One answer paid. */
static void
owed_pop(struct fz_client *fc)
{
	fc->owed_head = (fc->owed_head + 1) % sizeof(fc->owed);
	fc->owed_n--;
}

/* A broken promise: say what and stop. */
static void
answer_fail(const struct fz_client *fc, uint8_t got)
{
	fprintf(stderr, "fuzz: client %llu got '%c' but is owed '%c' (%u "
	    "answers owed)\n", (unsigned long long)fc->id, got,
	    owed_head(fc) ? owed_head(fc) : '-', fc->owed_n);
	abort();
}

/* A message pgweir sent the client. */
static void
answer_seen(struct fz_client *fc, uint8_t type)
{
	uint8_t h = owed_head(fc);

	if (fc->model_off)
		return;
	switch (type) {
	case PQMSG_PARSE_COMPLETE:
	case PQMSG_BIND_COMPLETE:
	case PQMSG_CLOSE_COMPLETE:
		if (h != type)
			answer_fail(fc, type);
		owed_pop(fc);
		break;
	case PQMSG_READY_FOR_QUERY:
		if (h != 'Z' && h != 'z')
			answer_fail(fc, type);
		owed_pop(fc);
		break;
	case PQMSG_ERROR_RESPONSE:
		/* a Query's error ends with its own ReadyForQuery */
		if (h == 'z')
			break;
		/* extended: all is skipped up to the Sync, Queries too... */
		while (fc->owed_n > 0 && owed_head(fc) != 'Z')
			owed_pop(fc);
		/* ...even what the client sends after the error */
		if (fc->owed_n == 0)
			fc->skipping = true;
		break;
	case PQMSG_COPY_IN_RESPONSE:
	case PQMSG_COPY_OUT_RESPONSE:
	case PQMSG_COPY_BOTH_RESPONSE:
		fc->model_off = true;
		break;
	}
}

/* Whole messages the client sent: what it is owed. */
static void
answer_owed(struct fz_client *fc, const void *data, size_t len)
{
	uint8_t head[5];

	evbuffer_add(fc->sent, data, len);
	while (!fc->model_off && evbuffer_get_length(fc->sent) >= 5) {
		uint32_t mlen;
		evbuffer_copyout(fc->sent, head, 5);
		mlen = proto_get_u32(head + 1);
		if (mlen < 4) {
			fc->model_off = true;
			break;
		}
		if (evbuffer_get_length(fc->sent) < 1 + (size_t)mlen)
			break;
		evbuffer_drain(fc->sent, 1 + (size_t)mlen);
		if (fc->skipping && head[0] != PQMSG_SYNC && head[0] != 0 &&
		    strchr("PBCQFDEH", head[0]) != NULL)
			continue;
		switch (head[0]) {
		case PQMSG_PARSE:
			owe(fc, PQMSG_PARSE_COMPLETE);
			break;
		case PQMSG_BIND:
			owe(fc, PQMSG_BIND_COMPLETE);
			break;
		case PQMSG_CLOSE:
			owe(fc, PQMSG_CLOSE_COMPLETE);
			break;
		case PQMSG_SYNC:
			owe(fc, 'Z');
			fc->skipping = false;
			break;
		case PQMSG_QUERY:
		case PQMSG_FUNCTION_CALL:
			owe(fc, 'z');
			break;
		case PQMSG_DESCRIBE:
		case PQMSG_EXECUTE:
		case PQMSG_FLUSH:
			break;
		default:
			fc->model_off = true;
			break;
		}
	}
}

/* At the end: a client still connected got all it was owed. */
static void
answer_check(struct fz_env *e, struct fz_client *fc)
{
	struct client *c = fz_client_get(e, fc);

	if (!fc->counting || fc->model_off || c == NULL ||
	    c->state == CL_CLOSED || c->state == CL_WAITING ||
	    evbuffer_get_length(fc->sent) > 0 || fc->owed_n == 0)
		return;
	fprintf(stderr, "fuzz: client %llu is still owed %u answers, the "
	    "oldest '%c'\n", (unsigned long long)fc->id, fc->owed_n,
	    owed_head(fc));
	abort();
}

/* Read what pgweir sent a client; check its framing when asked. */
static bool
peers_drain(struct fz_env *e)
{
	bool progress = false;

	for (int i = 0; i < e->n_clients; i++) {
		struct fz_client *fc = &e->clients[i];
		size_t limit = e->opts.slow_clients ? 4096 : (size_t)1 << 30;
		int n;

		if (fc->peer < 0)
			continue;
		while (limit > 0 && (n = evbuffer_read(fc->seen, fc->peer,
		    limit < 65536 ? (int)limit : 65536)) > 0) {
			limit -= (size_t)n;
			progress = true;
		}
		/* frames: type, Int32 length >= 4; drop what was checked */
		while (evbuffer_get_length(fc->seen) > 0) {
			uint8_t head[5];
			uint32_t len;
			if (fc->in_startup || !fc->frames) {
				evbuffer_drain(fc->seen,
				    evbuffer_get_length(fc->seen));
				break;
			}
			if (evbuffer_get_length(fc->seen) < 5)
				break;
			evbuffer_copyout(fc->seen, head, 5);
			len = proto_get_u32(head + 1);
			if (len < 4) {
				fprintf(stderr, "fuzz: pgweir sent a message "
				    "of type 0x%02x with length %u to a "
				    "client\n", head[0], len);
				abort();
			}
			if (evbuffer_get_length(fc->seen) < 1 + (size_t)len)
				break;
			if (fz_trace)
				fprintf(stderr, "fuzz: client %d got '%c'\n", i,
				    head[0]);
			if (fc->counting)
				answer_seen(fc, head[0]);
			if (fc->n_got < sizeof(fc->got) - 1) {
				fc->got[fc->n_got++] = (char)head[0];
				fc->got[fc->n_got] = '\0';
			}
			evbuffer_drain(fc->seen, 1 + (size_t)len);
		}
	}
	return progress;
}

/* A new client connection, accepted by pgweir. */
struct fz_client *
fz_client_open(struct fz_env *e, bool unix_peer)
{
	struct fz_client *fc;
	struct client *c;
	int sv[2];
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} addr;

	if (e->n_clients == FZ_CLIENTS_MAX)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0) {
		perror("socketpair");
		abort();
	}
	memset(&addr, 0, sizeof(addr));
	if (unix_peer) {
		addr.un.sun_family = AF_UNIX;
	} else {
		addr.in.sin_family = AF_INET;
		addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.in.sin_port = htons((uint16_t)(40000 + e->n_clients));
	}
	c = client_accept(&e->pw, sv[0], &addr.sa, sizeof(addr));
	if (c == NULL) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	fc = &e->clients[e->n_clients++];
	fc->id = c->id;
	fc->peer = sv[1];
	fc->seen = evbuffer_new();
	fc->sent = evbuffer_new();
	fc->frames = e->opts.check_frames;
	fc->in_startup = true;
	return fc;
}

/* Write bytes as the client, through its socket (the real read path). */
void
fz_client_write(struct fz_env *e, struct fz_client *fc, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	int turns = 0;

	while (len > 0 && fc->peer >= 0 && turns < FZ_PUMP_TURNS) {
		ssize_t n = write(fc->peer, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			/* the socket is full: let pgweir read some */
			turns++;
			event_base_loop(e->pw.base, EVLOOP_NONBLOCK);
			pg_poll(e);
			peers_drain(e);
			{
				struct client *c = fz_client_get(e, fc);
				if (c == NULL || c->state == CL_CLOSED ||
				    !c->io.want_read) {
					fc->model_off = true;
					return;	/* nobody reads: drop */
				}
			}
			continue;
		}
		return;
	}
}

/*
 * Start a client's session: StartupMessage, then turns of the loop until
 * it is logged in.  Returns 0 when it is (state idle), -1 if not.
 */
int
fz_client_login(struct fz_env *e, struct fz_client *fc, const char *db,
    const char *user, const char *const *params)
{
	struct evbuffer *b = evbuffer_new();
	struct client *c;

	fz_add_startup(b, user, db, params);
	fz_client_write(e, fc, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	fc->in_startup = false;
	fz_pump(e);
	c = fz_client_get(e, fc);
	fc->counting = e->opts.check_answers && !e->opts.slow_clients;
	return c != NULL && c->state == CL_IDLE ? 0 : -1;
}

/*
 * Put bytes in a client's input as if read from its socket, and do what
 * client_io_cb() would with them.  A client that is not reading (paused
 * by backpressure, or SUSPEND) would not have read them, and one that gave
 * its buffers back would take new ones first; the bytes go through the
 * socket instead.
 */
void
fz_client_inject(struct fz_env *e, struct fz_client *fc, const void *data,
    size_t len)
{
	struct client *c = fz_client_get(e, fc);

	if (c == NULL || c->state == CL_CLOSED || len == 0)
		return;
	if (fc->counting)
		answer_owed(fc, data, len);
	if (c->state == CL_LOGIN || !c->io.want_read || c->io.in == NULL) {
		fz_client_write(e, fc, data, len);
		return;
	}
	evbuffer_add(c->io.in, data, len);
	if (c->state == CL_WELCOME) {
		if (io_in_pending(&c->io) > RELAY_IN_UNLINKED_MAX) {
			c->read_paused = true;
			io_set_read(&c->io, false);
		}
		return;
	}
	if (c->admin)
		admin_handle_input(c);
	else
		relay_client(c);
}

/* Send a CancelRequest for a client, on a new connection. */
void
fz_client_cancel(struct fz_env *e, const struct fz_client *target)
{
	struct client *t = fz_client_get(e, target);
	struct fz_client *fc;
	uint8_t req[16];

	if (t == NULL || t->state == CL_CLOSED)
		return;
	proto_put_u32(req, 16);
	proto_put_u32(req + 4, PQ_CANCEL_REQUEST);
	proto_put_u32(req + 8, t->slot);
	proto_put_u32(req + 12, t->cancel_key);
	fc = fz_client_open(e, false);
	if (fc == NULL)
		return;
	fz_client_write(e, fc, req, sizeof(req));
}

/* Close the client's end of its socket, as a client that goes away. */
void
fz_client_hangup(struct fz_env *e, struct fz_client *fc)
{
	if (fc == NULL || fc->peer < 0)
		return;
	close(fc->peer);
	fc->peer = -1;
	fz_pump(e);
}

/* Check this client's answers from now on, whatever the options say. */
void
fz_client_expect_answers(struct fz_client *fc)
{
	if (fc != NULL)
		fc->counting = true;
}

/* ---- servers ---- */

/* A logged-in server: linked first, then tested, then idle; or NULL. */
struct server *
fz_server_any(struct fz_env *e)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &e->pw.pools, entry) {
		struct server_list *lists[] = { &pool->active_servers,
			&pool->tested_servers, &pool->idle_servers };
		for (int i = 0; i < 3; i++)
			if (!TAILQ_EMPTY(lists[i]))
				return TAILQ_FIRST(lists[i]);
	}
	return NULL;
}

/*
 * Put bytes in a logged-in server's input as if read from its socket and
 * run the relay, as server_io_cb() would; not while it is not reading.  A
 * server that gave its buffers back gets them through its socket.
 */
void
fz_server_inject(struct fz_env *e, struct server *server, const void *data,
    size_t len)
{
	if (server == NULL || server->state == SV_CLOSED ||
	    server->state == SV_CONNECTING || !server->io.want_read ||
	    len == 0)
		return;
	if (server->io.in == NULL) {
		for (int i = 0; i < FZ_PG_CONNS_MAX; i++) {
			struct fz_pgconn *c = &e->pg[i];
			if (c->in != NULL && !c->closing &&
			    c->pid == server->backend_pid) {
				evbuffer_add(c->out, data, len);
				fz_pump(e);
				return;
			}
		}
		return;
	}
	evbuffer_add(server->io.in, data, len);
	relay_server(server);
}

/* ---- the environment ---- */

/*
 * Run the loop and both fakes until nothing moves: libevent's callbacks,
 * the fake servers' answers, the clients' reading.
 */
void
fz_pump(struct fz_env *e)
{
	int idle = 0;

	for (int turn = 0; turn < FZ_PUMP_TURNS && idle < 2; turn++) {
		bool progress;

		event_base_loop(e->pw.base, EVLOOP_NONBLOCK);
		progress = pg_poll(e);
		progress |= peers_drain(e);
		idle = progress ? 0 : idle + 1;
	}
}

/* The pgweir of an environment. */
struct pgweir *
fz_pw(struct fz_env *e)
{
	return &e->pw;
}

/* The config text of an environment. */
static char *
fz_config_text(const struct fz_opts *o)
{
	static const char *const modes[] = { "session", "transaction",
		"statement" };
	struct evbuffer *b = evbuffer_new();
	char *text;
	size_t n;

	evbuffer_add_printf(b,
	    "[databases]\n"
	    "db = host=%s port=5432\n"
	    "dbf = host=%s dbname=db user=fz\n"
	    "dbp = host=%s dbname=db user=fz "
	    "password=md5ecf6b0ce462868565e78a0695028beb9\n"
	    "* = host=%s\n"
	    "[users]\n"
	    "alice = pool_mode=session\n"
	    "bob = pool_mode=statement max_user_connections=1\n"
	    "[pgweir]\n"
	    "pool_mode = %s\n"
	    "default_pool_size = %d\n"
	    "max_prepared_statements = %d\n"
	    "max_client_prepared_statements = 8\n"
	    "auth_type = %s\n"
	    "auth_file = %s/userlist.txt\n"
	    "admin_users = admin\n"
	    "stats_users = stats\n"
	    "admin_db_aliases = pgbouncer\n"
	    "scram_iterations = 16\n"
	    "log_connections = 1\n"
	    "log_disconnections = 1\n"
	    "log_pooler_errors = 1\n"
	    "ignore_startup_parameters = extra_float_digits\n"
	    "unix_socket_dir = %s\n",
	    fz_global.dir, fz_global.dir, fz_global.dir, fz_global.dir,
	    modes[o->pool_mode % 3], o->pool_size, o->max_prepared,
	    o->hba ? "hba" : config_auth_type_name(o->auth_type), fz_global.dir,
	    fz_global.dir);
	if (o->hba)
		evbuffer_add_printf(b, "auth_hba_file = %s/hba.conf\n",
		    fz_global.dir);
	if (o->tls || (!o->hba && o->auth_type == AUTH_CERT))
		evbuffer_add_printf(b, "client_tls_sslmode = allow\n"
		    "client_tls_key_file = %s/server.key\n"
		    "client_tls_cert_file = %s/server.crt\n",
		    fz_global.dir, fz_global.dir);
	if (o->extra)
		evbuffer_add_printf(b, "%s\n", o->extra);
	n = evbuffer_get_length(b);
	text = malloc(n + 1);
	if (text == NULL)
		abort();
	evbuffer_remove(b, text, n);
	text[n] = '\0';
	evbuffer_free(b);
	return text;
}

/* Build a pgweir as main() does, without listeners, signals or DNS. */
struct fz_env *
fz_env_new(const struct fz_opts *o)
{
	struct fz_env *e;
	struct pgweir *pw;
	struct config_error err;
	char *text, msg[512], path[208];

	fz_global_init();
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	e->opts = *o;
	for (int i = 0; i < FZ_PG_CONNS_MAX; i++)
		e->pg[i].fd = -1;
	pw = &e->pw;
	TAILQ_INIT(&pw->databases);
	TAILQ_INIT(&pw->users);
	TAILQ_INIT(&pw->pools);
	TAILQ_INIT(&pw->login_clients);
	TAILQ_INIT(&pw->dead_clients);
	TAILQ_INIT(&pw->dead_servers);
	TAILQ_INIT(&pw->cancels);
	text = fz_config_text(o);
	pw->cfg = config_load_string(text, "fuzz.ini", &err);
	if (pw->cfg == NULL) {
		fprintf(stderr, "fuzz: bad harness config: %s\n%s", err.msg,
		    text);
		abort();
	}
	snprintf(path, sizeof(path), "%s/pgweir.ini", fz_global.dir);
	if (o->reload_file)
		fz_write_file("pgweir.ini", text);
	free(text);
	pw->config_path = strdup(path);
	pw->cmd_quiet = getenv("PGWEIR_FUZZ_LOG") == NULL;
	pw->cmd_verbose = 2;
	pw->timeouts_active = deadline_timeouts_in_use(pw->cfg);
	pw->auth = authfile_parse(fz_authfile, "userlist.txt", msg,
	    sizeof(msg));
	if (o->hba)
		pw->hba = hba_parse(fz_hba, "hba.conf", NULL, msg,
		    sizeof(msg));
	if (pw->auth == NULL || (o->hba && pw->hba == NULL) ||
	    tls_build(pw->cfg, &pw->tls, msg, sizeof(msg)) < 0 ||
	    prepared_init(pw) < 0 ||
	    varcache_init(&pw->vars, pw->cfg->track_extra_parameters) < 0) {
		fprintf(stderr, "fuzz: set-up failed: %s\n", msg);
		abort();
	}
	memset(pw->auth_mock_key, 0x5a, sizeof(pw->auth_mock_key));
	pw->base = event_base_new();
	pw->authquery = pw->base ? authquery_new(pw->base) : NULL;
	if (pw->authquery == NULL)
		abort();
	event_assign(&pw->reap_ev, pw->base, -1, 0, pgweir_reap_cb, pw);
	event_assign(&pw->stats_ev, pw->base, -1, EV_PERSIST,
	    pgweir_stats_cb, pw);
	pw->started = pgweir_now_usec(pw);
	return e;
}

/* Close every connection and free everything, as main()'s teardown. */
void
fz_env_free(struct fz_env *e)
{
	struct pgweir *pw = &e->pw;
	struct pool *pool;
	struct client *c;
	int fd;

	fz_pump(e);
	for (int i = 0; i < e->n_clients; i++)
		answer_check(e, &e->clients[i]);
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct server *s;
		struct client_list *cl[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };
		for (size_t i = 0; i < 4; i++)
			while ((c = TAILQ_FIRST(cl[i])) != NULL)
				client_close(c, "fuzz teardown");
		while ((s = TAILQ_FIRST(&pool->idle_servers)) ||
		    (s = TAILQ_FIRST(&pool->connecting_servers)) ||
		    (s = TAILQ_FIRST(&pool->tested_servers)) ||
		    (s = TAILQ_FIRST(&pool->active_servers)))
			server_close(s, "fuzz teardown");
	}
	while ((c = TAILQ_FIRST(&pw->login_clients)) != NULL)
		client_close(c, "fuzz teardown");
	/* let cancel connections finish (they free themselves) */
	for (int i = 0; i < 4; i++) {
		event_base_loop(pw->base, EVLOOP_NONBLOCK);
		pg_poll(e);
	}
	pgweir_reap_cb(-1, 0, pw);
	pgweir_free_runtime(pw);
	event_del(&pw->reap_ev);
	event_del(&pw->stats_ev);
	event_base_free(pw->base);
	config_unref(pw->cfg);
	free(pw->config_path);
	for (int i = 0; i < e->n_clients; i++) {
		if (e->clients[i].peer >= 0)
			close(e->clients[i].peer);
		evbuffer_free(e->clients[i].seen);
		evbuffer_free(e->clients[i].sent);
	}
	for (int i = 0; i < FZ_PG_CONNS_MAX; i++)
		pg_close(&e->pg[i]);
	while ((fd = accept(fz_global.listen_fd, NULL, NULL)) >= 0)
		close(fd);
	free(e);
}
