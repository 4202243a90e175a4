/* SPDX-License-Identifier: ISC */
/*
 * The configuration reference, written from the options table so it cannot
 * drift from it: as Markdown (docs/config.md, `--write-config-docs`), as
 * the manual page pgweir.ini(5) (`--write-config-man`, built by make) and
 * as the example file etc/pgweir.ini (`--write-example-config`).
 * test_config_docs compares the checked-in files with what this writes.
 *
 * The prose is kept once, in Markdown's inline syntax (`code`, *emphasis*),
 * and each writer renders it; the man page's renderer turns the two marks
 * into fonts and escapes what roff would read as requests.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pgweir/config.h"

/* The text before the [pgweir] keys, one paragraph per string. */
static const char *const intro[] = {
	"pgweir reads an ini file with the sections `[pgweir]`, "
	"`[databases]` and `[users]`. A file written for PgBouncer works "
	"too: `[pgbouncer]` is read as `[pgweir]`, and keys that mean the "
	"same thing have the same names and defaults. `%include FILE` "
	"inserts another file (a relative name is taken relative to the "
	"including file). Lines starting with `;` or `#` are comments, "
	"and so is the rest of a line after ` ;`.",
	"pgweir reads only regular files: the config file, every "
	"`%include`, the TLS certificate, key and CA files, "
	"`auth_file` and `auth_hba_file` (and its `@file`s). A "
	"directory, a device such as `/dev/zero`, a FIFO, a file "
	"holding a NUL byte or a file over its size bound is refused "
	"with an error naming it. The bounds: 16 MB for the config file "
	"and all it includes together, 16 MB for each TLS file, 64 MB "
	"for `auth_file`, 1 MB for `auth_hba_file` and each of its "
	"`@file`s.",
	"A bad file is refused as a whole with `file:line: key: what is "
	"wrong`: at start-up pgweir exits, and on reload (SIGHUP or "
	"RELOAD) it logs the error and keeps running with the old "
	"configuration. An unknown key is an error (with a suggestion "
	"when it looks misspelt); a PgBouncer key that pgweir does not "
	"implement yet is accepted with a warning that names it.",
	"Reload: *yes* means the new value applies to new work after a "
	"reload; *no* means it needs a restart.",
	NULL,
};

static const char databases_intro[] =
	"Each line is `name = connection string`. `name` is what clients "
	"ask for; quote it with double quotes if it has other characters "
	"than letters, digits and `_`. The connection string is a libpq "
	"one (`key=value` pairs, or a `postgresql://` URI) and is parsed "
	"with libpq's `PQconninfoParse`, with these keys honoured:";

/* A two-column table: a key and what it means. */
struct doc_row {
	const char *key, *meaning;
};

static const struct doc_row libpq_keys[] = {
	{ "host", "host name, IP address or unix socket directory "
	  "(default: unix_socket_dir); or a comma-separated list of them, "
	  "used as load_balance_hosts says" },
	{ "hostaddr", "IP address, used when host is not given" },
	{ "port", "port (default 5432); with a host list, one port for "
	  "all or a comma-separated port per host" },
	{ "dbname", "database on the server (default: the entry's name)" },
	{ "user", "forced server user: all clients of this database share "
	  "one pool as this user" },
	{ "password", "password of the forced user" },
	{ "application_name", "application_name for server connections" },
	{ "client_encoding", "client_encoding requested at server "
	  "connect" },
	{ "target_session_attrs", "which server of the host list the "
	  "database's server connections may use, as in libpq: `any` (the "
	  "default), `read-write`, `read-only`, `primary`, `standby` or "
	  "`prefer-standby`; decided from what PostgreSQL 14 and later "
	  "report at login (`in_hot_standby`, "
	  "`default_transaction_read_only`), so it costs no round trip "
	  "(older servers are asked with one query at login); "
	  "a host that does not fit or cannot be reached sends the next "
	  "connection to the next host at once, and a primary that goes "
	  "away is followed to the standby promoted in its place (see "
	  "deployment.md)" },
	{ NULL, NULL },
};

