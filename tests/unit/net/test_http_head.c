/* Content-Length as both readers of a response head take it: the kept
 * connection's parser (src/net/http_wire.c) and the check of libcurl's
 * heads (src/net/http_head.c), through the one reader of the value
 * (dbr_wire_content_length). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_internal.h"
#include "http_wire.h"

/* The value as the shared reader takes it. */
static int value(const char *v, int64_t *len)
{
	return dbr_wire_content_length(v, strlen(v), len);
}

/* One head with this Content-Length value through the kept connection's
 * parser: its length, or -2 when the head is malformed. */
static int64_t wire_length(const char *v)
{
	char head[256];
	struct dbr_wire_head h;
	long n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n", v);
	assert_true(n > 0 && (size_t)n < sizeof(head));
	if (dbr_wire_parse_head(head, (size_t)n, &h) <= 0)
		return -2;
	return h.content_length;
}

/* The same through libcurl's head check: the length it holds, -1 when it
 * holds none (libcurl decides), or -2 when it refuses the answer. */
static int64_t head_length(const char *v)
{
	struct dbr_http_head h;
	char line[256];
	int n;

	memset(&h, 0, sizeof(h));
	assert_int_equal(dbr_http_head_line(&h, "HTTP/1.1 200 OK\r\n", 17), 0);
	n = snprintf(line, sizeof(line), "Content-Length: %s\r\n", v);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	if (dbr_http_head_line(&h, line, (size_t)n))
		return -2;
	return h.have_length ? (int64_t)h.length : -1;
}

static void test_one_number(void **state)
{
	int64_t len;

	(void)state;
	assert_int_equal(value("0", &len), DBR_WIRE_LENGTH_ONE);
	assert_true(len == 0);
	assert_int_equal(value(" 007 \r\n", &len), DBR_WIRE_LENGTH_ONE);
	assert_true(len == 7);
	assert_int_equal(value("9223372036854775799", &len), DBR_WIRE_LENGTH_ONE);
	assert_true(wire_length("42") == 42 && head_length("42") == 42);
}

/* "2, 2" is one value to both: the kept connection, strict, leaves such an
 * answer to libcurl, whose check takes it as 2, as libcurl does */
static void test_list_of_one_value(void **state)
{
	int64_t len;

	(void)state;
	assert_int_equal(value("2, 2", &len), DBR_WIRE_LENGTH_LIST);
	assert_true(len == 2);
	assert_int_equal(value("2,,2,", &len), DBR_WIRE_LENGTH_LIST);
	assert_true(len == 2);
	assert_int_equal(value("2,", &len), DBR_WIRE_LENGTH_LIST);
	assert_true(wire_length("2, 2") == -2);
	assert_true(head_length("2, 2") == 2);
}

/* numbers that differ: neither reader believes one of them */
static void test_list_that_differs(void **state)
{
	int64_t len;

	(void)state;
	assert_int_equal(value("2, 3", &len), DBR_WIRE_LENGTH_DIFFER);
	assert_int_equal(value("2, 2, 3", &len), DBR_WIRE_LENGTH_DIFFER);
	assert_true(wire_length("2, 3") == -2);
	assert_true(head_length("2, 3") == -2);
}

/* not a length: the kept connection refuses it, the check leaves it to
 * libcurl; neither takes "5 5" for 55 */
static void test_not_a_length(void **state)
{
	static const char *const bad[] = { "", " ", ",", "abc", "+5", "-5", "0x10", "5 5",
					   "99999999999999999999", "2, x" };
	int64_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(value(bad[i], &len), DBR_WIRE_LENGTH_BAD);
		assert_true(wire_length(bad[i]) == -2);
		assert_true(head_length(bad[i]) == -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_number),
		cmocka_unit_test(test_list_of_one_value),
		cmocka_unit_test(test_list_that_differs),
		cmocka_unit_test(test_not_a_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
