/* GET and HEAD on a connection the thread keeps (http_internal.h).
 *
 * The exec proxy forwards request after request on one thread. Through
 * libcurl's easy interface each of them pays for the handle's reset and
 * set-up, the header list, the transfer's state machine and its polls:
 * about half of the proxy's CPU per request. Here libcurl still opens the
 * connection, with the same TLS policy, the same CA check before the
 * socket is made, proxies and timeouts (CURLOPT_CONNECT_ONLY), and keeps
 * it; dbroker writes the request line and headers itself and reads the
 * answer with curl_easy_recv (http_wire.c parses it).
 *
 * Only what is simple rides it: GET or HEAD without a body and at most a
 * bearer token. A redirect, or an answer the strict parser refuses, leaves
 * the connection and goes back to libcurl (dbr_http_kept_perform returns
 * DBR_HTTP_KEPT_FALLBACK before any hook ran; a GET is safe to repeat).
 * A kept connection found closed before any answer came is opened again
 * and the request sent once more, as libcurl does. A body may be paused
 * after its head (DBR_HTTP_STREAM_PAUSE): the connection then goes with
 * it and comes back to the thread once the body is read. A thread that
 * ends leaves its connection to a small pool (http_kept_pool.c), for the
 * next thread.
 */
#include "http_internal.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dbroker/bytes.h"
#include "dbroker/log.h"
#include "dbroker/runtime.h"
#include "http_kept_pool.h"
#include "http_wire.h"
#include "runtime_internal.h"
#include "version.h"
#include "banned.h"

/* the request head: the target, the caller's headers and the credential */
#define REQUEST_HEAD_MAX (64u * 1024 + 16u * 1024)
#define READ_CHUNK (16u * 1024)
/* a connection's key: origin, CA file and directory, CA variables */
#define KEY_MAX 8192

/* ---- the thread's connection -------------------------------------------------------- */

static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static pthread_key_t kept_key;
static int kept_ready;

static void discard_paused(void);

/* At a thread's end, on that thread. */
static void kept_free(void *arg)
{
	struct kept *k = arg;

	discard_paused();
	dbr_http_kept_pool_put(k);
	free(k);
}

/* At dbr_runtime_cleanup(), on the main thread: its connection and the
 * pool's, before libcurl's global cleanup (hooks run newest first, and
 * this one is registered after libcurl was loaded). */
static void kept_release(void)
{
	struct kept *k;

	if (kept_ready && (k = pthread_getspecific(kept_key))) {
		pthread_setspecific(kept_key, NULL);
		discard_paused();
		dbr_http_kept_discard(k);
		free(k);
	}
	dbr_http_kept_pool_drain();
}

static void kept_create(void)
{
	kept_ready = pthread_key_create(&kept_key, kept_free) == 0 &&
		     dbr_runtime_on_cleanup(kept_release) == 0;
}

static struct kept *kept_get(void)
{
	struct kept *k;

	pthread_once(&kept_once, kept_create);
	if (!kept_ready)
		return NULL;
	if ((k = pthread_getspecific(kept_key)))
		return k;
	if (!(k = calloc(1, sizeof(*k))))
		return NULL;
	k->fd = CURL_SOCKET_BAD;
	if (pthread_setspecific(kept_key, k)) {
		free(k);
		return NULL;
	}
	return k;
}

/* Everything a connection was set up with, into key (KEY_MAX): one made
 * with other TLS settings is never used. Made on the stack for every
 * request; copied only when a connection is opened. 0, or -1 when it does
 * not fit (the request then goes through libcurl). */
static int key_of(const struct dbr_http_request *r, const struct dbr_http_url *p, char *key)
{
	const char *f = getenv("SSL_CERT_FILE"), *g = getenv("CURL_CA_BUNDLE");
	int n = snprintf(key, KEY_MAX, "%s://%s:%s\n%s\n%s\n%s\n%s\n%d", p->scheme, p->host,
			 p->port, r->ca_file ? r->ca_file : "", r->ca_path ? r->ca_path : "",
			 f ? f : "", g ? g : "", r->allow_loopback_http);

	return n < 0 || n >= KEY_MAX ? -1 : 0;
}

