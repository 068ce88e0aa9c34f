/* The profile provider: a plaintext token (or OAuth client_id and
 * client_secret) in ~/.databrickscfg, the weakest source, accepted only
 * from a file no one else can read, and sent only to the profile's host. */
#include <string.h>

#include "dbroker/config.h"
#include "oauth_internal.h"
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

/* The profile's client id and plaintext client secret, when it has both. */
static int take_client(const struct dbr_host_services *svc, struct dbr_host *h,
		       const struct dbr_config *cfg, int *found)
{
	const char *id = dbr_config_get(cfg, "client_id");
	struct dbr_secret *s = NULL;
	int rc;

	*found = 0;
	if (!dbr_config_has_client_secret(cfg))
		return 0;
	if (!dbr_oauth_client_id_valid(id)) {
		svc->set_reason(h, "profile '%s' in '%s' has a client_secret but %s client_id: "
				"add the service principal's application id as 'client_id'",
				dbr_config_profile(cfg), dbr_config_path(cfg),
				id && *id ? "no valid" : "no");
		return DBR_E_CONFIG;
	}
	rc = dbr_config_copy_client_secret(cfg, &s);
	if (rc) {
		svc->set_reason(h, "cannot hold the profile's client secret: %s",
				dbr_strerror(rc));
		return rc;
	}
	*found = 1;
	return svc->set_client(h, id, s);
}

static int profile_resolve(void *state, struct dbr_host *h)
{
	const struct dbr_host_services *svc = state;
	const struct dbr_config *cfg = dbr_host_config(h);
	struct dbr_secret *s = NULL;
	const char *path = dbr_config_path(cfg);
	const char *prof = dbr_config_profile(cfg);
	const char *host = dbr_config_get(cfg, "host");
	int rc, client = 0, tok = dbr_config_has_token(cfg);
	int emptied = dbr_config_emptied_secret_line(cfg);

	if (!tok && !dbr_config_has_client_secret(cfg)) {
		if (!dbr_config_profile_found(cfg))
			svc->set_reason(h, "no profile '%s' in '%s'", prof, path);
		else if (dbr_config_secret_comment_line(cfg))
			svc->set_reason(h, "profile '%s' in '%s' has no plaintext token, but line "
					"%d, a comment, holds something shaped like one: delete "
					"that line", prof, path, dbr_config_secret_comment_line(cfg));
		else if (emptied)
			svc->set_reason(h, "profile '%s' in '%s' has no plaintext token, but line "
					"%d still holds one that a later empty line cancels: "
					"delete that line", prof, path,
					emptied);
		else
			svc->set_reason(h, "profile '%s' in '%s' has no plaintext token (good)",
					prof, path);
		return DBR_E_NOT_HERE;
	}
	if (dbr_config_token_exposed(cfg)) {
		svc->set_reason(h, "'%s' holds a plaintext %s and is readable by group/others: "
				"run 'chmod 600 %s', then move it to the keyring with "
				"'dbroker login -p %s%s%s'", path, tok ? "token" : "client secret",
				path, prof, tok ? "" : " --oauth-m2m --client-id ",
				tok ? "" : dbr_oauth_client_id_arg(dbr_config_get(cfg, "client_id")));
		return DBR_E_UNSAFE_PERM;
	}
	/* the secret is bound to the host written beside it: with no host
	 * there, DATABRICKS_HOST alone would decide where it goes */
	if (!host || !*host) {
		svc->set_reason(h, "profile '%s' in '%s' has a plaintext %s but no host, so "
				"nothing says which workspace it belongs to: add 'host = "
				"https://<workspace>' to the profile", prof, path,
				tok ? "token" : "client secret");
		return DBR_E_CONFIG;
	}
	rc = svc->set_host_url(h, host);
	if (rc)
		return rc;
	if ((rc = take_client(svc, h, cfg, &client)))
		return rc;
	if (tok) {
		rc = dbr_config_copy_token(cfg, &s);
		if (rc) {
			svc->set_reason(h, "cannot hold the profile token: %s", dbr_strerror(rc));
			return rc;
		}
		rc = svc->set_token(h, s);
		if (rc)
			return rc;
	}
	/* dbr_config_load() already warned that the secret sits on disk */
	svc->set_reason(h, "plaintext %s in '%s' [%s]", tok && client
			? "token and client secret" : tok ? "token" : "client secret", path, prof);
	return 0;
}

const struct dbr_provider dbr_provider_profile = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_provider),
	.name = "profile",
	.description = "plaintext token or client secret in the ~/.databrickscfg profile "
		       "(discouraged)",
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
