/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the auth_hba_file: a table of logins matched against
 * test/data/hba.conf (which uses every supported field form), a table of
 * broken files whose messages must name file and line, and malformed
 * input (every prefix of the fixture, random damage) for the sanitizers.
 *
 * The fixtures are found through the TEST_DATA_DIR environment variable,
 * which Makefile.am exports to all tests; when it is unset, the
 * compile-time -DTEST_DATA_DIR='"..."' is used; without either the tests
 * that need files are skipped.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/hba.h"
#include "pgweir/ident.h"

/* Not a method: what a login expects when no record matches. */
#define NO_MATCH	(-1)

/* One login and what the fixture must say about it. */
struct match_case {
	enum hba_conn conn;
	const char *db;
	const char *user;
	const char *addr;	/* numeric IPv4 or IPv6, NULL for none */
	int want;		/* enum hba_method, or NO_MATCH */
	const char *map;	/* expected map= or NULL */
};

#define LOCAL	HBA_CONN_LOCAL
#define HOSTSSL	HBA_CONN_HOST_SSL
#define HOSTNOSSL	HBA_CONN_HOST_NOSSL

static const struct match_case match_cases[] = {
	/* local: keywords, quoting, lists, @files */
	{ LOCAL, "anything", "postgres", NULL, HBA_PEER, "admins" },
	{ LOCAL, "all", "alice", NULL, HBA_TRUST, NULL },
	{ LOCAL, "other", "alice", NULL, HBA_REJECT, NULL },
	{ LOCAL, "bob", "bob", NULL, HBA_MD5, NULL },
	{ LOCAL, "bobby", "bob", NULL, HBA_REJECT, NULL },
	{ LOCAL, "replication", "anyone", NULL, HBA_REJECT, NULL },
	{ LOCAL, "db1", "carol", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "db2", "dave", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "dbx", "eve", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "dbz", "all", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "sameuser", "carol", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "carol", "carol", NULL, HBA_REJECT, NULL },
	{ LOCAL, "dby", "frank", NULL, HBA_REJECT, NULL },
	{ LOCAL, "db3", "carol", NULL, HBA_REJECT, NULL },
	{ LOCAL, "DB1", "carol", NULL, HBA_REJECT, NULL },
	{ LOCAL, "my db", "my user", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "my db", "x,y", NULL, HBA_PASSWORD, NULL },
	{ LOCAL, "my db", "x", NULL, HBA_REJECT, NULL },
	{ LOCAL, "db1", "certuser", "10.1.2.3", HBA_REJECT, NULL },
	/* host*: types, CIDR, separate masks, IPv6, continuation */
	{ HOSTSSL, "d", "certuser", "1.2.3.4", HBA_CERT, "cert map" },
	{ HOSTNOSSL, "d", "certuser", "1.2.3.4", NO_MATCH, NULL },
	{ HOSTSSL, "d", "certuser", "::1", HBA_TRUST, NULL },
	{ HOSTNOSSL, "d", "u", "10.1.2.3", HBA_REJECT, NULL },
	{ HOSTSSL, "d", "u", "10.1.2.3", HBA_MD5, NULL },
	{ HOSTSSL, "d", "u", "10.255.255.255", HBA_MD5, NULL },
	{ HOSTSSL, "d", "u", "11.0.0.0", HBA_SCRAM, NULL },
	{ HOSTNOSSL, "d", "u", "11.0.0.0", NO_MATCH, NULL },
	{ HOSTNOSSL, "d", "u", "::ffff:10.1.2.3", HBA_REJECT, NULL },
	{ HOSTSSL, "d", "u", "::ffff:10.1.2.3", HBA_MD5, NULL },
	{ HOSTNOSSL, "all", "u", "192.168.1.77", HBA_TRUST, NULL },
	{ HOSTNOSSL, "all", "u", "::ffff:192.168.1.77", HBA_TRUST, NULL },
	{ HOSTNOSSL, "x", "u", "192.168.1.77", NO_MATCH, NULL },
	{ HOSTNOSSL, "all", "u", "192.168.2.1", NO_MATCH, NULL },
	{ HOSTSSL, "x", "u", "192.168.1.77", HBA_SCRAM, NULL },
	{ HOSTNOSSL, "d", "u", "::1", HBA_TRUST, NULL },
	{ HOSTNOSSL, "d", "u", "::2", NO_MATCH, NULL },
	{ HOSTNOSSL, "d", "v6user", "2001:db8:1::5", HBA_SCRAM, NULL },
	{ HOSTNOSSL, "d", "v6user", "2001:db9::5", NO_MATCH, NULL },
	{ HOSTNOSSL, "d", "u", "2001:db8:1::5", NO_MATCH, NULL },
	{ HOSTNOSSL, "d", "u", "172.16.5.4", HBA_PASSWORD, NULL },
	{ HOSTNOSSL, "d", "u", "172.16.5.5", NO_MATCH, NULL },
	{ HOSTNOSSL, "d", "u", "::ffff:172.16.5.4", HBA_PASSWORD, NULL },
	/* a TCP login without an address matches "all" records only */
	{ HOSTSSL, "d", "certuser", NULL, HBA_SCRAM, NULL },
	{ HOSTNOSSL, "d", "u", NULL, NO_MATCH, NULL },
};

