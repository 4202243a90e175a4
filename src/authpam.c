/* SPDX-License-Identifier: ISC */
/*
 * auth_type = pam: a client's cleartext password checked by Linux-PAM
 * (pam_authenticate, then pam_acct_mgmt), under the service name
 * "pgbouncer" as PgBouncer uses.  PAM modules block (a network directory,
 * a deliberate delay after a wrong password), so checks never run on the
 * event loop: worker threads take them in order from a queue and
 * hands each result back through a pipe that the loop watches, and the
 * callback runs on the loop.  Several threads share the queue, so one
 * slow check (a PAM module that waits after a wrong password) does not
 * hold up the logins behind it.  A check whose client left is cancelled: its
 * result is dropped.  PGWEIR_PAM_CONFDIR, when set, is the directory of
 * PAM service files instead of /etc/pam.d (for tests and containers).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pgweir/authpam.h"
#include "pgweir/log.h"

/* Checks that may run at once. */
#define AUTHPAM_THREADS 4

/* One check, owned by the queue it is on. */
struct authpam_req {
	struct authpam_req *next;
	char *user, *password;		/* owned; the password wiped */
	authpam_done_fn done;
	void *arg;			/* NULL once cancelled */
	bool ok;
	char why[128];
};

struct authpam {
	char *service;
	char *confdir;			/* NULL: /etc/pam.d */
	pthread_t threads[AUTHPAM_THREADS];
	int n_threads;			/* started */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct authpam_req *todo, *todo_tail;	/* for the worker */
	struct authpam_req *done;		/* for the loop */
	bool stop;
	int pipe[2];				/* worker -> loop */
	struct event *ev;
};

/* PAM's questions: the password for a hidden prompt, nothing else. */
static int
conv_cb(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	const char *password = arg;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(password);
			if (r[i].resp == NULL)
				goto fail;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++)
		free(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

/* Run one check (on the worker thread). */
static void
run_check(const struct authpam *pam, struct authpam_req *req)
{
	struct pam_conv conv = { conv_cb, req->password };
	pam_handle_t *h = NULL;
	int rc;

	rc = pam_start_confdir(pam->service, req->user, &conv, pam->confdir,
	    &h);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_SILENT);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT);
	req->ok = rc == PAM_SUCCESS;
	if (!req->ok)
		snprintf(req->why, sizeof(req->why), "%s", h ?
		    pam_strerror(h, rc) : "PAM could not start");
	if (h != NULL)
		pam_end(h, rc);
	OPENSSL_cleanse(req->password, strlen(req->password));
}

static void *
worker(void *arg)
{
	struct authpam *pam = arg;

	pthread_mutex_lock(&pam->lock);
	for (;;) {
		struct authpam_req *req;
		char byte = 1;

		while (pam->todo == NULL && !pam->stop)
			pthread_cond_wait(&pam->wake, &pam->lock);
		if (pam->stop)
			break;
		req = pam->todo;
		pam->todo = req->next;
		if (pam->todo == NULL)
			pam->todo_tail = NULL;
		pthread_mutex_unlock(&pam->lock);
		run_check(pam, req);
		pthread_mutex_lock(&pam->lock);
		req->next = pam->done;
		pam->done = req;
		/* a full pipe already wakes the loop: nothing lost */
		(void)write(pam->pipe[1], &byte, 1);
	}
	pthread_mutex_unlock(&pam->lock);
	return NULL;
}

static void
req_free(struct authpam_req *req)
{
	if (req->password) {
		OPENSSL_cleanse(req->password, strlen(req->password));
		free(req->password);
	}
	free(req->user);
	free(req);
}

/* Results, on the loop: hand each to its caller unless cancelled. */
static void
pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authpam *pam = arg;
	struct authpam_req *list, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&pam->lock);
	list = pam->done;
	pam->done = NULL;
	pthread_mutex_unlock(&pam->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		if (list->arg != NULL)
			list->done(list->arg, list->ok, list->why);
		req_free(list);
	}
}

/* Start the workers; NULL (logged) when it cannot. */
struct authpam *
authpam_new(struct event_base *base, const char *service)
{
	struct authpam *pam = calloc(1, sizeof(*pam));
	const char *confdir = getenv("PGWEIR_PAM_CONFDIR");

	if (pam == NULL || (pam->service = strdup(service)) == NULL ||
	    (confdir && (pam->confdir = strdup(confdir)) == NULL) ||
	    pipe2(pam->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("cannot set up PAM: %s", strerror(errno));
		if (pam) {
			free(pam->service);
			free(pam->confdir);
			free(pam);
		}
		return NULL;
	}
	pthread_mutex_init(&pam->lock, NULL);
	pthread_cond_init(&pam->wake, NULL);
	pam->ev = event_new(base, pam->pipe[0], EV_READ | EV_PERSIST, pipe_cb,
	    pam);
	if (pam->ev == NULL || event_add(pam->ev, NULL) < 0) {
		log_error("cannot watch the PAM threads");
		authpam_free(pam);
		return NULL;
	}
	while (pam->n_threads < AUTHPAM_THREADS &&
	    pthread_create(&pam->threads[pam->n_threads], NULL, worker,
	    pam) == 0)
		pam->n_threads++;
	if (pam->n_threads == 0) {
		log_error("cannot start a PAM thread");
		authpam_free(pam);
		return NULL;
	}
	return pam;
}

/* Stop the worker (after its current check) and free everything. */
void
authpam_free(struct authpam *pam)
{
	struct authpam_req *r, *next;

	if (pam == NULL)
		return;
	pthread_mutex_lock(&pam->lock);
	pam->stop = true;
	pthread_cond_broadcast(&pam->wake);
	pthread_mutex_unlock(&pam->lock);
	for (int i = 0; i < pam->n_threads; i++)
		pthread_join(pam->threads[i], NULL);
	for (r = pam->todo; r; r = next) {
		next = r->next;
		req_free(r);
	}
	for (r = pam->done; r; r = next) {
		next = r->next;
		req_free(r);
	}
	if (pam->ev)
		event_free(pam->ev);
	close(pam->pipe[0]);
	close(pam->pipe[1]);
	pthread_mutex_destroy(&pam->lock);
	pthread_cond_destroy(&pam->wake);
	free(pam->service);
	free(pam->confdir);
	free(pam);
}

/* Queue a check; done(arg, ...) runs on the loop.  NULL: out of memory. */
struct authpam_req *
authpam_check(struct authpam *pam, const char *user, const char *password,
    authpam_done_fn done, void *arg)
{
	struct authpam_req *req = calloc(1, sizeof(*req));

	if (req == NULL || (req->user = strdup(user)) == NULL ||
	    (req->password = strdup(password)) == NULL) {
		if (req)
			req_free(req);
		return NULL;
	}
	req->done = done;
	req->arg = arg;
	pthread_mutex_lock(&pam->lock);
	if (pam->todo_tail)
		pam->todo_tail->next = req;
	else
		pam->todo = req;
	pam->todo_tail = req;
	pthread_cond_signal(&pam->wake);
	pthread_mutex_unlock(&pam->lock);
	return req;
}

/*
 * Its caller is gone: the result is dropped when it comes.  Called on the
 * loop, where alone arg is read (pipe_cb): no lock is needed.
 */
void
authpam_cancel(struct authpam_req *req)
{
	req->arg = NULL;
}
