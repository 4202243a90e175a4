/* SPDX-License-Identifier: ISC */
/*
 * The auth_hba_file: the part of pg_hba.conf that makes sense in front of
 * a pool.  Records are "local db user method [options]" or
 * "host|hostssl|hostnossl db user address [mask] method [options]"; '#'
 * starts a comment, a backslash at the very end of a line joins the next
 * line to it (even inside quotes or a comment), and double quotes keep
 * blanks, commas and keywords literal.  Database and user fields are
 * comma-separated lists whose entries may be keywords, names or @file
 * references (a file of further entries, read at parse time).  Written
 * from PostgreSQL's documentation, "The pg_hba.conf File".
 *
 * Everything the daemon cannot honour (include directives, hostgssenc,
 * +group, regular expressions, samehost/samenet, host names, methods and
 * options other than ours) is a parse error naming file and line, never a
 * silently different rule: a reload with such a file keeps the old rules.
 *
 * Files are read whole at start-up and on reload (hba_load, through
 * file_read: regular files only, at most HBA_FILE_MAX bytes); the login
 * path calls only hba_match, which walks the rules without allocating.
 * All sizes are bounded (see hba.h) and the parser only ever looks at
 * NUL-terminated text it copied into fixed buffers, so it is safe to fuzz.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/file.h"
#include "pgweir/hba.h"

/* Longest path an @file reference may resolve to. */
#define HBA_PATH_MAX	4096

/* What one entry of a database or user list stands for. */
enum hba_item_kind {
	HBA_ITEM_NAME,		/* a literal name */
	HBA_ITEM_ALL,		/* all */
	HBA_ITEM_SAMEUSER,	/* sameuser: the database named like the user */
	HBA_ITEM_REPLICATION,	/* replication: never matches in pgweir */
};

/* One entry of a database or user list. */
struct hba_item {
	enum hba_item_kind kind;	/* set by the parser */
	char *name;			/* HBA_ITEM_NAME only; owned */
};

/* A database or user field, @file references already expanded. */
struct hba_list {
	struct hba_item *items;		/* owned */
	size_t n;			/* entries in use */
	size_t cap;			/* entries allocated */
};

/* The record type, the first field. */
enum hba_type {
	HBA_TYPE_LOCAL,
	HBA_TYPE_HOST,
	HBA_TYPE_HOSTSSL,
	HBA_TYPE_HOSTNOSSL,
};

/* One record. */
struct hba_rule {
	int line;			/* first line of the record, for logs */
	enum hba_type type;
	struct hba_list db;		/* database field */
	struct hba_list user;		/* user field */
	bool addr_all;			/* host*: address "all" */
	int family;			/* host*: AF_INET or AF_INET6 */
	uint8_t addr[16];		/* host*: network, already masked */
	uint8_t mask[16];		/* host*: netmask (4 bytes for IPv4) */
	enum hba_method method;
	char *map;			/* map= option or NULL; owned */
};

/* The parsed file. */
struct hba {
	struct hba_rule *rules;		/* in file order; owned */
	size_t n;			/* rules in use */
	size_t cap;			/* rules allocated */
};

/* Which list field an entry belongs to; keywords differ between them. */
enum hba_field {
	HBA_FIELD_DB,
	HBA_FIELD_USER,
};

/* A cursor over a file's text that yields records, continuations joined. */
struct hba_reader {
	const char *p;			/* next unread byte of the text */
	int line;			/* physical lines consumed so far */
	char buf[HBA_LINE_MAX + 1];	/* the current record */
};

/* One token of a record. */
struct hba_token {
	char *s;		/* quotes removed; points into a token buffer */
	bool quoted;		/* some part of it was inside double quotes */
	bool lead_quote;	/* it began with a double quote */
	bool comma;		/* a comma followed: the field's list goes on */
};

/* State of one hba_parse call. */
struct hba_parser {
	struct hba *hba;		/* being built; owned until returned */
	const char *name;		/* file name for messages */
	const char *basedir;		/* where relative @files are; or NULL */
	int line;			/* first line of the current record */
	const char *inc_name;		/* @file being read, or NULL */
	int inc_line;			/* line in that @file */
	size_t nitems;			/* list entries so far, all rules */
	int nincludes;			/* @file references so far */
	char *err;			/* caller's message buffer */
	size_t errlen;
	struct hba_reader reader;	/* over the hba file itself */
	char tok[HBA_LINE_MAX + 1];	/* token buffer for the hba file */
};

