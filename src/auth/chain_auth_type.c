/* The chain's auth type: "pat" (a personal access token) or "oauth-m2m"
 * (a service principal's client id and secret), chosen by the user or
 * inferred from the first source that has something. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_internal.h"
#include "dbroker/config.h"
#include "banned.h"

#define CHOOSE_HOW "choose with 'auth_type = pat' or 'auth_type = oauth-m2m' in the " \
		   "profile, DATABRICKS_AUTH_TYPE or --auth-type"

int dbr_chain_auth_type_init(struct dbr_chain *c, const char *opt, struct dbr_err *err)
{
	const char *v = NULL, *origin = NULL, *envv = getenv("DATABRICKS_AUTH_TYPE");

	if (opt && *opt) {
		v = opt;
		origin = "--auth-type";
	} else if (envv && *envv) {
		v = envv;
		origin = "DATABRICKS_AUTH_TYPE";
	} else if ((v = dbr_config_get(c->env.cfg, "auth_type")) && *v) {
		origin = "profile auth_type";
	} else {
		return 0;
	}
	if (strcmp(v, "pat") == 0)
		c->auth_type = "pat";
	else if (strcmp(v, "oauth-m2m") == 0)
		c->auth_type = "oauth-m2m";
	else
		return dbr_err_set(err, strcmp(origin, "profile auth_type") == 0 ? DBR_E_CONFIG
				   : DBR_E_USAGE, "unknown auth type '%.64s' (from %s): use 'pat' "
				   "(a personal access token) or 'oauth-m2m' (a service principal's "
				   "client id and secret)", v, origin);
	c->auth_type_origin = origin;
	return 0;
}

int dbr_chain_auth_type_pick(struct dbr_chain *c, struct dbr_host *h, int *m2m,
			     struct dbr_err *err)
{
	int tok = h->token != NULL, cli = h->client_id && h->client_secret;

	*m2m = 0;
	if (c->auth_type && strcmp(c->auth_type, "pat") == 0) {
		if (tok)
			return 0;
		snprintf(h->reason, sizeof(h->reason), "has a client id and secret, not a token "
			 "(the auth type is 'pat', from %s)", c->auth_type_origin);
		return DBR_E_NOT_HERE;
	}
	if (c->auth_type) {
		if (cli) {
			*m2m = 1;
			return 0;
		}
		snprintf(h->reason, sizeof(h->reason), "has a token, not a client id and secret "
			 "(the auth type is 'oauth-m2m', from %s)", c->auth_type_origin);
		return DBR_E_NOT_HERE;
	}
	if (tok && cli) {
		snprintf(h->reason, sizeof(h->reason), "has both a token and a client id and "
			 "secret");
		return dbr_err_set(err, DBR_E_CONFIG, "provider '%s' has both a token and an OAuth "
				   "client id and secret, and no auth type says which to use: "
				   CHOOSE_HOW, h->name);
	}
	*m2m = cli;
	c->auth_type_origin = h->prov->name;
	return 0;
}
