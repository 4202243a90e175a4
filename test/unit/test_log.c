/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of log escaping: log_escape() itself, and that every line
 * log_vmsg() writes (prefix and message alike) is escaped, so strings from
 * a client cannot forge a line.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pgweir/log.h"

/* Escape src whole into a static buffer of dstlen bytes. */
static const char *
esc(const char *src, size_t dstlen)
{
	static char buf[256];

	assert_true(dstlen <= sizeof(buf));
	log_escape(buf, dstlen, src, strlen(src));
	return buf;
}

/* Controls, backslash and non-ASCII become \xNN; the rest stays. */
static void
test_escape(void **state)
{
	(void)state;
	assert_string_equal(esc("alice", 64), "alice");
	assert_string_equal(esc("a\nb", 64), "a\\x0ab");
	assert_string_equal(esc("a\r\n2024-01-01 LOG forged", 64),
	    "a\\x0d\\x0a2024-01-01 LOG forged");
	assert_string_equal(esc("back\\slash", 64), "back\\x5cslash");
	assert_string_equal(esc("\x1b[2J\x7f", 64), "\\x1b[2J\\x7f");
	assert_string_equal(esc("caf\xc3\xa9", 64), "caf\\xc3\\xa9");
	/* truncation never cuts an escape in half */
	assert_string_equal(esc("ab\n", 5), "ab");
	assert_string_equal(esc("ab\n", 7), "ab\\x0a");
	assert_string_equal(esc("abcdef", 4), "abc");
}

/* Log one line with a prefix through log_vmsg. */
static void
log_with_prefix(const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_LOG, prefix, fmt, ap);
	va_end(ap);
}

/* A prefix and arguments with newlines still make exactly one line each. */
static void
test_lines_escaped(void **state)
{
	char path[] = "/tmp/pgweir-ut-log-XXXXXX", buf[4096];
	struct log_settings ls = { .quiet = true, .logfile = path };
	FILE *fp;
	size_t n;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_configure(&ls), 0);
	log_with_prefix("C-0x1: db/evil\nuser@127.0.0.1:5", "closing: %s",
	    "bye\r\nFATAL forged");
	log_info("user %s, parameter %s", "a\\b", "x\ty");
	log_fini();

	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	unlink(path);
	buf[n] = '\0';
	assert_non_null(strstr(buf, " LOG C-0x1: db/evil\\x0auser@127.0.0.1:5 "
	    "closing: bye\\x0d\\x0aFATAL forged\n"));
	assert_non_null(strstr(buf, " LOG user a\\x5cb, parameter "
	    "x\\x09y\n"));
	/* two calls, two lines */
	n = 0;
	for (const char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	assert_int_equal(n, 2);
}

/* A line longer than the buffer is cut, still ending in one newline. */
static void
test_long_line(void **state)
{
	char path[] = "/tmp/pgweir-ut-log-XXXXXX", *big, buf[16384];
	struct log_settings ls = { .quiet = true, .logfile = path };
	FILE *fp;
	size_t n;
	int fd;

	(void)state;
	big = malloc(10000);
	memset(big, '\n', 9999);
	big[9999] = '\0';
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_configure(&ls), 0);
	log_info("%s", big);
	log_fini();
	free(big);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	unlink(path);
	buf[n] = '\0';
	assert_true(n > 100 && n < 4096);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_non_null(strstr(buf, "\\x0a\\x0a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_lines_escaped),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
