# SPDX-License-Identifier: ISC
#
# asyncpg through pgweir in transaction mode.  asyncpg prepares every
# query under its own names (__asyncpg_stmt_1__, ... the same names on
# every connection, for different texts) and keeps them in a per-connection
# cache, so each connection's statements must follow it to whichever
# backend it lands on.  200 tasks run at once on a client-side pool of up
# to 200 connections (pgweir's pool has 5 backends): parameterized
# fetch/fetchrow/fetchval, a prepared statement object, executemany and a
# transaction with a savepoint; a second round reuses the released
# connections (asyncpg runs its reset query on release) and their caches.
# Last, one executemany of 1000 rows: asyncpg sends all the Bind/Execute
# pairs and a single Sync.
#
# Usage: python3 asyncpg_test.py HOST PORT USER DB
# Prints "asyncpg_test: OK" and exits 0, or says what failed and exits 1.
import asyncio
import sys
import traceback

import asyncpg

TASKS = 200
ROUNDS = 2
MANY_ROWS = 1000


class Failure(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Failure(what)


async def work(pool, table, rnd, t):
    """One task's queries; every result is checked."""
    tag = f"round {rnd} task {t}"
    async with pool.acquire() as conn:
        # the same text on every connection, and one only this task uses
        v = await conn.fetchval("select $1::int + $2::int", t, rnd)
        check(v == t + rnd, f"{tag}: fetchval gave {v!r}")
        v = await conn.fetchval(f"select $1::int * {t + 2}", rnd + 1)
        check(v == (rnd + 1) * (t + 2), f"{tag}: own statement gave {v!r}")
        rows = await conn.fetch(
            "select g, $2::text || g from generate_series(1, $1::int) g",
            t % 7 + 1, f"t{t}-")
        check([(r[0], r[1]) for r in rows] ==
              [(g, f"t{t}-{g}") for g in range(1, t % 7 + 2)],
              f"{tag}: fetch gave {rows!r}")
        row = await conn.fetchrow(
            "select $1::text as a, $2::int8 as b, $3::bool as c",
            f"task-{t}", t * 1000000007, t % 2 == 0)
        check((row["a"], row["b"], row["c"]) ==
              (f"task-{t}", t * 1000000007, t % 2 == 0),
              f"{tag}: fetchrow gave {row!r}")

        stmt = await conn.prepare("select $1::int - 1, $2::text")
        for i in range(3):
            r = await stmt.fetchrow(t + i, str(i))
            check(tuple(r) == (t + i - 1, str(i)),
                  f"{tag}: prepared statement gave {r!r}")

        async with conn.transaction():
            await conn.executemany(
                f"insert into {table} (round, task, n) values ($1, $2, $3)",
                [(rnd, t, n) for n in range(5)])
            n = await conn.fetchval(
                f"select count(*) from {table} where round = $1 and "
                "task = $2", rnd, t)
            check(n == 5, f"{tag}: {n} rows inside the transaction")
            try:
                async with conn.transaction():
                    await conn.execute(
                        f"insert into {table} (round, task, n) values "
                        "($1, $2, 99)", rnd, t)
                    await conn.fetchval("select 1 / $1::int", 0)
                check(False, f"{tag}: division by zero did not fail")
            except asyncpg.DivisionByZeroError:
                pass
            s = await conn.fetchval(
                f"select sum(n) from {table} where round = $1 and "
                "task = $2", rnd, t)
            check(s == 10, f"{tag}: sum {s!r} after the savepoint rollback")

        # after the transaction, the cached statements are still good
        v = await conn.fetchval("select $1::int + $2::int", t, 1)
        check(v == t + 1, f"{tag}: fetchval after the transaction gave {v!r}")


async def main(host, port, user, db):
    dsn = dict(host=host, port=int(port), user=user, database=db, ssl=False)
    setup = await asyncpg.connect(**dsn)
    table = "asyncpg_t"
    await setup.execute(f"drop table if exists {table}")
    await setup.execute(f"create table {table} (round int, task int, n int)")

    pool = await asyncpg.create_pool(min_size=10, max_size=TASKS,
                                     command_timeout=60, **dsn)
    conns = set()
    for rnd in range(ROUNDS):
        results = await asyncio.gather(
            *(work(pool, table, rnd, t) for t in range(TASKS)),
            return_exceptions=True)
        errors = [(t, e) for t, e in enumerate(results) if e is not None]
        if errors:
            for t, e in errors[:5]:
                print(f"asyncpg_test: round {rnd} task {t} failed: "
                      f"{type(e).__name__}: {e}")
            e = errors[0][1]
            traceback.print_exception(type(e), e, e.__traceback__,
                                      file=sys.stdout)
            raise Failure(f"{len(errors)} of {TASKS} tasks failed in "
                          f"round {rnd}")
        conns.add(pool.get_size())

    n = await setup.fetchval(f"select count(*) from {table}")
    check(n == TASKS * ROUNDS * 5, f"{n} rows in the table, expected "
          f"{TASKS * ROUNDS * 5}")
    await setup.execute(f"drop table {table}")
    await pool.close()

    await setup.execute("create table asyncpg_many (a int, b text)")
    try:
        await asyncio.wait_for(setup.executemany(
            "insert into asyncpg_many values ($1, $2)",
            [(i, f"r{i}") for i in range(MANY_ROWS)]), 20)
    except asyncio.TimeoutError:
        raise Failure(f"executemany of {MANY_ROWS} rows (one Sync) got no "
                      "answer within 20 s")
    n = await setup.fetchval("select count(*) from asyncpg_many "
                             "where b = 'r' || a")
    check(n == MANY_ROWS, f"executemany left {n} rows, expected {MANY_ROWS}")
    await setup.execute("drop table asyncpg_many")
    await setup.close()
    print(f"asyncpg_test: OK ({ROUNDS} rounds of {TASKS} tasks, "
          f"client pool sizes {sorted(conns)}; executemany of {MANY_ROWS} "
          "rows)")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print("usage: asyncpg_test.py HOST PORT USER DB", file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 120))
    except BaseException as e:
        print(f"asyncpg_test: FAIL: {type(e).__name__}: {e}")
        if not isinstance(e, Failure):
            traceback.print_exc(file=sys.stdout)
        sys.exit(1)
