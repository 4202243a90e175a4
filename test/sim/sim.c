/* SPDX-License-Identifier: ISC */
/*
 * The simulator: pgweir's core in process, built from the library's own
 * constructors, with both of its sides on local sockets.
 *
 * Clients are socketpair(2)s given to client_accept(); the harness keeps
 * the other end, writes what a client would send and reads (and checks the
 * framing of) what pgweir answers.  Servers are real: [databases] points
 * at a unix socket where the fake PostgreSQL of sim_pg.c answers, so
 * server_launch() connects and logs in through server.c's own code.  Fuzz
 * bytes either go through the sockets (the real read path) or straight
 * into a connection's input buffer followed by what its io callback would
 * call (relay_client, admin_handle_input, relay_server), but only when the
 * io has read interest, as the event loop would.  Every socket of the
 * harness is an event in pgweir's own base, so a turn of the loop is one
 * epoll_wait and reads only what is ready.
 *
 * A runtime is built once per config and cached: sim_close() closes every
 * connection, frees the pools, databases and users, and resets the
 * counters, so the next sim_open() with the same config starts where a
 * new one would, without rebuilding config, TLS, auth_file, hba or the
 * event base.  A runtime whose config, auth_file or state the input
 * changed (RELOAD, SET, SUSPEND, SHUTDOWN) is freed instead.  Everything
 * is freed at exit, so leak reports are pgweir's.  The listening socket,
 * the certificate and the temporary directory live for the whole process;
 * nothing is written outside that directory.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgweir/admin.h"
#include "pgweir/auth.h"
#include "pgweir/authfile.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/hba.h"
#include "pgweir/log.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/proto.h"
#include "pgweir/relay.h"
#include "pgweir/server.h"
#include "pgweir/tls.h"

#include "pgweir/metrics.h"

#include "sim_int.h"

#define SIM_PUMP_TURNS 400
#define SIM_CACHE_MAX 64	/* runtimes kept, one per config */

/* A self-signed P-256 certificate for client_tls_* (CN=localhost). */
static const char sim_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXP6+HJhXJSrva4sT\n"
    "BQrpd31kACVi0ZoMKveHoGY+qOyhRANCAATTw0PSnR6WoizIMw4Ah/A0kUMs1iqU\n"
    "c6naNwoUHjwvnLmlk3MBv6YI837cy0aurCYFtug32l9Jv/chyE/pveRH\n"
    "-----END PRIVATE KEY-----\n";
static const char sim_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgDCCASWgAwIBAgIUPX8E+fLprGdvT04m+nJHLGzs/VkwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzA0NDAxNloYDzIxMjYxMTAz\n"
    "MDQ0MDE2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAATTw0PSnR6WoizIMw4Ah/A0kUMs1iqUc6naNwoUHjwvnLmlk3MBv6YI\n"
    "837cy0aurCYFtug32l9Jv/chyE/pveRHo1MwUTAdBgNVHQ4EFgQUKenZAwzcRDRu\n"
    "pNFUR4x6zTtF01EwHwYDVR0jBBgwFoAUKenZAwzcRDRupNFUR4x6zTtF01EwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAgLBNq+LWSuEEClLne2CU\n"
    "2vpOv5h1Wr+lLn9qdcaNZosCIQCAAQNHItbjnxosCEgUvxpe8IJECnA6qctg3WjL\n"
    "eActlw==\n"
    "-----END CERTIFICATE-----\n";

/*
 * Users of the auth_file: a plaintext, an MD5 and a SCRAM secret (16
 * iterations, so that logins stay fast), all for the password "pw".
 */
static const char sim_authfile[] =
    "\"alice\" \"pw\"\n"
    "\"bob\" \"md59e8b47dd245ed6fdb3fd1657224800c4\"\n"
    "\"carol\" \"SCRAM-SHA-256$16:cGd3ZWlyLWZ1enotc2FsdA==$"
    "nAxIuCy41L8tGb3z3MYrGbZ+jRiV4NG7XFnqPV0EAdA=:"
    "vYf9Vvm1DRW82O9yBYzq/M6bXr6aNDebxrQ4unjlNho=\"\n"
    "\"fz\" \"md5ecf6b0ce462868565e78a0695028beb9\"\n"
    "\"u1\" \"pw\"\n"
    "\"u2\" \"pw\"\n"
    "\"admin\" \"pw\"\n"
    "\"stats\" \"pw\"\n";

/* Rules for auth_type = hba: every method on some path. */
static const char sim_hba[] =
    "local all admin peer\n"
    "local all all trust\n"
    "hostssl all all 0.0.0.0/0 cert\n"
    "host db alice 127.0.0.1/32 scram-sha-256\n"
    "host all bob 0.0.0.0/0 md5\n"
    "host all carol 127.0.0.0/8 password\n"
    "host all nobody all reject\n"
    "host pgweir,pgbouncer admin,stats 127.0.0.1/32 password\n"
    "host all all 127.0.0.1/32 trust\n";

struct sim_global sim_global = { .listen_fd = -1 };

static void sim_destroy(struct sim *e);

