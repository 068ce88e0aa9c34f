/* dbr_config_remove_token: the token lines the reader parses, and nothing
 * else, leave the file; atomically. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* The directory holds the configuration file and nothing else (no
 * temporary file left behind). */
static void assert_only_the_file(const struct fx *f)
{
	struct dirent *e;
	int entries = 0;
	DIR *d = opendir(f->dir);

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			entries++;
			if (strcmp(e->d_name, "cfg"))
				fail_msg("left behind: %s", e->d_name);
		}
	closedir(d);
	assert_int_equal(entries, 1);
}

/* The file holds text, profile loaded from it into a new config. */
static struct dbr_config *write_and_load(const struct fx *f, const char *text, size_t len,
					 const char *profile)
{
	struct dbr_config *c = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	write_file(f->path, text, len, 0600);
	if (dbr_config_load(f->path, profile, NULL, &c, &err) != 0)
		fail_msg("load: %s", err.msg);
	return c;
}

/* The file holds exactly want, and the directory nothing else. */
static void assert_file_holds(const struct fx *f, const char *want, size_t wlen)
{
	size_t len;
	const char *got = read_file(f->path, &len);

	if (len != wlen || memcmp(got, want, wlen) != 0)
		fail_msg("got [%s], want [%s]", got, want);
	assert_only_the_file(f);
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
	int rc;

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
	assert_only_the_file(f);
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
	/* a key in double quotes is that key */
	CHECK(*state, "p", "[p]\n\"token\" = dapiT\nhost = h\n", "[p]\nhost = h\n", 1);
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

/* The file grew past the size cap after it was loaded: the edit fails as
 * loading it would, a configuration error (exit 4), not DBR_E_TOO_LARGE
 * (an answer's cap, exit 6); the file is untouched. */
static void test_file_grown_too_large_is_a_config_error(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[p]\ntoken = dapiT\n";
	size_t n = (size_t)DBR_CONFIG_MAX_BYTES + 1;
	struct dbr_config *c = write_and_load(f, text, sizeof(text) - 1, "p");
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 9;
	struct stat st;
	char *big = malloc(n);

	assert_non_null(big);
	memcpy(big, text, sizeof(text) - 1);
	memset(big + sizeof(text) - 1, '#', n - (sizeof(text) - 1));
	big[n - 1] = '\n';
	write_file(f->path, big, n, 0600);
	free(big);
	assert_int_equal(dbr_config_remove_token(c, &removed, &err), DBR_E_CONFIG);
	assert_int_equal(removed, 0);
	if (!strstr(err.msg, f->path) || !strstr(err.msg, "is larger than"))
		fail_msg("message: %s", err.msg);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, (off_t)n);
	dbr_config_free(c);
	assert_only_the_file(f);
}

/* 1 when process pid has the file with inode ino open. */
static int has_open(pid_t pid, ino_t ino)
{
	char dir[64], link[384];
	struct dirent *e;
	struct stat st;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while (!found && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
			found = stat(link, &st) == 0 && st.st_ino == ino;
		}
	closedir(d);
	return found;
}

/* Another edit (another dbroker's login --remove-plaintext) renames its
 * result over the file while this one has it open: this one must work on
 * that result, not write back what it had read (which would put back the
 * line the other removed). The other edit holds the lock until its rename,
 * as dbroker does. */
