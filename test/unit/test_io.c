/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of io_flush: what one flush hands the kernel.  A
 * SOCK_SEQPACKET socket pair keeps each send(2) as one record, so the
 * reader sees exactly how the output was cut.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "pgweir/config.h"
#include "pgweir/io.h"
#include "pgweir/relay.h"

struct pair {
	struct event_base *base;
	struct io io;		/* the writing end */
	int peer;		/* the reading end */
};

static void
no_events(struct io *io, short what, void *arg)
{
	(void)io;
	(void)what;
	(void)arg;
}

static void
pair_open(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK,
	    0, sv), 0);
	p->base = event_base_new();
	assert_non_null(p->base);
	assert_int_equal(io_init(&p->io, p->base, sv[0], no_events, NULL,
	    NULL), 0);
	p->peer = sv[1];
}

static void
pair_close(struct pair *p)
{
	io_close(&p->io);
	close(p->peer);
	event_base_free(p->base);
}

/* Queue len bytes of output and flush them; the sizes of the records. */
static int
flush_records(struct pair *p, size_t len, size_t *sizes, int max)
{
	static char data[20000], got[20000];
	int n = 0;
	ssize_t r;

	memset(data, 'x', sizeof(data));
	assert_true(len <= sizeof(data));
	assert_int_equal(evbuffer_add(io_wbuf(&p->io), data, len), 0);
	assert_int_equal(io_flush(&p->io), 0);
	assert_int_equal(io_out_pending(&p->io), 0);
	while (n < max && (r = recv(p->peer, got, sizeof(got), 0)) > 0)
		sizes[n++] = (size_t)r;
	return n;
}

/* Without a bound the whole output goes in one write. */
static void
test_unbounded_write_is_one_record(void **state)
{
	struct pair p;
	size_t sizes[8];

	(void)state;
	pair_open(&p);
	assert_int_equal(flush_records(&p, 10000, sizes, 8), 1);
	assert_int_equal(sizes[0], 10000);
	pair_close(&p);
}

/*
 * With max_write (tcp_socket_buffer) each write is at most that much:
 * a small send buffer then keeps more than one segment in flight.
 */
static void
test_bounded_write_is_cut(void **state)
{
	struct pair p;
	size_t sizes[8];

	(void)state;
	pair_open(&p);
	p.io.max_write = 4096;
	assert_int_equal(flush_records(&p, 10000, sizes, 8), 3);
	assert_int_equal(sizes[0], 4096);
	assert_int_equal(sizes[1], 4096);
	assert_int_equal(sizes[2], 10000 - 2 * 4096);
	pair_close(&p);
}

/*
 * What one connection may have read per loop turn: sbuf_loopcnt reads of
 * pkt_buf, at least 32 kB, and 0 means the relay's own bound only.
 */
static void
test_read_size_follows_sbuf_loopcnt(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.pkt_buf = 4096;
	cfg.sbuf_loopcnt = 5;		/* PgBouncer's defaults: 20 kB */
	assert_int_equal(relay_read_size(&cfg), 32 * 1024);
	cfg.pkt_buf = 65536;
	assert_int_equal(relay_read_size(&cfg), 5 * 65536);
	cfg.sbuf_loopcnt = 1;
	assert_int_equal(relay_read_size(&cfg), 65536);
	cfg.sbuf_loopcnt = 0;
	assert_int_equal(relay_read_size(&cfg), RELAY_OUT_HIGH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unbounded_write_is_one_record),
		cmocka_unit_test(test_bounded_write_is_cut),
		cmocka_unit_test(test_read_size_follows_sbuf_loopcnt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
