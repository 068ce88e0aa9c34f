/* dbroker-layer: net */
/* The request module: signed calls to a Databricks workspace.
 *
 * A struct dbr_client binds a resolved credential (host + token) to the
 * hardened HTTP client: TLS always verified, the token sent only as
 * "Authorization: Bearer" (CURLAUTH_BEARER), never in a URL, never forwarded
 * to another host. It adds Databricks' retry policy and error parsing.
 *
 * Retries: 429 and 503 (honouring Retry-After; 1 s when it is missing),
 * connection errors, timeouts and Databricks' transient messages ("worker
 * environment" not ready, ClusterNotReadyException, REQUEST_LIMIT_EXCEEDED,
 * ...), with min(attempt, 10) s backoff plus up to 25% jitter, inside a total
 * retry window; GET/HEAD also on 500, 502 and 504 (a gateway's HTML page
 * included). An unreachable host (refused, no route, DNS lookup failed) is
 * retried for DBR_CLIENT_UNREACHABLE_WINDOW_MS at most; a host name that
 * does not exist, never. Never: 401/403, other statuses without a transient
 * message, TLS failures, oversized answers, invalid requests. GET/HEAD are
 * always retried; POST/PUT/PATCH/DELETE only when the caller marks the call
 * idempotent (e.g. clusters/create with an idempotency token), except when
 * nothing was sent (an unreachable host). A wait that would end past the
 * window (or the deadline) is not started: the call gives up at once.
 *
 * Logging (opt->log, may be NULL): each retry at WARN ("the workspace
 * answered 429 REQUEST_LIMIT_EXCEEDED; retrying in 1 s (attempt 2, 299 s of
 * the retry window left)"); each attempt's method, path and status at DEBUG,
 * where the HTTP client's masked --debug trace is on too.
 */
#ifndef DBROKER_REQUEST_H
#define DBROKER_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/api_error.h"
#include "dbroker/errors.h"
#include "dbroker/export.h"
#include "dbroker/http.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_client;
struct dbr_credential;
struct dbr_log;

#define DBR_CLIENT_DEFAULT_TIMEOUT_MS 60000L
#define DBR_CLIENT_DEFAULT_RETRY_WINDOW_MS 300000L
/* Connection refused, no route, a failed DNS lookup: retried this long at
 * most (within the retry window); a host name that does not exist is not
 * retried at all. */
#define DBR_CLIENT_UNREACHABLE_WINDOW_MS 10000L
/* The longest timeout, retry window or unreachable window a client takes
 * (dbr_client_new() refuses more with DBR_E_INVAL; so does the agent). */
#define DBR_CLIENT_MAX_WINDOW_MS (24L * 3600 * 1000)

/* Append-only: new fields go at the end; struct_size tells which exist
 * (fields an older caller lacks count as zero). NULL options: all defaults. */
struct dbr_client_options {
	uint32_t struct_size;         /* sizeof(struct dbr_client_options) */
	const char *ca_file;          /* PEM bundle (profile ca_cert, --ca-cert);
					 NULL: system store (SSL_CERT_FILE and
					 CURL_CA_BUNDLE honoured); copied */
	int allow_insecure_loopback;  /* permit http:// to a loopback host only
					 (local test servers) */
	long timeout_ms;              /* per request (each attempt); 0 = default,
					 < 0 or > DBR_CLIENT_MAX_WINDOW_MS is
					 refused */
	long retry_window_ms;         /* all attempts of one call; 0 = default,
					 < 0 = no retries, >
					 DBR_CLIENT_MAX_WINDOW_MS is refused */
	const char *profile;          /* profile name, for messages (may be
					 NULL); copied */
	struct dbr_log *log;          /* retries, attempts, --debug trace; may be
					 NULL; borrowed: must outlive the client */
	long unreachable_window_ms;   /* how long an unreachable host is retried
					 (within the retry window); 0 = default
					 DBR_CLIENT_UNREACHABLE_WINDOW_MS; >
					 DBR_CLIENT_MAX_WINDOW_MS is refused */
};

/* Flags for dbr_client_call(). */
#define DBR_CALL_IDEMPOTENT 0x1u  /* safe to retry even if not a GET */
#define DBR_CALL_SECRET_RESPONSE 0x2u /* the answer holds a secret (a new
					 token): the --debug trace shows its
					 size only */
#define DBR_CALL_NO_AUTH 0x4u     /* send no credential (an unauthenticated
				     endpoint such as
				     /.well-known/databricks-config) */

