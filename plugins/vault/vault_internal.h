/* The Vault provider's shared state and its modules:
 *   vault.c       descriptor, configuration, resolve, fini
 *   vault_http.c  one Vault call: headers, TLS settings, retries, errors
 *   vault_auth.c  the Vault token: VAULT_TOKEN, ~/.vault-token, AppRole
 *   vault_kv.c    mount detection and the KV v1/v2 read
 *   vault_parse.c the answers: preflight, KV read, login, error bodies
 *                 (vault_parse.h; also built into tests/fuzz/fuzz_vault)
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
 * transport error (reason set). reply->resp must be released with
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

#endif
