/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: two clients sharing one server, and the oracle that
 * neither ever gets a byte meant for the other.
 *
 * Two clients log in to the same pool (default_pool_size = 1, transaction
 * mode unless byte 0 says otherwise), so the one server of the fake
 * PostgreSQL moves between them at every transaction end.  The fake
 * server echoes each statement: its text comes back in a NoticeResponse
 * before the answer and in the DataRow.  Each client's statements carry a
 * marker of its own ("@c0@" or "@c1@"), so anything pgweir relays to the
 * wrong client -- a late row, a notice, an error, a leftover answer after
 * the server was handed on -- shows up as the other's marker in what the
 * client received, and the target aborts.  Inputs that spell a marker
 * themselves are skipped.
 *
 * Input: byte 0: bits 0-1 pool mode (0, 3: transaction; 1: session; 2:
 * statement), bit 2 prepared statements (max_prepared_statements = 2),
 * bits 3-4 the fake server fails every 0/2/3/5th request, bit 5 clients
 * that read slowly.  Then operations, each one byte: bit 0 which client,
 * bit 1 whether the loop turns after it, bits 2-7 what: a Query, BEGIN,
 * COMMIT, a big result, Parse/Bind/Execute/Sync with a named or unnamed
 * statement, a pipeline with no Sync yet, a lone Sync, a COPY, a
 * CancelRequest, a hang-up (the client comes back as a new one), or raw
 * bytes: the next byte says how many of the following bytes to send as
 * they are.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/config.h"
#include "pgweir/proto.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MARK_BASE "@c"		/* markers are "@c0@" and "@c1@" */
#define MAX_OPS 64

/* The two clients and what each has been sent, by marker. */
struct pair {
	struct sim *e;			/* the runtime */
	struct sim_client *fc[2];	/* the clients, or NULL */
	struct evbuffer *out;		/* a message being built */
	unsigned n;			/* statements built, for unique text */
};

/* A statement of client k: "SELECT '@ck@ n' <what>". */
static void
statement(struct pair *p, int k, const char *what, char *sql, size_t len)
{
	snprintf(sql, len, "SELECT '%s%d@ %u'%s", MARK_BASE, k, p->n++, what);
}

/* Append a Query of client k. */
static void
add_query(struct pair *p, int k, const char *what)
{
	char sql[96];

	if (strncmp(what, "BEGIN", 5) == 0 || strncmp(what, "COMMIT", 6) == 0)
		snprintf(sql, sizeof(sql), "%s /* %s%d@ */", what, MARK_BASE,
		    k);
	else
		statement(p, k, what, sql, sizeof(sql));
	sim_add_msg(p->out, PQMSG_QUERY, sql, strlen(sql) + 1);
}

/* Append Parse (named or not), Bind, Execute and, if asked, Sync. */
static void
add_extended(struct pair *p, int k, bool named, bool sync)
{
	static const uint8_t exec[5] = { 0, 0, 0, 0, 0 };
	char sql[96], name[16];

	statement(p, k, "", sql, sizeof(sql));
	if (named)
		snprintf(name, sizeof(name), "s%u", p->n % 3);
	else
		name[0] = '\0';
	sim_add_parse(p->out, name, sql);
	sim_add_bind(p->out, name);
	sim_add_msg(p->out, PQMSG_EXECUTE, exec, sizeof(exec));
	if (sync)
		sim_add_msg(p->out, PQMSG_SYNC, NULL, 0);
}

/* A client (again): open, log in, keep what it receives. */
static struct sim_client *
client_new(struct sim *e)
{
	struct sim_client *fc = sim_client_open(e, false);

	if (fc == NULL)
		return NULL;
	sim_client_keep(fc);
	if (sim_client_login(e, fc, "db", "u1", NULL) < 0)
		return NULL;
	return fc;
}

/* What a client received, printable, to see how a marker got there. */
static void
dump_received(struct evbuffer *all)
{
	size_t n = evbuffer_get_length(all);
	const unsigned char *b = evbuffer_pullup(all, -1);

	fprintf(stderr, "fuzz: what it received (%zu bytes):\n", n);
	for (size_t i = 0; i < n; i++)
		fputc(b[i] >= 32 && b[i] < 127 ? b[i] : '.', stderr);
	fputc('\n', stderr);
}