/* New client for cred (borrowed: must outlive the client). For an
 * "oauth-m2m" credential, each attempt asks the credential for its current
 * access token (minted at the first call, renewed before it expires, with
 * this client's TLS settings; see credential.h). The host must be
 * https://, or http:// to loopback with allow_insecure_loopback: anything
 * else is refused here, before any connection, with a message saying why.
 * *out is cleared on entry, set on success and owned by the caller
 * (dbr_client_free). A client is for one thread at a time.
 * Returns 0, DBR_E_INVAL (insecure or bad host, no credential, bad options),
 * DBR_E_NOMEM. */
DBR_API int dbr_client_new(const struct dbr_credential *cred,
			   const struct dbr_client_options *opt,
			   struct dbr_client **out, struct dbr_err *err);

/* New client whose calls go through the agent listening on socket_path
 * (agent.h): the agent resolves opt->profile's credential ("DEFAULT" when
 * NULL) through its own chain and configuration, then signs and sends every
 * call; this process never sees token bytes. The timeout, retry window and
 * deadline are this client's, applied by the agent. opt->ca_file and
 * allow_insecure_loopback are not sent: TLS is the agent's (a caller with
 * its own TLS settings resolves itself). Everything else behaves as for
 * dbr_client_new(), plus DBR_E_AGENT when the agent goes away mid-call
 * (a write's outcome is then unknown). *out is cleared on entry and owned
 * by the caller (dbr_client_free). Returns 0, dbr_agent_connect()'s codes
 * (DBR_E_UNREACHABLE: no agent there, so resolve in-process), the agent's
 * own error for the profile (e.g. DBR_E_NO_CREDENTIAL, DBR_E_NO_PROFILE,
 * DBR_E_PROVIDER, with its message), DBR_E_AGENT, DBR_E_NOMEM. */
DBR_API int dbr_client_new_agent(const char *socket_path,
				 const struct dbr_client_options *opt,
				 struct dbr_client **out, struct dbr_err *err);

/* The provider the agent resolved the client's credential from ("vault",
 * "keyring", ...), or NULL when the client does not go through an agent. */
DBR_API const char *dbr_client_agent_source(const struct dbr_client *c);

/* 1 when the client goes through an agent and its connection to the agent
 * was lost (a call's answer did not come back whole): every further call
 * fails, so make a new client. 0 otherwise. */
DBR_API int dbr_client_agent_lost(const struct dbr_client *c);

/* NULL is a no-op. */
DBR_API void dbr_client_free(struct dbr_client *c);

/* The workspace URL the client talks to ("https://host[:port]"), owned by
 * the client; NULL for NULL. */
DBR_API const char *dbr_client_host(const struct dbr_client *c);

/* In a DBR_E_AUTH message, what comes after this is advice about the
 * credential, which a caller that knows better may replace. */
#define DBR_ADVICE_SEP " \u2014 "

/* One call, retried per the policy above. method is upper case ("GET",
 * "POST", ...). path starts with "/api/", may carry a query string, and has
 * no spaces, control or non-ASCII bytes, '#' or "."/".." segments before
 * the query (refused with DBR_E_INVAL before anything is sent; a query's
 * values may hold them). body (JSON, may be NULL) is
 * sent with Content-Type: application/json. flags: DBR_CALL_*.
 * On success (2xx) returns 0 with the response in resp (release with
 * dbr_http_response_release). resp must be initialised
 * (DBR_HTTP_RESPONSE_INIT); it is released first, and stays released on
 * failure. Otherwise: DBR_E_AUTH (401/403, never retried: err says which
 * profile and provider supplied the token, then DBR_ADVICE_SEP and what to
 * do about the credential; an "oauth-m2m"
 * credential first answers a 401 with one new access token and one more
 * attempt; minting one can fail with the OAuth module's codes, e.g.
 * DBR_E_AUTH for a refused client secret, DBR_E_API for a broken answer),
 * DBR_E_API (other error status: "the workspace 'H' answered 400 CODE:
 * message (request id R)"), DBR_E_TIMEOUT (a request timed out, or the call gave up: "gave up
 * after N attempts in S s: <last error>; ..."), DBR_E_NETWORK, DBR_E_TLS,
 * DBR_E_TOO_LARGE, DBR_E_INTERRUPTED (dbr_client_interrupt() was called),
 * DBR_E_INVAL, DBR_E_NOMEM. api_err (may be NULL) is cleared on entry and
 * holds the last error answer whenever the server answered with an error
 * status (so also with DBR_E_TIMEOUT after retries). */
