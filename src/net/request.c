/* The request module: signed calls to a Databricks workspace (request.h).
 *
 * This file never sees token bytes: it hands the credential's secret handle
 * (the PAT, or the OAuth access token current for this attempt, which the
 * credential's token source mints and refreshes) to the hardened HTTP
 * client as DBR_HTTP_AUTH_BEARER, and http.c puts it on the TLS connection.
 * What is added here is where a token may go (https://, or http:// to
 * loopback on request), the retry loop around single requests
 * (policy in retry.c); the error messages are request_error.c's.
 */
#include "dbroker/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "credential_internal.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/text.h"
#include "http_internal.h"
#include "dbroker/runtime.h"
#include "request_internal.h"
#include "retry.h"
#include "runtime_internal.h"
#include "banned.h"

#define API_PREFIX "/api/"
#define PATH_MAX_LEN 4096
#define URL_MAX (PATH_MAX_LEN + 2048)
#define METHOD_MAX 16
/* how often a forward's requester is looked at while a retry waits */
#define RETRY_SLICE_MS 100L


/* ---- interrupt and sleep (kept for callers of the request API) ---------------- */

void dbr_client_interrupt(void)
{
	dbr_interrupt();
}

int dbr_client_interrupted(void)
{
	return dbr_interrupted();
}

void dbr_client_interrupt_clear(void)
{
	dbr_interrupt_reset();
}

int dbr_client_sleep(long ms)
{
	return dbr_sleep_ms(ms);
}

/* ---- client -------------------------------------------------------------------- */

/* Options from a caller built against an older (shorter) struct: the
 * fields it does not know are zero. */
int dbr_client_options_copy(const struct dbr_client_options *in, struct dbr_client_options *out,
			struct dbr_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!in)
		return 0;
	if (in->struct_size < sizeof(in->struct_size))
		return dbr_err_set(err, DBR_E_INVAL, "malformed client options: set struct_size "
				   "to sizeof(struct dbr_client_options)");
	memcpy(out, in, in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out));
	out->struct_size = sizeof(*out);
	return 0;
}

/* Where a token may go: https://, or http:// to this machine when the
 * caller opted in (local test doubles). Decided once, before any call. */
static int check_host(const char *host, int allow_loopback, struct dbr_err *err)
{
	struct dbr_http_url p;
	struct dbr_err perr = DBR_ERR_INIT;
	int rc = dbr_http_url_parse(host, &p, &perr);

	/* out of memory, or libcurl cannot be loaded: not the URL's fault */
	if (rc == DBR_E_NOMEM || rc == DBR_E_IO)
		return dbr_err_set(err, rc, "%s", perr.msg);
	if (rc)
		return dbr_err_set(err, DBR_E_INVAL, "the workspace URL '%s' is not valid: give it "
				   "as https://<workspace host>", host);
	if (strcmp(p.scheme, "https") == 0)
		rc = 0;
	else if (strcmp(p.scheme, "http") != 0)
		rc = dbr_err_set(err, DBR_E_INVAL, "the workspace URL '%s' must use https://", host);
	else if (!dbr_http_host_is_loopback(p.host))
		rc = dbr_err_set(err, DBR_E_INVAL, "refusing the workspace '%s': dbroker never sends "
				 "a token over plain HTTP; use its https:// URL", host);
	else if (!allow_loopback)
		rc = dbr_err_set(err, DBR_E_INVAL, "refusing the workspace '%s': plain http:// is "
				 "allowed only to this machine, for local test servers, and only "
				 "when asked for (--allow-http-loopback; allow_insecure_loopback in "
				 "the client options); use https://", host);
	dbr_http_url_release(&p);
	return rc;
}

