/* dbroker agent: start, status, lock, forget, stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_agent.h"
#include "dbroker/agent_server.h"
#include "banned.h"

static const char agent_usage[] =
"usage: dbroker [global options] agent start [--ttl DURATION] [--reread DURATION]\n"
"                                            [--socket PATH] [--foreground] [--confirm]\n"
"       dbroker [global options] agent status | lock | forget [PROFILE] | stop\n"
"\n"
"One process per user holds the credentials and signs every request; commands\n"
"ask it over a Unix socket and never see the token (like ssh-agent).\n"
"  start    listen on $XDG_RUNTIME_DIR/dbroker/agent.sock (else a private\n"
"           directory under /tmp), print the line for eval, and detach:\n"
"             eval \"$(dbroker agent start)\"\n"
"           Nothing is resolved yet: a profile's credential is resolved through\n"
"           the chain on its first use, with the agent's configuration and the\n"
"           global options given here (--chain, --ca-cert, --log-file, ...).\n"
"             --ttl D         forget a credential D after it was resolved\n"
"                             (default 8h)\n"
"             --reread D      resolve again after D: a new Vault read for all\n"
"                             clients (default 1h, never past the TTL)\n"
"             --socket PATH   listen there instead\n"
"             --foreground    do not detach; log to stderr (for systemd)\n"
"             --confirm       ask on this terminal before each client process's\n"
"                             first use of a profile (refused without an answer);\n"
"                             needs --foreground in a terminal\n"
"  status   the profiles held, their expiry and use, the clients served\n"
"  lock     forget every credential now (the agent keeps running)\n"
"  forget   forget PROFILE's credential (every one without PROFILE)\n"
"  stop     forget everything and stop the agent\n"
"\n"
"Commands use the agent on $DBROKER_AGENT_SOCK (else the default socket) when it\n"
"answers and runs as the same user; --no-agent, credential variables\n"
"(DATABRICKS_TOKEN, ...) or credential and TLS options (--chain, --ca-cert, ...)\n"
"make a command resolve by itself. SIGUSR1 makes the agent forget everything;\n"
"SIGTERM, SIGHUP, SIGINT and SIGQUIT stop it.\n"
"\n"
"examples:\n"
"  eval \"$(dbroker agent start)\"          then every command uses the agent\n"
"  dbroker agent status\n"
"  dbroker agent forget prod               resolve 'prod' again on its next use\n"
"\n"
"exit status: 0 done, 8 no agent answers (status, lock, forget, stop), 2 invalid\n"
"options (see 'dbroker --help' for the others).\n";

static int parse_start(struct cli *cli, int argc, char **argv, struct agent_start_opts *o)
{
	const char *ttl = NULL, *reread = NULL;

	memset(o, 0, sizeof(*o));
	for (int i = 2; i < argc; i++) {
		int missing = 0;

		if (cli_take_value(argc, argv, &i, NULL, "--ttl", &ttl, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--reread", &reread, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--socket", &o->socket, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
		} else if (strcmp(argv[i], "--foreground") == 0) {
			o->foreground = 1;
		} else if (strcmp(argv[i], "--confirm") == 0) {
			o->confirm = 1;
		} else {
			return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' for 'agent start' "
					 "(see --help)", argv[i]);
		}
	}
	if (ttl && (cli_parse_duration_ms(ttl, &o->ttl_ms) || o->ttl_ms < 1000 ||
		    o->ttl_ms > DBR_AGENT_MAX_TTL_MS))
		return cli_failf(cli, DBR_E_USAGE, "--ttl '%s' is not a duration from 1s to 30d: "
				 "give e.g. 8h", ttl);
	if (reread && (cli_parse_duration_ms(reread, &o->reread_ms) || o->reread_ms < 1000 ||
		       o->reread_ms > DBR_AGENT_MAX_TTL_MS))
		return cli_failf(cli, DBR_E_USAGE, "--reread '%s' is not a duration from 1s to "
				 "30d: give e.g. 1h", reread);
	/* "" is an unset variable: it named the working directory */
	if (o->socket && !*o->socket)
		return cli_failf(cli, DBR_E_USAGE, "the socket path is empty: give --socket a "
				 "path, or leave it out for the default socket");
	if (o->confirm && !o->foreground)
		return cli_failf(cli, DBR_E_USAGE, "--confirm asks on the agent's terminal: add "
				 "--foreground and keep that terminal open");
	return 0;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : "?";
}

