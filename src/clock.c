/* SPDX-License-Identifier: ISC */
/*
 * Time: the loop's cached wall clock (timestamps people read) and the
 * monotonic clock (deadlines and durations).  Base layer: every module
 * may ask, none of it calls anything of pgweir.
 */
#include "config.h"

#include <event2/event.h>
#include <sys/time.h>
#include <time.h>

#include "pgweir/clock.h"
#include "pgweir/pgweir.h"

/* Wall-clock time of this loop iteration, in microseconds. */
int64_t
pgweir_now_usec(struct pgweir *pw)
{
	struct timeval tv;

	event_base_gettimeofday_cached(pw->base, &tv);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Monotonic time in microseconds, for deadlines and durations. */
int64_t
pgweir_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
