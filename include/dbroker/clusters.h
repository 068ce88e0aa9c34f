/* dbroker-layer: api */
/* Clusters API operations on a workspace client (dbroker/request.h). */
#ifndef DBROKER_CLUSTERS_H
#define DBROKER_CLUSTERS_H

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_client;
struct dbr_cluster_spec;

/* API prefix used for cluster calls (the current SDKs' version). */
#define DBR_CLUSTERS_API "/api/2.1/clusters"

/* What dbroker tracks of a cluster. Strings are "" when absent. */
struct dbr_cluster_info {
	char cluster_id[64];
	char cluster_name[256];
	char state[32];              /* PENDING, RUNNING, TERMINATED, ERROR, ... */
	char state_message[512];
	char termination_code[64];   /* termination_reason.code */
	char termination_type[32];   /* SUCCESS, CLIENT_ERROR, SERVICE_FAULT, CLOUD_FAILURE */
};

/* Create a cluster. spec must be validated; an idempotency token is added
 * when it has none, so every retry (the call is retried as idempotent) can
 * launch at most one cluster. *cluster_id receives the id.
 * Returns 0 or the request module's codes; DBR_E_MAYBE_APPLIED when the
 * workspace may have created the cluster but dbroker cannot know (a 500,
 * 502 or 504, a connection lost or a timeout or interrupt after the request
 * went out, a 2xx answer without a usable cluster_id): err then names the
 * cause and the idempotency token that finishes the job safely. */
DBR_API int dbr_clusters_create(struct dbr_client *c, struct dbr_cluster_spec *spec,
				struct dbr_cluster_info *out, struct dbr_err *err);

/* Fetch one cluster. json (may be NULL) receives the raw JSON answer
 * (malloc'ed, free()). Unknown id: DBR_E_API (400 INVALID_PARAMETER_VALUE,
 * "does not exist"). */
DBR_API int dbr_clusters_get(struct dbr_client *c, const char *cluster_id,
			     struct dbr_cluster_info *out, char **json,
			     struct dbr_err *err);

/* Every cluster: dbr_clusters_list_some(c, 0, json, err). */
DBR_API int dbr_clusters_list(struct dbr_client *c, char **json, struct dbr_err *err);

/* clusters/list, following next_page_token to the end (the service may
 * page unasked) or until limit clusters (0: all; then page_size asks for
 * no more than needed). *json (malloc'ed, free()) is {"clusters": [...]},
 * an empty list when there are none, plus "has_more": true when limit
 * stopped before the end. Returns 0, DBR_E_INVAL (limit < 0), DBR_E_API
 * (an answer that is not a page, a page token that repeats) or the
 * request module's codes. */
DBR_API int dbr_clusters_list_some(struct dbr_client *c, long limit, char **json,
				   struct dbr_err *err);

/* Terminate (clusters/delete): asynchronous, a no-op when already
 * terminating. */
DBR_API int dbr_clusters_delete(struct dbr_client *c, const char *cluster_id,
				struct dbr_err *err);

/* Called after every poll (polled = 1) and about once a second while
 * waiting between polls (polled = 0), with the last state seen. */
typedef void (*dbr_cluster_progress_fn)(void *arg, const struct dbr_cluster_info *info,
					long elapsed_ms, int polled);

/* Poll clusters/get until the cluster reaches target ("RUNNING" or
 * "TERMINATED"), sleeping min(attempt, 10) s plus jitter between polls.
 * Reaching ERROR, or TERMINATED while waiting for RUNNING, returns
 * DBR_E_CLUSTER_FAILED with state_message and termination_reason in err.
 * DBR_E_TIMEOUT after timeout_ms; DBR_E_INTERRUPTED after
 * dbr_client_interrupt(); DBR_E_API at once when an answer names no state;
 * any error of a poll, with the cluster named in err. *out holds the last
 * state seen and the cluster's id in every case. */
DBR_API int dbr_clusters_wait(struct dbr_client *c, const char *cluster_id,
			      const char *target, long timeout_ms,
			      dbr_cluster_progress_fn progress, void *progress_arg,
			      struct dbr_cluster_info *out, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
