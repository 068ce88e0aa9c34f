/* dbroker-layer: api */
/* Jobs API 2.2 on a workspace client (dbroker/request.h): run a job now or
 * submit a one-time run, exactly once (an idempotency token reused on every
 * retry), wait for the run to end, read runs, their output, and lists.
 *
 * Ids: job and run ids are JSON integers; dbroker keeps them as int64_t and
 * accepts 1 .. 2^53 - 1 (the integers a JSON double holds exactly).
 */
#ifndef DBROKER_JOBS_H
#define DBROKER_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "dbroker/cluster_spec.h"
#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_client;

/* API prefix of the Jobs calls (what the official SDKs call today). */
#define DBR_JOBS_API "/api/2.2/jobs"

/* Largest run-now or submit body accepted. */
#define DBR_JOB_REQUEST_MAX (1024 * 1024)

/* Largest id accepted: 2^53 - 1. */
#define DBR_JOB_ID_MAX 9007199254740991LL

/* ---- requests: run-now and runs/submit bodies ------------------------------- */

struct dbr_job_request;

/* A run-now body for job_id (1..DBR_JOB_ID_MAX) from JSON text (may be
 * NULL: no parameters). The text is the run-now body ({"job_parameters":
 * {...}, "queue": {...}, ...}); an object none of whose fields run-now
 * knows and whose values are all strings is taken as job_parameters
 * ({"env": "prod"}). A job_id in the text must equal job_id. Syntax errors
 * say "origin:LINE:COLUMN: what to fix". *out is the caller's
 * (dbr_job_request_free). Returns 0, DBR_E_INVAL, DBR_E_TOO_LARGE,
 * DBR_E_NOMEM. */
DBR_API int dbr_job_request_run_now(int64_t job_id, const char *json, size_t len,
				    const char *origin, struct dbr_job_request **out,
				    struct dbr_err *err);

/* A runs/submit body from JSON text; syntax checked as above, the rules by
 * dbr_job_request_validate. Returns 0, DBR_E_INVAL, DBR_E_TOO_LARGE,
 * DBR_E_NOMEM. */
DBR_API int dbr_job_request_submit(const char *json, size_t len, const char *origin,
				   struct dbr_job_request **out, struct dbr_err *err);

/* NULL is a no-op. */
DBR_API void dbr_job_request_free(struct dbr_job_request *r);

/* Check the body before anything is sent. Submit: tasks is a non-empty
 * array of objects; each task_key is present, unique and of letters,
 * digits, '_' and '-' (at most 100); depends_on lists {"task_key"} of other
 * existing tasks, without a cycle; each task has exactly one task type
 * (notebook_task, spark_python_task, python_wheel_task, spark_jar_task,
 * spark_submit_task, sql_task, ...); a task that runs on a cluster names
 * at most one of existing_cluster_id, new_cluster, job_cluster_key (which
 * must name an entry of job_clusters), and a new_cluster passes the
 * clusters/create rules (dbr_cluster_spec_validate; messages start with
 * "tasks[1].new_cluster: "); spark_jar_task and spark_submit_task need
 * one, Python tasks need one or environment_key; a notebook task without
 * one is warned about (serverless). run_name is a string, timeout_seconds
 * a whole number >= 0. Run-now: job_parameters is an object of strings.
 * Unknown top-level fields are warned through warn (may be NULL). Every
 * error is listed in err, one a line. Returns 0 or DBR_E_INVAL. */
DBR_API int dbr_job_request_validate(const struct dbr_job_request *r, dbr_spec_warn_fn warn,
				     void *warn_arg, struct dbr_err *err);

/* Set the idempotency token: token if non-NULL, else the body's own, else
 * a random one (as dbr_cluster_spec_ensure_idempotency). Returns 0,
 * DBR_E_INVAL, DBR_E_NOMEM, DBR_E_INTERNAL. */
