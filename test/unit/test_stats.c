/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the latency histograms: bucket edges, and percentiles
 * within the documented bound (3.2 %) of the exact ones on many shapes of
 * data.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pgweir/stats.h"

/* Every value falls in the bucket whose edges surround it. */
static void
test_bucket_edges(void **state)
{
	(void)state;
	for (uint64_t v = 0; v < 300000; v += (v < 1000 ? 1 : 97)) {
		int b = hist_bucket(v);
		assert_true(hist_bucket_low(b) <= v);
		assert_true(v < hist_bucket_high(b));
	}
	for (int b = 1; b < HIST_BUCKETS; b++)
		assert_int_equal(hist_bucket_low(b), hist_bucket_high(b - 1));
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The exact nearest-rank quantile of a sorted array. */
static uint64_t
exact(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);

	if ((double)rank < q * (double)n)
		rank++;
	return v[(rank ? rank : 1) - 1];
}

/* Percentiles are within 1/32 of the exact ones, whatever the shape. */
static void
test_quantile_error_bound(void **state)
{
	static uint64_t v[20000];
	const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };

	(void)state;
	srand(42);
	for (int shape = 0; shape < 4; shape++) {
		struct histogram *h = calloc(1, sizeof(*h));
		size_t n = sizeof(v) / sizeof(v[0]);
		for (size_t i = 0; i < n; i++) {
			uint64_t r = (uint64_t)rand();
			switch (shape) {
			case 0: v[i] = r % 100000; break;	/* uniform */
			case 1: v[i] = 1 + r % 20; break;	/* tiny */
			case 2: v[i] = (uint64_t)1 << (r % 30); break;
			default: v[i] = 500 + (r % 7) * 1000000; break;
			}
			hist_add(h, v[i]);
		}
		qsort(v, n, sizeof(v[0]), cmp_u64);
		assert_int_equal(h->count, n);
		assert_int_equal(h->max, v[n - 1]);
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			uint64_t want = exact(v, n, qs[k]);
			uint64_t got = hist_quantile(h, qs[k]);
			double err = (double)(got > want ? got - want :
			    want - got);
			if (err > (double)want / 32.0 + 0.5)
				fail_msg("shape %d q %.3f: %llu vs %llu", shape,
				    qs[k], (unsigned long long)got,
				    (unsigned long long)want);
		}
		free(h);
	}
}

/* Period bookkeeping: the last period's deltas and histograms. */
static void
test_period_end(void **state)
{
	struct pool_stats *s = calloc(1, sizeof(*s));

	(void)state;
	s->total.xact_count = 10;
	stats_record(s, LAT_XACT, 100);
	stats_period_end(s);
	assert_int_equal(s->last.xact_count, 10);
	assert_int_equal(s->period[LAT_XACT].count, 1);
	assert_int_equal(s->now[LAT_XACT].count, 0);
	s->total.xact_count = 15;
	stats_period_end(s);
	assert_int_equal(s->last.xact_count, 5);
	assert_int_equal(s->period[LAT_XACT].count, 0);
	assert_int_equal(s->all[LAT_XACT].count, 1);
	assert_int_equal(hist_count_below(&s->all[LAT_XACT], 128), 1);
	assert_int_equal(hist_count_below(&s->all[LAT_XACT], 64), 0);
	free(s);
}

/*
 * The expected wait of a new request: the requests ahead and itself, over
 * the servers, at the average transaction time of the last period (or
 * since start before one ends).
 */
static void
test_expected_wait(void **state)
{
	struct pool_stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	/* nothing known yet: no estimate, nothing refused */
	assert_int_equal(stats_expected_wait(&s, 10, 1), 0);
	s.total.xact_count = 10;
	s.total.xact_time = 10 * 400000;	/* 0.4 s each */
	assert_int_equal(stats_expected_wait(&s, 0, 1), 400000);
	assert_int_equal(stats_expected_wait(&s, 2, 1), 1200000);
	assert_int_equal(stats_expected_wait(&s, 3, 2), 800000);
	/* the last period, once there is one, says more than the total */
	s.last.xact_count = 4;
	s.last.xact_time = 4 * 100000;
	assert_int_equal(stats_expected_wait(&s, 1, 1), 200000);
	/* no server to wait for: no estimate */
	assert_int_equal(stats_expected_wait(&s, 1, 0), 0);
}

/*
 * Merged histograms (what several processes' statistics will be summed
 * with): counts, sums and buckets add up, the maximum is the larger, and
 * a quantile of the merge is that of all the values together.
 */
static void
test_merge(void **state)
{
	struct histogram a, b, all;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&all, 0, sizeof(all));
	for (uint64_t v = 1; v <= 1000; v++) {
		hist_add(v % 3 ? &a : &b, v * 37);
		hist_add(&all, v * 37);
	}
	hist_add(&b, 5000000);
	hist_add(&all, 5000000);
	hist_merge(&a, &b);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.sum, all.sum);
	assert_int_equal(a.max, 5000000);
	assert_memory_equal(a.buckets, all.buckets, sizeof(a.buckets));
	assert_int_equal(hist_quantile(&a, 0.5), hist_quantile(&all, 0.5));
	assert_int_equal(hist_quantile(&a, 0.99), hist_quantile(&all, 0.99));
	/* merging an empty one changes nothing */
	memset(&b, 0, sizeof(b));
	hist_merge(&a, &b);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.max, 5000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_quantile_error_bound),
		cmocka_unit_test(test_period_end),
		cmocka_unit_test(test_expected_wait),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
