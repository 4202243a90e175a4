/* SPDX-License-Identifier: ISC */
/*
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS with tls-server-end-point channel
 * binding (RFC 5802, RFC 7677, RFC 5929), on both sides of the pooler: as
 * the server when clients log in to pgweir, and as the client when pgweir
 * logs in to PostgreSQL, either with a password or with the ClientKey
 * recovered from a client's proof (pass-through).  Also the stored secret,
 * "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>" (RFC 5803), which
 * is what PostgreSQL keeps in pg_authid.
 *
 * Pure code: no sockets, no event loop, no globals, no allocation.  Each
 * exchange lives in a fixed-size struct its caller owns, and moves through
 * the states of its enum in order; a step that fails leaves it FAILED, and
 * a FAILED, wiped or uninitialised exchange refuses every step.  Messages
 * from the peer arrive as (pointer, length), are never assumed to be
 * NUL-terminated, and are parsed attribute by attribute with every length
 * checked: they come straight off the network, and this file is fuzzed.
 * Keys are compared with CRYPTO_memcmp and wiped after use.
 *
 * Passwords are used as raw bytes, without SASLprep: PostgreSQL itself
 * falls back to the raw bytes when a password is not valid UTF-8 or fails
 * SASLprep, and for printable ASCII SASLprep changes nothing.
 *
 * Callers: the client login path (server side), the server login path
 * (client side), and whatever loads auth_file secrets.  References: RFC
 * 5802 section 7 (the grammar), RFC 7677, and PostgreSQL's documentation,
 * "Frontend/Backend Protocol", section "SASL Authentication".
 */
#include "config.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgweir/scram.h"

#define SECRET_PREFIX "SCRAM-SHA-256$"
#define CBIND_NAME "tls-server-end-point"
#define GS2_PLUS "p=" CBIND_NAME ",,"

/* A bounded output buffer; overflow is sticky and checked once at the end. */
struct buf {
	char *p;		/* caller's memory */
	size_t len;		/* bytes written, without the NUL */
	size_t cap;		/* size of p, room for the NUL included */
	bool overflow;		/* something did not fit */
};

/* A read cursor over a message that is not NUL-terminated. */
struct scan {
	const char *p;		/* next byte to read */
	const char *end;	/* one past the last byte */
};

/* Write a reason for the log, if the caller gave room for one. */
static void __attribute__((format(printf, 3, 4)))
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* HMAC-SHA-256 of a message under a key. */
static int
hmac_sha256(const uint8_t *key, size_t keylen, const void *msg, size_t len,
    uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	if (keylen > INT_MAX)
		return -1;
	if (HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) == NULL ||
	    n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

/* SHA-256 of a byte string. */
static int
sha256(const uint8_t *in, size_t len, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SCRAM_KEY_LEN)
		return -1;
	return 0;
}

/* Base64 length of n bytes, padding included. */
static size_t
b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* Encode n bytes as base64 with padding (RFC 4648); no NUL is written. */
static size_t
b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = '=';
	}
	return o;
}

/* The 6-bit value of a base64 character, or -1. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode strict base64: whole quartets, padding only at the very end, no
 * whitespace, unused bits zero (the canonical form every encoder emits).
 * Fails rather than write more than outmax bytes.
 */
static int
b64_decode(const char *in, size_t n, uint8_t *out, size_t outmax,
    size_t *outn)
{
	size_t i, o = 0;
	int v[4] = { 0, 0, 0, 0 }, pad, k;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		if (i + 4 == n) {
			if (in[i + 3] == '=')
				pad++;
			if (pad == 1 && in[i + 2] == '=')
				pad++;
		}
		for (k = 0; k < 4 - pad; k++)
			if ((v[k] = b64_value(in[i + k])) < 0)
				return -1;
		if (o + 3 - (size_t)pad > outmax)
			return -1;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad == 2) {
			if ((v[1] & 15) != 0)
				return -1;
			break;
		}
		out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad == 1) {
			if ((v[2] & 3) != 0)
				return -1;
			break;
		}
		out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	*outn = o;
	return 0;
}

/* Start writing into out. */
static void
buf_init(struct buf *b, char *out, size_t outlen)
{
	b->p = out;
	b->len = 0;
	b->cap = outlen;
	b->overflow = out == NULL || outlen == 0;
}

