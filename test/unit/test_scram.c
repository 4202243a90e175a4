/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for src/scram.c: RFC 7677's SCRAM-SHA-256 test vector replayed
 * on each side, whole client<->server exchanges in process (with and
 * without channel binding, wrong password, unknown user, pass-through of a
 * recovered ClientKey), stored secrets (including one made by PostgreSQL
 * 15), and malformed input on every step.  Every message handed across is
 * first copied into a heap block of exactly its length, so AddressSanitizer
 * catches any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pgweir/scram.h"

/* RFC 7677 section 3. */
#define RFC_PASSWORD "pencil"
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST "n,,n=user,r=" RFC_CNONCE
#define RFC_SERVER_FIRST "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT_B64 \
	",i=4096"
#define RFC_CLIENT_FINAL "c=biws,r=" RFC_CNONCE RFC_SNONCE \
	",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* The RFC 7677 salt, "W22ZaJ0SNY7soEsUEjb6gQ==" decoded. */
static const uint8_t rfc_salt[16] = {
	0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
	0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
};

/*
 * Made by PostgreSQL 15.18 with password_encryption = 'scram-sha-256':
 * CREATE ROLE t LOGIN PASSWORD 'secret123'; SELECT rolpassword ...
 */
#define PG_SECRET "SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$" \
	"Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:" \
	"hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8="
#define PG_PASSWORD "secret123"

/* Two made-up tls-server-end-point hashes (SHA-256 and SHA-384 sized). */
static const uint8_t cbind_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t cbind_b[48] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };

static const uint8_t mock_key[SCRAM_KEY_LEN] = { 0x42, 0x17, 0x99 };

/* 43 base64 characters of zero bits: with "=", a 32-byte proof. */
#define ZERO43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* Where an exchange stopped; 0 when both sides succeeded. */
enum stage {
	ST_OK,
	ST_CLIENT_FIRST,
	ST_SERVER_FIRST,
	ST_CLIENT_FINAL,
	ST_SERVER_FINAL,
	ST_VERIFY,
};

/* A heap copy of exactly n bytes, no NUL, so overreads are caught. */
static char *
dup_exact(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	assert_non_null(p);
	memcpy(p, s, n);
	return p;
}

/* server side: client-first from a C string, through an exact copy. */
static int
sv_first(struct scram_server *s, const char *mech, const char *msg,
    char *out, size_t outlen, size_t *outn)
{
	char err[256];
	char *m = dup_exact(msg, strlen(msg));
	int rc;

	rc = scram_server_client_first(s, mech, m, strlen(msg), out, outlen,
	    outn, err, sizeof(err));
	free(m);
	return rc;
}

/* server side: client-final from a C string, through an exact copy. */
static int
sv_final(struct scram_server *s, const char *msg, char *out, size_t outlen,
    size_t *outn)
{
	char err[256];
	char *m = dup_exact(msg, strlen(msg));
	int rc;

	rc = scram_server_client_final(s, m, strlen(msg), out, outlen, outn,
	    err, sizeof(err));
	free(m);
	return rc;
}

/* client side: server-first from a C string, through an exact copy. */
static int
cl_first(struct scram_client *c, const char *msg, char *out, size_t outlen,
    size_t *outn)
{
	char err[256];
	char *m = dup_exact(msg, strlen(msg));
	int rc;

	rc = scram_client_server_first(c, m, strlen(msg), out, outlen, outn,
	    err, sizeof(err));
	free(m);
	return rc;
}

/* client side: server-final from a C string, through an exact copy. */
static int
cl_final(struct scram_client *c, const char *msg, char *err, size_t errlen)
{
	char *m = dup_exact(msg, strlen(msg));
	int rc;

	rc = scram_client_server_final(c, m, strlen(msg), err, errlen);
	free(m);
	return rc;
}

/* Run a whole exchange between c and s; returns where it stopped. */
static enum stage
run_exchange(struct scram_client *c, struct scram_server *s)
{
	char m1[SCRAM_OUT_MAX], m2[SCRAM_OUT_MAX], m3[SCRAM_OUT_MAX];
	char m4[SCRAM_OUT_MAX], err[256];
	size_t n1, n2, n3, n4;

	if (scram_client_first(c, m1, sizeof(m1), &n1) < 0)
		return ST_CLIENT_FIRST;
	assert_int_equal(strlen(m1), n1);
	if (sv_first(s, scram_client_mechanism(c), m1, m2, sizeof(m2),
	    &n2) < 0)
		return ST_SERVER_FIRST;
	assert_int_equal(strlen(m2), n2);
	if (cl_first(c, m2, m3, sizeof(m3), &n3) < 0)
		return ST_CLIENT_FINAL;
	assert_int_equal(strlen(m3), n3);
	if (sv_final(s, m3, m4, sizeof(m4), &n4) < 0)
		return ST_SERVER_FINAL;
	assert_int_equal(strlen(m4), n4);
	if (cl_final(c, m4, err, sizeof(err)) < 0)
		return ST_VERIFY;
	return ST_OK;
}

/* A secret for a password with a fixed salt. */
static void
make_secret(const char *password, struct scram_secret *sec)
{
	assert_int_equal(scram_secret_from_password(password, rfc_salt,
	    sizeof(rfc_salt), 4096, sec), 0);
}

/* A server in SCRAM_SV_FIRST with nonce "abcXYZ" and gs2 "n,,". */
static void
server_at_final(struct scram_server *s, const struct scram_secret *sec)
{
	char out[SCRAM_OUT_MAX];
	size_t n;

	assert_int_equal(scram_server_init(s, sec, NULL, 0), 0);
	assert_int_equal(scram_server_set_nonce_for_test(s, "XYZ"), 0);
	assert_int_equal(sv_first(s, SCRAM_SHA_256, "n,,n=,r=abc", out,
	    sizeof(out), &n), 0);
	assert_string_equal(out, "r=abcXYZ,s=" RFC_SALT_B64 ",i=4096");
}

/* A client in SCRAM_CL_FIRST with nonce "abc". */
static void
client_at_first(struct scram_client *c, const char *password)
{
	char out[SCRAM_OUT_MAX];
	size_t n;

	assert_int_equal(scram_client_init_password(c, password, false, NULL,
	    0), 0);
	assert_int_equal(scram_client_set_nonce_for_test(c, "abc"), 0);
	assert_int_equal(scram_client_first(c, out, sizeof(out), &n), 0);
	assert_string_equal(out, "n,,n=,r=abc");
}