/* Free the cached runtimes; remove what sim_global_init() made (at exit). */
static void
sim_global_fini(void)
{
	struct dirent *de;
	char path[400];
	DIR *dir;

	if (!sim_global.ready)
		return;
	while (sim_global.cache != NULL) {
		struct sim *e = sim_global.cache;
		sim_global.cache = e->next;
		sim_destroy(e);
	}
	if (sim_global.listen_fd >= 0)
		close(sim_global.listen_fd);
	if ((dir = opendir(sim_global.dir)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", sim_global.dir,
			    de->d_name);
			unlink(path);
		}
		closedir(dir);
	}
	rmdir(sim_global.dir);
	sim_global.ready = false;
}

/*
 * Write a whole file in the simulator's directory; returns its path (in a
 * static buffer, until the next call).
 */
const char *
sim_write_file(const char *name, const void *data, size_t len)
{
	static char path[208];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", sim_global.dir, name);
	fp = fopen(path, "w");
	if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
		perror(path);
		abort();
	}
	return path;
}

/* Log lines formatted but not written, unless PGWEIR_FUZZ_LOG is set. */
static void
sim_log_settings(void)
{
	struct log_settings ls = { .verbose = 2, .quiet = true };

	ls.quiet = getenv("PGWEIR_FUZZ_LOG") == NULL;
	log_configure(&ls);
}

/*
 * Where the private directory goes: $TMPDIR if set, else /dev/shm when
 * it is a directory we may write (fuzz_files rewrites a file for every
 * input, and on a disk's filesystem truncating and writing it back cost
 * more than half of each input's time), else /tmp.
 */
static const char *
sim_tmp_base(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp != NULL && tmp[0] != '\0' && strlen(tmp) < 60)
		return tmp;
	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

/*
 * Once per process: a private directory with the certificate, the
 * auth_file, the hba file, and the fake PostgreSQL's socket; SIGPIPE
 * ignored as pgweir's main() does; log lines formatted but not written.
 */
