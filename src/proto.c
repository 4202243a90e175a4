/* SPDX-License-Identifier: ISC */
/*
 * The wire format: reading message headers out of evbuffers, parsing
 * startup-phase packets, and building the messages pgweir sends itself.
 *
 * Everything here is pure (no sockets, no state), so it is unit-tested
 * directly and fuzzed.  Builders append one whole message to an evbuffer;
 * the relay never calls them per forwarded message, only for messages that
 * pgweir originates (errors, login replies, injected queries, result sets).
 * Reference: PostgreSQL documentation, "Frontend/Backend Protocol" and
 * "Message Formats".
 */
#include "config.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "pgweir/proto.h"

/* Read a big-endian Int32. */
uint32_t
proto_get_u32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Write a big-endian Int32. */
void
proto_put_u32(void *p, uint32_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Decode a header's 5 bytes: 1, or -1 if the length is below 4. */
static int
header_of(const uint8_t *raw, struct pq_header *hdr)
{
	hdr->type = raw[0];
	hdr->len = proto_get_u32(raw + 1);
	return hdr->len < 4 ? -1 : 1;
}

/*
 * Read the 5-byte header of the message starting at offset, wherever the
 * buffer's chains happen to split it.  Returns 1 when a header was read,
 * 0 when fewer than 5 bytes are there yet, -1 when the length field is
 * impossible (below 4).
 */
int
proto_peek_header(struct evbuffer *buf, size_t offset, struct pq_header *hdr)
{
	uint8_t raw[PQ_HEADER_LEN];

	return proto_copyout_at(buf, offset, raw, sizeof(raw)) ?
	    header_of(raw, hdr) : 0;
}

/*
 * A view of an input buffer's first chain, for the relay loops, which
 * read a header (and sometimes a few body bytes) at a growing offset for
 * every message.  They only ever take bytes from the front of the buffer
 * and never add any, so while its length is what it was when the view was
 * taken, the buffer, and so the view, is unchanged; when it is not, the
 * view is taken again.
 */
void
pq_view_init(struct pq_view *v, struct evbuffer *buf)
{
	v->buf = buf;
	v->data = NULL;
	v->len = 0;
	v->total = SIZE_MAX;
}

/* pq_view's proto_copyout_at(). */
bool
pq_view_copyout(struct pq_view *v, size_t offset, void *dst, size_t n)
{
	size_t total = evbuffer_get_length(v->buf);

	if (total != v->total) {
		struct evbuffer_iovec first;
		v->total = total;
		v->data = NULL;
		v->len = 0;
		if (total > 0 &&
		    evbuffer_peek(v->buf, 1, NULL, &first, 1) > 0) {
			v->data = first.iov_base;
			v->len = first.iov_len;
		}
	}
	if (offset + n <= v->len) {
		memcpy(dst, v->data + offset, n);
		return true;
	}
	return proto_copyout_at(v->buf, offset, dst, n);
}

/* pq_view's proto_peek_header(). */
int
pq_view_header(struct pq_view *v, size_t offset, struct pq_header *hdr)
{
	uint8_t raw[PQ_HEADER_LEN];

	return pq_view_copyout(v, offset, raw, sizeof(raw)) ?
	    header_of(raw, hdr) : 0;
}

/*
 * Copy n bytes at offset out of buf; false if they are not all there.
 * Called for every message on the relay path: when the bytes lie in the
 * first chain, as they nearly always do, no evbuffer_ptr walk is needed.
 */
bool
proto_copyout_at(struct evbuffer *buf, size_t offset, void *dst, size_t n)
{
	struct evbuffer_iovec first;
	struct evbuffer_ptr pos;

	if (evbuffer_get_length(buf) < offset + n)
		return false;
	if (evbuffer_peek(buf, (ev_ssize_t)(offset + n), NULL, &first, 1) >
	    0 && first.iov_len >= offset + n) {
		memcpy(dst, (const uint8_t *)first.iov_base + offset, n);
		return true;
	}
	if (evbuffer_ptr_set(buf, &pos, offset, EVBUFFER_PTR_SET) < 0)
		return false;
	return evbuffer_copyout_from(buf, &pos, dst, n) == (ev_ssize_t)n;
}

/*
 * Split a startup "options" value into switches, in place, the way the
 * server does: blanks separate, a backslash escapes the next character.
 * Returns the number of tokens written as consecutive NUL-terminated
 * strings at the start of s.
 */
static int
split_options(char *s, char **tokens, int max)
{
	char *r = s, *w = s;
	int n = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (*r == '\0' || n == max)
			return n;
		tokens[n++] = w;
		while (*r && *r != ' ' && *r != '\t' && *r != '\n' &&
		    *r != '\r') {
			if (*r == '\\' && r[1] != '\0')
				r++;
			*w++ = *r++;
		}
		if (*r != '\0')
			r++;
		*w++ = '\0';
	}
}

