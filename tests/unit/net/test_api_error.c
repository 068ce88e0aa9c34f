/* dbr_api_error_parse over every format Databricks answers with, and over
 * garbage: truncation, huge inputs, invalid UTF-8, control characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dbroker/request.h"

/* Every field is NUL-terminated within its buffer, one line, valid UTF-8,
 * without control characters. */
static void assert_clean_field(const char *s, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, cap);

	assert_true(n < cap);
	for (size_t i = 0; i < n;) {
		size_t len = p[i] < 0x80 ? 1 : (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3
			   : (p[i] & 0xF8) == 0xF0 ? 4 : 0;

		assert_true(len > 0);
		assert_true(i + len <= n);
		assert_false(p[i] < 0x20 || p[i] == 0x7f);
		for (size_t k = 1; k < len; k++)
			assert_int_equal(p[i + k] & 0xC0, 0x80);
		i += len;
	}
	/* trimmed */
	if (n) {
		assert_true(s[0] != ' ');
		assert_true(s[n - 1] != ' ');
	}
}

static void assert_clean(const struct dbr_api_error *e)
{
	assert_clean_field(e->code, sizeof(e->code));
	assert_clean_field(e->message, sizeof(e->message));
	assert_clean_field(e->request_id, sizeof(e->request_id));
	assert_true(e->message[0] != '\0');
	for (const char *c = e->code; *c; c++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789_.-", *c));
}

struct row {
	long status;
	const char *content_type;
	const char *body;
	const char *request_id;
	const char *code;
	const char *message;
	const char *want_request_id;
};

static const struct row rows[] = {
	/* the standard shape */
	{ 400, "application/json",
	  "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"Cluster 1 does not exist\"}",
	  "rid-1", "INVALID_PARAMETER_VALUE", "Cluster 1 does not exist", "rid-1" },
	{ 403, "application/json; charset=utf-8",
	  "  {\"error_code\": \"PERMISSION_DENIED\", \"message\": \"Invalid access token.\","
	  " \"details\": []}\n", NULL, "PERMISSION_DENIED", "Invalid access token.", "" },
	/* type not announced: recognised by shape */
	{ 429, NULL, "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"slow down\"}", NULL,
	  "REQUEST_LIMIT_EXCEEDED", "slow down", "" },
	{ 429, "text/plain", "{\"error_code\":\"REQUEST_LIMIT_EXCEEDED\",\"message\":\"x\"}", NULL,
	  "REQUEST_LIMIT_EXCEEDED", "x", "" },
	/* legacy integer error_code */
	{ 400, "application/json", "{\"error_code\": 1234, \"message\": \"legacy\"}", NULL, "1234",
	  "legacy", "" },
	{ 400, "application/json", "{\"error_code\": -7.5, \"message\": \"odd\"}", NULL, "-7.5",
	  "odd", "" },
	/* details: ErrorInfo reason and RequestInfo request id */
	{ 404, "application/json",
	  "{\"message\":\"no such thing\",\"details\":[{\"@type\":\"type.googleapis.com/"
	  "google.rpc.ErrorInfo\",\"reason\":\"RESOURCE_DOES_NOT_EXIST\",\"domain\":\"x\"},"
	  "{\"@type\":\"type.googleapis.com/google.rpc.RequestInfo\",\"request_id\":\"req-9\","
	  "\"serving_data\":\"\"}]}", NULL, "RESOURCE_DOES_NOT_EXIST", "no such thing", "req-9" },
	/* the header's request id wins over the body's */
	{ 404, "application/json",
	  "{\"error_code\":\"E\",\"message\":\"m\",\"details\":[{\"@type\":\"type.googleapis.com/"
	  "google.rpc.RequestInfo\",\"request_id\":\"body-id\"}]}", "header-id", "E", "m",
	  "header-id" },
	/* API 1.2: {"error": "..."}; it wins over "message" as in the SDKs */
	{ 400, "application/json", "{\"error\": \"java.lang.Exception: bad\"}", NULL, "",
	  "java.lang.Exception: bad", "" },
	{ 400, "application/json", "{\"error\": \"from error\", \"message\": \"from message\"}",
	  NULL, "", "from error", "" },
	/* {"error": {...}} */
	{ 403, "application/json",
	  "{\"error\": {\"code\": 403, \"message\": \"denied\", \"status\": \"PERMISSION_DENIED\"}}",
	  NULL, "PERMISSION_DENIED", "denied", "" },
	{ 400, "application/json",
	  "{\"error\": {\"error_code\": \"BAD_REQUEST\", \"message\": \"nested\"}}", NULL,
	  "BAD_REQUEST", "nested", "" },
	{ 400, "application/json", "{\"error\": {\"code\": \"QUOTA\", \"message\": \"q\"}}", NULL,
	  "QUOTA", "q", "" },
	{ 502, "application/json", "{\"error\": {\"code\": 502}}", NULL, "", "Bad Gateway", "" },
	/* SCIM */
	{ 401, "application/scim+json",
	  "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"],"
	  "\"detail\":\"Token is expired\",\"status\":\"401\"}", NULL, "SCIM_401",
	  "Token is expired", "" },
	{ 409, "application/json",
	  "{\"detail\":\"User exists\",\"status\":409,\"scimType\":\"uniqueness\"}", NULL,
	  "SCIM_409", "uniqueness User exists", "" },
	{ 500, "application/json", "{\"detail\":\"null\",\"status\":\"500\"}", NULL, "SCIM_500",
	  "SCIM API Internal Error", "" },
	/* a JSON string */
	{ 400, "application/json", "\"just a string\"", NULL, "", "just a string", "" },
	/* JSON without any known field: the reason phrase */
	{ 404, "application/json", "{\"foo\": 1}", NULL, "", "Not Found", "" },
	{ 409, "application/json", "{\"error_code\": \"RESOURCE_CONFLICT\"}", NULL,
	  "RESOURCE_CONFLICT", "Conflict", "" },
	/* plain text CODE: message */
	{ 400, "text/plain", "INVALID_STATE: Cluster is terminating\n", NULL, "INVALID_STATE",
	  "Cluster is terminating", "" },
	{ 503, NULL, "TEMPORARILY_UNAVAILABLE: try later", NULL, "TEMPORARILY_UNAVAILABLE",
	  "try later", "" },
	{ 400, "text/plain", "not a code: but text", NULL, "", "not a code: but text", "" },
	{ 400, "text/plain", "Bad Request", NULL, "", "Bad Request", "" },
	{ 400, "text/plain", "E_1:no space", NULL, "", "E_1:no space", "" },
	{ 400, "text/plain", "123: digits only", NULL, "", "123: digits only", "" },
	{ 500, "text/plain", "line one\r\nline two\n\tthree", NULL, "", "line one line two three",
	  "" },
	/* invalid JSON falls back to text */
	{ 400, "application/json", "{\"error_code\": \"X\", \"message\": ", NULL, "",
	  "{\"error_code\": \"X\", \"message\":", "" },
	/* HTML pages */
	{ 502, "text/html",
	  "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", NULL, "",
	  "502 Bad Gateway", "" },
	{ 404, NULL,
	  "\n<!DOCTYPE html><HTML><HEAD><TITLE>Error 404 &amp; &lt;gone&gt;</TITLE>", NULL, "",
	  "Error 404 & <gone>", "" },
	{ 400, "text/html;charset=ISO-8859-1",
	  "<html><body><h2>HTTP ERROR 400</h2><p>Problem accessing /api/2.0/x. Reason:"
	  "<pre>    Bad Request</pre></p></body></html>", NULL, "", "Bad Request", "" },
	{ 503, "text/html", "<html><body>down for maintenance</body></html>", NULL, "",
	  "HTML error page", "" },
	{ 503, "text/html", "<html><title>  </title><body>x</body></html>", NULL, "",
	  "HTML error page", "" },
	{ 500, "text/html", "<html><title>a <b>bold</b> title</title>", NULL, "",
	  "a bold title", "" },
	{ 500, "text/html", "<html><title>never closed", NULL, "", "HTML error page", "" },
	/* empty bodies: the reason phrase */
	{ 429, "application/json", "", NULL, "", "Too Many Requests", "" },
	{ 503, NULL, " \r\n\t ", "r", "", "Service Unavailable", "r" },
	{ 418, NULL, "", NULL, "", "HTTP status 418", "" },
	{ 0, NULL, NULL, NULL, "", "no answer", "" },
	/* codes keep to a safe alphabet */
	{ 400, "application/json", "{\"error_code\": \"BAD CODE\\n<x>\", \"message\": \"m\"}",
	  NULL, "BAD_CODE__x_", "m", "" },
	/* escape sequences are shown escaped (the one sanitizer), line breaks
	 * become spaces */
	{ 400, "application/json", "{\"message\": \"a\\u001b[31mred\\u0000b\\r\\nc\"}", NULL, "",
	  "a\\x1b[31mred", "" },
	{ 400, "application/json", "{\"message\": \"a\\u001b[31mred\\r\\nc\"}", NULL, "",
	  "a\\x1b[31mred c", "" },
	/* bidirectional overrides are escaped */
	{ 400, "text/plain", "evil \xe2\x80\xae" "txt.exe", NULL, "", "evil \\u202etxt.exe", "" },
	/* valid UTF-8 is kept */
	{ 400, "text/plain", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", NULL, "",
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "" },
	/* invalid UTF-8 is escaped byte by byte */
	{ 400, "text/plain", "a\xff" "b\xc3" "c\xe2\x82" "d\xc0\xaf" "e\xed\xa0\x80", NULL, "",
	  "a\\xffb\\xc3c\\xe2\\x82d\\xc0\\xafe\\xed\\xa0\\x80", "" },
	/* request ids are cleaned too */
	{ 400, NULL, "", "id\nwith\tbreaks", "", "Bad Request", "id with breaks" },
};

