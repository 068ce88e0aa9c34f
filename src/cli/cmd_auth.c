/* dbroker auth: which credential would be used, never the credential. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

static const char auth_usage[] =
"usage: dbroker [global options] auth <subcommand>\n"
"\n"
"subcommands:\n"
"  describe   walk the credential chain and show which provider supplies the\n"
"             token and for which workspace (the token itself is never shown)\n"
"\n"
"Run 'dbroker auth describe --help' for its options.\n";

static const char describe_usage[] =
"usage: dbroker [global options] auth describe [--check]\n"
"\n"
"Asks each credential provider in the chain, in order, without contacting the\n"
"workspace, and prints each provider's answer (found / not here / error / not\n"
"asked) and, for the chosen one, the auth type and where it came from, the\n"
"workspace host and a token fingerprint: a recognisable hint such as\n"
"'dapi…3f2c' and 'sha256:' plus 8 hex digits of the token's SHA-256. For a\n"
"service principal (auth type oauth-m2m): the client id and the client\n"
"secret's fingerprint only. The token itself is never printed, nor any secret.\n"
"\n"
"examples:\n"
"  dbroker auth describe\n"
"  dbroker -p prod --chain vault auth describe -o json\n"
"  dbroker auth describe --check\n"
"  DATABRICKS_TOKEN=... dbroker auth describe   (better: dbroker login)\n"
"\n"
"options:\n"
"  --check    also ask the workspace who the token belongs to (SCIM Me): proves\n"
"             the token works, and shows the user name (for oauth-m2m: mints an\n"
"             access token, in memory only, and shows when it expires)\n"
"\n"
"exit status: 0 found, 3 no credential, 4 configuration problem, 5 the workspace\n"
"rejected the token (--check), or the failing provider's code (see 'dbroker --help').\n";

struct describe_result {
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	char user[256];        /* --check: who the workspace says the token is */
	char hint[DBR_SECRET_HINT_MAX];
	char fp[DBR_SECRET_FP_MAX];
	char expires[64];      /* --check, oauth-m2m: when the access token expires */
};

