/* Jobs: reading runs (status first, deprecated state as fallback) and the
 * run-now / runs/submit body checks. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dbroker/jobs.h"
#include "dbroker/runtime.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle)) {
		print_error("expected \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
		fail();
	}
}

static int setup(void **state)
{
	(void)state;
	return dbr_runtime_init(0, NULL, NULL);
}

static void parse_run(const char *json, struct dbr_job_run *r)
{
	struct dbr_err err = DBR_ERR_INIT;

	if (dbr_job_run_parse(json, strlen(json), r, &err)) {
		print_error("parse failed: %s\n", err.msg);
		fail();
	}
}

/* ---- runs ---- */

static void test_status_wins_over_state(void **state)
{
	struct dbr_job_run r = DBR_JOB_RUN_INIT;

	(void)state;
	parse_run("{\"run_id\": 11, \"job_id\": 1108425592938066, \"run_page_url\": \"https://h/r\","
		  "\"status\": {\"state\": \"TERMINATED\", \"termination_details\": "
		  "{\"code\": \"SUCCESS\", \"type\": \"SUCCESS\", \"message\": \"\"}},"
		  "\"state\": {\"life_cycle_state\": \"RUNNING\", \"result_state\": \"SUCCESS\"}}",
		  &r);
	assert_int_equal(r.run_id, 11);
	assert_true(r.job_id == 1108425592938066LL);
	assert_string_equal(r.state, "TERMINATED");
	assert_string_equal(r.result_state, "SUCCESS");
	assert_string_equal(r.termination_code, "SUCCESS");
	assert_string_equal(r.run_page_url, "https://h/r");
	assert_true(r.from_status && r.terminal);
	assert_true(dbr_job_run_succeeded(&r));
	dbr_job_run_release(&r);
}

static void test_status_alone_maps_codes(void **state)
{
	static const struct {
		const char *code;
		const char *result;
	} cases[] = {
		{ "SUCCESS", "SUCCESS" },
		{ "SUCCESS_WITH_FAILURES", "SUCCESS_WITH_FAILURES" },
		{ "USER_CANCELED", "CANCELED" },
		{ "MAX_CONCURRENT_RUNS_EXCEEDED", "MAXIMUM_CONCURRENT_RUNS_REACHED" },
		{ "RUN_EXECUTION_ERROR", "FAILED" },
		{ "DRIVER_ERROR", "FAILED" },
	};
	char json[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dbr_job_run r = DBR_JOB_RUN_INIT;

		snprintf(json, sizeof(json), "{\"run_id\": 3, \"status\": {\"state\": \"TERMINATED\","
			 "\"termination_details\": {\"code\": \"%s\", \"type\": \"CLIENT_ERROR\","
			 "\"message\": \"why\"}}}", cases[i].code);
		parse_run(json, &r);
		assert_string_equal(r.result_state, cases[i].result);
		assert_string_equal(r.state_message, "why");
		assert_int_equal(dbr_job_run_succeeded(&r), !strcmp(cases[i].result, "SUCCESS"));
		dbr_job_run_release(&r);
	}
}

static void test_deprecated_state_fallback(void **state)
{
	static const char *const going[] = {
		"QUEUED", "PENDING", "RUNNING", "TERMINATING", "BLOCKED", "WAITING_FOR_RETRY",
		"SOMETHING_NEW",
	};
	static const char *const ended[] = { "TERMINATED", "SKIPPED", "INTERNAL_ERROR" };
	struct dbr_job_run r = DBR_JOB_RUN_INIT;
	char json[256];

	(void)state;
	for (size_t i = 0; i < sizeof(going) / sizeof(going[0]); i++) {
		snprintf(json, sizeof(json), "{\"run_id\": 9, \"state\": {\"life_cycle_state\": "
			 "\"%s\", \"state_message\": \"m\"}}", going[i]);
		parse_run(json, &r);
		assert_false(r.terminal);
		assert_false(r.from_status);
		assert_string_equal(r.state_message, "m");
	}
	for (size_t i = 0; i < sizeof(ended) / sizeof(ended[0]); i++) {
		snprintf(json, sizeof(json), "{\"run_id\": 9, \"state\": {\"life_cycle_state\": "
			 "\"%s\"}}", ended[i]);
		parse_run(json, &r);
		assert_true(r.terminal);
		assert_false(dbr_job_run_succeeded(&r)); /* no result: not a success */
	}
	parse_run("{\"run_id\": 9, \"state\": {\"life_cycle_state\": \"TERMINATED\", "
		  "\"result_state\": \"UPSTREAM_FAILED\"}}", &r);
	assert_string_equal(r.result_state, "UPSTREAM_FAILED");
	assert_false(dbr_job_run_succeeded(&r));
	dbr_job_run_release(&r);
}

