/* The dbroker command-line tool: shared state and helpers.
 *
 * The CLI owns all output. stdout carries results (JSON with -o json), stderr
 * carries messages; both pass through the masker.
 */
#ifndef DBROKER_CLI_H
#define DBROKER_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dbroker/dbroker.h"

/* Exit codes: documented in README ("Exit codes"); never renumber. */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1,  /* unexpected failure */
	EXIT_USAGE = 2,            /* bad command line, secret passed as a flag */
	EXIT_NO_CREDENTIAL = 3,    /* no provider had a credential */
	EXIT_CONFIG = 4,           /* bad profile, unsafe permissions, plugin */
	EXIT_AUTH = 5,             /* the server rejected the credential */
	EXIT_API = 6,              /* the server answered with an error */
	EXIT_TIMEOUT = 7,          /* timed out */
	EXIT_NETWORK = 8,          /* connection or TLS failure */
	EXIT_CLUSTER_FAILED = 9,   /* the cluster ended in ERROR or TERMINATED, or a
				      job run ended without SUCCESS */
	EXIT_MAYBE_APPLIED = 10,   /* the request may have taken effect: the
				      outcome is unknown (a create in doubt) */
	EXIT_INTERRUPTED = 130,    /* Ctrl-C; 128 + the signal for SIGTERM (143)
				      and SIGHUP (129) */
};

enum cli_output { CLI_OUTPUT_TEXT, CLI_OUTPUT_JSON };

struct cli {
	/* global options */
	const char *profile;
	const char *config_file;
	const char *chain_spec;
	const char *auth_type;   /* --auth-type, or NULL */
	const char *log_file;
	const char *plugin_dir;
	const char *ca_cert;
	int allow_http_loopback;
	int no_agent;            /* --no-agent: resolve here even if an agent runs */
	enum dbr_log_level level;
	int level_set;
	int debug;
	int strict;
	const char *retry_window;
	enum cli_output output;
	int argc;                /* the command line as given, for messages */
	char **argv;
	int stdout_errno;        /* the first failed write to stdout, or 0 */
	cJSON *result;           /* -o json result of a message-style command
				    (login, logout): see cli_result_str() */

	/* state */
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;  /* loaded on demand by cli_config() */
	int secure_memory;       /* secrets live in locked memory */
};

/* A command: argv[0] is the command's own name. Returns an exit code. */
struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Map a DBR_E* code to an exit code. */
int cli_exit_code(int err);

/* Report an error (masked, to stderr and the log file) and return its exit
 * code. With -o json a JSON error object is also written to stdout. */
