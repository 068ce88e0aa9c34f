/* The hardened HTTP client: one libcurl easy handle per call (kept by the
 * thread for its next call, reset), one TLS policy, one connection cache
 * for the process (http_share.c).
 *
 * This file is the signer: with the masker it is the only code that reads a
 * secret handle's bytes, and only to hand them to libcurl for the duration of
 * one call (a header in wiping memory, CURLOPT_PASSWORD, or
 * CURLOPT_POSTFIELDS pointing into secure memory).
 */
#include "dbroker/http.h"
#include "dbroker/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include "dbroker/bytes.h"
#include <openssl/x509_vfy.h>

#include "buf.h"
#include "curl_lazy.h"
#include "dbroker/log.h"
#include "dbroker/secret.h"
#include "http_internal.h"
#include "retry.h"
#include "secret_internal.h"
#include "version.h"
#include "banned.h"

#define HEADER_MAX 8192
#define REQUEST_ID_MAX 128
/* dbroker follows at most this many same-origin redirects itself */
#define MAX_REDIRECTS 1

/* ---- credential bytes (only this file reads them) ------------------------ */

/* A credential is one word (dbr_secret_is_one_word, what 'dbroker login'
 * stores): a space, a tab, a line break or another control character in
 * one is refused before anything is sent, naming the character, so a stray
 * one from the environment, a profile or Vault is not a puzzling 401. */
static int check_secret(const struct dbr_secret *s, const char *what, struct dbr_err *err)
{
	const unsigned char *b = dbr_secret_bytes(s);
	size_t n = dbr_secret_len(s), at;
	char ctl[40];
	const char *name = ctl;

	if (!b || n == 0)
		return dbr_err_set(err, DBR_E_INVAL, "the %s is empty: check the credential source",
				   what);
	if ((at = dbr_secret_bytes_word_end(b, n)) == n)
		return 0;
	switch (b[at]) {
	case ' ': name = "a space"; break;
	case '\t': name = "a tab"; break;
	case '\n': case '\r': name = "a line break"; break;
	default: snprintf(ctl, sizeof(ctl), "a control character (0x%02x)", b[at]); break;
	}
	return dbr_err_set(err, DBR_E_INVAL,
			   "the %s contains %s, which no token has: store it again as one "
			   "word, without it", what, name);
}

/* Replace every copy of the credential in b with the mask (the log's masker
 * does this too; the signer knows the bytes, so it does not rely on it). */
void dbr_http_scrub_credential(struct dbr_buf *b, const struct dbr_http_request *r)
{
	const unsigned char *sec = dbr_secret_bytes(r->auth_secret);
	size_t n = dbr_secret_len(r->auth_secret);
	struct dbr_buf out = DBR_BUF_INIT_WIPE(b->max);
	const char *p, *hit;

	if (!sec || !n || !b->data || !memmem(b->data, b->len, sec, n))
		return;
	p = b->data;
	while ((hit = memmem(p, (size_t)(b->data + b->len - p), sec, n))) {
		if (dbr_buf_add(&out, p, (size_t)(hit - p)) || dbr_buf_addstr(&out, "***"))
			goto fail;
		p = hit + n;
	}
	if (dbr_buf_add(&out, p, (size_t)(b->data + b->len - p)))
		goto fail;
	dbr_buf_release(b);
	*b = out;
	return;
fail:
	/* cannot scrub: log nothing rather than the secret */
	dbr_buf_release(&out);
	dbr_buf_reset(b);
}

