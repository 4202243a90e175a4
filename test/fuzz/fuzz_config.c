/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the configuration parsers on arbitrary text.
 *
 * The first byte picks the parser: config_load_string() (the options
 * table through inih, [databases] connection strings through libpq's
 * PQconninfoParse, [users]), authfile_parse(), or hba_parse() with no
 * base directory, so that no @file is ever opened; values 3 and up run
 * all three on the same text.  A config that loads is also cloned and
 * formatted option by option (SHOW CONFIG's path), an auth_file is
 * searched, and hba rules are matched, so what the parsers build is
 * used, not only built.
 */
#include "config.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pgweir/authfile.h"
#include "pgweir/config.h"
#include "pgweir/hba.h"
#include "pgweir/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Load a config; use what came out. */
static void
fuzz_config(const char *text)
{
	struct config_error err;
	struct config *cfg = config_load_string(text, "fuzz.ini", &err);
	struct config *copy;
	char buf[512];

	if (cfg == NULL)
		return;
	for (size_t i = 0; i < config_n_options; i++)
		config_format_option(cfg, &config_options[i], buf,
		    sizeof(buf));
	for (size_t i = 0; i < cfg->n_databases; i++)
		(void)config_find_db(cfg, cfg->databases[i]->name);
	for (size_t i = 0; i < cfg->n_users; i++)
		(void)config_find_user(cfg, cfg->users[i]->name);
	(void)config_list_contains(cfg->admin_users, "admin");
	copy = config_clone(cfg);
	if (copy != NULL) {
		size_t n = cfg->n_databases < copy->n_databases ?
		    cfg->n_databases : copy->n_databases;
		for (size_t i = 0; i < n; i++)
			(void)dbconf_same_server(cfg->databases[i],
			    copy->databases[i]);
		config_unref(copy);
	}
	config_unref(cfg);
}

/* Parse an auth_file; look a few names up. */
static void
fuzz_authfile(const char *text)
{
	char err[256];
	struct authfile *af = authfile_parse(text, "userlist.txt", err,
	    sizeof(err));

	if (af == NULL)
		return;
	(void)authfile_find(af, "alice");
	if (af->n > 0)
		(void)authfile_find(af, af->entries[af->n - 1].name);
	authfile_free(af);
}

/* Parse hba rules (no @file is read: basedir NULL); match a few logins. */
static void
fuzz_hba(const char *text)
{
	char err[256];
	struct hba *hba = hba_parse(text, "hba.conf", NULL, err, sizeof(err));
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	enum hba_method m;
	const char *map;

	if (hba == NULL)
		return;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(0x0a000001);
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_addr.s6_addr[15] = 1;
	(void)hba_match(hba, HBA_CONN_LOCAL, "db", "alice", NULL, &m, &map);
	(void)hba_match(hba, HBA_CONN_HOST_SSL, "db1", "bob",
	    (struct sockaddr *)&in, &m, &map);
	(void)hba_match(hba, HBA_CONN_HOST_NOSSL, "replication", "bob",
	    (struct sockaddr *)&in6, &m, &map);
	hba_free(hba);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	char *text;

	if (!quiet) {
		struct log_settings ls = { .verbose = 2, .quiet = true };
		log_configure(&ls);
		quiet = true;
	}
	if (size < 1)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	/* the text is a C string: everything after the selector byte */
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		fuzz_config(text);
		break;
	case 1:
		fuzz_authfile(text);
		break;
	case 2:
		fuzz_hba(text);
		break;
	default:
		fuzz_config(text);
		fuzz_authfile(text);
		fuzz_hba(text);
		break;
	}
	free(text);
	return 0;
}