static char *dup_or_null(const char *s, int *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

int dbr_client_alloc(const struct dbr_client_options *opt, struct dbr_client **out,
		     struct dbr_err *err)
{
	struct dbr_client *c;

	*out = NULL;
	if (opt->timeout_ms < 0)
		return dbr_err_set(err, DBR_E_INVAL, "the request timeout (%ld ms) is negative: "
				   "give 0 for the default or a positive value", opt->timeout_ms);
	if (opt->timeout_ms > DBR_CLIENT_MAX_WINDOW_MS || opt->retry_window_ms > DBR_CLIENT_MAX_WINDOW_MS ||
	    opt->unreachable_window_ms > DBR_CLIENT_MAX_WINDOW_MS)
		return dbr_err_set(err, DBR_E_INVAL, "the request timeout (%ld ms), retry window "
				   "(%ld ms) and unreachable window (%ld ms) may be 24 hours at most",
				   opt->timeout_ms, opt->retry_window_ms, opt->unreachable_window_ms);
	if (!(c = calloc(1, sizeof(*c))))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	c->agent_fd = -1;
	c->log = opt->log;
	c->allow_insecure_loopback = opt->allow_insecure_loopback;
	c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : DBR_CLIENT_DEFAULT_TIMEOUT_MS;
	c->unreachable_window_ms = opt->unreachable_window_ms > 0 ? opt->unreachable_window_ms
						  : DBR_CLIENT_UNREACHABLE_WINDOW_MS;
	c->retry_window_ms = opt->retry_window_ms ? opt->retry_window_ms
						  : DBR_CLIENT_DEFAULT_RETRY_WINDOW_MS;
	dbr_rng_seed(&c->rng);
	*out = c;
	return 0;
}

int dbr_client_new(const struct dbr_credential *cred, const struct dbr_client_options *opt_in,
		   struct dbr_client **out, struct dbr_err *err)
{
	struct dbr_client_options opt;
	struct dbr_client *c;
	const char *host;
	int rc, fail = 0;

	dbr_err_clear(err);
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no client to fill in");
	*out = NULL;
	if (!cred || (!dbr_credential_token(cred) && !dbr_credential_refreshable(cred)))
		return dbr_err_set(err, DBR_E_INVAL, "no credential for the client: resolve one "
				   "with the credential chain first");
	host = dbr_credential_host(cred);
	if (!host || !*host)
		return dbr_err_set(err, DBR_E_INVAL, "the credential names no workspace: set "
				   "DATABRICKS_HOST or host in the profile");
	rc = dbr_client_options_copy(opt_in, &opt, err);
	if (rc == 0)
		rc = check_host(host, opt.allow_insecure_loopback, err);
	if (rc == 0)
		rc = dbr_client_alloc(&opt, &c, err);
	if (rc)
		return rc;
	c->cred = cred;
	c->host = dup_or_null(host, &fail);
	c->ca_file = dup_or_null(opt.ca_file, &fail);
	c->profile = dup_or_null(opt.profile, &fail);
	if (fail) {
		dbr_client_free(c);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	*out = c;
	return 0;
}

void dbr_client_free(struct dbr_client *c)
{
	if (!c)
		return;
	if (c->agent_fd >= 0)
		close(c->agent_fd);
	free(c->host);
	free(c->ca_file);
	free(c->profile);
	free(c->agent_path);
	free(c->agent_source);
	free(c);
}

const char *dbr_client_host(const struct dbr_client *c)
{
	return c ? c->host : NULL;
}

/* ---- checks ------------------------------------------------------------------------ */

static int check_method(const char *method, struct dbr_err *err)
{
	size_t n = method ? strlen(method) : 0;

	if (n == 0 || n > METHOD_MAX)
		return dbr_err_set(err, DBR_E_INVAL, "no valid HTTP method given: use GET, POST, "
				   "PUT, PATCH or DELETE");
	for (size_t i = 0; i < n; i++)
		if (method[i] < 'A' || method[i] > 'Z')
			return dbr_err_set(err, DBR_E_INVAL, "the HTTP method '%s' is not valid: "
					   "use GET, POST, PUT, PATCH or DELETE", method);
	return 0;
}

/* In the path only: a query may carry a path of its own as a value
 * (workspace/list?path=/Users/a/../b) */
static int has_dot_segment(const char *path, size_t len)
{
	for (const char *p = path; (p = memchr(p, '/', len - (size_t)(p - path))); p++) {
		size_t dots = strspn(p + 1, ".");

		if ((dots == 1 || dots == 2) && (p[1 + dots] == '/' || p[1 + dots] == '?' ||
						 p[1 + dots] == '\0'))
			return 1;
	}
	return 0;
}

/* prefix: API_PREFIX for API calls, "/" for forwarded requests */
static int check_path(const char *path, const char *prefix, struct dbr_err *err)
{
	size_t n;

	if (!path || strncmp(path, prefix, strlen(prefix)) != 0)
		return dbr_err_set(err, DBR_E_INVAL, "the API path must start with %s (for "
				   "example /api/2.1/clusters/list)", prefix);
	n = strlen(path);
	if (n > PATH_MAX_LEN)
		return dbr_err_set(err, DBR_E_INVAL, "the API path is longer than %d bytes: send "
				   "large parameters in the body", PATH_MAX_LEN);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)path[i];

		/* not echoed: it could break the message's line */
		if (ch <= 0x20 || ch >= 0x7f)
			return dbr_err_set(err, DBR_E_INVAL, "the API path contains a space, line "
					   "break or other control or non-ASCII byte: "
					   "percent-encode it");
		if (ch == '#')
			return dbr_err_set(err, DBR_E_INVAL, "the API path '%s' contains '#': "
					   "percent-encode it as %%23", path);
	}
	n = strcspn(path, "?");
	if (has_dot_segment(path, n))
		return dbr_err_set(err, DBR_E_INVAL, "the API path '%.*s' contains a '.' or '..' "
				   "segment: give the path without them", (int)n, path);
	return 0;
}