DBR_API int dbr_job_request_ensure_idempotency(struct dbr_job_request *r, const char *token,
					       struct dbr_err *err);

/* The body's idempotency token or NULL; owned by r, valid until r changes. */
DBR_API const char *dbr_job_request_idempotency(const struct dbr_job_request *r);

/* Compact JSON text of the body; *out malloc'ed (free()), len may be
 * NULL. Returns 0 or DBR_E_NOMEM. */
DBR_API int dbr_job_request_to_json(const struct dbr_job_request *r, char **out, size_t *len);

/* ---- runs -------------------------------------------------------------------- */

/* One task run of a run. Strings are "" when absent. */
struct dbr_job_task {
	char task_key[128];
	int64_t run_id;              /* the task run's id; 0 when not given */
	char state[32];              /* life-cycle state, as for the run */
	char result_state[48];       /* "" while the task has not ended */
};

/* A run as dbroker reads it: the status object when present, else the
 * deprecated state. Strings are one clean line each (control characters
 * removed; still the server's text: mask before showing). Initialise with
 * DBR_JOB_RUN_INIT, release with dbr_job_run_release(). */
struct dbr_job_run {
	int64_t run_id;
	int64_t job_id;              /* 0 for a one-time run */
	char run_name[256];
	char run_page_url[512];
	char state[32];              /* QUEUED, PENDING, RUNNING, TERMINATING, BLOCKED,
					WAITING_FOR_RETRY, TERMINATED, SKIPPED,
					INTERNAL_ERROR */
	char result_state[48];       /* SUCCESS, FAILED, CANCELED, ... ("" before the end) */
	char termination_code[64];   /* status.termination_details.code */
	char termination_type[32];   /* status.termination_details.type */
	char state_message[512];     /* termination or queue message, else state_message */
	int terminal;                /* 1 once the run has ended */
	int from_status;             /* 1 when read from the status object */
	struct dbr_job_task *tasks;  /* n_tasks of them, owned by the run */
	size_t n_tasks;
};

#define DBR_JOB_RUN_INIT { 0, 0, "", "", "", "", "", "", "", 0, 0, NULL, 0 }

/* Free the task list and clear the run. NULL is a no-op. */
DBR_API void dbr_job_run_release(struct dbr_job_run *run);

/* Parse a runs/get answer (len bytes, no NUL needed) into out (released
 * first). Life-cycle states QUEUED, PENDING, RUNNING, TERMINATING, BLOCKED
 * and WAITING_FOR_RETRY keep a run going; TERMINATED, SKIPPED and
 * INTERNAL_ERROR end it. Safe on any bytes. Returns 0, DBR_E_API (not a
 * JSON object, no usable run_id, or neither status nor state), DBR_E_NOMEM;
 * out is released on failure. */
DBR_API int dbr_job_run_parse(const char *json, size_t len, struct dbr_job_run *out,
			      struct dbr_err *err);

/* 1 if the run ended with result SUCCESS. */
DBR_API int dbr_job_run_succeeded(const struct dbr_job_run *run);

/* The task that explains a failure: the first FAILED (or TIMEDOUT,
 * CANCELED, ...) task run, else the first that did not succeed; NULL if
 * none. Owned by run. */
DBR_API const struct dbr_job_task *dbr_job_run_failed_task(const struct dbr_job_run *run);

/* ---- calls ------------------------------------------------------------------- */

/* Start the run: POST run-now or runs/submit, retried as idempotent with
 * the request's token (added when missing), so every retry starts at most
 * one run. *run_id receives the id. When the outcome is unknown (no answer
 * after the retries, a 5xx, an answer without run_id, an interrupt after
 * sending) err names the token to rerun with. Returns 0 or the request
 * module's codes. */
DBR_API int dbr_jobs_start(struct dbr_client *c, struct dbr_job_request *r, int64_t *run_id,
			   struct dbr_err *err);

