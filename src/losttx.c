/* SPDX-License-Identifier: ISC */
/*
 * A transaction lost with its server (see losttx.h).
 *
 * PostgreSQL, after an error inside a transaction block, refuses every
 * statement with 25P02 until the block ends, and answers COMMIT as well
 * as ROLLBACK with ROLLBACK.  A client whose server died while it sat in
 * a transaction is put in that state, here, without a server: its first
 * request gets 08006 (the server connection was lost, the transaction
 * rolled back), the next ones 25P02, and ROLLBACK, ABORT, COMMIT or END
 * (simple query, or an unnamed statement through Parse/Bind/Execute/Sync)
 * ends it; then the client is an ordinary idle client again.  Nothing it
 * sent after the loss reaches a server, so none of its transaction's
 * later statements can run outside the transaction.
 *
 * This module keeps the client's lost-transaction flags and writes the
 * answers into its output; it never calls into the core: server.c moves
 * the client to idle (and logs) when the loss begins, relay.c flushes the
 * answers and logs when the transaction ends.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/io.h"
#include "pgweir/losttx.h"
#include "pgweir/proto.h"
#include "pgweir/server.h"

/* Longest statement text read to see whether it ends the transaction. */
#define LOSTTX_TEXT_MAX 1024

/*
 * Whether a client keeps its connection when its server goes: transaction
 * or statement pooling, the server inside a transaction (its last
 * ReadyForQuery said so), and nothing of the client's on the way (no
 * request unanswered, no message half sent), so that the loss is exactly
 * "the transaction is gone"; and PostgreSQL did not tell the client
 * itself that its session ends (a FATAL it forwarded).  Otherwise the
 * client is closed, as PgBouncer does.
 */
bool
losttx_keep_client(const struct client *client, const struct server *server,
    enum pool_mode mode)
{
	return client->state == CL_ACTIVE && mode != POOL_SESSION &&
	    client->replication == PQ_REPL_NONE && server->logged_in &&
	    (server->tx_status == 'T' || server->tx_status == 'E') &&
	    rq_empty(&server->rq) && client->pkt_remain == 0 &&
	    !client->discard_until_sync && !server->ended_unasked;
}

/* The client's server went away inside its transaction (the caller
 * makes it idle). */
void
losttx_begin(struct client *client)
{
	client->tx_lost = true;
	client->tx_lost_told = false;
	client->lost_parsed_end = false;
	client->lost_rolled_back = false;
	client->lost_batch_failed = false;
}

/* The next word of sql at *p (letters only), upper-cased into w. */
static bool
next_word(const char **p, char *w, size_t wlen)
{
	size_t n = 0;

	while (isspace((unsigned char)**p))
		(*p)++;
	while (isalpha((unsigned char)**p)) {
		if (n + 1 >= wlen)
			return false;
		w[n++] = (char)toupper((unsigned char)**p);
		(*p)++;
	}
	w[n] = '\0';
	return true;
}

/*
 * ROLLBACK, ABORT, COMMIT or END, with WORK or TRANSACTION and a
 * semicolon allowed after it, and nothing else: what ends an aborted
 * transaction.  ROLLBACK TO SAVEPOINT and AND CHAIN would need the lost
 * transaction, so they are not.
 */
bool
losttx_is_end_statement(const char *sql)
{
	static const char *const ends[] = { "ROLLBACK", "ABORT", "COMMIT",
		"END" };
	const char *p = sql;
	char w[16];
	bool found = false;

	if (!next_word(&p, w, sizeof(w)))
		return false;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		found |= strcmp(w, ends[i]) == 0;
	if (!found || !next_word(&p, w, sizeof(w)))
		return false;
	if (strcmp(w, "WORK") == 0 || strcmp(w, "TRANSACTION") == 0) {
		if (!next_word(&p, w, sizeof(w)))
			return false;
	}
	if (w[0] != '\0')
		return false;
	while (isspace((unsigned char)*p) || *p == ';')
		p++;
	return *p == '\0';
}

/* The error for a request in the lost transaction: why, the first time. */
static void
lost_error(struct client *client)
{
	struct evbuffer *out = io_wbuf(&client->io);

	if (!client->tx_lost_told)
		proto_build_error(out, "ERROR", SQLSTATE_CONNECTION_FAILURE,
		    "the server connection was lost inside the transaction, "
		    "which was rolled back; end it with ROLLBACK", NULL);
	else
		proto_build_error(out, "ERROR", "25P02", "current transaction "
		    "is aborted, commands ignored until end of transaction "
		    "block", NULL);
	client->tx_lost_told = true;
}


