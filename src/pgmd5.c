/* SPDX-License-Identifier: ISC */
/*
 * PostgreSQL's MD5 password scheme: the stored form is "md5" followed by
 * md5(password || user) in hex, and the wire answer to a challenge is
 * "md5" followed by md5(hex of the stored form || 4-byte salt).  Used on
 * both sides: to log in to servers and to check clients.
 */
#include "config.h"

#include <openssl/evp.h>
#include <string.h>

#include "pgweir/pgmd5.h"

/* md5 of the concatenation of two byte strings, as "md5" + hex. */
static int
md5_hex(const void *a, size_t alen, const void *b, size_t blen,
    char out[PGMD5_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    EVP_DigestUpdate(ctx, b, blen) == 1 &&
	    EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 && dlen == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	memcpy(out, "md5", 3);
	for (unsigned i = 0; i < 16; i++) {
		out[3 + 2 * i] = hex[digest[i] >> 4];
		out[4 + 2 * i] = hex[digest[i] & 15];
	}
	out[PGMD5_LEN - 1] = '\0';
	return 0;
}

/* The stored form of a password for a user. */
int
pgmd5_hash(const char *password, const char *user, char out[PGMD5_LEN])
{
	return md5_hex(password, strlen(password), user, strlen(user), out);
}

/* The answer to an MD5 challenge, from the stored form. */
int
pgmd5_salted(const char *stored, const uint8_t salt[4], char out[PGMD5_LEN])
{
	if (strlen(stored) != PGMD5_LEN - 1 || strncmp(stored, "md5", 3) != 0)
		return -1;
	return md5_hex(stored + 3, 32, salt, 4, out);
}
