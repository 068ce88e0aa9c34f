/* Internals of the hardened HTTP client (http.c), shared by its parts:
 * http_url.c (where a credential may go), http_check.c (request validation),
 * http_trace.c (the masked --debug trace), http_error.c (what a failure
 * means) and http_share.c (the process's connection cache). Internal to libdbroker; the
 * request module may use the URL helpers. */
#ifndef DBROKER_HTTP_INTERNAL_H
#define DBROKER_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "dbroker/http.h"

/* ---- URLs (http_url.c) ---- */

/* The parts of an absolute URL that decide where a credential goes. All
 * strings come from libcurl (curl_free()); release with dbr_http_url_release. */
struct dbr_http_url {
	CURLU *u;
	char *scheme; /* lowercase, as libcurl normalises it */
	char *host;   /* IPv6 literals keep their brackets */
	char *port;   /* explicit, or the scheme's default */
};

/* Parse with libcurl's URL parser (never by hand). Refuses spaces, control
 * characters, URLs over 8 KiB, relative URLs and any user name or password.
 * Returns 0, DBR_E_NOMEM, DBR_E_IO (libcurl cannot be loaded) or DBR_E_INVAL
 * (message in err, may be NULL; a URL that may carry user info is not
 * echoed). p is cleared on failure. */
int dbr_http_url_parse(const char *url, struct dbr_http_url *p, struct dbr_err *err);
void dbr_http_url_release(struct dbr_http_url *p);

/* 1 for "localhost", 127.0.0.0/8, [::1] and [::ffff:127.x.y.z] as libcurl
 * spells hosts (IPv6 in brackets). */
int dbr_http_host_is_loopback(const char *host);

/* 1 if a and b are absolute URLs with the same scheme, host (compared
 * case-insensitively) and port (the scheme's default filled in), else 0
 * (also when either does not parse). A credential may follow a request only
 * to the same origin. */
int dbr_http_same_origin(const char *a, const char *b);

/* ---- request checks (http_check.c) ---- */

/* Everything about a request that can be refused before any connection:
 * method, header names and values (no CR/LF), credential headers passed in
 * the clear, auth fields, a credential with control characters, body
 * fields, client cert without key, tls_server_name, timeouts. Returns 0 or
 * DBR_E_INVAL with a message. */
int dbr_http_check_request(const struct dbr_http_request *r, struct dbr_err *err);

/* The CA the request would trust (ca_file, ca_path and its files, else
 * $SSL_CERT_FILE, else $CURL_CA_BUNDLE; the system store is root's) may be
 * changed by no one but root and the user: the safe-path rules, links
 * followed. Returns 0, DBR_E_UNSAFE_PERM or DBR_E_CONFIG (cannot be
 * examined), with the path and the fix in err. http.c asks before each
 * new connection, the only time libcurl reads the CA. */
int dbr_http_check_trust(const struct dbr_http_request *r, struct dbr_err *err);

/* https://, or http:// to a loopback host when the request opts in.
 * Returns 0 or DBR_E_INVAL with a message. */
int dbr_http_check_scheme(const struct dbr_http_request *r, const struct dbr_http_url *p,
			  struct dbr_err *err);

/* 1 if a header called name carries the request's credential
 * (Authorization, Proxy-Authorization, the auth_header). */
int dbr_http_is_credential_header(const struct dbr_http_request *r, const char *name);

/* ---- the process's connection cache (http_share.c) ---- */

/* The share every request joins (connections, TLS sessions, DNS), created
 * on first use and released by dbr_runtime_cleanup(); NULL when libcurl
 * cannot provide one (requests then open their own connections). Thread
 * safe. */
CURLSH *dbr_http_share(void);

/* An easy handle for one request: the one this thread kept from its last
 * request, reset to libcurl's defaults, else a new one (NULL when out of
 * memory). */
CURL *dbr_http_handle_take(void);

/* Done with h: keep it for this thread's next request (keep != 0), or
 * clean it up. The caller has cleared every credential option first. */
void dbr_http_handle_give(CURL *h, int keep);

/* ---- credential bytes (http.c, the signer) ---- */

/* Replace every copy of the request's credential in b with "***" (the log's
 * masker does this too; the signer knows the bytes, so it does not rely on
 * it). If that fails, b is emptied: nothing is logged rather than the secret. */
void dbr_http_scrub_credential(struct dbr_buf *b, const struct dbr_http_request *r);

struct dbr_http_call;

