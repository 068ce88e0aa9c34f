#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dbroker/host_url.h"
#include "dbroker/runtime.h"
#include "curl_lazy.h"

static void expect_ok(const char *in, const char *want)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *out = NULL;

	assert_int_equal(dbr_normalize_host(in, &out, &err), 0);
	assert_string_equal(out, want);
	free(out);
}

static void expect_bad(const char *in, const char *msg_part)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *out = (char *)0x1;

	assert_int_equal(dbr_normalize_host(in, &out, &err), DBR_E_INVAL);
	assert_null(out);
	if (!strstr(err.msg, msg_part))
		print_error("'%s': message '%s' lacks '%s'\n", in, err.msg, msg_part);
	assert_non_null(strstr(err.msg, msg_part));
}

static void test_normal_forms(void **state)
{
	(void)state;
	expect_ok("adb-123.4.azuredatabricks.net", "https://adb-123.4.azuredatabricks.net");
	expect_ok("https://adb-123.4.azuredatabricks.net/", "https://adb-123.4.azuredatabricks.net");
	expect_ok("HTTPS://Dbc-1.Cloud.Databricks.COM", "https://dbc-1.cloud.databricks.com");
	expect_ok("https://localhost:8443", "https://localhost:8443");
	expect_ok("https://127.0.0.1:9", "https://127.0.0.1:9");
	expect_ok("https://[::1]:8443/", "https://[::1]:8443");
	expect_ok("http://127.0.0.1:8080", "http://127.0.0.1:8080");
	expect_ok("https://[2001:DB8::1]", "https://[2001:db8::1]");
	expect_ok("https://[::ffff:127.0.0.1]:9", "https://[::ffff:127.0.0.1]:9");
	expect_ok("adb-1.azuredatabricks.net:0443", "https://adb-1.azuredatabricks.net:443");
	expect_ok("https://host_with_underscore.example.", "https://host_with_underscore.example.");
	/* a path, query or fragment is dropped, as the SDKs do */
	expect_ok("https://adb-123.4.azuredatabricks.net/?o=123",
		  "https://adb-123.4.azuredatabricks.net");
	expect_ok("https://adb-123.4.azuredatabricks.net/?o=123#job/5",
		  "https://adb-123.4.azuredatabricks.net");
	expect_ok("https://host.example/some/path", "https://host.example");
	expect_ok("https://host.example:8443/some/path?x=1", "https://host.example:8443");
	expect_ok("https://host.example/#frag", "https://host.example");
	expect_ok("https://h.example//", "https://h.example");
	expect_ok("https://h.example?", "https://h.example");
	expect_ok("dbc-1.cloud.databricks.com/?o=7", "https://dbc-1.cloud.databricks.com");
	expect_ok("https://[::1]:8443/x?y#z", "https://[::1]:8443");
}

static void test_refusals(void **state)
{
	(void)state;
	expect_bad("", "empty");
	expect_bad("https://user:pw@host.example", "user name or password");
	expect_bad("ftp://host.example", "must use https");
	expect_bad("https://host .example", "spaces or control");
	expect_bad("https://host.example\n", "spaces or control");
	expect_bad("https://", "not a valid");
	expect_bad("https:///", "no host name");
	expect_bad("https://:8443", "no host name");
	expect_bad("h.example:0", "port must be a number");
	expect_bad("h.example:65536", "port must be a number");
	expect_bad("h.example:", "port must be a number");
	expect_bad("h.example:443:1", "port must be a number");
	expect_bad("h.example:x", "port must be a number");
	expect_bad("https://[::1", "IPv6");
	expect_bad("https://[fe80::1%25eth0]", "IPv6");
	expect_bad("https://[::1]x", "port must be a number");
	expect_bad("https://h%2eexample", "only letters, digits");
	expect_bad("https://h\\@evil.example", "user name or password");
	expect_bad("https://h\\evil.example", "only letters, digits");
	expect_bad("https://b\xc3\xbc" "cher.example", "xn--");
	expect_bad("1https://h.example", "not a valid");
	expect_bad("https//h.example", "must be just https://");
	expect_bad("http//h.example", "must be just https://");
	expect_bad("https://tok:pw@h.example/?o=1", "user name or password");
	expect_bad("https:///?o=1", "no host name");
}

/* Resolving never makes a request, so normalising must not load libcurl
 * (and its thirty libraries): see curl_lazy.h. */
static void test_does_not_load_libcurl(void **state)
{
	(void)state;
	expect_ok("https://adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net");
	expect_bad("https://user:pw@h.example", "user name or password");
	assert_false(dbr_curl_loaded());
}

static void test_userinfo_never_echoed(void **state)
{
	/* refused for another reason first (scheme, path, port...): the
	 * password must not be in the message either */
	static const char *const urls[] = {
		"https://tok:pw0123456789secret@h.example",
		"ftp://tok:pw0123456789secret@h.example",
		"https://tok:pw0123456789secret@h.example/path",
		"h.example:x@pw0123456789secret",
		"ht!tp://tok:pw0123456789secret@h.example",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct dbr_err err = DBR_ERR_INIT;
		char *out = NULL;

		assert_int_equal(dbr_normalize_host(urls[i], &out, &err), DBR_E_INVAL);
		assert_null(out);
		assert_true(err.msg[0] != '\0');
		if (strstr(err.msg, "pw0123"))
			print_error("'%s' echoed: %s\n", urls[i], err.msg);
		assert_null(strstr(err.msg, "pw0123"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_forms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_userinfo_never_echoed),
		cmocka_unit_test(test_does_not_load_libcurl),
	};

	if (dbr_runtime_init(0, NULL, NULL))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