/* Buffers for reading one @file, kept off the stack. */
struct hba_incl {
	struct hba_reader reader;
	char tok[HBA_LINE_MAX + 1];
};

/* Names of the methods, indexed by enum hba_method. */
static const char *const method_names[] = {
	[HBA_TRUST] = "trust",
	[HBA_REJECT] = "reject",
	[HBA_MD5] = "md5",
	[HBA_PASSWORD] = "password",
	[HBA_SCRAM] = "scram-sha-256",
	[HBA_CERT] = "cert",
	[HBA_PEER] = "peer",
	[HBA_LDAP] = "ldap",
};

/* PostgreSQL methods that pgweir knows of but does not implement. */
static const char *const foreign_methods[] = {
	"ident", "gss", "sspi", "radius", "pam", "bsd", "oauth", NULL
};

static int	parse_item(struct hba_parser *, struct hba_list *,
		    enum hba_field, const struct hba_token *);

/* Write "file:line: message" (and the @file position) to the caller. */
static int __attribute__((format(printf, 2, 3)))
parse_error(struct hba_parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->err == NULL || ps->errlen == 0)
		return -1;
	if (ps->inc_name != NULL)
		n = snprintf(ps->err, ps->errlen, "%s:%d: %s:%d: ", ps->name,
		    ps->line, ps->inc_name, ps->inc_line);
	else
		n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name,
		    ps->line);
	if (n < 0 || (size_t)n >= ps->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Write a message without a line number to the caller. */
static void __attribute__((format(printf, 3, 4)))
hba_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Blanks between tokens; a stray CR counts as one. */
static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Start reading records from text. */
static void
reader_init(struct hba_reader *r, const char *text)
{
	r->p = text;
	r->line = 0;
	r->buf[0] = '\0';
}

/*
 * Read the next record into r->buf, joining a line that ends in a
 * backslash to the next (backslash and newline both dropped, as
 * PostgreSQL does).  *first gets the record's first line.  Returns 1 for
 * a record, 0 at the end of the text, -1 when the record is too long.
 */
static int
reader_next(struct hba_reader *r, int *first)
{
	size_t len = 0;
	bool more;

	if (*r->p == '\0')
		return 0;
	*first = r->line + 1;
	do {
		const char *s = r->p, *eol = strchr(s, '\n');
		size_t n = eol != NULL ? (size_t)(eol - s) : strlen(s);

		r->line++;
		r->p = eol != NULL ? eol + 1 : s + n;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		more = n > 0 && s[n - 1] == '\\';
		if (more)
			n--;
		if (n > HBA_LINE_MAX - len) {
			r->buf[0] = '\0';
			return -1;
		}
		memcpy(r->buf + len, s, n);
		len += n;
	} while (more && *r->p != '\0');
	r->buf[len] = '\0';
	return 1;
}

/*
 * Read the next token of a record at *pp into out, which has room for
 * strlen(*pp) + 1 bytes.  Blanks, commas and '#' end a token unless
 * quoted; a double quote toggles quoting and is dropped, so "a b" and
 * a" "b are the same token.  Blanks around a comma are skipped and the
 * comma is reported in t->comma.  Returns 1 for a token, 0 at the end of
 * the record (or a comment), -1 for an unterminated quote.
 */
static int
lex_token(const char **pp, char *out, struct hba_token *t)
{
	const char *s = *pp;
	char *o = out;
	bool inq = false;

	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#') {
		*pp = s;
		return 0;
	}
	t->s = out;
	t->quoted = false;
	t->lead_quote = *s == '"';
	t->comma = false;
	for (; *s != '\0'; s++) {
		if (*s == '"') {
			inq = !inq;
			t->quoted = true;
			continue;
		}
		if (!inq && (is_blank(*s) || *s == ',' || *s == '#'))
			break;
		*o++ = *s;
	}
	*o = '\0';
	if (inq) {
		*pp = s;
		return -1;
	}
	while (is_blank(*s))
		s++;
	if (*s == ',') {
		t->comma = true;
		s++;
	}
	*pp = s;
	return 1;
}

