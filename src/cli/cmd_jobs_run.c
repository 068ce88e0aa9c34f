/* dbroker jobs run-now / submit: start a run exactly once, wait for it with
 * progress, print the run as JSON; and the run printing the other jobs
 * subcommands share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

#define DEFAULT_RUN_WAIT_MS (2L * 3600 * 1000)
/* How long --cancel-on-interrupt tries to cancel after the interrupt. */
#define CANCEL_GRACE_MS 10000L

int cli_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || *s < '1' || *s > '9')
		return DBR_E_INVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 1 || v > DBR_JOB_ID_MAX)
		return DBR_E_INVAL;
	*out = (int64_t)v;
	return 0;
}

/* {"run_id", "job_id", "run_name", "run_page_url", "state", "result_state",
 * "state_message", "termination_details", "tasks", "idempotency_token"} */
void cli_jobs_print_run(struct cli *cli, const struct dbr_job_run *r, int64_t run_id,
			const char *idem)
{
	cJSON *o = cJSON_CreateObject(), *tasks;

	cJSON_AddNumberToObject(o, "run_id", (double)(r->run_id ? r->run_id : run_id));
	if (r->job_id)
		cJSON_AddNumberToObject(o, "job_id", (double)r->job_id);
	if (r->run_name[0])
		cJSON_AddStringToObject(o, "run_name", r->run_name);
	if (r->run_page_url[0])
		cJSON_AddStringToObject(o, "run_page_url", r->run_page_url);
	if (r->state[0])
		cJSON_AddStringToObject(o, "state", r->state);
	if (r->result_state[0])
		cJSON_AddStringToObject(o, "result_state", r->result_state);
	if (r->state_message[0])
		cJSON_AddStringToObject(o, "state_message", r->state_message);
	if (r->termination_code[0]) {
		cJSON *td = cJSON_AddObjectToObject(o, "termination_details");

		cJSON_AddStringToObject(td, "code", r->termination_code);
		if (r->termination_type[0])
			cJSON_AddStringToObject(td, "type", r->termination_type);
	}
	if (r->n_tasks && (tasks = cJSON_AddArrayToObject(o, "tasks"))) {
		for (size_t i = 0; i < r->n_tasks; i++) {
			const struct dbr_job_task *t = &r->tasks[i];
			cJSON *k = cJSON_CreateObject();

			cJSON_AddStringToObject(k, "task_key", t->task_key);
			if (t->run_id)
				cJSON_AddNumberToObject(k, "run_id", (double)t->run_id);
			cJSON_AddStringToObject(k, "state", t->state);
			if (t->result_state[0])
				cJSON_AddStringToObject(k, "result_state", t->result_state);
			cJSON_AddItemToArray(tasks, k);
		}
	}
	if (idem)
		cJSON_AddStringToObject(o, "idempotency_token", idem);
	cli_print_json(cli, o);
	cJSON_Delete(o);
}

struct run_progress {
	struct cli_progress p;
	int url_shown;
};

/* The tasks' states after the run's, e.g. "ingest SUCCESS, train RUNNING". */
static void task_summary(const struct dbr_job_run *r, char *dst, size_t cap)
{
	size_t o = 0;

	dst[0] = '\0';
	if (r->n_tasks < 2) {
		snprintf(dst, cap, "%s", r->state_message);
		return;
	}
	for (size_t i = 0; i < r->n_tasks && o + 1 < cap; i++) {
		const struct dbr_job_task *t = &r->tasks[i];
		int n = snprintf(dst + o, cap - o, "%s%s %s", i ? ", " : "", t->task_key,
				 t->result_state[0] ? t->result_state : t->state);

		if (n < 0)
			break;
		o += (size_t)n;
	}
	if (o >= cap)
		dst[cap - 1] = '\0';
}

