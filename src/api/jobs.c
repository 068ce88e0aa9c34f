/* Jobs API calls: start a run exactly once, read runs and output, cancel,
 * list with paging, wait for a run to end (dbroker/jobs.h).
 */
#include "jobs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/api_error.h"
#include "dbroker/request.h"
#include "cluster_spec_internal.h"
#include "answer.h"
#include "poller.h"
#include "paging.h"
#include "banned.h"

/* Pages followed before giving up on a workspace that never stops. */
#define PAGES_MAX 100000
/* Lines of an error trace shown under a failed task's error. */
#define TRACE_LINES 20
#define TRACE_LINE_MAX 300

static int check_run_id(int64_t id, struct dbr_err *err)
{
	if (id < 1 || id > DBR_JOB_ID_MAX)
		return dbr_err_set(err, DBR_E_INVAL, "run id %lld is out of range; run ids are "
				   "whole numbers from 1 ('dbroker jobs list-runs' shows them)",
				   (long long)id);
	return 0;
}

/* GET path as a JSON object into *doc, the answer's size in *bytes when
 * bytes is not NULL. */
static int get_doc(struct dbr_client *c, const char *path, const char *what, cJSON **doc,
		   size_t *bytes, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	int rc = dbr_client_call(c, "GET", path, NULL, 0, 0, &resp, NULL, err);

	*doc = NULL;
	if (rc == 0 && !(*doc = api_parse_object(resp.body, resp.body_len, what, err)))
		rc = DBR_E_API;
	if (rc == 0 && bytes)
		*bytes = resp.body_len;
	dbr_http_response_release(&resp);
	return rc;
}

/* malloc'ed compact text of doc into *json. */
static int doc_text(const cJSON *doc, char **json, struct dbr_err *err)
{
	return spec_print_object(doc, json, NULL) ? dbr_err_set(err, DBR_E_NOMEM, "out of memory")
						  : 0;
}

/* Percent-encode s (all but unreserved characters) onto dst[cap]. */
static int url_add(char *dst, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(dst);

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
			    ch == '~';

		if (o + 4 > cap)
			return -1;
		if (plain) {
			dst[o++] = (char)ch;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[ch >> 4];
			dst[o++] = hex[ch & 15];
		}
	}
	dst[o] = '\0';
	return 0;
}

/* ---- start ------------------------------------------------------------------------ */

int dbr_jobs_start(struct dbr_client *c, struct dbr_job_request *r, int64_t *run_id,
		   struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error aerr;
	const char *what = r && r->kind == JOB_SUBMIT ? "runs/submit" : "run-now";
	char path[64], *body = NULL, msg[DBR_ERR_MSG_MAX];
	const char *token;
	cJSON *doc = NULL;
	size_t len = 0;
	int rc, unknown;

	*run_id = 0;
	if (!r)
		return dbr_err_set(err, DBR_E_INVAL, "no request given (a bug)");
	rc = dbr_job_request_ensure_idempotency(r, NULL, err);
	if (rc)
		return rc;
	token = dbr_job_request_idempotency(r);
	if (dbr_job_request_to_json(r, &body, &len))
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	snprintf(path, sizeof(path), DBR_JOBS_API "/%s", what);
	/* the idempotency token makes every retry start one run at most */
	rc = dbr_client_call(c, "POST", path, body, len, DBR_CALL_IDEMPOTENT, &resp, &aerr, err);
	free(body);
	/* the run may exist when the request may have been acted on, or the
	 * workspace accepted it and named no run */
	unknown = rc && dbr_client_outcome_unknown(c);
	if (rc == 0) {
		doc = api_parse_object(resp.body, resp.body_len, what, err);
		if (doc && !jobs_id_of(jobs_get(doc, "run_id"), run_id))
			dbr_err_set(err, DBR_E_API, "the workspace accepted %s but sent no usable "
				    "run_id", what);
		rc = *run_id ? 0 : DBR_E_API;
		unknown = rc != 0;
	}
	cJSON_Delete(doc);
	dbr_http_response_release(&resp);
	if (unknown) {
		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
		rc = dbr_err_set(err, DBR_E_MAYBE_APPLIED, "%s; the workspace may have started "
				 "the run: rerun with --idempotency-token %s to get that run "
				 "instead of a second one ('dbroker jobs list-runs --active-only' "
				 "shows the runs)", msg, token);
	}
	return rc;
}

