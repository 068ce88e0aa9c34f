#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/runtime.h"
#include "runtime_internal.h"

/* Hardening changes the whole process, so each check runs in a child and
 * reports through its exit status: 0 = every expectation held, else the
 * number of the failed check. */
static int run_in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int child_dumpable_core_umask(void)
{
	struct rlimit rl, before;
	mode_t old;

	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		return 10; /* precondition: a normal process is dumpable */
	if (getrlimit(RLIMIT_CORE, &before) != 0)
		return 11;
	if (dbr_harden_process(NULL) != 0)
		return 1;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 || dbr_process_dumpable())
		return 2;
	/* no core; the hard limit stays, for 'dbroker exec' to hand back */
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 ||
	    rl.rlim_max != before.rlim_max)
		return 3;
	if (dbr_harden_drop_core_limit(NULL) != 0 || getrlimit(RLIMIT_CORE, &rl) != 0 ||
	    rl.rlim_cur != 0 || rl.rlim_max != 0)
		return 5;
	old = umask(0);
	if (old != 077)
		return 4;
	return 0;
}

/* What the process started with is recorded before hardening changes it. */
static int child_start_state(void)
{
	struct dbr_start_state st;
	struct rlimit core;
	sigset_t block;

	umask(027);
	if (getrlimit(RLIMIT_CORE, &core) != 0)
		return 10;
	core.rlim_cur = core.rlim_max == RLIM_INFINITY || core.rlim_max > 4096 ? 4096
										: core.rlim_max;
	if (setrlimit(RLIMIT_CORE, &core) != 0)
		return 11;
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (dbr_harden_process(NULL) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN); /* as main() does afterwards */
	dbr_process_start_state(&st);
	if (st.umask != 027)
		return 2;
	if (st.core.rlim_cur != core.rlim_cur || st.core.rlim_max != core.rlim_max)
		return 3;
	if (sigismember(&st.ignored, SIGHUP) != 1 || sigismember(&st.ignored, SIGPIPE) != 0 ||
	    sigismember(&st.ignored, SIGINT) != 0)
		return 4;
	if (sigismember(&st.mask, SIGUSR1) != 1 || sigismember(&st.mask, SIGTERM) != 0)
		return 5;
	return 0;
}

static int child_closed_stdout_is_reopened(void)
{
	struct stat st, null_st;
	int fd;

	close(STDOUT_FILENO);
	if (dbr_harden_process(NULL) != 0)
		return 1;
	if (fstat(STDOUT_FILENO, &st) != 0 || stat("/dev/null", &null_st) != 0)
		return 2;
	if (st.st_rdev != null_st.st_rdev)
		return 3;
	/* a file opened now cannot land on fd 1 */
	fd = open("/dev/zero", O_RDONLY);
	if (fd <= STDERR_FILENO)
		return 4;
	close(fd);
	return 0;
}

static void test_dumpable_core_umask(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_dumpable_core_umask), 0);
}

static void test_start_state(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_start_state), 0);
}

static void test_closed_std_fds(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_closed_stdout_is_reopened), 0);
}

/* The constructor's step: undumpable, and the token out of the initial
 * environment block while getenv() still finds it. */
static int child_early(void)
{
	extern char **environ;
	static const char tok[] = "dapi0123456789abcdef0123456789abcdef";
	char *orig = NULL;

	if (setenv("DATABRICKS_TOKEN", tok, 1) != 0)
		return 10;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "DATABRICKS_TOKEN=", 17) == 0)
			orig = *e;
	if (!orig)
		return 11;
	dbr_harden_early();
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 1;
	if (!getenv("DATABRICKS_TOKEN") || strcmp(getenv("DATABRICKS_TOKEN"), tok) != 0)
		return 2;
	if (getenv("DATABRICKS_TOKEN") - 17 == orig)
		return 3; /* not moved */
	for (size_t i = 0; i < sizeof(tok) + 16; i++)
		if (orig[i])
			return 4; /* the original bytes were not wiped */
	return 0;
}

static void test_early(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_early), 0);
}

/* A parent may pass a name twice (execve() takes any list): every copy
 * leaves the block, not only the first that getenv() finds. */
static int child_early_duplicates(void)
{
	extern char **environ;
	static char first[] = "DATABRICKS_TOKEN=dapi0123456789abcdef0123456789abcdef";
	static char second[] = "DATABRICKS_TOKEN=dapifedcba9876543210fedcba9876543210";
	static char *env[] = { first, second, NULL };

	environ = env;
	dbr_harden_early();
	if (env[0] == first || env[1] == second)
		return 1; /* not moved */
	for (size_t i = 0; i < sizeof(first); i++)
		if (first[i] || second[i])
			return 2; /* an original was not wiped */
	if (strcmp(env[1] + 17, "dapifedcba9876543210fedcba9876543210") != 0)
		return 3;
	return 0;
}

static void test_early_duplicates(void **state)
{
	(void)state;
	assert_int_equal(run_in_child(child_early_duplicates), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dumpable_core_umask),
		cmocka_unit_test(test_start_state),
		cmocka_unit_test(test_closed_std_fds),
		cmocka_unit_test(test_early),
		cmocka_unit_test(test_early_duplicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