/* Read a field that must hold exactly one value; what names it in errors. */
static int
parse_single(struct hba_parser *ps, const char **pp, struct hba_token *t,
    const char *what)
{
	int rc = lex_token(pp, ps->tok, t);

	if (rc == -1)
		return parse_error(ps, "unterminated quoted string");
	if (rc == 0)
		return parse_error(ps, "end of line before %s", what);
	if (t->comma)
		return parse_error(ps, "%s: only one value allowed", what);
	if (t->s[0] == '\0')
		return parse_error(ps, "empty %s", what);
	return 0;
}

/* Append an entry to a list; name is copied. */
static int
list_add(struct hba_parser *ps, struct hba_list *l, enum hba_item_kind kind,
    const char *name)
{
	struct hba_item *it;

	if (ps->nitems >= HBA_NAMES_MAX)
		return parse_error(ps, "too many database and user entries "
		    "(over %d)", HBA_NAMES_MAX);
	if (l->n == l->cap) {
		size_t cap = l->cap != 0 ? l->cap * 2 : 4;
		struct hba_item *grown = realloc(l->items,
		    cap * sizeof(*grown));

		if (grown == NULL)
			return parse_error(ps, "out of memory");
		l->items = grown;
		l->cap = cap;
	}
	it = &l->items[l->n];
	it->kind = kind;
	it->name = NULL;
	if (name != NULL && (it->name = strdup(name)) == NULL)
		return parse_error(ps, "out of memory");
	l->n++;
	ps->nitems++;
	return 0;
}

/* Free the entries of a list. */
static void
list_free(struct hba_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].name);
	free(l->items);
	l->items = NULL;
	l->n = l->cap = 0;
}

/*
 * Add the entries of an @file to a list.  Entries are separated by blanks,
 * commas or newlines and read like entries on the line itself (so quoting
 * and keywords work the same); a nested @file is refused.  A relative
 * name is relative to the hba file's directory.
 */
