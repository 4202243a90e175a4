// SPDX-License-Identifier: ISC
//
// node-postgres through pgweir in transaction mode: 100 clients at once,
// each its own connection, run named queries for several rounds.  Every
// client uses the name 'q1' for the same text, the name 'q2' for a text of
// its own (the same name means different statements on different
// connections), and a name only it uses; one round runs inside
// BEGIN/COMMIT.  node-postgres sends Parse only the first time a client
// uses a name and Bind alone afterwards, so the statements must follow the
// client to whichever of pgweir's 5 backends it lands on.
//
// Usage: node node_pg_test.js HOST PORT USER DB   (with pg on NODE_PATH)
// Prints "node_pg_test: OK" and exits 0, or says what failed and exits 1.
'use strict';

const { Client } = require('pg');

const CLIENTS = 100;
const ROUNDS = 5;

function check(ok, what) {
  if (!ok)
    throw new Error(what);
}

async function one(cfg, c) {
  const client = new Client(cfg);
  await client.connect();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const tag = `client ${c} round ${r}`;
      const inTx = r === 2;
      if (inTx)
        await client.query('BEGIN');
      let res = await client.query({
        name: 'q1', text: 'select $1::int + 1 as v', values: [c * 100 + r],
      });
      check(res.rows.length === 1 && res.rows[0].v === c * 100 + r + 1,
        `${tag}: q1 gave ${JSON.stringify(res.rows)}`);
      res = await client.query({
        name: 'q2', text: `select $1::int * ${c + 3} as v, $2::text as t`,
        values: [r, `c${c}`],
      });
      check(res.rows.length === 1 && res.rows[0].v === r * (c + 3) &&
        res.rows[0].t === `c${c}`,
        `${tag}: q2 gave ${JSON.stringify(res.rows)}`);
      res = await client.query({
        name: `own_${c}`,
        text: 'select g, $1::text || g as s from generate_series(1, $2::int) g',
        values: [`${c}-`, r + 1],
      });
      check(res.rows.length === r + 1 &&
        res.rows.every((row, i) =>
          row.g === i + 1 && row.s === `${c}-${i + 1}`),
        `${tag}: own_${c} gave ${JSON.stringify(res.rows)}`);
      if (inTx)
        await client.query('COMMIT');
      if (r === 3) {
        // an error on a named query must not break the client's names
        let failed = false;
        try {
          await client.query({
            name: 'div', text: 'select 10 / $1::int as v', values: [0],
          });
        } catch (e) {
          failed = true;
          check(e.code === '22012',
            `${tag}: expected 22012, got ${e.code}: ${e.message}`);
        }
        check(failed, `${tag}: division by zero did not fail`);
        res = await client.query({
          name: 'div', text: 'select 10 / $1::int as v', values: [5],
        });
        check(res.rows[0].v === 2,
          `${tag}: div gave ${JSON.stringify(res.rows)}`);
      }
      // give other clients a turn on the backends
      await new Promise((resolve) => setTimeout(resolve, c % 5));
    }
  } finally {
    await client.end();
  }
}

async function main() {
  if (process.argv.length !== 6) {
    console.error('usage: node node_pg_test.js HOST PORT USER DB');
    process.exit(2);
  }
  const [host, port, user, database] = process.argv.slice(2);
  const cfg = {
    host, port: Number(port), user, database, ssl: false,
    connectionTimeoutMillis: 20000, query_timeout: 60000,
  };
  const results = await Promise.allSettled(
    Array.from({ length: CLIENTS }, (_, c) => one(cfg, c)));
  const failed = results
    .map((r, c) => [r, c])
    .filter(([r]) => r.status === 'rejected');
  if (failed.length > 0) {
    for (const [r, c] of failed.slice(0, 5))
      console.log(`node_pg_test: client ${c} failed: ` +
        `${r.reason && r.reason.stack}`);
    throw new Error(`${failed.length} of ${CLIENTS} clients failed`);
  }
  console.log(`node_pg_test: OK (${CLIENTS} clients x ${ROUNDS} rounds ` +
    'of named queries)');
}

main().then(() => process.exit(0), (e) => {
  console.log(`node_pg_test: FAIL: ${e && e.message}`);
  process.exit(1);
});
