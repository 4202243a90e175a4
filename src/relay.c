/* SPDX-License-Identifier: ISC */
/*
 * Moving messages between a linked client and server.
 *
 * Both directions work the same way: walk the input buffer message by
 * message reading only the 5-byte header (and the body of the few small
 * messages we must understand), count the bytes that go through, and move
 * them to the peer's output in one evbuffer_remove_buffer/add_buffer call,
 * which passes whole chains without copying.  A message larger than what
 * has arrived is streamed: its head goes now, pkt_remain counts the rest.
 *
 * The request queue (server->rq, src/rqueue.c) mirrors what the server
 * still owes the client, in order.  A server is released in transaction
 * mode only when it says it is idle ('I') and the queue is empty, which is
 * what makes pipelining safe.  Answers to pgweir's own queries (RQ_INTERNAL)
 * are swallowed.  Callers: client.c and server.c on readable input, pool.c
 * after linking.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/losttx.h"
#include "pgweir/pool.h"
#include "pgweir/prepared.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/server.h"
#include "pgweir/serverhost.h"
#include "pgweir/stats.h"

/* Largest ParameterStatus or ErrorResponse we read whole. */
#define SMALL_MSG_MAX (64 * 1024)

/* Move the first n bytes of src to dst, whole chains where possible. */
static int
move_bytes(struct evbuffer *src, struct evbuffer *dst, size_t n)
{
	if (n == 0)
		return 0;
	if (n == evbuffer_get_length(src))
		return evbuffer_add_buffer(dst, src);
	return evbuffer_remove_buffer(src, dst, n) == (int)n ? 0 : -1;
}

/* prepared.c is told of its entries that leave the queue. */
static void
entry_popped(void *arg, uint8_t type, void *data, bool answered)
{
	struct server *server = arg;

	if (answered)
		prepared_entry_done(server, type, data);
	else
		prepared_entry_skipped(server, type, data);
}

/* An answer that completes the head if it is a request of that type. */
static void
relay_complete(struct server *server, uint8_t type)
{
	rq_complete(&server->rq, type, entry_popped, server);
}

/*
 * Account for one client message about to go to the server.  Returns false
 * when the queue is full (the caller stops and waits for answers).
 */
static bool
relay_take(struct server *server, uint8_t type)
{
	enum rq_take t = rq_take(&server->rq, type);

	if (t == RQ_TAKE_SYNC)
		prepared_on_sync(server);
	return t != RQ_TAKE_FULL;
}

/* Message types a client may send once logged in. */
static bool
client_type_ok(uint8_t type)
{
	switch (type) {
	case PQMSG_QUERY:
	case PQMSG_PARSE:
	case PQMSG_BIND:
	case PQMSG_DESCRIBE:
	case PQMSG_EXECUTE:
	case PQMSG_CLOSE:
	case PQMSG_SYNC:
	case PQMSG_FLUSH:
	case PQMSG_FUNCTION_CALL:
	case PQMSG_COPY_DATA:
	case PQMSG_COPY_DONE:
	case PQMSG_COPY_FAIL:
	case PQMSG_TERMINATE:
		return true;
	}
	return false;
}

/* Stop reading from the client until the server's output drains. */
static void
client_pause(struct client *client)
{
	if (!client->read_paused) {
		client->read_paused = true;
		io_set_read(&client->io, false);
	}
}

/*
 * Before a client is closed for bad input: the bytes counted so far end a
 * message whose head the server already has, so they go too; a server must
 * never be left (and reused) with half a message.
 */
static void
forward_counted(struct client *client, struct server *server, size_t fwd)
{
	if (server != NULL && fwd > 0) {
		move_bytes(client->io.in, server->io.out, fwd);
		server_flush(server);
	}
}

/*
 * Whether a Parse, Bind, Describe or Close at offset clearly names no
 * prepared statement (the unnamed one, or a portal), so it streams through
 * untouched like any other message: extended-protocol clients that never
 * name a statement (pgbench -M extended, most ORMs) then cost what they
 * cost without prepared-statement support.  Otherwise (a name, or too
 * little here to tell) prepared_client_message() decides.
 */
static bool
names_no_statement(struct pq_view *in, size_t offset,
    const struct pq_header *hdr)
{
	uint8_t b[2];

	/* two body bytes, both the message's own */
	if (hdr->len < 6 ||
	    !pq_view_copyout(in, offset + PQ_HEADER_LEN, b, sizeof(b)))
		return false;
	switch (hdr->type) {
	case PQMSG_PARSE:	/* statement name first */
		return b[0] == '\0';
	case PQMSG_BIND:	/* portal name, then statement name */
		return b[0] == '\0' && b[1] == '\0';
	default:		/* Describe, Close: 'S' or 'P', then a name */
		return b[0] == 'P' || b[1] == '\0';
	}
}

