/* Reading a job run from a runs/get answer: the status object first, the
 * deprecated state when status is missing (older workspaces, API 2.1).
 * The answer is untrusted: every field is checked for type and size, and
 * text is cleaned before it can reach a terminal.
 */
#include "dbroker/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dbroker/api_error.h"
#include "answer.h"
#include "jobs_internal.h"
#include "banned.h"

/* Tasks kept of one run: Databricks allows 1000 in a job. */
#define TASKS_MAX 10000

/* Every other life-cycle state (QUEUED, PENDING, RUNNING, TERMINATING,
 * BLOCKED, WAITING_FOR_RETRY, and any the API adds) keeps a run going. */
static const char *const ended[] = { "TERMINATED", "SKIPPED", "INTERNAL_ERROR", NULL };

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

int jobs_id_of(const cJSON *v, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= 1 && d <= (double)DBR_JOB_ID_MAX) || d != (double)(int64_t)d)
		return 0;
	*out = (int64_t)d;
	return 1;
}

const cJSON *jobs_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

void jobs_copy_clean(char *dst, size_t cap, const cJSON *obj, const char *key)
{
	const char *v = cJSON_GetStringValue(jobs_get(obj, key));

	dbr_api_text_clean(dst, cap, v, v ? strlen(v) : 0);
}

/* An enum-like word (state, result, code): letters, digits, '_' only, or
 * "" (anything else is not a value dbroker could act on). */
static void copy_word(char *dst, size_t cap, const cJSON *obj, const char *key)
{
	const char *v = cJSON_GetStringValue(jobs_get(obj, key));
	size_t n = v ? strlen(v) : 0;

	dst[0] = '\0';
	if (n == 0 || n >= cap)
		return;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
			return;
	memcpy(dst, v, n + 1);
}

/* result_state for a run read from status: what the deprecated state
 * would say for its termination code. */
