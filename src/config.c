/* SPDX-License-Identifier: ISC */
/*
 * Configuration: ini files read with inih, driven by the options table.
 *
 * config_load() parses a file (and its %include files) into a fresh struct
 * config and validates it; on any error it returns NULL with a message of
 * the form "file:line: key: what is wrong" and nothing else changes, which
 * is what makes a reload with a bad file harmless.  A loaded config is never
 * modified again: reload builds a new one and swaps it in (see main.c), and
 * objects that still point into the old one hold a reference.
 *
 * inih is given lines through our own reader so that we can follow
 * %include, keep file:line for every message, strip indentation (inih would
 * take an indented line for a continuation) and keep lines longer than
 * inih's fixed 200-byte buffer: the handler takes the value from the full
 * raw line the reader kept, not from inih's possibly truncated copy.
 * Files are read whole through file_read(): only regular files, at most
 * FILE_CONF_MAX bytes for a file and everything it includes together.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgweir/config.h"
#include "pgweir/file.h"
#include "pgweir/log.h"

#define INCLUDE_DEPTH_MAX 8

enum section {
	SECT_NONE,
	SECT_MAIN,
	SECT_DATABASES,
	SECT_USERS,
	SECT_PEERS,
};

/* One open file of the %include stack, read whole by file_read(). */
struct source {
	char *text;		/* the file's contents; owned */
	size_t pos;		/* offset of the next line in text */
	char *path;		/* owned */
	int line;		/* number of the line last read */
};

/* The state of one config_load(): reader, handler, first error. */
struct parse_state {
	struct config *cfg;
	struct source stack[INCLUDE_DEPTH_MAX];
	int depth;		/* number of open sources */
	char *raw;	/* the full current line, indentation stripped */
	size_t rawcap;
	enum section section;
	bool failed;
	struct config_error *err;
	/* where the current line came from, for messages */
	const char *cur_path;
	int cur_line;
	const char *text;	/* config_load_string(): the text, or NULL */
	size_t text_pos;
	size_t total;		/* bytes of all files read, for FILE_CONF_MAX */
};

static void
parse_fail(struct parse_state *ps, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error with its file, line and key. */
static void
parse_fail(struct parse_state *ps, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	n = snprintf(ps->err->msg, sizeof(ps->err->msg), "%s:%d: ",
	    ps->cur_path ? ps->cur_path : "?", ps->cur_line);
	if (n < 0 || (size_t)n >= sizeof(ps->err->msg))
		return;
	if (key != NULL) {
		int m = snprintf(ps->err->msg + n, sizeof(ps->err->msg) - n,
		    "%s: ", key);
		if (m < 0 || (size_t)(n + m) >= sizeof(ps->err->msg))
			return;
		n += m;
	}
	va_start(ap, fmt);
	vsnprintf(ps->err->msg + n, sizeof(ps->err->msg) - n, fmt, ap);
	va_end(ap);
}

/* A warning with file:line, for keys that are known but not acted on. */
static void
parse_warn(struct parse_state *ps, const char *key, const char *msg)
{
	log_warning("%s:%d: %s: %s", ps->cur_path ? ps->cur_path : "?",
	    ps->cur_line, key, msg);
}

/* ---- the options table ---- */


/* Edit distance, for "did you mean"; names are short, so O(n*m) is fine. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	if (lb >= sizeof(row) / sizeof(row[0]) || la >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* The option name closest to a misspelt one, or NULL if none is close. */
static const char *
config_suggest_option(const char *name)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	size_t limit = strlen(name) / 3 + 1;

	for (size_t i = 0; i < config_n_options; i++) {
		size_t d = edit_distance(name, config_options[i].name);
		if (d < best_d) {
			best_d = d;
			best = config_options[i].name;
		}
	}
	if (best_d > limit && best_d > 2)
		return NULL;
	return best;
}

