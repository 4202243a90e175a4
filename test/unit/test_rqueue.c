/* SPDX-License-Identifier: ISC */
/*
 * The request queue's rules (src/rqueue.c): which answer ends which
 * request, pipelining, an extended error skipping to Sync, COPY FROM
 * STDIN ignoring Sync, a full queue, and which entries prepared.c hears
 * of as answered or skipped.  A server is handed to another client only
 * when this queue is empty, so a wrong rule here lets one client's answer
 * reach another.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/proto.h"
#include "pgweir/rqueue.h"

/* What the popped hook heard: "a" answered, "s" skipped, then the type. */
struct heard {
	char log[64];
	size_t len;
};

static void
popped(void *arg, uint8_t type, void *data, bool answered)
{
	struct heard *h = arg;

	assert_non_null(data);
	assert_true(h->len + 3 < sizeof(h->log));
	h->log[h->len++] = answered ? 'a' : 's';
	h->log[h->len++] = (char)type;
	h->log[h->len] = '\0';
}

/* The queue's entries, oldest first, as a string of types. */
static const char *
contents(const struct request_queue *rq)
{
	static char buf[RQ_CAP + 1];
	uint16_t i;

	for (i = 0; i < rq->count; i++)
		buf[i] = (char)rq->type[(rq->head + i) % RQ_CAP];
	buf[i] = '\0';
	return buf;
}

/* Take each client message of types, in order; all must fit. */
static void
take_all(struct request_queue *rq, const char *types)
{
	for (; *types; types++)
		assert_int_not_equal(rq_take(rq, (uint8_t)*types),
		    RQ_TAKE_FULL);
}

static void
test_simple_query(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };

	(void)state;
	assert_int_equal(rq_take(&rq, PQMSG_QUERY), RQ_TAKE_OK);
	assert_string_equal(contents(&rq), "Q");
	/* rows and CommandComplete answer nothing a Query waits for */
	rq_complete(&rq, PQMSG_EXECUTE, popped, &h);
	assert_string_equal(contents(&rq), "Q");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));
	/* a Flush, CopyData or Terminate owes no answer */
	take_all(&rq, "Hd");
	assert_true(rq_empty(&rq));
}

/* Parse/Bind/Execute/Sync twice in one write: answers in order. */
static void
test_pipelining(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };

	(void)state;
	take_all(&rq, "PBDE");
	assert_true(rq.unsynced);
	assert_int_equal(rq_take(&rq, PQMSG_SYNC), RQ_TAKE_SYNC);
	assert_false(rq.unsynced);
	take_all(&rq, "PBES");
	assert_string_equal(contents(&rq), "PBDESPBES");
	rq_complete(&rq, PQMSG_PARSE, popped, &h);
	/* an answer of another kind than the head's pops nothing */
	rq_complete(&rq, PQMSG_EXECUTE, popped, &h);
	assert_string_equal(contents(&rq), "BDESPBES");
	rq_complete(&rq, PQMSG_BIND, popped, &h);
	rq_complete(&rq, PQMSG_DESCRIBE, popped, &h);
	rq_complete(&rq, PQMSG_EXECUTE, popped, &h);
	assert_string_equal(contents(&rq), "SPBES");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_string_equal(contents(&rq), "PBES");
	rq_complete(&rq, PQMSG_PARSE, popped, &h);
	rq_complete(&rq, PQMSG_BIND, popped, &h);
	rq_complete(&rq, PQMSG_EXECUTE, popped, &h);
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));
	assert_string_equal(h.log, "");	/* no entry carried data */
}

/*
 * An error in the middle of an extended batch: the server skips to Sync,
 * so the entries before it leave unanswered, and prepared.c hears which.
 */
static void
test_extended_error_skips_to_sync(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };
	static int data;

	(void)state;
	rq_push_data(&rq, RQ_HIDDEN_PARSE, &data);
	take_all(&rq, "B");
	rq_push_data(&rq, PQMSG_CLOSE, &data);
	take_all(&rq, "ESQ");
	rq_complete(&rq, RQ_HIDDEN_PARSE, popped, &h);
	assert_string_equal(h.log, "ap");
	assert_true(rq_on_error(&rq, popped, &h));
	assert_string_equal(contents(&rq), "SQ");
	assert_string_equal(h.log, "apsC");
	assert_false(rq.discard_until_sync);
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	/* an error to a simple Query skips nothing */
	assert_false(rq_on_error(&rq, popped, &h));
	assert_string_equal(contents(&rq), "Q");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));
}

/*
 * An error before the client's Sync arrived: the client's next extended
 * messages are skipped by the server too, so they are not queued; its
 * Sync is, and ends the skipping.
 */
