/* Token API (tokens.h). */
#include "dbroker/tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include "dbroker/bytes.h"

#include "dbroker/os.h"
#include "dbroker/request.h"
#include "dbroker/secret.h"
#include "secret_internal.h"
#include "banned.h"

#define TOKEN_ID_MAX 127

static int printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* A time in ms since the epoch, or missing when it is absent or out of any
 * clock's range (the conversion of a larger double is undefined). */
static int64_t ms_field(const cJSON *o, const char *name, int64_t missing)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || !(v->valuedouble > -9.0e15 && v->valuedouble < 9.0e15))
		return missing;
	return (int64_t)v->valuedouble;
}

static void str_field(const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	out[0] = '\0';
	if (cJSON_IsString(v) && v->valuestring)
		snprintf(out, cap, "%s", v->valuestring);
}

/* token_info {token_id, creation_time, expiry_time, comment}; 0 or -1 when
 * it names no token. */
static int info_from_json(const cJSON *o, struct dbr_token_info *t)
{
	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(o))
		return -1;
	str_field(o, "token_id", t->token_id, sizeof(t->token_id));
	str_field(o, "comment", t->comment, sizeof(t->comment));
	t->creation_time_ms = ms_field(o, "creation_time", 0);
	t->expiry_time_ms = ms_field(o, "expiry_time", -1);
	return t->token_id[0] ? 0 : -1;
}

static int check_id(const char *id, struct dbr_err *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > TOKEN_ID_MAX)
		return dbr_err_set(err, DBR_E_INVAL, "no valid token id given: 'dbroker tokens "
				   "list' shows the ids");
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_'))
			return dbr_err_set(err, DBR_E_INVAL, "the token id '%s' has characters "
					   "a token id does not have: 'dbroker tokens list' shows "
					   "the ids", id);
	return 0;
}

/* The one place outside the signer that reads a minted value: 'tokens
 * create --print' hands it to the next program in a pipe, once. */
int dbr_minted_token_write(const struct dbr_minted_token *t, int fd, struct dbr_err *err)
{
	const unsigned char *b;
	int rc;

	dbr_err_clear(err);
	if (!t || !t->value || !(b = dbr_secret_bytes(t->value)))
		return dbr_err_set(err, DBR_E_INVAL, "no token to write");
	if (isatty(fd))
		return dbr_err_set(err, DBR_E_INVAL, "refusing to show the new token on a "
				   "terminal: pipe it into the program that stores it, or use "
				   "--store keyring");
	rc = dbr_write_all(fd, b, dbr_secret_len(t->value));
	if (rc == 0)
		rc = dbr_write_all(fd, "\n", 1);
	if (rc)
		return dbr_err_set(err, DBR_E_IO, "cannot write the new token: %s",
				   strerror(errno));
	return 0;
}

void dbr_minted_token_release(struct dbr_minted_token *t)
{
	if (!t)
		return;
	dbr_secret_free(t->value);
	memset(t, 0, sizeof(*t));
}

/* The value leaves the parsed document for a secret handle at once; the
 * document's copy is wiped before cJSON frees it. */
static int take_value(cJSON *doc, struct dbr_minted_token *out, struct dbr_err *err)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "token_value");
	size_t n;
	int rc;

	if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0])
		return dbr_err_set(err, DBR_E_API, "the workspace answered token/create without "
				   "a token value: check that the host is a Databricks workspace");
	n = strlen(v->valuestring);
	rc = dbr_secret_new(v->valuestring, n, &out->value);
	dbr_wipe(v->valuestring, n);
	if (rc == DBR_E_TOO_LARGE)
		return dbr_err_set(err, rc, "cannot hold the new token: the workspace's value is %zu "
				   "bytes, over the %d dbroker holds", n, DBR_SECRET_MAX);
	if (rc)
		return dbr_err_set(err, rc, "cannot hold the new token: %s", dbr_strerror(rc));
	return 0;
}

/* The workspace made a token dbroker cannot hold (no locked memory left
 * under --strict, out of memory, a value over DBR_SECRET_MAX): it is
 * revoked at once rather than left alive and unknown, or its id is named
 * so that it can be. err keeps why it could not be held. */
static int revoke_unheld(struct dbr_client *c, const struct dbr_token_info *info, int rc,
			 struct dbr_err *err)
{
	struct dbr_err rerr = DBR_ERR_INIT;
	char why[DBR_ERR_MSG_MAX];

	snprintf(why, sizeof(why), "%s", err && err->msg[0] ? err->msg : dbr_strerror(rc));
	if (dbr_tokens_revoke(c, info->token_id, &rerr) == 0)
		return dbr_err_set(err, rc, "%s; the token the workspace made for it (id %s) "
				   "was revoked", why, info->token_id);
	return dbr_err_set(err, rc, "%s; the token the workspace made for it could not be "
			   "revoked (%s): revoke it with 'dbroker tokens revoke %s'", why, rerr.msg,
			   info->token_id);
}

