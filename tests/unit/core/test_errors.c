#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dbroker/errors.h"

static void test_every_code_has_text(void **state)
{
	(void)state;
	for (int c = 0; c >= DBR_E_REDIRECT; c--) {
		assert_string_not_equal(dbr_strerror(c), "unknown error");
		assert_string_not_equal(dbr_strerror_name(c), "DBR_E_UNKNOWN");
	}
	assert_string_equal(dbr_strerror(-9999), "unknown error");
	assert_string_equal(dbr_strerror_name(DBR_E_AUTH), "DBR_E_AUTH");
}

static void test_err_set_returns_code(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	assert_int_equal(dbr_err_set(&err, DBR_E_IO, "cannot open '%s'", "x"), DBR_E_IO);
	assert_int_equal(err.code, DBR_E_IO);
	assert_string_equal(err.msg, "cannot open 'x'");
	assert_int_equal(dbr_err_set(NULL, DBR_E_INVAL, "ignored"), DBR_E_INVAL);
	dbr_err_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(err.msg, "");
}

static void test_truncation_keeps_utf8_valid(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	char big[DBR_ERR_MSG_MAX + 8];
	size_t n;

	(void)state;
	/* 'a' then repeated 3-byte "€" so the cut falls inside a character */
	big[0] = 'a';
	for (n = 1; n + 3 < sizeof(big); n += 3)
		memcpy(big + n, "\xe2\x82\xac", 3);
	big[n] = '\0';
	dbr_err_set(&err, DBR_E_INVAL, "%s", big);
	n = strlen(err.msg);
	assert_true(n < DBR_ERR_MSG_MAX);
	assert_int_equal((n - 1) % 3, 0); /* only whole characters remain */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_has_text),
		cmocka_unit_test(test_err_set_returns_code),
		cmocka_unit_test(test_truncation_keeps_utf8_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
