/* dbroker-layer: serve */
/* The exec proxy: a local HTTP server that signs requests for a child.
 *
 * It listens on 127.0.0.1 (a random port unless one is asked for) and
 * forwards every request that carries the capability in "Authorization:
 * Bearer <capability>" to the credential's workspace through the signer
 * (dbr_client_forward: verified TLS, the real credential, the retry policy
 * for safe methods), relaying answers with their status and headers
 * (hop-by-hop headers, cookies and the upstream Date removed): up to 256
 * KiB whole, a larger 2xx answer streamed as it arrives (a GET whose
 * answer turns out larger is asked again, to be streamed).
 *
 * The capability is 32 random bytes, base64url-encoded after the prefix
 * "dbrcap_" (so it looks like no Databricks or Vault token), compared in
 * constant time, and worthless once the proxy stops.
 *
 * Refused without forwarding (JSON bodies shaped like Databricks errors,
 * {"error_code", "message"}):
 *   400 CONNECT, an absolute-URI or "*" request target, a Host other than
 *       127.0.0.1:PORT, localhost:PORT or [::1]:PORT (no open proxy, no DNS
 *       rebinding), a path dbr_client_forward refuses;
 *   401 a missing or wrong capability (logged at WARN without the value);
 *       the one exception is GET/HEAD /.well-known/databricks-config, which
 *       the SDKs ask first and which is forwarded without any credential;
 *   413 a body over max_body (by Content-Length, or while reading);
 *   502 no answer from the workspace (TLS, network, oversized error
 *       answer), 504 a timeout: the message says what dbroker saw.
 * Connections beyond max_connections are refused by the server.
 */
#ifndef DBROKER_PROXY_H
#define DBROKER_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_credential;
struct dbr_client_options;
struct dbr_log;
struct dbr_mask;
struct dbr_secret;
struct dbr_proxy;

#define DBR_PROXY_DEFAULT_MAX_BODY (64u * 1024 * 1024)
#define DBR_PROXY_DEFAULT_MAX_CONNECTIONS 32u
#define DBR_PROXY_CAPABILITY_PREFIX "dbrcap_"

/* Append-only; fields a shorter struct lacks count as zero. */
struct dbr_proxy_options {
	uint32_t struct_size;      /* sizeof(struct dbr_proxy_options) */
	uint16_t port;             /* 0: a random free port */
	size_t max_body;           /* request body cap; 0: the default; with
				      agent_socket at most DBR_AGENT_MAX_BODY */
	unsigned max_connections;  /* 0: the default */
	struct dbr_log *log;       /* refusals (WARN), requests (DEBUG); may be
				      NULL; borrowed */
	struct dbr_mask *mask;     /* masks the proxy's own error messages, and
				      an answer holding one of its secrets
				      (register the credential's) is
				      withheld; may be NULL; borrowed */
	const char *agent_socket;  /* sign through the agent there (agent.h)
				      instead of with cred, which is then
				      NULL; copied */
};

/* Start a proxy for cred (borrowed: must outlive the proxy) with clients
 * built from copt (copied; NULL: defaults), or, with opt->agent_socket,
 * for the agent's credential of copt->profile (dbr_client_new_agent: the
 * profile is opened in the agent here). Nothing is sent to the workspace
 * here. *out is cleared on entry, set on success (stop with
 * dbr_proxy_stop). Returns 0, DBR_E_INVAL (bad options, or cred/copt
 * refused by dbr_client_new), DBR_E_IO (the port cannot be bound: err
 * says why and what to do), DBR_E_NOMEM. */
DBR_API int dbr_proxy_start(const struct dbr_credential *cred,
			    const struct dbr_client_options *copt,
			    const struct dbr_proxy_options *opt, struct dbr_proxy **out,
			    struct dbr_err *err);

/* The port it listens on; 0 for NULL. */
DBR_API uint16_t dbr_proxy_port(const struct dbr_proxy *p);

/* "http://127.0.0.1:PORT", owned by the proxy; NULL for NULL. */
DBR_API const char *dbr_proxy_url(const struct dbr_proxy *p);

/* The capability, owned by the proxy (register it with the masker; hand
 * it to the child with dbr_child_spawn); NULL for NULL. */
DBR_API const struct dbr_secret *dbr_proxy_capability(const struct dbr_proxy *p);

/* Stop listening, finish or cut the requests in flight, wipe the
 * capability and free. NULL is a no-op. */
DBR_API void dbr_proxy_stop(struct dbr_proxy *p);

#ifdef __cplusplus
}
#endif
#endif