/*
 * After a pass over the client's input: read from it again if nothing
 * holds it back any more.  Without a server only the bound on what a
 * waiting client may buffer does; with one, a full request queue or the
 * server's unsent output (whose own resumes, on answers and on drained
 * output, stay in charge of those).  The bound has no event of its own:
 * it ends when the client gets a server, by whichever path links it, or
 * stops waiting, and each of those makes a pass.  A read left off here
 * would leave the client and its server waiting for each other for ever.
 */
static void
client_settle_read(struct client *client)
{
	struct server *server = client->link;
	bool held;

	if (!client->read_paused || client->state == CL_CLOSED)
		return;
	if (server == NULL)
		held = (client->state == CL_WAITING ||
		    client->state == CL_WELCOME) &&
		    io_in_pending(&client->io) > RELAY_IN_UNLINKED_MAX;
	else
		held = rq_full(&server->rq) ||
		    io_out_pending(&server->io) >= RELAY_OUT_LOW;
	if (held)
		return;
	client->read_paused = false;
	if (!client->pw->suspended)
		io_set_read(&client->io, true);
}

/* What one step over a message decided. */
enum step {
	STEP_ON,	/* go on with this message */
	STEP_NEXT,	/* on to the next message */
	STEP_WAIT,	/* stop this pass: wait for more input or answers */
	STEP_STOP,	/* the connection was closed, or released in a way
			 * that ends this pass */
};

/*
 * Whether a logged-in client may send this message here; if not, it is
 * closed (what it sent before still goes to its server).
 */
static bool
client_message_allowed(struct client *client, struct server *server,
    size_t fwd, int rc, const struct pq_header *hdr)
{
	const char *why;
	char msg[96];

	if (rc < 0 || !client_type_ok(hdr->type)) {
		snprintf(msg, sizeof(msg), "invalid message from client "
		    "(type 0x%02x)", hdr->type);
		why = msg;
	} else if (hdr->type == PQMSG_QUERY &&
	    client->pw->cfg->disable_pqexec) {
		/* PgBouncer's words; only the extended protocol */
		client_log(client, LOG_LVL_ERROR, "client used \"Query\" "
		    "packet type");
		why = "PQexec disallowed";
	} else if ((int64_t)hdr->len > client->pw->cfg->max_packet_size) {
		why = "message too large (max_packet_size)";
	} else {
		return true;
	}
	forward_counted(client, server, fwd);
	client_close_error(client, SQLSTATE_PROTOCOL_VIOLATION, why);
	return false;
}

/* A cancelled extended batch: drop the message; its Sync ends the batch. */
static enum step
client_discard_to_sync(struct client *client, const struct pq_header *hdr,
    size_t avail)
{
	struct evbuffer *in = client->io.in;
	size_t total = 1 + (size_t)hdr->len;

	if (total > avail) {
		evbuffer_drain(in, avail);
		client->pkt_discard = (uint32_t)(total - avail);
		return STEP_NEXT;
	}
	evbuffer_drain(in, total);
	if (hdr->type == PQMSG_SYNC) {
		client->discard_until_sync = false;
		proto_build_ready_for_query(client->io.out, 'I');
		if (client_flush(client) < 0)
			return STEP_STOP;
	}
	return STEP_NEXT;
}

/* A client whose transaction was lost with its server (losttx.c). */
static enum step
lost_transaction(struct client *client, struct pq_view *view,
    const struct pq_header *hdr, size_t avail)
{
	enum losttx_step r = losttx_on_message(client, hdr, avail);

	pq_view_init(view, client->io.in);
	if (r == LOSTTX_WAIT)
		return STEP_WAIT;
	if (r == LOSTTX_ENDED)
		client_log(client, LOG_LVL_LOG, "the lost transaction was "
		    "ended");
	return client_flush(client) < 0 ? STEP_STOP : STEP_NEXT;
}

/* prepared.c's verdict on a message, as a step (its input may move). */
static enum step
prepared_step(struct client *client, struct pq_view *view,
    enum ps_result r)
{
	pq_view_init(view, client->io.in);
	switch (r) {
	case PS_CLOSED:
		return STEP_STOP;
	case PS_WAIT:
		return STEP_WAIT;
	case PS_DONE:
		return STEP_NEXT;
	default:
		return STEP_ON;
	}
}

/*
 * A client without a server: prepared.c may answer a message naming a
 * statement itself (a Close of one the server never had).
 */
