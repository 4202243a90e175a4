/* SPDX-License-Identifier: ISC */
/*
 * The auth_ident_file: PostgreSQL's user name maps (pg_ident.conf) in the
 * form PgBouncer reads them.  Each line is "map system-user user"; a peer
 * or cert rule of the auth_hba_file with map=NAME lets a client whose
 * proven name (the unix account, the certificate's common name) is
 * system-user log in as user, or as anyone when user is "all".  Names may
 * be double-quoted; '#' starts a comment.  Regular expressions and
 * +group are PostgreSQL's, not PgBouncer's, and are refused when the file
 * loads rather than silently never matching.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/file.h"
#include "pgweir/ident.h"

#define IDENT_FILE_MAX	(1024 * 1024)
#define IDENT_NAME_MAX	256

/* One line of the file. */
struct ident_line {
	char *map, *system_user, *user;		/* owned */
	bool any_user;				/* user is all, unquoted */
};

struct ident_map {
	struct ident_line *lines;
	size_t n, cap;
};

/*
 * The next blank-separated word of *pp into out (double quotes group and
 * are dropped); 1 for a word, 0 at the end of the line or a comment, -1
 * for one too long or an unterminated quote.
 */
static int
next_word(const char **pp, char *out, bool *quoted)
{
	const char *s = *pp;
	size_t n = 0;
	bool inq = false;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	if (*s == '\0' || *s == '#' || *s == '\n')
		return 0;
	*quoted = false;
	for (; *s && *s != '\n' && (inq || (*s != ' ' && *s != '\t' &&
	    *s != '\r' && *s != '#')); s++) {
		if (*s == '"') {
			inq = !inq;
			*quoted = true;
			continue;
		}
		if (n + 1 >= IDENT_NAME_MAX)
			return -1;
		out[n++] = *s;
	}
	out[n] = '\0';
	*pp = s;
	return inq ? -1 : 1;
}

/* Free a parsed file. */
void
ident_free(struct ident_map *map)
{
	if (map == NULL)
		return;
	for (size_t i = 0; i < map->n; i++) {
		free(map->lines[i].map);
		free(map->lines[i].system_user);
		free(map->lines[i].user);
	}
	free(map->lines);
	free(map);
}

/* Add one line; -1 when out of memory. */
static int
add_line(struct ident_map *m, char words[3][IDENT_NAME_MAX],
    const bool quoted[3])
{
	struct ident_line *l;

	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct ident_line *grown = realloc(m->lines,
		    cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		m->lines = grown;
		m->cap = cap;
	}
	l = &m->lines[m->n];
	l->map = strdup(words[0]);
	l->system_user = strdup(words[1]);
	l->user = strdup(words[2]);
	l->any_user = !quoted[2] && strcmp(words[2], "all") == 0;
	m->n++;
	return l->map && l->system_user && l->user ? 0 : -1;
}

/*
 * Parse the text of an ident file; name is used in messages, which look
 * like "name:line: what is wrong".
 */
struct ident_map *
ident_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct ident_map *m = calloc(1, sizeof(*m));
	const char *p = text;
	int line = 0;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (*p != '\0') {
		char words[3][IDENT_NAME_MAX], extra[IDENT_NAME_MAX];
		const char *eol = strchr(p, '\n');
		bool quoted[3], q;
		int n = 0, rc = 1;

		line++;
		while (n < 3 && (rc = next_word(&p, words[n], &quoted[n])) == 1)
			n++;
		if (rc == -1 || (n == 3 && next_word(&p, extra, &q) != 0)) {
			snprintf(err, errlen, "%s:%d: expected \"map "
			    "system-user user\"", name, line);
			goto fail;
		}
		if (n > 0 && n < 3) {
			snprintf(err, errlen, "%s:%d: missing %s", name, line,
			    n == 1 ? "system user and user" : "user");
			goto fail;
		}
		if (n == 3 && ((!quoted[1] && words[1][0] == '/') ||
		    (!quoted[2] && (words[2][0] == '+' ||
		    strchr(words[2], '\\') != NULL)))) {
			snprintf(err, errlen, "%s:%d: regular expressions and "
			    "+groups are not supported in an ident map", name,
			    line);
			goto fail;
		}
		if (n == 3 && add_line(m, words, quoted) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		p = eol ? eol + 1 : p + strlen(p);
	}
	return m;
fail:
	ident_free(m);
	return NULL;
}

/* Read and parse an ident file. */
struct ident_map *
ident_load(const char *path, char *err, size_t errlen)
{
	char msg[256], *text;
	struct ident_map *m;

	text = file_read(path, IDENT_FILE_MAX, NULL, msg, sizeof(msg));
	if (text == NULL) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return NULL;
	}
	m = ident_parse(text, path, err, errlen);
	free(text);
	return m;
}

/*
 * Whether map mapname lets a client proven to be system_user log in as
 * user.  No file (map NULL) allows nothing.
 */
bool
ident_allows(const struct ident_map *map, const char *mapname,
    const char *system_user, const char *user)
{
	for (size_t i = 0; map != NULL && i < map->n; i++) {
		const struct ident_line *l = &map->lines[i];
		if (strcmp(l->map, mapname) == 0 &&
		    strcmp(l->system_user, system_user) == 0 &&
		    (l->any_user || strcmp(l->user, user) == 0))
			return true;
	}
	return false;
}