/* One broken file and the start of the message it must give. */
struct error_case {
	const char *text;
	int line;		/* expected line, 0 for a whole-file message */
	const char *what;	/* substring of the message */
};

static const struct error_case error_cases[] = {
	{ "hostgssenc all all all md5\n", 1, "hostgssenc is not supported" },
	{ "local all all md5\nhostnogssenc all all all md5\n", 2,
	    "not supported" },
	{ "include other.conf\n", 1, "include directives are not supported" },
	{ "include_dir conf.d\n", 1, "include_dir directives" },
	{ "loca all all md5\n", 1, "invalid record type \"loca\"" },
	{ "host,local all all all md5\n", 1, "only one value" },
	{ "local all all trust\nlocal all +admins md5\n", 2,
	    "+group) is not supported" },
	{ "local samerole all md5\n", 1, "samerole is not supported" },
	{ "local /^db all md5\n", 1, "regular expressions" },
	{ "local all /^u md5\n", 1, "regular expressions" },
	{ "local \"\" all md5\n", 1, "empty database name" },
	{ "local db1,,db2 all md5\n", 1, "empty entry in database list" },
	{ "local all all trust\nlocal db1,\n", 2, "ends with a comma" },
	{ "local all\n", 1, "end of line before user field" },
	{ "local all all\n", 1, "end of line before authentication method" },
	{ "local all all \"\"\n", 1, "empty authentication method" },
	{ "local all all md5,trust\n", 1, "only one value" },
	{ "local all all ident\n", 1, "method ident is not supported" },
	{ "local all all radius radiusservers=x\n", 1,
	    "radius is not supported" },
	{ "local all all ldap ldapservr=x\n", 1,
	    "option ldapservr is not an ldap option" },
	{ "local all all md55\n", 1, "invalid authentication method" },
	{ "local all all md5 clientcert=verify-full\n", 1,
	    "option clientcert is not supported" },
	{ "local all all md5 map=x\n", 1, "map is only valid for peer" },
	{ "local all all peer map\n", 1, "expected name=value" },
	{ "local all all peer map=\n", 1, "map needs a value" },
	{ "local all all peer map=a map=b\n", 1, "map given twice" },
	{ "local all all peer map=a,b\n", 1, "only one value" },
	{ "host all all\n", 1, "end of line before address" },
	{ "host all all all\n", 1, "end of line before authentication" },
	{ "host all all samehost md5\n", 1, "samehost is not supported" },
	{ "host all all samenet md5\n", 1, "samenet is not supported" },
	{ "host all all db.example.com md5\n", 1, "host names are not" },
	{ "host all all .example.com md5\n", 1, "host names are not" },
	{ "host all all 10.0.0.256/8 md5\n", 1, "invalid IP address" },
	{ "host all all fe80::1%eth0 md5\n", 1, "invalid IP address" },
	{ "host all all 10.0.0.0/33 md5\n", 1, "length 33 is over 32" },
	{ "host all all ::1/129 md5\n", 1, "length 129 is over 128" },
	{ "host all all 10.0.0.0/ md5\n", 1, "invalid CIDR mask length" },
	{ "host all all 10.0.0.0/8x md5\n", 1, "invalid CIDR mask length" },
	{ "host all all 10.0.0.0/0008 md5\n", 1, "invalid CIDR mask" },
	{ "host all all 10.0.0.0/-1 md5\n", 1, "invalid CIDR mask length" },
	{ "host all all 10.0.0.0 md5\n", 1, "invalid netmask \"md5\"" },
	{ "host all all 10.0.0.0\n", 1, "end of line before netmask" },
	{ "host all all 10.0.0.0 ffff:: md5\n", 1, "invalid netmask" },
	{ "host all all ::1 255.255.255.255 md5\n", 1, "invalid netmask" },
	{ "host all all 10.0.0.0 255.0.255.0 md5\n", 1, "not contiguous" },
	{ "host all all 10.0.0.0 255.240.1.0 md5\n", 1, "not contiguous" },
	{ "host all all 10.0.0.0/8,11.0.0.0/8 md5\n", 1, "only one value" },
	{ "local all \"unterminated md5\n", 1, "unterminated quoted" },
	{ "local all all md5 map=\"x\n", 1, "unterminated quoted" },
	/* line numbers count comments, blanks and continued lines */
	{ "# c\n\nlocal all all \\\n  trust\nlocal x y bogus\n", 5,
	    "invalid authentication method \"bogus\"" },
	{ "local all all \\\n  trust \\\n  bogus=1\n", 1,
	    "option bogus is not supported" },
	{ "local all all trust\r\nlocal a b c\r\n", 2,
	    "invalid authentication method \"c\"" },
	/* @files: the message names the hba line, and the @file's line */
	{ "local all @ md5\n", 1, "@ without a file name" },
	{ "local all all trust\nlocal all @hba_missing.txt md5\n", 2,
	    "hba_missing.txt: could not open" },
	{ "local all @hba_nested.txt md5\n", 1,
	    "hba_nested.txt:3: @hba_users.txt: nested @file" },
	{ "\nlocal all @hba_group.txt md5\n", 2,
	    "hba_group.txt:2: user +admins: group membership" },
	{ "local @hba_nested.txt all md5\n", 1, "hba_nested.txt:3: " },
	{ "local all @. md5\n", 1, "not a regular file" },
	/* a file that grants nothing is refused whole */
	{ "", 0, "no records" },
	{ "# only comments\n\n   \n", 0, "no records" },
};