static void
sim_global_init(void)
{
	struct sockaddr_un sun;

	if (sim_global.ready)
		return;
	sim_global.trace = getenv("PGWEIR_FUZZ_TRACE") != NULL;
	signal(SIGPIPE, SIG_IGN);
	snprintf(sim_global.dir, sizeof(sim_global.dir),
	    "%s/pgweir-fuzz.XXXXXX", sim_tmp_base());
	if (mkdtemp(sim_global.dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	sim_global.ready = true;
	atexit(sim_global_fini);
	sim_write_file("server.key", sim_key_pem, strlen(sim_key_pem));
	sim_write_file("server.crt", sim_cert_pem, strlen(sim_cert_pem));
	sim_write_file("hba.conf", sim_hba, strlen(sim_hba));
	sim_write_file("userlist.txt", sim_authfile, strlen(sim_authfile));
	snprintf(sim_global.sock, sizeof(sim_global.sock), "%s/.s.PGSQL.5432",
	    sim_global.dir);
	sim_global.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sim_global.sock);
	if (sim_global.listen_fd < 0 || bind(sim_global.listen_fd,
	    (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(sim_global.listen_fd, 128) < 0) {
		perror("fake PostgreSQL socket");
		abort();
	}
}

/* Whether data holds word, ignoring case. */
bool
sim_contains_ci(const uint8_t *data, size_t len, const char *word)
{
	size_t n = strlen(word), j;

	/*
	 * By hand, not with strncasecmp(): libFuzzer hooks that call to
	 * learn the compared strings, which at every byte of every input
	 * cost fuzz_files a tenth of its time.
	 */
	for (size_t i = 0; n <= len && i <= len - n; i++) {
		for (j = 0; j < n && tolower(data[i + j]) ==
		    tolower((unsigned char)word[j]); j++)
			;
		if (j == n)
			return true;
	}
	return false;
}

/* Append one message: type, length, body. */
void
sim_add_msg(struct evbuffer *out, uint8_t type, const void *body, size_t len)
{
	uint8_t hdr[5];

	hdr[0] = type;
	proto_put_u32(hdr + 1, (uint32_t)(len + 4));
	evbuffer_add(out, hdr, 5);
	if (len > 0)
		evbuffer_add(out, body, len);
}

/* Append Parse: statement name, query, no parameter types. */
void
sim_add_parse(struct evbuffer *out, const char *name, const char *query)
{
	struct evbuffer *m = evbuffer_new();

	evbuffer_add(m, name, strlen(name) + 1);
	evbuffer_add(m, query, strlen(query) + 1);
	evbuffer_add(m, "\0\0", 2);
	sim_add_msg(out, PQMSG_PARSE, evbuffer_pullup(m, -1),
	    evbuffer_get_length(m));
	evbuffer_free(m);
}

/* Append Bind: the unnamed portal to a statement, no parameters. */
void
sim_add_bind(struct evbuffer *out, const char *stmt)
{
	struct evbuffer *m = evbuffer_new();
	static const uint8_t counts[6] = { 0, 0, 0, 0, 0, 0 };

	evbuffer_add(m, "", 1);
	evbuffer_add(m, stmt, strlen(stmt) + 1);
	evbuffer_add(m, counts, sizeof(counts));
	sim_add_msg(out, PQMSG_BIND, evbuffer_pullup(m, -1),
	    evbuffer_get_length(m));
	evbuffer_free(m);
}

/* Append a StartupMessage (protocol 3.0) with extra name/value pairs. */
void
sim_add_startup(struct evbuffer *out, const char *user, const char *db,
    const char *const *params)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t head[8];

	evbuffer_add(b, "user", 5);
	evbuffer_add(b, user, strlen(user) + 1);
	evbuffer_add(b, "database", 9);
	evbuffer_add(b, db, strlen(db) + 1);
	for (int i = 0; params && params[i] && params[i + 1]; i += 2) {
		evbuffer_add(b, params[i], strlen(params[i]) + 1);
		evbuffer_add(b, params[i + 1], strlen(params[i + 1]) + 1);
	}
	evbuffer_add(b, "", 1);
	proto_put_u32(head, (uint32_t)(8 + evbuffer_get_length(b)));
	proto_put_u32(head + 4, PQ_PROTOCOL_3_0);
	evbuffer_add(out, head, 8);
	evbuffer_add_buffer(out, b);
	evbuffer_free(b);
}


/* ---- clients ---- */

/* pgweir's client of a harness client, or NULL once it is freed. */
struct client *
sim_client_get(struct sim *e, const struct sim_client *fc)
{
	struct pgweir *pw = &e->pw;
	struct client *c;
	struct pool *pool;

	if (fc == NULL || fc->id == 0)
		return NULL;
	TAILQ_FOREACH(c, &pw->login_clients, entry)
		if (c->id == fc->id)
			return c;
	TAILQ_FOREACH(c, &pw->dead_clients, entry)
		if (c->id == fc->id)
			return c;
	TAILQ_FOREACH(pool, &pw->pools, entry) {
		struct client_list *lists[] = { &pool->welcome_clients,
			&pool->idle_clients, &pool->waiting_clients,
			&pool->active_clients };
		for (int i = 0; i < 4; i++)
			TAILQ_FOREACH(c, lists[i], entry)
				if (c->id == fc->id)
					return c;
	}
	return NULL;
}

/*
 * The answer oracle.  PostgreSQL owes a client, in order, a ParseComplete
 * per Parse, a BindComplete per Bind, a CloseComplete per Close and a
 * ReadyForQuery per Sync, Query or FunctionCall; an error in the extended
 * protocol cancels what is owed up to the next Sync.  pgweir's rewriting
 * (answers of its own, hidden Parses, moving between servers) must keep
 * exactly that.  COPY, which the model does not follow, turns it off for
 * the client.  'z' stands for the ReadyForQuery of a Query/FunctionCall.
 * Describe ('d', ends with RowDescription or NoData) and Execute ('x',
 * ends with CommandComplete, EmptyQueryResponse or PortalSuspended) are
 * followed too: without them an error of an Execute that a Query follows
 * before any Sync would be taken for the Query's own error, when in truth
 * PostgreSQL skips that Query.
 */
static void
owe(struct sim_client *fc, uint8_t what)
{
	if (fc->owed_n == sizeof(fc->owed)) {
		fc->model_off = true;
		return;
	}
	fc->owed[(fc->owed_head + fc->owed_n++) % sizeof(fc->owed)] = what;
}

/* The oldest answer owed, or 0. */
static uint8_t
owed_head(const struct sim_client *fc)
{
	return fc->owed_n ? fc->owed[fc->owed_head] : 0;
}

/* One answer paid. */
static void
owed_pop(struct sim_client *fc)
{
	fc->owed_head = (fc->owed_head + 1) % sizeof(fc->owed);
	fc->owed_n--;
}

/* A broken promise: say what and stop. */
static void
answer_fail(const struct sim_client *fc, uint8_t got)
{
	fprintf(stderr, "fuzz: client %llu got '%c' but is owed '%c' (%u "
	    "answers owed)\n", (unsigned long long)fc->id, got,
	    owed_head(fc) ? owed_head(fc) : '-', fc->owed_n);
	abort();
}

/* A message pgweir sent the client. */
static void
answer_seen(struct sim_client *fc, uint8_t type)
{
	uint8_t h = owed_head(fc);

	if (fc->model_off)
		return;
	switch (type) {
	case PQMSG_ROW_DESCRIPTION:
	case PQMSG_NO_DATA:
		if (h == 'd')
			owed_pop(fc);
		break;
	case PQMSG_COMMAND_COMPLETE:
	case PQMSG_EMPTY_QUERY_RESPONSE:
	case PQMSG_PORTAL_SUSPENDED:
		if (h == 'x')
			owed_pop(fc);
		break;
	case PQMSG_PARSE_COMPLETE:
	case PQMSG_BIND_COMPLETE:
	case PQMSG_CLOSE_COMPLETE:
		if (h != type)
			answer_fail(fc, type);
		owed_pop(fc);
		break;
	case PQMSG_READY_FOR_QUERY:
		if (h != 'Z' && h != 'z')
			answer_fail(fc, type);
		owed_pop(fc);
		break;
	case PQMSG_ERROR_RESPONSE:
		/* a Query's error ends with its own ReadyForQuery */
		if (h == 'z')
			break;
		/* extended: all is skipped up to the Sync, Queries too... */
		while (fc->owed_n > 0 && owed_head(fc) != 'Z')
			owed_pop(fc);
		/* ...even what the client sends after the error */
		if (fc->owed_n == 0)
			fc->skipping = true;
		break;
	case PQMSG_COPY_IN_RESPONSE:
	case PQMSG_COPY_OUT_RESPONSE:
	case PQMSG_COPY_BOTH_RESPONSE:
		fc->model_off = true;
		break;
	}
}

/* Whole messages the client sent: what it is owed. */
static void
answer_owed(struct sim_client *fc, const void *data, size_t len)
{
	uint8_t head[5];

	evbuffer_add(fc->sent, data, len);
	while (!fc->model_off && evbuffer_get_length(fc->sent) >= 5) {
		uint32_t mlen;
		evbuffer_copyout(fc->sent, head, 5);
		mlen = proto_get_u32(head + 1);
		if (mlen < 4) {
			fc->model_off = true;
			break;
		}
		if (evbuffer_get_length(fc->sent) < 1 + (size_t)mlen)
			break;
		evbuffer_drain(fc->sent, 1 + (size_t)mlen);
		if (fc->skipping && head[0] != PQMSG_SYNC && head[0] != 0 &&
		    strchr("PBCQFDEH", head[0]) != NULL)
			continue;
		switch (head[0]) {
		case PQMSG_PARSE:
			owe(fc, PQMSG_PARSE_COMPLETE);
			break;
		case PQMSG_BIND:
			owe(fc, PQMSG_BIND_COMPLETE);
			break;
		case PQMSG_CLOSE:
			owe(fc, PQMSG_CLOSE_COMPLETE);
			break;
		case PQMSG_SYNC:
			owe(fc, 'Z');
			fc->skipping = false;
			break;
		case PQMSG_QUERY:
		case PQMSG_FUNCTION_CALL:
			owe(fc, 'z');
			break;
		case PQMSG_DESCRIBE:
			owe(fc, 'd');
			break;
		case PQMSG_EXECUTE:
			owe(fc, 'x');
			break;
		case PQMSG_FLUSH:
			break;
		default:
			fc->model_off = true;
			break;
		}
	}
}

/* At the end: a client still connected got all it was owed. */
static void
answer_check(struct sim *e, struct sim_client *fc)
{
	struct client *c = sim_client_get(e, fc);

	if (!fc->counting || fc->model_off || c == NULL ||
	    c->state == CL_CLOSED || c->state == CL_WAITING ||
	    evbuffer_get_length(fc->sent) > 0 || fc->owed_n == 0)
		return;
	fprintf(stderr, "fuzz: client %llu is still owed %u answers, the "
	    "oldest '%c'\n", (unsigned long long)fc->id, fc->owed_n,
	    owed_head(fc));
	abort();
}

/*
 * Read once from a socket into a buffer, at most max bytes: one read(2),
 * no FIONREAD, and a chain only as big as what came (a read into space
 * reserved in the buffer would take a 64 kB chain each time, which under
 * AddressSanitizer costs more than the rest of a small input).  Returns
 * what read(2) returns.
 */
int
sim_read(int fd, struct evbuffer *into, size_t max)
{
	char buf[SIM_READ_SIZE];
	ssize_t n;

	n = read(fd, buf, max < sizeof(buf) ? max : sizeof(buf));
	if (n > 0 && evbuffer_add(into, buf, (size_t)n) < 0)
		abort();
	return (int)n;
}

/*
 * The size of the whole message at the head of what pgweir sent (to "a
 * client" or "a server"), or 0 while it has not all come.  A length below
 * 4 is a bug in pgweir, not in its peer: abort.
 */
size_t
sim_frame(struct evbuffer *b, uint8_t *type, const char *to)
{
	uint8_t head[5];
	uint32_t len;

	if (evbuffer_copyout(b, head, 5) < 5)
		return 0;
	len = proto_get_u32(head + 1);
	if (len < 4) {
		fprintf(stderr, "sim: pgweir sent a message of type 0x%02x "
		    "with length %u to %s\n", head[0], len, to);
		abort();
	}
	*type = head[0];
	return evbuffer_get_length(b) < 1 + (size_t)len ? 0 : 1 + len;
}

/* Check the framing of what pgweir sent a client; drop what was checked. */
static void
peer_check(struct sim_client *fc)
{
	uint8_t type;
	size_t total;

	if (fc->in_startup || !fc->frames) {
		evbuffer_drain(fc->seen, evbuffer_get_length(fc->seen));
		return;
	}
	while ((total = sim_frame(fc->seen, &type, "a client")) > 0) {
		if (sim_global.trace)
			fprintf(stderr, "sim: client %llu got '%c'\n",
			    (unsigned long long)fc->id, type);
		if (fc->counting)
			answer_seen(fc, type);
		if (fc->n_got < sizeof(fc->got) - 1) {
			fc->got[fc->n_got++] = (char)type;
			fc->got[fc->n_got] = '\0';
		}
		evbuffer_drain(fc->seen, total);
	}
}

/*
 * A client's end is readable: read once (4 kB for a slow client), keep a
 * copy when asked, check the framing.
 */
static void
peer_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_client *fc = arg;
	struct sim *e = fc->sim;
	size_t before = evbuffer_get_length(fc->seen);
	int n;

	(void)what;
	n = sim_read(fd, fc->seen, e->opts.slow_clients ? 4096 :
	    SIM_READ_SIZE);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			event_del(fc->ev);	/* pgweir closed it */
		return;
	}
	if (fc->all != NULL) {
		struct evbuffer_ptr at;
		evbuffer_ptr_set(fc->seen, &at, before, EVBUFFER_PTR_SET);
		for (int k = 0; k < n;) {
			struct evbuffer_iovec v;
			if (evbuffer_peek(fc->seen, n - k, &at, &v, 1) < 1)
				break;
			evbuffer_add(fc->all, v.iov_base, v.iov_len);
			k += (int)v.iov_len;
			evbuffer_ptr_set(fc->seen, &at, v.iov_len,
			    EVBUFFER_PTR_ADD);
		}
	}
	peer_check(fc);
}

