/* dbroker-layer: serve */
/* The agent's server: one process per user that holds credentials and signs
 * its clients' requests (`dbroker agent start`; the client side is agent.h
 * and dbr_client_new_agent() in request.h).
 *
 * - A profile's credential is resolved through the chain on its first use
 *   (one resolution for every client asking at once), held in this
 *   process's secure heap, resolved again after reread_ms (a new Vault
 *   read; the old credential serves until the new one is in, and stays if
 *   the new resolution fails), and forgotten ttl_ms after it was first
 *   resolved, on DBR_AGENT_LOCK/FORGET, on SIGUSR1, and at exit.
 * - Only processes of the agent's own uid are served (SO_PEERCRED on every
 *   connection, whatever the socket file's mode); others are refused and
 *   logged with their uid and pid.
 * - A request goes only to the workspace of the profile it names, through
 *   the signer (dbr_client_call / dbr_client_forward) with the agent's TLS
 *   settings. An answer that would carry one of the held secrets (a server
 *   echoing the token) is withheld: the client gets an error instead.
 * - With remove_socket, a socket file removed or replaced by another
 *   (checked every 5 s) makes the agent forget everything and return.
 * - SIGTERM, SIGHUP, SIGINT, SIGQUIT: forget everything and return;
 *   SIGUSR1: forget everything and go on; SIGPIPE ignored.
 */
#ifndef DBROKER_AGENT_SERVER_H
#define DBROKER_AGENT_SERVER_H

#include <stdint.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"
#include "dbroker/log.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DBR_AGENT_DEFAULT_TTL_MS (8L * 3600 * 1000)
#define DBR_AGENT_DEFAULT_REREAD_MS (3600L * 1000)
/* The longest TTL or re-read interval: longer ones count as this (a
 * deadline of now + more could overflow). */
#define DBR_AGENT_MAX_TTL_MS (30L * 24 * 3600 * 1000)
#define DBR_AGENT_DEFAULT_MAX_CLIENTS 256

/* Append-only, like the client options. */
struct dbr_agent_options {
	uint32_t struct_size;        /* sizeof(struct dbr_agent_options) */
	int listen_fd;               /* a bound, listening Unix socket (the
					caller's; closed by dbr_agent_run) */
	const char *socket_path;     /* its path, for messages and status */
	long ttl_ms;                 /* 0: DBR_AGENT_DEFAULT_TTL_MS; at most
					DBR_AGENT_MAX_TTL_MS */
	long reread_ms;              /* 0: DBR_AGENT_DEFAULT_REREAD_MS (never
					past the TTL); at most
					DBR_AGENT_MAX_TTL_MS */
	int max_clients;             /* connections at once; 0: default */
	/* how a profile is resolved, as the CLI would (strings borrowed) */
	const char *config_file;     /* NULL: DATABRICKS_CONFIG_FILE or
					~/.databrickscfg */
	const char *chain_spec;      /* NULL: DBROKER_CHAIN or the default */
	const char *auth_type;
	const char *plugin_dir;
	const char *ca_file;         /* NULL: the profile's ca_cert, else the
					system store */
	int allow_insecure_loopback;
	/* logging: lines at level and above go to log_fd (-1: nowhere),
	 * masked with every credential the agent holds */
	int log_fd;
	const char *log_file;        /* also here (dbr_log_open_file), or NULL */
	enum dbr_log_level level;
	/* --confirm: each client process's first use of a profile is asked
	 * on confirm_fd (a terminal, read and written); -1: not asked */
	int confirm_fd;
	/* 1: socket_path is the file the caller bound for listen_fd; the
	 * agent removes it when it stops (before answering DBR_AGENT_STOP,
	 * and before closing listen_fd at exit), and only while it is still
	 * that file: a socket another agent bound there since is left alone */
	int remove_socket;
};

/* Serve until stopped (DBR_AGENT_STOP or a terminating signal). Installs
 * the signal handlers above for its lifetime. Returns 0 when stopped,
 * DBR_E_INVAL (bad options), DBR_E_NOMEM, DBR_E_IO (the socket failed). */
DBR_API int dbr_agent_run(const struct dbr_agent_options *opt, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
