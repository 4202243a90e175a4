/* pgweir: tracked session parameters, interned per distinct set of values. */
#ifndef PGWEIR_VARCACHE_H
#define PGWEIR_VARCACHE_H

#include <stdbool.h>
#include <stdint.h>

struct evbuffer;

#define VAR_MAX 32
#define VAR_BUCKETS 256

/*
 * A set of parameter values, interned: two connections whose tracked
 * parameters are equal point to the same varset, so "does this server need
 * a SET before this client uses it" is one pointer comparison.
 */
struct varset {
	uint32_t refcount;
	uint32_t hash;
	struct varset *next;		/* hash chain */
	const char *vals[VAR_MAX];	/* NULL: not known / not set */
	char data[];			/* the strings vals point to */
};

/* The tracked parameter names (index = position in a varset). */
struct var_registry {
	char *names[VAR_MAX];		/* spelling as the server reports it */
	int n;
	struct varset *buckets[VAR_BUCKETS];
	struct varset *empty;		/* the set with nothing known */
};

int varcache_init(struct var_registry *reg, const char *track_extra);
void varcache_fini(struct var_registry *reg);
int var_find(const struct var_registry *reg, const char *name);
int var_register(struct var_registry *reg, const char *name);

struct varset *varset_ref(struct varset *vs);
void varset_release(struct var_registry *reg, struct varset *vs);
struct varset *varset_with(struct var_registry *reg, struct varset *base,
    int idx, const char *value);
int varset_pack(const struct var_registry *reg, const struct varset *vs,
    struct evbuffer *out);
struct varset *varset_unpack(struct var_registry *reg, const char *p,
    size_t len);
struct varset *varset_merge(struct var_registry *reg, struct varset *want,
    struct varset *have);
int varset_build_sync_query(const struct var_registry *reg,
    const struct varset *want, const struct varset *have,
    struct evbuffer *sql);
void varset_describe_diff(const struct var_registry *reg,
    const struct varset *want, const struct varset *have, char *buf,
    size_t len);
int varset_build_restore_query(const struct var_registry *reg,
    const struct varset *want, const struct varset *have,
    struct evbuffer *sql);

#endif
