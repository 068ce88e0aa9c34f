/* The KV read: mount and version detection (the vault CLI's preflight),
 * then GET v1 <mount>/<path> or v2 <mount>/data/<path>[?version=N], then
 * the token and host fields. */
#include <stdio.h>
#include <string.h>

#include "vault_internal.h"

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

/* Mount version and mount path from the preflight. *version = 1 or 2;
 * mount gets e.g. "secret" (no slash) when the server names it. */
static int preflight(struct vault *v, const char *full, int *version, char *mount,
		     size_t cap)
{
	struct vault_reply r = { 0, DBR_HTTP_RESPONSE_INIT };
	char path[2 * VAULT_PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "sys/internal/ui/mounts/%s", full);
	rc = vault_call(v, "GET", path, 1, NULL, &r);
	if (rc == 0)
		rc = vault_parse_preflight(v, &r, full, version, mount, cap);
	vault_reply_release(v, &r);
	return rc;
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
	long pin = 0, kv = 0;
	int version = 0, rc;

	mount[0] = '\0';
	if (!valid_path(cpath) || (cmount && *cmount && !valid_path(cmount))) {
		svc->set_reason(v->h, "vault_path/vault_mount in profile '%s' holds characters "
				"other than letters, digits and -_./@+=,:~ (or '..')",
				svc->profile_name(v->h));
		return DBR_E_CONFIG;
	}
	vault_strip_slashes(cpath, path, sizeof(path));
	if (cmount && *cmount) {
		vault_strip_slashes(cmount, mount, sizeof(mount));
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
	rc = vault_kv_api_path(v, full, version, pin, mount, sizeof(mount), api,
			       sizeof(api));
	if (rc)
		return rc;
	if (pin)
		snprintf(loc, sizeof(loc), "%s' version '%ld", full, pin);
	else
		snprintf(loc, sizeof(loc), "%s", full);
	svc->log(v->h, DBR_LOG_DEBUG, "reading KV v%d '%s'", version, api);
	rc = vault_call(v, "GET", api, 1, NULL, &r);
	if (rc == 0)
		rc = vault_parse_read(v, &r, version, loc);
	vault_reply_release(v, &r);
	return rc;
}