/* Add a parameter, refusing overflow. */
static int
add_param(struct pq_startup *sp, const char *name, const char *value,
    char *err, size_t errlen)
{
	if (sp->n_params >= PQ_STARTUP_PARAMS_MAX) {
		snprintf(err, errlen, "too many startup parameters");
		return -1;
	}
	sp->params[sp->n_params].name = name;
	sp->params[sp->n_params].value = value;
	sp->n_params++;
	return 0;
}

/*
 * Turn "-c name=value" and "--name=value" switches of the options parameter
 * into ordinary parameters, marked as coming from options.  Other switches
 * are refused: pgweir cannot carry them from one server connection to the
 * next.
 */
static int
parse_options(char *options, struct pq_startup *sp, char *err, size_t errlen)
{
	char *tok[PQ_STARTUP_PARAMS_MAX];
	int n = split_options(options, tok, PQ_STARTUP_PARAMS_MAX);

	for (int i = 0; i < n; i++) {
		char *setting = NULL, *eq;

		if (strcmp(tok[i], "-c") == 0) {
			if (i + 1 < n)
				setting = tok[++i];
		} else if (strncmp(tok[i], "-c", 2) == 0) {
			setting = tok[i] + 2;
		} else if (strncmp(tok[i], "--", 2) == 0) {
			setting = tok[i] + 2;
			/* the server spells long options with '-' for '_' */
			for (char *p = setting; *p && *p != '='; p++)
				if (*p == '-')
					*p = '_';
		}
		eq = setting ? strchr(setting, '=') : NULL;
		if (eq == NULL || eq == setting) {
			snprintf(err, errlen, "unsupported options startup "
			    "parameter: only '-c config=val' and "
			    "'--config=val' are allowed");
			return -1;
		}
		*eq = '\0';
		if (add_param(sp, setting, eq + 1, err, errlen) < 0)
			return -1;
		sp->from_options[sp->n_params - 1] = true;
	}
	return 0;
}

/*
 * Parse a complete startup-phase packet (length word included).  The
 * buffer must be writable: option switches are split in place.  On error,
 * err holds a message fit for an ErrorResponse.
 */
