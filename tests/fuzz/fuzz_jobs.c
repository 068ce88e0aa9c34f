/* Fuzz target: Jobs answers and bodies (dbr_job_run_parse,
 * dbr_job_run_failed_task; dbr_job_request_submit, _validate, _to_json).
 *
 * The first byte chooses: even, the rest is a runs/get answer; odd, a
 * runs/submit body. The input is copied to an exactly-sized buffer so ASan
 * sees any over-read.
 *
 * Properties (abort on violation), from include/dbroker/jobs.h:
 *   J1  parse returns 0 or DBR_E_API/DBR_E_NOMEM; on failure the run holds
 *       no tasks; on success run_id is 1..2^53-1, job_id 0 or in range;
 *   J2  every string of the run and its tasks is NUL-terminated inside its
 *       buffer and free of control bytes (it reaches a terminal);
 *   J3  terminal is 1 exactly for TERMINATED, SKIPPED, INTERNAL_ERROR, and
 *       succeeded implies terminal with result SUCCESS; the failed task, if
 *       any, is one of the run's tasks and did not succeed;
 *   J4  a submit body that parses validates to 0 or DBR_E_INVAL (message
 *       non-empty), and its to_json parses back to the same text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/jobs.h"
#include "fuzz_common.h"

static void check_text(const char *what, const char *s, size_t cap)
{
	const char *nul = memchr(s, '\0', cap);

	if (!nul)
		fuzz_fail("J2: %s is not NUL-terminated", what);
	for (const char *p = s; p < nul; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			fuzz_fail("J2: %s has control byte 0x%02x", what, (unsigned char)*p);
}

static void no_warn(void *arg, const char *message)
{
	(void)arg;
	(void)strlen(message);
}

static void run_answer(const char *buf, size_t n)
{
	struct dbr_job_run r = DBR_JOB_RUN_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	const struct dbr_job_task *f;
	int rc = dbr_job_run_parse(buf, n, &r, &err), ended;

	if (rc != 0 && rc != DBR_E_API && rc != DBR_E_NOMEM)
		fuzz_fail("J1: parse returned %d", rc);
	if (rc) {
		if (r.tasks || r.n_tasks)
			fuzz_fail("J1: a failed parse left %zu tasks", r.n_tasks);
		return;
	}
	if (r.run_id < 1 || r.run_id > DBR_JOB_ID_MAX || r.job_id < 0 || r.job_id > DBR_JOB_ID_MAX)
		fuzz_fail("J1: ids out of range: %lld %lld", (long long)r.run_id,
			  (long long)r.job_id);
	check_text("run_name", r.run_name, sizeof(r.run_name));
	check_text("run_page_url", r.run_page_url, sizeof(r.run_page_url));
	check_text("state", r.state, sizeof(r.state));
	check_text("result_state", r.result_state, sizeof(r.result_state));
	check_text("termination_code", r.termination_code, sizeof(r.termination_code));
	check_text("termination_type", r.termination_type, sizeof(r.termination_type));
	check_text("state_message", r.state_message, sizeof(r.state_message));
	for (size_t i = 0; i < r.n_tasks; i++) {
		check_text("task_key", r.tasks[i].task_key, sizeof(r.tasks[i].task_key));
		check_text("task state", r.tasks[i].state, sizeof(r.tasks[i].state));
		check_text("task result", r.tasks[i].result_state, sizeof(r.tasks[i].result_state));
	}
	ended = !strcmp(r.state, "TERMINATED") || !strcmp(r.state, "SKIPPED") ||
		!strcmp(r.state, "INTERNAL_ERROR");
	if (ended != r.terminal)
		fuzz_fail("J3: state %s but terminal %d", r.state, r.terminal);
	if (dbr_job_run_succeeded(&r) && (!r.terminal || strcmp(r.result_state, "SUCCESS")))
		fuzz_fail("J3: succeeded in state %s/%s", r.state, r.result_state);
	f = dbr_job_run_failed_task(&r);
	if (f && (f < r.tasks || f >= r.tasks + r.n_tasks || !f->result_state[0] ||
		  !strcmp(f->result_state, "SUCCESS")))
		fuzz_fail("J3: failed task is not a failed task of the run");
	dbr_job_run_release(&r);
	if (r.tasks || r.n_tasks)
		fuzz_fail("J1: release left tasks");
}

static void submit_body(const char *buf, size_t n)
{
	struct dbr_job_request *q = NULL, *q2 = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	int rc;

	if (dbr_job_request_submit(buf, n, "fuzz", &q, &err))
		return;
	rc = dbr_job_request_validate(q, no_warn, NULL, &err);
	if (rc != 0 && rc != DBR_E_INVAL)
		fuzz_fail("J4: validate returned %d", rc);
	if (rc && !err.msg[0])
		fuzz_fail("J4: validate failed without a message");
	if (dbr_job_request_to_json(q, &a, &al))
		fuzz_fail("J4: to_json failed");
	if (dbr_job_request_submit(a, al, "again", &q2, &err))
		fuzz_fail("J4: to_json does not parse back: %s", err.msg);
	if (dbr_job_request_to_json(q2, &b, &bl) || al != bl || memcmp(a, b, al))
		fuzz_fail("J4: the round trip changed the body");
	free(a);
	free(b);
	dbr_job_request_free(q);
	dbr_job_request_free(q2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1)
		submit_body(buf, size - 1);
	else
		run_answer(buf, size - 1);
	free(buf);
	return 0;
}