static const struct doc_row pooler_keys[] = {
	{ "pool_size", "pool size of this database's pools "
	  "(default_pool_size otherwise)" },
	{ "min_pool_size", "per-database min_pool_size" },
	{ "load_balance_hosts", "with a host list: `round-robin` (the "
	  "default: each new server connection takes the next host) or "
	  "`disable` (the same host until a connect to it fails, then the "
	  "next), as in PgBouncer 1.24" },
	{ "reserve_pool_size (alias reserve_pool)", "per-database "
	  "reserve_pool_size" },
	{ "max_db_connections", "per-database max_db_connections" },
	{ "max_db_client_connections", "per-database "
	  "max_db_client_connections" },
	{ "server_lifetime", "per-database server_lifetime" },
	{ "query_wait_timeout", "per-database query_wait_timeout" },
	{ "pool_mode", "per-database pool_mode" },
	{ "auth_user, auth_query, auth_dbname", "per-database "
	  "auth_query settings" },
	{ "connect_query", "query run once on each new server "
	  "connection, after its login and before anyone uses it (an "
	  "error in it is logged and ignored)" },
	{ "datestyle, timezone", "DateStyle and TimeZone requested at "
	  "server connect" },
	{ NULL, NULL },
};

static const char databases_outro[] =
	"Other libpq keys (such as sslmode) are refused with an error "
	"naming them. The entry `*` is the fallback: a client asking for "
	"an unknown database `x` is served as if `x = <the * entry> "
	"dbname=x` were written. The names `pgweir` and `pgbouncer` are "
	"reserved for the admin console.";

static const char users_text[] =
	"Each line is `user = key=value ...` with the keys pool_mode, "
	"pool_size, reserve_pool_size, max_user_connections, "
	"max_user_client_connections, query_timeout, "
	"idle_transaction_timeout, transaction_timeout, "
	"client_idle_timeout and query_wait_timeout. A user's setting "
	"overrides the database's, which overrides the global one.";

/* A human name for an option's type. */
static const char *
type_name(const struct config_option *opt)
{
	switch (opt->type) {
	case OPT_BOOL:
		return "boolean";
	case OPT_INT:
		return "integer";
	case OPT_TIME:
		return "duration (seconds, or with a unit: ms, s, min, h, d)";
	case OPT_STRING:
		return "string";
	case OPT_ENUM:
		return "enum";
	case OPT_OCTAL:
		return "file mode (octal)";
	}
	return "?";
}

/*
 * One output format: how it writes a run of prose (with `code` and
 * *emphasis* marks), a heading, a paragraph break, a table and the
 * facts of one option.
 */
struct doc_format {
	void (*heading)(FILE *out, int level, const char *title);
	void (*prose)(FILE *out, const char *text);
	void (*paragraph_end)(FILE *out);
	void (*table)(FILE *out, const struct doc_row *rows);
	void (*item)(FILE *out, const char *label); /* starts an option */
	void (*fact)(FILE *out, const char *text);  /* one "- x: y" line */
	void (*facts_end)(FILE *out);
};

/* The facts of one option, as prose lines for fmt->fact. */
static void
write_option(FILE *out, const struct doc_format *fmt,
    const struct config_option *o)
{
	char line[1024];
	size_t n;

	fmt->item(out, o->name);
	n = (size_t)snprintf(line, sizeof(line), "type: %s", type_name(o));
	if (o->type == OPT_ENUM) {
		n += (size_t)snprintf(line + n, sizeof(line) - n, " (");
		for (int c = 0; o->choices[c] && n < sizeof(line); c++)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "%s`%s`", c ? ", " : "", o->choices[c]);
		if (n < sizeof(line))
			snprintf(line + n, sizeof(line) - n, ")");
	} else if (o->type == OPT_INT || o->type == OPT_TIME) {
		snprintf(line + n, sizeof(line) - n, ", %lld to %lld", o->min,
		    o->max);
	}
	fmt->fact(out, line);
	if (o->def[0])
		snprintf(line, sizeof(line), "default: `%s`", o->def);
	else
		snprintf(line, sizeof(line), "default: empty");
	fmt->fact(out, line);
	fmt->fact(out, (o->flags & OPT_RELOAD) ? "reload: yes" :
	    "reload: no");
	if (o->flags & OPT_LATER)
		fmt->fact(out, "status: accepted for compatibility, not "
		    "implemented yet (a non-default value logs a warning)");
	if (o->flags & OPT_PGWEIR)
		fmt->fact(out, "pgweir only (PgBouncer has no such key)");
	if (o->flags & (OPT_DB | OPT_USER)) {
		snprintf(line, sizeof(line), "per %s%s%s: `%s`",
		    (o->flags & OPT_DB) ? "database ([databases])" : "",
		    (o->flags & OPT_DB) && (o->flags & OPT_USER) ?
		    " and per " : "",
		    (o->flags & OPT_USER) ? "user ([users])" : "",
		    config_entry_key(o));
		fmt->fact(out, line);
	}
	fmt->facts_end(out);
	fmt->prose(out, o->help);
	fmt->paragraph_end(out);
}

