/* SPDX-License-Identifier: ISC */
/*
 * The auth_file, in PgBouncer's format: each line holds at least two
 * double-quoted fields, the user name and its secret; a doubled "" inside
 * a field is a literal quote; the rest of the line is ignored.  Blank lines
 * and lines starting with ';' or '#' are comments.
 *
 * The file is read whole at start-up and on reload (never per login; it
 * must be a regular file of at most FILE_AUTH_MAX bytes), and
 * a file with an error is refused whole so that a reload keeps the old one.
 * Secrets are never logged, not even in error messages.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/authfile.h"
#include "pgweir/file.h"

/* Read one quoted field at *p into a new string; NULL on syntax error. */
static char *
read_quoted(const char **p)
{
	const char *s = *p;
	char *out, *o;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '"')
		return NULL;
	s++;
	out = malloc(strlen(s) + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (;;) {
		if (*s == '\0' || *s == '\n') {
			free(out);
			return NULL;
		}
		if (*s == '"') {
			if (s[1] == '"') {
				*o++ = '"';
				s += 2;
				continue;
			}
			s++;
			break;
		}
		*o++ = *s++;
	}
	*o = '\0';
	*p = s;
	return out;
}

/* Order entries by name, then by their order in the file. */
static int
entry_cmp(const void *a, const void *b)
{
	const struct authfile_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (x->order > y->order) - (x->order < y->order);
}

/* Free a parsed file. */
void
authfile_free(struct authfile *af)
{
	if (af == NULL)
		return;
	for (size_t i = 0; i < af->n; i++) {
		free(af->entries[i].name);
		if (af->entries[i].secret) {
			/* do not leave secrets lying around in freed memory */
			memset(af->entries[i].secret, 0,
			    strlen(af->entries[i].secret));
			free(af->entries[i].secret);
		}
	}
	free(af->entries);
	free(af);
}

/* Parse the text of an auth file; name is used in error messages. */
struct authfile *
authfile_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct authfile *af = calloc(1, sizeof(*af));
	size_t cap = 0;
	int line = 0;
	const char *p = text;

	if (af == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (*p) {
		const char *eol = strchr(p, '\n'), *s = p;
		struct authfile_entry e;

		line++;
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (*s == '\n' || *s == '\0' || *s == ';' || *s == '#')
			goto next;
		e.name = read_quoted(&s);
		e.secret = e.name ? read_quoted(&s) : NULL;
		if (e.name == NULL || e.secret == NULL || e.name[0] == '\0') {
			snprintf(err, errlen, "%s:%d: expected \"user\" "
			    "\"secret\"", name, line);
			free(e.name);
			free(e.secret);
			authfile_free(af);
			return NULL;
		}
		if (af->n == cap) {
			struct authfile_entry *grown;
			cap = cap ? cap * 2 : 16;
			grown = realloc(af->entries, cap * sizeof(*grown));
			if (grown == NULL) {
				free(e.name);
				free(e.secret);
				authfile_free(af);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			af->entries = grown;
		}
		e.order = af->n;
		af->entries[af->n++] = e;
next:
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	/* an empty file has no array at all: qsort() must not see NULL */
	if (af->n > 1)
		qsort(af->entries, af->n, sizeof(af->entries[0]), entry_cmp);
	/* a user listed twice: the later line wins, as PgBouncer does */
	{
		size_t kept = 0;
		for (size_t i = 0; i < af->n; i++) {
			if (i + 1 < af->n && strcmp(af->entries[i].name,
			    af->entries[i + 1].name) == 0) {
				free(af->entries[i].name);
				free(af->entries[i].secret);
				continue;
			}
			af->entries[kept++] = af->entries[i];
		}
		af->n = kept;
	}
	for (size_t i = 0; i < af->n; i++)
		if (strncmp(af->entries[i].secret, "SCRAM-SHA-256$", 14) == 0)
			af->n_scram++;
	return af;
}

/* Read and parse an auth file (a regular file of at most FILE_AUTH_MAX). */
struct authfile *
authfile_load(const char *path, char *err, size_t errlen)
{
	struct authfile *af;
	char msg[256], *text;
	size_t len;

	text = file_read(path, FILE_AUTH_MAX, &len, msg, sizeof(msg));
	if (text == NULL) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return NULL;
	}
	af = authfile_parse(text, path, err, errlen);
	memset(text, 0, len);
	free(text);
	return af;
}

/* The entry of a user, or NULL. */
const struct authfile_entry *
authfile_find(const struct authfile *af, const char *user)
{
	size_t lo = 0, hi;

	if (af == NULL)
		return NULL;
	hi = af->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(user, af->entries[mid].name);
		if (c == 0)
			return &af->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
