/* dbroker: entry point, global options, dispatch. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

/* cmd_login.c */
extern const struct cli_command cli_cmd_login;
extern const struct cli_command cli_cmd_logout;

static const struct cli_command *const commands[] = {
	&cli_cmd_login,
	&cli_cmd_logout,
	&cli_cmd_auth,
	&cli_cmd_clusters,
	&cli_cmd_jobs,
	&cli_cmd_api,
	&cli_cmd_exec,
	&cli_cmd_tokens,
	&cli_cmd_agent,
	&cli_cmd_version,
};

static const char usage[] =
"usage: dbroker [global options] <command> [<args>]\n"
"\n"
"A credential and request broker for the Databricks REST API that keeps your\n"
"token off disk, out of argv and shell history, and out of every log line.\n"
"\n"
"commands:\n"
"%s"
"  help CMD   the usage of a command ('dbroker help clusters create')\n"
"\n"
"global options (accepted before or after the command; each once):\n"
"  -p, --profile NAME     profile in ~/.databrickscfg (default:\n"
"                         $DATABRICKS_CONFIG_PROFILE, else DEFAULT)\n"
"      --config-file PATH configuration file (default: $DATABRICKS_CONFIG_FILE,\n"
"                         else ~/.databrickscfg)\n"
"      --chain LIST       credential providers to ask, in order, such as\n"
"                         'vault,keyring' (default: $DBROKER_CHAIN, else the\n"
"                         profile's broker_chain, else\n"
"                         env,vault,kernel,keyring,profile)\n"
"      --auth-type TYPE   pat (a personal access token) or oauth-m2m (a service\n"
"                         principal's client id and secret; default:\n"
"                         $DATABRICKS_AUTH_TYPE, else the profile's auth_type,\n"
"                         else what the first source that has something holds)\n"
"      --plugin-dir DIR   where provider plugins live (default:\n"
"                         $DBROKER_PLUGIN_DIR, else the installed directory)\n"
"  -o, --output FORMAT    text (default) or json\n"
"      --log-level LEVEL  error, warn (default), info, debug or trace\n"
"      --log-file PATH    also log to PATH (created 0600; refused if others can\n"
"                         read it)\n"
"      --debug            log level debug, with HTTP exchanges (always masked)\n"
"      --strict           refuse to run unless secrets can be held in locked\n"
"                         memory\n"
"      --ca-cert PATH     trust this PEM CA bundle for the workspace (default:\n"
"                         the profile's ca_cert, else the system store)\n"
"      --retry-window D   retry transient failures for at most D in all\n"
"                         (default 5m; at most 24h; profile key retry_window;\n"
"                         e.g. 30s, 10m)\n"
"      --allow-http-loopback\n"
"                         permit http:// to a loopback workspace (local\n"
"                         testing only; dbroker never sends a token over plain\n"
"                         HTTP elsewhere)\n"
"      --no-agent         resolve the credential in this process even when a\n"
"                         dbroker agent answers on $DBROKER_AGENT_SOCK (or the\n"
"                         default socket)\n"
"  -h, --help             show help (also after any command)\n"
"      --version          show the version\n"
"\n"
"Secrets are never accepted as arguments. Give dbroker a token with\n"
"'dbroker login' (no-echo prompt or stdin), from HashiCorp Vault, or in\n"
"DATABRICKS_TOKEN (removed from the environment as soon as it is read).\n"
"\n"
"examples:\n"
"  dbroker auth describe          which source supplies the token, for what host\n"
"  dbroker -p prod auth describe -o json\n"
"  dbroker clusters create        create the default single-node cluster, wait\n"
"  dbroker clusters create --json @c.json --no-wait\n"
"  dbroker jobs run-now 123 --json '{\"env\": \"prod\"}'   run a job, wait for it\n"
"  dbroker api GET /api/2.0/preview/scim/v2/Me\n"
"  dbroker exec -- databricks clusters list    a tool that never sees the token\n"
"  eval \"$(dbroker agent start)\"  one process holds the credential for all\n"
"\n"
"exit codes: 0 ok, 1 failure, 2 usage, 3 no credential, 4 configuration,\n"
"5 auth rejected, 6 API error, 7 timeout, 8 network/TLS/unreachable, 9 cluster\n"
"or job run failed, 10 the request may have taken effect (outcome unknown),\n"
"128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).\n";

static void print_usage(FILE *f)
{
	char list[2048];
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int w = snprintf(list + n, sizeof(list) - n, "  %-10s %s\n", commands[i]->name,
				 commands[i]->summary);
		if (w < 0 || (size_t)w >= sizeof(list) - n)
			break;
		n += (size_t)w;
	}
	fprintf(f, usage, list);
}

