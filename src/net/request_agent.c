/* A workspace client whose calls the agent signs and sends (request.h,
 * dbr_client_new_agent). This process never holds the credential and never
 * loads libcurl: a call is a request description over the agent's socket
 * and the answer comes back whole. */
#include "request_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_proto.h"
#include "dbroker/agent.h"
#include "dbroker/log.h"
#include "dbroker/runtime.h"
#include "banned.h"

/* Opening a profile may resolve it (a Vault read, a keyring unlock). */
#define OPEN_TIMEOUT_MS 120000L
/* On top of what the agent's retries may take: its own answer time. */
#define ANSWER_SLACK_MS 30000L

static int set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? DBR_E_NOMEM : 0;
}

int dbr_client_new_agent(const char *socket_path, const struct dbr_client_options *opt_in,
			 struct dbr_client **out, struct dbr_err *err)
{
	struct dbr_client_options opt;
	struct dbr_client *c;
	struct agent_enc e;
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct agent_msg m;
	const char *host;
	int rc;

	dbr_err_clear(err);
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no client to fill in");
	*out = NULL;
	if ((rc = dbr_client_options_copy(opt_in, &opt, err)))
		return rc;
	/* TLS is the agent's: this client never connects to the workspace */
	opt.allow_insecure_loopback = 0;
	if ((rc = dbr_client_alloc(&opt, &c, err)))
		return rc;
	c->via_agent = 1;
	if (set_str(&c->profile, opt.profile ? opt.profile : "DEFAULT") ||
	    set_str(&c->agent_path, socket_path)) {
		dbr_client_free(c);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	rc = dbr_agent_connect(socket_path, &c->agent_fd, err);
	if (rc == 0) {
		agent_enc_begin(&e, AGENT_OPEN);
		agent_enc_text(&e, AGENT_T_PROFILE, c->profile);
		rc = agent_ask(c->agent_fd, &e, &in, &m, OPEN_TIMEOUT_MS, err);
		agent_enc_release(&e);
	}
	if (rc == 0 && m.type == AGENT_R_ERROR)
		rc = agent_error_of(&m, err);
	else if (rc == 0 && (m.type != AGENT_R_OK || !(host = agent_msg_text(&m, AGENT_T_HOST))))
		rc = dbr_err_set(err, DBR_E_AGENT, "the agent on '%s' did not name the workspace "
				 "of profile '%s': not dbroker's agent protocol %d", socket_path,
				 c->profile, AGENT_PROTO_VERSION);
	else if (rc == 0 && (set_str(&c->host, host) ||
			     set_str(&c->agent_source, agent_msg_text(&m, AGENT_T_SOURCE))))
		rc = dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	dbr_buf_release(&in);
	if (rc) {
		dbr_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

const char *dbr_client_agent_source(const struct dbr_client *c)
{
	return c && c->via_agent ? (c->agent_source ? c->agent_source : "agent") : NULL;
}

static int encode_call(const struct dbr_client *c, const char *method, const char *path,
		       const char *body, size_t body_len, unsigned flags,
		       const struct dbr_forward *fw, struct agent_enc *e)
{
	long left = 0;

	if (c->deadline_ms && (left = c->deadline_ms - dbr_mono_ms()) <= 0)
		left = 1;
	agent_enc_begin(e, AGENT_CALL);
	agent_enc_text(e, AGENT_T_PROFILE, c->profile);
	agent_enc_text(e, AGENT_T_METHOD, method);
	agent_enc_text(e, AGENT_T_PATH, path);
	if (body)
		agent_enc_bytes(e, AGENT_T_BODY, body, body_len);
	agent_enc_int(e, AGENT_T_FLAGS, flags);
	agent_enc_int(e, AGENT_T_TIMEOUT, c->timeout_ms);
	agent_enc_int(e, AGENT_T_WINDOW, c->retry_window_ms);
	agent_enc_int(e, AGENT_T_UNREACHABLE, c->unreachable_window_ms);
	if (left)
		agent_enc_int(e, AGENT_T_DEADLINE, left);
	if (fw) {
		agent_enc_int(e, AGENT_T_FORWARD, 1);
		agent_enc_headers(e, AGENT_T_HEADERS, fw->headers, fw->n_headers);
	}
	return e->rc;
}

/* How long the agent may take at most: every attempt of the retry window
 * (or up to the deadline), and some slack. */
static long answer_timeout(const struct dbr_client *c)
{
	long t = c->retry_window_ms > 0 ? c->retry_window_ms : 0;

	if (c->deadline_ms) {
		long left = c->deadline_ms - dbr_mono_ms();

		if (left < t || t == 0)
			t = left > 0 ? left : 0;
	}
	return t + c->timeout_ms + ANSWER_SLACK_MS;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
	if (src)
		snprintf(dst, cap, "%s", src);
}

/* The answer's fields into resp and api_err. */
static int take_answer(const struct agent_msg *m, struct dbr_http_response *resp,
		       struct dbr_api_error *api_err, struct dbr_err *err)
{
	int64_t status = 0, retry_after = -1, api_status = 0;
	const struct agent_field *body = &m->f[AGENT_T_BODY];
	const char *ctype = agent_msg_text(m, AGENT_T_CTYPE);
	const char *reqid = agent_msg_text(m, AGENT_T_REQUEST_ID);

	if (agent_msg_int(m, AGENT_T_STATUS, &status) ||
	    agent_msg_int(m, AGENT_T_RETRY_AFTER, &retry_after) ||
	    agent_msg_int(m, AGENT_T_API_STATUS, &api_status) || status < 0 || status > 999)
		return dbr_err_set(err, DBR_E_AGENT, "a malformed answer from the agent");
	if (api_err && api_status) {
		api_err->status = (long)api_status;
		copy_text(api_err->code, sizeof(api_err->code), agent_msg_text(m, AGENT_T_API_CODE));
		copy_text(api_err->message, sizeof(api_err->message),
			  agent_msg_text(m, AGENT_T_API_MESSAGE));
		copy_text(api_err->request_id, sizeof(api_err->request_id),
			  agent_msg_text(m, AGENT_T_API_REQID));
	}
	resp->status = (long)status;
	resp->retry_after_s = (long)retry_after;
	resp->body = malloc((body->p ? body->n : 0) + 1);
	if (!resp->body || (ctype && !(resp->content_type = strdup(ctype))) ||
	    (reqid && !(resp->request_id = strdup(reqid)))) {
		dbr_http_response_release(resp);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory");
	}
	if (body->p)
		memcpy(resp->body, body->p, body->n);
	resp->body_len = body->p ? body->n : 0;
	resp->body[resp->body_len] = '\0';
	return 0;
}

int dbr_client_agent_lost(const struct dbr_client *c)
{
	return c && c->via_agent && c->agent_fd < 0;
}

/* A forwarded answer goes through the caller's streaming hooks as the
 * HTTP client would have called them. */
static int stream_answer(const struct agent_msg *m, const struct dbr_forward *fw,
			 struct dbr_http_response *resp, struct dbr_err *err)
{
	struct dbr_http_header h[AGENT_HEADERS_MAX];
	size_t n = 0;
	int rc, how;

	if (!fw->on_headers)
		return 0;
	rc = agent_msg_headers(m, AGENT_T_RESP_HEADERS, h, AGENT_HEADERS_MAX, &n);
	if (rc)
		return dbr_err_set(err, rc == DBR_E_NOMEM ? rc : DBR_E_AGENT,
				   "the agent's answer has malformed headers");
	how = fw->on_headers(fw->stream_arg, resp->status, h, n);
	agent_headers_free(h, n);
	if (how < 0 || (how >= 1 && fw->on_data && resp->body_len &&
			fw->on_data(fw->stream_arg, resp->body, resp->body_len)))
		return dbr_err_set(err, DBR_E_INTERRUPTED, "the answer was not taken");
	if (how >= 1) {
		/* streamed: the response keeps the status only */
		explicit_bzero(resp->body, resp->body_len);
		resp->body[0] = '\0';
		resp->body_len = 0;
	}
	return 0;
}

int dbr_agent_client_call(struct dbr_client *c, const char *method, const char *path,
			  const char *body, size_t body_len, unsigned flags,
			  const struct dbr_forward *fw, struct dbr_http_response *resp,
			  struct dbr_api_error *api_err, struct dbr_err *err)
{
	struct agent_enc e;
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct agent_msg m;
	int64_t rc64 = 0, unknown = 0;
	char why[DBR_ERR_MSG_MAX]; /* err's message, while a new one is made of it */
	int rc;

	c->outcome_unknown = 0;
	if (c->agent_fd < 0)
		return dbr_err_set(err, DBR_E_AGENT, "the connection to the agent on '%s' was "
				   "lost earlier: run the command again", c->agent_path);
	if (!method || !path)
		return dbr_err_set(err, DBR_E_INVAL, "no method or path");
	if (!body && body_len)
		return dbr_err_set(err, DBR_E_INVAL, "a body length without a body");
	if (dbr_interrupted())
		return dbr_err_set(err, DBR_E_INTERRUPTED, "interrupted before '%s %s' was sent",
				   method, path);
	if (body_len > DBR_AGENT_MAX_BODY)
		return dbr_err_set(err, DBR_E_TOO_LARGE, "the request body (%zu bytes) is over the "
				   "%u bytes a call through the agent carries: send a smaller one, "
				   "or resolve in this process (--no-agent)", body_len,
				   DBR_AGENT_MAX_BODY);
	rc = encode_call(c, method, path, body, body_len, flags, fw, &e);
	if (rc == DBR_E_TOO_LARGE || rc == DBR_E_INVAL || rc == DBR_E_NOMEM)
		rc = dbr_err_set(err, rc, "the call '%s %s' could not be put in a message for the "
				 "agent (%s)", method, path, dbr_strerror(rc));
	if (rc == 0)
		rc = agent_send(c->agent_fd, &e, err);
	agent_enc_release(&e);
	if (rc == DBR_E_IO) {
		/* the agent went away (or restarted): nothing of the call reached
		 * it, and the connection is not used again */
		close(c->agent_fd);
		c->agent_fd = -1;
		snprintf(why, sizeof(why), "%s", err->msg);
		return dbr_err_set(err, DBR_E_AGENT, "cannot send '%s %s' to the agent on '%s': %s",
				   method, path, c->agent_path, why);
	}
	if (rc)
		return rc;
	/* from here on the agent may act on it */
	dbr_log_debug(c->log, "request: %s %s through the agent", method, path);
	rc = agent_recv(c->agent_fd, &in, &m, answer_timeout(c), 1, err);
	if (rc == DBR_E_IO || rc == DBR_E_INVAL || rc == DBR_E_TOO_LARGE) {
		snprintf(why, sizeof(why), "%s", err->msg);
		rc = dbr_err_set(err, DBR_E_AGENT, "the agent on '%s' did not answer '%s %s': %s%s",
				 c->agent_path, method, path, why, rc != DBR_E_IO ? "" :
				 ": the agent ended or was killed during the call ('dbroker agent "
				 "status' tells whether one runs; without one, commands resolve by "
				 "themselves)");
	}
	if (rc == 0 && m.type == AGENT_R_ERROR) {
		/* the agent refused the call (it could not read it, or has no
		 * credential for the profile) before sending anything: nothing
		 * reached the workspace, and the connection stays in step */
		rc = agent_error_of(&m, err);
		dbr_buf_release(&in);
		return rc;
	}
	if (rc == 0 && (m.type != AGENT_R_CALL || agent_msg_int(&m, AGENT_T_RC, &rc64) ||
			agent_msg_int(&m, AGENT_T_UNKNOWN, &unknown) || rc64 > 0 || rc64 < -1000))
		rc = dbr_err_set(err, DBR_E_AGENT, "a malformed answer from the agent on '%s'",
				 c->agent_path);
	if (rc == 0)
		rc = take_answer(&m, resp, api_err, err);
	if (rc == 0 && rc64 == 0 && fw)
		rc = stream_answer(&m, fw, resp, err);
	if (rc == 0 && rc64) {
		const char *msg = agent_msg_text(&m, AGENT_T_MESSAGE);

		dbr_http_response_release(resp);
		rc = dbr_err_set(err, (int)rc64, "%s", msg ? msg : dbr_strerror((int)rc64));
		c->outcome_unknown = unknown != 0;
	} else if (rc && rc != DBR_E_NOMEM) {
		/* the request went out and no answer came back: the agent may
		 * have sent it; the connection is out of step and not reused */
		c->outcome_unknown = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
		close(c->agent_fd);
		c->agent_fd = -1;
	}
	dbr_buf_release(&in);
	return rc;
}