static void test_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct dbr_api_error e;

		memset(&e, 0x55, sizeof(e));
		dbr_api_error_parse(r->status, r->content_type, r->body, r->body ? strlen(r->body) : 0,
				    r->request_id, &e);
		if (strcmp(e.code, r->code) || strcmp(e.message, r->message) ||
		    strcmp(e.request_id, r->want_request_id))
			print_message("row %zu: code '%s' message '%s' request id '%s'\n", i, e.code,
				      e.message, e.request_id);
		assert_int_equal(e.status, r->status);
		assert_string_equal(e.code, r->code);
		assert_string_equal(e.message, r->message);
		assert_string_equal(e.request_id, r->want_request_id);
		assert_clean(&e);
	}
}

static void test_length_not_nul(void **state)
{
	static const char body[] = "{\"error_code\":\"A\",\"message\":\"b\"}TRAILING";
	struct dbr_api_error e;

	(void)state;
	/* only len bytes are read: the JSON object without what follows */
	dbr_api_error_parse(400, NULL, body, strlen(body) - strlen("TRAILING"), NULL, &e);
	assert_string_equal(e.code, "A");
	assert_string_equal(e.message, "b");
	/* a body cut short, not NUL-terminated, in an exact-size heap block */
	{
		const char text[] = "INVALID_STATE: cut here";
		size_t n = strlen(text);
		char *p = malloc(n);

		assert_non_null(p);
		memcpy(p, text, n);
		dbr_api_error_parse(400, NULL, p, n - 5, NULL, &e);
		assert_string_equal(e.code, "INVALID_STATE");
		assert_string_equal(e.message, "cut");
		free(p);
	}
	/* NUL bytes inside */
	dbr_api_error_parse(400, NULL, "a\0b", 3, NULL, &e);
	assert_string_equal(e.message, "a\\x00b");
	/* len 0 with a body, NULL body with a length */
	dbr_api_error_parse(404, NULL, "ignored", 0, NULL, &e);
	assert_string_equal(e.message, "Not Found");
	dbr_api_error_parse(404, NULL, NULL, 100, NULL, &e);
	assert_string_equal(e.message, "Not Found");
	/* NULL out is a no-op */
	dbr_api_error_parse(404, NULL, "x", 1, NULL, NULL);
}

