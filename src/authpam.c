/* SPDX-License-Identifier: ISC */
/*
 * auth_type = pam: a client's cleartext password checked by Linux-PAM
 * (pam_authenticate, then pam_acct_mgmt) under the service name
 * "pgbouncer", as PgBouncer uses.  Runs on a worker of authwork.c, never
 * on the event loop.  PGWEIR_PAM_CONFDIR, when set, is the directory of
 * PAM service files instead of /etc/pam.d (for tests and containers).
 */
#include "config.h"

#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/authwork.h"

/* PAM's questions: the password for a prompt, nothing else. */
static int
conv_cb(int n, const struct pam_message **msg, struct pam_response **resp,
    void *arg)
{
	const char *password = arg;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF &&
		    msg[i]->msg_style != PAM_PROMPT_ECHO_ON)
			continue;
		r[i].resp = strdup(password);
		if (r[i].resp == NULL) {
			for (int k = 0; k < i; k++)
				free(r[k].resp);
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* One check, on a worker thread. */
bool
authpam_run(void *job, char *why, size_t whylen)
{
	struct authjob *j = job;
	struct pam_conv conv = { conv_cb, j->password };
	pam_handle_t *h = NULL;
	int rc;

	rc = pam_start_confdir("pgbouncer", j->user, &conv,
	    getenv("PGWEIR_PAM_CONFDIR"), &h);
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(h, PAM_SILENT);
	if (rc == PAM_SUCCESS)
		rc = pam_acct_mgmt(h, PAM_SILENT);
	if (rc != PAM_SUCCESS)
		snprintf(why, whylen, "%s", h ? pam_strerror(h, rc) :
		    "PAM could not start");
	if (h != NULL)
		pam_end(h, rc);
	return rc == PAM_SUCCESS;
}
