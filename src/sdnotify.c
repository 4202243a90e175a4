/* SPDX-License-Identifier: ISC */
/*
 * The systemd service protocol: datagrams such as "READY=1" sent to the
 * unix socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace), and socket activation through $LISTEN_FDS/$LISTEN_PID.
 * Without those variables everything here is a no-op, so pgweir runs the
 * same under systemd, another supervisor or a terminal.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/sdnotify.h"

/* Send one notification; returns 0 when sent or when not under systemd. */
int
sdnotify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	char msg[1024];
	socklen_t len;
	va_list ap;
	int fd, rc;
	size_t plen;

	if (path == NULL || path[0] == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

/*
 * Number of sockets passed by socket activation (they are fds 3, 4, ...),
 * or 0.  The variables are removed so that children do not see them.
 */
int
sdnotify_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long n;

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return 0;
	n = atol(fds);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return n > 0 && n < 64 ? (int)n : 0;
}
