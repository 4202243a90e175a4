/* SPDX-License-Identifier: ISC */
/*
 * Logging: one line per event, to stderr, a log file and/or syslog.
 *
 * Every line carries a timestamp, the process id and a level; connection
 * modules add their own "C-0x55d0c1a2b3c0: db/user@addr:port" prefix
 * through log_vmsg().
 * The log file stays open and is reopened on reload so that logrotate can
 * move it away.  Nothing here allocates: lines are formatted on the stack.
 *
 * Escaping happens here, once, for every line: the prefix and the message
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

/*
 * Format one line with an optional connection prefix and send it out.
 * The prefix and the formatted message are escaped (see the top of the
 * file); only the time, pid and level before them are pgweir's own.
 */
void
log_vmsg(enum log_level level, const char *prefix, const char *fmt,
    va_list ap)
{
	char line[LOG_LINE_MAX], text[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	size_t head, len, tlen;
	int n, saved_errno = errno;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	head = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line + head, sizeof(line) - head, ".%03d UTC [%d] ",
	    (int)(tv.tv_usec / 1000), (int)getpid());
	head += (size_t)n;
	n = snprintf(line + head, sizeof(line) - head, "%s ",
	    level_names[level]);
	len = head + (size_t)n;
	/* PgBouncer's layout: "C-0x...: db/user@addr:port message" */
	n = snprintf(text, sizeof(text), "%s%s", prefix ? prefix : "",
	    prefix ? " " : "");
	tlen = n < 0 ? 0 : (size_t)n;
	if (tlen >= sizeof(text))
		tlen = sizeof(text) - 1;
	n = vsnprintf(text + tlen, sizeof(text) - tlen, fmt, ap);
	if (n > 0)
		tlen += (size_t)n;
	if (tlen >= sizeof(text))
		tlen = sizeof(text) - 1;
	/* one byte is kept for the newline */
	len += log_escape(line + len, sizeof(line) - len - 1, text, tlen);
	line[len++] = '\n';

	/* -q and -d silence the terminal, but not the reason pgweir stops */
	if (!logstate.quiet || level == LOG_LVL_FATAL)
		write_all(STDERR_FILENO, line, len);
	if (logstate.fd >= 0)
		write_all(logstate.fd, line, len);
	if (logstate.use_syslog) {
		/* syslog adds its own time and pid */
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
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

/*
 * Copy a string into dst, escaping everything that is not printable ASCII,
 * and the backslash itself, as \xNN so that a client cannot forge log
 * lines or terminal escapes and an escape cannot be faked by sending its
 * text.  log_vmsg() applies it to every line; the console uses it for
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
