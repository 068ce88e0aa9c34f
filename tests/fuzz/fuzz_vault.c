/* Fuzz target: the Vault provider's answer parsers (plugins/vault/
 * vault_parse.c, compiled in; the plugin builds the same file): the mounts
 * preflight and the read path derived from it, the KV v1/v2 read, the
 * AppRole login, and Vault's error bodies. The plugin reaches the host only
 * through struct dbr_host_services; here a double records every call.
 *
 * Input layout:
 *   byte 0      bits 0-2: what is parsed (mod 5): 0 preflight answer (then
 *               the read path), 1 KV v1 read, 2 KV v2 read, 3 AppRole login,
 *               4 an error status alone; bits 3-4: vault_mount already
 *               known ("" / "secret" / "kv" / "secret/team"); bit 5: body
 *               NULL; bit 6: marker mode (below); bit 7: no token origin
 *               (mode 4)
 *   byte 1      bits 0-3: HTTP status (200 x4, 404 x2, 403, 400, 412, 429,
 *               500, 501, 502, 503, 204, 307); bits 4-5: vault_token_field
 *               (unset, "", "pat", "token"); bits 6-7: vault_host_field
 *               (unset, "", "workspace", "host")
 *   byte 2      bits 0-3: host-service failures (secret_new, mask_secret,
 *               set_host_url, set_token answer DBR_E_NOMEM); bits 4-5:
 *               vault_path ("secret/db", "secret/team/db", "kv/db",
 *               "secret"); bits 6-7: vault_version pin (none, 1, 7, 2^30)
 *   the rest    the body (an exactly-sized buffer plus the NUL the HTTP
 *               client puts after every body; NULs inside stay)
 *
 * Marker mode: the body is parsed with cJSON; when the token field the
 * parser reads (data.<field> for v1, data.data.<field> for v2,
 * auth.client_token for a login) exists and no 8-byte piece of the marker
 * occurs in the document (keys or strings), that field is set to the
 * marker and the document is printed back as the body. The marker then
 * comes from the token field and nowhere else.
 *
 * Properties (abort on violation):
 *   V1  every reason (set_reason) and log line is a C string of at most
 *       DBR_REASON_MAX - 1 bytes (the host's buffer: a longer one would be
 *       cut, possibly inside a character);
 *   V2  ... and one line of clean text: valid UTF-8, no C0/DEL/C1
 *       controls, no U+2028/U+2029, no bidi controls (what a server sends
 *       must not reach a terminal raw);
 *   V3  no 8-byte piece of the marker (a secret value) appears in a reason
 *       or a log line;
 *   V4  a failure (rc != 0) is a DBR_E_* code with a reason; success of a
 *       read is exactly one accepted set_token of a handle that was
 *       registered with the masker first, and in marker mode its bytes
 *       are the marker; success of a login leaves a masked v->token (the
 *       marker in marker mode) and token_from_login set;
 *   V5  secret handles: none used after it was freed or handed to the
 *       host, none freed twice, none left over (the host owns what
 *       set_token got, also when it fails);
 *   V6  preflight: the version is 1 or 2, a known mount is kept, and the
 *       read path built from the answer stays inside vault_path: it is
 *       vault_path itself (v1) or vault_path with "/data" inserted after
 *       one of its '/' (v2), plus "?version=N" when pinned.
 * Findings F4-F7 (tests/fuzz/README.md; inputs in corpus/vault/found_*):
 * Vault's text reached reasons and the log raw, unbounded and cut inside
 * characters, and a refused set_token left no reason; the parser now
 * cleans and caps all server text (vault_text_clean).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dbroker/errors.h"
#include "fuzz_common.h"
#include "vault_internal.h"

#define REASON_MAX 512 /* DBR_REASON_MAX of src/chain_internal.h */
#define MAX_HANDLES 8
/* letters and digits only: no punctuation the parser or a format adds */
#define MARKER "Fz9QmK2xLw7TbR4pN8vYc3JdS6hAq1Ze"
#define MARKER_PART 8 /* a shorter piece is not a secret (the masker's floor) */

enum { H_FREE = 0, H_LIVE, H_HOST };

