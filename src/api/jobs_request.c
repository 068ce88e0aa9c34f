/* Run-now and runs/submit bodies: strict JSON input, the checks the server
 * would make that need no request, and the idempotency token. The JSON
 * reader, the error collector, the cluster rules and the token helpers are
 * the cluster spec's (cluster_spec_internal.h).
 */
#include "jobs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_spec_internal.h"
#include "banned.h"

#define TASK_KEY_MAX 100

/* Fields of a run-now body (Jobs API 2.2). */
static const char *const run_now_fields[] = {
	"job_id", "idempotency_token", "job_parameters", "queue", "only",
	"performance_target", "pipeline_params", "python_params", "jar_params",
	"notebook_params", "spark_submit_params", "python_named_params", "sql_params",
	"dbt_commands", NULL,
};

/* Fields of a runs/submit body. */
static const char *const submit_fields[] = {
	"run_name", "tasks", "idempotency_token", "timeout_seconds", "access_control_list",
	"budget_policy_id", "email_notifications", "environments", "git_source", "health",
	"job_clusters", "notification_settings", "queue", "run_as", "usage_policy_id",
	"webhook_notifications", NULL,
};

/* Exactly one of these says what a task runs. */
static const char *const task_types[] = {
	"notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
	"spark_submit_task", "sql_task", "dbt_task", "pipeline_task", "run_job_task",
	"condition_task", "for_each_task", "clean_rooms_notebook_task", "dashboard_task",
	"power_bi_task", "gen_ai_compute_task", NULL,
};

/* Task types that run on a cluster (or serverless compute). */
static const char *const cluster_types[] = {
	"notebook_task", "spark_python_task", "python_wheel_task", "spark_jar_task",
	"spark_submit_task", NULL,
};

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

static int wrap(enum job_request_kind kind, cJSON *root, struct dbr_job_request **out,
		struct dbr_err *err)
{
	struct dbr_job_request *r = calloc(1, sizeof(*r));