static void test_queue_message_and_clean_text(void **state)
{
	struct dbr_job_run r = DBR_JOB_RUN_INIT;

	(void)state;
	parse_run("{\"run_id\": 4, \"run_name\": \"a\\u001b[31mred\\nline\", \"status\": "
		  "{\"state\": \"QUEUED\", \"queue_details\": {\"message\": \"wait\\u0007ing\"}},"
		  "\"tasks\": [{\"task_key\": \"k\\u001b]0;x\", \"run_id\": 5, \"status\": "
		  "{\"state\": \"BLOCKED\"}}]}", &r);
	assert_string_equal(r.state, "QUEUED");
	assert_null(strchr(r.run_name, 0x1b));
	assert_null(strchr(r.run_name, '\n'));
	/* control characters are shown escaped, never passed through */
	assert_string_equal(r.state_message, "wait\\x07ing");
	assert_int_equal(r.n_tasks, 1);
	assert_null(strchr(r.tasks[0].task_key, 0x1b));
	assert_string_equal(r.tasks[0].state, "BLOCKED");
	dbr_job_run_release(&r);
}

static void test_bad_answers_refused(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"run_id\": \"12\", \"state\": {\"life_cycle_state\": \"RUNNING\"}}",
		"{\"run_id\": 0, \"state\": {\"life_cycle_state\": \"RUNNING\"}}",
		"{\"run_id\": 1.5, \"state\": {\"life_cycle_state\": \"RUNNING\"}}",
		"{\"run_id\": 9007199254740993, \"state\": {\"life_cycle_state\": \"RUNNING\"}}",
		"{\"run_id\": 12}",
		"{\"run_id\": 12, \"status\": {\"state\": \"RUN NING\"}}",
	};
	struct dbr_job_run r = DBR_JOB_RUN_INIT;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dbr_job_run_parse(bad[i], strlen(bad[i]), &r, &err), DBR_E_API);
		assert_null(r.tasks);
		assert_true(err.msg[0] != '\0');
	}
	assert_contains(err.msg, "run 12 without a state");
}

static void test_failed_task_prefers_its_own_failure(void **state)
{
	struct dbr_job_run r = DBR_JOB_RUN_INIT;
	const struct dbr_job_task *t;

	(void)state;
	parse_run("{\"run_id\": 1, \"state\": {\"life_cycle_state\": \"TERMINATED\", "
		  "\"result_state\": \"FAILED\"}, \"tasks\": ["
		  "{\"task_key\": \"a\", \"run_id\": 2, \"state\": {\"life_cycle_state\": "
		  "\"TERMINATED\", \"result_state\": \"SUCCESS\"}},"
		  "{\"task_key\": \"b\", \"run_id\": 3, \"state\": {\"life_cycle_state\": "
		  "\"TERMINATED\", \"result_state\": \"UPSTREAM_FAILED\"}},"
		  "{\"task_key\": \"c\", \"run_id\": 4, \"state\": {\"life_cycle_state\": "
		  "\"TERMINATED\", \"result_state\": \"FAILED\"}}]}", &r);
	t = dbr_job_run_failed_task(&r);
	assert_non_null(t);
	assert_string_equal(t->task_key, "c");
	assert_int_equal(t->run_id, 4);
	dbr_job_run_release(&r);
	parse_run("{\"run_id\": 1, \"state\": {\"life_cycle_state\": \"RUNNING\"}, \"tasks\": "
		  "[{\"task_key\": \"a\", \"state\": {\"life_cycle_state\": \"RUNNING\"}}]}", &r);
	assert_null(dbr_job_run_failed_task(&r));
	dbr_job_run_release(&r);
}

