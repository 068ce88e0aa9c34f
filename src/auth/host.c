/* The host-services table handed to every provider. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dbroker/config.h"
#include "dbroker/http.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/os.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "host_internal.h"
#include "oauth_internal.h"
#include "secret_internal.h"
#include "banned.h"

const struct dbr_config *dbr_host_config(const struct dbr_host *h)
{
	return h->env->cfg;
}

void dbr_host_reset_result(struct dbr_host *h)
{
	free(h->host_url);
	h->host_url = NULL;
	dbr_secret_free(h->token);
	h->token = NULL;
	free(h->client_id);
	h->client_id = NULL;
	dbr_secret_free(h->client_secret);
	h->client_secret = NULL;
	h->reason[0] = '\0';
}

static int svc_mask_secret(struct dbr_host *h, const struct dbr_secret *s)
{
	return dbr_mask_add_secret(h->env->mask, s, NULL);
}

static void svc_log(struct dbr_host *h, enum dbr_log_level level, const char *fmt, ...)
{
	struct dbr_buf b = DBR_BUF_INIT_WIPE(1u << 20);
	va_list ap;

	if (!dbr_log_enabled(h->env->log, level))
		return;
	dbr_buf_addf(&b, "%s: ", h->name);
	va_start(ap, fmt);
	dbr_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	dbr_log_write(h->env->log, level, b.data, b.len);
	dbr_buf_release(&b);
}

static int svc_log_enabled(struct dbr_host *h, enum dbr_log_level level)
{
	return dbr_log_enabled(h->env->log, level);
}

static const char *svc_config_get(struct dbr_host *h, const char *key)
{
	return dbr_config_get(h->env->cfg, key);
}

static const char *svc_profile_name(struct dbr_host *h)
{
	return dbr_config_profile(h->env->cfg);
}

static int svc_http_perform(struct dbr_host *h, const struct dbr_http_request *req,
			    struct dbr_http_response *resp, struct dbr_err *err)
{
	struct dbr_http_request copy;
	size_t n;

	if (!req || req->struct_size < offsetof(struct dbr_http_request, trace))
		return dbr_err_set(err, DBR_E_INVAL, "provider '%s' passed a malformed request",
				   h->name);
	/* a plugin built against an older, shorter struct: zero the rest */
	memset(&copy, 0, sizeof(copy));
	n = req->struct_size < sizeof(copy) ? req->struct_size : sizeof(copy);
	memcpy(&copy, req, n);
	copy.struct_size = sizeof(copy);
	copy.trace = dbr_log_enabled(h->env->log, DBR_LOG_DEBUG) ? h->env->log : NULL;
	return dbr_http_perform(&copy, resp, err);
}

static int svc_set_host_url(struct dbr_host *h, const char *url)
{
	char *p;

	if (!url || !*url)
		return DBR_E_INVAL;
	p = strdup(url);
	if (!p)
		return DBR_E_NOMEM;
	free(h->host_url);
	h->host_url = p;
	return 0;
}

static int svc_set_token(struct dbr_host *h, struct dbr_secret *token)
{
	if (!token)
		return DBR_E_INVAL;
	dbr_secret_free(h->token);
	h->token = token;
	return 0;
}

static int svc_set_client(struct dbr_host *h, const char *client_id,
			  struct dbr_secret *client_secret)
{
	char *id;

	if (!client_secret || !dbr_oauth_client_id_valid(client_id)) {
		dbr_secret_free(client_secret);
		return DBR_E_INVAL;
	}
	id = strdup(client_id);
	if (!id) {
		dbr_secret_free(client_secret);
		return DBR_E_NOMEM;
	}
	free(h->client_id);
	dbr_secret_free(h->client_secret);
	h->client_id = id;
	h->client_secret = client_secret;
	return 0;
}

static void svc_set_reason(struct dbr_host *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
	va_end(ap);
	/* one line: a reason with a newline would break describe's layout */
	for (char *p = h->reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static int svc_interactive(struct dbr_host *h)
{
	return h->env->interactive;
}

/* The one read path a provider has to token bytes: only for the handle
 * being stored, only while its store() runs (dbr_chain_store sets it). */
static const unsigned char *svc_secret_bytes(struct dbr_host *h,
					     const struct dbr_secret *s)
{
	if (!h || !s || h->storing != s)
		return NULL;
	return dbr_secret_bytes(s);
}

static const char *svc_store_client_id(struct dbr_host *h)
{
	return h && h->storing ? h->storing_client_id : NULL;
}

static const struct dbr_host_services services = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_host_services),
	.secret_new = dbr_secret_new,
	.secret_alloc = dbr_secret_alloc,
	.secret_append = dbr_secret_append,
	.secret_trim = dbr_secret_trim,
	.secret_len = dbr_secret_len,
	.secret_free = dbr_secret_free,
	.mask_secret = svc_mask_secret,
	.log = svc_log,
	.log_enabled = svc_log_enabled,
	.config_get = svc_config_get,
	.profile_name = svc_profile_name,
	.http_perform = svc_http_perform,
	.http_response_release = dbr_http_response_release,
	.set_host_url = svc_set_host_url,
	.set_token = svc_set_token,
	.set_reason = svc_set_reason,
	.interactive = svc_interactive,
	.secret_bytes = svc_secret_bytes,
	.env_scrub = dbr_env_scrub,
	.write_all = dbr_write_all,
	.secret_fill = dbr_secret_fill,
	.set_client = svc_set_client,
	.store_client_id = svc_store_client_id,
	.sleep_ms = dbr_sleep_ms,
};

const struct dbr_host_services *dbr_host_services_table(void)
{
	return &services;
}
