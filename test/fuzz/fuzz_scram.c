/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: SCRAM-SHA-256 with an adversarial peer, on both sides, and
 * the parsers of stored secrets and of the AuthenticationSASL list.
 *
 * Input: a selector byte, then the peer's messages.  Each message handed
 * to scram.c is a heap block of exactly its length (no terminating NUL),
 * so AddressSanitizer sees any read past its end.
 *
 *   sel % 4 == 0  pgweir as server: a fixed secret (or the mock of an
 *                 unknown user, sel & 4), channel binding offered or not
 *                 (sel & 8); body: mechanism NUL, u16 length,
 *                 client-first-message, client-final-message (the rest).
 *   sel % 4 == 1  pgweir as client: the keys of that secret (or, sel & 4,
 *                 the password, when every i= is small enough that PBKDF2
 *                 stays fast), -PLUS with a binding (sel & 8); body: u16
 *                 length, server-first-message, server-final-message.
 *   sel % 4 == 2  scram_parse_secret(); what parses must format and parse
 *                 back to the same secret.
 *   sel % 4 == 3  scram_parse_mechanisms().
 *
 * Nonces are fixed with the test hooks, so a seed can hold a complete,
 * valid exchange and mutations start from the success path.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Password "pw", salt "pgweir-fuzz-salt", 16 iterations. */
#define FZ_SECRET "SCRAM-SHA-256$16:cGd3ZWlyLWZ1enotc2FsdA==$" \
	"nAxIuCy41L8tGb3z3MYrGbZ+jRiV4NG7XFnqPV0EAdA=:" \
	"vYf9Vvm1DRW82O9yBYzq/M6bXr6aNDebxrQ4unjlNho="
#define FZ_CNONCE "fuzzclientnonce"
#define FZ_SNONCE "fuzzservernonce"
#define FZ_ITER_FAST 4096	/* the most PBKDF2 rounds worth waiting for */

static const uint8_t fz_cbind[32] = { 0xc0, 0xff, 0xee, 1, 2, 3 };
static const uint8_t fz_mock_key[SCRAM_KEY_LEN] = { 0x42 };

/* The ClientKey and ServerKey of the secret's password. */
static const uint8_t fz_client_key[SCRAM_KEY_LEN] = {
	0xf6, 0xdd, 0x35, 0xdf, 0xee, 0xf2, 0xda, 0xe9, 0x0a, 0x98, 0xe6,
	0xd1, 0x67, 0x5b, 0x79, 0xd3, 0x93, 0x71, 0x65, 0xc1, 0xe7, 0x93,
	0x90, 0xd8, 0x03, 0xbc, 0x75, 0xef, 0x77, 0xc5, 0x92, 0xf4 };
static uint8_t fz_server_key[SCRAM_KEY_LEN];

/* A heap copy of exactly len bytes (at least one byte allocated). */
static char *
dup_exact(const uint8_t *p, size_t len)
{
	char *d = malloc(len ? len : 1);

	if (d != NULL && len > 0)
		memcpy(d, p, len);
	return d;
}

/* Split a body: a u16 big-endian length, that many bytes, the rest. */
static void
split(const uint8_t *p, size_t n, const uint8_t **a, size_t *alen,
    const uint8_t **b, size_t *blen)
{
	size_t l = n >= 2 ? (size_t)p[0] << 8 | p[1] : 0;

	p += n >= 2 ? 2 : n;
	n -= n >= 2 ? 2 : n;
	if (l > n)
		l = n;
	*a = p;
	*alen = l;
	*b = p + l;
	*blen = n - l;
}

/* pgweir checking a client. */
static void
fuzz_server(uint8_t sel, const uint8_t *p, size_t n)
{
	struct scram_server s;
	struct scram_secret secret;
	const uint8_t *nul = memchr(p, '\0', n), *m1, *m2;
	size_t l1, l2, outn;
	char mech[64], out[SCRAM_OUT_MAX], err[256];
	char *c1, *c2;

	if (nul == NULL || (size_t)(nul - p) >= sizeof(mech))
		return;
	memcpy(mech, p, (size_t)(nul - p) + 1);
	n -= (size_t)(nul - p) + 1;
	p = nul + 1;
	split(p, n, &m1, &l1, &m2, &l2);
	if (scram_parse_secret(FZ_SECRET, &secret) < 0)
		abort();
	if (sel & 4)
		scram_server_init_mock(&s, "nobody", fz_mock_key);
	else if (scram_server_init(&s, &secret, NULL, 0) < 0)
		abort();
	if ((sel & 8) && scram_server_set_cbind(&s, fz_cbind,
	    sizeof(fz_cbind)) < 0)
		abort();
	if (scram_server_set_nonce_for_test(&s, FZ_SNONCE) < 0)
		abort();
	(void)scram_server_mechanisms(&s, out, sizeof(out));
	c1 = dup_exact(m1, l1);
	c2 = dup_exact(m2, l2);
	if (c1 && c2 && scram_server_client_first(&s, mech, c1, l1, out,
	    sizeof(out), &outn, err, sizeof(err)) == 0) {
		if (outn > sizeof(out))
			abort();
		if (scram_server_client_final(&s, c2, l2, out, sizeof(out),
		    &outn, err, sizeof(err)) == 0) {
			/* a mock login must never pass */
			if (s.mock || !s.have_client_key || outn > sizeof(out))
				abort();
		}
	}
	/* a finished or failed exchange refuses more steps */
	if (c2 && scram_server_client_final(&s, c2, l2, out, sizeof(out),
	    &outn, err, sizeof(err)) == 0)
		abort();
	scram_server_wipe(&s);
	free(c1);
	free(c2);
}