#define SETOPT(h, opt, val) \
	do { if (cc == CURLE_OK) cc = curl_easy_setopt((h), (opt), (val)); } while (0)

/* Open the connection (libcurl: DNS, proxy, TCP, TLS and its checks). 0,
 * DBR_HTTP_KEPT_FALLBACK (out of memory for libcurl's handle) or the error
 * libcurl's own path gives (the CA refused, no connection, TLS). */
static int kept_open(struct kept *k, const struct dbr_http_request *r,
		     const struct dbr_http_url *p, const char *key, struct dbr_err *err)
{
	struct dbr_http_call c;
	CURLcode cc;
	curl_socket_t fd = CURL_SOCKET_BAD;

	dbr_http_kept_discard(k);
	if (!(k->key = strdup(key)))
		return DBR_HTTP_KEPT_FALLBACK;
	memset(&c, 0, sizeof(c));
	c.req = r;
	c.host = p->host;
	if (!(k->h = curl_easy_init()))
		return DBR_HTTP_KEPT_FALLBACK;
	cc = dbr_http_set_connection(k->h, r, &c, p);
	SETOPT(k->h, CURLOPT_CURLU, p->u);
	SETOPT(k->h, CURLOPT_CONNECT_ONLY, 1L);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(k->h);
	/* the call's state and the URL are the caller's: nothing may point to
	 * them once the connection is open */
	curl_easy_setopt(k->h, CURLOPT_OPENSOCKETDATA, NULL);
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(k->h, CURLOPT_CURLU, NULL);
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(k->h, CURLINFO_ACTIVESOCKET, &fd);
	if (cc != CURLE_OK || fd == CURL_SOCKET_BAD) {
		int rc = DBR_HTTP_KEPT_FALLBACK;

		/* what libcurl's own path would say (and no second wait for a
		 * server that does not answer) */
		if (c.trust_rc)
			rc = dbr_err_set(err, c.trust_rc, "%s", c.trust_err.msg);
		else if (cc != CURLE_OK)
			rc = dbr_http_map_error(k->h, &c, p, cc, err);
		dbr_http_kept_close(k);
		return rc;
	}
	k->fd = fd;
	return 0;
}

/* ---- waiting ------------------------------------------------------------------------ */

/* A kept connection the server closed (or wrote to unasked) while idle is
 * not used again. A TLS 1.3 server's session tickets may be all there is
 * to read: libcurl takes them and answers CURLE_AGAIN. One whose last
 * answer ended less than QUIET_CHECK_MS ago is not asked: that costs a
 * system call on every request of a busy client, and a close in that time
 * is still caught, as the answer that does not come (the GET is then sent
 * once more on a new connection). */
#define QUIET_CHECK_MS 1000

static int kept_alive(struct kept *k)
{
	struct pollfd pf = { k->fd, POLLIN, 0 };
	char b[1];
	size_t n = 0;

	if (k->quiet_since && dbr_mono_ms() - k->quiet_since < QUIET_CHECK_MS)
		return 1;
	if (poll(&pf, 1, 0) == 0)
		return 1;
	return curl_easy_recv(k->h, b, sizeof(b), &n) == CURLE_AGAIN;
}

/* ---- the request -------------------------------------------------------------------- */

/* The request head as libcurl would write it: request line, Host,
 * credential, User-Agent and Accept unless the caller set them, the
 * caller's headers. b wipes: it holds the credential. */
static int build_request(const struct dbr_http_request *r, const struct dbr_http_url *p,
			 struct dbr_buf *b)
{
	char *path = NULL, *query = NULL;
	int dflt = (strcmp(p->scheme, "https") == 0 && strcmp(p->port, "443") == 0) ||
		   (strcmp(p->scheme, "http") == 0 && strcmp(p->port, "80") == 0);
	int rc = DBR_E_NOMEM;

