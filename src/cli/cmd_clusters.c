/* dbroker clusters: create, get, list, delete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "table.h"
#include "banned.h"

#define DEFAULT_WAIT_MS (20L * 60 * 1000)

static const char clusters_usage[] =
"usage: dbroker [global options] clusters <subcommand> [<args>]\n"
"\n"
"subcommands:\n"
"  create     create a cluster and wait until it is RUNNING\n"
"  get ID     show one cluster (a table; JSON with -o json)\n"
"  list       list clusters (a table; JSON with -o json)\n"
"  delete ID  terminate a cluster and wait until it is TERMINATED (it can be\n"
"             started again in the workspace)\n"
"\n"
"Run 'dbroker clusters <subcommand> --help' for its options.\n";

static const char create_usage[] =
"usage: dbroker [global options] clusters create [options]\n"
"\n"
"Creates a cluster from a JSON spec (or the default single-node template) and\n"
"waits until it is RUNNING. The spec is validated before anything is sent. An\n"
"idempotency token makes the request safe to retry: however many times the\n"
"connection drops, at most one cluster is launched.\n"
"\n"
"spec:\n"
"  --json @FILE | - | TEXT   the create body from a file, stdin or inline\n"
"                            (default: the built-in single-node template)\n"
"  --name NAME               cluster_name\n"
"  --num-workers N           num_workers (0 = single node; replaces autoscale)\n"
"  --autoscale MIN:MAX       autoscale.min_workers/max_workers (replaces num-workers)\n"
"  --spark-version V         spark_version, e.g. 10.4.x-scala2.12\n"
"  --node-type T             node_type_id, e.g. Standard_DS3_v2\n"
"  --driver-node-type T      driver_node_type_id\n"
"  --instance-pool ID        instance_pool_id\n"
"  --policy-id ID            policy_id\n"
"  --autotermination-minutes M   0 (never) or 10..10000\n"
"  --runtime-engine E        STANDARD or PHOTON\n"
"  --data-security-mode M    e.g. SINGLE_USER, USER_ISOLATION\n"
"  --single-user NAME        single_user_name\n"
"  --idempotency-token T     reuse a token (1..64 characters) to make a repeated\n"
"                            command return the same cluster (default: random)\n"
"\n"
"waiting:\n"
"  --no-wait                 print {\"cluster_id\": ...} as soon as it is accepted\n"
"  --timeout D               give up after D, create and retries included\n"
"                            (default 20m; e.g. 90s, 1h)\n"
"  --dry-run                 validate and print the body; send nothing\n"
"\n"
"stdout: {\"cluster_id\", \"state\", ...}; progress and messages go to stderr.\n"
"Ctrl-C, SIGTERM or SIGHUP while waiting stops waiting; the cluster keeps starting.\n"
"\n"
"examples:\n"
"  dbroker clusters create\n"
"  dbroker clusters create --name etl --num-workers 2 --no-wait\n"
"  dbroker -p prod clusters create --json @cluster.json --timeout 30m\n"
"  jq '.num_workers = 4' cluster.json | dbroker clusters create --json -\n"
"\n"
"exit status: 0 running, 9 the cluster ended in ERROR/TERMINATED, 7 timeout,\n"
"8 workspace unreachable, 10 the cluster may have been created but dbroker\n"
"cannot know (stdout: {\"cluster_id\": null, \"idempotency_token\": T,\n"
"\"outcome\": \"unknown\"}; rerun with --idempotency-token T to finish safely),\n"
"128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), 2 invalid spec\n"
"or options (see 'dbroker --help').\n";

static const char get_usage[] =
"usage: dbroker [global options] clusters get CLUSTER_ID\n"
"\nPrints the cluster: its main fields as a table, or with -o json the\n"
"workspace's JSON as it came.\n"
"\n"
"examples:\n"
"  dbroker clusters get 1234-567890-abcde123\n"
"  dbroker -o json clusters get 1234-567890-abcde123 | jq -r .state\n"
"\n"
"exit status: 0 shown, 6 the workspace refused (e.g. no such cluster), 2 not a\n"
"cluster id (see 'dbroker --help' for the others).\n";

static const char list_usage[] =
"usage: dbroker [global options] clusters list [--limit N]\n"
"\nPrints the workspace's clusters: a table (ID, Name, State), or with -o json\n"
"{\"clusters\": [...]} ([] when there are none). Every page is read\n"
"(next_page_token) unless --limit N stops after N clusters (then\n"
"\"has_more\": true says there are more).\n"
"\n"
"examples:\n"
"  dbroker clusters list\n"
"  dbroker -o json clusters list --limit 20\n"
"\n"
"exit status: 0 listed, 6 the workspace refused, 2 invalid --limit (see\n"
"'dbroker --help' for the others).\n";

static const char delete_usage[] =
"usage: dbroker [global options] clusters delete CLUSTER_ID [--no-wait] [--timeout D]\n"
"\nTerminates the cluster (clusters/delete) and waits until it is TERMINATED\n"
"(default timeout 20m; e.g. 90s, 1h30m), as the official CLI does; --wait,\n"
"the default, is accepted too. --no-wait returns as soon as the workspace has\n"
"accepted the request. --timeout bounds the whole command, the delete and its\n"
"retries included.\n"
"\n"
"examples:\n"
"  dbroker clusters delete 1234-567890-abcde123\n"
"  dbroker clusters delete 1234-567890-abcde123 --no-wait\n"
"\n"
"exit status: 0 terminated (with --no-wait: accepted), 7 timeout, 6 the\n"
"workspace refused (e.g. no such cluster), 128+N stopped by signal N, 2 invalid\n"
"id or options (see 'dbroker --help' for the others).\n";

enum override {
	OV_NAME, OV_NUM_WORKERS, OV_SPARK_VERSION, OV_NODE_TYPE, OV_DRIVER_NODE_TYPE,
	OV_INSTANCE_POOL, OV_POLICY, OV_AUTOTERMINATION, OV_RUNTIME_ENGINE,
	OV_SECURITY_MODE, OV_SINGLE_USER,
};

static const struct {
	const char *flag;
	const char *field;
} override_flags[] = {
	[OV_NAME] = { "--name", "cluster_name" },
	[OV_NUM_WORKERS] = { "--num-workers", "num_workers" },
	[OV_SPARK_VERSION] = { "--spark-version", "spark_version" },
	[OV_NODE_TYPE] = { "--node-type", "node_type_id" },
	[OV_DRIVER_NODE_TYPE] = { "--driver-node-type", "driver_node_type_id" },
	[OV_INSTANCE_POOL] = { "--instance-pool", "instance_pool_id" },
	[OV_POLICY] = { "--policy-id", "policy_id" },
	[OV_AUTOTERMINATION] = { "--autotermination-minutes", "autotermination_minutes" },
	[OV_RUNTIME_ENGINE] = { "--runtime-engine", "runtime_engine" },
	[OV_SECURITY_MODE] = { "--data-security-mode", "data_security_mode" },
	[OV_SINGLE_USER] = { "--single-user", "single_user_name" },
};

#define N_OVERRIDES (sizeof(override_flags) / sizeof(override_flags[0]))

static void spec_warning(void *arg, const char *message)
{
	dbr_log_warn(((struct cli *)arg)->log, "%s", message);
}

static void on_progress(void *arg, const struct dbr_cluster_info *i, long elapsed_ms,
			int polled)
{
	char subject[96];

	snprintf(subject, sizeof(subject), "cluster %s", i->cluster_id);
	cli_progress_update(arg, subject, i->state, i->state_message, elapsed_ms, polled);
}

/* {"cluster_id", "state", ...} on stdout, the result of every cluster command. */
static int print_result(struct cli *cli, const struct dbr_cluster_info *i, const char *idem)
{
	cJSON *o = cJSON_CreateObject();
	int rc;

	cJSON_AddStringToObject(o, "cluster_id", i->cluster_id);
	if (i->cluster_name[0])
		cJSON_AddStringToObject(o, "cluster_name", i->cluster_name);
	if (i->state[0])
		cJSON_AddStringToObject(o, "state", i->state);
	if (i->state_message[0])
		cJSON_AddStringToObject(o, "state_message", i->state_message);
	if (i->termination_code[0]) {
		cJSON *tr = cJSON_AddObjectToObject(o, "termination_reason");

		cJSON_AddStringToObject(tr, "code", i->termination_code);
		if (i->termination_type[0])
			cJSON_AddStringToObject(tr, "type", i->termination_type);
	}
	if (idem)
		cJSON_AddStringToObject(o, "idempotency_token", idem);
	rc = cli_print_json(cli, o);
	cJSON_Delete(o);
	if (rc && i->cluster_id[0]) {
		/* the id must survive a failed stdout: it is how the cluster is found */
		char line[256];
		int n = snprintf(line, sizeof(line), "dbroker: error: cluster %s (%s): the "
				 "result could not be written to stdout (%s)\n", i->cluster_id,
				 i->state[0] ? i->state : "state unknown", strerror(cli->stdout_errno ? cli->stdout_errno : EIO));

		cli_eprint(cli, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
	}
	return rc;
}

/* A create that may have taken effect: {"cluster_id": null,
 * "idempotency_token": T, "outcome": "unknown"} on stdout, the cause and the
 * exact command that finishes the job on stderr. Exit 10. */
static int report_unknown_outcome(struct cli *cli, const char *idem, const char *msg)
{
	char cmd[1536];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNullToObject(o, "cluster_id");
	cJSON_AddStringToObject(o, "idempotency_token", idem);
	cJSON_AddStringToObject(o, "outcome", "unknown");
	cli_print_json(cli, o);
	cJSON_Delete(o);
	cli_rerun_command(cli, "--idempotency-token", idem, cmd, sizeof(cmd));
	return cli_failf(cli, DBR_E_MAYBE_APPLIED, "%s\nto finish safely, run: %s", msg, cmd);
}

/* Build the spec from --json or the template plus the flag overrides. */
static int build_spec(struct cli *cli, const char *json, const char **values,
		      const char *autoscale, struct dbr_cluster_spec **spec, struct dbr_err *err)
{
	int rc;

	if (json) {
		char *text = NULL;
		size_t len = 0;
		const char *origin = NULL;

		rc = cli_read_json_arg(json, DBR_CLUSTER_SPEC_MAX, &text, &len, &origin, err);
		if (rc)
			return rc;
		rc = dbr_cluster_spec_parse(text, len, origin, spec, err);
		free(text);
	} else {
		rc = dbr_cluster_spec_new_default(spec);
	}
	if (rc)
		return rc;
	for (size_t k = 0; k < N_OVERRIDES; k++) {
		if (values[k] && (rc = dbr_cluster_spec_set(*spec, override_flags[k].field,
							     values[k], err)))
			return rc;
	}
	/* an instance pool brings its own node type: drop the template's */
	if (values[OV_INSTANCE_POOL] && !values[OV_NODE_TYPE] && !json)
		dbr_cluster_spec_unset(*spec, "node_type_id");
	if (autoscale) {
		const char *colon = strchr(autoscale, ':');
		char minbuf[16];
		int mn, mx;

		if (!colon || (size_t)(colon - autoscale) >= sizeof(minbuf))
			return dbr_err_set(err, DBR_E_USAGE,
					   "--autoscale takes MIN:MAX, e.g. --autoscale 2:8");
		memcpy(minbuf, autoscale, (size_t)(colon - autoscale));
		minbuf[colon - autoscale] = '\0';
		if (cli_parse_int(minbuf, &mn) || cli_parse_int(colon + 1, &mx))
			return dbr_err_set(err, DBR_E_USAGE,
					   "--autoscale takes MIN:MAX, e.g. --autoscale 2:8");
		rc = dbr_cluster_spec_set_autoscale(*spec, mn, mx, err);
		if (rc)
			return rc;
	}
	(void)cli;
	return 0;
}

static int clusters_create(struct cli *cli, int argc, char **argv)
{
	const char *values[N_OVERRIDES] = { 0 };
	const char *json = NULL, *idem = NULL, *timeout = NULL, *autoscale = NULL;
	struct dbr_cluster_spec *spec = NULL;
	struct dbr_cluster_info info;
	struct cli_session s;
	struct cli_progress prog;
	struct dbr_err err = DBR_ERR_INIT;
	long timeout_ms = DEFAULT_WAIT_MS, deadline;
	int no_wait = 0, dry_run = 0, rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0, matched = 0;

		if (cli_is_help(argv[i])) {
			fputs(create_usage, stdout);
			return EXIT_OK;
		}
		for (size_t k = 0; k < N_OVERRIDES && !matched; k++)
			matched = cli_take_value(argc, argv, &i, NULL, override_flags[k].flag,
						 &values[k], &missing);
		if (!matched)
			matched = cli_take_value(argc, argv, &i, NULL, "--json", &json, &missing) ||
				  cli_take_value(argc, argv, &i, NULL, "--idempotency-token", &idem,
						 &missing) ||
				  cli_take_value(argc, argv, &i, NULL, "--timeout", &timeout, &missing) ||
				  cli_take_value(argc, argv, &i, NULL, "--autoscale", &autoscale,
						 &missing);
		if (missing)
			return cli_option_fail(cli, argv[i], missing);
		if (matched)
			continue;
		if (strcmp(argv[i], "--no-wait") == 0)
			no_wait = 1;
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = 1;
		else
			return cli_failf(cli, DBR_E_USAGE,
					 "unexpected argument '%s' to 'clusters create' (see --help)",
					 argv[i]);
	}
	if (timeout && cli_parse_timeout_ms(timeout, &timeout_ms))
		return cli_failf(cli, DBR_E_USAGE,
				 "invalid --timeout '%s': use e.g. 90s, 20m or 1h (at most 30d)",
				 timeout);
	if (autoscale && values[OV_NUM_WORKERS])
		return cli_failf(cli, DBR_E_USAGE,
				 "--num-workers and --autoscale exclude each other: a cluster has "
				 "a fixed size or scales, not both");

	rc = build_spec(cli, json, values, autoscale, &spec, &err);
	if (rc == 0)
		rc = dbr_cluster_spec_validate(spec, spec_warning, cli, &err);
	if (rc == 0)
		rc = dbr_cluster_spec_ensure_idempotency(spec, idem, &err);
	if (rc) {
		dbr_cluster_spec_free(spec);
		/* a bad spec is the caller's input: a usage error, nothing was sent */
		return cli_fail(cli, rc == DBR_E_INVAL ? DBR_E_USAGE : rc, err.msg);
	}
	if (dry_run) {
		char *body = NULL;
		size_t len = 0;

		rc = dbr_cluster_spec_to_json(spec, &body, &len);
		if (rc == 0)
			cli_print_json_text(cli, body, len);
		free(body);
		dbr_cluster_spec_free(spec);
		return rc ? cli_fail(cli, rc, "cannot print the spec") : EXIT_OK;
	}

	rc = cli_session_open(cli, &s);
	if (rc) {
		cli_session_close(&s);
		dbr_cluster_spec_free(spec);
		return rc;
	}
	cli_catch_interrupt();
	/* --timeout bounds the whole command: the create, its retries, the wait */
	deadline = dbr_mono_ms() + timeout_ms;
	dbr_client_set_deadline(s.client, deadline);
	rc = dbr_clusters_create(s.client, spec, &info, &err);
	if (rc == DBR_E_MAYBE_APPLIED) {
		rc = report_unknown_outcome(cli, dbr_cluster_spec_idempotency(spec), err.msg);
		goto out;
	}
	if (rc) {
		rc = cli_fail(cli, rc, err.msg);
		goto out;
	}
	dbr_log_info(cli->log, "cluster %s accepted (idempotency token %s)", info.cluster_id,
		     dbr_cluster_spec_idempotency(spec));
	if (no_wait) {
		rc = print_result(cli, &info, dbr_cluster_spec_idempotency(spec)) ? EXIT_FAILURE_GENERIC
										 : EXIT_OK;
		goto out;
	}
	cli_progress_init(&prog, cli);
	{
		char name[256];

		snprintf(name, sizeof(name), "%s", info.cluster_name);
		rc = dbr_clusters_wait(s.client, info.cluster_id, "RUNNING",
				       deadline - dbr_mono_ms(), on_progress, &prog, &info, &err);
		if (!info.cluster_name[0])
			snprintf(info.cluster_name, sizeof(info.cluster_name), "%s", name);
	}
	cli_progress_end(&prog);
	/* the result names the cluster in every outcome, so it can be found */
	if (print_result(cli, &info, dbr_cluster_spec_idempotency(spec)) && !rc)
		rc = EXIT_FAILURE_GENERIC;
	else
		rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
out:
	cli_session_close(&s);
	dbr_cluster_spec_free(spec);
	return rc;
}

