/* One client connection of the agent: requests in, answers out
 * (agent_server_internal.h). The client has already been checked to run as the
 * agent's uid. */
#include "agent_server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_proto.h"
#include "dbroker/request.h"
#include "dbroker/secret.h"
#include "dbroker/runtime.h"
#include "banned.h"

/* A connection that says nothing for this long is closed. */
#define IDLE_TIMEOUT_MS (15L * 60 * 1000)

/* The answer's headers, captured for a forwarded call. */
struct captured {
	struct dbr_http_header h[AGENT_HEADERS_MAX];
	size_t n;
	int nomem;
};

static void captured_clear(struct captured *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->h[i].name);
		free((char *)c->h[i].value);
	}
	memset(c, 0, sizeof(*c));
}

/* Each attempt's answer replaces the last one's headers; the body is
 * collected (0), never streamed: the answer goes back whole. */
static int capture_headers(void *arg, long status, const struct dbr_http_header *h, size_t n)
{
	struct captured *c = arg;

	(void)status;
	captured_clear(c);
	for (size_t i = 0; i < n && c->n < AGENT_HEADERS_MAX; i++) {
		char *name = strdup(h[i].name), *value = strdup(h[i].value);

		if (!name || !value) {
			free(name);
			free(value);
			c->nomem = 1;
			return -1;
		}
		c->h[c->n].name = name;
		c->h[c->n].value = value;
		c->n++;
	}
	return 0;
}

/* 1 when text holds one of the entry's secrets, in any encoding its
 * masker knows (wherever it is: also after "Bearer " or under a "token"
 * key, where the shape rules would hide it anyway). */
static int holds_secret(const struct agent_entry *e, const char *text, size_t len)
{
	return text && dbr_mask_has_secret(e->mask, text, len);
}

static int headers_hold_secret(const struct agent_entry *e, const struct captured *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		if (holds_secret(e, cap->h[i].value, strlen(cap->h[i].value)))
			return 1;
	return 0;
}

/* text masked with the entry's masker, into the reply. */
static void add_masked(struct agent_enc *out, unsigned tag, const struct agent_entry *e,
		       const char *text)
{
	char *m = NULL;

	if (!text || !*text)
		return;
	if (dbr_mask_buffer(e->mask, text, strlen(text), &m, NULL) == 0)
		agent_enc_text(out, tag, m);
	else
		agent_enc_text(out, tag, "(not shown: out of memory while masking)");
	free(m);
}

struct call_args {
	const char *profile, *method, *path;
	const char *body;
	size_t body_len;
	int64_t flags, timeout, window, unreachable, deadline, forward;
	struct dbr_http_header h[AGENT_HEADERS_MAX];
	size_t n_headers;
};

static int parse_call(const struct agent_msg *m, struct call_args *a, struct dbr_err *err)
{
	memset(a, 0, sizeof(*a));
	a->profile = agent_msg_text(m, AGENT_T_PROFILE);
	a->method = agent_msg_text(m, AGENT_T_METHOD);
	a->path = agent_msg_text(m, AGENT_T_PATH);
	a->body = m->f[AGENT_T_BODY].p;
	a->body_len = m->f[AGENT_T_BODY].n;
	if (!a->profile || !a->method || !a->path || agent_msg_int(m, AGENT_T_FLAGS, &a->flags) ||
	    agent_msg_int(m, AGENT_T_TIMEOUT, &a->timeout) ||
	    agent_msg_int(m, AGENT_T_WINDOW, &a->window) ||
	    agent_msg_int(m, AGENT_T_UNREACHABLE, &a->unreachable) ||
	    agent_msg_int(m, AGENT_T_DEADLINE, &a->deadline) ||
	    agent_msg_int(m, AGENT_T_FORWARD, &a->forward) || a->timeout < 0 ||
	    a->timeout > DBR_CLIENT_MAX_WINDOW_MS || a->window > DBR_CLIENT_MAX_WINDOW_MS ||
	    a->unreachable < 0 || a->unreachable > DBR_CLIENT_MAX_WINDOW_MS || a->deadline < 0 ||
	    (a->flags & ~(int64_t)(DBR_CALL_IDEMPOTENT | DBR_CALL_SECRET_RESPONSE |
				   DBR_CALL_NO_AUTH)))
		return dbr_err_set(err, DBR_E_INVAL, "a malformed call request");
	if (a->forward && agent_msg_headers(m, AGENT_T_HEADERS, a->h, AGENT_HEADERS_MAX,
					    &a->n_headers))
		return dbr_err_set(err, DBR_E_INVAL, "malformed request headers");
	return 0;
}

/* Perform the call with e's credential; the reply is built while e is
 * still locked (its masker checks the answer). */
static void perform(struct agent_store *s, struct agent_entry *e, const struct call_args *a,
		    struct agent_enc *out)
{
	const struct dbr_agent_options *o = s->opt;
	struct dbr_client_options copt = { 0 };
	struct dbr_http_response resp = DBR_HTTP_RESPONSE_INIT;
	struct dbr_api_error api;
	struct dbr_err err = DBR_ERR_INIT;
	struct captured cap = { 0 };
	struct dbr_client *c = NULL;
	int rc, unknown = 0;