int
proto_parse_startup(char *pkt, size_t len, struct pq_startup *sp, char *err,
    size_t errlen)
{
	size_t pos;

	memset(sp, 0, sizeof(*sp));
	if (len < 8 || len > PQ_STARTUP_MAX || proto_get_u32(pkt) != len) {
		snprintf(err, errlen, "invalid length of startup packet");
		return -1;
	}
	sp->code = proto_get_u32(pkt + 4);
	switch (sp->code) {
	case PQ_CANCEL_REQUEST:
		if (len != 16) {
			snprintf(err, errlen, "invalid length of cancel "
			    "request");
			return -1;
		}
		sp->cancel_pid = proto_get_u32(pkt + 8);
		sp->cancel_key = proto_get_u32(pkt + 12);
		return 0;
	case PQ_SSL_REQUEST:
	case PQ_GSSENC_REQUEST:
		if (len != 8) {
			snprintf(err, errlen, "invalid length of encryption "
			    "request");
			return -1;
		}
		return 0;
	}
	if (sp->code >> 16 != 3) {
		snprintf(err, errlen, "unsupported frontend protocol %u.%u: "
		    "server supports 3.0 to 3.0", sp->code >> 16,
		    sp->code & 0xffff);
		return -1;
	}

	/* name/value pairs, each NUL-terminated, then one final NUL */
	if (pkt[len - 1] != '\0') {
		snprintf(err, errlen, "invalid startup packet layout: "
		    "expected terminator as last byte");
		return -1;
	}
	pos = 8;
	while (pos < len - 1) {
		char *name = pkt + pos, *value;
		size_t nlen = strlen(name);

		if (nlen == 0)
			break;
		pos += nlen + 1;
		if (pos >= len - 1) {
			snprintf(err, errlen, "invalid startup packet layout: "
			    "missing value of \"%.40s\"", name);
			return -1;
		}
		value = pkt + pos;
		pos += strlen(value) + 1;

		if (strcmp(name, "user") == 0) {
			sp->user = value;
		} else if (strcmp(name, "database") == 0) {
			sp->database = value;
		} else if (strcmp(name, "options") == 0) {
			if (parse_options(value, sp, err, errlen) < 0)
				return -1;
		} else if (strcmp(name, "replication") == 0) {
			if (strcmp(value, "database") == 0)
				sp->replication = PQ_REPL_LOGICAL;
			else if (strcmp(value, "false") == 0 ||
			    strcmp(value, "0") == 0 ||
			    strcmp(value, "off") == 0 ||
			    strcmp(value, "no") == 0)
				sp->replication = PQ_REPL_NONE;
			else
				sp->replication = PQ_REPL_PHYSICAL;
		} else if (strncmp(name, "_pq_.", 5) == 0) {
			if (sp->n_unknown_options < PQ_STARTUP_PARAMS_MAX)
				sp->unknown_options[sp->n_unknown_options++] =
				    name;
		} else if (add_param(sp, name, value, err, errlen) < 0) {
			return -1;
		}
	}
	if (pos != len - 1) {
		snprintf(err, errlen, "invalid startup packet layout: "
		    "expected terminator as last byte");
		return -1;
	}
	if (sp->user == NULL || sp->user[0] == '\0') {
		snprintf(err, errlen, "no PostgreSQL user name specified in "
		    "startup packet");
		return -1;
	}
	if (sp->database == NULL || sp->database[0] == '\0')
		sp->database = sp->user;
	return 0;
}

/* Append a header with the length of a body that follows. */
static int
add_header(struct evbuffer *out, uint8_t type, size_t bodylen)
{
	uint8_t h[PQ_HEADER_LEN];

	h[0] = type;
	proto_put_u32(h + 1, (uint32_t)(bodylen + 4));
	return evbuffer_add(out, h, sizeof(h));
}

/* Append a message with an arbitrary body. */
int
proto_build_message(struct evbuffer *out, uint8_t type, const void *body,
    size_t len)
{
	if (add_header(out, type, len) < 0)
		return -1;
	return len ? evbuffer_add(out, body, len) : 0;
}

/* Append a message without a body (Sync, Flush, Terminate, ...). */
int
proto_build_simple(struct evbuffer *out, uint8_t type)
{
	return add_header(out, type, 0);
}

/* Append one field of an error or notice: code byte and string. */
static int
add_field(struct evbuffer *out, char code, const char *value)
{
	if (value == NULL)
		return 0;
	if (evbuffer_add(out, &code, 1) < 0)
		return -1;
	return evbuffer_add(out, value, strlen(value) + 1);
}

/* Length of one error field as add_field writes it. */
static size_t
field_len(const char *value)
{
	return value ? strlen(value) + 2 : 0;
}

/* ErrorResponse or NoticeResponse with severity, code, message, detail. */
static int
build_error_or_notice(struct evbuffer *out, uint8_t type,
    const char *severity, const char *sqlstate, const char *message,
    const char *detail)
{
	size_t len = 2 * field_len(severity) + field_len(sqlstate) +
	    field_len(message) + field_len(detail) + 1;

	if (add_header(out, type, len) < 0 ||
	    add_field(out, 'S', severity) < 0 ||
	    add_field(out, 'V', severity) < 0 ||
	    add_field(out, 'C', sqlstate) < 0 ||
	    add_field(out, 'M', message) < 0 ||
	    add_field(out, 'D', detail) < 0)
		return -1;
	return evbuffer_add(out, "", 1);
}

/* Append an ErrorResponse. */
int
proto_build_error(struct evbuffer *out, const char *severity,
    const char *sqlstate, const char *message, const char *detail)
{
	return build_error_or_notice(out, PQMSG_ERROR_RESPONSE, severity,
	    sqlstate, message, detail);
}

