/* Building a credential (the chain and `login --verify` do) and reaching
 * its bearer token (the signer does). Internal to libdbroker. */
#ifndef DBROKER_CREDENTIAL_INTERNAL_H
#define DBROKER_CREDENTIAL_INTERNAL_H

#include "dbroker/credential.h"

struct dbr_log;

/* A credential that takes over host (malloc'ed, normalised) and token
 * (registered with the masker) on success and on failure alike;
 * host_origin must be a string that lives as long as the program (a
 * provider's name or a literal); source is copied. *out is owned by the
 * caller (dbr_credential_free). Returns 0, DBR_E_INVAL (a NULL argument),
 * DBR_E_NOMEM. */
int dbr_credential_make(char *host, const char *host_origin, const char *source,
			struct dbr_secret *token, struct dbr_credential **out);

/* The same for auth type "oauth-m2m": takes over host, client_id
 * (malloc'ed) and client_secret (registered with the masker) on success
 * and failure alike. It signs nothing until a token source is attached
 * (dbr_credential_set_token_source). Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
int dbr_credential_make_m2m(char *host, const char *host_origin, const char *source,
			    char *client_id, struct dbr_secret *client_secret,
			    struct dbr_credential **out);

/* How a token source reaches its token endpoint: the signer's own TLS
 * settings and limits, so one policy covers both. */
struct dbr_token_fetch {
	const char *ca_file;           /* PEM bundle, or NULL: system store */
	int allow_insecure_loopback;   /* http:// to loopback (test servers) */
	long timeout_ms;               /* per request, > 0 */
	struct dbr_log *log;           /* may be NULL */
	long deadline_ms;              /* dbr_mono_ms() by which the whole fetch,
					* retries included, ends; 0: none */
};

/* Short-lived access tokens minted from the credential's client id and
 * secret (the auth layer's OAuth module implements it). */
struct dbr_token_source_ops {
	/* The current access token in *out (owned by the source, valid while
	 * it lives): minted when none is held, when the held one is within the
	 * refresh margin of its expiry, or when it is refused (the token the
	 * workspace answered 401 to, else NULL) and still the one held. A
	 * caller refused a token another caller has renewed since gets the
	 * renewed one: N requests refused at once mint one token. Returns 0
	 * or a DBR_E* code with err set. */
	int (*get)(void *ctx, const struct dbr_token_fetch *how, const struct dbr_secret *refused,
		   const struct dbr_secret **out, struct dbr_err *err);
	/* When the held token expires (epoch seconds), 0 if none is held. */
	long long (*expires_at)(void *ctx);
	/* The access token held now, or NULL; never mints (owned by the
	 * source, valid while it lives). */
	const struct dbr_secret *(*held)(void *ctx);
	/* Wipe and release ctx. */
	void (*free)(void *ctx);
};

/* Attach ops/ctx to an "oauth-m2m" credential; ctx is taken over (freed
 * with ops->free on failure too). Returns 0 or DBR_E_INVAL. */
int dbr_credential_set_token_source(struct dbr_credential *cr,
				    const struct dbr_token_source_ops *ops, void *ctx);

/* The bearer token held now without minting one: the PAT, the token
 * source's current access token, or NULL. Owned by the credential. For
 * masking what a server said back. */
const struct dbr_secret *dbr_credential_held_bearer(const struct dbr_credential *cr);

/* 1 when the credential's bearer token can be renewed (a 401 is worth one
 * refresh), else 0. */
int dbr_credential_refreshable(const struct dbr_credential *cr);

/* The token to send as "Authorization: Bearer" now: the PAT, or the token
 * source's current access token (refused: the one the workspace answered
 * 401 to, renewed unless another caller did so already; NULL: none). *out
 * is owned by the credential. Returns 0, DBR_E_INVAL (an "oauth-m2m"
 * credential without a token source) or the source's code, with err set. */
int dbr_credential_bearer(const struct dbr_credential *cr, const struct dbr_token_fetch *how,
			  const struct dbr_secret *refused, const struct dbr_secret **out,
			  struct dbr_err *err);

#endif
