/* SPDX-License-Identifier: ISC */
/*
 * Certificates that rotate themselves.  Once a second (every fifth
 * janitor tick) the key, certificate and CA files of both TLS sides are
 * looked at with stat(2): device, inode, size and modification and change
 * times, so that cert-manager's and the kubelet's swap of a symlink, a
 * rename over the file and an edit in place are all seen.  When they
 * changed, new TLS contexts are built from the same settings, as a reload
 * would, and put in force for new connections (connections already open
 * keep theirs: OpenSSL counts the references).  If the server side's
 * files changed, every server connection is retired and replaced as it is
 * released.  Files that do not load (a key written before its
 * certificate, a half-written file) keep the contexts in force and are
 * logged once; the next change is tried again.
 *
 * Owns struct pgweir's certwatch; called by the janitor (a tick hook that
 * main() registers) and by lifecycle.c when a reload or SET builds new
 * contexts.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pgweir/certwatch.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/tls.h"

/* Janitor ticks (0.2 s) between two looks at the files. */
#define CERTWATCH_TICKS 5

/* Mix eight bytes into an FNV-1a hash. */
static uint64_t
mix(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * A fingerprint of what stat(2) says of each file (an empty path counts
 * as none; a file that cannot be read, by its errno), which changes when
 * any of them is replaced or rewritten.
 */
uint64_t
certwatch_fingerprint(const char *const *paths, int n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct stat st;

	for (int i = 0; i < n; i++) {
		if (paths[i] == NULL || paths[i][0] == '\0') {
			h = mix(h, 0);
			continue;
		}
		if (stat(paths[i], &st) < 0) {
			h = mix(h, (uint64_t)errno);
			continue;
		}
		h = mix(h, (uint64_t)st.st_dev);
		h = mix(h, (uint64_t)st.st_ino);
		h = mix(h, (uint64_t)st.st_size);
		h = mix(h, (uint64_t)st.st_mtim.tv_sec);
		h = mix(h, (uint64_t)st.st_mtim.tv_nsec);
		h = mix(h, (uint64_t)st.st_ctim.tv_sec);
		h = mix(h, (uint64_t)st.st_ctim.tv_nsec);
	}
	return h;
}

/* The fingerprints of a config's client-side and server-side files. */
static void
fingerprints(const struct config *cfg, uint64_t *client, uint64_t *server)
{
	const char *c[] = { cfg->client_tls_key_file,
		cfg->client_tls_cert_file, cfg->client_tls_ca_file };
	const char *s[] = { cfg->server_tls_key_file,
		cfg->server_tls_cert_file, cfg->server_tls_ca_file };

	*client = certwatch_fingerprint(c, 3);
	*server = certwatch_fingerprint(s, 3);
}

/* The contexts in force were just built: the files as they are now. */
void
certwatch_reset(struct pgweir *pw)
{
	pw->certwatch.ticks = 0;
	if (pw->tls.cfg != NULL)
		fingerprints(pw->tls.cfg, &pw->certwatch.client_files,
		    &pw->certwatch.server_files);
}

/* Look at the files now and then; load them when they changed. */
void
certwatch_tick(struct pgweir *pw)
{
	struct certwatch *w = &pw->certwatch;
	struct config *cfg = pw->tls.cfg;
	struct tls_contexts t;
	uint64_t client, server;
	bool server_changed;
	char err[512];

	if (++w->ticks < CERTWATCH_TICKS || cfg == NULL)
		return;
	w->ticks = 0;
	fingerprints(cfg, &client, &server);
	if (client == w->client_files && server == w->server_files)
		return;
	server_changed = server != w->server_files;
	/* tried once per change: a bad file is logged once, not per look */
	w->client_files = client;
	w->server_files = server;
	if (tls_build(cfg, &t, err, sizeof(err)) < 0) {
		log_warning("TLS files changed but do not load, keeping the "
		    "ones in force: %s", err);
		return;
	}
	tls_free(&pw->tls);
	pw->tls = t;
	log_info("TLS files changed: new connections use them");
	if (server_changed && t.server_side != NULL)
		pool_retire_servers(pw, NULL, "server TLS files changed");
}
