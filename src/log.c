/* SPDX-License-Identifier: ISC */
/*
 * Logging: one line per event, to stderr, a log file and/or syslog.
 *
 * Every line carries a timestamp, the process id and a level; connection
 * modules describe their connection (struct log_conn), which a text line
 * shows as PgBouncer's "C-0x55d0c1a2b3c0: db/user@addr:port" prefix and a
 * JSON line (log_format = json) as fields.
 * The log file stays open and is reopened on reload so that logrotate can
 * move it away.  Nothing here allocates: lines are formatted on the stack.
 *
 * Escaping happens here, once, for every line (in JSON lines, JSON's
 * escapes, with every byte outside printable ASCII as \u00XX): the prefix
 * and the message
 * (which carry user and database names, startup parameters, SCRAM user
 * names, the server's error texts ...) pass through log_escape(), so no
 * string from the network can end a line early, forge another one or
 * send terminal escapes, whichever call site printed it.  Callers pass
 * such strings raw and never escape them themselves (that would escape
 * twice).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pgweir/log.h"

#define LOG_LINE_MAX 4096

static struct {
	int verbose;
	enum log_format format;	/* log_format */
	bool quiet;
	int fd;			/* log file, or -1 */
	char *path;		/* log file path, owned */
	bool use_syslog;
	char *ident;	/* syslog ident, owned (openlog keeps the pointer) */
} logstate = { .fd = -1 };

static const char *const level_names[] = {
	[LOG_LVL_FATAL] = "FATAL",
	[LOG_LVL_ERROR] = "ERROR",
	[LOG_LVL_WARNING] = "WARNING",
	[LOG_LVL_LOG] = "LOG",
	[LOG_LVL_DEBUG] = "DEBUG",
	[LOG_LVL_NOISE] = "NOISE",
};

static const int syslog_prio[] = {
	[LOG_LVL_FATAL] = LOG_CRIT,
	[LOG_LVL_ERROR] = LOG_ERR,
	[LOG_LVL_WARNING] = LOG_WARNING,
	[LOG_LVL_LOG] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
	[LOG_LVL_NOISE] = LOG_DEBUG,
};

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* Map a syslog facility name to its value; -1 when unknown. */
int
log_facility_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcmp(facilities[i].name, name) == 0)
			return facilities[i].value;
	return -1;
}

/*
 * Apply new settings.  A file that cannot be opened is an error and keeps
 * the old file, so that a reload with a bad path loses no log lines.
 */
int
log_configure(const struct log_settings *s)
{
	char *newpath = NULL;
	int fd = -1;

	if (s->logfile != NULL && s->logfile[0] != '\0') {
		newpath = strdup(s->logfile);
		if (newpath == NULL)
			return -1;
		fd = open(newpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0640);
		if (fd < 0) {
			log_error("could not open log file \"%s\": %s",
			    newpath, strerror(errno));
			free(newpath);
			return -1;
		}
	}
	if (logstate.fd >= 0)
		close(logstate.fd);
	free(logstate.path);
	logstate.fd = fd;
	logstate.path = newpath;
	logstate.verbose = s->verbose;
	logstate.format = s->format;
	logstate.quiet = s->quiet;

	if (logstate.use_syslog)
		closelog();
	free(logstate.ident);
	logstate.ident = NULL;
	logstate.use_syslog = s->syslog;
	if (s->syslog) {
		int facility = log_facility_parse(
		    s->syslog_facility ? s->syslog_facility : "daemon");
		logstate.ident = strdup(s->syslog_ident ? s->syslog_ident :
		    "pgweir");
		openlog(logstate.ident, LOG_PID,
		    facility < 0 ? LOG_DAEMON : facility);
	}
	return 0;
}

/* Close everything (at exit). */
void
log_fini(void)
{
	if (logstate.fd >= 0)
		close(logstate.fd);
	logstate.fd = -1;
	free(logstate.path);
	logstate.path = NULL;
	if (logstate.use_syslog)
		closelog();
	free(logstate.ident);
	logstate.ident = NULL;
	logstate.use_syslog = false;
}

/* Whether a line at this level would be written anywhere. */
bool
log_enabled(enum log_level level)
{
	if (level <= LOG_LVL_LOG)
		return true;
	return (int)level - (int)LOG_LVL_LOG <= logstate.verbose;
}

/* Write the whole buffer, retrying on EINTR; logging must not fail loudly. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* The line's time, pid and level in text form; returns the length. */
static size_t
text_head(char *line, size_t size, const struct timeval *tv,
    enum log_level level)
{
	struct tm tm;
	size_t head;
	int n;

	gmtime_r(&tv->tv_sec, &tm);
	head = strftime(line, size, "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + head, size - head, ".%03d UTC [%d] %s ",
	    (int)(tv->tv_usec / 1000), (int)getpid(), level_names[level]);
	return head + (n > 0 ? (size_t)n : 0);
}

