/* pgweir: the pool's rules for opening server connections (pure). */
/*
 * The pool's rules for opening server connections, as pure functions of
 * a few counts (struct pool_load), so that each rule is tested on its own
 * (test/unit/test_poolrules.c):
 *
 *   - a pool holds at most its size (0: no limit); once its oldest waiting
 *     client has waited reserve_pool_timeout, reserve_pool_size more;
 *   - every pool of a database together holds at most max_db_connections,
 *     every pool of a user at most max_user_connections; the pool's own
 *     bound is checked first, then the database's, then the user's (the
 *     caller may close an idle server of another pool under a shared cap
 *     and ask again).
 *
 * pool.c fills the counts and acts on the answers: which waiter is served
 * first (the oldest), which idle server is evicted, when a launch happens.
 * Inline: pool.c asks on every acquire while clients wait, and most
 * answers need two of the counts.
 */
#ifndef PGWEIR_POOLRULES_H
#define PGWEIR_POOLRULES_H

#include <stdbool.h>
#include <stdint.h>

/* What decides whether a pool may open one more server connection. */
struct pool_load {
	int size;		/* the pool's size; 0: no limit */
	int reserve;		/* reserve_pool_size */
	int64_t oldest_wait;	/* usec the oldest waiter waited; <0: none, or
				 * not asked (no reserve) */
	int64_t reserve_timeout; /* reserve_pool_timeout (usec) */
	int servers;		/* the pool's servers, in any state */
	int db_servers;		/* the database's servers, every pool */
	int db_limit;		/* max_db_connections; 0: none */
	int user_servers;	/* the user's servers, every pool */
	int user_limit;		/* max_user_connections; 0: none */
};

/* Whether there is room, and if not, which bound is reached first. */
enum pool_room {
	ROOM_FREE,		/* one more may open */
	ROOM_POOL_FULL,		/* the pool's size (with any reserve) */
	ROOM_DB_FULL,		/* the database's cap: eviction may help */
	ROOM_USER_FULL,		/* the user's cap: eviction may help */
};

/* The pool's size now: with the reserve once the oldest waited enough. */
static inline int
poolrules_size_now(const struct pool_load *l)
{
	if (l->size == 0)
		return 0;
	if (l->reserve > 0 && l->oldest_wait >= 0 &&
	    l->oldest_wait >= l->reserve_timeout)
		return l->size + l->reserve;
	return l->size;
}

/* Whether one more server may open, or which bound stops it. */
static inline enum pool_room
poolrules_room(const struct pool_load *l)
{
	int size = poolrules_size_now(l);

	if (size > 0 && l->servers >= size)
		return ROOM_POOL_FULL;
	if (l->db_limit > 0 && l->db_servers >= l->db_limit)
		return ROOM_DB_FULL;
	if (l->user_limit > 0 && l->user_servers >= l->user_limit)
		return ROOM_USER_FULL;
	return ROOM_FREE;
}

/* Whether the next server would be one of the reserve (pool at its size). */
static inline bool
poolrules_from_reserve(const struct pool_load *l)
{
	return l->size > 0 && l->servers >= l->size;
}

/*
 * A pool's fair share of a database's or user's cap: the cap divided
 * evenly among the pools that want servers (they hold some or have
 * clients waiting), at least one each.
 */
static inline int
poolrules_fair_share(int limit, int competing)
{
	int share = competing > 0 ? limit / competing : limit;

	return share > 0 ? share : 1;
}

/*
 * The wait before the next server login after n unreachable failures in a
 * row: doubling from 0.2-0.4 s (a restart or a failover is often over in a
 * second or two), with jitter so that pools do not retry in step, and
 * never longer than server_login_retry (cap, usec).  rnd: any random
 * number.
 */
static inline int64_t
poolrules_retry_delay(int failures, int64_t cap, uint32_t rnd)
{
	int shift = failures < 1 ? 0 : failures - 1;
	int64_t base, delay;

	if (shift > 20)
		shift = 20;
	base = (int64_t)400000 << shift;
	delay = base / 2 + (int64_t)(rnd % (uint32_t)(base / 2 + 1));
	return delay < cap ? delay : cap;
}

#endif
