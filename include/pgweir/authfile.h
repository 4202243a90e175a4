/* pgweir: the auth_file of user names and secrets. */
#ifndef PGWEIR_AUTHFILE_H
#define PGWEIR_AUTHFILE_H

#include <stddef.h>

/* One "user" "secret" line. */
struct authfile_entry {
	char *name;		/* owned */
	char *secret;	/* plaintext, md5..., or SCRAM-SHA-256$...; owned */
	size_t order;		/* position in the file: the last line wins */
};

/* The parsed file, sorted by name for binary search. */
struct authfile {
	struct authfile_entry *entries;
	size_t n;
	size_t n_scram;		/* entries whose secret is a SCRAM verifier */
};

struct authfile *authfile_load(const char *path, char *err, size_t errlen);
struct authfile *authfile_parse(const char *text, const char *name,
    char *err, size_t errlen);
const struct authfile_entry *authfile_find(const struct authfile *af,
    const char *user);
void authfile_free(struct authfile *af);

#endif