/* ---- one transfer -------------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct dbr_http_call *c = arg;
	size_t n = size * nmemb;
	int rc = dbr_http_stream_write(&c->stream, p, n);

	if (rc < 0) {
		c->body_err = DBR_E_INTERRUPTED;
		return 0;
	}
	if (rc > 0)
		return n;
	rc = dbr_buf_add(&c->body, p, n);

	if (rc) {
		c->body_err = rc;
		return 0;
	}
	return n;
}

/* Every header line of the answer: checked (http_head.c), then kept for a
 * streaming caller. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct dbr_http_call *c = arg;
	size_t n = size * nmemb;

	if (dbr_http_head_line(&c->head, p, n))
		return 0;
	if (c->req->on_headers)
		return dbr_http_stream_header_cb(p, size, nmemb, &c->stream);
	return n;
}

static void call_init(struct dbr_http_call *c, const struct dbr_http_request *r, const char *host)
{
	memset(c, 0, sizeof(*c));
	c->req = r;
	c->host = host;
	dbr_buf_init(&c->body, r->max_response ? r->max_response : DBR_HTTP_DEFAULT_MAX_RESPONSE, 1);
	dbr_http_stream_init(&c->stream, r);
	dbr_http_trace_init(&c->trace, r);
}

static void call_release(struct dbr_http_call *c)
{
	dbr_buf_release(&c->body);
	dbr_http_stream_release(&c->stream);
	dbr_http_trace_release(&c->trace);
}

int dbr_http_has_header(const struct dbr_http_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return 1;
	return 0;
}

/* Append "name: value" (or "name;" for an empty value, libcurl's spelling).
 * The line is built in wiping memory: it may hold a credential. */
static int add_header(struct curl_slist **list, const char *name, const char *value,
		      size_t vlen)
{
	struct dbr_buf line = DBR_BUF_INIT_WIPE(HEADER_MAX + DBR_SECRET_MAX + 300);
	struct curl_slist *n;
	int rc;

	if (vlen)
		rc = dbr_buf_addf(&line, "%s: ", name) || dbr_buf_add(&line, value, vlen);
	else
		rc = dbr_buf_addf(&line, "%s;", name);
	if (rc) {
		dbr_buf_release(&line);
		return DBR_E_NOMEM;
	}
	n = curl_slist_append(*list, line.data);
	dbr_buf_release(&line);
	if (!n)
		return DBR_E_NOMEM;
	*list = n;
	return 0;
}

int dbr_http_add_credential(struct dbr_buf *b, const struct dbr_http_request *r)
{
	if (r->auth == DBR_HTTP_AUTH_NONE)
		return 0;
	if (r->auth != DBR_HTTP_AUTH_BEARER || !r->auth_secret)
		return DBR_E_INVAL;
	if (dbr_buf_addstr(b, "Authorization: Bearer ") ||
	    dbr_buf_add(b, dbr_secret_bytes(r->auth_secret), dbr_secret_len(r->auth_secret)) ||
	    dbr_buf_addstr(b, "\r\n"))
		return DBR_E_NOMEM;
	return 0;
}

/* "Authorization: Bearer TOKEN", built in wiping memory like add_header's
 * lines (the list is wiped when the request ends). */
static int add_bearer(struct curl_slist **list, const struct dbr_http_request *r)
{
	struct dbr_buf line = DBR_BUF_INIT_WIPE(DBR_SECRET_MAX + 32);
	struct curl_slist *n = NULL;

	/* the kept connection's line, without its CRLF */
	if (dbr_http_add_credential(&line, r) == 0 && line.len >= 2) {
		line.data[line.len - 2] = '\0';
		n = curl_slist_append(*list, line.data);
	}
	dbr_buf_release(&line);
	if (!n)
		return DBR_E_NOMEM;
	*list = n;
	return 0;
}

static int add_raw(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (!n)
		return DBR_E_NOMEM;
	*list = n;
	return 0;
}

static int has_body(const struct dbr_http_request *r)
{
	return r->body || r->secret_body;
}

static int build_headers(const struct dbr_http_request *r, const char *host_override,
			 struct curl_slist **list)
{
	const char *m = r->method ? r->method : "GET";
	int sends_body = has_body(r) || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
			 strcmp(m, "PATCH") == 0;