static void test_concurrent_edits_are_serialised(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[a]\nhost = h\ntoken = dapiA\n[b]\nhost = h\ntoken = dapiB\n";
	static const char other[] = "[a]\nhost = h\ntoken = dapiA\n[b]\nhost = h\n";
	struct dbr_config *c = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char tmp[160], buf[1];
	const char *got;
	struct stat st;
	int lfd, sync[2], status, exited = 0;
	size_t len;
	pid_t pid;

	write_file(f->path, text, sizeof(text) - 1, 0600);
	assert_int_equal(dbr_config_load(f->path, "a", NULL, &c, &err), 0);
	lfd = open(f->path, O_RDONLY);
	assert_true(lfd >= 0);
	assert_int_equal(flock(lfd, LOCK_EX), 0);
	assert_int_equal(fstat(lfd, &st), 0);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t removed = 0;

		close(lfd); /* the lock is the other edit's, not ours */
		close(sync[0]);
		if (write(sync[1], "x", 1) != 1)
			_exit(3);
		close(sync[1]);
		if (dbr_config_remove_token(c, &removed, &err) != 0)
			_exit(1);
		_exit(removed == 1 ? 0 : 2);
	}
	close(sync[1]);
	assert_int_equal(read(sync[0], buf, 1), 1);
	close(sync[0]);
	/* until this edit has the file open (or is done with it already) */
	while (!has_open(pid, st.st_ino)) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		assert_true(w >= 0);
		if (w == pid) {
			exited = 1;
			break;
		}
		usleep(1000);
	}
	/* the other edit: b's token removed, renamed into place, unlocked */
	snprintf(tmp, sizeof(tmp), "%s/other-edit", f->dir);
	write_file(tmp, other, sizeof(other) - 1, 0600);
	assert_int_equal(rename(tmp, f->path), 0);
	close(lfd);
	if (!exited)
		assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	dbr_config_free(c);
	got = read_file(f->path, &len);
	if (strstr(got, "token"))
		fail_msg("a token line is back after both edits: [%s]", got);
	assert_string_equal(got, "[a]\nhost = h\n[b]\nhost = h\n");
}

/* fsync, as the library calls it: with change_on_fsync set, a program that
 * takes no lock (an editor) appends to that file first; with kill_on_fsync,
 * the process is killed (SIGKILL: nothing of it runs after); with
 * fail_fsync set, the next call fails with that errno (and the ones after
 * it succeed). */
static const char *change_on_fsync;
static int kill_on_fsync;
static int fail_fsync;

int fsync(int fd)
{
	if (kill_on_fsync)
		raise(SIGKILL);
	if (fail_fsync) {
		errno = fail_fsync;
		fail_fsync = 0;
		return -1;
	}
	if (change_on_fsync) {
		int cfd = open(change_on_fsync, O_WRONLY | O_APPEND);

		change_on_fsync = NULL;
		assert_true(cfd >= 0);
		assert_int_equal(write(cfd, "; edited\n", 9), 9);
		close(cfd);
	}
	return (int)syscall(SYS_fsync, fd);
}

static void test_change_by_another_program_is_kept(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[p]\nhost = h\ntoken = dapiT\n";
	static const char edited[] = "[p]\nhost = h\ntoken = dapiT\n; edited\n";
	struct dbr_config *c = write_and_load(f, text, sizeof(text) - 1, "p");
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 9;

	change_on_fsync = f->path;
	assert_int_equal(dbr_config_remove_token(c, &removed, &err), DBR_E_IO);
	assert_null(change_on_fsync);
	assert_int_equal(removed, 0);
	if (!strstr(err.msg, "was changed by another program") ||
	    !strstr(err.msg, "run the command again"))
		fail_msg("message: %s", err.msg);
	dbr_config_free(c);
	assert_file_holds(f, edited, sizeof(edited) - 1);
}

/* Killed while writing the new text, the edit leaves no file behind: that
 * text holds the other profiles' tokens, in a file nobody knows of. */
static void test_killed_mid_edit_leaves_nothing(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[a]\nhost = h\ntoken = dapiA\n[b]\nhost = h\ntoken = dapiB\n";
	struct dbr_config *c = write_and_load(f, text, sizeof(text) - 1, "a");
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 0;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		kill_on_fsync = 1;
		dbr_config_remove_token(c, &removed, &err);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	dbr_config_free(c);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_file_holds(f, text, sizeof(text) - 1);
}

/* The new text cannot be flushed (no space, an I/O error): the edit fails
 * with that error, and the text is not written again into a named file
 * (which a kill would leave behind, holding the other profiles' tokens). */
static void test_failed_write_is_not_retried_into_a_named_file(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[a]\nhost = h\ntoken = dapiA\n[b]\nhost = h\ntoken = dapiB\n";
	struct dbr_config *c = write_and_load(f, text, sizeof(text) - 1, "a");
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 9;

	fail_fsync = ENOSPC;
	assert_int_equal(dbr_config_remove_token(c, &removed, &err), DBR_E_IO);
	assert_int_equal(fail_fsync, 0);
	assert_int_equal(removed, 0);
	if (!strstr(err.msg, strerror(ENOSPC)) || !strstr(err.msg, "free space") ||
	    !strstr(err.msg, "the file is unchanged"))
		fail_msg("message: %s", err.msg);
	dbr_config_free(c);
	assert_file_holds(f, text, sizeof(text) - 1);
}