static enum step
unlinked_prepared(struct client *client, struct pq_view *view,
    const struct pq_header *hdr)
{
	enum step step = prepared_step(client, view,
	    prepared_unlinked_message(client, hdr));

	if (step == STEP_NEXT && client_flush(client) < 0)
		return STEP_STOP;
	return step;
}

/*
 * A message naming a prepared statement, on a linked server: prepared.c
 * rewrites or answers it.  What came before it goes first.
 */
static enum step
linked_prepared(struct client *client, struct server *server,
    struct pq_view *view, size_t *fwd, const struct pq_header *hdr,
    bool *need_flush)
{
	enum step step;

	if (*fwd > 0) {
		client->pool->stats->total.bytes_received += *fwd;
		move_bytes(client->io.in, server->io.out, *fwd);
		*fwd = 0;
	}
	step = prepared_step(client, view,
	    prepared_client_message(client, server, hdr));
	if (step == STEP_WAIT && rq_full(&server->rq)) {
		client_pause(client);
		*need_flush = server->rq.unsynced;
	} else if (step == STEP_NEXT) {
		prepared_emit_fakes(server);
	}
	return step;
}

/*
 * The client's next message needs a server: link one, or make the client
 * wait (at a message boundary, so nothing is counted yet).  Returns the
 * server, or NULL when the client waits or was closed.
 */
static struct server *
link_for_message(struct client *client)
{
	if (client->request_time <= client->idle_since)
		client->request_time = pgweir_mono_usec();
	if (!pool_acquire(client->pool, client)) {
		if (client->state == CL_WAITING &&
		    evbuffer_get_length(client->io.in) > RELAY_IN_UNLINKED_MAX)
			client_pause(client);
		return NULL;
	}
	return client->link;
}

/*
 * The end of a pass: the counted bytes go to the server in one move, and
 * a full queue whose server holds its answers gets a Flush.
 */
static void
client_pass_done(struct client *client, struct server *server, size_t fwd,
    bool need_flush)
{
	struct evbuffer *in = client->io.in;

	if (need_flush) {
		/*
		 * The queue is full and the server holds its answers until a
		 * Sync or Flush, which the client may only send after more
		 * than we take now: ask for them, or neither side moves.
		 */
		static const uint8_t flush_msg[5] = { PQMSG_FLUSH, 0, 0, 0, 4 };
		if (fwd > 0) {
			client->pool->stats->total.bytes_received += fwd;
			move_bytes(in, server->io.out, fwd);
			fwd = 0;
		}
		evbuffer_add(server->io.out, flush_msg, 5);
	}
	if (fwd == 0 && (server == NULL ||
	    io_out_pending(&server->io) == 0)) {
		if (client->link && io_out_pending(&client->io) > 0)
			client_flush(client);
		return;
	}
	if (client->pw->timeouts_active)
		client_update_deadline(client);
	client->pool->stats->total.bytes_received += fwd;
	if (fwd > 0 && move_bytes(in, server->io.out, fwd) < 0) {
		client_close(client, "out of memory");
		return;
	}
	if (io_out_pending(&client->io) > 0 && client_flush(client) < 0)
		return;
	if (server_flush(server) < 0)
		return;
	if (io_out_pending(&server->io) > RELAY_OUT_HIGH)
		client_pause(client);
}

/* Whether prepared.c must see this message (it names a statement). */
static bool
for_prepared(struct client *client, struct server *server,
    struct pq_view *view, size_t fwd, const struct pq_header *hdr)
{
	return (hdr->type == PQMSG_PARSE || hdr->type == PQMSG_BIND ||
	    hdr->type == PQMSG_DESCRIBE || hdr->type == PQMSG_CLOSE) &&
	    prepared_is_on(client) && !server->rq.discard_until_sync &&
	    !names_no_statement(view, fwd, hdr);
}

