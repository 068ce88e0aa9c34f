/* dbroker-layer: net */
/* The hardened HTTP client shared by the request module and plugins.
 *
 * One TLS policy for all of dbroker: peer and host verification always on,
 * TLS >= 1.2, HTTP/1.1, https:// only (plain http:// only to a loopback
 * address and only when the request opts in; loopback requests never go
 * through a proxy), every response body capped. Secret values (a bearer
 * token, an X-Vault-Token, a login body) are passed as secret handles and only
 * read for the duration of the call; they never go in a URL.
 *
 * Redirects: libcurl follows none. A 301/302/303/307/308 whose Location has
 * the same scheme, host and port is followed once by dbroker with the same
 * method, body and credential; a redirect to another origin (another host or
 * port, or to http://) fails with DBR_E_REDIRECT before anything is sent there,
 * and so does a second redirect; callers never retry it (the server would
 * answer the same).
 *
 * Trace: with req->trace at DBR_LOG_DEBUG, header lines ("> " sent, "< "
 * received, "* " libcurl's notes) are logged whole, with the values of
 * Authorization, the auth_header, Cookie and Set-Cookie replaced by "***" and
 * any copy of the credential scrubbed, before the log's masker sees them.
 * Bodies are logged in one piece after the transfer, at most 64 KiB each (cut
 * at a non-token character, with a note after the text); a secret_body is
 * never logged. TLS records are never logged.
 */
#ifndef DBROKER_HTTP_H
#define DBROKER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_secret;
struct dbr_log;

#define DBR_HTTP_DEFAULT_MAX_RESPONSE (16u * 1024 * 1024)
#define DBR_HTTP_DEFAULT_TIMEOUT_MS 60000L
#define DBR_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L

struct dbr_http_header {
	const char *name;   /* e.g. "X-Vault-Request" */
	const char *value;  /* must not contain CR, LF */
};

enum dbr_http_auth {
	DBR_HTTP_AUTH_NONE = 0,
	DBR_HTTP_AUTH_BEARER = 1, /* Authorization: Bearer <secret> (CURLAUTH_BEARER) */
	DBR_HTTP_AUTH_HEADER = 2, /* <auth_header>: <secret> */
	DBR_HTTP_AUTH_BASIC = 3,  /* Authorization: Basic base64(auth_user:<secret>)
				     (CURLAUTH_BASIC; an OAuth client's id and
				     secret at a token endpoint) */
};

/* Append-only: new fields go at the end; struct_size tells which exist. */
struct dbr_http_request {
	uint32_t struct_size;          /* sizeof(struct dbr_http_request) */
	const char *method;            /* "GET", "POST", ...; NULL = GET */
	const char *url;               /* absolute https:// URL */
	const struct dbr_http_header *headers; /* non-secret headers */
	size_t n_headers;
	enum dbr_http_auth auth;
	const char *auth_header;       /* header name for DBR_HTTP_AUTH_HEADER */
	const struct dbr_secret *auth_secret; /* the credential, never copied to
						 the normal heap by dbroker; one
						 word (dbr_secret_is_one_word) */
	const char *body;              /* request body (not secret), or NULL */
	size_t body_len;
	const struct dbr_secret *secret_body; /* a body holding a secret;
						 exclusive with body */
	const char *content_type;      /* default application/json with a body */
	const char *ca_file;           /* PEM bundle; with ca_path NULL too, the
					  system store (or $SSL_CERT_FILE, else
					  $CURL_CA_BUNDLE); an explicit ca_file or
					  ca_path replaces the system store */
	const char *ca_path;           /* hashed directory of CAs (c_rehash) */
	const char *client_cert;       /* PEM client certificate, with client_key
					  (both or neither, else DBR_E_INVAL) */
	const char *client_key;        /* PEM, unencrypted */
	const char *tls_server_name;   /* SNI and certificate-check name instead
					  of the URL's host (a DNS name); the
					  connection still goes to the URL's
					  host and Host: names it (done with
					  CURLOPT_CONNECT_TO: libcurl has no
					  SNI option) */
	long timeout_ms;               /* 0 = DBR_HTTP_DEFAULT_TIMEOUT_MS */
	long connect_timeout_ms;       /* 0 = DBR_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
	size_t max_response;           /* 0 = DBR_HTTP_DEFAULT_MAX_RESPONSE */
	int allow_loopback_http;       /* permit http:// to 127.0.0.0/8 or ::1 */
	struct dbr_log *trace;         /* --debug trace through the masker, or NULL */
	int secret_response;           /* the response body holds a secret (a
					  Vault read, a login): the trace shows
					  its size only, since the caller has not
					  registered that secret yet */
	/* Streaming (the exec proxy). With on_headers set, it is called once
	 * per response (also for a redirect that is followed) as soon as the
	 * headers are in: before the first body byte, or after the transfer
	 * when there is no body. headers are the response's header lines
	 * (valid during the call only; hop-by-hop ones included). It returns
	 * 1 to have the body handed to on_data as it arrives (no size cap; resp
	 * gets the status and an empty body), 0 to collect it in resp as usual,
	 * or < 0 to abort the transfer (DBR_E_INTERRUPTED). It may return
	 * DBR_HTTP_STREAM_PAUSE instead of 1: on the kept connection
	 * (keep_connection), when the body has not all arrived yet, the call
	 * then returns at once with the status (resp's body empty) and the
	 * body is read later with dbr_http_pause_take(); anywhere else it
	 * means 1. on_data returns 0,
	 * or non-zero to abort the transfer (DBR_E_INTERRUPTED). Both run on
	 * the calling thread; stream_arg is passed to both. */
	int (*on_headers)(void *stream_arg, long status,
			  const struct dbr_http_header *headers, size_t n_headers);
	int (*on_data)(void *stream_arg, const char *data, size_t len);
	void *stream_arg;
	const char *auth_user;         /* user name for DBR_HTTP_AUTH_BASIC:
					  printable, no ':' */
	int keep_connection;           /* a GET or HEAD may ride the calling
					  thread's kept connection to the same
					  origin: libcurl opens and verifies it,
					  dbroker writes the request and reads
					  the answer itself (about a third of
					  the CPU per request). For callers that
					  make request after request on one
					  thread (the exec proxy, the agent).
					  Redirects and answers it cannot parse
					  still go through libcurl. */
};