/* The harness's end of a new connection, read when readable. */
static struct sim_client *
peer_add(struct sim *e, int fd)
{
	struct sim_client *fc = &e->clients[e->n_clients++];

	memset(fc, 0, sizeof(*fc));
	fc->sim = e;
	fc->peer = fd;
	fc->seen = evbuffer_new();
	fc->sent = evbuffer_new();
	fc->ev = event_new(e->pw.base, fd, EV_READ | EV_PERSIST, peer_read_cb,
	    fc);
	if (fc->ev == NULL || event_add(fc->ev, NULL) < 0)
		abort();
	return fc;
}

/* Close the harness's end of a connection. */
static void
peer_close(struct sim_client *fc)
{
	if (fc->peer < 0)
		return;
	event_free(fc->ev);
	fc->ev = NULL;
	close(fc->peer);
	fc->peer = -1;
}

/* A new client connection, accepted by pgweir. */
struct sim_client *
sim_client_open(struct sim *e, bool unix_peer)
{
	struct sim_client *fc;
	struct client *c;
	int sv[2];
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_un un;
	} addr;

	if (e->n_clients == SIM_CLIENTS_MAX)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) < 0) {
		perror("socketpair");
		abort();
	}
	memset(&addr, 0, sizeof(addr));
	if (unix_peer) {
		addr.un.sun_family = AF_UNIX;
	} else {
		addr.in.sin_family = AF_INET;
		addr.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.in.sin_port = htons((uint16_t)(40000 + e->n_clients));
	}
	c = client_accept(&e->pw, sv[0], &addr.sa, sizeof(addr));
	if (c == NULL) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	fc = peer_add(e, sv[1]);
	fc->id = c->id;
	fc->frames = e->opts.check_frames;
	fc->in_startup = true;
	return fc;
}

