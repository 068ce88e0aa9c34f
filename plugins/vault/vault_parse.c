/* The Vault provider's parse steps (declared in vault_internal.h): Vault's answers
 * to the mounts preflight, the KV read and the AppRole login, and its
 * error bodies, turned into a token, a host, a KV version and mount, or a
 * one-line reason. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "vault_internal.h"

#define VAULT_MSG_ERRORS 256   /* Vault's "errors" in a reason */
#define VAULT_MSG_WARNING 200  /* a Vault warning in a reason */
#define VAULT_MSG_NAME 96      /* one field name, a mount path */
#define VAULT_MSG_TIME 64      /* a deletion time */

/* Length (1-4) and code point of the UTF-8 character at s, or 0 when s
 * does not start a valid one (overlong, surrogate, beyond U+10FFFF, cut).
 * Never reads past a NUL. */
static size_t utf8_char(const unsigned char *s, unsigned *cp)
{
	unsigned c = s[0], len, v;

	*cp = c;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, v = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, v = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, v = c & 0x07;
	else
		return 0;
	for (unsigned k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* Characters a terminal or a log viewer would act on or reorder. */
static int unsafe_cp(unsigned cp)
{
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t vault_text_clean(const char *s, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t j = 0, cut = 0, limit;
	int truncated = 0;

	if (!cap)
		return 0;
	limit = cap - 1;
	while (*p) {
		unsigned cp;
		size_t n = utf8_char(p, &cp);
		const char *add = (const char *)p;
		size_t alen = n;

		if (n == 1 && (cp < 0x20 || cp == 0x7F)) {
			p++;
			if (!j || out[j - 1] == ' ')
				continue;
			add = " ";
		} else if (!n || unsafe_cp(cp)) {
			p += n ? n : 1;
			add = "?";
			alen = 1;
		} else {
			p += n;
		}
		if (j + alen > limit) {
			truncated = 1;
			break;
		}
		memcpy(out + j, add, alen);
		j += alen;
		if (j + 3 <= limit)
			cut = j;
	}
	if (truncated)
		j = cut;
	while (j && out[j - 1] == ' ')
		j--;
	if (truncated && j + 3 <= limit) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
	return j;
}

void vault_strip_slashes(const char *s, char *out, size_t cap)
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

/* Vault's "errors", one line ("1 error occurred:\n\t* x" -> x), joined
 * with "; ". */
static void first_error(const struct vault_reply *r, char *out, size_t cap)
{
	cJSON *root = cJSON_Parse(r->resp.body ? r->resp.body : "");
	const cJSON *errs = root ? cJSON_GetObjectItemCaseSensitive(root, "errors") : NULL;
	const cJSON *e;
	size_t j = 0;

	out[0] = '\0';
	if (!cJSON_IsArray(errs))
		errs = NULL;
	cJSON_ArrayForEach(e, errs) {
		const char *s = cJSON_IsString(e) ? e->valuestring : "";
		const char *star = strstr(s, "* ");
		size_t sep = j ? 2 : 0, n;

		if (strncmp(s, "1 error occurred", 16) == 0 && star)
			s = star + 2;
		if (j + sep + 1 >= cap)
			break;
		memcpy(out + j, "; ", sep);
		n = vault_text_clean(s, out + j + sep, cap - j - sep);
		if (n)
			j += sep + n;
		out[j] = '\0';
	}
	cJSON_Delete(root);
}

int vault_status_error(struct vault *v, const struct vault_reply *r, const char *what)
{
	const struct dbr_host_services *svc = v->svc;
	char msg[VAULT_MSG_ERRORS];

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
	if (r->status == 501) /* not retried: it will not change */
		svc->set_reason(v->h, "Vault at '%s' answered HTTP 501 while %s%s%s: it does "
				"not support this call; check that vault_addr names a Vault "
				"server of a current version", v->addr, what, msg[0] ? ": " : "",
				msg);
	else if (r->status == 429 || r->status == 412 || r->status >= 500)
		svc->set_reason(v->h, "Vault at '%s' answered HTTP %ld while %s (after %d "
				"retries)%s%s: try again later (VAULT_MAX_RETRIES sets the "
				"retries); if it persists, ask a Vault operator", v->addr,
				r->status, what, v->max_retries, msg[0] ? ": " : "", msg);
	else
		svc->set_reason(v->h, "Vault answered HTTP %ld while %s%s%s: check vault_addr, "
				"vault_namespace and vault_path", r->status, what,
				msg[0] ? ": " : "", msg);
	return DBR_E_API;
}

int vault_parse_preflight(struct vault *v, const struct vault_reply *r, const char *full,
			  int *version, char *mount, size_t mount_cap)
{
	const cJSON *data, *opts, *ver, *mp;
	char shown[VAULT_MSG_NAME];
	cJSON *root;

	if (r->status == 404) { /* a very old server: KV v1 */
		*version = 1;
		return 0;
	}
	if (r->status == 403) {
		char what[4 * VAULT_PATH_MAX + 256];

		snprintf(what, sizeof(what), "detecting the KV version of '%s' (preflight "
			 "capability check on sys/internal/ui/mounts/%s; or pin it with "
			 "vault_kv_version)", full, full);
		return vault_status_error(v, r, what);
	}
	if (r->status != 200)
		return vault_status_error(v, r, "detecting the KV version");
	root = cJSON_Parse(r->resp.body);
	data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
	opts = data ? cJSON_GetObjectItemCaseSensitive(data, "options") : NULL;
	ver = cJSON_IsObject(opts) ? cJSON_GetObjectItemCaseSensitive(opts, "version") : NULL;
	mp = data ? cJSON_GetObjectItemCaseSensitive(data, "path") : NULL;
	/* options.version is a string; missing, null, "" or "1" mean v1 */
	*version = cJSON_IsString(ver) && strcmp(ver->valuestring, "2") == 0 ? 2 : 1;
	if (cJSON_IsString(mp) && !mount[0])
		vault_strip_slashes(mp->valuestring, mount, mount_cap);
	cJSON_Delete(root);
	vault_text_clean(mount[0] ? mount : "?", shown, sizeof(shown));
	v->svc->log(v->h, DBR_LOG_DEBUG, "mount '%s' is KV v%d", shown, *version);
	return 0;
}

int vault_kv_api_path(struct vault *v, const char *full, int version, long pin,
		      char *mount, size_t mount_cap, char *api, size_t cap)
{
	const struct dbr_host_services *svc = v->svc;
	const char *rest;

	if (pin && version == 1) {
		svc->set_reason(v->h, "vault_version is set but '%s' is on a KV v1 mount, which "
				"keeps no versions", full);
		return DBR_E_CONFIG;
	}
	if (version != 2) {
		snprintf(api, cap, "%s", full);
		return 0;
	}
	if (!mount[0]) { /* pinned v2 without vault_mount: the first segment */
		const char *slash = strchr(full, '/');
		size_t n = slash ? (size_t)(slash - full) : strlen(full);

		if (n >= mount_cap)
			n = mount_cap - 1;
		memcpy(mount, full, n);
		mount[n] = '\0';
	}
	rest = full + strlen(mount);
	if (strncmp(full, mount, strlen(mount)) != 0 || *rest != '/' || !rest[1]) {
		char shown[VAULT_MSG_NAME];

		vault_text_clean(mount, shown, sizeof(shown));
		svc->set_reason(v->h, "vault_path '%s' names the mount '%s' itself, not a "
				"secret under it", full, shown);
		return DBR_E_CONFIG;
	}
	rest++;
	if (pin)
		snprintf(api, cap, "%s/data/%s?version=%ld", mount, rest, pin);
	else
		snprintf(api, cap, "%s/data/%s", mount, rest);
	return 0;
}

/* Comma-separated field names (never values) of an object. */
static void field_names(const cJSON *obj, char *out, size_t cap)
{
	const cJSON *f;
	size_t n = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(f, obj) {
		char name[VAULT_MSG_NAME];
		int w;

		vault_text_clean(f->string ? f->string : "?", name, sizeof(name));
		w = snprintf(out + n, cap - n, "%s'%s'", n ? ", " : "", name);
		if (w < 0 || (size_t)w >= cap - n) {
			/* drop the cut entry; say there are more */
			out[n] = '\0';
			if (n && cap - n > 5)
				memcpy(out + n, ", ...", 6);
			break;
		}
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
	char text[VAULT_MSG_WARNING];

	if (cJSON_IsTrue(ds)) {
		svc->set_reason(v->h, "version %d of the Vault secret '%s' is destroyed: its data "
				"is gone for good; write a new version or pin vault_version to "
				"another one", n, loc);
	} else if (cJSON_IsString(dt) && dt->valuestring[0]) {
		vault_text_clean(dt->valuestring, text, VAULT_MSG_TIME);
		svc->set_reason(v->h, "version %d of the Vault secret '%s' was deleted at %s: "
				"undelete it (vault kv undelete -versions=%d) or pin vault_version "
				"to another one", n, loc, text, n);
	} else if (cJSON_IsArray(warn) && cJSON_GetArraySize(warn) > 0) {
		const cJSON *w0 = cJSON_GetArrayItem(warn, 0);

		vault_text_clean(cJSON_IsString(w0) ? w0->valuestring : "?", text, sizeof(text));
		svc->set_reason(v->h, "Vault secret '%s' not found; Vault warns: %s", loc, text);
	} else {
		svc->set_reason(v->h, "Vault secret '%s' not found (no such path or version): "
				"check vault_path and vault_version", loc);
	}
	cJSON_Delete(root);
	return DBR_E_PROVIDER;
}

/* A v1 404; a v1-style read on a v2 mount is one whose warning says so. */
static int v1_not_found(struct vault *v, const struct vault_reply *r, const char *loc)
{
	cJSON *doc = cJSON_Parse(r->resp.body ? r->resp.body : "");
	const cJSON *warn = doc ? cJSON_GetObjectItemCaseSensitive(doc, "warnings") : NULL;
	const cJSON *w0 = cJSON_IsArray(warn) ? cJSON_GetArrayItem(warn, 0) : NULL;
	char text[VAULT_MSG_WARNING];

	if (cJSON_IsString(w0) && w0->valuestring) {
		vault_text_clean(w0->valuestring, text, sizeof(text));
		v->svc->set_reason(v->h, "Vault secret '%s' not found; Vault warns: %s (if the "
				   "mount is KV v2, remove vault_kv_version or set it to 2)",
				   loc, text);
	} else {
		v->svc->set_reason(v->h, "Vault secret '%s' not found: check vault_path", loc);
	}
	cJSON_Delete(doc);
	return DBR_E_PROVIDER;
}

/* The string field name of fields as a new masked handle in *out (NULL
 * when the field is missing or empty). what names it in reasons. */
static int take_secret_field(struct vault *v, const cJSON *fields, const char *name,
			     const char *what, const char *loc, struct dbr_secret **out)
{
	const struct dbr_host_services *svc = v->svc;
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(fields, name);
	int rc;

	*out = NULL;
	if (!cJSON_IsString(f) || !f->valuestring[0])
		return 0;
	rc = svc->secret_new(f->valuestring, strlen(f->valuestring), out);
	if (rc) {
		svc->set_reason(v->h, "cannot hold the %s: %s", what, dbr_strerror(rc));
		return rc;
	}
	svc->secret_trim(*out);
	rc = svc->mask_secret(v->h, *out);
	if (rc) {
		svc->secret_free(*out);
		*out = NULL;
		svc->set_reason(v->h, "refusing the %s in field '%s' of '%s': %s", what, name, loc,
				rc == DBR_E_SHORT_SECRET ? "too short to be masked reliably"
							 : dbr_strerror(rc));
	}
	return rc;
}

static const char *field_conf(struct vault *v, const char *key, const char *def)
{
	const char *s = v->svc->config_get(v->h, key);

	return s && *s ? s : def;
}

/* An OAuth client secret (and its client id) for a service principal. */
static int take_client(struct vault *v, const cJSON *fields, struct dbr_secret *sec,
		       const char *idf, const char *sf, const char *loc)
{
	const struct dbr_host_services *svc = v->svc;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(fields, idf);
	int rc;

	if (!DBR_HOST_HAS(svc, set_client)) {
		svc->secret_free(sec);
		svc->set_reason(v->h, "this dbroker is too old for OAuth client secrets (field "
				"'%s' of '%s'): upgrade it", sf, loc);
		return DBR_E_PLUGIN_ABI;
	}
	if (!cJSON_IsString(id) || !id->valuestring[0]) {
		svc->secret_free(sec);
		svc->set_reason(v->h, "Vault secret '%s' has a client secret (field '%s') but no "
				"client id field '%s': add it, or set vault_client_id_field", loc,
				sf, idf);
		return DBR_E_PROVIDER;
	}
	rc = svc->set_client(v->h, id->valuestring, sec); /* the host owns sec now */
	if (rc)
		svc->set_reason(v->h, "cannot use field '%s' of '%s' as the client id: %s", idf,
				loc, rc == DBR_E_INVAL ? "it must be printable, without spaces or ':'"
						       : dbr_strerror(rc));
	return rc;
}

/* Take the token field and/or the client id and secret fields (and the
 * optional host field) from fields. */
static int take_fields(struct vault *v, const cJSON *fields, const char *loc)
{
	const struct dbr_host_services *svc = v->svc;
	const char *tf = field_conf(v, "vault_token_field", "token");
	const char *hf = field_conf(v, "vault_host_field", "host");
	const char *idf = field_conf(v, "vault_client_id_field", "client_id");
	const char *sf = field_conf(v, "vault_client_secret_field", "client_secret");
	const cJSON *tok, *host;
	struct dbr_secret *s = NULL, *cs = NULL;
	char names[256];
	int rc;

	if (!cJSON_IsObject(fields)) {
		svc->set_reason(v->h, "Vault secret '%s' has no data", loc);
		return DBR_E_PROVIDER;
	}
	/* a host that is there but not a string binds the token to no host:
	 * refused, lest it go wherever DATABRICKS_HOST or the profile points */
	host = cJSON_GetObjectItemCaseSensitive(fields, hf);
	if (host && !cJSON_IsString(host)) {
		svc->set_reason(v->h, "field '%s' of Vault secret '%s' is not a string: write the "
				"workspace URL there as a string (or remove the field), or set "
				"vault_host_field to the right one", hf, loc);
		return DBR_E_PROVIDER;
	}
	tok = cJSON_GetObjectItemCaseSensitive(fields, tf);
	if ((rc = take_secret_field(v, fields, tf, "Databricks token", loc, &s)) ||
	    (rc = take_secret_field(v, fields, sf, "client secret", loc, &cs))) {
		svc->secret_free(s);
		return rc;
	}
	if (!s && !cs) {
		field_names(fields, names, sizeof(names));
		svc->set_reason(v->h, "Vault secret '%s' has no %sfield '%s' (fields present: "
				"%s); set vault_token_field to the right one (or, for a service "
				"principal, vault_client_id_field and vault_client_secret_field)",
				loc, tok ? "non-empty string " : "", tf, names);
		return DBR_E_PROVIDER;
	}
	if (host && host->valuestring[0]) {
		rc = svc->set_host_url(v->h, host->valuestring);
		if (rc) {
			svc->secret_free(s);
			svc->secret_free(cs);
			svc->set_reason(v->h, "cannot use field '%s' of '%s' as the host", hf, loc);
			return rc;
		}
	}
	if (cs && (rc = take_client(v, fields, cs, idf, sf, loc))) {
		svc->secret_free(s);
		return rc;
	}
	rc = s ? svc->set_token(v->h, s) : 0; /* the host owns s now, also on failure */
	if (rc) {
		svc->set_reason(v->h, "cannot hand over the token in field '%s' of '%s': %s",
				tf, loc, dbr_strerror(rc));
		return rc;
	}
	if (s && cs)
		svc->set_reason(v->h, "fields '%s', '%s' and '%s' of Vault secret '%s' at %s "
				"(Vault token from %s)", tf, idf, sf, loc, v->addr, v->token_origin);
	else if (s)
		svc->set_reason(v->h, "field '%s' of Vault secret '%s' at %s (Vault token from %s)",
				tf, loc, v->addr, v->token_origin);
	else
		svc->set_reason(v->h, "fields '%s' and '%s' of Vault secret '%s' at %s (Vault "
				"token from %s)", idf, sf, loc, v->addr, v->token_origin);
	return 0;
}

int vault_parse_read(struct vault *v, const struct vault_reply *r, int version,
		     const char *loc)
{
	const cJSON *data;
	cJSON *root;
	int rc;

	if (r->status == 404)
		return version == 2 ? v2_not_found(v, r, loc) : v1_not_found(v, r, loc);
	if (r->status != 200) {
		char what[2 * VAULT_PATH_MAX + 64];

		snprintf(what, sizeof(what), "reading '%s'", loc);
		return vault_status_error(v, r, what);
	}
	root = cJSON_Parse(r->resp.body);
	if (!root) {
		v->svc->set_reason(v->h, "Vault answered '%s' with something other than JSON", loc);
		return DBR_E_API;
	}
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (version == 2)
		data = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "data") : NULL;
	rc = take_fields(v, data, loc);
	cJSON_Delete(root);
	return rc;
}

int vault_take_token(struct vault *v, const char *bytes, size_t len, const char *origin)
{
	const struct dbr_host_services *svc = v->svc;
	int rc;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)bytes[i] < 0x21 || bytes[i] == 0x7f) {
			svc->set_reason(v->h, "the Vault token from %s contains a space or control "
					"character", origin);
			return DBR_E_INVAL;
		}
	rc = svc->secret_new(bytes, len, &v->token);
	if (rc) {
		svc->set_reason(v->h, "cannot hold the Vault token: %s", dbr_strerror(rc));
		return rc;
	}
	rc = svc->mask_secret(v->h, v->token);
	if (rc) {
		svc->secret_free(v->token);
		v->token = NULL;
		svc->set_reason(v->h, "refusing the Vault token from %s: %s", origin,
				rc == DBR_E_SHORT_SECRET ? "too short to be masked reliably"
							 : dbr_strerror(rc));
		return rc;
	}
	v->token_origin = origin;
	return 0;
}

int vault_parse_login(struct vault *v, const struct vault_reply *r, const char *role_id,
		      const char *sid_path)
{
	const cJSON *auth, *tok;
	cJSON *root;
	int rc;

	if (r->status == 400) {
		v->svc->set_reason(v->h, "AppRole login refused: invalid role or secret ID (role "
				   "'%s' from the profile, secret ID from '%s'): check both, or "
				   "ask for a new secret ID (they expire or run out of uses)",
				   role_id, sid_path);
		return DBR_E_AUTH;
	}
	if (r->status != 200)
		return vault_status_error(v, r, "logging in with AppRole");
	root = cJSON_Parse(r->resp.body);
	auth = root ? cJSON_GetObjectItemCaseSensitive(root, "auth") : NULL;
	tok = auth ? cJSON_GetObjectItemCaseSensitive(auth, "client_token") : NULL;
	if (!cJSON_IsString(tok) || !tok->valuestring[0]) {
		v->svc->set_reason(v->h, "AppRole login answered without auth.client_token");
		rc = DBR_E_API;
	} else {
		rc = vault_take_token(v, tok->valuestring, strlen(tok->valuestring),
				      "AppRole login");
		if (rc == 0)
			v->token_from_login = 1;
	}
	cJSON_Delete(root);
	return rc;
}
