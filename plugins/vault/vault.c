/* The HashiCorp Vault provider: reads the Databricks token (and optionally
 * the workspace host) from a KV v1 or v2 secret.
 *
 * Profile keys: vault_path (mount + path; required to use Vault),
 * vault_addr, vault_mount, vault_kv_version (1 or 2: skip detection),
 * vault_version (pin a v2 version), vault_token_field (default "token"),
 * vault_host_field (default "host", optional), vault_namespace,
 * vault_cacert, vault_role_id, vault_secret_id_file.
 * Environment (wins over the profile): VAULT_ADDR, VAULT_TOKEN,
 * VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH, VAULT_CLIENT_CERT,
 * VAULT_CLIENT_KEY, VAULT_TLS_SERVER_NAME, VAULT_CLIENT_TIMEOUT,
 * VAULT_MAX_RETRIES, VAULT_SECRET_ID_FILE; VAULT_SKIP_VERIFY is refused. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vault_internal.h"

const char *vault_conf(struct vault *v, const char *env, const char *key)
{
	const char *s = env ? getenv(env) : NULL;

	if (s && *s)
		return s;
	s = v->svc->config_get(v->h, key);
	return s && *s ? s : NULL;
}

int vault_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long n;

	if (!s || *s < '0' || *s > '9')
		return DBR_E_INVAL;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return DBR_E_INVAL;
	*out = n;
	return 0;
}

static int vault_init(const struct dbr_host_services *svc, struct dbr_host *h, void **state)
{
	struct vault *v;

	*state = NULL;
	/* everything up to interactive() (ABI 1.0) is used; nothing newer */
	if (svc->abi_major != DBR_PROVIDER_ABI_MAJOR ||
	    svc->struct_size < offsetof(struct dbr_host_services, interactive) +
			       sizeof(svc->interactive))
		return DBR_E_PLUGIN_ABI;
	v = calloc(1, sizeof(*v));
	if (!v)
		return DBR_E_NOMEM;
	v->svc = svc;
	v->h = h;
	*state = v;
	return 0;
}

static int truthy(const char *s)
{
	return s && *s && strcmp(s, "0") != 0 && strcmp(s, "false") != 0 &&
	       strcmp(s, "False") != 0 && strcmp(s, "FALSE") != 0;
}

