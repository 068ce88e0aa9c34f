/* dbroker jobs: run-now, submit, get-run, get-run-output, cancel-run, list,
 * list-runs. Starting and waiting live in cmd_jobs_run.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "table.h"
#include "banned.h"

static const char jobs_usage[] =
"usage: dbroker [global options] jobs <subcommand> [<args>]\n"
"\n"
"subcommands:\n"
"  run-now JOB_ID         run a job now and wait until the run ends\n"
"  submit --json @RUN     submit a one-time run and wait until it ends\n"
"  get-run RUN_ID         show one run (JSON, every task)\n"
"  get-run-output RUN_ID  the output of a run (of each task run of it)\n"
"  cancel-run RUN_ID      cancel a run (--wait: until it has ended)\n"
"  list                   list jobs (a table, JSON with -o json; --name, --limit)\n"
"  list-runs              list runs (a table, JSON with -o json; --job-id,\n"
"                         --active-only, --limit)\n"
"\n"
"Run 'dbroker jobs <subcommand> --help' for its options.\n";

static const char run_usage[] =
"usage: dbroker [global options] jobs run-now JOB_ID [options]\n"
"       dbroker [global options] jobs submit --json @RUN.json [options]\n"
"\n"
"run-now starts a run of an existing job; submit starts a one-time run of the\n"
"tasks in the JSON (checked before anything is sent: tasks, unique task keys,\n"
"depends_on, one task type each, a cluster that passes the clusters/create\n"
"rules). Both carry an idempotency token, reused on every retry, so however\n"
"often the connection drops, at most one run starts; then they wait until the\n"
"run has ended, with progress on stderr and the run page's URL first.\n"
"\n"
"options:\n"
"  --json @FILE | - | TEXT   run-now: the run-now body ({\"job_parameters\":\n"
"                            {...}}; a plain object of strings is taken as\n"
"                            job_parameters); submit: the runs/submit body\n"
"  --idempotency-token T     reuse a token (1..64 characters): a repeated command\n"
"                            gets the same run (default: random)\n"
"  --no-wait                 print the run as soon as it has started\n"
"  --timeout D               give up after D, the start and retries included\n"
"                            (default 2h; e.g. 90s, 20m)\n"
"  --cancel-on-interrupt     Ctrl-C or SIGTERM also cancels the run\n"
"  --dry-run                 check and print the body; send nothing\n"
"\n"
"stdout: {\"run_id\", \"state\", \"result_state\", \"run_page_url\", \"tasks\", ...}.\n"
"Ctrl-C stops waiting and names the run; the run goes on unless\n"
"--cancel-on-interrupt is given.\n"
"\n"
"examples:\n"
"  dbroker jobs run-now 123 --json '{\"env\": \"prod\"}'\n"
"  dbroker jobs submit --json @run.json --timeout 30m\n"
"\n"
"exit status: 0 the run succeeded, 9 it ended otherwise (the failing task's\n"
"error on stderr), 7 timeout, 128+N stopped by signal N (130 Ctrl-C,\n"
"143 SIGTERM, 129 SIGHUP), 2 invalid JSON or options, 5 the token stopped\n"
"working (see 'dbroker --help').\n";

static const char get_usage[] =
"usage: dbroker [global options] jobs get-run RUN_ID\n"
"       dbroker [global options] jobs get-run-output RUN_ID\n"
"\nget-run prints the run as the workspace describes it, with every task.\n"
"get-run-output prints its output; for a run with tasks, the output of each\n"
"task run: {\"run_id\", \"tasks\": [{\"task_key\", \"run_id\", ...}]}.\n"
"\n"
"examples:\n"
"  dbroker jobs get-run 456\n"
"  dbroker jobs get-run-output 456 | jq '.tasks[].notebook_output'\n"
"\n"
"exit status: 0 shown, 6 the workspace refused (e.g. no such run), 2 not a run\n"
"id (see 'dbroker --help' for the others).\n";

static const char cancel_usage[] =
"usage: dbroker [global options] jobs cancel-run RUN_ID [--wait] [--timeout D]\n"
"\nCancels the run (asynchronous: it passes TERMINATING). With --wait, waits\n"
"until it has ended (default timeout 2h) and prints it. --timeout bounds the\n"
"whole command, the cancel and its retries included.\n"
"\n"
"examples:\n"
"  dbroker jobs cancel-run 456\n"
"  dbroker jobs cancel-run 456 --wait --timeout 10m\n"
"\n"
"exit status: 0 cancelled (with --wait: ended), 7 timeout, 6 the workspace\n"
"refused (e.g. no such run), 2 not a run id (see 'dbroker --help' for the\n"
"others).\n";

static const char list_usage[] =
"usage: dbroker [global options] jobs list [--name NAME] [--limit N]\n"
"       dbroker [global options] jobs list-runs [--job-id ID] [--active-only] [--limit N]\n"
"\nEvery page is read (next_page_token) unless --limit N stops after N items.\n"
"stdout: a table (jobs: ID, Name; runs: Job ID, Run ID, Result State, URL), or\n"
"with -o json {\"jobs\"|\"runs\": [...], \"has_more\": true when --limit cut the list}.\n"
"\n"
"examples:\n"
"  dbroker jobs list --name nightly-etl\n"
"  dbroker -o json jobs list-runs --job-id 123 --active-only\n"
"\n"
"exit status: 0 listed, 6 the workspace refused, 2 invalid options (see\n"
"'dbroker --help' for the others).\n";

static int bad_id(struct cli *cli, const char *what, const char *s)
{
	/* ids travel as JSON numbers: exact up to 2^53 - 1 */
	return cli_failf(cli, DBR_E_USAGE, "'%s' is not a %s id (ids are whole numbers from 1 "
			 "to 9007199254740991, such as 123): 'dbroker jobs %s' shows them", s,
			 what, strcmp(what, "job") ? "list-runs" : "list");
}

