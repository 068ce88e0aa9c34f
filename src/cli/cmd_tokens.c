/* dbroker tokens: mint, list and revoke personal access tokens with the
 * current credential. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "table.h"
#include "banned.h"

#define DEFAULT_LIFETIME "90d"

static const char tokens_usage[] =
"usage: dbroker [global options] tokens create --comment TEXT [--lifetime D]\n"
"                                            [--store keyring | --print]\n"
"       dbroker [global options] tokens list\n"
"       dbroker [global options] tokens revoke TOKEN_ID\n"
"\n"
"Personal access tokens of the current credential's user.\n"
"  create   mint a token that expires after D (e.g. 90d, 12h; default\n"
"           " DEFAULT_LIFETIME "). --store keyring (the default) puts it in the keyring for\n"
"           the profile without showing it; --print writes it once to stdout,\n"
"           only when stdout is not a terminal nor /dev/null (a pipe into the\n"
"           tool that keeps it).\n"
"  list     the tokens' ids, comments and expiry times (never their values)\n"
"  revoke   delete a token by id (see list)\n"
"\n"
"examples:\n"
"  dbroker -p prod tokens create --lifetime 30d --comment 'nightly ETL'\n"
"  dbroker tokens create --lifetime 1h --comment ci --print |\n"
"      vault kv put secret/ci token=-      (stdin: never an argument)\n"
"  dbroker tokens list\n"
"  dbroker tokens revoke TOKEN_ID          (an id that 'tokens list' shows)\n"
"\n"
"stdout: create --store and revoke print a sentence, or with -o json\n"
"{\"token_id\", ...}; list a table, or with -o json {\"token_infos\": [...]}.\n"
"\n"
"exit status: 0 done, 2 invalid options or token id, 3 no keyring to store the\n"
"new token in (it is revoked again), 6 the workspace refused (see\n"
"'dbroker --help' for the others).\n";

static cJSON *info_json(const struct dbr_token_info *t)
{
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "token_id", t->token_id);
		cJSON_AddStringToObject(o, "comment", t->comment);
		cJSON_AddNumberToObject(o, "creation_time", (double)t->creation_time_ms);
		cJSON_AddNumberToObject(o, "expiry_time", (double)t->expiry_time_ms);
	}
	return o;
}

/* One row per token: the table cleans each cell to one line, so a comment
 * with a line break (another tool's) cannot forge a row. The ID column fits
 * the longest id (the workspace's are 64 characters). */
static int print_table(struct cli *cli, const struct dbr_token_info *list, size_t n)
{
	static const char *const head[] = { "TOKEN ID", "CREATED", "EXPIRES", "COMMENT" };
	struct cli_table t;
	int rc;

	cli_table_init(&t, 4);
	rc = cli_table_add(&t, head);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char made[32], exp[32];
		const char *row[] = { list[i].token_id, made, exp, list[i].comment };

		cli_format_utc_ms(list[i].creation_time_ms, made, sizeof(made));
		cli_format_utc_ms(list[i].expiry_time_ms, exp, sizeof(exp));
		rc = cli_table_add(&t, row);
	}
	if (rc == 0)
		rc = cli_table_print(cli, &t);
	cli_table_release(&t);
	return rc;
}

static int run_list(struct cli *cli, struct cli_session *s)
{
	struct dbr_token_info *list = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	size_t n = 0;
	int rc = dbr_tokens_list(s->client, &list, &n, &err);

	if (rc)
		return cli_fail(cli, rc, err.msg);
	if (cli->output == CLI_OUTPUT_JSON) {
		cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "token_infos");

		for (size_t i = 0; i < n && arr; i++)
			cJSON_AddItemToArray(arr, info_json(&list[i]));
		rc = cli_print_json(cli, doc);
		cJSON_Delete(doc);
	} else {
		rc = print_table(cli, list, n);
	}
	free(list);
	if (rc && cli->stdout_errno)
		return cli_failf(cli, rc, "cannot write the token list to stdout (%s): run the "
				 "command again with stdout going somewhere that accepts it",
				 strerror(cli->stdout_errno));
	return rc ? cli_fail(cli, rc, NULL) : EXIT_OK;
}