/* ---- runs ------------------------------------------------------------------------- */

/* Append the tasks of page to the tasks of doc (taking them). */
static int take_tasks(cJSON *doc, cJSON *page)
{
	cJSON *dst = cJSON_GetObjectItemCaseSensitive(doc, "tasks");
	cJSON *src = cJSON_GetObjectItemCaseSensitive(page, "tasks");

	if (!cJSON_IsArray(src))
		return 0;
	if (!cJSON_IsArray(dst)) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "tasks");
		dst = cJSON_AddArrayToObject(doc, "tasks");
		if (!dst)
			return DBR_E_NOMEM;
	}
	while (src->child) {
		cJSON *t = cJSON_DetachItemViaPointer(src, src->child);

		cJSON_AddItemToArray(dst, t);
	}
	return 0;
}

/* The next page's token of doc, or NULL; refuses one that repeats. */
static int next_token(const cJSON *doc, char *tok, size_t cap, struct dbr_err *err)
{
	const char *t = cJSON_GetStringValue(jobs_get(doc, "next_page_token"));

	if (!t || !*t) {
		tok[0] = '\0';
		return 0;
	}
	if (strlen(t) >= cap / 3 || strcmp(t, tok) == 0)
		return dbr_err_set(err, DBR_E_API, "the workspace sent a next_page_token that is "
				   "too long or the same as before: cannot page on");
	snprintf(tok, cap, "%s", t);
	return 0;
}

int dbr_jobs_get_run(struct dbr_client *c, int64_t run_id, struct dbr_job_run *out,
		     char **json, struct dbr_err *err)
{
	char path[3200], tok[3000] = "";
	cJSON *doc = NULL;
	size_t total = 0;
	int rc;

	if (json)
		*json = NULL;
	rc = check_run_id(run_id, err);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), DBR_JOBS_API "/runs/get?run_id=%lld", (long long)run_id);
	rc = get_doc(c, path, "runs/get", &doc, &total, err);
	if (rc == 0)
		rc = next_token(doc, tok, sizeof(tok), err);
	/* 2.2 pages long task lists: read them all */
	for (int pages = 0; rc == 0 && tok[0]; pages++) {
		cJSON *page = NULL;
		size_t bytes = 0;

		if (pages >= PAGES_MAX) {
			rc = dbr_err_set(err, DBR_E_API, "runs/get sent more than %d pages",
					 PAGES_MAX);
			break;
		}
		snprintf(path, sizeof(path), DBR_JOBS_API "/runs/get?run_id=%lld&page_token=",
			 (long long)run_id);
		if (url_add(path, sizeof(path), tok)) {
			rc = dbr_err_set(err, DBR_E_API, "next_page_token is too long");
			break;
		}
		rc = get_doc(c, path, "runs/get", &page, &bytes, err);
		if (rc == 0 && api_pages_over(&total, bytes))
			rc = dbr_err_set(err, DBR_E_TOO_LARGE, "run %lld is over %u MiB after "
					 "%d pages: too large to read", (long long)run_id,
					 API_LIST_MAX_BYTES >> 20, pages + 2);
		if (rc == 0)
			rc = take_tasks(doc, page);
		if (rc == 0)
			rc = next_token(page, tok, sizeof(tok), err);
		cJSON_Delete(page);
	}
	if (rc == 0) {
		struct dbr_job_run mine = DBR_JOB_RUN_INIT, *r = out ? out : &mine;

		cJSON_DeleteItemFromObjectCaseSensitive(doc, "next_page_token");
		/* what is printed must be a run too, and the one asked about */
		rc = jobs_run_from_doc(doc, r, err);
		if (rc == 0 && r->run_id != run_id) {
			rc = dbr_err_set(err, DBR_E_API, "the workspace answered runs/get for run "
					 "%lld with run %lld: check that the workspace URL is "
					 "right (and that no proxy in between answers from a "
					 "cache)", (long long)run_id, (long long)r->run_id);
			dbr_job_run_release(r);
		}
		dbr_job_run_release(&mine);
		if (rc == 0 && json)
			rc = doc_text(doc, json, err);
	}
	cJSON_Delete(doc);
	return rc;
}

