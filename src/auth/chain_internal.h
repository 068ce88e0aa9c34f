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
	size_t n;
	struct dbr_host slots[DBR_CHAIN_MAX];
};



#endif
