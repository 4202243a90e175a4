/* pgweir: auth_hba_file, the subset of pg_hba.conf a pooler supports. */
#ifndef PGWEIR_HBA_H
#define PGWEIR_HBA_H

#include <stddef.h>

struct sockaddr;

/* Bounds on what a file may hold; anything past them is a parse error. */
#define HBA_FILE_MAX	(1024 * 1024)	/* bytes in the file or an @file */
#define HBA_LINE_MAX	8192		/* bytes in a record, joined lines */
#define HBA_RULES_MAX	10000		/* records in the file */
#define HBA_NAMES_MAX	100000		/* db and user entries, all rules */
#define HBA_INCLUDES_MAX 1000		/* @file references in the file */

/* The authentication method a rule asks for. */
enum hba_method {
	HBA_TRUST,
	HBA_REJECT,
	HBA_MD5,
	HBA_PASSWORD,
	HBA_SCRAM,
	HBA_CERT,
	HBA_PEER,
	HBA_LDAP,
};

/* How a client came in: the unix socket, or TCP with or without TLS. */
enum hba_conn {
	HBA_CONN_LOCAL,
	HBA_CONN_HOST_SSL,
	HBA_CONN_HOST_NOSSL,
};

/* A parsed file; opaque, owns all its rules. */
struct hba;

/* Between the "name=value" options of an ldap rule as hba_match gives them. */
#define HBA_OPT_SEP '\x1f'


struct hba *hba_load(const char *path, char *err, size_t errlen);
struct hba *hba_parse(const char *text, const char *name,
    const char *basedir, char *err, size_t errlen);
void hba_free(struct hba *hba);
int hba_match(const struct hba *hba, enum hba_conn conn,
    const char *database, const char *user, const struct sockaddr *addr,
    enum hba_method *method, const char **map);
const char *hba_method_name(enum hba_method m);

#endif