	if (curl_url_get(p->u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(p->u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
		query = NULL;
	if (dbr_buf_addf(b, "%s %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\n",
			 r->method ? r->method : "GET", path, query ? "?" : "",
			 query ? query : "", p->host, dflt ? "" : ":", dflt ? "" : p->port))
		goto out;
	if ((rc = dbr_http_add_credential(b, r)))
		goto out;
	rc = DBR_E_NOMEM;
	if (!dbr_http_has_header(r, "User-Agent") &&
	    dbr_buf_addstr(b, "User-Agent: dbroker/" DBR_VERSION "\r\n"))
		goto out;
	if (!dbr_http_has_header(r, "Accept") && dbr_buf_addstr(b, "Accept: */*\r\n"))
		goto out;
	for (size_t i = 0; i < r->n_headers; i++)
		if (dbr_buf_addf(b, "%s:%s%s\r\n", r->headers[i].name,
				 *r->headers[i].value ? " " : "", r->headers[i].value))
			goto out;
	rc = dbr_buf_addstr(b, "\r\n") ? DBR_E_NOMEM : 0;
out:
	curl_free(path);
	curl_free(query);
	return rc;
}

/* Write all of b. 0, DBR_E_NETWORK (the connection failed), DBR_E_TIMEOUT
 * or DBR_E_INTERRUPTED. */
static int send_all(struct kept *k, const struct dbr_buf *b, long deadline, int *sent)
{
	size_t off = 0;

	while (off < b->len) {
		size_t n = 0;
		CURLcode cc = curl_easy_send(k->h, b->data + off, b->len - off, &n);
		int rc;

		if (cc == CURLE_AGAIN) {
			if ((rc = dbr_wait_fd(k->fd, POLLOUT, deadline, 1)))
				return rc;
			continue;
		}
		if (cc != CURLE_OK)
			return DBR_E_NETWORK;
		*sent = 1;
		off += n;
	}
	return 0;
}

/* Read more of the answer into in. 0 (some bytes), 1 (the connection
 * ended), DBR_E_NETWORK, DBR_E_TIMEOUT, DBR_E_INTERRUPTED, DBR_E_NOMEM or
 * DBR_E_TOO_LARGE (in is full). */
static int read_more(struct kept *k, struct dbr_buf *in, long deadline)
{
	int rc;

	if ((rc = dbr_buf_grow(in, READ_CHUNK)))
		return rc;
	for (;;) {
		size_t n = 0;
		CURLcode cc = curl_easy_recv(k->h, in->data + in->len, in->cap - in->len - 1, &n);

		if (cc == CURLE_AGAIN) {
			if ((rc = dbr_wait_fd(k->fd, POLLIN, deadline, 1)))
				return rc;
			continue;
		}
		if (cc != CURLE_OK)
			return DBR_E_NETWORK;
		if (n == 0)
			return 1;
		in->len += n;
		in->data[in->len] = '\0';
		return 0;
	}
}

/* The answer's head, past any interim (1xx) ones: its length in
 * *head_len (-1: malformed), or what read_more() failed with. */
static int read_head(struct kept *k, struct dbr_buf *in, struct dbr_wire_head *h,
		     long deadline, long *head_len)
{
	static char empty[1];

	for (;;) {
		long n = dbr_wire_parse_head(in->len ? in->data : empty, in->len, h);
		int rc;

		*head_len = n;
		/* 101: what follows is another protocol, not the answer */
		if (n > 0 && h->status == 101)
			*head_len = -1;
		if (*head_len < 0 || (n > 0 && h->status >= 200))
			return 0;
		if (n > 0) {
			/* an interim answer (103 Early Hints): the real one follows */
			memmove(in->data, in->data + n, in->len - (size_t)n + 1);
			in->len -= (size_t)n;
			continue;
		}
		if ((rc = read_more(k, in, deadline)))
			return rc;
	}
}

/* ---- the answer --------------------------------------------------------------------- */

enum framing { BODY_LENGTH, BODY_CHUNKED, BODY_TO_CLOSE };

/* A body being read: from in[off..len) first, then from the connection. */
struct body {
	struct kept conn;       /* the connection (a paused body owns it) */
	enum framing framing;
	uint64_t left;          /* BODY_LENGTH: bytes still to come */
	struct dbr_wire_chunked ch;
	struct dbr_buf in;      /* wipes */
	size_t off;
	int reusable;           /* the connection may carry another request */
	int ended;
	long deadline;
	long stall_ms;          /* streamed: each read gets this long afresh,
				   the answer as long as it keeps coming */
	char host[256];         /* for messages */
};

struct dbr_http_paused {
	struct body b;
};

static const char *head_value(void *arg, const char *name)
{
	const struct dbr_wire_head *h = arg;

	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			return h->h[i].value;
	return NULL;
}

/* More raw bytes into b->in (emptied first). 0, or an error; the
 * connection's end is DBR_E_NETWORK unless the body runs to it. */
static int body_fill(struct body *b)
{
	int rc;

	dbr_buf_reset(&b->in);
	b->off = 0;
	if (b->stall_ms)
		b->deadline = dbr_mono_ms() + b->stall_ms;
	rc = read_more(&b->conn, &b->in, b->deadline);
	if (rc == 1 && b->framing == BODY_TO_CLOSE) {
		b->ended = 1;
		return 0;
	}
	return rc == 1 ? DBR_E_NETWORK : rc;
}

/* Up to max body bytes into buf: > 0, 0 at the end (b->ended), or an
 * error (DBR_E_*, < 0). */
static long body_next(struct body *b, char *buf, size_t max)
{
	int rc;

	while (!b->ended) {
		size_t avail = b->in.len - b->off, n = avail < max ? avail : max;

		if (b->framing == BODY_LENGTH && !b->left) {
			b->ended = 1;
			b->reusable = b->reusable && avail == 0;
			break;
		}
		if (avail == 0) {
			if ((rc = body_fill(b)))
				return rc;
			continue;
		}
		if (b->framing == BODY_CHUNKED) {
			size_t used = 0, made = 0;
			int end = dbr_wire_chunked_feed(&b->ch, b->in.data + b->off, n, buf, &used,
							&made);

			if (end < 0)
				return DBR_E_NETWORK;
			b->off += used;
			if (end) {
				b->ended = 1;
				b->reusable = b->reusable && b->off == b->in.len;
			}
			if (made)
				return (long)made;
			continue;
		}
		if (b->framing == BODY_LENGTH && n > b->left)
			n = (size_t)b->left;
		memcpy(buf, b->in.data + b->off, n);
		b->off += n;
		if (b->framing == BODY_LENGTH)
			b->left -= n;
		return (long)n;
	}
	return 0;
}

static void body_release(struct body *b)
{
	dbr_http_kept_discard(&b->conn);
	dbr_buf_release(&b->in);
}

/* The body's connection back to the calling thread for its next request,
 * or closed. */
static void body_done(struct body *b, struct kept *k)
{
	if (b->conn.h && b->ended && b->reusable && k && !k->h) {
		free(k->key);
		*k = b->conn;
		k->quiet_since = dbr_mono_ms();
		dbr_http_kept_forget(&b->conn);
	}
	body_release(b);
}

static const char *failure(int rc)
{
	switch (rc) {
	case DBR_E_TIMEOUT:
		return "did not answer in time: raise --timeout, or check that the workspace "
		       "is reachable";
	case DBR_E_INTERRUPTED:
		return "stopped: the request was interrupted";
	case DBR_E_NOMEM:
		return "could not be read: out of memory";
	case DBR_E_TOO_LARGE:
		return "sent an answer larger than dbroker accepts";
	default:
		return "closed the connection or sent a malformed answer: check the network "
		       "and try again";
	}
}

static int failed(int rc, const char *host, struct dbr_err *err)
{
	if (rc != DBR_E_TIMEOUT && rc != DBR_E_INTERRUPTED && rc != DBR_E_NOMEM &&
	    rc != DBR_E_TOO_LARGE)
		rc = DBR_E_NETWORK;
	return dbr_err_set(err, rc, "'%s' %s", host, failure(rc));
}

/* A body that could not be read further (rc < 0): a streamed one that
 * timed out had stalled, however long it had been coming. */
static int body_failed(const struct body *b, long rc, struct dbr_err *err)
{
	if (rc == DBR_E_TIMEOUT && b->stall_ms)
		return dbr_err_set(err, DBR_E_TIMEOUT, "'%s' sent nothing more of the answer for "
				   "%ld s: the transfer stalled and was cut; check that the "
				   "server is reachable and try again", b->host,
				   (b->stall_ms + 999) / 1000);
	return failed((int)rc, b->host, err);
}

/* ---- pausing ------------------------------------------------------------------------ */

static __thread struct dbr_http_paused *last_paused;

struct dbr_http_paused *dbr_http_pause_take(void)
{
	struct dbr_http_paused *b = last_paused;

	last_paused = NULL;
	return b;
}

static void discard_paused(void)
{
	dbr_http_paused_free(dbr_http_pause_take());
}

long dbr_http_paused_read(struct dbr_http_paused *p, char *buf, size_t max,
			  struct dbr_err *err)
{
	long n;

	if (!p || !max)
		return 0;
	n = body_next(&p->b, buf, max);
	if (n < 0) {
		body_failed(&p->b, n, err);
		body_release(&p->b);
		p->b.ended = 1;
		return n;
	}
	/* its last byte read: the connection is free at once (the reader
	 * of a sized body is not asked again) */
	if (p->b.framing == BODY_LENGTH && !p->b.left && !p->b.ended) {
		p->b.ended = 1;
		p->b.reusable = p->b.reusable && p->b.off == p->b.in.len;
	}
	if (p->b.ended && p->b.conn.h)
		body_done(&p->b, kept_get());
	return n;
}

void dbr_http_paused_free(struct dbr_http_paused *p)
{
	if (!p)
		return;
	body_release(&p->b);
	free(p);
}

/* Hand the body over for later, its connection with it. 0, or
 * DBR_E_NOMEM (then the body is read now). */
static int pause_body(struct body *b)
{
	struct dbr_http_paused *p = calloc(1, sizeof(*p));

	if (!p)
		return DBR_E_NOMEM;
	p->b = *b;
	dbr_http_paused_free(last_paused);
	last_paused = p;
	return 0;
}

int dbr_http_kept_eligible(const struct dbr_http_request *r)
{
	const char *m = r->method ? r->method : "GET";

	return r->keep_connection && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) &&
	       !r->body && !r->secret_body && !r->client_cert && !r->tls_server_name &&
	       !r->secret_response && !r->trace &&
	       (r->auth == DBR_HTTP_AUTH_NONE || r->auth == DBR_HTTP_AUTH_BEARER);
}

/* The body after a head: to on_data (streaming) or collected in resp. */
static int read_body(struct body *b, int streaming, const struct dbr_http_request *r,
		     struct dbr_buf *collected, struct dbr_err *err)
{
	char chunk[READ_CHUNK];
	size_t held = 0; /* the most of chunk that held answer bytes */
	int rc = 0;

	for (;;) {
		long n = body_next(b, chunk, sizeof(chunk));

		if (n <= 0) {
			rc = n < 0 ? body_failed(b, n, err) : 0;
			break;
		}
		if ((size_t)n > held)
			held = (size_t)n;
		if (streaming ? r->on_data(r->stream_arg, chunk, (size_t)n) != 0
			      : dbr_buf_add(collected, chunk, (size_t)n) != 0) {
			rc = streaming ? dbr_err_set(err, DBR_E_INTERRUPTED, "the receiver of the "
						     "answer from '%s' stopped the transfer", b->host)
				       : failed(DBR_E_TOO_LARGE, b->host, err);
			break;
		}
	}
	/* an answer may carry a secret (the secrets API): none stays behind */
	dbr_wipe(chunk, held);
	return rc;
}

int dbr_http_kept_perform(const struct dbr_http_request *r, const struct dbr_http_url *p,
			  struct dbr_http_response *resp, int *sent, struct dbr_err *err)
{
	struct kept *k = kept_get();
	struct dbr_buf req = DBR_BUF_INIT_WIPE(REQUEST_HEAD_MAX);
	struct dbr_buf collected;
	struct dbr_wire_head head;
	struct body b;
	const char *method = r->method ? r->method : "GET";
	char key[KEY_MAX];
	long head_len = 0;
	int rc, fresh = 0, want = 0;

	/* a body paused and never taken is not read any more */
	discard_paused();
	memset(&b, 0, sizeof(b));
	b.deadline = dbr_mono_ms() + (r->timeout_ms ? r->timeout_ms : DBR_HTTP_DEFAULT_TIMEOUT_MS);
	snprintf(b.host, sizeof(b.host), "%s", p->host);
	dbr_buf_init(&b.in, DBR_WIRE_HEAD_MAX + READ_CHUNK, 1);
	if (!k || key_of(r, p, key))
		return DBR_HTTP_KEPT_FALLBACK;
	if (k->h && strcmp(k->key, key) != 0)
		dbr_http_kept_pool_put(k);
	if (!k->h)
		dbr_http_kept_pool_take(k, key);
	if (!k->h || !kept_alive(k)) {
		if ((rc = kept_open(k, r, p, key, err)))
			return rc;
		fresh = 1;
	}
	if ((rc = build_request(r, p, &req))) {
		dbr_buf_release(&req);
		if (rc == DBR_E_NOMEM)
			return dbr_err_set(err, rc, "out of memory");
		return DBR_HTTP_KEPT_FALLBACK;
	}
	for (;;) {
		rc = send_all(k, &req, b.deadline, sent);
		if (rc == 0)
			rc = read_head(k, &b.in, &head, b.deadline, &head_len);
		/* a kept connection that ends before any answer came: once more
		 * on a new one (the server closed it while it was idle) */
		if (!fresh && b.in.len == 0 && (rc == 1 || rc == DBR_E_NETWORK)) {
			if ((rc = kept_open(k, r, p, key, err)))
				break;
			fresh = 1;
			continue;
		}
		break;
	}
	dbr_buf_release(&req);
	if (rc == 0 && (head_len < 0 ||
			(dbr_http_is_redirect(head.status) && head_value(&head, "Location"))))
		rc = DBR_HTTP_KEPT_FALLBACK;
	if (rc) {
		dbr_http_kept_close(k);
		dbr_buf_release(&b.in);
		if (rc == DBR_HTTP_KEPT_FALLBACK || (err && err->code))
			return rc;
		return failed(rc == 1 ? DBR_E_NETWORK : rc, b.host, err);
	}
	/* from here the connection is the body's */
	b.conn = *k;
	dbr_http_kept_forget(k);
	b.off = (size_t)head_len;
	b.reusable = !head.close;
	b.framing = head.chunked ? BODY_CHUNKED : head.content_length >= 0 ? BODY_LENGTH
									: BODY_TO_CLOSE;
	b.left = head.content_length >= 0 ? (uint64_t)head.content_length : 0;
	if (dbr_wire_no_body(method, head.status)) {
		b.framing = BODY_LENGTH;
		b.left = 0;
	}
	if (b.framing == BODY_TO_CLOSE)
		b.reusable = 0;
	if (r->on_headers) {
		struct dbr_http_header hv[DBR_WIRE_HEADERS_MAX];

		for (size_t i = 0; i < head.n; i++) {
			hv[i].name = head.h[i].name;
			hv[i].value = head.h[i].value;
		}
		want = r->on_headers(r->stream_arg, head.status, hv, head.n);
		if (want < 0) {
			rc = dbr_err_set(err, DBR_E_INTERRUPTED, "the receiver of the answer from "
					 "'%s' stopped the transfer", b.host);
			body_release(&b);
			return rc;
		}
	}
	/* streamed (or paused to be): no limit on the whole, only on a stall */
	if (want >= 1)
		b.stall_ms = dbr_http_stall_s(r) * 1000;
	resp->status = head.status;
	/* the head's strings live in b.in: what they name is copied first */
	dbr_http_response_meta(resp, head_value, &head);
	if (want == DBR_HTTP_STREAM_PAUSE && r->on_data &&
	    !(b.framing == BODY_LENGTH && b.left <= b.in.len - b.off) && pause_body(&b) == 0) {
		if (!(resp->body = strdup("")))
			return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		return 0;
	}
	dbr_buf_init(&collected, r->max_response ? r->max_response : DBR_HTTP_DEFAULT_MAX_RESPONSE,
		     1);
	rc = read_body(&b, want >= 1 && r->on_data, r, &collected, err);
	if (rc == 0 && !(resp->body = dbr_buf_detach(&collected, &resp->body_len)))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	dbr_buf_release(&collected);
	if (rc)
		b.reusable = 0;
	body_done(&b, k);
	return rc;
}
