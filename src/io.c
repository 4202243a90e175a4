/* SPDX-License-Identifier: ISC */
/*
 * One connection's socket: a raw libevent event plus input and output
 * evbuffers.
 *
 * This is the hot path's only contact with the kernel.  Reads go straight
 * into space reserved in the input buffer (one read(2) per readiness, no
 * FIONREAD and no copy); writes go out at once with writev(2) and EV_WRITE
 * is armed only when the kernel pushes back.  The event's interest is only
 * re-registered when it really changes, so linking and unlinking
 * connections costs no epoll_ctl.  Callers: client.c and server.c.
 *
 * TLS runs on the same socket behind the same functions: io_read() and
 * io_flush() go through SSL_read()/SSL_write(), which also drive the
 * handshake, and read until OpenSSL has nothing decrypted left over (a
 * record read but not returned would otherwise wait for the next readiness
 * that may never come).
 */
#include "config.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pgweir/io.h"

/* libevent's callback: hand readiness to the owner. */
static void
io_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;

	(void)fd;
	io->cb(io, what, io->arg);
}

/* Register the interest the flags ask for, if it changed. */
static void
io_update(struct io *io)
{
	short wanted = (short)((io->want_read ? EV_READ : 0) |
	    (io->want_write ? EV_WRITE : 0));
	struct event_base *base;

	if (wanted == io->armed || io->fd < 0)
		return;
	base = event_get_base(&io->ev);
	event_del(&io->ev);
	io->armed = wanted;
	if (wanted == 0)
		return;
	event_assign(&io->ev, base, io->fd, (short)(wanted | EV_PERSIST),
	    io_event_cb, io);
	event_add(&io->ev, NULL);
}

/* A buffer from the cache, or a new one. */
static struct evbuffer *
buf_take(struct iobuf_cache *cache)
{
	if (cache != NULL && cache->n > 0)
		return cache->spare[--cache->n];
	return evbuffer_new();
}

/* Give an empty buffer back to the cache (or free it). */
static void
buf_give(struct iobuf_cache *cache, struct evbuffer *buf)
{
	if (buf == NULL)
		return;
	if (cache != NULL && cache->n < IOBUF_CACHE_MAX &&
	    evbuffer_get_length(buf) == 0)
		cache->spare[cache->n++] = buf;
	else
		evbuffer_free(buf);
}

/* Free the cached buffers (at exit). */
void
iobuf_cache_fini(struct iobuf_cache *cache)
{
	while (cache->n > 0)
		evbuffer_free(cache->spare[--cache->n]);
}

/* Make sure both buffers exist. */
static int
io_take_buffers(struct io *io)
{
	if (io->in == NULL && (io->in = buf_take(io->cache)) == NULL)
		return -1;
	if (io->out == NULL && (io->out = buf_take(io->cache)) == NULL)
		return -1;
	return 0;
}

/* The output buffer, taken if the connection had given it back. */
struct evbuffer *
io_wbuf(struct io *io)
{
	if (io->out == NULL)
		io->out = buf_take(io->cache);
	return io->out;
}

/*
 * Give both buffers back when both are empty: a connection with nothing
 * to read or write holds only its struct, its event and its socket.
 */
void
io_release_buffers(struct io *io)
{
	if (io->in == NULL || io->out == NULL || io->ssl != NULL ||
	    evbuffer_get_length(io->in) > 0 ||
	    evbuffer_get_length(io->out) > 0)
		return;
	buf_give(io->cache, io->in);
	buf_give(io->cache, io->out);
	io->in = io->out = NULL;
}

/* Set up an io on a connected, non-blocking socket; read interest is on. */
int
io_init(struct io *io, struct event_base *base, int fd, io_cb cb, void *arg,
    struct iobuf_cache *cache)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->cache = cache;
	if (io_take_buffers(io) < 0)
		goto fail;
	/* assign once so event_get_base() works; not added yet */
	if (event_assign(&io->ev, base, fd, EV_READ | EV_PERSIST, io_event_cb,
	    io) < 0)
		goto fail;
	io->want_read = true;
	io_update(io);
	return 0;
