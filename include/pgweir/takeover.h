/* pgweir: online restart (-R): one process hands its work to the next. */
#ifndef PGWEIR_TAKEOVER_H
#define PGWEIR_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>

struct pgweir;
struct client;

/* The new process. */
int takeover_connect(struct pgweir *pw);

/* The running process, asked by the new one on its console. */
int takeover_serve(struct client *console, char *err, size_t errlen);
void takeover_tick(struct pgweir *pw);
bool takeover_is_channel(const struct client *client);
void takeover_channel_closed(struct pgweir *pw);
void takeover_free(struct pgweir *pw);

#endif