static int
parse_include(struct hba_parser *ps, struct hba_list *l, enum hba_field f,
    const char *file)
{
	char path[HBA_PATH_MAX], msg[256];
	struct hba_incl *ic = NULL;
	struct hba_token t;
	char *text = NULL;
	const char *p;
	int rc, n, ret = -1;

	if (ps->inc_name != NULL)
		return parse_error(ps, "@%.64s: nested @file is not supported",
		    file);
	if (file[0] == '\0')
		return parse_error(ps, "@ without a file name");
	if (ps->basedir == NULL)
		return parse_error(ps, "@%.64s: @file is not available here",
		    file);
	if (++ps->nincludes > HBA_INCLUDES_MAX)
		return parse_error(ps, "too many @file references (over %d)",
		    HBA_INCLUDES_MAX);
	if (file[0] == '/')
		n = snprintf(path, sizeof(path), "%s", file);
	else
		n = snprintf(path, sizeof(path), "%s/%s", ps->basedir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return parse_error(ps, "@%.64s: path too long", file);
	text = file_read(path, HBA_FILE_MAX, NULL, msg, sizeof(msg));
	if (text == NULL)
		return parse_error(ps, "@%s: %s", path, msg);
	ic = malloc(sizeof(*ic));
	if (ic == NULL) {
		parse_error(ps, "out of memory");
		goto out;
	}
	reader_init(&ic->reader, text);
	ps->inc_name = path;
	while ((rc = reader_next(&ic->reader, &ps->inc_line)) == 1) {
		p = ic->reader.buf;
		while ((rc = lex_token(&p, ic->tok, &t)) == 1) {
			/* stray commas are separators here, not empty names */
			if (!t.quoted && t.s[0] == '\0')
				continue;
			if (parse_item(ps, l, f, &t) == -1)
				goto out;
		}
		if (rc == -1) {
			parse_error(ps, "unterminated quoted string");
			goto out;
		}
	}
	if (rc == -1) {
		parse_error(ps, "line too long (over %d bytes)", HBA_LINE_MAX);
		goto out;
	}
	ret = 0;
out:
	ps->inc_name = NULL;
	free(ic);
	free(text);
	return ret;
}

/*
 * Add one entry of a database or user field.  Keywords count only when
 * no part of the token was quoted; an @file only when it does not start
 * with a quote, so "@x" is a name and @"my file" a file.
 */
static int
parse_item(struct hba_parser *ps, struct hba_list *l, enum hba_field f,
    const struct hba_token *t)
{
	const char *s = t->s;

	if (!t->lead_quote && s[0] == '@')
		return parse_include(ps, l, f, s + 1);
	if (!t->quoted) {
		if (strcmp(s, "all") == 0)
			return list_add(ps, l, HBA_ITEM_ALL, NULL);
		if (f == HBA_FIELD_DB && strcmp(s, "sameuser") == 0)
			return list_add(ps, l, HBA_ITEM_SAMEUSER, NULL);
		if (f == HBA_FIELD_DB && strcmp(s, "replication") == 0)
			return list_add(ps, l, HBA_ITEM_REPLICATION, NULL);
		if (f == HBA_FIELD_DB && (strcmp(s, "samerole") == 0 ||
		    strcmp(s, "samegroup") == 0))
			return parse_error(ps, "database %s is not supported",
			    s);
		if (f == HBA_FIELD_USER && s[0] == '+')
			return parse_error(ps, "user %.64s: group membership "
			    "(+group) is not supported", s);
		if (s[0] == '/')
			return parse_error(ps, "%s %.64s: regular expressions "
			    "are not supported",
			    f == HBA_FIELD_DB ? "database" : "user", s);
	}
	if (s[0] == '\0')
		return parse_error(ps, "empty %s name",
		    f == HBA_FIELD_DB ? "database" : "user");
	return list_add(ps, l, HBA_ITEM_NAME, s);
}

/* Read a comma-separated database or user field. */
static int
parse_list(struct hba_parser *ps, const char **pp, struct hba_list *l,
    enum hba_field f)
{
	const char *what = f == HBA_FIELD_DB ? "database" : "user";
	struct hba_token t;
	bool first = true;
	int rc;

	do {
		rc = lex_token(pp, ps->tok, &t);
		if (rc == -1)
			return parse_error(ps, "unterminated quoted string");
		if (rc == 0 && first)
			return parse_error(ps, "end of line before %s field",
			    what);
		if (rc == 0)
			return parse_error(ps, "%s list ends with a comma",
			    what);
		if (!t.quoted && t.s[0] == '\0')
			return parse_error(ps, "empty entry in %s list", what);
		if (parse_item(ps, l, f, &t) == -1)
			return -1;
		first = false;
	} while (t.comma);
	return 0;
}

/* Parse a numeric IPv4 or IPv6 address; the family, or -1. */
static int
addr_parse(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, out) == 1)
		return AF_INET6;
	return -1;
}

/* Whether a token that is no address looks like a mistyped one. */
static bool
addr_is_numeric(const char *s)
{
	if (strchr(s, ':') != NULL)
		return true;
	return strspn(s, "0123456789.") == strlen(s);
}

/* Complain about an address field that is not a numeric address. */
static int
addr_error(struct hba_parser *ps, const char *s)
{
	if (addr_is_numeric(s))
		return parse_error(ps, "invalid IP address \"%.64s\"", s);
	return parse_error(ps, "address \"%.64s\": host names are not "
	    "supported, use an IP address", s);
}

/* Fill a netmask of len bytes with bits leading ones. */
static void
mask_set(uint8_t *mask, size_t len, unsigned bits)
{
	for (size_t i = 0; i < len; i++) {
		if (bits >= 8) {
			mask[i] = 0xff;
			bits -= 8;
		} else {
			mask[i] = (uint8_t)(0xff00 >> bits);
			bits = 0;
		}
	}
}

/* Whether a netmask is ones followed by zeros. */
static bool
mask_is_contiguous(const uint8_t *mask, size_t len)
{
	size_t i = 0;

	while (i < len && mask[i] == 0xff)
		i++;
	if (i == len)
		return true;
	/* a partial byte is some ones then zeros: ~m + 1 is a power of 2 */
	if ((((uint8_t)~mask[i] + 1) & (uint8_t)~mask[i]) != 0)
		return false;
	for (i++; i < len; i++)
		if (mask[i] != 0)
			return false;
	return true;
}