/* Abort if client k received the other client's marker. */
static void
check(struct pair *p, int k)
{
	struct sim_client *fc = p->fc[k];
	char other[8];
	struct evbuffer_ptr at;

	if (fc == NULL || fc->all == NULL)
		return;
	snprintf(other, sizeof(other), "%s%d@", MARK_BASE, 1 - k);
	at = evbuffer_search(fc->all, other, strlen(other), NULL);
	if (at.pos >= 0) {
		fprintf(stderr, "fuzz: client %d received client %d's bytes "
		    "(at offset %zd)\n", k, 1 - k, (ssize_t)at.pos);
		dump_received(fc->all);
		abort();
	}
	/* keep only a tail that a marker could still straddle */
	if (evbuffer_get_length(fc->all) > 4096)
		evbuffer_drain(fc->all, evbuffer_get_length(fc->all) - 8);
}

/* One operation of the input; returns how many more bytes it used. */
static size_t
run_op(struct pair *p, uint8_t op, const uint8_t *rest, size_t n_rest)
{
	int k = op & 1;
	size_t used = 0;

	if (p->fc[k] == NULL)
		return 0;
	switch ((op >> 2) % 12) {
	case 0:
		add_query(p, k, "");
		break;
	case 1:
		add_query(p, k, "BEGIN");
		break;
	case 2:
		add_query(p, k, "COMMIT");
		break;
	case 3:
		add_query(p, k, " big");
		break;
	case 4:
		add_extended(p, k, false, true);
		break;
	case 5:
		add_extended(p, k, true, true);
		break;
	case 6:
		add_extended(p, k, op & 128, false);
		break;
	case 7:
		sim_add_msg(p->out, PQMSG_SYNC, NULL, 0);
		break;
	case 8:
		add_query(p, k, " FROM t; COPY t FROM STDIN");
		sim_add_msg(p->out, PQMSG_COPY_DATA, "1\n", 2);
		if (op & 128)
			sim_add_msg(p->out, PQMSG_COPY_DONE, NULL, 0);
		break;
	case 9:
		sim_client_cancel(p->e, p->fc[k]);
		break;
	case 10:
		sim_client_hangup(p->e, p->fc[k]);
		p->fc[k] = client_new(p->e);
		break;
	default:
		if (n_rest > 0) {
			used = 1 + (rest[0] < n_rest - 1 ? rest[0] :
			    n_rest - 1);
			evbuffer_add(p->out, rest + 1, used - 1);
		}
		break;
	}
	if (evbuffer_get_length(p->out) > 0 && p->fc[k] != NULL) {
		sim_client_inject(p->e, p->fc[k], evbuffer_pullup(p->out, -1),
		    evbuffer_get_length(p->out));
		evbuffer_drain(p->out, evbuffer_get_length(p->out));
	}
	if (op & 2)
		sim_pump(p->e);
	return used;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned every[] = { 0, 2, 3, 5 };
	static const int modes[] = { POOL_TRANSACTION, POOL_SESSION,
		POOL_STATEMENT, POOL_TRANSACTION };
	struct sim_opts o;
	struct pair p;
	int ops = 0;

	if (size < 1 || sim_contains_ci(data, size, MARK_BASE))
		return 0;
	memset(&o, 0, sizeof(o));
	o.pool_mode = modes[data[0] & 3];
	o.max_prepared = (data[0] & 4) ? 2 : 0;
	o.pool_size = 1;
	o.auth_type = AUTH_TRUST;
	o.error_every = every[(data[0] >> 3) & 3];
	o.slow_clients = (data[0] & 32) != 0;
	o.check_frames = true;
	o.echo = true;
	o.big_rows = 600;	/* 60 kB: past a socket's buffer, and quick */
	memset(&p, 0, sizeof(p));
	p.e = sim_open(&o);
	p.out = evbuffer_new();
	p.fc[0] = client_new(p.e);
	p.fc[1] = client_new(p.e);
	for (size_t off = 1; off < size && ops < MAX_OPS; off++, ops++) {
		off += run_op(&p, data[off], data + off + 1, size - off - 1);
		check(&p, 0);
		check(&p, 1);
	}
	sim_pump(p.e);
	check(&p, 0);
	check(&p, 1);
	evbuffer_free(p.out);
	sim_close(p.e);
	return 0;
}
