/* The profile provider: a plaintext token in ~/.databrickscfg, the weakest
 * source, accepted only from a file no one else can read, and sent only to
 * the profile's host. */
#include <string.h>

#include "dbroker/config.h"
#include "providers.h"
#include "host_internal.h"
#include "banned.h"

static int profile_init(const struct dbr_host_services *svc, struct dbr_host *h,
			void **state)
{
	(void)h;
	*state = (void *)svc;
	return 0;
}

static int profile_resolve(void *state, struct dbr_host *h)
{
	const struct dbr_host_services *svc = state;
	const struct dbr_config *cfg = dbr_host_config(h);
	struct dbr_secret *s = NULL;
	const char *path = dbr_config_path(cfg);
	const char *prof = dbr_config_profile(cfg);
	const char *host = dbr_config_get(cfg, "host");
	int rc;

	if (!dbr_config_has_token(cfg)) {
		svc->set_reason(h, dbr_config_profile_found(cfg)
			? "profile '%s' in '%s' has no plaintext token (good)"
			: "no profile '%s' in '%s'", prof, path);
		return DBR_E_NOT_HERE;
	}
	if (dbr_config_token_exposed(cfg)) {
		svc->set_reason(h, "'%s' holds a plaintext token and is readable by group/others: "
				"run 'chmod 600 %s', then move the token to the keyring with "
				"'dbroker login -p %s'", path, path, prof);
		return DBR_E_UNSAFE_PERM;
	}
	/* the token is bound to the host written beside it: with no host there,
	 * DATABRICKS_HOST alone would decide where it goes */
	if (!host || !*host) {
		svc->set_reason(h, "profile '%s' in '%s' has a plaintext token but no host, so "
				"nothing says which workspace it belongs to: add 'host = "
				"https://<workspace>' to the profile", prof, path);
		return DBR_E_CONFIG;
	}
	rc = svc->set_host_url(h, host);
	if (rc == 0)
		rc = dbr_config_copy_token(cfg, &s);
	if (rc) {
		svc->set_reason(h, "cannot hold the profile token: %s", dbr_strerror(rc));
		return rc;
	}
	/* dbr_config_load() already warned that the token sits on disk */
	svc->set_reason(h, "plaintext token in '%s' [%s]", path, prof);
	return svc->set_token(h, s);
}

const struct dbr_provider dbr_provider_profile = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "profile",
	.description = "plaintext token in the ~/.databrickscfg profile (discouraged)",
	.init = profile_init,
	.resolve = profile_resolve,
};

const struct dbr_provider *dbr_builtin_provider(const char *name)
{
	if (strcmp(name, "env") == 0)
		return &dbr_provider_env;
	if (strcmp(name, "profile") == 0)
		return &dbr_provider_profile;
	return NULL;
}