/* The double's secret handle: plain heap, so ASan sees misuse too. */
struct dbr_secret {
	int state;
	int masked;
	size_t len;
	char *bytes;
};

/* The double's per-provider context. */
struct dbr_host {
	struct dbr_secret *handles[MAX_HANDLES];
	size_t n_handles;
	unsigned faults;
	const char *tf, *hf;
	const char *marker; /* NULL outside marker mode */
	struct dbr_secret *token; /* accepted by set_token */
	int n_set_token;
	int reasons;
	char *host_url;
};

static struct dbr_host g_host;
static int g_verbose; /* DBR_FUZZ_VERBOSE=1: print every message (replays) */

static struct dbr_secret *handle_check(const struct dbr_secret *s, const char *op)
{
	for (size_t i = 0; i < g_host.n_handles; i++)
		if (g_host.handles[i] == s) {
			if (s->state == H_FREE)
				fuzz_fail("V5: %s of a freed handle", op);
			if (s->state == H_HOST)
				fuzz_fail("V5: %s of a handle the host took over", op);
			return g_host.handles[i];
		}
	fuzz_fail("V5: %s of a handle the host never made", op);
}

/* 1 when s holds MARKER_PART or more consecutive bytes of MARKER. */
static int marker_part_in(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + MARKER_PART <= sizeof(MARKER) - 1; i++)
		if (memmem(s, n, &MARKER[i], MARKER_PART))
			return 1;
	return 0;
}

__attribute__((format(printf, 2, 0)))
static void check_text(const char *kind, const char *fmt, va_list ap)
{
	static char buf[1 << 20];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	const char *why;
	size_t at;

	if (n < 0 || (size_t)n >= sizeof(buf))
		fuzz_fail("V1: %s could not be formatted (%d)", kind, n);
	if (strlen(buf) != (size_t)n)
		fuzz_fail("V1: %s is not one C string", kind);
	if (n > REASON_MAX - 1)
		fuzz_fail("V1: %s is %d bytes (host buffer %d): \"%.200s...\"", kind, n,
			  REASON_MAX, buf);
	why = fuzz_text_problem((const unsigned char *)buf, (size_t)n, &at);
	if (why)
		fuzz_fail("V2: %s %s (at byte %zu): \"%s\"", kind, why, at, buf);
	if (g_host.marker && marker_part_in(buf))
		fuzz_fail("V3: %s shows (part of) the secret value: \"%s\"", kind, buf);
	if (g_verbose)
		fprintf(stderr, "%s: %s\n", kind, buf);
}

static int d_secret_new(const void *bytes, size_t len, struct dbr_secret **out)
{
	struct dbr_secret *s;

	*out = NULL;
	if (g_host.faults & 1)
		return DBR_E_NOMEM;
	if (g_host.n_handles == MAX_HANDLES)
		fuzz_fail("V5: more than %d secret handles in one parse", MAX_HANDLES);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->bytes = malloc(len + 1)))
		abort();
	memcpy(s->bytes, bytes, len);
	s->bytes[len] = '\0';
	s->len = len;
	s->state = H_LIVE;
	g_host.handles[g_host.n_handles++] = s;
	*out = s;
	return 0;
}

static int d_secret_alloc(size_t cap, struct dbr_secret **out)
{
	(void)cap, (void)out;
	fuzz_fail("unexpected secret_alloc in a parser");
}

static int d_secret_append(struct dbr_secret *s, const void *bytes, size_t len)
{
	(void)s, (void)bytes, (void)len;
	fuzz_fail("unexpected secret_append in a parser");
}

static void d_secret_trim(struct dbr_secret *s)
{
	handle_check(s, "secret_trim");
}

static size_t d_secret_len(const struct dbr_secret *s)
{
	return handle_check(s, "secret_len")->len;
}

static void d_secret_free(struct dbr_secret *s)
{
	if (!s)
		return;
	handle_check(s, "secret_free");
	free(s->bytes);
	s->bytes = NULL;
	s->state = H_FREE;
}

