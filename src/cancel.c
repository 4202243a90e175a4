/* SPDX-License-Identifier: ISC */
/*
 * Forwarding a CancelRequest to PostgreSQL: a new connection to the
 * backend's server, one 16-byte packet, then close.  This is a cold path,
 * so it uses a bufferevent, which owns the socket and frees itself once
 * the packet is written or the connection fails.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>

#include "pgweir/cancel.h"
#include "pgweir/config.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/proto.h"

/* The packet is out (or the connection failed): close. */
static void
cancel_done_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_free(bev);
}

/* Connection events: connected (the write callback follows) or failed. */
static void
cancel_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
		log_debug("cancel request could not be delivered");
		bufferevent_free(bev);
	}
}

/* Send a CancelRequest for backend pid/key to the server at sa. */
int
cancel_forward(struct pgweir *pw, const struct sockaddr *sa, socklen_t salen,
    uint32_t pid, uint32_t key)
{
	struct bufferevent *bev;
	int64_t t = pw->cfg->cancel_wait_timeout > 0 ?
	    pw->cfg->cancel_wait_timeout : 10 * 1000000;
	struct timeval tv = { (time_t)(t / 1000000),
		(suseconds_t)(t % 1000000) };

	bev = bufferevent_socket_new(pw->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return -1;
	bufferevent_setcb(bev, NULL, cancel_done_cb, cancel_event_cb, NULL);
	bufferevent_set_timeouts(bev, &tv, &tv);
	if (proto_build_cancel_request(bufferevent_get_output(bev), pid,
	    key) < 0 ||
	    bufferevent_socket_connect(bev, (struct sockaddr *)sa,
	    (int)salen) < 0) {
		bufferevent_free(bev);
		return -1;
	}
	bufferevent_enable(bev, EV_WRITE);
	return 0;
}
