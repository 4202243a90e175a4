/* SPDX-License-Identifier: ISC */
/*
 * Reading the files pgweir reads on behalf of its config: the ini file and
 * its %include files, auth_file, auth_hba_file and its @files, and (checked
 * only; OpenSSL reads them) the TLS certificates, keys and CA files.
 *
 * Every one of them must be a regular file no larger than a bound the
 * caller gives, and (when read here) hold no NUL byte, since all parsers
 * work on C strings.  So a config naming /dev/zero, a FIFO, a directory or
 * a huge file fails at once with a clear reason instead of hanging the
 * event loop or running the process out of memory; on reload that failure
 * keeps the running configuration like any other error.  The file is
 * opened with O_NONBLOCK so that a FIFO put in its place cannot block the
 * open itself.  Messages do not name the file: callers add the path in
 * the form their own messages use.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgweir/file.h"

/* Open path if it is a regular file of at most max bytes; -1 on error. */
static int
file_open(const char *path, size_t max, size_t *sizep, char *err,
    size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		snprintf(err, errlen, "could not open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "could not stat: %s", strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "is a directory, not a regular file");
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto fail;
	}
	if ((unsigned long long)st.st_size > (unsigned long long)max) {
		snprintf(err, errlen, "file too large (%lld bytes, at most "
		    "%zu)", (long long)st.st_size, max);
		goto fail;
	}
	*sizep = (size_t)st.st_size;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Read a whole regular file of at most max bytes into a new NUL-terminated
 * string, its length in *lenp (may be NULL).  On error, NULL and a reason
 * in err.  Callers holding secrets clear the text before freeing it.
 */
char *
file_read(const char *path, size_t max, size_t *lenp, char *err,
    size_t errlen)
{
	char *text;
	size_t len = 0, size;
	int fd;

	fd = file_open(path, max, &size, err, errlen);
	if (fd == -1)
		return NULL;
	text = malloc(size + 1);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	/* a file that grew since fstat is read up to its old size */
	while (len < size) {
		ssize_t n = read(fd, text + len, size - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "could not read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "contains a NUL byte");
		goto fail;
	}
	close(fd);
	if (lenp != NULL)
		*lenp = len;
	return text;
fail:
	memset(text, 0, len);
	free(text);
	close(fd);
	return NULL;
}

/* Check that path is a regular file of at most max bytes, for OpenSSL. */
int
file_check(const char *path, size_t max, char *err, size_t errlen)
{
	size_t size;
	int fd;

	fd = file_open(path, max, &size, err, errlen);
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}