/* A cluster id is the caller's input: refuse a malformed one as a usage
 * error before any credential is looked up (the library checks it again). */
static int check_cluster_id(struct cli *cli, const char *id)
{
	size_t n = strlen(id);
	int ok = n > 0 && n < sizeof(((struct dbr_cluster_info *)0)->cluster_id);

	for (size_t i = 0; ok && i < n; i++)
		ok = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
		     (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-' || id[i] == '_';
	if (ok)
		return 0;
	return cli_failf(cli, DBR_E_USAGE, "'%s' is not a cluster id (ids look like "
			 "1234-567890-abcde123): 'dbroker clusters list' shows them", id);
}

/* Parse "ID" plus no options for get; returns the id or NULL (usage). */
static int one_id(struct cli *cli, int argc, char **argv, const char *usage, const char **id)
{
	*id = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(usage, stdout);
			return -1;
		}
		if (argv[i][0] == '-' || *id)
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)",
					 argv[i]);
		*id = argv[i];
	}
	if (!*id)
		return cli_failf(cli, DBR_E_USAGE, "a cluster id is required (see --help)");
	return check_cluster_id(cli, *id);
}

/* clusters get ID / clusters list: the workspace's JSON as it came (id NULL:
 * list). */
static int print_clusters(struct cli *cli, const char *id, long limit)
{
	struct cli_session s;
	struct dbr_err err = DBR_ERR_INIT;
	char *json = NULL;
	int rc = cli_session_open(cli, &s);

	if (rc == 0) {
		rc = id ? dbr_clusters_get(s.client, id, NULL, &json, &err)
			: dbr_clusters_list_some(s.client, limit, &json, &err);
		if (rc == 0 && cli->output == CLI_OUTPUT_TEXT &&
		    (id ? cli_view_cluster(cli, json) : cli_view_clusters(cli, json)) == DBR_E_API)
			rc = dbr_err_set(&err, DBR_E_API, "the workspace answered with something "
					 "that is not a cluster%s: 'dbroker -o json clusters %s' "
					 "shows it as it came", id ? "" : " list", id ? "get ID" : "list");
		else if (rc == 0 && cli->output == CLI_OUTPUT_JSON)
			cli_print_json_text(cli, json, strlen(json));
		rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
	}
	free(json);
	cli_session_close(&s);
	return rc;
}

