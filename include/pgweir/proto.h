/* pgweir: the PostgreSQL wire format (Frontend/Backend Protocol 3.0). */
#ifndef PGWEIR_PROTO_H
#define PGWEIR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Message types, named as in PostgreSQL's protocol documentation. */
enum {
	/* frontend */
	PQMSG_BIND = 'B',
	PQMSG_CLOSE = 'C',
	PQMSG_COPY_DATA = 'd',
	PQMSG_COPY_DONE = 'c',
	PQMSG_COPY_FAIL = 'f',
	PQMSG_DESCRIBE = 'D',
	PQMSG_EXECUTE = 'E',
	PQMSG_FLUSH = 'H',
	PQMSG_FUNCTION_CALL = 'F',
	PQMSG_PARSE = 'P',
	PQMSG_PASSWORD = 'p',	/* also SASLInitialResponse, SASLResponse */
	PQMSG_QUERY = 'Q',
	PQMSG_SYNC = 'S',
	PQMSG_TERMINATE = 'X',
	/* backend */
	PQMSG_AUTHENTICATION = 'R',
	PQMSG_BACKEND_KEY_DATA = 'K',
	PQMSG_BIND_COMPLETE = '2',
	PQMSG_CLOSE_COMPLETE = '3',
	PQMSG_COMMAND_COMPLETE = 'C',
	PQMSG_COPY_IN_RESPONSE = 'G',
	PQMSG_COPY_OUT_RESPONSE = 'H',
	PQMSG_COPY_BOTH_RESPONSE = 'W',
	PQMSG_DATA_ROW = 'D',
	PQMSG_EMPTY_QUERY_RESPONSE = 'I',
	PQMSG_ERROR_RESPONSE = 'E',
	PQMSG_FUNCTION_CALL_RESPONSE = 'V',
	PQMSG_NEGOTIATE_PROTOCOL_VERSION = 'v',
	PQMSG_NO_DATA = 'n',
	PQMSG_NOTICE_RESPONSE = 'N',
	PQMSG_NOTIFICATION_RESPONSE = 'A',
	PQMSG_PARAMETER_DESCRIPTION = 't',
	PQMSG_PARAMETER_STATUS = 'S',
	PQMSG_PARSE_COMPLETE = '1',
	PQMSG_PORTAL_SUSPENDED = 's',
	PQMSG_READY_FOR_QUERY = 'Z',
	PQMSG_ROW_DESCRIPTION = 'T',
};

/* Authentication request codes (the Int32 after 'R'). */
enum {
	PQAUTH_OK = 0,
	PQAUTH_CLEARTEXT = 3,
	PQAUTH_MD5 = 5,
	PQAUTH_SASL = 10,
	PQAUTH_SASL_CONTINUE = 11,
	PQAUTH_SASL_FINAL = 12,
};

/* Codes in the version field of a startup-phase packet. */
#define PQ_PROTOCOL_3_0 196608u		/* 3 << 16 */
#define PQ_CANCEL_REQUEST 80877102u
#define PQ_SSL_REQUEST 80877103u
#define PQ_GSSENC_REQUEST 80877104u

#define PQ_HEADER_LEN 5			/* type byte + Int32 length */
#define PQ_STARTUP_MAX 10000		/* PostgreSQL's own limit */
#define PQ_STARTUP_PARAMS_MAX 64

/* SQLSTATE codes pgweir sends itself. */
#define SQLSTATE_PROTOCOL_VIOLATION "08P01"
#define SQLSTATE_CONNECTION_FAILURE "08006"
#define SQLSTATE_CANNOT_CONNECT "08001"
#define SQLSTATE_TOO_MANY_CONNECTIONS "53300"
#define SQLSTATE_INVALID_AUTHORIZATION "28000"
#define SQLSTATE_INVALID_PASSWORD "28P01"
#define SQLSTATE_INVALID_CATALOG "3D000"
#define SQLSTATE_FEATURE_NOT_SUPPORTED "0A000"
#define SQLSTATE_QUERY_CANCELED "57014"
#define SQLSTATE_ADMIN_SHUTDOWN "57P01"
#define SQLSTATE_CANNOT_CONNECT_NOW "57P03"
#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLSTATE_SYNTAX_ERROR "42601"
#define SQLSTATE_INTERNAL_ERROR "XX000"
#define SQLSTATE_OBJECT_IN_USE "55006"
#define SQLSTATE_CONFIG_FILE_ERROR "F0000"
#define SQLSTATE_IDLE_SESSION_TIMEOUT "57P05"
#define SQLSTATE_IDLE_IN_TX_TIMEOUT "25P03"