/* ---- bodies ---- */

struct warnings {
	int count;
	char text[2048];
};

static void collect(void *arg, const char *message)
{
	struct warnings *w = arg;
	size_t n = strlen(w->text);

	w->count++;
	snprintf(w->text + n, sizeof(w->text) - n, "%s\n", message);
}

/* Validate a submit body: the rc, the message in err, warnings in w. */
static int check_submit(const char *json, struct dbr_err *err, struct warnings *w)
{
	struct dbr_job_request *r = NULL;
	int rc = dbr_job_request_submit(json, strlen(json), "run.json", &r, err);

	if (rc == 0) {
		memset(w, 0, sizeof(*w));
		rc = dbr_job_request_validate(r, collect, w, err);
	}
	dbr_job_request_free(r);
	return rc;
}

/* a string literal and its length */
#define TEXT(s) s, strlen(s)

#define NB "\"notebook_task\": {\"notebook_path\": \"/n\"}"
#define EX "\"existing_cluster_id\": \"1234-567890-abcde123\""

static void test_submit_valid(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	assert_int_equal(check_submit(
		"{\"run_name\": \"n\", \"timeout_seconds\": 600, \"tasks\": ["
		"{\"task_key\": \"a\", " NB ", " EX "},"
		"{\"task_key\": \"b-2\", \"depends_on\": [{\"task_key\": \"a\"}], "
		"\"spark_python_task\": {\"python_file\": \"x.py\"}, \"new_cluster\": "
		"{\"spark_version\": \"v\", \"node_type_id\": \"n\", \"num_workers\": 2}},"
		"{\"task_key\": \"c\", \"python_wheel_task\": {}, \"environment_key\": \"e\"},"
		"{\"task_key\": \"d\", \"sql_task\": {}},"
		"{\"task_key\": \"e\", \"spark_jar_task\": {}, \"job_cluster_key\": \"shared\"}],"
		"\"job_clusters\": [{\"job_cluster_key\": \"shared\", \"new_cluster\": "
		"{\"spark_version\": \"v\", \"node_type_id\": \"n\", \"num_workers\": 1}}]}",
		&err, &w), 0);
	assert_int_equal(w.count, 0);
	/* a notebook without a cluster: serverless, warned */
	assert_int_equal(check_submit("{\"tasks\": [{\"task_key\": \"a\", " NB "}], \"x\": 1}",
				      &err, &w), 0);
	assert_int_equal(w.count, 2);
	assert_contains(w.text, "unknown field: x");
	assert_contains(w.text, "tasks[0] names no cluster: the notebook runs on serverless");
}

