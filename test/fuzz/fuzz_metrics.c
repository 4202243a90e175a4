/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target: the /metrics endpoint, libevent's evhttp in front of
 * metrics_render(), with pools whose names come from the input.
 *
 * A pgweir with metrics_port set (on 127.0.0.1, a port chosen once)
 * first gets clients of databases and users named by the input through
 * the "*" database, so the pools' label values hold quotes, backslashes,
 * newlines and bytes of every kind; then an HTTP connection sends the
 * rest of the input, in pieces, and what pgweir answers is checked: it
 * is nothing or an HTTP response, and a 200's body is well-formed
 * Prometheus text (every line a comment or a sample "name{labels} value"
 * with each label value quoted and escaped).
 *
 * Input: byte 0: bits 0-1 how many named clients (each a NUL-terminated
 * database name, then user name), bits 2-5 the piece size (0: all at
 * once), bit 6 a request line "GET /metrics HTTP/1.1" with a Host header
 * comes before the rest.  Then the names, then the HTTP bytes.
 */
#include "config.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/config.h"

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the reason. */
static void
fail(const char *why, const char *line, size_t len)
{
	fprintf(stderr, "fuzz: /metrics: %s: %.*s\n", why, (int)len, line);
	abort();
}

/* One sample line: name, optional {label="value",...}, space, value. */
static void
check_sample(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == '_' || s[i] == ':' ||
	    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	    (i > 0 && s[i] >= '0' && s[i] <= '9')))
		i++;
	if (i == 0)
		fail("no metric name", s, len);
	if (i < len && s[i] == '{') {
		for (i++; i < len && s[i] != '}';) {
			while (i < len && s[i] != '=')
				i++;
			if (i + 1 >= len || s[i + 1] != '"')
				fail("label without a quoted value", s, len);
			for (i += 2; i < len && s[i] != '"'; i++)
				if (s[i] == '\\' && ++i < len && s[i] != '\\' &&
				    s[i] != '"' && s[i] != 'n')
					fail("bad escape in a label", s, len);
			if (i >= len)
				fail("unterminated label value", s, len);
			i++;
			if (i < len && s[i] == ',')
				i++;
		}
		if (i >= len)
			fail("unterminated labels", s, len);
		i++;
	}
	if (i >= len || s[i] != ' ' || i + 1 == len)
		fail("no value", s, len);
}

/* The whole answer: an HTTP response; a 200's body Prometheus text. */
static void
check_answer(struct evbuffer *all)
{
	size_t len = evbuffer_get_length(all);
	const char *s = (const char *)evbuffer_pullup(all, -1);
	const char *body, *end, *status;

	if (len == 0)
		return;
	if (getenv("PGWEIR_FUZZ_TRACE") != NULL)
		fprintf(stderr, "fuzz: /metrics answered:\n%.*s\n", (int)len,
		    s);
	/*
	 * evhttp answers in the version the request named, whatever it was
	 * ("HTTP/-1.5" included): only the status is looked at.
	 */
	if (len < 9 || memcmp(s, "HTTP/", 5) != 0)
		fail("not an HTTP response", s, len < 40 ? len : 40);
	status = memchr(s, ' ', len);
	if (status == NULL || (size_t)(s + len - status) < 4 ||
	    memcmp(status, " 200", 4) != 0)
		return;
	body = memmem(s, len, "\r\n\r\n", 4);
	if (body == NULL)
		return;		/* cut short by a pipelined request */
	/* /healthz and /ready answer plain text, not Prometheus text */
	if (memmem(s, (size_t)(body - s), "version=0.0.4", 13) == NULL)
		return;
	end = s + len;
	for (const char *p = body + 4; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;	/* the last line may be a next response */
		if ((size_t)(end - p) >= 5 && memcmp(p, "HTTP/", 5) == 0)
			break;	/* a pipelined request's response */
		if (nl > p && *p != '#')
			check_sample(p, (size_t)(nl - p));
		p = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sim_opts o;
	struct sim *e;
	struct sim_client *http;
	size_t off = 1, chunk;
	int named;

	if (size < 1)
		return 0;
	memset(&o, 0, sizeof(o));
	o.pool_size = 1;
	o.auth_type = AUTH_TRUST;
	o.metrics = true;
	o.pg_mute = true;	/* /metrics shows pools, not servers */
	named = data[0] & 3;
	chunk = (data[0] >> 2) & 15;
	e = sim_open(&o);
	for (int i = 0; i < named; i++) {
		const char *db = (const char *)data + off, *user;
		const uint8_t *nul = memchr(data + off, 0, size - off);
		const uint8_t *nul2;
		struct sim_client *fc;
		if (nul == NULL || (nul2 = memchr(nul + 1, 0, (size_t)(data +
		    size - nul - 1))) == NULL)
			break;
		user = (const char *)nul + 1;
		off = (size_t)(nul2 - data) + 1;
		fc = sim_client_open(e, false);
		if (fc != NULL)
			(void)sim_client_login(e, fc, db, user, NULL);
	}
	http = sim_http_open(e);
	if (http == NULL)
		abort();
	if (data[0] & 64)
		sim_client_write(e, http, req, sizeof(req) - 1);
	if (chunk == 0)
		chunk = size;
	for (; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		sim_client_write(e, http, data + off, n);
		sim_pump(e);
	}
	sim_pump(e);
	check_answer(http->all);
	sim_close(e);
	return 0;
}
