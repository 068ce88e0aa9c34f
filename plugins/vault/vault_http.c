/* One Vault API call: headers, the one TLS policy, retries, error text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault_internal.h"

#define VAULT_RETRY_AFTER_CAP_S 30
#define VAULT_URL_MAX 4096
/* the cap on every Vault answer: KV reads, logins, errors */
#define VAULT_MAX_RESPONSE (1u << 20)

/* Wait before a retry. Returns 0, or DBR_E_INTERRUPTED when the command
 * was interrupted meanwhile (Ctrl-C must not wait out a Retry-After). */
static int wait_ms(const struct dbr_host_services *svc, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (DBR_HOST_HAS(svc, sleep_ms))
		return svc->sleep_ms(ms);
	/* an older host: a signal ends the wait, and if it was an interrupt
	 * the next request stops at once */
	nanosleep(&ts, NULL);
	return 0;
}

static int interrupted(struct vault *v, const char *method, const char *path)
{
	v->svc->set_reason(v->h, "interrupted while waiting to retry %s /v1/%s at Vault '%s' "
			   "(from %s)", method, path, v->addr, v->addr_origin);
	return DBR_E_INTERRUPTED;
}

static int retryable(long status)
{
	return status == 412 || status == 429 || (status >= 500 && status != 501);
}

/* Linear backoff with jitter (what the vault CLI's retryablehttp does),
 * or the server's Retry-After when it gives one. */
static long backoff_ms(int attempt, long retry_after_s)
{
	struct timespec now;

	if (retry_after_s >= 0)
		return (retry_after_s > VAULT_RETRY_AFTER_CAP_S ? VAULT_RETRY_AFTER_CAP_S
							       : retry_after_s) * 1000L;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return 250L * attempt + (long)(now.tv_nsec % 100000000L) / 1000000L;
}

/* The TLS layer's advice names the workspace's settings (ca_cert,
 * client_cert): say which Vault settings they are, and which one names the
 * server (the workspace has none: its host is its name). */
static const char *vault_tls_hint(const char *msg)
{
	if (strstr(msg, "is not valid for the name"))
		return "for Vault, set VAULT_TLS_SERVER_NAME";
	if (strstr(msg, "client_cert") || strstr(msg, "client certificate"))
		return "for Vault, set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY";
	return "for Vault, set VAULT_CACERT (or VAULT_CAPATH) to the CA that signed its "
	       "certificate";
}

static void transport_error(struct vault *v, int rc, const struct dbr_err *err,
			    const char *method, const char *path)
{
	const struct dbr_host_services *svc = v->svc;
	const char *msg = err->msg[0] ? err->msg : dbr_strerror(rc);

	if (rc == DBR_E_TLS)
		svc->set_reason(v->h, "TLS failure talking to Vault at '%s' (from %s): %s; %s",
				v->addr, v->addr_origin, msg, vault_tls_hint(msg));
	else if (rc == DBR_E_TOO_LARGE)
		svc->set_reason(v->h, "Vault at '%s' (from %s) answered %s /v1/%s with more than "
				"%u bytes, more than a secret holding a token needs: check that "
				"the address is Vault's and that vault_path names the secret "
				"with the token", v->addr, v->addr_origin, method, path,
				VAULT_MAX_RESPONSE);
	else if (rc == DBR_E_TIMEOUT)
		svc->set_reason(v->h, "cannot reach Vault at '%s' (from %s): %s; "
				"VAULT_CLIENT_TIMEOUT sets the timeout in seconds", v->addr,
				v->addr_origin, msg);
	else
		svc->set_reason(v->h, "cannot reach Vault at '%s' (from %s): %s%s", v->addr,
				v->addr_origin, msg, strstr(msg, "client_cert") ?
				"; for Vault, set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY" : "");
}

int vault_call(struct vault *v, const char *method, const char *path,
	       int use_token, const struct dbr_secret *secret_body,
	       struct vault_reply *reply)
{
	const struct dbr_host_services *svc = v->svc;
	struct dbr_http_header hdrs[2];
	struct dbr_http_request req;
	char url[VAULT_URL_MAX];
	size_t nh = 0;
	int n, rc = 0;

	reply->status = 0;
	n = snprintf(url, sizeof(url), "%s/v1/%s", v->addr, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		svc->set_reason(v->h, "the Vault URL for '%s' is too long", path);
		return DBR_E_INVAL;
	}
	hdrs[nh].name = "X-Vault-Request";
	hdrs[nh++].value = "true";
	if (v->ns) {
		hdrs[nh].name = "X-Vault-Namespace";
		hdrs[nh++].value = v->ns;
	}
	memset(&req, 0, sizeof(req));
	req.struct_size = sizeof(req);
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.n_headers = nh;
	if (use_token) {
		req.auth = DBR_HTTP_AUTH_HEADER;
		req.auth_header = "X-Vault-Token";
		req.auth_secret = v->token;
	}
	req.secret_body = secret_body;
	req.content_type = secret_body ? "application/json" : NULL;
	req.ca_file = v->ca_file;
	req.ca_path = v->ca_file ? NULL : v->ca_path; /* VAULT_CACERT wins */
	req.client_cert = v->client_cert;
	req.client_key = v->client_key;
	req.tls_server_name = v->tls_server_name;
	req.timeout_ms = v->timeout_ms;
	req.max_response = VAULT_MAX_RESPONSE;
	/* Vault answers carry secrets (KV data, client tokens) that are not
	 * registered with the masker until the plugin has parsed them: the
	 * --debug trace shows their size only */
	req.secret_response = 1;

	for (int attempt = 0;; attempt++) {
		struct dbr_err err = DBR_ERR_INIT;

		svc->http_response_release(&reply->resp);
		rc = svc->http_perform(v->h, &req, &reply->resp, &err);
		if (rc == 0) {
			reply->status = reply->resp.status;
			if (!retryable(reply->status) || attempt >= v->max_retries)
				return 0;
			svc->log(v->h, DBR_LOG_INFO, "%s %s: HTTP %ld, retrying (%d of %d)",
				 method, path, reply->status, attempt + 1, v->max_retries);
			if (wait_ms(svc, backoff_ms(attempt + 1, reply->resp.retry_after_s)))
				return interrupted(v, method, path);
			continue;
		}
		if ((rc == DBR_E_NETWORK || rc == DBR_E_TIMEOUT) && attempt < v->max_retries) {
			svc->log(v->h, DBR_LOG_INFO, "%s %s: %s, retrying (%d of %d)", method,
				 path, err.msg, attempt + 1, v->max_retries);
			if (wait_ms(svc, backoff_ms(attempt + 1, -1)))
				return interrupted(v, method, path);
			continue;
		}
		transport_error(v, rc, &err, method, path);
		return rc;
	}
}

void vault_reply_release(struct vault *v, struct vault_reply *reply)
{
	v->svc->http_response_release(&reply->resp);
	reply->status = 0;
}
