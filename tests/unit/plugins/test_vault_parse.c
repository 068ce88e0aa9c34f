/* The Vault plugin's answer parsers (plugins/vault/vault_parse.c, compiled
 * in) with a minimal host-services double: server text reaches a reason
 * only cleaned and bounded, a mount named by the preflight cannot move the
 * read, and every failure has a reason. Regressions of fuzz_vault's
 * findings (tests/fuzz/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault_internal.h"

#define REASON_MAX 512 /* the host's reason buffer */

struct dbr_secret {
	size_t len;
};

struct dbr_host {
	char reason[4096];
	int reason_len; /* untruncated */
	int set_token_rc;
	int live;       /* secret handles not freed or handed over */
	int tokens;     /* set_token calls */
	char client_id[64]; /* the last set_client's */
};

static struct dbr_host host;

static int t_secret_new(const void *bytes, size_t len, struct dbr_secret **out)
{
	(void)bytes;
	*out = calloc(1, sizeof(**out));
	assert_non_null(*out);
	(*out)->len = len;
	host.live++;
	return 0;
}

static void t_secret_trim(struct dbr_secret *s)
{
	(void)s;
}

static void t_secret_free(struct dbr_secret *s)
{
	if (s)
		host.live--;
	free(s);
}

static int t_mask_secret(struct dbr_host *h, const struct dbr_secret *s)
{
	(void)h;
	return s->len < 8 ? DBR_E_SHORT_SECRET : 0;
}

static void t_log(struct dbr_host *h, enum dbr_log_level level, const char *fmt, ...)
{
	(void)h, (void)level, (void)fmt;
}

static const char *t_config_get(struct dbr_host *h, const char *key)
{
	(void)h, (void)key;
	return NULL;
}

static int t_set_host_url(struct dbr_host *h, const char *url)
{
	(void)h, (void)url;
	return 0;
}

static int t_set_token(struct dbr_host *h, struct dbr_secret *token)
{
	(void)h;
	t_secret_free(token); /* taken over, also on failure */
	host.tokens++;
	return host.set_token_rc;
}

