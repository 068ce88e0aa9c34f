/* The exec proxy's forwarding.
 *
 * A GET or HEAD runs on the connection's own thread, on the upstream
 * connection that thread keeps (net/http_kept.c): a 2xx body is paused
 * after the head (DBR_HTTP_STREAM_PAUSE), so the head goes to the
 * connection at once and the body follows as libmicrohttpd reads it
 * (proxy_relay_stream.c), of any size. Every other method runs on the
 * connection's worker thread, started with the first such request and kept
 * until the connection closes, so that a large or unsized 2xx answer can be
 * streamed to the connection through a bounded ring as it arrives while the
 * connection's thread sends it; a 2xx answer of up to 256 KiB is collected
 * and sent whole, headers and body in one write. A GET that libcurl
 * carries instead (a redirect, an answer the kept connection hands back) is
 * collected the same way, and asked again on the worker when it outgrows
 * the ring (a GET is safe to repeat). Either way a connection's requests
 * use one client, and each thread keeps its libcurl handle between requests
 * (net/http_share.c). Error answers are sent whole once the retry policy is
 * done with them. Through an agent an answer arrives whole in one message:
 * a GET's is sent whole, whatever its size, and a client whose connection
 * to the agent broke is replaced by a new one. An answer that carries the
 * credential (a workspace, or a server in between, that echoes it) is
 * withheld: a 502 when it is sent whole, a cut when it is streamed. */
#include "proxy_relay.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "dbroker/bytes.h"

#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "banned.h"

#define WORKER_STACK (512u * 1024)

/* A connection's worker (the connection's socket context). */
struct relay_worker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int started;
	int stop;
	struct relay *job;         /* the request to run; NULL when idle */
	struct dbr_proxy *p;
	struct dbr_client *client; /* the connection's; used by one thread at a
				      time: the connection's, or the worker
				      while the connection's waits for it */
};

/* ---- forwarding side (libcurl callbacks) ------------------------------------------ */

/* Strict decimal; MHD_SIZE_UNKNOWN when it is not one (then chunked). */
static uint64_t content_length(const char *v)
{
	uint64_t n = 0;

	if (!v || !*v)
		return MHD_SIZE_UNKNOWN;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (1ULL << 50))
			return MHD_SIZE_UNKNOWN;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	return n;
}

int relay_carries_secret(const struct dbr_proxy *p, const char *text, size_t len)
{
	return dbr_mask_has_secret(p->mask, text, len);
}

/* Room for n bytes in the ring, from its start (nothing was sent from it
 * yet): it grows with a collected answer, up to RING_CAP. 0, or -1 when
 * out of memory. */
static int ring_reserve(struct relay *r, size_t n)
{
	size_t cap = r->ring_cap ? r->ring_cap : 4096;
	char *grown;

	if (n <= r->ring_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (cap > RING_CAP)
		cap = RING_CAP;
	if (!(grown = malloc(cap)))
		return -1;
	if (r->ring) {
		memcpy(grown, r->ring, r->ring_len);
		dbr_wipe(r->ring, r->ring_cap);
		free(r->ring);
	}
	r->ring = grown;
	r->ring_cap = cap;
	return 0;
}

static int has_body(const struct relay *r, long status)
{
	return status >= 200 && status <= 299 && status != 204 && status != 205 && !r->head;
}

static int on_headers(void *arg, long status, const struct dbr_http_header *h, size_t n)
{
	struct relay *r = arg;
	int rc = 0, gone;

	uint64_t length = MHD_SIZE_UNKNOWN;
	int coded = 0;

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].name, "Content-Length") == 0)
			length = content_length(h[i].value);
		else if (strcasecmp(h[i].name, "Transfer-Encoding") == 0)
			coded = 1;
	/* the body was read by its Transfer-Encoding, which overrides a
	 * Content-Length (RFC 9112 6.3): sent with that, the child's answer
	 * would be cut where the length says, or wait for bytes never sent */
	if (coded)
		length = MHD_SIZE_UNKNOWN;
	pthread_mutex_lock(&r->mu);
	/* part of an answer went to the connection: another cannot follow */
	if (r->streaming) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	r->length = length;
	proxy_headers_clear(&r->down);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (proxy_header_dropped_in(h, n, h[i].name))
			continue;
		/* a workspace (or a server in between) that echoes the token */
		if (relay_carries_secret(r->p, h[i].value, strlen(h[i].value))) {
			r->withheld = 1;
			rc = -1;
			break;
		}
		rc = proxy_headers_add(&r->down, h[i].name, h[i].value);
	}
	r->status = status;
	/* a retried attempt starts its body afresh */
	r->collect = 0;
	r->ring_head = r->ring_len = 0;
	if (rc == 0 && has_body(r, status)) {
		/* here: paused on the kept connection (streamed from this thread,
		 * any size), or, from an agent, left whole in the response; else
		 * collected until it outgrows the ring (on_data), then asked
		 * again on the worker */
		r->collect = r->here ? !r->whole : length != MHD_SIZE_UNKNOWN;
		r->streaming = !r->here && !r->collect;
		/* here, no ring up front: a paused body needs none, and on_data
		 * grows it as a collected one comes */
		if (!r->here && ring_reserve(r, r->streaming ? RING_CAP
					     : length != MHD_SIZE_UNKNOWN ? (size_t)length : 0)) {
			r->collect = r->streaming = 0;
			rc = -1;
		}
	}
	gone = r->client_gone;
	/* the connection waits for streaming or done: wake it only for the first */
	if (r->streaming)
		pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (rc || gone || r->redo)
		return -1;
	/* here, on the kept connection: the head goes to the client while the
	 * body is still on its way (relay_queue_stream) */
	if (r->here && r->collect)
		return DBR_HTTP_STREAM_PAUSE;
	return r->collect || r->streaming;
}

