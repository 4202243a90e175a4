/* pgweir: the cancel-key slot table (a client's pid is its slot number). */
#ifndef PGWEIR_KEYSLOTS_H
#define PGWEIR_KEYSLOTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Slot numbers from 1 up, each owned by one connection or free; slot 0 is
 * never given (pid 0 would read as "none").  Slots may be held back for
 * owners that bring their own number (an online restart's clients keep
 * their cancel keys) until those claim them or the hold ends.
 */
struct slot_table {
	void **owner;		/* slot -> owner, NULL when free */
	uint32_t n;		/* slots that exist */
	uint32_t *free;		/* stack of free slot numbers */
	uint32_t n_free;
	uint8_t *held;		/* 1: held back for a claim */
	uint32_t n_held;	/* size of held: every slot below it */
};

uint32_t slots_take(struct slot_table *t, void *owner);
void slots_put(struct slot_table *t, uint32_t slot);
int slots_hold_below(struct slot_table *t, uint32_t below);
bool slots_claim(struct slot_table *t, uint32_t slot, void *owner);
bool slots_is_held(const struct slot_table *t, uint32_t slot);
void slots_end_hold(struct slot_table *t);
uint32_t slots_in_use_below(const struct slot_table *t);
void slots_reset(struct slot_table *t);
void slots_free(struct slot_table *t);

/* The owner of a slot, or NULL. */
static inline void *
slots_owner(const struct slot_table *t, uint32_t slot)
{
	return slot > 0 && slot < t->n ? t->owner[slot] : NULL;
}

#endif
