/* OAuth machine-to-machine (auth type "oauth-m2m"): a service principal's
 * client id and secret exchanged for short-lived access tokens.
 *   oauth.c        the token source a credential carries: discovery,
 *                  the client-credentials exchange, refresh before expiry
 *   oauth_parse.c  the answers (discovery document, token, errors) and the
 *                  checks on a client id; no I/O (unit-tested, fuzzable)
 * Access tokens live in secret handles, registered with the masker before
 * anything can show them, in memory only. Internal to libdbroker. */
#ifndef DBROKER_OAUTH_INTERNAL_H
#define DBROKER_OAUTH_INTERNAL_H

#include <stddef.h>

#include "dbroker/errors.h"

struct dbr_credential;
struct dbr_mask;
struct dbr_secret;

#define DBR_OAUTH_DISCOVERY_PATH "/oidc/.well-known/oauth-authorization-server"
#define DBR_OAUTH_SCOPE "all-apis"
#define DBR_OAUTH_CLIENT_ID_MAX 256
/* refresh this long before expiry at most (a quarter of a short lifetime) */
#define DBR_OAUTH_REFRESH_MARGIN_S 300L
/* an expires_in beyond this (a day) is taken as this */
#define DBR_OAUTH_MAX_LIFETIME_S 86400L

/* 1 when id can be a client id: 1..DBR_OAUTH_CLIENT_ID_MAX printable ASCII
 * bytes without spaces or ':' (it goes into HTTP Basic auth), else 0. */
int dbr_oauth_client_id_valid(const char *id);

/* id as a command-line argument in advice ('dbroker login --oauth-m2m
 * --client-id ID'): id itself when it needs no quoting for a shell
 * (letters, digits, '-', '_', '.'; at most 128 bytes), else "<id>". */
const char *dbr_oauth_client_id_arg(const char *id);

/* The token endpoint from a discovery answer (status, content type and body
 * of GET {host}DBR_OAUTH_DISCOVERY_PATH). It must be on host's origin
 * (scheme, host, port): another host or plain http is refused (http only
 * when host itself is http to loopback). *endpoint is malloc'ed, owned by
 * the caller. Returns 0, DBR_E_API (404: the host may not support OAuth;
 * another status, HTML, not JSON, no token_endpoint), DBR_E_AUTH (an
 * endpoint elsewhere: refused), DBR_E_NOMEM; err says which and what to do. */
int dbr_oauth_parse_discovery(const char *host, long status, const char *ctype,
			      const char *body, size_t len, char **endpoint,
			      struct dbr_err *err);

/* Who a token answer is about, for messages: the workspace, the client id
 * and the provider that supplied the secret. */
struct dbr_oauth_who {
	const char *host;
	const char *client_id;
	const char *source;
};

/* A token endpoint's answer. On 200 with JSON {access_token, expires_in > 0,
 * token_type Bearer when present}: *token is a new handle (owned by the
 * caller, not yet registered with the masker), *expires_in in seconds (at
 * most DBR_OAUTH_MAX_LIFETIME_S). Returns 0, DBR_E_AUTH (invalid_client and
 * other 400/401 refusals: err names the client id and the source),
 * DBR_E_API (another status, HTML, not JSON, no access_token, a
 * non-positive or non-numeric expires_in), DBR_E_NOMEM. The access token's
 * bytes never reach err. */
int dbr_oauth_parse_token(const struct dbr_oauth_who *who, long status, const char *ctype,
			  const char *body, size_t len, struct dbr_secret **token,
			  long *expires_in, struct dbr_err *err);

/* Attach a token source to the "oauth-m2m" credential cr: access tokens
 * are minted at the first signed call, through the signer's TLS settings,
 * registered with mask, and refreshed before they expire. mask is borrowed
 * and must outlive cr. Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
int dbr_oauth_attach(struct dbr_credential *cr, struct dbr_mask *mask);

#endif