static int d_mask_secret(struct dbr_host *h, const struct dbr_secret *s)
{
	struct dbr_secret *m = handle_check(s, "mask_secret");

	if (h != &g_host)
		fuzz_fail("mask_secret with another host context");
	if (g_host.faults & 2)
		return DBR_E_NOMEM;
	if (m->len < 8)
		return DBR_E_SHORT_SECRET;
	m->masked = 1;
	return 0;
}

__attribute__((format(printf, 3, 4)))
static void d_log(struct dbr_host *h, enum dbr_log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)h, (void)level;
	va_start(ap, fmt);
	check_text("log line", fmt, ap);
	va_end(ap);
}

static int d_log_enabled(struct dbr_host *h, enum dbr_log_level level)
{
	(void)h, (void)level;
	return 1;
}

static const char *d_config_get(struct dbr_host *h, const char *key)
{
	(void)h;
	if (!strcmp(key, "vault_token_field"))
		return g_host.tf;
	if (!strcmp(key, "vault_host_field"))
		return g_host.hf;
	return NULL;
}

static const char *d_profile_name(struct dbr_host *h)
{
	(void)h;
	return "fuzz";
}

static int d_http_perform(struct dbr_host *h, const struct dbr_http_request *req,
			  struct dbr_http_response *resp, struct dbr_err *err)
{
	(void)h, (void)req, (void)resp, (void)err;
	fuzz_fail("unexpected http_perform in a parser");
}

static void d_http_release(struct dbr_http_response *resp)
{
	(void)resp;
	fuzz_fail("unexpected http_response_release in a parser");
}

static int d_set_host_url(struct dbr_host *h, const char *url)
{
	(void)h;
	if (g_host.faults & 4)
		return DBR_E_NOMEM;
	if (!url || !*url)
		return DBR_E_INVAL;
	free(g_host.host_url);
	g_host.host_url = strdup(url);
	if (!g_host.host_url)
		abort();
	return 0;
}

static int d_set_token(struct dbr_host *h, struct dbr_secret *token)
{
	struct dbr_secret *t;

	(void)h;
	if (!token)
		return DBR_E_INVAL;
	t = handle_check(token, "set_token");
	if (!t->masked)
		fuzz_fail("V4: set_token of a handle not registered with the masker");
	t->state = H_HOST; /* taken over, also on failure */
	g_host.n_set_token++;
	if (g_host.faults & 8)
		return DBR_E_NOMEM;
	g_host.token = t;
	return 0;
}

/* ABI 1.4: a client secret is checked like a token (masked first). */
static int d_set_client(struct dbr_host *h, const char *id, struct dbr_secret *secret)
{
	struct dbr_secret *t;

	(void)h;
	if (!secret || !id)
		return DBR_E_INVAL;
	t = handle_check(secret, "set_client");
	if (!t->masked)
		fuzz_fail("V4: set_client of a handle not registered with the masker");
	t->state = H_HOST; /* taken over, also on failure */
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void d_set_reason(struct dbr_host *h, const char *fmt, ...)
{
	va_list ap;

	(void)h;
	va_start(ap, fmt);
	check_text("reason", fmt, ap);
	va_end(ap);
	g_host.reasons++;
}

static int d_interactive(struct dbr_host *h)
{
	(void)h;
	return 0;
}

static const struct dbr_host_services g_svc = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_host_services),
	.secret_new = d_secret_new,
	.secret_alloc = d_secret_alloc,
	.secret_append = d_secret_append,
	.secret_trim = d_secret_trim,
	.secret_len = d_secret_len,
	.secret_free = d_secret_free,
	.mask_secret = d_mask_secret,
	.log = d_log,
	.log_enabled = d_log_enabled,
	.config_get = d_config_get,
	.profile_name = d_profile_name,
	.http_perform = d_http_perform,
	.http_response_release = d_http_release,
	.set_host_url = d_set_host_url,
	.set_token = d_set_token,
	.set_reason = d_set_reason,
	.interactive = d_interactive,
	.secret_bytes = NULL,
	.set_client = d_set_client,
};

/* 1 when a piece of MARKER occurs in a key or string anywhere under n. */
static int has_marker(const cJSON *n)
{
	for (; n; n = n->next) {
		if ((n->string && marker_part_in(n->string)) ||
		    (cJSON_IsString(n) && n->valuestring && marker_part_in(n->valuestring)) ||
		    has_marker(n->child))
			return 1;
	}
	return 0;
}

