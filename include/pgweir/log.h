/* pgweir: logging. */
#ifndef PGWEIR_LOG_H
#define PGWEIR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Severity, most severe first; LOG is the default threshold. */
enum log_level {
	LOG_LVL_FATAL,
	LOG_LVL_ERROR,
	LOG_LVL_WARNING,
	LOG_LVL_LOG,
	LOG_LVL_DEBUG,
	LOG_LVL_NOISE,
};

/* Layout of a line (log_format). */
enum log_format {
	LOG_FORMAT_TEXT,	/* PgBouncer's, which its log tools read */
	LOG_FORMAT_JSON,	/* one JSON object per line */
};

/* Where log lines go; set at start-up and on reload. */
struct log_settings {
	int verbose;		/* 0: LOG, 1: DEBUG, 2+: NOISE */
	enum log_format format;
	bool quiet;		/* no stderr output (-q, or -d) */
	const char *logfile;	/* NULL or "": no file */
	bool syslog;		/* also send to syslog */
	const char *syslog_ident;
	const char *syslog_facility;
};

int log_configure(const struct log_settings *s);
void log_fini(void);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The connection a line is about: text lines show it as PgBouncer does,
 * "C-0x55d0c1a2b3c0: db/user@addr", JSON lines as fields.  Strings may come
 * from the network (they are escaped); NULL where unknown.
 */
struct log_conn {
	char kind;		/* 'C' client, 'S' server, 'A' auth_query */
	const void *ptr;	/* the object SHOW's ptr names, or NULL */
	uint64_t id;		/* SHOW's id, or 0 */
	const char *db;		/* database */
	const char *user;
	const char *addr;	/* peer: "1.2.3.4:5432", "unix", or NULL */
	const char *text;	/* the whole text prefix when it is not
				 * "db/user@addr" (auth_query's), or NULL */
};

void log_vconn(enum log_level level, const struct log_conn *conn,
    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
size_t log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);
int log_facility_parse(const char *name);

#define log_fatal(...) log_msg(LOG_LVL_FATAL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_LOG, __VA_ARGS__)
#define log_debug(...)                                                  \
	do {                                                            \
		if (log_enabled(LOG_LVL_DEBUG))                         \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);            \
	} while (0)
#define log_noise(...)                                                  \
	do {                                                            \
		if (log_enabled(LOG_LVL_NOISE))                         \
			log_msg(LOG_LVL_NOISE, __VA_ARGS__);            \
	} while (0)

#endif
