/* Finding and asking the agent (agent.h). */
#include "dbroker/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_proto.h"
#include "banned.h"

/* A control request is answered at once: the agent does no network I/O
 * for one. A connection waits as long for a place in a full queue. */
#define CONTROL_TIMEOUT_MS 10000L

int dbr_agent_socket_path(char *buf, size_t cap, const char **origin)
{
	const char *env = getenv(DBR_AGENT_SOCK_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
	struct sockaddr_un sun;
	int n;

	if (origin)
		*origin = NULL;
	if (cap)
		buf[0] = '\0';
	if (env && *env) {
		n = snprintf(buf, cap, "%s", env);
		if (origin)
			*origin = DBR_AGENT_SOCK_ENV;
	} else if (xdg && *xdg == '/') {
		n = snprintf(buf, cap, "%s/%s", xdg, DBR_AGENT_SOCK_DEFAULT);
		if (origin)
			*origin = "XDG_RUNTIME_DIR";
	} else {
		return DBR_E_NOT_HERE;
	}
	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(sun.sun_path))
		return DBR_E_TOO_LARGE;
	return 0;
}

int dbr_agent_connect(const char *path, int *fd, struct dbr_err *err)
{
	struct sockaddr_un sun;
	struct ucred peer;
	socklen_t plen = sizeof(peer);
	struct timeval queue_wait = { CONTROL_TIMEOUT_MS / 1000, 0 }, no_wait_limit = { 0, 0 };
	int s, e;

	*fd = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (!path || !*path || strlen(path) >= sizeof(sun.sun_path))
		return dbr_err_set(err, DBR_E_INVAL, "the agent socket path '%s' is empty or too "
				   "long", path ? path : "");
	memcpy(sun.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return dbr_err_set(err, DBR_E_IO, "cannot create a Unix socket: %s",
				   strerror(errno));
	/* a full queue (the agent stopped, hung or overloaded) is waited for
	 * a while, not for ever; sends are not bounded by it */
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &queue_wait, sizeof(queue_wait));
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(s);
		if (e == EAGAIN)
			return dbr_err_set(err, DBR_E_TIMEOUT, "the agent's queue of connections "
					   "stayed full for %ld s (the agent is stopped, hung or "
					   "overloaded): resume it (kill -CONT) or kill it and start "
					   "another; or run the command with --no-agent",
					   (long)queue_wait.tv_sec);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR || e == ENOTSOCK)
			return dbr_err_set(err, DBR_E_UNREACHABLE, "no agent is listening on '%s' "
					   "(%s): start one with 'eval \"$(dbroker agent start)\"'",
					   path, strerror(e));
		if (e == EACCES)
			return dbr_err_set(err, DBR_E_UNSAFE_PERM, "cannot connect to the agent on "
					   "'%s': %s: that socket, or a directory above it, is not "
					   "yours to use (XDG_RUNTIME_DIR or %s may be another user's, "
					   "e.g. after 'su' without '-'): point %s at your own agent, or "
					   "run the command with --no-agent", path, strerror(e),
					   DBR_AGENT_SOCK_ENV, DBR_AGENT_SOCK_ENV);
		return dbr_err_set(err, DBR_E_IO, "cannot connect to the agent on '%s': %s", path,
				   strerror(e));
	}
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &no_wait_limit, sizeof(no_wait_limit));
	/* the socket's file mode proves nothing (it can be another user's, or
	 * loosened): the process on the other end must be ours */
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0 || plen != sizeof(peer)) {
		e = errno;
		close(s);
		return dbr_err_set(err, DBR_E_IO, "cannot tell who listens on '%s': %s", path,
				   strerror(e));
	}
	if (peer.uid != getuid()) {
		close(s);
		return dbr_err_set(err, DBR_E_UNSAFE_PERM, "refusing the agent on '%s': it runs "
				   "as uid %lu, not as you (uid %lu); unset %s or point it at your "
				   "own agent", path, (unsigned long)peer.uid,
				   (unsigned long)getuid(), DBR_AGENT_SOCK_ENV);
	}
	*fd = s;
	return 0;
}

static const enum agent_type op_type[] = {
	[DBR_AGENT_STATUS] = AGENT_STATUS,
	[DBR_AGENT_LOCK] = AGENT_LOCK,
	[DBR_AGENT_FORGET] = AGENT_FORGET,
	[DBR_AGENT_STOP] = AGENT_STOP,
};

int dbr_agent_request(const char *path, enum dbr_agent_op op, const char *profile,
		      char **report, struct dbr_err *err)
{
	struct agent_enc e;
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct agent_msg m;
	int fd, rc;

	if (report)
		*report = NULL;
	if ((unsigned)op > DBR_AGENT_STOP)
		return dbr_err_set(err, DBR_E_INVAL, "unknown agent operation %d", (int)op);
	rc = dbr_agent_connect(path, &fd, err);
	if (rc)
		return rc;
	agent_enc_begin(&e, op_type[op]);
	if (op == DBR_AGENT_FORGET)
		agent_enc_text(&e, AGENT_T_PROFILE, profile);
	rc = agent_ask(fd, &e, &in, &m, CONTROL_TIMEOUT_MS, err);
	agent_enc_release(&e);
	if (rc == 0 && m.type == AGENT_R_ERROR) {
		rc = agent_error_of(&m, err);
	} else if (rc == 0 && m.type != AGENT_R_OK) {
		rc = dbr_err_set(err, DBR_E_INVAL, "the agent on '%s' answered with message type "
				 "%u: not dbroker's agent protocol %d", path, m.type,
				 AGENT_PROTO_VERSION);
	} else if (rc == 0 && report) {
		const char *text = agent_msg_text(&m, AGENT_T_TEXT);

		if (text && !(*report = strdup(text)))
			rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	dbr_buf_release(&in);
	close(fd);
	return rc;
}
