/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the wire format: message headers read over buffers split
 * at every byte (and every pair of bytes), startup packets and their
 * errors, and the messages pgweir builds.
 */
#include "config.h"

#include <event2/buffer.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/proto.h"

/* A stream of messages of assorted types and sizes. */
static size_t
make_stream(uint8_t *buf, uint8_t *types, uint32_t *lens, int *count)
{
	static const struct {
		uint8_t type;
		uint32_t bodylen;
	} msgs[] = {
		{ 'Q', 9 }, { 'P', 0 }, { 'B', 30 }, { 'D', 1 }, { 'E', 4 },
		{ 'S', 0 }, { 'd', 57 }, { 'c', 0 }, { 'Z', 1 },
	};
	size_t o = 0;

	*count = 0;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		buf[o] = msgs[i].type;
		proto_put_u32(buf + o + 1, msgs[i].bodylen + 4);
		memset(buf + o + 5, (int)i, msgs[i].bodylen);
		types[i] = msgs[i].type;
		lens[i] = msgs[i].bodylen + 4;
		o += 5 + msgs[i].bodylen;
		(*count)++;
	}
	return o;
}

/* Walk all headers of a buffer and check them against the expectation. */
static void
check_walk(struct evbuffer *evb, const uint8_t *types, const uint32_t *lens,
    int count)
{
	size_t off = 0;
	struct pq_header hdr;

	for (int i = 0; i < count; i++) {
		assert_int_equal(proto_peek_header(evb, off, &hdr), 1);
		assert_int_equal(hdr.type, types[i]);
		assert_int_equal(hdr.len, lens[i]);
		off += 1 + hdr.len;
	}
	assert_int_equal(proto_peek_header(evb, off, &hdr), 0);
}

/*
 * The same walk through a pq_view, as the relay does it: first at growing
 * offsets, then taking each message off the front, so that the view must
 * notice the buffer changed.
 */
static void
check_view_walk(struct evbuffer *evb, const uint8_t *types,
    const uint32_t *lens, int count)
{
	struct pq_view view;
	struct pq_header hdr;
	size_t off = 0;
	uint8_t body0;

	pq_view_init(&view, evb);
	for (int i = 0; i < count; i++) {
		assert_int_equal(pq_view_header(&view, off, &hdr), 1);
		assert_int_equal(hdr.type, types[i]);
		assert_int_equal(hdr.len, lens[i]);
		off += 1 + hdr.len;
	}
	assert_int_equal(pq_view_header(&view, off, &hdr), 0);
	for (int i = 0; i < count; i++) {
		assert_int_equal(pq_view_header(&view, 0, &hdr), 1);
		assert_int_equal(hdr.type, types[i]);
		assert_int_equal(hdr.len, lens[i]);
		if (hdr.len > 4) {
			/* make_stream fills message i's body with i */
			assert_true(pq_view_copyout(&view, PQ_HEADER_LEN,
			    &body0, 1));
			assert_int_equal(body0, i);
		}
		evbuffer_drain(evb, 1 + hdr.len);
	}
	assert_int_equal(pq_view_header(&view, 0, &hdr), 0);
}

/*
 * Headers are read right however the buffer's chains split the bytes,
 * directly and through a pq_view.
 */
static void
test_framing_split_everywhere(void **state)
{
	uint8_t buf[512], types[16];
	uint32_t lens[16];
	int count;
	size_t len = make_stream(buf, types, lens, &count);

	(void)state;
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			struct evbuffer *evb = evbuffer_new();
			/* references keep the pieces in separate chains */
			if (i > 0)
				evbuffer_add_reference(evb, buf, i, NULL, NULL);
			if (j > i)
				evbuffer_add_reference(evb, buf + i, j - i,
				    NULL, NULL);
			if (len > j)
				evbuffer_add_reference(evb, buf + j, len - j,
				    NULL, NULL);
			check_walk(evb, types, lens, count);
			check_view_walk(evb, types, lens, count);
			evbuffer_free(evb);
		}
	}
}

/* A partial header is "not yet", at any prefix length. */
static void
test_framing_incomplete(void **state)
{
	uint8_t buf[512], types[16];
	uint32_t lens[16];
	int count;
	size_t len = make_stream(buf, types, lens, &count);

	(void)state;
	for (size_t k = 0; k < 5; k++) {
		struct evbuffer *evb = evbuffer_new();
		struct pq_header hdr;
		evbuffer_add(evb, buf, k);
		assert_int_equal(proto_peek_header(evb, 0, &hdr), 0);
		evbuffer_free(evb);
	}
	(void)len;
}

/* A length field below 4 is a framing error. */
static void
test_framing_bad_length(void **state)
{
	uint8_t bad[5] = { 'Q', 0, 0, 0, 3 };
	struct evbuffer *evb = evbuffer_new();
	struct pq_header hdr;

	(void)state;
	evbuffer_add(evb, bad, sizeof(bad));
	assert_int_equal(proto_peek_header(evb, 0, &hdr), -1);
	evbuffer_free(evb);
}