static int on_data(void *arg, const char *data, size_t len)
{
	struct relay *r = arg;
	int gone;

	pthread_mutex_lock(&r->mu);
	if (r->collect) {
		if (len <= RING_CAP - r->ring_len) {
			if (ring_reserve(r, r->ring_len + len)) {
				pthread_mutex_unlock(&r->mu);
				return 1;
			}
			memcpy(r->ring + r->ring_len, data, len);
			r->ring_len += len;
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
		r->collect = 0;
		if (r->here || ring_reserve(r, RING_CAP)) {
			r->redo = r->here;
			pthread_mutex_unlock(&r->mu);
			return 1;
		}
		/* more than its Content-Length said: streamed after all */
		r->length = MHD_SIZE_UNKNOWN;
		r->streaming = 1;
		pthread_cond_broadcast(&r->cv);
	}
	while (len && !r->client_gone) {
		size_t tail, room, k;

		while (r->ring_len == RING_CAP && !r->client_gone)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->client_gone)
			break;
		tail = (r->ring_head + r->ring_len) % RING_CAP;
		room = RING_CAP - r->ring_len;
		k = len < room ? len : room;
		if (k > RING_CAP - tail)
			k = RING_CAP - tail;
		memcpy(r->ring + tail, data, k);
		r->ring_len += k;
		data += k;
		len -= k;
		pthread_cond_broadcast(&r->cv);
	}
	gone = r->client_gone;
	pthread_mutex_unlock(&r->mu);
	return gone;
}

/* dbr_forward.abandoned: the child closed its connection (or its side of
 * it) while the request waits to be retried, e.g. after its own timeout:
 * retrying would hold the connection, and its slot, for nothing. Only
 * peeked at: a request the child sent after this one stays unread. */