static char *repeat(const char *prefix, char ch, size_t n, const char *suffix, size_t *len)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	char *p = malloc(a + n + b + 1);

	assert_non_null(p);
	memcpy(p, prefix, a);
	memset(p + a, ch, n);
	memcpy(p + a + n, suffix, b + 1);
	*len = a + n + b;
	return p;
}

static void test_truncation(void **state)
{
	struct dbr_api_error e;
	size_t len;
	char *p;

	(void)state;
	/* a long message is cut with "..." */
	p = repeat("{\"error_code\":\"E\",\"message\":\"", 'm', 5000, "\"}", &len);
	dbr_api_error_parse(400, "application/json", p, len, NULL, &e);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	assert_memory_equal(e.message + sizeof(e.message) - 4, "...", 3);
	assert_clean(&e);
	free(p);

	/* ... never inside a multi-byte character */
	for (size_t shift = 0; shift < 4; shift++) {
		char *q;

		len = shift + 3 * 600;
		q = malloc(len + 1);
		assert_non_null(q);
		memset(q, 'a', shift);
		for (size_t i = 0; i < 600; i++)
			memcpy(q + shift + 3 * i, "\xe2\x82\xac", 3);
		q[len] = '\0';
		dbr_api_error_parse(400, "text/plain", q, len, NULL, &e);
		assert_clean(&e);
		assert_non_null(strstr(e.message, "..."));
		free(q);
	}

	/* a long code and request id are cut */
	p = repeat("{\"error_code\":\"", 'C', 500, "\",\"message\":\"m\"}", &len);
	dbr_api_error_parse(400, NULL, p, len, NULL, &e);
	assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
	assert_clean(&e);
	free(p);
	p = repeat("", 'r', 1000, "", &len);
	dbr_api_error_parse(400, NULL, "", 0, p, &e);
	assert_true(strlen(e.request_id) < sizeof(e.request_id));
	assert_clean(&e);
	free(p);

	/* text CODE longer than the code field: all of it is message */
	p = repeat("", 'A', 100, ": msg", &len);
	dbr_api_error_parse(400, NULL, p, len, NULL, &e);
	assert_string_equal(e.code, "");
	assert_clean(&e);
	free(p);

	/* a long HTML title */
	p = repeat("<html><title>", 't', 5000, "</title></html>", &len);
	dbr_api_error_parse(502, "text/html", p, len, NULL, &e);
	assert_clean(&e);
	assert_non_null(strstr(e.message, "..."));
	free(p);

	/* trailing whitespace at the cut is no cut */
	p = repeat("", 'w', sizeof(e.message) - 1, "     \n\n  ", &len);
	dbr_api_error_parse(400, NULL, p, len, NULL, &e);
	assert_int_equal(strlen(e.message), sizeof(e.message) - 1);
	assert_null(strstr(e.message, "..."));
	free(p);
}

