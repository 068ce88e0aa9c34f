/* Internals of the exec proxy (proxy.h): proxy.c (server, checks),
 * proxy_relay.c (forwarding and streaming). Internal to libdbroker. */
#ifndef DBROKER_PROXY_INTERNAL_H
#define DBROKER_PROXY_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "buf.h"
#include "dbroker/proxy.h"
#include "dbroker/request.h"

#define PROXY_WELL_KNOWN "/.well-known/databricks-config"

struct dbr_proxy {
	const struct dbr_credential *cred;   /* borrowed; NULL via an agent */
	char *agent_socket;                  /* sign through this agent */
	struct dbr_client_options copt;      /* strings below are copies */
	char *ca_file;
	char *profile;
	struct dbr_log *log;                 /* borrowed, may be NULL */
	struct dbr_mask *mask;               /* borrowed, may be NULL */
	size_t max_body;                     /* the agent's cap, if lower */
	int agent_caps_body;                 /* max_body is the agent's */
	unsigned max_connections;
	uint16_t port;
	char url[64];                        /* http://127.0.0.1:PORT */
	char hosts[3][40];                   /* the Host values accepted */
	struct dbr_secret *capability;
	struct MHD_Daemon *daemon;
	int turned_away;                     /* another user's connection was */
};

/* One request, from the URI log callback to the completion notice. */
struct exchange {
	char *target;          /* the request target as received */
	int checked;           /* 0 new, 1 accepted, 2 refused (answered) */
	unsigned flags;        /* DBR_CALL_* for the forward */
	struct dbr_buf body;   /* capped at max_body */
};

/* A request refused for its head: what the log line says, and what the
 * child is told. */
struct proxy_refusal {
	const char *log;
	const char *message;
};

/* What makes the request's head ambiguous or malformed (proxy_request.c):
 * a folded header line, a NUL or another control character in a header,
 * a malformed name, two Host or Transfer-Encoding headers, Content-Length
 * headers that differ, or Content-Length with Transfer-Encoding. NULL when
 * none. */
const struct proxy_refusal *proxy_request_malformed(struct MHD_Connection *conn);

/* A workspace client for one connection: with the proxy's credential, or
 * through its agent. Returns dbr_client_new()'s or
 * dbr_client_new_agent()'s codes. */
int proxy_client_new(const struct dbr_proxy *p, struct dbr_client **out, struct dbr_err *err);

/* Answer with a Databricks-shaped JSON error {"error_code", "message"}
 * (message masked). Returns MHD_queue_response()'s answer. */
enum MHD_Result proxy_answer_error(struct dbr_proxy *p, struct MHD_Connection *conn,
				   unsigned status, const char *code, const char *message);

/* A connection's worker thread and client (proxy_relay.c), made when the
 * connection is accepted; the thread starts with the first forward.
 * relay_worker_new returns NULL when out of memory; relay_worker_free
 * (NULL is fine) stops and joins the thread, once the connection closed. */
struct relay_worker;
struct relay_worker *relay_worker_new(struct dbr_proxy *p);
void relay_worker_free(struct relay_worker *w);

/* Forward the exchange upstream on the connection's worker w and queue
 * the answer: streamed for a large or unsized 2xx, whole otherwise, a
 * 502/504 error when nothing came back. */
enum MHD_Result proxy_relay(struct dbr_proxy *p, struct MHD_Connection *conn,
			    struct relay_worker *w, struct exchange *x, const char *method);

/* 1 if a header with this name must not cross the proxy in either
 * direction (hop-by-hop, credentials, cookies, framing); connection is the
 * message's Connection header value (its tokens are hop-by-hop too), or
 * NULL. */
int proxy_header_dropped(const char *name, const char *connection);

/* 1 if the header name must not cross: always dropped, or named by any of
 * the message's Connection headers (h[0..n)). */
int proxy_header_dropped_in(const struct dbr_http_header *h, size_t n, const char *name);

#define PROXY_HEADERS_MAX 128

/* Headers copied out of MHD or libcurl, owned: names and values are freed
 * by proxy_headers_clear(). */
struct proxy_headers {
	struct dbr_http_header h[PROXY_HEADERS_MAX];
	size_t n;
};

void proxy_headers_clear(struct proxy_headers *s);

/* Append a copy (value NULL: ""). Past PROXY_HEADERS_MAX the rest is
 * dropped. Returns 0, or -1 out of memory (nothing added). */
int proxy_headers_add(struct proxy_headers *s, const char *name, const char *value);

/* The uid owning the client's socket of the loopback TCP connection from
 * peer to this proxy's port (peer_uid.c). Returns 0 with *uid set, or -1:
 * no such socket (it closed), or nothing could tell. */
int proxy_peer_uid(const struct sockaddr_in *peer, uint16_t port, uid_t *uid);

/* Load libmicrohttpd (mhd_lazy.c) if it is not yet. Returns 0, or DBR_E_IO
 * with a message naming the library and how to install it. */
int dbr_mhd_load(struct dbr_err *err);

#endif
