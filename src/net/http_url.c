/* Where a credential may go: URL parsing (libcurl's parser, never by hand),
 * loopback detection, origin comparison and redirects for the HTTP client. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "curl_lazy.h"
#include "banned.h"

#define URL_MAX 8192

/* No spaces or control characters anywhere in a URL. */
static int valid_url_text(const char *s)
{
	if (strlen(s) > URL_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

void dbr_http_url_release(struct dbr_http_url *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
	curl_url_cleanup(p->u);
	memset(p, 0, sizeof(*p));
}

int dbr_http_url_parse(const char *url, struct dbr_http_url *p, struct dbr_err *err)
{
	char *user = NULL, *pw = NULL;
	CURLUcode uc = CURLUE_OK;
	int rc = DBR_E_INVAL;

	memset(p, 0, sizeof(*p));
	if (!url || !valid_url_text(url))
		return dbr_err_set(err, DBR_E_INVAL,
				   "the URL is empty, too long or contains spaces or line breaks: "
				   "check the host setting");
	if (dbr_curl_load(err))
		return DBR_E_IO;
	p->u = curl_url();
	if (!p->u)
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory parsing a URL: raise the "
				   "memory limit (ulimit -v) or free memory, then try again");
	if ((uc = curl_url_set(p->u, CURLUPART_URL, url, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(p->u, CURLUPART_SCHEME, &p->scheme, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(p->u, CURLUPART_HOST, &p->host, 0)) != CURLUE_OK ||
	    (uc = curl_url_get(p->u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT)) != CURLUE_OK ||
	    !*p->host) {
		if (uc == CURLUE_OUT_OF_MEMORY) {
			/* a valid URL under a tight `ulimit -v`: not the URL's fault */
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory parsing a URL: raise the "
					 "memory limit (ulimit -v) or free memory, then try again");
			goto fail;
		}
		if (!strchr(url, '@'))
			dbr_err_set(err, rc, "'%s' is not a valid absolute URL: give it as "
				    "https://<host>[:port]/<path>", url);
		else
			dbr_err_set(err, rc, "the URL is not valid: check the host setting");
		goto fail;
	}
	curl_url_get(p->u, CURLUPART_USER, &user, 0);
	curl_url_get(p->u, CURLUPART_PASSWORD, &pw, 0);
	if (user || pw) {
		dbr_err_set(err, rc, "the URL for '%s' carries a user name or password: remove it, "
			    "credentials never go in a URL", p->host);
		goto fail;
	}
	return 0;
fail:
	curl_free(user);
	curl_free(pw);
	dbr_http_url_release(p);
	return rc;
}

int dbr_http_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(tmp))
		return 0;
	memcpy(tmp, host + 1, n - 2);
	tmp[n - 2] = '\0';
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return 0;
	if (IN6_IS_ADDR_LOOPBACK(&a6))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

int dbr_http_url_is_loopback(const char *url)
{
	struct dbr_http_url p;
	int r;

	if (dbr_http_url_parse(url, &p, NULL))
		return 0;
	r = dbr_http_host_is_loopback(p.host);
	dbr_http_url_release(&p);
	return r;
}

int dbr_http_same_origin(const char *a, const char *b)
{
	struct dbr_http_url pa, pb;
	int same;

	if (dbr_http_url_parse(a, &pa, NULL))
		return 0;
	if (dbr_http_url_parse(b, &pb, NULL)) {
		dbr_http_url_release(&pa);
		return 0;
	}
	same = strcasecmp(pa.scheme, pb.scheme) == 0 && strcasecmp(pa.host, pb.host) == 0 &&
	       strcmp(pa.port, pb.port) == 0;
	dbr_http_url_release(&pa);
	dbr_http_url_release(&pb);
	return same;
}

int dbr_http_is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 ||
	       status == 308;
}

int dbr_http_redirect_target(const struct dbr_http_url *user, const char *url,
			     const char *effective, const char *loc, char **next,
			     struct dbr_err *err)
{
	struct dbr_http_url to;
	CURLU *n = NULL;
	char *path = NULL, *query = NULL, *out = NULL;
	int rc;

	if (dbr_http_url_parse(loc, &to, NULL))
		return dbr_err_set(err, DBR_E_REDIRECT, "'%s' answered with a redirect to a URL that "
				   "is not valid: check the URL", user->host);
	if (!dbr_http_same_origin(effective, loc) && !dbr_http_same_origin(url, loc)) {
		if (strcmp(to.scheme, "https") != 0 && strcmp(user->scheme, "https") == 0)
			rc = dbr_err_set(err, DBR_E_REDIRECT, "'%s' redirected to plain %s://%s: dbroker "
					 "refuses to send credentials without TLS; check the URL",
					 user->host, to.scheme, to.host);
		else
			rc = dbr_err_set(err, DBR_E_REDIRECT, "'%s' redirected to another server "
					 "(%s://%s:%s): dbroker refuses to forward credentials to another "
					 "host; use that URL directly if you trust it", user->host,
					 to.scheme, to.host, to.port);
		dbr_http_url_release(&to);
		return rc;
	}
	rc = DBR_E_NOMEM;
	if (!(n = curl_url_dup(user->u)) ||
	    curl_url_get(to.u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	curl_url_get(to.u, CURLUPART_QUERY, &query, 0);
	if (curl_url_set(n, CURLUPART_PATH, path, 0) != CURLUE_OK ||
	    curl_url_set(n, CURLUPART_QUERY, query, 0) != CURLUE_OK ||
	    curl_url_set(n, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(n, CURLUPART_URL, &out, 0) != CURLUE_OK)
		goto out;
	if ((*next = strdup(out)))
		rc = 0;
out:
	curl_free(out);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(n);
	dbr_http_url_release(&to);
	return rc;
}