/* Append n bytes, keeping room for the NUL. */
static void
buf_add(struct buf *b, const void *s, size_t n)
{
	if (b->overflow || n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Append a C string. */
static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append bytes as base64. */
static void
buf_add_b64(struct buf *b, const uint8_t *in, size_t n)
{
	if (b->overflow || b64_len(n) >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	b->len += b64_encode(in, n, b->p + b->len);
}

/* Append a non-negative decimal number. */
static void
buf_add_int(struct buf *b, int v)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%d", v);

	if (n < 0 || (size_t)n >= sizeof(num)) {
		b->overflow = true;
		return;
	}
	buf_add(b, num, (size_t)n);
}

/* NUL-terminate and report the length; -1 if anything did not fit. */
static int
buf_finish(struct buf *b, size_t *outn)
{
	if (b->overflow)
		return -1;
	b->p[b->len] = '\0';
	if (outn != NULL)
		*outn = b->len;
	return 0;
}

/* Take "a=" at the cursor. */
static bool
scan_attr(struct scan *sc, char attr)
{
	if (sc->end - sc->p < 2 || sc->p[0] != attr || sc->p[1] != '=')
		return false;
	sc->p += 2;
	return true;
}

/* Take the bytes up to the next delimiter or the end (maybe none). */
static void
scan_until(struct scan *sc, char delim, const char **v, size_t *n)
{
	const char *d = memchr(sc->p, delim, (size_t)(sc->end - sc->p));

	*v = sc->p;
	*n = (size_t)((d != NULL ? d : sc->end) - sc->p);
	sc->p += *n;
}

/* Take an attribute value: the bytes up to the next comma or the end. */
static void
scan_value(struct scan *sc, const char **v, size_t *n)
{
	scan_until(sc, ',', v, n);
}

/* Take one byte if it is c. */
static bool
scan_char(struct scan *sc, char c)
{
	if (sc->p == sc->end || *sc->p != c)
		return false;
	sc->p++;
	return true;
}

/* An ASCII letter, the only kind of attribute name (RFC 5802 "attr-val"). */
static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Skip optional extensions, ("," ALPHA "=" 1*value-char)*, to the end of
 * the message.  Their meaning is unknown to us and, as in PostgreSQL, they
 * are ignored; only their syntax is checked.
 */
static bool
scan_extensions(struct scan *sc)
{
	const char *v;
	size_t n;

	while (sc->p < sc->end) {
		if (!scan_char(sc, ',') || sc->end - sc->p < 2 ||
		    !is_alpha(sc->p[0]) || sc->p[1] != '=')
			return false;
		sc->p += 2;
		scan_value(sc, &v, &n);
		if (n == 0)
			return false;
	}
	return true;
}

/* A nonce: 1*printable, where printable is %x21-7E without ",". */
static bool
is_nonce(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ',')
			return false;
	return true;
}

/*
 * A saslname: no ",", and "=" only as the escapes "=2C" and "=3D".  Empty
 * is accepted because libpq sends "n=," (PostgreSQL takes the user name
 * from the startup packet and ignores this one).  NUL bytes were refused
 * with the whole message.
 */
static bool
is_saslname(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] == ',')
			return false;
		if (v[i] != '=')
			continue;
		if (n - i < 3 || !((v[i + 1] == '2' && v[i + 2] == 'C') ||
		    (v[i + 1] == '3' && v[i + 2] == 'D')))
			return false;
		i += 2;
	}
	return true;
}

/*
 * An iteration count: a posit-number (no sign, no leading zero) within
 * SCRAM_ITER_MIN..SCRAM_ITER_MAX.  The upper bound matters on the client
 * side, where a hostile server could otherwise make us spin in PBKDF2.
 */
static int
parse_iterations(const char *v, size_t n, int *out)
{
	long acc = 0;

	if (n == 0 || v[0] < '1' || v[0] > '9')
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		acc = acc * 10 + (v[i] - '0');
		if (acc > SCRAM_ITER_MAX)
			return -1;
	}
	if (acc < SCRAM_ITER_MIN)
		return -1;
	*out = (int)acc;
	return 0;
}

/* Check a peer's message before parsing: present, bounded, no NUL. */
static int
check_message(const char *msg, size_t len, char *err, size_t errlen)
{
	if (msg == NULL || len == 0) {
		set_err(err, errlen, "malformed SCRAM message: empty");
		return -1;
	}
	if (len > SCRAM_MSG_MAX) {
		set_err(err, errlen, "malformed SCRAM message: too long "
		    "(%zu bytes)", len);
		return -1;
	}
	if (memchr(msg, '\0', len) != NULL) {
		set_err(err, errlen, "malformed SCRAM message: contains a "
		    "NUL byte");
		return -1;
	}
	return 0;
}

