/* pgweir: one connection's socket, its event and its buffers. */
#ifndef PGWEIR_IO_H
#define PGWEIR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

struct evbuffer;
struct io;
typedef struct ssl_st SSL;

/*
 * Spare evbuffers for connections to take when bytes arrive and give back
 * when drained: an idle connection holds no buffer, and the steady state
 * allocates nothing.
 */
#define IOBUF_CACHE_MAX 256
struct iobuf_cache {
	struct evbuffer *spare[IOBUF_CACHE_MAX];
	int n;
};

typedef void (*io_cb)(struct io *io, short what, void *arg);

/* io_read() result when the socket has nothing more right now. */
#define IO_AGAIN (-2)

/*
 * A socket with one libevent event and an input and an output buffer.
 * Read interest stays steady; EV_WRITE is armed only while the kernel has
 * refused part of the output, so a connection costs no epoll_ctl calls in
 * the common case.  The owner embeds it and gets all readiness through cb.
 */
struct io {
	int fd;			/* owned; -1 once closed */
	short armed;		/* EV_READ / EV_WRITE as registered now */
	bool want_read;		/* read interest (backpressure clears it) */
	bool want_write;	/* output left over, or a connect in progress */
	struct event ev;	/* the one event, re-assigned on change */
	struct evbuffer *in;	/* bytes read, not yet consumed; owned */
	struct evbuffer *out;	/* bytes to write; owned */
	io_cb cb;		/* owner's callback */
	void *arg;		/* owner */
	SSL *ssl;		/* TLS on the same fd, or NULL; owned */
	struct iobuf_cache *cache; /* where idle buffers go, or NULL */
	size_t max_write;	/* bytes per send(2), 0 for no bound */
};

int io_init(struct io *io, struct event_base *base, int fd, io_cb cb,
    void *arg, struct iobuf_cache *cache);
struct evbuffer *io_wbuf(struct io *io);
void io_release_buffers(struct io *io);
void iobuf_cache_fini(struct iobuf_cache *cache);
void io_close(struct io *io);
bool io_is_open(const struct io *io);
ssize_t io_read(struct io *io, size_t max);
int io_flush(struct io *io);
void io_set_read(struct io *io, bool on);
void io_set_write(struct io *io, bool on);
size_t io_out_pending(const struct io *io);
size_t io_in_pending(const struct io *io);
void io_start_tls(struct io *io, SSL *ssl);
int io_peek_byte(struct io *io);

#endif
