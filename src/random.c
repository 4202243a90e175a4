/* SPDX-License-Identifier: ISC */
/*
 * A block of OpenSSL random bytes handed out piece by piece.  Each byte is
 * given out once and wiped as it goes, so the block is as unpredictable
 * as the calls it replaces.  pgweir does not fork once running, so no two
 * processes share a block.
 */
#include "config.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "pgweir/random.h"

int
random_take(struct random_pool *rp, void *out, size_t len)
{
	if (len > sizeof(rp->buf))
		return -1;
	if (!rp->filled || rp->used + len > sizeof(rp->buf)) {
		if (RAND_bytes(rp->buf, (int)sizeof(rp->buf)) != 1)
			return -1;
		rp->filled = 1;
		rp->used = 0;
	}
	memcpy(out, rp->buf + rp->used, len);
	OPENSSL_cleanse(rp->buf + rp->used, len);
	rp->used += len;
	return 0;
}