fail:
	buf_give(NULL, io->in);
	buf_give(NULL, io->out);
	io->in = io->out = NULL;
	io->fd = -1;
	return -1;
}

/* Stop all events, close the socket and free the buffers. */
void
io_close(struct io *io)
{
	if (io->ssl != NULL) {
		/* a close_notify, best effort; the socket closes anyway */
		SSL_set_quiet_shutdown(io->ssl, 0);
		if (SSL_is_init_finished(io->ssl))
			SSL_shutdown(io->ssl);
		SSL_free(io->ssl);
		io->ssl = NULL;
		ERR_clear_error();
	}
	if (io->fd >= 0) {
		event_del(&io->ev);
		close(io->fd);
		io->fd = -1;
	}
	io->armed = 0;
	if (io->in) {
		evbuffer_drain(io->in, evbuffer_get_length(io->in));
		buf_give(io->cache, io->in);
		io->in = NULL;
	}
	if (io->out) {
		evbuffer_drain(io->out, evbuffer_get_length(io->out));
		buf_give(io->cache, io->out);
		io->out = NULL;
	}
}

/* Whether the socket is still open. */
bool
io_is_open(const struct io *io)
{
	return io->fd >= 0;
}

/*
 * Read once, at most max bytes, into the input buffer.  Returns the number
 * of bytes read, 0 at end of file, IO_AGAIN when nothing is there, or -1
 * with errno set.
 */