/* ---- messages ---------------------------------------------------------------------- */

/* "1", "1.5": seconds from milliseconds, one decimal when not whole. */
static const char *secs(long ms, char *buf, size_t cap)
{
	long tenths = ms > 0 ? (ms + 50) / 100 : 0;

	if (tenths % 10 == 0)
		snprintf(buf, cap, "%ld", tenths / 10);
	else
		snprintf(buf, cap, "%ld.%ld", tenths / 10, tenths % 10);
	return buf;
}

/* ---- the call ---------------------------------------------------------------------- */

struct attempt_state {
	struct dbr_client *c;
	const char *method;
	const char *path;
	long start_ms;
	unsigned attempts;
};

static void log_attempt(const struct attempt_state *s, int rc, const struct dbr_http_response *resp,
			long took_ms)
{
	if (!dbr_log_enabled(s->c->log, DBR_LOG_DEBUG))
		return;
	if (rc == 0)
		dbr_log_debug(s->c->log, "request: %s %s: %ld (attempt %u, %ld ms)", s->method,
			      s->path, resp->status, s->attempts, took_ms);
	else
		dbr_log_debug(s->c->log, "request: %s %s: no answer, %s (attempt %u, %ld ms)",
			      s->method, s->path, dbr_strerror_name(rc), s->attempts, took_ms);
}

static void log_retry(const struct attempt_state *s, int rc, const struct dbr_api_error *e,
		      const struct dbr_err *last, long wait_ms, long remaining_ms)
{
	char w[32], r[32];
	const char *why;

	if (!dbr_log_enabled(s->c->log, DBR_LOG_WARN))
		return;
	secs(wait_ms, w, sizeof(w));
	secs(remaining_ms, r, sizeof(r));
	if (rc != 0) {
		dbr_log_warn(s->c->log, "%s; retrying in %s s (attempt %u, %s s of the retry window "
			     "left)", last->msg, w, s->attempts + 1, r);
		return;
	}
	why = dbr_retry_transient_match(e);
	if (why && strcmp(why, e->code) == 0)
		why = NULL; /* the code already says it */
	dbr_log_warn(s->c->log, "the workspace answered %ld%s%s%s%s%s; retrying in %s s (attempt %u, "
		     "%s s of the retry window left)", e->status, e->code[0] ? " " : "", e->code,
		     why ? " (" : "", why ? why : "", why ? ")" : "", w, s->attempts + 1, r);
}