int cli_fail(struct cli *cli, int code, const char *msg);
int cli_failf(struct cli *cli, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write text to stdout through the masker and the sanitizer (control
 * characters escaped, LF and TAB kept). Returns 0 or DBR_E_IO. */
int cli_print(struct cli *cli, const char *text, size_t len);
int cli_printf(struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A raw body from the server (not JSON) on stdout, masked: escaped by the
 * sanitizer on a terminal (ending with a newline), byte-exact to a pipe or
 * a file. Returns 0 or DBR_E_IO/DBR_E_NOMEM. */
int cli_print_body(struct cli *cli, const char *body, size_t len);

/* A one-line field from the server (a state message, a user name) made fit
 * to print inside a line: masked, then escaped (dbr_sanitize LINE), then cut
 * to max bytes (0: no cap). Returns a malloc'ed string (free()), or NULL
 * when out of memory. */
char *cli_field(struct cli *cli, const char *text, size_t max);

/* Write text to stderr through the masker, with no escaping: for the CLI's
 * own lines (progress), whose server fields come from cli_field(). */
int cli_eprint(struct cli *cli, const char *text, size_t len);

/* Print JSON text received from the server, re-indented (as it came when
 * it is not JSON), masked. Numbers and strings are printed as they came. */
int cli_print_json_text(struct cli *cli, const char *json, size_t len);

/* The layout cJSON_Print gives (tab indents, one member per line, arrays
 * on one line) made from valid JSON text (the caller has parsed it), every
 * number, literal and string copied as it is. Returns a malloc'ed,
 * NUL-terminated string (*outlen its length; may be NULL), or NULL when out
 * of memory. */
char *cli_json_layout(const char *json, size_t len, size_t *outlen);

/* Add {"error": {"code", "exit_code", "message"}} to a JSON object. */
void cli_json_add_error(cJSON *parent, int code, const char *msg);

/* Print a JSON document (indented, newline-terminated) to stdout, masked.
 * Returns 0, DBR_E_NOMEM or DBR_E_IO. */
int cli_print_json(struct cli *cli, const cJSON *doc);

/* Message-style commands (login, logout) print sentences with -o text and
 * one JSON object with -o json: each sentence also sets fields of
 * cli->result, printed by cli_result_flush(). Return 0 or DBR_E_NOMEM. */
int cli_result_str(struct cli *cli, const char *key, const char *value);
int cli_result_bool(struct cli *cli, const char *key, int value);

/* With -o json print cli->result (an empty object if nothing was set);
 * then free it. Returns exit_code, or EXIT_FAILURE_GENERIC when it could
 * not be built. */
int cli_result_flush(struct cli *cli, int exit_code);

/* For GET: the --json object json (len bytes) as a query string appended
 * to path ("?" or "&"): strings, numbers and booleans as values, a list
 * repeats its key, null is left out; keys and values percent-encoded.
 * *out is malloc'ed (free()). Returns 0, DBR_E_USAGE (not an object, a
 * nested object, too long) or DBR_E_NOMEM, with err. */
int cli_api_query(const char *path, const char *json, size_t len, char **out,
		  struct dbr_err *err);

/* Load the profile once (cached in cli->cfg). Returns 0 or a DBR_E* code with
 * err filled. */
int cli_config(struct cli *cli, struct dbr_err *err);

/* An option with a value at argv[*i]: "--opt value", "-o value" or
 * "--opt=value". Returns 1 when it matched: *out set and *i advanced past
 * a separate value; or, with *out and *i left as they were, *missing set to
 * CLI_OPTION_NO_VALUE (the value is absent) or CLI_OPTION_TWICE (*out was
 * already set to another value: the option came before). Else 0. */
#define CLI_OPTION_NO_VALUE 1
#define CLI_OPTION_TWICE 2
int cli_take_value(int argc, char **argv, int *i, const char *shortopt,
		   const char *longopt, const char **out, int *missing);

/* The *missing of cli_take_value() for the option at arg (its name only,
 * without a "=value") as a usage error: set in err (returns DBR_E_USAGE),
 * or reported (returns the exit code). */
int cli_option_error(const char *arg, int missing, struct dbr_err *err);
int cli_option_fail(struct cli *cli, const char *arg, int missing);

/* A duration as the official CLI writes it (Go's time.ParseDuration, units
 * ms, s, m, h, and d for days): "90s", "500ms", "20m", "1h30m", "1.5h",
 * "90d"; a bare whole
 * number is seconds ("90"). -> milliseconds. Returns 0 or DBR_E_INVAL. */
int cli_parse_duration_ms(const char *s, long *out);
/* A --timeout: a duration above zero and at most CLI_TIMEOUT_MAX_MS (so a
 * deadline of now + it cannot overflow). Returns 0 or DBR_E_INVAL. */
#define CLI_TIMEOUT_MAX_MS (30L * 24 * 3600 * 1000)
int cli_parse_timeout_ms(const char *s, long *out);

/* A time in ms since the epoch as "2026-12-04T15:56:04Z" into buf[cap];
 * "never" for a negative one (no expiry), "?" when it cannot be shown. */
void cli_format_utc_ms(int64_t ms, char *buf, size_t cap);

/* Strict decimal int. Returns 0 or DBR_E_INVAL. */
int cli_parse_int(const char *s, int *out);

/* The value of --json: "@path" (a file), "-" or "@-" (stdin), else the
 * JSON text itself. *out is malloc'ed (free()), *origin names the source
 * for messages. Returns 0, DBR_E_USAGE (cannot open, over max: the
 * caller's input), DBR_E_IO (a read failed), DBR_E_NOMEM. */
int cli_read_json_arg(const char *arg, size_t max, char **out, size_t *len,
		      const char **origin, struct dbr_err *err);

/* A command family's subcommands ("clusters create", "jobs list", ...). */
struct cli_subcommand {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
};

/* Run the subcommand argv[1] of family (argv[0]) with argv + 1; usage on
 * --help (stdout, 0) or when none is given (stderr, 2). */
int cli_run_subcommand(struct cli *cli, int argc, char **argv,
		       const struct cli_subcommand *subs, size_t n, const char *usage);

/* The one of names[n] that word is a clear typo of (1 or 2 edits, fewer
 * than word has characters), or NULL: for "did you mean". */
const char *cli_suggest(const char *word, const char *const *names, size_t n);

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

/* 1 when fd is the null device (char 1:3, whatever its path; a closed
 * stdout was put there at start-up): what is written there is gone. */
int cli_fd_discards(int fd);

/* If arg is a flag that would carry a secret (--token, --password, ...) or
 * looks like a token itself, wipe it in argv (best effort: it has already
 * been in /proc/<pid>/cmdline) and return DBR_E_SECRET_FLAG with the safe
 * ways explained in err. */
int cli_refuse_secret_arg(char *arg, struct dbr_err *err);

/* A resolved credential and a workspace client built from the global
 * options and the profile. */
struct cli_session {
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	struct dbr_client *client;
	char agent_socket[256];  /* the agent the client goes through, or "" */
};

/* A workspace client: through the agent when one answers and the command
 * brings no credential or TLS option of its own (then cred and chain stay
 * NULL), else the credential resolved through the chain here. On failure
 * the error has already been reported; returns the exit code (0 on
 * success). Close with cli_session_close() in every case. */
int cli_session_open(struct cli *cli, struct cli_session *s);

/* The same, never through the agent: for what needs the credential itself
 * (exec --pass-token). */
int cli_session_open_here(struct cli *cli, struct cli_session *s);
void cli_session_close(struct cli_session *s);

/* The client options of the command line and profile (CA, loopback,
 * profile name, log, retry window); the strings are borrowed from cli.
 * Returns 0, or DBR_E_USAGE/DBR_E_CONFIG for an invalid retry window. */
int cli_client_options(struct cli *cli, struct dbr_client_options *opt, struct dbr_err *err);

/* A workspace client for cred with the CA, loopback and profile settings of
 * the command line and profile. Returns 0 or dbr_client_new()'s codes. */
int cli_client_open(struct cli *cli, const struct dbr_credential *cred,
		    struct dbr_client **out, struct dbr_err *err);

/* Ask the workspace who cred's token belongs to (SCIM Me): a cheap "does
 * this token work". user receives the userName. Returns 0, DBR_E_AUTH (the
 * token was rejected), or the request module's other codes, with err. */
int cli_whoami(struct cli *cli, const struct dbr_credential *cred, char *user, size_t cap,
	       struct dbr_err *err);

/* Make Ctrl-C, SIGTERM and SIGHUP stop waits and requests (the first one; a
 * second one ends the process) instead of killing the process mid-request,
 * so that cleanup runs (a Vault token from an AppRole login is revoked); the
 * exit status is then 128 + that signal. A signal the caller ignored
 * (nohup, trap '') stays ignored. */
void cli_catch_interrupt(void);

/* 1 if sig was ignored when dbroker started (nohup, trap ''): it is left
 * ignored, neither acted on nor passed on. */
int cli_caller_ignores(int sig);

/* "dbroker <this run's arguments> FLAG VALUE", shell-quoted, without any
 * FLAG the run had (e.g. the command that finishes a create safely with
 * its idempotency token), into buf (cap bytes); returns buf. When it does
 * not fit: "the same command with FLAG VALUE". */
const char *cli_rerun_command(const struct cli *cli, const char *flag, const char *value,
			      char *buf, size_t cap);

/* Progress of a wait (clusters create, jobs run-now, ...) on stderr: on a
 * terminal one live line "STATE  detail  m:ss", redrawn in place; off a
 * terminal a plain line "dbroker: SUBJECT: STATE: detail (N s)" when the
 * state or detail changes. Quiet below log level warn. */
struct cli_progress {
	struct cli *cli;
	int tty;
	int line_open;
	char state[32];
	char detail[640];
};

void cli_progress_init(struct cli_progress *p, struct cli *cli);

/* subject: "cluster ID", "run N"; detail: server text cleaned to one line
 * (it is masked here). polled: 0 for the ticks between polls (they only
 * redraw the live line). */
void cli_progress_update(struct cli_progress *p, const char *subject, const char *state,
			 const char *detail, long elapsed_ms, int polled);

/* Clear the live line, if any, before other output. */
void cli_progress_end(struct cli_progress *p);

/* jobs run-now / submit (cmd_jobs_run.c). */
struct cli_jobs_run_options {
	const char *json;               /* --json value, or NULL */
	const char *idempotency_token;  /* --idempotency-token, or NULL */
	long timeout_ms;
	int no_wait;
	int dry_run;
	int cancel_on_interrupt;
};

/* Run job_id now (job_id 0: submit the one-time run of o->json): validate,
 * start exactly once, wait, print the run. Returns the exit code. */
int cli_jobs_run(struct cli *cli, int64_t job_id, const struct cli_jobs_run_options *o);

/* cancel-run --wait: wait until the run ends (any end), print it. */
int cli_jobs_cancel_wait(struct cli *cli, struct dbr_client *c, int64_t run_id,
			 long timeout_ms);

/* The run as JSON on stdout (run_id used when r has none). */
void cli_jobs_print_run(struct cli *cli, const struct dbr_job_run *r, int64_t run_id,
			const char *idem);

/* How long run-now and submit wait by default. */
long cli_jobs_default_wait_ms(void);

/* A job or run id: digits, 1..DBR_JOB_ID_MAX. Returns 0 or DBR_E_INVAL. */
int cli_parse_id(const char *s, int64_t *out);

extern const struct cli_command cli_cmd_auth;
extern const struct cli_command cli_cmd_clusters;
extern const struct cli_command cli_cmd_jobs;
extern const struct cli_command cli_cmd_api;
extern const struct cli_command cli_cmd_exec;
extern const struct cli_command cli_cmd_tokens;
extern const struct cli_command cli_cmd_agent;

/* 1 if arg is an option of 'exec' that takes a separate value ("--mint"),
 * so the global option parser keeps the value with it. */
int cli_exec_option_takes_value(const char *arg);

extern const struct cli_command cli_cmd_version;

#endif