/* RFC 7677's exchange, with pgweir as the client. */
static void
test_rfc7677_client(void **state)
{
	struct scram_client c;
	char out[SCRAM_OUT_MAX], err[256];
	size_t n;

	(void)state;
	assert_int_equal(scram_client_init_password(&c, RFC_PASSWORD, false,
	    NULL, 0), 0);
	assert_int_equal(scram_client_set_user(&c, "user"), 0);
	assert_int_equal(scram_client_set_nonce_for_test(&c, RFC_CNONCE), 0);
	assert_string_equal(scram_client_mechanism(&c), "SCRAM-SHA-256");
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_string_equal(out, RFC_CLIENT_FIRST);
	assert_int_equal(n, strlen(RFC_CLIENT_FIRST));
	assert_int_equal(cl_first(&c, RFC_SERVER_FIRST, out, sizeof(out),
	    &n), 0);
	assert_string_equal(out, RFC_CLIENT_FINAL);
	assert_int_equal(c.iterations, 4096);
	assert_int_equal(c.salt_len, 16);
	assert_memory_equal(c.salt, rfc_salt, 16);
	assert_int_equal(cl_final(&c, RFC_SERVER_FINAL, err, sizeof(err)), 0);
	assert_int_equal(c.state, SCRAM_CL_DONE);
	scram_client_wipe(&c);
	assert_int_equal(c.state, SCRAM_CL_NONE);
}

/* RFC 7677's exchange, with pgweir as the server. */
static void
test_rfc7677_server(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
	char out[SCRAM_OUT_MAX];
	size_t n;

	(void)state;
	make_secret(RFC_PASSWORD, &sec);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_server_set_nonce_for_test(&s, RFC_SNONCE), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, RFC_CLIENT_FIRST, out,
	    sizeof(out), &n), 0);
	assert_string_equal(out, RFC_SERVER_FIRST);
	assert_int_equal(n, strlen(RFC_SERVER_FIRST));
	assert_false(s.have_client_key);
	assert_int_equal(sv_final(&s, RFC_CLIENT_FINAL, out, sizeof(out),
	    &n), 0);
	assert_string_equal(out, RFC_SERVER_FINAL);
	assert_int_equal(s.state, SCRAM_SV_DONE);
	assert_true(s.have_client_key);
	assert_int_equal(scram_salted_keys(RFC_PASSWORD, 6, rfc_salt, 16,
	    4096, ck, sk), 0);
	assert_memory_equal(s.client_key, ck, SCRAM_KEY_LEN);
	assert_memory_equal(sec.server_key, sk, SCRAM_KEY_LEN);
	scram_server_wipe(&s);
	assert_int_equal(s.state, SCRAM_SV_NONE);
	assert_false(s.have_client_key);
}