static const char *plural(unsigned n)
{
	return n == 1 ? "" : "s";
}

/* What bounds the retries of one call. */
enum limit {
	LIMIT_WINDOW,      /* the retry window */
	LIMIT_UNREACHABLE, /* the shorter window for an unreachable host */
	LIMIT_DEADLINE,    /* the command's deadline (--timeout) */
};

/* The retry window is used up, or the next wait would pass it. asked: the
 * server sent Retry-After (else retry_after_s, if >= 0, is the default).
 * window_ms: the length of the limit that ran out. */
static int gave_up(const struct attempt_state *s, int rc, const struct dbr_api_error *e,
		   const struct dbr_err *last, long retry_after_s, int asked, long remaining_ms,
		   enum limit lim, long window_ms, struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(4 * DBR_ERR_MSG_MAX);
	char took[32], left[32], window[32];
	/* an unreachable host stays that, whichever limit ran out */
	int code = rc == DBR_E_UNREACHABLE ? DBR_E_UNREACHABLE : DBR_E_TIMEOUT;

	secs(dbr_mono_ms() - s->start_ms, took, sizeof(took));
	secs(remaining_ms, left, sizeof(left));
	secs(window_ms, window, sizeof(window));
	dbr_buf_addf(&b, "gave up after %u attempt%s in %s s: ", s->attempts, plural(s->attempts),
		     took);
	if (rc == 0)
		request_describe_answer(s->c, e, &b);
	else
		dbr_buf_addstr(&b, last->msg);
	if (lim == LIMIT_DEADLINE && retry_after_s >= 0 && remaining_ms >= 1000)
		/* giving up early: waiting would only end at the deadline */
		dbr_buf_addf(&b, "; the next wait of %ld s would pass the command's %s s timeout "
			     "(%s s left): raise --timeout or try again later", retry_after_s,
			     window, left);
	else if (lim == LIMIT_DEADLINE)
		dbr_buf_addf(&b, "; the command's %s s timeout ran out: raise --timeout or try "
			     "again later", window);
	else if (lim == LIMIT_UNREACHABLE)
		dbr_buf_addf(&b, "; still unreachable after %s s: check the URL, the network and "
			     "that the server is running", window);
	else if (retry_after_s >= 0 && asked && remaining_ms > 0)
		dbr_buf_addf(&b, "; it asked to wait %ld s, more than the %s s left of the %s s "
			     "retry window: try again later", retry_after_s, left, window);
	else if (retry_after_s >= 0 && remaining_ms > 0)
		dbr_buf_addf(&b, "; the next wait of %ld s would pass the %s s retry window (%s s "
			     "left): try again later", retry_after_s, window, left);
	else
		dbr_buf_addf(&b, "; the %s s retry window is used up: try again later", window);
	dbr_err_set(err, code, "%s", b.data ? b.data : "gave up: the retry window is used up");
	dbr_buf_release(&b);
	return code;
}

/* The tightest of the limits on retrying attempt rc of s: its length in
 * *window_ms and what is left of it. */
static long remaining_of(const struct attempt_state *s, int rc, enum limit *lim,
			 long *window_ms)
{
	const struct dbr_client *c = s->c;
	long now = dbr_mono_ms(), left;

	*lim = LIMIT_WINDOW;
	*window_ms = c->retry_window_ms;
	left = c->retry_window_ms - (now - s->start_ms);
	if (rc == DBR_E_UNREACHABLE && c->unreachable_window_ms < c->retry_window_ms) {
		*lim = LIMIT_UNREACHABLE;
		*window_ms = c->unreachable_window_ms;
		left = c->unreachable_window_ms - (now - s->start_ms);
	}
	if (c->deadline_ms && c->deadline_ms - now < left) {
		*lim = LIMIT_DEADLINE;
		*window_ms = c->deadline_len_ms > 0 ? c->deadline_len_ms
						    : c->deadline_ms - s->start_ms;
		left = c->deadline_ms - now;
	}
	return left;
}

