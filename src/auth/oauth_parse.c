/* OAuth M2M answers: the discovery document, the token answer and its
 * errors (oauth_internal.h). No I/O: oauth.c makes the calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "dbroker/api_error.h"
#include "dbroker/secret.h"
#include "http_internal.h"
#include "oauth_internal.h"
#include "banned.h"

/* bytes of server text quoted in a message */
#define SHOWN_MAX 200
#define ACCESS_TOKEN_MAX 8192

int dbr_oauth_client_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > DBR_OAUTH_CLIENT_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= 0x20 || id[i] >= 0x7f || id[i] == ':')
			return 0;
	return 1;
}

const char *dbr_oauth_client_id_arg(const char *id)
{
	if (!id || !*id || strlen(id) > 128)
		return "<id>";
	for (const char *q = id; *q; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		      (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' || *q == '.'))
			return "<id>";
	return id;
}

static int looks_html(const char *ctype, const char *body, size_t len)
{
	size_t i = 0;

	if (ctype && strncasecmp(ctype, "text/html", 9) == 0)
		return 1;
	while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
			   body[i] == '\n'))
		i++;
	return i < len && body[i] == '<';
}

static cJSON *parse_object(const char *body, size_t len)
{
	cJSON *o = body && len ? cJSON_ParseWithLength(body, len) : NULL;

	if (o && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static const char *str_item(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* The endpoint must not take the client secret anywhere but the workspace. */
static int check_endpoint(const char *host, const char *ep, struct dbr_err *err)
{
	char shown[SHOWN_MAX + 1];

	dbr_api_text_clean(shown, sizeof(shown), ep, strlen(ep));
	if (strncasecmp(ep, "https://", 8) != 0 &&
	    !(strncasecmp(ep, "http://", 7) == 0 && strncasecmp(host, "http://", 7) == 0))
		return dbr_err_set(err, DBR_E_AUTH, "refusing the token endpoint '%s' that '%s' "
				   "names: it is not https://, and the client secret goes only "
				   "over TLS; check the workspace URL", shown, host);
	if (!dbr_http_same_origin(host, ep))
		return dbr_err_set(err, DBR_E_AUTH, "refusing the token endpoint '%s' that '%s' "
				   "names: it is not on the workspace's own host, and the client "
				   "secret is sent only to the workspace; check the workspace URL",
				   shown, host);
	return 0;
}

int dbr_oauth_parse_discovery(const char *host, long status, const char *ctype,
			      const char *body, size_t len, char **endpoint,
			      struct dbr_err *err)
{
	const char *ep;
	cJSON *o;
	int rc;

	*endpoint = NULL;
	if (status == 404)
		return dbr_err_set(err, DBR_E_API, "'%s' has no OAuth discovery document (404 for "
				   "%s): the host may not support OAuth or not be a Databricks "
				   "workspace; check the URL, or use a personal access token "
				   "(auth_type = pat)", host, DBR_OAUTH_DISCOVERY_PATH);
	if (looks_html(ctype, body, len))
		return dbr_err_set(err, DBR_E_API, "'%s' answered the OAuth discovery request "
				   "with an HTML page (status %ld), not JSON: is it a Databricks "
				   "workspace (a proxy or login page in between)? check the URL",
				   host, status);
	if (status != 200)
		return dbr_err_set(err, DBR_E_API, "'%s' answered the OAuth discovery request "
				   "with status %ld: try again later, or check the URL", host,
				   status);
	o = parse_object(body, len);
	if (!o)
		return dbr_err_set(err, DBR_E_API, "the OAuth discovery document of '%s' is not "
				   "a JSON object: check the URL", host);
	ep = str_item(o, "token_endpoint");
	if (!ep || !*ep)
		rc = dbr_err_set(err, DBR_E_API, "the OAuth discovery document of '%s' names no "
				 "token_endpoint: the host may not support OAuth machine-to-machine "
				 "sign-in; check the URL", host);
	else if (!(rc = check_endpoint(host, ep, err)) && !(*endpoint = strdup(ep)))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	cJSON_Delete(o);
	return rc;
}

/* What to do about a refused client secret, by where it came from. */
static const char *secret_advice(const char *source)
{
	if (strcmp(source, "env") == 0)
		return "put the right one in DATABRICKS_CLIENT_SECRET";
	if (strcmp(source, "vault") == 0)
		return "write the right one to the Vault secret's client_secret field";
	if (strcmp(source, "profile") == 0)
		return "store the right one with 'dbroker login --oauth-m2m --client-id ID'";
	return "store the right one again with 'dbroker login --oauth-m2m --client-id ID'";
}

static int token_error(const struct dbr_oauth_who *who, long status, const cJSON *o,
		       struct dbr_err *err)
{
	const char *code = o ? str_item(o, "error") : NULL;
	const char *desc = o ? str_item(o, "error_description") : NULL;
	char c[64], d[SHOWN_MAX + 1];

	dbr_api_text_clean(c, sizeof(c), code, code ? strlen(code) : 0);
	dbr_api_text_clean(d, sizeof(d), desc, desc ? strlen(desc) : 0);
	if (status == 401 || (status == 400 && code && (strcmp(code, "invalid_client") == 0 ||
							 strcmp(code, "unauthorized_client") == 0 ||
							 strcmp(code, "invalid_scope") == 0)))
		return dbr_err_set(err, DBR_E_AUTH, "the workspace '%s' refused the client id '%s' "
				   "and its secret from provider '%s' (%ld%s%s%s%s): check that the "
				   "service principal exists and the secret is current, then %s",
				   who->host, who->client_id, who->source, status, c[0] ? " " : "",
				   c, d[0] ? ": " : "", d, secret_advice(who->source));
	return dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered %ld%s%s%s%s for "
			   "client id '%s': try again later", who->host, status, c[0] ? " " : "",
			   c, d[0] ? ": " : "", d, who->client_id);
}

/* expires_in: a positive whole number of seconds (a numeric string too,
 * as some servers send it). */
static int take_expiry(const cJSON *v, long *out)
{
	double d;
	char *end = NULL;

	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v) && v->valuestring && *v->valuestring)
		d = strtod(v->valuestring, &end);
	else
		return -1;
	if ((end && *end) || !(d >= 1))
		return -1;
	if (d > DBR_OAUTH_MAX_LIFETIME_S) {
		*out = DBR_OAUTH_MAX_LIFETIME_S;
		return 0;
	}
	if (d != (double)(long)d)
		return -1;
	*out = (long)d;
	return 0;
}