static int clusters_get(struct cli *cli, int argc, char **argv)
{
	const char *id;
	int rc = one_id(cli, argc, argv, get_usage, &id);

	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	return print_clusters(cli, id, 0);
}

static int clusters_list(struct cli *cli, int argc, char **argv)
{
	const char *limit = NULL;
	int64_t n = 0;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(list_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--limit", &limit, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)", argv[i]);
	}
	if (limit && cli_parse_id(limit, &n))
		return cli_failf(cli, DBR_E_USAGE, "invalid --limit '%s': give a whole number "
				 "from 1", limit);
	return print_clusters(cli, NULL, (long)n);
}

static int clusters_delete(struct cli *cli, int argc, char **argv)
{
	struct cli_session s;
	struct dbr_cluster_info info;
	struct cli_progress prog;
	struct dbr_err err = DBR_ERR_INIT;
	const char *id = NULL, *timeout = NULL;
	long timeout_ms = DEFAULT_WAIT_MS, deadline;
	int wait = 1, unconfirmed, rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(delete_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--timeout", &timeout, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		/* --wait: the default now, still accepted */
		if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if (strcmp(argv[i], "--no-wait") == 0)
			wait = 0;
		else if (argv[i][0] != '-' && !id)
			id = argv[i];
		else
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' (see --help)",
					 argv[i]);
	}
	if (!id)
		return cli_failf(cli, DBR_E_USAGE, "a cluster id is required (see --help)");
	if ((rc = check_cluster_id(cli, id)))
		return rc;
	if (timeout && cli_parse_timeout_ms(timeout, &timeout_ms))
		return cli_failf(cli, DBR_E_USAGE, "invalid --timeout '%s': use e.g. 90s, 20m "
				 "or 1h (at most 30d)", timeout);
	rc = cli_session_open(cli, &s);
	if (rc) {
		cli_session_close(&s);
		return rc;
	}
	cli_catch_interrupt();
	memset(&info, 0, sizeof(info));
	snprintf(info.cluster_id, sizeof(info.cluster_id), "%s", id);
	/* --timeout bounds the whole command: the delete, its retries, the wait */
	deadline = dbr_mono_ms() + timeout_ms;
	dbr_client_set_deadline(s.client, deadline);
	rc = dbr_clusters_delete(s.client, id, &err);
	if (rc == 0)
		snprintf(info.state, sizeof(info.state), "TERMINATING");
	unconfirmed = rc == DBR_E_TIMEOUT || rc == DBR_E_INTERRUPTED ||
		      (rc && dbr_client_outcome_unknown(s.client));
	if (unconfirmed) {
		/* no answer accepted the delete (timed out, interrupted, lost
		 * after it was sent, a 500/502/504): the cluster is in no
		 * known state */
		char cause[DBR_ERR_MSG_MAX];

		snprintf(cause, sizeof(cause), "%s", err.msg);
		dbr_err_set(&err, rc, "the delete of cluster '%s' was not confirmed (%s): check "
			    "with 'dbroker clusters get %s' whether it is terminating", id, cause, id);
	}
	if (rc == 0 && wait) {
		cli_progress_init(&prog, cli);
		rc = dbr_clusters_wait(s.client, id, "TERMINATED", deadline - dbr_mono_ms(),
				       on_progress, &prog, &info, &err);
		cli_progress_end(&prog);
	}
	if (rc == 0 || unconfirmed || rc == DBR_E_TIMEOUT || rc == DBR_E_INTERRUPTED)
		print_result(cli, &info, NULL);
	rc = rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
	cli_session_close(&s);
	return rc;
}

static int run_clusters(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "create", clusters_create },
		{ "get", clusters_get },
		{ "list", clusters_list },
		{ "delete", clusters_delete },
	};

	return cli_run_subcommand(cli, argc, argv, subs, sizeof(subs) / sizeof(subs[0]),
				  clusters_usage);
}

const struct cli_command cli_cmd_clusters = {
	.name = "clusters",
	.summary = "create, inspect, list and terminate clusters",
	.run = run_clusters,
};
