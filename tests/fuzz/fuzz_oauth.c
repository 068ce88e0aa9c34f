/* Fuzz target: the OAuth M2M answer parsers (src/auth/oauth_parse.c).
 *
 * Input layout:
 *   byte 0      bit 0: the token answer (else the discovery document);
 *               bit 1: content type text/html (else application/json);
 *               bits 2-3 pick the status: 200, 401, 400, 404
 *   the rest    body (copied to an exactly-sized buffer, no NUL after it)
 *
 * Properties (abort on violation), from src/auth/oauth_internal.h:
 *   O1  a discovered endpoint is on the workspace's origin;
 *   O2  a token answer that parses gives a non-empty handle and an
 *       expires_in in 1..DBR_OAUTH_MAX_LIFETIME_S; on failure, no handle
 *       and expires_in 0;
 *   O3  every error message is one line of clean text;
 *   O4  the access token's bytes never reach an error message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dbroker/secret.h"
#include "fuzz_common.h"
#include "http_internal.h"
#include "oauth_internal.h"

#define HOST "https://adb-1.2.azuredatabricks.net"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

static void check_msg(const struct dbr_err *err)
{
	size_t at;
	const char *why = fuzz_text_problem((const unsigned char *)err->msg, strlen(err->msg),
					    &at);

	if (why)
		fuzz_fail("O3: the message %s (at byte %zu): \"%s\"", why, at, err->msg);
}

/* The twin of a token: each letter and digit turned to another of its kind
 * (rot13, rot5). JSON's structure and escapes are left as they are, so a
 * body with the twin in the token's place parses the same way. */
static void twin_of(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			s[i] = (char)('a' + (c - 'a' + 13) % 26);
		else if (c >= 'A' && c <= 'Z')
			s[i] = (char)('A' + (c - 'A' + 13) % 26);
		else if (c >= '0' && c <= '9')
			s[i] = (char)('0' + (c - '0' + 5) % 10);
	}
}

/* The body again with every raw occurrence of tok turned into its twin,
 * or, when the token is written with escapes, printed again by cJSON with
 * the twin as its value. Returns a buffer to release with cJSON_free
 * (length in *out_len), or NULL. */
static char *body_with_twin(const char *body, size_t len, cJSON *o, const char *tok,
			    const char *twin, size_t *out_len)
{
	size_t tl = strlen(tok), found = 0;
	char *b = cJSON_malloc(len ? len : 1);

	if (!b)
		return NULL;
	memcpy(b, body, len);
	for (size_t i = 0; i + tl <= len; i++)
		if (!memcmp(b + i, tok, tl)) {
			memcpy(b + i, twin, tl);
			i += tl - 1;
			found++;
		}
	if (found) {
		*out_len = len;
		return b;
	}
	cJSON_free(b);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(o, "access_token", cJSON_CreateString(twin)))
		return NULL;
	b = cJSON_PrintUnformatted(o);
	*out_len = b ? strlen(b) : 0;
	return b;
}

/* O4: an access_token the answer carried (8 bytes or more) is not in the
 * message of a refused answer. The message's fixed text may hold any
 * 8 bytes by chance ("positive", the host), so the check is differential:
 * the body is parsed again with the token's twin in its place, and a leak
 * is the token in the first message and its twin in the second. */
static void check_token_not_shown(const struct dbr_oauth_who *who, long status, const char *ct,
				  const char *body, size_t len, const struct dbr_err *err)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "access_token") : NULL;
	char *tok = NULL, *twin = NULL, *body2 = NULL;
	struct dbr_secret *tok2 = NULL;
	struct dbr_err err2 = DBR_ERR_INIT;
	size_t len2 = 0;
	long exp2 = -1;

	if (!cJSON_IsString(t) || !t->valuestring || strlen(t->valuestring) < 8 ||
	    !strstr(err->msg, t->valuestring))
		goto out;
	tok = strdup(t->valuestring);
	twin = strdup(t->valuestring);
	if (!tok || !twin)
		goto out;
	twin_of(twin, strlen(twin));
	body2 = body_with_twin(body, len, o, tok, twin, &len2);
	if (!body2)
		goto out;
	if (dbr_oauth_parse_token(who, status, ct, body2, len2, &tok2, &exp2, &err2) &&
	    strstr(err2.msg, twin))
		fuzz_fail("O4: the access token reached the message: \"%s\"", err->msg);
out:
	dbr_secret_free(tok2);
	cJSON_free(body2);
	free(twin);
	free(tok);
	cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[4] = { 200, 401, 400, 404 };
	static const struct dbr_oauth_who who = { HOST, "sp-1", "env" };
	struct fuzz_in in = { data, size };
	struct dbr_err err = DBR_ERR_INIT;
	uint8_t flags = fuzz_byte_or(&in, 0);
	const char *ct = flags & 2 ? "text/html" : "application/json";
	long status = statuses[(flags >> 2) & 3];
	char *body = malloc(in.n ? in.n : 1);
	int rc;

	if (!body)
		return 0;
	memcpy(body, in.p, in.n);
	if (flags & 1) {
		struct dbr_secret *tok = NULL;
		long exp = -1;

		rc = dbr_oauth_parse_token(&who, status, ct, body, in.n, &tok, &exp, &err);
		if (rc == 0 && (!tok || dbr_secret_len(tok) == 0 || exp < 1 ||
				exp > DBR_OAUTH_MAX_LIFETIME_S))
			fuzz_fail("O2: success with handle %p, expires_in %ld", (void *)tok, exp);
		if (rc && (tok || exp != 0))
			fuzz_fail("O2: failure %d left a handle or expires_in %ld", rc, exp);
		if (rc)
			check_token_not_shown(&who, status, ct, body, in.n, &err);
		dbr_secret_free(tok);
	} else {
		char *ep = NULL;

		rc = dbr_oauth_parse_discovery(HOST, status, ct, body, in.n, &ep, &err);
		if (rc == 0 && (!ep || !dbr_http_same_origin(HOST, ep)))
			fuzz_fail("O1: endpoint '%s' is not on the workspace's origin",
				  ep ? ep : "(null)");
		if (rc && ep)
			fuzz_fail("O1: failure %d left an endpoint", rc);
		free(ep);
	}
	if (rc)
		check_msg(&err);
	free(body);
	return 0;
}