/* Password on one side, secret on the other, no TLS. */
static void
test_roundtrip_plain(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char mech[SCRAM_MECHANISMS_MAX];
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];

	(void)state;
	make_secret("hunter2", &sec);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_server_mechanisms(&s, mech, sizeof(mech)), 15);
	assert_memory_equal(mech, "SCRAM-SHA-256\0\0", 15);
	assert_int_equal(scram_client_init_password(&c, "hunter2", false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	assert_true(s.have_client_key);
	assert_int_equal(scram_salted_keys("hunter2", 7, rfc_salt, 16, 4096,
	    ck, sk), 0);
	assert_memory_equal(s.client_key, ck, SCRAM_KEY_LEN);
	assert_memory_equal(c.client_key, ck, SCRAM_KEY_LEN);
	assert_memory_equal(c.server_key, sk, SCRAM_KEY_LEN);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* SCRAM-SHA-256-PLUS with the same tls-server-end-point on both sides. */
static void
test_roundtrip_plus(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char mech[SCRAM_MECHANISMS_MAX], out[SCRAM_OUT_MAX];
	size_t n;
	bool scram, plus;

	(void)state;
	make_secret("hunter2", &sec);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	n = scram_server_mechanisms(&s, mech, sizeof(mech));
	assert_int_equal(n, 34);
	assert_memory_equal(mech, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34);
	assert_int_equal(scram_parse_mechanisms(mech, n, &scram, &plus), 0);
	assert_true(scram);
	assert_true(plus);
	assert_int_equal(scram_client_init_password(&c, "hunter2", true,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_string_equal(scram_client_mechanism(&c), "SCRAM-SHA-256-PLUS");
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_memory_equal(out, "p=tls-server-end-point,,n=,r=", 29);
	scram_client_wipe(&c);

	/* Also with a 48-byte (SHA-384) hash. */
	assert_int_equal(scram_client_init_password(&c, "hunter2", true,
	    cbind_b, sizeof(cbind_b)), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_b,
	    sizeof(cbind_b)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	assert_true(s.plus);

	assert_int_equal(scram_client_init_password(&c, "hunter2", true,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);

	/* Wrong password over -PLUS still fails. */
	assert_int_equal(scram_client_init_password(&c, "hunter3", true,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	assert_false(s.have_client_key);

	/* The client is on TLS too but saw a different certificate: MITM. */
	assert_int_equal(scram_client_init_password(&c, "hunter2", true,
	    cbind_b, sizeof(cbind_b)), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	assert_int_equal(s.state, SCRAM_SV_FAILED);

	/* -PLUS chosen by a client but not offered (no TLS here). */
	assert_int_equal(scram_client_init_password(&c, "hunter2", true,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FIRST);

	/* -PLUS needs binding data. */
	assert_int_equal(scram_client_init_password(&c, "x", true, NULL, 0),
	    -1);
	assert_int_equal(scram_client_init_password(&c, "x", true, cbind_a,
	    0), -1);
	assert_int_equal(scram_client_init_password(&c, "x", false, cbind_a,
	    SCRAM_CBIND_MAX + 1), -1);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    SCRAM_CBIND_MAX + 1), -1);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* The "y" flag: fine when the server cannot bind, a downgrade otherwise. */
static void
test_roundtrip_y_flag(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char out[SCRAM_OUT_MAX];
	size_t n;

	(void)state;
	make_secret("hunter2", &sec);
	assert_int_equal(scram_client_init_password(&c, "hunter2", false,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_string_equal(scram_client_mechanism(&c), "SCRAM-SHA-256");
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_memory_equal(out, "y,,n=,r=", 8);
	scram_client_wipe(&c);

	assert_int_equal(scram_client_init_password(&c, "hunter2", false,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);

	/* The server offered -PLUS; a "y" means it was stripped en route. */
	assert_int_equal(scram_client_init_password(&c, "hunter2", false,
	    cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FIRST);

	/* "n" is fine even when the server offered -PLUS. */
	assert_int_equal(scram_client_init_password(&c, "hunter2", false,
	    NULL, 0), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Mechanism and gs2 flag must agree with each other and with the offer. */
static void
test_mechanism_flag_mismatch(void **state)
{
	static const struct {
		const char *mech;
		bool offer;
		const char *msg;
		int rc;
	} cases[] = {
		{ SCRAM_SHA_256, true, "n,,n=,r=abc", 0 },
		{ SCRAM_SHA_256, false, "n,,n=,r=abc", 0 },
		{ SCRAM_SHA_256, false, "y,,n=,r=abc", 0 },
		{ SCRAM_SHA_256_PLUS, true, "p=tls-server-end-point,,n=,r=abc",
		    0 },
		{ SCRAM_SHA_256, true, "y,,n=,r=abc", -1 },
		{ SCRAM_SHA_256, true, "p=tls-server-end-point,,n=,r=abc",
		    -1 },
		{ SCRAM_SHA_256, false, "p=tls-server-end-point,,n=,r=abc",
		    -1 },
		{ SCRAM_SHA_256_PLUS, false,
		    "p=tls-server-end-point,,n=,r=abc", -1 },
		{ SCRAM_SHA_256_PLUS, true, "n,,n=,r=abc", -1 },
		{ SCRAM_SHA_256_PLUS, true, "y,,n=,r=abc", -1 },
		{ SCRAM_SHA_256_PLUS, true, "p=tls-unique,,n=,r=abc", -1 },
		{ SCRAM_SHA_256_PLUS, true, "p=tls-server-end-point2,,n=,r=a",
		    -1 },
		{ SCRAM_SHA_256_PLUS, true, "p=,,n=,r=abc", -1 },
		{ "SCRAM-SHA-1", false, "n,,n=,r=abc", -1 },
		{ "scram-sha-256", false, "n,,n=,r=abc", -1 },
		{ "", false, "n,,n=,r=abc", -1 },
		{ NULL, false, "n,,n=,r=abc", -1 },
	};
	struct scram_secret sec;
	struct scram_server s;
	char out[SCRAM_OUT_MAX];
	size_t n;

	(void)state;
	make_secret("x", &sec);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(scram_server_init(&s, &sec,
		    cases[i].offer ? cbind_a : NULL, sizeof(cbind_a)), 0);
		if (sv_first(&s, cases[i].mech, cases[i].msg, out,
		    sizeof(out), &n) != cases[i].rc)
			fail_msg("case %zu: %s / %s", i,
			    cases[i].mech ? cases[i].mech : "(null)",
			    cases[i].msg);
	}
	scram_server_wipe(&s);
}

/* Wrong password: the server refuses at the proof, the client learns so. */
static void
test_wrong_password(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;

	(void)state;
	make_secret("hunter2", &sec);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_password(&c, "hunter3", false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	assert_false(s.have_client_key);
	assert_int_equal(s.state, SCRAM_SV_FAILED);

	/* Empty password against a real secret. */
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_password(&c, "", false, NULL, 0),
	    0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Unknown user: looks like a real one until the proof, then always fails. */
static void
test_mock_user(void **state)
{
	struct scram_server s, s2;
	struct scram_client c;
	struct scram_secret sec;
	char out1[SCRAM_OUT_MAX], out2[SCRAM_OUT_MAX];
	char mech[SCRAM_MECHANISMS_MAX];
	uint8_t h[SCRAM_KEY_LEN];
	unsigned int hl = 0;
	size_t n;
	const char *salt1, *salt2;

	(void)state;
	scram_server_init_mock(&s, "nobody", mock_key);
	assert_int_equal(s.state, SCRAM_SV_INIT);
	assert_int_equal(scram_server_mechanisms(&s, mech, sizeof(mech)), 15);
	assert_int_equal(scram_server_set_cbind(&s, cbind_a, sizeof(cbind_a)),
	    0);
	assert_int_equal(scram_server_mechanisms(&s, mech, sizeof(mech)), 34);

	/* Whatever the password, it fails at the last step. */
	assert_int_equal(scram_client_init_password(&c, "", true, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	assert_false(s.have_client_key);

	/* Same user, same salt; another user, another salt; i=4096. */
	scram_server_init_mock(&s, "nobody", mock_key);
	scram_server_init_mock(&s2, "nobody", mock_key);
	assert_int_equal(scram_server_set_nonce_for_test(&s, "S"), 0);
	assert_int_equal(scram_server_set_nonce_for_test(&s2, "S"), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out1,
	    sizeof(out1), &n), 0);
	assert_int_equal(sv_first(&s2, SCRAM_SHA_256, "n,,n=,r=abc", out2,
	    sizeof(out2), &n), 0);
	assert_string_equal(out1, out2);
	assert_non_null(strstr(out1, ",i=4096"));
	salt1 = strstr(out1, ",s=");
	assert_non_null(salt1);
	assert_int_equal(strlen(salt1), strlen(",s=" RFC_SALT_B64 ",i=4096"));
	scram_server_init_mock(&s2, "somebody", mock_key);
	assert_int_equal(scram_server_set_nonce_for_test(&s2, "S"), 0);
	assert_int_equal(sv_first(&s2, SCRAM_SHA_256, "n,,n=,r=abc", out2,
	    sizeof(out2), &n), 0);
	salt2 = strstr(out2, ",s=");
	assert_non_null(salt2);
	assert_string_not_equal(salt1, salt2);

	/*
	 * Even the right proof for the mock's own secret is refused.  Its
	 * ClientKey is HMAC(mock_key, user) (see scram_server_init_mock), and
	 * the same keys do succeed against a real exchange with that secret.
	 */
	assert_non_null(HMAC(EVP_sha256(), mock_key, sizeof(mock_key),
	    (const unsigned char *)"nobody", 6, h, &hl));
	scram_server_init_mock(&s, "nobody", mock_key);
	sec = s.secret;
	assert_int_equal(scram_client_init_keys(&c, h, sec.server_key, false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	assert_int_equal(scram_server_init(&s2, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_keys(&c, h, sec.server_key, false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s2), ST_OK);
	scram_server_wipe(&s);
	scram_server_wipe(&s2);
	scram_client_wipe(&c);
}

/*
 * Pass-through: a client logs in to pgweir with its password, pgweir
 * recovers ClientKey and logs in to a (fresh) server with it and the
 * stored ServerKey, never knowing the password.
 */
static void
test_passthrough(void **state)
{
	struct scram_secret sec;
	struct scram_server front, back;
	struct scram_client user, pooler;
	uint8_t key[SCRAM_KEY_LEN];

	(void)state;
	make_secret("correct horse", &sec);
	assert_int_equal(scram_server_init(&front, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(scram_client_init_password(&user, "correct horse",
	    true, cbind_a, sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&user, &front), ST_OK);
	assert_true(front.have_client_key);
	memcpy(key, front.client_key, sizeof(key));
	scram_server_wipe(&front);

	/* The backend leg, with and without channel binding. */
	assert_int_equal(scram_server_init(&back, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_keys(&pooler, key, sec.server_key,
	    false, NULL, 0), 0);
	assert_int_equal(run_exchange(&pooler, &back), ST_OK);
	assert_memory_equal(back.client_key, key, sizeof(key));

	assert_int_equal(scram_server_init(&back, &sec, cbind_b,
	    sizeof(cbind_b)), 0);
	assert_int_equal(scram_client_init_keys(&pooler, key, sec.server_key,
	    true, cbind_b, sizeof(cbind_b)), 0);
	assert_int_equal(run_exchange(&pooler, &back), ST_OK);

	/* A wrong ServerKey: the backend accepts, but we catch its v=. */
	assert_int_equal(scram_server_init(&back, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_keys(&pooler, key, sec.stored_key,
	    false, NULL, 0), 0);
	assert_int_equal(run_exchange(&pooler, &back), ST_VERIFY);
	assert_int_equal(pooler.state, SCRAM_CL_FAILED);

	/* A wrong ClientKey is refused by the backend. */
	key[0] ^= 1;
	assert_int_equal(scram_server_init(&back, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_keys(&pooler, key, sec.server_key,
	    false, NULL, 0), 0);
	assert_int_equal(run_exchange(&pooler, &back), ST_SERVER_FINAL);
	assert_int_equal(scram_client_init_keys(&pooler, NULL, sec.server_key,
	    false, NULL, 0), -1);
	scram_server_wipe(&back);
	scram_client_wipe(&pooler);
	scram_client_wipe(&user);
}

/* A secret made by PostgreSQL: parse it and log in against it. */
static void
test_postgres_secret(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	char text[SCRAM_SECRET_TEXT_MAX];
	unsigned int dl = 0;

	(void)state;
	assert_int_equal(scram_parse_secret(PG_SECRET, &sec), 0);
	assert_int_equal(sec.iterations, 4096);
	assert_int_equal(sec.salt_len, 16);
	assert_int_equal(scram_format_secret(&sec, text, sizeof(text)), 0);
	assert_string_equal(text, PG_SECRET);

	/* Our derivation from the password gives PostgreSQL's keys. */
	assert_int_equal(scram_salted_keys(PG_PASSWORD, strlen(PG_PASSWORD),
	    sec.salt, sec.salt_len, sec.iterations, ck, sk), 0);
	assert_memory_equal(sk, sec.server_key, SCRAM_KEY_LEN);
	assert_int_equal(EVP_Digest(ck, sizeof(ck), stored, &dl, EVP_sha256(),
	    NULL), 1);
	assert_memory_equal(stored, sec.stored_key, SCRAM_KEY_LEN);

	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_password(&c, PG_PASSWORD, false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);

	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_password(&c, "secret124", false,
	    NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_SERVER_FINAL);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* scram_build_secret: random salt, parses back, authenticates. */
static void
test_build_secret(void **state)
{
	struct scram_secret sec, sec2;
	struct scram_server s;
	struct scram_client c;
	char text[SCRAM_SECRET_TEXT_MAX], text2[SCRAM_SECRET_TEXT_MAX];
	char small[100];

	(void)state;
	assert_int_equal(scram_build_secret("pw", 4096, text, sizeof(text)),
	    0);
	assert_memory_equal(text, "SCRAM-SHA-256$4096:", 19);
	assert_int_equal(strlen(text), 14 + 4 + 1 + 24 + 1 + 44 + 1 + 44);
	assert_int_equal(scram_build_secret("pw", 4096, text2, sizeof(text2)),
	    0);
	assert_string_not_equal(text, text2);
	assert_int_equal(scram_parse_secret(text, &sec), 0);
	assert_int_equal(sec.salt_len, SCRAM_SALT_LEN);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_client_init_password(&c, "pw", false, NULL, 0),
	    0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);

	assert_int_equal(scram_build_secret("pw", 1, text2, sizeof(text2)),
	    0);
	assert_int_equal(scram_parse_secret(text2, &sec2), 0);
	assert_int_equal(sec2.iterations, 1);
	assert_int_equal(scram_build_secret("pw", 0, text2, sizeof(text2)),
	    -1);
	assert_int_equal(scram_build_secret("pw", -5, text2, sizeof(text2)),
	    -1);
	assert_int_equal(scram_build_secret("pw", SCRAM_ITER_MAX + 1, text2,
	    sizeof(text2)), -1);
	assert_int_equal(scram_build_secret(NULL, 4096, text2,
	    sizeof(text2)), -1);
	assert_int_equal(scram_build_secret("pw", 4096, small, sizeof(small)),
	    -1);
	assert_int_equal(scram_build_secret("pw", 4096, text2, 0), -1);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Good and bad text secrets. */
static void
test_parse_secret(void **state)
{
	static const char *const good[] = {
		PG_SECRET,
		"SCRAM-SHA-256$1:AA==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SCRAM-SHA-256$10000000:W22ZaJ0SNY7soEsUEjb6gQ==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		/* a 64-byte salt */
		"SCRAM-SHA-256$4096:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	};
	static const char *const bad[] = {
		"",
		"secret123",
		"md5a3556571e93b0d20722ba62be61e8c2d",
		"SCRAM-SHA-256$",
		"SCRAM-SHA-256",
		"scram-sha-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		/* iteration counts */
		"SCRAM-SHA-256$0:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$10000001:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$99999999999999999999:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$-4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$+4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$04096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$ 4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		/* salts: empty, bad base64, non-canonical, too long */
		"SCRAM-SHA-256$4096:$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g=$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+h==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hq qnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hq=nkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g===$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		/* keys: short, long, missing, swapped separators, trailing */
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjw==:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8AAAA",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=:",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==",
		"SCRAM-SHA-256$4096:r9hqqnkSl9VPIyYMnSc7+g==$",
		"SCRAM-SHA-256$4096$r9hqqnkSl9VPIyYMnSc7+g==:"
		    "Rbkpqd2+B2iYw63mkKcG5VqBpNVEgOgg+s6bs5ymjyA=$"
		    "hxixDeEtUhBGZlSVZqznr/xTHLETI9bW2KYKtGTmlB8=",
		PG_SECRET " ",
		PG_SECRET "\n",
		PG_SECRET ":",
		PG_SECRET "$",
		" " PG_SECRET,
	};
	struct scram_secret sec;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (scram_parse_secret(good[i], &sec) != 0)
			fail_msg("good secret %zu refused", i);
	assert_int_equal(sec.salt_len, 64);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&sec, 0x5a, sizeof(sec));
		if (scram_parse_secret(bad[i], &sec) != -1)
			fail_msg("bad secret %zu accepted: %s", i, bad[i]);
		assert_int_equal(sec.iterations, 0x5a5a5a5a);
	}
	assert_int_equal(scram_parse_secret(NULL, &sec), -1);

	/* Every truncation of a good secret is refused. */
	for (size_t i = 0; i < strlen(PG_SECRET); i++) {
		char cut[sizeof(PG_SECRET)];

		memcpy(cut, PG_SECRET, i);
		cut[i] = '\0';
		if (scram_parse_secret(cut, &sec) != -1)
			fail_msg("truncated secret accepted: %s", cut);
	}
}

/* The AuthenticationSASL list, as built and as parsed. */
static void
test_mechanisms(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	char small[20];
	bool scram, plus;

	(void)state;
	make_secret("x", &sec);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(scram_server_mechanisms(&s, small, sizeof(small)), 0);
	assert_int_equal(scram_server_set_cbind(&s, NULL, 0), 0);
	assert_int_equal(scram_server_mechanisms(&s, small, sizeof(small)),
	    15);

	assert_int_equal(scram_parse_mechanisms("SCRAM-SHA-256\0", 15, &scram,
	    &plus), 0);
	assert_true(scram);
	assert_false(plus);
	assert_int_equal(scram_parse_mechanisms("OTHER\0SCRAM-SHA-256-PLUS\0",
	    26, &scram, &plus), 0);
	assert_false(scram);
	assert_true(plus);
	assert_int_equal(scram_parse_mechanisms("\0", 1, &scram, &plus), 0);
	assert_false(scram);
	assert_int_equal(scram_parse_mechanisms("", 0, &scram, &plus), -1);
	assert_int_equal(scram_parse_mechanisms("SCRAM-SHA-256", 13, &scram,
	    &plus), -1);
	assert_int_equal(scram_parse_mechanisms("SCRAM-SHA-256\0", 14, &scram,
	    &plus), -1);
	assert_int_equal(scram_parse_mechanisms("SCRAM-SHA-256\0\0x", 16,
	    &scram, &plus), -1);
	scram_server_wipe(&s);
}

/* Malformed client-first-messages are refused, and nothing is read OOB. */
static void
test_client_first_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"n",
		"n,",
		"n,,",
		"n,,n=",
		"n,,n=,",
		"n,,n=,r",
		"n,,n=,r=",
		"n,,n=,r=abc,",
		"n,,n=,r=abc,x",
		"n,,n=,r=abc,x=",
		"n,,n=,r=abc,1=x",
		"n,,n=,r=abc,,",
		"n,,n=,r=ab c",
		"n,,n=,r=ab\x7f",
		"n,,n=,r=ab\xc3\xa9",
		"n,,r=abc",
		"n,,n=user",
		"n,,m=ext,n=,r=abc",
		"n,,n=a,b,r=abc",
		"n,,n=a=b,r=abc",
		"n,,n=a=2,r=abc",
		"n,,n=a=2c,r=abc",
		"n,,n=a=,r=abc",
		"n,a=admin,n=,r=abc",
		"n,a,n=,r=abc",
		"n,x,n=,r=abc",
		"x,,n=,r=abc",
		"N,,n=,r=abc",
		"n;,n=,r=abc",
		"nn,,n=,r=abc",
		",,n=,r=abc",
		"n,,n=,s=abc",
		"n,,n=,r=abc,r",
		" n,,n=,r=abc",
	};
	struct scram_secret sec;
	struct scram_server s;
	char out[SCRAM_OUT_MAX], big[SCRAM_MSG_MAX + 64], err[128];
	size_t n;

	(void)state;
	make_secret("x", &sec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
		if (sv_first(&s, SCRAM_SHA_256, bad[i], out, sizeof(out),
		    &n) != -1)
			fail_msg("bad client-first accepted: \"%s\"", bad[i]);
		assert_int_equal(s.state, SCRAM_SV_FAILED);
	}

	/* A NUL inside the message. */
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_server_client_first(&s, SCRAM_SHA_256,
	    "n,,n=\0,r=abc", 12, out, sizeof(out), &n, err, sizeof(err)), -1);
	/* NULL message. */
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(scram_server_client_first(&s, SCRAM_SHA_256, NULL, 0,
	    out, sizeof(out), &n, err, sizeof(err)), -1);

	/* A nonce longer than SCRAM_NONCE_MAX; a message over the cap. */
	memcpy(big, "n,,n=,r=", 8);
	memset(big + 8, 'a', SCRAM_NONCE_MAX + 1);
	big[8 + SCRAM_NONCE_MAX + 1] = '\0';
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, big, out, sizeof(out),
	    &n), -1);
	big[8 + SCRAM_NONCE_MAX] = '\0';
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, big, out, sizeof(out),
	    &n), 0);
	memset(big, 0, sizeof(big));
	memcpy(big, "n,,n=,r=abc,x=", 14);
	memset(big + 14, 'b', SCRAM_MSG_MAX);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, big, out, sizeof(out),
	    &n), -1);

	/* Accepted: escapes, extensions, odd but legal nonce characters. */
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256,
	    "n,,n=a=2Cb=3Dc\xc3\xa9,r=!~+/=$,x=1,Y=a=b", out, sizeof(out),
	    &n), 0);
	assert_memory_equal(s.client_first_bare,
	    "n=a=2Cb=3Dc\xc3\xa9,r=!~+/=$,x=1,Y=a=b",
	    s.client_first_bare_len);

	/* Output buffer too small: refused, nothing written past it. */
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out, 20,
	    &n), -1);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", NULL, 0,
	    &n), -1);
	scram_server_wipe(&s);
}

/* Every prefix of good messages, in exact-size blocks: no OOB reads. */
static void
test_prefixes(void **state)
{
	static const char *const firsts[] = {
		"p=tls-server-end-point,,n=a=2Cb,r=abc,x=y",
		"n,,n=user,r=" RFC_CNONCE,
	};
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char out[SCRAM_OUT_MAX], err[128], *m;
	size_t n;

	(void)state;
	make_secret(RFC_PASSWORD, &sec);
	for (size_t k = 0; k < sizeof(firsts) / sizeof(firsts[0]); k++) {
		for (size_t i = 0; i <= strlen(firsts[k]); i++) {
			assert_int_equal(scram_server_init(&s, &sec, cbind_a,
			    sizeof(cbind_a)), 0);
			m = dup_exact(firsts[k], i);
			(void)scram_server_client_first(&s, k == 0 ?
			    SCRAM_SHA_256_PLUS : SCRAM_SHA_256, m, i, out,
			    sizeof(out), &n, err, sizeof(err));
			free(m);
		}
	}
	for (size_t i = 0; i <= strlen(RFC_CLIENT_FINAL); i++) {
		assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
		assert_int_equal(scram_server_set_nonce_for_test(&s,
		    RFC_SNONCE), 0);
		assert_int_equal(sv_first(&s, SCRAM_SHA_256, RFC_CLIENT_FIRST,
		    out, sizeof(out), &n), 0);
		m = dup_exact(RFC_CLIENT_FINAL, i);
		assert_int_equal(scram_server_client_final(&s, m, i, out,
		    sizeof(out), &n, err, sizeof(err)),
		    i == strlen(RFC_CLIENT_FINAL) ? 0 : -1);
		free(m);
	}
	for (size_t i = 0; i <= strlen(RFC_SERVER_FIRST); i++) {
		assert_int_equal(scram_client_init_password(&c, RFC_PASSWORD,
		    false, NULL, 0), 0);
		assert_int_equal(scram_client_set_user(&c, "user"), 0);
		assert_int_equal(scram_client_set_nonce_for_test(&c,
		    RFC_CNONCE), 0);
		assert_int_equal(scram_client_first(&c, out, sizeof(out), &n),
		    0);
		m = dup_exact(RFC_SERVER_FIRST, i);
		/* "i=4" .. "i=409" are valid counts: only the end differs. */
		(void)scram_client_server_first(&c, m, i, out, sizeof(out),
		    &n, err, sizeof(err));
		free(m);
		if (i == strlen(RFC_SERVER_FIRST)) {
			assert_string_equal(out, RFC_CLIENT_FINAL);
			for (size_t j = 0; j <= strlen(RFC_SERVER_FINAL); j++) {
				struct scram_client c2 = c;

				m = dup_exact(RFC_SERVER_FINAL, j);
				assert_int_equal(scram_client_server_final(&c2,
				    m, j, err, sizeof(err)),
				    j == strlen(RFC_SERVER_FINAL) ? 0 : -1);
				free(m);
			}
		}
	}
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Malformed or wrong client-final-messages are refused. */
static void
test_client_final_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"c=biws",
		"c=biws,",
		"c=biws,r=abcXYZ",
		"c=biws,r=abcXYZ,",
		"c=biws,r=abcXYZ,p",
		"c=biws,r=abcXYZ,p=",
		"c=biws,r=abcXYZ,p=AAAA",
		"c=biws,r=abcXYZ,p=" ZERO43,
		"c=biws,r=abcXYZ,p=" ZERO43 "=,",
		"c=biws,r=abcXYZ,p=" ZERO43 "=,x=1",
		"c=biws,r=abcXYZ,p=" ZERO43 "AAAAA",
		"c=biws,r=abcXY,p=" ZERO43 "=",
		"c=biws,r=abcXYZZ,p=" ZERO43 "=",
		"c=biws,r=abc,p=" ZERO43 "=",
		"c=eSws,r=abcXYZ,p=" ZERO43 "=",
		"c=biw,r=abcXYZ,p=" ZERO43 "=",
		"c=,r=abcXYZ,p=" ZERO43 "=",
		"c=biwsbiws,r=abcXYZ,p=" ZERO43 "=",
		"r=abcXYZ,c=biws,p=" ZERO43 "=",
		"c=biws,p=" ZERO43 "=",
		"c=biws,r=abcXYZ,x=,p=" ZERO43 "=",
		"c=biws,r=abcXYZ,,p=" ZERO43 "=",
		"c=biws,r=abcXYZ,1=x,p=" ZERO43 "=",
		/* syntactically fine, wrong proof */
		"c=biws,r=abcXYZ,p=" ZERO43 "=",
		"c=biws,r=abcXYZ,x=y,p=" ZERO43 "=",
	};
	struct scram_secret sec;
	struct scram_server s;
	char out[SCRAM_OUT_MAX];
	size_t n;

	(void)state;
	make_secret("x", &sec);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		server_at_final(&s, &sec);
		if (sv_final(&s, bad[i], out, sizeof(out), &n) != -1)
			fail_msg("bad client-final accepted: \"%s\"", bad[i]);
		assert_int_equal(s.state, SCRAM_SV_FAILED);
		assert_false(s.have_client_key);
		/* and a failed exchange stays failed */
		assert_int_equal(sv_final(&s, bad[i], out, sizeof(out), &n),
		    -1);
	}
	scram_server_wipe(&s);
}

/* Client-final with an extension before the proof is verified over it. */
static void
test_client_final_extension(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char out[SCRAM_OUT_MAX], fin[SCRAM_OUT_MAX], ext[SCRAM_OUT_MAX];
	char *p;
	size_t n;

	(void)state;
	make_secret("x", &sec);
	server_at_final(&s, &sec);
	client_at_first(&c, "x");
	assert_int_equal(cl_first(&c, "r=abcXYZ,s=" RFC_SALT_B64 ",i=4096",
	    fin, sizeof(fin), &n), 0);
	/* An extension inserted after the fact breaks the proof... */
	p = strstr(fin, ",p=");
	assert_non_null(p);
	snprintf(ext, sizeof(ext), "%.*s,x=y%s", (int)(p - fin), fin, p);
	assert_int_equal(sv_final(&s, ext, out, sizeof(out), &n), -1);
	/* ...and the untouched message passes. */
	server_at_final(&s, &sec);
	assert_int_equal(sv_final(&s, fin, out, sizeof(out), &n), 0);
	/* Output buffer too small for v=. */
	server_at_final(&s, &sec);
	assert_int_equal(sv_final(&s, fin, out, 10, &n), -1);
	assert_false(s.have_client_key);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Malformed or hostile server-first-messages are refused by the client. */
static void
test_server_first_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"r=abc,s=" RFC_SALT_B64 ",i=4096",
		"r=ab,s=" RFC_SALT_B64 ",i=4096",
		"r=xbcXYZ,s=" RFC_SALT_B64 ",i=4096",
		"r=abcX Z,s=" RFC_SALT_B64 ",i=4096",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=0",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=-1",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=+4096",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=04096",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=10000001",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=4294967297",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=99999999999999999999999",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=40 96",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=4096x",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=4096,",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=4096,x",
		"r=abcXYZ,s=" RFC_SALT_B64 ",i=4096,x=",
		"r=abcXYZ,s=" RFC_SALT_B64,
		"r=abcXYZ,s=" RFC_SALT_B64 ",",
		"r=abcXYZ,s=,i=4096",
		"r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096",
		"r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",
		"r=abcXYZ,s=W22ZaJ0SNY7soEsUEjb6g*==,i=4096",
		"r=abcXYZ,i=4096,s=" RFC_SALT_B64,
		"r=abcXYZ,i=4096",
		"s=" RFC_SALT_B64 ",r=abcXYZ,i=4096",
		"m=x,r=abcXYZ,s=" RFC_SALT_B64 ",i=4096",
		"e=other-error",
		"r=abcXYZ",
		"r=abcXYZ,",
		/* a salt over SCRAM_SALT_MAX */
		"r=abcXYZ,s=" ZERO43 ZERO43 "AA,i=4096",
	};
	struct scram_client c;
	char out[SCRAM_OUT_MAX], big[SCRAM_MSG_MAX + 64], err[128];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		client_at_first(&c, "x");
		if (cl_first(&c, bad[i], out, sizeof(out), &n) != -1)
			fail_msg("bad server-first accepted: \"%s\"", bad[i]);
		assert_int_equal(c.state, SCRAM_CL_FAILED);
	}

	/* Accepted: an extension, the largest count... */
	client_at_first(&c, "x");
	assert_int_equal(cl_first(&c, "r=abcXYZ,s=" RFC_SALT_B64 ",i=1,x=a=b",
	    out, sizeof(out), &n), 0);
	assert_int_equal(c.iterations, 1);
	/* ...(not run: 10,000,000 rounds take seconds; parse bound only). */

	/* A combined nonce of 2 * SCRAM_NONCE_MAX is fine; longer is not. */
	memset(big, 0, sizeof(big));
	memcpy(big, "r=abc", 5);
	memset(big + 5, 'Q', 2 * SCRAM_NONCE_MAX - 3);
	strcat(big, ",s=" RFC_SALT_B64 ",i=1");
	client_at_first(&c, "x");
	assert_int_equal(cl_first(&c, big, out, sizeof(out), &n), 0);
	memset(big, 0, sizeof(big));
	memcpy(big, "r=abc", 5);
	memset(big + 5, 'Q', 2 * SCRAM_NONCE_MAX - 2);
	strcat(big, ",s=" RFC_SALT_B64 ",i=1");
	client_at_first(&c, "x");
	assert_int_equal(cl_first(&c, big, out, sizeof(out), &n), -1);

	/* Embedded NUL, NULL message, output buffer too small. */
	client_at_first(&c, "x");
	assert_int_equal(scram_client_server_first(&c, "r=abcX\0,s=AA==,i=1",
	    18, out, sizeof(out), &n, err, sizeof(err)), -1);
	client_at_first(&c, "x");
	assert_int_equal(scram_client_server_first(&c, NULL, 5, out,
	    sizeof(out), &n, err, sizeof(err)), -1);
	client_at_first(&c, "x");
	assert_int_equal(cl_first(&c, "r=abcXYZ,s=" RFC_SALT_B64 ",i=1", out,
	    40, &n), -1);
	scram_client_wipe(&c);
}

/* server-final: e=, bad and wrong v=. */
static void
test_server_final(void **state)
{
	static const char *const bad[] = {
		"",
		"v=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4==",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",
		"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,",
		"V=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"e=invalid-proof",
		"e=",
	};
	struct scram_client c;
	char out[SCRAM_OUT_MAX], err[128];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(scram_client_init_password(&c, RFC_PASSWORD,
		    false, NULL, 0), 0);
		assert_int_equal(scram_client_set_user(&c, "user"), 0);
		assert_int_equal(scram_client_set_nonce_for_test(&c,
		    RFC_CNONCE), 0);
		assert_int_equal(scram_client_first(&c, out, sizeof(out), &n),
		    0);
		assert_int_equal(cl_first(&c, RFC_SERVER_FIRST, out,
		    sizeof(out), &n), 0);
		if (cl_final(&c, bad[i], err, sizeof(err)) != -1)
			fail_msg("bad server-final accepted: \"%s\"", bad[i]);
		assert_int_equal(c.state, SCRAM_CL_FAILED);
		if (i == 9)
			assert_non_null(strstr(err, "invalid-proof"));
	}
	/* An extension after v= is fine. */
	assert_int_equal(scram_client_init_password(&c, RFC_PASSWORD, false,
	    NULL, 0), 0);
	assert_int_equal(scram_client_set_user(&c, "user"), 0);
	assert_int_equal(scram_client_set_nonce_for_test(&c, RFC_CNONCE), 0);
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), 0);
	assert_int_equal(cl_first(&c, RFC_SERVER_FIRST, out, sizeof(out),
	    &n), 0);
	assert_int_equal(cl_final(&c, RFC_SERVER_FINAL ",z=1", err,
	    sizeof(err)), 0);
	scram_client_wipe(&c);
}

/* Steps out of order, after failure, after wipe, or never initialised. */
static void
test_order(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char out[SCRAM_OUT_MAX], err[128];
	size_t n;

	(void)state;
	make_secret("x", &sec);

	memset(&s, 0, sizeof(s));
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out,
	    sizeof(out), &n), -1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), -1);

	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(sv_final(&s, "c=biws,r=abc,p=" ZERO43 "=", out,
	    sizeof(out), &n), -1);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out,
	    sizeof(out), &n), -1);

	server_at_final(&s, &sec);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out,
	    sizeof(out), &n), -1);
	assert_int_equal(scram_server_set_cbind(&s, cbind_a, sizeof(cbind_a)),
	    -1);
	assert_int_equal(scram_server_set_nonce_for_test(&s, "Q"), -1);
	scram_server_wipe(&s);
	assert_int_equal(sv_first(&s, SCRAM_SHA_256, "n,,n=,r=abc", out,
	    sizeof(out), &n), -1);

	assert_int_equal(scram_client_init_password(&c, "x", false, NULL, 0),
	    0);
	assert_int_equal(cl_first(&c, "r=abcXYZ,s=" RFC_SALT_B64 ",i=1", out,
	    sizeof(out), &n), -1);
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), -1);
	client_at_first(&c, "x");
	assert_int_equal(scram_client_first(&c, out, sizeof(out), &n), -1);
	assert_int_equal(scram_client_set_user(&c, "u"), -1);
	assert_int_equal(scram_client_set_nonce_for_test(&c, "q"), -1);
	client_at_first(&c, "x");
	assert_int_equal(cl_final(&c, RFC_SERVER_FINAL, err, sizeof(err)), -1);
	client_at_first(&c, "x");
	scram_client_wipe(&c);
	assert_int_equal(cl_first(&c, "r=abcXYZ,s=" RFC_SALT_B64 ",i=1", out,
	    sizeof(out), &n), -1);

	/* Bad secrets and arguments to init. */
	sec.iterations = 0;
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), -1);
	assert_int_equal(s.state, SCRAM_SV_NONE);
	sec.iterations = 4096;
	sec.salt_len = 0;
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), -1);
	sec.salt_len = SCRAM_SALT_MAX + 1;
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), -1);
	assert_int_equal(scram_server_init(&s, NULL, NULL, 0), -1);
	assert_int_equal(scram_client_init_password(&c, NULL, false, NULL, 0),
	    -1);
	assert_int_equal(c.state, SCRAM_CL_NONE);

	/* Bad test nonces. */
	assert_int_equal(scram_client_init_password(&c, "x", false, NULL, 0),
	    0);
	assert_int_equal(scram_client_set_nonce_for_test(&c, ""), -1);
	assert_int_equal(scram_client_set_nonce_for_test(&c, "a,b"), -1);
	assert_int_equal(scram_client_set_nonce_for_test(&c, "a b"), -1);
	scram_client_wipe(&c);
}

