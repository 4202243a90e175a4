/* pgweir: libevent's memory functions, with a cache of buffer chains. */
#ifndef PGWEIR_EVALLOC_H
#define PGWEIR_EVALLOC_H

#include <stddef.h>

void evalloc_install(void);
void evalloc_fini(void);
void *evalloc_malloc(size_t n);
void *evalloc_realloc(void *p, size_t n);
void evalloc_free(void *p);
unsigned evalloc_cached(void);

#endif