int dbr_jobs_cancel_run(struct dbr_client *c, int64_t run_id, struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	char body[64];
	int rc, n;

	rc = check_run_id(run_id, err);
	if (rc)
		return rc;
	n = snprintf(body, sizeof(body), "{\"run_id\":%lld}", (long long)run_id);
	/* cancelling twice is a no-op on the server: safe to retry */
	rc = dbr_client_call(c, "POST", DBR_JOBS_API "/runs/cancel", body, (size_t)n,
			     DBR_CALL_IDEMPOTENT, &resp, NULL, err);
	dbr_http_response_release(&resp);
	return rc;
}

static int get_output_doc(struct dbr_client *c, int64_t run_id, cJSON **doc,
			  struct dbr_err *err)
{
	char path[128];

	snprintf(path, sizeof(path), DBR_JOBS_API "/runs/get-output?run_id=%lld",
		 (long long)run_id);
	return get_doc(c, path, "runs/get-output", doc, NULL, err);
}

/* {"task_key", "run_id", <output fields>} of one task run. A task without
 * output (skipped, never started) gets "output_error" with the reason. */
static int task_output(struct dbr_client *c, const struct dbr_job_task *t, cJSON *tasks,
		       struct dbr_err *err)
{
	cJSON *o = cJSON_CreateObject(), *doc = NULL, *it;
	struct dbr_err oerr = DBR_ERR_INIT;
	int rc = 0;

	if (!o || !cJSON_AddItemToArray(tasks, o)) {
		cJSON_Delete(o);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	cJSON_AddStringToObject(o, "task_key", t->task_key);
	if (!t->run_id) {
		cJSON_AddStringToObject(o, "output_error", "the task has no run id (not started)");
		return 0;
	}
	cJSON_AddNumberToObject(o, "run_id", (double)t->run_id);
	rc = get_output_doc(c, t->run_id, &doc, &oerr);
	if (rc == DBR_E_API) {
		cJSON_AddStringToObject(o, "output_error", oerr.msg);
		return 0;
	}
	if (rc)
		return dbr_err_set(err, rc, "%s", oerr.msg);
	/* the task run's own fields, without the metadata repeated */
	while ((it = doc->child)) {
		cJSON_DetachItemViaPointer(doc, it);
		if (strcmp(it->string, "metadata") == 0 || jobs_get(o, it->string))
			cJSON_Delete(it);
		else
			cJSON_AddItemToObject(o, it->string, it);
	}
	cJSON_Delete(doc);
	return 0;
}

int dbr_jobs_get_output(struct dbr_client *c, int64_t run_id, char **json, struct dbr_err *err)
{
	struct dbr_job_run run = DBR_JOB_RUN_INIT;
	cJSON *doc = NULL, *tasks;
	int rc;

	*json = NULL;
	rc = dbr_jobs_get_run(c, run_id, &run, NULL, err);
	if (rc == 0 && run.n_tasks == 0) {
		/* a task run (or a run without tasks): its output as it is */
		rc = get_output_doc(c, run_id, &doc, err);
	} else if (rc == 0) {
		doc = cJSON_CreateObject();
		tasks = doc && cJSON_AddNumberToObject(doc, "run_id", (double)run_id)
				? cJSON_AddArrayToObject(doc, "tasks") : NULL;
		if (!tasks)
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		for (size_t i = 0; rc == 0 && i < run.n_tasks; i++)
			rc = task_output(c, &run.tasks[i], tasks, err);
	}
	if (rc == 0)
		rc = doc_text(doc, json, err);
	cJSON_Delete(doc);
	dbr_job_run_release(&run);
	return rc;
}

/* The last TRACE_LINES lines of trace, each cleaned, indented. */
static void add_trace(char *dst, size_t cap, const char *trace)
{
	const char *end = trace + strlen(trace), *p = end;
	int lines = 0;
	size_t o = strlen(dst);

	while (p > trace && lines < TRACE_LINES) {
		p--;
		if (*p == '\n' && p + 1 < end)
			lines++;
	}
	if (lines == TRACE_LINES || *p == '\n')
		p++;
	while (p < end && o + 8 < cap) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[TRACE_LINE_MAX];

		dbr_api_text_clean(line, sizeof(line), p, n);
		if (line[0]) {
			int w = snprintf(dst + o, cap - o, "\n    %s", line);

			o = w > 0 && (size_t)w < cap - o ? o + (size_t)w : cap - 1;
		}
		p += n + (nl ? 1 : 0);
	}
}

int dbr_jobs_task_error(struct dbr_client *c, int64_t task_run_id, char **text,
			struct dbr_err *err)
{
	cJSON *doc = NULL;
	const char *trace;
	size_t cap = (size_t)TRACE_LINES * (TRACE_LINE_MAX + 8) + 1024;
	int rc;

