/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the chain cache behind libevent's allocations: blocks of
 * the sizes evbuffer chains come in are reused, other sizes are not, the
 * cache stays within its byte budget, and realloc works on any block.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/evalloc.h"

static int
reset(void **state)
{
	(void)state;
	evalloc_fini();
	return 0;
}

/* A freed chain-sized block comes back for the next request of its size. */
static void
test_chain_blocks_reused(void **state)
{
	void *a, *b, *c;

	(void)state;
	a = evalloc_malloc(65536);
	assert_non_null(a);
	memset(a, 1, 65536);
	evalloc_free(a);
	assert_int_equal(evalloc_cached(), 1);
	b = evalloc_malloc(65536);
	assert_ptr_equal(a, b);
	assert_int_equal(evalloc_cached(), 0);
	/* another class does not take it */
	evalloc_free(b);
	c = evalloc_malloc(4096);
	assert_ptr_not_equal(c, b);
	assert_int_equal(evalloc_cached(), 1);
	evalloc_free(c);
	assert_int_equal(evalloc_cached(), 2);
}

/* Sizes that are not chain sizes go straight back to malloc. */
static void
test_other_sizes_not_cached(void **state)
{
	size_t sizes[] = { 16, 100, 1000, 1500, 3000, 200000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *p = evalloc_malloc(sizes[i]);
		assert_non_null(p);
		evalloc_free(p);
	}
	assert_int_equal(evalloc_cached(), 0);
	evalloc_free(NULL);
}

/* The cache holds at most its budget; the rest is freed. */
static void
test_budget(void **state)
{
	enum { N = 100 };
	void *blocks[N];

	(void)state;
	for (int i = 0; i < N; i++)
		blocks[i] = evalloc_malloc(65536);
	for (int i = 0; i < N; i++)
		evalloc_free(blocks[i]);
	/* 2 MiB over 7 classes: 4 blocks of 64 KiB */
	assert_true(evalloc_cached() >= 1);
	assert_true((size_t)evalloc_cached() * 65536 <= 2u * 1024 * 1024 / 7);
}

/* realloc keeps the contents of a block that came from the cache. */
static void
test_realloc_keeps_contents(void **state)
{
	char *p, *q;

	(void)state;
	p = evalloc_malloc(1024);
	evalloc_free(p);
	p = evalloc_malloc(1024);
	memset(p, 'x', 1024);
	q = evalloc_realloc(p, 8192);
	assert_non_null(q);
	for (int i = 0; i < 1024; i++)
		assert_int_equal(q[i], 'x');
	evalloc_free(q);
	assert_int_equal(evalloc_cached(), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_chain_blocks_reused, reset),
		cmocka_unit_test_setup(test_other_sizes_not_cached, reset),
		cmocka_unit_test_setup(test_budget, reset),
		cmocka_unit_test_setup(test_realloc_keeps_contents, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	evalloc_fini();
	return rc;
}