/* A 500, 502 or 504 comes from a server (or gateway) that may have acted on
 * the request before failing. */
static int answer_maybe_applied(long status)
{
	return status == 500 || status == 502 || status == 504;
}

static int interrupted_error(const struct attempt_state *s, struct dbr_err *err)
{
	if (s->attempts == 0)
		return dbr_err_set(err, DBR_E_INTERRUPTED, "interrupted before '%s %s' was sent to "
				   "'%s'", s->method, s->path, s->c->host);
	return dbr_err_set(err, DBR_E_INTERRUPTED, "interrupted while waiting to retry '%s %s' "
			   "(after %u attempt%s): nothing more was sent; run it again when ready",
			   s->method, s->path, s->attempts, plural(s->attempts));
}

/* The wait before the next attempt, in slices like dbr_sleep_ms(); a
 * forward whose requester went away (fw->abandoned) stops there, before and
 * during the wait: its answer would go nowhere. */
static int retry_sleep(const struct attempt_state *s, const struct dbr_forward *fw, long ms,
		       struct dbr_err *err)
{
	long end = dbr_mono_ms() + ms;

	for (;;) {
		long left = end - dbr_mono_ms();

		if (fw && fw->abandoned && fw->abandoned(fw->stream_arg))
			return dbr_err_set(err, DBR_E_INTERRUPTED, "the requester of '%s %s' went "
					   "away while it waited to be retried (after %u attempt%s): "
					   "nothing more was sent", s->method, s->path, s->attempts,
					   plural(s->attempts));
		if (left <= 0)
			return 0;
		if (dbr_sleep_ms(left < RETRY_SLICE_MS ? left : RETRY_SLICE_MS))
			return interrupted_error(s, err);
	}
}

static int build_url(const struct dbr_client *c, const char *path, char **url,
		     struct dbr_err *err)
{
	struct dbr_buf b = DBR_BUF_INIT(URL_MAX);

	if (dbr_buf_addstr(&b, c->host) || dbr_buf_addstr(&b, path) ||
	    !(*url = dbr_buf_detach(&b, NULL))) {
		dbr_buf_release(&b);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	return 0;
}

/* The bearer token for the next attempt (an OAuth access token is minted
 * or refreshed here, with this client's TLS settings). */
static int bearer(const struct dbr_client *c, long timeout_ms, const struct dbr_secret *refused,
		  const struct dbr_secret **out, struct dbr_err *err)
{
	struct dbr_token_fetch how = { c->ca_file, c->allow_insecure_loopback, timeout_ms,
				       c->log, c->deadline_ms };

	return dbr_credential_bearer(c->cred, &how, refused, out, err);
}

/* The request both entry points send: the workspace URL + path, signed
 * with the credential unless DBR_CALL_NO_AUTH. */
static int prepare(struct dbr_client *c, const char *method, const char *path,
		   const char *prefix, const char *body, size_t body_len, unsigned flags,
		   struct dbr_http_request *req, char **url, struct dbr_err *err)
{
	int rc;

