/* Clusters API: create, get, list, delete, wait. */
#include "dbroker/clusters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "dbroker/cluster_spec.h"
#include "dbroker/request.h"
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

static void fill_info(const cJSON *doc, struct dbr_cluster_info *out)
{
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(doc, "termination_reason");

	copy_str(out->cluster_id, sizeof(out->cluster_id), doc, "cluster_id");
	copy_str(out->cluster_name, sizeof(out->cluster_name), doc, "cluster_name");
	copy_str(out->state, sizeof(out->state), doc, "state");
	copy_str(out->state_message, sizeof(out->state_message), doc, "state_message");
	copy_str(out->termination_code, sizeof(out->termination_code), tr, "code");
	copy_str(out->termination_type, sizeof(out->termination_type), tr, "type");
}

/* Parse a 2xx answer as a JSON object. Returns NULL with err set. */
static cJSON *parse_answer(const struct dbr_http_response *resp, const char *what,
			   struct dbr_err *err)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body ? resp->body : "", resp->body_len);

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		dbr_err_set(err, DBR_E_API,
			    "the workspace answered %s with something that is not a JSON object",
			    what);
		return NULL;
	}
	return doc;
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
		return rc;
	doc = parse_answer(&resp, "clusters/create", err);
	dbr_http_response_release(&resp);
	if (!doc)
		return DBR_E_API;
	copy_str(out->cluster_id, sizeof(out->cluster_id), doc, "cluster_id");
	cJSON_Delete(doc);
	if (!out->cluster_id[0] || check_id(out->cluster_id, NULL))
		return dbr_err_set(err, DBR_E_API,
				   "the workspace accepted clusters/create but sent no usable "
				   "cluster_id: a cluster may exist now; 'dbroker clusters list' "
				   "shows it, and a rerun with --idempotency-token %s cannot "
				   "create a second one", dbr_cluster_spec_idempotency(spec));
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
	doc = parse_answer(&resp, "clusters/get", err);
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
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	int rc;

	*json = NULL;
	rc = dbr_client_call(c, "GET", DBR_CLUSTERS_API "/list", NULL, 0, 0, &resp, &aerr, err);
	if (rc)
		return rc;
	*json = strdup(resp.body ? resp.body : "{}");
	dbr_http_response_release(&resp);
	return *json ? 0 : DBR_E_NOMEM;
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

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* min(attempt, 10) s plus up to 250 ms of jitter, as the official tools poll. */
static long poll_delay_ms(int attempt)
{
	unsigned char r[2] = { 0, 0 };
	long base = (attempt < 10 ? attempt : 10) * 1000L;

	if (RAND_bytes(r, sizeof(r)) != 1)
		r[0] = r[1] = 0;
	return base + (long)(((unsigned)r[0] << 8 | r[1]) % 251);
}

static int failed_state(const struct dbr_cluster_info *i, const char *target)
{
	if (strcmp(i->state, "ERROR") == 0)
		return 1;
	return strcmp(target, "RUNNING") == 0 && strcmp(i->state, "TERMINATED") == 0;
}

int dbr_clusters_wait(struct dbr_client *c, const char *cluster_id, const char *target,
		      long timeout_ms, dbr_cluster_progress_fn progress, void *progress_arg,
		      struct dbr_cluster_info *out, struct dbr_err *err)
{
	long start = now_ms();
	char id[sizeof(out->cluster_id)];
	int attempt = 0, rc;

	/* out is rewritten by every poll: keep our own copy of the id */
	snprintf(id, sizeof(id), "%s", cluster_id ? cluster_id : "");
	cluster_id = id;
	for (;;) {
		long elapsed, delay;

		rc = dbr_clusters_get(c, cluster_id, out, NULL, err);
		if (rc)
			return rc;
		if (!out->state[0]) { /* waiting would never end */
			snprintf(out->cluster_id, sizeof(out->cluster_id), "%s", id);
			return dbr_err_set(err, DBR_E_API,
					   "the workspace described cluster '%s' without a state: "
					   "check that the workspace URL is right; the cluster was "
					   "not deleted: 'dbroker clusters get %s' shows it",
					   cluster_id, cluster_id);
		}
		elapsed = now_ms() - start;
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
			return dbr_err_set(err, DBR_E_TIMEOUT,
					   "cluster '%s' is still %s after %ld s; it was not deleted "
					   "and may still start: check it with 'dbroker clusters get %s'",
					   cluster_id, out->state, elapsed / 1000, cluster_id);
		delay = poll_delay_ms(++attempt);
		if (delay > timeout_ms - elapsed)
			delay = timeout_ms - elapsed;
		/* sleep in slices so progress can tick and Ctrl-C is prompt */
		while (delay > 0) {
			long slice = delay < 1000 ? delay : 1000;

			rc = dbr_client_sleep(slice);
			if (rc)
				return dbr_err_set(err, rc,
						   "stopped waiting for cluster '%s' (%s); it was not "
						   "deleted: check it with 'dbroker clusters get %s'",
						   cluster_id, out->state, cluster_id);
			delay -= slice;
			if (progress && delay > 0)
				progress(progress_arg, out, now_ms() - start, 0);
		}
	}
}
