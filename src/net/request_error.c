/* The error messages of the request module: a workspace's answer, masked
 * and cut, with advice on what to do (request_internal.h). */
#include "request_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "credential_internal.h"
#include "dbroker/mask.h"
#include "dbroker/text.h"
#include "retry.h"
#include "banned.h"

/* bytes of the server's message quoted in an error message */
#define SHOWN_MESSAGE_MAX 480

/* Register what of cred a server could echo: the PAT, or a service
 * principal's current access token (none is minted for this) and its
 * client secret. 1, or 0 when one could not be registered. */
static int mask_credential(struct dbr_mask *m, const struct dbr_credential *cred)
{
	const struct dbr_secret *s[2] = { dbr_credential_held_bearer(cred),
					  cred ? dbr_credential_client_secret(cred) : NULL };

	for (size_t i = 0; cred && i < 2; i++)
		if (s[i] && dbr_mask_add_secret(m, s[i], NULL) != 0)
			return 0;
	return 1;
}

/* "400 CODE: message (request id X)". The server's message is cut so that
 * what follows, the advice, fits in err; it may quote the token, so it is
 * masked first (the credential and every token shape), then cut where no
 * token-like run is split (dbr_text_cut_len): a token cut short would no
 * longer be recognised by the log's masker. */
static void add_answer(struct dbr_buf *b, const struct dbr_client *c,
		       const struct dbr_api_error *e)
{
	struct dbr_mask *m = NULL;
	char *masked = NULL;
	size_t n = 0;
	int ok;

	ok = dbr_mask_new(&m) == 0 && mask_credential(m, c->cred) &&
	     dbr_mask_buffer(m, e->message, strlen(e->message), &masked, &n) == 0;
	dbr_mask_free(m);
	if (!ok) {
		free(masked);
		masked = NULL;
		n = 0;
	}
	dbr_buf_addf(b, "%ld%s%s: ", e->status, e->code[0] ? " " : "", e->code);
	if (!ok)
		dbr_buf_addstr(b, "(the message could not be masked and is not shown)");
	else if (n > SHOWN_MESSAGE_MAX)
		dbr_buf_addf(b, "%.*s...", (int)dbr_text_cut_len(masked, n, SHOWN_MESSAGE_MAX),
			     masked);
	else
		dbr_buf_add(b, masked, n);
	if (masked) {
		explicit_bzero(masked, n);
		free(masked);
	}
	if (e->request_id[0])
		dbr_buf_addf(b, " (request id %s)", e->request_id);
}

void request_describe_answer(const struct dbr_client *c, const struct dbr_api_error *e,
			    struct dbr_buf *b)
{
	dbr_buf_addf(b, "the workspace '%s' answered ", c->host);
	add_answer(b, c, e);
}

/* 401/403: name who supplied the token and say how to replace it. */
static int auth_error(const struct dbr_client *c, const struct dbr_api_error *e,
		      struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(4 * DBR_ERR_MSG_MAX);
	const char *src = dbr_credential_source(c->cred);

	if (dbr_credential_client_id(c->cred))
		dbr_buf_addf(&b, "the workspace '%s' rejected the access token minted for client "
			     "id '%s' from provider '%s'", c->host, dbr_credential_client_id(c->cred),
			     src);
	else
		dbr_buf_addf(&b, "the workspace '%s' rejected the token from provider '%s'",
			     c->host, src);
	if (c->profile)
		dbr_buf_addf(&b, " (profile '%s')", c->profile);
	dbr_buf_addstr(&b, ": ");
	add_answer(&b, c, e);
	if (dbr_credential_client_id(c->cred)) {
		/* a 401 has already cost one new access token */
		dbr_buf_addstr(&b, e->status == 401
			       ? DBR_ADVICE_SEP "a newly minted access token was refused too: check "
				 "that the service principal still exists and may use this workspace"
			       : DBR_ADVICE_SEP "check that the service principal may make this "
				 "call");
	} else {
		dbr_buf_addstr(&b, DBR_ADVICE_SEP "check that it has not expired or been revoked");
		if (e->status == 403)
			dbr_buf_addstr(&b, " and that its user may make this call");
		if (strcmp(src, "env") == 0)
			dbr_buf_addstr(&b, ", then put a valid one in DATABRICKS_TOKEN or unset it to "
				       "use a stored one");
		else if (strcmp(src, "vault") == 0)
			dbr_buf_addstr(&b, ", then write a valid one to the Vault secret at the "
				       "profile's vault_path");
		else if (c->profile)
			dbr_buf_addf(&b, ", then store a new one with 'dbroker login -p %s'",
				     c->profile);
		else
			dbr_buf_addstr(&b, ", then store a new one with 'dbroker login'");
	}
	dbr_err_set(err, DBR_E_AUTH, "%s", b.data ? b.data : "the workspace rejected the token");
	dbr_buf_release(&b);
	return DBR_E_AUTH;
}

static void unsafe_note(struct dbr_buf *b, const char *method)
{
	dbr_buf_addf(b, "; not retried: a %s is repeated only when the call is marked idempotent",
		     method);
}

int request_final_error(const struct dbr_client *c, int rc, const struct dbr_api_error *e,
		       const struct dbr_err *last, enum dbr_retry_class cls, const char *method,
		       const char *path, struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(4 * DBR_ERR_MSG_MAX);
	int code;

	if (rc == 0 && (e->status == 401 || e->status == 403))
		return auth_error(c, e, err);
	if (rc == 0) {
		request_describe_answer(c, e, &b);
		code = DBR_E_API;
		if (cls == DBR_RETRY_UNSAFE)
			unsafe_note(&b, method);
		else if (e->status >= 500)
			dbr_buf_addstr(&b, "; try again later");
	} else {
		/* which call drew an answer over the cap (a list, or a poll) */
		if (rc == DBR_E_TOO_LARGE)
			dbr_buf_addf(&b, "'%s %s': ", method, path);
		dbr_buf_addstr(&b, last->msg);
		code = rc;
		if (cls == DBR_RETRY_UNSAFE)
			unsafe_note(&b, method);
	}
	dbr_err_set(err, code, "%s", b.data ? b.data : dbr_strerror(code));
	dbr_buf_release(&b);
	return code;
}