/*
 * An HTTP connection to the /metrics endpoint, over TCP on 127.0.0.1 (the
 * only way into evhttp's public API).  It closes with a reset, so that
 * thousands a second leave no TIME_WAIT behind.  What pgweir answers is
 * kept whole in the peer's all buffer.
 */
struct sim_client *
sim_http_open(struct sim *e)
{
	struct sim_client *fc;
	struct sockaddr_in in;
	struct linger lg = { 1, 0 };
	int fd;

	if (e->pw.metrics == NULL || e->n_clients == SIM_CLIENTS_MAX)
		return NULL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in.sin_port = htons((uint16_t)sim_global.metrics_port);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)) < 0 || (connect(fd, (struct sockaddr *)&in,
	    sizeof(in)) < 0 && errno != EINPROGRESS)) {
		perror("sim: connect to /metrics");
		abort();
	}
	fc = peer_add(e, fd);
	sim_client_keep(fc);
	sim_pump(e);
	return fc;
}

/* Keep everything pgweir sends this client in fc->all, from now on. */
void
sim_client_keep(struct sim_client *fc)
{
	if (fc != NULL && fc->all == NULL)
		fc->all = evbuffer_new();
}

/* Write bytes as the client, through its socket (the real read path). */
void
sim_client_write(struct sim *e, struct sim_client *fc, const void *data,
    size_t len)
{
	const uint8_t *p = data;
	int turns = 0;

	while (len > 0 && fc->peer >= 0 && turns < SIM_PUMP_TURNS) {
		ssize_t n = write(fc->peer, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			/* the socket is full: let pgweir read some */
			turns++;
			event_base_loop(e->pw.base, EVLOOP_NONBLOCK);
			sim_pg_flush(e);
			{
				struct client *c = sim_client_get(e, fc);
				if (c == NULL || c->state == CL_CLOSED ||
				    !c->io.want_read) {
					fc->model_off = true;
					return;	/* nobody reads: drop */
				}
			}
			continue;
		}
		return;
	}
}