static int bad_timeout(struct cli *cli, const char *t)
{
	return cli_failf(cli, DBR_E_USAGE, "invalid --timeout '%s': use e.g. 90s, 20m or 2h "
			 "(at most 30d)", t);
}

/* run-now JOB_ID / submit: the shared options. */
static int jobs_start(struct cli *cli, int argc, char **argv, int submit)
{
	struct cli_jobs_run_options o;
	const char *id = NULL, *timeout = NULL;
	int64_t job_id = 0;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = cli_jobs_default_wait_ms();
	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(run_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--json", &o.json, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--idempotency-token",
				   &o.idempotency_token, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--timeout", &timeout, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		if (strcmp(argv[i], "--no-wait") == 0)
			o.no_wait = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			o.dry_run = 1;
		else if (strcmp(argv[i], "--cancel-on-interrupt") == 0)
			o.cancel_on_interrupt = 1;
		else if (!submit && argv[i][0] != '-' && !id)
			id = argv[i];
		else
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' to 'jobs %s' "
					 "(see --help)", argv[i], argv[0]);
	}
	if (!submit && !id)
		return cli_failf(cli, DBR_E_USAGE, "a job id is required: 'dbroker jobs run-now "
				 "JOB_ID' ('dbroker jobs list' shows them)");
	if (id && cli_parse_id(id, &job_id))
		return bad_id(cli, "job", id);
	if (submit && !o.json)
		return cli_failf(cli, DBR_E_USAGE, "'jobs submit' needs the run: --json @run.json, "
				 "--json - (stdin) or the JSON itself");
	if (timeout && cli_parse_timeout_ms(timeout, &o.timeout_ms))
		return bad_timeout(cli, timeout);
	if (o.no_wait && o.cancel_on_interrupt)
		return cli_failf(cli, DBR_E_USAGE, "--cancel-on-interrupt is for a wait; "
				 "--no-wait does not wait");
	return cli_jobs_run(cli, job_id, &o);
}

static int jobs_run_now(struct cli *cli, int argc, char **argv)
{
	return jobs_start(cli, argc, argv, 0);
}

static int jobs_submit(struct cli *cli, int argc, char **argv)
{
	return jobs_start(cli, argc, argv, 1);
}

/* RUN_ID and no options (get-run, get-run-output). */
static int one_run(struct cli *cli, int argc, char **argv, int output)
{
	struct cli_session s;
	struct dbr_err err = DBR_ERR_INIT;
	const char *id = NULL;
	char *json = NULL;
	int64_t run_id;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(get_usage, stdout);
			return EXIT_OK;
		}
		if (argv[i][0] == '-' || id)
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)",
					 argv[i]);
		id = argv[i];
	}
	if (!id)
		return cli_failf(cli, DBR_E_USAGE, "a run id is required (see --help)");
	if (cli_parse_id(id, &run_id))
		return bad_id(cli, "run", id);
	rc = cli_session_open(cli, &s);
	if (rc == 0) {
		rc = output ? dbr_jobs_get_output(s.client, run_id, &json, &err)
			    : dbr_jobs_get_run(s.client, run_id, NULL, &json, &err);
		if (rc == 0)
			cli_print_json_text(cli, json, strlen(json));
		rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
	}
	free(json);
	cli_session_close(&s);
	return rc;
}

static int jobs_get_run(struct cli *cli, int argc, char **argv)
{
	return one_run(cli, argc, argv, 0);
}

static int jobs_get_output(struct cli *cli, int argc, char **argv)
{
	return one_run(cli, argc, argv, 1);
}

