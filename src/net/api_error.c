/* dbr_api_error_parse: every error format a Databricks workspace (or the
 * proxy in front of it) answers with, reduced to status, code, message and
 * request id.
 *
 * A pure function of its inputs, safe on arbitrary bytes (a fuzz target):
 * bodies are read by length, never past it, JSON only up to JSON_PARSE_MAX,
 * HTML only in its first HTML_SCAN_MAX bytes; every output field is one line
 * of valid UTF-8 without control characters, cut to its buffer.
 */
#include "dbroker/api_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "dbroker/sanitize.h"
#include "dbroker/text.h"
#include "banned.h"

#define JSON_PARSE_MAX (1024u * 1024)
#define HTML_SCAN_MAX (64u * 1024)
#define ELLIPSIS "..."

/* ---- clean copies ---------------------------------------------------------- */

/* Line breaks and the like: one space in a one-line message. */
static int line_space(unsigned cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* Copy src[0..n) into dst[cap] as one clean line: line breaks and
 * whitespace runs become one space, both ends trimmed; every other character
 * the sanitizer escapes (ESC, other controls, bidi overrides, bytes that are
 * not UTF-8) is written as its escape ("\x1b", "\u202e"), so what the
 * server tried is visible and inert. When it does not fit, it is cut where
 * no secret-like run is split (dbr_text_cut_len) and ends with "...". */
static void put_clean(char *dst, size_t cap, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	struct dbr_buf b = DBR_BUF_INIT(JSON_PARSE_MAX * 8);
	size_t i = 0, keep;

	if (!cap)
		return;
	dst[0] = '\0';
	if (!src)
		return;
	while (i < n) {
		unsigned cp = 0;
		size_t len = dbr_utf8_decode(s + i, n - i, &cp);
		char *esc = NULL;
		int rc;

		if (len && line_space(cp)) {
			rc = b.len && b.data[b.len - 1] != ' ' ? dbr_buf_addch(&b, ' ') : 0;
		} else if (len == 0 || dbr_sanitize_unsafe_cp(cp)) {
			len = len ? len : 1;
			rc = dbr_sanitize((const char *)s + i, len, DBR_SANITIZE_LINE, 0, &esc, NULL);
			if (rc == 0)
				rc = dbr_buf_addstr(&b, esc);
			free(esc);
		} else {
			rc = dbr_buf_add(&b, s + i, len);
		}
		if (rc)
			break;
		i += len;
	}
	while (b.len && b.data[b.len - 1] == ' ')
		b.len--;
	if (b.len < cap) {
		memcpy(dst, b.data ? b.data : "", b.len);
		dst[b.len] = '\0';
	} else if (cap > sizeof(ELLIPSIS)) {
		keep = dbr_text_cut_len(b.data, b.len, cap - sizeof(ELLIPSIS));
		while (keep && b.data[keep - 1] == ' ')
			keep--;
		memcpy(dst, b.data, keep);
		memcpy(dst + keep, ELLIPSIS, sizeof(ELLIPSIS));
	}
	dbr_buf_release(&b);
}

void dbr_api_text_clean(char *dst, size_t cap, const char *src, size_t n)
{
	put_clean(dst, cap, src, n);
}

/* An error code: letters, digits, '_', '.', '-' (anything else becomes
 * '_'), surrounding whitespace dropped, cut to fit. */
static void put_code(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;

	if (!cap)
		return;
	while (n && (*src == ' ' || *src == '\t'))
		src++, n--;
	while (n && (src[n - 1] == ' ' || src[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n && o < cap - 1; i++) {
		char ch = src[i];
		int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			 (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';

		dst[o++] = ok ? ch : '_';
	}
	dst[o] = '\0';
}

static void put_str(char *dst, size_t cap, const char *s)
{
	put_clean(dst, cap, s, s ? strlen(s) : 0);
}

/* ---- byte helpers ------------------------------------------------------------ */

static char lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

/* First occurrence of needle (lowercase ASCII) in hay[0..n), ignoring case. */
static const char *find_ci(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	if (k == 0 || n < k)
		return NULL;
	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;

		while (j < k && lower(hay[i + j]) == needle[j])
			j++;
		if (j == k)
			return hay + i;
	}
	return NULL;
}

static int starts_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	if (n < k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lower(s[i]) != prefix[i])
			return 0;
	return 1;
}

/* ---- reason phrases ------------------------------------------------------------ */

static const struct {
	long status;
	const char *text;
} reasons[] = {
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 406, "Not Acceptable" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 410, "Gone" },
	{ 411, "Length Required" },
	{ 412, "Precondition Failed" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
};

static void put_reason(struct dbr_api_error *out)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].status == out->status) {
			put_str(out->message, sizeof(out->message), reasons[i].text);
			return;
		}
	}
	if (out->status == 0)
		put_str(out->message, sizeof(out->message), "no answer");
	else
		snprintf(out->message, sizeof(out->message), "HTTP status %ld", out->status);
}

