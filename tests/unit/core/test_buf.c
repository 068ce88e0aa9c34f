#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dbroker/errors.h"

/* Invariants every buffer keeps (after git's u-strbuf checks). */
static void check_invariants(const struct dbr_buf *b)
{
	assert_true(b->len <= b->max);
	if (b->data) {
		assert_true(b->len < b->cap);
		assert_int_equal(b->data[b->len], '\0');
	} else {
		assert_int_equal(b->len, 0);
		assert_int_equal(b->cap, 0);
	}
}

static void test_add_and_format(void **state)
{
	struct dbr_buf b = DBR_BUF_INIT(1024);

	(void)state;
	assert_int_equal(dbr_buf_addstr(&b, "hello"), 0);
	check_invariants(&b);
	assert_int_equal(dbr_buf_addch(&b, ' '), 0);
	assert_int_equal(dbr_buf_addf(&b, "%s-%d", "x", 42), 0);
	check_invariants(&b);
	assert_string_equal(b.data, "hello x-42");
	assert_int_equal(b.len, 10);
	dbr_buf_reset(&b);
	check_invariants(&b);
	assert_string_equal(b.data, "");
	dbr_buf_release(&b);
	check_invariants(&b);
}

static void test_cap_is_enforced(void **state)
{
	struct dbr_buf b = DBR_BUF_INIT(8);

	(void)state;
	assert_int_equal(dbr_buf_addstr(&b, "12345678"), 0);
	assert_int_equal(dbr_buf_addch(&b, '9'), DBR_E_TOO_LARGE);
	/* a failed append leaves the buffer as it was */
	assert_string_equal(b.data, "12345678");
	check_invariants(&b);
	assert_int_equal(dbr_buf_addf(&b, "%d", 1), DBR_E_TOO_LARGE);
	assert_int_equal(b.len, 8);
	dbr_buf_release(&b);
}

static void test_growth_keeps_content(void **state)
{
	struct dbr_buf b = DBR_BUF_INIT_WIPE(1 << 20);

	(void)state;
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(dbr_buf_addch(&b, (char)('a' + i % 26)), 0);
		check_invariants(&b);
	}
	for (int i = 0; i < 5000; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	dbr_buf_release(&b);
}

static void test_detach(void **state)
{
	struct dbr_buf b = DBR_BUF_INIT(64);
	size_t len = 99;
	char *p;

	(void)state;
	p = dbr_buf_detach(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);
	assert_int_equal(dbr_buf_addstr(&b, "abc"), 0);
	p = dbr_buf_detach(&b, &len);
	assert_string_equal(p, "abc");
	assert_int_equal(len, 3);
	assert_null(b.data);
	check_invariants(&b);
	free(p);
}

static void test_overflow_size(void **state)
{
	struct dbr_buf b = DBR_BUF_INIT((size_t)-1);

	(void)state;
	assert_int_equal(dbr_buf_addstr(&b, "x"), 0);
	assert_int_equal(dbr_buf_grow(&b, (size_t)-1), DBR_E_TOO_LARGE);
	dbr_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_format),
		cmocka_unit_test(test_cap_is_enforced),
		cmocka_unit_test(test_growth_keeps_content),
		cmocka_unit_test(test_detach),
		cmocka_unit_test(test_overflow_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
