/* Credential resolution + workspace client, shared by every command that
 * talks to the workspace. */
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

/* Why this command resolves the credential itself rather than through
 * the agent: NULL when the agent may serve it. The agent serves the
 * profiles of its own configuration with its own TLS settings, so a
 * command that brings its own credential or settings resolves itself. */
static const char *why_not_agent(const struct cli *cli)
{
	static const char *const own_vars[] = { "DATABRICKS_TOKEN", "DATABRICKS_HOST",
						"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET" };
	/* the variables that stand for --config-file, --chain and --auth-type:
	 * the agent would answer from its own file and chain, not these (a
	 * profile of another file: another workspace) */
	static const char *const own_settings[] = { "DATABRICKS_CONFIG_FILE", "DBROKER_CHAIN",
						    "DATABRICKS_AUTH_TYPE" };

	if (cli->no_agent)
		return "--no-agent";
	if (cli->chain_spec || cli->auth_type || cli->plugin_dir || cli->config_file)
		return "a credential option was given (--chain, --auth-type, --plugin-dir, "
		       "--config-file)";
	if (cli->ca_cert || cli->allow_http_loopback)
		return "a TLS option was given (--ca-cert, --allow-http-loopback)";
	for (size_t i = 0; i < sizeof(own_vars) / sizeof(own_vars[0]); i++)
		if (getenv(own_vars[i]))
			return "DATABRICKS_* credential variables are set";
	for (size_t i = 0; i < sizeof(own_settings) / sizeof(own_settings[0]); i++) {
		const char *v = getenv(own_settings[i]);

		if (v && *v)
			return "a credential setting is in the environment (DATABRICKS_CONFIG_FILE, "
			       "DBROKER_CHAIN, DATABRICKS_AUTH_TYPE)";
	}
	return NULL;
}

/* The client through the agent when one answers. Returns 0 with *used 1
 * (s->client open), 0 with *used 0 (no agent: resolve here), or an exit
 * code (reported). */
