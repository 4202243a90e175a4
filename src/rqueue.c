/* SPDX-License-Identifier: ISC */
/*
 * The request queue: what a server still owes its client, in order, by
 * the protocol's rules.  A Query, FunctionCall or Sync is answered by
 * ReadyForQuery; Parse, Bind, Describe, Execute and Close by their own
 * completions; an error in extended mode makes the server skip to the
 * next Sync; Sync is ignored during COPY FROM STDIN.  A server may be
 * given to another client only with an empty queue, which is what makes
 * pipelining safe.  Pure: no I/O, no server, only the queue (relay.c
 * drives it; test/unit/test_rqueue.c checks each rule).
 */
#include "config.h"

#include "pgweir/proto.h"
#include "pgweir/rqueue.h"

/* Pop the head, telling popped of its data if it has any. */
static void
pop_entry(struct request_queue *rq, bool answered, rq_popped_fn popped,
    void *arg)
{
	void *data = rq_head_data(rq);
	uint8_t type = rq_head(rq);

	rq_pop(rq);
	if (data != NULL)
		popped(arg, type, data, answered);
}

/* Whether a queued request is a message of the extended protocol. */
static bool
rq_is_extended(uint8_t type)
{
	switch (type) {
	case PQMSG_PARSE:
	case PQMSG_BIND:
	case PQMSG_DESCRIBE:
	case PQMSG_EXECUTE:
	case PQMSG_CLOSE:
	case RQ_HIDDEN_PARSE:
	case RQ_HIDDEN_BIND:
	case RQ_HIDDEN_CLOSE:
	case RQ_FAKE_PARSE:
	case RQ_FAKE_CLOSE:
		return true;
	}
	return false;
}

/* Whether ReadyForQuery is the answer to a queued request of this type. */
static bool
rq_answers_ready(uint8_t type)
{
	return type == PQMSG_SYNC || type == PQMSG_QUERY ||
	    type == PQMSG_FUNCTION_CALL || type == RQ_INTERNAL;
}

/* Drop RQ_COPY_END markers that reached the head unmatched. */
static void
rq_drop_markers(struct request_queue *rq)
{
	while (rq_head(rq) == RQ_COPY_END)
		rq_pop(rq);
}

/*
 * Account for one client message about to go to the server.  A full
 * queue takes nothing: the caller stops and waits for answers.
 */
enum rq_take
rq_take(struct request_queue *rq, uint8_t type)
{
	if (rq_full(rq))
		return RQ_TAKE_FULL;
	switch (type) {
	case PQMSG_QUERY:
	case PQMSG_FUNCTION_CALL:
		if (!rq->discard_until_sync)
			rq_push(rq, type);
		break;
	case PQMSG_PARSE:
	case PQMSG_BIND:
	case PQMSG_DESCRIBE:
	case PQMSG_EXECUTE:
	case PQMSG_CLOSE:
		if (!rq->discard_until_sync)
			rq_push(rq, type);
		rq->unsynced = true;
		break;
	case PQMSG_SYNC:
		if (rq->copy_in)
			break;
		rq_push(rq, type);
		rq->unsynced = false;
		rq->discard_until_sync = false;
		return RQ_TAKE_SYNC;
	case PQMSG_COPY_DONE:
	case PQMSG_COPY_FAIL:
		if (rq->copy_in)
			rq->copy_in = false;
		else
			rq_push(rq, RQ_COPY_END);
		break;
	default:
		break;
	}
	return RQ_TAKE_OK;
}

/* An answer to the head: pop it if it is the request of that type. */
void
rq_complete(struct request_queue *rq, uint8_t type, rq_popped_fn popped,
    void *arg)
{
	if (rq_head(rq) == type) {
		pop_entry(rq, true, popped, arg);
		rq_drop_markers(rq);
	}
}

/*
 * CopyInResponse: the server now ignores Sync and Flush until CopyDone or
 * CopyFail.  Syncs the client already sent after the COPY's own request
 * will get no ReadyForQuery, so they leave the queue, up to the first
 * CopyDone/CopyFail marker, which ends the copy from our point of view.
 */
void
rq_on_copy_in(struct request_queue *rq)
{
	uint16_t w = 1, r;
	bool ended = false;

	rq->copy_in = true;
	if (rq->count <= 1)
		return;
	for (r = 1; r < rq->count; r++) {
		uint8_t t = rq->type[(rq->head + r) % RQ_CAP];
		void *d = rq->data[(rq->head + r) % RQ_CAP];
		if (!ended && t == PQMSG_SYNC)
			continue;
		if (!ended && t == RQ_COPY_END) {
			ended = true;
			rq->copy_in = false;
			continue;
		}
		rq->type[(rq->head + w) % RQ_CAP] = t;
		rq->data[(rq->head + w) % RQ_CAP] = d;
		w++;
	}
	rq->count = w;
}

/*
 * An ErrorResponse to the head: any COPY is over, and after an extended
 * request the server skips everything up to the next Sync, so those
 * entries leave unanswered.  With no Sync queued yet, the client's next
 * messages are skipped too, up to its Sync.  Returns whether the error
 * answered an extended request.
 */
bool
rq_on_error(struct request_queue *rq, rq_popped_fn popped, void *arg)
{
	rq->copy_in = false;
	if (!rq_is_extended(rq_head(rq)))
		return false;
	while (!rq_empty(rq) && rq_head(rq) != PQMSG_SYNC)
		pop_entry(rq, false, popped, arg);
	if (rq_empty(rq))
		rq->discard_until_sync = true;
	return true;
}

/*
 * ReadyForQuery: pop the request it answers, and any before it that the
 * server left unanswered.  Returns how many of those there were, not
 * counting CopyDone markers (PostgreSQL ignores a CopyDone outside COPY):
 * none from a server that keeps the protocol as this queue models it.
 */
int
rq_on_ready(struct request_queue *rq, rq_popped_fn popped, void *arg)
{
	int unanswered = 0;

	for (;;) {
		uint8_t head = rq_head(rq);
		if (head == 0)
			break;
		pop_entry(rq, rq_answers_ready(head), popped, arg);
		if (rq_answers_ready(head))
			break;
		if (head != RQ_COPY_END)
			unanswered++;
	}
	rq_drop_markers(rq);
	return unanswered;
}
