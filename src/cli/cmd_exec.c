/* dbroker exec: run a tool with a capability (or a short-lived token)
 * instead of the real token. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_exec.h"
#include "banned.h"

#define MINT_MAX_MS (24L * 3600 * 1000)

static const char exec_usage[] =
"usage: dbroker [global options] exec [--mint DURATION | --pass-token] [--no-mask]\n"
"                                     [--port N] [--max-body BYTES]\n"
"                                     [--max-connections N] [--] COMMAND [ARGS...]\n"
"\n"
"Runs COMMAND without giving it the token. By default dbroker listens on\n"
"127.0.0.1 (a random port) and starts COMMAND with DATABRICKS_HOST pointing\n"
"there, DATABRICKS_TOKEN set to a random capability that only this proxy\n"
"accepts and DATABRICKS_AUTH_TYPE=pat; every other DATABRICKS_* credential\n"
"variable is removed. The proxy signs each request with the real credential\n"
"(verified TLS) and relays the answer, to this user's processes only (and\n"
"root's). COMMAND's output passes through the masker; dbroker exits with\n"
"COMMAND's status (128 + signal if it was killed, 127 if it was not found,\n"
"126 if it could not be run).\n"
"\n"
"options:\n"
"  --mint DURATION    give COMMAND a real token that lives DURATION (e.g. 15m,\n"
"                     at most 24h) instead of the proxy; it is revoked when\n"
"                     COMMAND exits (a signal to dbroker is passed on to it\n"
"                     first), and on errors\n"
"  --pass-token       give COMMAND the real token (discouraged)\n"
"  --no-mask          give COMMAND the terminal directly (interactive tools);\n"
"                     its output is then not masked\n"
"  --port N           listen on this port instead of a random one\n"
"  --max-body BYTES   largest request body the proxy accepts (default 64 MiB)\n"
"  --max-connections N  connections the proxy serves at once (default 32)\n"
"\n"
"examples:\n"
"  dbroker exec -- databricks clusters list\n"
"  dbroker exec -- python3 my_sdk_script.py\n"
"  dbroker exec --mint 15m -- terraform apply\n"
"\n"
"exit status: COMMAND's (see above); dbroker's own when COMMAND never ran\n"
"(2 invalid options, 3 no credential, ...: see 'dbroker --help').\n";

static const char *const value_options[] = {
	"--mint", "--port", "--max-body", "--max-connections",
};

int cli_exec_option_takes_value(const char *arg)
{
	for (size_t i = 0; i < sizeof(value_options) / sizeof(value_options[0]); i++)
		if (strcmp(arg, value_options[i]) == 0)
			return 1;
	return 0;
}

struct exec_opts {
	const char *mint;
	long mint_s;
	int pass_token;
	int no_mask;
	int port;
	size_t max_body;
	int max_connections;
	char **command;
};

static int parse_size(const char *s, size_t *out)
{
	int v;

	if (cli_parse_int(s, &v) || v <= 0)
		return DBR_E_INVAL;
	*out = (size_t)v;
	return 0;
}

/* Options until "--" or the first word that is not an option. Returns 0,
 * -1 for --help (printed), or an exit code (reported). */
