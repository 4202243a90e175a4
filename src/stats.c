/* SPDX-License-Identifier: ISC */
/*
 * Counters and latency histograms.
 *
 * Counting is on the hot path, so it is plain additions on fixed-size
 * structs: no allocation, no locks, no clock reads here (callers pass the
 * durations they already measured).  Each pool keeps totals since start,
 * the deltas of the last stats_period (for the averages of SHOW STATS),
 * and three histograms per latency kind: this period so far, the last
 * whole period, and since start.  main.c ends a period every stats_period.
 */
#include "config.h"

#include <string.h>

#include "pgweir/stats.h"

/* The bucket of a duration. */
int
hist_bucket(uint64_t usec)
{
	int e;

	if (usec < HIST_SUB)
		return (int)usec;
	e = 63 - __builtin_clzll(usec);		/* floor(log2(usec)) >= 4 */
	if (e >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
	    (int)((usec >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The smallest duration that falls in a bucket. */
uint64_t
hist_bucket_low(int bucket)
{
	int e, sub;

	if (bucket < HIST_SUB)
		return (uint64_t)bucket;
	e = (bucket - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	sub = (bucket - HIST_SUB) % HIST_SUB;
	return ((uint64_t)HIST_SUB + (uint64_t)sub) << (e - HIST_SUB_BITS);
}

/* One past the largest duration that falls in a bucket. */
uint64_t
hist_bucket_high(int bucket)
{
	return bucket + 1 < HIST_BUCKETS ? hist_bucket_low(bucket + 1) :
	    UINT64_MAX;
}

/* Count one duration. */
void
hist_add(struct histogram *h, uint64_t usec)
{
	h->buckets[hist_bucket(usec)]++;
	h->count++;
	h->sum += usec;
	if (usec > h->max)
		h->max = usec;
}

/*
 * The q-quantile (0 < q <= 1): the midpoint of the bucket holding the
 * ceil(q * count)-th smallest value (exact for buckets of width one), and
 * never more than the largest value seen.
 */
uint64_t
hist_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (int b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t lo = hist_bucket_low(b);
			uint64_t hi = hist_bucket_high(b);
			uint64_t mid = hi - lo <= 1 ? lo : lo + (hi - lo) / 2;
			return mid > h->max ? h->max : mid;
		}
	}
	return h->max;
}

/* How many values were below a duration (exact at bucket edges). */
uint64_t
hist_count_below(const struct histogram *h, uint64_t usec)
{
	uint64_t n = 0;

	for (int b = 0; b < HIST_BUCKETS && hist_bucket_high(b) <= usec; b++)
		n += h->buckets[b];
	return n;
}

/* Add one histogram into another. */
void
hist_merge(struct histogram *dst, const struct histogram *src)
{
	for (int b = 0; b < HIST_BUCKETS; b++)
		dst->buckets[b] += src->buckets[b];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* Empty a histogram. */
static void
hist_reset(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
}

/* Count one latency of a pool, in this period and since start. */
void
stats_record(struct pool_stats *s, enum stats_latency kind, uint64_t usec)
{
	hist_add(&s->now[kind], usec);
	hist_add(&s->all[kind], usec);
}

/* Add counters. */
void
stats_add(struct stats_counters *dst, const struct stats_counters *src)
{
	const uint64_t *a = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;

	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] += a[i];
}

/* A period ended: keep its deltas and histograms, start the next. */
void
stats_period_end(struct pool_stats *s)
{
	const uint64_t *t = (const uint64_t *)&s->total;
	const uint64_t *p = (const uint64_t *)&s->snapshot;
	uint64_t *l = (uint64_t *)&s->last;

	for (size_t i = 0; i < sizeof(s->total) / sizeof(uint64_t); i++)
		l[i] = t[i] - p[i];
	s->snapshot = s->total;
	for (int k = 0; k < LAT_KINDS; k++) {
		s->period[k] = s->now[k];
		hist_reset(&s->now[k]);
	}
}

/*
 * How long a new request would wait for a server, in microseconds: the
 * `ahead` requests before it and itself, served by `servers` connections
 * that each take the pool's average transaction time (of the last whole
 * period, or since start before the first one ends).  0 when nothing is
 * known yet.
 */
uint64_t
stats_expected_wait(const struct pool_stats *s, int ahead, int servers)
{
	const struct stats_counters *c = s->last.xact_count > 0 ? &s->last :
	    &s->total;

	if (c->xact_count == 0 || servers <= 0 || ahead < 0)
		return 0;
	return c->xact_time / c->xact_count * (uint64_t)(ahead + 1) /
	    (uint64_t)servers;
}
