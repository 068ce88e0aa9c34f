/* dbroker-layer: core */
/* A resolved credential: a workspace URL, what signs requests and where
 * both came from. A plain value type low in the stack, so the signer (net)
 * can take one without knowing the credential chain (auth) that builds it.
 *
 * Two auth types: "pat" (a personal access token, sent as it is) and
 * "oauth-m2m" (a service principal's client id and client secret, exchanged
 * for short-lived access tokens by a token source the auth layer attaches;
 * the signer asks it for the current access token before each attempt).
 */
#ifndef DBROKER_CREDENTIAL_H
#define DBROKER_CREDENTIAL_H

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_credential;
struct dbr_secret;

/* Workspace URL, normalised ("https://host[:port]", no trailing slash). */
DBR_API const char *dbr_credential_host(const struct dbr_credential *cr);
/* Where the host came from: the provider's name, "DATABRICKS_HOST" or
 * "profile". */
DBR_API const char *dbr_credential_host_origin(const struct dbr_credential *cr);
/* The provider that supplied the token. */
DBR_API const char *dbr_credential_source(const struct dbr_credential *cr);
/* The personal access token handle (auth type "pat"), owned by the
 * credential; NULL for "oauth-m2m". */
DBR_API const struct dbr_secret *dbr_credential_token(
	const struct dbr_credential *cr);
/* "pat" or "oauth-m2m" (a literal). */
DBR_API const char *dbr_credential_auth_type(const struct dbr_credential *cr);
/* "oauth-m2m": the client id (not secret), owned by the credential; NULL
 * for "pat". */
DBR_API const char *dbr_credential_client_id(const struct dbr_credential *cr);
/* "oauth-m2m": the client secret handle, owned by the credential (never
 * sent to the API: only to the token endpoint); NULL for "pat". */
DBR_API const struct dbr_secret *dbr_credential_client_secret(
	const struct dbr_credential *cr);
/* "oauth-m2m": when the access token in memory expires (seconds since the
 * epoch), 0 when none has been minted yet or for "pat". */
DBR_API long long dbr_credential_expires_at(const struct dbr_credential *cr);
DBR_API void dbr_credential_free(struct dbr_credential *cr);

#ifdef __cplusplus
}
#endif
#endif
