/*
 * pgweir: TLS key, certificate and CA files watched for changes, and
 * loaded for new connections without a reload.
 */
#ifndef PGWEIR_CERTWATCH_H
#define PGWEIR_CERTWATCH_H

#include <stdint.h>

struct config;
struct pgweir;

/* What the files looked like when the contexts in force were built. */
struct certwatch {
	uint64_t client_files;	/* client_tls_* files' fingerprint */
	uint64_t server_files;	/* server_tls_* files' fingerprint */
	int ticks;		/* janitor ticks since the last look */
};

void certwatch_reset(struct pgweir *pw);
void certwatch_tick(struct pgweir *pw);
uint64_t certwatch_fingerprint(const char *const *paths, int n);

#endif
