/* The env provider: DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID and
 * DATABRICKS_CLIENT_SECRET (a service principal), and DATABRICKS_HOST.
 * Secrets are scrubbed from the environment block once read. */
#include <stdlib.h>
#include <string.h>


#include "dbroker/os.h"
#include "oauth_internal.h"
#include "providers.h"
#include "banned.h"

#define ID_VAR "DATABRICKS_CLIENT_ID"
#define SECRET_VAR "DATABRICKS_CLIENT_SECRET"

static int env_init(const struct dbr_host_services *svc, struct dbr_host *h,
		    void **state)
{
	(void)h;
	*state = (void *)svc;
	return 0;
}

/* The secret in variable name, trimmed, into *out (NULL when unset or
 * empty); the variable is scrubbed either way. */
static int take_secret(const struct dbr_host_services *svc, struct dbr_host *h,
		       const char *name, struct dbr_secret **out)
{
	const char *v = getenv(name);
	int rc;

	*out = NULL;
	if (!v)
		return 0;
	rc = *v ? svc->secret_new(v, strlen(v), out) : 0;
	dbr_env_scrub(name);
	if (rc) {
		svc->set_reason(h, "cannot hold %s: %s", name, dbr_strerror(rc));
		return rc;
	}
	if (*out) {
		svc->secret_trim(*out);
		if (svc->secret_len(*out) == 0) {
			svc->secret_free(*out);
			*out = NULL;
		}
	}
	return 0;
}

/* The client id and secret, when both are there; a secret without an id
 * (or a malformed id) is an error rather than silently unused. */
static int take_client(const struct dbr_host_services *svc, struct dbr_host *h,
		       struct dbr_secret *sec, int *found)
{
	const char *id = getenv(ID_VAR);

	*found = 0;
	if (!sec)
		return 0;
	if (!id || !*id) {
		svc->secret_free(sec);
		svc->set_reason(h, SECRET_VAR " is set without " ID_VAR ": set the service "
				"principal's client id too, or unset " SECRET_VAR);
		return DBR_E_CONFIG;
	}
	if (!dbr_oauth_client_id_valid(id)) {
		svc->secret_free(sec);
		svc->set_reason(h, ID_VAR " is not a client id (1 to %d printable characters, "
				"no spaces or ':'): set the service principal's application id",
				DBR_OAUTH_CLIENT_ID_MAX);
		return DBR_E_CONFIG;
	}
	*found = 1;
	return svc->set_client(h, id, sec);
}

static int env_resolve(void *state, struct dbr_host *h)
{
	const struct dbr_host_services *svc = state;
	const char *host = getenv("DATABRICKS_HOST"), *id = getenv(ID_VAR);
	struct dbr_secret *tok = NULL, *sec = NULL;
	int rc, client = 0, tok_set = getenv("DATABRICKS_TOKEN") != NULL;

	if ((rc = take_secret(svc, h, "DATABRICKS_TOKEN", &tok)) ||
	    (rc = take_secret(svc, h, SECRET_VAR, &sec))) {
		svc->secret_free(tok);
		svc->secret_free(sec);
		return rc;
	}
	if (tok && (rc = svc->set_token(h, tok)))
		return rc;
	if ((rc = take_client(svc, h, sec, &client)))
		return rc;
	if (!tok && !client) {
		if (id && *id)
			svc->set_reason(h, ID_VAR " is set, but neither " SECRET_VAR " nor "
					"DATABRICKS_TOKEN is");
		else
			svc->set_reason(h, tok_set ? "DATABRICKS_TOKEN is empty"
					: "DATABRICKS_TOKEN is not set");
		return DBR_E_NOT_HERE;
	}
	if (host && *host) {
		rc = svc->set_host_url(h, host);
		if (rc)
			return rc;
	}
	if (tok && client)
		svc->set_reason(h, "DATABRICKS_TOKEN, " ID_VAR " and " SECRET_VAR " (secrets "
				"removed from the environment after reading)");
	else if (client)
		svc->set_reason(h, ID_VAR " and " SECRET_VAR " (the secret removed from the "
				"environment after reading)");
	else
		svc->set_reason(h, "DATABRICKS_TOKEN (removed from the environment after "
				"reading)");
	return 0;
}

const struct dbr_provider dbr_provider_env = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "env",
	.description = "DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET) "
		       "and DATABRICKS_HOST from the environment",
	.init = env_init,
	.resolve = env_resolve,
};
