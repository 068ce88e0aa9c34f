/* dbroker-layer: serve */
/* libdbroker: the umbrella header. */
#ifndef DBROKER_DBROKER_H
#define DBROKER_DBROKER_H

#include "dbroker/errors.h"
#include "dbroker/runtime.h"
#include "dbroker/os.h"
#include "dbroker/credential.h"
#include "dbroker/host_url.h"
#include "dbroker/secret.h"
#include "dbroker/bytes.h"
#include "dbroker/mask.h"
#include "dbroker/sanitize.h"
#include "dbroker/text.h"
#include "dbroker/log.h"
#include "dbroker/config.h"
#include "dbroker/http.h"
#include "dbroker/provider.h"
#include "dbroker/chain.h"
#include "dbroker/api_error.h"
#include "dbroker/request.h"
#include "dbroker/agent.h"
#include "dbroker/cluster_spec.h"
#include "dbroker/clusters.h"
#include "dbroker/jobs.h"
#include "dbroker/tokens.h"
#include "dbroker/proxy.h"
#include "dbroker/child.h"
#include "dbroker/agent_server.h"

#endif