static int session_via_agent(struct cli *cli, struct cli_session *s, int *used)
{
	struct dbr_client_options opt;
	struct dbr_err err = DBR_ERR_INIT;
	const char *why = why_not_agent(cli), *origin;
	char path[256];
	int rc;

	*used = 0;
	if (why) {
		dbr_log_debug(cli->log, "agent: not asked: %s", why);
		return 0;
	}
	if (dbr_agent_socket_path(path, sizeof(path), &origin))
		return 0;
	rc = cli_client_options(cli, &opt, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	opt.ca_file = NULL;
	rc = dbr_client_new_agent(path, &opt, &s->client, &err);
	if (rc == DBR_E_UNREACHABLE) {
		dbr_log_debug(cli->log, "agent: %s", err.msg);
		return 0;
	}
	if (rc == DBR_E_UNSAFE_PERM) /* the message names the socket */
		return cli_fail(cli, rc, err.msg);
	if (rc)
		return cli_failf(cli, rc, "the agent on '%s' (from %s): %s", path, origin, err.msg);
	*used = 1;
	snprintf(s->agent_socket, sizeof(s->agent_socket), "%s", path);
	dbr_log_debug(cli->log, "credential held by the agent on '%s' (from '%s') for %s", path,
		      dbr_client_agent_source(s->client), dbr_client_host(s->client));
	return 0;
}

static int session_open(struct cli *cli, struct cli_session *s, int agent_ok)
{
	struct dbr_chain_options copt = { 0 };
	struct dbr_err err = DBR_ERR_INIT;
	int rc, used = 0;

	memset(s, 0, sizeof(*s));
	rc = cli_config(cli, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	if (agent_ok && (rc = session_via_agent(cli, s, &used)))
		return rc;
	if (used)
		return 0;
	copt.spec = cli->chain_spec;
	copt.auth_type = cli->auth_type;
	copt.plugin_dir = cli->plugin_dir;
	copt.interactive = isatty(STDIN_FILENO);
	rc = dbr_chain_new(&copt, cli->cfg, cli->mask, cli->log, &s->chain, &err);
	if (rc == 0)
		rc = dbr_chain_resolve(s->chain, &s->cred, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	dbr_log_debug(cli->log, "credential from '%s' for %s", dbr_credential_source(s->cred),
		      dbr_credential_host(s->cred));
	rc = cli_client_open(cli, s->cred, &s->client, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	return 0;
}

int cli_session_open(struct cli *cli, struct cli_session *s)
{
	return session_open(cli, s, 1);
}

int cli_session_open_here(struct cli *cli, struct cli_session *s)
{
	return session_open(cli, s, 0);
}

int cli_client_options(struct cli *cli, struct dbr_client_options *opt, struct dbr_err *err)
{
	const char *window = cli->retry_window;
	const char *origin = "--retry-window";
	long window_ms = 0;

	if (!window && (window = dbr_config_get(cli->cfg, "retry_window")))
		origin = "retry_window in the profile";
	if (window && (cli_parse_duration_ms(window, &window_ms) || window_ms <= 0))
		return dbr_err_set(err, cli->retry_window ? DBR_E_USAGE : DBR_E_CONFIG,
				   "invalid %s '%s': give a duration such as 30s, 5m or 1h",
				   origin, window);
	if (window_ms > DBR_CLIENT_MAX_WINDOW_MS)
		return dbr_err_set(err, cli->retry_window ? DBR_E_USAGE : DBR_E_CONFIG,
				   "invalid %s '%s': a call is retried for 24h at most; give "
				   "a shorter duration such as 1h", origin, window);
	memset(opt, 0, sizeof(*opt));
	opt->struct_size = sizeof(*opt);
	opt->retry_window_ms = window_ms;
	opt->ca_file = cli->ca_cert ? cli->ca_cert : dbr_config_get(cli->cfg, "ca_cert");
	opt->allow_insecure_loopback = cli->allow_http_loopback;
	opt->profile = dbr_config_profile(cli->cfg);
	opt->log = cli->log;
	return 0;
}

int cli_client_open(struct cli *cli, const struct dbr_credential *cred,
		    struct dbr_client **out, struct dbr_err *err)
{
	struct dbr_client_options opt;
	int rc = cli_client_options(cli, &opt, err);

	return rc ? rc : dbr_client_new(cred, &opt, out, err);
}

int cli_whoami(struct cli *cli, const struct dbr_credential *cred, char *user, size_t cap,
	       struct dbr_err *err)
{
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_client *client = NULL;
	cJSON *doc, *name;
	int rc;

	user[0] = '\0';
	rc = cli_client_open(cli, cred, &client, err);
	if (rc == 0)
		rc = dbr_client_call(client, "GET", "/api/2.0/preview/scim/v2/Me", NULL, 0, 0,
				     &resp, NULL, err);
	if (rc == 0) {
		doc = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
		name = cJSON_GetObjectItemCaseSensitive(doc, "userName");
		if (cJSON_IsString(name) && name->valuestring)
			snprintf(user, cap, "%s", name->valuestring);
		else
			rc = dbr_err_set(err, DBR_E_API,
					 "the workspace accepted the token but did not name its "
					 "user: check that the host is a Databricks workspace URL");
		cJSON_Delete(doc);
	}
	dbr_http_response_release(&resp);
	dbr_client_free(client);
	return rc;
}

void cli_session_close(struct cli_session *s)
{
	dbr_client_free(s->client);
	dbr_credential_free(s->cred);
	dbr_chain_free(s->chain);
	memset(s, 0, sizeof(*s));
}

static void on_interrupt(int sig)
{
	dbr_interrupt_by(sig);
}

void cli_catch_interrupt(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sa.sa_flags = (int)SA_RESETHAND; /* a second one ends the process */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!cli_caller_ignores(sigs[i]))
			sigaction(sigs[i], &sa, NULL);
}

int cli_caller_ignores(int sig)
{
	return dbr_process_started_ignoring(sig);
}
