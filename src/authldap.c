/* SPDX-License-Identifier: ISC */
/*
 * ldap in the auth_hba_file: a client's cleartext password checked by an
 * LDAP server with OpenLDAP's libldap, with PostgreSQL's options and
 * rules (pg_hba.conf's ldap method):
 *   simple bind   ldapprefix/ldapsuffix: bind as prefix + user + suffix;
 *   search+bind   ldapbasedn (ldapbinddn, ldapbindpasswd to search as,
 *                 ldapsearchattribute, default uid, or ldapsearchfilter
 *                 with $username): the one entry found, then a bind as
 *                 its DN with the password;
 *   ldapurl       scheme, servers, port, base DN, attribute, scope and
 *                 filter in one RFC 4516 URL;
 *   ldapserver    one or more servers (blank or comma separated),
 *   ldapport, ldapscheme (ldap, ldaps), ldaptls (StartTLS).
 * TLS settings (CA, checks) come from libldap's own ldap.conf (LDAPCONF).
 * Runs on a worker of authwork.c, never on the event loop.  An empty
 * password is refused before asking (LDAP takes it as an anonymous bind).
 */
#include "config.h"

#include <ldap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgweir/authwork.h"
#include "pgweir/hba.h"

/* The options of one hba rule, pointing into the job's packed copy. */
struct ldap_opts {
	const char *server, *scheme, *prefix, *suffix, *basedn, *binddn;
	const char *bindpasswd, *attribute, *filter, *url;
	int port;
	bool tls;
};

/*
 * The options as the hba rule keeps them, "name=value" items separated by
 * HBA_OPT_SEP, made into "name\0value\0..." in place (once per job).
 */
static void
unpack_options(struct authjob *j)
{
	bool in_name = true;	/* the first '=' of an item ends its name */

	for (size_t i = 0; j->options != NULL && i < j->options_len; i++) {
		if (j->options[i] == HBA_OPT_SEP) {
			j->options[i] = '\0';
			in_name = true;
		} else if (in_name && j->options[i] == '=') {
			j->options[i] = '\0';
			in_name = false;
		}
	}
}