	*text = NULL;
	rc = check_run_id(task_run_id, err);
	if (rc == 0)
		rc = get_output_doc(c, task_run_id, &doc, err);
	if (rc)
		return rc;
	trace = cJSON_GetStringValue(jobs_get(doc, "error_trace"));
	if (cJSON_GetStringValue(jobs_get(doc, "error")) || trace) {
		*text = malloc(cap);
		if (!*text) {
			cJSON_Delete(doc);
			return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
		}
		jobs_copy_clean(*text, 1024, doc, "error");
		if (!**text)
			snprintf(*text, cap, "no error message");
		if (trace)
			add_trace(*text, cap, trace);
	}
	cJSON_Delete(doc);
	return 0;
}

/* ---- lists ------------------------------------------------------------------------ */

static int list_path(const struct dbr_jobs_list_options *o, long want, const char *tok,
		     char *path, size_t cap)
{
	/* the most a page may hold: runs/list 25, jobs/list 100 */
	long size = o->runs ? 25 : 100;

	if (want > 0 && want < size)
		size = want;
	snprintf(path, cap, DBR_JOBS_API "%s?limit=%ld", o->runs ? "/runs/list" : "/list", size);
	if (o->runs && o->job_id)
		snprintf(path + strlen(path), cap - strlen(path), "&job_id=%lld",
			 (long long)o->job_id);
	if (o->runs && o->active_only)
		snprintf(path + strlen(path), cap - strlen(path), "&active_only=true");
	if (!o->runs && o->name) {
		snprintf(path + strlen(path), cap - strlen(path), "&name=");
		if (url_add(path, cap, o->name))
			return -1;
	}
	if (tok[0]) {
		snprintf(path + strlen(path), cap - strlen(path), "&page_token=");
		if (url_add(path, cap, tok))
			return -1;
	}
	return 0;
}

int dbr_jobs_list(struct dbr_client *c, const struct dbr_jobs_list_options *opt, char **json,
		  struct dbr_err *err)
{
	const char *key = opt && opt->runs ? "runs" : "jobs";
	char path[4096], tok[3000] = "";
	cJSON *out = cJSON_CreateObject(), *items, *page = NULL;
	struct api_pages pg = { .tok = tok, .cap = sizeof(tok) };
	size_t bytes = 0;
	int rc = 0;

	*json = NULL;
	if (!opt || opt->limit < 0 || (opt->runs && opt->job_id &&
				       (opt->job_id < 1 || opt->job_id > DBR_JOB_ID_MAX))) {
		cJSON_Delete(out);
		return dbr_err_set(err, DBR_E_INVAL, "bad list options: the limit must be 0 or "
				   "more, the job id from 1");
	}
	items = out ? cJSON_AddArrayToObject(out, key) : NULL;
	pg.items = items;
	pg.limit = opt->limit;
	if (!items)
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	for (int pages = 0; rc == 0; pages++) {
		if (pages >= PAGES_MAX) {
			rc = dbr_err_set(err, DBR_E_API, "%s/list sent more than %d pages", key,
					 PAGES_MAX);
			break;
		}
		if (list_path(opt, opt->limit ? opt->limit - pg.count : 0, tok, path, sizeof(path))) {
			rc = dbr_err_set(err, DBR_E_INVAL, "the name or page token is too long");
			break;
		}
		rc = get_doc(c, path, opt->runs ? "runs/list" : "jobs/list", &page, &bytes,
				   err);
		if (rc)
			break;
		rc = api_pages_take(&pg, page, bytes, key, err);
		if (rc) {
			rc = rc < 0 ? rc : 0;
			break;
		}
		cJSON_Delete(page);
		page = NULL;
	}
	cJSON_Delete(page);
	if (rc == 0 && !cJSON_AddBoolToObject(out, "has_more", pg.more))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = doc_text(out, json, err);
	cJSON_Delete(out);
	return rc;
}

/* ---- waiting ---------------------------------------------------------------------- */

struct tick_ctx {
	dbr_job_progress_fn progress;
	void *arg;
	const struct dbr_job_run *run;
};

static void tick(void *arg, long elapsed_ms)
{
	struct tick_ctx *t = arg;

	t->progress(t->arg, t->run, elapsed_ms, 0);
}