/* The parts of a message header. */
struct pq_header {
	uint8_t type;
	uint32_t len;		/* Int32 length: counts itself, not the type */
};

/* A parameter name and value pointing into a parsed packet. */
struct pq_param {
	const char *name;
	const char *value;
};

/* A parsed startup-phase packet; strings point into the packet buffer. */
/* What a StartupMessage's replication parameter asks for. */
enum pq_replication {
	PQ_REPL_NONE,
	PQ_REPL_PHYSICAL,	/* true, on, yes, 1 */
	PQ_REPL_LOGICAL,	/* database */
};

struct pq_startup {
	uint32_t code;		/* protocol version or request code */
	const char *user;
	const char *database;	/* defaults to user */
	uint8_t replication;	/* PQ_REPL_*: a replication connection */
	struct pq_param params[PQ_STARTUP_PARAMS_MAX]; /* others, incl. -c */
	int n_params;
	bool from_options[PQ_STARTUP_PARAMS_MAX]; /* a switch of "options" */
	const char *unknown_options[PQ_STARTUP_PARAMS_MAX]; /* _pq_.* */
	int n_unknown_options;
	uint32_t cancel_pid;	/* CancelRequest only */
	uint32_t cancel_key;
};

int proto_peek_header(struct evbuffer *buf, size_t offset,
    struct pq_header *hdr);

/* The first chain of an input buffer, for reading headers in place. */
struct pq_view {
	struct evbuffer *buf;
	const uint8_t *data;	/* the first chain's bytes, or NULL */
	size_t len;		/* their number */
	size_t total;		/* the buffer's length when taken */
};
void pq_view_init(struct pq_view *v, struct evbuffer *buf);
bool pq_view_copyout(struct pq_view *v, size_t offset, void *dst, size_t n);
int pq_view_header(struct pq_view *v, size_t offset, struct pq_header *hdr);
bool proto_copyout_at(struct evbuffer *buf, size_t offset, void *dst,
    size_t n);
int proto_parse_startup(char *pkt, size_t len, struct pq_startup *sp,
    char *err, size_t errlen);

/* Builders: each appends one whole message; -1 on allocation failure. */
int proto_build_error(struct evbuffer *out, const char *severity,
    const char *sqlstate, const char *message, const char *detail);
int proto_build_notice(struct evbuffer *out, const char *sqlstate,
    const char *message);
int proto_build_auth(struct evbuffer *out, uint32_t code, const void *data,
    size_t len);
int proto_build_parameter_status(struct evbuffer *out, const char *name,
    const char *value);
int proto_build_backend_key_data(struct evbuffer *out, uint32_t pid,
    uint32_t key);
int proto_build_ready_for_query(struct evbuffer *out, char status);
int proto_build_negotiate_protocol_version(struct evbuffer *out,
    uint32_t newest_minor, const char *const *options, int n_options);
int proto_build_query(struct evbuffer *out, const char *sql);
int proto_build_simple(struct evbuffer *out, uint8_t type);
int proto_build_startup(struct evbuffer *out, const struct pq_param *params,
    int n_params);
int proto_build_cancel_request(struct evbuffer *out, uint32_t pid,
    uint32_t key);
int proto_build_password(struct evbuffer *out, const void *data, size_t len);
int proto_build_message(struct evbuffer *out, uint8_t type,
    const void *body, size_t len);

/* Result sets (admin console, fake answers). */
int proto_build_row_description(struct evbuffer *out,
    const char *const *names, const uint32_t *type_oids, int ncols);
int proto_build_data_row(struct evbuffer *out, const char *const *values,
    int ncols);
int proto_build_command_complete(struct evbuffer *out, const char *tag);

/* Fields of an ErrorResponse or NoticeResponse body. */
struct pq_error_fields {
	const char *severity;	/* V (or S) */
	const char *sqlstate;	/* C */
	const char *message;	/* M */
	const char *detail;	/* D */
};

int proto_parse_error(const char *body, size_t len,
    struct pq_error_fields *f);
int proto_parse_parameter_status(const char *body, size_t len,
    const char **name, const char **value);

uint32_t proto_get_u32(const void *p);
void proto_put_u32(void *p, uint32_t v);
bool proto_is_valid_utf8(const char *s, size_t len);

#endif
