/* Built-in credential providers, described with the same ABI as plugins.
 * Internal to libdbroker. */
#ifndef DBROKER_PROVIDERS_H
#define DBROKER_PROVIDERS_H

#include "dbroker/provider.h"

/* DATABRICKS_TOKEN / DATABRICKS_HOST; scrubs the token from the process's
 * environment block after reading it. */
extern const struct dbr_provider dbr_provider_env;

/* The plaintext `token` of the active ~/.databrickscfg profile, refused when
 * the file is readable by group/others. */
extern const struct dbr_provider dbr_provider_profile;

/* The built-in provider called name, or NULL. */
const struct dbr_provider *dbr_builtin_provider(const char *name);

#endif