/*
 * Read the address field of a host* record: "all", address/length, or an
 * address followed by a netmask field.  Host bits set in the address are
 * cleared, as a CIDR network has none.
 */
static int
parse_addr(struct hba_parser *ps, const char **pp, struct hba_rule *r)
{
	struct hba_token t;
	uint8_t mask[16];
	size_t len;
	char *slash;

	if (parse_single(ps, pp, &t, "address") == -1)
		return -1;
	if (!t.quoted) {
		if (strcmp(t.s, "all") == 0) {
			r->addr_all = true;
			return 0;
		}
		if (strcmp(t.s, "samehost") == 0 ||
		    strcmp(t.s, "samenet") == 0)
			return parse_error(ps, "address %s is not supported",
			    t.s);
	}
	slash = strchr(t.s, '/');
	if (slash != NULL)
		*slash = '\0';
	r->family = addr_parse(t.s, r->addr);
	if (r->family == -1)
		return addr_error(ps, t.s);
	len = r->family == AF_INET ? 4 : 16;
	if (slash != NULL) {
		const char *d = slash + 1;
		unsigned bits = 0, max = r->family == AF_INET ? 32 : 128;
		size_t nd = strspn(d, "0123456789");

		if (nd == 0 || nd > 3 || d[nd] != '\0')
			return parse_error(ps, "invalid CIDR mask length "
			    "\"%.64s\"", d);
		for (size_t i = 0; i < nd; i++)
			bits = bits * 10 + (unsigned)(d[i] - '0');
		if (bits > max)
			return parse_error(ps, "CIDR mask length %u is over "
			    "%u", bits, max);
		mask_set(r->mask, len, bits);
	} else {
		if (parse_single(ps, pp, &t, "netmask") == -1)
			return -1;
		if (addr_parse(t.s, mask) != r->family)
			return parse_error(ps, "invalid netmask \"%.64s\" for "
			    "this address (or write address/length)", t.s);
		if (!mask_is_contiguous(mask, len))
			return parse_error(ps, "netmask %.64s is not "
			    "contiguous", t.s);
		memcpy(r->mask, mask, len);
	}
	for (size_t i = 0; i < len; i++)
		r->addr[i] &= r->mask[i];
	return 0;
}

/* Read the method field. */
static int
parse_method(struct hba_parser *ps, const char **pp, struct hba_rule *r)
{
	struct hba_token t;

	if (parse_single(ps, pp, &t, "authentication method") == -1)
		return -1;
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]);
	    i++) {
		if (strcmp(t.s, method_names[i]) == 0) {
			r->method = (enum hba_method)i;
			goto found;
		}
	}
	for (size_t i = 0; foreign_methods[i] != NULL; i++)
		if (strcmp(t.s, foreign_methods[i]) == 0)
			return parse_error(ps, "authentication method %s is "
			    "not supported", t.s);
	return parse_error(ps, "invalid authentication method \"%.64s\"",
	    t.s);
found:
	/*
	 * PostgreSQL refuses peer off the unix socket and cert off TLS at
	 * load; PgBouncer loads such lines, and so do we, so that its files
	 * work unchanged.  The method itself then refuses a client that
	 * cannot pass it: cert on a "host" line lets in TLS clients with a
	 * good certificate and refuses the others, peer on a TCP line
	 * refuses everyone it matches.
	 */
	return 0;
}

/* PostgreSQL's options of the ldap method. */
static const char *const ldap_options[] = {
	"ldapserver", "ldapport", "ldapscheme", "ldaptls", "ldapprefix",
	"ldapsuffix", "ldapbasedn", "ldapbinddn", "ldapbindpasswd",
	"ldapsearchattribute", "ldapsearchfilter", "ldapurl", NULL
};

/*
 * Keep one option of an ldap rule in r->map as "name=value" items
 * separated by HBA_OPT_SEP (authldap.c reads them).
 */