/* The directory of the fixtures, or NULL. */
static const char *
data_dir(void)
{
	const char *d = getenv("TEST_DATA_DIR");

	if (d != NULL && d[0] != '\0')
		return d;
#ifdef TEST_DATA_DIR
	return TEST_DATA_DIR;
#else
	return NULL;
#endif
}

/* Fill a sockaddr from a numeric address. */
static const struct sockaddr *
make_addr(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (ip == NULL)
		return NULL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(5432);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(5432);
	} else {
		fail_msg("bad address in test table: %s", ip);
	}
	return (const struct sockaddr *)ss;
}

/* The record type a connection kind is written as, for messages. */
static const char *
conn_name(enum hba_conn conn)
{
	return conn == HBA_CONN_LOCAL ? "local" :
	    conn == HBA_CONN_HOST_SSL ? "hostssl" : "hostnossl";
}

/* Check one login against a parsed file. */
static void
check_match(const struct hba *hba, const struct match_case *c)
{
	struct sockaddr_storage ss;
	enum hba_method m = HBA_TRUST;
	const char *map = "junk";
	int rc;

	rc = hba_match(hba, c->conn, c->db, c->user, make_addr(c->addr, &ss),
	    &m, &map);
	if (c->want == NO_MATCH) {
		if (rc != -1 || m != HBA_REJECT || map != NULL)
			fail_msg("%s db \"%s\" user \"%s\" addr %s: want "
			    "no match, got rc %d method %s",
			    conn_name(c->conn), c->db, c->user,
			    c->addr ? c->addr : "-", rc, hba_method_name(m));
		return;
	}
	if (rc != 0 || (int)m != c->want)
		fail_msg("%s db \"%s\" user \"%s\" addr %s: want %s, got "
		    "rc %d method %s", conn_name(c->conn), c->db, c->user,
		    c->addr ? c->addr : "-",
		    hba_method_name((enum hba_method)c->want), rc,
		    hba_method_name(m));
	if (c->map == NULL) {
		assert_null(map);
	} else {
		assert_non_null(map);
		assert_string_equal(map, c->map);
	}
}