static int print_run_id(struct cli *cli, int64_t run_id)
{
	cJSON *o = cJSON_CreateObject();
	int rc = cJSON_AddNumberToObject(o, "run_id", (double)run_id) ? cli_print_json(cli, o)
								       : DBR_E_NOMEM;

	cJSON_Delete(o);
	return rc ? cli_fail(cli, rc, "cannot print the run id") : EXIT_OK;
}

static int jobs_cancel(struct cli *cli, int argc, char **argv)
{
	struct cli_session s;
	struct dbr_err err = DBR_ERR_INIT;
	const char *id = NULL, *timeout = NULL;
	long timeout_ms = cli_jobs_default_wait_ms(), deadline;
	int64_t run_id;
	int wait = 0, rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(cancel_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--timeout", &timeout, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if (argv[i][0] != '-' && !id)
			id = argv[i];
		else
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)",
					 argv[i]);
	}
	if (!id)
		return cli_failf(cli, DBR_E_USAGE, "a run id is required (see --help)");
	if (cli_parse_id(id, &run_id))
		return bad_id(cli, "run", id);
	if (timeout && cli_parse_timeout_ms(timeout, &timeout_ms))
		return bad_timeout(cli, timeout);
	rc = cli_session_open(cli, &s);
	if (rc) {
		cli_session_close(&s);
		return rc;
	}
	cli_catch_interrupt();
	/* --timeout bounds the cancel and its retries as well as the wait */
	deadline = dbr_mono_ms() + timeout_ms;
	dbr_client_set_deadline(s.client, deadline);
	rc = dbr_jobs_cancel_run(s.client, run_id, &err);
	if (rc)
		rc = cli_fail(cli, rc, err.msg);
	else if (wait)
		rc = cli_jobs_cancel_wait(cli, s.client, run_id, deadline - dbr_mono_ms());
	else
		rc = print_run_id(cli, run_id);
	cli_session_close(&s);
	return rc;
}

static int list_common(struct cli *cli, int argc, char **argv, int runs)
{
	struct dbr_jobs_list_options o;
	struct cli_session s;
	struct dbr_err err = DBR_ERR_INIT;
	const char *limit = NULL, *job = NULL;
	char *json = NULL;
	int64_t n;
	int rc;

	memset(&o, 0, sizeof(o));
	o.runs = runs;
	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(list_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--limit", &limit, &missing) ||
		    (!runs && cli_take_value(argc, argv, &i, NULL, "--name", &o.name, &missing)) ||
		    (runs && cli_take_value(argc, argv, &i, NULL, "--job-id", &job, &missing))) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		if (runs && strcmp(argv[i], "--active-only") == 0)
			o.active_only = 1;
		else
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' to 'jobs %s' "
					 "(see --help)", argv[i], argv[0]);
	}
	if (limit && cli_parse_id(limit, &n))
		return cli_failf(cli, DBR_E_USAGE, "invalid --limit '%s': give a whole number "
				 "from 1", limit);
	if (limit)
		o.limit = (long)n;
	if (job && cli_parse_id(job, &o.job_id))
		return bad_id(cli, "job", job);
	if (o.name && !*o.name)
		return cli_failf(cli, DBR_E_USAGE, "--name is empty: give the job's name");
	rc = cli_session_open(cli, &s);
	if (rc == 0) {
		rc = dbr_jobs_list(s.client, &o, &json, &err);
		if (rc == 0 && cli->output == CLI_OUTPUT_TEXT)
			rc = runs ? cli_view_runs(cli, json) : cli_view_jobs(cli, json);
		else if (rc == 0)
			cli_print_json_text(cli, json, strlen(json));
		/* a failed stdout is reported by main (cli->stdout_errno) */
		if (rc == DBR_E_IO)
			rc = 0;
		if (rc == DBR_E_API && !err.msg[0])
			dbr_err_set(&err, rc, "the workspace answered with something that is not "
				    "a list: 'dbroker -o json jobs %s' shows it as it came", argv[0]);
		rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
	}
	free(json);
	cli_session_close(&s);
	return rc;
}

static int jobs_list(struct cli *cli, int argc, char **argv)
{
	return list_common(cli, argc, argv, 0);
}

static int jobs_list_runs(struct cli *cli, int argc, char **argv)
{
	return list_common(cli, argc, argv, 1);
}

static int run_jobs(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "run-now", jobs_run_now },
		{ "submit", jobs_submit },
		{ "get-run", jobs_get_run },
		{ "get-run-output", jobs_get_output },
		{ "cancel-run", jobs_cancel },
		{ "list", jobs_list },
		{ "list-runs", jobs_list_runs },
	};

	return cli_run_subcommand(cli, argc, argv, subs, sizeof(subs) / sizeof(subs[0]),
				  jobs_usage);
}

const struct cli_command cli_cmd_jobs = {
	.name = "jobs",
	.summary = "run jobs and one-time runs, wait for them, read runs and lists",
	.run = run_jobs,
};