/* PgBouncer's connection prefix: "C-0x...: db/user@addr " (raw). */
static size_t
text_prefix(char *buf, size_t size, const struct log_conn *c)
{
	int n;

	if (c == NULL)
		return 0;
	if (c->text != NULL)
		n = snprintf(buf, size, "%s ", c->text);
	else
		n = snprintf(buf, size, "%c-%p: %s/%s%s%s ", c->kind, c->ptr,
		    c->db ? c->db : "(nodb)", c->user ? c->user : "(nouser)",
		    c->addr ? "@" : "", c->addr ? c->addr : "");
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/*
 * The length of a well-formed UTF-8 sequence of two to four bytes at p
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF),
 * or 0.
 */
static size_t
utf8_len(const unsigned char *p, size_t avail)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n > avail || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Append "key":"value" (with a comma before all but the first), the
 * value JSON-escaped: quote and backslash escaped, well-formed UTF-8
 * kept, and every other byte outside printable ASCII (controls, invalid
 * UTF-8) as \u00XX, so that any bytes from the network make valid JSON
 * and one line.  Returns the new length; stops short of size.
 */
static size_t
json_str(char *out, size_t o, size_t size, const char *key,
    const char *val, size_t vlen)
{
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(out + o, size - o, "%s\"%s\":\"", o > 1 ? "," : "",
	    key);

	if (n < 0 || (size_t)n >= size - o)
		return o;
	o += (size_t)n;
	vlen = strnlen(val, vlen);
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)val[i];
		size_t u = c >= 0x80 ? utf8_len((const unsigned char *)val + i,
		    vlen - i) : 0;
		if (o + 7 >= size)
			break;
		if (u > 0) {
			memcpy(out + o, val + i, u);
			o += u;
			i += u - 1;
		} else if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		}
	}
	if (o + 1 < size)
		out[o++] = '"';
	return o;
}

/*
 * One JSON object: time, pid, level, the connection's fields when there
 * is one, and the message.  Returns the length (no newline).
 */
static size_t
json_line(char *line, size_t size, const struct timeval *tv,
    enum log_level level, const struct log_conn *c, const char *msg,
    size_t mlen)
{
	char buf[64];
	struct tm tm;
	size_t o = 1, n;
	int k;

	line[0] = '{';
	gmtime_r(&tv->tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ",
	    (int)(tv->tv_usec / 1000));
	o = json_str(line, o, size, "time", buf, sizeof(buf));
	k = snprintf(line + o, size - o, ",\"pid\":%d", (int)getpid());
	o += k > 0 ? (size_t)k : 0;
	o = json_str(line, o, size, "level", level_names[level], 16);
	if (c != NULL) {
		if (c->ptr != NULL)
			snprintf(buf, sizeof(buf), "%c-%p", c->kind, c->ptr);
		else
			snprintf(buf, sizeof(buf), "%c-%llu", c->kind,
			    (unsigned long long)c->id);
		o = json_str(line, o, size, "conn", buf, sizeof(buf));
		if (c->id != 0 && o < size) {
			k = snprintf(line + o, size - o, ",\"id\":%llu",
			    (unsigned long long)c->id);
			o += k > 0 ? (size_t)k : 0;
		}
		const char *keys[] = { "database", "user", "addr", "context" };
		const char *vals[] = { c->db, c->user, c->addr, c->text };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (vals[i] != NULL)
				o = json_str(line, o, size, keys[i], vals[i],
				    LOG_LINE_MAX);
	}
	o = json_str(line, o, size, "message", msg, mlen);
	if (o >= size)
		o = size - 1;
	line[o++] = '}';
	return o;
}

/*
 * Format one line about a connection (or none) and send it out.  Text
 * lines are PgBouncer's layout with the prefix and message escaped (see
 * the top of the file); JSON lines carry the same as fields.
 */
void
log_vconn(enum log_level level, const struct log_conn *conn, const char *fmt,
    va_list ap)
{
	char line[LOG_LINE_MAX], text[LOG_LINE_MAX];
	struct timeval tv;
	size_t head, len, tlen = 0;
	int n, saved_errno = errno;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	if (logstate.format == LOG_FORMAT_TEXT)
		tlen = text_prefix(text, sizeof(text), conn);
	n = vsnprintf(text + tlen, sizeof(text) - tlen, fmt, ap);
	if (n > 0)
		tlen += (size_t)n;
	if (tlen >= sizeof(text))
		tlen = sizeof(text) - 1;
	/* one byte is kept for the newline */
	if (logstate.format == LOG_FORMAT_JSON) {
		head = 0;
		len = json_line(line, sizeof(line) - 1, &tv, level, conn, text,
		    tlen);
	} else {
		head = text_head(line, sizeof(line), &tv, level);
		len = head + log_escape(line + head, sizeof(line) - head - 1,
		    text, tlen);
	}
	line[len++] = '\n';

	/* -q and -d silence the terminal, but not the reason pgweir stops */
	if (!logstate.quiet || level == LOG_LVL_FATAL)
		write_all(STDERR_FILENO, line, len);
	if (logstate.fd >= 0)
		write_all(logstate.fd, line, len);
	if (logstate.use_syslog) {
		/* syslog adds its own time and pid to a text line */
		line[len - 1] = '\0';
		syslog(syslog_prio[level], "%s", line + head);
	}
	errno = saved_errno;
}

/* Log a line without a connection prefix. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vconn(level, NULL, fmt, ap);
	va_end(ap);
}

/*
 * Copy a string into dst, escaping everything that is not printable ASCII,
 * and the backslash itself, as \xNN so that a client cannot forge log
 * lines or terminal escapes and an escape cannot be faked by sending its
 * text.  log_vconn() applies it to every line; the console uses it for
 * error texts that quote what a client sent.  Returns the length written
 * (dst is always NUL-terminated when dstlen > 0).
 */
size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstlen == 0)
		return 0;
	for (size_t i = 0; i < srclen && src[i] != '\0'; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return o;
}
