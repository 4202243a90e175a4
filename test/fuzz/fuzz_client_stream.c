/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: what logged-in clients send, through the relay, in every
 * pool mode, with and without prepared-statement rewriting.
 *
 * One or two clients log in (trust) to an in-process pgweir whose servers
 * are connections to the fake PostgreSQL of test/sim/sim_pg.c, which answers
 * as PostgreSQL does (and fails requests on demand).  The input is what
 * the clients send, in pieces: each piece goes into a client's input
 * buffer and through relay_client(), as client_io_cb() would do, then the
 * loop turns until the answers are through.  pgweir must survive any of
 * it and send only well-formed messages both ways (the simulator aborts
 * on a malformed frame).
 *
 * Input: byte 0: bits 0-1 pool mode (3: transaction), bit 2 prepared
 * statements (max_prepared_statements = 3, so the per-server LRU evicts),
 * bit 3 a second client (pieces alternate), bit 4 pool size 1 (else 2),
 * bit 5 startup parameters that servers must be synced to, bits 6-7 the
 * fake server fails every 0/2/3/5th request.  Byte 1: bits 0-4 the piece
 * size (0: all at once), bit 5 the first client hangs up at the end and a
 * new client's Query must still be answered (whatever the first one left
 * on its server), bit 6 a CancelRequest after each piece, bit 7 clients
 * that read slowly.  The rest: the client stream.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgweir/config.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned every[] = { 0, 2, 3, 5 };
	static const char *const params[] = { "application_name", "fuzz",
		"DateStyle", "ISO, DMY", "extra_float_digits", "3", NULL };
	struct sim_opts o;
	struct sim *e;
	struct sim_client *fc[2] = { NULL, NULL }, *late;
	size_t chunk;
	bool two, cancel, hangup;
	int n = 0;

	if (size < 2)
		return 0;
	memset(&o, 0, sizeof(o));
	o.pool_mode = (data[0] & 3) == 3 ? POOL_TRANSACTION : data[0] & 3;
	o.max_prepared = (data[0] & 4) ? 3 : 0;
	o.pool_size = (data[0] & 16) ? 1 : 2;
	o.auth_type = AUTH_TRUST;
	o.error_every = every[data[0] >> 6];
	o.slow_clients = (data[1] & 128) != 0;
	o.check_frames = true;
	two = (data[0] & 8) != 0;
	cancel = (data[1] & 64) != 0;
	hangup = (data[1] & 32) != 0;
	/* one client, no cancels, no injected errors: every answer counts */
	o.check_answers = !two && !cancel && o.error_every == 0;
	chunk = data[1] & 31;
	if (chunk == 0)
		chunk = size;
	e = sim_open(&o);
	for (int i = 0; i < (two ? 2 : 1); i++) {
		fc[i] = sim_client_open(e, false);
		if (fc[i] == NULL || sim_client_login(e, fc[i], "db", "u1",
		    (data[0] & 32) ? params : NULL) < 0)
			goto done;
	}
	for (size_t off = 2; off < size; off += chunk, n++) {
		size_t len = size - off < chunk ? size - off : chunk;
		struct sim_client *to = fc[two ? n & 1 : 0];

		sim_client_inject(e, to, data + off, len);
		sim_pump(e);
		if (cancel) {
			sim_client_cancel(e, fc[two ? (n >> 1) & 1 : 0]);
			sim_pump(e);
		}
	}
	if (hangup) {
		static const uint8_t q[] = { 'Q', 0, 0, 0, 13, 'S', 'E', 'L',
			'E', 'C', 'T', ' ', '1', 0 };
		sim_client_hangup(e, fc[0]);
		late = sim_client_open(e, false);
		if (late != NULL && sim_client_login(e, late, "db", "u1",
		    NULL) == 0) {
			sim_client_expect_answers(late);
			sim_client_inject(e, late, q, sizeof(q));
			sim_pump(e);
		}
	}
done:
	sim_close(e);
	return 0;
}
