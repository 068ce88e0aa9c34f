/* The one dlopen/dlsym walk of the lazy loaders (core/dl_load.c): a table
 * filled in order, never half-filled, and messages that say what to do. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dl_load.h"

static const struct dbr_dl_lib libc_lib = { "libc.so.6", RTLD_LAZY | RTLD_LOCAL,
					    "install libc", "dbroker needs a newer libc" };

struct libc_table {
	pid_t (*getpid)(void);
	size_t (*strlen)(const char *);
};

static void test_fills_the_table_in_order(void **state)
{
	static const char *const names[] = { "getpid", "strlen" };
	struct libc_table t;
	char msg[200] = "";

	(void)state;
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(dbr_dl_load(&libc_lib, names, 2, &t, sizeof(t), msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	assert_int_equal(t.getpid(), getpid());
	assert_int_equal(t.strlen("seven77"), 7);
}

static void test_a_missing_function_leaves_nothing(void **state)
{
	static const char *const names[] = { "getpid", "dbr_no_such_function" };
	struct libc_table t;
	char msg[200];

	(void)state;
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(dbr_dl_load(&libc_lib, names, 2, &t, sizeof(t), msg, sizeof(msg)), -1);
	assert_string_equal(msg, "libc.so.6 has no dbr_no_such_function(): dbroker needs a "
			    "newer libc");
	/* the first one was found, and is gone again: never half-loaded */
	assert_null(t.getpid);
	assert_null(t.strlen);
}

static void test_a_missing_library_says_what_to_install(void **state)
{
	static const struct dbr_dl_lib none = { "libdbroker-no-such.so.9", RTLD_LAZY,
						"install it (Debian: apt-get install nothing)",
						"unused" };
	static const char *const names[] = { "getpid", "strlen" };
	struct libc_table t;
	char msg[300];

	(void)state;
	memset(&t, 0xa5, sizeof(t));
	assert_int_equal(dbr_dl_load(&none, names, 2, &t, sizeof(t), msg, sizeof(msg)), -1);
	assert_true(strncmp(msg, "cannot load libdbroker-no-such.so.9 (", 37) == 0);
	assert_non_null(strstr(msg, "): install it (Debian: apt-get install nothing)"));
	assert_null(t.getpid);
	assert_null(t.strlen);
}

static void test_a_table_of_another_size_is_refused(void **state)
{
	static const char *const names[] = { "getpid" };
	struct libc_table t;
	char msg[200];

	(void)state;
	assert_int_equal(dbr_dl_load(&libc_lib, names, 1, &t, sizeof(t), msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "internal error: 1 names for a table of"));
	assert_null(t.getpid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fills_the_table_in_order),
		cmocka_unit_test(test_a_missing_function_leaves_nothing),
		cmocka_unit_test(test_a_missing_library_says_what_to_install),
		cmocka_unit_test(test_a_table_of_another_size_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
