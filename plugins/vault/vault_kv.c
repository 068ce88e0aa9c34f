/* The KV read: mount and version detection (the vault CLI's preflight),
 * then GET v1 <mount>/<path> or v2 <mount>/data/<path>[?version=N], then
 * the token and host fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vault_internal.h"

#define VAULT_PATH_MAX 1024

/* Characters allowed in vault_path/vault_mount: no query, fragment,
 * percent, space or control characters, no "..". */
static int valid_path(const char *s)
{
	if (!*s || strlen(s) >= VAULT_PATH_MAX || strstr(s, ".."))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("-_./@+=,:~", *s)))
			return 0;
	return 1;
}

/* Copy s without leading/trailing '/' into out. */
static void strip_slashes(const char *s, char *out, size_t cap)
{
	size_t n;

	while (*s == '/')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == '/')
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* Mount version and mount path from the preflight. *version = 1 or 2;
 * mount gets e.g. "secret" (no slash) when the server names it. */
static int preflight(struct vault *v, const char *full, int *version, char *mount,
		     size_t cap)
{
	const struct dbr_host_services *svc = v->svc;
	struct vault_reply r = { 0, DBR_HTTP_RESPONSE_INIT };
	char path[2 * VAULT_PATH_MAX + 64];
	const cJSON *data, *opts, *ver, *mp;
	cJSON *root;
	int rc;

	snprintf(path, sizeof(path), "sys/internal/ui/mounts/%s", full);
	rc = vault_call(v, "GET", path, 1, NULL, &r);
	if (rc)
		return rc;
	if (r.status == 404) { /* a very old server: KV v1 */
		vault_reply_release(v, &r);
		*version = 1;
		return 0;
	}
	if (r.status == 403) {
		char what[4 * VAULT_PATH_MAX + 256];

		snprintf(what, sizeof(what), "detecting the KV version of '%s' (preflight "
			 "capability check on sys/internal/ui/mounts/%s; or pin it with "
			 "vault_kv_version)", full, full);
		rc = vault_status_error(v, &r, what);
		vault_reply_release(v, &r);
		return rc;
	}
	if (r.status != 200) {
		rc = vault_status_error(v, &r, "detecting the KV version");
		vault_reply_release(v, &r);
		return rc;
	}
	root = cJSON_Parse(r.resp.body);
	vault_reply_release(v, &r);
	data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
	opts = data ? cJSON_GetObjectItemCaseSensitive(data, "options") : NULL;
	ver = cJSON_IsObject(opts) ? cJSON_GetObjectItemCaseSensitive(opts, "version") : NULL;
	mp = data ? cJSON_GetObjectItemCaseSensitive(data, "path") : NULL;
	/* options.version is a string; missing, null, "" or "1" mean v1 */
	*version = cJSON_IsString(ver) && strcmp(ver->valuestring, "2") == 0 ? 2 : 1;
	if (cJSON_IsString(mp) && !mount[0])
		strip_slashes(mp->valuestring, mount, cap);
	cJSON_Delete(root);
	svc->log(v->h, DBR_LOG_DEBUG, "mount '%s' is KV v%d", mount[0] ? mount : "?", *version);
	return 0;
}

