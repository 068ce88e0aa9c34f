/* dbr_config_remove_token: the token lines the reader parses, and nothing
 * else, leave the file; atomically. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/config.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/dbr-cfgedit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/cfg", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_file(const char *path, size_t *len)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n >= 0);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Remove profile's token from a file holding before; the file must then
 * hold exactly after, and the directory nothing else. */
static void check(struct fx *f, const char *profile, const char *before, size_t blen,
		  const char *after, size_t alen, size_t want_removed)
{
	struct dbr_config *c = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 99, len;
	const char *got;
	struct stat st;
	DIR *d;
	struct dirent *e;
	int entries = 0, rc;

	write_file(f->path, before, blen, 0640);
	if (dbr_config_load(f->path, profile, NULL, &c, &err) != 0)
		fail_msg("load: %s", err.msg);
	if (dbr_config_remove_token(c, &removed, &err) != 0)
		fail_msg("remove: %s", err.msg);
	dbr_config_free(c);
	assert_int_equal(removed, want_removed);
	got = read_file(f->path, &len);
	if (len != alen || memcmp(got, after, alen) != 0)
		fail_msg("profile %s: got [%s], want [%s]", profile, got, after);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		entries += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(d);
	assert_int_equal(entries, 1); /* no temporary file left */
	/* and the reader agrees: no token there any more (a profile left
	 * without keys no longer exists) */
	c = NULL;
	rc = dbr_config_load(f->path, profile, NULL, &c, &err);
	if (rc != DBR_E_NO_PROFILE) {
		assert_int_equal(rc, 0);
		assert_false(dbr_config_has_token(c));
	}
	dbr_config_free(c);
}

#define CHECK(f, prof, before, after, n) \
	check((f), (prof), (before), sizeof(before) - 1, (after), sizeof(after) - 1, (n))

static void test_bom(void **state)
{
	/* the BOM stays; the first section is [other], not DEFAULT's keys */
	CHECK(*state, "DEFAULT", "\xef\xbb\xbftoken = dapiD\n[other]\ntoken = dapiO\n",
	      "\xef\xbb\xbf[other]\ntoken = dapiO\n", 1);
	CHECK(*state, "other", "\xef\xbb\xbf[other]\ntoken = dapiO\nhost = h\n",
	      "\xef\xbb\xbf[other]\nhost = h\n", 1);
	/* a line longer than inih's buffer in the first section after a BOM
	 * is that section's: removing DEFAULT's token leaves it */
#define LONG_TOKEN "dapi" X64 X64 X64 X64
#define X64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	CHECK(*state, "DEFAULT", "\xef\xbb\xbf[other]\ntoken = " LONG_TOKEN "\n[DEFAULT]\nhost = h\n",
	      "\xef\xbb\xbf[other]\ntoken = " LONG_TOKEN "\n[DEFAULT]\nhost = h\n", 0);
	CHECK(*state, "other", "\xef\xbb\xbf[other]\ntoken = " LONG_TOKEN "\nhost = o\n",
	      "\xef\xbb\xbf[other]\nhost = o\n", 1);
#undef X64
#undef LONG_TOKEN
}

static void test_vertical_tab_and_tabs(void **state)
{
	/* "\v[prod]" is a section to the reader: its token is prod's */
	CHECK(*state, "other", "[other]\nhost = h\n\v[prod]\ntoken = dapiP\n",
	      "[other]\nhost = h\n\v[prod]\ntoken = dapiP\n", 0);
	CHECK(*state, "prod", "[other]\nhost = h\n\v[prod]\n\v\ttoken\t=\tdapiP\n",
	      "[other]\nhost = h\n\v[prod]\n", 1);
}

static void test_crlf(void **state)
{
	CHECK(*state, "p", "[p]\r\nhost = h\r\ntoken = dapiT\r\n[q]\r\ntoken = dapiU\r\n",
	      "[p]\r\nhost = h\r\n[q]\r\ntoken = dapiU\r\n", 1);
}

static void test_repeated_sections_and_keys(void **state)
{
	CHECK(*state, "p",
	      "[p]\ntoken = dapiA\n[q]\ntoken = dapiB\n[p]\nTOKEN: dapiC\nhost = h\n",
	      "[p]\n[q]\ntoken = dapiB\n[p]\nhost = h\n", 2);
	/* a profile whose name starts like another's */
	CHECK(*state, "prod", "[prod2]\ntoken = dapiX\n[prod]\ntoken = dapiY\n",
	      "[prod2]\ntoken = dapiX\n[prod]\n", 1);
}

static void test_comments_and_last_line(void **state)
{
	CHECK(*state, "p", "[p]\ntoken = dapiT ; old one\nhost = h # here\n; token = x\n",
	      "[p]\nhost = h # here\n; token = x\n", 1);
	/* no newline at the end of the file */
	CHECK(*state, "p", "[p]\nhost = h\ntoken = dapiT", "[p]\nhost = h\n", 1);
}

static void test_nothing_to_remove_leaves_the_file(void **state)
{
	struct fx *f = *state;
	struct stat a, b;

	CHECK(f, "p", "[p]\nhost = h\n", "[p]\nhost = h\n", 0);
	assert_int_equal(stat(f->path, &a), 0);
	CHECK(f, "p", "[p]\nhost = h\n", "[p]\nhost = h\n", 0);
	assert_int_equal(stat(f->path, &b), 0);
	assert_int_equal(a.st_mode, b.st_mode);
}

static void test_unparsable_file_untouched(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[p]\ntoken = dapiT\n";
	struct dbr_config *c = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 9, len;

	write_file(f->path, text, sizeof(text) - 1, 0600);
	assert_int_equal(dbr_config_load(f->path, "p", NULL, &c, &err), 0);
	/* the file changed into something the parser refuses */
	write_file(f->path, "[p]\ntoken = dapiT\n= broken\n", 26, 0600);
	assert_int_equal(dbr_config_remove_token(c, &removed, &err), DBR_E_CONFIG);
	assert_int_equal(removed, 0);
	assert_memory_equal(read_file(f->path, &len), "[p]\ntoken = dapiT\n= broken\n", 26);
	dbr_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vertical_tab_and_tabs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_sections_and_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_and_last_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_to_remove_leaves_the_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unparsable_file_untouched, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
