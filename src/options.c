/* SPDX-License-Identifier: ISC */
/*
 * The options table: every key of the [pgweir] section (read as [pgbouncer]
 * too), with its type, default, limits, reload behaviour and help text.
 *
 * This one table drives the defaults, the ini parser, validation, SHOW
 * CONFIG, the generated docs/config.md and etc/pgweir.ini; a unit test fails
 * when those files drift from it.  Keys and defaults follow PgBouncer where
 * the meaning is the same, so that an existing pgbouncer.ini keeps working.
 * Keys marked OPT_LATER are known but not acted on yet: setting one to a
 * non-default value logs a warning naming it.
 */
#include "config.h"

#include <strings.h>

#include <stddef.h>
#include <string.h>

#include "pgweir/config.h"

#define OFF(field) offsetof(struct config, field)
#define DAY (24LL * 3600)
#define TMAX (365 * DAY)

static const char *const pool_modes[] = { "session", "transaction",
	"statement", NULL };
static const char *const log_formats[] = { "text", "json", NULL };
static const char *const auth_types[] = { "any", "trust", "plain", "md5",
	"scram-sha-256", "cert", "hba", "pam", "ldap", NULL };
static const char *const tls_modes[] = { "disable", "allow", "prefer",
	"require", "verify-ca", "verify-full", NULL };

#define R OPT_RELOAD
#define S OPT_SENSITIVE
#define L OPT_LATER

