/* The exec proxy: server, capability and the checks made before anything
 * is forwarded (proxy.h). Forwarding itself is in proxy_relay.c. */
#include "proxy_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include "dbroker/bytes.h"

#include "dbroker/agent.h"
#include "dbroker/bytes.h"
#include "dbroker/credential.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "banned.h"

#define CAPABILITY_BYTES 32
#define CONNECTION_IDLE_S 300u
/* as much as a worker's (proxy_relay.c): a GET is forwarded on its
 * connection's thread */
#define THREAD_STACK (512u * 1024)
#define BEARER "Bearer "
/* how long a connection refused mid-body is given to take its answer */
#define LINGER_MS 1000L

/* ---- capability ------------------------------------------------------------------ */

/* "dbrcap_" + base64url(32 random bytes), no padding: 50 characters that
 * match no token shape the masker or a scanner knows. */
static int make_capability(struct dbr_secret **out, struct dbr_err *err)
{
	unsigned char raw[CAPABILITY_BYTES];
	char text[sizeof(DBR_PROXY_CAPABILITY_PREFIX) + 4 * CAPABILITY_BYTES / 3 + 4];
	size_t pre = strlen(DBR_PROXY_CAPABILITY_PREFIX);
	int n, rc = 0;

	if (dbr_random_bytes(raw, sizeof(raw)))
		return dbr_err_set(err, DBR_E_INTERNAL, "no random bytes for the proxy's "
				   "capability: check the system's entropy source");
	memcpy(text, DBR_PROXY_CAPABILITY_PREFIX, pre);
	n = (int)dbr_base64_encode(text + pre, raw, sizeof(raw));
	while (n > 0 && text[pre + (size_t)n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++) {
		char *c = &text[pre + (size_t)i];

		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	rc = dbr_secret_new(text, pre + (size_t)n, out);
	dbr_wipe(raw, sizeof(raw));
	dbr_wipe(text, sizeof(text));
	if (rc)
		return dbr_err_set(err, rc, "cannot hold the proxy's capability: %s",
				   dbr_strerror(rc));
	return 0;
}

/* ---- answers --------------------------------------------------------------------- */

/* {"error_code", "message"} as Databricks writes errors, the message
 * masked; cJSON_free() it. NULL when out of memory. */
static char *error_json(const struct dbr_proxy *p, const char *code, const char *message)
{
	cJSON *doc = cJSON_CreateObject();
	char *masked = NULL, *text = NULL;

	if (p->mask && dbr_mask_buffer(p->mask, message, strlen(message), &masked, NULL) == 0)
		message = masked;
	if (doc && cJSON_AddStringToObject(doc, "error_code", code) &&
	    cJSON_AddStringToObject(doc, "message", message))
		text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(masked);
	return text;
}

/* close: the connection closes after the answer (what follows the
 * request on it cannot be framed). */
static enum MHD_Result answer_error(struct dbr_proxy *p, struct MHD_Connection *conn,
				    unsigned status, const char *code, const char *message,
				    int close)
{
	struct MHD_Response *r;
	char *text = error_json(p, code, message);
	enum MHD_Result ok;

	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
	cJSON_free(text);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (close)
		MHD_add_response_header(r, "Connection", "close");
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

enum MHD_Result proxy_answer_error(struct dbr_proxy *p, struct MHD_Connection *conn,
				   unsigned status, const char *code, const char *message)
{
	return answer_error(p, conn, status, code, message, 0);
}

/* ---- checks ---------------------------------------------------------------------- */

/* The request target, without its query, for log lines. */
static void log_refusal(struct dbr_proxy *p, const char *method, const char *target,
			const char *why)
{
	size_t n = strcspn(target, "?");

	if (n > 200)
		n = 200;
	dbr_log_warn(p->log, "exec proxy: refused %s %.*s: %s", method, (int)n, target, why);
}

/* All of buf to the socket, waiting while it is full: 0, or -1. */
static int write_all(int fd, const char *buf, size_t len)
{
	long until = dbr_mono_ms() + LINGER_MS;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    dbr_wait_fd(fd, POLLOUT, until, 0) == 0)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int host_allowed(const struct dbr_proxy *p, const char *host)
{
	if (!host)
		return 0;
	for (size_t i = 0; i < sizeof(p->hosts) / sizeof(p->hosts[0]); i++)
		if (strcasecmp(host, p->hosts[i]) == 0)
			return 1;
	return 0;
}

static int has_capability(const struct dbr_proxy *p, const char *auth)
{
	size_t n = strlen(BEARER);

	if (!auth || strncasecmp(auth, BEARER, n) != 0)
		return 0;
	auth += n;
	return dbr_secret_equal_bytes(p->capability, auth, strlen(auth));
}

static int well_known(const char *method, const char *target)
{
	return (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
	       strcmp(target, PROXY_WELL_KNOWN) == 0;
}

/* The 413's message for a body over the cap (len < 0: not known). */
static void body_cap_message(const struct dbr_proxy *p, long long len, char *msg, size_t cap)
{
	char size[48] = "";

	if (len >= 0)
		snprintf(size, sizeof(size), " (%lld bytes)", len);
	if (p->agent_caps_body)
		snprintf(msg, cap, "the request body%s is over the %zu bytes a call through "
			 "dbroker's agent carries: send a smaller one, or run 'dbroker --no-agent "
			 "exec' to sign in this process", size, p->max_body);
	else
		snprintf(msg, cap, "the request body%s is over dbroker exec's cap of %zu bytes: "
			 "raise it with --max-body", size, p->max_body);
}

/* The 413 for a body over the cap, known from its Content-Length. */
static enum MHD_Result body_too_large(struct dbr_proxy *p, struct MHD_Connection *conn,
				      const char *method, const char *target, long long len)
{
	char msg[240];

	log_refusal(p, method, target, "body over the cap");
	body_cap_message(p, len, msg, sizeof(msg));
	return proxy_answer_error(p, conn, 413, "RESOURCE_LIMIT_EXCEEDED", msg);
}

/* A body (chunked) that passed the cap while it was being read: answered
 * at once rather than when it ends, which an endless one never does.
 * libmicrohttpd 0.9 queues no answer while a body is being read, so the
 * 413 is written to the socket here (nothing else is being written on it:
 * the previous answer was sent before this request was read), the rest
 * of the body is read and dropped for a moment so that the close does not
 * reset the connection before the client has read the answer, and
 * MHD_NO closes it. */
static enum MHD_Result body_over_the_cap(struct dbr_proxy *p, struct MHD_Connection *conn,
					 const char *method, const char *target)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char msg[240], *text, head[160], drop[4096];
	long until = dbr_mono_ms() + LINGER_MS;
	int fd = ci ? ci->connect_fd : -1;

	log_refusal(p, method, target, "body over the cap");
	body_cap_message(p, -1, msg, sizeof(msg));
	text = error_json(p, "RESOURCE_LIMIT_EXCEEDED", msg);
	if (fd < 0 || !text) {
		cJSON_free(text);
		return MHD_NO;
	}
	snprintf(head, sizeof(head), "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(text));
	if (write_all(fd, head, strlen(head)) == 0 && write_all(fd, text, strlen(text)) == 0) {
		shutdown(fd, SHUT_WR);
		while (dbr_wait_fd(fd, POLLIN, until, 0) == 0 && recv(fd, drop, sizeof(drop), 0) > 0)
			;
	}
	cJSON_free(text);
	return MHD_NO;
}

/* Parse a Content-Length strictly; -1 when absent or not a number. */
static long long content_length(const char *v)
{
	long long n = 0;

	if (!v || !*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (1LL << 50))
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n;
}

/* Everything decided from the request line and headers. Returns MHD_YES to
 * go on reading the request, else the answer already queued. */
static enum MHD_Result check_request(struct dbr_proxy *p, struct MHD_Connection *conn,
				     struct exchange *x, const char *method)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
	long long len = content_length(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								   "Content-Length"));
	const struct proxy_refusal *bad = proxy_request_malformed(conn);
	char msg[320];

	/* before anything is read from them: libmicrohttpd may have read the
	 * head (and so the body's length) otherwise than the child meant */
	if (bad) {
		log_refusal(p, method, x->target, bad->log);
		snprintf(msg, sizeof(msg), "dbroker exec refuses a malformed request: %s",
			 bad->message);
		return answer_error(p, conn, 400, "BAD_REQUEST", msg, 1);
	}
	if (strcmp(method, "CONNECT") == 0) {
		log_refusal(p, method, x->target, "CONNECT");
		return proxy_answer_error(p, conn, 400, "BAD_REQUEST", "dbroker exec is not an "
					  "open proxy: CONNECT is refused; send API requests to "
					  "DATABRICKS_HOST");
	}
	/* the workspace (or a server in front of it) would echo the request
	 * back, the real token in its Authorization header with it */
	if (strcmp(method, "TRACE") == 0 || strcmp(method, "TRACK") == 0) {
		log_refusal(p, method, x->target, "it would echo the token");
		return proxy_answer_error(p, conn, 405, "BAD_REQUEST", "dbroker exec does not "
					  "forward TRACE or TRACK: the answer would echo the "
					  "workspace's token");
	}
	if (x->target[0] != '/') {
		log_refusal(p, method, "(absolute URI)", "not a path");
		return proxy_answer_error(p, conn, 400, "BAD_REQUEST", "dbroker exec is not an "
					  "open proxy: send a path (/api/...) to DATABRICKS_HOST, "
					  "not an absolute URI");
	}
	if (!host_allowed(p, host)) {
		log_refusal(p, method, x->target, "a foreign Host header");
		return proxy_answer_error(p, conn, 400, "BAD_REQUEST", "the Host header does not "
					  "name this proxy: use DATABRICKS_HOST as given");
	}
	/* SDKs ask it without a body: one would be carried upstream for anyone
	 * who can reach the port, capability or not */
	if (well_known(method, x->target) && len <= 0 && !te) {
		x->flags |= DBR_CALL_NO_AUTH;
	} else if (!has_capability(p, auth)) {
		log_refusal(p, method, x->target, auth ? "a wrong capability" : "no capability");
		return proxy_answer_error(p, conn, 401, "UNAUTHENTICATED", "dbroker exec: "
					  "authenticate with the DATABRICKS_TOKEN this process was "
					  "started with, as a bearer token; nothing else is accepted");
	}
	/* libmicrohttpd 0.9 takes a body in any other coding as running to the
	 * connection's end: it would wait for that and answer nothing */
	if (te && strcasecmp(te, "chunked") != 0) {
		log_refusal(p, method, x->target, "a Transfer-Encoding other than chunked");
		return proxy_answer_error(p, conn, 400, "BAD_REQUEST", "dbroker exec reads a "
					  "request body by its Content-Length or as Transfer-Encoding: "
					  "chunked, no other coding: send it as one of these");
	}
	if (len > (long long)p->max_body)
		return body_too_large(p, conn, method, x->target, len);
	dbr_buf_init(&x->body, p->max_body, 0);
	return MHD_YES;
}

/* ---- MHD callbacks ----------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct exchange *x = calloc(1, sizeof(*x));

	(void)cls;
	(void)conn;
	if (x && !(x->target = strdup(uri ? uri : ""))) {
		free(x);
		x = NULL;
	}
	return x;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct exchange *x = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (!x)
		return;
	dbr_buf_release(&x->body);
	free(x->target);
	free(x);
	*req_cls = NULL;
}

static struct relay_worker *worker_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct dbr_proxy *p = cls;
	struct exchange *x = *req_cls;

	(void)url;
	(void)version;
	if (!x)
		return proxy_answer_error(p, conn, 500, "INTERNAL_ERROR", "dbroker exec is out "
					  "of memory");
	if (!x->checked) {
		enum MHD_Result r = check_request(p, conn, x, method);

		/* 1: accepted, go on; 2: refused, the answer is queued */
		x->checked = x->body.max ? 1 : 2;
		return r;
	}
	if (x->checked == 2) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		int over = dbr_buf_add(&x->body, upload, *upload_size) != 0;

		*upload_size = 0;
		if (!over)
			return MHD_YES;
		x->checked = 2;
		return body_over_the_cap(p, conn, method, x->target);
	}
	return proxy_relay(p, conn, worker_of(conn), x, method);
}