/* Fingerprints of what the credential holds, and the access token's expiry. */
static void describe_secret(struct describe_result *r)
{
	const struct dbr_secret *s = dbr_credential_token(r->cred);
	long long at = dbr_credential_expires_at(r->cred);

	if (!s) {
		s = dbr_credential_client_secret(r->cred);
		snprintf(r->hint, sizeof(r->hint), "client secret");
	} else {
		dbr_secret_hint(s, r->hint, sizeof(r->hint));
	}
	dbr_secret_fingerprint(s, r->fp, sizeof(r->fp));
	if (at > 0) {
		time_t t = (time_t)at;
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(r->expires, sizeof(r->expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
}

static void print_text(struct cli *cli, const struct describe_result *r)
{
	const struct dbr_config *cfg = cli->cfg;

	cli_printf(cli, "profile:    %s (%s%s)\n", dbr_config_profile(cfg), dbr_config_path(cfg),
		   dbr_config_profile_found(cfg) ? "" : ", profile not found");
	if (r->chain) {
		cli_printf(cli, "chain:      from %s\n", dbr_chain_origin(r->chain));
		for (size_t i = 0; i < dbr_chain_count(r->chain); i++) {
			const char *reason = dbr_chain_reason(r->chain, i);

			if (*reason)
				cli_printf(cli, "  %-10s %-10s %s\n", dbr_chain_name(r->chain, i),
					   dbr_answer_name(dbr_chain_answer(r->chain, i)), reason);
			else
				cli_printf(cli, "  %-10s %s\n", dbr_chain_name(r->chain, i),
					   dbr_answer_name(dbr_chain_answer(r->chain, i)));
		}
	}
	if (r->cred) {
		cli_printf(cli, "source:     %s\n", dbr_credential_source(r->cred));
		if (strcmp(dbr_chain_auth_type_origin(r->chain), dbr_credential_source(r->cred)) == 0)
			cli_printf(cli, "auth type:  %s (inferred: what provider '%s' holds)\n",
				   dbr_credential_auth_type(r->cred), dbr_credential_source(r->cred));
		else
			cli_printf(cli, "auth type:  %s (from %s)\n", dbr_credential_auth_type(r->cred),
				   dbr_chain_auth_type_origin(r->chain));
		cli_printf(cli, "host:       %s (from %s)\n", dbr_credential_host(r->cred),
			   dbr_credential_host_origin(r->cred));
		if (dbr_credential_client_id(r->cred)) {
			cli_printf(cli, "client id:  %s (from %s)\n",
				   dbr_credential_client_id(r->cred), dbr_credential_source(r->cred));
			cli_printf(cli, "secret:     %s  %s (never shown; access tokens are minted "
				   "in memory only)\n", r->hint, r->fp);
			if (r->expires[0])
				cli_printf(cli, "expires:    %s (the access token minted for --check)\n",
					   r->expires);
		} else {
			cli_printf(cli, "token:      %s  %s\n", r->hint, r->fp);
		}
		if (r->user[0]) {
			char *user = cli_field(cli, r->user, 0);

			cli_printf(cli, "user:       %s (checked with the workspace)\n",
				   user ? user : "?");
			free(user);
		}
		cli_printf(cli, "memory:     %s\n", dbr_secmem_describe());
	}
}

static void print_json(struct cli *cli, const struct describe_result *r, int code,
		       const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *arr, *c;

	cJSON_AddStringToObject(o, "profile", dbr_config_profile(cli->cfg));
	cJSON_AddStringToObject(o, "config_file", dbr_config_path(cli->cfg));
	cJSON_AddBoolToObject(o, "profile_found", dbr_config_profile_found(cli->cfg));
	if (r->chain) {
		cJSON_AddStringToObject(o, "chain_origin", dbr_chain_origin(r->chain));
		arr = cJSON_AddArrayToObject(o, "providers");
		for (size_t i = 0; i < dbr_chain_count(r->chain); i++) {
			cJSON *p = cJSON_CreateObject();

			cJSON_AddStringToObject(p, "name", dbr_chain_name(r->chain, i));
			cJSON_AddStringToObject(p, "answer",
						dbr_answer_name(dbr_chain_answer(r->chain, i)));
			cJSON_AddStringToObject(p, "reason", dbr_chain_reason(r->chain, i));
			cJSON_AddItemToArray(arr, p);
		}
	}
	if (r->cred) {
		c = cJSON_AddObjectToObject(o, "credential");
		cJSON_AddStringToObject(c, "source", dbr_credential_source(r->cred));
		cJSON_AddStringToObject(c, "host", dbr_credential_host(r->cred));
		cJSON_AddStringToObject(c, "host_origin", dbr_credential_host_origin(r->cred));
		cJSON_AddStringToObject(c, "auth_type", dbr_credential_auth_type(r->cred));
		cJSON_AddStringToObject(c, "auth_type_origin", dbr_chain_auth_type_origin(r->chain));
		if (dbr_credential_client_id(r->cred)) {
			cJSON_AddStringToObject(c, "client_id", dbr_credential_client_id(r->cred));
			cJSON_AddStringToObject(c, "client_secret_fingerprint", r->fp);
			if (r->expires[0])
				cJSON_AddStringToObject(c, "access_token_expires", r->expires);
		} else {
			cJSON_AddStringToObject(c, "token_hint", r->hint);
			cJSON_AddStringToObject(c, "token_fingerprint", r->fp);
		}
		if (r->user[0])
			cJSON_AddStringToObject(c, "user", r->user);
	}
	cJSON_AddBoolToObject(o, "secure_memory", cli->secure_memory);
	cJSON_AddStringToObject(o, "memory", dbr_secmem_describe());
	if (code)
		cli_json_add_error(o, code, msg);
	cli_print_json(cli, o);
	cJSON_Delete(o);
}

static int auth_describe(struct cli *cli, int argc, char **argv)
{
	struct dbr_chain_options opt = { 0 };
	struct describe_result r;
	struct dbr_err err = DBR_ERR_INIT;
	int rc, check = 0;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			fputs(describe_usage, stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--check") == 0) {
			check = 1;
			continue;
		}
		return cli_failf(cli, DBR_E_USAGE,
				 "unexpected argument '%s' to 'auth describe' (see --help)", argv[i]);
	}
	memset(&r, 0, sizeof(r));
	rc = cli_config(cli, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	opt.spec = cli->chain_spec;
	opt.auth_type = cli->auth_type;
	opt.plugin_dir = cli->plugin_dir;
	opt.interactive = isatty(STDIN_FILENO);
	rc = dbr_chain_new(&opt, cli->cfg, cli->mask, cli->log, &r.chain, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	rc = dbr_chain_resolve(r.chain, &r.cred, &err);
	if (rc == 0) {
		if (check)
			rc = cli_whoami(cli, r.cred, r.user, sizeof(r.user), &err);
		describe_secret(&r);
	}
	/* the report is useful on failure too: it shows who said what */
	if (cli->output == CLI_OUTPUT_JSON)
		print_json(cli, &r, rc, err.msg);
	else
		print_text(cli, &r);
	if (rc) {
		dbr_log_error(cli->log, "%s", err.msg);
		rc = cli_exit_code(rc);
	}
	dbr_credential_free(r.cred);
	dbr_chain_free(r.chain);
	return rc;
}

static int run_auth(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = { { "describe", auth_describe } };

	return cli_run_subcommand(cli, argc, argv, subs, sizeof(subs) / sizeof(subs[0]),
				  auth_usage);
}

const struct cli_command cli_cmd_auth = {
	.name = "auth",
	.summary = "show which credential source would be used (never the token)",
	.run = run_auth,
};