/* Pull global options out of argv (anywhere before "--"), leaving the command
 * and its own arguments in rest. Every argument, "--" and what follows
 * included, is checked for secrets. Returns 0 or DBR_E_USAGE/DBR_E_SECRET_FLAG. */
static int parse_globals(struct cli *cli, int argc, char **argv, int *rest_argc,
			 char **rest, int *want_help, int *want_version, struct dbr_err *err)
{
	const char *output = NULL, *level = NULL;
	int n = 0, after_dashdash = 0;

	/* every argument before any is parsed: the values of options too
	 * ('-o dapi...' was echoed in "unknown output format"), and after
	 * "--", where a token is just as visible in ps */
	for (int i = 1; i < argc; i++) {
		int rc = cli_refuse_secret_arg(argv[i], err);

		if (rc)
			return rc;
	}
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		int missing = 0;

		if (after_dashdash) {
			rest[n++] = a;
			continue;
		}
		/* exec: the command starts at the first word that is not an
		 * option of exec's (or its value); it keeps all its arguments */
		if (n >= 1 && strcmp(rest[0], "exec") == 0) {
			if (cli_exec_option_takes_value(a) && i + 1 < argc) {
				rest[n++] = a;
				rest[n++] = argv[++i];
				continue;
			}
			if (a[0] != '-') {
				after_dashdash = 1;
				rest[n++] = a;
				continue;
			}
		}
		if (strcmp(a, "--") == 0) {
			after_dashdash = 1;
			rest[n++] = a;
			continue;
		}
		if (cli_take_value(argc, argv, &i, "-p", "--profile", &cli->profile, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--config-file", &cli->config_file, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--chain", &cli->chain_spec, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--auth-type", &cli->auth_type, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--plugin-dir", &cli->plugin_dir, &missing) ||
		    cli_take_value(argc, argv, &i, "-o", "--output", &output, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--log-level", &level, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--log-file", &cli->log_file, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--ca-cert", &cli->ca_cert, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--retry-window", &cli->retry_window,
				   &missing)) {
			if (missing)
				return cli_option_error(a, missing, err);
			continue;
		}
		if (strcmp(a, "--debug") == 0) {
			cli->debug = 1;
		} else if (strcmp(a, "--allow-http-loopback") == 0) {
			cli->allow_http_loopback = 1;
		} else if (strcmp(a, "--no-agent") == 0) {
			cli->no_agent = 1;
		} else if (strcmp(a, "--strict") == 0) {
			cli->strict = 1;
		} else if (strcmp(a, "--version") == 0) {
			*want_version = 1;
		} else if (cli_is_help(a) && n == 0) {
			*want_help = 1;
		} else {
			rest[n++] = a;
		}
	}
	rest[n] = NULL;
	*rest_argc = n;
	if (output) {
		if (strcmp(output, "json") == 0)
			cli->output = CLI_OUTPUT_JSON;
		else if (strcmp(output, "text") == 0)
			cli->output = CLI_OUTPUT_TEXT;
		else
			return dbr_err_set(err, DBR_E_USAGE,
					   "unknown output format '%s': use 'text' or 'json'", output);
	}
	if (level) {
		if (dbr_log_parse_level(level, &cli->level))
			return dbr_err_set(err, DBR_E_USAGE,
					   "unknown log level '%s': use error, warn, info, debug or trace",
					   level);
		cli->level_set = 1;
	}
	/* "" is an unset variable ('--ca-cert "$CA"'), not a choice: the
	 * system's CAs trusted instead of the one meant, the default chain or
	 * auth type instead of the one meant, no configuration or log file at
	 * all, the root directory for plugins ("/vault.so") */
	const struct { const char *value, *msg; } empty[] = {
		{ cli->profile, "the profile name is empty" },
		{ cli->ca_cert, "the CA file is empty: give --ca-cert a PEM file, or leave it out "
		  "to trust the system's CAs" },
		{ cli->config_file, "the configuration file is empty: give --config-file a file, "
		  "or leave it out for DATABRICKS_CONFIG_FILE or ~/.databrickscfg" },
		{ cli->chain_spec, "the chain is empty: give --chain providers such as "
		  "'vault,keyring', or leave it out for DBROKER_CHAIN or the profile's "
		  "broker_chain" },
		{ cli->auth_type, "the auth type is empty: give --auth-type 'pat' or 'oauth-m2m', "
		  "or leave it out for DATABRICKS_AUTH_TYPE or the profile's" },
		{ cli->log_file, "the log file is empty: give --log-file a path, or leave it out" },
		{ cli->plugin_dir, "the plugin directory is empty: give --plugin-dir a directory, "
		  "or leave it out for DBROKER_PLUGIN_DIR or the installed one" },
	};

	for (size_t k = 0; k < sizeof(empty) / sizeof(empty[0]); k++)
		if (empty[k].value && !*empty[k].value)
			return dbr_err_set(err, DBR_E_USAGE, "%s", empty[k].msg);
	return 0;
}