static int parse(struct cli *cli, int argc, char **argv, struct exec_opts *o)
{
	const char *port = NULL, *body = NULL, *conns = NULL;
	int i;

	memset(o, 0, sizeof(o[0]));
	for (i = 1; i < argc; i++) {
		char *a = argv[i];
		int missing = 0;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (cli_is_help(a)) {
			fputs(exec_usage, stdout);
			return -1;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--mint", &o->mint, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--port", &port, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--max-body", &body, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--max-connections", &conns, &missing)) {
			if (missing)
				return cli_option_fail(cli, a, missing);
		} else if (strcmp(a, "--pass-token") == 0) {
			o->pass_token = 1;
		} else if (strcmp(a, "--no-mask") == 0) {
			o->no_mask = 1;
		} else {
			return cli_failf(cli, DBR_E_USAGE, "unknown option '%s' for exec: put the "
					 "command after '--' if the option is the command's "
					 "(dbroker exec -- COMMAND %s ...)", a, a);
		}
	}
	if (i >= argc || !argv[i][0])
		return cli_failf(cli, DBR_E_USAGE, "no command to run: give it after the options, "
				 "e.g. 'dbroker exec -- databricks clusters list'");
	o->command = &argv[i];
	if (o->mint && o->pass_token)
		return cli_failf(cli, DBR_E_USAGE, "--mint and --pass-token exclude each other: "
				 "choose one (or neither, for the proxy)");
	if (o->mint) {
		long ms = 0;

		if (cli_parse_duration_ms(o->mint, &ms) || ms < 60000 || ms > MINT_MAX_MS)
			return cli_failf(cli, DBR_E_USAGE, "--mint '%s' is not a lifetime between "
					 "1m and 24h: give e.g. --mint 15m", o->mint);
		o->mint_s = ms / 1000;
	}
	if ((o->mint || o->pass_token) && (port || body || conns))
		return cli_failf(cli, DBR_E_USAGE, "%s is for the proxy, and %s starts none: drop "
				 "it, or drop %s", port ? "--port" : body ? "--max-body" :
				 "--max-connections", o->mint ? "--mint" : "--pass-token",
				 o->mint ? "--mint" : "--pass-token");
	if (port && (cli_parse_int(port, &o->port) || o->port < 0 || o->port > 65535))
		return cli_failf(cli, DBR_E_USAGE, "--port '%s' is not a port number (0-65535)",
				 port);
	if (body && parse_size(body, &o->max_body))
		return cli_failf(cli, DBR_E_USAGE, "--max-body '%s' is not a number of bytes from "
				 "1 to 2147483647 (the body is held in memory)", body);
	if (conns && (cli_parse_int(conns, &o->max_connections) || o->max_connections <= 0))
		return cli_failf(cli, DBR_E_USAGE, "--max-connections '%s' is not a positive "
				 "number", conns);
	return 0;
}

/* What the child gets, and what to undo afterwards. */
struct exec_run {
	struct cli_session s;
	struct dbr_proxy *proxy;
	struct dbr_minted_token minted;
	const char *host;
	const struct dbr_secret *token;
};

static int start_proxy(struct cli *cli, const struct exec_opts *o, struct exec_run *r)
{
	struct dbr_client_options copt;
	struct dbr_proxy_options popt;
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	rc = cli_client_options(cli, &copt, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	memset(&popt, 0, sizeof(popt));
	popt.struct_size = sizeof(popt);
	popt.port = (uint16_t)o->port;
	popt.max_body = o->max_body;
	popt.max_connections = (unsigned)o->max_connections;
	popt.log = cli->log;
	popt.mask = cli->mask;
	if (r->s.agent_socket[0]) {
		/* the agent signs: this process never holds the token */
		popt.agent_socket = r->s.agent_socket;
		copt.ca_file = NULL;
	}
	rc = dbr_proxy_start(r->s.cred, &copt, &popt, &r->proxy, &err);
	if (rc == 0)
		rc = dbr_mask_add_secret(cli->mask, dbr_proxy_capability(r->proxy), &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	r->host = dbr_proxy_url(r->proxy);
	r->token = dbr_proxy_capability(r->proxy);
	return 0;
}

/* token/create was sent and its answer lost (the connection broke), or
 * answered without a usable token id: the workspace may have made the
 * token anyway. The run id in its comment
 * finds it, and it is revoked; the exit code stays the failure's. */
static int mint_lost(struct cli *cli, struct exec_run *r, const char *comment, long life,
		     int rc, const char *why)
{
	struct dbr_token_info *found = NULL;
	struct dbr_err e = DBR_ERR_INIT;
	size_t n = 0, left = 0;
	char ids[300] = "";

	exec_signals_cleanup();
	if (dbr_tokens_find(r->s.client, comment, life, 0, &found, &n, &e))
		return cli_failf(cli, rc, "cannot mint a token for the command: %s; the workspace "
				 "may have made it: look for the comment '%s' in 'dbroker tokens "
				 "list' and revoke it (dbroker could not look: %s)", why, comment,
				 e.msg);
	for (size_t i = 0; i < n; i++) {
		if (dbr_tokens_revoke(r->s.client, found[i].token_id, &e) == 0)
			continue;
		left++;
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), " %.128s",
			 found[i].token_id);
	}
	free(found);
	if (left)
		return cli_failf(cli, rc, "cannot mint a token for the command: %s; the workspace "
				 "made it anyway and it could NOT be revoked (%s): revoke it with "
				 "'dbroker tokens revoke%s'", why, e.msg, ids);
	return cli_failf(cli, rc, "cannot mint a token for the command: %s; %s", why,
			 n ? "the workspace made it anyway: it was found by this run's comment and "
			     "revoked" : "no token was made (none has this run's comment)");
}

