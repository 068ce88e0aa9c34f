/* dbroker-layer: net */
/* Talking to `dbroker agent`: one process per user that holds credentials
 * and signs requests for its clients (ssh-agent's model). A client never
 * receives token bytes: it sends a request description over the agent's
 * Unix socket and gets the answer (see dbr_client_new_agent() in
 * request.h). The server side is agent_server.h.
 *
 * Trust: the client talks only to an agent running as its own uid
 * (SO_PEERCRED on the connected socket), so a socket planted by another
 * user is refused before anything is sent; the agent checks the same of
 * its clients.
 */
#ifndef DBROKER_AGENT_H
#define DBROKER_AGENT_H

#include <stddef.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The variable that names the agent's socket (printed by `agent start`). */
#define DBR_AGENT_SOCK_ENV "DBROKER_AGENT_SOCK"
/* The socket's name under $XDG_RUNTIME_DIR. */
#define DBR_AGENT_SOCK_DEFAULT "dbroker/agent.sock"
/* The largest request body a call through the agent carries (one message
 * holds it): 16 MiB, as much as the largest answer. */
#define DBR_AGENT_MAX_BODY (16u * 1024 * 1024)

/* Where the agent listens: $DBROKER_AGENT_SOCK, else
 * $XDG_RUNTIME_DIR/dbroker/agent.sock. The path goes to buf[cap]; *origin
 * (may be NULL) names where it came from. Returns 0, DBR_E_NOT_HERE (neither
 * variable is set: no agent can be found), DBR_E_TOO_LARGE (longer than a
 * Unix socket path can be). */
DBR_API int dbr_agent_socket_path(char *buf, size_t cap, const char **origin);

/* Connect to the agent at path and check that it runs as this process's
 * uid. *fd is set on success (close() it). Returns 0, DBR_E_UNREACHABLE
 * (no agent listens there: no such socket, or refused), DBR_E_UNSAFE_PERM
 * (the socket belongs to another user's process: refused), DBR_E_IO. */
DBR_API int dbr_agent_connect(const char *path, int *fd, struct dbr_err *err);

/* Control requests (`dbroker agent status|lock|forget|stop`). */
enum dbr_agent_op {
	DBR_AGENT_STATUS,  /* *report: a JSON object (see README, "dbroker agent") */
	DBR_AGENT_LOCK,    /* forget every credential now */
	DBR_AGENT_FORGET,  /* forget profile's credential (NULL: every one) */
	DBR_AGENT_STOP,    /* forget everything and exit */
};

/* Ask the agent at path. report (may be NULL) receives the status report,
 * malloc'ed (free()); NULL for the other operations. Returns 0, the codes of
 * dbr_agent_connect(), DBR_E_TIMEOUT (no answer within 10 s), DBR_E_INVAL
 * (not an answer of dbroker's agent protocol), DBR_E_NOMEM, or the agent's
 * own error code with its message. */
DBR_API int dbr_agent_request(const char *path, enum dbr_agent_op op, const char *profile,
			      char **report, struct dbr_err *err);

#ifdef __cplusplus
}
#endif
#endif