static void test_huge_inputs(void **state)
{
	size_t len;
	char *p;
	struct dbr_api_error e;

	(void)state;
	/* JSON over the parse cap: read as text, quickly */
	p = repeat("{\"message\":\"", 'x', 3u * 1024 * 1024, "\"}", &len);
	dbr_api_error_parse(400, "application/json", p, len, NULL, &e);
	assert_clean(&e);
	assert_int_equal(strncmp(e.message, "{\"message\":\"xxx", 15), 0);
	free(p);

	/* deep nesting */
	p = repeat("", '[', 200000, "", &len);
	dbr_api_error_parse(400, "application/json", p, len, NULL, &e);
	assert_clean(&e);
	free(p);
	p = repeat("{\"error\":", '{', 100000, "", &len);
	dbr_api_error_parse(400, "application/json", p, len, NULL, &e);
	assert_clean(&e);
	free(p);

	/* a huge HTML page without a title */
	p = repeat("<html>", ' ', 4u * 1024 * 1024, "<title>late</title>", &len);
	dbr_api_error_parse(500, "text/html", p, len, NULL, &e);
	assert_string_equal(e.message, "HTML error page");
	free(p);

	/* a huge blank body */
	p = repeat("", ' ', 8u * 1024 * 1024, "", &len);
	dbr_api_error_parse(503, NULL, p, len, NULL, &e);
	assert_string_equal(e.message, "Service Unavailable");
	free(p);
}

static void test_garbage(void **state)
{
	static const char *const seeds[] = {
		"{\"error_code\":", "{\"error\":{\"details\":[{\"@type\":", "<html><title>",
		"<pre>", "ABC: ", "{\"detail\":", "\"", "&amp", "\xf0\x9f", "{\"message\":\"\\u",
	};
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned char buf[512];
	struct dbr_api_error e;

	(void)state;
	/* random bytes, and random bytes after each interesting prefix */
	for (int round = 0; round < 20000; round++) {
		size_t n, off = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(buf));
		if (round % 2) {
			const char *s = seeds[(x >> 20) % (sizeof(seeds) / sizeof(seeds[0]))];

			off = strlen(s) < n ? strlen(s) : n;
			memcpy(buf, s, off);
		}
		for (size_t i = off; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* half printable, half anything */
			buf[i] = (unsigned char)((x & 1) ? 0x20 + (x >> 8) % 95 : (x >> 8) & 0xff);
		}
		dbr_api_error_parse((long)(x % 600), (x & 2) ? "text/html" : NULL,
				    (const char *)buf, n, (x & 4) ? (const char *)"r" : NULL, &e);
		assert_clean(&e);
	}
}

/* Fuzz finding: a legacy integer error_code too large for an integer was
 * printed as "6.22222e+125", putting '+' into the code. */
static void test_huge_numeric_code(void **state)
{
	static const char body[] = "{\"error_code\": 0622222222222222222222222222222222222"
				   "22222222222222222222222222222222222222222222222222222222"
				   "2222222222222222222222222222222222217, \"message\": \"legacy\"}";
	struct dbr_api_error e;

	(void)state;
	dbr_api_error_parse(400, "application/json", body, sizeof(body) - 1, NULL, &e);
	assert_non_null(e.code[0] ? e.code : NULL);
	for (const char *c = e.code; *c; c++)
		assert_true((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-');
	assert_string_equal(e.message, "legacy");
	/* an ordinary legacy integer code is kept as written */
	dbr_api_error_parse(400, "application/json", "{\"error_code\": 1234}", 20, NULL, &e);
	assert_string_equal(e.code, "1234");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_length_not_nul),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_huge_inputs),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_huge_numeric_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
