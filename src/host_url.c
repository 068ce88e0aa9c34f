/* Workspace URL normalisation. */
#include "dbroker/chain.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "banned.h"

static int has_bad_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int dbr_normalize_host(const char *in, char **out, struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(2048);
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pw = NULL;
	char *path = NULL, *query = NULL, *frag = NULL;
	int rc = DBR_E_INVAL;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!in || !*in)
		return dbr_err_set(err, DBR_E_INVAL, "the workspace host is empty");
	if (strlen(in) > 1024 || has_bad_chars(in))
		return dbr_err_set(err, DBR_E_INVAL,
				   "the workspace host contains spaces or control characters: "
				   "give it as https://<workspace>");
	if (!strstr(in, "://") && dbr_buf_addstr(&b, "https://"))
		return DBR_E_NOMEM;
	if (dbr_buf_addstr(&b, in))
		return DBR_E_NOMEM;
	u = curl_url();
	if (!u) {
		dbr_buf_release(&b);
		return DBR_E_NOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, b.data, 0) != CURLUE_OK) {
		dbr_err_set(err, DBR_E_INVAL, "'%s' is not a valid workspace URL", in);
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pw, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	if (!scheme || (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)) {
		dbr_err_set(err, DBR_E_INVAL, "workspace URL '%s' must use https://", in);
		goto out;
	}
	if (user || pw) {
		/* never echo it: the user part may be a credential */
		dbr_err_set(err, DBR_E_INVAL,
			    "the workspace URL carries a user name or password: remove it, "
			    "credentials belong in the keyring or Vault");
		goto out;
	}
	if (!host || !*host) {
		dbr_err_set(err, DBR_E_INVAL, "workspace URL '%s' has no host name", in);
		goto out;
	}
	if ((path && strcmp(path, "/") != 0 && *path) || query || frag) {
		dbr_err_set(err, DBR_E_INVAL,
			    "workspace URL '%s' must be just https://<host>[:port], without a "
			    "path, query or fragment", in);
		goto out;
	}
	dbr_buf_reset(&b);
	if (dbr_buf_addf(&b, "%s://%s", scheme, host) ||
	    (port && dbr_buf_addf(&b, ":%s", port))) {
		rc = DBR_E_NOMEM;
		goto out;
	}
	/* scheme and host are case-insensitive; the port is digits */
	for (char *p = b.data; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	*out = dbr_buf_detach(&b, NULL);
	rc = *out ? 0 : DBR_E_NOMEM;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(pw);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	dbr_buf_release(&b);
	return rc;
}