static int run_revoke(struct cli *cli, struct cli_session *s, const char *id)
{
	struct dbr_err err = DBR_ERR_INIT;
	int rc = dbr_tokens_delete(s->client, id, &err);

	if (rc)
		/* a malformed id is the caller's input: refused before sending */
		return cli_fail(cli, rc == DBR_E_INVAL ? DBR_E_USAGE : rc, err.msg);
	if (cli->output == CLI_OUTPUT_JSON) {
		cli_result_str(cli, "token_id", id);
		cli_result_bool(cli, "revoked", 1);
		rc = cli_result_flush(cli, EXIT_OK);
	} else {
		cli_printf(cli, "revoked token '%s'\n", id);
		rc = EXIT_OK;
	}
	if (cli->stdout_errno)
		/* not "run it again": that would answer 404 */
		return cli_failf(cli, DBR_E_IO, "the token '%s' was revoked, but the confirmation "
				 "could not be written to stdout (%s)", id,
				 strerror(cli->stdout_errno));
	return rc;
}

/* Through the agent this process has no chain: one that only stores. */
static int store_in_keyring(struct cli *cli, struct cli_session *s,
			    const struct dbr_secret *value, struct dbr_err *err)
{
	struct dbr_chain_options copt = { cli->chain_spec, cli->plugin_dir, 0, cli->auth_type };
	struct dbr_chain *chain = s->chain;
	int rc = 0;

	if (!chain)
		rc = dbr_chain_new(&copt, cli->cfg, cli->mask, cli->log, &chain, err);
	if (rc == 0)
		rc = dbr_chain_store(chain, "keyring", dbr_client_host(s->client), value, err);
	if (chain != s->chain)
		dbr_chain_free(chain);
	return rc;
}

/* token/create was sent and its answer lost, or answered without a usable
 * token id: the workspace may have made the token. The tokens with this comment and lifetime made since the call
 * (with 5 minutes for the clocks) are named, not revoked: another run may
 * have made one with the same comment. The exit code stays the failure's. */
static int create_lost(struct cli *cli, struct cli_session *s, const char *comment,
		       long lifetime_s, int64_t since_ms, int rc, const char *why)
{
	struct dbr_token_info *found = NULL;
	struct dbr_err e = DBR_ERR_INIT;
	size_t n = 0;
	char ids[400] = "";

	if (dbr_tokens_find(s->client, comment, lifetime_s, since_ms - 5 * 60 * 1000, &found, &n,
			    &e))
		return cli_failf(cli, rc, "%s; the workspace may have made the token anyway: look "
				 "for the comment '%s' in 'dbroker tokens list' (dbroker could not "
				 "look: %s)", why, comment, e.msg);
	for (size_t i = 0; i < n && i < 3; i++)
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%.128s", i ? ", " : "",
			 found[i].token_id);
	free(found);
	if (!n)
		return cli_failf(cli, rc, "%s; no token was made (none with this comment and "
				 "lifetime since the call)", why);
	return cli_failf(cli, rc, "%s; the workspace may have made it anyway: %s with this "
			 "comment and lifetime %s made since the call (%s%s): unless another run "
			 "made it, revoke it with 'dbroker tokens revoke ID'", why,
			 n == 1 ? "a token" : "tokens", n == 1 ? "was" : "were", ids,
			 n > 3 ? ", ..." : "");
}

static int run_create(struct cli *cli, struct cli_session *s, long lifetime_s,
		      const char *comment, int print)
{
	struct dbr_minted_token t = DBR_MINTED_TOKEN_INIT;
	struct dbr_err err = DBR_ERR_INIT;
	int64_t sent_ms = (int64_t)time(NULL) * 1000;
	int rc = dbr_tokens_create(s->client, lifetime_s, comment, &t, &err);

	if (rc == DBR_E_MAYBE_APPLIED || (rc && dbr_client_outcome_unknown(s->client)))
		return create_lost(cli, s, comment, lifetime_s, sent_ms, rc, err.msg);
	if (rc == 0)
		rc = dbr_mask_add_secret(cli->mask, t.value, &err);
	if (rc == 0 && print)
		rc = dbr_minted_token_write(&t, STDOUT_FILENO, &err);
	else if (rc == 0)
		rc = store_in_keyring(cli, s, t.value, &err);
	if (rc && t.info.token_id[0]) {
		/* a token nobody holds must not stay alive */
		struct dbr_err e2 = DBR_ERR_INIT;
		int gone = dbr_tokens_revoke(s->client, t.info.token_id, &e2) == 0;

		rc = cli_failf(cli, rc, "%s; the new token '%s' %s", err.msg, t.info.token_id,
			       gone ? "was revoked again" : "could NOT be revoked: run 'dbroker "
			       "tokens revoke' with that id");
	} else if (rc) {
		rc = cli_fail(cli, rc, err.msg);
	} else if (!print) {
		char exp[32];

		cli_format_utc_ms(t.info.expiry_time_ms, exp, sizeof(exp));
		if (cli->output == CLI_OUTPUT_JSON) {
			cli_result_str(cli, "token_id", t.info.token_id);
			cli_result_str(cli, "expires", exp);
			cli_result_str(cli, "profile", dbr_config_profile(cli->cfg));
			cli_result_str(cli, "store", "keyring");
			rc = cli_result_flush(cli, EXIT_OK);
		} else {
			cli_printf(cli, "stored a new token ('%s', expires %s) in the keyring for "
				   "profile '%s'\n", t.info.token_id, exp,
				   dbr_config_profile(cli->cfg));
		}
	} else {
		dbr_log_info(cli->log, "wrote the new token '%s' to stdout", t.info.token_id);
	}
	dbr_minted_token_release(&t);
	return rc;
}

