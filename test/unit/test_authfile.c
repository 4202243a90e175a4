/* SPDX-License-Identifier: ISC */
/* Unit tests of auth_file parsing: quoting, comments, errors, lookups. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/authfile.h"
#include "pgweir/pgmd5.h"

static void
test_parse(void **state)
{
	static const char text[] =
	    ";; users\n"
	    "# and comments\n"
	    "\"alice\" \"secret\"\n"
	    "  \"bob\"   \"md5aaaabbbbccccddddeeeeffff00001111\" "
	    "trailing junk\n"
	    "\n"
	    "\"q\"\"uote\" \"pa\"\"ss\"\n"
	    "\"alice\" \"later wins\"\n";
	char err[256];
	struct authfile *af = authfile_parse(text, "u.txt", err, sizeof(err));
	const struct authfile_entry *e;

	(void)state;
	assert_non_null(af);
	assert_int_equal(af->n, 3);
	e = authfile_find(af, "alice");
	assert_string_equal(e->secret, "later wins");
	e = authfile_find(af, "bob");
	assert_string_equal(e->secret, "md5aaaabbbbccccddddeeeeffff00001111");
	e = authfile_find(af, "q\"uote");
	assert_string_equal(e->secret, "pa\"ss");
	assert_null(authfile_find(af, "carol"));
	authfile_free(af);
}

/*
 * Many users, each listed several times in scattered lines: the last line
 * of each wins, whatever order sorting puts equal names in.
 */
static void
test_last_line_wins(void **state)
{
	static char text[64 * 1024];
	char err[256], name[32], want[32];
	size_t o = 0;
	struct authfile *af;

	(void)state;
	for (int round = 0; round < 7; round++)
		for (int u = 0; u < 200; u++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
			    "\"user%03d\" \"pw%d-%d\"\n", (u * 37) % 200,
			    (u * 37) % 200, round);
	af = authfile_parse(text, "many.txt", err, sizeof(err));
	assert_non_null(af);
	assert_int_equal(af->n, 200);
	for (int u = 0; u < 200; u++) {
		const struct authfile_entry *e;
		snprintf(name, sizeof(name), "user%03d", u);
		snprintf(want, sizeof(want), "pw%d-6", u);
		e = authfile_find(af, name);
		assert_non_null(e);
		assert_string_equal(e->secret, want);
	}
	authfile_free(af);
}

static void
test_errors(void **state)
{
	static const struct {
		const char *text;
		const char *error;
	} cases[] = {
		{ "\"a\" \"b\"\nuser secret\n", "u.txt:2: expected \"user\" "
		  "\"secret\"" },
		{ "\"a\"\n", "u.txt:1: expected" },
		{ "\"a\" \"unterminated\n", "u.txt:1: expected" },
		{ "\"\" \"x\"\n", "u.txt:1: expected" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(authfile_parse(cases[i].text, "u.txt", err,
		    sizeof(err)));
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: %s", i, err);
		/* the secret never appears in the message */
		assert_null(strstr(err, "secret\"x"));
	}
}

/* PostgreSQL's md5 scheme: stored form and salted answer. */
static void
test_pgmd5(void **state)
{
	/* md5("secretapp") and md5(<that hex> || "\x01\x02\x03\x04") */
	static const uint8_t salt[4] = { 1, 2, 3, 4 };
	char stored[PGMD5_LEN], answer[PGMD5_LEN], again[PGMD5_LEN];

	(void)state;
	assert_int_equal(pgmd5_hash("secret", "app", stored), 0);
	assert_string_equal(stored, "md56a422f785c9e20873908ce25d1736ae2");
	assert_int_equal(pgmd5_salted(stored, salt, answer), 0);
	assert_int_equal(strlen(answer), 35);
	assert_memory_equal(answer, "md5", 3);
	assert_int_equal(pgmd5_salted(stored, salt, again), 0);
	assert_string_equal(answer, again);
	/* not an md5 secret */
	assert_int_equal(pgmd5_salted("plaintext", salt, answer), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_last_line_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pgmd5),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
