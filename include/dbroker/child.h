/* dbroker-layer: serve */
/* Starting the child of 'dbroker exec' with a credential in its
 * environment, and nothing else of dbroker's.
 *
 * The child gets this process's environment minus every Databricks
 * credential variable (DATABRICKS_TOKEN, _HOST, _AUTH_TYPE, _CLIENT_ID,
 * _CLIENT_SECRET, _USERNAME, _PASSWORD, _CONFIG_PROFILE, _ACCOUNT_ID,
 * _METADATA_SERVICE_URL, and any DATABRICKS_ name containing TOKEN, SECRET,
 * PASSWORD, AZURE, GOOGLE or OIDC), plus DATABRICKS_HOST, DATABRICKS_TOKEN
 * and DATABRICKS_AUTH_TYPE as given (and no_proxy's host in NO_PROXY and
 * no_proxy). The token's environment entry is built
 * in secure memory and wiped once the child has started. The child gets
 * what this process started with (dbr_process_start_state): the umask,
 * RLIMIT_CORE, the signal mask, and the signals ignored then stay ignored
 * while every other one is at its default.
 */
#ifndef DBROKER_CHILD_H
#define DBROKER_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_secret;

/* Append-only; fields a shorter struct lacks count as zero. */
struct dbr_child_options {
	uint32_t struct_size;            /* sizeof(struct dbr_child_options) */
	char *const *argv;               /* argv[0] is looked up in PATH */
	const char *host;                /* DATABRICKS_HOST */
	const struct dbr_secret *token;  /* DATABRICKS_TOKEN (borrowed) */
	const char *auth_type;           /* DATABRICKS_AUTH_TYPE, or NULL */
	int capture_output;              /* stdout and stderr go to pipes */
	/* with capture_output: this stream stays this process's own instead
	 * (out_fd or err_fd is then -1); for a stream nobody can read, such
	 * as /dev/null, which gains nothing from a pipe and a masker */
	int inherit_stdout;
	int inherit_stderr;
	/* with capture_output: stderr goes into the stdout pipe too (err_fd
	 * is then -1), for a caller whose stdout and stderr are one file
	 * (2>&1, a terminal): the order of the child's writes is kept */
	int merge_stderr;
	/* a host the child must reach directly (the local proxy): added to
	 * NO_PROXY and no_proxy, which are set if they were not, so an
	 * http_proxy meant for the outside does not get the child's requests */
	const char *no_proxy;
};

struct dbr_child {
	pid_t pid;        /* > 0 once started */
	int out_fd;       /* read ends of the pipes, or -1 (close them) */
	int err_fd;
	int spawn_errno;  /* why it could not start (ENOENT: not found; a script
			     whose '#!' interpreter is missing: ENOEXEC) */
};

/* Start the child. out is cleared on entry (fds -1). Returns 0,
 * DBR_E_INVAL (no command, an empty one, a value with a line break),
 * DBR_E_IO (it cannot be started: out->spawn_errno says why, err names
 * the command), DBR_E_NOMEM. */
DBR_API int dbr_child_spawn(const struct dbr_child_options *o, struct dbr_child *out,
			    struct dbr_err *err);

/* 1 if name (a "NAME" or "NAME=value" entry) is a Databricks credential
 * variable the child must not inherit. */
DBR_API int dbr_child_env_is_credential(const char *name);

#ifdef __cplusplus
}
#endif
#endif