static int
add_ldap_option(struct hba_parser *ps, struct hba_rule *r, const char *name,
    const char *value)
{
	size_t old = r->map ? strlen(r->map) : 0, n;
	bool known = false;
	char *grown;

	for (size_t i = 0; ldap_options[i] != NULL; i++)
		known = known || strcmp(name, ldap_options[i]) == 0;
	if (!known)
		return parse_error(ps, "option %.64s is not an ldap option",
		    name);
	if (strchr(value, HBA_OPT_SEP) != NULL)
		return parse_error(ps, "option %.64s: invalid character",
		    name);
	n = old + strlen(name) + strlen(value) + 3;
	grown = realloc(r->map, n);
	if (grown == NULL)
		return parse_error(ps, "out of memory");
	snprintf(grown + old, n - old, "%s%s=%s", old ? "\x1f" : "", name,
	    value);
	r->map = grown;
	return 0;
}

/* Read the name=value options after the method. */
static int
parse_options(struct hba_parser *ps, const char **pp, struct hba_rule *r)
{
	struct hba_token t;
	char *eq;
	int rc;

	while ((rc = lex_token(pp, ps->tok, &t)) == 1) {
		/* ldap options may be separated by commas too (PgBouncer) */
		if (t.comma && r->method != HBA_LDAP)
			return parse_error(ps, "option %.64s: only one value "
			    "allowed", t.s);
		eq = strchr(t.s, '=');
		if (eq == NULL)
			return parse_error(ps, "option \"%.64s\": expected "
			    "name=value", t.s);
		*eq = '\0';
		if (r->method == HBA_LDAP) {
			if (add_ldap_option(ps, r, t.s, eq + 1) == -1)
				return -1;
			continue;
		}
		if (strcmp(t.s, "map") != 0)
			return parse_error(ps, "option %.64s is not supported",
			    t.s);
		/* user name maps only mean something when the name is proven */
		if (r->method != HBA_PEER && r->method != HBA_CERT)
			return parse_error(ps, "option map is only valid for "
			    "peer and cert");
		if (r->map != NULL)
			return parse_error(ps, "option map given twice");
		if (eq[1] == '\0')
			return parse_error(ps, "option map needs a value");
		r->map = strdup(eq + 1);
		if (r->map == NULL)
			return parse_error(ps, "out of memory");
	}
	if (rc == -1)
		return parse_error(ps, "unterminated quoted string");
	return 0;
}

/* Free what a rule owns. */
static void
rule_free(struct hba_rule *r)
{
	list_free(&r->db);
	list_free(&r->user);
	free(r->map);
	r->map = NULL;
}

/* Read the record type field; 0 and *type, or -1. */
static int
parse_type(struct hba_parser *ps, const struct hba_token *t,
    enum hba_type *type)
{
	static const struct {
		const char *name;
		enum hba_type type;
	} types[] = {
		{ "local", HBA_TYPE_LOCAL },
		{ "host", HBA_TYPE_HOST },
		{ "hostssl", HBA_TYPE_HOSTSSL },
		{ "hostnossl", HBA_TYPE_HOSTNOSSL },
	};

	if (t->comma)
		return parse_error(ps, "record type: only one value allowed");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(t->s, types[i].name) == 0) {
			*type = types[i].type;
			return 0;
		}
	}
	if (strcmp(t->s, "include") == 0 ||
	    strcmp(t->s, "include_if_exists") == 0 ||
	    strcmp(t->s, "include_dir") == 0)
		return parse_error(ps, "%.64s directives are not supported",
		    t->s);
	if (strcmp(t->s, "hostgssenc") == 0 ||
	    strcmp(t->s, "hostnogssenc") == 0)
		return parse_error(ps, "record type %s is not supported",
		    t->s);
	return parse_error(ps, "invalid record type \"%.64s\"", t->s);
}

