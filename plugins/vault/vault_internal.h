/* The Vault provider's shared state and its modules:
 *   vault.c       descriptor, configuration, resolve, fini
 *   vault_http.c  one Vault call: headers, TLS settings, retries, errors
 *   vault_auth.c  the Vault token: VAULT_TOKEN, ~/.vault-token, AppRole
 *   vault_kv.c    mount detection and the KV v1/v2 read
 *   vault_parse.c the answers: preflight, KV read, login, error bodies
 *                 (also built into tests/fuzz/fuzz_vault and its unit test)
 * Nothing here holds secret bytes outside a secret handle except the
 * transient response body (wiped on release) and cJSON's nodes (wiped by
 * dbroker's cJSON hooks). */
#ifndef DBR_VAULT_INTERNAL_H
#define DBR_VAULT_INTERNAL_H

#include <stddef.h>

#include "dbroker/provider.h"

#define VAULT_DEFAULT_ADDR "https://127.0.0.1:8200"
#define VAULT_DEFAULT_RETRIES 2
#define VAULT_MAX_RETRIES_CAP 10
#define VAULT_FILE_MAX 4096

struct vault {
	const struct dbr_host_services *svc;
	struct dbr_host *h;

	/* configuration (owned copies) */
	char *addr;            /* without a trailing '/' */
	const char *addr_origin;
	char *ns;              /* namespace, or NULL */
	const char *ca_file, *ca_path, *client_cert, *client_key, *tls_server_name;
	long timeout_ms;
	int max_retries;

	/* the Vault token */
	struct dbr_secret *token;
	const char *token_origin; /* "VAULT_TOKEN", "~/.vault-token", "AppRole login" */
	int token_from_login;     /* revoke-self in fini */
};

/* A Vault call's outcome when the server answered with an error status. */
struct vault_reply {
	long status;
	struct dbr_http_response resp;
};

/* vault_http.c */

/* One call to <addr>/v1/<path> with X-Vault-Request, the namespace and,
 * with use_token, the token. secret_body (or NULL) is a POST body holding a
 * secret. Retries 412, 429, 5xx except 501, and network errors, honouring
 * Retry-After. Returns 0 with reply->status set (any HTTP status), or a
 * transport error or DBR_E_INTERRUPTED (Ctrl-C while waiting to retry)
 * (reason set). reply->resp must be released with
 * vault_reply_release. */
int vault_call(struct vault *v, const char *method, const char *path,
	       int use_token, const struct dbr_secret *secret_body,
	       struct vault_reply *reply);
void vault_reply_release(struct vault *v, struct vault_reply *reply);

/* vault_auth.c */

/* Find the Vault token: VAULT_TOKEN, ~/.vault-token, then AppRole.
 * Returns 0, or an error with the reason set. */
int vault_auth(struct vault *v);
/* Revoke a token obtained by login (best effort) and free the token. */
void vault_auth_release(struct vault *v);

/* vault_kv.c */

/* Read the Databricks token (and host) from the configured KV path, hand
 * them to the host. Returns 0 or an error with the reason set. */
int vault_kv_fetch(struct vault *v);

/* Small helpers (vault.c) */
const char *vault_conf(struct vault *v, const char *env, const char *key);
int vault_parse_long(const char *s, long lo, long hi, long *out);

/* vault_parse.c: the parse steps: an answer (HTTP status and body) in,
 * results out through struct vault and the host services (set_reason,
 * secret_new + mask_secret + set_token, set_host_url, log). No I/O and no
 * state of their own: vault_kv.c and vault_auth.c make the calls and hand
 * the answers here; tests/fuzz/fuzz_vault.c drives the same functions with
 * a host-services double.
 *
 * Text taken from an answer (Vault's errors and warnings, a deletion time,
 * field names, a mount path) reaches a message only through
 * vault_text_clean; values of secret fields never do. */
#define VAULT_PATH_MAX 1024

/* Server text for a one-line message, into out (cap > 0 bytes, always
 * NUL-terminated): valid UTF-8; each run of control characters (C0, DEL)
 * becomes one space; C1 controls, U+2028/U+2029, bidi embeddings,
 * overrides and isolates, and bytes that are not UTF-8 become '?';
 * trimmed; cut at a character boundary with "..." when it does not fit.
 * Returns the length written. */
size_t vault_text_clean(const char *s, char *out, size_t cap);

/* Copy s without leading/trailing '/' into out (cut to cap - 1 bytes). */
void vault_strip_slashes(const char *s, char *out, size_t cap);

/* Set the reason for an error status (403 policy vs invalid token, sealed,
 * 5xx...) about `what` (e.g. "reading 'secret/data/x'"), with Vault's
 * "errors" from the body; returns the code. */
int vault_status_error(struct vault *v, const struct vault_reply *r, const char *what);

/* The answer to the mounts preflight (GET sys/internal/ui/mounts/<full>):
 * 200 gives *version (data.options.version "2" is KV v2, anything else v1)
 * and, when mount is empty, the mount data.path names (without slashes); a
 * 404 (a server without the endpoint) means v1; any other status is an
 * error with the reason set. Returns 0 or a DBR_E* code. */
int vault_parse_preflight(struct vault *v, const struct vault_reply *r, const char *full,
			  int *version, char *mount, size_t mount_cap);

/* The API path of the read (cap bytes): <full> for v1; for v2
 * <mount>/data/<rest>[?version=pin] where full is <mount>/<rest> (mount
 * empty: full's first segment, written to mount, mount_cap bytes). Refuses
 * a pinned version on v1 and a mount (e.g. named by the preflight) that is
 * not a leading part of full: the read never leaves vault_path. Returns 0
 * or DBR_E_CONFIG with the reason set. */
int vault_kv_api_path(struct vault *v, const char *full, int version, long pin,
		      char *mount, size_t mount_cap, char *api, size_t cap);

/* The answer to the KV read of loc (version 1 or 2): on 200 takes the
 * token field (vault_token_field, default "token") and the optional host
 * field (vault_host_field, default "host") of data (v1) or data.data (v2)
 * and hands them to the host (set_token, set_host_url); 404 explains
 * deleted / destroyed / missing; other statuses go to vault_status_error.
 * Returns 0 or a DBR_E* code with the reason set. */
int vault_parse_read(struct vault *v, const struct vault_reply *r, int version,
		     const char *loc);

/* The answer to an AppRole login: on 200 auth.client_token becomes the
 * Vault token (vault_take_token); 400 is a refused role or secret ID. */
int vault_parse_login(struct vault *v, const struct vault_reply *r, const char *role_id,
		      const char *sid_path);

/* Hold len bytes as the Vault token (v->token), masked before anything can
 * show it; refuses spaces and control characters. origin is static text.
 * Returns 0 or a DBR_E* code with the reason set. */
int vault_take_token(struct vault *v, const char *bytes, size_t len, const char *origin);

#endif