	if ((rc = check_method(method, err)) || (rc = check_path(path, prefix, err)))
		return rc;
	if (!body && body_len)
		return dbr_err_set(err, DBR_E_INVAL, "a body length without a body");
	if ((rc = build_url(c, path, url, err)))
		return rc;
	memset(req, 0, sizeof(*req));
	req->struct_size = sizeof(*req);
	req->method = method;
	req->url = *url;
	/* the bearer token itself is taken per attempt (bearer()) */
	if (!(flags & DBR_CALL_NO_AUTH))
		req->auth = DBR_HTTP_AUTH_BEARER;
	req->body = body;
	req->body_len = body ? body_len : 0;
	req->ca_file = c->ca_file;
	req->timeout_ms = c->timeout_ms;
	req->allow_loopback_http = c->allow_insecure_loopback;
	req->trace = dbr_log_enabled(c->log, DBR_LOG_DEBUG) ? c->log : NULL;
	req->secret_response = (flags & DBR_CALL_SECRET_RESPONSE) != 0;
	return 0;
}

/* The attempts of one call, per the retry policy. fw (NULL for a call):
 * the forward, whose error statuses are results: one that is not retried
 * (or when the retry window is used up) is returned (0, resp kept), not
 * an error. */
static int attempts(struct dbr_client *c, const struct dbr_http_request *req,
		    const char *method, const char *path, unsigned flags,
		    const struct dbr_forward *fw, struct dbr_http_response *resp,
		    struct dbr_api_error *api_err, struct dbr_err *err)
{
	int keep = fw != NULL;
	struct attempt_state s = { c, method, path, 0, 0 };
	const struct dbr_secret *refused = NULL; /* the access token a 401 met */
	int refreshed = 0;
	struct dbr_api_error e;
	struct dbr_err last = DBR_ERR_INIT;
	struct dbr_http_request r = *req; /* its timeout is cut per attempt */
	int rc, maybe_applied = 0;

	c->outcome_unknown = 0;
	memset(&e, 0, sizeof(e));
	s.start_ms = dbr_mono_ms();
	for (;;) {
		enum dbr_retry_class cls;
		enum limit lim;
		long t0, remaining, wait, window, retry_after = -1;
		int asked = 0, sent = 0;

		if (dbr_interrupted()) {
			rc = interrupted_error(&s, err);
			break;
		}
		t0 = dbr_mono_ms();
		if (c->deadline_ms && c->deadline_ms - t0 < DBR_RETRY_MIN_WAIT_MS) {
			rc = dbr_err_set(err, DBR_E_TIMEOUT, "the command's timeout ran out before "
					 "'%s %s' could be sent: raise --timeout", method, path);
			break;
		}
		/* no attempt runs past the command's deadline */
		r.timeout_ms = c->timeout_ms;
		if (c->deadline_ms && c->deadline_ms - t0 < r.timeout_ms)
			r.timeout_ms = c->deadline_ms - t0;
		if (r.auth == DBR_HTTP_AUTH_BEARER &&
		    (rc = bearer(c, r.timeout_ms, refused, &r.auth_secret, err)))
			break;
		refused = NULL;
		s.attempts++;
		dbr_err_clear(&last);
		rc = dbr_http_perform_sent(&r, resp, &sent, &last);
		log_attempt(&s, rc, resp, dbr_mono_ms() - t0);
		/* an access token refused: mint a new one once, send once more */
		if (rc == 0 && resp->status == 401 && !refreshed &&
		    dbr_credential_refreshable(c->cred)) {
			refused = r.auth_secret;
			refreshed = 1;
			dbr_log_debug(c->log, "request: %s %s: 401, minting a new access token "
				      "(unless another request did since)", method, path);
			dbr_http_response_release(resp);
			continue;
		}
		if (rc == 0 && resp->status >= 200 && resp->status <= 299) {
			maybe_applied = 0;
			break;
		}
		if (rc ? sent : answer_maybe_applied(resp->status))
			maybe_applied = 1;
		if (rc == 0) {
			dbr_api_error_parse(resp->status, resp->content_type, resp->body,
					    resp->body_len, resp->request_id, &e);
			if (api_err)
				*api_err = e;
			retry_after = resp->retry_after_s;
			asked = retry_after >= 0;
			if (retry_after < 0 && (e.status == 429 || e.status == 503))
				retry_after = DBR_RETRY_DEFAULT_AFTER_S;
		}
		cls = dbr_retry_classify(rc, rc ? 0 : resp->status, rc ? NULL : &e, method,
					 (flags & DBR_CALL_IDEMPOTENT) != 0);
		if (cls != DBR_RETRY_YES || c->retry_window_ms < 0) {
			if (!(keep && rc == 0))
				rc = request_final_error(c, rc, &e, &last, cls, method, path, err);
			break;
		}
		remaining = remaining_of(&s, rc, &lim, &window);
		wait = dbr_retry_delay_ms(s.attempts, rc ? 0 : e.status, retry_after,
					  dbr_rng_next(&c->rng), remaining);
		if (wait < 0) {
			if (!(keep && rc == 0))
				rc = gave_up(&s, rc, &e, &last, retry_after, asked, remaining, lim,
					     window, err);
			break;
		}
		log_retry(&s, rc, &e, &last, wait, remaining);
		dbr_http_response_release(resp);
		if ((rc = retry_sleep(&s, fw, wait, err)))
			break;
	}
	if (rc)
		dbr_http_response_release(resp);
	/* a GET changes nothing: its outcome is never in doubt */
	c->outcome_unknown = rc && maybe_applied && !dbr_retry_method_safe(method);
	return rc;
}

int dbr_client_call(struct dbr_client *c, const char *method, const char *path,
		    const char *body, size_t body_len, unsigned flags,
		    struct dbr_http_response *resp, struct dbr_api_error *api_err,
		    struct dbr_err *err)
{
	struct dbr_http_request req;
	char *url = NULL;
	int rc;