/* One pass of relay_client() over what the client has sent. */
static void
relay_client_pass(struct client *client)
{
	struct evbuffer *in = client->io.in;
	struct server *server = client->link;
	size_t fwd = 0;
	bool need_flush = false;
	struct pq_view view;

	if (in == NULL)
		return;
	pq_view_init(&view, in);
	for (;;) {
		size_t avail = evbuffer_get_length(in) - fwd, total;
		struct pq_header hdr;
		enum step step = STEP_ON;
		int rc;

		if (avail == 0)
			break;
		if (client->pkt_discard > 0) {
			/* the rest of a cancelled request (no server: fwd 0) */
			size_t take = avail < client->pkt_discard ? avail :
			    client->pkt_discard;
			evbuffer_drain(in, take);
			client->pkt_discard -= (uint32_t)take;
			continue;
		}
		if (client->pkt_remain > 0) {
			size_t take = avail < client->pkt_remain ? avail :
			    client->pkt_remain;
			fwd += take;
			client->pkt_remain -= (uint32_t)take;
			continue;
		}
		rc = pq_view_header(&view, fwd, &hdr);
		if (rc == 0)
			break;
		if (!client_message_allowed(client, server, fwd, rc, &hdr))
			return;
		if (hdr.type == PQMSG_TERMINATE) {
			forward_counted(client, server, fwd);
			client_close(client, "client sent Terminate");
			return;
		}
		if (client->discard_until_sync)
			step = client_discard_to_sync(client, &hdr, avail);
		else if (server == NULL && client->tx_lost)
			step = lost_transaction(client, &view, &hdr, avail);
		else if (server == NULL && prepared_is_on(client))
			step = unlinked_prepared(client, &view, &hdr);
		if (step == STEP_ON && server == NULL &&
		    (server = link_for_message(client)) == NULL)
			return;
		if (step == STEP_ON && for_prepared(client, server, &view, fwd,
		    &hdr))
			step = linked_prepared(client, server, &view, &fwd,
			    &hdr, &need_flush);
		if (step == STEP_ON && !relay_take(server, hdr.type)) {
			/* too many answers outstanding: wait for some */
			client_pause(client);
			need_flush = server->rq.unsynced;
			step = STEP_WAIT;
		}
		if (step == STEP_STOP)
			return;
		if (step == STEP_WAIT)
			break;
		if (step == STEP_NEXT)
			continue;
		if (client->request_time <= client->idle_since &&
		    hdr.type != PQMSG_FLUSH)
			/* the first message since the last answer */
			client->request_time = pgweir_mono_usec();
		total = 1 + (size_t)hdr.len;
		fwd += avail >= total ? total : avail;
		if (avail < total)
			client->pkt_remain = (uint32_t)(total - avail);
	}
	client_pass_done(client, server, fwd, need_flush);
}

/*
 * Forward what the client sent, linking it to a server first if needed,
 * and read from it again if it may.  May close the client or make it
 * wait; check its state after.
 */
void
relay_client(struct client *client)
{
	relay_client_pass(client);
	client_settle_read(client);
}

/* Move the bytes counted so far to the client (or nowhere if none). */
static void
flush_forward(struct server *server, struct client *client, size_t *fwd)
{
	if (*fwd == 0)
		return;
	if (client != NULL && client->state != CL_CLOSED) {
		server->pool->stats->total.bytes_sent += *fwd;
		move_bytes(server->io.in, client->io.out, *fwd);
	} else
		evbuffer_drain(server->io.in, *fwd);
	*fwd = 0;
}

/* Copy a small message's body out of the input at offset; NULL if huge. */
static char *
read_body(struct pq_view *in, size_t offset, size_t len, char *stackbuf,
    size_t stacklen)
{
	char *buf = len <= stacklen ? stackbuf : malloc(len);

	if (buf == NULL)
		return NULL;
	/* the caller has checked that the whole message is here */
	(void)pq_view_copyout(in, offset + PQ_HEADER_LEN, buf, len);
	return buf;
}

/* A ParameterStatus: the server's value changed, and so did the client's. */
static void
relay_on_ParameterStatus(struct server *server, const char *body,
    size_t len)
{
	struct pgweir *pw = server->pw;
	const char *name, *value;
	struct varset *vs;
	int idx;

	if (proto_parse_parameter_status(body, len, &name, &value) < 0)
		return;
	if (strcmp(name, "session_authorization") == 0 ||
	    strcmp(name, "is_superuser") == 0) {
		/* SET ROLE or SESSION AUTHORIZATION: not for the next client */
		server->role_changed = true;
		return;
	}
	if (strcmp(name, "in_hot_standby") == 0)
		server_on_hot_standby(server, value);
	idx = var_register(&pw->vars, name);
	if (idx < 0)
		return;
	vs = varset_with(&pw->vars, server->vars, idx, value);
	if (vs != NULL) {
		varset_release(&pw->vars, server->vars);
		server->vars = vs;
	}
	if (server->link != NULL) {
		struct client *client = server->link;
		const char *asked = client->vars->vals[idx];
		if (asked != NULL && strcmp(asked, value) != 0 &&
		    rq_head(&server->rq) == RQ_INTERNAL)
			/* the server's spelling of what we set, e.g. DateStyle
			 * ISO -> "ISO, MDY": the client takes it, so the next
			 * link sees no difference (PgBouncer's words) */
			server_log(server, LOG_LVL_DEBUG,
			    "varcache_set_canonical: setting %s to its "
			    "canonical version %s -> %s",
			    name, asked, value);
		vs = varset_with(&pw->vars, client->vars, idx, value);
		if (vs != NULL) {
			varset_release(&pw->vars, client->vars);
			client->vars = vs;
		}
	}
}

