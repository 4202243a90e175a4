/* SPDX-License-Identifier: ISC */
/*
 * Which timeout governs a client in each state, and when it falls due:
 *
 *   login      client_login_timeout from accept; before a complete
 *              StartupMessage also client_startup_timeout from accept
 *   welcome    (logged in, waiting for the pool's first server: treated
 *              as a waiting request) client_login_timeout,
 *              query_wait_timeout and query_timeout, all from accept
 *   idle       client_idle_timeout from the last answer
 *   waiting    query_wait_timeout from the start of the wait,
 *              query_timeout from the start of the request
 *   active     query_timeout while a request is outstanding, else
 *              idle_transaction_timeout inside a transaction, else
 *              client_idle_timeout (session mode keeps the server);
 *              and transaction_timeout from the start of the transaction.
 *              A replication stream has none of them.
 *
 * The earliest deadline wins; of two at the same time, the one listed
 * first above.  Pure: deadline.c fills the times and the timeouts in
 * force for a client (per-user and per-database values resolved) and
 * arms, sweeps and expires; test/unit/test_timeouts.c checks each state.
 */
#include "config.h"

#include "pgweir/timeouts.h"

/* Put a deadline forward if it is earlier than the one so far. */
static void
consider(struct timeouts_due *d, int64_t base, int64_t timeout,
    enum timeout_kind kind)
{
	int64_t at;

	if (base <= 0 || timeout <= 0)
		return;
	at = base + timeout;
	if (d->at == 0 || at < d->at) {
		d->at = at;
		d->kind = kind;
	}
}

/* The deadline that applies to a client in its state, if any. */
struct timeouts_due
timeouts_next(const struct timeouts_in *in)
{
	struct timeouts_due d = { 0, TK_NONE };

	switch (in->phase) {
	case TP_LOGIN:
		consider(&d, in->login_start, in->login_timeout, TK_LOGIN);
		if (in->in_startup)
			consider(&d, in->login_start, in->startup_timeout,
			    TK_STARTUP);
		break;
	case TP_WELCOME:
		consider(&d, in->login_start, in->login_timeout, TK_LOGIN);
		consider(&d, in->login_start, in->query_wait_timeout,
		    TK_QUERY_WAIT);
		consider(&d, in->login_start, in->query_timeout, TK_QUERY);
		break;
	case TP_IDLE:
		consider(&d, in->idle_since, in->client_idle_timeout,
		    TK_CLIENT_IDLE);
		break;
	case TP_WAITING:
		consider(&d, in->wait_start, in->query_wait_timeout,
		    TK_QUERY_WAIT);
		consider(&d, in->request_time, in->query_timeout, TK_QUERY);
		break;
	case TP_ACTIVE:
		if (in->replication)
			break;
		if (in->request_pending)
			consider(&d, in->request_time, in->query_timeout,
			    TK_QUERY);
		else if (in->in_transaction)
			consider(&d, in->idle_since,
			    in->idle_transaction_timeout,
			    TK_IDLE_TRANSACTION);
		else
			consider(&d, in->idle_since, in->client_idle_timeout,
			    TK_CLIENT_IDLE);
		consider(&d, in->tx_start, in->transaction_timeout,
		    TK_TRANSACTION);
		break;
	}
	return d;
}

/* The setting's name of a timeout, as logs and errors say it. */
const char *
timeouts_name(enum timeout_kind kind)
{
	switch (kind) {
	case TK_LOGIN:
		return "client_login_timeout";
	case TK_STARTUP:
		return "client_startup_timeout";
	case TK_QUERY_WAIT:
		return "query_wait_timeout";
	case TK_QUERY:
		return "query_timeout";
	case TK_CLIENT_IDLE:
		return "client_idle_timeout";
	case TK_IDLE_TRANSACTION:
		return "idle_transaction_timeout";
	case TK_TRANSACTION:
		return "transaction_timeout";
	case TK_NONE:
		break;
	}
	return "none";
}
