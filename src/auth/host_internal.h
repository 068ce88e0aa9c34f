/* A provider's slot in the chain (struct dbr_host) and the services table
 * it calls back into (host.c). What built-in providers may see beyond the
 * public table. Internal to libdbroker. */
#ifndef DBROKER_HOST_INTERNAL_H
#define DBROKER_HOST_INTERNAL_H

#include "dbroker/provider.h"
#include "plugin_loader.h"

#define DBR_REASON_MAX 512

struct dbr_config;
struct dbr_log;
struct dbr_mask;

/* What providers may reach through the services table: the chain's
 * configuration, masker and log (borrowed). */
struct dbr_host_env {
	struct dbr_config *cfg;
	struct dbr_mask *mask;
	struct dbr_log *log;
	int interactive;
};

/* One provider slot of a chain: the context a provider gets as its host. */
struct dbr_host {
	const struct dbr_host_env *env;  /* the chain's, borrowed */
	char name[DBR_PROVIDER_NAME_MAX + 1];
	const struct dbr_provider *prov;  /* NULL until loaded */
	void *state;
	int initialised;
	enum dbr_answer answer;
	char reason[DBR_REASON_MAX];
	char *host_url;                   /* set_host_url() result */
	struct dbr_secret *token;         /* set_token() result, owned */
	char *client_id;                  /* set_client() results, owned */
	struct dbr_secret *client_secret;
	const struct dbr_secret *storing; /* token of the store() in progress */
	const char *storing_client_id;    /* its client id, for a client secret */
};

/* Forget a slot's previous result (token wiped). */
void dbr_host_reset_result(struct dbr_host *h);

/* The configuration the chain was built with. */
const struct dbr_config *dbr_host_config(const struct dbr_host *h);

/* The table every provider receives. */
const struct dbr_host_services *dbr_host_services_table(void);

#endif