static int printable_token(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* The type is quoted only when it cannot carry the token: the answer is
 * the server's, and it may have put the token there too. What is shown is
 * checked, not the raw bytes: cleaning writes an odd byte as "\xNN", whose
 * last digit can join what follows into the token (found by fuzz_oauth). */
static int type_error(const struct dbr_oauth_who *who, const char *type, const char *tok,
		      struct dbr_err *err)
{
	char t[40];

	dbr_api_text_clean(t, sizeof(t), type, strlen(type));
	if (strstr(type, tok) || strstr(t, tok))
		return dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered with a "
				   "token whose type is not Bearer (not shown: it holds the token): "
				   "refusing it", who->host);
	return dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered with a token of "
			   "type '%s', not Bearer: refusing it", who->host, t);
}

int dbr_oauth_parse_token(const struct dbr_oauth_who *who, long status, const char *ctype,
			  const char *body, size_t len, struct dbr_secret **token,
			  long *expires_in, struct dbr_err *err)
{
	const char *tok, *type;
	size_t n;
	cJSON *o;
	int rc;

	*token = NULL;
	*expires_in = 0;
	if (looks_html(ctype, body, len))
		return dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered with an "
				   "HTML page (status %ld), not JSON: is it a Databricks workspace "
				   "(a proxy or login page in between)? check the URL", who->host,
				   status);
	o = parse_object(body, len);
	if (status != 200) {
		rc = token_error(who, status, o, err);
		cJSON_Delete(o);
		return rc;
	}
	if (!o)
		return dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered 200 with "
				   "something that is not a JSON object: try again later", who->host);
	tok = str_item(o, "access_token");
	type = str_item(o, "token_type");
	n = tok ? strlen(tok) : 0;
	if (n == 0)
		rc = dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered without an "
				 "access_token for client id '%s': try again later", who->host,
				 who->client_id);
	else if (n > ACCESS_TOKEN_MAX || !printable_token(tok, n))
		rc = dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered with an "
				 "access_token that is too long or holds spaces or control "
				 "characters: refusing it", who->host);
	else if (type && strcasecmp(type, "Bearer") != 0)
		rc = type_error(who, type, tok, err);
	else if (take_expiry(cJSON_GetObjectItemCaseSensitive(o, "expires_in"), expires_in))
		rc = dbr_err_set(err, DBR_E_API, "the token endpoint of '%s' answered without a "
				 "positive whole expires_in: refusing a token of unknown lifetime; "
				 "try again later", who->host);
	else if ((rc = dbr_secret_new(tok, n, token)))
		dbr_err_set(err, rc, "cannot hold the access token: %s", dbr_strerror(rc));
	if (rc)
		*expires_in = 0;
	cJSON_Delete(o);
	return rc;
}
