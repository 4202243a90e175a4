/* SPDX-License-Identifier: ISC */
/*
 * Password checks that block (Linux-PAM, LDAP) run off the event loop:
 * worker threads take them in order from a queue, each result comes back
 * through a pipe that the loop watches, and the caller's callback runs on
 * the loop.  Several threads share the queue, so one slow check (a PAM
 * module that waits after a wrong password, an LDAP server that does not
 * answer) does not hold up the logins behind it.  A check whose client
 * left is cancelled: its result is dropped.  The threads start with the
 * first check.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pgweir/authwork.h"
#include "pgweir/log.h"

/* Checks that may run at once. */
#define AUTHWORK_THREADS 4

/* One check, owned by the queue it is on. */
struct authwork_req {
	struct authwork_req *next;
	authwork_fn fn;			/* runs on a worker */
	void *job;			/* its input; job_free frees it */
	void (*job_free)(void *job);
	authwork_done_fn done;		/* runs on the loop */
	void *arg;			/* NULL once cancelled */
	bool ok;
	char why[128];
};

struct authwork {
	pthread_t threads[AUTHWORK_THREADS];
	int n_threads;			/* started */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct authwork_req *todo, *todo_tail;	/* for the worker */
	struct authwork_req *done;		/* for the loop */
	bool stop;
	int pipe[2];				/* worker -> loop */
	struct event *ev;
};

static void *
worker(void *arg)
{
	struct authwork *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct authwork_req *req;
		char byte = 1;

		while (w->todo == NULL && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stop)
			break;
		req = w->todo;
		w->todo = req->next;
		if (w->todo == NULL)
			w->todo_tail = NULL;
		pthread_mutex_unlock(&w->lock);
		req->ok = req->fn(req->job, req->why, sizeof(req->why));
		pthread_mutex_lock(&w->lock);
		req->next = w->done;
		w->done = req;
		/* a full pipe already wakes the loop: nothing lost */
		(void)write(w->pipe[1], &byte, 1);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void
req_free(struct authwork_req *req)
{
	req->job_free(req->job);
	free(req);
}

/* Results, on the loop: hand each to its caller unless cancelled. */
static void
pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct authwork *w = arg;
	struct authwork_req *list, *next;
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		if (list->arg != NULL)
			list->done(list->arg, list->ok, list->why);
		req_free(list);
	}
}

/* Start the workers; NULL (logged) when it cannot. */
struct authwork *
authwork_new(struct event_base *base)
{
	struct authwork *w = calloc(1, sizeof(*w));

	if (w == NULL || pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("cannot set up password checks: %s",
		    strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->ev = event_new(base, w->pipe[0], EV_READ | EV_PERSIST, pipe_cb,
	    w);
	if (w->ev == NULL || event_add(w->ev, NULL) < 0) {
		log_error("cannot watch the password check threads");
		authwork_free(w);
		return NULL;
	}
	while (w->n_threads < AUTHWORK_THREADS &&
	    pthread_create(&w->threads[w->n_threads], NULL, worker,
	    w) == 0)
		w->n_threads++;
	if (w->n_threads == 0) {
		log_error("cannot start a password check thread");
		authwork_free(w);
		return NULL;
	}
	return w;
}

/* Stop the worker (after its current check) and free everything. */
void
authwork_free(struct authwork *w)
{
	struct authwork_req *r, *next;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	for (r = w->todo; r; r = next) {
		next = r->next;
		req_free(r);
	}
	for (r = w->done; r; r = next) {
		next = r->next;
		req_free(r);
	}
	if (w->ev)
		event_free(w->ev);
	close(w->pipe[0]);
	close(w->pipe[1]);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

/*
 * Queue a check: fn(job) on a worker, then done(arg, ...) on the loop;
 * job_free(job) afterwards in any case.  NULL: out of memory (job freed).
 */
struct authwork_req *
authwork_submit(struct authwork *w, authwork_fn fn, void *job,
    void (*job_free)(void *job), authwork_done_fn done, void *arg)
{
	struct authwork_req *req = calloc(1, sizeof(*req));

	if (req == NULL) {
		job_free(job);
		return NULL;
	}
	req->fn = fn;
	req->job = job;
	req->job_free = job_free;
	req->done = done;
	req->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->todo_tail)
		w->todo_tail->next = req;
	else
		w->todo = req;
	w->todo_tail = req;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return req;
}

/*
 * Its caller is gone: the result is dropped when it comes.  Called on the
 * loop, where alone arg is read (pipe_cb): no lock is needed.
 */
void
authwork_cancel(struct authwork_req *req)
{
	req->arg = NULL;
}

/* A check's input; options (NULL for none) is copied with its length. */
void *
authjob_new(const char *user, const char *password, const char *options,
    size_t options_len)
{
	struct authjob *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->user = strdup(user)) == NULL ||
	    (j->password = strdup(password)) == NULL ||
	    (options != NULL && (j->options = malloc(options_len)) == NULL)) {
		authjob_free(j);
		return NULL;
	}
	if (options != NULL)
		memcpy(j->options, options, options_len);
	j->options_len = options_len;
	return j;
}

void
authjob_free(void *job)
{
	struct authjob *j = job;

	if (j == NULL)
		return;
	if (j->password != NULL) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->user);
	free(j->options);
	free(j);
}