/* io_read() over TLS: as many records as are there, up to max bytes. */
static ssize_t
io_read_tls(struct io *io, size_t max)
{
	size_t total = 0;

	while (total < max) {
		struct evbuffer_iovec vec;
		int n, err;

		if (evbuffer_reserve_space(io->in, (ev_ssize_t)(max - total),
		    &vec, 1) != 1)
			return -1;
		if (vec.iov_len > max - total)
			vec.iov_len = max - total;
		ERR_clear_error();
		n = SSL_read(io->ssl, vec.iov_base, (int)vec.iov_len);
		if (n > 0) {
			vec.iov_len = (size_t)n;
			evbuffer_commit_space(io->in, &vec, 1);
			total += (size_t)n;
			continue;
		}
		evbuffer_commit_space(io->in, NULL, 0);
		err = SSL_get_error(io->ssl, n);
		if (err == SSL_ERROR_WANT_READ)
			break;
		if (err == SSL_ERROR_WANT_WRITE) {
			io_set_write(io, true);
			break;
		}
		if (total > 0)
			break;	/* report EOF or the error next time */
		if (err == SSL_ERROR_ZERO_RETURN ||
		    (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
			return 0;
		ERR_clear_error();
		return -1;
	}
	/* a handshake that just finished may let queued output go */
	if (evbuffer_get_length(io->out) > 0 && io_flush(io) < 0)
		return -1;
	return total > 0 ? (ssize_t)total : IO_AGAIN;
}

ssize_t
io_read(struct io *io, size_t max)
{
	struct evbuffer_iovec vec;
	ssize_t n;

	if (io_take_buffers(io) < 0)
		return -1;
	if (io->ssl != NULL)
		return io_read_tls(io, max);

	if (evbuffer_reserve_space(io->in, (ev_ssize_t)max, &vec, 1) != 1)
		return -1;
	if (vec.iov_len > max)
		vec.iov_len = max;
	do {
		n = read(io->fd, vec.iov_base, vec.iov_len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		evbuffer_commit_space(io->in, NULL, 0);
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IO_AGAIN :
		    -1;
	}
	vec.iov_len = (size_t)n;
	evbuffer_commit_space(io->in, &vec, 1);
	return n;
}

/*
 * Write the output buffer now.  What the kernel does not take stays
 * buffered and EV_WRITE is armed; once everything is out it is disarmed.
 * Returns 0, or -1 on a socket error (the caller closes the connection).
 */
/* io_flush() over TLS: one SSL_write per buffer chunk. */
static int
io_flush_tls(struct io *io)
{
	while (evbuffer_get_length(io->out) > 0) {
		struct evbuffer_iovec vec;
		int n, err;

		if (evbuffer_peek(io->out, -1, NULL, &vec, 1) < 1)
			break;
		if (vec.iov_len > 16384)
			vec.iov_len = 16384;
		ERR_clear_error();
		n = SSL_write(io->ssl, vec.iov_base, (int)vec.iov_len);
		if (n > 0) {
			evbuffer_drain(io->out, (size_t)n);
			continue;
		}
		err = SSL_get_error(io->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE) {
			io_set_write(io, true);
			return 0;
		}
		if (err == SSL_ERROR_WANT_READ) {
			/* the handshake needs the peer first */
			io_set_read(io, true);
			return 0;
		}
		ERR_clear_error();
		return -1;
	}
	io_set_write(io, false);
	return 0;
}

int
io_flush(struct io *io)
{
	if (io->out == NULL)
		return 0;
	if (io->ssl != NULL)
		return io_flush_tls(io);
	while (evbuffer_get_length(io->out) > 0) {
		struct evbuffer_iovec v[2];
		int n;

		/*
		 * One chunk (the usual case): send(2) is cheaper than writev.
		 * A bounded write goes out one chunk at a time too: with a
		 * send buffer shrunk by tcp_socket_buffer, one big write
		 * leaves a single segment in flight, which the receiver
		 * acknowledges only after its delayed-ACK timer (~40 ms);
		 * writes of the buffer's size keep two segments in flight.
		 */
		if (evbuffer_peek(io->out, -1, NULL, v, 2) == 1 ||
		    io->max_write > 0) {
			size_t len = v[0].iov_len;
			ssize_t w;

			if (io->max_write > 0 && len > io->max_write)
				len = io->max_write;
			w = send(io->fd, v[0].iov_base, len, MSG_NOSIGNAL);
			if (w > 0)
				evbuffer_drain(io->out, (size_t)w);
			n = w > INT32_MAX ? INT32_MAX : (int)w;
		} else {
			n = evbuffer_write(io->out, io->fd);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		if (n == 0)
			break;
	}
	io_set_write(io, evbuffer_get_length(io->out) > 0);
	return 0;
}

/* Turn read interest on or off (backpressure, pauses). */
void
io_set_read(struct io *io, bool on)
{
	if (io->want_read == on)
		return;
	io->want_read = on;
	io_update(io);
}

/* Turn write interest on or off (pending output, connect in progress). */
void
io_set_write(struct io *io, bool on)
{
	if (io->want_write == on)
		return;
	io->want_write = on;
	io_update(io);
}

/* Bytes waiting to be written. */
size_t
io_out_pending(const struct io *io)
{
	return io->out ? evbuffer_get_length(io->out) : 0;
}

/* Bytes read but not yet consumed. */
size_t
io_in_pending(const struct io *io)
{
	return io->in ? evbuffer_get_length(io->in) : 0;
}

/*
 * Switch the connection to TLS (the io takes ownership of ssl).  Nothing
 * may be buffered unread: bytes that came before the handshake were sent
 * in the clear and must not be taken as if they had been encrypted.
 */
void
io_start_tls(struct io *io, SSL *ssl)
{
	io->ssl = ssl;
	io_set_read(io, true);
}

/*
 * The first byte waiting on the socket, without consuming it (to tell a
 * direct TLS ClientHello from a startup packet); -1 if none yet.
 */
int
io_peek_byte(struct io *io)
{
	unsigned char b;
	ssize_t n = recv(io->fd, &b, 1, MSG_PEEK);

	return n == 1 ? b : -1;
}
