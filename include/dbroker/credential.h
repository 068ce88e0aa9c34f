/* dbroker-layer: core */
/* A resolved credential: a workspace URL, a token handle and where both
 * came from. A plain value type low in the stack, so the signer (net) can
 * take one without knowing the credential chain (auth) that builds it.
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
/* The token handle, owned by the credential. */
DBR_API const struct dbr_secret *dbr_credential_token(
	const struct dbr_credential *cr);
DBR_API void dbr_credential_free(struct dbr_credential *cr);

#ifdef __cplusplus
}
#endif
#endif
