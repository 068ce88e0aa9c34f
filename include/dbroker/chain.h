/* dbroker-layer: auth */
/* The credential chain: an ordered list of providers asked in turn.
 *
 * The order comes from (first match wins) the caller's spec (--chain),
 * $DBROKER_CHAIN, the profile's broker_chain, else DBR_CHAIN_DEFAULT.
 * Each provider answers found / not here / error. "Not here" moves on; an
 * error stops the chain (a misconfigured Vault must never fall back to a
 * weaker source silently). Built-in providers: env, profile. Others are
 * plugins loaded from the plugin directory ($DBROKER_PLUGIN_DIR, else the
 * install's lib/dbroker/plugins) after an owner/mode check of the file and
 * every directory above it.
 *
 * A plugin named in the default chain but not installed answers "not here";
 * a plugin the user named explicitly but cannot be loaded is an error.
 */
#ifndef DBROKER_CHAIN_H
#define DBROKER_CHAIN_H

#include <stddef.h>

#include "dbroker/credential.h"
#include "dbroker/errors.h"
#include "dbroker/export.h"
#include "dbroker/host_url.h"
#include "dbroker/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_chain;
struct dbr_config;
struct dbr_log;
struct dbr_mask;
struct dbr_secret;

#define DBR_CHAIN_DEFAULT "env,vault,kernel,keyring,profile"
#define DBR_CHAIN_MAX 16

struct dbr_chain_options {
	const char *spec;        /* "env,vault" or NULL (see above) */
	const char *plugin_dir;  /* NULL: $DBROKER_PLUGIN_DIR, else built-in */
	int interactive;         /* stdin is a terminal */
	const char *auth_type;   /* "pat", "oauth-m2m" (--auth-type), or NULL:
				    DATABRICKS_AUTH_TYPE, else the profile's
				    auth_type, else the first source that has
				    something decides */
};

/* Build the chain. cfg, mask and log are borrowed and must outlive it (and
 * mask every credential it resolves: an "oauth-m2m" credential registers
 * the access tokens it mints there). Plugins are loaded lazily, when first
 * asked. *out is owned by the caller. Returns 0, DBR_E_USAGE (bad spec:
 * unknown syntax, duplicates, too many; an unknown auth type given as an
 * option or in DATABRICKS_AUTH_TYPE), DBR_E_CONFIG (an unknown auth_type in
 * the profile), DBR_E_NOMEM. */
DBR_API int dbr_chain_new(const struct dbr_chain_options *opt,
			  struct dbr_config *cfg, struct dbr_mask *mask,
			  struct dbr_log *log, struct dbr_chain **out,
			  struct dbr_err *err);

/* After an interrupt (dbr_interrupt), providers get this long to clean up
 * over the network in fini (dbr_interrupt_grace). */
#define DBR_CHAIN_CLEANUP_GRACE_MS 3000

/* Release providers (fini: a provider revokes what it obtained, e.g. a Vault
 * token from an AppRole login; after an interrupt within
 * DBR_CHAIN_CLEANUP_GRACE_MS) and everything held. NULL is a no-op. */
DBR_API void dbr_chain_free(struct dbr_chain *c);

/* Where plugins are looked for when no plugin_dir is given: $DBROKER_PLUGIN_DIR
 * when set (not in secure-execution mode), else the installed directory (the
 * configured absolute one, or the one relative to where libdbroker was
 * loaded from: an installed tree can be moved). Never NULL; static or owned
 * by the environment. */
DBR_API const char *dbr_chain_plugin_dir(void);

/* Where the chain's order came from: "--chain", "DBROKER_CHAIN",
 * "profile broker_chain" or "default". */
DBR_API const char *dbr_chain_origin(const struct dbr_chain *c);

/* Ask the providers in order. A provider that has only what the auth type
 * does not use (a token for "oauth-m2m", a client for "pat") counts as "not
 * here"; one with both and no auth type is DBR_E_CONFIG. On success *out is
 * a new credential owned by the caller (dbr_credential_free); its token or
 * client secret is already registered with the masker; an "oauth-m2m" one
 * mints its access tokens when the signer first asks. Returns 0, DBR_E_NO_CREDENTIAL (everyone said not here; err lists
 * each reason), DBR_E_PROVIDER or the provider's code (a provider failed;
 * err names it and says why), DBR_E_SHORT_SECRET, DBR_E_INVAL (no usable
 * workspace host), DBR_E_NOMEM. */
