/* The dbroker command-line tool: shared state and helpers.
 *
 * The CLI owns all output. stdout carries results (JSON with -o json), stderr
 * carries messages; both pass through the masker.
 */
#ifndef DBROKER_CLI_H
#define DBROKER_CLI_H

#include <stddef.h>

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
	EXIT_CLUSTER_FAILED = 9,   /* the cluster ended in ERROR or TERMINATED */
	EXIT_INTERRUPTED = 130,    /* Ctrl-C */
};

enum cli_output { CLI_OUTPUT_TEXT, CLI_OUTPUT_JSON };

struct cli {
	/* global options */
	const char *profile;
	const char *config_file;
	const char *chain_spec;
	const char *log_file;
	const char *plugin_dir;
	const char *ca_cert;
	int allow_http_loopback;
	enum dbr_log_level level;
	int level_set;
	int debug;
	int strict;
	enum cli_output output;

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

/* Print JSON text received from the server, re-indented. */
int cli_print_json_text(struct cli *cli, const char *json, size_t len);

/* Add {"error": {"code", "exit_code", "message"}} to a JSON object. */
void cli_json_add_error(cJSON *parent, int code, const char *msg);

/* Print a JSON document (indented, newline-terminated) to stdout, masked.
 * Returns 0, DBR_E_NOMEM or DBR_E_IO. */
int cli_print_json(struct cli *cli, const cJSON *doc);

/* Load the profile once (cached in cli->cfg). Returns 0 or a DBR_E* code with
 * err filled. */
int cli_config(struct cli *cli, struct dbr_err *err);

/* An option with a value at argv[*i]: "--opt value", "-o value" or
 * "--opt=value". Returns 1 when it matched (advancing *i past a separate
 * value, or setting *missing when the value is absent), else 0. */
int cli_take_value(int argc, char **argv, int *i, const char *shortopt,
		   const char *longopt, const char **out, int *missing);

/* "90", "90s", "500ms", "20m", "1h" -> milliseconds. Returns 0 or
 * DBR_E_INVAL. */
int cli_parse_duration_ms(const char *s, long *out);

/* Strict decimal int. Returns 0 or DBR_E_INVAL. */
int cli_parse_int(const char *s, int *out);

/* The value of --json: "@path" (a file), "-" or "@-" (stdin), else the
 * JSON text itself. *out is malloc'ed (free()), *origin names the source
 * for messages. Returns 0, DBR_E_USAGE (cannot open, over max: the
 * caller's input), DBR_E_IO (a read failed), DBR_E_NOMEM. */
int cli_read_json_arg(const char *arg, size_t max, char **out, size_t *len,
		      const char **origin, struct dbr_err *err);

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

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
};

/* Resolve the credential through the chain and open a client. On failure
 * the error has already been reported; returns the exit code (0 on
 * success). Close with cli_session_close() in every case. */
int cli_session_open(struct cli *cli, struct cli_session *s);
void cli_session_close(struct cli_session *s);

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
 * so that cleanup runs (a Vault token from an AppRole login is revoked). */
void cli_catch_interrupt(void);

extern const struct cli_command cli_cmd_auth;
extern const struct cli_command cli_cmd_clusters;
extern const struct cli_command cli_cmd_api;

#endif