	for (size_t i = 0; i < r->n_headers; i++)
		if (add_header(list, r->headers[i].name, r->headers[i].value,
			       strlen(r->headers[i].value)))
			return DBR_E_NOMEM;
	if (sends_body && !dbr_http_has_header(r, "Content-Type")) {
		/* dbroker's own bodies are JSON; a forwarded one (the exec proxy
		 * streams its answer) goes with the type its sender gave, or none */
		const char *ct = r->content_type ? r->content_type
			       : r->on_headers ? NULL : "application/json";

		/* without a body or a type: no type at all (libcurl would claim
		 * a form) */
		if (has_body(r) && ct ? add_header(list, "Content-Type", ct, strlen(ct))
				      : add_raw(list, "Content-Type:"))
			return DBR_E_NOMEM;
	}
	/* no 100-continue round trip */
	if (add_raw(list, "Expect:"))
		return DBR_E_NOMEM;
	if (host_override && add_header(list, "Host", host_override, strlen(host_override)))
		return DBR_E_NOMEM;
	/* the bearer goes as our own header, not CURLOPT_XOAUTH2_BEARER: libcurl
	 * (7.x) strdup()s that option into the connection, which stays in the
	 * shared cache after the request, a copy of the token on the ordinary
	 * heap for as long as the connection is kept */
	if (r->auth == DBR_HTTP_AUTH_BEARER && add_bearer(list, r))
		return DBR_E_NOMEM;
	if (r->auth == DBR_HTTP_AUTH_HEADER &&
	    add_header(list, r->auth_header, (const char *)dbr_secret_bytes(r->auth_secret),
		       dbr_secret_len(r->auth_secret)))
		return DBR_E_NOMEM;
	return 0;
}

#define SETOPT(h, opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt((h), (opt), (val)); } while (0)