DBR_API int dbr_client_call(struct dbr_client *c, const char *method,
			    const char *path, const char *body, size_t body_len,
			    unsigned flags, struct dbr_http_response *resp,
			    struct dbr_api_error *api_err, struct dbr_err *err);

/* Bound every later call of c by deadline_ms (on the dbr_mono_ms() clock):
 * each attempt's timeout is cut to what is left, no retry starts past it,
 * and a call that cannot start before it fails with DBR_E_TIMEOUT. 0 (or
 * less) removes the bound. For a command-wide --timeout. */
DBR_API void dbr_client_set_deadline(struct dbr_client *c, long deadline_ms);

/* 1 when the last dbr_client_call() of c failed after its request may have
 * reached the workspace and been acted on: an attempt was sent and then
 * the connection dropped, timed out or was interrupted, or the answer was
 * 500, 502 or 504. Never for GET/HEAD. The caller cannot tell whether the
 * call took effect (for a create: whether the object exists). */
DBR_API int dbr_client_outcome_unknown(const struct dbr_client *c);

/* A request forwarded as is (the exec proxy). Append-only like the
 * options; fields a shorter struct lacks count as zero. */
struct dbr_forward {
	uint32_t struct_size;        /* sizeof(struct dbr_forward) */
	const char *method;          /* upper-case token ("GET", "MKCOL", ...) */
	const char *path;            /* starts with "/", may carry a query; the
					checks of dbr_client_call() apply */
	const struct dbr_http_header *headers; /* sent as given; none may carry a
						  credential (Authorization is
						  refused) */
	size_t n_headers;
	const char *body;            /* may be NULL */
	size_t body_len;
	unsigned flags;              /* DBR_CALL_* */
	/* streaming hooks, as in struct dbr_http_request (http.h) */
	int (*on_headers)(void *stream_arg, long status,
			  const struct dbr_http_header *headers, size_t n_headers);
	int (*on_data)(void *stream_arg, const char *data, size_t len);
	void *stream_arg;
	/* asked while a retry is waited for: nonzero when the answer is no
	 * longer wanted (whoever asked went away); the call then stops at
	 * once with DBR_E_INTERRUPTED. May be NULL. Not asked through an
	 * agent (it waits on its side). */
	int (*abandoned)(void *stream_arg);
};

/* Forward one request to the client's workspace, signed like
 * dbr_client_call() (unless DBR_CALL_NO_AUTH) and retried by the same
 * policy, but every HTTP answer is a result: returns 0 with the status in
 * resp whatever it is (after retries, the last answer), the body in resp
 * unless on_headers chose to stream it (then retries stop: an answer is
 * streamed once). on_headers may be called once per attempt. Errors (no
 * answer at all): DBR_E_NETWORK, DBR_E_TLS, DBR_E_TIMEOUT, DBR_E_TOO_LARGE
 * (a collected body over the cap), DBR_E_INTERRUPTED (a hook stopped the
 * transfer, abandoned() said so, or dbr_client_interrupt()), DBR_E_INVAL (bad method, path or
 * header: nothing sent), DBR_E_NOMEM; resp is then released. */
DBR_API int dbr_client_forward(struct dbr_client *c, const struct dbr_forward *f,
			       struct dbr_http_response *resp, struct dbr_err *err);

/* Async-signal-safe: make waits and retries in progress (in every client)
 * stop as soon as possible with DBR_E_INTERRUPTED. For SIGINT handlers.
 * A wait notices within 100 ms; a request already on the wire finishes (or
 * times out) first. The flag stays set: later calls fail at once. */
DBR_API void dbr_client_interrupt(void);

/* 1 once dbr_client_interrupt() has been called. */
DBR_API int dbr_client_interrupted(void);

/* Clear the flag dbr_client_interrupt() set, for a caller that has stopped
 * what was interrupted and must make one more call (cancel the job run it
 * was waiting for). Not async-signal-safe: call it from the main flow. */
DBR_API void dbr_client_interrupt_clear(void);

/* Sleep ms milliseconds (monotonic clock) in slices of at most 100 ms,
 * returning early with DBR_E_INTERRUPTED when interrupted (also when the
 * flag was already set); else 0 (at once for ms <= 0). */
DBR_API int dbr_client_sleep(long ms);

#ifdef __cplusplus
}
#endif
#endif