struct dbr_http_response {
	long status;          /* HTTP status, 0 when no response */
	char *body;           /* NUL-terminated ("" when empty), owned, wiped
				 on release */
	size_t body_len;
	char *content_type;   /* owned (free()), or NULL */
	long retry_after_s;   /* Retry-After in seconds, -1 when absent */
	char *request_id;     /* X-Request-Id, X-Databricks-Request-Id or
				 X-Vault-Request-Id (printable, <= 128
				 chars), or NULL */
};

#define DBR_HTTP_RESPONSE_INIT { 0, NULL, 0, NULL, -1, NULL }

/* on_headers: hand the body over later (dbr_http_pause_take). */
#define DBR_HTTP_STREAM_PAUSE 2

/* The body of an answer whose transfer paused after its head (the exec
 * proxy sends that head to its client while the body is on its way). */
struct dbr_http_paused;

/* The body the calling thread's last request left paused, now the
 * caller's (release with dbr_http_paused_free), or NULL when it did not
 * pause (its body went to on_data). */
DBR_API struct dbr_http_paused *dbr_http_pause_take(void);

/* Read up to max bytes of the paused body into buf, waiting for them (the
 * request's timeout still runs; dbr_client_interrupt() stops the wait).
 * Returns the number of bytes (> 0), 0 at the body's end, or an error
 * code (< 0: DBR_E_NETWORK, DBR_E_TIMEOUT, DBR_E_INTERRUPTED) with a
 * message in err. Call it on the thread that made the request: once the
 * body is read, that thread keeps the connection for its next request. */
DBR_API long dbr_http_paused_read(struct dbr_http_paused *b, char *buf, size_t max,
				  struct dbr_err *err);

/* Release b; a body not read to its end closes its connection. Any
 * thread; NULL is a no-op. */
DBR_API void dbr_http_paused_free(struct dbr_http_paused *b);

/* Perform one request (no retries: callers own their retry policy).
 * On transport failure returns DBR_E_TLS, DBR_E_NETWORK, DBR_E_REDIRECT (a
 * redirect refused), DBR_E_TIMEOUT, DBR_E_TOO_LARGE (body over the cap), DBR_E_INVAL
 * (bad URL, scheme, header, or a CR/LF in a header or credential; nothing is
 * sent), DBR_E_NOMEM with a message in err; an HTTP error status is NOT a
 * failure here (returns 0, resp->status says it). resp must be initialised
 * (DBR_HTTP_RESPONSE_INIT) and is released first; on failure it stays
 * released. Requests with a smaller struct_size (older callers) are accepted;
 * the fields they lack count as zero. */
DBR_API int dbr_http_perform(const struct dbr_http_request *req,
			     struct dbr_http_response *resp,
			     struct dbr_err *err);

/* Wipe and free the response's buffers and reset it. */
DBR_API void dbr_http_response_release(struct dbr_http_response *resp);

/* 1 if the URL parses and its host is a loopback address (127.0.0.0/8,
 * ::1, ::ffff:127.0.0.0/104, localhost), else 0. */
DBR_API int dbr_http_url_is_loopback(const char *url);

#ifdef __cplusplus
}
#endif
#endif
