/* pgweir: counters, averages and latency histograms. */
#ifndef PGWEIR_STATS_H
#define PGWEIR_STATS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A log-linear histogram of microsecond durations: values below 16 have a
 * bucket each; above, each power of two is split into 16 equal buckets.
 * A quantile is reported as its bucket's midpoint, so it is within 1/32
 * (3.125 %) of the true value (exact below 16 us).  Fixed size: adding a
 * value allocates nothing.
 */
#define HIST_SUB_BITS 4
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_EXP 40			/* up to 2^40 us, about 12 days */
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)

struct histogram {
	uint64_t count;
	uint64_t sum;			/* microseconds */
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

/* What SHOW STATS counts, per pool. */
struct stats_counters {
	uint64_t server_assignment_count;
	uint64_t xact_count;
	uint64_t query_count;
	uint64_t bytes_received;	/* from clients */
	uint64_t bytes_sent;		/* to clients */
	uint64_t xact_time;		/* microseconds */
	uint64_t query_time;
	uint64_t wait_time;
	uint64_t client_parse_count;
	uint64_t server_parse_count;
	uint64_t bind_count;
	uint64_t client_login_count;
};

enum stats_latency {
	LAT_WAIT,
	LAT_QUERY,
	LAT_XACT,
	LAT_KINDS,
};

/* A pool's statistics; allocated on the pool's first use. */
struct pool_stats {
	struct stats_counters total;	/* since start */
	struct stats_counters snapshot;	/* total at the last period end */
	struct stats_counters last;	/* what the last period added */
	struct histogram now[LAT_KINDS];	/* this period so far */
	struct histogram period[LAT_KINDS];	/* the last whole period */
	struct histogram all[LAT_KINDS];	/* since start */
};

void hist_add(struct histogram *h, uint64_t usec);
uint64_t hist_quantile(const struct histogram *h, double q);
void hist_merge(struct histogram *dst, const struct histogram *src);
int hist_bucket(uint64_t usec);
uint64_t hist_bucket_low(int bucket);
uint64_t hist_bucket_high(int bucket);
uint64_t hist_count_below(const struct histogram *h, uint64_t usec);

void stats_record(struct pool_stats *s, enum stats_latency kind,
    uint64_t usec);
void stats_period_end(struct pool_stats *s);
uint64_t stats_expected_wait(const struct pool_stats *s, int ahead,
    int servers);
void stats_add(struct stats_counters *dst, const struct stats_counters *src);

#endif