/* Length word of a CommandComplete with this tag. */
#define TAG_MSG_LEN(tag) (4 + sizeof(tag))

/*
 * Whether a CommandComplete may carry a tag the relay acts on (RESET,
 * DISCARD ALL, DEALLOCATE ALL): only those are read, the length says.
 */
static bool
is_reset_tag_len(uint32_t len)
{
	return len == TAG_MSG_LEN("RESET") ||
	    len == TAG_MSG_LEN("DISCARD ALL") ||
	    len == TAG_MSG_LEN("DEALLOCATE ALL");
}

/*
 * RESET, RESET ALL or DISCARD ALL ran for a linked client: parameters that
 * went back to the server's login values get the client's own login
 * values, as on a direct connection (one query of ours, queued behind the
 * client's; its ParameterStatus messages go to the client).  Returns -1
 * when the server was closed.
 */
static int
relay_restore_startup(struct server *server, struct client *client)
{
	struct evbuffer *sql = evbuffer_new();
	int n;

	client->reset_seen = false;
	n = sql ? varset_build_restore_query(&server->pw->vars,
	    client->reset_vars, server->reset_vars, sql) : -1;
	if (n > 0 && evbuffer_add(sql, "", 1) == 0) {
		server->restoring = true;
		server_send_internal(server,
		    (const char *)evbuffer_pullup(sql, -1));
	}
	if (sql)
		evbuffer_free(sql);
	return server->state == SV_CLOSED ? -1 : 0;
}

/* An ErrorResponse: what it does to the queue. */
static void
relay_on_ErrorResponse(struct server *server, const char *body, size_t len)
{
	struct request_queue *rq = &server->rq;
	uint8_t head = rq_head(rq);

	rq->copy_in = false;
	if (rq_empty(rq))
		/* unasked: PostgreSQL ends the session (a linked client
		 * hears it, and so closes with it: losttx_keep_client) */
		server->ended_unasked = true;
	if (rq_empty(rq) && server->link == NULL) {
		/*
		 * Unasked, on an idle server: PostgreSQL is ending the
		 * session (pg_terminate_backend, idle_session_timeout, a
		 * shutdown).  Never hand it out; its EOF follows.
		 */
		server->close_needed = true;
		return;
	}
	if (head == RQ_INTERNAL && server->restoring) {
		/* the transaction failed under it: RESET went with it */
		server_log(server, LOG_LVL_DEBUG, "startup values not restored "
		    "after RESET: the transaction had failed");
		return;
	}
	if (head == RQ_INTERNAL) {
		struct pq_error_fields f;
		const char *msg = "?";
		server->internal_failed = true;
		if (body && proto_parse_error(body, len, &f) == 0 && f.message)
			msg = f.message;
		server_log(server, LOG_LVL_WARNING, "query of pgweir's failed: "
		    "%.255s", msg);
		return;
	}
	(void)rq_on_error(rq, entry_popped, server);
}

/* ReadyForQuery: pop the request it answers. */
static void
relay_on_ReadyForQuery(struct server *server, char status)
{
	int unanswered;

	server->tx_status = status;
	unanswered = rq_on_ready(&server->rq, entry_popped, server);
	if (unanswered > 0 && !server->close_needed) {
		/*
		 * The server and our view of what it owes disagree: answers
		 * may still come after the queue says it is done.  It is never
		 * given to another client (it closes when released), so such
		 * answers can only reach the client they belong to.
		 */
		server_log(server, LOG_LVL_WARNING, "ReadyForQuery came before "
		    "the answers to %d requests: this connection is out of "
		    "step and closes when released", unanswered);
		server->close_needed = true;
	}
}

/*
 * A ReadyForQuery reached the client: its request is answered.  Note the
 * time (idle and transaction deadlines count from here) and whether a
 * transaction is open.
 */
static void
relay_answer_done(struct client *client, char status)
{
	struct pool_stats *st = client->pool->stats;
	int64_t now = pgweir_mono_usec();
	uint64_t q = now > client->request_time ?
	    (uint64_t)(now - client->request_time) : 0;

	client->idle_since = now;
	st->total.query_count++;
	st->total.query_time += q;
	stats_record(st, LAT_QUERY, q);
	if (status == 'I') {
		int64_t begin = client->tx_start ? client->tx_start :
		    client->request_time;
		uint64_t x = now > begin ? (uint64_t)(now - begin) : 0;
		st->total.xact_count++;
		st->total.xact_time += x;
		stats_record(st, LAT_XACT, x);
		client->tx_start = 0;
	} else if (client->tx_start == 0) {
		client->tx_start = client->request_time;
	}
	if (client->pw->timeouts_active)
		client_update_deadline(client);
}