/* runs/get, following next_page_token until every task is read. out (may
 * be NULL) receives the parsed run; json (may be NULL) the answer with all
 * tasks (malloc'ed, free()). Returns 0, DBR_E_INVAL (bad id), the request
 * module's codes, DBR_E_API (an answer dbr_job_run_parse refuses, or one about
 * another run than run_id). */
DBR_API int dbr_jobs_get_run(struct dbr_client *c, int64_t run_id, struct dbr_job_run *out,
			     char **json, struct dbr_err *err);

/* The output of a run: runs/get-output of a task run, or for a run with
 * tasks, {"run_id", "tasks": [{"task_key", "run_id", <get-output answer>}]}
 * with one get-output per task run. *json malloc'ed (free()). Returns 0 or
 * the codes of dbr_jobs_get_run and the request module. */
DBR_API int dbr_jobs_get_output(struct dbr_client *c, int64_t run_id, char **json,
				struct dbr_err *err);

/* A failed task run's error for a person: "error" then, on the lines
 * below, the end of "error_trace" (at most 20 lines), every line cleaned
 * of control characters. *text malloc'ed (free()); NULL when the output
 * names no error. Returns 0 or the request module's codes. */
DBR_API int dbr_jobs_task_error(struct dbr_client *c, int64_t task_run_id, char **text,
				struct dbr_err *err);

/* runs/cancel (asynchronous: the run passes TERMINATING). Safe to retry.
 * Returns 0, DBR_E_INVAL (bad id) or the request module's codes. */
DBR_API int dbr_jobs_cancel_run(struct dbr_client *c, int64_t run_id, struct dbr_err *err);

/* What to list and how much. */
struct dbr_jobs_list_options {
	int runs;                    /* 0: jobs/list; 1: runs/list */
	const char *name;            /* jobs/list: exact job name filter, or NULL */
	int64_t job_id;              /* runs/list: only this job's runs (0: all) */
	int active_only;             /* runs/list: only runs that have not ended */
	long limit;                  /* at most this many items; 0 = all */
};

/* jobs/list or runs/list, following next_page_token to the end (or until
 * limit items). *json (malloc'ed, free()) is {"jobs"|"runs": [...],
 * "has_more": bool}, has_more true when limit stopped before the end.
 * Returns 0, DBR_E_INVAL (bad options), DBR_E_API (an answer that is not
 * a page), the request module's codes. */
DBR_API int dbr_jobs_list(struct dbr_client *c, const struct dbr_jobs_list_options *opt,
			  char **json, struct dbr_err *err);

/* Called after every poll (polled = 1) and about once a second between
 * polls (polled = 0) with the last state seen. */
typedef void (*dbr_job_progress_fn)(void *arg, const struct dbr_job_run *run, long elapsed_ms,
				    int polled);

/* Poll runs/get until the run ends, as clusters are polled. Returns 0 when
 * it ended with SUCCESS; DBR_E_RUN_FAILED when it ended otherwise (err:
 * "run N ended FAILED: message"); DBR_E_TIMEOUT after timeout_ms;
 * DBR_E_INTERRUPTED after dbr_client_interrupt(); DBR_E_AUTH when the token
 * stops working during the wait (it expired); other request codes. Each
 * message names the run and says it was not cancelled. *out holds the last
 * state seen (release it in every case). */
DBR_API int dbr_jobs_wait(struct dbr_client *c, int64_t run_id, long timeout_ms,
			  dbr_job_progress_fn progress, void *progress_arg,
			  struct dbr_job_run *out, struct dbr_err *err);

/* dbr_jobs_wait for a run whose cancel was accepted (cancel-run --wait):
 * the messages of a wait cut short say so instead of "not cancelled". */
DBR_API int dbr_jobs_wait_cancelled(struct dbr_client *c, int64_t run_id, long timeout_ms,
				    dbr_job_progress_fn progress, void *progress_arg,
				    struct dbr_job_run *out, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