/* Every login in the table gets the method the fixture gives it. */
static void
test_match_table(void **state)
{
	const char *dir = data_dir();
	char path[4096], err[512] = "";
	struct hba *hba;

	(void)state;
	if (dir == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/hba.conf", dir);
	hba = hba_load(path, err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]);
	    i++)
		check_match(hba, &match_cases[i]);
	hba_free(hba);
}

/* Every broken file is refused with "name:line: reason". */
static void
test_parse_errors(void **state)
{
	const char *dir = data_dir();

	(void)state;
	if (dir == NULL)
		skip();
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]);
	    i++) {
		const struct error_case *c = &error_cases[i];
		char err[512] = "", prefix[64];
		struct hba *hba;

		hba = hba_parse(c->text, "bad.conf", dir, err, sizeof(err));
		if (hba != NULL) {
			hba_free(hba);
			fail_msg("case %zu parsed: %s", i, c->text);
		}
		if (c->line > 0)
			snprintf(prefix, sizeof(prefix), "bad.conf:%d: ",
			    c->line);
		else
			snprintf(prefix, sizeof(prefix), "bad.conf: ");
		if (strncmp(err, prefix, strlen(prefix)) != 0 ||
		    strstr(err, c->what) == NULL)
			fail_msg("case %zu: want \"%s...%s\", got \"%s\"", i,
			    prefix, c->what, err);
	}
}

/* Loading names the path on errors; a good load finds relative @files. */
static void
test_load(void **state)
{
	const char *dir = data_dir();
	char path[4096], err[512] = "";
	struct hba *hba;

	(void)state;
	if (dir == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/hba_no_such.conf", dir);
	assert_null(hba_load(path, err, sizeof(err)));
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, "could not open"));

	assert_null(hba_load(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));

	/* @file with an absolute path, and no base directory at all */
	snprintf(path, sizeof(path), "local all @%s/hba_users.txt md5\n",
	    dir);
	hba = hba_parse(path, "abs.conf", "/nonexistent", err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	hba_free(hba);
	assert_null(hba_parse(path, "abs.conf", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "abs.conf:1: "));
	assert_non_null(strstr(err, "not available"));
}

