/* Clusters API: create, get, list, delete, wait. */
#include "dbroker/clusters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "dbroker/cluster_spec.h"
#include "dbroker/api_error.h"
#include "dbroker/request.h"
#include "answer.h"
#include "poller.h"
#include "dbroker/text.h"
#include "banned.h"

/* Cluster ids look like "1234-567890-abcde123": refuse anything that would
 * need escaping rather than build odd URLs. */
static int check_id(const char *id, struct dbr_err *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= sizeof(((struct dbr_cluster_info *)0)->cluster_id))
		return dbr_err_set(err, DBR_E_INVAL, "'%s' is not a cluster id", id ? id : "");
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return dbr_err_set(err, DBR_E_INVAL,
					   "'%s' is not a cluster id (ids look like "
					   "1234-567890-abcde123)", id);
	}
	return 0;
}

static void copy_str(char *dst, size_t cap, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	size_t n;

	dst[0] = '\0';
	if (!cJSON_IsString(v) || !v->valuestring)
		return;
	/* not masked yet: a cut may not leave part of a token behind */
	n = dbr_text_cut_len(v->valuestring, strlen(v->valuestring), cap - 1);
	memcpy(dst, v->valuestring, n);
	dst[n] = '\0';
}

/* The answer's cluster_id whole, or none: a cut id would name another
 * cluster, or none. */
static void copy_id(char *dst, size_t cap, const cJSON *obj)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "cluster_id"));

	dst[0] = '\0';
	if (id && strlen(id) < cap && check_id(id, NULL) == 0)
		snprintf(dst, cap, "%s", id);
}

static void copy_clean(char *dst, size_t cap, const cJSON *obj, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));

	dbr_api_text_clean(dst, cap, v, v ? strlen(v) : 0);
}

static void fill_info(const cJSON *doc, struct dbr_cluster_info *out)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(doc, "termination_reason");

	copy_id(out->cluster_id, sizeof(out->cluster_id), doc);
	copy_str(out->cluster_name, sizeof(out->cluster_name), doc, "cluster_name");
	copy_str(out->state, sizeof(out->state), doc, "state");
	/* server text that reaches a terminal line: one clean line */
	copy_clean(out->state_message, sizeof(out->state_message), doc, "state_message");
	copy_str(out->termination_code, sizeof(out->termination_code), tr, "code");
	copy_str(out->termination_type, sizeof(out->termination_type), tr, "type");
}

/* What becomes of a cluster whose wait for target ended early: a create
 * leaves it (it may still start), an accepted delete goes on. */
static const char *left_as(const char *target, int may_start)
{
	if (strcmp(target, "TERMINATED") == 0)
		return "the delete was accepted and the cluster goes on terminating";
	return may_start ? "it was not deleted and may still start" : "it was not deleted";
}

/* Ctrl-C (or SIGTERM, SIGHUP) while waiting, whether a poll was on the
 * wire or it was between polls: the same words either way. */
static int stopped_waiting(const char *id, const char *state, const char *target,
			   struct dbr_err *err)
{
	return dbr_err_set(err, DBR_E_INTERRUPTED, "stopped waiting for cluster '%s' (%s); %s: "
			   "check it with 'dbroker clusters get %s'", id, state,
			   left_as(target, 0), id);
}

/* The create may have launched a cluster, and nothing tells which: say so,
 * with what went wrong and the token that finishes the job safely. */
static int maybe_created(const struct dbr_cluster_spec *spec, struct dbr_err *err)
{
	char cause[DBR_ERR_MSG_MAX];

	snprintf(cause, sizeof(cause), "%s", err && err->msg[0] ? err->msg : "no usable answer");
	return dbr_err_set(err, DBR_E_MAYBE_APPLIED,
			   "the workspace may have created the cluster (%s); rerun the same "
			   "command with --idempotency-token %s: it returns that cluster if it "
			   "exists and creates it once if not ('dbroker clusters list' shows the "
			   "clusters)", cause, dbr_cluster_spec_idempotency(spec));
}