/* The value of name in the unpacked options, or NULL. */
static const char *
opt(const struct authjob *j, const char *name)
{
	const char *p = j->options, *end = j->options + j->options_len;

	while (p != NULL && p < end && *p != '\0') {
		const char *value = p + strlen(p) + 1;
		if (value >= end)
			break;
		if (strcmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

/* Bind with a password; true on success. */
static bool
bind_as(LDAP *ld, const char *dn, const char *password, char *why,
    size_t whylen)
{
	struct berval cred = { strlen(password), (char *)password };
	int rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL,
	    NULL, NULL);

	if (rc != LDAP_SUCCESS)
		snprintf(why, whylen, "LDAP login failed for \"%s\": %s", dn,
		    ldap_err2string(rc));
	return rc == LDAP_SUCCESS;
}

/* "ldap://a:389 ldap://b:389" for ldap_initialize, from ldapserver. */
static bool
server_uris(const struct ldap_opts *o, char *out, size_t len)
{
	char copy[512], *save = NULL;
	size_t used = 0;

	if (o->server == NULL || snprintf(copy, sizeof(copy), "%s",
	    o->server) >= (int)sizeof(copy))
		return false;
	out[0] = '\0';
	for (char *h = strtok_r(copy, " ,", &save); h != NULL;
	    h = strtok_r(NULL, " ,", &save)) {
		int n = snprintf(out + used, len - used, "%s%s://%s:%d",
		    used ? " " : "", o->scheme, h, o->port);
		if (n < 0 || (size_t)n >= len - used)
			return false;
		used += (size_t)n;
	}
	return used > 0;
}

/* The search filter for a user: ldapsearchfilter with $username, or one. */
static bool
user_filter(const struct ldap_opts *o, const char *user, char *out,
    size_t len)
{
	const char *f = o->filter, *p;
	size_t used = 0;

	if (f == NULL) {
		int n = snprintf(out, len, "(%s=%s)", o->attribute ?
		    o->attribute : "uid", user);
		return n > 0 && (size_t)n < len;
	}
	for (p = f; *p; ) {
		const char *piece = strncmp(p, "$username", 9) == 0 ? user : p;
		size_t n = piece == user ? strlen(user) : 1;
		if (used + n + 1 > len)
			return false;
		memcpy(out + used, piece, n);
		used += n;
		p += piece == user ? 9 : 1;
	}
	out[used] = '\0';
	return true;
}

/* Search for the user's entry and return its DN (ldap_memfree it). */
static char *
find_dn(LDAP *ld, const struct ldap_opts *o, int scope, const char *user,
    char *why, size_t whylen)
{
	char filter[1024], *attrs[] = { LDAP_NO_ATTRS, NULL }, *dn = NULL;
	LDAPMessage *res = NULL;
	int rc, n;

	if (strpbrk(user, "*()\\") != NULL) {
		snprintf(why, whylen, "invalid character in user name for "
		    "LDAP search");
		return NULL;
	}
	if (!user_filter(o, user, filter, sizeof(filter))) {
		snprintf(why, whylen, "LDAP search filter too long");
		return NULL;
	}
	if (!bind_as(ld, o->binddn ? o->binddn : "", o->bindpasswd ?
	    o->bindpasswd : "", why, whylen))
		return NULL;
	rc = ldap_search_ext_s(ld, o->basedn, scope, filter, attrs, 0, NULL,
	    NULL, NULL, 2, &res);
	if (rc != LDAP_SUCCESS) {
		snprintf(why, whylen, "LDAP search for \"%s\" failed: %s",
		    filter, ldap_err2string(rc));
	} else if ((n = ldap_count_entries(ld, res)) != 1) {
		snprintf(why, whylen, "LDAP search for \"%s\" found %d "
		    "entries, not one", filter, n);
	} else {
		dn = ldap_get_dn(ld, ldap_first_entry(ld, res));
		if (dn == NULL)
			snprintf(why, whylen, "LDAP entry without a DN");
	}
	ldap_msgfree(res);
	return dn;
}

/* One check, on a worker thread. */
bool
authldap_run(void *job, char *why, size_t whylen)
{
	struct authjob *j = job;
	struct ldap_opts o = { 0 };
	LDAPURLDesc *url = NULL;
	LDAP *ld = NULL;
	char uris[1024], dn[1024];
	int scope = LDAP_SCOPE_SUBTREE, version = LDAP_VERSION3;
	struct timeval timeout = { 10, 0 };
	bool ok = false;

	unpack_options(j);
	o.server = opt(j, "ldapserver");
	o.scheme = opt(j, "ldapscheme") ? opt(j, "ldapscheme") : "ldap";
	o.prefix = opt(j, "ldapprefix");
	o.suffix = opt(j, "ldapsuffix");
	o.basedn = opt(j, "ldapbasedn");
	o.binddn = opt(j, "ldapbinddn");
	o.bindpasswd = opt(j, "ldapbindpasswd");
	o.attribute = opt(j, "ldapsearchattribute");
	o.filter = opt(j, "ldapsearchfilter");
	o.url = opt(j, "ldapurl");
	o.tls = opt(j, "ldaptls") && strcmp(opt(j, "ldaptls"), "1") == 0;
	if (j->password[0] == '\0') {
		snprintf(why, whylen, "empty password");
		return false;
	}
	if (o.url != NULL) {
		if (ldap_url_parse(o.url, &url) != LDAP_URL_SUCCESS) {
			snprintf(why, whylen, "invalid ldapurl \"%s\"", o.url);
			return false;
		}
		o.scheme = url->lud_scheme;
		o.server = url->lud_host;
		o.port = url->lud_port;
		o.basedn = url->lud_dn;
		if (url->lud_attrs && url->lud_attrs[0])
			o.attribute = url->lud_attrs[0];
		if (url->lud_filter)
			o.filter = url->lud_filter;
		if (url->lud_scope != LDAP_SCOPE_DEFAULT)
			scope = url->lud_scope;
	}
	if (o.port == 0)
		o.port = opt(j, "ldapport") ? atoi(opt(j, "ldapport")) :
		    strcmp(o.scheme, "ldaps") == 0 ? 636 : 389;
	if (!server_uris(&o, uris, sizeof(uris))) {
		snprintf(why, whylen, "no LDAP server in the hba rule");
		goto out;
	}
	if (ldap_initialize(&ld, uris) != LDAP_SUCCESS) {
		snprintf(why, whylen, "cannot initialize LDAP for %s", uris);
		goto out;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout);
	if (o.tls && ldap_start_tls_s(ld, NULL, NULL) != LDAP_SUCCESS) {
		snprintf(why, whylen, "StartTLS with the LDAP server failed");
		goto out;
	}
	if (o.prefix != NULL || o.suffix != NULL) {
		snprintf(dn, sizeof(dn), "%s%s%s", o.prefix ? o.prefix : "",
		    j->user, o.suffix ? o.suffix : "");
		ok = bind_as(ld, dn, j->password, why, whylen);
	} else {
		char *found = find_dn(ld, &o, scope, j->user, why, whylen);
		if (found != NULL) {
			ok = bind_as(ld, found, j->password, why, whylen);
			ldap_memfree(found);
		}
	}
out:
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	if (url != NULL)
		ldap_free_urldesc(url);
	return ok;
}
