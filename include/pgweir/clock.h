/* pgweir: the wall clock of the loop, and the monotonic clock. */
#ifndef PGWEIR_CLOCK_H
#define PGWEIR_CLOCK_H

#include <stdint.h>

struct pgweir;

int64_t pgweir_now_usec(struct pgweir *pw);
int64_t pgweir_mono_usec(void);

#endif