static int client_hung_up(void *arg)
{
	struct relay *r = arg;
	char c;
	ssize_t n;

	if (r->client_fd < 0)
		return 0;
	n = recv(r->client_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
		return 0;
	pthread_mutex_lock(&r->mu);
	r->client_left = 1;
	pthread_mutex_unlock(&r->mu);
	return 1;
}

/* The connection's client, made with its first forward, and again when
 * its connection to the agent was lost (it would fail every call). */
static int relay_worker_client(struct relay_worker *w, struct dbr_err *err)
{
	if (w->client && !dbr_client_agent_lost(w->client))
		return 0;
	dbr_client_free(w->client);
	w->client = NULL;
	return proxy_client_new(w->p, &w->client, err);
}

int relay_withhold(struct dbr_err *err)
{
	dbr_err_clear(err);
	return dbr_err_set(err, DBR_E_API, "the workspace's answer carried the credential dbroker "
			   "signs with, so dbroker exec withheld it: check that the host is a "
			   "Databricks workspace URL and what any proxy in between does");
}

/* Forward one request, on the connection's thread (here) or the worker's. */
static void relay_run(struct relay_worker *w, struct relay *r)
{
	struct dbr_forward f;
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	long t0 = dbr_mono_ms();
	int rc;

	memset(&f, 0, sizeof(f));
	f.struct_size = sizeof(f);
	f.method = r->method;
	f.path = r->target;
	f.headers = r->up.h;
	f.n_headers = r->up.n;
	f.body = r->body;
	f.body_len = r->body_len;
	f.flags = r->flags;
	f.on_headers = on_headers;
	f.on_data = on_data;
	f.stream_arg = r;
	f.abandoned = client_hung_up;
	rc = dbr_client_forward(w->client, &f, &resp, &err);
	/* the connection to the agent broke before any answer (an agent that
	 * restarted), and the request either never reached it or is a read:
	 * once more on a new connection */
	if (rc && !r->status && dbr_client_agent_lost(w->client) &&
	    !dbr_client_outcome_unknown(w->client)) {
		dbr_err_clear(&err);
		if ((rc = relay_worker_client(w, &err)) == 0)
			rc = dbr_client_forward(w->client, &f, &resp, &err);
	}
	r->paused = dbr_http_pause_take();
	if (r->withheld)
		rc = relay_withhold(&err);
	if (r->redo)
		dbr_log_debug(w->p->log, "exec proxy: %s %.*s: the answer is over %u KiB: "
			      "asking again to stream it", r->method,
			      (int)strcspn(r->target, "?"), r->target, RING_CAP / 1024);
	else
		dbr_log_debug(w->p->log, "exec proxy: %s %.*s: %ld%s (%ld ms)", r->method,
			      (int)strcspn(r->target, "?"), r->target, rc ? 0L : resp.status,
			      rc ? " (no answer)" : "", dbr_mono_ms() - t0);
	/* idle before done: once done is set, r may be freed at any moment
	 * (relay_free), and relay_worker_free() only reaches r through job */
	if (r->submitted) {
		pthread_mutex_lock(&w->mu);
		w->job = NULL;
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_lock(&r->mu);
	r->rc = rc;
	r->err = err;
	r->resp = resp;
	r->done = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* After a redo: the answer's state back to new, for the worker. */
static void relay_reset(struct relay *r)
{
	proxy_headers_clear(&r->down);
	dbr_http_response_release(&r->resp);
	dbr_err_clear(&r->err);
	r->here = r->collect = r->streaming = r->redo = r->done = r->rc = r->withheld = 0;
	r->status = 0;
	r->length = MHD_SIZE_UNKNOWN;
	if (r->ring)
		dbr_wipe(r->ring, r->ring_cap);
	r->ring_head = r->ring_len = 0;
}

static void *work(void *arg)
{
	struct relay_worker *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct relay *r;

		while (!w->job && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->job)
			break;
		r = w->job;
		pthread_mutex_unlock(&w->mu);
		relay_run(w, r);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct relay_worker *relay_worker_new(struct dbr_proxy *p)
{
	struct relay_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->p = p;
	return w;
}

/* The thread, at the connection's first forward that needs it. */
static int relay_worker_start(struct relay_worker *w)
{
	pthread_attr_t at;

	if (w->started)
		return 0;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, WORKER_STACK);
	w->started = pthread_create(&w->thread, &at, work, w) == 0;
	pthread_attr_destroy(&at);
	return w->started ? 0 : -1;
}

void relay_worker_free(struct relay_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		/* a request still running (its answer outlived the connection)
		 * stops at its next callback */
		if (w->job) {
			pthread_mutex_lock(&w->job->mu);
			w->job->client_gone = 1;
			pthread_cond_broadcast(&w->job->cv);
			pthread_mutex_unlock(&w->job->mu);
		}
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	dbr_client_free(w->client);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* ---- connection side --------------------------------------------------------------- */

void relay_free(struct relay *r)
{
	if (!r)
		return;
	if (r->submitted) {
		pthread_mutex_lock(&r->mu);
		r->client_gone = 1;
		pthread_cond_broadcast(&r->cv);
		while (!r->done)
			pthread_cond_wait(&r->cv, &r->mu);
		pthread_mutex_unlock(&r->mu);
	}
	proxy_headers_clear(&r->up);
	proxy_headers_clear(&r->down);
	dbr_http_paused_free(r->paused);
	dbr_http_response_release(&r->resp);
	if (r->body) {
		dbr_wipe(r->body, r->body_len);
		free(r->body);
	}
	if (r->ring)
		dbr_wipe(r->ring, r->ring_cap);
	free(r->ring);
	if (r->held)
		dbr_wipe(r->held, r->held_cap);
	free(r->held);
	free(r->target);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static enum MHD_Result collect_up(void *cls, enum MHD_ValueKind kind, const char *name,
				    const char *value)
{
	struct relay *r = cls;

	(void)kind;
	if (proxy_header_dropped_in(r->down.h, r->down.n, name))
		return MHD_YES;
	return proxy_headers_add(&r->up, name, value) ? MHD_NO : MHD_YES;
}

/* The request's Connection headers, every one, into r->down for collect_up. */
static enum MHD_Result collect_connection(void *cls, enum MHD_ValueKind kind,
					  const char *name, const char *value)
{
	struct relay *r = cls;

	(void)kind;
	if (strcasecmp(name, "Connection") != 0)
		return MHD_YES;
	return proxy_headers_add(&r->down, name, value) ? MHD_NO : MHD_YES;
}

void relay_add_down_headers(struct MHD_Response *resp, const struct relay *r)
{
	for (size_t i = 0; i < r->down.n; i++)
		MHD_add_response_header(resp, r->down.h[i].name, r->down.h[i].value);
}

/* MHD_ContentReaderCallback of an answer without a body: never called. */
static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The answer to a HEAD, or a 304, with the workspace's Content-Length (the
 * length of the body a GET would get). libmicrohttpd 0.9 sends the size of
 * the response object as Content-Length, also for these (none for a 204),
 * and refuses one set as a header; it asks for no body here. Without a
 * length from the workspace, none is sent: unsized, the answer would get
 * chunked framing (and its end written as a body), so it goes out in
 * HTTP/1.0 style, and the connection closes after it. */
static struct MHD_Response *bodiless(const struct relay *r)
{
	struct MHD_Response *resp;

	if (r->resp.status == 204)
		return MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	resp = MHD_create_response_from_callback(r->length, 1024, no_body, NULL, NULL);
	if (resp && r->length == MHD_SIZE_UNKNOWN &&
	    MHD_set_response_options(resp, MHD_RF_HTTP_VERSION_1_0_ONLY, MHD_RO_END) != MHD_YES) {
		MHD_destroy_response(resp);
		resp = NULL;
	}
	return resp;
}

/* The body of an answer sent whole: a 2xx's collected in the ring, any
 * other's (or none) in resp. */
static const char *whole_body(const struct relay *r, size_t *len)
{
	if (r->collect && r->ring_len) {
		*len = r->ring_len;
		return r->ring;
	}
	*len = r->resp.body_len;
	return r->resp.body;
}

static enum MHD_Result queue_whole(struct dbr_proxy *p, struct MHD_Connection *conn,
				   struct relay *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;
	size_t body_len;
	const char *body = whole_body(r, &body_len);

	/* nobody to answer: the connection closes, and frees its slot */
	if (r->client_left) {
		dbr_log_warn(p->log, "exec proxy: the client of %s %.*s went away while the "
			     "request waited to be retried: not retried further", r->method,
			     (int)strcspn(r->target, "?"), r->target);
		relay_free(r);
		return MHD_NO;
	}
	/* a body sent whole is looked at whole */
	if (!r->rc && !r->head && relay_carries_secret(p, body, body_len)) {
		r->rc = relay_withhold(&r->err);
	} else if (!r->rc && (r->resp.status < 200 || r->resp.status > 599)) {
		/* a 1xx as the final answer (101 switches the connection to
		 * another protocol) or a status HTTP does not have: relayed,
		 * the child would wait for an answer that never comes, or
		 * misread it */
		r->rc = DBR_E_NETWORK;
		dbr_err_set(&r->err, r->rc, "the workspace answered with status %ld, not a final "
			    "HTTP answer (200 to 599): check that the host is a Databricks workspace "
			    "URL and what any proxy in between does", r->resp.status);
	}
	if (r->rc) {
		unsigned st = r->rc == DBR_E_TIMEOUT ? 504 : r->rc == DBR_E_INVAL ? 400 : 502;
		const char *code = st == 504 ? "DEADLINE_EXCEEDED" : st == 400 ?
				   "INVALID_PARAMETER_VALUE" : "BAD_GATEWAY";
		char msg[DBR_ERR_MSG_MAX + 64];

		snprintf(msg, sizeof(msg), "dbroker exec could not forward the request: %s",
			 r->err.msg);
		dbr_log_warn(p->log, "exec proxy: %s %.*s: %s", r->method,
			     (int)strcspn(r->target, "?"), r->target, r->err.msg);
		ok = proxy_answer_error(p, conn, st, code, msg);
		relay_free(r);
		return ok;
	}
	if (r->resp.status == 401 || r->resp.status == 403)
		dbr_log_warn(p->log, "exec proxy: the workspace answered %ld to %s %.*s: the "
			     "credential dbroker holds may have expired or lack the permission",
			     r->resp.status, r->method, (int)strcspn(r->target, "?"), r->target);
	if (r->head || r->resp.status == 304)
		resp = bodiless(r);
	else
		resp = MHD_create_response_from_buffer(body_len, (void *)body,
						       MHD_RESPMEM_MUST_COPY);
	if (!resp) {
		relay_free(r);
		return MHD_NO;
	}
	relay_add_down_headers(resp, r);
	ok = MHD_queue_response(conn, (unsigned)r->resp.status, resp);
	MHD_destroy_response(resp);
	relay_free(r);
	return ok;
}

static int relay_new(struct dbr_proxy *p, struct MHD_Connection *conn, struct exchange *x,
		     const char *method, struct relay **out)
{
	struct relay *r = calloc(1, sizeof(*r));
	const union MHD_ConnectionInfo *ci;

	*out = r;
	if (!r)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->p = p;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	r->client_fd = ci ? ci->connect_fd : -1;
	snprintf(r->method, sizeof(r->method), "%s", method);
	r->head = strcmp(method, "HEAD") == 0;
	r->flags = x->flags;
	r->body = dbr_buf_detach(&x->body, &r->body_len);
	if (r->body && r->body_len == 0) {
		free(r->body);
		r->body = NULL;
	}
	/* collect_up reads the request's Connection headers through r->down */
	if (MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_connection, r) < 0 ||
	    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_up, r) < 0)
		return -1;
	proxy_headers_clear(&r->down);
	if (!(r->target = strdup(x->target)))
		return -1;
	return 0;
}

enum MHD_Result proxy_relay(struct dbr_proxy *p, struct MHD_Connection *conn,
			    struct relay_worker *w, struct exchange *x, const char *method)
{
	struct relay *r;
	int streaming;

	/* no worker: out of memory when the connection was accepted */
	if (!w)
		return proxy_answer_error(p, conn, 500, "INTERNAL_ERROR", "dbroker exec is out of "
					  "memory");
	if (relay_new(p, conn, x, method, &r)) {
		relay_free(r);
		return proxy_answer_error(p, conn, 500, "INTERNAL_ERROR", "dbroker exec is out of "
					  "memory");
	}
	if ((r->rc = relay_worker_client(w, &r->err))) {
		r->done = 1;
		return queue_whole(p, conn, r);
	}
	/* a read runs here: no hand-over to another thread and back */
	r->here = strcmp(method, "GET") == 0 || r->head;
	r->whole = dbr_client_agent_source(w->client) != NULL;
	if (r->here) {
		relay_run(w, r);
		if (r->paused && r->rc == 0)
			return relay_queue_stream(conn, r);
		if (!r->redo)
			return queue_whole(p, conn, r);
		relay_reset(r);
	}
	if (relay_worker_start(w)) {
		relay_free(r);
		return proxy_answer_error(p, conn, 503, "TEMPORARILY_UNAVAILABLE", "dbroker exec "
					  "cannot start another request now: try again");
	}
	pthread_mutex_lock(&w->mu);
	w->job = r;
	r->submitted = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_lock(&r->mu);
	while (!r->streaming && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	streaming = r->streaming;
	pthread_mutex_unlock(&r->mu);
	if (streaming)
		return relay_queue_stream(conn, r);
	return queue_whole(p, conn, r);
}