/* Flush stdout: 0, or the errno of a write that failed now or before. */
static int stdout_flush_errno(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		return errno ? errno : EIO;
	return 0;
}

/* Usage and version text go through stdio, so a failed write (a full disk,
 * a closed pipe) shows only at the flush: reported like a lost result, and
 * so is a stdout that was closed when dbroker started (now the null
 * device). Returns rc, or EXIT_FAILURE_GENERIC when stdout failed. */

static int stdio_outcome(int rc)
{
	int e = stdout_flush_errno();

	if (!e && (dbr_process_std_reopened() & (1u << STDOUT_FILENO)))
		e = EBADF;
	if (!e || rc != EXIT_OK)
		return rc;
	fprintf(stderr, "dbroker: error: cannot write to stdout (%s): run the command again "
		"with stdout going somewhere that accepts it\n", strerror(e));
	return EXIT_FAILURE_GENERIC;
}

/* An error before the command runs, when there is no log yet: masked and
 * escaped like every other line, since it can quote an argument (a token
 * given by mistake, an escape sequence that would rewrite the terminal).
 * Line breaks are kept only in the secret-flag refusal, which has several
 * lines of its own. */
static void early_error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void early_error(int code, const char *fmt, ...)
{
	struct dbr_mask *m = NULL;
	char msg[DBR_ERR_MSG_MAX], *safe = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dbr_mask_new(&m) == 0 &&
	    dbr_sanitize_masked(m, msg, strlen(msg), code == DBR_E_SECRET_FLAG ?
				DBR_SANITIZE_TEXT : DBR_SANITIZE_LINE, 0, &safe, NULL) == 0)
		fprintf(stderr, "dbroker: error: %s\n", safe);
	else
		fprintf(stderr, "dbroker: error: out of memory\n");
	dbr_wipe(msg, sizeof(msg));
	if (safe)
		dbr_wipe(safe, strlen(safe));
	free(safe);
	dbr_mask_free(m);
}

static void cli_release(struct cli *cli)
{
	cJSON_Delete(cli->result);
	dbr_config_free(cli->cfg);
	dbr_log_free(cli->log);
	dbr_mask_free(cli->mask);
	dbr_runtime_cleanup();
}

/* Before main() and everything it calls: the window in which another
 * process of the same user can open /proc/<pid>/environ or /proc/<pid>/mem
 * and find a token is as small as it can be. */
