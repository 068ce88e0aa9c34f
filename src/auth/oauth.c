/* The OAuth M2M token source (oauth_internal.h): discovery, the
 * client-credentials exchange and refresh before expiry, for the signer.
 *
 * The client secret leaves its handle only inside the HTTP client, as the
 * password of HTTP Basic auth to the token endpoint, which discovery found
 * on the workspace's own origin. Access tokens stay in secret handles,
 * registered with the masker before they are used, never written anywhere. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "credential_internal.h"
#include "dbroker/http.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "oauth_internal.h"
#include "banned.h"

#define TOKEN_BODY "grant_type=client_credentials&scope=" DBR_OAUTH_SCOPE
#define FORM_TYPE "application/x-www-form-urlencoded"
/* attempts of one discovery or exchange (network errors, 429, 5xx) */
#define MINT_ATTEMPTS 3
#define MINT_RETRY_MS 1000L
#define RETIRED_MAX 64

struct oauth_source {
	const struct dbr_credential *cr; /* borrowed: host, client id, secret */
	struct dbr_mask *mask;           /* borrowed */
	char *endpoint;                  /* discovered once */
	struct dbr_secret *token;        /* the current access token, or NULL */
	/* several threads may sign with one credential (the exec proxy):
	 * one mints at a time, and a token handed out is never freed while
	 * the source lives (a renewed one joins the retired list: a few an
	 * hour at most) */
	pthread_mutex_t mu;
	struct dbr_secret *retired[RETIRED_MAX];
	size_t n_retired;
	long expires_ms;                 /* dbr_mono_ms() when it expires */
	long refresh_ms;                 /* dbr_mono_ms() from when it is renewed */
	long long expires_at;            /* epoch seconds */
};

static int retryable(int rc, long status)
{
	if (rc)
		return rc == DBR_E_NETWORK || rc == DBR_E_TIMEOUT || rc == DBR_E_UNREACHABLE;
	return status == 429 || (status >= 500 && status != 501);
}

/* One call with the signer's TLS settings, a few tries on transient
 * failures, none past the command's deadline: each attempt's timeout is cut
 * to what is left, and no try starts after it. Returns 0 with resp filled
 * (any status) or a transport code. */
static int call(const struct dbr_token_fetch *how, struct dbr_http_request *req,
		struct dbr_http_response *resp, const char *what, struct dbr_err *err)
{
	int rc = 0;

	req->struct_size = sizeof(*req);
	req->ca_file = how->ca_file;
	req->allow_loopback_http = how->allow_insecure_loopback;
	req->trace = dbr_log_enabled(how->log, DBR_LOG_DEBUG) ? how->log : NULL;
	for (int i = 1; i <= MINT_ATTEMPTS; i++) {
		long left = how->deadline_ms ? how->deadline_ms - dbr_mono_ms() : 0;

		if (how->deadline_ms && left <= 0) {
			if (i == 1)
				return dbr_err_set(err, DBR_E_TIMEOUT, "the command's timeout ran "
						   "out before %s: raise --timeout", what);
			break; /* the last answer or error stands */
		}
		req->timeout_ms = how->deadline_ms && left < how->timeout_ms ? left
									      : how->timeout_ms;
		dbr_err_clear(err);
		rc = dbr_http_perform(req, resp, err);
		if (i == MINT_ATTEMPTS || !retryable(rc, rc ? 0 : resp->status) ||
		    (how->deadline_ms && how->deadline_ms - dbr_mono_ms() <= MINT_RETRY_MS))
			break;
		dbr_log_warn(how->log, "%s: %s; retrying in 1 s (attempt %d)", what,
			     rc ? err->msg : "the server is busy", i + 1);
		if (dbr_sleep_ms(MINT_RETRY_MS))
			return dbr_err_set(err, DBR_E_INTERRUPTED, "interrupted during %s", what);
	}
	if (rc == DBR_E_TOO_LARGE) {
		/* the signer's advice (ask for less) fits API calls, not this */
		dbr_err_set(err, rc, "%s failed: the answer is larger than %zu bytes, which no "
			    "OAuth server sends: check that the host is a Databricks workspace "
			    "URL", what, req->max_response ? req->max_response
							   : (size_t)DBR_HTTP_DEFAULT_MAX_RESPONSE);
	} else if (rc) {
		struct dbr_err inner = *err;

		dbr_err_set(err, rc, "%s failed: %s", what, inner.msg);
	}
	return rc;
}

static int discover(struct oauth_source *s, const struct dbr_token_fetch *how,
		    struct dbr_err *err)
{
	const char *host = dbr_credential_host(s->cr);
	struct dbr_http_request req;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	char url[2048];
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s%s", host, DBR_OAUTH_DISCOVERY_PATH) >=
	    sizeof(url))
		return dbr_err_set(err, DBR_E_INVAL, "the workspace URL is too long");
	memset(&req, 0, sizeof(req));
	req.url = url;
	rc = call(how, &req, &resp, "the OAuth discovery request", err);
	if (rc == 0)
		rc = dbr_oauth_parse_discovery(host, resp.status, resp.content_type, resp.body,
					       resp.body_len, &s->endpoint, err);
	dbr_http_response_release(&resp);
	return rc;
}