	memset(&api, 0, sizeof(api));
	copt.struct_size = sizeof(copt);
	copt.ca_file = o->ca_file ? o->ca_file : dbr_config_get(e->cfg, "ca_cert");
	copt.allow_insecure_loopback = o->allow_insecure_loopback;
	copt.timeout_ms = (long)a->timeout;
	copt.retry_window_ms = (long)a->window;
	copt.unreachable_window_ms = (long)a->unreachable;
	copt.profile = e->profile;
	copt.log = e->log;
	pthread_rwlock_rdlock(&e->lock);
	if (strcmp(dbr_credential_auth_type(e->cred), "pat") != 0) {
		/* a token source (OAuth) mints and registers single-threaded */
		pthread_rwlock_unlock(&e->lock);
		pthread_rwlock_wrlock(&e->lock);
	}
	rc = dbr_client_new(e->cred, &copt, &c, &err);
	if (rc == 0 && a->deadline)
		dbr_client_set_deadline(c, dbr_mono_ms() + (long)a->deadline);
	if (rc == 0 && a->forward) {
		struct dbr_forward f = { sizeof(f), a->method, a->path, a->h, a->n_headers, a->body,
					 a->body_len, (unsigned)a->flags, capture_headers, NULL,
					 &cap, NULL };

		rc = dbr_client_forward(c, &f, &resp, &err);
		if (rc == 0 && cap.nomem)
			rc = dbr_err_set(&err, DBR_E_NOMEM, "out of memory");
	} else if (rc == 0) {
		rc = dbr_client_call(c, a->method, a->path, a->body, a->body_len, (unsigned)a->flags,
				     &resp, &api, &err);
	}
	unknown = dbr_client_outcome_unknown(c);
	dbr_client_free(c);
	if (rc == 0 && (holds_secret(e, resp.body, resp.body_len) ||
			headers_hold_secret(e, &cap))) {
		dbr_log_warn(s->log, "agent: the answer to '%s %s' for profile '%s' carried the "
			     "credential the agent holds: withheld", a->method, a->path, e->profile);
		rc = dbr_err_set(&err, DBR_E_API, "the workspace's answer to '%s %s' carried the "
				 "credential the agent holds, so the agent withheld it: check that "
				 "the host of profile '%s' is a Databricks workspace", a->method,
				 a->path, e->profile);
		dbr_http_response_release(&resp);
		captured_clear(&cap);
	}
	agent_enc_begin(out, AGENT_R_CALL);
	agent_enc_int(out, AGENT_T_RC, rc);
	if (rc)
		add_masked(out, AGENT_T_MESSAGE, e, err.msg);
	agent_enc_int(out, AGENT_T_UNKNOWN, unknown);
	if (rc == 0) {
		agent_enc_int(out, AGENT_T_STATUS, resp.status);
		agent_enc_bytes(out, AGENT_T_BODY, resp.body ? resp.body : "", resp.body_len);
		agent_enc_text(out, AGENT_T_CTYPE, resp.content_type);
		agent_enc_int(out, AGENT_T_RETRY_AFTER, resp.retry_after_s);
		agent_enc_text(out, AGENT_T_REQUEST_ID, resp.request_id);
		agent_enc_headers(out, AGENT_T_RESP_HEADERS, cap.h, cap.n);
	}
	if (api.status) {
		agent_enc_int(out, AGENT_T_API_STATUS, api.status);
		agent_enc_text(out, AGENT_T_API_CODE, api.code);
		add_masked(out, AGENT_T_API_MESSAGE, e, api.message);
		agent_enc_text(out, AGENT_T_API_REQID, api.request_id);
	}
	pthread_rwlock_unlock(&e->lock);
	dbr_http_response_release(&resp);
	captured_clear(&cap);
}

static void reply_error(struct agent_enc *out, int rc, const char *msg)
{
	agent_enc_begin(out, AGENT_R_ERROR);
	agent_enc_int(out, AGENT_T_RC, rc ? rc : DBR_E_INTERNAL);
	agent_enc_text(out, AGENT_T_MESSAGE, msg);
}

/* A profile name as a configuration file can spell it. */
static int profile_ok(const char *p)
{
	size_t n = p ? strlen(p) : 0;

	if (n == 0 || n > AGENT_PROFILE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '[' || p[i] == ']')
			return 0;
	return 1;
}

/* Why a profile could not be resolved: the chain's message may quote what
 * it read, so it is masked by shape at least. */
static void reply_resolve_error(struct agent_server *srv, struct agent_enc *out, int rc,
				const char *msg)
{
	char *masked = NULL;

	if (dbr_mask_buffer(srv->store.shapes, msg, strlen(msg), &masked, NULL))
		masked = NULL;
	reply_error(out, rc, masked ? masked : "the profile could not be resolved");
	free(masked);
}