/* Comma-separated field names (never values) of an object. */
static void field_names(const cJSON *obj, char *out, size_t cap)
{
	const cJSON *f;
	size_t n = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(f, obj) {
		int w = snprintf(out + n, cap - n, "%s'%s'", n ? ", " : "",
				 f->string ? f->string : "?");

		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	if (!n)
		snprintf(out, cap, "none");
}

/* A v2 404: deleted, destroyed, or simply not there. */
static int v2_not_found(struct vault *v, const struct vault_reply *r, const char *loc)
{
	const struct dbr_host_services *svc = v->svc;
	cJSON *root = cJSON_Parse(r->resp.body);
	const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
	const cJSON *meta = cJSON_IsObject(data) ?
		cJSON_GetObjectItemCaseSensitive(data, "metadata") : NULL;
	const cJSON *warn = root ? cJSON_GetObjectItemCaseSensitive(root, "warnings") : NULL;
	const cJSON *ver = meta ? cJSON_GetObjectItemCaseSensitive(meta, "version") : NULL;
	const cJSON *dt = meta ? cJSON_GetObjectItemCaseSensitive(meta, "deletion_time") : NULL;
	const cJSON *ds = meta ? cJSON_GetObjectItemCaseSensitive(meta, "destroyed") : NULL;
	int n = cJSON_IsNumber(ver) ? ver->valueint : 0;

	if (cJSON_IsTrue(ds))
		svc->set_reason(v->h, "version %d of the Vault secret '%s' is destroyed: its data "
				"is gone for good; write a new version or pin vault_version to "
				"another one", n, loc);
	else if (cJSON_IsString(dt) && dt->valuestring[0])
		svc->set_reason(v->h, "version %d of the Vault secret '%s' was deleted at %s: "
				"undelete it (vault kv undelete -versions=%d) or pin vault_version "
				"to another one", n, loc, dt->valuestring, n);
	else if (cJSON_IsArray(warn) && cJSON_GetArraySize(warn) > 0)
		svc->set_reason(v->h, "Vault secret '%s' not found; Vault warns: %s", loc,
				cJSON_IsString(cJSON_GetArrayItem(warn, 0)) ?
				cJSON_GetArrayItem(warn, 0)->valuestring : "?");
	else
		svc->set_reason(v->h, "Vault secret '%s' not found (no such path or version)",
				loc);
	cJSON_Delete(root);
	return DBR_E_PROVIDER;
}

/* Take the token field (and the optional host field) from fields. */
static int take_fields(struct vault *v, const cJSON *fields, const char *loc)
{
	const struct dbr_host_services *svc = v->svc;
	const char *tf = svc->config_get(v->h, "vault_token_field");
	const char *hf = svc->config_get(v->h, "vault_host_field");
	const cJSON *tok, *host;
	struct dbr_secret *s = NULL;
	char names[256];
	int rc;

	if (!tf || !*tf)
		tf = "token";
	if (!hf || !*hf)
		hf = "host";
	if (!cJSON_IsObject(fields)) {
		svc->set_reason(v->h, "Vault secret '%s' has no data", loc);
		return DBR_E_PROVIDER;
	}
	tok = cJSON_GetObjectItemCaseSensitive(fields, tf);
	if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
		field_names(fields, names, sizeof(names));
		svc->set_reason(v->h, "Vault secret '%s' has no %sfield '%s' (fields present: "
				"%s); set vault_token_field to the right one", loc,
				tok ? "non-empty string " : "", tf, names);
		return DBR_E_PROVIDER;
	}
	rc = svc->secret_new(tok->valuestring, strlen(tok->valuestring), &s);
	if (rc) {
		svc->set_reason(v->h, "cannot hold the Databricks token: %s", dbr_strerror(rc));
		return rc;
	}
	svc->secret_trim(s);
	rc = svc->mask_secret(v->h, s);
	if (rc) {
		svc->secret_free(s);
		svc->set_reason(v->h, "refusing the token in field '%s' of '%s': %s", tf, loc,
				rc == DBR_E_SHORT_SECRET ? "too short to be masked reliably"
							 : dbr_strerror(rc));
		return rc;
	}
	host = cJSON_GetObjectItemCaseSensitive(fields, hf);
	if (cJSON_IsString(host) && host->valuestring[0]) {
		rc = svc->set_host_url(v->h, host->valuestring);
		if (rc) {
			svc->secret_free(s);
			svc->set_reason(v->h, "cannot use field '%s' of '%s' as the host", hf, loc);
			return rc;
		}
	}
	rc = svc->set_token(v->h, s);
	if (rc)
		return rc;
	svc->set_reason(v->h, "field '%s' of Vault secret '%s' at %s (Vault token from %s)",
			tf, loc, v->addr, v->token_origin);
	return 0;
}