const struct config_option config_options[] = {
	/* process, listening, general */
	{ "logfile", OPT_STRING, OFF(logfile), "", 0, 0, NULL, R,
	  "File to append log lines to, in addition to stderr (unless -q or "
	  "-d). Reopened on reload, so logrotate can move it away." },
	{ "pidfile", OPT_STRING, OFF(pidfile), "", 0, 0, NULL, 0,
	  "File to write the process id to. Required with -d." },
	{ "listen_addr", OPT_STRING, OFF(listen_addr), "", 0, 0, NULL, 0,
	  "Comma-separated TCP addresses to listen on; `*` means all IPv4 and "
	  "IPv6 addresses. Empty: unix socket only." },
	{ "listen_port", OPT_INT, OFF(listen_port), "6432", 1, 65535, NULL, 0,
	  "TCP port, also used in the unix socket's name `.s.PGSQL.<port>`." },
	{ "unix_socket_dir", OPT_STRING, OFF(unix_socket_dir), "/tmp", 0, 0,
	  NULL, 0,
	  "Directory of the listening unix socket, and where server "
	  "connections look when a database has no host. Empty disables the "
	  "unix socket." },
	{ "unix_socket_mode", OPT_OCTAL, OFF(unix_socket_mode), "0777", 0,
	  07777, NULL, 0, "File mode of the unix socket." },
	{ "unix_socket_group", OPT_STRING, OFF(unix_socket_group), "", 0, 0,
	  NULL, 0, "Group owning the unix socket." },
	{ "user", OPT_STRING, OFF(user), "", 0, 0, NULL, 0,
	  "Account to switch to when started as root (pgweir refuses to run "
	  "as root otherwise)." },
	{ "listen_backlog", OPT_INT, OFF(listen_backlog), "128", 1, 65535,
	  NULL, 0, "Backlog passed to listen(2)." },
	{ "so_reuseport", OPT_BOOL, OFF(so_reuseport), "0", 0, 1, NULL, 0,
	  "Set SO_REUSEPORT on TCP listeners so several processes can share "
	  "a port." },
	{ "peer_id", OPT_INT, OFF(peer_id), "0", 0, 16383, NULL, 0,
	  "This process's id in a peering group (0: no peering): it goes "
	  "into the cancel keys its clients get, so that a peer that "
	  "receives their cancel request forwards it here ([peers])." },
	{ "conffile", OPT_STRING, OFF(conffile), "", 0, 0, NULL, R,
	  "Path of the configuration file; the next reload reads this file. "
	  "Defaults to the file named on the command line." },
	{ "service_name", OPT_STRING, OFF(service_name), "pgweir", 0, 0, NULL,
	  0, "PgBouncer's Windows service name; no effect on Linux, as in "
	  "PgBouncer." },
	{ "job_name", OPT_STRING, OFF(job_name), "pgweir", 0, 0, NULL, 0,
	  "Alias of service_name; no effect on Linux." },
	{ "stats_period", OPT_TIME, OFF(stats_period), "60", 1, DAY, NULL, R,
	  "Period of the averages in SHOW STATS, of the stats log line and "
	  "of the systemd STATUS line." },
	{ "disable_pqexec", OPT_BOOL, OFF(disable_pqexec), "0", 0, 1, NULL, 0,
	  "Refuse the simple query protocol: a client that sends a Query "
	  "message is disconnected with \"PQexec disallowed\" (several "
	  "statements in one message allow some SQL injection); only the "
	  "extended protocol works." },
	{ "application_name_add_host", OPT_BOOL,
	  OFF(application_name_add_host), "0", 0, 1, NULL, R,
	  "Append the client's address and port to the application_name it "
	  "logs in with (\"app - 10.0.0.7:51000\", \"app\" when it gave "
	  "none), so that pg_stat_activity shows where a query came from." },
	{ "max_prepared_statements", OPT_INT, OFF(max_prepared_statements),
	  "200", 0, 100000, NULL, R,
	  "Protocol-level named prepared statements kept per server "
	  "connection in transaction and statement mode, least recently used "
	  "closed first (0 turns the feature off: statements pass "
	  "untouched)." },
	{ "max_client_prepared_statements", OPT_INT,
	  OFF(max_client_prepared_statements), "10000", 1, 10000000, NULL,
	  R | OPT_PGWEIR,
	  "Named prepared statements one client may hold at once; past it "
	  "the client's Parse fails with an error (others are unaffected)." },
	{ "max_client_prepared_bytes", OPT_INT,
	  OFF(max_client_prepared_bytes), "16777216", 1024, 2147483647, NULL,
	  R | OPT_PGWEIR,
	  "Bytes of statement text one client may hold at once." },
	{ "scram_iterations", OPT_INT, OFF(scram_iterations), "4096", 1,
	  10000000, NULL, R,
	  "Iterations used when pgweir computes a SCRAM secret itself." },
	{ "login_notify_message", OPT_STRING, OFF(login_notify_message), "",
	  0, 0, NULL, R,
	  "A NOTICE sent to each client after it logs in (PgBouncer's next "
	  "release has it): a maintenance announcement, say." },

	{ "metrics_listen_addr", OPT_STRING, OFF(metrics_listen_addr),
	  "127.0.0.1", 0, 0, NULL, OPT_PGWEIR,
	  "Address of the Prometheus endpoint (see metrics_port)." },
	{ "metrics_port", OPT_INT, OFF(metrics_port), "0", 0, 65535, NULL,
	  OPT_PGWEIR,
	  "Port of the Prometheus endpoint http://metrics_listen_addr:port/"
	  "metrics and of the health probes /healthz and /ready (0: off)." },

	/* pool sizing and limits */
	{ "pool_mode", OPT_ENUM, OFF(pool_mode), "session", 0, 0, pool_modes,
	  R | OPT_DB | OPT_USER,
	  "When a server connection goes back to the pool: at client "
	  "disconnect (session), at transaction end (transaction) or after "
	  "each statement (statement)." },
	{ "max_client_conn", OPT_INT, OFF(max_client_conn), "100", 1, 1000000,
	  NULL, R,
	  "Most client connections accepted at once (the admin console does "
	  "not count). A client counts from its startup packet on: sockets "
	  "that have not sent one are bounded by max_login_clients and "
	  "client_startup_timeout instead, so they cannot fill this." },
	{ "max_login_clients", OPT_INT, OFF(max_login_clients), "100", 0,
	  1000000, NULL, R | OPT_PGWEIR,
	  "Most clients logging in at once (connected, not yet "
	  "authenticated); past it a new TCP connection is refused at once "
	  "with `FATAL: too many clients logging in` (SQLSTATE 53300). The "
	  "unix socket is never refused, so the console stays reachable. "
	  "Raise it where many clients reconnect at once (0: no bound)." },
	{ "default_pool_size", OPT_INT, OFF(default_pool_size), "20", 0,
	  100000, NULL, R | OPT_DB | OPT_USER,
	  "Most server connections per (database, user) pool; 0 means no "
	  "limit." },
	{ "min_pool_size", OPT_INT, OFF(min_pool_size), "0", 0, 100000, NULL,
	  R | OPT_DB,
	  "Server connections kept open per pool even when unused." },
	{ "reserve_pool_size", OPT_INT, OFF(reserve_pool_size), "0", 0, 100000,
	  NULL, R | OPT_DB | OPT_USER,
	  "Extra server connections a pool may open once a client has "
	  "waited reserve_pool_timeout." },
	{ "reserve_pool_timeout", OPT_TIME, OFF(reserve_pool_timeout), "5", 0,
	  TMAX, NULL, R, "Wait before the reserve pool is used." },
	{ "max_db_connections", OPT_INT, OFF(max_db_connections), "0", 0,
	  1000000, NULL, R | OPT_DB,
	  "Most server connections per database, all users together (0: no "
	  "limit)." },
	{ "max_db_client_connections", OPT_INT,
	  OFF(max_db_client_connections), "0", 0, 1000000, NULL, R | OPT_DB,
	  "Most client connections per database (0: no limit). Console "
	  "logins count against the console database `pgweir`: stats_users "
	  "are refused past it, admin_users never." },
	{ "max_user_connections", OPT_INT, OFF(max_user_connections), "0", 0,
	  1000000, NULL, R | OPT_USER,
	  "Most server connections per user, all databases together (0: no "
	  "limit)." },
	{ "max_user_client_connections", OPT_INT,
	  OFF(max_user_client_connections), "0", 0, 1000000, NULL, R | OPT_USER,
	  "Most client connections per user (0: no limit). Console logins "
	  "count for their user: stats_users are refused past it, admin_users "
	  "never on the console." },
	{ "server_round_robin", OPT_BOOL, OFF(server_round_robin), "0", 0, 1,
	  NULL, R,
	  "Reuse idle server connections in turn instead of the most "
	  "recently used first (the default keeps few servers busy, so "
	  "server_idle_timeout can close the rest)." },
	{ "autodb_idle_timeout", OPT_TIME, OFF(autodb_idle_timeout), "3600", 0,
	  TMAX, NULL, R,
	  "Free a pool of a database created from the `*` entry after this "
	  "long without clients (its idle servers are closed), and the "
	  "database once it has no pool left." },
	{ "pool_idle_timeout", OPT_TIME, OFF(pool_idle_timeout), "3600", 0,
	  TMAX, NULL, R,
	  "Free a pool of a `[databases]` entry after this long with no "
	  "clients and no servers, and its user once it has no pool left; "
	  "their counters stay in the totals (0: never)." },

	/* startup parameters */
	{ "track_extra_parameters", OPT_STRING, OFF(track_extra_parameters),
	  "IntervalStyle", 0, 0, NULL, 0,
	  "Comma-separated extra parameters that pgweir tracks per client "
	  "and restores on each server it links the client to." },
	{ "ignore_startup_parameters", OPT_STRING,
	  OFF(ignore_startup_parameters), "", 0, 0, NULL, R,
	  "Comma-separated startup parameters that clients may send and "
	  "pgweir silently drops (for example extra_float_digits)." },

	/* authentication and console access */
	{ "auth_type", OPT_ENUM, OFF(auth_type), "md5", 0, 0, auth_types, R,
	  "How clients authenticate: any, trust, plain, md5, scram-sha-256, "
	  "cert, hba, pam (Linux-PAM, service \"pgbouncer\"; the "
	  "auth_file is not used) or ldap (auth_ldap_options)." },
	{ "auth_file", OPT_STRING, OFF(auth_file), "", 0, 0, NULL, R,
	  "File of `\"user\" \"secret\"` lines; re-read on reload." },
	{ "auth_hba_file", OPT_STRING, OFF(auth_hba_file), "", 0, 0, NULL, R,
	  "pg_hba.conf-style rules used with auth_type = hba." },
	{ "auth_ident_file", OPT_STRING, OFF(auth_ident_file), "", 0, 0, NULL,
	  R, "User name maps (PgBouncer's form of pg_ident.conf: \"map "
	  "system-user user\" lines) for map= options of cert and peer rules "
	  "in auth_hba_file." },
	{ "auth_user", OPT_STRING, OFF(auth_user), "", 0, 0, NULL, R | OPT_DB,
	  "User that runs auth_query for users missing from auth_file." },
	{ "auth_query", OPT_STRING, OFF(auth_query),
	  "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE "
	  "rolpassword END FROM pg_authid WHERE rolname=$1 AND rolcanlogin",
	  0, 0, NULL, R | OPT_DB,
	  "Query returning (name, secret) for the user name given as $1." },
	{ "auth_dbname", OPT_STRING, OFF(auth_dbname), "", 0, 0, NULL,
	  R | OPT_DB,
	  "Database in which auth_query runs (default: the one the client "
	  "asked for)." },
	{ "auth_query_cache_ttl", OPT_TIME, OFF(auth_query_cache_ttl), "10", 0,
	  DAY, NULL, R | OPT_PGWEIR,
	  "How long an auth_query answer is reused for later logins of the "
	  "same user (0: ask every time). A changed password or a dropped "
	  "role is seen by new logins at most this late." },
	{ "auth_ldap_options", OPT_STRING, OFF(auth_ldap_options), "", 0, 0,
	  NULL, R | S, "With auth_type = ldap: the options of an ldap line "
	  "of pg_hba.conf (ldapurl=..., or ldapserver=... with ldapprefix and "
	  "ldapsuffix or ldapbasedn...), used for every client." },
	{ "admin_users", OPT_STRING, OFF(admin_users), "", 0, 0, NULL, R,
	  "Comma-separated users allowed every admin console command." },
	{ "admin_db_aliases", OPT_STRING, OFF(admin_db_aliases), "pgbouncer",
	  0, 0, NULL, R | OPT_PGWEIR,
	  "Other names of the admin console's database (it is always "
	  "\"pgweir\"), so that tools written for PgBouncer connect "
	  "unchanged." },
	{ "stats_users", OPT_STRING, OFF(stats_users), "", 0, 0, NULL, R,
	  "Comma-separated users allowed the read-only admin console "
	  "commands." },

	/* logging */
	{ "log_format", OPT_ENUM, OFF(log_format), "text", 0, 0, log_formats,
	  R, "Layout of log lines. text: PgBouncer's, which its log tools "
	  "read. json: one JSON object per line with time, pid, level, the "
	  "connection (conn, id, database, user, addr) and the message, for "
	  "log pipelines." },
	{ "syslog", OPT_BOOL, OFF(syslog), "0", 0, 1, NULL, R,
	  "Also log to syslog." },
	{ "syslog_ident", OPT_STRING, OFF(syslog_ident), "pgweir", 0, 0, NULL,
	  R, "Program name in syslog lines." },
	{ "syslog_facility", OPT_STRING, OFF(syslog_facility), "daemon", 0, 0,
	  NULL, R,
	  "Syslog facility: auth, authpriv, daemon, user or local0-7." },
	{ "log_connections", OPT_BOOL, OFF(log_connections), "1", 0, 1, NULL,
	  R, "Log each successful login." },
	{ "log_disconnections", OPT_BOOL, OFF(log_disconnections), "1", 0, 1,
	  NULL, R, "Log each disconnection with its reason." },
	{ "log_pooler_errors", OPT_BOOL, OFF(log_pooler_errors), "1", 0, 1,
	  NULL, R, "Log the errors pgweir itself sends to clients." },
	{ "log_stats", OPT_BOOL, OFF(log_stats), "1", 0, 1, NULL, R,
	  "Log a line of statistics every stats_period." },
	{ "verbose", OPT_INT, OFF(verbose), "0", 0, 3, NULL, R,
	  "Log verbosity: 1 adds debug lines, 2 and more add noise (same as "
	  "-v)." },

	/* server connection hygiene and health */
	{ "server_reset_query", OPT_STRING, OFF(server_reset_query),
	  "DISCARD ALL", 0, 0, NULL, R,
	  "Query run on a server connection when a session-mode client "
	  "releases it. Empty: none." },
	{ "server_reset_query_always", OPT_BOOL,
	  OFF(server_reset_query_always), "0", 0, 1, NULL, R,
	  "Also run server_reset_query in transaction and statement mode." },
	{ "server_check_delay", OPT_TIME, OFF(server_check_delay), "30", 0,
	  TMAX, NULL, R,
	  "A server connection idle longer than this runs "
	  "server_check_query before reuse." },
	{ "server_check_query", OPT_STRING, OFF(server_check_query), "<empty>",
	  0, 0, NULL, R,
	  "Health check query; `<empty>` sends an empty query, an empty "
	  "value disables the check." },
	{ "server_fast_close", OPT_BOOL, OFF(server_fast_close), "0", 0, 1,
	  NULL, R,
	  "In session mode, close servers that need closing (RECONNECT, a "
	  "reload that changed their database) at once when between "
	  "transactions, else at the end of the transaction, with their "
	  "client, instead of when the client leaves." },
	{ "server_lifetime", OPT_TIME, OFF(server_lifetime), "3600", 0, TMAX,
	  NULL, R | OPT_DB,
	  "Close an unused server connection older than this (0: use each "
	  "connection once)." },
	{ "server_idle_timeout", OPT_TIME, OFF(server_idle_timeout), "600", 0,
	  TMAX, NULL, R,
	  "Close a server connection idle longer than this (0: never)." },
	{ "server_connect_timeout", OPT_TIME, OFF(server_connect_timeout),
	  "15", 0, TMAX, NULL, R,
	  "Deadline for connecting to and logging in to a server." },
	{ "server_login_retry", OPT_TIME, OFF(server_login_retry), "15", 0,
	  TMAX, NULL, R,
	  "After a failed server login, new clients get that error at once "
	  "for this long before pgweir tries again. After PostgreSQL could "
	  "not be reached, pgweir tries again sooner first (0.2-0.4 s, then "
	  "doubling, with jitter), never waiting longer than this." },
	{ "server_login_fail_fast", OPT_TIME, OFF(server_login_fail_fast),
	  "10", 0, TMAX, NULL, R,
	  "Once PostgreSQL has been unreachable for this long (every try in "
	  "a row failed), the clients waiting for that pool get the last "
	  "error at once, and so do new requests until a server login "
	  "succeeds, instead of waiting up to query_wait_timeout; one log "
	  "line when this starts and one when it ends. 0: clients wait, as "
	  "in PgBouncer." },
	{ "client_startup_timeout", OPT_TIME, OFF(client_startup_timeout),
	  "5", 0, TMAX, NULL, R | OPT_PGWEIR,
	  "Deadline for a client to send its startup packet, from accept (TLS "
	  "handshake included); a socket that sends nothing, or part of a "
	  "packet, is closed after it (0: only client_login_timeout)." },
	{ "client_login_timeout", OPT_TIME, OFF(client_login_timeout), "60", 0,
	  TMAX, NULL, R,
	  "Deadline for a client to finish logging in (0: none)." },
	{ "query_wait_notify", OPT_TIME, OFF(query_wait_notify), "5", 0, TMAX,
	  NULL, R,
	  "Send a NOTICE to a client that has waited this long for a server "
	  "(0: never)." },

	/* DNS */
	{ "dns_max_ttl", OPT_TIME, OFF(dns_max_ttl), "15", 0, TMAX, NULL, R,
	  "How long a host name lookup is cached." },
	{ "dns_nxdomain_ttl", OPT_TIME, OFF(dns_nxdomain_ttl), "15", 0, TMAX,
	  NULL, R, "How long a host name that does not exist (NXDOMAIN) is "
	  "remembered: connections to it fail at once meanwhile (0: never "
	  "remembered)." },
	{ "dns_zone_check_period", OPT_TIME, OFF(dns_zone_check_period), "0",
	  0, TMAX, NULL, R,
	  "Every this often, every cached host name is looked up again at its "
	  "next connection, and the servers of a name whose address changed "
	  "are replaced (PgBouncer polls the zones' SOA serials for the same "
	  "effect; 0: off).  SHOW DNS_ZONES lists the zones." },
	{ "resolv_conf", OPT_STRING, OFF(resolv_conf), "", 0, 0, NULL, 0,
	  "Alternative resolv.conf for host name lookups." },

	/* TLS */
	{ "client_tls_sslmode", OPT_ENUM, OFF(client_tls_sslmode), "disable",
	  0, 0, tls_modes, R,
	  "TLS towards clients: disable (an SSLRequest is answered \"no\"), "
	  "allow or prefer (TLS when the client asks), require (TCP "
	  "clients must use TLS), verify-ca or verify-full (and must show a "
	  "certificate signed by client_tls_ca_file). Direct TLS (a "
	  "ClientHello first, with ALPN postgresql) works whenever TLS is "
	  "on." },
	{ "client_tls_key_file", OPT_STRING, OFF(client_tls_key_file), "", 0,
	  0, NULL, R, "Private key pgweir presents to clients (PEM)." },
	{ "client_tls_cert_file", OPT_STRING, OFF(client_tls_cert_file), "",
	  0, 0, NULL, R, "Certificate pgweir presents to clients (PEM)." },
	{ "client_tls_ca_file", OPT_STRING, OFF(client_tls_ca_file), "", 0, 0,
	  NULL, R, "CA certificates that client certificates must chain "
	  "to." },
	{ "client_tls_protocols", OPT_STRING, OFF(client_tls_protocols),
	  "secure", 0, 0, NULL, R,
	  "TLS versions allowed towards clients: secure (TLS 1.2 and 1.3), "
	  "all, or a list of tlsv1.0 ... tlsv1.3." },
	{ "client_tls_ciphers", OPT_STRING, OFF(client_tls_ciphers), "default",
	  0, 0, NULL, R, "OpenSSL cipher list for TLS 1.2 and below." },
	{ "client_tls13_ciphers", OPT_STRING, OFF(client_tls13_ciphers), "", 0,
	  0, NULL, R, "TLS 1.3 cipher suites (empty: OpenSSL's)." },
	{ "client_tls_ecdhcurve", OPT_STRING, OFF(client_tls_ecdhcurve), "auto",
	  0, 0, NULL, R, "ECDH curve: auto, none or a curve name." },
	{ "client_tls_dheparams", OPT_STRING, OFF(client_tls_dheparams),
	  "auto", 0, 0, NULL, R, "DH parameters: auto, none or legacy." },
	{ "server_tls_sslmode", OPT_ENUM, OFF(server_tls_sslmode), "prefer", 0,
	  0, tls_modes, R,
	  "TLS towards PostgreSQL over TCP: disable, allow or prefer (TLS "
	  "when the server offers it), require, verify-ca (the server's "
	  "certificate must chain to server_tls_ca_file) or verify-full (and "
	  "match the host name). Changing any server_tls_* setting (RELOAD "
	  "or SET) retires the existing server connections: idle ones close "
	  "at once, busy ones when released." },
	{ "server_tls_ca_file", OPT_STRING, OFF(server_tls_ca_file), "", 0, 0,
	  NULL, R, "CA certificates the server's certificate must chain "
	  "to; empty: the system's trust store (for verify-ca and "
	  "verify-full)." },
	{ "server_tls_key_file", OPT_STRING, OFF(server_tls_key_file), "", 0,
	  0, NULL, R, "Client key pgweir presents to PostgreSQL (PEM)." },
	{ "server_tls_cert_file", OPT_STRING, OFF(server_tls_cert_file), "",
	  0, 0, NULL, R,
	  "Client certificate pgweir presents to PostgreSQL (PEM)." },
	{ "server_tls_protocols", OPT_STRING, OFF(server_tls_protocols),
	  "secure", 0, 0, NULL, R, "TLS versions allowed towards "
	  "PostgreSQL." },
	{ "server_tls_ciphers", OPT_STRING, OFF(server_tls_ciphers), "default",
	  0, 0, NULL, R, "OpenSSL cipher list towards PostgreSQL." },
	{ "server_tls13_ciphers", OPT_STRING, OFF(server_tls13_ciphers), "", 0,
	  0, NULL, R, "TLS 1.3 cipher suites towards PostgreSQL." },

	/* dangerous timeouts */
	{ "query_timeout", OPT_TIME, OFF(query_timeout), "0", 0, TMAX, NULL,
	  R | OPT_USER,
	  "A query running longer than this is cancelled, its client "
	  "disconnected with \"query timeout\", and the server rolled back "
	  "and reused (0: off). Also applies while the client waits for a "
	  "server (the error then says \"query_timeout\")." },
	{ "max_wait_clients", OPT_INT, OFF(max_wait_clients), "0", 0,
	  1000000, NULL, R | OPT_PGWEIR,
	  "Most clients waiting for a server in one pool; past it a new "
	  "request fails at once with `FATAL: too many clients waiting for "
	  "a server` (SQLSTATE 53300) instead of queueing into "
	  "query_wait_timeout (0: no bound)." },
	{ "max_expected_wait", OPT_TIME, OFF(max_expected_wait), "0", 0,
	  TMAX, NULL, R | OPT_PGWEIR,
	  "A new request that would wait longer than this for a server fails "
	  "at once with SQLSTATE 53300. The wait is estimated from the "
	  "clients ahead of it, the pool's size and its average transaction "
	  "time (of the last stats_period, or since start before the first "
	  "one ends) (0: no bound)." },
	{ "query_wait_timeout", OPT_TIME, OFF(query_wait_timeout), "120", 0,
	  TMAX, NULL, R | OPT_DB | OPT_USER,
	  "A client waiting longer than this for a server gets an error (0: "
	  "wait forever)." },
	{ "cancel_wait_timeout", OPT_TIME, OFF(cancel_wait_timeout), "10", 0,
	  TMAX, NULL, R,
	  "A cancel request that cannot be forwarded in this time is "
	  "dropped. Also the longest pgweir waits for a server whose client "
	  "left mid-query to come back clean (cancelled, rolled back) "
	  "before closing it instead." },
	{ "client_idle_timeout", OPT_TIME, OFF(client_idle_timeout), "0", 0,
	  TMAX, NULL, R | OPT_USER,
	  "Close a client idle longer than this (0: never)." },
	{ "idle_transaction_timeout", OPT_TIME, OFF(idle_transaction_timeout),
	  "0", 0, TMAX, NULL, R | OPT_USER,
	  "Close a client idle inside a transaction longer than this (0: "
	  "never)." },
	{ "transaction_timeout", OPT_TIME, OFF(transaction_timeout), "0", 0,
	  TMAX, NULL, R | OPT_USER,
	  "Close a client whose transaction has been open longer than this "
	  "(0: never)." },
	{ "suspend_timeout", OPT_TIME, OFF(suspend_timeout), "10", 0, TMAX,
	  NULL, R, "Longest wait for buffers to drain during SUSPEND." },
	{ "shutdown_drain_timeout", OPT_TIME, OFF(shutdown_drain_timeout),
	  "0", 0, TMAX, NULL, R | OPT_PGWEIR,
	  "Longest a drain (SIGINT, or SIGTERM with drain_on_sigterm) waits "
	  "for clients to finish their transactions; then the rest are "
	  "closed with FATAL 57P01 and pgweir exits (0: no bound, as "
	  "PgBouncer). Keep it below the time the orchestrator allows before "
	  "it kills the process (Kubernetes: terminationGracePeriodSeconds)." },
	{ "drain_on_sigterm", OPT_BOOL, OFF(drain_on_sigterm), "0", 0, 1,
	  NULL, R | OPT_PGWEIR,
	  "Make SIGTERM drain as SIGINT does, instead of PgBouncer's meaning "
	  "(stop accepting, exit when the last client has left): for "
	  "orchestrators that stop a process with SIGTERM, as Kubernetes "
	  "does." },

	/* low-level network */
	{ "pkt_buf", OPT_INT, OFF(pkt_buf), "4096", 512, 1048576, NULL, R,
	  "PgBouncer's packet buffer; with sbuf_loopcnt it sets how much "
	  "pgweir reads from one connection per loop turn." },
	{ "max_packet_size", OPT_INT, OFF(max_packet_size), "2147483647", 9,
	  2147483647, NULL, R,
	  "Largest protocol message accepted from a client; a larger one "
	  "closes that client with an error." },
	{ "sbuf_loopcnt", OPT_INT, OFF(sbuf_loopcnt), "5", 0, 1000000, NULL,
	  R, "Fairness: pgweir reads at most sbuf_loopcnt times pkt_buf "
	  "bytes (but at least 32 kB) from one connection before the other "
	  "ready connections get their turn (0: no limit)." },
	{ "tcp_defer_accept", OPT_INT, OFF(tcp_defer_accept), "1", 0, 1000000,
	  NULL, 0, "Seconds for TCP_DEFER_ACCEPT on listeners (Linux; 0: "
	  "off)." },
	{ "tcp_socket_buffer", OPT_INT, OFF(tcp_socket_buffer), "0", 0,
	  1073741824, NULL, R,
	  "SO_SNDBUF and SO_RCVBUF of every socket (0: kernel default); "
	  "each write is then at most this size, so that a small buffer "
	  "still keeps two segments in flight." },
	{ "tcp_keepalive", OPT_BOOL, OFF(tcp_keepalive), "1", 0, 1, NULL, R,
	  "Turn on TCP keepalive on every TCP socket." },
	{ "tcp_keepcnt", OPT_INT, OFF(tcp_keepcnt), "0", 0, 1000000, NULL, R,
	  "TCP_KEEPCNT (0: kernel default)." },
	{ "tcp_keepidle", OPT_INT, OFF(tcp_keepidle), "0", 0, 1000000, NULL, R,
	  "TCP_KEEPIDLE in seconds (0: kernel default)." },
	{ "tcp_keepintvl", OPT_INT, OFF(tcp_keepintvl), "0", 0, 1000000, NULL,
	  R, "TCP_KEEPINTVL in seconds (0: kernel default)." },
	{ "tcp_user_timeout", OPT_INT, OFF(tcp_user_timeout), "0", 0,
	  2147483647, NULL, R,
	  "TCP_USER_TIMEOUT in milliseconds (0: kernel default)." },
};

const size_t config_n_options = sizeof(config_options) /
    sizeof(config_options[0]);

/* Look an option up by name (case-insensitive, as PgBouncer does). */
const struct config_option *
config_find_option(const char *name)
{
	for (size_t i = 0; i < config_n_options; i++)
		if (strcasecmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

/*
 * An option's key in [databases] and [users] entries (OPT_DB, OPT_USER):
 * its own name, except default_pool_size, which entries call pool_size
 * (PgBouncer's names).
 */
const char *
config_entry_key(const struct config_option *opt)
{
	return strcmp(opt->name, "default_pool_size") == 0 ? "pool_size" :
	    opt->name;
}

/* The name of a pool mode, as in the config file. */
const char *
config_pool_mode_name(int mode)
{
	return config_find_option("pool_mode")->choices[mode];
}

/* The name of an auth type, as in the config file. */
const char *
config_auth_type_name(int type)
{
	return config_find_option("auth_type")->choices[type];
}