/* Build a startup packet from NUL-separated pairs. */
static size_t
startup(char *buf, uint32_t code, const char *pairs, size_t pairs_len)
{
	size_t len = 8 + pairs_len;

	proto_put_u32(buf, (uint32_t)len);
	proto_put_u32(buf + 4, code);
	memcpy(buf + 8, pairs, pairs_len);
	return len;
}

static void
test_startup_ok(void **state)
{
	static const char pairs[] = "user\0alice\0database\0shop\0"
	    "application_name\0psql\0"
	    "options\0-c TimeZone=UTC --date-style=ISO -cwork_mem=1MB\0"
	    "_pq_.future\0x\0";
	char buf[512], err[200];
	struct pq_startup sp;
	size_t len = startup(buf, PQ_PROTOCOL_3_0, pairs, sizeof(pairs));

	(void)state;
	assert_int_equal(proto_parse_startup(buf, len, &sp, err, sizeof(err)),
	    0);
	assert_string_equal(sp.user, "alice");
	assert_string_equal(sp.database, "shop");
	assert_int_equal(sp.n_params, 4);
	assert_string_equal(sp.params[0].name, "application_name");
	assert_string_equal(sp.params[0].value, "psql");
	assert_string_equal(sp.params[1].name, "TimeZone");
	assert_string_equal(sp.params[1].value, "UTC");
	assert_string_equal(sp.params[2].name, "date_style");
	assert_string_equal(sp.params[2].value, "ISO");
	assert_string_equal(sp.params[3].name, "work_mem");
	assert_string_equal(sp.params[3].value, "1MB");
	assert_int_equal(sp.n_unknown_options, 1);
	assert_string_equal(sp.unknown_options[0], "_pq_.future");
}

static void
test_startup_database_defaults_to_user(void **state)
{
	static const char pairs[] = "user\0bob\0";
	char buf[64], err[200];
	struct pq_startup sp;
	size_t len = startup(buf, PQ_PROTOCOL_3_0 | 2, pairs, sizeof(pairs));

	(void)state;
	assert_int_equal(proto_parse_startup(buf, len, &sp, err, sizeof(err)),
	    0);
	assert_string_equal(sp.database, "bob");
	assert_int_equal(sp.code & 0xffff, 2);	/* minor 2: negotiate */
}

/* Each malformed packet is refused with the message a user would see. */
static void
test_startup_errors(void **state)
{
	static const struct {
		uint32_t code;
		const char *pairs;
		size_t len;
		const char *error;
	} cases[] = {
		{ PQ_PROTOCOL_3_0, "database\0x\0", 12,
		  "no PostgreSQL user name specified" },
		{ PQ_PROTOCOL_3_0, "user\0a", 6, "expected terminator" },
		{ PQ_PROTOCOL_3_0, "user\0", 6, "missing value" },
		{ 2u << 16, "user\0a\0", 8,
		    "unsupported frontend protocol 2.0" },
		{ PQ_PROTOCOL_3_0, "user\0a\0options\0-x\0", 19,
		  "unsupported options startup parameter: only '-c "
		  "config=val' and '--config=val' are allowed" },
		{ PQ_PROTOCOL_3_0, "user\0a\0options\0-c\0", 19,
		  "unsupported options startup parameter" },
		{ PQ_PROTOCOL_3_0, "user\0a\0options\0-c =x\0", 22,
		  "unsupported options startup parameter" },
		{ PQ_SSL_REQUEST, "xxxx", 4, "invalid length of encryption" },
		{ PQ_CANCEL_REQUEST, "1234", 4, "invalid length of cancel" },
	};
	char buf[256], err[200];
	struct pq_startup sp;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = startup(buf, cases[i].code, cases[i].pairs,
		    cases[i].len);
		assert_int_equal(proto_parse_startup(buf, len, &sp, err,
		    sizeof(err)), -1);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].error);
	}
	/* declared length disagreeing with the bytes, too short, too long */
	proto_put_u32(buf, 99);
	assert_int_equal(proto_parse_startup(buf, 20, &sp, err, sizeof(err)),
	    -1);
	assert_int_equal(proto_parse_startup(buf, 4, &sp, err, sizeof(err)),
	    -1);
	assert_int_equal(proto_parse_startup(buf, PQ_STARTUP_MAX + 1, &sp,
	    err, sizeof(err)), -1);
}