static int exchange(struct oauth_source *s, const struct dbr_token_fetch *how,
		    struct dbr_secret **tok, long *expires_in, struct dbr_err *err)
{
	struct dbr_oauth_who who = { dbr_credential_host(s->cr), dbr_credential_client_id(s->cr),
				     dbr_credential_source(s->cr) };
	struct dbr_http_request req;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	int rc;

	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = s->endpoint;
	req.body = TOKEN_BODY;
	req.body_len = strlen(TOKEN_BODY);
	req.content_type = FORM_TYPE;
	req.auth = DBR_HTTP_AUTH_BASIC;
	req.auth_user = who.client_id;
	req.auth_secret = dbr_credential_client_secret(s->cr);
	req.secret_response = 1; /* the access token is not registered yet */
	rc = call(how, &req, &resp, "the OAuth token request", err);
	if (rc == 0)
		rc = dbr_oauth_parse_token(&who, resp.status, resp.content_type, resp.body,
					   resp.body_len, tok, expires_in, err);
	dbr_http_response_release(&resp);
	return rc;
}

/* Keep a token that was handed out; past RETIRED_MAX the oldest goes (it
 * expired long ago: tokens live an hour and are renewed minutes early). */
static void retire(struct oauth_source *s, struct dbr_secret *tok)
{
	if (!tok)
		return;
	if (s->n_retired == RETIRED_MAX) {
		dbr_secret_free(s->retired[0]);
		memmove(s->retired, s->retired + 1, (RETIRED_MAX - 1) * sizeof(s->retired[0]));
		s->n_retired--;
	}
	s->retired[s->n_retired++] = tok;
}

/* Mint a new access token; the old one is kept until this succeeds. */
static int mint(struct oauth_source *s, const struct dbr_token_fetch *how, struct dbr_err *err)
{
	struct dbr_secret *tok = NULL;
	struct dbr_err merr = DBR_ERR_INIT;
	long life = 0, margin, now;
	int rc;

	if (!s->endpoint && (rc = discover(s, how, err)))
		return rc;
	if ((rc = exchange(s, how, &tok, &life, err)))
		return rc;
	/* fail closed: a token that cannot be masked is not used */
	rc = dbr_mask_add_secret(s->mask, tok, &merr);
	if (rc) {
		dbr_secret_free(tok);
		return dbr_err_set(err, rc, "refusing the access token from '%s': %s",
				   dbr_credential_host(s->cr), merr.msg);
	}
	now = dbr_mono_ms();
	/* renewed a few minutes early; a quarter early for short lifetimes */
	margin = life * 250 < DBR_OAUTH_REFRESH_MARGIN_S * 1000 ? life * 250
							       : DBR_OAUTH_REFRESH_MARGIN_S * 1000;
	retire(s, s->token);
	s->token = tok;
	s->expires_ms = now + life * 1000;
	s->refresh_ms = s->expires_ms - margin;
	s->expires_at = (long long)time(NULL) + life;
	dbr_log_debug(how->log, "oauth: minted an access token for client id '%s' (expires in "
		      "%ld s, renewed %ld ms before)", dbr_credential_client_id(s->cr), life,
		      margin);
	return 0;
}

static int source_get(void *ctx, const struct dbr_token_fetch *how,
		      const struct dbr_secret *refused, const struct dbr_secret **out,
		      struct dbr_err *err)
{
	struct oauth_source *s = ctx;
	long now = dbr_mono_ms();
	int rc, force;

	*out = NULL;
	pthread_mutex_lock(&s->mu);
	/* a token renewed since the caller's was refused is the answer: the
	 * requests a 401 met together wait here for one new token */
	force = refused && refused == s->token;
	if (s->token && !force && now < s->refresh_ms) {
		*out = s->token;
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	rc = mint(s, how, err);
	if (rc && s->token && !force && now < s->expires_ms - 1000) {
		/* still valid for a while: go on with it, try again next call */
		dbr_log_warn(how->log, "could not renew the access token yet (%s); using the "
			     "current one, valid for %ld s more", err->msg,
			     (s->expires_ms - now) / 1000);
		dbr_err_clear(err);
		rc = 0;
	}
	if (rc == 0)
		*out = s->token;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static long long source_expires_at(void *ctx)
{
	struct oauth_source *s = ctx;
	long long at;

	pthread_mutex_lock(&s->mu);
	at = s->token ? s->expires_at : 0;
	pthread_mutex_unlock(&s->mu);
	return at;
}

static const struct dbr_secret *source_held(void *ctx)
{
	struct oauth_source *s = ctx;
	const struct dbr_secret *t;

	pthread_mutex_lock(&s->mu);
	t = s->token; /* a token handed out lives as long as the source */
	pthread_mutex_unlock(&s->mu);
	return t;
}

static void source_free(void *ctx)
{
	struct oauth_source *s = ctx;

	if (!s)
		return;
	dbr_secret_free(s->token);
	for (size_t i = 0; i < s->n_retired; i++)
		dbr_secret_free(s->retired[i]);
	pthread_mutex_destroy(&s->mu);
	free(s->endpoint);
	free(s);
}

static const struct dbr_token_source_ops oauth_ops = {
	.get = source_get,
	.expires_at = source_expires_at,
	.held = source_held,
	.free = source_free,
};

int dbr_oauth_attach(struct dbr_credential *cr, struct dbr_mask *mask)
{
	struct oauth_source *s;

	if (!cr || !mask || !dbr_credential_client_id(cr))
		return DBR_E_INVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return DBR_E_NOMEM;
	s->cr = cr;
	s->mask = mask;
	pthread_mutex_init(&s->mu, NULL);
	return dbr_credential_set_token_source(cr, &oauth_ops, s);
}