static void on_run_progress(void *arg, const struct dbr_job_run *r, long elapsed_ms, int polled)
{
	struct run_progress *rp = arg;
	char subject[64], detail[600];

	if (polled && !rp->url_shown && r->run_page_url[0] &&
	    dbr_log_enabled(rp->p.cli->log, DBR_LOG_WARN)) {
		char line[700];
		int n = snprintf(line, sizeof(line), "dbroker: run %lld: %s\n",
				 (long long)r->run_id, r->run_page_url);

		cli_progress_end(&rp->p);
		cli_eprint(rp->p.cli, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
		rp->url_shown = 1;
	}
	snprintf(subject, sizeof(subject), "run %lld", (long long)r->run_id);
	task_summary(r, detail, sizeof(detail));
	cli_progress_update(&rp->p, subject, r->result_state[0] ? r->result_state : r->state,
			    detail, elapsed_ms, polled);
}

/* The failing task's error (and the end of its trace) under the run's
 * message, for a run that ended without SUCCESS. */
static int report_failure(struct cli *cli, struct dbr_client *c, const struct dbr_job_run *r,
			  int rc, const char *msg)
{
	const struct dbr_job_task *t = dbr_job_run_failed_task(r);
	struct dbr_err terr = DBR_ERR_INIT;
	char *text = NULL, *full;
	size_t n;

	if (t && t->run_id && dbr_jobs_task_error(c, t->run_id, &text, &terr) == 0 && text) {
		n = strlen(msg) + strlen(text) + strlen(t->task_key) + 96;
		full = malloc(n);
		if (full) {
			snprintf(full, n, "%s\ntask '%s' (run %lld) failed: %s", msg, t->task_key,
				 (long long)t->run_id, text);
			rc = cli_fail(cli, rc, full);
			free(full);
			free(text);
			return rc;
		}
	}
	free(text);
	if (terr.msg[0])
		dbr_log_warn(cli->log, "cannot read the output of the failed task: %s", terr.msg);
	return cli_fail(cli, rc, msg);
}

static void warn_cb(void *arg, const char *message)
{
	dbr_log_warn(((struct cli *)arg)->log, "%s", message);
}

/* Wait for run_id until deadline_ms and report it; the run is printed in
 * every outcome. */
static int wait_and_report(struct cli *cli, struct dbr_client *c, int64_t run_id,
			   const struct cli_jobs_run_options *o, long deadline_ms,
			   const char *idem)
{
	struct dbr_job_run run = DBR_JOB_RUN_INIT;
	struct dbr_err err = DBR_ERR_INIT, cerr = DBR_ERR_INIT;
	struct run_progress rp;
	int rc;

	memset(&rp, 0, sizeof(rp));
	cli_progress_init(&rp.p, cli);
	rc = dbr_jobs_wait(c, run_id, deadline_ms - dbr_mono_ms(), on_run_progress, &rp, &run,
			   &err);
	cli_progress_end(&rp.p);
	if (rc == DBR_E_INTERRUPTED && o->cancel_on_interrupt) {
		/* the interrupt was for the wait; the cancel may still go out, for
		 * a few seconds (not the whole retry window: the user asked to
		 * stop), and the interrupt keeps its signal for the exit code */
		dbr_interrupt_grace(CANCEL_GRACE_MS);
		if (dbr_jobs_cancel_run(c, run_id, &cerr) == 0)
			dbr_err_set(&err, rc, "stopped waiting for run %lld and cancelled it "
				    "(--cancel-on-interrupt); 'dbroker jobs get-run %lld' shows it "
				    "end", (long long)run_id, (long long)run_id);
		else
			dbr_log_error(cli->log, "cannot cancel run %lld: %s", (long long)run_id,
				      cerr.msg);
		dbr_interrupt_grace(0);
	}
	cli_jobs_print_run(cli, &run, run_id, idem);
	if (rc == DBR_E_RUN_FAILED)
		rc = report_failure(cli, c, &run, rc, err.msg);
	else if (rc)
		rc = cli_fail(cli, rc, err.msg);
	dbr_job_run_release(&run);
	return rc ? rc : EXIT_OK;
}

int cli_jobs_run(struct cli *cli, int64_t job_id, const struct cli_jobs_run_options *o)
{
	struct dbr_job_request *req = NULL;
	struct dbr_job_run run = DBR_JOB_RUN_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct cli_session s;
	const char *origin = NULL;
	char *text = NULL;
	size_t len = 0;
	int64_t run_id = 0;
	long deadline;
	int rc = 0;

	if (o->json)
		rc = cli_read_json_arg(o->json, DBR_JOB_REQUEST_MAX, &text, &len, &origin, &err);
	if (rc == 0)
		rc = job_id ? dbr_job_request_run_now(job_id, text, len, origin, &req, &err)
			    : dbr_job_request_submit(text, len, origin, &req, &err);
	free(text);
	if (rc == 0)
		rc = dbr_job_request_validate(req, warn_cb, cli, &err);
	if (rc == 0)
		rc = dbr_job_request_ensure_idempotency(req, o->idempotency_token, &err);
	if (rc) {
		dbr_job_request_free(req);
		/* a bad body is the caller's input: a usage error, nothing was sent */
		return cli_fail(cli, rc == DBR_E_INVAL || rc == DBR_E_TOO_LARGE ? DBR_E_USAGE : rc,
				err.msg);
	}
	if (o->dry_run) {
		rc = dbr_job_request_to_json(req, &text, &len);
		if (rc == 0)
			cli_print_json_text(cli, text, len);
		free(text);
		dbr_job_request_free(req);
		return rc ? cli_fail(cli, rc, "cannot print the request") : EXIT_OK;
	}
	rc = cli_session_open(cli, &s);
	if (rc) {
		cli_session_close(&s);
		dbr_job_request_free(req);
		return rc;
	}
	cli_catch_interrupt();
	/* --timeout bounds the whole command: the start, its retries, the wait */
	deadline = dbr_mono_ms() + o->timeout_ms;
	dbr_client_set_deadline(s.client, deadline);
	rc = dbr_jobs_start(s.client, req, &run_id, &err);
	if (rc) {
		if (rc == DBR_E_MAYBE_APPLIED) {
			/* the outcome is unknown: the token is what finds the run */
			cJSON *u = cJSON_CreateObject();

			cJSON_AddStringToObject(u, "idempotency_token", dbr_job_request_idempotency(req));
			cJSON_AddStringToObject(u, "outcome", "unknown");
			cli_print_json(cli, u);
			cJSON_Delete(u);
		}
		rc = cli_fail(cli, rc, err.msg);
		goto out;
	}
	dbr_log_info(cli->log, "run %lld started (idempotency token %s)", (long long)run_id,
		     dbr_job_request_idempotency(req));
	if (o->no_wait) {
		/* one read for the run page; the run is started either way */
		if (dbr_jobs_get_run(s.client, run_id, &run, NULL, &err))
			dbr_log_warn(cli->log, "run %lld started; cannot read it yet: %s",
				     (long long)run_id, err.msg);
		cli_jobs_print_run(cli, &run, run_id, dbr_job_request_idempotency(req));
		dbr_job_run_release(&run);
		rc = EXIT_OK;
		goto out;
	}
	rc = wait_and_report(cli, s.client, run_id, o, deadline, dbr_job_request_idempotency(req));
out:
	cli_session_close(&s);
	dbr_job_request_free(req);
	return rc;
}

/* cancel-run --wait: any end is the end that was asked for. */
int cli_jobs_cancel_wait(struct cli *cli, struct dbr_client *c, int64_t run_id, long timeout_ms)
{
	struct dbr_job_run run = DBR_JOB_RUN_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	struct run_progress rp;
	int rc;

	memset(&rp, 0, sizeof(rp));
	cli_progress_init(&rp.p, cli);
	rc = dbr_jobs_wait_cancelled(c, run_id, timeout_ms, on_run_progress, &rp, &run, &err);
	cli_progress_end(&rp.p);
	if (rc == DBR_E_RUN_FAILED)
		rc = 0;
	cli_jobs_print_run(cli, &run, run_id, NULL);
	dbr_job_run_release(&run);
	return rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
}

long cli_jobs_default_wait_ms(void)
{
	return DEFAULT_RUN_WAIT_MS;
}