/*
 * The answer to a message pgweir injected (head of the queue of kind
 * hidden): pop it and do not forward.  Returns true if it was.
 */
static bool
hidden_head(struct server *server, uint8_t hidden, bool *forward)
{
	if (rq_head(&server->rq) != hidden)
		return false;
	relay_complete(server, hidden);
	*forward = false;
	return true;
}

/*
 * After a ReadyForQuery to a linked client: give the server back when the
 * pool mode says the client is done with it.  Returns true if released.
 */
static bool
relay_maybe_release(struct server *server)
{
	struct client *client = server->link;
	int mode;

	/* a message the client is still sending must end on this server;
	 * a replication session is its client's until it leaves */
	if (client == NULL || server->replication != PQ_REPL_NONE ||
	    !rq_empty(&server->rq) || server->rq.copy_in ||
	    server->copy_both || server->rq.unsynced || client->pkt_remain > 0)
		return false;
	mode = pool_mode_of(server->pool);
	if (mode == POOL_SESSION || server->tx_status != 'I')
		return false;
	pool_release(server);
	return true;
}

/*
 * After a pass over the server's input: write to the client, and apply
 * backpressure both ways (a slow client stops server reads; a queue with
 * room again lets a paused client go on).
 */
static void
relay_server_done(struct server *server)
{
	struct client *client = server->link;

	if (client == NULL || client->state == CL_CLOSED)
		return;
	if (io_out_pending(&client->io) > 0 && client_flush(client) < 0)
		return;
	if (io_out_pending(&client->io) > RELAY_OUT_HIGH) {
		if (!server->read_paused) {
			server->read_paused = true;
			io_set_read(&server->io, false);
		}
	} else if (client->read_paused && !rq_full(&server->rq) &&
	    io_out_pending(&server->io) < RELAY_OUT_LOW) {
		client_resume_read(client);
	}
}


/*
 * The rest of a message whose head went (or was dropped) in an earlier
 * pass: it follows the same way.
 */
static void
server_continue_split(struct server *server, size_t *fwd, size_t avail)
{
	struct client *client = server->link;
	size_t take = avail < server->pkt_remain ? avail : server->pkt_remain;

	if (server->pkt_forward && client != NULL) {
		*fwd += take;
	} else {
		flush_forward(server, client, fwd);
		evbuffer_drain(server->io.in, take);
	}
	server->pkt_remain -= (uint32_t)take;
	if (server->pkt_remain == 0 &&
	    (rq_head(&server->rq) == RQ_FAKE_PARSE ||
	    rq_head(&server->rq) == RQ_FAKE_CLOSE)) {
		/* held back while the message was split */
		flush_forward(server, client, fwd);
		prepared_emit_fakes(server);
	}
}

/*
 * Count a message to forward, or drop it, whole or its head (the rest
 * follows by server_continue_split()); then any answers pgweir gives
 * itself, which come after what came before.
 */
static void
server_pass_message(struct server *server, size_t *fwd, size_t avail,
    size_t total, bool forward)
{
	size_t now = avail >= total ? total : avail;

	if (forward) {
		*fwd += now;
	} else {
		flush_forward(server, server->link, fwd);
		evbuffer_drain(server->io.in, now);
	}
	if (now < total) {
		server->pkt_remain = (uint32_t)(total - now);
		server->pkt_forward = forward;
	}
	if (rq_head(&server->rq) == RQ_FAKE_PARSE ||
	    rq_head(&server->rq) == RQ_FAKE_CLOSE) {
		flush_forward(server, server->link, fwd);
		prepared_emit_fakes(server);
	}
}

/*
 * Statement pooling: the client's statement opened a transaction block.
 * Refuse it in the client's stead and end it by giving the server back
 * (its ReadyForQuery is dropped; the pool's cleanup rolls back).
 */
static void
refuse_transaction_block(struct server *server, struct client *client,
    size_t *fwd, size_t total)
{
	flush_forward(server, client, fwd);
	evbuffer_drain(server->io.in, total);
	client_send_error(client, SQLSTATE_FEATURE_NOT_SUPPORTED,
	    "transaction blocks are not allowed in statement pooling mode");
	proto_build_ready_for_query(client->io.out, 'I');
	pool_release(server);
	client_flush(client);
}