/* The n= user name is escaped, and the server accepts the escapes. */
static void
test_user_escaping(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char lng[SCRAM_USER_MAX + 2];

	(void)state;
	make_secret("pw", &sec);
	assert_int_equal(scram_client_init_password(&c, "pw", false, NULL, 0),
	    0);
	assert_int_equal(scram_client_set_user(&c, "a,b=c,,=="), 0);
	assert_string_equal(c.user, "a=2Cb=3Dc=2C=2C=3D=3D");
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	assert_memory_equal(s.client_first_bare, "n=a=2Cb=3Dc=2C=2C=3D=3D,",
	    24);

	/* The longest name fits in every buffer; longer is refused. */
	memset(lng, ',', sizeof(lng));
	lng[SCRAM_USER_MAX] = '\0';
	assert_int_equal(scram_client_init_password(&c, "pw", true, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(scram_client_set_user(&c, lng), 0);
	assert_int_equal(scram_server_init(&s, &sec, cbind_a,
	    sizeof(cbind_a)), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	lng[SCRAM_USER_MAX] = ',';
	lng[SCRAM_USER_MAX + 1] = '\0';
	assert_int_equal(scram_client_init_password(&c, "pw", false, NULL, 0),
	    0);
	assert_int_equal(scram_client_set_user(&c, lng), -1);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

/* Passwords: raw bytes, up to SCRAM_PASSWORD_MAX - 1. */
static void
test_password_limits(void **state)
{
	struct scram_secret sec;
	struct scram_server s;
	struct scram_client c;
	char pw[SCRAM_PASSWORD_MAX + 1];

	(void)state;
	memset(pw, 'p', sizeof(pw));
	pw[SCRAM_PASSWORD_MAX - 1] = '\0';
	make_secret(pw, &sec);
	assert_int_equal(scram_client_init_password(&c, pw, false, NULL, 0),
	    0);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	pw[SCRAM_PASSWORD_MAX - 1] = 'p';
	pw[SCRAM_PASSWORD_MAX] = '\0';
	assert_int_equal(scram_client_init_password(&c, pw, false, NULL, 0),
	    -1);

	/* Non-ASCII: used as bytes, no SASLprep. */
	make_secret("p\xc3\xa4ss\xe2\x80\x8b", &sec);
	assert_int_equal(scram_client_init_password(&c, "p\xc3\xa4ss\xe2\x80"
	    "\x8b", false, NULL, 0), 0);
	assert_int_equal(scram_server_init(&s, &sec, NULL, 0), 0);
	assert_int_equal(run_exchange(&c, &s), ST_OK);
	scram_server_wipe(&s);
	scram_client_wipe(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_client),
		cmocka_unit_test(test_rfc7677_server),
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_roundtrip_plus),
		cmocka_unit_test(test_roundtrip_y_flag),
		cmocka_unit_test(test_mechanism_flag_mismatch),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_mock_user),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_postgres_secret),
		cmocka_unit_test(test_build_secret),
		cmocka_unit_test(test_parse_secret),
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_client_first_malformed),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_client_final_malformed),
		cmocka_unit_test(test_client_final_extension),
		cmocka_unit_test(test_server_first_malformed),
		cmocka_unit_test(test_server_final),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_user_escaping),
		cmocka_unit_test(test_password_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