/*
 * Start a client's session: StartupMessage, then turns of the loop until
 * it is logged in.  Returns 0 when it is (state idle), -1 if not.
 */
int
sim_client_login(struct sim *e, struct sim_client *fc, const char *db,
    const char *user, const char *const *params)
{
	struct evbuffer *b = evbuffer_new();
	struct client *c;

	sim_add_startup(b, user, db, params);
	sim_client_write(e, fc, evbuffer_pullup(b, -1),
	    evbuffer_get_length(b));
	evbuffer_free(b);
	fc->in_startup = false;
	sim_pump(e);
	c = sim_client_get(e, fc);
	fc->counting = e->opts.check_answers && !e->opts.slow_clients;
	return c != NULL && c->state == CL_IDLE ? 0 : -1;
}

/*
 * Put bytes in a client's input as if read from its socket, and do what
 * client_io_cb() would with them.  A client that is not reading (paused
 * by backpressure, or SUSPEND) would not have read them, and one that gave
 * its buffers back would take new ones first; the bytes go through the
 * socket instead.
 */
void
sim_client_inject(struct sim *e, struct sim_client *fc, const void *data,
    size_t len)
{
	struct client *c = sim_client_get(e, fc);

	if (c == NULL || c->state == CL_CLOSED || len == 0)
		return;
	if (fc->counting)
		answer_owed(fc, data, len);
	if (c->state == CL_LOGIN || !c->io.want_read || c->io.in == NULL) {
		sim_client_write(e, fc, data, len);
		return;
	}
	evbuffer_add(c->io.in, data, len);
	if (c->state == CL_WELCOME) {
		if (io_in_pending(&c->io) > RELAY_IN_UNLINKED_MAX) {
			c->read_paused = true;
			io_set_read(&c->io, false);
		}
		return;
	}
	if (c->admin)
		admin_handle_input(c);
	else
		relay_client(c);
}

/* Send a CancelRequest for a client, on a new connection. */
void
sim_client_cancel(struct sim *e, const struct sim_client *target)
{
	struct client *t = sim_client_get(e, target);
	struct sim_client *fc;
	uint8_t req[16];

	if (t == NULL || t->state == CL_CLOSED)
		return;
	proto_put_u32(req, 16);
	proto_put_u32(req + 4, PQ_CANCEL_REQUEST);
	proto_put_u32(req + 8, t->slot);
	proto_put_u32(req + 12, t->cancel_key);
	fc = sim_client_open(e, false);
	if (fc == NULL)
		return;
	sim_client_write(e, fc, req, sizeof(req));
}

/* Close the client's end of its socket, as a client that goes away. */
void
sim_client_hangup(struct sim *e, struct sim_client *fc)
{
	if (fc == NULL || fc->peer < 0)
		return;
	peer_close(fc);
	sim_pump(e);
}

/* Check this client's answers from now on, whatever the options say. */
void
sim_client_expect_answers(struct sim_client *fc)
{
	if (fc != NULL)
		fc->counting = true;
}

/* ---- servers ---- */

/* A logged-in server: linked first, then tested, then idle; or NULL. */
struct server *
sim_server_any(struct sim *e)
{
	struct pool *pool;

	TAILQ_FOREACH(pool, &e->pw.pools, entry) {
		struct server_list *lists[] = { &pool->active_servers,
			&pool->tested_servers, &pool->idle_servers };
		for (int i = 0; i < 3; i++)
			if (!TAILQ_EMPTY(lists[i]))
				return TAILQ_FIRST(lists[i]);
	}
	return NULL;
}

/*
 * Put bytes in a logged-in server's input as if read from its socket and
 * run the relay, as server_io_cb() would; not while it is not reading.  A
 * server that gave its buffers back gets them through its socket.
 */
void
sim_server_inject(struct sim *e, struct server *server, const void *data,
    size_t len)
{
	if (server == NULL || server->state == SV_CLOSED ||
	    server->state == SV_CONNECTING || !server->io.want_read ||
	    len == 0)
		return;
	if (server->io.in == NULL) {
		for (int i = 0; i < SIM_PG_CONNS_MAX; i++) {
			struct sim_pgconn *c = &e->pg[i];
			if (c->in != NULL && !c->closing &&
			    c->pid == server->backend_pid) {
				evbuffer_add(c->out, data, len);
				sim_pump(e);
				return;
			}
		}
		return;
	}
	evbuffer_add(server->io.in, data, len);
	relay_server(server);
}

/* ---- the runtime ---- */

/*
 * Run the loop until nothing moves: pgweir's callbacks and the harness's
 * (fake servers answering, clients reading) in the same turns.
 *
 * One event_base_loop(EVLOOP_NONBLOCK) already turns until an epoll_wait
 * finds nothing ready and no callback active, and every socket has both
 * ends in this process: what a callback writes is seen by the next
 * epoll_wait of the same call, so when the call returns nothing is in
 * flight.  Only two things start it again: answers of the fake PostgreSQL
 * that a full socket did not take (sim_pg_flush() writes them between
 * calls, as it has no write interest), and a loopbreak (the reaper's,
 * once a SHUTDOWN is complete), which ends a call before it is quiet.  So
 * there is no need to spin idle turns to see that nothing happens.
 */
