/* pgweir: what a server still owes its client, by the protocol's rules. */
#ifndef PGWEIR_RQUEUE_H
#define PGWEIR_RQUEUE_H

#include <stdbool.h>
#include <stdint.h>

/* Requests the server still owes an answer to, oldest first. */
#define RQ_CAP 256

/*
 * Entries of the request queue: client message types, plus our own.
 * Entries of prepared.c carry data (undo information for when an error
 * makes the server skip them).
 */
enum {
	RQ_INTERNAL = 'i',	/* a query pgweir sent; answers swallowed */
	RQ_COPY_END = 'c',	/* CopyDone/CopyFail, until matched */
	RQ_HIDDEN_PARSE = 'p',	/* a Parse pgweir injected; answer hidden */
	RQ_HIDDEN_BIND = 'b',	/* a Bind pgweir injected; answer hidden */
	RQ_HIDDEN_CLOSE = 'x',	/* an eviction Close; answer hidden */
	RQ_FAKE_PARSE = 'q',	/* answered by pgweir: ParseComplete */
	RQ_FAKE_CLOSE = 'y',	/* answered by pgweir: CloseComplete */
};

/*
 * The queue, and where the stream stands between client and server: the
 * rules of which answer ends which request depend on both.
 */
struct request_queue {
	uint8_t type[RQ_CAP];	/* message type per outstanding request */
	void *data[RQ_CAP];	/* prepared.c's data per entry, or NULL */
	uint16_t head;
	uint16_t count;
	bool copy_in;		/* in COPY FROM STDIN: Sync is ignored */
	bool unsynced;		/* extended messages since the last Sync */
	bool discard_until_sync; /* an extended error: the server skips */
};

/*
 * Told of each entry with data that leaves the queue: answered (the
 * server did it) or skipped (an error made the server ignore it).
 */
typedef void (*rq_popped_fn)(void *arg, uint8_t type, void *data,
    bool answered);

/* What rq_take() did with a client message. */
enum rq_take {
	RQ_TAKE_FULL,	/* no room: send nothing until answers come */
	RQ_TAKE_OK,	/* accounted for (or nothing to account for) */
	RQ_TAKE_SYNC,	/* a Sync was queued: the stream is synced */
};

enum rq_take rq_take(struct request_queue *rq, uint8_t type);
void rq_complete(struct request_queue *rq, uint8_t type, rq_popped_fn popped,
    void *arg);
void rq_on_copy_in(struct request_queue *rq);
bool rq_on_error(struct request_queue *rq, rq_popped_fn popped, void *arg);
int rq_on_ready(struct request_queue *rq, rq_popped_fn popped, void *arg);

static inline bool
rq_empty(const struct request_queue *rq)
{
	return rq->count == 0;
}

static inline bool
rq_full(const struct request_queue *rq)
{
	return rq->count >= RQ_CAP - 4; /* room for our own Sync/queries */
}

static inline uint8_t
rq_head(const struct request_queue *rq)
{
	return rq->count ? rq->type[rq->head] : 0;
}

static inline void
rq_push_data(struct request_queue *rq, uint8_t type, void *data)
{
	rq->type[(rq->head + rq->count) % RQ_CAP] = type;
	rq->data[(rq->head + rq->count) % RQ_CAP] = data;
	rq->count++;
}

static inline void
rq_push(struct request_queue *rq, uint8_t type)
{
	rq_push_data(rq, type, NULL);
}

static inline void *
rq_head_data(const struct request_queue *rq)
{
	return rq->count ? rq->data[rq->head] : NULL;
}

static inline void
rq_pop(struct request_queue *rq)
{
	if (rq->count) {
		rq->head = (uint16_t)((rq->head + 1) % RQ_CAP);
		rq->count--;
	}
}

#endif
