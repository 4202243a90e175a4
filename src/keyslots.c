/* SPDX-License-Identifier: ISC */
/*
 * The cancel-key slot table: a client's "process id" in BackendKeyData is
 * its slot number, so a CancelRequest finds its client with one index
 * instead of a search, and a number is reused only once its client has
 * gone.  Pure bookkeeping (the keys themselves, and comparing them, are
 * client.c's); test/unit/test_keyslots.c checks it.
 */
#include "config.h"

#include <stdlib.h>

#include "pgweir/keyslots.h"

/* Double the table (or make its first 1,024 slots), all free. */
static int
slots_grow(struct slot_table *t)
{
	uint32_t n = t->n ? t->n * 2 : 1024;
	void **o = realloc(t->owner, n * sizeof(*o));
	uint32_t *f;

	if (o == NULL)
		return -1;
	t->owner = o;
	f = realloc(t->free, n * sizeof(*f));
	if (f == NULL)
		return -1;
	t->free = f;
	/* slot 0 is never given; the lowest numbers are taken first */
	for (uint32_t i = n - 1; i >= t->n && i > 0; i--)
		t->free[t->n_free++] = i;
	for (uint32_t i = t->n; i < n; i++)
		o[i] = NULL;
	t->n = n;
	return 0;
}

/* A free slot for owner, or 0 when out of memory. */
uint32_t
slots_take(struct slot_table *t, void *owner)
{
	uint32_t slot;

	if (t->n_free == 0 && slots_grow(t) < 0)
		return 0;
	slot = t->free[--t->n_free];
	t->owner[slot] = owner;
	return slot;
}

/* Give a slot back (0: none was taken). */
void
slots_put(struct slot_table *t, uint32_t slot)
{
	if (slot == 0 || slot >= t->n || t->owner[slot] == NULL)
		return;
	t->owner[slot] = NULL;
	t->free[t->n_free++] = slot;
}

/*
 * Hold slots 1 to below-1 back for owners that bring their number (the
 * clients an online restart hands over keep their cancel keys), until
 * they claim them or slots_end_hold().  Only while none of them is taken.
 */
int
slots_hold_below(struct slot_table *t, uint32_t below)
{
	uint32_t n = 0;

	while (t->n < below)
		if (slots_grow(t) < 0)
			return -1;
	free(t->held);
	t->held = calloc(below ? below : 1, 1);
	if (t->held == NULL)
		return -1;
	t->n_held = below;
	for (uint32_t i = 0; i < t->n_free; i++) {
		uint32_t slot = t->free[i];
		if (slot < below)
			t->held[slot] = 1;
		else
			t->free[n++] = slot;
	}
	t->n_free = n;
	return 0;
}

/* Whether a slot is held back for a claim. */
bool
slots_is_held(const struct slot_table *t, uint32_t slot)
{
	return slot > 0 && slot < t->n_held && t->held[slot];
}

/* An owner takes the held slot it brings; false if it is not held. */
bool
slots_claim(struct slot_table *t, uint32_t slot, void *owner)
{
	if (!slots_is_held(t, slot))
		return false;
	t->held[slot] = 0;
	t->owner[slot] = owner;
	return true;
}

/* The hold is over: the slots nobody claimed are free again. */
void
slots_end_hold(struct slot_table *t)
{
	for (uint32_t i = 0; i < t->n_held; i++)
		if (t->held[i])
			t->free[t->n_free++] = i;
	free(t->held);
	t->held = NULL;
	t->n_held = 0;
}

/* One more than the highest slot in use (1 when none is). */
uint32_t
slots_in_use_below(const struct slot_table *t)
{
	uint32_t top = 0;

	for (uint32_t i = 1; i < t->n; i++)
		if (t->owner[i] != NULL)
			top = i;
	return top + 1;
}

/* Every slot free again, the lowest first (no owner may be left). */
void
slots_reset(struct slot_table *t)
{
	t->n_free = 0;
	for (uint32_t i = t->n; i-- > 1;) {
		t->owner[i] = NULL;
		t->free[t->n_free++] = i;
	}
	free(t->held);
	t->held = NULL;
	t->n_held = 0;
}

/* Free the table's memory. */
void
slots_free(struct slot_table *t)
{
	free(t->owner);
	free(t->free);
	free(t->held);
	*t = (struct slot_table){ 0 };
}