/* Parse a boolean the way PostgreSQL users write them. */
static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true", NULL };
	static const char *const no[] = { "0", "no", "off", "false", NULL };

	for (int i = 0; yes[i]; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
	for (int i = 0; no[i]; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	return -1;
}

/* Parse a whole decimal integer within [min, max]. */
static int
parse_int(const char *v, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	if (n < min || n > max)
		return -2;
	*out = n;
	return 0;
}

/*
 * Parse a duration: seconds with an optional fraction (PgBouncer's syntax)
 * or a number with a unit (ms, s, min, h, d).  Result in microseconds.
 */
static int
parse_time(const char *v, long long min_s, long long max_s, int64_t *out)
{
	static const struct {
		const char *unit;
		double scale;	/* seconds per unit */
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "min", 60 },
		{ "h", 3600 }, { "d", 86400 },
	};
	char *end;
	double n;

	errno = 0;
	n = strtod(v, &end);
	if (errno != 0 || end == v || !isfinite(n))
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double s = n * units[i].scale;
			if (s < (double)min_s || s > (double)max_s)
				return -2;
			*out = (int64_t)llround(s * 1e6);
			return 0;
		}
	}
	return -1;
}

/*
 * Set one option from its ini text.  On error, writes what is wrong to err
 * (without file, line or key: the caller adds them) and changes nothing.
 */