	if (!r) {
		cJSON_Delete(root);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	r->kind = kind;
	r->root = root;
	*out = r;
	return 0;
}

/* Nothing run-now knows, and only strings: a map of job parameters. */
static int is_parameter_map(const cJSON *root)
{
	const cJSON *it;

	if (!root->child)
		return 0;
	cJSON_ArrayForEach(it, root)
		if (in_list(it->string, run_now_fields) || !cJSON_IsString(it))
			return 0;
	return 1;
}

int dbr_job_request_run_now(int64_t job_id, const char *json, size_t len, const char *origin,
			    struct dbr_job_request **out, struct dbr_err *err)
{
	cJSON *root = NULL, *id;
	int64_t given;
	int rc;

	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no place to store the request (a bug)");
	*out = NULL;
	if (job_id < 1 || job_id > DBR_JOB_ID_MAX)
		return dbr_err_set(err, DBR_E_INVAL, "job id %lld is out of range; job ids are "
				   "whole numbers from 1 ('dbroker jobs list' shows them)",
				   (long long)job_id);
	if (json) {
		rc = spec_parse_object(json, len, origin, "run", DBR_JOB_REQUEST_MAX, &root, err);
		if (rc)
			return rc;
		if (is_parameter_map(root)) {
			cJSON *body = cJSON_CreateObject();

			if (!body || !cJSON_AddItemToObject(body, "job_parameters", root)) {
				cJSON_Delete(body);
				cJSON_Delete(root);
				return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
			}
			root = body;
		}
	} else {
		root = cJSON_CreateObject();
		if (!root)
			return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "job_id");
	if (id && (!jobs_id_of(id, &given) || given != job_id)) {
		cJSON_Delete(root);
		return dbr_err_set(err, DBR_E_INVAL, "the JSON names another job_id than %lld; "
				   "remove job_id from it (the job is the command's argument)",
				   (long long)job_id);
	}
	if (!id && !cJSON_AddNumberToObject(root, "job_id", (double)job_id)) {
		cJSON_Delete(root);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	return wrap(JOB_RUN_NOW, root, out, err);
}

int dbr_job_request_submit(const char *json, size_t len, const char *origin,
			   struct dbr_job_request **out, struct dbr_err *err)
{
	cJSON *root = NULL;
	int rc;

	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no place to store the request (a bug)");
	*out = NULL;
	rc = spec_parse_object(json, len, origin, "run", DBR_JOB_REQUEST_MAX, &root, err);
	if (rc)
		return rc;
	return wrap(JOB_SUBMIT, root, out, err);
}

void dbr_job_request_free(struct dbr_job_request *r)
{
	if (!r)
		return;
	cJSON_Delete(r->root);
	free(r);
}

/* ---- validation ------------------------------------------------------------------ */

static int key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > TASK_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-'))
			return 0;
	return 1;
}

/* The index of the task called key among n tasks, or -1. */
static int find_task(const char *const *keys, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (keys[i] && strcmp(keys[i], key) == 0)
			return i;
	return -1;
}

/* A new_cluster (of a task or a job cluster): the clusters/create rules,
 * each line prefixed with where it is. */
static void check_new_cluster(struct spec_report *v, const cJSON *nc, const char *where)
{
	const char *saved = v->prefix;

	if (!cJSON_IsObject(nc)) {
		spec_error(v, "'%s' must be an object of clusters/create fields", where);
		return;
	}
	v->prefix = where;
	spec_validate_object(v, nc);
	v->prefix = saved;
}

static void check_compute(struct spec_report *v, const cJSON *task, int i, const char *type,
			  const cJSON *root)
{
	const cJSON *ex = jobs_get(task, "existing_cluster_id"), *nc = jobs_get(task, "new_cluster");
	const cJSON *jk = jobs_get(task, "job_cluster_key"), *jc;
	int n = (ex != NULL) + (nc != NULL) + (jk != NULL), python;
	char where[64];

	if (n > 1) {
		spec_error(v, "tasks[%d] names %d clusters (existing_cluster_id, new_cluster, "
			   "job_cluster_key); keep one", i, n);
		return;
	}
	if (ex && (!cJSON_IsString(ex) || !*ex->valuestring))
		spec_error(v, "tasks[%d].existing_cluster_id must be a cluster id such as "
			   "\"1234-567890-abcde123\"", i);
	if (nc) {
		snprintf(where, sizeof(where), "tasks[%d].new_cluster", i);
		check_new_cluster(v, nc, where);
	}
	if (jk) {
		const char *want = cJSON_GetStringValue(jk);
		int found = 0;

		cJSON_ArrayForEach(jc, jobs_get(root, "job_clusters")) {
			const char *k = cJSON_GetStringValue(jobs_get(jc, "job_cluster_key"));

			found |= want && k && strcmp(k, want) == 0;
		}
		if (!found)
			spec_error(v, "tasks[%d].job_cluster_key '%.*s' names no entry of "
				   "job_clusters; add it there or use new_cluster", i,
				   spec_clip(want ? want : "", SPEC_NAME_SHOWN), want ? want : "");
	}
	if (n || !type || !in_list(type, cluster_types))
		return;
	python = !strcmp(type, "spark_python_task") || !strcmp(type, "python_wheel_task");
	if (strcmp(type, "notebook_task") == 0)
		spec_warn(v, "tasks[%d] names no cluster: the notebook runs on serverless compute, "
			  "where the workspace has it; add existing_cluster_id or new_cluster "
			  "otherwise", i);
	else if (!python || !jobs_get(task, "environment_key"))
		spec_error(v, "tasks[%d] (%s) names no cluster; add existing_cluster_id or "
			   "new_cluster%s", i, type,
			   python ? ", or environment_key for serverless compute" : "");
}

static const char *check_task(struct spec_report *v, const cJSON *task, int i,
			      const cJSON *root)
{
	const cJSON *it, *key = jobs_get(task, "task_key");
	const char *type = NULL;
	int types = 0;

	if (!cJSON_IsObject(task)) {
		spec_error(v, "tasks[%d] must be an object with task_key and a task type", i);
		return NULL;
	}
	cJSON_ArrayForEach(it, task)
		if (in_list(it->string, task_types)) {
			types++;
			type = it->string;
			if (!cJSON_IsObject(it))
				spec_error(v, "tasks[%d].%s must be an object", i, it->string);
		}
	if (types == 0)
		spec_error(v, "tasks[%d] has no task type; add one of notebook_task, "
			   "spark_python_task, python_wheel_task, spark_jar_task, sql_task, ...", i);
	else if (types > 1)
		spec_error(v, "tasks[%d] has %d task types; a task runs exactly one, split it into "
			   "tasks linked with depends_on", i, types);
	check_compute(v, task, i, types == 1 ? type : NULL, root);
	if (!key) {
		spec_error(v, "tasks[%d].task_key is missing; give each task a unique name", i);
		return NULL;
	}
	if (!cJSON_IsString(key) || !key_ok(key->valuestring)) {
		spec_error(v, "tasks[%d].task_key must be 1 to %d letters, digits, '_' or '-'", i,
			   TASK_KEY_MAX);
		return NULL;
	}
	return key->valuestring;
}

/* depends_on of task i names other existing tasks. */
static void check_depends(struct spec_report *v, const cJSON *task, int i,
			  const char *const *keys, int n)
{
	const cJSON *deps = jobs_get(task, "depends_on"), *d;
	int j = 0;

	if (!deps)
		return;
	if (!cJSON_IsArray(deps)) {
		spec_error(v, "tasks[%d].depends_on must be an array of {\"task_key\": ...}", i);
		return;
	}
	cJSON_ArrayForEach(d, deps) {
		const char *k = cJSON_GetStringValue(jobs_get(d, "task_key"));

		if (!k)
			spec_error(v, "tasks[%d].depends_on[%d] must be {\"task_key\": \"...\"}", i, j);
		else if (keys[i] && strcmp(k, keys[i]) == 0)
			spec_error(v, "tasks[%d] ('%s') depends on itself; remove that entry", i,
				   keys[i]);
		else if (find_task(keys, n, k) < 0)
			spec_error(v, "tasks[%d].depends_on[%d] names '%.*s', which is not a "
				   "task_key of this run; fix the name or add the task", i, j,
				   spec_clip(k, SPEC_NAME_SHOWN), k);
		j++;
	}
}

/* Depth-first search for a cycle of depends_on; colour 1 = on the path. */
static int cycle_from(const cJSON *const *tasks, const char *const *keys, int n, int i,
		      char *colour)
{
	const cJSON *d;

	colour[i] = 1;
	cJSON_ArrayForEach(d, jobs_get(tasks[i], "depends_on")) {
		const char *k = cJSON_GetStringValue(jobs_get(d, "task_key"));
		int j = k ? find_task(keys, n, k) : -1;

		if (j < 0 || j == i)
			continue;
		if (colour[j] == 1 || (colour[j] == 0 && cycle_from(tasks, keys, n, j, colour)))
			return 1;
	}
	colour[i] = 2;
	return 0;
}

static void check_tasks(struct spec_report *v, const cJSON *root)
{
	const cJSON *tasks = jobs_get(root, "tasks"), *t, *jc;
	const cJSON **list;
	const char **keys;
	char *colour;
	int n = 0, i = 0;

	if (!tasks) {
		spec_error(v, "'tasks' is missing; a run needs at least one task, e.g. "
			   "\"tasks\": [{\"task_key\": \"main\", \"notebook_task\": {...}, ...}]");
		return;
	}
	if (!cJSON_IsArray(tasks) || !tasks->child) {
		spec_error(v, "'tasks' must be a non-empty array of tasks");
		return;
	}
	cJSON_ArrayForEach(t, tasks)
		n++;
	list = calloc((size_t)n, sizeof(*list));
	keys = calloc((size_t)n, sizeof(*keys));
	colour = calloc((size_t)n, 1);
	if (!list || !keys || !colour) {
		spec_error(v, "out of memory checking the tasks");
		goto out;
	}
	cJSON_ArrayForEach(t, tasks) {
		list[i] = t;
		keys[i] = check_task(v, t, i, root);
		if (keys[i] && find_task(keys, i, keys[i]) >= 0) {
			spec_error(v, "tasks[%d].task_key '%s' is used twice; task keys must be "
				   "unique", i, keys[i]);
			keys[i] = NULL;
		}
		i++;
	}
	for (i = 0; i < n; i++)
		check_depends(v, list[i], i, keys, n);
	for (i = 0; i < n; i++)
		if (cJSON_IsObject(list[i]) && colour[i] == 0 &&
		    cycle_from(list, keys, n, i, colour)) {
			spec_error(v, "the tasks' depends_on form a cycle (through '%s'); no task "
				   "of it could ever start", keys[i] ? keys[i] : "?");
			break;
		}
	i = 0;
	cJSON_ArrayForEach(jc, jobs_get(root, "job_clusters")) {
		char where[64];

		snprintf(where, sizeof(where), "job_clusters[%d].new_cluster", i++);
		if (!cJSON_GetStringValue(jobs_get(jc, "job_cluster_key")))
			spec_error(v, "job_clusters[%d].job_cluster_key is missing", i - 1);
		check_new_cluster(v, jobs_get(jc, "new_cluster"), where);
	}
out:
	free(list);
	free(keys);
	free(colour);
}

static void check_submit(struct spec_report *v, const cJSON *root)
{
	const cJSON *it = jobs_get(root, "run_name");

	if (it && !cJSON_IsString(it))
		spec_error(v, "'run_name' must be a string");
	it = jobs_get(root, "timeout_seconds");
	if (it && (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 2147483647.0 ||
		   it->valuedouble != (double)(long)it->valuedouble))
		spec_error(v, "'timeout_seconds' must be a whole number of seconds (0: no limit)");
	it = jobs_get(root, "job_clusters");
	if (it && !cJSON_IsArray(it))
		spec_error(v, "'job_clusters' must be an array");
	check_tasks(v, root);
}

static void check_run_now(struct spec_report *v, const cJSON *root)
{
	const cJSON *p = jobs_get(root, "job_parameters"), *e;

	if (!p)
		return;
	if (!cJSON_IsObject(p)) {
		spec_error(v, "'job_parameters' must be an object such as {\"env\": \"prod\"}");
		return;
	}
	cJSON_ArrayForEach(e, p)
		if (!cJSON_IsString(e))
			spec_error(v, "job_parameters[\"%.*s\"] must be a string; put the value in "
				   "double quotes", spec_clip(e->string, SPEC_NAME_SHOWN), e->string);
}

int dbr_job_request_validate(const struct dbr_job_request *r, dbr_spec_warn_fn warn,
			     void *warn_arg, struct dbr_err *err)
{
	const char *const *known;
	struct spec_report v;
	const cJSON *it;

	if (!r || !cJSON_IsObject(r->root))
		return dbr_err_set(err, DBR_E_INVAL, "no request to validate (a bug)");
	memset(&v, 0, sizeof(v));
	v.warn = warn;
	v.warn_arg = warn_arg;
	known = r->kind == JOB_SUBMIT ? submit_fields : run_now_fields;
	cJSON_ArrayForEach(it, r->root)
		if (!in_list(it->string, known))
			spec_warn(&v, "unknown field: %.*s", spec_clip(it->string, SPEC_NAME_SHOWN),
				  it->string);
	it = jobs_get(r->root, "idempotency_token");
	if (it && !cJSON_IsString(it))
		spec_error(&v, "'idempotency_token' must be a string");
	if (r->kind == JOB_SUBMIT)
		check_submit(&v, r->root);
	else
		check_run_now(&v, r->root);
	return spec_report_finish(&v, err);
}

/* ---- token and text ------------------------------------------------------------------ */

static int put_token(cJSON *root, const char *token, struct dbr_err *err)
{
	cJSON *s = cJSON_CreateString(token);

	cJSON_DeleteItemFromObjectCaseSensitive(root, "idempotency_token");
	if (!s || !cJSON_AddItemToObject(root, "idempotency_token", s)) {
		cJSON_Delete(s);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory setting 'idempotency_token'");
	}
	return 0;
}

int dbr_job_request_ensure_idempotency(struct dbr_job_request *r, const char *token,
				       struct dbr_err *err)
{
	const cJSON *have;
	char gen[33];
	int rc;

	if (!r)
		return dbr_err_set(err, DBR_E_INVAL, "no request given (a bug)");
	if (token) {
		rc = spec_idempotency_check(token, "the idempotency token", err);
		return rc ? rc : put_token(r->root, token, err);
	}
	have = cJSON_GetObjectItemCaseSensitive(r->root, "idempotency_token");
	if (have) {
		if (!cJSON_IsString(have))
			return dbr_err_set(err, DBR_E_INVAL, "'idempotency_token' in the JSON must "
					   "be a string; fix it, or remove it to get a generated one");
		return spec_idempotency_check(have->valuestring, "'idempotency_token' in the JSON",
					      err);
	}
	rc = spec_idempotency_generate(gen, err);
	return rc ? rc : put_token(r->root, gen, err);
}

const char *dbr_job_request_idempotency(const struct dbr_job_request *r)
{
	return r ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->root,
									  "idempotency_token"))
		 : NULL;
}

int dbr_job_request_to_json(const struct dbr_job_request *r, char **out, size_t *len)
{
	if (len)
		*len = 0;
	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!r)
		return DBR_E_INVAL;
	return spec_print_object(r->root, out, len);
}