/* The profile's entry for this client, asking first with --confirm. */
static int entry_for(struct agent_server *srv, pid_t pid, const char *profile,
		     struct agent_entry **e, struct dbr_err *err)
{
	*e = NULL;
	if (!profile_ok(profile))
		return dbr_err_set(err, DBR_E_INVAL, "a missing or malformed profile name");
	if (srv->opt->confirm_fd >= 0 && !agent_confirm(srv, pid, profile))
		return dbr_err_set(err, DBR_E_AUTH, "the agent's user did not allow this process "
				   "(pid %ld) to use profile '%s' (--confirm)", (long)pid, profile);
	return agent_store_get(&srv->store, profile, e, err);
}

static void handle_open(struct agent_server *srv, pid_t pid, const struct agent_msg *m,
			struct agent_enc *out)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_entry *e;
	int rc = entry_for(srv, pid, agent_msg_text(m, AGENT_T_PROFILE), &e, &err);

	if (rc) {
		reply_resolve_error(srv, out, rc, err.msg);
		return;
	}
	/* a re-read may replace the credential: read it under the lock */
	pthread_rwlock_rdlock(&e->lock);
	agent_enc_begin(out, AGENT_R_OK);
	agent_enc_text(out, AGENT_T_HOST, dbr_credential_host(e->cred));
	agent_enc_text(out, AGENT_T_AUTH_TYPE, dbr_credential_auth_type(e->cred));
	agent_enc_text(out, AGENT_T_SOURCE, dbr_credential_source(e->cred));
	pthread_rwlock_unlock(&e->lock);
	agent_entry_put(&srv->store, e, 0);
}

static void handle_call(struct agent_server *srv, pid_t pid, const struct agent_msg *m,
			struct agent_enc *out)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct agent_entry *e = NULL;
	struct call_args a;
	int rc = parse_call(m, &a, &err);

	if (rc) {
		reply_error(out, rc, err.msg);
	} else if ((rc = entry_for(srv, pid, a.profile, &e, &err))) {
		reply_resolve_error(srv, out, rc, err.msg);
	} else {
		perform(&srv->store, e, &a, out);
		agent_entry_put(&srv->store, e, 1);
	}
	agent_headers_free(a.h, a.n_headers);
}

static int handle(struct agent_server *srv, pid_t pid, const struct agent_msg *m,
		  struct agent_enc *out)
{
	char *report;

	switch (m->type) {
	case AGENT_OPEN:
		handle_open(srv, pid, m, out);
		return 0;
	case AGENT_CALL:
		handle_call(srv, pid, m, out);
		return 0;
	case AGENT_STATUS:
		pthread_mutex_lock(&srv->mu);
		report = agent_store_report(&srv->store, srv->started_wall, srv->served,
					    srv->refused);
		pthread_mutex_unlock(&srv->mu);
		if (!report) {
			reply_error(out, DBR_E_NOMEM, "out of memory");
			return 0;
		}
		agent_enc_begin(out, AGENT_R_OK);
		agent_enc_text(out, AGENT_T_TEXT, report);
		free(report);
		return 0;
	case AGENT_LOCK:
	case AGENT_FORGET: {
		/* the text: how many credentials were held ("0": nothing to forget) */
		size_t n = agent_store_forget(&srv->store, m->type == AGENT_LOCK ? NULL
							   : agent_msg_text(m, AGENT_T_PROFILE));
		char count[24];

		snprintf(count, sizeof(count), "%zu", n);
		agent_enc_begin(out, AGENT_R_OK);
		agent_enc_text(out, AGENT_T_TEXT, count);
		return 0;
	}
	case AGENT_STOP:
		agent_store_forget(&srv->store, NULL);
		pthread_mutex_lock(&srv->mu);
		srv->stop = 1;
		/* gone before the answer: a start right after the stop binds
		 * its own socket, which this agent then leaves alone */
		agent_server_remove_socket(srv);
		pthread_mutex_unlock(&srv->mu);
		agent_enc_begin(out, AGENT_R_OK);
		return 1;
	default:
		reply_error(out, DBR_E_INVAL, "unknown request type: not dbroker's agent protocol 1");
		return 0;
	}
}

void agent_conn_serve(struct agent_server *srv, int fd, pid_t pid)
{
	struct dbr_buf in = DBR_BUF_INIT_WIPE(AGENT_MSG_MAX);
	struct agent_msg m;

	for (;;) {
		struct dbr_err err = DBR_ERR_INIT;
		struct agent_enc out;
		int rc = agent_recv(fd, &in, &m, IDLE_TIMEOUT_MS, 0, &err), stop = 0;

		if (rc == DBR_E_INVAL || rc == DBR_E_TOO_LARGE) {
			dbr_log_warn(srv->store.log, "agent: client pid %ld: %s; closing the "
				     "connection", (long)pid, err.msg);
			reply_error(&out, rc, err.msg);
			agent_send(fd, &out, &err);
			agent_enc_release(&out);
		}
		if (rc)
			break;
		stop = handle(srv, pid, &m, &out);
		dbr_buf_reset(&in); /* a request body may hold secrets */
		rc = agent_send(fd, &out, &err);
		agent_enc_release(&out);
		if (stop)
			agent_server_wake(srv);
		if (rc || stop)
			break;
	}
	dbr_buf_release(&in);
	close(fd);
}