int
config_set_option(struct config *cfg, const struct config_option *opt,
    const char *value, char *err, size_t errlen)
{
	char *field = (char *)cfg + opt->offset;
	long long n;
	int b, rc;

	switch (opt->type) {
	case OPT_BOOL:
		if (parse_bool(value, &b) < 0) {
			snprintf(err, errlen, "invalid boolean \"%s\" (use 0 "
			    "or 1)", value);
			return -1;
		}
		*(int *)field = b;
		return 0;
	case OPT_INT:
		rc = parse_int(value, opt->min, opt->max, &n);
		if (rc == -1) {
			snprintf(err, errlen, "invalid integer \"%s\"", value);
			return -1;
		}
		if (rc == -2) {
			snprintf(err, errlen, "%s is out of range (%lld .. "
			    "%lld)", value, opt->min, opt->max);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	case OPT_OCTAL: {
		char *end;
		errno = 0;
		n = strtoll(value, &end, 8);
		if (errno != 0 || end == value || *end != '\0' ||
		    n < opt->min || n > opt->max) {
			snprintf(err, errlen, "invalid file mode \"%s\" (use "
			    "octal, like 0777)", value);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case OPT_TIME:
		rc = parse_time(value, opt->min, opt->max, (int64_t *)field);
		if (rc == -1) {
			snprintf(err, errlen, "invalid duration \"%s\" (use "
			    "seconds, or a number with ms, s, min, h or d)",
			    value);
			return -1;
		}
		if (rc == -2) {
			snprintf(err, errlen, "%s is out of range (%lld .. "
			    "%lld seconds)", value, opt->min, opt->max);
			return -1;
		}
		return 0;
	case OPT_ENUM:
		for (int i = 0; opt->choices[i] != NULL; i++) {
			if (strcasecmp(value, opt->choices[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		{
			size_t o = (size_t)snprintf(err, errlen,
			    "invalid value \"%s\" (choose one of", value);
			for (int i = 0; opt->choices[i] && o < errlen; i++)
				o += (size_t)snprintf(err + o, errlen - o,
				    "%s %s", i ? "," : "", opt->choices[i]);
			if (o < errlen)
				snprintf(err + o, errlen - o, ")");
		}
		return -1;
	case OPT_STRING: {
		char *copy = strdup(value);
		if (copy == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	}
	snprintf(err, errlen, "unknown option type");
	return -1;
}

/* Print an option's current value in ini syntax (as SHOW CONFIG shows it). */
int
config_format_option(const struct config *cfg, const struct config_option *opt,
    char *buf, size_t buflen)
{
	const char *field = (const char *)cfg + opt->offset;
	int64_t us;

	switch (opt->type) {
	case OPT_BOOL:
	case OPT_INT:
		return snprintf(buf, buflen, "%d", *(const int *)field);
	case OPT_OCTAL:
		return snprintf(buf, buflen, "0%o", *(const int *)field);
	case OPT_TIME:
		us = *(const int64_t *)field;
		if (us % 1000000 == 0)
			return snprintf(buf, buflen, "%lld",
			    (long long)(us / 1000000));
		return snprintf(buf, buflen, "%g", (double)us / 1e6);
	case OPT_ENUM:
		return snprintf(buf, buflen, "%s",
		    opt->choices[*(const int *)field]);
	case OPT_STRING: {
		const char *s = *(char *const *)field;
		return snprintf(buf, buflen, "%s", s ? s : "");
	}
	}
	return snprintf(buf, buflen, "?");
}

/* ---- life cycle ---- */

/* A config with every option at its default and no databases. */
struct config *
config_new_defaults(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	char err[256];

	if (cfg == NULL)
		return NULL;
	cfg->refcount = 1;
	for (size_t i = 0; i < config_n_options; i++) {
		if (config_set_option(cfg, &config_options[i],
		    config_options[i].def, err, sizeof(err)) < 0) {
			/* a broken table is a programming error */
			log_fatal("default of %s: %s", config_options[i].name,
			    err);
			abort();
		}
	}
	return cfg;
}

/* Take a reference. */
struct config *
config_ref(struct config *cfg)
{
	cfg->refcount++;
	return cfg;
}

/* Drop a reference; the last one frees everything the config owns. */
void
config_unref(struct config *cfg)
{
	if (cfg == NULL || --cfg->refcount > 0)
		return;
	for (size_t i = 0; i < config_n_options; i++)
		if (config_options[i].type == OPT_STRING)
			free(*(char **)((char *)cfg +
			    config_options[i].offset));
	for (size_t i = 0; i < cfg->n_databases; i++) {
		dbconf_free(cfg->databases[i]);
		free(cfg->databases[i]);
	}
	free(cfg->databases);
	if (cfg->fallback_db) {
		dbconf_free(cfg->fallback_db);
		free(cfg->fallback_db);
	}
	for (size_t i = 0; i < cfg->n_users; i++) {
		userconf_free(cfg->users[i]);
		free(cfg->users[i]);
	}
	free(cfg->users);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		dbconf_free(cfg->peers[i]);
		free(cfg->peers[i]);
	}
	free(cfg->peers);
	free(cfg);
}

/* ---- reading lines: the %include-aware reader given to inih ---- */

/*
 * Read a file whole and push it on the include stack.  The file and all
 * it includes must be regular files of at most FILE_CONF_MAX bytes in
 * all, so that "%include /dev/zero" or a directory fails cleanly.
 */
static int
source_push(struct parse_state *ps, const char *path)
{
	struct source *src;
	char msg[256], *text;
	size_t len;

	if (ps->depth >= INCLUDE_DEPTH_MAX) {
		parse_fail(ps, NULL, "%%include nested too deeply (at most "
		    "%d levels)", INCLUDE_DEPTH_MAX);
		return -1;
	}
	text = file_read(path, FILE_CONF_MAX, &len, msg, sizeof(msg));
	if (text != NULL && len > FILE_CONF_MAX - ps->total) {
		snprintf(msg, sizeof(msg), "the configuration with its "
		    "%%include files is over %d bytes", FILE_CONF_MAX);
		free(text);
		text = NULL;
	}
	if (text == NULL) {
		if (ps->depth == 0)
			snprintf(ps->err->msg, sizeof(ps->err->msg), "%s: %s",
			    path, msg);
		else
			parse_fail(ps, NULL, "%%include %s: %s", path, msg);
		ps->failed = true;
		return -1;
	}
	ps->total += len;
	src = &ps->stack[ps->depth++];
	src->text = text;
	src->pos = 0;
	src->path = strdup(path);
	src->line = 0;
	return 0;
}

/* Close the innermost source. */
static void
source_pop(struct parse_state *ps)
{
	struct source *src = &ps->stack[--ps->depth];

	free(src->text);
	free(src->path);
	src->text = NULL;
	src->path = NULL;
}

/*
 * Resolve an %include path.  Relative paths are taken relative to the
 * including file's directory (PgBouncer uses the working directory, which
 * under systemd is "/"; absolute paths behave the same in both).
 */
static char *
include_path(const char *including, const char *name)
{
	const char *slash;
	char *out;
	size_t dirlen;

	if (name[0] == '/' || (slash = strrchr(including, '/')) == NULL)
		return strdup(name);
	dirlen = (size_t)(slash - including);
	out = malloc(dirlen + strlen(name) + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, including, dirlen);
	out[dirlen] = '/';
	strcpy(out + dirlen + 1, name);
	return out;
}

/* Read one raw line of text at *pos into *buf; -1 at the end. */
static ssize_t
text_getline(const char *text, size_t *pos, char **buf, size_t *cap)
{
	const char *start = text + *pos;
	const char *nl;
	size_t len;

	if (*start == '\0')
		return -1;
	nl = strchr(start, '\n');
	len = nl ? (size_t)(nl - start) + 1 : strlen(start);
	if (len + 1 > *cap) {
		char *n = realloc(*buf, len + 1);
		if (n == NULL)
			return -1;
		*buf = n;
		*cap = len + 1;
	}
	memcpy(*buf, start, len);
	(*buf)[len] = '\0';
	*pos += len;
	return (ssize_t)len;
}

/* Whether a stripped line is something inih handles without us. */
static bool
line_is_blank_or_comment(const char *s)
{
	return *s == '\0' || *s == ';' || *s == '#';
}

/*
 * inih's reader: return the next line, following %include.  Lines are
 * stripped of indentation; syntax errors inih would report with its own
 * (include-unaware) line count are caught here with the right file:line.
 */
static char *
ini_reader_cb(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;

	for (;;) {
		ssize_t len;
		char *s, *e;

		if (ps->text != NULL) {
			len = text_getline(ps->text, &ps->text_pos, &ps->raw,
			    &ps->rawcap);
			if (len < 0)
				return NULL;
			ps->cur_line++;
		} else {
			struct source *src;
			if (ps->depth == 0)
				return NULL;
			src = &ps->stack[ps->depth - 1];
			len = text_getline(src->text, &src->pos, &ps->raw,
			    &ps->rawcap);
			if (len < 0) {
				source_pop(ps);
				continue;
			}
			src->line++;
			ps->cur_path = src->path;
			ps->cur_line = src->line;
		}
		/* strip the line ending, then both ends */
		s = ps->raw;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' ||
		    e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		memmove(ps->raw, s, (size_t)(e - s) + 1);

		if (strncmp(ps->raw, "%include", 8) == 0 &&
		    (ps->raw[8] == ' ' || ps->raw[8] == '\t')) {
			char *name = ps->raw + 9, *path;
			while (*name == ' ' || *name == '\t')
				name++;
			if (ps->text != NULL) {
				parse_fail(ps, NULL, "%%include is not allowed "
				    "here");
				continue;
			}
			path = include_path(ps->cur_path, name);
			if (path == NULL || source_push(ps, path) < 0) {
				free(path);
				return NULL;
			}
			free(path);
			continue;
		}
		if (!line_is_blank_or_comment(ps->raw) && ps->raw[0] != '[' &&
		    strchr(ps->raw, '=') == NULL) {
			parse_fail(ps, NULL, "syntax error: expected "
			    "\"key = value\", got \"%.60s\"", ps->raw);
			str[0] = '\0';
			return str;
		}
		/* inih only needs the key part; values come from ps->raw */
		snprintf(str, (size_t)num, "%s", ps->raw);
		if (strlen(ps->raw) >= (size_t)num) {
			/* keep the '=' inside inih's buffer or fail clearly */
			char *eq = strchr(ps->raw, '=');
			if (eq == NULL || eq - ps->raw >= num - 2) {
				parse_fail(ps, NULL, "line too long");
				str[0] = '\0';
			}
		}
		return str;
	}
}

/*
 * The value of the current "key = value" line, from the raw line: after the
 * first '=', trimmed, with a ';' comment removed when preceded by blank
 * space (inih's rule, applied to the whole line).
 */
static char *
raw_value(struct parse_state *ps)
{
	char *v = strchr(ps->raw, '=');
	char *e;

	if (v == NULL)
		return ps->raw + strlen(ps->raw);
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	for (e = v; *e; e++) {
		if (*e == ';' && e > v && (e[-1] == ' ' || e[-1] == '\t')) {
			*e = '\0';
			break;
		}
	}
	e = v + strlen(v);
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*e = '\0';
	return v;
}

/* Remove SQL-style double quotes around a database or user name. */
static void
unquote_name(char *name)
{
	size_t len = strlen(name), o = 0;

	if (len < 2 || name[0] != '"' || name[len - 1] != '"')
		return;
	for (size_t i = 1; i + 1 < len; i++) {
		if (name[i] == '"' && name[i + 1] == '"')
			i++;
		name[o++] = name[i];
	}
	name[o] = '\0';
}

/* Append a pointer to a growing array. */
static int
array_push(void ***arr, size_t *n, void *item)
{
	void **grown = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (grown == NULL)
		return -1;
	grown[(*n)++] = item;
	*arr = grown;
	return 0;
}

/* A key of the [pgweir] section. */
static int
handle_main_key(struct parse_state *ps, const char *name, const char *value)
{
	const struct config_option *opt = config_find_option(name);
	char err[384];

	if (opt == NULL) {
		const char *hint = config_suggest_option(name);
		if (hint != NULL)
			parse_fail(ps, name, "unknown key; did you mean "
			    "\"%s\"?", hint);
		else
			parse_fail(ps, name, "unknown key");
		return 0;
	}
	if (config_set_option(ps->cfg, opt, value, err, sizeof(err)) < 0) {
		parse_fail(ps, opt->name, "%s", err);
		return 0;
	}
	if ((opt->flags & OPT_LATER) && strcmp(value, opt->def) != 0)
		parse_warn(ps, opt->name, "pgweir does not implement this "
		    "setting yet; it is ignored");
	return 1;
}

/* A "name = connection string" line of [databases]. */
static int
handle_database(struct parse_state *ps, const char *name, const char *value)
{
	struct db_conf *db = calloc(1, sizeof(*db));
	char key[256], err[384];

	snprintf(key, sizeof(key), "%s", name);
	unquote_name(key);
	if (db == NULL || dbconf_parse(db, key, value, err, sizeof(err)) < 0) {
		parse_fail(ps, key, "%s", db ? err : "out of memory");
		if (db) {
			dbconf_free(db);
			free(db);
		}
		return 0;
	}
	if (strcmp(key, "*") == 0) {
		if (ps->cfg->fallback_db) {
			dbconf_free(ps->cfg->fallback_db);
			free(ps->cfg->fallback_db);
		}
		ps->cfg->fallback_db = db;
		return 1;
	}
	for (size_t i = 0; i < ps->cfg->n_databases; i++) {
		if (strcmp(ps->cfg->databases[i]->name, key) == 0) {
			parse_warn(ps, key, "database defined twice; the "
			    "later entry wins");
			dbconf_free(ps->cfg->databases[i]);
			free(ps->cfg->databases[i]);
			ps->cfg->databases[i] = db;
			return 1;
		}
	}
	if (array_push((void ***)&ps->cfg->databases, &ps->cfg->n_databases,
	    db) < 0) {
		dbconf_free(db);
		free(db);
		parse_fail(ps, key, "out of memory");
		return 0;
	}
	return 1;
}

/* A "name = settings" line of [users]. */
static int
handle_user(struct parse_state *ps, const char *name, const char *value)
{
	struct user_conf *u = calloc(1, sizeof(*u));
	char key[256], err[384];

	snprintf(key, sizeof(key), "%s", name);
	unquote_name(key);
	if (u == NULL || userconf_parse(u, key, value, err, sizeof(err)) < 0) {
		parse_fail(ps, key, "%s", u ? err : "out of memory");
		if (u) {
			userconf_free(u);
			free(u);
		}
		return 0;
	}
	for (size_t i = 0; i < ps->cfg->n_users; i++) {
		if (strcmp(ps->cfg->users[i]->name, key) == 0) {
			parse_warn(ps, key, "user defined twice; the later "
			    "entry wins");
			userconf_free(ps->cfg->users[i]);
			free(ps->cfg->users[i]);
			ps->cfg->users[i] = u;
			return 1;
		}
	}
	if (array_push((void ***)&ps->cfg->users, &ps->cfg->n_users, u) < 0) {
		userconf_free(u);
		free(u);
		parse_fail(ps, key, "out of memory");
		return 0;
	}
	return 1;
}

/*
 * A [peers] line: "id = host=... port=...", another process of the
 * peering group, where cancel requests for its clients are forwarded.
 */
static int
handle_peer(struct parse_state *ps, const char *name, const char *value)
{
	struct db_conf *peer;
	char *end, err[384] = "out of memory";
	long id = strtol(name, &end, 10);

	if (*name == '\0' || *end != '\0' || id < 1 || id > 16383) {
		parse_fail(ps, name, "a peer id is a number from 1 to 16383");
		return 0;
	}
	peer = calloc(1, sizeof(*peer));
	if (peer == NULL || dbconf_parse(peer, name, value, err,
	    sizeof(err)) < 0 || array_push((void ***)&ps->cfg->peers,
	    &ps->cfg->n_peers, peer) < 0) {
		parse_fail(ps, name, "%s", peer ? err : "out of memory");
		if (peer) {
			dbconf_free(peer);
			free(peer);
		}
		return 0;
	}
	return 1;
}

/* Map a section name; [pgbouncer] is read as [pgweir]. */
static enum section
section_parse(const char *name)
{
	if (strcasecmp(name, "pgweir") == 0 ||
	    strcasecmp(name, "pgbouncer") == 0)
		return SECT_MAIN;
	if (strcasecmp(name, "databases") == 0)
		return SECT_DATABASES;
	if (strcasecmp(name, "users") == 0)
		return SECT_USERS;
	if (strcasecmp(name, "peers") == 0)
		return SECT_PEERS;
	return SECT_NONE;
}

/* inih's handler: one "key = value" line of some section. */
static int
ini_handler_cb(void *user, const char *section, const char *name,
    const char *inih_value)
{
	struct parse_state *ps = user;
	char *value;

	(void)inih_value;	/* possibly truncated; use the raw line */
	if (ps->failed)
		return 1;
	value = raw_value(ps);
	switch (section_parse(section)) {
	case SECT_MAIN:
		return handle_main_key(ps, name, value);
	case SECT_DATABASES:
		return handle_database(ps, name, value);
	case SECT_USERS:
		return handle_user(ps, name, value);
	case SECT_PEERS:
		return handle_peer(ps, name, value);
	case SECT_NONE:
		if (section[0] == '\0')
			parse_fail(ps, name, "key outside of any section "
			    "(start the file with [pgweir])");
		else
			parse_fail(ps, name, "unknown section [%s] (expected "
			    "[pgweir], [databases] or [users])", section);
		return 0;
	}
	return 0;
}

/* ---- validation ---- */

/* Whether a database name is the admin console's ("pgweir" or an alias). */
static bool
config_is_console_name(const struct config *cfg, const char *name)
{
	return strcmp(name, "pgweir") == 0 ||
	    config_list_contains(cfg->admin_db_aliases, name);
}

/*
 * auth_dbname must name a database with PostgreSQL behind it: the console
 * has none, so naming it (globally or on an entry) is a config error, in
 * the words PgBouncer uses.  where is "auth_dbname" or the entry's name.
 */
static int
config_check_auth_dbname(const struct config *cfg, const char *where,
    const char *name, struct config_error *err, const char *path)
{
	if (name == NULL || !config_is_console_name(cfg, name))
		return 0;
	snprintf(err->msg, sizeof(err->msg), "%s: %s: cannot use the reserved "
	    "\"%s\" database as an auth_dbname", path, where, name);
	return -1;
}

/* Checks that need the whole file: combinations of keys. */
int
config_validate(struct config *cfg, struct config_error *err,
    const char *path)
{
	if (cfg->auth_type == AUTH_HBA &&
	    (cfg->auth_hba_file == NULL || cfg->auth_hba_file[0] == '\0')) {
		snprintf(err->msg, sizeof(err->msg), "%s: auth_type: hba "
		    "needs auth_hba_file", path);
		return -1;
	}
	if (cfg->auth_type == AUTH_CERT &&
	    cfg->client_tls_sslmode == TLS_DISABLE) {
		snprintf(err->msg, sizeof(err->msg), "%s: auth_type: cert "
		    "needs TLS (set client_tls_sslmode and its files)", path);
		return -1;
	}
	if (cfg->auth_type == AUTH_ANY) {
		for (size_t i = 0; i < cfg->n_databases; i++) {
			if (cfg->databases[i]->user == NULL) {
				snprintf(err->msg, sizeof(err->msg), "%s: %s: "
				    "auth_type = any needs user= in every "
				    "database entry", path,
				    cfg->databases[i]->name);
				return -1;
			}
		}
	}
	if (config_check_auth_dbname(cfg, "auth_dbname", cfg->auth_dbname,
	    err, path) < 0 || (cfg->fallback_db != NULL &&
	    config_check_auth_dbname(cfg, "*", cfg->fallback_db->auth_dbname,
	    err, path) < 0))
		return -1;
	for (size_t i = 0; i < cfg->n_databases; i++)
		if (config_check_auth_dbname(cfg, cfg->databases[i]->name,
		    cfg->databases[i]->auth_dbname, err, path) < 0)
			return -1;
	if (log_facility_parse(cfg->syslog_facility) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: syslog_facility: "
		    "unknown facility \"%s\"", path, cfg->syslog_facility);
		return -1;
	}
	return 0;
}

/* Shared tail of config_load and config_load_string. */
static struct config *
parse_with(struct parse_state *ps, const char *path)
{
	int rc;

	rc = ini_parse_stream(ini_reader_cb, ps, ini_handler_cb, ps);
	while (ps->depth > 0)
		source_pop(ps);
	free(ps->raw);
	if (!ps->failed && rc != 0) {
		snprintf(ps->err->msg, sizeof(ps->err->msg), "%s: could not "
		    "parse (%d)", path, rc);
		ps->failed = true;
	}
	if (!ps->failed && config_validate(ps->cfg, ps->err, path) < 0)
		ps->failed = true;
	if (ps->failed) {
		config_unref(ps->cfg);
		return NULL;
	}
	return ps->cfg;
}

/* Load and validate a config file; NULL with err filled in on error. */
struct config *
config_load(const char *path, struct config_error *err)
{
	struct parse_state ps = { .err = err };

	err->msg[0] = '\0';
	ps.cfg = config_new_defaults();
	if (ps.cfg == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	if (source_push(&ps, path) < 0) {
		config_unref(ps.cfg);
		return NULL;
	}
	if (ps.cfg->conffile[0] == '\0') {
		free(ps.cfg->conffile);
		ps.cfg->conffile = strdup(path);
	}
	return parse_with(&ps, path);
}

/* Load a config from text (tests and fuzzing); name is used in messages. */
struct config *
config_load_string(const char *text, const char *name,
    struct config_error *err)
{
	struct parse_state ps = { .err = err, .text = text, .cur_path = name };

	err->msg[0] = '\0';
	ps.cfg = config_new_defaults();
	if (ps.cfg == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	return parse_with(&ps, name);
}

/* ---- lookups ---- */

/* The [databases] entry of a name, or NULL (the "*" entry is not used). */
const struct db_conf *
config_find_db(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_databases; i++)
		if (strcmp(cfg->databases[i]->name, name) == 0)
			return cfg->databases[i];
	return NULL;
}

/* The [users] entry of a name, or NULL. */
const struct user_conf *
config_find_user(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_users; i++)
		if (strcmp(cfg->users[i]->name, name) == 0)
			return cfg->users[i];
	return NULL;
}

/* Whether a comma/space-separated list names an item (case-sensitive). */
bool
config_list_contains(const char *list, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = list;

	if (list == NULL)
		return false;
	while (*p) {
		const char *start, *end;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		end = p;
		if ((size_t)(end - start) == nlen &&
		    memcmp(start, name, nlen) == 0)
			return true;
	}
	return false;
}


/* Copy [databases] or [peers] entries by parsing their text again. */
static int
clone_entries(struct db_conf *const *src, size_t n, struct db_conf ***dst,
    size_t *n_dst)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		struct db_conf *db = calloc(1, sizeof(*db));
		if (db == NULL || dbconf_parse(db, src[i]->name,
		    src[i]->conninfo, err, sizeof(err)) < 0 ||
		    array_push((void ***)dst, n_dst, db) < 0) {
			if (db != NULL) {
				dbconf_free(db);
				free(db);
			}
			return -1;
		}
	}
	return 0;
}

/*
 * A deep copy of a config, for changing one option at runtime (SET in the
 * admin console) without touching the config that connections point to.
 */
struct config *
config_clone(const struct config *src)
{
	struct config *dst = malloc(sizeof(*dst));
	char err[256];

	if (dst == NULL)
		return NULL;
	memcpy(dst, src, sizeof(*dst));
	dst->refcount = 1;
	dst->databases = NULL;
	dst->n_databases = 0;
	dst->fallback_db = NULL;
	dst->users = NULL;
	dst->n_users = 0;
	dst->peers = NULL;
	dst->n_peers = 0;
	for (size_t i = 0; i < config_n_options; i++) {
		char **f = (char **)((char *)dst + config_options[i].offset);
		if (config_options[i].type == OPT_STRING)
			*f = *f ? strdup(*f) : NULL;
	}
	if (clone_entries(src->databases, src->n_databases, &dst->databases,
	    &dst->n_databases) < 0 || clone_entries(src->peers, src->n_peers,
	    &dst->peers, &dst->n_peers) < 0)
		goto fail;
	if (src->fallback_db != NULL) {
		dst->fallback_db = calloc(1, sizeof(*dst->fallback_db));
		if (dst->fallback_db == NULL ||
		    dbconf_parse(dst->fallback_db, "*",
		    src->fallback_db->conninfo, err, sizeof(err)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < src->n_users; i++) {
		struct user_conf *u = calloc(1, sizeof(*u));
		if (u == NULL || userconf_parse(u, src->users[i]->name,
		    src->users[i]->text, err, sizeof(err)) < 0 ||
		    array_push((void ***)&dst->users, &dst->n_users, u) < 0)
			goto fail;
	}
	return dst;
fail:
	config_unref(dst);
	return NULL;
}