int vault_kv_fetch(struct vault *v)
{
	const struct dbr_host_services *svc = v->svc;
	const char *cpath = svc->config_get(v->h, "vault_path");
	const char *cmount = svc->config_get(v->h, "vault_mount");
	const char *cver = vault_conf(v, NULL, "vault_kv_version");
	const char *cpin = svc->config_get(v->h, "vault_version");
	char path[VAULT_PATH_MAX], mount[VAULT_PATH_MAX], full[2 * VAULT_PATH_MAX];
	char api[2 * VAULT_PATH_MAX + 64], loc[2 * VAULT_PATH_MAX + 32];
	struct vault_reply r = { 0, DBR_HTTP_RESPONSE_INIT };
	const char *rest;
	long pin = 0, kv = 0;
	cJSON *root;
	int version = 0, rc;

	mount[0] = '\0';
	if (!valid_path(cpath) || (cmount && *cmount && !valid_path(cmount))) {
		svc->set_reason(v->h, "vault_path/vault_mount in profile '%s' holds characters "
				"other than letters, digits and -_./@+=,:~ (or '..')",
				svc->profile_name(v->h));
		return DBR_E_CONFIG;
	}
	strip_slashes(cpath, path, sizeof(path));
	if (cmount && *cmount) {
		strip_slashes(cmount, mount, sizeof(mount));
		snprintf(full, sizeof(full), "%s/%s", mount, path);
	} else {
		snprintf(full, sizeof(full), "%s", path);
	}
	if (cpin && *cpin && vault_parse_long(cpin, 0, 1L << 30, &pin)) {
		svc->set_reason(v->h, "vault_version '%s' is not a version number", cpin);
		return DBR_E_CONFIG;
	}
	if (cver && *cver) {
		if (vault_parse_long(cver, 1, 2, &kv)) {
			svc->set_reason(v->h, "vault_kv_version must be 1 or 2, not '%s'", cver);
			return DBR_E_CONFIG;
		}
		version = (int)kv;
	} else {
		rc = preflight(v, full, &version, mount, sizeof(mount));
		if (rc)
			return rc;
	}
	if (pin && version == 1) {
		svc->set_reason(v->h, "vault_version is set but '%s' is on a KV v1 mount, which "
				"keeps no versions", full);
		return DBR_E_CONFIG;
	}
	if (version == 2) {
		if (!mount[0]) { /* pinned v2 without vault_mount: the first segment */
			const char *slash = strchr(full, '/');
			size_t n = slash ? (size_t)(slash - full) : strlen(full);

			memcpy(mount, full, n);
			mount[n] = '\0';
		}
		rest = full + strlen(mount);
		if (strncmp(full, mount, strlen(mount)) != 0 || *rest != '/' || !rest[1]) {
			svc->set_reason(v->h, "vault_path '%s' names the mount '%s' itself, not a "
					"secret under it", full, mount);
			return DBR_E_CONFIG;
		}
		rest++;
		if (pin)
			snprintf(api, sizeof(api), "%s/data/%s?version=%ld", mount, rest, pin);
		else
			snprintf(api, sizeof(api), "%s/data/%s", mount, rest);
	} else {
		snprintf(api, sizeof(api), "%s", full);
	}
	if (pin)
		snprintf(loc, sizeof(loc), "%s' version '%ld", full, pin);
	else
		snprintf(loc, sizeof(loc), "%s", full);
	svc->log(v->h, DBR_LOG_DEBUG, "reading KV v%d '%s'", version, api);
	rc = vault_call(v, "GET", api, 1, NULL, &r);
	if (rc)
		return rc;
	if (r.status == 404 && version == 2) {
		rc = v2_not_found(v, &r, loc);
		vault_reply_release(v, &r);
		return rc;
	}
	if (r.status == 404) {
		/* a v1-style read on a v2 mount is a 404 whose warning says so */
		cJSON *doc = cJSON_Parse(r.resp.body ? r.resp.body : "");
		const cJSON *warn = doc ? cJSON_GetObjectItemCaseSensitive(doc, "warnings") : NULL;
		const cJSON *w0 = cJSON_IsArray(warn) ? cJSON_GetArrayItem(warn, 0) : NULL;

		if (cJSON_IsString(w0) && w0->valuestring)
			svc->set_reason(v->h, "Vault secret '%s' not found; Vault warns: %s "
					"(if the mount is KV v2, remove vault_kv_version or set it to 2)",
					loc, w0->valuestring);
		else
			svc->set_reason(v->h, "Vault secret '%s' not found", loc);
		cJSON_Delete(doc);
		vault_reply_release(v, &r);
		return DBR_E_PROVIDER;
	}
	if (r.status != 200) {
		char what[sizeof(loc) + 16];

		snprintf(what, sizeof(what), "reading '%s'", loc);
		rc = vault_status_error(v, &r, what);
		vault_reply_release(v, &r);
		return rc;
	}
	root = cJSON_Parse(r.resp.body);
	vault_reply_release(v, &r);
	if (!root) {
		svc->set_reason(v->h, "Vault answered '%s' with something other than JSON", loc);
		return DBR_E_API;
	}
	{
		const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");

		if (version == 2)
			data = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "data")
						    : NULL;
		rc = take_fields(v, data, loc);
	}
	cJSON_Delete(root);
	return rc;
}
