/* pgweir: the pool's rules for opening server connections (pure). */
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

int poolrules_size_now(const struct pool_load *l);
enum pool_room poolrules_room(const struct pool_load *l);
bool poolrules_from_reserve(const struct pool_load *l);

#endif
