/* SPDX-License-Identifier: ISC */
/* pgweir: password checks that block (PAM, LDAP), run off the event loop. */
#ifndef PGWEIR_AUTHWORK_H
#define PGWEIR_AUTHWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>

struct authwork;
struct authwork_req;

/* Runs on a worker thread: true when the password is right. */
typedef bool (*authwork_fn)(void *job, char *why, size_t whylen);
/* Runs on the event loop when a check ends. */
typedef void (*authwork_done_fn)(void *arg, bool ok, const char *why);

struct authwork *authwork_new(struct event_base *base);
void authwork_free(struct authwork *w);
struct authwork_req *authwork_submit(struct authwork *w, authwork_fn fn,
    void *job, void (*job_free)(void *job), authwork_done_fn done,
    void *arg);
void authwork_cancel(struct authwork_req *req);

/* A check's input: who, the password, and the method's options. */
struct authjob {
	char *user;
	char *password;			/* wiped when freed */
	char *options;			/* LDAP: the hba rule's; or NULL */
	size_t options_len;
};
void *authjob_new(const char *user, const char *password,
    const char *options, size_t options_len);
void authjob_free(void *job);

/* The checks (authpam.c, authldap.c), run on a worker. */
bool authpam_run(void *job, char *why, size_t whylen);
bool authldap_run(void *job, char *why, size_t whylen);

#endif