/* Parse one record; a blank or comment-only one adds nothing. */
static int
parse_record(struct hba_parser *ps, const char *rec)
{
	struct hba_rule r;
	struct hba_token t;
	const char *p = rec;
	int rc;

	rc = lex_token(&p, ps->tok, &t);
	if (rc == 0)
		return 0;
	if (rc == -1)
		return parse_error(ps, "unterminated quoted string");
	memset(&r, 0, sizeof(r));
	r.line = ps->line;
	if (parse_type(ps, &t, &r.type) == -1)
		return -1;
	if (ps->hba->n >= HBA_RULES_MAX)
		return parse_error(ps, "too many records (over %d)",
		    HBA_RULES_MAX);
	if (parse_list(ps, &p, &r.db, HBA_FIELD_DB) == -1 ||
	    parse_list(ps, &p, &r.user, HBA_FIELD_USER) == -1)
		goto fail;
	if (r.type != HBA_TYPE_LOCAL && parse_addr(ps, &p, &r) == -1)
		goto fail;
	if (parse_method(ps, &p, &r) == -1 || parse_options(ps, &p, &r) == -1)
		goto fail;
	if (ps->hba->n == ps->hba->cap) {
		size_t cap = ps->hba->cap != 0 ? ps->hba->cap * 2 : 16;
		struct hba_rule *grown = realloc(ps->hba->rules,
		    cap * sizeof(*grown));

		if (grown == NULL) {
			parse_error(ps, "out of memory");
			goto fail;
		}
		ps->hba->rules = grown;
		ps->hba->cap = cap;
	}
	ps->hba->rules[ps->hba->n++] = r;
	return 0;
fail:
	rule_free(&r);
	return -1;
}

/* Free a parsed file. */
void
hba_free(struct hba *hba)
{
	if (hba == NULL)
		return;
	for (size_t i = 0; i < hba->n; i++)
		rule_free(&hba->rules[i]);
	free(hba->rules);
	free(hba);
}

/*
 * Parse the text of an hba file.  name is used in messages, which look
 * like "name:line: what is wrong"; basedir is where relative @file names
 * are found, and when it is NULL every @file reference is an error (so a
 * fuzzer never opens files).  A file without any record is an error too:
 * it would reject every login.
 */
struct hba *
hba_parse(const char *text, const char *name, const char *basedir,
    char *err, size_t errlen)
{
	struct hba_parser *ps;
	struct hba *hba;
	int rc;

	if (name == NULL)
		name = "auth_hba_file";
	if (text == NULL) {
		hba_error(err, errlen, "%s: no text", name);
		return NULL;
	}
	if (strnlen(text, HBA_FILE_MAX + 1) > HBA_FILE_MAX) {
		hba_error(err, errlen, "%s: file too large (over %d bytes)",
		    name, HBA_FILE_MAX);
		return NULL;
	}
	ps = calloc(1, sizeof(*ps));
	hba = calloc(1, sizeof(*hba));
	if (ps == NULL || hba == NULL) {
		hba_error(err, errlen, "out of memory");
		free(ps);
		free(hba);
		return NULL;
	}
	ps->hba = hba;
	ps->name = name;
	ps->basedir = basedir;
	ps->err = err;
	ps->errlen = errlen;
	reader_init(&ps->reader, text);
	while ((rc = reader_next(&ps->reader, &ps->line)) == 1) {
		if (parse_record(ps, ps->reader.buf) == -1)
			goto fail;
	}
	if (rc == -1) {
		parse_error(ps, "line too long (over %d bytes)", HBA_LINE_MAX);
		goto fail;
	}
	if (hba->n == 0) {
		hba_error(err, errlen, "%s: no records (it would reject every "
		    "login)", name);
		goto fail;
	}
	free(ps);
	return hba;
fail:
	free(ps);
	hba_free(hba);
	return NULL;
}

/* Read and parse an hba file; @file names are relative to its directory. */
struct hba *
hba_load(const char *path, char *err, size_t errlen)
{
	char msg[256], *text, *dir;
	const char *slash = strrchr(path, '/');
	struct hba *hba;

	text = file_read(path, HBA_FILE_MAX, NULL, msg, sizeof(msg));
	if (text == NULL) {
		hba_error(err, errlen, "%s: %s", path, msg);
		return NULL;
	}
	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL) {
		hba_error(err, errlen, "out of memory");
		free(text);
		return NULL;
	}
	hba = hba_parse(text, path, dir, err, errlen);
	free(dir);
	free(text);
	return hba;
}

