/* pgweir: the systemd notify protocol, spoken without libsystemd. */
#ifndef PGWEIR_SDNOTIFY_H
#define PGWEIR_SDNOTIFY_H

int sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int sdnotify_listen_fds(void);

#endif
