/* Shared between chain.c (ordering, resolution) and host.c (the services
 * table providers call back into). Internal to libdbroker. */
#ifndef DBROKER_CHAIN_INTERNAL_H
#define DBROKER_CHAIN_INTERNAL_H

#include "dbroker/chain.h"
#include "dbroker/provider.h"
#include "plugin_loader.h"

#define DBR_REASON_MAX 512

/* One provider slot of a chain: the context a provider gets as its host. */
struct dbr_host {
	struct dbr_chain *chain;
	char name[DBR_PROVIDER_NAME_MAX + 1];
	const struct dbr_provider *prov;  /* NULL until loaded */
	void *state;
	int initialised;
	enum dbr_answer answer;
	char reason[DBR_REASON_MAX];
	char *host_url;                   /* set_host_url() result */
	struct dbr_secret *token;         /* set_token() result, owned */
	const struct dbr_secret *storing; /* token of the store() in progress */
};

struct dbr_chain {
	struct dbr_config *cfg;
	struct dbr_mask *mask;
	struct dbr_log *log;
	char *plugin_dir;
	const char *origin;
	int explicit_spec;
	int interactive;
	size_t n;
	struct dbr_host slots[DBR_CHAIN_MAX];
};

struct dbr_credential {
	char *host;
	const char *host_origin;
	char source[DBR_PROVIDER_NAME_MAX + 1];
	struct dbr_secret *token;
};

/* Forget a slot's previous result (token wiped). */
void dbr_host_reset_result(struct dbr_host *h);

#endif