static CURLcode set_tls(CURL *h, const struct dbr_http_request *r)
{
	CURLcode cc = CURLE_OK;
	const char *env;

	/* the CA is read for every new connection, after open_socket() checked
	 * it (a libcurl before 7.87 caches nothing and knows no such option) */
	curl_easy_setopt(h, CURLOPT_CA_CACHE_TIMEOUT, 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (r->ca_file || r->ca_path) {
		/* an explicit CA replaces the system store */
		SETOPT(h, CURLOPT_CAINFO, r->ca_file);
		SETOPT(h, CURLOPT_CAPATH, r->ca_path);
	} else if (((env = getenv("SSL_CERT_FILE")) && *env) ||
		   ((env = getenv("CURL_CA_BUNDLE")) && *env)) {
		SETOPT(h, CURLOPT_CAINFO, env);
	}
	if (r->client_cert) {
		SETOPT(h, CURLOPT_SSLCERT, r->client_cert);
		SETOPT(h, CURLOPT_SSLCERTTYPE, "PEM");
		SETOPT(h, CURLOPT_SSLKEY, r->client_key);
		SETOPT(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return cc;
}

static CURLcode set_method(CURL *h, const struct dbr_http_request *r)
{
	const char *m = r->method ? r->method : "GET";
	CURLcode cc = CURLE_OK;

	if (has_body(r)) {
		const void *p = r->body ? (const void *)r->body : dbr_secret_bytes(r->secret_body);
		size_t n = r->body ? r->body_len : dbr_secret_len(r->secret_body);

		/* POSTFIELDS is not copied: a secret body stays in secure memory */
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		SETOPT(h, CURLOPT_POSTFIELDS, p);
		if (strcmp(m, "POST") != 0)
			SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "GET") == 0) {
		SETOPT(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		SETOPT(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
		/* Content-Length: 0 */
		SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		SETOPT(h, CURLOPT_POSTFIELDS, "");
		if (strcmp(m, "POST") != 0)
			SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
	} else {
		SETOPT(h, CURLOPT_CUSTOMREQUEST, m);
	}
	return cc;
}

/* A streamed transfer (stall_ms) ends when nothing moved, in either
 * direction, for that long; libcurl calls this at least once a second. */
static int stalled(struct dbr_http_call *c, curl_off_t moved)
{
	long now = dbr_mono_ms();

	if (!c->stall_ms)
		return 0;
	if (moved != c->moved || !c->moved_at) {
		c->moved = moved;
		c->moved_at = now;
		return 0;
	}
	return c->stalled = now - c->moved_at >= c->stall_ms;
}

static int abort_if_interrupted(void *arg, curl_off_t dltotal, curl_off_t dlnow,
				curl_off_t ultotal, curl_off_t ulnow)
{
	struct dbr_http_call *c = arg;
	long head = 0;

	(void)dltotal;
	(void)ultotal;
	/* the head counts too: it may come long before the body */
	if (c->stall_ms && c->stream.h)
		curl_easy_getinfo(c->stream.h, CURLINFO_HEADER_SIZE, &head);
	return dbr_interrupted() || stalled(c, dlnow + ulnow + head);
}

/* libcurl resends a request by itself when a reused connection dies before
 * any answer, also after the request went out: a POST could reach the
 * server twice and the caller's retry policy would never know. This runs
 * before every send of the transfer. A GET or HEAD may go once more, at
 * once and on a fresh connection: a server closing an idle kept-alive
 * connection as the request arrives is ordinary HTTP, not a failure to
 * warn about and wait for. Any other second send is refused, so the
 * failure surfaces to the caller's policy as a dropped connection. (A
 * connection found dead before anything was sent is never reused: libcurl
 * opens a fresh one and this runs once.) */
static int limit_resends(void *arg, char *conn_primary_ip, char *conn_local_ip,
			 int conn_primary_port, int conn_local_port)
{
	struct dbr_http_call *c = arg;

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (++c->sends > (dbr_retry_method_safe(c->req->method) ? 2 : 1)) {
		c->replay_refused = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/* CURLOPT_OPENSOCKETFUNCTION. libcurl reads the CA only to set up a new
 * connection (the kept handle caches no CA store: CA_CACHE_TIMEOUT 0), so
 * the CA is checked here, before every connection a request opens, and
 * not for a request that rides a kept-alive connection, verified when it
 * was opened. A refusal fails the request before connect(); its socket is
 * never inherited by a child (exec). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct dbr_http_call *c = arg;

	(void)purpose;
	if (!c->trust_checked) {
		c->trust_checked = 1;
		c->trust_rc = dbr_http_check_trust(c->req, &c->trust_err);
	}
	if (c->trust_rc)
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

CURLcode dbr_http_set_connection(CURL *h, const struct dbr_http_request *r,
				 struct dbr_http_call *c, const struct dbr_http_url *p)
{
	CURLcode cc = CURLE_OK;

	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SETOPT(h, CURLOPT_OPENSOCKETDATA, c);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, p->scheme);
	/* HTTP/1.1: libcurl 7.88 logs every HTTP/2 request header,
	 * credentials included, as text. */
	SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* http_proxy and friends must never see a loopback request: over
	 * http:// the proxy would read the credential */
	if (dbr_http_host_is_loopback(p->host))
		SETOPT(h, CURLOPT_PROXY, "");
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
	       r->connect_timeout_ms ? r->connect_timeout_ms : DBR_HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
	SETOPT(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (cc == CURLE_OK)
		cc = set_tls(h, r);
	return cc;
}

static CURLcode set_common(CURL *h, const struct dbr_http_request *r, struct dbr_http_call *c,
			   const struct dbr_http_url *p)
{
	CURLcode cc = dbr_http_set_connection(h, r, c, p);

	/* Ctrl-C (dbr_interrupt) also ends a request on the wire */
	SETOPT(h, CURLOPT_XFERINFOFUNCTION, abort_if_interrupted);
	SETOPT(h, CURLOPT_XFERINFODATA, c);
	SETOPT(h, CURLOPT_PREREQFUNCTION, limit_resends);
	SETOPT(h, CURLOPT_PREREQDATA, c);
	SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
	SETOPT(h, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SETOPT(h, CURLOPT_USERAGENT, "dbroker/" DBR_VERSION);
	/* a streamed answer (the exec proxy's) lasts as long as it keeps
	 * coming: only a stall of the timeout ends it, not its total time */
	if (r->on_headers)
		c->stall_ms = dbr_http_stall_s(r) * 1000;
	else
		SETOPT(h, CURLOPT_TIMEOUT_MS,
		       r->timeout_ms ? r->timeout_ms : DBR_HTTP_DEFAULT_TIMEOUT_MS);
	/* a streamed body has no cap; a collected one is capped in on_write */
	if (!r->on_headers)
		SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->body.max);
	SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(h, CURLOPT_HEADERDATA, c);
	SETOPT(h, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(h, CURLOPT_WRITEDATA, c);
	if (c->trace.log) {
		SETOPT(h, CURLOPT_DEBUGFUNCTION, dbr_http_trace_cb);
		SETOPT(h, CURLOPT_DEBUGDATA, &c->trace);
		SETOPT(h, CURLOPT_VERBOSE, 1L);
	}
	/* a bearer token is a header of ours (build_headers) */
	if (r->auth == DBR_HTTP_AUTH_BASIC) {
		SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(h, CURLOPT_USERNAME, r->auth_user);
		SETOPT(h, CURLOPT_PASSWORD, (const char *)dbr_secret_bytes(r->auth_secret));
	}
	return cc;
}

/* ---- response ------------------------------------------------------------ */

static const char *header_value(CURL *h, const char *name)
{
	struct curl_header *hh = NULL;

	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hh) != CURLHE_OK || !hh)
		return NULL;
	return hh->value;
}

/* Retry-After: delay-seconds or an HTTP-date; -1 when absent or unreadable. */
static long parse_retry_after(const char *v)
{
	long s = 0;
	time_t t, now;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		for (; *v >= '0' && *v <= '9'; v++)
			if (s < 1000000000L)
				s = s * 10 + (*v - '0');
		while (*v == ' ' || *v == '\t')
			v++;
		return *v ? -1 : s;
	}
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	now = time(NULL);
	return t > now ? (long)(t - now) : 0;
}

static char *printable_copy(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	if (!n || n > max)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return NULL;
	return strdup(s);
}

void dbr_http_response_meta(struct dbr_http_response *resp,
			    const char *(*get)(void *arg, const char *name), void *arg)
{
	static const char *const rid[] = { "X-Request-Id", "X-Databricks-Request-Id",
					   "X-Vault-Request-Id" };

	/* a missing or odd type is left NULL: callers parse by status and body */
	resp->content_type = printable_copy(get(arg, "Content-Type"), 256);
	resp->retry_after_s = parse_retry_after(get(arg, "Retry-After"));
	for (size_t i = 0; i < sizeof(rid) / sizeof(rid[0]) && !resp->request_id; i++)
		resp->request_id = printable_copy(get(arg, rid[i]), REQUEST_ID_MAX);
}

static const char *curl_header(void *arg, const char *name)
{
	return header_value(arg, name);
}

static int collect(CURL *h, struct dbr_http_call *c, struct dbr_http_response *resp)
{
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->body = dbr_buf_detach(&c->body, &resp->body_len);
	if (!resp->body)
		return DBR_E_NOMEM;
	dbr_http_response_meta(resp, curl_header, h);
	return 0;
}

/* tls_server_name: libcurl has no option to verify against another name, so
 * the URL names tls_server_name (SNI and the certificate check use it),
 * CURLOPT_CONNECT_TO sends the connection to the real host, and the Host
 * header keeps the real authority. */
static int server_name_rewrite(const struct dbr_http_request *r, const struct dbr_http_url *p,
			       CURLU **eff, struct curl_slist **connect_to, char **host_hdr)
{
	struct dbr_buf b = DBR_BUF_INIT(1024);
	char *explicit_port = NULL;
	int rc = DBR_E_NOMEM;

	*eff = NULL;
	*host_hdr = NULL;
	if (!r->tls_server_name || strcmp(p->scheme, "https") != 0 ||
	    strcasecmp(r->tls_server_name, p->host) == 0)
		return 0;
	if (!(*eff = curl_url_dup(p->u)) ||
	    curl_url_set(*eff, CURLUPART_HOST, r->tls_server_name, 0) != CURLUE_OK)
		goto out;
	if (dbr_buf_addf(&b, "%s:%s:%s:%s", r->tls_server_name, p->port, p->host, p->port) ||
	    !(*connect_to = curl_slist_append(NULL, b.data)))
		goto out;
	dbr_buf_reset(&b);
	curl_url_get(p->u, CURLUPART_PORT, &explicit_port, 0);
	if (dbr_buf_addstr(&b, p->host) ||
	    (explicit_port && dbr_buf_addf(&b, ":%s", explicit_port)))
		goto out;
	*host_hdr = dbr_buf_detach(&b, NULL);
	rc = *host_hdr ? 0 : DBR_E_NOMEM;
out:
	curl_free(explicit_port);
	dbr_buf_release(&b);
	return rc;
}

/* Whether the handle may serve this thread's next request. libcurl keeps
 * no copy of a bearer token or of a header once the request is sent (the
 * header list is ours and wiped), but it may keep a user name and password (Basic), and its
 * buffers would hold a secret body or answer until the handle's next
 * transfer: those requests get a handle of their own, cleaned up (wiped)
 * at once. So does any request that failed. */
static int handle_keepable(const struct dbr_http_request *r)
{
	return r->auth != DBR_HTTP_AUTH_BASIC && !r->secret_body && !r->secret_response;
}

/* One request to url. On a same-origin redirect *next is the URL to follow
 * (the response is filled in too); refused redirects are errors. *sent is
 * set when libcurl got as far as sending the request. */
static int perform_once(const struct dbr_http_request *r, const char *url,
			struct dbr_http_response *resp, char **next, int *sent,
			struct dbr_err *err)
{
	struct dbr_http_url p;
	struct dbr_http_call c;
	CURL *h = NULL;
	CURLU *eff = NULL;
	struct curl_slist *hdrs = NULL, *connect_to = NULL;
	char *host_hdr = NULL, *loc = NULL, *effective = NULL;
	CURLcode cc = CURLE_OK;
	int rc;

	*next = NULL;
	rc = dbr_http_url_parse(url, &p, err);
	if (rc)
		return rc;
	rc = dbr_http_check_scheme(r, &p, err);
	/* a GET of the exec proxy: the kept connection, unless it hands back */
	if (rc == 0 && dbr_http_kept_eligible(r)) {
		rc = dbr_http_kept_perform(r, &p, resp, sent, err);
		if (rc != DBR_HTTP_KEPT_FALLBACK) {
			dbr_http_url_release(&p);
			return rc;
		}
		rc = 0;
	}
	if (rc) {
		dbr_http_url_release(&p);
		return rc;
	}
	call_init(&c, r, p.host);
	rc = DBR_E_NOMEM;
	if (!(c.stream.h = h = dbr_http_handle_take()) ||
	    server_name_rewrite(r, &p, &eff, &connect_to, &host_hdr) ||
	    build_headers(r, host_hdr, &hdrs))
		goto out;
	SETOPT(h, CURLOPT_CURLU, eff ? eff : p.u);
	SETOPT(h, CURLOPT_CONNECT_TO, connect_to);
	SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	if (dbr_http_share())
		SETOPT(h, CURLOPT_SHARE, dbr_http_share());
	if (cc == CURLE_OK)
		cc = set_common(h, r, &c, &p);
	if (cc == CURLE_OK)
		cc = set_method(h, r);
	if (cc != CURLE_OK) {
		rc = dbr_err_set(err, DBR_E_INTERNAL, "cannot set up the request to '%s' (%s): "
				 "libcurl may lack a feature dbroker needs", p.host,
				 curl_easy_strerror(cc));
		goto out;
	}
	if (c.trace.log)
		dbr_log_msg(c.trace.log, DBR_LOG_DEBUG, "http: %s %s", r->method ? r->method : "GET",
			    url);
	cc = curl_easy_perform(h);
	if (c.sends > 0)
		*sent = 1;
	dbr_http_trace_finish(&c.trace);
	/* libcurl's copy of the password is wiped by the allocator on release */
	curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
	if (cc != CURLE_OK && c.trust_rc) {
		rc = dbr_err_set(err, c.trust_rc, "%s", c.trust_err.msg);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = dbr_http_map_error(h, &c, &p, cc, err);
		goto out;
	}
	if (dbr_http_stream_finish(&c.stream) < 0) {
		rc = dbr_err_set(err, DBR_E_INTERRUPTED, "the receiver of the answer from '%s' "
				 "stopped the transfer", p.host);
		goto out;
	}
	rc = collect(h, &c, resp);
	if (rc || !dbr_http_is_redirect(resp->status))
		goto out;
	curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
	if (!loc)
		goto out;
	if (curl_url_get(eff ? eff : p.u, CURLUPART_URL, &effective, 0) != CURLUE_OK) {
		rc = DBR_E_NOMEM;
		goto out;
	}
	rc = dbr_http_redirect_target(&p, url, effective, loc, next, err);
out:
	if (rc == DBR_E_NOMEM && err && !err->code)
		dbr_err_set(err, rc, "out of memory preparing the request to '%s'", p.host);
	if (h) {
		curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
		dbr_http_handle_give(h, rc == 0 && handle_keepable(r));
	}
	curl_free(effective);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(connect_to);
	curl_url_cleanup(eff);
	free(host_hdr);
	call_release(&c);
	dbr_http_url_release(&p);
	return rc;
}

/* A request from a caller built against an older (shorter) struct: the
 * fields it does not know are zero. */
static int request_copy(const struct dbr_http_request *in, struct dbr_http_request *out,
			struct dbr_err *err)
{
	size_t min = offsetof(struct dbr_http_request, url) + sizeof(in->url);

	if (!in || in->struct_size < min)
		return dbr_err_set(err, DBR_E_INVAL, "malformed HTTP request (struct_size)");
	memset(out, 0, sizeof(*out));
	memcpy(out, in, in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out));
	out->struct_size = sizeof(*out);
	return 0;
}

int dbr_http_perform(const struct dbr_http_request *req_in, struct dbr_http_response *resp,
		     struct dbr_err *err)
{
	int sent;

	return dbr_http_perform_sent(req_in, resp, &sent, err);
}

int dbr_http_perform_sent(const struct dbr_http_request *req_in, struct dbr_http_response *resp,
			  int *sent, struct dbr_err *err)
{
	struct dbr_http_request req;
	char *url = NULL, *next = NULL;
	int rc;

	*sent = 0;
	dbr_err_clear(err);
	if (!resp)
		return dbr_err_set(err, DBR_E_INVAL, "no response to fill in");
	dbr_http_response_release(resp);
	rc = dbr_curl_load(err);
	if (rc)
		return rc;
	rc = request_copy(req_in, &req, err);
	if (rc)
		return rc;
	rc = dbr_http_check_request(&req, err);
	if (!rc && req.auth_secret)
		rc = check_secret(req.auth_secret, "credential", err);
	if (rc)
		return rc;
	if (!(url = strdup(req.url ? req.url : "")))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	for (int hops = 0;; hops++) {
		rc = perform_once(&req, url, resp, &next, sent, err);
		if (rc || !next)
			break;
		if (hops >= MAX_REDIRECTS) {
			struct dbr_http_url p;
			int ok = dbr_http_url_parse(url, &p, NULL) == 0;

			rc = dbr_err_set(err, DBR_E_REDIRECT, "'%s' redirected again: dbroker follows "
					 "at most %d redirect; use the final URL",
					 ok ? p.host : "the server", MAX_REDIRECTS);
			if (ok)
				dbr_http_url_release(&p);
			break;
		}
		free(url);
		url = next;
		next = NULL;
		dbr_http_response_release(resp);
	}
	free(url);
	free(next);
	if (rc)
		dbr_http_response_release(resp);
	return rc;
}

void dbr_http_response_release(struct dbr_http_response *resp)
{
	if (!resp)
		return;
	if (resp->body) {
		dbr_wipe(resp->body, resp->body_len + 1);
		free(resp->body);
	}
	free(resp->content_type);
	free(resp->request_id);
	resp->status = 0;
	resp->body = NULL;
	resp->body_len = 0;
	resp->content_type = NULL;
	resp->retry_after_s = -1;
	resp->request_id = NULL;
}
