/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of log lines: log_escape() itself, that every text line
 * log_vconn() writes (connection prefix and message alike) is escaped, so
 * strings from a client cannot forge a line, and log_format = json: one
 * object per line, every field escaped, the connection as fields.
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

/* Log one line about a connection through log_vconn. */
static void
log_about(const struct log_conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vconn(LOG_LVL_LOG, conn, fmt, ap);
	va_end(ap);
}

/* A temporary log file, set as the only output with this format. */
static void
log_to_file(char *path, enum log_format format)
{
	struct log_settings ls = { .quiet = true, .logfile = path,
		.format = format };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(log_configure(&ls), 0);
}

/* What was logged to the file (closed and removed), in buf. */
static size_t
log_read_back(const char *path, char *buf, size_t size)
{
	FILE *fp;
	size_t n;

	log_fini();
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	fclose(fp);
	unlink(path);
	buf[n] = '\0';
	return n;
}

/* How many lines. */
static size_t
count_lines(const char *buf)
{
	size_t n = 0;

	for (const char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	return n;
}

/* A prefix and arguments with newlines still make exactly one line each. */
static void
test_lines_escaped(void **state)
{
	char path[] = "/tmp/pgweir-ut-log-XXXXXX", buf[4096];
	struct log_conn c = { .kind = 'C', .ptr = (void *)0x1, .db = "db",
		.user = "evil\nuser", .addr = "127.0.0.1:5" };
	struct log_conn s = { .kind = 'S', .ptr = (void *)0x2, .db = "db",
		.user = "u" };

	(void)state;
	log_to_file(path, LOG_FORMAT_TEXT);
	log_about(&c, "closing: %s", "bye\r\nFATAL forged");
	log_info("user %s, parameter %s", "a\\b", "x\ty");
	log_about(&s, "new connection to server");
	c.db = c.user = NULL;
	log_about(&c, "login attempt");
	log_read_back(path, buf, sizeof(buf));
	assert_non_null(strstr(buf, " LOG C-0x1: db/evil\\x0auser@127.0.0.1:5 "
	    "closing: bye\\x0d\\x0aFATAL forged\n"));
	assert_non_null(strstr(buf, " LOG user a\\x5cb, parameter "
	    "x\\x09y\n"));
	/* PgBouncer's prefixes: a server not yet connected, a client not
	 * yet logged in */
	assert_non_null(strstr(buf, " LOG S-0x2: db/u new connection to "
	    "server\n"));
	assert_non_null(strstr(buf, " LOG C-0x1: (nodb)/(nouser)@127.0.0.1:5 "
	    "login attempt\n"));
	assert_int_equal(count_lines(buf), 4);
}

/*
 * log_format = json: one object per line, the connection as fields, and
 * whatever bytes a client sent (quotes, backslashes, newlines, invalid
 * UTF-8: a lone lead byte, an overlong form, a surrogate) escaped so that
 * the line stays one valid JSON object; well-formed UTF-8 stays as is.
 */
static void
test_json(void **state)
{
	char path[] = "/tmp/pgweir-ut-log-XXXXXX", buf[4096], *line2;
	struct log_conn c = { .kind = 'C', .ptr = (void *)0x1, .id = 42,
		.db = "db", .user = "ev\"il\\\n\xff", .addr = "127.0.0.1:5" };
	struct log_conn a = { .kind = 'A', .id = 7,
		.text = "A-7: auth_query u@h:5432/db" };

	(void)state;
	log_to_file(path, LOG_FORMAT_JSON);
	log_about(&c, "closing: %s", "bye\r\n{\"forged\":1}");
	log_warning("no connection here: caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 bad: \xc3 \xc0\xaf \xed\xa0\x80");
	log_about(&a, "query failed");
	log_read_back(path, buf, sizeof(buf));
	assert_int_equal(count_lines(buf), 3);
	assert_true(strncmp(buf, "{\"time\":\"", 9) == 0);
	assert_non_null(strstr(buf, "Z\",\"pid\":"));
	assert_non_null(strstr(buf, ",\"level\":\"LOG\",\"conn\":\"C-0x1\","
	    "\"id\":42,\"database\":\"db\","
	    "\"user\":\"ev\\\"il\\\\\\u000a\\u00ff\","
	    "\"addr\":\"127.0.0.1:5\","
	    "\"message\":\"closing: bye\\u000d\\u000a{\\\"forged\\\":1}\"}\n"));
	line2 = strchr(buf, '\n') + 1;
	assert_non_null(strstr(line2, ",\"level\":\"WARNING\","
	    "\"message\":\"no connection here: caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 bad: \\u00c3 \\u00c0\\u00af "
	    "\\u00ed\\u00a0\\u0080\"}\n"));
	assert_non_null(strstr(buf, ",\"conn\":\"A-7\",\"id\":7,"
	    "\"context\":\"A-7: auth_query u@h:5432/db\","
	    "\"message\":\"query failed\"}\n"));
}

/* A line longer than the buffer is cut, still ending in one newline. */
static void
test_long_line(void **state)
{
	char path[] = "/tmp/pgweir-ut-log-XXXXXX", *big, buf[16384];
	char path2[] = "/tmp/pgweir-ut-log-XXXXXX";
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

	/* a JSON line is cut inside its message, and still closes */
	big = malloc(10000);
	memset(big, '\n', 9999);
	big[9999] = '\0';
	log_to_file(path2, LOG_FORMAT_JSON);
	log_info("%s", big);
	free(big);
	n = log_read_back(path2, buf, sizeof(buf));
	assert_true(n > 100 && n <= 4096);
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
	assert_string_equal(buf + n - 3, "\"}\n");
	assert_non_null(strstr(buf, "\\u000a\\u000a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_lines_escaped),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