/* flock, as the library calls it: with flock_errno set, it fails with that
 * errno (a file system without locks: some NFS mounts, FUSE). */
static int flock_errno;

int flock(int fd, int op)
{
	if (flock_errno) {
		errno = flock_errno;
		return -1;
	}
	return (int)syscall(SYS_flock, fd, op);
}

/* Where the file system cannot lock (ENOLCK, EOPNOTSUPP), the edit goes on
 * without the lock; any other failure to lock leaves the file as it is. */
static void test_file_system_without_locks(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[p]\nhost = h\ntoken = dapiT\n";
	static const char after[] = "[p]\nhost = h\n";
	static const int unsupported[] = { ENOLCK, EOPNOTSUPP };
	struct dbr_config *c;
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed;

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		c = write_and_load(f, text, sizeof(text) - 1, "p");
		removed = 0;
		flock_errno = unsupported[i];
		if (dbr_config_remove_token(c, &removed, &err) != 0)
			fail_msg("errno %d: %s", unsupported[i], err.msg);
		flock_errno = 0;
		dbr_config_free(c);
		assert_int_equal(removed, 1);
		assert_file_holds(f, after, sizeof(after) - 1);
	}
	c = write_and_load(f, text, sizeof(text) - 1, "p");
	removed = 9;
	flock_errno = EINVAL;
	assert_int_equal(dbr_config_remove_token(c, &removed, &err), DBR_E_IO);
	flock_errno = 0;
	assert_int_equal(removed, 0);
	if (!strstr(err.msg, "cannot lock") || !strstr(err.msg, "the file is unchanged"))
		fail_msg("message: %s", err.msg);
	dbr_config_free(c);
	assert_file_holds(f, text, sizeof(text) - 1);
}

/* fchown, as the library calls it: with fchown_foreign_gid set, changing a
 * file's group to that one fails with EPERM, as for a group one is not in. */
static gid_t fchown_foreign_gid;

int fchown(int fd, uid_t uid, gid_t gid)
{
	if (fchown_foreign_gid && gid == fchown_foreign_gid) {
		errno = EPERM;
		return -1;
	}
	return (int)syscall(SYS_fchown, fd, uid, gid);
}

/* A file of a group we are not in, readable by that group: the new file
 * cannot have that group, so it is not left readable by ours (before: it
 * kept mode 0640 under our group, the other profiles' tokens with it). */
static void test_group_we_are_not_in(void **state)
{
	struct fx *f = *state;
	static const char text[] = "[a]\nhost = h\ntoken = dapiA\n[b]\nhost = h\ntoken = dapiB\n";
	static const char after[] = "[a]\nhost = h\n[b]\nhost = h\ntoken = dapiB\n";
	gid_t foreign = getegid() + 4242;
	struct dbr_config *c = write_and_load(f, text, sizeof(text) - 1, "a");
	struct dbr_err err = DBR_ERR_INIT;
	size_t removed = 0;
	struct stat st;

	assert_int_equal(chmod(f->path, 0640), 0);
	if (chown(f->path, (uid_t)-1, foreign) != 0)
		skip(); /* needs root (or that group) to set it up */
	fchown_foreign_gid = foreign;
	if (dbr_config_remove_token(c, &removed, &err) != 0)
		fail_msg("remove: %s", err.msg);
	fchown_foreign_gid = 0;
	dbr_config_free(c);
	assert_int_equal(removed, 1);
	assert_file_holds(f, after, sizeof(after) - 1);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_gid, getegid());
	assert_int_equal(st.st_mode & 07777, 0600);
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
		cmocka_unit_test_setup_teardown(test_file_grown_too_large_is_a_config_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_edits_are_serialised, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_change_by_another_program_is_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_killed_mid_edit_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_is_not_retried_into_a_named_file,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_system_without_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_we_are_not_in, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
