/* pgweir: PostgreSQL's MD5 password scheme. */
#ifndef PGWEIR_PGMD5_H
#define PGWEIR_PGMD5_H

#include <stddef.h>
#include <stdint.h>

/* "md5" + 32 hex digits + NUL */
#define PGMD5_LEN 36

int pgmd5_hash(const char *password, const char *user, char out[PGMD5_LEN]);
int pgmd5_salted(const char *stored, const uint8_t salt[4],
    char out[PGMD5_LEN]);

#endif
