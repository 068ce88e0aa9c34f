/* What a failed transfer means (src/net/http_error.c): a header line
 * libcurl refuses, as old and new libcurl report it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_internal.h"

static int map(CURLcode cc, int in_head, struct dbr_err *err)
{
	static struct dbr_http_call c;

	memset(&c, 0, sizeof(c));
	c.host = "example.cloud.databricks.com";
	snprintf(c.errbuf, sizeof(c.errbuf), "what libcurl said");
	c.head.in_head = in_head;
	return dbr_http_map_error(NULL, &c, NULL, cc, err);
}

/* libcurl before 8.6.0 says CURLE_OUT_OF_MEMORY, 8.6.0 and later
 * CURLE_TOO_LARGE (100, by number: older headers lack the name); either
 * while a head is read is a header line too long, not memory. */
static void test_header_line_too_long(void **state)
{
	static const int codes[] = { CURLE_OUT_OF_MEMORY, 100 };
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_int_equal(map((CURLcode)codes[i], 1, &err), DBR_E_TOO_LARGE);
		assert_non_null(strstr(err.msg, "has a header line longer than libcurl accepts"));
	}
	/* out of a head: memory did run out, or something else failed */
	assert_int_equal(map(CURLE_OUT_OF_MEMORY, 0, &err), DBR_E_NOMEM);
	assert_int_equal(map((CURLcode)100, 0, &err), DBR_E_NETWORK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_line_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