/* Odd but valid forms, parsed from text. */
static void
test_parse_forms(void **state)
{
	static const char text[] =
	    "local a\" \"b,\"c,d\" all trust # a comment \"with quotes\n"
	    "local \"sameuser\" all md5\n"
	    "local all \"+grp\",\"@f\" password\n"
	    "local   db1 ,  db2   all   scram-sha-256\n"
	    "host all all 0.0.0.0 0.0.0.0 md5\r\n"
	    "host all all ::/0 password\n"
	    "\t\n";
	struct sockaddr_storage ss;
	char err[512] = "";
	enum hba_method m;
	const char *map;
	struct hba *hba;

	(void)state;
	hba = hba_parse(text, "forms.conf", NULL, err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	assert_int_equal(hba_match(hba, LOCAL, "a b", "u", NULL, &m, &map), 0);
	assert_int_equal(m, HBA_TRUST);
	assert_int_equal(hba_match(hba, LOCAL, "c,d", "u", NULL, &m, &map), 0);
	assert_int_equal(m, HBA_TRUST);
	assert_int_equal(hba_match(hba, LOCAL, "a", "u", NULL, &m, &map), -1);
	assert_int_equal(hba_match(hba, LOCAL, "sameuser", "u", NULL, &m, &map),
	    0);
	assert_int_equal(m, HBA_MD5);
	assert_int_equal(hba_match(hba, LOCAL, "u", "u", NULL, &m, &map), -1);
	assert_int_equal(hba_match(hba, LOCAL, "x", "+grp", NULL, &m, &map), 0);
	assert_int_equal(m, HBA_PASSWORD);
	assert_int_equal(hba_match(hba, LOCAL, "x", "@f", NULL, &m, &map), 0);
	assert_int_equal(m, HBA_PASSWORD);
	assert_int_equal(hba_match(hba, LOCAL, "db2", "u", NULL, &m, &map), 0);
	assert_int_equal(m, HBA_SCRAM);
	assert_int_equal(hba_match(hba, HOSTNOSSL, "d", "u",
	    make_addr("203.0.113.9", &ss), &m, &map), 0);
	assert_int_equal(m, HBA_MD5);
	assert_int_equal(hba_match(hba, HOSTNOSSL, "d", "u",
	    make_addr("2001:db8::1", &ss), &m, &map), 0);
	assert_int_equal(m, HBA_PASSWORD);
	hba_free(hba);

	/* host bits in a CIDR address are cleared, not an error */
	hba = hba_parse("host all all 10.1.2.3/16 trust\n", "bits.conf", NULL,
	    err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	assert_int_equal(hba_match(hba, HOSTSSL, "d", "u",
	    make_addr("10.1.200.1", &ss), &m, NULL), 0);
	assert_int_equal(hba_match(hba, HOSTSSL, "d", "u",
	    make_addr("10.2.0.1", &ss), &m, NULL), -1);
	/* a unix-socket family on a TCP login matches no CIDR record */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(hba_match(hba, HOSTSSL, "d", "u",
	    (const struct sockaddr *)&ss, &m, NULL), -1);
	hba_free(hba);

	/*
	 * cert off TLS and peer off the socket load, as in PgBouncer's files;
	 * the method then refuses the logins it cannot prove
	 */
	hba = hba_parse("host all all 10.0.0.0/8 cert map=m\n"
	    "local all all cert\nhost all all all peer\n", "lax.conf", NULL,
	    err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	{
		static const struct match_case lax[] = {
			{ HOSTNOSSL, "d", "u", "10.0.0.1", HBA_CERT, "m" },
			{ HOSTSSL, "d", "u", "10.0.0.1", HBA_CERT, "m" },
			{ LOCAL, "d", "u", NULL, HBA_CERT, NULL },
			{ HOSTSSL, "d", "u", "192.0.2.1", HBA_PEER, NULL },
		};
		for (size_t i = 0; i < sizeof(lax) / sizeof(lax[0]); i++)
			check_match(hba, &lax[i]);
	}
	hba_free(hba);
}

/* Nothing matches without rules or names; method names round-trip. */
static void
test_edges(void **state)
{
	enum hba_method m = HBA_TRUST;
	const char *map = "junk";
	char err[64];
	struct hba *hba;

	(void)state;
	assert_int_equal(hba_match(NULL, LOCAL, "d", "u", NULL, &m, &map), -1);
	assert_int_equal(m, HBA_REJECT);
	assert_null(map);
	hba = hba_parse("local all all trust", "e.conf", NULL, err,
	    sizeof(err));
	assert_non_null(hba);
	assert_int_equal(hba_match(hba, LOCAL, NULL, "u", NULL, &m, &map), -1);
	assert_int_equal(hba_match(hba, LOCAL, "d", NULL, NULL, &m, &map), -1);
	assert_int_equal(hba_match(hba, LOCAL, "d", "u", NULL, NULL, NULL), 0);
	assert_int_equal(hba_match(hba, HOSTSSL, "d", "u", NULL, &m, &map), -1);
	hba_free(hba);

	assert_string_equal(hba_method_name(HBA_TRUST), "trust");
	assert_string_equal(hba_method_name(HBA_REJECT), "reject");
	assert_string_equal(hba_method_name(HBA_MD5), "md5");
	assert_string_equal(hba_method_name(HBA_PASSWORD), "password");
	assert_string_equal(hba_method_name(HBA_SCRAM), "scram-sha-256");
	assert_string_equal(hba_method_name(HBA_CERT), "cert");
	assert_string_equal(hba_method_name(HBA_PEER), "peer");
	assert_string_equal(hba_method_name((enum hba_method)99), "unknown");

	/* a tiny or absent message buffer is never overrun */
	assert_null(hba_parse("bogus", "e.conf", NULL, err, 5));
	assert_int_equal(strlen(err), 4);
	assert_null(hba_parse("bogus", "e.conf", NULL, NULL, 0));
}

/* Records, lines and name counts are bounded. */
static void
test_limits(void **state)
{
	size_t rec = strlen("local all all trust\n");
	size_t len = (HBA_RULES_MAX + 1) * rec + HBA_LINE_MAX + 64;
	char *text = malloc(len), *p, err[256];
	struct hba *hba;

	(void)state;
	assert_non_null(text);

	/* exactly HBA_RULES_MAX records parse; one more does not */
	p = text;
	for (int i = 0; i < HBA_RULES_MAX; i++) {
		memcpy(p, "local all all trust\n", rec);
		p += rec;
	}
	*p = '\0';
	hba = hba_parse(text, "many.conf", NULL, err, sizeof(err));
	assert_non_null(hba);
	hba_free(hba);
	memcpy(p, "local all all trust\n", rec + 1);
	assert_null(hba_parse(text, "many.conf", NULL, err, sizeof(err)));
	snprintf(text, len, "many.conf:%d: too many records",
	    HBA_RULES_MAX + 1);
	assert_true(strncmp(err, text, strlen(text)) == 0);

	/* a record of HBA_LINE_MAX bytes is fine, one more is not */
	p = text;
	p += sprintf(p, "local all all trust\n# x");
	memset(p, 'x', HBA_LINE_MAX - 3);
	p += HBA_LINE_MAX - 3;
	*p = '\0';
	hba = hba_parse(text, "long.conf", NULL, err, sizeof(err));
	if (hba == NULL)
		fail_msg("%s", err);
	hba_free(hba);
	strcpy(p, "\\\nx\nlocal all all trust\n");
	assert_null(hba_parse(text, "long.conf", NULL, err, sizeof(err)));
	assert_string_equal(err, "long.conf:2: line too long (over 8192 "
	    "bytes)");

	/* a list of more names than allowed in all */
	p = text;
	p += sprintf(p, "local all a");
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, ",a");
	strcpy(p, " trust\n");
	p += strlen(p);
	{
		size_t one = (size_t)(p - text);
		int copies = HBA_NAMES_MAX / 1001 + 1;

		free(text);
		text = malloc(one * (size_t)copies + 1);
		assert_non_null(text);
		p = text;
		for (int i = 0; i < copies; i++) {
			p += sprintf(p, "local all a");
			for (int j = 0; j < 1000; j++)
				p += sprintf(p, ",a");
			p += sprintf(p, " trust\n");
		}
	}
	assert_null(hba_parse(text, "names.conf", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "too many database and user entries"));
	free(text);
}

/* Every prefix of the fixture, and damaged copies, parse or fail cleanly. */
static void
test_malformed(void **state)
{
	static const char junk[] = "\"#,\\\n\r\t @+/:.=x0";
	const char *dir = data_dir();
	char path[4096], err[256];
	struct hba *hba;
	char *text, *copy;
	size_t len;
	FILE *fp;

	(void)state;
	if (dir == NULL)
		skip();
	snprintf(path, sizeof(path), "%s/hba.conf", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	text = calloc(1, HBA_FILE_MAX + 1);
	assert_non_null(text);
	len = fread(text, 1, HBA_FILE_MAX, fp);
	fclose(fp);
	copy = malloc(len + 1);
	assert_non_null(copy);
	for (size_t n = 0; n <= len; n++) {
		memcpy(copy, text, n);
		copy[n] = '\0';
		hba = hba_parse(copy, "prefix.conf", dir, err, sizeof(err));
		if (hba == NULL)
			assert_true(strncmp(err, "prefix.conf", 11) == 0);
		hba_free(hba);
	}
	srand(42);
	for (int round = 0; round < 3000; round++) {
		memcpy(copy, text, len + 1);
		for (int k = 0; k < 1 + rand() % 8; k++)
			copy[(size_t)rand() % len] =
			    junk[(size_t)rand() % (sizeof(junk) - 1)];
		hba = hba_parse(copy, "junk.conf", dir, err, sizeof(err));
		if (hba == NULL)
			assert_true(strncmp(err, "junk.conf", 9) == 0);
		hba_free(hba);
	}
	free(copy);
	free(text);
}

/*
 * ldap rules keep PostgreSQL's options, quoted values whole (a suffix
 * with commas, a URL), for authldap.c, as "name=value" items.
 */
static void
test_ldap_rule(void **state)
{
	char err[256];
	struct hba *hba;
	enum hba_method m;
	const char *opts;
	struct sockaddr_storage ss;
	const struct sockaddr *addr = make_addr("127.0.0.1", &ss);

	(void)state;
	hba = hba_parse("host all u1 0.0.0.0/0 ldap ldapserver=127.0.0.1 "
	    "ldapport=3890 ldapprefix=\"uid=\" "
	    "ldapsuffix=\",dc=example,dc=net\"\n"
	    "host all u2 0.0.0.0/0 ldap "
	    "ldapurl=\"ldap://h:1/dc=x??sub?(uid=$username)\"\n"
	    "host all u3 0.0.0.0/0 ldap ldapserver=h \"ldapport\"=1 "
	    "ldapbasedn=\"dc=x\" ,ldapsearchfilter=\"uid=$username\"",
	    "h", NULL, err, sizeof(err));
	assert_non_null(hba);
	assert_int_equal(hba_match(hba, HBA_CONN_HOST_NOSSL, "db", "u1",
	    addr, &m, &opts), 0);
	assert_int_equal(m, HBA_LDAP);
	assert_string_equal(opts, "ldapserver=127.0.0.1\x1fldapport=3890"
	    "\x1fldapprefix=uid=\x1fldapsuffix=,dc=example,dc=net");
	assert_int_equal(hba_match(hba, HBA_CONN_HOST_NOSSL, "db", "u2",
	    addr, &m, &opts), 0);
	assert_string_equal(opts, "ldapurl=ldap://h:1/dc=x??sub?"
	    "(uid=$username)");
	/* quoted names and commas between options, as PgBouncer takes */
	assert_int_equal(hba_match(hba, HBA_CONN_HOST_NOSSL, "db", "u3",
	    addr, &m, &opts), 0);
	assert_string_equal(opts, "ldapserver=h\x1fldapport=1\x1f"
	    "ldapbasedn=dc=x\x1fldapsearchfilter=uid=$username");
	hba_free(hba);
}

/*
 * The auth_ident_file: "map system-user user" lines, quotes and comments;
 * unquoted all is anyone; regular expressions and +groups are refused
 * when the file loads, and every error names its line.
 */
static void
test_ident_maps(void **state)
{
	char err[256];
	struct ident_map *m;

	(void)state;
	m = ident_parse("# MAPNAME SYSTEM-USERNAME PG-USERNAME\n"
	    "test pgbouncer.acme.org someuser\n"
	    "test\tpgbouncer.acme.org\tanotheruser  # a comment\n"
	    "\n"
	    "test2 \"bouncer\" all\n"
	    "test3 root \"all\"\n", "ident.conf", err, sizeof(err));
	assert_non_null(m);
	assert_true(ident_allows(m, "test", "pgbouncer.acme.org", "someuser"));
	assert_true(ident_allows(m, "test", "pgbouncer.acme.org",
	    "anotheruser"));
	assert_false(ident_allows(m, "test", "pgbouncer.acme.org", "third"));
	assert_false(ident_allows(m, "test", "other.acme.org", "someuser"));
	assert_false(ident_allows(m, "test2", "pgbouncer.acme.org",
	    "someuser"));
	assert_true(ident_allows(m, "test2", "bouncer", "anyone"));
	/* a quoted "all" is a user of that name */
	assert_false(ident_allows(m, "test3", "root", "postgres"));
	assert_true(ident_allows(m, "test3", "root", "all"));
	assert_false(ident_allows(m, "nomap", "bouncer", "x"));
	assert_false(ident_allows(NULL, "test2", "bouncer", "x"));
	ident_free(m);

	assert_null(ident_parse("m a\n", "f", err, sizeof(err)));
	assert_string_equal(err, "f:1: missing user");
	assert_null(ident_parse("\nm a b c\n", "f", err, sizeof(err)));
	assert_string_equal(err, "f:2: expected \"map system-user user\"");
	assert_null(ident_parse("m /^(.*)$ \\1\n", "f", err, sizeof(err)));
	assert_string_equal(err, "f:1: regular expressions and +groups are "
	    "not supported in an ident map");
	assert_null(ident_parse("m \"a\n", "f", err, sizeof(err)));
	assert_string_equal(err, "f:1: expected \"map system-user user\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ldap_rule),
		cmocka_unit_test(test_ident_maps),
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