/*
 * After a ReadyForQuery went through (or was ours): the client's request
 * is answered; the server may now be given back, closed, or keep the
 * client, by the pool mode and what the server still owes.
 */
static enum step
after_ready(struct server *server, struct client *client, size_t *fwd,
    char status, bool forward)
{
	if (client != NULL && forward) {
		relay_answer_done(client, status);
		if (server->close_needed) {
			/* its answer first, then the close */
			flush_forward(server, client, fwd);
			if (server_fast_close(server))
				return STEP_STOP;
		}
	} else if (client == NULL) {
		server_settle(server);
		return STEP_NEXT;
	} else if (server->internal_failed) {
		/* the parameter sync failed: fatal for both */
		client_close_error(client, SQLSTATE_CONNECTION_FAILURE,
		    "could not apply the session's parameters on the server "
		    "connection");
		server_close(server, "parameter sync failed");
		return STEP_STOP;
	}
	/* forwarded, or a query of ours after the client's last */
	if (relay_maybe_release(server) && client_flush(client) == 0)
		client_maybe_release(client);
	return STEP_NEXT;
}

/* ReadyForQuery: a request answered; the unit that may end a link. */
static enum step
on_ready_for_query(struct server *server, struct pq_view *view, size_t *fwd,
    const struct pq_header *hdr, size_t avail)
{
	struct client *client = server->link;
	size_t total = 1 + (size_t)hdr->len;
	bool forward = client != NULL && rq_head(&server->rq) != RQ_INTERNAL;
	char status;

	if (avail < total)
		return STEP_WAIT;
	if (hdr->len != 5) {
		server_close(server, "invalid ReadyForQuery");
		return STEP_STOP;
	}
	read_body(view, *fwd, 1, &status, 1);
	relay_on_ReadyForQuery(server, status);
	if (!forward)
		server->restoring = false;
	else if (client->reset_seen && status != 'E' &&
	    relay_restore_startup(server, client) < 0)
		return STEP_STOP;
	if (forward && pool_mode_of(server->pool) == POOL_STATEMENT &&
	    status != 'I' && rq_empty(&server->rq) && client->pkt_remain == 0) {
		refuse_transaction_block(server, client, fwd, total);
		return STEP_NEXT;
	}
	if (forward)
		*fwd += total;
	else {
		flush_forward(server, client, fwd);
		evbuffer_drain(server->io.in, total);
	}
	flush_forward(server, client, fwd);
	if (rq_head(&server->rq) == RQ_FAKE_PARSE ||
	    rq_head(&server->rq) == RQ_FAKE_CLOSE)
		/* ours, queued behind this Sync: they go now */
		prepared_emit_fakes(server);
	return after_ready(server, client, fwd, status, forward);
}

/*
 * ParameterStatus or ErrorResponse: read a small one whole and note what
 * it changes.  Returns false while it is still arriving.
 */
static bool
on_status_message(struct server *server, struct pq_view *view, size_t fwd,
    const struct pq_header *hdr, size_t avail, bool *forward)
{
	size_t total = 1 + (size_t)hdr->len, len = total - PQ_HEADER_LEN;
	char small[512];
	char *body = NULL;

	if (len <= SMALL_MSG_MAX) {
		if (avail < total)
			return false;
		body = read_body(view, fwd, len, small, sizeof(small));
	}
	if (hdr->type == PQMSG_PARAMETER_STATUS) {
		/* what restores the client's values, it sees */
		if (server->restoring && server->link != NULL)
			*forward = true;
		if (body)
			relay_on_ParameterStatus(server, body, len);
	} else {
		relay_on_ErrorResponse(server, body, body ? len : 0);
	}
	if (body != small)
		free(body);
	return true;
}

/*
 * CommandComplete of DISCARD ALL, DEALLOCATE ALL or RESET: no statement
 * stays on the server, and parameters went back to the server's login
 * values, not the client's (only read when they differ).  Returns false
 * while the message is still arriving.
 */
static bool
on_command_complete(struct server *server, struct pq_view *view, size_t fwd,
    const struct pq_header *hdr, size_t avail, bool forward)
{
	struct client *client = server->link;
	size_t total = 1 + (size_t)hdr->len;
	char tag[32] = "";

	if (!is_reset_tag_len(hdr->len) || (server->ps == NULL &&
	    (!forward || client->reset_vars == server->reset_vars)))
		return true;
	if (avail < total)
		return false;
	if (total - PQ_HEADER_LEN < sizeof(tag))
		read_body(view, fwd, total - PQ_HEADER_LEN, tag, sizeof(tag));
	if (strcmp(tag, "DISCARD ALL") == 0 ||
	    strcmp(tag, "DEALLOCATE ALL") == 0)
		prepared_on_reset(server, forward ? client : NULL);
	if (forward && (strcmp(tag, "RESET") == 0 ||
	    strcmp(tag, "DISCARD ALL") == 0))
		client->reset_seen = true;
	return true;
}