/* Append a NoticeResponse at NOTICE severity. */
int
proto_build_notice(struct evbuffer *out, const char *sqlstate,
    const char *message)
{
	return build_error_or_notice(out, PQMSG_NOTICE_RESPONSE, "NOTICE",
	    sqlstate, message, NULL);
}

/* Append an Authentication* request with optional extra data. */
int
proto_build_auth(struct evbuffer *out, uint32_t code, const void *data,
    size_t len)
{
	uint8_t c[4];

	proto_put_u32(c, code);
	if (add_header(out, PQMSG_AUTHENTICATION, 4 + len) < 0 ||
	    evbuffer_add(out, c, 4) < 0)
		return -1;
	return len ? evbuffer_add(out, data, len) : 0;
}

/* Append a ParameterStatus. */
int
proto_build_parameter_status(struct evbuffer *out, const char *name,
    const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;

	if (add_header(out, PQMSG_PARAMETER_STATUS, nl + vl) < 0 ||
	    evbuffer_add(out, name, nl) < 0)
		return -1;
	return evbuffer_add(out, value, vl);
}

/* Append a BackendKeyData. */
int
proto_build_backend_key_data(struct evbuffer *out, uint32_t pid,
    uint32_t key)
{
	uint8_t b[8];

	proto_put_u32(b, pid);
	proto_put_u32(b + 4, key);
	return proto_build_message(out, PQMSG_BACKEND_KEY_DATA, b, 8);
}

/* Append a ReadyForQuery with a transaction status (I, T or E). */
int
proto_build_ready_for_query(struct evbuffer *out, char status)
{
	return proto_build_message(out, PQMSG_READY_FOR_QUERY, &status, 1);
}

/* Append a NegotiateProtocolVersion naming the options we did not take. */
int
proto_build_negotiate_protocol_version(struct evbuffer *out,
    uint32_t newest_minor, const char *const *options, int n_options)
{
	size_t len = 8;
	uint8_t b[8];

	for (int i = 0; i < n_options; i++)
		len += strlen(options[i]) + 1;
	proto_put_u32(b, newest_minor);
	proto_put_u32(b + 4, (uint32_t)n_options);
	if (add_header(out, PQMSG_NEGOTIATE_PROTOCOL_VERSION, len) < 0 ||
	    evbuffer_add(out, b, 8) < 0)
		return -1;
	for (int i = 0; i < n_options; i++)
		if (evbuffer_add(out, options[i], strlen(options[i]) + 1) < 0)
			return -1;
	return 0;
}

/* Append a simple Query. */
int
proto_build_query(struct evbuffer *out, const char *sql)
{
	return proto_build_message(out, PQMSG_QUERY, sql, strlen(sql) + 1);
}

/* Append a PasswordMessage (or SASL response) with raw data. */
int
proto_build_password(struct evbuffer *out, const void *data, size_t len)
{
	return proto_build_message(out, PQMSG_PASSWORD, data, len);
}

/* Append a StartupMessage for protocol 3.0 with the given parameters. */
int
proto_build_startup(struct evbuffer *out, const struct pq_param *params,
    int n_params)
{
	size_t len = 8 + 1;
	uint8_t b[8];

	for (int i = 0; i < n_params; i++)
		len += strlen(params[i].name) + strlen(params[i].value) + 2;
	proto_put_u32(b, (uint32_t)len);
	proto_put_u32(b + 4, PQ_PROTOCOL_3_0);
	if (evbuffer_add(out, b, 8) < 0)
		return -1;
	for (int i = 0; i < n_params; i++) {
		if (evbuffer_add(out, params[i].name,
		    strlen(params[i].name) + 1) < 0 ||
		    evbuffer_add(out, params[i].value,
		    strlen(params[i].value) + 1) < 0)
			return -1;
	}
	return evbuffer_add(out, "", 1);
}

/* Append a CancelRequest packet. */
int
proto_build_cancel_request(struct evbuffer *out, uint32_t pid, uint32_t key)
{
	uint8_t b[16];

	proto_put_u32(b, 16);
	proto_put_u32(b + 4, PQ_CANCEL_REQUEST);
	proto_put_u32(b + 8, pid);
	proto_put_u32(b + 12, key);
	return evbuffer_add(out, b, sizeof(b));
}

/*
 * Append a RowDescription of text-format columns.  type_oids gives each
 * column's type (25 text, 23 int4, 20 int8, 1700 numeric, ...).
 */
