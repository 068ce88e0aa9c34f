/* Workspace URL normalisation, without libcurl.
 *
 * Every credential resolution normalises the host, and most resolutions
 * (auth describe, login, logout) never make a request: they must not load
 * libcurl (curl_lazy.h). The accepted grammar is deliberately narrower than
 * RFC 3986, so that the normalised "scheme://host[:port]" means the same
 * thing to every URL parser, libcurl's included:
 *   [scheme "://"] host [":" port] [("/" | "?" | "#") anything]
 *   scheme  https or http (any case; https when absent)
 *   host    letters, digits, '-', '.', '_'; or an IPv6 literal in brackets
 *   port    1-65535 in decimal
 * A path, query or fragment is dropped, as the Databricks SDKs do (people
 * paste the browser's https://adb-1.azuredatabricks.net/?o=1#...): the
 * workspace is its scheme, host and port. Anything else (user info,
 * percent escapes, non-ASCII names, zone ids) is refused with a message
 * that says what to give instead. */
#include "dbroker/host_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "banned.h"

#define HOST_MAX 1024

static int has_bad_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_name_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* [A-Za-z][A-Za-z0-9+.-]* of length n */
static int valid_scheme(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.')
			return 0;
	return 1;
}

/* An IPv6 literal "[...]" of length n (brackets included). */
static int valid_ipv6(const char *s, size_t n)
{
	char tmp[64];
	struct in6_addr a;

	if (n < 3 || n - 2 >= sizeof(tmp) || s[0] != '[' || s[n - 1] != ']')
		return 0;
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* Decimal 1..65535 of length n (leading zeros allowed); -1 if not. */
static long parse_port(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? v : -1;
}

int dbr_normalize_host(const char *in, char **out, struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(HOST_MAX + 32);
	const char *sep, *auth, *end, *host_end, *shown, *scheme = "https";
	size_t scheme_len = 5, host_len;
	long port = 0;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!in || !*in)
		return dbr_err_set(err, DBR_E_INVAL, "the workspace host is empty");
	if (strlen(in) > HOST_MAX || has_bad_chars(in))
		return dbr_err_set(err, DBR_E_INVAL,
				   "the workspace host contains spaces or control characters: "
				   "give it as https://<workspace>");
	/* whatever the refusal, never echo a URL that may carry a password */
	shown = strchr(in, '@') ? "(not shown: it contains '@')" : in;
	auth = in;
	if ((sep = strstr(in, "://"))) {
		scheme = in;
		scheme_len = (size_t)(sep - in);
		auth = sep + 3;
		if (!valid_scheme(scheme, scheme_len))
			return dbr_err_set(err, DBR_E_INVAL,
					   "'%s' is not a valid workspace URL: give it as "
					   "https://<workspace>", shown);
		if (!((scheme_len == 5 && strncasecmp(scheme, "https", 5) == 0) ||
		      (scheme_len == 4 && strncasecmp(scheme, "http", 4) == 0)))
			return dbr_err_set(err, DBR_E_INVAL,
					   "workspace URL '%s' must use https://", shown);
	}
	end = auth + strcspn(auth, "/?#");
	/* never echo user info: it may be a credential */
	if (memchr(auth, '@', (size_t)(end - auth)))
		return dbr_err_set(err, DBR_E_INVAL,
				   "the workspace URL carries a user name or password: remove it, "
				   "credentials belong in the keyring or Vault");
	/* "https//h" would read as host "https" with the path "/h" */
	if (!sep && *end == '/' && (size_t)(end - auth) <= 5 &&
	    (strncasecmp(auth, "https", (size_t)(end - auth)) == 0 ||
	     strncasecmp(auth, "http", (size_t)(end - auth)) == 0))
		return dbr_err_set(err, DBR_E_INVAL,
				   "workspace URL '%s' must be just https://<host>[:port]", shown);
	if (auth == end)
		return dbr_err_set(err, DBR_E_INVAL,
				   "'%s' is not a valid workspace URL: it has no host name", shown);
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(end - auth));
		host_end = host_end ? host_end + 1 : end;
		host_len = (size_t)(host_end - auth);
		if (!valid_ipv6(auth, host_len))
			return dbr_err_set(err, DBR_E_INVAL,
					   "'%s' is not a valid workspace URL: the IPv6 address in "
					   "brackets is malformed", shown);
	} else {
		host_end = auth;
		while (host_end < end && *host_end != ':')
			host_end++;
		host_len = (size_t)(host_end - auth);
		if (host_len == 0)
			return dbr_err_set(err, DBR_E_INVAL,
					   "'%s' is not a valid workspace URL: it has no host name",
					   shown);
		for (size_t i = 0; i < host_len; i++)
			if (!is_name_char(auth[i]))
				return dbr_err_set(err, DBR_E_INVAL,
						   "'%s' is not a valid workspace URL: a host name "
						   "has only letters, digits, '-', '.' and '_' "
						   "(give an internationalised name in its "
						   "xn-- form)", shown);
	}
	if (host_end < end) {
		if (*host_end != ':' ||
		    (port = parse_port(host_end + 1, (size_t)(end - host_end - 1))) < 0)
			return dbr_err_set(err, DBR_E_INVAL,
					   "'%s' is not a valid workspace URL: the port must be a "
					   "number from 1 to 65535", shown);
	}
	if (dbr_buf_add(&b, scheme, scheme_len) || dbr_buf_addstr(&b, "://") ||
	    dbr_buf_add(&b, auth, host_len) || (port && dbr_buf_addf(&b, ":%ld", port))) {
		dbr_buf_release(&b);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	/* scheme and host are case-insensitive */
	for (char *p = b.data; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	*out = dbr_buf_detach(&b, NULL);
	return *out ? 0 : dbr_err_set(err, DBR_E_NOMEM, "out of memory");
}