/* A fresh random nonce: SCRAM_RAW_NONCE_LEN bytes in base64. */
static int
make_nonce(char out[SCRAM_NONCE_MAX + 1], size_t *outlen)
{
	uint8_t raw[SCRAM_RAW_NONCE_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	*outlen = b64_encode(raw, sizeof(raw), out);
	out[*outlen] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

/* Copy a caller-chosen nonce after checking it is one. */
static int
set_nonce(char out[SCRAM_NONCE_MAX + 1], size_t *outlen, const char *nonce)
{
	size_t n;

	if (nonce == NULL)
		return -1;
	n = strlen(nonce);
	if (n > SCRAM_NONCE_MAX || !is_nonce(nonce, n))
		return -1;
	memcpy(out, nonce, n + 1);
	*outlen = n;
	return 0;
}

/*
 * AuthMessage = client-first-message-bare "," server-first-message ","
 * client-final-message-without-proof; both signatures are HMACs of it.
 */
static int
auth_signatures(const char *cfb, size_t cfb_len, const char *sf,
    size_t sf_len, const char *cfwp, size_t cfwp_len,
    const uint8_t stored_key[SCRAM_KEY_LEN],
    const uint8_t server_key[SCRAM_KEY_LEN],
    uint8_t client_sig[SCRAM_KEY_LEN], uint8_t server_sig[SCRAM_KEY_LEN])
{
	char am[3 * SCRAM_MSG_MAX + 2];
	size_t n = 0;

	if (cfb_len > SCRAM_MSG_MAX || sf_len > SCRAM_MSG_MAX ||
	    cfwp_len > SCRAM_MSG_MAX)
		return -1;
	memcpy(am, cfb, cfb_len);
	n += cfb_len;
	am[n++] = ',';
	memcpy(am + n, sf, sf_len);
	n += sf_len;
	am[n++] = ',';
	memcpy(am + n, cfwp, cfwp_len);
	n += cfwp_len;
	if (hmac_sha256(stored_key, SCRAM_KEY_LEN, am, n, client_sig) < 0 ||
	    hmac_sha256(server_key, SCRAM_KEY_LEN, am, n, server_sig) < 0)
		return -1;
	return 0;
}

/*
 * ClientKey and ServerKey from a password: SaltedPassword is
 * PBKDF2-HMAC-SHA-256(password, salt, iterations), and the keys are HMACs
 * of "Client Key" and "Server Key" under it (RFC 5802 section 3).  This is
 * the only slow step; iterations costs linearly.
 */
int
scram_salted_keys(const char *password, size_t password_len,
    const uint8_t *salt, size_t salt_len, int iterations,
    uint8_t client_key[SCRAM_KEY_LEN], uint8_t server_key[SCRAM_KEY_LEN])
{
	uint8_t salted[SCRAM_KEY_LEN];
	int rc = -1;

	if (password == NULL || salt == NULL || salt_len == 0 ||
	    salt_len > SCRAM_SALT_MAX || password_len > INT_MAX ||
	    iterations < SCRAM_ITER_MIN || iterations > SCRAM_ITER_MAX)
		return -1;
	if (PKCS5_PBKDF2_HMAC(password, (int)password_len, salt,
	    (int)salt_len, iterations, EVP_sha256(), SCRAM_KEY_LEN,
	    salted) != 1)
		goto done;
	if (hmac_sha256(salted, sizeof(salted), "Client Key", 10,
	    client_key) < 0 ||
	    hmac_sha256(salted, sizeof(salted), "Server Key", 10,
	    server_key) < 0)
		goto done;
	rc = 0;
done:
	OPENSSL_cleanse(salted, sizeof(salted));
	return rc;
}

/* The stored secret for a password, salt and iteration count. */
int
scram_secret_from_password(const char *password, const uint8_t *salt,
    size_t salt_len, int iterations, struct scram_secret *out)
{
	struct scram_secret sec;
	uint8_t client_key[SCRAM_KEY_LEN];
	int rc = -1;

	if (password == NULL || out == NULL)
		return -1;
	memset(&sec, 0, sizeof(sec));
	if (scram_salted_keys(password, strlen(password), salt, salt_len,
	    iterations, client_key, sec.server_key) < 0 ||
	    sha256(client_key, sizeof(client_key), sec.stored_key) < 0)
		goto done;
	sec.iterations = iterations;
	memcpy(sec.salt, salt, salt_len);
	sec.salt_len = salt_len;
	*out = sec;
	rc = 0;
done:
	OPENSSL_cleanse(client_key, sizeof(client_key));
	OPENSSL_cleanse(&sec, sizeof(sec));
	return rc;
}

/* The text form of a secret, "SCRAM-SHA-256$<iter>:<salt>$<SK>:<SvK>". */
int
scram_format_secret(const struct scram_secret *secret, char *out,
    size_t outlen)
{
	struct buf b;

	if (secret == NULL || secret->salt_len == 0 ||
	    secret->salt_len > SCRAM_SALT_MAX ||
	    secret->iterations < SCRAM_ITER_MIN ||
	    secret->iterations > SCRAM_ITER_MAX)
		return -1;
	buf_init(&b, out, outlen);
	buf_adds(&b, SECRET_PREFIX);
	buf_add_int(&b, secret->iterations);
	buf_add(&b, ":", 1);
	buf_add_b64(&b, secret->salt, secret->salt_len);
	buf_add(&b, "$", 1);
	buf_add_b64(&b, secret->stored_key, SCRAM_KEY_LEN);
	buf_add(&b, ":", 1);
	buf_add_b64(&b, secret->server_key, SCRAM_KEY_LEN);
	return buf_finish(&b, NULL);
}

/* A new secret for a password, with a random 16-byte salt, in text form. */
int
scram_build_secret(const char *password, int iterations, char *out,
    size_t outlen)
{
	struct scram_secret sec;
	uint8_t salt[SCRAM_SALT_LEN];
	int rc = -1;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	if (scram_secret_from_password(password, salt, sizeof(salt),
	    iterations, &sec) < 0)
		goto done;
	rc = scram_format_secret(&sec, out, outlen);
done:
	OPENSSL_cleanse(&sec, sizeof(sec));
	return rc;
}

/*
 * Parse the text form of a secret.  Strict: the exact prefix, a
 * posit-number iteration count within bounds, canonical base64, a salt of
 * 1..SCRAM_SALT_MAX bytes, keys of exactly 32 bytes, nothing after.
 * Returns -1 for anything else (e.g. an md5 hash or a plaintext password),
 * leaving out untouched.
 */
int
scram_parse_secret(const char *text, struct scram_secret *out)
{
	struct scram_secret sec;
	struct scan sc;
	const char *v;
	size_t n, klen;
	int rc = -1;

	if (text == NULL || out == NULL ||
	    strncmp(text, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
		return -1;
	memset(&sec, 0, sizeof(sec));
	sc.p = text + strlen(SECRET_PREFIX);
	sc.end = sc.p + strlen(sc.p);
	scan_until(&sc, ':', &v, &n);
	if (parse_iterations(v, n, &sec.iterations) < 0 ||
	    !scan_char(&sc, ':'))
		goto done;
	scan_until(&sc, '$', &v, &n);
	if (b64_decode(v, n, sec.salt, sizeof(sec.salt), &sec.salt_len) < 0 ||
	    sec.salt_len == 0 || !scan_char(&sc, '$'))
		goto done;
	scan_until(&sc, ':', &v, &n);
	if (b64_decode(v, n, sec.stored_key, sizeof(sec.stored_key),
	    &klen) < 0 || klen != SCRAM_KEY_LEN || !scan_char(&sc, ':'))
		goto done;
	scan_until(&sc, '$', &v, &n);
	if (b64_decode(v, n, sec.server_key, sizeof(sec.server_key),
	    &klen) < 0 || klen != SCRAM_KEY_LEN || sc.p != sc.end)
		goto done;
	*out = sec;
	rc = 0;
done:
	OPENSSL_cleanse(&sec, sizeof(sec));
	return rc;
}

/*
 * Read the body of AuthenticationSASL: mechanism names, each followed by a
 * NUL, then an empty name.  Unknown mechanisms are skipped.  -1 when the
 * list is not terminated or something follows the terminator.
 */
int
scram_parse_mechanisms(const char *body, size_t len, bool *has_scram,
    bool *has_plus)
{
	const char *p = body, *end, *nul;

	*has_scram = false;
	*has_plus = false;
	if (body == NULL)
		return -1;
	end = body + len;
	while (p < end) {
		nul = memchr(p, '\0', (size_t)(end - p));
		if (nul == NULL)
			return -1;
		if (nul == p)
			return nul + 1 == end ? 0 : -1;
		if (strcmp(p, SCRAM_SHA_256) == 0)
			*has_scram = true;
		else if (strcmp(p, SCRAM_SHA_256_PLUS) == 0)
			*has_plus = true;
		p = nul + 1;
	}
	return -1;
}

/*
 * Start a server-side exchange for a known user.  cbind is the
 * tls-server-end-point hash of pgweir's certificate on a TLS connection,
 * else NULL; with it, SCRAM-SHA-256-PLUS is offered.
 */
int
scram_server_init(struct scram_server *s, const struct scram_secret *secret,
    const uint8_t *cbind, size_t cbind_len)
{
	memset(s, 0, sizeof(*s));
	if (secret == NULL || secret->salt_len == 0 ||
	    secret->salt_len > SCRAM_SALT_MAX ||
	    secret->iterations < SCRAM_ITER_MIN ||
	    secret->iterations > SCRAM_ITER_MAX)
		return -1;
	s->secret = *secret;
	s->state = SCRAM_SV_INIT;
	if (scram_server_set_cbind(s, cbind, cbind_len) < 0) {
		scram_server_wipe(s);
		return -1;
	}
	return 0;
}

/*
 * Start a server-side exchange for a user that does not exist, so that an
 * attacker cannot tell: the salt is HMAC(mock_key, username), stable per
 * name like a real one; the iteration count is PostgreSQL's default; every
 * step does the same work as for a real user; and the proof always fails.
 * On TLS, call scram_server_set_cbind() next exactly as for a real user,
 * or the mechanism list would give the game away.
 */
void
scram_server_init_mock(struct scram_server *s, const char *username,
    const uint8_t mock_key[SCRAM_KEY_LEN])
{
	uint8_t h[SCRAM_KEY_LEN];

	memset(s, 0, sizeof(*s));
	if (username == NULL)
		username = "";
	memset(h, 0, sizeof(h));
	if (mock_key != NULL)
		(void)hmac_sha256(mock_key, SCRAM_KEY_LEN, username,
		    strlen(username), h);
	s->mock = true;
	s->secret.iterations = SCRAM_DEFAULT_ITERATIONS;
	memcpy(s->secret.salt, h, SCRAM_SALT_LEN);
	s->secret.salt_len = SCRAM_SALT_LEN;
	(void)sha256(h, sizeof(h), s->secret.stored_key);
	(void)hmac_sha256(h, sizeof(h), "Server Key", 10,
	    s->secret.server_key);
	s->state = SCRAM_SV_INIT;
	OPENSSL_cleanse(h, sizeof(h));
}

/* Set (or, with NULL, clear) the channel binding data before the exchange. */
int
scram_server_set_cbind(struct scram_server *s, const uint8_t *cbind,
    size_t cbind_len)
{
	if (s->state != SCRAM_SV_INIT)
		return -1;
	if (cbind == NULL) {
		s->cbind_offered = false;
		s->cbind_len = 0;
		return 0;
	}
	if (cbind_len == 0 || cbind_len > SCRAM_CBIND_MAX)
		return -1;
	memcpy(s->cbind, cbind, cbind_len);
	s->cbind_len = cbind_len;
	s->cbind_offered = true;
	return 0;
}

/*
 * The body of AuthenticationSASL after its Int32 code: the mechanisms we
 * offer, each NUL-terminated, then an empty one.  Returns the byte count,
 * or 0 if out is too small.
 */
size_t
scram_server_mechanisms(const struct scram_server *s, char *out,
    size_t outlen)
{
	static const char plus[] = SCRAM_SHA_256_PLUS "\0" SCRAM_SHA_256 "\0";
	static const char plain[] = SCRAM_SHA_256 "\0";
	const char *m = s->cbind_offered ? plus : plain;
	size_t n = s->cbind_offered ? sizeof(plus) : sizeof(plain);

	if (out == NULL || outlen < n)
		return 0;
	memcpy(out, m, n);
	return n;
}

/*
 * Check the gs2 header of client-first-message against the mechanism the
 * client chose and what we offered (PostgreSQL docs, "SCRAM-SHA-256
 * Authentication"), and keep it for the c= check.  Leaves the cursor on
 * client-first-message-bare.
 */
static int
server_parse_gs2(struct scram_server *s, struct scan *sc, char *err,
    size_t errlen)
{
	const char *start = sc->p, *v;
	size_t n;

	if (scan_char(sc, 'n') || scan_char(sc, 'y')) {
		if (s->plus) {
			set_err(err, errlen, "client selected %s but sent no "
			    "channel binding", SCRAM_SHA_256_PLUS);
			return -1;
		}
		/*
		 * "y": the client could bind but believes we cannot.  We
		 * offered -PLUS, so someone removed it on the way: a
		 * downgrade attack.
		 */
		if (*start == 'y' && s->cbind_offered) {
			set_err(err, errlen, "SCRAM channel binding "
			    "negotiation error: client supports channel "
			    "binding but was not offered it");
			return -1;
		}
	} else if (scan_attr(sc, 'p')) {
		scan_value(sc, &v, &n);
		if (!s->cbind_offered) {
			set_err(err, errlen, "client requested channel "
			    "binding, but it is not available without TLS");
			return -1;
		}
		if (!s->plus) {
			set_err(err, errlen, "client selected %s but sent "
			    "channel binding", SCRAM_SHA_256);
			return -1;
		}
		if (n != strlen(CBIND_NAME) || memcmp(v, CBIND_NAME, n) != 0) {
			set_err(err, errlen, "unsupported SCRAM channel "
			    "binding type");
			return -1;
		}
	} else {
		set_err(err, errlen, "malformed SCRAM message: bad channel "
		    "binding flag");
		return -1;
	}
	if (!scan_char(sc, ',')) {
		set_err(err, errlen, "malformed SCRAM message: expected "
		    "\",\" after channel binding flag");
		return -1;
	}
	/* An authzid ("a=") names another role; PostgreSQL refuses it too. */
	if (sc->p < sc->end && *sc->p == 'a') {
		set_err(err, errlen, "client uses an authorization identity, "
		    "which is not supported");
		return -1;
	}
	if (!scan_char(sc, ',')) {
		set_err(err, errlen, "malformed SCRAM message: bad "
		    "authorization identity");
		return -1;
	}
	n = (size_t)(sc->p - start);
	if (n > sizeof(s->gs2)) {
		set_err(err, errlen, "malformed SCRAM message: gs2 header "
		    "too long");
		return -1;
	}
	memcpy(s->gs2, start, n);
	s->gs2_len = n;
	return 0;
}

/*
 * Take the client-first-message (SASLInitialResponse data) for the chosen
 * mechanism and build server-first-message, "r=<nonce>,s=<salt>,i=<n>",
 * into out (NUL-terminated; *outn is its length).  On -1, err says why,
 * for the log; the client should get a generic failure.
 */
int
scram_server_client_first(struct scram_server *s, const char *mechanism,
    const char *msg, size_t len, char *out, size_t outlen, size_t *outn,
    char *err, size_t errlen)
{
	struct scan sc;
	struct buf b;
	const char *bare, *v, *cnonce;
	size_t n, cnonce_len;

	if (s->state != SCRAM_SV_INIT) {
		set_err(err, errlen, "SCRAM exchange step out of order");
		goto fail;
	}
	if (mechanism != NULL && strcmp(mechanism, SCRAM_SHA_256) == 0)
		s->plus = false;
	else if (mechanism != NULL &&
	    strcmp(mechanism, SCRAM_SHA_256_PLUS) == 0 && s->cbind_offered)
		s->plus = true;
	else {
		set_err(err, errlen, "client selected an invalid SASL "
		    "authentication mechanism");
		goto fail;
	}
	if (check_message(msg, len, err, errlen) < 0)
		goto fail;
	sc.p = msg;
	sc.end = msg + len;
	if (server_parse_gs2(s, &sc, err, errlen) < 0)
		goto fail;

	/* client-first-message-bare = [m=...,] n=user,r=nonce[,ext...] */
	bare = sc.p;
	if (scan_attr(&sc, 'm')) {
		set_err(err, errlen, "client requires an unsupported SCRAM "
		    "extension");
		goto fail;
	}
	if (!scan_attr(&sc, 'n')) {
		set_err(err, errlen, "malformed SCRAM message: expected "
		    "user name");
		goto fail;
	}
	scan_value(&sc, &v, &n);
	if (!is_saslname(v, n) || !scan_char(&sc, ',')) {
		set_err(err, errlen, "malformed SCRAM message: bad user name");
		goto fail;
	}
	if (!scan_attr(&sc, 'r')) {
		set_err(err, errlen, "malformed SCRAM message: expected nonce");
		goto fail;
	}
	scan_value(&sc, &cnonce, &cnonce_len);
	if (!is_nonce(cnonce, cnonce_len) || cnonce_len > SCRAM_NONCE_MAX) {
		set_err(err, errlen, "malformed SCRAM message: bad client "
		    "nonce");
		goto fail;
	}
	if (!scan_extensions(&sc)) {
		set_err(err, errlen, "malformed SCRAM message: garbage after "
		    "nonce");
		goto fail;
	}
	s->client_first_bare_len = (size_t)(sc.end - bare);
	memcpy(s->client_first_bare, bare, s->client_first_bare_len);

	if (s->snonce_len == 0 && make_nonce(s->snonce, &s->snonce_len) < 0) {
		set_err(err, errlen, "could not generate SCRAM nonce");
		goto fail;
	}
	memcpy(s->nonce, cnonce, cnonce_len);
	memcpy(s->nonce + cnonce_len, s->snonce, s->snonce_len);
	s->nonce_len = cnonce_len + s->snonce_len;

	buf_init(&b, out, outlen);
	buf_adds(&b, "r=");
	buf_add(&b, s->nonce, s->nonce_len);
	buf_adds(&b, ",s=");
	buf_add_b64(&b, s->secret.salt, s->secret.salt_len);
	buf_adds(&b, ",i=");
	buf_add_int(&b, s->secret.iterations);
	if (buf_finish(&b, outn) < 0 || b.len > sizeof(s->server_first)) {
		set_err(err, errlen, "SCRAM output buffer too small");
		goto fail;
	}
	memcpy(s->server_first, out, b.len);
	s->server_first_len = b.len;
	s->state = SCRAM_SV_FIRST;
	return 0;
fail:
	s->state = SCRAM_SV_FAILED;
	return -1;
}

/*
 * Take the client-final-message (SASLResponse data): check the channel
 * binding, the nonce and, in constant time, the proof.  On success build
 * server-final-message "v=<ServerSignature>" into out and keep the
 * client's ClientKey (proof XOR ClientSignature) in s->client_key, with
 * which pgweir can log in to PostgreSQL in the client's name.  On -1, err
 * says why, for the log only.
 */
int
scram_server_client_final(struct scram_server *s, const char *msg,
    size_t len, char *out, size_t outlen, size_t *outn, char *err,
    size_t errlen)
{
	uint8_t cb[sizeof(s->gs2) + SCRAM_CBIND_MAX];
	uint8_t expect[sizeof(s->gs2) + SCRAM_CBIND_MAX];
	uint8_t proof[SCRAM_KEY_LEN], client_sig[SCRAM_KEY_LEN];
	uint8_t key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	uint8_t server_sig[SCRAM_KEY_LEN];
	struct scan sc;
	struct buf b;
	const char *v, *proof_at;
	size_t n, cbn, expn;
	bool ok;
	int rc = -1;

	if (s->state != SCRAM_SV_FIRST) {
		set_err(err, errlen, "SCRAM exchange step out of order");
		goto done;
	}
	if (check_message(msg, len, err, errlen) < 0)
		goto done;
	sc.p = msg;
	sc.end = msg + len;

	/* c= is base64 of our gs2 header, plus the binding data with p=. */
	if (!scan_attr(&sc, 'c')) {
		set_err(err, errlen, "malformed SCRAM message: expected "
		    "channel binding");
		goto done;
	}
	scan_value(&sc, &v, &n);
	if (b64_decode(v, n, cb, sizeof(cb), &cbn) < 0) {
		set_err(err, errlen, "malformed SCRAM message: bad channel "
		    "binding data");
		goto done;
	}
	memcpy(expect, s->gs2, s->gs2_len);
	expn = s->gs2_len;
	if (s->plus) {
		memcpy(expect + expn, s->cbind, s->cbind_len);
		expn += s->cbind_len;
	}
	if (cbn != expn || CRYPTO_memcmp(cb, expect, expn) != 0) {
		set_err(err, errlen, "SCRAM channel binding check failed");
		goto done;
	}
	if (!scan_char(&sc, ',') || !scan_attr(&sc, 'r')) {
		set_err(err, errlen, "malformed SCRAM message: expected nonce");
		goto done;
	}
	scan_value(&sc, &v, &n);
	if (n != s->nonce_len || memcmp(v, s->nonce, n) != 0) {
		set_err(err, errlen, "SCRAM nonce does not match");
		goto done;
	}

	/* Optional extensions, then the proof, which must come last. */
	for (;;) {
		proof_at = sc.p;
		if (!scan_char(&sc, ',')) {
			set_err(err, errlen, "malformed SCRAM message: "
			    "expected proof");
			goto done;
		}
		if (scan_attr(&sc, 'p'))
			break;
		if (sc.end - sc.p < 2 || !is_alpha(sc.p[0]) || sc.p[1] != '=') {
			set_err(err, errlen, "malformed SCRAM message: bad "
			    "attribute");
			goto done;
		}
		sc.p += 2;
		scan_value(&sc, &v, &n);
		if (n == 0) {
			set_err(err, errlen, "malformed SCRAM message: empty "
			    "extension");
			goto done;
		}
	}
	scan_value(&sc, &v, &n);
	if (sc.p != sc.end || b64_decode(v, n, proof, sizeof(proof),
	    &n) < 0 || n != SCRAM_KEY_LEN) {
		set_err(err, errlen, "malformed SCRAM message: bad proof");
		goto done;
	}

	/*
	 * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the
	 * proof is right when H(ClientKey) is StoredKey.  A mock exchange
	 * does the same work and then fails regardless.
	 */
	if (auth_signatures(s->client_first_bare, s->client_first_bare_len,
	    s->server_first, s->server_first_len, msg,
	    (size_t)(proof_at - msg), s->secret.stored_key,
	    s->secret.server_key, client_sig, server_sig) < 0) {
		set_err(err, errlen, "SCRAM computation failed");
		goto done;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		key[i] = proof[i] ^ client_sig[i];
	if (sha256(key, sizeof(key), stored) < 0) {
		set_err(err, errlen, "SCRAM computation failed");
		goto done;
	}
	ok = CRYPTO_memcmp(stored, s->secret.stored_key, SCRAM_KEY_LEN) == 0;
	if (!ok || s->mock) {
		set_err(err, errlen, "password authentication failed "
		    "(SCRAM proof does not match)");
		goto done;
	}

	buf_init(&b, out, outlen);
	buf_adds(&b, "v=");
	buf_add_b64(&b, server_sig, sizeof(server_sig));
	if (buf_finish(&b, outn) < 0) {
		set_err(err, errlen, "SCRAM output buffer too small");
		goto done;
	}
	memcpy(s->client_key, key, sizeof(key));
	s->have_client_key = true;
	s->state = SCRAM_SV_DONE;
	rc = 0;
done:
	if (rc < 0)
		s->state = SCRAM_SV_FAILED;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(client_sig, sizeof(client_sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(server_sig, sizeof(server_sig));
	return rc;
}

/* Forget everything, secrets included; the exchange refuses further steps. */
void
scram_server_wipe(struct scram_server *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
	s->state = SCRAM_SV_NONE;
}

/*
 * Channel binding for a client-side exchange.  plus: use -PLUS (needs
 * cbind).  Without plus, a cbind still matters: it means we are on TLS and
 * could bind, so we send the "y" flag, which lets a server that did offer
 * -PLUS detect that someone stripped it.
 */
static int
client_set_cbind(struct scram_client *c, bool plus, const uint8_t *cbind,
    size_t cbind_len)
{
	if (cbind != NULL) {
		if (cbind_len == 0 || cbind_len > SCRAM_CBIND_MAX)
			return -1;
		memcpy(c->cbind, cbind, cbind_len);
		c->cbind_len = cbind_len;
		c->have_cbind = true;
	} else if (plus)
		return -1;
	c->plus = plus;
	return 0;
}

/* Start a client-side exchange with a password. */
int
scram_client_init_password(struct scram_client *c, const char *password,
    bool plus, const uint8_t *cbind, size_t cbind_len)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	if (password == NULL || (n = strlen(password)) >= SCRAM_PASSWORD_MAX)
		return -1;
	if (client_set_cbind(c, plus, cbind, cbind_len) < 0) {
		scram_client_wipe(c);
		return -1;
	}
	memcpy(c->password, password, n);
	c->password_len = n;
	c->have_password = true;
	c->state = SCRAM_CL_INIT;
	return 0;
}

/*
 * Start a client-side exchange with keys instead of a password: the
 * ClientKey recovered from a client's proof and the ServerKey of the same
 * stored secret.  Works only if the server's secret has the same salt and
 * iteration count as the one the keys came from.
 */
int
scram_client_init_keys(struct scram_client *c,
    const uint8_t client_key[SCRAM_KEY_LEN],
    const uint8_t server_key[SCRAM_KEY_LEN], bool plus, const uint8_t *cbind,
    size_t cbind_len)
{
	memset(c, 0, sizeof(*c));
	if (client_key == NULL || server_key == NULL)
		return -1;
	if (client_set_cbind(c, plus, cbind, cbind_len) < 0) {
		scram_client_wipe(c);
		return -1;
	}
	memcpy(c->client_key, client_key, SCRAM_KEY_LEN);
	memcpy(c->server_key, server_key, SCRAM_KEY_LEN);
	c->have_keys = true;
	c->state = SCRAM_CL_INIT;
	return 0;
}

/*
 * Set the user name sent in n=, escaping "," and "=".  PostgreSQL ignores
 * it (the startup packet names the role), so by default it is empty, like
 * libpq; other SCRAM servers, and RFC 7677's test vector, need it.
 */
int
scram_client_set_user(struct scram_client *c, const char *user)
{
	size_t n, o = 0;

	if (c->state != SCRAM_CL_INIT || user == NULL ||
	    (n = strlen(user)) > SCRAM_USER_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (user[i] == ',') {
			memcpy(c->user + o, "=2C", 3);
			o += 3;
		} else if (user[i] == '=') {
			memcpy(c->user + o, "=3D", 3);
			o += 3;
		} else
			c->user[o++] = user[i];
	}
	c->user[o] = '\0';
	c->user_len = o;
	return 0;
}

/* The mechanism name to put in SASLInitialResponse. */
const char *
scram_client_mechanism(const struct scram_client *c)
{
	return c->plus ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256;
}

/* Our gs2 header: the channel binding flag and an empty authzid. */
static const char *
client_gs2(const struct scram_client *c)
{
	if (c->plus)
		return GS2_PLUS;
	return c->have_cbind ? "y,," : "n,,";
}

/* Build client-first-message, "<gs2>n=<user>,r=<nonce>", into out. */
int
scram_client_first(struct scram_client *c, char *out, size_t outlen,
    size_t *outn)
{
	struct buf b;
	size_t gs2_len = strlen(client_gs2(c));

	if (c->state != SCRAM_CL_INIT)
		goto fail;
	if (c->nonce_len == 0 && make_nonce(c->nonce, &c->nonce_len) < 0)
		goto fail;
	buf_init(&b, out, outlen);
	buf_adds(&b, client_gs2(c));
	buf_adds(&b, "n=");
	buf_add(&b, c->user, c->user_len);
	buf_adds(&b, ",r=");
	buf_add(&b, c->nonce, c->nonce_len);
	if (buf_finish(&b, outn) < 0 ||
	    b.len - gs2_len > sizeof(c->client_first_bare))
		goto fail;
	memcpy(c->client_first_bare, out + gs2_len, b.len - gs2_len);
	c->client_first_bare_len = b.len - gs2_len;
	c->state = SCRAM_CL_FIRST;
	return 0;
fail:
	c->state = SCRAM_CL_FAILED;
	return -1;
}

/*
 * Take server-first-message (AuthenticationSASLContinue data): check that
 * the nonce extends ours, and the salt and iteration count; derive the keys
 * if we have a password (PBKDF2: the slow step, bounded by SCRAM_ITER_MAX);
 * build client-final-message with the proof into out, and remember the
 * server signature to expect.
 */
int
scram_client_server_first(struct scram_client *c, const char *msg,
    size_t len, char *out, size_t outlen, size_t *outn, char *err,
    size_t errlen)
{
	uint8_t cb[sizeof(GS2_PLUS) + SCRAM_CBIND_MAX];
	uint8_t stored[SCRAM_KEY_LEN], client_sig[SCRAM_KEY_LEN];
	uint8_t proof[SCRAM_KEY_LEN];
	struct scan sc;
	struct buf b;
	const char *v, *nonce, *gs2;
	size_t n, nonce_len, cbn, wp_len;
	int rc = -1;

	if (c->state != SCRAM_CL_FIRST) {
		set_err(err, errlen, "SCRAM exchange step out of order");
		goto done;
	}
	if (check_message(msg, len, err, errlen) < 0)
		goto done;
	sc.p = msg;
	sc.end = msg + len;
	if (scan_attr(&sc, 'm')) {
		set_err(err, errlen, "server requires an unsupported SCRAM "
		    "extension");
		goto done;
	}
	if (!scan_attr(&sc, 'r')) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "expected nonce");
		goto done;
	}
	scan_value(&sc, &nonce, &nonce_len);
	/* The server must add a nonce of its own to ours, not replace it. */
	if (nonce_len <= c->nonce_len || nonce_len > 2 * SCRAM_NONCE_MAX ||
	    !is_nonce(nonce, nonce_len) ||
	    memcmp(nonce, c->nonce, c->nonce_len) != 0) {
		set_err(err, errlen, "invalid SCRAM nonce from server");
		goto done;
	}
	if (!scan_char(&sc, ',') || !scan_attr(&sc, 's')) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "expected salt");
		goto done;
	}
	scan_value(&sc, &v, &n);
	if (b64_decode(v, n, c->salt, sizeof(c->salt), &c->salt_len) < 0 ||
	    c->salt_len == 0) {
		set_err(err, errlen, "invalid SCRAM salt from server");
		goto done;
	}
	if (!scan_char(&sc, ',') || !scan_attr(&sc, 'i')) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "expected iteration count");
		goto done;
	}
	scan_value(&sc, &v, &n);
	if (parse_iterations(v, n, &c->iterations) < 0) {
		set_err(err, errlen, "invalid SCRAM iteration count from "
		    "server (must be %d..%d)", SCRAM_ITER_MIN, SCRAM_ITER_MAX);
		goto done;
	}
	if (!scan_extensions(&sc)) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "garbage after iteration count");
		goto done;
	}

	if (c->have_password) {
		if (scram_salted_keys(c->password, c->password_len, c->salt,
		    c->salt_len, c->iterations, c->client_key,
		    c->server_key) < 0) {
			set_err(err, errlen, "SCRAM key derivation failed");
			goto done;
		}
		OPENSSL_cleanse(c->password, sizeof(c->password));
		c->have_keys = true;
	}
	if (!c->have_keys || sha256(c->client_key, SCRAM_KEY_LEN,
	    stored) < 0) {
		set_err(err, errlen, "SCRAM computation failed");
		goto done;
	}

	/* client-final-message-without-proof = c=<gs2[+cbind]>,r=<nonce> */
	gs2 = client_gs2(c);
	cbn = strlen(gs2);
	memcpy(cb, gs2, cbn);
	if (c->plus) {
		memcpy(cb + cbn, c->cbind, c->cbind_len);
		cbn += c->cbind_len;
	}
	buf_init(&b, out, outlen);
	buf_adds(&b, "c=");
	buf_add_b64(&b, cb, cbn);
	buf_adds(&b, ",r=");
	buf_add(&b, nonce, nonce_len);
	wp_len = b.len;
	if (b.overflow || auth_signatures(c->client_first_bare,
	    c->client_first_bare_len, msg, len, out, wp_len, stored,
	    c->server_key, client_sig, c->server_signature) < 0) {
		set_err(err, errlen, "SCRAM computation failed");
		goto done;
	}
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		proof[i] = c->client_key[i] ^ client_sig[i];
	buf_adds(&b, ",p=");
	buf_add_b64(&b, proof, sizeof(proof));
	if (buf_finish(&b, outn) < 0) {
		set_err(err, errlen, "SCRAM output buffer too small");
		goto done;
	}
	c->state = SCRAM_CL_FINAL;
	rc = 0;