/* Addresses, TLS files, timeouts. Returns 0 or DBR_E_CONFIG (reason set). */
static int load_config(struct vault *v)
{
	const struct dbr_host_services *svc = v->svc;
	const char *addr = getenv("VAULT_ADDR"), *ns, *s;
	size_t n;
	long num;

	if (truthy(getenv("VAULT_SKIP_VERIFY"))) {
		svc->set_reason(v->h, "VAULT_SKIP_VERIFY is set: dbroker never turns off TLS "
				"verification, since that would hand the Vault token to anyone "
				"on the path; unset it and point VAULT_CACERT at the CA of the "
				"Vault server");
		return DBR_E_CONFIG;
	}
	v->addr_origin = "VAULT_ADDR";
	if (!addr || !*addr) {
		addr = svc->config_get(v->h, "vault_addr");
		v->addr_origin = "profile vault_addr";
	}
	if (!addr || !*addr) {
		addr = VAULT_DEFAULT_ADDR;
		v->addr_origin = "the vault CLI's default";
	}
	free(v->addr);
	v->addr = strdup(addr);
	if (!v->addr)
		return DBR_E_NOMEM;
	n = strlen(v->addr);
	while (n && v->addr[n - 1] == '/')
		v->addr[--n] = '\0';
	if (strncmp(v->addr, "https://", 8) != 0) {
		svc->set_reason(v->h, "the Vault address '%s' (from %s) is not https://: "
				"dbroker sends Vault tokens over TLS only; give the https:// "
				"address", v->addr, v->addr_origin);
		return DBR_E_CONFIG;
	}
	ns = vault_conf(v, "VAULT_NAMESPACE", "vault_namespace");
	for (const char *c = ns; c && *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("-_./", *c))) {
			svc->set_reason(v->h, "the Vault namespace '%s' holds characters other "
					"than letters, digits and -_./", ns);
			return DBR_E_CONFIG;
		}
	free(v->ns);
	v->ns = ns ? strdup(ns) : NULL;
	if (ns && !v->ns)
		return DBR_E_NOMEM;
	v->ca_file = vault_conf(v, "VAULT_CACERT", "vault_cacert");
	v->ca_path = vault_conf(v, "VAULT_CAPATH", "vault_capath");
	v->client_cert = vault_conf(v, "VAULT_CLIENT_CERT", "vault_client_cert");
	v->client_key = vault_conf(v, "VAULT_CLIENT_KEY", "vault_client_key");
	if (!v->client_cert != !v->client_key) {
		svc->set_reason(v->h, "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together: set "
				"both or neither");
		return DBR_E_CONFIG;
	}
	v->tls_server_name = vault_conf(v, "VAULT_TLS_SERVER_NAME", "vault_tls_server_name");
	v->timeout_ms = 0;
	if ((s = vault_conf(v, "VAULT_CLIENT_TIMEOUT", "vault_client_timeout"))) {
		char buf[32];
		size_t l = strlen(s);

		/* "30" or "30s" (seconds) */
		if (l >= sizeof(buf) || !l) {
			l = 0;
		} else {
			memcpy(buf, s, l + 1);
			if (buf[l - 1] == 's')
				buf[--l] = '\0';
		}
		if (!l || vault_parse_long(buf, 1, 3600, &num)) {
			svc->set_reason(v->h, "VAULT_CLIENT_TIMEOUT '%s' is not a number of seconds "
					"(1..3600)", s);
			return DBR_E_CONFIG;
		}
		v->timeout_ms = num * 1000;
	}
	v->max_retries = VAULT_DEFAULT_RETRIES;
	if ((s = vault_conf(v, "VAULT_MAX_RETRIES", "vault_max_retries"))) {
		if (vault_parse_long(s, 0, VAULT_MAX_RETRIES_CAP, &num)) {
			svc->set_reason(v->h, "VAULT_MAX_RETRIES '%s' is not a number from 0 to %d",
					s, VAULT_MAX_RETRIES_CAP);
			return DBR_E_CONFIG;
		}
		v->max_retries = (int)num;
	}
	return 0;
}

static int vault_resolve(void *state, struct dbr_host *h)
{
	struct vault *v = state;
	const struct dbr_host_services *svc = v->svc;
	const char *path = svc->config_get(h, "vault_path");
	const char *addr = getenv("VAULT_ADDR");
	int rc;

	v->h = h;
	if (!path || !*path) {
		if ((!addr || !*addr) && !svc->config_get(h, "vault_addr"))
			svc->set_reason(h, "vault_addr/vault_path not configured");
		else
			svc->set_reason(h, "vault_path not configured for profile '%s'",
					svc->profile_name(h));
		return DBR_E_NOT_HERE;
	}
	/* configured: from here on every failure stops the chain */
	rc = load_config(v);
	if (rc == 0)
		rc = vault_auth(v);
	if (rc == 0)
		rc = vault_kv_fetch(v);
	if (rc == DBR_E_NOT_HERE)
		rc = DBR_E_PROVIDER;
	return rc;
}

static void vault_fini(void *state)
{
	struct vault *v = state;

	if (!v)
		return;
	vault_auth_release(v);
	free(v->addr);
	free(v->ns);
	free(v);
}

static const struct dbr_provider vault_provider = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "vault",
	.description = "HashiCorp Vault KV v1/v2 (vault_path in the profile)",
	.init = vault_init,
	.resolve = vault_resolve,
	.fini = vault_fini,
};

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_vault(void);

DBR_PROVIDER_EXPORT const struct dbr_provider *dbroker_provider_vault(void)
{
	return &vault_provider;
}
