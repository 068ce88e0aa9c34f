/* Text tables (src/cli/table.c): alignment as Go's tabwriter does it,
 * cells on one line, no trailing blanks, any bytes in a cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "table.h"

static char out[65536];
static size_t out_len;
static int fail_print;

/* The table's only way out: captured here instead of stdout. */
int cli_print(struct cli *cli, const char *text, size_t len)
{
	(void)cli;
	if (fail_print)
		return DBR_E_IO;
	assert_true(out_len + len < sizeof(out));
	memcpy(out + out_len, text, len);
	out_len += len;
	out[out_len] = '\0';
	return 0;
}

static int reset(void **state)
{
	(void)state;
	out_len = 0;
	out[0] = '\0';
	fail_print = 0;
	return 0;
}

static void add(struct cli_table *t, const char *a, const char *b, const char *c)
{
	const char *row[] = { a, b, c };

	assert_int_equal(cli_table_add(t, row), 0);
}

static void test_aligned_like_tabwriter(void **state)
{
	struct cli_table t;

	(void)state;
	cli_table_init(&t, 3);
	add(&t, "ID", "Name", "State");
	add(&t, "1204-101512-abcd1234", "etl", "RUNNING");
	add(&t, "1", "a-longer-name", "TERMINATED");
	assert_int_equal(cli_table_print(NULL, &t), 0);
	assert_string_equal(out,
			    "ID                    Name           State\n"
			    "1204-101512-abcd1234  etl            RUNNING\n"
			    "1                     a-longer-name  TERMINATED\n");
	cli_table_release(&t);
	assert_null(t.rows);
}

static void test_cells_on_one_line_and_no_trailing_blanks(void **state)
{
	struct cli_table t;

	(void)state;
	cli_table_init(&t, 3);
	add(&t, "a\nb", "tab\there", NULL);
	add(&t, "x", "", "");
	add(&t, "esc\x1b[31m", "y", "z");
	assert_int_equal(cli_table_print(NULL, &t), 0);
	assert_string_equal(out,
			    "a?b       tab?here\n"
			    "x\n"
			    "esc?[31m  y         z\n");
	cli_table_release(&t);
}

static void test_multibyte_and_stray_bytes(void **state)
{
	struct cli_table t;
	char stray[3001];

	(void)state;
	/* UTF-8 names take one column a character */
	cli_table_init(&t, 2);
	add(&t, "Zürich", "1", NULL);
	add(&t, "Oslo", "2", NULL);
	assert_int_equal(cli_table_print(NULL, &t), 0);
	assert_string_equal(out, "Zürich  1\nOslo    2\n");
	cli_table_release(&t);
	/* continuation bytes without a lead byte take no column but take room:
	 * the line buffer must hold them (ASan checks) */
	reset(NULL);
	memset(stray, 0x80, sizeof(stray) - 1);
	stray[sizeof(stray) - 1] = '\0';
	cli_table_init(&t, 2);
	add(&t, stray, "next", NULL);
	add(&t, "", "last", NULL);
	assert_int_equal(cli_table_print(NULL, &t), 0);
	assert_int_equal(out_len, 3000 + 2 + 4 + 1 + 2 + 4 + 1);
	cli_table_release(&t);
}

static void test_print_failure_is_returned(void **state)
{
	struct cli_table t;

	(void)state;
	cli_table_init(&t, 1);
	add(&t, "only", NULL, NULL);
	fail_print = 1;
	assert_int_equal(cli_table_print(NULL, &t), DBR_E_IO);
	cli_table_release(&t);
	/* columns past TABLE_MAX_COLS are cut, not overrun */
	cli_table_init(&t, TABLE_MAX_COLS + 5);
	assert_int_equal(t.ncols, TABLE_MAX_COLS);
	cli_table_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_aligned_like_tabwriter, reset),
		cmocka_unit_test_setup(test_cells_on_one_line_and_no_trailing_blanks, reset),
		cmocka_unit_test_setup(test_multibyte_and_stray_bytes, reset),
		cmocka_unit_test_setup(test_print_failure_is_returned, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
