/* Validation of an HTTP request before anything is sent: every refusal
 * here happens without a connection. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbroker/secret.h"
#include "safe_path.h"
#include "banned.h"

#define HEADER_MAX 8192

static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 9110 field name: one or more token characters. */
static int valid_header_name(const char *s)
{
	if (!s || !*s || strlen(s) > 256)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* Field values: no CR, LF or other control characters (TAB allowed). */
static int valid_header_bytes(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return 0;
	return 1;
}

static int valid_header_value(const char *s)
{
	return s && strlen(s) <= HEADER_MAX &&
	       valid_header_bytes((const unsigned char *)s, strlen(s));
}

static int valid_method(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > 16)
		return 0;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return 0;
	return 1;
}

/* A DNS name: letters, digits, '-' and '.', as tls_server_name must be. */
static int valid_dns_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

int dbr_http_is_credential_header(const struct dbr_http_request *r, const char *name)
{
	return strcasecmp(name, "Authorization") == 0 ||
	       strcasecmp(name, "Proxy-Authorization") == 0 ||
	       (r->auth == DBR_HTTP_AUTH_HEADER && r->auth_header &&
		strcasecmp(name, r->auth_header) == 0);
}

int dbr_http_check_request(const struct dbr_http_request *r, struct dbr_err *err)
{
	if (r->method && !valid_method(r->method))
		return dbr_err_set(err, DBR_E_INVAL, "the HTTP method is not an uppercase word "
				   "such as GET or POST");
	if (r->n_headers && !r->headers)
		return dbr_err_set(err, DBR_E_INVAL, "n_headers is set but headers is NULL");
	for (size_t i = 0; i < r->n_headers; i++) {
		const struct dbr_http_header *h = &r->headers[i];

		if (!valid_header_name(h->name))
			return dbr_err_set(err, DBR_E_INVAL, "an HTTP header name is empty or "
					   "contains characters a header name cannot have");
		if (!valid_header_value(h->value))
			return dbr_err_set(err, DBR_E_INVAL, "the value of header '%s' is missing, "
					   "too long or contains a line break", h->name);
		if (dbr_http_is_credential_header(r, h->name))
			return dbr_err_set(err, DBR_E_INVAL, "header '%s' carries a credential: "
					   "pass it as a secret handle (auth), never as a plain header",
					   h->name);
	}
	switch (r->auth) {
	case DBR_HTTP_AUTH_NONE:
		if (r->auth_secret)
			return dbr_err_set(err, DBR_E_INVAL,
					   "a credential was given without an auth method");
		break;
	case DBR_HTTP_AUTH_HEADER:
		if (!valid_header_name(r->auth_header) ||
		    strcasecmp(r->auth_header, "Host") == 0)
			return dbr_err_set(err, DBR_E_INVAL, "the credential header name is "
					   "missing or not a valid header name");
		/* fall through */
	case DBR_HTTP_AUTH_BASIC:
		if (r->auth == DBR_HTTP_AUTH_BASIC &&
		    (!r->auth_user || !*r->auth_user || strchr(r->auth_user, ':') ||
		     !valid_header_value(r->auth_user)))
			return dbr_err_set(err, DBR_E_INVAL, "the user name for basic auth is "
					   "missing, contains ':' or a line break");
		/* fall through */
	case DBR_HTTP_AUTH_BEARER:
		/* its bytes are checked by the signer (http.c) */
		if (!r->auth_secret)
			return dbr_err_set(err, DBR_E_INVAL, "no credential was given for the request");
		break;
	default:
		return dbr_err_set(err, DBR_E_INVAL, "unknown HTTP auth method %d", (int)r->auth);
	}
	if (r->body && r->secret_body)
		return dbr_err_set(err, DBR_E_INVAL, "a request has either a body or a secret body");
	if (!r->body && r->body_len)
		return dbr_err_set(err, DBR_E_INVAL, "body_len is set but body is NULL");
	if (r->secret_body && dbr_secret_len(r->secret_body) == 0)
		return dbr_err_set(err, DBR_E_INVAL, "the secret request body is empty");
	if (r->content_type && !valid_header_value(r->content_type))
		return dbr_err_set(err, DBR_E_INVAL, "the content type contains a line break");
	if (!r->client_cert != !r->client_key)
		return dbr_err_set(err, DBR_E_INVAL, "a client certificate needs its key: set both "
				   "client_cert and client_key, or neither");
	if (r->tls_server_name && !valid_dns_name(r->tls_server_name))
		return dbr_err_set(err, DBR_E_INVAL, "tls_server_name is not a DNS name: give the "
				   "host name the server's certificate was issued for");
	if (r->timeout_ms < 0 || r->connect_timeout_ms < 0)
		return dbr_err_set(err, DBR_E_INVAL, "a timeout is negative");
	return 0;
}

/* One CA file or directory: who can write it decides whom the token is
 * handed to, so it gets the plugin rules (links followed). */
static int check_ca(const char *path, int is_dir, const char *origin, struct dbr_err *err)
{
	struct dbr_err why = DBR_ERR_INIT;
	int rc;

	rc = is_dir ? dbr_path_check_dir_files(path, &dbr_path_ca, &why)
		    : dbr_path_check(path, &dbr_path_ca, &why);
	if (rc == 0)
		return 0;
	if (rc == DBR_E_IO)
		rc = DBR_E_CONFIG; /* a CA that cannot be examined is not trusted */
	return dbr_err_set(err, rc, "refusing the CA %s '%s'%s%s: %s", is_dir ? "directory" : "file",
			   path, origin ? " from " : "", origin ? origin : "", why.msg);
}

int dbr_http_check_trust(const struct dbr_http_request *r, struct dbr_err *err)
{
	const char *env;
	int rc = 0;

	if (r->ca_file || r->ca_path) {
		if (r->ca_file)
			rc = check_ca(r->ca_file, 0, NULL, err);
		if (rc == 0 && r->ca_path)
			rc = check_ca(r->ca_path, 1, NULL, err);
		return rc;
	}
	/* the same choice set_tls() makes */
	if ((env = getenv("SSL_CERT_FILE")) && *env)
		return check_ca(env, 0, "SSL_CERT_FILE", err);
	if ((env = getenv("CURL_CA_BUNDLE")) && *env)
		return check_ca(env, 0, "CURL_CA_BUNDLE", err);
	return 0;
}

/* https always; http only to loopback and only when the request opts in. */
int dbr_http_check_scheme(const struct dbr_http_request *r, const struct dbr_http_url *p,
			  struct dbr_err *err)
{
	if (strcmp(p->scheme, "https") == 0)
		return 0;
	if (strcmp(p->scheme, "http") != 0)
		return dbr_err_set(err, DBR_E_INVAL, "'%s://' URLs are not supported: use https://",
				   p->scheme);
	if (!r->allow_loopback_http)
		return dbr_err_set(err, DBR_E_INVAL, "refusing plain http:// to '%s': use https://",
				   p->host);
	if (!dbr_http_host_is_loopback(p->host))
		return dbr_err_set(err, DBR_E_INVAL, "refusing plain http:// to '%s': it is not a "
				   "loopback address, use https://", p->host);
	return 0;
}
