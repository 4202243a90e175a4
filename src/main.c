/* SPDX-License-Identifier: ISC */
/*
 * pgweir's entry point: the command line, start-up (config, log,
 * listeners, dropping root, daemonizing, pidfile), turning signals into
 * reload and shutdown (lifecycle.c), and the event loop.
 *
 * Signals: SIGHUP reloads; SIGTERM stops accepting and exits when the last
 * client has left (with drain_on_sigterm it drains as SIGINT does); SIGINT
 * drains (pgweir_drain: stops accepting, closes each client with 57P01
 * once it holds no server, exits when every server is released, within
 * shutdown_drain_timeout); a second SIGTERM/SIGINT, or SIGQUIT, exits at once;
 * SIGUSR1 pauses every database and SIGUSR2 resumes them (not while
 * shutting down).
 * systemd hears READY=1, RELOADING=1, STOPPING=1 and STATUS= lines.
 */
#include "config.h"

#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/rand.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgweir/admin.h"
#include "pgweir/authfile.h"
#include "pgweir/authquery.h"
#include "pgweir/certwatch.h"
#include "pgweir/client.h"
#include "pgweir/config.h"
#include "pgweir/evalloc.h"
#include "pgweir/hba.h"
#include "pgweir/ident.h"
#include "pgweir/listener.h"
#include "pgweir/log.h"
#include "pgweir/metrics.h"
#include "pgweir/pgweir.h"
#include "pgweir/pool.h"
#include "pgweir/sdnotify.h"
#include "pgweir/server.h"
#include "pgweir/takeover.h"
#include "pgweir/tls.h"

/* Command line settings. */
struct options {
	bool daemon;
	bool quiet;
	int verbose;
	const char *user;
	const char *config;
	bool check;		/* --check-config: validate, start nothing */
	bool reboot;		/* -R: take over from the running pgweir */
};

/* Signal handler (runs in the loop, not in signal context). */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct pgweir *pw = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		sdnotify("RELOADING=1\nMONOTONIC_USEC=%lld",
		    (long long)pgweir_mono_usec());
		pgweir_reload(pw);
		sdnotify("READY=1");
		pgweir_notify_status(pw);
		break;
	case SIGTERM:
		if (pw->cfg->drain_on_sigterm)
			pgweir_drain(pw);
		else
			pgweir_shutdown(pw, SHUTDOWN_WAIT_CLIENTS);
		break;
	case SIGINT:
		pgweir_drain(pw);
		break;
	case SIGQUIT:
		pgweir_shutdown(pw, SHUTDOWN_NOW);
		break;
	case SIGUSR1:
		log_info("got SIGUSR1, pausing all activity");
		admin_pause_all(pw);
		break;
	case SIGUSR2:
		if (admin_resume(pw, NULL) < 0)
			log_info("got SIGUSR2 while shutting down, ignoring");
		else
			log_info("got SIGUSR2, resuming all activity");
		break;
	}
}

/* Print usage. */
static void
usage(FILE *out)
{
	fprintf(out,
	    "pgweir %s: a PostgreSQL connection pooler\n\n"
	    "usage: pgweir [options] pgweir.ini\n\n"
	    "  -d, --daemon      run in the background (needs pidfile, and "
	    "logfile or syslog)\n"
	    "  -v, --verbose     more log output (repeat for even more)\n"
	    "  -q, --quiet       no log output on stderr\n"
	    "  -u, --user=USER   switch to USER when started as root\n"
	    "  -R, --reboot      online restart: take over the listening "
	    "sockets and\n"
	    "                    the clients of the pgweir running with "
	    "this config\n"
	    "  -V, --version     print the version and exit\n"
	    "  -h, --help        print this help and exit\n"
	    "      --check-config  load and check the configuration and the "
	    "files it\n"
	    "                      names, print every problem, exit 0 if "
	    "none, 1 if any\n"
	    "      --write-config-docs     print docs/config.md and exit\n"
	    "      --write-example-config  print etc/pgweir.ini and exit\n"
	    "      --write-config-man      print the manual page pgweir.ini(5) "
	    "and exit\n\n"
	    "signals: HUP reload, TERM exit after the last client, INT exit "
	    "after\nevery server is released, QUIT exit now, USR1 pause, "
	    "USR2 resume\n",
	    PACKAGE_VERSION);
}