/*
 * The statement text of a Query or Parse at the head of the input, into
 * buf (NUL-terminated, cut at LOSTTX_TEXT_MAX), and for Parse whether its
 * statement is the unnamed one.
 */
static void
read_statement(struct client *client, const struct pq_header *hdr,
    char *buf, size_t buflen, bool *unnamed)
{
	size_t len = hdr->len - 4, take = len < buflen - 1 ? len : buflen - 1;
	const char *sql = buf;

	(void)proto_copyout_at(client->io.in, PQ_HEADER_LEN, buf, take);
	buf[take] = '\0';
	*unnamed = true;
	if (hdr->type == PQMSG_PARSE) {
		/* name \0 query \0 ... */
		size_t n = strnlen(buf, take);
		*unnamed = n == 0;
		sql = n < take ? buf + n + 1 : "";
		memmove(buf, sql, strlen(sql) + 1);
	}
}

/*
 * One message of a client in a lost transaction, answered here (into
 * its output; the caller flushes).  Only whole Query and Parse messages
 * are looked into; anything else is dropped (the rest of a big one as it
 * comes, through pkt_discard).
 */
enum losttx_step
losttx_on_message(struct client *client, const struct pq_header *hdr,
    size_t avail)
{
	struct evbuffer *out = io_wbuf(&client->io);
	size_t total = 1 + (size_t)hdr->len;
	char sql[LOSTTX_TEXT_MAX + 1], what = 'P';
	bool unnamed = true, end = false, looked = false;
	uint8_t type = hdr->type;

	if ((type == PQMSG_QUERY || type == PQMSG_PARSE) &&
	    !client->lost_batch_failed) {
		if (total > avail && hdr->len - 4 <= LOSTTX_TEXT_MAX)
			return LOSTTX_WAIT;
		if (total <= avail) {
			read_statement(client, hdr, sql, sizeof(sql),
			    &unnamed);
			end = losttx_is_end_statement(sql);
			looked = true;
		}
	}
	if (type == PQMSG_DESCRIBE && avail > PQ_HEADER_LEN)
		(void)proto_copyout_at(client->io.in, PQ_HEADER_LEN, &what, 1);
	if (total > avail) {
		evbuffer_drain(client->io.in, avail);
		client->pkt_discard = (uint32_t)(total - avail);
	} else {
		evbuffer_drain(client->io.in, total);
	}
	if (client->lost_batch_failed && type != PQMSG_SYNC)
		return LOSTTX_DONE;	/* after an error, up to Sync */
	switch (type) {
	case PQMSG_QUERY:
		if (looked && end) {
			proto_build_command_complete(out, "ROLLBACK");
			proto_build_ready_for_query(out, 'I');
			client->tx_lost = false;	/* ordinary again */
		} else {
			lost_error(client);
			proto_build_ready_for_query(out, 'E');
		}
		break;
	case PQMSG_PARSE:
		if (looked && end && unnamed) {
			client->lost_parsed_end = true;
			proto_build_simple(out, PQMSG_PARSE_COMPLETE);
		} else {
			lost_error(client);
			client->lost_batch_failed = true;
		}
		break;
	case PQMSG_BIND:
	case PQMSG_EXECUTE:
	case PQMSG_DESCRIBE:
		if (!client->lost_parsed_end) {
			lost_error(client);
			client->lost_batch_failed = true;
		} else if (type == PQMSG_BIND) {
			proto_build_simple(out, PQMSG_BIND_COMPLETE);
		} else if (type == PQMSG_DESCRIBE) {
			/* a statement has its parameters (none) first */
			static const uint8_t none[2] = { 0, 0 };
			if (what == 'S')
				proto_build_message(out,
				    PQMSG_PARAMETER_DESCRIPTION, none, 2);
			proto_build_simple(out, PQMSG_NO_DATA);
		} else {
			proto_build_command_complete(out, "ROLLBACK");
			client->lost_rolled_back = true;
		}
		break;
	case PQMSG_CLOSE:
		proto_build_simple(out, PQMSG_CLOSE_COMPLETE);
		break;
	case PQMSG_FLUSH:
		break;
	case PQMSG_SYNC:
		client->lost_batch_failed = false;
		client->lost_parsed_end = false;
		proto_build_ready_for_query(out, client->lost_rolled_back ?
		    'I' : 'E');
		if (client->lost_rolled_back)
			client->tx_lost = false;	/* ordinary again */
		client->lost_rolled_back = false;
		break;
	case PQMSG_FUNCTION_CALL:
		lost_error(client);
		proto_build_ready_for_query(out, 'E');
		break;
	default:
		lost_error(client);
		client->lost_batch_failed = true;
		break;
	}
	return client->tx_lost ? LOSTTX_DONE : LOSTTX_ENDED;
}