done:
	if (rc < 0)
		c->state = SCRAM_CL_FAILED;
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(client_sig, sizeof(client_sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	return rc;
}

/*
 * Take server-final-message (AuthenticationSASLFinal data): "v=" must be
 * the server signature we computed (constant-time compare), proving the
 * server knows the secret too; "e=" is the server's refusal.
 */
int
scram_client_server_final(struct scram_client *c, const char *msg,
    size_t len, char *err, size_t errlen)
{
	uint8_t sig[SCRAM_KEY_LEN];
	char why[65];
	struct scan sc;
	const char *v;
	size_t n, i;
	int rc = -1;

	if (c->state != SCRAM_CL_FINAL) {
		set_err(err, errlen, "SCRAM exchange step out of order");
		goto done;
	}
	if (check_message(msg, len, err, errlen) < 0)
		goto done;
	sc.p = msg;
	sc.end = msg + len;
	if (scan_attr(&sc, 'e')) {
		/* The server's words go to our log: keep them printable. */
		scan_value(&sc, &v, &n);
		for (i = 0; i < n && i < sizeof(why) - 1; i++)
			why[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
		why[i] = '\0';
		set_err(err, errlen, "SCRAM authentication refused by "
		    "server: %s", why);
		goto done;
	}
	if (!scan_attr(&sc, 'v')) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "expected verifier");
		goto done;
	}
	scan_value(&sc, &v, &n);
	if (b64_decode(v, n, sig, sizeof(sig), &n) < 0 ||
	    n != SCRAM_KEY_LEN || !scan_extensions(&sc)) {
		set_err(err, errlen, "malformed SCRAM message from server: "
		    "bad verifier");
		goto done;
	}
	if (CRYPTO_memcmp(sig, c->server_signature, SCRAM_KEY_LEN) != 0) {
		set_err(err, errlen, "SCRAM server signature does not match: "
		    "the server does not know the secret");
		goto done;
	}
	c->state = SCRAM_CL_DONE;
	rc = 0;
done:
	if (rc < 0)
		c->state = SCRAM_CL_FAILED;
	return rc;
}

/* Forget everything, keys included; the exchange refuses further steps. */
void
scram_client_wipe(struct scram_client *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
	c->state = SCRAM_CL_NONE;
}

/* Test hook: use this client nonce instead of a random one. */
int
scram_client_set_nonce_for_test(struct scram_client *c, const char *nonce)
{
	if (c->state != SCRAM_CL_INIT)
		return -1;
	return set_nonce(c->nonce, &c->nonce_len, nonce);
}

/* Test hook: use this server nonce part instead of a random one. */
int
scram_server_set_nonce_for_test(struct scram_server *s, const char *nonce)
{
	if (s->state != SCRAM_SV_INIT)
		return -1;
	return set_nonce(s->snonce, &s->snonce_len, nonce);
}
