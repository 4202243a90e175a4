/* SPDX-License-Identifier: ISC */
/* pgweir: auth_type = pam, Linux-PAM off the event loop. */
#ifndef PGWEIR_AUTHPAM_H
#define PGWEIR_AUTHPAM_H

#include <stdbool.h>
#include <event2/event.h>

struct authpam;
struct authpam_req;

/* Called on the event loop when a check ends (ok: PAM said yes). */
typedef void (*authpam_done_fn)(void *arg, bool ok, const char *why);

struct authpam *authpam_new(struct event_base *base, const char *service);
void authpam_free(struct authpam *pam);
struct authpam_req *authpam_check(struct authpam *pam, const char *user,
    const char *password, authpam_done_fn done, void *arg);
void authpam_cancel(struct authpam_req *req);

#endif