static int print_status(struct cli *cli, const char *report)
{
	cJSON *doc = cJSON_Parse(report), *p;
	char since[32];
	int rc;

	if (!doc)
		return cli_failf(cli, DBR_E_AGENT, "the agent's status report is not JSON");
	if (cli->output == CLI_OUTPUT_JSON) {
		rc = cli_print_json(cli, doc);
		cJSON_Delete(doc);
		return rc ? EXIT_FAILURE_GENERIC : EXIT_OK;
	}
	cli_format_utc_ms((int64_t)num(doc, "started_at") * 1000, since, sizeof(since));
	rc = cli_printf(cli, "agent pid %.0f on %s, since %s; TTL %.0f s, re-read every %.0f s\n"
			"clients served %.0f, refused %.0f; resolutions %.0f\n", num(doc, "pid"),
			str(doc, "socket"), since, num(doc, "ttl_s"), num(doc, "reread_s"),
			num(doc, "clients_served"), num(doc, "clients_refused"),
			num(doc, "resolutions"));
	p = cJSON_GetObjectItemCaseSensitive(doc, "profiles");
	if (rc == 0 && cJSON_GetArraySize(p) == 0)
		rc = cli_printf(cli, "no credential held\n");
	else if (rc == 0)
		rc = cli_printf(cli, "%-16s  %-10s  %-9s  %-10s  %6s  %s\n", "PROFILE", "AUTH",
				"SOURCE", "EXPIRES IN", "CALLS", "HOST");
	for (const cJSON *e = p ? p->child : NULL; e && rc == 0; e = e->next)
		rc = cli_printf(cli, "%-16s  %-10s  %-9s  %9.0fs  %6.0f  %s\n", str(e, "profile"),
				str(e, "auth_type"), str(e, "source"), num(e, "expires_in_s"),
				num(e, "calls"), str(e, "host"));
	cJSON_Delete(doc);
	return rc ? EXIT_FAILURE_GENERIC : EXIT_OK;
}

static int control(struct cli *cli, enum dbr_agent_op op, const char *profile)
{
	struct dbr_err err = DBR_ERR_INIT;
	const char *origin;
	char path[256], *report = NULL;
	int rc = dbr_agent_socket_path(path, sizeof(path), &origin);

	if (rc)
		return cli_failf(cli, DBR_E_UNREACHABLE, "no agent to ask: %s and XDG_RUNTIME_DIR "
				 "are not set; start one with 'eval \"$(dbroker agent start)\"'",
				 DBR_AGENT_SOCK_ENV);
	rc = dbr_agent_request(path, op, profile, op == DBR_AGENT_STOP ? NULL : &report, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	switch (op) {
	case DBR_AGENT_STATUS:
		rc = print_status(cli, report ? report : "{}");
		free(report);
		return rc;
	case DBR_AGENT_LOCK:
		cli_result_bool(cli, "locked", 1);
		break;
	case DBR_AGENT_FORGET:
		cli_result_str(cli, "forgot", profile ? profile : "*");
		break;
	case DBR_AGENT_STOP:
		cli_result_bool(cli, "stopped", 1);
		break;
	}
	/* a sentence, or with -o json the object alone */
	if (cli->output == CLI_OUTPUT_TEXT && op == DBR_AGENT_STOP)
		cli_printf(cli, "stopped the agent on '%s'\n", path);
	else if (cli->output == CLI_OUTPUT_TEXT && report && strcmp(report, "0") == 0)
		cli_printf(cli, "the agent on '%s' held no credential%s%s%s: nothing to forget\n",
			   path, profile ? " of profile '" : "", profile ? profile : "",
			   profile ? "'" : "");
	else if (cli->output == CLI_OUTPUT_TEXT)
		cli_printf(cli, "the agent on '%s' forgot %s\n", path, op == DBR_AGENT_FORGET &&
			   profile ? "that profile's credential" : "every credential");
	free(report);
	return cli_result_flush(cli, EXIT_OK);
}

static int run_agent(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct agent_start_opts o;
	int rc;

	if (!sub || cli_is_help(sub)) {
		fputs(agent_usage, sub ? stdout : stderr);
		return sub ? EXIT_OK : EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (cli_is_help(argv[i])) {
			fputs(agent_usage, stdout);
			return EXIT_OK;
		}
	if (strcmp(sub, "start") == 0) {
		if ((rc = parse_start(cli, argc, argv, &o)))
			return rc;
		return agent_start(cli, &o);
	}
	if (strcmp(sub, "forget") == 0 && argc <= 3)
		return control(cli, DBR_AGENT_FORGET, argc == 3 ? argv[2] : NULL);
	if (argc > 2) /* forget takes one argument, the others none */
		return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' for 'agent %s' (see "
				 "--help)", argv[strcmp(sub, "forget") == 0 ? 3 : 2], sub);
	if (strcmp(sub, "status") == 0)
		return control(cli, DBR_AGENT_STATUS, NULL);
	if (strcmp(sub, "lock") == 0)
		return control(cli, DBR_AGENT_LOCK, NULL);
	if (strcmp(sub, "stop") == 0)
		return control(cli, DBR_AGENT_STOP, NULL);
	return cli_failf(cli, DBR_E_USAGE, "unknown agent command '%s': use start, status, lock, "
			 "forget or stop", sub);
}

const struct cli_command cli_cmd_agent = {
	.name = "agent",
	.summary = "one process holds the credentials and signs for every command",
	.run = run_agent,
};