static int run_tokens(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL, *lifetime = NULL;
	const char *comment = NULL, *store = NULL, *id = NULL;
	struct cli_session s;
	long ms = 0;
	int print = 0, rc;

	if (!sub || cli_is_help(sub)) {
		fputs(tokens_usage, sub ? stdout : stderr);
		return sub ? EXIT_OK : EXIT_USAGE;
	}
	if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
		return cli_failf(cli, DBR_E_USAGE, "unknown tokens command '%s': use create, list "
				 "or revoke", sub);
	for (int i = 2; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(tokens_usage, stdout);
			return EXIT_OK;
		}
		if (strcmp(sub, "create") == 0 &&
		    (cli_take_value(argc, argv, &i, NULL, "--lifetime", &lifetime, &missing) ||
		     cli_take_value(argc, argv, &i, NULL, "--comment", &comment, &missing) ||
		     cli_take_value(argc, argv, &i, NULL, "--store", &store, &missing))) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
		} else if (strcmp(sub, "create") == 0 && strcmp(argv[i], "--print") == 0) {
			print = 1;
		} else if (strcmp(sub, "revoke") == 0 && !id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' for 'tokens %s' "
					 "(see --help)", argv[i], sub);
		}
	}
	if (strcmp(sub, "revoke") == 0 && !id)
		return cli_failf(cli, DBR_E_USAGE, "give the id of the token to revoke ('dbroker "
				 "tokens list' shows them)");
	if (strcmp(sub, "create") == 0) {
		if (!lifetime)
			lifetime = DEFAULT_LIFETIME;
		if (cli_parse_duration_ms(lifetime, &ms))
			return cli_failf(cli, DBR_E_USAGE, "--lifetime '%s' is not a duration (or "
					 "too long to count): give e.g. 90d, 12h or 30m", lifetime);
		if (ms < 60000)
			return cli_failf(cli, DBR_E_USAGE, "--lifetime '%s' is shorter than 1m: give "
					 "e.g. 90d", lifetime);
		if (store && strcmp(store, "keyring") != 0)
			return cli_failf(cli, DBR_E_USAGE, "--store '%s': only 'keyring' is "
					 "supported", store);
		if (store && print)
			return cli_failf(cli, DBR_E_USAGE, "--store and --print exclude each other");
		if (print && isatty(STDOUT_FILENO))
			return cli_failf(cli, DBR_E_USAGE, "--print refuses to show a token on a "
					 "terminal: pipe stdout into the tool that keeps it, or use "
					 "--store keyring");
		/* before minting: the token would live with nobody holding it */
		if (print && cli_fd_discards(STDOUT_FILENO))
			return cli_failf(cli, DBR_E_USAGE, "--print would write the token where "
					 "nobody keeps it (stdout is %s): pipe stdout into the tool "
					 "that keeps it, or use --store keyring",
					 dbr_process_std_reopened() & (1u << STDOUT_FILENO) ?
					 "closed" : "the null device");
		/* an empty one says nothing, and a lost answer would be looked
		 * for among every token without one */
		if (!comment || !comment[0])
			return cli_failf(cli, DBR_E_USAGE, "give the token a --comment saying what "
					 "it is for");
	}
	rc = cli_session_open(cli, &s);
	if (rc == 0) {
		if (strcmp(sub, "list") == 0)
			rc = run_list(cli, &s);
		else if (strcmp(sub, "revoke") == 0)
			rc = run_revoke(cli, &s, id);
		else
			rc = run_create(cli, &s, ms / 1000, comment, print);
	}
	cli_session_close(&s);
	return rc;
}

const struct cli_command cli_cmd_tokens = {
	.name = "tokens",
	.summary = "create (into the keyring), list and revoke personal access tokens",
	.run = run_tokens,
};
