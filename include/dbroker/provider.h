/* dbroker-layer: auth */
/* The credential provider plugin ABI.
 *
 * A provider is described by a const struct dbr_provider. Built-in providers
 * (env, profile) use it directly; a plugin is a shared object in the plugin
 * directory, named "<name>.so", that exports exactly one symbol:
 *
 *     DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_<name>(void);
 *
 * Versioning: abi_major changes break compatibility (the loader refuses any
 * other major); abi_minor grows when fields are appended (the loader refuses
 * a minor newer than its own). Structs are append-only and carry their size.
 *
 * A provider never links its own TLS or logging policy: the host hands it a
 * services table (secure secrets, masked log, the hardened HTTP client,
 * configuration lookup) and a per-resolution context.
 */
#ifndef DBROKER_PROVIDER_H
#define DBROKER_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"
#include "dbroker/http.h"
#include "dbroker/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBR_PROVIDER_ABI_MAJOR 1
#define DBR_PROVIDER_ABI_MINOR 5

#define DBR_PROVIDER_SYMBOL_PREFIX "dbroker_provider_"

#define DBR_PROVIDER_EXPORT __attribute__((visibility("default")))

struct dbr_secret;
struct dbr_host;  /* opaque: the host's context for one provider */

/* How a provider answered in a resolution (dbroker auth describe). */
enum dbr_answer {
	DBR_ANSWER_NOT_ASKED = 0, /* an earlier provider answered */
	DBR_ANSWER_FOUND = 1,
	DBR_ANSWER_NOT_HERE = 2,
	DBR_ANSWER_ERROR = 3,
};

/* Services the host offers a provider. Append-only. */
struct dbr_host_services {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;

	/* Secret handles in secure memory (see dbroker/secret.h). */
	int (*secret_new)(const void *bytes, size_t len, struct dbr_secret **out);
	int (*secret_alloc)(size_t cap, struct dbr_secret **out);
	int (*secret_append)(struct dbr_secret *s, const void *bytes, size_t len);
	void (*secret_trim)(struct dbr_secret *s);
	size_t (*secret_len)(const struct dbr_secret *s);
	void (*secret_free)(struct dbr_secret *s);

	/* Register a secret with the masker before it can appear anywhere.
	 * Returns 0 or DBR_E_SHORT_SECRET / DBR_E_NOMEM (then do not use it). */
	int (*mask_secret)(struct dbr_host *h, const struct dbr_secret *s);

	/* Masked logging, prefixed with the provider's name. */
	void (*log)(struct dbr_host *h, enum dbr_log_level level,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	/* 1 if level is enabled (skip building expensive traces). */
	int (*log_enabled)(struct dbr_host *h, enum dbr_log_level level);

	/* The active profile's value for key (e.g. "vault_addr"), or NULL.
	 * Owned by the host; valid until the provider's fini. */
	const char *(*config_get)(struct dbr_host *h, const char *key);
	/* The active profile's name, never NULL. */
	const char *(*profile_name)(struct dbr_host *h);

	/* The hardened HTTP client (see dbroker/http.h). The host fills in its
	 * trace log; the provider must not lower any TLS setting. */
	int (*http_perform)(struct dbr_host *h, const struct dbr_http_request *req,
			    struct dbr_http_response *resp, struct dbr_err *err);
	void (*http_response_release)(struct dbr_http_response *resp);

	/* Results of resolve(). The host copies url. The token handle is taken
	 * over by the host (also on failure); it is registered with the masker
	 * by the host. Return 0 or a DBR_E* code. */
	int (*set_host_url)(struct dbr_host *h, const char *url);
	int (*set_token)(struct dbr_host *h, struct dbr_secret *token);

	/* Why resolve() answered "not here" or failed: one line, shown by
	 * `dbroker auth describe` and in the chain's error. Never secret bytes. */
	void (*set_reason)(struct dbr_host *h, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));

	/* 1 when the CLI may interact with the user (stdin is a terminal). */
	int (*interactive)(struct dbr_host *h);

	/* ABI 1.1 (check struct_size before use). The bytes of the token
	 * passed to store(), NUL-terminated (length: secret_len), valid only
	 * during that store() call; NULL for any other handle or at any other
	 * time. WARNING: hand them straight to the secret store; never copy
	 * them to the normal heap, a log or a file. */
	const unsigned char *(*secret_bytes)(struct dbr_host *h,
					     const struct dbr_secret *s);

	/* ABI 1.2 (check struct_size before use): the host's own helpers, so
	 * no plugin keeps a copy (see dbroker/os.h). env_scrub wipes every
	 * NAME=value from the environment block and unsets NAME (returns how
	 * many); write_all returns 0 or DBR_E_IO. */
	int (*env_scrub)(const char *name);
	int (*write_all)(int fd, const void *buf, size_t len);

