/* The chain (chain.c): its slots are host.c's struct dbr_host. Internal to
 * libdbroker. */
#ifndef DBROKER_CHAIN_INTERNAL_H
#define DBROKER_CHAIN_INTERNAL_H

#include "dbroker/chain.h"
#include "dbroker/provider.h"
#include "host_internal.h"
#include "plugin_loader.h"


struct dbr_chain {
	struct dbr_host_env env;  /* what every slot's provider may reach */
	char *plugin_dir;
	const char *origin;
	int explicit_spec;
	const char *auth_type;         /* "pat", "oauth-m2m", or NULL: inferred */
	const char *auth_type_origin;  /* where it was set, or the provider */
	size_t n;
	struct dbr_host slots[DBR_CHAIN_MAX];
};

/* chain_auth_type.c */

/* The auth type the caller chose (opt, from --auth-type), else
 * DATABRICKS_AUTH_TYPE, else the profile's auth_type, else none (the first
 * source that has something decides). Returns 0 or DBR_E_USAGE/DBR_E_CONFIG
 * for a value other than "pat" or "oauth-m2m" (err says where it is). */
int dbr_chain_auth_type_init(struct dbr_chain *c, const char *opt, struct dbr_err *err);

/* What slot h found, against the auth type: 0 with *m2m set (use it),
 * DBR_E_NOT_HERE (it has only the other kind: the reason says so, the chain
 * moves on) or DBR_E_CONFIG (both kinds and no auth type: err says how to
 * choose). */
int dbr_chain_auth_type_pick(struct dbr_chain *c, struct dbr_host *h, int *m2m,
			     struct dbr_err *err);


#endif