/* ---- JSON ---------------------------------------------------------------------- */

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring && v->valuestring[0] ? v->valuestring : NULL;
}

/* A string, or a number written as an integer when it is one. */
static int json_scalar(const cJSON *v, char *buf, size_t cap)
{
	if (cJSON_IsString(v) && v->valuestring && v->valuestring[0]) {
		put_code(buf, cap, v->valuestring, strlen(v->valuestring));
		return buf[0] != '\0';
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		char tmp[64];

		if (d == d && d > -1e15 && d < 1e15 && d == (double)(long long)d)
			snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
		else
			snprintf(tmp, sizeof(tmp), "%g", d);
		/* a code keeps code characters only ("6.2e+125" -> "6.2e_125") */
		put_code(buf, cap, tmp, strlen(tmp));
		return buf[0] != '\0';
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* details: [{"@type": ".../google.rpc.ErrorInfo", "reason"},
 *           {"@type": ".../google.rpc.RequestInfo", "request_id"}] */
static void json_details(const cJSON *details, struct dbr_api_error *out)
{
	const cJSON *d;
	int seen = 0;

	if (!cJSON_IsArray(details))
		return;
	cJSON_ArrayForEach(d, details) {
		const char *type = json_str(d, "@type"), *v;

		if (++seen > 64)
			break;
		if (!type)
			continue;
		if (ends_with(type, "google.rpc.ErrorInfo") && !out->code[0] &&
		    (v = json_str(d, "reason")))
			put_code(out->code, sizeof(out->code), v, strlen(v));
		else if (ends_with(type, "google.rpc.RequestInfo") && !out->request_id[0] &&
			 (v = json_str(d, "request_id")))
			put_str(out->request_id, sizeof(out->request_id), v);
	}
}

/* {"error": {"code", "error_code", "status", "message"}} (Google-style
 * gateways and some Databricks proxies). */
static void json_nested(const cJSON *e, struct dbr_api_error *out)
{
	static const char *const code_keys[] = { "error_code", "status", "code" };
	const char *msg = json_str(e, "message");

	for (size_t i = 0; i < 3 && !out->code[0]; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, code_keys[i]);

		/* a numeric "status" or "code" is the HTTP status again */
		if (cJSON_IsString(v) || (i == 0 && cJSON_IsNumber(v)))
			json_scalar(v, out->code, sizeof(out->code));
	}
	if (msg && !out->message[0])
		put_str(out->message, sizeof(out->message), msg);
	json_details(cJSON_GetObjectItemCaseSensitive(e, "details"), out);
}

/* SCIM (RFC 7644 section 3.7.3): {"detail", "status", "scimType"}. */
static void json_scim(const cJSON *j, struct dbr_api_error *out)
{
	const char *detail = json_str(j, "detail"), *type = json_str(j, "scimType");
	char status[32] = "", both[sizeof(out->message)];

	if (!detail || out->message[0])
		return;
	if (strcmp(detail, "null") == 0)
		detail = "SCIM API Internal Error";
	if (type) {
		snprintf(both, sizeof(both), "%s %s", type, detail);
		put_str(out->message, sizeof(out->message), both);
	} else {
		put_str(out->message, sizeof(out->message), detail);
	}
	if (!out->code[0] &&
	    json_scalar(cJSON_GetObjectItemCaseSensitive(j, "status"), status, sizeof(status)))
		snprintf(out->code, sizeof(out->code), "SCIM_%s", status);
}

/* 1 when body was JSON and out has been filled from it. */
static int parse_json(const char *body, size_t len, struct dbr_api_error *out)
{
	cJSON *j;
	const cJSON *err;
	const char *msg;

	if (len > JSON_PARSE_MAX)
		return 0;
	j = cJSON_ParseWithLength(body, len);
	if (!j)
		return 0;
	if (cJSON_IsString(j) && j->valuestring) {
		put_str(out->message, sizeof(out->message), j->valuestring);
		cJSON_Delete(j);
		return 1;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return 0;
	}
	json_scalar(cJSON_GetObjectItemCaseSensitive(j, "error_code"), out->code, sizeof(out->code));
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	/* API 1.2 put its message in "error", and it wins (as in the SDKs) */
	if (cJSON_IsString(err) && err->valuestring && err->valuestring[0])
		put_str(out->message, sizeof(out->message), err->valuestring);
	else if ((msg = json_str(j, "message")))
		put_str(out->message, sizeof(out->message), msg);
	if (cJSON_IsObject(err))
		json_nested(err, out);
	json_details(cJSON_GetObjectItemCaseSensitive(j, "details"), out);
	json_scim(j, out);
	cJSON_Delete(j);
	return 1;
}

/* ---- HTML ------------------------------------------------------------------------ */

static int looks_html(const char *content_type, const char *body, size_t len)
{
	size_t i = 0;

	if (content_type && starts_ci(content_type, strlen(content_type), "text/html"))
		return 1;
	while (i < len && is_space(body[i]))
		i++;
	return starts_ci(body + i, len - i, "<!doctype html") || starts_ci(body + i, len - i, "<html");
}

/* Decode the few entities error pages use into buf (cap bytes). */
static size_t html_text(const char *s, size_t n, char *buf, size_t cap)
{
	static const struct {
		const char *ent;
		char ch;
	} ents[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		     { "&#39;", '\'' }, { "&apos;", '\'' }, { "&nbsp;", ' ' } };
	size_t o = 0;

	for (size_t i = 0; i < n && o < cap; i++) {
		size_t k = 0;

		if (s[i] == '&') {
			for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]); e++) {
				size_t el = strlen(ents[e].ent);

				if (n - i >= el && starts_ci(s + i, el, ents[e].ent)) {
					buf[o++] = ents[e].ch;
					k = el;
					break;
				}
			}
		}
		if (k) {
			i += k - 1;
			continue;
		}
		/* drop markup inside the element, keep the text */
		if (s[i] == '<') {
			const char *gt = memchr(s + i, '>', n - i);

			if (!gt)
				break;
			i = (size_t)(gt - s);
			buf[o++] = ' ';
			continue;
		}
		buf[o++] = s[i];
	}
	return o;
}

