/* pgweir: reading the files the config names, bounded and checked. */
#ifndef PGWEIR_FILE_H
#define PGWEIR_FILE_H

#include <stddef.h>

/* Largest file pgweir reads, by kind (docs/config.md, docs/auth.md). */
#define FILE_CONF_MAX	(16 * 1024 * 1024)	/* ini, %include, TLS */
#define FILE_AUTH_MAX	(64 * 1024 * 1024)	/* auth_file */

char *file_read(const char *path, size_t max, size_t *lenp, char *err,
    size_t errlen);
int file_check(const char *path, size_t max, char *err, size_t errlen);

#endif