	dbr_err_clear(err);
	if (api_err)
		memset(api_err, 0, sizeof(*api_err));
	if (!resp)
		return dbr_err_set(err, DBR_E_INVAL, "no response to fill in");
	dbr_http_response_release(resp);
	if (!c)
		return dbr_err_set(err, DBR_E_INVAL, "no client");
	if (c->via_agent)
		return dbr_agent_client_call(c, method, path, body, body_len, flags, NULL, resp,
					     api_err, err);
	rc = prepare(c, method, path, API_PREFIX, body, body_len, flags, &req, &url, err);
	if (rc == 0)
		rc = attempts(c, &req, method, path, flags, NULL, resp, api_err, err);
	free(url);
	return rc;
}

int dbr_client_forward(struct dbr_client *c, const struct dbr_forward *f,
		       struct dbr_http_response *resp, struct dbr_err *err)
{
	struct dbr_forward fw;
	struct dbr_http_request req;
	char *url = NULL;
	int rc;

	dbr_err_clear(err);
	if (!resp)
		return dbr_err_set(err, DBR_E_INVAL, "no response to fill in");
	dbr_http_response_release(resp);
	if (!c || !f || f->struct_size < sizeof(f->struct_size))
		return dbr_err_set(err, DBR_E_INVAL, "no client or no request to forward");
	memset(&fw, 0, sizeof(fw));
	memcpy(&fw, f, f->struct_size < sizeof(fw) ? f->struct_size : sizeof(fw));
	if (c->via_agent)
		return dbr_agent_client_call(c, fw.method, fw.path, fw.body, fw.body_len, fw.flags,
					     &fw, resp, NULL, err);
	rc = prepare(c, fw.method, fw.path, "/", fw.body, fw.body_len, fw.flags, &req, &url, err);
	if (rc == 0) {
		req.headers = fw.headers;
		req.n_headers = fw.n_headers;
		req.on_headers = fw.on_headers;
		req.on_data = fw.on_data;
		req.stream_arg = fw.stream_arg;
		/* request after request on one thread: the proxy, the agent */
		req.keep_connection = 1;
		rc = attempts(c, &req, fw.method, fw.path, fw.flags, &fw, resp, NULL, err);
	}
	free(url);
	return rc;
}

void dbr_client_set_deadline(struct dbr_client *c, long deadline_ms)
{
	if (!c)
		return;
	c->deadline_ms = deadline_ms > 0 ? deadline_ms : 0;
	/* the command's --timeout, for messages given long after it was set */
	c->deadline_len_ms = c->deadline_ms ? c->deadline_ms - dbr_mono_ms() : 0;
}

int dbr_client_outcome_unknown(const struct dbr_client *c)
{
	return c ? c->outcome_unknown : 0;
}