int
proto_build_row_description(struct evbuffer *out, const char *const *names,
    const uint32_t *type_oids, int ncols)
{
	size_t len = 2;
	uint8_t b[18];

	for (int i = 0; i < ncols; i++)
		len += strlen(names[i]) + 1 + 18;
	if (add_header(out, PQMSG_ROW_DESCRIPTION, len) < 0)
		return -1;
	b[0] = (uint8_t)(ncols >> 8);
	b[1] = (uint8_t)ncols;
	if (evbuffer_add(out, b, 2) < 0)
		return -1;
	for (int i = 0; i < ncols; i++) {
		int16_t typlen = -1;
		if (type_oids[i] == 23)
			typlen = 4;
		else if (type_oids[i] == 20)
			typlen = 8;
		memset(b, 0, sizeof(b));
		/* table oid 0, column 0, type, typlen, typmod -1, text */
		proto_put_u32(b + 6, type_oids[i]);
		b[10] = (uint8_t)((uint16_t)typlen >> 8);
		b[11] = (uint8_t)typlen;
		proto_put_u32(b + 12, 0xffffffffu);
		if (evbuffer_add(out, names[i], strlen(names[i]) + 1) < 0 ||
		    evbuffer_add(out, b, 18) < 0)
			return -1;
	}
	return 0;
}

/* Append a DataRow of text values; NULL pointers are SQL NULLs. */
int
proto_build_data_row(struct evbuffer *out, const char *const *values,
    int ncols)
{
	size_t len = 2;
	uint8_t b[4];

	for (int i = 0; i < ncols; i++)
		len += 4 + (values[i] ? strlen(values[i]) : 0);
	if (add_header(out, PQMSG_DATA_ROW, len) < 0)
		return -1;
	b[0] = (uint8_t)(ncols >> 8);
	b[1] = (uint8_t)ncols;
	if (evbuffer_add(out, b, 2) < 0)
		return -1;
	for (int i = 0; i < ncols; i++) {
		size_t vl = values[i] ? strlen(values[i]) : 0;
		proto_put_u32(b, values[i] ? (uint32_t)vl : 0xffffffffu);
		if (evbuffer_add(out, b, 4) < 0 ||
		    (vl && evbuffer_add(out, values[i], vl) < 0))
			return -1;
	}
	return 0;
}

/* Append a CommandComplete with a tag such as "SHOW" or "SELECT 3". */
int
proto_build_command_complete(struct evbuffer *out, const char *tag)
{
	return proto_build_message(out, PQMSG_COMMAND_COMPLETE, tag,
	    strlen(tag) + 1);
}

/*
 * Pick the fields pgweir uses out of an ErrorResponse/NoticeResponse body
 * (everything after the header).  Strings point into body.  Returns -1 when
 * the body is not a well-formed field list.
 */
int
proto_parse_error(const char *body, size_t len, struct pq_error_fields *f)
{
	size_t pos = 0;

	memset(f, 0, sizeof(*f));
	while (pos < len && body[pos] != '\0') {
		char code = body[pos++];
		const char *value = body + pos;
		const char *nul = memchr(value, '\0', len - pos);

		if (nul == NULL)
			return -1;
		pos += (size_t)(nul - value) + 1;
		switch (code) {
		case 'V':
			f->severity = value;
			break;
		case 'S':
			if (f->severity == NULL)
				f->severity = value;
			break;
		case 'C':
			f->sqlstate = value;
			break;
		case 'M':
			f->message = value;
			break;
		case 'D':
			f->detail = value;
			break;
		}
	}
	if (pos >= len)
		return -1;
	return 0;
}

/* Split a ParameterStatus body into name and value. */
int
proto_parse_parameter_status(const char *body, size_t len, const char **name,
    const char **value)
{
	const char *nul = memchr(body, '\0', len);

	if (nul == NULL)
		return -1;
	*name = body;
	*value = nul + 1;
	if (memchr(*value, '\0', len - (size_t)(*value - body)) == NULL)
		return -1;
	return 0;
}

/*
 * Whether bytes are well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF).  Names from a startup packet are
 * checked before they reach PostgreSQL as query parameters, where a bad
 * sequence is an error of its own.
 */
bool
proto_is_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}