static const char *result_of_code(const char *code)
{
	static const struct {
		const char *code;
		const char *result;
	} map[] = {
		{ "SUCCESS", "SUCCESS" },
		{ "SUCCESS_WITH_FAILURES", "SUCCESS_WITH_FAILURES" },
		{ "USER_CANCELED", "CANCELED" },
		{ "CANCELED", "CANCELED" },
		{ "MAX_CONCURRENT_RUNS_EXCEEDED", "MAXIMUM_CONCURRENT_RUNS_REACHED" },
		{ "SKIPPED", "EXCLUDED" },
		{ "TIMEDOUT", "TIMEDOUT" },
		{ "UPSTREAM_FAILED", "UPSTREAM_FAILED" },
		{ "UPSTREAM_CANCELED", "UPSTREAM_CANCELED" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(code, map[i].code) == 0)
			return map[i].result;
	return "FAILED";
}

/* state, result_state, terminal (and the termination fields) of a run or
 * a task run. Returns 1 when either object was there. */
static int read_state(const cJSON *doc, char *state, size_t scap, char *result, size_t rcap,
		      char *code, size_t ccap, char *type, size_t tcap, char *msg, size_t mcap,
		      int *from_status)
{
	const cJSON *st = jobs_get(doc, "status"), *old = jobs_get(doc, "state");
	const cJSON *td = jobs_get(st, "termination_details");
	char tmp[48];

	state[0] = result[0] = '\0';
	if (code)
		code[0] = type[0] = msg[0] = '\0';
	*from_status = 0;
	copy_word(state, scap, st, "state");
	if (state[0]) {
		*from_status = 1;
		copy_word(tmp, sizeof(tmp), td, "code");
		if (code) {
			snprintf(code, ccap, "%s", tmp);
			copy_word(type, tcap, td, "type");
			jobs_copy_clean(msg, mcap, td, "message");
			if (!msg[0])
				jobs_copy_clean(msg, mcap, jobs_get(st, "queue_details"), "message");
		}
		/* the deprecated field, when also sent, is the exact word */
		copy_word(result, rcap, old, "result_state");
		if (!result[0] && tmp[0] && in_list(state, ended))
			snprintf(result, rcap, "%s", result_of_code(tmp));
	} else {
		copy_word(state, scap, old, "life_cycle_state");
		copy_word(result, rcap, old, "result_state");
	}
	if (code && !msg[0])
		jobs_copy_clean(msg, mcap, old, "state_message");
	return state[0] != '\0';
}

void dbr_job_run_release(struct dbr_job_run *run)
{
	if (!run)
		return;
	free(run->tasks);
	memset(run, 0, sizeof(*run));
}

static int read_tasks(const cJSON *arr, struct dbr_job_run *out)
{
	const cJSON *t;
	size_t n = 0, i = 0;

	cJSON_ArrayForEach(t, arr)
		n++;
	if (n == 0)
		return 0;
	if (n > TASKS_MAX)
		n = TASKS_MAX;
	out->tasks = calloc(n, sizeof(*out->tasks));
	if (!out->tasks)
		return DBR_E_NOMEM;
	cJSON_ArrayForEach(t, arr) {
		struct dbr_job_task *k = &out->tasks[i];
		int from_status;

		if (i == n)
			break;
		if (!cJSON_IsObject(t))
			continue;
		jobs_copy_clean(k->task_key, sizeof(k->task_key), t, "task_key");
		if (!jobs_id_of(jobs_get(t, "run_id"), &k->run_id))
			k->run_id = 0;
		read_state(t, k->state, sizeof(k->state), k->result_state, sizeof(k->result_state),
			   NULL, 0, NULL, 0, NULL, 0, &from_status);
		i++;
	}
	out->n_tasks = i;
	return 0;
}

int dbr_job_run_parse(const char *json, size_t len, struct dbr_job_run *out,
		      struct dbr_err *err)
{
	cJSON *doc;
	int rc;

	dbr_job_run_release(out);
	if (!(doc = api_parse_object(json, len, "runs/get", err)))
		return DBR_E_API;
	rc = jobs_run_from_doc(doc, out, err);
	cJSON_Delete(doc);
	return rc;
}

int jobs_run_from_doc(const cJSON *doc, struct dbr_job_run *out, struct dbr_err *err)
{
	int rc;

	dbr_job_run_release(out);
	if (!jobs_id_of(jobs_get(doc, "run_id"), &out->run_id))
		return dbr_err_set(err, DBR_E_API, "the workspace described a run without a usable "
				   "run_id: check that the workspace URL is right");
	if (!jobs_id_of(jobs_get(doc, "job_id"), &out->job_id))
		out->job_id = 0;
	jobs_copy_clean(out->run_name, sizeof(out->run_name), doc, "run_name");
	jobs_copy_clean(out->run_page_url, sizeof(out->run_page_url), doc, "run_page_url");
	if (!read_state(doc, out->state, sizeof(out->state), out->result_state,
			sizeof(out->result_state), out->termination_code,
			sizeof(out->termination_code), out->termination_type,
			sizeof(out->termination_type), out->state_message,
			sizeof(out->state_message), &out->from_status)) {
		int64_t id = out->run_id;

		dbr_job_run_release(out);
		out->run_id = id;
		return dbr_err_set(err, DBR_E_API, "the workspace described run %lld without a "
				   "state: check that the workspace URL is right",
				   (long long)id);
	}
	out->terminal = in_list(out->state, ended);
	rc = read_tasks(jobs_get(doc, "tasks"), out);
	if (rc) {
		dbr_job_run_release(out);
		return dbr_err_set(err, rc, "out of memory reading a run");
	}
	return 0;
}

int dbr_job_run_succeeded(const struct dbr_job_run *run)
{
	return run && run->terminal && strcmp(run->result_state, "SUCCESS") == 0;
}

const struct dbr_job_task *dbr_job_run_failed_task(const struct dbr_job_run *run)
{
	static const char *const own[] = { "FAILED", "TIMEDOUT", "CANCELED", NULL };
	const struct dbr_job_task *other = NULL;

	if (!run)
		return NULL;
	for (size_t i = 0; i < run->n_tasks; i++) {
		const struct dbr_job_task *t = &run->tasks[i];

		/* a task that failed by itself explains more than its dependants */
		if (in_list(t->result_state, own))
			return t;
		if (!other && t->result_state[0] && strcmp(t->result_state, "SUCCESS") != 0)
			other = t;
	}
	return other;
}