static void
test_startup_requests(void **state)
{
	char buf[32], err[200];
	struct pq_startup sp;

	(void)state;
	proto_put_u32(buf, 8);
	proto_put_u32(buf + 4, PQ_SSL_REQUEST);
	assert_int_equal(proto_parse_startup(buf, 8, &sp, err, sizeof(err)),
	    0);
	assert_int_equal(sp.code, PQ_SSL_REQUEST);
	proto_put_u32(buf, 16);
	proto_put_u32(buf + 4, PQ_CANCEL_REQUEST);
	proto_put_u32(buf + 8, 1234);
	proto_put_u32(buf + 12, 0xdeadbeef);
	assert_int_equal(proto_parse_startup(buf, 16, &sp, err, sizeof(err)),
	    0);
	assert_int_equal(sp.cancel_pid, 1234);
	assert_int_equal(sp.cancel_key, 0xdeadbeef);
}

/* An ErrorResponse we build parses back to its fields. */
static void
test_error_round_trip(void **state)
{
	struct evbuffer *evb = evbuffer_new();
	struct pq_error_fields f;
	struct pq_header hdr;
	uint8_t *p;

	(void)state;
	assert_int_equal(proto_build_error(evb, "FATAL", "08P01", "bad thing",
	    "more"), 0);
	assert_int_equal(proto_peek_header(evb, 0, &hdr), 1);
	assert_int_equal(hdr.type, 'E');
	assert_int_equal(evbuffer_get_length(evb), 1 + hdr.len);
	p = evbuffer_pullup(evb, -1);
	assert_int_equal(proto_parse_error((char *)p + 5, hdr.len - 4, &f), 0);
	assert_string_equal(f.severity, "FATAL");
	assert_string_equal(f.sqlstate, "08P01");
	assert_string_equal(f.message, "bad thing");
	assert_string_equal(f.detail, "more");
	/* an unterminated field list is refused */
	assert_int_equal(proto_parse_error("Mabc", 4, &f), -1);
	evbuffer_free(evb);
}

/* Row description and data row have the documented layout. */
static void
test_result_set(void **state)
{
	struct evbuffer *evb = evbuffer_new();
	const char *names[] = { "a", "bb" };
	const uint32_t oids[] = { 25, 23 };
	const char *vals[] = { "x", NULL };
	uint8_t *p;
	size_t len;

	(void)state;
	proto_build_row_description(evb, names, oids, 2);
	proto_build_data_row(evb, vals, 2);
	proto_build_command_complete(evb, "SHOW");
	len = evbuffer_get_length(evb);
	p = evbuffer_pullup(evb, -1);
	assert_int_equal(p[0], 'T');
	assert_int_equal(proto_get_u32(p + 1), 4 + 2 + (2 + 18) + (3 + 18));
	assert_int_equal(p[5], 0);
	assert_int_equal(p[6], 2);
	assert_string_equal((char *)p + 7, "a");
	p += 1 + proto_get_u32(p + 1);
	assert_int_equal(p[0], 'D');
	assert_int_equal(proto_get_u32(p + 1), 4 + 2 + 4 + 1 + 4);
	assert_int_equal(proto_get_u32(p + 7), 1);
	assert_int_equal(p[11], 'x');
	assert_int_equal(proto_get_u32(p + 12), 0xffffffffu);
	p += 1 + proto_get_u32(p + 1);
	assert_int_equal(p[0], 'C');
	assert_string_equal((char *)p + 5, "SHOW");
	(void)len;
	evbuffer_free(evb);
}

/* UTF-8 validation: what a role name can be, and the classic traps. */
static void
test_valid_utf8(void **state)
{
	static const char *const good[] = { "", "alice", "J\xc3\xbcrgen",
		"\xe2\x82\xac", "\xf0\x9f\x90\x98", "\xef\xbf\xbf",
		"\xf4\x8f\xbf\xbf" };
	static const char *const bad[] = { "\xc3\x28", "\x80", "\xbf",
		"\xc0\xaf",		/* overlong "/" */
		"\xe0\x80\xaf",	/* overlong, 3 bytes */
		"\xf0\x80\x80\xaf",	/* overlong, 4 bytes */
		"\xed\xa0\x80",	/* a surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\xf8\x88\x80\x80\x80", "\xe2\x82", "abc\xe2",
		"\xff" };

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(proto_is_valid_utf8(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(proto_is_valid_utf8(bad[i], strlen(bad[i])));
	/* a truncated sequence at the end of a counted buffer */
	assert_false(proto_is_valid_utf8("\xe2\x82\xac", 2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_split_everywhere),
		cmocka_unit_test(test_framing_incomplete),
		cmocka_unit_test(test_framing_bad_length),
		cmocka_unit_test(test_startup_ok),
		cmocka_unit_test(test_startup_database_defaults_to_user),
		cmocka_unit_test(test_startup_errors),
		cmocka_unit_test(test_startup_requests),
		cmocka_unit_test(test_error_round_trip),
		cmocka_unit_test(test_result_set),
		cmocka_unit_test(test_valid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
