#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"

struct fixture {
	struct dbr_mask *mask;
	struct dbr_log *log;
	int fd;               /* memfd capturing terminal-style output */
	char dir[64];         /* temp dir for log files */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(dbr_runtime_init(0, NULL, NULL), 0);
	assert_int_equal(dbr_mask_new(&f->mask), 0);
	assert_int_equal(dbr_log_new(f->mask, &f->log), 0);
	f->fd = memfd_create("log", 0);
	assert_true(f->fd >= 0);
	assert_int_equal(dbr_log_add_fd(f->log, f->fd), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dbr-log-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	dbr_log_free(f->log);
	dbr_mask_free(f->mask);
	close(f->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Everything written to the capture so far, NUL-terminated (static). */
static const char *captured(struct fixture *f)
{
	static char buf[65536];
	ssize_t n = pread(f->fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static const char *file_text(const char *path)
{
	static char buf[65536];
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_levels(void **state)
{
	struct fixture *f = *state;
	enum dbr_log_level l;

	assert_int_equal(dbr_log_parse_level("DEBUG", &l), 0);
	assert_int_equal(l, DBR_LOG_DEBUG);
	assert_int_equal(dbr_log_parse_level("warning", &l), 0);
	assert_int_equal(l, DBR_LOG_WARN);
	assert_int_equal(dbr_log_parse_level("loud", &l), DBR_E_INVAL);
	assert_string_equal(dbr_log_level_name(DBR_LOG_TRACE), "trace");

	dbr_log_set_level(f->log, DBR_LOG_WARN);
	dbr_log_info(f->log, "hidden %d", 1);
	dbr_log_warn(f->log, "shown %d", 2);
	dbr_log_error(f->log, "also shown");
	assert_string_equal(captured(f),
			    "dbroker: warning: shown 2\ndbroker: error: also shown\n");
	assert_false(dbr_log_enabled(f->log, DBR_LOG_DEBUG));
	dbr_log_set_level(f->log, DBR_LOG_TRACE);
	assert_true(dbr_log_enabled(f->log, DBR_LOG_TRACE));
}

static void test_messages_are_masked(void **state)
{
	struct fixture *f = *state;
	static const char tok[] = "s3cr3t-registered-value-0042";
	struct dbr_secret *s;
	const char *out;

	assert_int_equal(dbr_secret_new(tok, strlen(tok), &s), 0);
	assert_int_equal(dbr_mask_add_secret(f->mask, s, NULL), 0);
	dbr_secret_free(s);
	dbr_log_error(f->log, "registered %s, shaped dapi0123456789abcdef0123456789abcdef, "
		      "header Authorization: Bearer abc.def", tok);
	out = captured(f);
	assert_null(strstr(out, tok));
	assert_null(strstr(out, "dapi0123456789abcdef0123456789abcdef"));
	assert_null(strstr(out, "abc.def"));
	assert_non_null(strstr(out, "registered ***"));
}

static void test_multiline_write_prefixes_each_line(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "> GET /api HTTP/1.1\n> Host: x\n";

	dbr_log_set_level(f->log, DBR_LOG_DEBUG);
	assert_int_equal(dbr_log_write(f->log, DBR_LOG_DEBUG, text, strlen(text)), 0);
	assert_string_equal(captured(f),
			    "dbroker: debug: > GET /api HTTP/1.1\ndbroker: debug: > Host: x\n");
}

/* The line hook runs before each message is written, not for one below
 * the level, and no more once removed. */
static void clear_row(void *arg)
{
	struct fixture *f = arg;

	assert_int_equal(write(f->fd, "[clear]", 7), 7);
}

static void test_line_hook_before_each_message(void **state)
{
	struct fixture *f = *state;

	dbr_log_set_line_hook(f->log, clear_row, f);
	dbr_log_warn(f->log, "one");
	dbr_log_info(f->log, "hidden");
	dbr_log_error(f->log, "two");
	dbr_log_set_line_hook(f->log, NULL, NULL);
	dbr_log_warn(f->log, "three");
	assert_string_equal(captured(f), "[clear]dbroker: warning: one\n"
			    "[clear]dbroker: error: two\ndbroker: warning: three\n");
	dbr_log_set_line_hook(NULL, clear_row, f); /* harmless */
}

static void test_long_message_not_truncated_before_masking(void **state)
{
	struct fixture *f = *state;
	size_t n = 200000;
	char *big = malloc(n + 64);

	memset(big, 'x', n);
	memcpy(big + n, " dapi0123456789abcdef0123456789abcdef", 38);
	big[n + 37] = '\0';
	dbr_log_error(f->log, "%s", big);
	{
		/* read the whole capture */
		struct stat st;
		char *all;

		assert_int_equal(fstat(f->fd, &st), 0);
		all = malloc((size_t)st.st_size + 1);
		assert_int_equal(pread(f->fd, all, (size_t)st.st_size, 0), st.st_size);
		all[st.st_size] = '\0';
		assert_null(strstr(all, "dapi0123456789abcdef"));
		assert_non_null(strstr(all, "x ***"));
		free(all);
	}
	free(big);
}

static void test_log_file_created_private(void **state)
{
	struct fixture *f = *state;
	struct dbr_err err = DBR_ERR_INIT;
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/new.log", f->dir);
	umask(022);
	assert_int_equal(dbr_log_open_file(f->log, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	dbr_log_warn(f->log, "to the file dapi0123456789abcdef0123456789abcdef");
	assert_non_null(strstr(file_text(path), "Z warn  to the file ***"));
	assert_null(strstr(file_text(path), "dapi0123"));
}

static void test_log_file_refusals(void **state)
{
	struct fixture *f = *state;
	struct dbr_err err = DBR_ERR_INIT;
	char path[128], link[128];
	int fd;

	snprintf(path, sizeof(path), "%s/shared.log", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	fchmod(fd, 0644);
	close(fd);
	assert_int_equal(dbr_log_open_file(f->log, path, &err), DBR_E_UNSAFE_PERM);
	assert_non_null(strstr(err.msg, "chmod 600"));

	snprintf(link, sizeof(link), "%s/link.log", f->dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(dbr_log_open_file(f->log, link, &err), DBR_E_UNSAFE_PERM);
	assert_non_null(strstr(err.msg, "symbolic link"));

	assert_int_equal(dbr_log_open_file(f->log, "/nonexistent-dir/x.log", &err), DBR_E_IO);

	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/foreign.log", f->dir);
		fd = open(path, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		assert_int_equal(fchown(fd, 65534, 65534), 0);
		close(fd);
		assert_int_equal(dbr_log_open_file(f->log, path, &err), DBR_E_UNSAFE_PERM);
		assert_non_null(strstr(err.msg, "another user"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_messages_are_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiline_write_prefixes_each_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_hook_before_each_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message_not_truncated_before_masking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file_created_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