/* The body of the reference, the same in every format. */
static void
write_reference(FILE *out, const struct doc_format *fmt)
{
	for (int i = 0; intro[i]; i++) {
		fmt->prose(out, intro[i]);
		fmt->paragraph_end(out);
	}
	fmt->heading(out, 1, "Section [pgweir]");
	for (size_t i = 0; i < config_n_options; i++)
		write_option(out, fmt, &config_options[i]);
	fmt->heading(out, 1, "Section [databases]");
	fmt->prose(out, databases_intro);
	fmt->paragraph_end(out);
	fmt->table(out, libpq_keys);
	fmt->prose(out, "and these pooler keys:");
	fmt->paragraph_end(out);
	fmt->table(out, pooler_keys);
	fmt->prose(out, databases_outro);
	fmt->paragraph_end(out);
	fmt->heading(out, 1, "Section [users]");
	fmt->prose(out, users_text);
	fmt->paragraph_end(out);
}

/* ---- Markdown ---- */

static void
md_heading(FILE *out, int level, const char *title)
{
	fprintf(out, "%s %s\n\n", level == 1 ? "##" : "###", title);
}

static void
md_prose(FILE *out, const char *text)
{
	fputs(text, out);
}

static void
md_paragraph_end(FILE *out)
{
	fputs("\n\n", out);
}

static void
md_table(FILE *out, const struct doc_row *rows)
{
	fputs("| key | meaning |\n|---|---|\n", out);
	for (; rows->key; rows++)
		fprintf(out, "| %s | %s |\n", rows->key, rows->meaning);
	fputs("\n", out);
}

static void
md_item(FILE *out, const char *label)
{
	fprintf(out, "### %s\n\n", label);
}

static void
md_fact(FILE *out, const char *text)
{
	fprintf(out, "- %s\n", text);
}

static void
md_facts_end(FILE *out)
{
	fputs("\n", out);
}

static const struct doc_format markdown = {
	md_heading, md_prose, md_paragraph_end, md_table, md_item, md_fact,
	md_facts_end,
};

/* Write the configuration reference in Markdown. */
int
config_write_docs(FILE *out)
{
	fputs("# Configuration reference\n\n"
	    "<!-- Generated by `pgweir --write-config-docs` from the options "
	    "table in src/options.c; do not edit by hand. -->\n\n", out);
	write_reference(out, &markdown);
	return ferror(out) ? -1 : 0;
}

/* ---- roff, man(7) macros ---- */

/*
 * Prose as roff text: `code` in bold, *emphasis* in italics, a backslash
 * as \e, a hyphen inside code as \- (so it is not broken or turned into a
 * dash), and \& before a character that would make a line a request.
 */
static void
man_prose(FILE *out, const char *text)
{
	bool code = false, emph = false, line_start = true;

	for (const char *p = text; *p; p++) {
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", out);
		line_start = false;
		switch (*p) {
		case '`':
			code = !code;
			fputs(code ? "\\fB" : "\\fR", out);
			break;
		case '*':
			/* an asterisk inside code, or alone, is literal */
			if (code || (!emph && (p[1] == ' ' || p[1] == '\0'))) {
				fputc('*', out);
				break;
			}
			emph = !emph;
			fputs(emph ? "\\fI" : "\\fR", out);
			break;
		case '\\':
			fputs("\\e", out);
			break;
		case '-':
			fputs(code ? "\\-" : "-", out);
			break;
		case '\n':
			fputc('\n', out);
			line_start = true;
			break;
		default:
			fputc(*p, out);
		}
	}
	if (code || emph)
		fputs("\\fR", out);
}

