/* pgweir: the admin console's result sets (SHOW ...). */
#ifndef PGWEIR_ADMINSHOW_H
#define PGWEIR_ADMINSHOW_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct pgweir;

/* A result column: name and type letter (s text, i int4, q int8, N
 * numeric, T timestamp shown as text, b bytea), as PgBouncer declares. */
struct admin_column {
	const char *name;
	char type;
};

/* Where a result goes, and which parts of it. */
struct admin_out {
	struct evbuffer *out;
	bool rowdesc;		/* RowDescription (simple protocol) */
	bool rows;		/* DataRows and CommandComplete */
};

int admin_show(struct pgweir *pw, const char *what, struct admin_out *o);
void admin_write_columns(struct evbuffer *out,
    const struct admin_column *cols, int ncols);

#endif
