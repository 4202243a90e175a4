/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the ini, auth_file and hba readers on real files, through
 * the reload path.
 *
 * The input is written to a regular file in the simulator's directory
 * and a running pgweir (built once) reloads: byte 0 says which file the
 * input is.  0: the ini file itself (pgweir.ini, read by config_load()
 * with %include); 1: the auth_file named by a fixed ini (authfile_load());
 * 2: the auth_hba_file of a fixed ini with auth_type = hba (hba_load(),
 * @file includes relative to its directory).  pgweir_reload() must either
 * install all of it or keep the running config, auth_file and hba as they
 * were (the target aborts if a failed reload changed any of them).  What
 * a reload installed is used (options formatted, users looked up), and
 * the next input reloads the fixed ini first.
 *
 * Inputs that name a log file or syslog (which would write outside the
 * directory) are skipped, and so are ini inputs with a '/' (no path
 * outside the directory and the working directory is opened).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/authfile.h"
#include "pgweir/config.h"
#include "pgweir/hba.h"
#include "pgweir/pgweir.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Put the fixed files back and reload the ini; 0 or -1. */
static int
restore(struct pgweir *pw, const char *ini)
{
	sim_write_file("fuzz.auth", "", 0);
	sim_write_file("fuzz.hba", "local all all trust\n", 20);
	free(pw->config_path);
	pw->config_path = strdup(sim_write_file("base.ini", ini,
	    strlen(ini)));
	return pw->config_path ? pgweir_reload(pw) : -1;
}

/* Use what a reload installed: every option formatted, users found. */
static void
use(struct pgweir *pw)
{
	char buf[512];

	for (size_t i = 0; i < config_n_options; i++)
		config_format_option(pw->cfg, &config_options[i], buf,
		    sizeof(buf));
	if (pw->auth != NULL) {
		(void)authfile_find(pw->auth, "alice");
		(void)authfile_find(pw->auth, "");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char ini[3][512];
	static struct sim *e;
	static int running = -1;	/* which fixed ini is installed */
	struct sim_opts o;
	struct pgweir *pw;
	struct config *cfg;
	struct authfile *auth;
	struct hba *hba;
	const char *path;
	int which;

	if (size < 1 || sim_contains_ci(data, size, "logfile") ||
	    sim_contains_ci(data, size, "syslog"))
		return 0;
	which = data[0] % 3;
	data++;
	size--;
	if (which == 0 && memchr(data, '/', size) != NULL)
		return 0;
	if (e == NULL) {
		memset(&o, 0, sizeof(o));
		o.pool_size = 1;
		o.auth_type = AUTH_TRUST;
		e = sim_open(&o);
		path = sim_write_file("fuzz.ini", "", 0);
		snprintf(ini[0], sizeof(ini[0]), "[databases]\n* = host=%.*s\n"
		    "[pgweir]\nauth_type = trust\n", (int)(strrchr(path, '/') -
		    path), path);
		path = sim_write_file("fuzz.auth", "", 0);
		snprintf(ini[1], sizeof(ini[1]), "%sauth_file = %s\n", ini[0],
		    path);
		path = sim_write_file("fuzz.hba", "", 0);
		snprintf(ini[2], sizeof(ini[2]), "%sauth_type = hba\n"
		    "auth_hba_file = %s\n", ini[0], path);
	}
	pw = sim_pw(e);
	if (running != which) {
		if (restore(pw, ini[which]) < 0)
			abort();
		running = which;
	}
	if (which == 0) {
		free(pw->config_path);
		pw->config_path = strdup(sim_write_file("fuzz.ini", data,
		    size));
	} else {
		sim_write_file(which == 1 ? "fuzz.auth" : "fuzz.hba", data,
		    size);
	}
	cfg = pw->cfg;
	auth = pw->auth;
	hba = pw->hba;
	if (pgweir_reload(pw) < 0) {
		if (pw->cfg != cfg || pw->auth != auth || pw->hba != hba) {
			fprintf(stderr, "fuzz: a failed reload changed the "
			    "running config\n");
			abort();
		}
		return 0;
	}
	use(pw);
	running = -1;
	if (pw->cfg->conffile[0] != '\0') {
		/* the next reload would read that file: start afresh */
		sim_close(e);
		e = NULL;
	}
	return 0;
}
