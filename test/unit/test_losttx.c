/* SPDX-License-Identifier: ISC */
/*
 * Which statements end a transaction lost with its server
 * (src/losttx.c): the four that end an aborted transaction in
 * PostgreSQL, and nothing that would need the lost transaction (a
 * savepoint, AND CHAIN) or run more.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pgweir/losttx.h"

static void
test_end_statements(void **state)
{
	static const char *const yes[] = { "ROLLBACK", "rollback", "  abort ",
		"COMMIT;", "end", "Rollback Work", "commit transaction ;",
		"END\n", "abort work;  ", NULL };
	static const char *const no[] = { "", "select 1", "ROLLBACK TO x",
		"rollback to savepoint a", "commit and chain", "BEGIN",
		"rollback; select 1", "committed", "end work transaction",
		"release savepoint a", "ROLLBACK PREPARED 'x'", ";", NULL };

	(void)state;
	for (int i = 0; yes[i]; i++)
		if (!losttx_is_end_statement(yes[i]))
			fail_msg("\"%s\" should end the transaction", yes[i]);
	for (int i = 0; no[i]; i++)
		if (losttx_is_end_statement(no[i]))
			fail_msg("\"%s\" should not end it", no[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_statements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