__attribute__((constructor(101))) static void harden_early(void)
{
	dbr_harden_early();
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct dbr_err err = DBR_ERR_INIT;
	char **rest;
	int rest_argc = 0, want_help = 0, want_version = 0, rc;
	const struct cli_command *cmd = NULL;

	/* before anything can hold a secret */
	if (dbr_harden_process(&err)) {
		fprintf(stderr, "dbroker: error: %s\n", err.msg);
		return EXIT_FAILURE_GENERIC;
	}
	/* a closed pipe is a write error to report (the result names what was
	 * created), not a silent death mid-wait */
	signal(SIGPIPE, SIG_IGN);
	/* likewise a log file at the file size limit: an error, not a death */
	signal(SIGXFSZ, SIG_IGN);
	memset(&cli, 0, sizeof(cli));
	cli.argc = argc;
	cli.argv = argv;
	cli.level = DBR_LOG_WARN;
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return EXIT_FAILURE_GENERIC;
	rc = parse_globals(&cli, argc, argv, &rest_argc, rest, &want_help, &want_version, &err);
	/* only exec's child gets back the core limit dbroker started with;
	 * exec drops it once the child runs */
	if ((rc || rest_argc == 0 || strcmp(rest[0], "exec") != 0) &&
	    dbr_harden_drop_core_limit(&err)) {
		fprintf(stderr, "dbroker: error: %s\n", err.msg);
		free(rest);
		return EXIT_FAILURE_GENERIC;
	}
	if (rc) {
		/* refused values were wiped; what else err quotes is masked */
		early_error(rc, "%s", err.msg);
		if (rc == DBR_E_USAGE)
			fprintf(stderr, "run 'dbroker --help' for usage\n");
		free(rest);
		return cli_exit_code(rc);
	}
	if (want_version) {
		printf("dbroker %s\n", dbr_version());
		free(rest);
		return stdio_outcome(EXIT_OK);
	}
	if (want_help || rest_argc == 0) {
		print_usage(want_help ? stdout : stderr);
		free(rest);
		return want_help ? stdio_outcome(EXIT_OK) : EXIT_USAGE;
	}
	/* "help", "help help", "help --help": the list */
	if (strcmp(rest[0], "help") == 0 &&
	    (rest_argc == 1 || strcmp(rest[1], "help") == 0 || cli_is_help(rest[1]))) {
		print_usage(stdout);
		free(rest);
		return stdio_outcome(EXIT_OK);
	}
	/* "help CMD [SUB]" is "CMD [SUB] --help" (rest has room for it) */
	if (strcmp(rest[0], "help") == 0) {
		memmove(rest, rest + 1, (size_t)(rest_argc - 1) * sizeof(*rest));
		rest[rest_argc - 1] = "--help";
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(rest[0], commands[i]->name) == 0)
			cmd = commands[i];
	if (!cmd && rest[0][0] == '-') {
		early_error(DBR_E_USAGE, "unknown option '%s'", rest[0]);
		fprintf(stderr, "run 'dbroker --help' for the global options, or 'dbroker "
			"<command> --help' for a command's\n");
		free(rest);
		return EXIT_USAGE;
	}
	if (!cmd) {
		const char *names[sizeof(commands) / sizeof(commands[0])], *near;

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			names[i] = commands[i]->name;
		near = cli_suggest(rest[0], names, sizeof(names) / sizeof(names[0]));
		early_error(DBR_E_USAGE, "unknown command '%s'%s%s%s", rest[0],
			    near ? ": did you mean '" : "", near ? near : "", near ? "'?" : "");
		fprintf(stderr, "run 'dbroker --help' for the list\n");
		free(rest);
		return EXIT_USAGE;
	}

	/* "--" ends the options ('dbroker clusters get -- "$ID"'): no operand
	 * of these commands starts with '-', so it is dropped; exec keeps it,
	 * its command follows */
	for (int i = 1; cmd != &cli_cmd_exec && i < rest_argc; i++)
		if (strcmp(rest[i], "--") == 0) {
			memmove(rest + i, rest + i + 1, (size_t)(rest_argc - i) * sizeof(*rest));
			rest_argc--;
			break;
		}

	rc = dbr_runtime_init(cli.strict ? DBR_RUNTIME_STRICT : 0, &cli.secure_memory, &err);
	if (rc) {
		fprintf(stderr, "dbroker: error: %s\n", err.msg);
		free(rest);
		return cli_exit_code(rc);
	}
	if (dbr_mask_new(&cli.mask) || dbr_log_new(cli.mask, &cli.log) ||
	    dbr_log_add_fd(cli.log, STDERR_FILENO)) {
		fprintf(stderr, "dbroker: error: out of memory\n");
		cli_release(&cli);
		free(rest);
		return EXIT_FAILURE_GENERIC;
	}
	dbr_log_set_level(cli.log, cli.debug && !cli.level_set ? DBR_LOG_DEBUG : cli.level);
	if (cli.log_file && (rc = dbr_log_open_file(cli.log, cli.log_file, &err))) {
		rc = cli_fail(&cli, rc, err.msg);
		cli_release(&cli);
		free(rest);
		return rc;
	}
	if (!cli.secure_memory)
		dbr_log_warn(cli.log, "cannot lock memory for secrets: they are %s; raise the "
			     "locked-memory limit (ulimit -l) to lock them; --strict refuses to run "
			     "like this", dbr_secmem_describe());
	/* from here a signal stops the command and lets cleanup run */
	cli_catch_interrupt();
	rc = cmd->run(&cli, rest_argc, rest);
	/* a command's usage text (--help) went through stdio */
	if (rc == EXIT_OK && !cli.stdout_errno)
		cli.stdout_errno = stdout_flush_errno();
	if (cli.stdout_errno && rc == EXIT_OK)
		rc = cli_failf(&cli, DBR_E_IO, "cannot write the result to stdout (%s): nothing "
			       "of it may have arrived; run the command again with stdout going "
			       "somewhere that accepts it", strerror(cli.stdout_errno));
	cli_release(&cli);
	free(rest);
	return rc;
}