int dbr_clusters_create(struct dbr_client *c, struct dbr_cluster_spec *spec,
			struct dbr_cluster_info *out, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	char *body = NULL;
	size_t len = 0;
	cJSON *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dbr_cluster_spec_ensure_idempotency(spec, NULL, err);
	if (rc)
		return rc;
	rc = dbr_cluster_spec_to_json(spec, &body, &len);
	if (rc)
		return dbr_err_set(err, rc, "cannot serialise the cluster spec");
	/* the idempotency token makes a retried create launch one cluster at most */
	rc = dbr_client_call(c, "POST", DBR_CLUSTERS_API "/create", body, len,
			     DBR_CALL_IDEMPOTENT, &resp, &aerr, err);
	free(body);
	if (rc)
		return dbr_client_outcome_unknown(c) ? maybe_created(spec, err) : rc;
	doc = api_parse_object(resp.body, resp.body_len, "clusters/create", err);
	dbr_http_response_release(&resp);
	if (!doc)
		return maybe_created(spec, err);
	copy_id(out->cluster_id, sizeof(out->cluster_id), doc);
	cJSON_Delete(doc);
	if (!out->cluster_id[0]) {
		dbr_err_set(err, DBR_E_API, "the workspace accepted clusters/create but sent no "
			    "usable cluster_id");
		return maybe_created(spec, err);
	}
	if (dbr_cluster_spec_name(spec))
		snprintf(out->cluster_name, sizeof(out->cluster_name), "%s",
			 dbr_cluster_spec_name(spec));
	snprintf(out->state, sizeof(out->state), "PENDING");
	return 0;
}

int dbr_clusters_get(struct dbr_client *c, const char *cluster_id,
		     struct dbr_cluster_info *out, char **json, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	char path[160];
	cJSON *doc;
	int rc;

	if (json)
		*json = NULL;
	/* check (and use) the id before clearing out: callers may pass
	 * out->cluster_id itself */
	rc = check_id(cluster_id, err);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), DBR_CLUSTERS_API "/get?cluster_id=%s", cluster_id);
	if (out)
		memset(out, 0, sizeof(*out));
	rc = dbr_client_call(c, "GET", path, NULL, 0, 0, &resp, &aerr, err);
	if (rc)
		return rc;
	doc = api_parse_object(resp.body, resp.body_len, "clusters/get", err);
	if (!doc) {
		dbr_http_response_release(&resp);
		return DBR_E_API;
	}
	if (out)
		fill_info(doc, out);
	cJSON_Delete(doc);
	if (json) {
		*json = strdup(resp.body);
		if (!*json)
			rc = DBR_E_NOMEM;
	}
	dbr_http_response_release(&resp);
	return rc;
}

int dbr_clusters_list(struct dbr_client *c, char **json, struct dbr_err *err)
{
	return dbr_clusters_list_some(c, 0, json, err);
}

int dbr_clusters_delete(struct dbr_client *c, const char *cluster_id, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	char body[128];
	int rc, n;

	rc = check_id(cluster_id, err);
	if (rc)
		return rc;
	n = snprintf(body, sizeof(body), "{\"cluster_id\":\"%s\"}", cluster_id);
	/* terminating twice is a no-op on the server: safe to retry */
	rc = dbr_client_call(c, "POST", DBR_CLUSTERS_API "/delete", body, (size_t)n,
			     DBR_CALL_IDEMPOTENT, &resp, &aerr, err);
	dbr_http_response_release(&resp);
	return rc;
}

static int failed_state(const struct dbr_cluster_info *i, const char *target)
{
	if (strcmp(i->state, "ERROR") == 0)
		return 1;
	return strcmp(target, "RUNNING") == 0 && strcmp(i->state, "TERMINATED") == 0;
}

struct tick_ctx {
	dbr_cluster_progress_fn progress;
	void *arg;
	const struct dbr_cluster_info *info;
};