static int t_set_client(struct dbr_host *h, const char *id, struct dbr_secret *secret)
{
	(void)h;
	t_secret_free(secret); /* taken over, also on failure */
	if (strchr(id, ':'))
		return DBR_E_INVAL;
	snprintf(host.client_id, sizeof(host.client_id), "%s", id);
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void t_set_reason(struct dbr_host *h, const char *fmt, ...)
{
	va_list ap;

	(void)h;
	va_start(ap, fmt);
	host.reason_len = vsnprintf(host.reason, sizeof(host.reason), fmt, ap);
	va_end(ap);
}

static const struct dbr_host_services svc = {
	.abi_major = DBR_PROVIDER_ABI_MAJOR,
	.abi_minor = DBR_PROVIDER_ABI_MINOR,
	.struct_size = sizeof(struct dbr_host_services),
	.secret_new = t_secret_new,
	.secret_trim = t_secret_trim,
	.secret_free = t_secret_free,
	.mask_secret = t_mask_secret,
	.log = t_log,
	.config_get = t_config_get,
	.set_host_url = t_set_host_url,
	.set_token = t_set_token,
	.set_reason = t_set_reason,
	.set_client = t_set_client,
};

/* The same host before ABI 1.4: no set_client. */
static const struct dbr_host_services svc13 = {
	.abi_major = 1,
	.abi_minor = 3,
	.struct_size = offsetof(struct dbr_host_services, set_client),
	.secret_new = t_secret_new,
	.secret_trim = t_secret_trim,
	.secret_free = t_secret_free,
	.mask_secret = t_mask_secret,
	.log = t_log,
	.config_get = t_config_get,
	.set_host_url = t_set_host_url,
	.set_token = t_set_token,
	.set_reason = t_set_reason,
};

static struct vault vault_for_test(void)
{
	struct vault v;

	memset(&v, 0, sizeof(v));
	memset(&host, 0, sizeof(host));
	v.svc = &svc;
	v.h = &host;
	v.addr = (char *)"https://vault.test:8200";
	v.token_origin = "VAULT_TOKEN";
	v.max_retries = 2;
	return v;
}

static struct vault_reply reply(long status, const char *body)
{
	struct vault_reply r = { status, DBR_HTTP_RESPONSE_INIT };

	r.resp.status = status;
	r.resp.body = (char *)body;
	r.resp.body_len = strlen(body);
	return r;
}

/* The reason fits the host's buffer and is clean text: cleaning it again
 * changes nothing. */
static void assert_reason_clean(void)
{
	char again[REASON_MAX];

	assert_true(host.reason_len > 0 && host.reason_len < REASON_MAX);
	vault_text_clean(host.reason, again, sizeof(again));
	assert_string_equal(again, host.reason);
}

static void test_text_clean(void **state)
{
	static const struct {
		const char *in;
		size_t cap;
		const char *want;
	} rows[] = {
		{ "plain text", 64, "plain text" },
		{ "\n\tlead\r\n\tand\x1b[31m trail\n\n", 64, "lead and [31m trail" },
		{ "bad \xff\xfe \xc0\xaf \xed\xa0\x80 cut \xe2\x82", 64, "bad ?? ?? ??? cut ??" },
		{ "C1 \xc2\x9b bidi \xe2\x80\xae iso \xe2\x81\xa6 sep \xe2\x80\xa8 ok \xc3\xa9", 64,
		  "C1 ? bidi ? iso ? sep ? ok \xc3\xa9" },
		{ "0123456789", 11, "0123456789" },
		{ "0123456789", 10, "012345..." },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 9, "\xc3\xa9\xc3\xa9..." },
		{ "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 8, "\xe2\x82\xac..." },
		{ "abcdef", 3, "" },
		{ "", 8, "" },
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = vault_text_clean(rows[i].in, out, rows[i].cap);

		assert_string_equal(out, rows[i].want);
		assert_int_equal(n, strlen(rows[i].want));
	}
	assert_int_equal(vault_text_clean(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_errors_cleaned_and_bounded(void **state)
{
	struct vault v = vault_for_test();
	char body[4096];
	struct vault_reply r;

	(void)state;
	r = reply(500, "{\"errors\":[\"\\u001b]0;x\\u0007\\u001b[2Jfake\\u2028line\"]}");
	assert_int_equal(vault_status_error(&v, &r, "reading 'secret/db'"), DBR_E_API);
	assert_reason_clean();
	assert_non_null(strstr(host.reason, "]0;x [2Jfake?line"));
	/* a long message of two-byte characters is cut between characters */
	snprintf(body, sizeof(body), "{\"errors\":[\"%0*d\\u00e9\\u00e9\\u00e9\"]}", 252, 0);
	r = reply(503, body);
	vault_status_error(&v, &r, "reading 'secret/db'");
	assert_reason_clean();
	assert_non_null(strstr(host.reason, "0..."));
}

static void test_warnings_and_names_bounded(void **state)
{
	struct vault v = vault_for_test();
	char body[8192];
	size_t n;
	struct vault_reply r;

	(void)state;
	n = (size_t)snprintf(body, sizeof(body), "{\"warnings\":[\"%03000d\"]}", 7);
	assert_true(n < sizeof(body));
	r = reply(404, body);
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/db"), DBR_E_PROVIDER);
	assert_reason_clean();
	assert_non_null(strstr(host.reason, "000... (if the mount is KV v2"));
	n = (size_t)snprintf(body, sizeof(body), "{\"data\":{\"data\":{");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"field_%02d\\u001b\":1",
				      i ? "," : "", i);
	snprintf(body + n, sizeof(body) - n, "}}}");
	r = reply(200, body);
	assert_int_equal(vault_parse_read(&v, &r, 2, "secret/db"), DBR_E_PROVIDER);
	assert_reason_clean();
	assert_non_null(strstr(host.reason, "'field_00', 'field_01'"));
	assert_non_null(strstr(host.reason, ", ...); set vault_token_field"));
	assert_int_equal(host.live, 0);
}

static void test_set_token_failure_has_reason(void **state)
{
	struct vault v = vault_for_test();
	struct vault_reply r = reply(200, "{\"data\":{\"token\":\"dapi0123456789abcdef\"}}");

	(void)state;
	host.set_token_rc = DBR_E_NOMEM;
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/db"), DBR_E_NOMEM);
	assert_non_null(strstr(host.reason, "cannot hand over the token"));
	assert_null(strstr(host.reason, "dapi0123456789abcdef"));
	assert_int_equal(host.live, 0);
}

/* A service principal in the KV secret: client_id + client_secret. */
static void test_client_fields(void **state)
{
	struct vault v = vault_for_test();
	struct vault_reply r = reply(200, "{\"data\":{\"client_id\":\"sp-1\","
				     "\"client_secret\":\"dose0123456789abcdef\"}}");

	(void)state;
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/sp"), 0);
	assert_string_equal(host.client_id, "sp-1");
	assert_int_equal(host.tokens, 0);
	assert_non_null(strstr(host.reason, "fields 'client_id' and 'client_secret'"));
	assert_int_equal(host.live, 0);

	v = vault_for_test();
	r = reply(200, "{\"data\":{\"client_secret\":\"dose0123456789abcdef\"}}");
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/sp"), DBR_E_PROVIDER);
	assert_non_null(strstr(host.reason, "no client id field 'client_id'"));
	assert_null(strstr(host.reason, "dose0123456789abcdef"));
	assert_int_equal(host.live, 0);

	v = vault_for_test();
	r = reply(200, "{\"data\":{\"client_id\":\"a:b\",\"client_secret\":"
		  "\"dose0123456789abcdef\"}}");
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/sp"), DBR_E_INVAL);
	assert_non_null(strstr(host.reason, "without spaces or ':'"));
	assert_int_equal(host.live, 0);

	/* both: handed over together; the chain decides by auth type */
	v = vault_for_test();
	r = reply(200, "{\"data\":{\"token\":\"dapi0123456789abcdef\",\"client_id\":\"sp\","
		  "\"client_secret\":\"dose0123456789abcdef\"}}");
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/sp"), 0);
	assert_int_equal(host.tokens, 1);
	assert_string_equal(host.client_id, "sp");
	assert_int_equal(host.live, 0);

	/* a host before ABI 1.4 cannot take a client: said, not crashed */
	v = vault_for_test();
	v.svc = &svc13;
	r = reply(200, "{\"data\":{\"client_id\":\"sp\",\"client_secret\":"
		  "\"dose0123456789abcdef\"}}");
	assert_int_equal(vault_parse_read(&v, &r, 1, "kv/sp"), DBR_E_PLUGIN_ABI);
	assert_non_null(strstr(host.reason, "too old for OAuth client secrets"));
	assert_int_equal(host.live, 0);
}

static void test_preflight_mount_stays_in_path(void **state)
{
	struct vault v = vault_for_test();
	char mount[VAULT_PATH_MAX] = "", api[256];
	int version = 0;
	struct vault_reply r = reply(200, "{\"data\":{\"options\":{\"version\":\"2\"},"
					  "\"path\":\"sys/\\u001b[2J\"}}");

	(void)state;
	assert_int_equal(vault_parse_preflight(&v, &r, "secret/db", &version, mount,
					       sizeof(mount)), 0);
	assert_int_equal(version, 2);
	assert_int_equal(vault_kv_api_path(&v, "secret/db", version, 0, mount, sizeof(mount),
					   api, sizeof(api)), DBR_E_CONFIG);
	assert_reason_clean();
	mount[0] = '\0';
	r = reply(200, "{\"data\":{\"options\":{\"version\":\"2\"},\"path\":\"secret/\"}}");
	assert_int_equal(vault_parse_preflight(&v, &r, "secret/db", &version, mount,
					       sizeof(mount)), 0);
	assert_int_equal(vault_kv_api_path(&v, "secret/db", version, 3, mount, sizeof(mount),
					   api, sizeof(api)), 0);
	assert_string_equal(api, "secret/data/db?version=3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_errors_cleaned_and_bounded),
		cmocka_unit_test(test_warnings_and_names_bounded),
		cmocka_unit_test(test_set_token_failure_has_reason),
		cmocka_unit_test(test_preflight_mount_stays_in_path),
		cmocka_unit_test(test_client_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
