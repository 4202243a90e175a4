/* pgweir: listening sockets. */
#ifndef PGWEIR_LISTENER_H
#define PGWEIR_LISTENER_H

#include <stdbool.h>

struct pgweir;

int listener_open_all(struct pgweir *pw);
int listener_adopt(struct pgweir *pw, int fd, const char *path);
int listener_each(struct pgweir *pw, int (*fn)(void *arg, int fd,
    const char *path), void *arg);
void listener_close_all(struct pgweir *pw);
void listener_close_handed_over(struct pgweir *pw);
void listener_close_tcp(struct pgweir *pw);
void listener_pause_all(struct pgweir *pw, bool paused);
void listener_retune(struct pgweir *pw);
bool listener_accepting(const struct pgweir *pw);

#endif