static void tick(void *arg, long elapsed_ms)
{
	struct tick_ctx *t = arg;

	t->progress(t->arg, t->info, elapsed_ms, 0);
}

static int still_waiting(const struct dbr_cluster_info *i, const char *target, long elapsed_ms,
			 struct dbr_err *err)
{
	return dbr_err_set(err, DBR_E_TIMEOUT, "cluster '%s' is still %s after %ld s; %s: check "
			   "it with 'dbroker clusters get %s'", i->cluster_id, i->state,
			   (elapsed_ms + 500) / 1000, left_as(target, 1), i->cluster_id);
}

int dbr_clusters_wait(struct dbr_client *c, const char *cluster_id, const char *target,
		      long timeout_ms, dbr_cluster_progress_fn progress, void *progress_arg,
		      struct dbr_cluster_info *out, struct dbr_err *err)
{
	struct tick_ctx t = { progress, progress_arg, out };
	struct dbr_poller pl;
	char id[sizeof(out->cluster_id)];
	int rc;

	/* out is rewritten by every poll: keep our own copy of the id */
	snprintf(id, sizeof(id), "%s", cluster_id ? cluster_id : "");
	cluster_id = id;
	dbr_poller_start(&pl, timeout_ms);
	for (;;) {
		struct dbr_cluster_info last = *out;
		long elapsed;

		rc = dbr_clusters_get(c, cluster_id, out, NULL, err);
		if (rc == DBR_E_INTERRUPTED) { /* Ctrl-C while a poll was on the wire */
			*out = last;
			snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", id);
			return stopped_waiting(id, out->state[0] ? out->state : "PENDING", target,
					       err);
		}
		if (rc) {
			/* the cluster exists: the result and the message name it */
			char cause[DBR_ERR_MSG_MAX];

			*out = last;
			snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", id);
			snprintf(cause, sizeof(cause), "%s", err ? err->msg : "");
			return dbr_err_set(err, rc, "waiting for cluster '%s' (last seen %s): %s; %s: "
					   "check it with 'dbroker clusters get %s'", id,
					   out->state[0] ? out->state : "PENDING", cause,
					   left_as(target, 0), id);
		}
		/* an answer that names no usable id still describes the
		 * cluster asked about */
		if (!out->cluster_id[0])
			snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", id);
		if (!out->state[0]) { /* waiting would never end */
			return dbr_err_set(err, DBR_E_API,
					   "the workspace described cluster '%s' without a state: "
					   "check that the workspace URL is right; %s: 'dbroker "
					   "clusters get %s' shows it", cluster_id,
					   left_as(target, 0), cluster_id);
		}
		elapsed = dbr_poller_elapsed(&pl);
		if (progress)
			progress(progress_arg, out, elapsed, 1);
		if (strcmp(out->state, target) == 0)
			return 0;
		if (failed_state(out, target))
			return dbr_err_set(err, DBR_E_CLUSTER_FAILED,
					   "cluster '%s' is %s: %s%s%s%s%s%s; fix the cause it "
					   "names, then create the cluster again ('dbroker "
					   "clusters get %s' has the details)",
					   cluster_id, out->state,
					   out->state_message[0] ? out->state_message : "no message",
					   out->termination_code[0] ? " (termination reason " : "",
					   out->termination_code,
					   out->termination_type[0] ? ", " : "",
					   out->termination_type,
					   out->termination_code[0] ? ")" : "", cluster_id);
		if (elapsed >= timeout_ms)
			return still_waiting(out, target, elapsed, err);
		if (dbr_poller_sleep(&pl, progress ? tick : NULL, &t))
			return stopped_waiting(cluster_id, out->state, target, err);
		/* the time is up: the state seen last is the answer (a poll now
		 * would run past the deadline) */
		if (dbr_poller_expired(&pl))
			return still_waiting(out, target, dbr_poller_elapsed(&pl), err);
	}
}