int dbr_tokens_create(struct dbr_client *c, long lifetime_s, const char *comment,
		      struct dbr_minted_token *out, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	cJSON *req, *doc = NULL;
	char *body = NULL;
	int rc;

	dbr_err_clear(err);
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no token to fill in");
	dbr_minted_token_release(out);
	if (lifetime_s <= 0)
		return dbr_err_set(err, DBR_E_INVAL, "a token lifetime must be positive: dbroker "
				   "does not mint tokens that never expire");
	if (comment && (strlen(comment) > DBR_TOKEN_COMMENT_MAX || !printable(comment)))
		return dbr_err_set(err, DBR_E_INVAL, "the token comment is longer than %d bytes or "
				   "has a line break or control character: shorten it",
				   DBR_TOKEN_COMMENT_MAX);
	req = cJSON_CreateObject();
	if (!req || !cJSON_AddNumberToObject(req, "lifetime_seconds", (double)lifetime_s) ||
	    (comment && !cJSON_AddStringToObject(req, "comment", comment)) ||
	    !(body = cJSON_PrintUnformatted(req))) {
		cJSON_Delete(req);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	cJSON_Delete(req);
	rc = dbr_client_call(c, "POST", DBR_TOKENS_API "/create", body, strlen(body),
			     DBR_CALL_SECRET_RESPONSE, &resp, &aerr, err);
	cJSON_free(body);
	if (rc == 0) {
		const cJSON *info;

		doc = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
		info = cJSON_GetObjectItemCaseSensitive(doc, "token_info");
		/* the token was made (2xx), but it cannot be revoked by an id
		 * that is missing, too long to hold, or one token/delete would
		 * refuse: the id as sent is checked, not the copy */
		if (info_from_json(info, &out->info) ||
		    check_id(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info,
										    "token_id")),
			     NULL))
			rc = dbr_err_set(err, DBR_E_MAYBE_APPLIED, "the workspace answered "
					 "token/create without a usable token id: check that the "
					 "host is a Databricks workspace");
		else if ((rc = take_value(doc, out, err)))
			rc = revoke_unheld(c, &out->info, rc, err);
	}
	cJSON_Delete(doc);
	dbr_http_response_release(&resp);
	if (rc)
		dbr_minted_token_release(out);
	return rc;
}

int dbr_tokens_list(struct dbr_client *c, struct dbr_token_info **out, size_t *n,
		    struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	const cJSON *list, *item;
	cJSON *doc;
	size_t k = 0;
	int rc;

	dbr_err_clear(err);
	if (!out || !n)
		return dbr_err_set(err, DBR_E_INVAL, "no list to fill in");
	*out = NULL;
	*n = 0;
	rc = dbr_client_call(c, "GET", DBR_TOKENS_API "/list", NULL, 0, 0, &resp, &aerr, err);
	if (rc)
		return rc;
	doc = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
	list = cJSON_GetObjectItemCaseSensitive(doc, "token_infos");
	if (!cJSON_IsObject(doc) || (list && !cJSON_IsArray(list))) {
		rc = dbr_err_set(err, DBR_E_API, "the workspace's token/list answer is not a token "
				 "list: check that the host is a Databricks workspace");
	} else if (cJSON_GetArraySize(list) > 0) {
		*out = calloc((size_t)cJSON_GetArraySize(list), sizeof(**out));
		if (!*out)
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		cJSON_ArrayForEach(item, list)
			if (*out && info_from_json(item, &(*out)[k]) == 0)
				k++;
		*n = k;
	}
	cJSON_Delete(doc);
	dbr_http_response_release(&resp);
	return rc;
}

int dbr_tokens_find(struct dbr_client *c, const char *comment, long lifetime_s,
		    int64_t since_ms, struct dbr_token_info **out, size_t *n, struct dbr_err *err)
{
	size_t k = 0;
	int rc;

	if (!comment)
		return dbr_err_set(err, DBR_E_INVAL, "no comment to look for");
	rc = dbr_tokens_list(c, out, n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < *n; i++) {
		const struct dbr_token_info *t = &(*out)[i];
		int timed = t->creation_time_ms > 0 && t->expiry_time_ms > 0;

		if (strcmp(t->comment, comment) != 0 || t->creation_time_ms < since_ms ||
		    (timed && lifetime_s > 0 &&
		     t->expiry_time_ms - t->creation_time_ms != (int64_t)lifetime_s * 1000))
			continue;
		(*out)[k++] = *t;
	}
	*n = k;
	if (k == 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

int dbr_tokens_delete(struct dbr_client *c, const char *token_id, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	char body[TOKEN_ID_MAX + 32];
	int rc;

	dbr_err_clear(err);
	rc = check_id(token_id, err);
	if (rc)
		return rc;
	snprintf(body, sizeof(body), "{\"token_id\":\"%s\"}", token_id);
	rc = dbr_client_call(c, "POST", DBR_TOKENS_API "/delete", body, strlen(body),
			     DBR_CALL_IDEMPOTENT, &resp, &aerr, err);
	dbr_http_response_release(&resp);
	return rc;
}

int dbr_tokens_revoke(struct dbr_client *c, const char *token_id, struct dbr_err *err)
{
	struct dbr_token_info *live = NULL;
	struct dbr_err e = DBR_ERR_INIT;
	size_t n = 0;
	int rc = dbr_tokens_delete(c, token_id, err), gone = 1;

	if (rc != DBR_E_API || dbr_tokens_list(c, &live, &n, &e))
		return rc;
	for (size_t i = 0; i < n; i++)
		if (strcmp(live[i].token_id, token_id) == 0)
			gone = 0;
	free(live);
	if (gone)
		dbr_err_clear(err);
	return gone ? 0 : rc;
}
