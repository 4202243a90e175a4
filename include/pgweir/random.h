/* SPDX-License-Identifier: ISC */
#ifndef PGWEIR_RANDOM_H
#define PGWEIR_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Random bytes for per-connection secrets (cancel keys, MD5 salts), drawn
 * from OpenSSL's generator a block at a time: one call per block instead
 * of one per login (each call also costs a getpid system call).
 */
struct random_pool {
	uint8_t buf[512];
	size_t used;		/* bytes already handed out (buf is spent) */
	int filled;		/* buf holds generator output */
};

/* Fill out with len (at most sizeof buf) unpredictable bytes; -1 on failure. */
int random_take(struct random_pool *rp, void *out, size_t len);

#endif