/* Another local user reaches 127.0.0.1 too. Without the capability they
 * get no further than a 401, but a connection they keep trickling bytes
 * into holds one of the --max-connections slots for as long as they like:
 * enough of them and the child is served nothing. So connections are taken
 * only from sockets this user (or root, who can read this process anyway)
 * owns; the rest are closed before a byte is read. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct dbr_proxy *p = cls;
	struct sockaddr_in peer;
	uid_t uid;

	if (!addr || addr->sa_family != AF_INET || len < (socklen_t)sizeof(peer))
		return MHD_NO;
	memcpy(&peer, addr, sizeof(peer));
	if (proxy_peer_uid(&peer, p->port, &uid) != 0)
		return MHD_NO;
	if (uid == geteuid() || uid == 0)
		return MHD_YES;
	/* once: each of a flood of them would be a line */
	if (!__atomic_exchange_n(&p->turned_away, 1, __ATOMIC_RELAXED))
		dbr_log_warn(p->log, "exec proxy: turned away a connection from uid %u (another "
			     "user: only this user's processes are served; further ones are "
			     "not logged)", (unsigned)uid);
	return MHD_NO;
}

/* Each connection gets its worker (proxy_relay.c) as socket context. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = relay_worker_new(cls);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		relay_worker_free(*socket_context);
		*socket_context = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct dbr_proxy *p = cls;

	dbr_log_vmsg(p->log, DBR_LOG_DEBUG, fmt, ap);
}

/* ---- start and stop ---------------------------------------------------------------- */