static void
man_heading(FILE *out, int level, const char *title)
{
	fprintf(out, "%s ", level == 1 ? ".SH" : ".SS");
	/* headings of sections are upper case by convention */
	for (const char *p = title; *p; p++)
		fputc(level == 1 && *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' :
		    *p, out);
	fputs("\n", out);
}

static void
man_paragraph_end(FILE *out)
{
	fputs("\n.PP\n", out);
}

static void
man_table(FILE *out, const struct doc_row *rows)
{
	for (; rows->key; rows++) {
		fputs(".TP\n.B ", out);
		man_prose(out, rows->key);
		fputs("\n", out);
		man_prose(out, rows->meaning);
		fputs("\n", out);
	}
	fputs(".PP\n", out);
}

static void
man_item(FILE *out, const char *label)
{
	fputs(".SS ", out);
	man_prose(out, label);
	fputs("\n", out);
}

static void
man_fact(FILE *out, const char *text)
{
	/* the first letter up, as the start of a line of its own */
	fputc(text[0] >= 'a' && text[0] <= 'z' ? text[0] - 'a' + 'A' :
	    text[0], out);
	man_prose(out, text + 1);
	fputs(".\n.br\n", out);
}

static void
man_facts_end(FILE *out)
{
	fputs(".PP\n", out);
}

static const struct doc_format roff = {
	man_heading, man_prose, man_paragraph_end, man_table, man_item,
	man_fact, man_facts_end,
};

/* Write the manual page pgweir.ini(5). */
int
config_write_man(FILE *out)
{
	fputs(".\\\" Generated by `pgweir --write-config-man` from the options "
	    "table in src/options.c; do not edit by hand.\n", out);
	fprintf(out, ".TH PGWEIR.INI 5 \"\" \"pgweir %s\" \"pgweir manual\"\n",
	    PACKAGE_VERSION);
	fputs(".SH NAME\n"
	    "pgweir.ini \\- configuration file of the pgweir connection "
	    "pooler\n"
	    ".SH SYNOPSIS\n"
	    ".B /etc/pgweir/pgweir.ini\n"
	    ".SH DESCRIPTION\n", out);
	write_reference(out, &roff);
	fputs(".SH FILES\n"
	    ".TP\n.B /etc/pgweir/pgweir.ini\n"
	    "the configuration of the packaged service\n"
	    ".TP\n.B /usr/share/doc/pgweir/examples/pgweir.ini\n"
	    "every key, commented, at its default\n"
	    ".SH SEE ALSO\n"
	    ".BR pgweir (1),\n"
	    ".BR psql (1)\n", out);
	return ferror(out) ? -1 : 0;
}

/* ---- the example file ---- */

/* Write a help text as ini comments wrapped at 78 columns. */
static void
write_wrapped_comment(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t take = strlen(p);
		if (take > 74) {
			take = 74;
			while (take > 0 && p[take] != ' ')
				take--;
			if (take == 0)
				take = 74;
		}
		fprintf(out, ";; %.*s\n", (int)take, p);
		p += take;
		while (*p == ' ')
			p++;
	}
}
/* Write the example configuration: every key, commented, at its default. */
int
config_write_example(FILE *out)
{
	fputs(";; pgweir example configuration.\n"
	    ";; Generated by `pgweir --write-example-config` from the options "
	    "table;\n"
	    ";; every key is shown at its default. See docs/config.md.\n\n"
	    "[databases]\n"
	    ";; name = libpq connection string plus pooler keys\n"
	    "; postgres = host=/var/run/postgresql port=5432 dbname=postgres\n"
	    "; app = host=127.0.0.1 dbname=app pool_size=10 "
	    "pool_mode=transaction\n"
	    ";; fallback for any other database name\n"
	    "; * = host=/var/run/postgresql\n\n"
	    "[users]\n"
	    "; batch = pool_mode=session pool_size=2\n\n"
	    "[pgweir]\n", out);
	for (size_t i = 0; i < config_n_options; i++) {
		const struct config_option *o = &config_options[i];
		fputs("\n", out);
		write_wrapped_comment(out, o->help);
		if (o->flags & OPT_LATER)
			fputs(";; (not implemented yet)\n", out);
		fprintf(out, ";%s = %s\n", o->name, o->def);
	}
	return ferror(out) ? -1 : 0;
}