static int ended_badly(const struct dbr_job_run *r, struct dbr_err *err)
{
	return dbr_err_set(err, DBR_E_RUN_FAILED, "run %lld ended %s: %s%s%s%s%s%s",
			   (long long)r->run_id, r->result_state[0] ? r->result_state : r->state,
			   r->state_message[0] ? r->state_message : "no message",
			   r->termination_code[0] ? " (termination code " : "",
			   r->termination_code, r->termination_type[0] ? ", " : "",
			   r->termination_type, r->termination_code[0] ? ")" : "");
}

/* What became of the run, after a wait cut short: it was not cancelled
 * (with the command that cancels it when offer_cancel), or, for a run whose
 * cancel was accepted (cancel-run --wait), that it ends by itself. */
static const char *left_as(char *buf, size_t cap, long long id, int cancelled,
			   int offer_cancel)
{
	if (cancelled)
		snprintf(buf, cap, "its cancel was accepted: 'dbroker jobs get-run %lld' shows it "
			 "end", id);
	else if (offer_cancel)
		snprintf(buf, cap, "it was not cancelled: check it with 'dbroker jobs get-run "
			 "%lld', or cancel it with 'dbroker jobs cancel-run %lld'", id, id);
	else
		snprintf(buf, cap, "it was not cancelled: check it with 'dbroker jobs get-run "
			 "%lld'", id);
	return buf;
}

static int still_running(const struct dbr_job_run *r, int64_t run_id, long elapsed_ms,
			 int cancelled, struct dbr_err *err)
{
	char left[256];

	return dbr_err_set(err, DBR_E_TIMEOUT, "run %lld is still %s after %ld s; %s",
			   (long long)run_id, r->state, elapsed_ms / 1000,
			   left_as(left, sizeof(left), (long long)run_id, cancelled, 1));
}

static int jobs_wait(struct dbr_client *c, int64_t run_id, long timeout_ms, int cancelled,
		     dbr_job_progress_fn progress, void *progress_arg, struct dbr_job_run *out,
		     struct dbr_err *err)
{
	struct tick_ctx t = { progress, progress_arg, out };
	struct dbr_poller pl;
	char msg[DBR_ERR_MSG_MAX], left[256];
	long long id = (long long)run_id;
	int rc;

	dbr_poller_start(&pl, timeout_ms);
	for (;;) {
		long elapsed;

		rc = dbr_jobs_get_run(c, run_id, out, NULL, err);
		if (rc == DBR_E_AUTH) {
			snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
			return dbr_err_set(err, rc, "the token stopped working while waiting for run "
					   "%lld (did it expire during the wait?): %s; %s", id, msg,
					   left_as(left, sizeof(left), id, cancelled, 0));
		}
		if (rc) {
			snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
			return dbr_err_set(err, rc, "%s; stopped waiting for run %lld: %s", msg, id,
					   left_as(left, sizeof(left), id, cancelled, 0));
		}
		elapsed = dbr_poller_elapsed(&pl);
		if (progress)
			progress(progress_arg, out, elapsed, 1);
		if (out->terminal)
			return dbr_job_run_succeeded(out) ? 0 : ended_badly(out, err);
		if (elapsed >= timeout_ms)
			return still_running(out, run_id, elapsed, cancelled, err);
		rc = dbr_poller_sleep(&pl, progress ? tick : NULL, &t);
		if (rc)
			return dbr_err_set(err, rc, "stopped waiting for run %lld (%s); %s", id,
					   out->state, left_as(left, sizeof(left), id, cancelled, 1));
		/* the time is up: the state seen last is the answer (a poll now
		 * would run past the command's deadline) */
		if (dbr_poller_expired(&pl))
			return still_running(out, run_id, dbr_poller_elapsed(&pl), cancelled, err);
	}
}

int dbr_jobs_wait(struct dbr_client *c, int64_t run_id, long timeout_ms,
		  dbr_job_progress_fn progress, void *progress_arg, struct dbr_job_run *out,
		  struct dbr_err *err)
{
	return jobs_wait(c, run_id, timeout_ms, 0, progress, progress_arg, out, err);
}

int dbr_jobs_wait_cancelled(struct dbr_client *c, int64_t run_id, long timeout_ms,
			    dbr_job_progress_fn progress, void *progress_arg,
			    struct dbr_job_run *out, struct dbr_err *err)
{
	return jobs_wait(c, run_id, timeout_ms, 1, progress, progress_arg, out, err);
}