DBR_API int dbr_chain_resolve(struct dbr_chain *c, struct dbr_credential **out,
			      struct dbr_err *err);

/* Store token for the chain's profile with the named provider (e.g.
 * "keyring"), whether or not the chain's order names it; the provider is
 * loaded and initialised like for resolve, but a plugin that is missing is
 * always an error. host_url is normalised first (dbr_normalize_host). The
 * token is borrowed. Returns 0, DBR_E_USAGE (the provider cannot store),
 * DBR_E_INVAL, DBR_E_PLUGIN*, DBR_E_NOT_HERE (the store is unreachable: err
 * says why) or the provider's code; err says why. On 0, err (code 0) holds
 * the provider's note on where the token went, or "". */
DBR_API int dbr_chain_store(struct dbr_chain *c, const char *provider,
			    const char *host_url, const struct dbr_secret *token,
			    struct dbr_err *err);

/* Store an OAuth client secret (auth type "oauth-m2m") with its client id
 * for the chain's profile with the named provider, like dbr_chain_store.
 * A later resolve hands back both. Returns what dbr_chain_store does, and
 * DBR_E_USAGE for a client id that is not printable or holds spaces or
 * ':', DBR_E_PLUGIN_ABI for a provider built before ABI 1.4. */
DBR_API int dbr_chain_store_client(struct dbr_chain *c, const char *provider,
				   const char *host_url, const char *client_id,
				   const struct dbr_secret *client_secret,
				   struct dbr_err *err);

/* Remove the profile's stored token from the named provider (loaded like
 * for dbr_chain_store). Returns 0 (removed), DBR_E_NOT_HERE (nothing was
 * stored), DBR_E_USAGE (the provider cannot erase) or another DBR_E* code
 * (e.g. the store could not be reached); err says why. */
DBR_API int dbr_chain_erase(struct dbr_chain *c, const char *provider,
			    struct dbr_err *err);

/* Where the auth type of the last resolve came from: "--auth-type",
 * "DATABRICKS_AUTH_TYPE", "profile auth_type", or the name of the provider
 * whose credential decided it; "" before a resolve. */
DBR_API const char *dbr_chain_auth_type_origin(const struct dbr_chain *c);

/* Report of the last resolve, for `auth describe`. */
DBR_API size_t dbr_chain_count(const struct dbr_chain *c);
DBR_API const char *dbr_chain_name(const struct dbr_chain *c, size_t i);
DBR_API enum dbr_answer dbr_chain_answer(const struct dbr_chain *c, size_t i);
/* One line (may be ""), never NULL. */
DBR_API const char *dbr_chain_reason(const struct dbr_chain *c, size_t i);
DBR_API const char *dbr_answer_name(enum dbr_answer a);

/* A credential built from a host and a token the caller already holds (e.g.
 * `dbroker login --verify`, before anything is stored). host_url is
 * normalised; token is copied (secure memory to secure memory) and must
 * already be registered with the masker; source names it ([a-z0-9_],
 * e.g. "login"). *out is owned by the caller (dbr_credential_free).
 * Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
DBR_API int dbr_credential_new(const char *host_url,
			       const struct dbr_secret *token,
			       const char *source, struct dbr_credential **out,
			       struct dbr_err *err);

/* An "oauth-m2m" credential from a client id and secret the caller already
 * holds (`dbroker login --oauth-m2m --verify`). host_url is normalised;
 * client_secret is copied and must already be registered with mask, which
 * is borrowed (the access tokens minted go there) and must outlive *out.
 * *out is owned by the caller (dbr_credential_free). Returns 0,
 * DBR_E_USAGE (not a client id), DBR_E_INVAL, DBR_E_NOMEM. */
DBR_API int dbr_credential_new_m2m(const char *host_url, const char *client_id,
				   const struct dbr_secret *client_secret,
				   const char *source, struct dbr_mask *mask,
				   struct dbr_credential **out, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
