/* The env provider: DATABRICKS_TOKEN and DATABRICKS_HOST. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dbroker/os.h"
#include "providers.h"
#include "banned.h"

static int env_init(const struct dbr_host_services *svc, struct dbr_host *h,
		    void **state)
{
	(void)h;
	*state = (void *)svc;
	return 0;
}

static int env_resolve(void *state, struct dbr_host *h)
{
	const struct dbr_host_services *svc = state;
	const char *tok = getenv("DATABRICKS_TOKEN");
	const char *host = getenv("DATABRICKS_HOST");
	struct dbr_secret *s = NULL;
	int rc;

	if (!tok || !*tok) {
		if (tok)
			dbr_env_scrub("DATABRICKS_TOKEN");
		svc->set_reason(h, "DATABRICKS_TOKEN is not set");
		return DBR_E_NOT_HERE;
	}
	rc = svc->secret_new(tok, strlen(tok), &s);
	dbr_env_scrub("DATABRICKS_TOKEN");
	if (rc) {
		svc->set_reason(h, "cannot hold DATABRICKS_TOKEN: %s", dbr_strerror(rc));
		return rc;
	}
	svc->secret_trim(s);
	if (svc->secret_len(s) == 0) {
		svc->secret_free(s);
		svc->set_reason(h, "DATABRICKS_TOKEN is empty");
		return DBR_E_NOT_HERE;
	}
	rc = svc->set_token(h, s);
	if (rc)
		return rc;
	if (host && *host) {
		rc = svc->set_host_url(h, host);
		if (rc)
			return rc;
	}
	svc->set_reason(h, "DATABRICKS_TOKEN (removed from the environment after reading)");
	return 0;
}

const struct dbr_provider dbr_provider_env = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "env",
	.description = "DATABRICKS_TOKEN and DATABRICKS_HOST from the environment",
	.init = env_init,
	.resolve = env_resolve,
};