/* Whether a list has an entry for name; user is for sameuser. */
static bool
list_has(const struct hba_list *l, const char *name, const char *user)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct hba_item *it = &l->items[i];

		switch (it->kind) {
		case HBA_ITEM_ALL:
			return true;
		case HBA_ITEM_SAMEUSER:
			if (user != NULL && strcmp(name, user) == 0)
				return true;
			break;
		case HBA_ITEM_REPLICATION:
			/* pgweir never carries replication connections */
			break;
		case HBA_ITEM_NAME:
			if (strcmp(name, it->name) == 0)
				return true;
			break;
		}
	}
	return false;
}

/* Whether an address of the given family is inside a rule's network. */
static bool
rule_has_addr(const struct hba_rule *r, int family, const uint8_t *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (r->family != family)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((a[i] & r->mask[i]) != r->addr[i])
			return false;
	return true;
}

/* Whether a record of this type applies to this kind of connection. */
static bool
rule_has_conn(const struct hba_rule *r, enum hba_conn conn)
{
	switch (r->type) {
	case HBA_TYPE_LOCAL:
		return conn == HBA_CONN_LOCAL;
	case HBA_TYPE_HOST:
		return conn == HBA_CONN_HOST_SSL || conn == HBA_CONN_HOST_NOSSL;
	case HBA_TYPE_HOSTSSL:
		return conn == HBA_CONN_HOST_SSL;
	case HBA_TYPE_HOSTNOSSL:
		return conn == HBA_CONN_HOST_NOSSL;
	}
	return false;
}

/*
 * Find the method for a login: the first record whose type, database,
 * user and address all match wins.  addr is ignored for local
 * connections; for TCP it must be a sockaddr_in or sockaddr_in6 (another
 * family, or NULL, matches only "all" records).  An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) matches IPv4 records as a.b.c.d, and IPv6
 * records as itself.  Returns 0 with *method (and *map, which may be NULL)
 * set; -1 when no record matches, with *method HBA_REJECT and *map NULL,
 * so the caller can tell "no entry" from "rejected by a rule" in its
 * message.  Allocates nothing.
 */
int
hba_match(const struct hba *hba, enum hba_conn conn, const char *database,
    const char *user, const struct sockaddr *addr, enum hba_method *method,
    const char **map)
{
	uint8_t a6[16], a4[4];
	int family = -1;
	bool mapped = false;

	if (method != NULL)
		*method = HBA_REJECT;
	if (map != NULL)
		*map = NULL;
	if (hba == NULL || database == NULL || user == NULL)
		return -1;
	if (conn != HBA_CONN_LOCAL && addr != NULL) {
		const char *sa = (const char *)addr;

		/* memcpy, not a cast: the caller's buffer may be unaligned */
		if (addr->sa_family == AF_INET) {
			family = AF_INET;
			memcpy(a4, sa + offsetof(struct sockaddr_in, sin_addr),
			    4);
		} else if (addr->sa_family == AF_INET6) {
			static const uint8_t prefix[12] = {
				0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
			};

			family = AF_INET6;
			memcpy(a6, sa + offsetof(struct sockaddr_in6,
			    sin6_addr), 16);
			if (memcmp(a6, prefix, sizeof(prefix)) == 0) {
				mapped = true;
				memcpy(a4, a6 + 12, 4);
			}
		}
	}
	for (size_t i = 0; i < hba->n; i++) {
		const struct hba_rule *r = &hba->rules[i];

		if (!rule_has_conn(r, conn))
			continue;
		if (r->type != HBA_TYPE_LOCAL && !r->addr_all &&
		    !(family == AF_INET && rule_has_addr(r, AF_INET, a4)) &&
		    !(family == AF_INET6 && rule_has_addr(r, AF_INET6, a6)) &&
		    !(mapped && rule_has_addr(r, AF_INET, a4)))
			continue;
		if (!list_has(&r->db, database, user) ||
		    !list_has(&r->user, user, NULL))
			continue;
		if (method != NULL)
			*method = r->method;
		if (map != NULL)
			*map = r->map;
		return 0;
	}
	return -1;
}

/* The method's name as written in the file. */
const char *
hba_method_name(enum hba_method m)
{
	if ((size_t)m < sizeof(method_names) / sizeof(method_names[0]) &&
	    method_names[m] != NULL)
		return method_names[m];
	return "unknown";
}