static int mint(struct cli *cli, const struct exec_opts *o, struct exec_run *r)
{
	struct dbr_err err = DBR_ERR_INIT;
	char comment[DBR_TOKEN_COMMENT_MAX + 1];
	unsigned char run[4] = { 0 };
	int rc;

	/* the run id finds the token again should the answer be lost */
	(void)dbr_random_bytes(run, sizeof(run));
	snprintf(comment, sizeof(comment), "dbroker exec: %.80s on %.120s (run %02x%02x%02x%02x)",
		 o->command[0], dbr_client_host(r->s.client), run[0], run[1], run[2], run[3]);
	/* printable ASCII only: a name that is not UTF-8, or a character the
	 * cut above splits, would make the request invalid JSON */
	for (char *c = comment; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	rc = dbr_tokens_create(r->s.client, o->mint_s, comment, &r->minted, &err);
	/* on failure here the token is revoked by the caller */
	if (rc == 0 && (rc = dbr_mask_add_secret(cli->mask, r->minted.value, &err)))
		return cli_failf(cli, rc, "cannot mask the minted token: %s", err.msg);
	if (rc == DBR_E_MAYBE_APPLIED || (rc && dbr_client_outcome_unknown(r->s.client)))
		return mint_lost(cli, r, comment, o->mint_s, rc, err.msg);
	if (rc)
		return cli_failf(cli, rc, "cannot mint a token for the command: %s", err.msg);
	dbr_log_info(cli->log, "minted token '%s' (%ld s) for '%s'; it is revoked when it exits",
		     r->minted.info.token_id, o->mint_s, o->command[0]);
	r->host = dbr_client_host(r->s.client);
	r->token = r->minted.value;
	return 0;
}

/* Revoke a minted token. Returns 0 or an exit code (reported, with the id
 * to revoke by hand). */
static int revoke_minted(struct cli *cli, struct exec_run *r)
{
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	if (!r->minted.info.token_id[0])
		return 0;
	exec_signals_cleanup();
	rc = dbr_tokens_revoke(r->s.client, r->minted.info.token_id, &err);
	if (rc == DBR_E_AUTH) {
		/* the advice after the dash (replace the credential) does not
		 * fit a credential that minted this very token */
		char *advice = strstr(err.msg, DBR_ADVICE_SEP);

		if (advice)
			*advice = '\0';
		return cli_failf(cli, rc, "the minted token '%s' was NOT revoked: %s \u2014 the "
				 "credential that minted it was refused its revocation (it expired "
				 "or was revoked meanwhile, or its user may create tokens but not "
				 "delete them); revoke it with 'dbroker tokens revoke %s' (it "
				 "expires by itself at the end of its lifetime)",
				 r->minted.info.token_id, err.msg, r->minted.info.token_id);
	}
	if (rc == DBR_E_INTERRUPTED)
		return cli_failf(cli, rc, "the minted token '%s' was NOT revoked: dbroker was "
				 "stopped by a signal before the workspace confirmed the revocation; "
				 "revoke it with 'dbroker tokens revoke %s' (it expires by itself at "
				 "the end of its lifetime)", r->minted.info.token_id,
				 r->minted.info.token_id);
	if (rc)
		return cli_failf(cli, rc, "the minted token '%s' was NOT revoked: %s; revoke it "
				 "with 'dbroker tokens revoke %s' (it expires by itself at the "
				 "end of its lifetime)", r->minted.info.token_id, err.msg,
				 r->minted.info.token_id);
	dbr_log_info(cli->log, "revoked the minted token '%s'", r->minted.info.token_id);
	return 0;
}

/* Our stdout and stderr are one file (2>&1, a terminal). */
static int same_file(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

static int spawn_and_wait(struct cli *cli, const struct exec_opts *o, struct exec_run *r)
{
	struct dbr_child_options co;
	struct dbr_child child;
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	memset(&co, 0, sizeof(co));
	co.struct_size = sizeof(co);
	co.argv = o->command;
	co.host = r->host;
	co.token = r->token;
	co.auth_type = "pat";
	co.capture_output = !o->no_mask;
	/* what the child writes to the null device is gone, so the child may
	 * have it directly. Masking it would only cost a pipe and a copy, and
	 * a tool that knows /dev/null (tar skips reading what it would write
	 * there) sees it as asked. */
	co.inherit_stdout = cli_fd_discards(STDOUT_FILENO);
	co.inherit_stderr = cli_fd_discards(STDERR_FILENO);
	/* two pipes read in turn would reorder what the child wrote to each:
	 * into one file, one pipe keeps the order (an error stays next to
	 * the output it is about) */
	co.merge_stderr = same_file(STDOUT_FILENO, STDERR_FILENO);
	/* an http_proxy set for the outside would get the child's requests
	 * to the local proxy: the capability and the bodies, in clear text */
	co.no_proxy = r->proxy ? "127.0.0.1" : NULL;
	rc = dbr_child_spawn(&co, &child, &err);
	(void)dbr_harden_drop_core_limit(NULL); /* the child has its core limit */
	if (rc) {
		cli_fail(cli, rc, err.msg);
		if (rc != DBR_E_IO)
			return cli_exit_code(rc);
		return child.spawn_errno == ENOENT ? 127 : 126;
	}
	/* a signal between the start and naming the child */
	rc = exec_signals_child(child.pid);
	if (rc)
		kill(child.pid, rc);
	return exec_wait_child(cli, child.pid, child.out_fd, child.err_fd);
}

static int run_exec(struct cli *cli, int argc, char **argv)
{
	struct exec_opts o;
	struct exec_run r;
	int rc, code, undo;

	rc = parse(cli, argc, argv, &o);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	memset(&r, 0, sizeof(r));
	exec_signals_install();
	/* the real token is only here when resolved here */
	rc = o.pass_token ? cli_session_open_here(cli, &r.s) : cli_session_open(cli, &r.s);
	if (rc) {
		cli_session_close(&r.s);
		return rc;
	}
	if (o.mint) {
		rc = mint(cli, &o, &r);
	} else if (o.pass_token) {
		dbr_log_warn(cli->log, "--pass-token: '%s' gets the real token in its environment, "
			     "where it can leak (crash reports, debug logs, child processes); "
			     "prefer the proxy (no option) or --mint", o.command[0]);
		r.host = dbr_credential_host(r.s.cred);
		r.token = dbr_credential_token(r.s.cred);
	} else {
		rc = start_proxy(cli, &o, &r);
	}
	if (rc == 0 && exec_signals_pending())
		rc = 128 + exec_signals_pending();
	code = rc ? rc : spawn_and_wait(cli, &o, &r);
	dbr_proxy_stop(r.proxy);
	undo = revoke_minted(cli, &r);
	dbr_interrupt_grace(0); /* the chain's clean-up gets a grace of its own */
	dbr_minted_token_release(&r.minted);
	cli_session_close(&r.s);
	/* told to stop once the child was gone (during revocation) */
	if (rc == 0 && exec_signals_pending())
		code = 128 + exec_signals_pending();
	/* a token left alive must not look like success */
	return undo && code == 0 ? undo : code;
}

const struct cli_command cli_cmd_exec = {
	.name = "exec",
	.summary = "run a tool (CLI, SDK script, Terraform) that never sees the token",
	.run = run_exec,
};