void
sim_pump(struct sim *e)
{
	struct event_base *base = e->pw.base;

	for (int turn = 0; turn < SIM_PUMP_TURNS; turn++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (sim_pg_flush(e))
			continue;
		if (!event_base_got_break(base) &&
		    event_base_get_num_events(base,
		    EVENT_BASE_COUNT_ACTIVE) == 0)
			return;
	}
}

/* The pgweir of a runtime. */
struct pgweir *
sim_pw(struct sim *e)
{
	return &e->pw;
}

/* A free TCP port on 127.0.0.1 for /metrics, chosen once. */
static int
sim_metrics_port(void)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int fd;

	if (sim_global.metrics_port != 0)
		return sim_global.metrics_port;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) < 0) {
		perror("metrics port");
		abort();
	}
	close(fd);
	sim_global.metrics_port = ntohs(in.sin_port);
	return sim_global.metrics_port;
}

/* The config text of a runtime: also its key in the cache. */
static char *
sim_config_text(const struct sim_opts *o)
{
	static const char *const modes[] = { "session", "transaction",
		"statement" };
	struct evbuffer *b = evbuffer_new();
	char *text;
	size_t n;

	evbuffer_add_printf(b,
	    "[databases]\n"
	    "db = host=%s port=5432\n"
	    "dbf = host=%s dbname=db user=fz\n"
	    "dbp = host=%s dbname=db user=fz "
	    "password=md5ecf6b0ce462868565e78a0695028beb9\n"
	    "dbrw = host=%s dbname=db target_session_attrs=read-write\n"
	    "dbsb = host=%s dbname=db target_session_attrs=standby\n"
	    "dbpref = host=%s dbname=db target_session_attrs=prefer-standby\n"
	    "* = host=%s\n"
	    "[users]\n"
	    "alice = pool_mode=session\n"
	    "bob = pool_mode=statement max_user_connections=1\n"
	    "[pgweir]\n"
	    "pool_mode = %s\n"
	    "default_pool_size = %d\n"
	    "max_prepared_statements = %d\n"
	    "max_client_prepared_statements = 8\n"
	    "auth_type = %s\n"
	    "auth_file = %s/userlist.txt\n"
	    "admin_users = admin\n"
	    "stats_users = stats\n"
	    "admin_db_aliases = pgbouncer\n"
	    "scram_iterations = 16\n"
	    "log_connections = 1\n"
	    "log_disconnections = 1\n"
	    "log_pooler_errors = 1\n"
	    "ignore_startup_parameters = extra_float_digits\n"
	    "unix_socket_dir = %s\n",
	    sim_global.dir, sim_global.dir, sim_global.dir, sim_global.dir,
	    sim_global.dir, sim_global.dir, sim_global.dir,
	    modes[o->pool_mode % 3], o->pool_size, o->max_prepared,
	    o->hba ? "hba" : config_auth_type_name(o->auth_type),
	    sim_global.dir, sim_global.dir);
	if (o->hba)
		evbuffer_add_printf(b, "auth_hba_file = %s/hba.conf\n",
		    sim_global.dir);
	if (o->tls || (!o->hba && o->auth_type == AUTH_CERT))
		evbuffer_add_printf(b, "client_tls_sslmode = allow\n"
		    "client_tls_key_file = %s/server.key\n"
		    "client_tls_cert_file = %s/server.crt\n",
		    sim_global.dir, sim_global.dir);
	if (o->metrics)
		evbuffer_add_printf(b, "metrics_listen_addr = 127.0.0.1\n"
		    "metrics_port = %d\n", sim_metrics_port());
	if (o->extra)
		evbuffer_add_printf(b, "%s\n", o->extra);
	n = evbuffer_get_length(b);
	text = malloc(n + 1);
	if (text == NULL)
		abort();
	evbuffer_remove(b, text, n);
	text[n] = '\0';
	evbuffer_free(b);
	return text;
}