/* How a connection for r to p is made, on handle h, for both of dbroker's
 * ways of sending (http.c's transfers, http_kept.c's kept connections):
 * the TLS policy and r's CA, the CA checked (dbr_http_check_trust) before
 * the socket is made (SOCK_CLOEXEC; a refusal is kept in c's trust_rc),
 * HTTP/1.1, p's scheme only, no proxy for a loopback host, the connect
 * timeout, libcurl's message in c's errbuf. c must outlive the transfer
 * (or the options be cleared). */
CURLcode dbr_http_set_connection(CURL *h, const struct dbr_http_request *r,
				 struct dbr_http_call *c, const struct dbr_http_url *p);

/* 1 if the caller's headers of r include one called name (any case). */
int dbr_http_has_header(const struct dbr_http_request *r, const char *name);

/* 1 for a status dbroker may follow as a redirect (301, 302, 303, 307, 308). */
int dbr_http_is_redirect(long status);

/* Decide about a redirect from url (as the caller gave it) or effective (as
 * libcurl fetched it, with tls_server_name as host) to loc. Same origin:
 * *next is url with loc's path and query (so a tls_server_name rewrite
 * survives; malloc'ed, the caller frees it) and 0. Another origin:
 * DBR_E_REDIRECT, with the reason. DBR_E_NOMEM. (http_url.c) */
int dbr_http_redirect_target(const struct dbr_http_url *user, const char *url,
			     const char *effective, const char *loc, char **next,
			     struct dbr_err *err);

/* Append the request's credential header line ("Authorization: Bearer
 * ...\r\n") to b, which must wipe. Nothing for DBR_HTTP_AUTH_NONE; 0,
 * DBR_E_INVAL (another kind of credential) or DBR_E_NOMEM. */
int dbr_http_add_credential(struct dbr_buf *b, const struct dbr_http_request *r);

/* Fill resp's content_type, retry_after_s and request_id from the answer's
 * headers, looked up by name with get (NULL when absent). */
void dbr_http_response_meta(struct dbr_http_response *resp,
			    const char *(*get)(void *arg, const char *name), void *arg);

/* ---- the thread's kept connection (http_kept.c) ---- */

/* What dbr_http_kept_perform() returns when the request is better left to
 * libcurl's HTTP layer (a redirect, an answer it does not parse, a new
 * connection it could not make): nothing was handed to the caller's
 * hooks, resp is empty, and a GET or HEAD may be sent again. */
#define DBR_HTTP_KEPT_FALLBACK 1

/* 1 if r may ride the kept connection: r->keep_connection, GET or HEAD
 * without a body, no credential but a bearer token, no client
 * certificate, server name, secret answer or trace. */
int dbr_http_kept_eligible(const struct dbr_http_request *r);

/* Send r (to p, its parsed URL, scheme checked) on the calling thread's
 * kept connection, opened (and the CA checked) when there is none for this
 * origin and TLS settings, and read the answer into resp (or through r's
 * hooks). Returns 0, DBR_HTTP_KEPT_FALLBACK, or an error as
 * dbr_http_perform() does; *sent as dbr_http_perform_sent(). */
int dbr_http_kept_perform(const struct dbr_http_request *r, const struct dbr_http_url *p,
			  struct dbr_http_response *resp, int *sent, struct dbr_err *err);

/* ---- streaming (http_stream.c): req->on_headers and on_data ---- */

/* State of one transfer's streaming; inert when req->on_headers is NULL. */
struct dbr_http_stream {
	const struct dbr_http_request *req;
	CURL *h;                /* set by the caller once it has the handle */
	struct dbr_buf headers; /* the current response's header lines */
	int announced;          /* on_headers was called for this response */
	int streaming;          /* its body goes to on_data */
};

void dbr_http_stream_init(struct dbr_http_stream *s, const struct dbr_http_request *r);
void dbr_http_stream_release(struct dbr_http_stream *s);

/* CURLOPT_HEADERFUNCTION; the header data pointer is the stream. */
size_t dbr_http_stream_header_cb(char *p, size_t size, size_t nmemb, void *arg);

/* From the write callback: announces the response first if need be.
 * Returns 1 (the bytes went to on_data), 0 (collect them as usual) or -1
 * (stop the transfer). */
int dbr_http_stream_write(struct dbr_http_stream *s, const char *p, size_t n);

/* After a transfer without body bytes: announce it. 0, or -1 when
 * on_headers asked to stop. */
int dbr_http_stream_finish(struct dbr_http_stream *s);

/* ---- trace (http_trace.c) ---- */

#define DBR_HTTP_TRACE_LINE_MAX (16u * 1024)
#define DBR_HTTP_TRACE_BODY_MAX (64u * 1024)