static void
test_error_before_sync(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };

	(void)state;
	take_all(&rq, "PB");
	assert_true(rq_on_error(&rq, popped, &h));
	assert_true(rq_empty(&rq));
	assert_true(rq.discard_until_sync);
	take_all(&rq, "EQ");
	assert_true(rq_empty(&rq));
	assert_int_equal(rq_take(&rq, PQMSG_SYNC), RQ_TAKE_SYNC);
	assert_false(rq.discard_until_sync);
	assert_string_equal(contents(&rq), "S");
	take_all(&rq, "Q");
	assert_string_equal(contents(&rq), "SQ");
}

/*
 * COPY FROM STDIN in a pipeline: at CopyInResponse the Syncs the client
 * sent after the COPY get no ReadyForQuery, so they leave the queue, up to
 * the client's CopyDone; during the copy a Sync is not queued.
 */
static void
test_copy_in(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };

	(void)state;
	/* Query "COPY ... FROM STDIN", then CopyData, CopyDone, Query */
	take_all(&rq, "QdcQ");
	assert_string_equal(contents(&rq), "Q" "\x63" "Q");
	rq_on_copy_in(&rq);
	/* the marker of the CopyDone already sent ends the copy */
	assert_false(rq.copy_in);
	assert_string_equal(contents(&rq), "QQ");

	/* the extended protocol: Parse/Bind/Execute/Sync, copy, Sync */
	memset(&rq, 0, sizeof(rq));
	take_all(&rq, "PBES");
	rq_complete(&rq, PQMSG_PARSE, popped, &h);
	rq_complete(&rq, PQMSG_BIND, popped, &h);
	rq_on_copy_in(&rq);
	assert_true(rq.copy_in);
	/* the Sync already queued gets no answer during the copy ... */
	assert_string_equal(contents(&rq), "E");
	/* ... nor does one sent now */
	assert_int_equal(rq_take(&rq, PQMSG_SYNC), RQ_TAKE_OK);
	assert_string_equal(contents(&rq), "E");
	/* CopyDone ends it; the next Sync counts again */
	take_all(&rq, "c");
	assert_false(rq.copy_in);
	assert_int_equal(rq_take(&rq, PQMSG_SYNC), RQ_TAKE_SYNC);
	rq_complete(&rq, PQMSG_EXECUTE, popped, &h);
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));

	/* an error during the copy (CopyFail, or the server's) ends it */
	memset(&rq, 0, sizeof(rq));
	take_all(&rq, "Q");
	rq_on_copy_in(&rq);
	assert_true(rq.copy_in);
	assert_false(rq_on_error(&rq, popped, &h));
	assert_false(rq.copy_in);
}

/* A CopyDone whose copy never started is a marker that ends at the head. */
static void
test_unmatched_copy_end(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };

	(void)state;
	take_all(&rq, "QcQ");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	/* the marker reached the head: it is dropped */
	assert_string_equal(contents(&rq), "Q");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	/* a CopyDone sent first, outside any COPY, is no request owed:
	 * PostgreSQL ignores it, and so does the count of unanswered ones */
	take_all(&rq, "cQ");
	assert_string_equal(contents(&rq), "cQ");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));
}

/* A ReadyForQuery that comes before answers owed is counted. */
static void
test_ready_skips_unanswered(void **state)
{
	struct request_queue rq = { 0 };
	struct heard h = { 0 };
	static int data;

	(void)state;
	rq_push_data(&rq, RQ_FAKE_PARSE, &data);
	take_all(&rq, "BS");
	assert_int_equal(rq_on_ready(&rq, popped, &h), 2);
	assert_string_equal(h.log, "sq");
	assert_true(rq_empty(&rq));
	/* a query of pgweir's is answered by ReadyForQuery */
	rq_push(&rq, RQ_INTERNAL);
	assert_int_equal(rq_on_ready(&rq, popped, &h), 0);
	assert_true(rq_empty(&rq));
}

/* A full queue takes nothing, and leaves room for pgweir's own. */
static void
test_full(void **state)
{
	struct request_queue rq = { 0 };
	int taken = 0;

	(void)state;
	while (rq_take(&rq, PQMSG_EXECUTE) != RQ_TAKE_FULL)
		taken++;
	assert_int_equal(taken, RQ_CAP - 4);
	assert_true(rq_full(&rq));
	assert_int_equal(rq_take(&rq, PQMSG_SYNC), RQ_TAKE_FULL);
	/* room for a Sync and a query of ours */
	rq_push(&rq, PQMSG_SYNC);
	rq_push(&rq, RQ_INTERNAL);
	assert_int_equal(rq.count, RQ_CAP - 2);
	/* wraps around the ring */
	for (int i = 0; i < RQ_CAP - 4; i++)
		rq_pop(&rq);
	take_all(&rq, "QQQ");
	assert_string_equal(contents(&rq), "SiQQQ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_query),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_extended_error_skips_to_sync),
		cmocka_unit_test(test_error_before_sync),
		cmocka_unit_test(test_copy_in),
		cmocka_unit_test(test_unmatched_copy_end),
		cmocka_unit_test(test_ready_skips_unanswered),
		cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