/* Build a pgweir as main() does, without listeners, signals or DNS. */
static struct sim *
sim_build(const struct sim_opts *o, char *text)
{
	struct sim *e;
	struct pgweir *pw;
	struct config_error err;
	char msg[512], path[208];

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		abort();
	e->opts = *o;
	e->cfg_text = text;
	for (int i = 0; i < SIM_PG_CONNS_MAX; i++)
		e->pg[i].fd = -1;
	pw = &e->pw;
	pgweir_runtime_clear(pw);
	sim_log_settings();
	pw->cfg = config_load_string(text, "sim.ini", &err);
	if (pw->cfg == NULL) {
		fprintf(stderr, "sim: bad harness config: %s\n%s", err.msg,
		    text);
		abort();
	}
	snprintf(path, sizeof(path), "%s/pgweir.ini", sim_global.dir);
	pw->config_path = strdup(path);
	pw->cmd_quiet = getenv("PGWEIR_FUZZ_LOG") == NULL;
	pw->cmd_verbose = 2;
	pw->auth = authfile_parse(sim_authfile, "userlist.txt", msg,
	    sizeof(msg));
	if (o->hba)
		pw->hba = hba_parse(sim_hba, "hba.conf", NULL, msg,
		    sizeof(msg));
	if (pw->auth == NULL || (o->hba && pw->hba == NULL) ||
	    tls_build(pw->cfg, &pw->tls, msg, sizeof(msg)) < 0 ||
	    pgweir_runtime_init(pw, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "sim: set-up failed: %s\n", msg);
		abort();
	}
	memset(pw->auth_mock_key, 0x5a, sizeof(pw->auth_mock_key));
	if (admin_register(pw) < 0)
		abort();
	event_assign(&pw->stats_ev, pw->base, -1, EV_PERSIST,
	    pgweir_stats_cb, pw);
	e->accept_ev = event_new(pw->base, sim_global.listen_fd,
	    EV_READ | EV_PERSIST, sim_pg_accept_cb, e);
	if (e->accept_ev == NULL || event_add(e->accept_ev, NULL) < 0)
		abort();
	pw->started = pgweir_now_usec(pw);
	if (o->metrics && metrics_start(pw) < 0)
		abort();
	e->cfg0 = pw->cfg;
	e->auth0 = pw->auth;
	e->hba0 = pw->hba;
	return e;
}

/* Free a runtime whose connections are all closed and reaped. */
static void
sim_destroy(struct sim *e)
{
	struct pgweir *pw = &e->pw;

	metrics_stop(pw);
	pgweir_free_runtime(pw);
	event_del(&pw->reap_ev);
	event_del(&pw->stats_ev);
	event_free(e->accept_ev);
	event_base_free(pw->base);
	config_unref(pw->cfg);
	free(pw->config_path);
	if (sim_global.ini_of == e)
		sim_global.ini_of = NULL;
	free(e->cfg_text);
	free(e);
}

/*
 * A pgweir for these options, with no connection yet: the cached one for
 * this config if there is one, else a new one.
 */
struct sim *
sim_open(const struct sim_opts *o)
{
	struct sim *e, **pp;
	char *text;

	sim_global_init();
	text = sim_config_text(o);
	for (pp = &sim_global.cache; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->cfg_text, text) == 0)
			break;
	if (e != NULL) {
		free(text);
		*pp = e->next;		/* to the front */
		e->opts = *o;
	} else {
		e = sim_build(o, text);
		sim_global.n_cache++;
	}
	e->next = sim_global.cache;
	sim_global.cache = e;
	if (o->reload_file && sim_global.ini_of != e) {
		sim_write_file("pgweir.ini", e->cfg_text, strlen(e->cfg_text));
		sim_global.ini_of = e;
	}
	return e;
}

/* Close every connection pgweir and the harness hold, and reap them. */
static void
sim_close_all(struct sim *e)
{
	struct pgweir *pw = &e->pw;

	pgweir_close_all(pw, "sim teardown");
	for (int i = 0; i < e->n_clients; i++)
		peer_close(&e->clients[i]);
	/* let cancel and HTTP connections finish (they free themselves) */
	sim_pump(e);
	pgweir_reap_cb(-1, 0, pw);
	for (int i = 0; i < e->n_clients; i++) {
		evbuffer_free(e->clients[i].seen);
		evbuffer_free(e->clients[i].sent);
		if (e->clients[i].all != NULL)
			evbuffer_free(e->clients[i].all);
	}
	e->n_clients = 0;
	sim_pg_reset(e);
}

/*
 * Whether a runtime is as sim_build() left it once its connections are
 * gone: same config, auth_file and hba, not suspended or shutting down.
 */
static bool
sim_is_clean(const struct sim *e)
{
	const struct pgweir *pw = &e->pw;

	return pw->cfg == e->cfg0 && pw->auth == e->auth0 &&
	    pw->hba == e->hba0 && !pw->suspended &&
	    pw->shutdown == SHUTDOWN_NONE && pw->n_clients == 0 &&
	    pw->n_servers == 0 && !event_pending(&pw->stats_ev, EV_TIMEOUT,
	    NULL);
}

/*
 * End an input: check every client got its answers, close everything,
 * and put the runtime back as it was built -- no pools, databases or
 * users, connection ids and cancel-key slots from the start -- or free it
 * if the input changed what a reset cannot put back.  The statement and
 * parameter-set registries empty themselves as connections go; only the
 * statement counter (the number in the names pgweir gives statements on
 * servers) carries on.
 */
void
sim_close(struct sim *e)
{
	struct pgweir *pw = &e->pw;
	struct sim **pp;

	sim_pump(e);
	for (int i = 0; i < e->n_clients; i++)
		answer_check(e, &e->clients[i]);
	sim_close_all(e);
	pgweir_free_pools(pw);
	if (sim_is_clean(e) && sim_global.n_cache <= SIM_CACHE_MAX) {
		pw->next_id = 0;
		slots_reset(&pw->slots);
		return;
	}
	for (pp = &sim_global.cache; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	sim_global.n_cache--;
	sim_destroy(e);
	sim_log_settings();
}
