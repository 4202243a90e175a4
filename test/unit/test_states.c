/* SPDX-License-Identifier: ISC */
/*
 * Every cell of the two state-transition tables: which changes
 * client_set_state() and server_set_state() accept (any other aborts the
 * process, so a wrong cell is either a crash waiting or a rule gone).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pgweir/client.h"
#include "pgweir/server.h"

/*
 * Clients: login ends in welcome (waiting for the pool's first server's
 * parameters), idle, active (a replication client, straight to its own
 * server) or closed; welcome only goes on to idle; a request makes an
 * idle client wait or links it; a waiting client is linked or leaves the
 * queue (a cancel); an active one is released; closed is final.
 */
static void
test_client_transitions(void **state)
{
	static const char *expect[6] = {
		/* to:       L  W  I  Wt A  C */
		[CL_LOGIN] = "1 1 1 0 1 1",
		[CL_WELCOME] = "0 1 1 0 0 1",
		[CL_IDLE] = "0 0 1 1 1 1",
		[CL_WAITING] = "0 0 1 1 1 1",
		[CL_ACTIVE] = "0 0 1 0 1 1",
		[CL_CLOSED] = "0 0 0 0 0 1",
	};

	(void)state;
	for (int from = CL_LOGIN; from <= CL_CLOSED; from++)
		for (int to = CL_LOGIN; to <= CL_CLOSED; to++) {
			bool want = expect[from][2 * to] == '1';
			if (client_transition_allowed((enum client_state)from,
			    (enum client_state)to) != want)
				fail_msg("client %s -> %s should be %s",
				    client_state_name((enum client_state)from),
				    client_state_name((enum client_state)to),
				    want ? "allowed" : "refused");
		}
}

/*
 * Servers: a connecting server becomes idle, or active at once (a
 * replication client's, or one handed over with its session client);
 * idle ones are linked or tested; active ones are released to idle or to
 * cleaning (tested); tested ones become idle; all may close; closed is
 * final.
 */
static void
test_server_transitions(void **state)
{
	static const char *expect[5] = {
		/* to:          Cn I  A  T  C */
		[SV_CONNECTING] = "1 1 1 0 1",
		[SV_IDLE] = "0 1 1 1 1",
		[SV_ACTIVE] = "0 1 1 1 1",
		[SV_TESTED] = "0 1 0 1 1",
		[SV_CLOSED] = "0 0 0 0 1",
	};

	(void)state;
	for (int from = SV_CONNECTING; from <= SV_CLOSED; from++)
		for (int to = SV_CONNECTING; to <= SV_CLOSED; to++) {
			bool want = expect[from][2 * to] == '1';
			if (server_transition_allowed((enum server_state)from,
			    (enum server_state)to) != want)
				fail_msg("server %s -> %s should be %s",
				    server_state_name((enum server_state)from),
				    server_state_name((enum server_state)to),
				    want ? "allowed" : "refused");
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_transitions),
		cmocka_unit_test(test_server_transitions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