	/* ABI 1.3 (check with DBR_HOST_HAS before use): a new handle filled in
	 * place, for a provider whose source can write straight into memory
	 * (the kernel keyring's keyctl_read). fill(ctx, buf, cap, &len) gets
	 * the handle's secure memory, cap bytes (1..DBR_SECRET_MAX, else
	 * DBR_E_INVAL/DBR_E_TOO_LARGE without a call); it writes at most cap
	 * bytes, sets *len (<= cap) and returns 0 or a DBR_E* code. Returns
	 * fill's code, DBR_E_NOMEM, or 0 with *out set (the caller owns it:
	 * set_token or secret_free); on failure *out is NULL and the memory is
	 * wiped. WARNING: buf is valid only during fill(); never copy from it. */
	int (*secret_fill)(size_t cap,
			   int (*fill)(void *ctx, unsigned char *buf, size_t cap,
				       size_t *len),
			   void *ctx, struct dbr_secret **out);

	/* ABI 1.4 (check with DBR_HOST_HAS before use): a result of resolve()
	 * for OAuth machine-to-machine sign-in (auth type "oauth-m2m"): a
	 * service principal's client id (copied; printable, no spaces or ':')
	 * and client secret (taken over by the host, also on failure, and
	 * registered with the masker by the host). A provider may set a token,
	 * a client, or both (the auth type chooses; both without an auth type
	 * is a configuration error). Returns 0, DBR_E_INVAL, DBR_E_NOMEM. */
	int (*set_client)(struct dbr_host *h, const char *client_id,
			  struct dbr_secret *client_secret);
	/* ABI 1.4: during store(), the client id when the handle being stored
	 * is an OAuth client secret (`dbroker login --oauth-m2m`), NULL when it
	 * is a token. A provider keeps the client id with the secret and hands
	 * both back through set_client. The host never asks a provider built
	 * for an older ABI to store a client secret. */
	const char *(*store_client_id)(struct dbr_host *h);

	/* ABI 1.5 (check with DBR_HOST_HAS before use): the host's sleep of ms
	 * milliseconds, cut short when the command is interrupted (Ctrl-C,
	 * SIGTERM, SIGHUP). Returns 0, or DBR_E_INTERRUPTED (also at once when
	 * it already was): then give up, the host is stopping. For a provider
	 * that waits between retries. */
	int (*sleep_ms)(long ms);
};

/* 1 when the services table svc has the member field (an older host's
 * table is shorter). */
#define DBR_HOST_HAS(svc, field)                                                  \
	((svc)->struct_size >= offsetof(struct dbr_host_services, field) +        \
				       sizeof((svc)->field) && (svc)->field != NULL)

/* What a provider can do. Append-only. */
struct dbr_provider {
	uint16_t abi_major;         /* DBR_PROVIDER_ABI_MAJOR */
	uint16_t abi_minor;         /* DBR_PROVIDER_ABI_MINOR */
	uint32_t struct_size;       /* sizeof(struct dbr_provider) */
	const char *name;           /* [a-z0-9_]+, equals the file/symbol name */
	const char *description;    /* one line for --help and auth describe */

	/* Called once before any other call. *state is the provider's own.
	 * Return 0, or a DBR_E* code (the provider is then unusable; set a
	 * reason). */
	int (*init)(const struct dbr_host_services *svc, struct dbr_host *h,
		    void **state);

	/* Find the credential. Return:
	 *   0                found: set_token() or set_client() was called
	 *                    (set_host_url() optional: the profile's host is
	 *                    used otherwise);
	 *   DBR_E_NOT_HERE   this source has nothing (the chain moves on);
	 *   other DBR_E*     an error: the chain stops (set a reason). */
	int (*resolve)(void *state, struct dbr_host *h);

	/* Optional (NULL): store token for the profile (dbroker login).
	 * Return 0 or a DBR_E* code. */
	int (*store)(void *state, struct dbr_host *h, const char *host_url,
		     const struct dbr_secret *token);

	/* Optional (NULL): remove the stored token. Return 0 if removed,
	 * DBR_E_NOT_HERE if there was nothing, else a DBR_E* code. */
	int (*erase)(void *state, struct dbr_host *h);

	/* Release state. Called once; may be NULL. Must wipe what it holds. */
	void (*fini)(void *state);

	void *reserved[8];          /* must be NULL */
};

/* The prototype every plugin's entry point has. */
typedef const struct dbr_provider *(*dbr_provider_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
