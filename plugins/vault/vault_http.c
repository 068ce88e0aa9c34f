/* One Vault API call: headers, the one TLS policy, retries, error text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "vault_internal.h"

#define VAULT_RETRY_AFTER_CAP_S 30
#define VAULT_URL_MAX 4096

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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
	req.max_response = 1u << 20;
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
			sleep_ms(backoff_ms(attempt + 1, reply->resp.retry_after_s));
			continue;
		}
		if ((rc == DBR_E_NETWORK || rc == DBR_E_TIMEOUT) && attempt < v->max_retries) {
			svc->log(v->h, DBR_LOG_INFO, "%s %s: %s, retrying (%d of %d)", method,
				 path, err.msg, attempt + 1, v->max_retries);
			sleep_ms(backoff_ms(attempt + 1, -1));
			continue;
		}
		if (rc == DBR_E_TLS)
			svc->set_reason(v->h, "TLS failure talking to Vault at '%s' (from %s): %s; "
					"set VAULT_CACERT to the CA that signed the Vault server's "
					"certificate", v->addr, v->addr_origin, err.msg);
		else
			svc->set_reason(v->h, "cannot reach Vault at '%s' (from %s): %s",
					v->addr, v->addr_origin,
					err.msg[0] ? err.msg : dbr_strerror(rc));
		return rc;
	}
}

void vault_reply_release(struct vault *v, struct vault_reply *reply)
{
	v->svc->http_response_release(&reply->resp);
	reply->status = 0;
}

/* The first of Vault's "errors", one line ("1 error occurred:\n\t* x" -> x). */
static void first_error(const struct vault_reply *r, char *out, size_t cap)
{
	cJSON *root = cJSON_Parse(r->resp.body ? r->resp.body : "");
	const cJSON *errs = root ? cJSON_GetObjectItemCaseSensitive(root, "errors") : NULL;
	size_t j = 0;

	out[0] = '\0';
	if (cJSON_IsArray(errs)) {
		const cJSON *e;

		cJSON_ArrayForEach(e, errs) {
			const char *s = cJSON_IsString(e) ? e->valuestring : "";
			const char *star = strstr(s, "* ");

			if (strncmp(s, "1 error occurred", 16) == 0 && star)
				s = star + 2;
			for (; *s && j + 1 < cap; s++) {
				if (*s == '\n' || *s == '\t' || *s == '\r') {
					if (j && out[j - 1] != ' ')
						out[j++] = ' ';
					continue;
				}
				out[j++] = *s;
			}
			while (j && out[j - 1] == ' ')
				j--;
			if (j + 3 < cap && e->next) {
				out[j++] = ';';
				out[j++] = ' ';
			}
		}
	}
	out[j] = '\0';
	cJSON_Delete(root);
}

int vault_status_error(struct vault *v, const struct vault_reply *r, const char *what)
{
	const struct dbr_host_services *svc = v->svc;
	char msg[256];

	first_error(r, msg, sizeof(msg));
	if (r->status == 403) {
		if (strstr(msg, "invalid token"))
			svc->set_reason(v->h, "Vault rejected the token from %s as invalid, "
					"expired or revoked while %s: log in to Vault again "
					"(vault login) or set a valid VAULT_TOKEN",
					v->token_origin ? v->token_origin : "(none)", what);
		else
			svc->set_reason(v->h, "permission denied by Vault policy while %s: the "
					"token from %s is valid but no policy grants it read "
					"access there; ask a Vault admin for a policy",
					what, v->token_origin ? v->token_origin : "(none)");
		return DBR_E_AUTH;
	}
	if (r->status == 503 && strstr(msg, "sealed")) {
		svc->set_reason(v->h, "Vault at '%s' is sealed (after %d retries) while %s: "
				"ask a Vault operator to unseal it", v->addr, v->max_retries, what);
		return DBR_E_API;
	}
	if (r->status == 429 || r->status == 412 || r->status >= 500)
		svc->set_reason(v->h, "Vault at '%s' answered HTTP %ld while %s (after %d "
				"retries)%s%s", v->addr, r->status, what, v->max_retries,
				msg[0] ? ": " : "", msg);
	else
		svc->set_reason(v->h, "Vault answered HTTP %ld while %s%s%s", r->status, what,
				msg[0] ? ": " : "", msg);
	return DBR_E_API;
}
