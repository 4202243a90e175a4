/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: what servers send, through the relay and the server login,
 * in every pool mode, with and without prepared-statement rewriting.
 *
 * A client logs in and sends a fixed workload, one request per piece of
 * input (simple queries, a transaction, the extended protocol with
 * unnamed and named statements, COPY FROM STDIN, a pipeline, a function
 * call).  The fake PostgreSQL only logs servers in; the answers are the
 * fuzz input, put into a logged-in server's input buffer and run through
 * relay_server(), as server_io_cb() would.  In login mode the fake server
 * does not even log in: the input is the whole server side from the first
 * byte, through the socket, so server.c's login (authentication requests,
 * MD5, SCRAM with the keys a client proved, ParameterStatus,
 * BackendKeyData, errors) sees it too.
 *
 * Input: byte 0: bits 0-1 pool mode (3: transaction), bit 2 prepared
 * statements, bit 3 login mode, bit 4 pool size 1, bit 5 startup
 * parameters to sync, bit 6 a slow client, bit 7 a CancelRequest after
 * each piece.  Byte 1: the piece size (0: all at once).  Byte 2: the
 * workload.  The rest: the server stream.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgweir/config.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 4

/* The ClientKey and ServerKey of "pw" (salt "pgweir-fuzz-salt", 16). */
static const uint8_t sim_ck[32] = {
	0xf6, 0xdd, 0x35, 0xdf, 0xee, 0xf2, 0xda, 0xe9, 0x0a, 0x98, 0xe6,
	0xd1, 0x67, 0x5b, 0x79, 0xd3, 0x93, 0x71, 0x65, 0xc1, 0xe7, 0x93,
	0x90, 0xd8, 0x03, 0xbc, 0x75, 0xef, 0x77, 0xc5, 0x92, 0xf4 };
static const uint8_t sim_sk[32] = {
	0xbd, 0x87, 0xfd, 0x56, 0xf9, 0xb5, 0x0d, 0x15, 0xbc, 0xd8, 0xef,
	0x72, 0x05, 0x8c, 0xea, 0xfc, 0xce, 0x9b, 0x5e, 0xbe, 0x9a, 0x34,
	0x37, 0x9b, 0xc6, 0xb4, 0x38, 0xba, 0x78, 0xe5, 0x36, 0x1a };

/* Append a Query. */
static void
add_query(struct evbuffer *b, const char *sql)
{
	sim_add_msg(b, PQMSG_QUERY, sql, strlen(sql) + 1);
}

/* Append Bind (unnamed portal, statement, no parameters), Describe
 * portal, Execute, and Sync if asked. */
static void
add_bind_exec(struct evbuffer *b, const char *stmt, bool sync)
{
	static const uint8_t exec[5] = { 0, 0, 0, 0, 0 };

	sim_add_bind(b, stmt);
	sim_add_msg(b, PQMSG_DESCRIBE, "P", 2);
	sim_add_msg(b, PQMSG_EXECUTE, exec, sizeof(exec));
	if (sync)
		sim_add_msg(b, PQMSG_SYNC, NULL, 0);
}

/* One step of workload w: the request sent before piece i. */
static void
workload_step(struct evbuffer *b, unsigned w, int i)
{
	switch (w % 8) {
	case 0:
		add_query(b, "SELECT 1");
		break;
	case 1: {
		static const char *const tx[] = { "BEGIN", "SELECT 1",
			"UPDATE t SET a = 1", "COMMIT" };
		add_query(b, tx[i % 4]);
		break;
	}
	case 2:
		sim_add_parse(b, "", "SELECT $1");
		add_bind_exec(b, "", true);
		break;
	case 3:
		if (i == 0)
			sim_add_parse(b, "s1", "SELECT 1");
		if (i == 2) {
			static const uint8_t close[] = { 'S', 's', '1', 0 };
			sim_add_msg(b, PQMSG_CLOSE, close, sizeof(close));
		}
		add_bind_exec(b, "s1", true);
		break;
	case 4:
		if (i == 0) {
			add_query(b, "COPY t FROM STDIN");
		} else {
			sim_add_msg(b, PQMSG_COPY_DATA, "1\tx\n", 4);
			if (i % 2 == 0)
				sim_add_msg(b, PQMSG_COPY_DONE, NULL, 0);
		}
		break;
	case 5:
		for (int k = 0; k < 3; k++) {
			sim_add_parse(b, k == 1 ? "s2" : "", "SELECT 2");
			add_bind_exec(b, k == 1 ? "s2" : "", false);
		}
		sim_add_msg(b, PQMSG_SYNC, NULL, 0);
		break;
	case 6:
		add_query(b, i % 2 ? "SELECT 1; SELECT 2" : "DISCARD ALL");
		break;
	default: {
		static const uint8_t fn[] = { 0, 0, 4, 0xd2, 0, 0, 0, 0, 0,
			0 };
		sim_add_msg(b, PQMSG_FUNCTION_CALL, fn, sizeof(fn));
		break;
	}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const params[] = { "application_name", "fuzz",
		"TimeZone", "Europe/Paris", NULL };
	struct sim_opts o;
	struct sim *e;
	struct sim_client *fc;
	struct evbuffer *req;
	size_t chunk;
	bool login_mode, cancel;
	unsigned w;
	int n = 0;

	if (size < 3)
		return 0;
	memset(&o, 0, sizeof(o));
	o.pool_mode = (data[0] & 3) == 3 ? POOL_TRANSACTION : data[0] & 3;
	o.max_prepared = (data[0] & 4) ? 3 : 0;
	o.pool_size = (data[0] & 16) ? 1 : 2;
	o.auth_type = AUTH_TRUST;
	o.slow_clients = (data[0] & 64) != 0;
	o.check_frames = true;
	login_mode = (data[0] & 8) != 0;
	o.pg_silent = true;
	o.pg_mute = login_mode;
	cancel = (data[0] & 128) != 0;
	chunk = data[1] ? data[1] : size;
	w = data[2];
	e = sim_open(&o);
	/* SCRAM pass-through for dbp's server user, as if fz had logged in */
	if (login_mode)
		pool_user_set_scram_keys(pool_find_user(sim_pw(e), "fz", true),
		    sim_ck, sim_sk);
	fc = sim_client_open(e, false);
	if (fc == NULL)
		goto done;
	if (login_mode)
		(void)sim_client_login(e, fc, "dbp", "fz",
		    (data[0] & 32) ? params : NULL);
	else if (sim_client_login(e, fc, "db", "u1",
	    (data[0] & 32) ? params : NULL) < 0)
		goto done;
	req = evbuffer_new();
	for (size_t off = 3; off < size; off += chunk, n++) {
		size_t len = size - off < chunk ? size - off : chunk;

		if (n < MAX_STEPS) {
			workload_step(req, w, n);
			sim_client_inject(e, fc, evbuffer_pullup(req, -1),
			    evbuffer_get_length(req));
			evbuffer_drain(req, evbuffer_get_length(req));
			sim_pump(e);
		}
		if (login_mode)
			sim_pg_write(e, data + off, len);
		else
			sim_server_inject(e, sim_server_any(e), data + off,
			    len);
		sim_pump(e);
		if (cancel) {
			sim_client_cancel(e, fc);
			sim_pump(e);
		}
	}
	evbuffer_free(req);
done:
	sim_close(e);
	return 0;
}