enum { DBR_TRACE_TEXT, DBR_TRACE_HDR_IN, DBR_TRACE_HDR_OUT, DBR_TRACE_NLINE };
enum { DBR_TRACE_BODY_IN, DBR_TRACE_BODY_OUT, DBR_TRACE_NBODY };

/* Trace state of one transfer. All buffers wipe: they may hold a secret
 * until it has been masked. */
struct dbr_http_trace {
	const struct dbr_http_request *req;
	struct dbr_log *log;                      /* NULL: not tracing */
	struct dbr_buf line[DBR_TRACE_NLINE];     /* partial lines per direction */
	int skip[DBR_TRACE_NLINE];                /* dropping an over-long line */
	struct dbr_buf body[DBR_TRACE_NBODY];     /* first TRACE_BODY_MAX bytes */
	size_t body_total[DBR_TRACE_NBODY];
};

/* Set up for r; t->log is r->trace only when it logs at DBR_LOG_DEBUG. */
void dbr_http_trace_init(struct dbr_http_trace *t, const struct dbr_http_request *r);

/* CURLOPT_DEBUGFUNCTION; the debug data pointer is the struct dbr_http_trace. */
int dbr_http_trace_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg);

/* After a transfer: log partial lines and the captured bodies. */
void dbr_http_trace_finish(struct dbr_http_trace *t);

void dbr_http_trace_release(struct dbr_http_trace *t);

/* ---- response heads (http_head.c) ---- */

#define DBR_HTTP_HEAD_TOO_LARGE 1   /* over DBR_WIRE_HEAD_MAX bytes in all */
#define DBR_HTTP_HEAD_TWO_LENGTHS 2 /* Content-Length values that differ */

/* The heads of one transfer so far; zero it to start. */
struct dbr_http_head {
	size_t bytes;           /* every head line of every response */
	int in_head;            /* a status line came, the blank line not yet */
	int have_length;        /* this response named a Content-Length */
	uint64_t length;        /* which */
	int refused;            /* DBR_HTTP_HEAD_*, or 0 */
};

/* Check one header line of the answer (as CURLOPT_HEADERFUNCTION gets it,
 * the status line and the blank line included). 0, or -1 when the answer
 * is refused (h->refused says why; the transfer is to be stopped). */
int dbr_http_head_line(struct dbr_http_head *h, const char *p, size_t n);

/* ---- one transfer (http.c) ---- */

/* State of one transfer, shared with libcurl's callbacks. */
struct dbr_http_call {
	const struct dbr_http_request *req;
	const char *host;             /* for messages */
	struct dbr_buf body;          /* response body: wiping, capped */
	int body_err;                 /* why the write callback stopped */
	struct dbr_http_trace trace;
	int trust_checked;            /* the CA was checked (before a connection) */
	int trust_rc;                 /* and refused: why in trust_err */
	struct dbr_err trust_err;
	int sends;                    /* times libcurl was about to send */
	int replay_refused;           /* it wanted to send again: refused */
	char errbuf[CURL_ERROR_SIZE];
	struct dbr_http_stream stream; /* req->on_headers (http_stream.c) */
	long stall_ms;                /* streamed: the most time without a byte */
	curl_off_t moved;             /* bytes both ways when last seen */
	long moved_at;                /* and when they last changed */
	int stalled;                  /* ended for stall_ms */
	struct dbr_http_head head;    /* the answer's heads so far */
};

/* dbr_http_perform(), also telling whether the request may have reached
 * the server: *sent is 1 once libcurl was about to send it on an open
 * connection (whatever happened next), 0 when it failed before (bad
 * request, DNS, connect, TLS handshake). */
int dbr_http_perform_sent(const struct dbr_http_request *req, struct dbr_http_response *resp,
			  int *sent, struct dbr_err *err);

/* How long a streamed answer (req->on_headers) may send nothing before it
 * is cut: the request's timeout, in whole seconds (at least 1). Its total
 * time has no limit. */
long dbr_http_stall_s(const struct dbr_http_request *r);

/* ---- errors (http_error.c) ---- */

/* The error for a transfer libcurl ended with cc: what failed and what to
 * do next, as DBR_E_TLS, DBR_E_NETWORK, DBR_E_TIMEOUT, DBR_E_TOO_LARGE,
 * DBR_E_INTERRUPTED, DBR_E_INVAL or DBR_E_NOMEM. Returns the code. */
int dbr_http_map_error(CURL *h, const struct dbr_http_call *c, const struct dbr_http_url *p,
		       CURLcode cc, struct dbr_err *err);

#endif
