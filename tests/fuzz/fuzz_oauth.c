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

/* O4: an access_token the answer carried (8 bytes or more) is not in the
 * message of a refused answer. */
static void check_token_not_shown(const char *body, size_t len, const struct dbr_err *err)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "access_token") : NULL;

	if (cJSON_IsString(t) && t->valuestring && strlen(t->valuestring) >= 8 &&
	    strstr(err->msg, t->valuestring))
		fuzz_fail("O4: the access token reached the message: \"%s\"", err->msg);
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
			check_token_not_shown(body, in.n, &err);
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
