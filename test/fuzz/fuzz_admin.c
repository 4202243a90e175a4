/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the admin console, its command parser and every handler,
 * over the simple and the extended query protocol.
 *
 * A console client logs in (over the unix socket as pgweir's own account,
 * or over TCP as an admin_users or a stats_users member) next to ordinary
 * clients that hold or wait for servers of the fake PostgreSQL, so SHOW,
 * PAUSE/RESUME, SUSPEND, KILL, KILL_CLIENT, RECONNECT, WAIT_CLOSE,
 * DISABLE/ENABLE, RELOAD (a real file), SET and SHUTDOWN all have
 * something to act on.  The input is the console client's stream, in
 * pieces, through admin_handle_input() as client_io_cb() would call it;
 * after each piece the loop turns and the janitor's admin_check_pending()
 * runs, so deferred answers come.
 *
 * SET logfile and SET syslog would write outside the fuzzing directory
 * (or to the system log): inputs naming them are skipped.
 *
 * Input: byte 0: bits 0-1 who logs in (0, 3: unix socket, pgweir's own
 * account; 1: TCP admin; 2: TCP stats), bit 2 an ordinary client inside a
 * transaction, bit 3 another one waiting, bits 4-5 pool mode, bit 6 the
 * "pgbouncer" alias; byte 1: the piece size (0: all at once); the rest:
 * what the console client sends.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgweir/admin.h"
#include "pgweir/config.h"
#include "pgweir/proto.h"

#include <event2/buffer.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An ordinary client of db: logged in, then a request that holds on. */
static struct sim_client *
ordinary_client(struct sim *e, const char *sql)
{
	struct sim_client *fc = sim_client_open(e, false);
	struct evbuffer *b;

	if (fc == NULL || sim_client_login(e, fc, "db", "u1", NULL) < 0)
		return fc;
	b = evbuffer_new();
	sim_add_msg(b, PQMSG_QUERY, sql, strlen(sql) + 1);
	sim_client_inject(e, fc, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	sim_pump(e);
	return fc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = { "admin", "admin", "stats",
		"admin" };
	struct sim_opts o;
	struct sim *e;
	struct sim_client *fc;
	size_t chunk;
	int who;

	if (size < 2 || sim_contains_ci(data, size, "logfile") ||
	    sim_contains_ci(data, size, "syslog"))
		return 0;
	memset(&o, 0, sizeof(o));
	who = data[0] & 3;
	o.pool_mode = ((data[0] >> 4) & 3) == 3 ? POOL_TRANSACTION :
	    (data[0] >> 4) & 3;
	o.pool_size = 1;
	o.auth_type = AUTH_TRUST;
	o.reload_file = true;
	o.check_frames = true;
	chunk = data[1] ? data[1] : size;
	e = sim_open(&o);
	if (data[0] & 4)
		ordinary_client(e, "BEGIN");
	if (data[0] & 8)
		ordinary_client(e, "SELECT 1");
	fc = sim_client_open(e, who == 0 || who == 3);
	if (fc == NULL || sim_client_login(e, fc, (data[0] & 64) ?
	    "pgbouncer" : "pgweir", users[who], NULL) < 0)
		goto done;
	for (size_t off = 2; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;

		sim_client_inject(e, fc, data + off, len);
		sim_pump(e);
		admin_check_pending(sim_pw(e));
		sim_pump(e);
	}
done:
	sim_close(e);
	return 0;
}