/* Whether every ",i=" in the message asks for few enough rounds. */
static bool
iterations_fast(const char *m, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++) {
		size_t d = 0;
		long v = 0;
		if (memcmp(m + i, "i=", 2) != 0)
			continue;
		for (size_t j = i + 2; j < n && m[j] >= '0' && m[j] <= '9';
		    j++) {
			if (++d > 6)
				return false;
			v = v * 10 + (m[j] - '0');
		}
		if (v > FZ_ITER_FAST)
			return false;
	}
	return true;
}

/* pgweir logging in to a server. */
static void
fuzz_client(uint8_t sel, const uint8_t *p, size_t n)
{
	struct scram_client c;
	const uint8_t *m1, *m2;
	size_t l1, l2, outn;
	char out[SCRAM_OUT_MAX], err[256];
	char *s1, *s2;
	bool plus = (sel & 8) != 0;
	int rc;

	split(p, n, &m1, &l1, &m2, &l2);
	s1 = dup_exact(m1, l1);
	s2 = dup_exact(m2, l2);
	if (s1 == NULL || s2 == NULL)
		goto done;
	memset(&c, 0, sizeof(c));
	if ((sel & 4) && iterations_fast(s1, l1))
		rc = scram_client_init_password(&c, "pw", plus,
		    plus ? fz_cbind : NULL, plus ? sizeof(fz_cbind) : 0);
	else
		rc = scram_client_init_keys(&c, fz_client_key, fz_server_key,
		    plus, plus ? fz_cbind : NULL, plus ? sizeof(fz_cbind) : 0);
	if (rc < 0)
		abort();
	if ((sel & 16) && scram_client_set_user(&c, "fz,user=") < 0)
		abort();
	if (scram_client_set_nonce_for_test(&c, FZ_CNONCE) < 0 ||
	    scram_client_first(&c, out, sizeof(out), &outn) < 0)
		abort();
	(void)scram_client_mechanism(&c);
	if (scram_client_server_first(&c, s1, l1, out, sizeof(out), &outn,
	    err, sizeof(err)) == 0) {
		if (outn > sizeof(out))
			abort();
		(void)scram_client_server_final(&c, s2, l2, err, sizeof(err));
	}
	if (scram_client_server_final(&c, s2, l2, err, sizeof(err)) == 0)
		abort();	/* no step twice */
	scram_client_wipe(&c);
done:
	free(s1);
	free(s2);
}

/* A stored secret: parse, and what parses must round-trip. */
static void
fuzz_secret(const uint8_t *p, size_t n)
{
	struct scram_secret a, b;
	char *text = malloc(n + 1), again[SCRAM_SECRET_TEXT_MAX];

	if (text == NULL)
		return;
	memcpy(text, p, n);
	text[n] = '\0';
	if (scram_parse_secret(text, &a) == 0) {
		if (scram_format_secret(&a, again, sizeof(again)) < 0 ||
		    scram_parse_secret(again, &b) < 0 ||
		    a.iterations != b.iterations ||
		    a.salt_len != b.salt_len ||
		    memcmp(a.salt, b.salt, a.salt_len) != 0 ||
		    memcmp(a.stored_key, b.stored_key, SCRAM_KEY_LEN) != 0 ||
		    memcmp(a.server_key, b.server_key, SCRAM_KEY_LEN) != 0) {
			fprintf(stderr, "secret does not round-trip\n");
			abort();
		}
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		struct scram_secret s;
		if (scram_parse_secret(FZ_SECRET, &s) < 0)
			abort();
		memcpy(fz_server_key, s.server_key, SCRAM_KEY_LEN);
		ready = true;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_server(data[0], data + 1, size - 1);
		break;
	case 1:
		fuzz_client(data[0], data + 1, size - 1);
		break;
	case 2:
		fuzz_secret(data + 1, size - 1);
		break;
	default: {
		char *b = dup_exact(data + 1, size - 1);
		bool s, p;
		if (b != NULL)
			(void)scram_parse_mechanisms(b, size - 1, &s, &p);
		free(b);
		break;
	}
	}
	return 0;
}