static int listen_on(uint16_t port, int *fd_out, uint16_t *bound, struct dbr_err *err)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, e;

	if (fd < 0)
		return dbr_err_set(err, DBR_E_IO, "cannot open a socket for the exec proxy: %s",
				   strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return dbr_err_set(err, DBR_E_IO, "cannot listen on 127.0.0.1:%u: the port "
					   "is in use; choose another --port, or leave --port out "
					   "for a free one", port);
		return dbr_err_set(err, DBR_E_IO, "cannot listen on 127.0.0.1:%u (%s): choose "
				   "a port above 1023, or leave --port out for a free one", port,
				   strerror(e));
	}
	*fd_out = fd;
	*bound = ntohs(a.sin_port);
	return 0;
}

static int copy_options(struct dbr_proxy *p, const struct dbr_client_options *copt,
			const struct dbr_proxy_options *in, struct dbr_err *err)
{
	struct dbr_proxy_options o;

	memset(&o, 0, sizeof(o));
	if (in) {
		if (in->struct_size < sizeof(in->struct_size))
			return dbr_err_set(err, DBR_E_INVAL, "malformed proxy options: set "
					   "struct_size");
		memcpy(&o, in, in->struct_size < sizeof(o) ? in->struct_size : sizeof(o));
	}
	memset(&p->copt, 0, sizeof(p->copt));
	if (copt) {
		if (copt->struct_size < sizeof(copt->struct_size))
			return dbr_err_set(err, DBR_E_INVAL, "malformed client options: set "
					   "struct_size");
		memcpy(&p->copt, copt, copt->struct_size < sizeof(p->copt) ? copt->struct_size
									    : sizeof(p->copt));
	}
	p->copt.struct_size = sizeof(p->copt);
	if ((p->copt.ca_file && !(p->ca_file = strdup(p->copt.ca_file))) ||
	    (p->copt.profile && !(p->profile = strdup(p->copt.profile))))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	p->copt.ca_file = p->ca_file;
	p->copt.profile = p->profile;
	p->log = o.log;
	p->mask = o.mask;
	p->port = o.port;
	p->max_body = o.max_body ? o.max_body : DBR_PROXY_DEFAULT_MAX_BODY;
	p->max_connections = o.max_connections ? o.max_connections
					       : DBR_PROXY_DEFAULT_MAX_CONNECTIONS;
	return 0;
}