static void test_submit_rules(void **state)
{
	static const struct {
		const char *json;
		const char *needle;
	} cases[] = {
		{ "{}", "'tasks' is missing" },
		{ "{\"tasks\": []}", "'tasks' must be a non-empty array" },
		{ "{\"tasks\": [1]}", "tasks[0] must be an object" },
		{ "{\"tasks\": [{" NB ", " EX "}]}", "tasks[0].task_key is missing" },
		{ "{\"tasks\": [{\"task_key\": \"a b\", " NB ", " EX "}]}",
		  "tasks[0].task_key must be 1 to 100 letters" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX "}, {\"task_key\": \"a\", " NB ", "
		  EX "}]}", "tasks[1].task_key 'a' is used twice" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " EX "}]}", "tasks[0] has no task type" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", \"sql_task\": {}, " EX "}]}",
		  "tasks[0] has 2 task types" },
		{ "{\"tasks\": [{\"task_key\": \"a\", \"notebook_task\": 3, " EX "}]}",
		  "tasks[0].notebook_task must be an object" },
		{ "{\"tasks\": [{\"task_key\": \"a\", \"spark_jar_task\": {}}]}",
		  "tasks[0] (spark_jar_task) names no cluster; add existing_cluster_id or new_cluster" },
		{ "{\"tasks\": [{\"task_key\": \"a\", \"spark_python_task\": {}}]}",
		  "or environment_key for serverless compute" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX ", \"new_cluster\": {}}]}",
		  "tasks[0] names 2 clusters" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", \"new_cluster\": {\"node_type_id\": "
		  "\"n\", \"num_workers\": 1}}]}", "tasks[0].new_cluster: 'spark_version' is missing" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", \"new_cluster\": 7}]}",
		  "'tasks[0].new_cluster' must be an object" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", \"job_cluster_key\": \"nope\"}]}",
		  "tasks[0].job_cluster_key 'nope' names no entry of job_clusters" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX ", \"depends_on\": "
		  "[{\"task_key\": \"zz\"}]}]}", "tasks[0].depends_on[0] names 'zz'" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX ", \"depends_on\": "
		  "[{\"task_key\": \"a\"}]}]}", "tasks[0] ('a') depends on itself" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX ", \"depends_on\": {}}]}",
		  "tasks[0].depends_on must be an array" },
		{ "{\"tasks\": [{\"task_key\": \"a\", " NB ", " EX ", \"depends_on\": "
		  "[{\"task_key\": \"c\"}]}, {\"task_key\": \"b\", " NB ", " EX ", \"depends_on\": "
		  "[{\"task_key\": \"a\"}]}, {\"task_key\": \"c\", " NB ", " EX ", \"depends_on\": "
		  "[{\"task_key\": \"b\"}]}]}", "form a cycle" },
		{ "{\"run_name\": 1, \"tasks\": [{\"task_key\": \"a\", " NB ", " EX "}]}",
		  "'run_name' must be a string" },
		{ "{\"timeout_seconds\": -1, \"tasks\": [{\"task_key\": \"a\", " NB ", " EX "}]}",
		  "'timeout_seconds' must be a whole number" },
		{ "{\"idempotency_token\": 5, \"tasks\": [{\"task_key\": \"a\", " NB ", " EX "}]}",
		  "'idempotency_token' must be a string" },
	};
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dbr_err_clear(&err);
		assert_int_equal(check_submit(cases[i].json, &err, &w), DBR_E_INVAL);
		assert_contains(err.msg, cases[i].needle);
	}
}

static void test_every_error_listed(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;

	(void)state;
	assert_int_equal(check_submit("{\"tasks\": [{\"task_key\": \"a\"}, {\"task_key\": \"a\", "
				      NB ", \"new_cluster\": {\"spark_version\": \"v\", "
				      "\"node_type_id\": \"n\"}}]}", &err, &w), DBR_E_INVAL);
	assert_contains(err.msg, "tasks[0] has no task type");
	assert_contains(err.msg, "\ntasks[1].new_cluster: neither 'num_workers' nor 'autoscale'");
	assert_contains(err.msg, "\ntasks[1].task_key 'a' is used twice");
}

static void test_malformed_json_says_where(void **state)
{
	struct dbr_job_request *r = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	static const char bad[] = "{\n  \"tasks\": [\n    {\"task_key\": \"a\",}\n  ]\n}";

	(void)state;
	assert_int_equal(dbr_job_request_submit(bad, sizeof(bad) - 1, "run.json", &r, &err),
			 DBR_E_INVAL);
	assert_null(r);
	assert_contains(err.msg, "run.json:3:21: trailing ',' before '}'; remove it");
	assert_int_equal(dbr_job_request_submit("[1]", 3, "run.json", &r, &err), DBR_E_INVAL);
	assert_contains(err.msg, "the run must be a JSON object");
	assert_int_equal(dbr_job_request_submit(" ", 1, "x", &r, &err), DBR_E_INVAL);
	assert_contains(err.msg, "x: the run is empty");
	assert_int_equal(dbr_job_request_submit(TEXT("{\"a\":1,\"a\":2}"), "x", &r, &err),
			 DBR_E_INVAL);
	assert_contains(err.msg, "duplicate field 'a'");
}

static char *to_json(const struct dbr_job_request *r)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(dbr_job_request_to_json(r, &out, &len), 0);
	assert_int_equal(len, strlen(out));
	return out;
}

