/* The env provider, through the real chain. The scrub test re-executes this
 * binary with the token in its INITIAL environment block (setenv() would put
 * it on the heap, where /proc/self/environ never looks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/dbroker.h"
#include "dbroker/os.h"
#include "providers.h"

static const char token[] = "dapi00112233445566778899aabbccddeeff-3";

struct env_fixture {
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
};

static int resolve_env(struct env_fixture *f, struct dbr_credential **cr, struct dbr_err *err)
{
	struct dbr_chain_options opt = { .spec = "env" };
	int rc;

	if (dbr_runtime_init(0, NULL, NULL) || dbr_mask_new(&f->mask) ||
	    dbr_log_new(f->mask, &f->log) || dbr_config_new_empty(&f->cfg))
		return -100;
	rc = dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, err);
	if (rc)
		return rc;
	return dbr_chain_resolve(f->chain, cr, err);
}

static void env_fixture_release(struct env_fixture *f)
{
	dbr_chain_free(f->chain);
	dbr_config_free(f->cfg);
	dbr_log_free(f->log);
	dbr_mask_free(f->mask);
}

/* Read a whole /proc file (NULs included). */
static size_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return 0;
	while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	close(fd);
	return n;
}

/* Child mode: exit 0 when the token was found and then vanished from every
 * place a same-uid or child process could see it. */
static int child_main(void)
{
	static char envblock[1 << 16];
	struct env_fixture f = { 0 };
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	size_t n;
	FILE *p;
	char out[256];

	if (resolve_env(&f, &cr, &err) != 0)
		return 1;
	if (!dbr_secret_equal_bytes(dbr_credential_token(cr), token, strlen(token)))
		return 2;
	if (strcmp(dbr_credential_host(cr), "https://adb-1.example.net") != 0)
		return 3;
	if (getenv("DATABRICKS_TOKEN") != NULL)
		return 4;
	n = read_file("/proc/self/environ", envblock, sizeof(envblock));
	if (n == 0)
		return 5;
	if (memmem(envblock, n, "dapi00112233", 12) || memmem(envblock, n, "DATABRICKS_TOKEN=", 17))
		return 6;
	/* the rest of the environment is intact */
	if (!memmem(envblock, n, "DBR_KEEP=yes", 12))
		return 7;
	/* a child process inherits nothing */
	p = popen("printf '%s' \"${DATABRICKS_TOKEN-unset}\"", "r");
	if (!p || !fgets(out, sizeof(out), p) || strcmp(out, "unset") != 0)
		return 8;
	pclose(p);
	dbr_credential_free(cr);
	env_fixture_release(&f);
	return 0;
}

static void test_scrubbed_from_proc_environ(void **state)
{
	char tokvar[128];
	char *const argv[] = { "test_env_provider", "--child", NULL };
	char *envp[8];
	char self[4096];
	ssize_t n;
	int status = 0, i = 0;
	pid_t pid;

	(void)state;
	snprintf(tokvar, sizeof(tokvar), "DATABRICKS_TOKEN=%s", token);
	envp[i++] = "DBR_KEEP=yes";
	envp[i++] = tokvar;
	envp[i++] = "DATABRICKS_HOST=adb-1.example.net/";
	envp[i++] = "PATH=/usr/bin:/bin";
	if (getenv("ASAN_OPTIONS"))
		envp[i++] = "ASAN_OPTIONS=detect_leaks=1";
	envp[i] = NULL;
	/* readlink, not execve("/proc/self/exe"): under valgrind the latter is
	 * valgrind's own launcher, while readlink answers with this test */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execve(self, argv, envp);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_unset_is_not_here(void **state)
{
	struct env_fixture f = { 0 };
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	unsetenv("DATABRICKS_TOKEN");
	assert_int_equal(resolve_env(&f, &cr, &err), DBR_E_NO_CREDENTIAL);
	assert_null(cr);
	assert_int_equal(dbr_chain_answer(f.chain, 0), DBR_ANSWER_NOT_HERE);
	assert_string_equal(dbr_chain_reason(f.chain, 0), "DATABRICKS_TOKEN is not set");
	assert_non_null(strstr(err.msg, "dbroker login"));
	env_fixture_release(&f);
}

static void test_blank_is_not_here(void **state)
{
	struct env_fixture f = { 0 };
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setenv("DATABRICKS_TOKEN", "  \n", 1);
	assert_int_equal(resolve_env(&f, &cr, &err), DBR_E_NO_CREDENTIAL);
	assert_string_equal(dbr_chain_reason(f.chain, 0), "DATABRICKS_TOKEN is empty");
	assert_null(getenv("DATABRICKS_TOKEN"));
	env_fixture_release(&f);
}

static void test_trimmed_and_host_required(void **state)
{
	struct env_fixture f = { 0 };
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char padded[128];

	(void)state;
	snprintf(padded, sizeof(padded), "%s\n", token);
	setenv("DATABRICKS_TOKEN", padded, 1);
	unsetenv("DATABRICKS_HOST");
	/* a token but no host anywhere: a clear error, not a guess */
	assert_int_equal(resolve_env(&f, &cr, &err), DBR_E_INVAL);
	assert_non_null(strstr(err.msg, "no workspace host"));
	env_fixture_release(&f);

	memset(&f, 0, sizeof(f));
	setenv("DATABRICKS_TOKEN", padded, 1);
	setenv("DATABRICKS_HOST", "HTTPS://ADB-2.Example.NET:8443", 1);
	assert_int_equal(resolve_env(&f, &cr, &err), 0);
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(cr), token, strlen(token)));
	assert_string_equal(dbr_credential_host(cr), "https://adb-2.example.net:8443");
	assert_string_equal(dbr_credential_source(cr), "env");
	assert_string_equal(dbr_credential_host_origin(cr), "env");
	assert_int_equal(dbr_mask_count(f.mask), 1); /* registered before use */
	dbr_credential_free(cr);
	env_fixture_release(&f);
	unsetenv("DATABRICKS_HOST");
}

static void test_short_token_refused(void **state)
{
	struct env_fixture f = { 0 };
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	setenv("DATABRICKS_TOKEN", "abc", 1);
	setenv("DATABRICKS_HOST", "https://h.example", 1);
	assert_int_equal(resolve_env(&f, &cr, &err), DBR_E_SHORT_SECRET);
	assert_null(cr);
	assert_int_equal(dbr_chain_answer(f.chain, 0), DBR_ANSWER_ERROR);
	env_fixture_release(&f);
	unsetenv("DATABRICKS_HOST");
}

static void test_scrub_removes_duplicates(void **state)
{
	(void)state;
	setenv("DBR_SCRUB_ME", "value-one", 1);
	assert_int_equal(dbr_env_scrub("DBR_SCRUB_ME"), 1);
	assert_null(getenv("DBR_SCRUB_ME"));
	assert_int_equal(dbr_env_scrub("DBR_SCRUB_ME"), 0);
	assert_int_equal(dbr_env_scrub("DBR_SCRUB"), 0); /* prefix only: no match */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrubbed_from_proc_environ),
		cmocka_unit_test(test_unset_is_not_here),
		cmocka_unit_test(test_blank_is_not_here),
		cmocka_unit_test(test_trimmed_and_host_required),
		cmocka_unit_test(test_short_token_refused),
		cmocka_unit_test(test_scrub_removes_duplicates),
	};

	if (argc == 2 && strcmp(argv[1], "--child") == 0)
		return child_main();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