/* Text of the first <tag ...>...</tag> in body, cleaned into out. */
static int html_element(const char *body, size_t len, const char *open, const char *close,
			char *out, size_t cap)
{
	char text[2048];
	const char *p = find_ci(body, len, open), *start, *end;
	size_t n;

	if (!p)
		return 0;
	start = memchr(p, '>', len - (size_t)(p - body));
	if (!start)
		return 0;
	start++;
	end = find_ci(start, len - (size_t)(start - body), close);
	if (!end)
		return 0;
	n = html_text(start, (size_t)(end - start), text, sizeof(text));
	put_clean(out, cap, text, n);
	return out[0] != '\0';
}

static void parse_html(const char *body, size_t len, struct dbr_api_error *out)
{
	size_t n = len < HTML_SCAN_MAX ? len : HTML_SCAN_MAX;

	if (html_element(body, n, "<title", "</title", out->message, sizeof(out->message)) ||
	    html_element(body, n, "<pre", "</pre", out->message, sizeof(out->message)))
		return;
	put_str(out->message, sizeof(out->message), "HTML error page");
}

/* ---- text ---------------------------------------------------------------------------- */

/* "CODE: message" (the code in capitals, digits and '_'), else all text. */
static void parse_text(const char *body, size_t len, struct dbr_api_error *out)
{
	size_t i = 0, k;
	int letters = 0;

	while (i < len && is_space(body[i]))
		i++;
	for (k = i; k < len && ((body[k] >= 'A' && body[k] <= 'Z') || body[k] == '_' ||
				(body[k] >= '0' && body[k] <= '9')); k++)
		letters += body[k] >= 'A' && body[k] <= 'Z';
	if (letters && k - i < sizeof(out->code) && k + 1 < len && body[k] == ':' &&
	    body[k + 1] == ' ') {
		put_code(out->code, sizeof(out->code), body + i, k - i);
		i = k + 2;
	}
	put_clean(out->message, sizeof(out->message), body + i, len - i);
}

/* ---- entry point -------------------------------------------------------------------- */

static int blank(const char *body, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_space(body[i]))
			return 0;
	return 1;
}

static int looks_json(const char *body, size_t len)
{
	size_t i = 0;

	while (i < len && is_space(body[i]))
		i++;
	return i < len && (body[i] == '{' || body[i] == '"');
}

void dbr_api_error_parse(long status, const char *content_type, const char *body, size_t len,
			 const char *request_id, struct dbr_api_error *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->status = status;
	if (request_id)
		put_str(out->request_id, sizeof(out->request_id), request_id);
	if (!body)
		len = 0;
	if (len && !blank(body, len) && !(looks_json(body, len) && parse_json(body, len, out))) {
		if (looks_html(content_type, body, len))
			parse_html(body, len, out);
		else
			parse_text(body, len, out);
	}
	if (!out->message[0])
		put_reason(out);
}