/* Marker mode: the body with the token field set to MARKER, or NULL when
 * the body has no such field (or already holds the marker). */
static char *marked_body(const char *body, int mode, const char *tf)
{
	cJSON *root = cJSON_Parse(body);
	cJSON *parent = NULL, *node;
	char *out = NULL;

	if (!root || has_marker(root)) {
		cJSON_Delete(root);
		return NULL;
	}
	if (mode == 3) {
		parent = cJSON_GetObjectItemCaseSensitive(root, "auth");
		tf = "client_token";
	} else {
		parent = cJSON_GetObjectItemCaseSensitive(root, "data");
		if (mode == 2)
			parent = cJSON_IsObject(parent) ?
				cJSON_GetObjectItemCaseSensitive(parent, "data") : NULL;
	}
	node = cJSON_IsObject(parent) ? cJSON_GetObjectItemCaseSensitive(parent, tf) : NULL;
	/* replaces the first item of that name, the one the parser reads */
	if (node && cJSON_ReplaceItemInObjectCaseSensitive(parent, tf, cJSON_CreateString(MARKER)))
		out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* V6: api is full with "/data" after one of its '/' (v2) or full (v1),
 * then "?version=<pin>" when pinned. */
static void check_api_path(const char *full, int version, long pin, const char *api)
{
	char suffix[32] = "";
	size_t fl = strlen(full), al = strlen(api), sl;
	int ok = 0;

	if (pin)
		snprintf(suffix, sizeof(suffix), "?version=%ld", pin);
	sl = strlen(suffix);
	if (version == 1) {
		ok = !strcmp(api, full);
	} else if (al == fl + 5 + sl && !strcmp(api + fl + 5, suffix)) {
		for (size_t k = 1; k < fl && !ok; k++)
			ok = full[k] == '/' && !memcmp(api, full, k) &&
			     !memcmp(api + k, "/data", 5) && !memcmp(api + k + 5, full + k, fl - k);
	}
	if (!ok)
		fuzz_fail("V6: KV v%d read path '%s' for vault_path '%s' (pin %ld)", version, api,
			  full, pin);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	g_verbose = getenv("DBR_FUZZ_VERBOSE") && *getenv("DBR_FUZZ_VERBOSE") == '1';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[16] = {
		200, 200, 200, 200, 404, 404, 403, 400, 412, 429, 500, 501, 502, 503, 204, 307,
	};
	static const char *const fields[4] = { NULL, "", "pat", "token" };
	static const char *const hfields[4] = { NULL, "", "workspace", "host" };
	static const char *const mounts[4] = { "", "secret", "kv", "secret/team" };
	static const char *const paths[4] = { "secret/db", "secret/team/db", "kv/db", "secret" };
	static const long pins[4] = { 0, 1, 7, 1L << 30 };
	struct fuzz_in in = { data, size };
	struct vault v;
	struct vault_reply r;
	uint8_t b0, b1, b2;
	char *body, *marked = NULL, mount[VAULT_PATH_MAX], loc[128];
	const char *full;
	int mode, rc = 0, version = 0;
	long pin;

	if (!fuzz_byte(&in, &b0) || !fuzz_byte(&in, &b1) || !fuzz_byte(&in, &b2))
		return 0;
	mode = (b0 & 7) % 5;
	memset(&g_host, 0, sizeof(g_host));
	g_host.tf = fields[b1 >> 4 & 3];
	g_host.hf = hfields[b1 >> 6 & 3];
	g_host.faults = b2 & 15;
	full = paths[b2 >> 4 & 3];
	pin = pins[b2 >> 6 & 3];
	if (pin)
		snprintf(loc, sizeof(loc), "%s' version '%ld", full, pin);
	else
		snprintf(loc, sizeof(loc), "%s", full);

	memset(&v, 0, sizeof(v));
	v.svc = &g_svc;
	v.h = &g_host;
	v.addr = (char *)"https://vault.example.test:8200";
	v.addr_origin = "VAULT_ADDR";
	/* what vault_auth() set before any KV call; only an error status
	 * alone can meet none */
	v.token_origin = mode == 3 ? "AppRole login" :
			 mode == 4 && (b0 & 0x80) ? NULL : "VAULT_TOKEN";
	v.max_retries = 2;

	body = malloc(in.n + 1);
	if (!body)
		abort();
	memcpy(body, in.p, in.n);
	body[in.n] = '\0';
	if ((b0 & 0x40) && (mode == 1 || mode == 2 || mode == 3)) {
		marked = marked_body(body, mode, g_host.tf && *g_host.tf ? g_host.tf : "token");
		if (marked)
			g_host.marker = MARKER;
	}
	memset(&r, 0, sizeof(r));
	r.status = statuses[b1 & 15];
	r.resp.status = r.status;
	r.resp.retry_after_s = -1;
	r.resp.body = marked ? marked : (b0 & 0x20) ? NULL : body;
	r.resp.body_len = marked ? strlen(marked) : (b0 & 0x20) ? 0 : in.n;

	switch (mode) {
	case 0: {
		const char *known = mounts[b0 >> 3 & 3];
		char api[2 * VAULT_PATH_MAX + 64];

		snprintf(mount, sizeof(mount), "%s", known);
		rc = vault_parse_preflight(&v, &r, full, &version, mount, sizeof(mount));
		if (rc)
			break;
		if (version != 1 && version != 2)
			fuzz_fail("V6: preflight gave KV version %d", version);
		if (*known && strcmp(mount, known))
			fuzz_fail("V6: the known mount '%s' became '%s'", known, mount);
		if (strnlen(mount, sizeof(mount)) == sizeof(mount))
			fuzz_fail("V6: mount not NUL-terminated");
		rc = vault_kv_api_path(&v, full, version, pin, mount, sizeof(mount), api,
				       sizeof(api));
		if (rc == 0)
			check_api_path(full, version, pin, api);
		else if (rc != DBR_E_CONFIG)
			fuzz_fail("V4: read path error %d is not DBR_E_CONFIG", rc);
		break;
	}
	case 1:
	case 2:
		rc = vault_parse_read(&v, &r, mode, loc);
		if (rc == 0 && (g_host.n_set_token != 1 || !g_host.token))
			fuzz_fail("V4: read succeeded with %d set_token calls, token %s",
				  g_host.n_set_token, g_host.token ? "accepted" : "none");
		if (rc == 0 && g_host.marker && strcmp(g_host.token->bytes, MARKER))
			fuzz_fail("V4: the token taken is not the token field's value");
		if (rc != 0 && g_host.token)
			fuzz_fail("V4: read failed (%d) after set_token was accepted", rc);
		break;
	case 3:
		rc = vault_parse_login(&v, &r, "db-broker-role", "secret-id");
		if (rc == 0 && (!v.token || !v.token_from_login || !v.token->masked ||
				v.token->state != H_LIVE))
			fuzz_fail("V4: login succeeded without a masked, live token");
		if (rc == 0 && g_host.marker && strcmp(v.token->bytes, MARKER))
			fuzz_fail("V4: the Vault token taken is not auth.client_token");
		if (rc != 0 && v.token)
			fuzz_fail("V4: login failed (%d) but left a token", rc);
		break;
	default:
		rc = vault_status_error(&v, &r, "reading 'secret/db'");
		if (rc == 0)
			fuzz_fail("V4: an error status gave 0");
		break;
	}
	if (rc > 0 || (rc && !g_host.reasons))
		fuzz_fail("V4: rc %d with %d reasons", rc, g_host.reasons);
	if (mode != 3 && v.token)
		fuzz_fail("V4: a KV parse set the Vault token");
	if (v.token)
		d_secret_free(v.token);
	for (size_t i = 0; i < g_host.n_handles; i++) {
		struct dbr_secret *s = g_host.handles[i];

		if (s->state == H_LIVE)
			fuzz_fail("V5: secret handle %zu left over (masked %d)", i, s->masked);
		free(s->bytes);
		free(s);
	}
	free(g_host.host_url);
	cJSON_free(marked);
	free(body);
	return 0;
}