static struct options cmdline;

/* Parse the command line; returns -1 to exit with failure, 1 to succeed. */
static int
parse_args(int argc, char **argv, struct options *opt)
{
	enum { OPT_DOCS = 256, OPT_EXAMPLE, OPT_MAN, OPT_CHECK };
	static const struct option long_opts[] = {
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "user", required_argument, NULL, 'u' },
		{ "reboot", no_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "write-config-docs", no_argument, NULL, OPT_DOCS },
		{ "write-example-config", no_argument, NULL, OPT_EXAMPLE },
		{ "write-config-man", no_argument, NULL, OPT_MAN },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "dvqu:RVh", long_opts, NULL)) !=
	    -1) {
		switch (c) {
		case 'd':
			opt->daemon = true;
			break;
		case 'v':
			opt->verbose++;
			break;
		case 'q':
			opt->quiet = true;
			break;
		case 'u':
			opt->user = optarg;
			break;
		case 'R':
			opt->reboot = true;
			break;
		case 'V':
			printf("pgweir %s\n", PACKAGE_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		case OPT_DOCS:
			return config_write_docs(stdout) < 0 ? -1 : 1;
		case OPT_EXAMPLE:
			return config_write_example(stdout) < 0 ? -1 : 1;
		case OPT_MAN:
			return config_write_man(stdout) < 0 ? -1 : 1;
		case OPT_CHECK:
			opt->check = true;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	opt->config = argv[optind];
	return 0;
}

/* Problems with the files a config names, at start and for a check. */
static void
report_fatal(void *arg, const char *key, const char *err)
{
	(void)arg;
	log_fatal("%s: %s", key, err);
}

static void
report_stderr(void *arg, const char *key, const char *err)
{
	(void)arg;
	fprintf(stderr, "pgweir: %s: %s\n", key, err);
}

/*
 * --check-config: load the configuration and every file it names
 * (auth_file, auth_hba_file, auth_ident_file, TLS keys and certificates)
 * as a start or a reload would, and print each problem; nothing is
 * started.  Warnings (keys accepted but not acted on) are printed too.
 * Exit status 0 when everything loads, 1 otherwise.
 */
static int
check_config(const char *path)
{
	struct config_error err;
	struct config *cfg = config_load(path, &err);
	struct tls_contexts tls;
	struct auth_files files;
	char aerr[512];
	int bad;

	if (cfg == NULL) {
		fprintf(stderr, "pgweir: %s\n", err.msg);
		return 1;
	}
	bad = pgweir_load_auth_files(cfg, &files, report_stderr, NULL);
	pgweir_free_auth_files(&files);
	memset(&tls, 0, sizeof(tls));
	if (tls_build(cfg, &tls, aerr, sizeof(aerr)) < 0 && ++bad)
		fprintf(stderr, "pgweir: %s\n", aerr);
	else
		tls_free(&tls);
	if (bad == 0)
		printf("%s: the configuration is valid\n", path);
	config_unref(cfg);
	return bad ? 1 : 0;
}

/* Switch to an unprivileged account (started as root). */
static int
drop_privileges(const char *user)
{
	struct passwd *pwd = getpwnam(user);

	if (pwd == NULL) {
		log_fatal("user \"%s\" does not exist", user);
		return -1;
	}
	if (setgid(pwd->pw_gid) < 0 || initgroups(user, pwd->pw_gid) < 0 ||
	    setuid(pwd->pw_uid) < 0) {
		log_fatal("could not switch to user \"%s\": %s", user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Go to the background: fork, new session, stdio to /dev/null. */
static int
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

/*
 * Write the pid file, refusing when another live process holds it (but
 * for the one an online restart replaces).
 */
static int
write_pidfile(const char *path, bool replacing)
{
	char buf[32];
	FILE *fp = replacing ? NULL : fopen(path, "r");

	if (fp != NULL) {
		long pid = 0;
		if (fscanf(fp, "%ld", &pid) == 1 && pid > 0 &&
		    pid != (long)getpid() && kill((pid_t)pid, 0) == 0) {
			fclose(fp);
			log_fatal("pidfile %s: pgweir is already running with "
			    "pid %ld", path, pid);
			return -1;
		}
		fclose(fp);
	}
	fp = fopen(path, "w");
	if (fp == NULL) {
		log_fatal("could not write pidfile %s: %s", path,
		    strerror(errno));
		return -1;
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	fputs(buf, fp);
	fclose(fp);
	return 0;
}

/* Set up signal events. */
static int
setup_signals(struct pgweir *pw)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT,
		SIGUSR1, SIGUSR2 };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		pw->signal_evs[i] = evsignal_new(pw->base, sigs[i], signal_cb,
		    pw);
		if (pw->signal_evs[i] == NULL ||
		    evsignal_add(pw->signal_evs[i], NULL) < 0)
			return -1;
	}
	return 0;
}

/* Free everything at exit (keeps sanitizer reports meaningful). */
static void
teardown(struct pgweir *pw)
{
	takeover_free(pw);
	pgweir_close_all(pw, "pgweir is exiting");
	pgweir_reap_cb(-1, 0, pw);
	pgweir_free_runtime(pw);
	if (event_initialized(&pw->accept_retry_ev))
		listener_close_all(pw);
	metrics_stop(pw);
	for (size_t i = 0; i < sizeof(pw->signal_evs) /
	    sizeof(pw->signal_evs[0]); i++)
		if (pw->signal_evs[i])
			event_free(pw->signal_evs[i]);
	/* a failed start may not have got as far as the timers */
	if (event_initialized(&pw->janitor_ev)) {
		event_del(&pw->janitor_ev);
		event_del(&pw->reap_ev);
	}
	if (event_initialized(&pw->stats_ev))
		event_del(&pw->stats_ev);
	if (pw->dns)
		evdns_base_free(pw->dns, 0);
	if (pw->pidfile_written)
		unlink(pw->cfg->pidfile);
	config_unref(pw->cfg);
	free(pw->config_path);
	if (pw->base)
		event_base_free(pw->base);
	evalloc_fini();
}

/*
 * Everything between reading the command line and serving: configuration,
 * privileges, listeners, the event loop.  On failure it has said why and
 * returns -1; teardown() frees whatever was set up.
 */
static int
start_up(struct pgweir *pw)
{
	struct config_error err;
	/* the janitor's tick: the granularity of PAUSE and the reserve pool */
	struct timeval janitor_tick = { 0, 200000 };
	struct auth_files files;
	const char *user;
	char aerr[512];
	int taken_over = 0;

	pw->cfg = config_load(cmdline.config, &err);
	if (pw->cfg == NULL) {
		fprintf(stderr, "pgweir: %s\n", err.msg);
		return -1;
	}
	pw->config_path = strdup(cmdline.config);
	pw->cmd_verbose = cmdline.verbose;
	pw->cmd_quiet = cmdline.quiet || cmdline.daemon;
	if (pgweir_apply_log_settings(pw, pw->cfg) < 0)
		return -1;
	user = cmdline.user ? cmdline.user :
	    (pw->cfg->user[0] ? pw->cfg->user : NULL);
	if (geteuid() == 0 && user == NULL) {
		log_fatal("pgweir should not run as root: name an account "
		    "with -u or user= in the configuration");
		return -1;
	}
	if (cmdline.daemon && (pw->cfg->pidfile[0] == '\0' ||
	    (pw->cfg->logfile[0] == '\0' && !pw->cfg->syslog))) {
		log_fatal("-d needs pidfile, and logfile or syslog, in the "
		    "configuration");
		return -1;
	}
	if (pgweir_load_auth_files(pw->cfg, &files, report_fatal, NULL) > 0)
		return -1;
	pw->auth = files.auth;
	pw->hba = files.hba;
	pw->ident = files.ident;
	if (tls_build(pw->cfg, &pw->tls, aerr, sizeof(aerr)) < 0) {
		log_fatal("%s", aerr);
		return -1;
	}
	if (RAND_bytes(pw->auth_mock_key, sizeof(pw->auth_mock_key)) != 1) {
		log_fatal("no random numbers from OpenSSL");
		return -1;
	}
	if (pgweir_runtime_init(pw, aerr, sizeof(aerr)) < 0) {
		log_fatal("%s", aerr);
		return -1;
	}
	/* who answers the console (the runtime answers logins) */
	if (admin_register(pw) < 0) {
		log_fatal("could not set up the console");
		return -1;
	}
	/* before listening: a signal sent once the port answers must count */
	if (setup_signals(pw) < 0) {
		log_fatal("could not set up signal handling");
		return -1;
	}
	if (cmdline.reboot) {
		/* the running one admits its own account: become it first */
		if (geteuid() == 0 && drop_privileges(user) < 0)
			return -1;
		if ((taken_over = takeover_connect(pw)) < 0)
			return -1;
	}
	if (!taken_over && listener_open_all(pw) < 0)
		return -1;
	/* the metrics port too: a low one needs root, a busy one is said */
	if (metrics_listen_early(pw) < 0)
		return -1;
	if (geteuid() == 0 && drop_privileges(user) < 0)
		return -1;
	if (cmdline.daemon && (daemonize() < 0 || event_reinit(pw->base) < 0)) {
		log_fatal("could not daemonize: %s", strerror(errno));
		return -1;
	}
	if (pw->cfg->pidfile[0] != '\0') {
		if (write_pidfile(pw->cfg->pidfile, taken_over) < 0)
			return -1;
		pw->pidfile_written = true;
	}
	pw->dns = evdns_base_new(pw->base, 0);
	if (pw->dns == NULL) {
		log_fatal("could not set up host name lookups");
		return -1;
	}
	if (pw->cfg->resolv_conf[0] != '\0' ?
	    evdns_base_resolv_conf_parse(pw->dns, DNS_OPTIONS_ALL,
	    pw->cfg->resolv_conf) != 0 :
	    evdns_base_resolv_conf_parse(pw->dns, DNS_OPTIONS_ALL,
	    "/etc/resolv.conf") != 0)
		log_warning("could not read the resolver configuration; host "
		    "names in [databases] may not resolve");
	/* host names through evdns: libpq's own lookup would block */
	authquery_set_dns(pw->authquery, pw->dns);
	pw->after_reap = pgweir_after_reap;
	certwatch_reset(pw);
	if (pgweir_add_tick(pw, takeover_tick) < 0 ||
	    pgweir_add_tick(pw, certwatch_tick) < 0) {
		log_fatal("too many tick hooks");
		return -1;
	}
	event_assign(&pw->janitor_ev, pw->base, -1, EV_PERSIST,
	    pgweir_janitor_cb, pw);
	event_add(&pw->janitor_ev, &janitor_tick);
	pgweir_stats_arm(pw);
	pw->started = pgweir_now_usec(pw);
	if (metrics_start(pw) < 0)
		return -1;

	return 0;
}

int
main(int argc, char **argv)
{
	struct pgweir pw;
	int rc;

	pgweir_runtime_clear(&pw);

	rc = parse_args(argc, argv, &cmdline);
	if (rc != 0)
		return rc < 0 ? 1 : 0;
	if (cmdline.check)
		return check_config(cmdline.config);
	/* before libevent allocates anything */
	evalloc_install();
	if (start_up(&pw) < 0) {
		teardown(&pw);
		log_fini();
		return 1;
	}
	log_info("pgweir %s started, process %d", PACKAGE_VERSION,
	    (int)getpid());
	sdnotify("READY=1\nMAINPID=%d", (int)getpid());
	pgweir_notify_status(&pw);
	event_base_dispatch(pw.base);
	log_info("pgweir is exiting");
	sdnotify("STOPPING=1");
	teardown(&pw);
	log_fini();
	return pw.exit_code;
}
