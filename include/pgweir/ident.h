/* SPDX-License-Identifier: ISC */
/* pgweir: the auth_ident_file, user name maps for peer and cert rules. */
#ifndef PGWEIR_IDENT_H
#define PGWEIR_IDENT_H

#include <stdbool.h>
#include <stddef.h>

struct ident_map;

struct ident_map *ident_parse(const char *text, const char *name, char *err,
    size_t errlen);
struct ident_map *ident_load(const char *path, char *err, size_t errlen);
void ident_free(struct ident_map *map);
bool ident_allows(const struct ident_map *map, const char *mapname,
    const char *system_user, const char *user);

#endif