static void test_run_now_body(void **state)
{
	struct dbr_job_request *r = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	struct warnings w;
	char *json;

	(void)state;
	/* a plain object of strings: job parameters; 16-digit ids kept exactly */
	assert_int_equal(dbr_job_request_run_now(1108425592938066LL, TEXT("{\"env\": \"prod\"}"),
						 "p.json", &r, &err), 0);
	json = to_json(r);
	assert_string_equal(json, "{\"job_parameters\":{\"env\":\"prod\"},\"job_id\":1108425592938066}");
	free(json);
	assert_int_equal(dbr_job_request_validate(r, collect, &w, &err), 0);
	dbr_job_request_free(r);
	/* the body as it is, with a matching job_id */
	assert_int_equal(dbr_job_request_run_now(7, TEXT("{\"job_id\": 7, \"queue\": {\"enabled\": true}}"), "p", &r, &err), 0);
	json = to_json(r);
	assert_string_equal(json, "{\"job_id\":7,\"queue\":{\"enabled\":true}}");
	free(json);
	dbr_job_request_free(r);
	/* no JSON: just the job */
	assert_int_equal(dbr_job_request_run_now(7, NULL, 0, NULL, &r, &err), 0);
	json = to_json(r);
	assert_string_equal(json, "{\"job_id\":7}");
	free(json);
	dbr_job_request_free(r);
	assert_int_equal(dbr_job_request_run_now(7, TEXT("{\"job_id\": 8}"), "p", &r, &err),
			 DBR_E_INVAL);
	assert_contains(err.msg, "names another job_id than 7");
	assert_int_equal(dbr_job_request_run_now(0, NULL, 0, NULL, &r, &err), DBR_E_INVAL);
	assert_int_equal(dbr_job_request_run_now(7, TEXT("{\"job_parameters\": {\"n\": 1}}"), "p",
						 &r, &err), 0);
	assert_int_equal(dbr_job_request_validate(r, collect, &w, &err), DBR_E_INVAL);
	assert_contains(err.msg, "job_parameters[\"n\"] must be a string");
	dbr_job_request_free(r);
}

static void test_idempotency(void **state)
{
	struct dbr_job_request *r = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	const char *tok;
	char keep[65];

	(void)state;
	assert_int_equal(dbr_job_request_run_now(7, NULL, 0, NULL, &r, &err), 0);
	assert_null(dbr_job_request_idempotency(r));
	assert_int_equal(dbr_job_request_ensure_idempotency(r, NULL, &err), 0);
	tok = dbr_job_request_idempotency(r);
	assert_non_null(tok);
	assert_int_equal(strlen(tok), 32);
	snprintf(keep, sizeof(keep), "%s", tok);
	/* once set, it stays: every retry carries the same one */
	assert_int_equal(dbr_job_request_ensure_idempotency(r, NULL, &err), 0);
	assert_string_equal(dbr_job_request_idempotency(r), keep);
	assert_int_equal(dbr_job_request_ensure_idempotency(r, "mine-1", &err), 0);
	assert_string_equal(dbr_job_request_idempotency(r), "mine-1");
	assert_int_equal(dbr_job_request_ensure_idempotency(r, "has space", &err), DBR_E_INVAL);
	assert_contains(err.msg, "contains a space");
	dbr_job_request_free(r);
	assert_int_equal(dbr_job_request_run_now(7, TEXT("{\"idempotency_token\": \"\"}"), "p", &r,
						 &err), 0);
	assert_int_equal(dbr_job_request_ensure_idempotency(r, NULL, &err), DBR_E_INVAL);
	assert_contains(err.msg, "is empty");
	dbr_job_request_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_wins_over_state),
		cmocka_unit_test(test_status_alone_maps_codes),
		cmocka_unit_test(test_deprecated_state_fallback),
		cmocka_unit_test(test_queue_message_and_clean_text),
		cmocka_unit_test(test_bad_answers_refused),
		cmocka_unit_test(test_failed_task_prefers_its_own_failure),
		cmocka_unit_test(test_submit_valid),
		cmocka_unit_test(test_submit_rules),
		cmocka_unit_test(test_every_error_listed),
		cmocka_unit_test(test_malformed_json_says_where),
		cmocka_unit_test(test_run_now_body),
		cmocka_unit_test(test_idempotency),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
