/* SPDX-License-Identifier: ISC */
/*
 * libevent's memory functions, with a small cache of buffer chains.
 *
 * Every read(2) lands in a fresh evbuffer chain (a power-of-two block:
 * 64 KiB for a 32 KiB read) and every write that empties a buffer frees
 * it, so each transaction costs two malloc/free pairs of blocks too large
 * for glibc's per-thread cache, a few hundred instructions each.  Freed
 * blocks whose usable size is a power of two from 1 KiB to 64 KiB go to a
 * free list of that size instead, bounded in bytes, and the next request
 * of that size takes one back.  Blocks keep no header: the class comes
 * from malloc_usable_size(), so any block, cached or not, is a plain
 * malloc() block that realloc() and free() understand.
 *
 * The daemon installs this once, before its first libevent call; sanitizer
 * builds do not, so that AddressSanitizer still sees every use after free.
 * (A block freed on another thread than it came from is just a malloc
 * block in that thread's list.)
 */
#include "config.h"

#include <event2/event.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pgweir/evalloc.h"

#define CLASS_MIN 10		/* 1 KiB */
#define CLASS_MAX 16		/* 64 KiB */
/* the most bytes held per class: 2 MiB over seven classes, at worst */
#define CLASS_BUDGET (2u * 1024 * 1024 / (CLASS_MAX - CLASS_MIN + 1))

struct free_block {
	struct free_block *next;
};

/*
 * Per thread: libevent's memory hooks are process-wide and take no
 * context, and a worker per core (DESIGN.md) must not share the lists.
 */
static _Thread_local struct free_block *free_lists[CLASS_MAX + 1];
static _Thread_local unsigned free_counts[CLASS_MAX + 1];

/* The class of a request: exactly 2^k bytes, or -1. */
static int
request_class(size_t n)
{
	if (n < (1u << CLASS_MIN) || n > (1u << CLASS_MAX) || (n & (n - 1)))
		return -1;
	return __builtin_ctzl(n);
}

/* The class a block can serve: usable size 2^k up to 2^k + 63, or -1. */
static int
block_class(void *p)
{
	size_t usable = malloc_usable_size(p);
	int k;

	if (usable < (1u << CLASS_MIN))
		return -1;
	k = 63 - __builtin_clzl(usable);
	if (k > CLASS_MAX || usable - ((size_t)1 << k) >= 64)
		return -1;
	return k;
}

void *
evalloc_malloc(size_t n)
{
	int k = request_class(n);
	struct free_block *b;

	if (k >= 0 && (b = free_lists[k]) != NULL) {
		free_lists[k] = b->next;
		free_counts[k]--;
		return b;
	}
	return malloc(n);
}

void *
evalloc_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

void
evalloc_free(void *p)
{
	struct free_block *b = p;
	int k;

	if (p == NULL)
		return;
	k = block_class(p);
	if (k >= 0 &&
	    ((size_t)free_counts[k] + 1) << k <= CLASS_BUDGET) {
		b->next = free_lists[k];
		free_lists[k] = b;
		free_counts[k]++;
		return;
	}
	free(p);
}

/* Blocks held in the cache now (for tests). */
unsigned
evalloc_cached(void)
{
	unsigned n = 0;

	for (int k = CLASS_MIN; k <= CLASS_MAX; k++)
		n += free_counts[k];
	return n;
}

/* Give the cached blocks back to malloc. */
void
evalloc_fini(void)
{
	for (int k = CLASS_MIN; k <= CLASS_MAX; k++) {
		struct free_block *b;
		while ((b = free_lists[k]) != NULL) {
			free_lists[k] = b->next;
			free(b);
		}
		free_counts[k] = 0;
	}
}

/* Route libevent's allocations through the cache (not under sanitizers). */
void
evalloc_install(void)
{
#ifndef __SANITIZE_ADDRESS__
	event_set_mem_functions(evalloc_malloc, evalloc_realloc,
	    evalloc_free);
#endif
}
