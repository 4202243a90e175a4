/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the client startup phase.
 *
 * Each input is parsed by proto_parse_startup() as one packet, then sent
 * as everything a new client writes first, through the real read path:
 * a socketpair given to client_accept(), bytes written to the other end,
 * the event loop turning.  That covers SSLRequest (answered 'N', or 'S'
 * and a TLS handshake when TLS is configured, and the CVE-2021-23214
 * check of bytes sent before the handshake), GSSENCRequest, a direct TLS
 * ClientHello, CancelRequest, protocol version negotiation, the startup
 * parameters, every authentication method with its password messages,
 * and, once logged in, the relay to the fake PostgreSQL behind pgweir.
 *
 * Input: byte 0 chooses the pgweir (bits 0-2 the authentication method,
 * bit 3 a unix-socket peer, bit 4 TLS, bits 5-6 the pool mode, bit 7 a
 * PostgreSQL that never finishes the server login); byte 1 the size of
 * the pieces the rest is written in (0: all at once); the rest is what
 * the client sends.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/config.h"
#include "pgweir/proto.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The packet parser alone, on a copy of exactly the input's length. */
static void
parse_alone(const uint8_t *data, size_t size)
{
	struct pq_startup sp;
	char err[200];
	char *pkt;

	if (size > PQ_STARTUP_MAX)
		return;
	pkt = malloc(size ? size : 1);
	if (pkt == NULL)
		return;
	memcpy(pkt, data, size);
	if (proto_parse_startup(pkt, size, &sp, err, sizeof(err)) == 0 &&
	    sp.code >> 16 == 3 && (sp.user == NULL || sp.database == NULL))
		abort();	/* a parsed StartupMessage names both */
	free(pkt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int auths[] = { AUTH_TRUST, AUTH_PLAIN, AUTH_MD5,
		AUTH_SCRAM, AUTH_HBA, AUTH_CERT, AUTH_TRUST, AUTH_MD5 };
	struct sim_opts o;
	struct sim *e;
	struct sim_client *fc;
	size_t chunk;
	bool unix_peer;

	if (size < 2)
		return 0;
	parse_alone(data + 2, size - 2);
	memset(&o, 0, sizeof(o));
	o.auth_type = auths[data[0] & 7];
	o.hba = o.auth_type == AUTH_HBA;
	o.tls = (data[0] & 16) || (data[0] & 7) >= 5;
	o.pool_mode = (data[0] >> 5) & 3;
	o.pool_size = 2;
	o.max_prepared = o.pool_mode == POOL_SESSION ? 0 : 4;
	o.pg_mute = (data[0] & 128) != 0;
	o.check_frames = false;	/* the 'N' and 'S' answers are not frames */
	unix_peer = (data[0] & 8) != 0;
	chunk = data[1] ? data[1] : size;
	data += 2;
	size -= 2;

	e = sim_open(&o);
	fc = sim_client_open(e, unix_peer);
	if (fc != NULL) {
		for (size_t off = 0; off < size; off += chunk) {
			size_t n = size - off < chunk ? size - off : chunk;
			sim_client_write(e, fc, data + off, n);
			sim_pump(e);
		}
	}
	sim_close(e);
	return 0;
}