/* opt->agent_socket, when the caller's struct has it */
static const char *o_agent(const struct dbr_proxy_options *opt)
{
	size_t end = offsetof(struct dbr_proxy_options, agent_socket) + sizeof(opt->agent_socket);

	return opt && opt->struct_size >= end ? opt->agent_socket : NULL;
}

int proxy_client_new(const struct dbr_proxy *p, struct dbr_client **out, struct dbr_err *err)
{
	if (p->agent_socket)
		return dbr_client_new_agent(p->agent_socket, &p->copt, out, err);
	return dbr_client_new(p->cred, &p->copt, out, err);
}

int dbr_proxy_start(const struct dbr_credential *cred, const struct dbr_client_options *copt,
		    const struct dbr_proxy_options *opt, struct dbr_proxy **out,
		    struct dbr_err *err)
{
	struct dbr_proxy *p;
	struct dbr_client *probe = NULL;
	int fd = -1, rc;

	dbr_err_clear(err);
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no proxy to fill in");
	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	p->cred = cred;
	rc = copy_options(p, copt, opt, err);
	if (rc == 0 && o_agent(opt) && !(p->agent_socket = strdup(o_agent(opt))))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	/* one message to the agent carries the whole body */
	if (p->agent_socket && p->max_body > DBR_AGENT_MAX_BODY) {
		p->max_body = DBR_AGENT_MAX_BODY;
		p->agent_caps_body = 1;
	}
	/* the clients made per connection are refused here, once, if at all */
	if (rc == 0 && (rc = proxy_client_new(p, &probe, err)) == 0)
		dbr_client_free(probe);
	if (rc == 0)
		rc = dbr_mhd_load(err);
	if (rc == 0)
		rc = make_capability(&p->capability, err);
	if (rc == 0)
		rc = listen_on(p->port, &fd, &p->port, err);
	if (rc) {
		dbr_proxy_stop(p);
		return rc;
	}
	snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%u", p->port);
	snprintf(p->hosts[0], sizeof(p->hosts[0]), "127.0.0.1:%u", p->port);
	snprintf(p->hosts[1], sizeof(p->hosts[1]), "localhost:%u", p->port);
	snprintf(p->hosts[2], sizeof(p->hosts[2]), "[::1]:%u", p->port);
	p->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
		MHD_USE_ERROR_LOG, 0, on_accept, p, on_request, p,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, p->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_IDLE_S,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, p,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, p,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, p,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, p,
		MHD_OPTION_END);
	if (!p->daemon) {
		close(fd);
		dbr_proxy_stop(p);
		return dbr_err_set(err, DBR_E_IO, "cannot start the exec proxy's HTTP server: "
				   "check the connection limit and free memory");
	}
	dbr_log_debug(p->log, "exec proxy: listening on %s", p->url);
	*out = p;
	return 0;
}

uint16_t dbr_proxy_port(const struct dbr_proxy *p)
{
	return p ? p->port : 0;
}

const char *dbr_proxy_url(const struct dbr_proxy *p)
{
	return p ? p->url : NULL;
}

const struct dbr_secret *dbr_proxy_capability(const struct dbr_proxy *p)
{
	return p ? p->capability : NULL;
}

void dbr_proxy_stop(struct dbr_proxy *p)
{
	if (!p)
		return;
	if (p->daemon)
		MHD_stop_daemon(p->daemon);
	dbr_secret_free(p->capability);
	free(p->ca_file);
	free(p->profile);
	free(p->agent_socket);
	free(p);
}