/*
 * Any server message but ReadyForQuery: what it answers in the queue,
 * then forwarded to the client or dropped.
 */
static enum step
on_message(struct server *server, struct pq_view *view, size_t *fwd,
    const struct pq_header *hdr, size_t avail)
{
	size_t total = 1 + (size_t)hdr->len;
	bool forward = server->link != NULL &&
	    rq_head(&server->rq) != RQ_INTERNAL;

	switch (hdr->type) {
	case PQMSG_PARAMETER_STATUS:
	case PQMSG_ERROR_RESPONSE:
		if (!on_status_message(server, view, *fwd, hdr, avail,
		    &forward))
			return STEP_WAIT;
		break;
	case PQMSG_PARSE_COMPLETE:
		if (!hidden_head(server, RQ_HIDDEN_PARSE, &forward))
			relay_complete(server, PQMSG_PARSE);
		break;
	case PQMSG_BIND_COMPLETE:
		if (!hidden_head(server, RQ_HIDDEN_BIND, &forward))
			relay_complete(server, PQMSG_BIND);
		break;
	case PQMSG_CLOSE_COMPLETE:
		if (!hidden_head(server, RQ_HIDDEN_CLOSE, &forward))
			relay_complete(server, PQMSG_CLOSE);
		break;
	case PQMSG_ROW_DESCRIPTION:
	case PQMSG_NO_DATA:
		relay_complete(server, PQMSG_DESCRIBE);
		break;
	case PQMSG_COMMAND_COMPLETE:
		if (!on_command_complete(server, view, *fwd, hdr, avail,
		    forward))
			return STEP_WAIT;
		relay_complete(server, PQMSG_EXECUTE);
		break;
	case PQMSG_EMPTY_QUERY_RESPONSE:
	case PQMSG_PORTAL_SUSPENDED:
		relay_complete(server, PQMSG_EXECUTE);
		break;
	case PQMSG_COPY_IN_RESPONSE:
		rq_on_copy_in(&server->rq);
		break;
	case PQMSG_COPY_BOTH_RESPONSE:
		server->copy_both = true;
		break;
	case PQMSG_DATA_ROW:
	case PQMSG_COPY_DATA:
	case PQMSG_COPY_DONE:
	case PQMSG_COPY_OUT_RESPONSE:
	case PQMSG_PARAMETER_DESCRIPTION:
	case PQMSG_NOTICE_RESPONSE:
	case PQMSG_NOTIFICATION_RESPONSE:
	case PQMSG_FUNCTION_CALL_RESPONSE:
	case PQMSG_BACKEND_KEY_DATA:
	case PQMSG_NEGOTIATE_PROTOCOL_VERSION:
		break;
	default:
		flush_forward(server, server->link, fwd);
		server_close(server, "unexpected message type from server");
		return STEP_STOP;
	}
	server_pass_message(server, fwd, avail, total, forward);
	return STEP_NEXT;
}

/*
 * Forward what the server sent to its client, or swallow it when it
 * answers a query of ours or no client is linked.  May release or close
 * the server; check its state after.
 */
void
relay_server(struct server *server)
{
	struct evbuffer *in = server->io.in;
	size_t fwd = 0;
	struct pq_view view;

	pq_view_init(&view, in);
	while (server->state != SV_CLOSED) {
		size_t avail = evbuffer_get_length(in) - fwd;
		struct pq_header hdr;
		enum step step;
		int rc;

		if (avail == 0)
			break;
		if (server->pkt_remain > 0) {
			server_continue_split(server, &fwd, avail);
			continue;
		}
		rc = pq_view_header(&view, fwd, &hdr);
		if (rc == 0)
			break;
		if (rc < 0) {
			flush_forward(server, server->link, &fwd);
			server_close(server, "invalid message from server");
			return;
		}
		if (hdr.type == PQMSG_READY_FOR_QUERY)
			step = on_ready_for_query(server, &view, &fwd, &hdr,
			    avail);
		else
			step = on_message(server, &view, &fwd, &hdr, avail);
		if (step == STEP_STOP)
			return;
		if (step == STEP_WAIT)
			break;
	}
	if (server->state == SV_CLOSED)
		return;
	flush_forward(server, server->link, &fwd);
	relay_server_done(server);
}
