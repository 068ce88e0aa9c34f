/* The exec launcher (serve/child.c): which variables a child inherits, what
 * it gets instead, exit and start failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/dbroker.h"

#define TOKEN "tok-child-0123456789abcdef"

static void test_credential_names(void **state)
{
	static const char *const gone[] = {
		"DATABRICKS_TOKEN=x", "DATABRICKS_HOST=x", "DATABRICKS_AUTH_TYPE",
		"DATABRICKS_CLIENT_SECRET=x", "DATABRICKS_CLIENT_ID=x", "DATABRICKS_PASSWORD=x",
		"DATABRICKS_USERNAME=x", "DATABRICKS_CONFIG_PROFILE=x", "DATABRICKS_ACCOUNT_ID=1",
		"DATABRICKS_AZURE_CLIENT_SECRET=x", "DATABRICKS_GOOGLE_SERVICE_ACCOUNT=x",
		"DATABRICKS_OIDC_TOKEN_ENV=x", "DATABRICKS_TOKEN_AUDIENCE=x",
		"DATABRICKS_METADATA_SERVICE_URL=x",
	};
	static const char *const kept[] = {
		"DATABRICKS_CLUSTER_ID=1", "DATABRICKS_WAREHOUSE_ID=2", "DATABRICKS_CONFIG_FILE=f",
		"HOME=/h", "TOKEN=x", "MY_DATABRICKS_TOKEN=x", "DATABRICKS=1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		assert_true(dbr_child_env_is_credential(gone[i]));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_false(dbr_child_env_is_credential(kept[i]));
	assert_false(dbr_child_env_is_credential(NULL));
}

static char *read_all(int fd)
{
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	ssize_t r;

	assert_non_null(b);
	while ((r = read(fd, b + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	b[n] = '\0';
	close(fd);
	return b;
}

static int wait_code(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_spawn_environment(void **state)
{
	char *argv[] = { "sh", "-c", "env | grep ^DATABRICKS_ | sort; echo err >&2; exit 3", NULL };
	struct dbr_child_options o;
	struct dbr_child c;
	struct dbr_secret *tok = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char *out, *errs;

	(void)state;
	setenv("DATABRICKS_TOKEN", "dapi-from-the-parent", 1);
	setenv("DATABRICKS_CLIENT_SECRET", "parent-secret", 1);
	setenv("DATABRICKS_CLUSTER_ID", "c-1", 1);
	assert_int_equal(dbr_secret_new(TOKEN, strlen(TOKEN), &tok), 0);
	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.argv = argv;
	o.host = "http://127.0.0.1:9";
	o.token = tok;
	o.auth_type = "pat";
	o.capture_output = 1;
	assert_int_equal(dbr_child_spawn(&o, &c, &err), 0);
	assert_true(c.pid > 0);
	out = read_all(c.out_fd);
	errs = read_all(c.err_fd);
	assert_int_equal(wait_code(c.pid), 3);
	/* Under valgrind posix_spawn is a fork, and secrets outside locked
	 * memory are MADV_WIPEONFORK (secret_heap.c): the child's copy of the
	 * token entry reads empty there, by design. glibc's real posix_spawn
	 * shares the parent's memory (CLONE_VM), as unit.child checks. */
	if (getenv("DBR_UNDER_VALGRIND"))
		assert_non_null(strstr(out, "DATABRICKS_HOST=http://127.0.0.1:9\n"));
	else
		assert_string_equal(out, "DATABRICKS_AUTH_TYPE=pat\nDATABRICKS_CLUSTER_ID=c-1\n"
				    "DATABRICKS_HOST=http://127.0.0.1:9\nDATABRICKS_TOKEN=" TOKEN
				    "\n");
	assert_string_equal(errs, "err\n");
	free(out);
	free(errs);
	dbr_secret_free(tok);
	unsetenv("DATABRICKS_TOKEN");
	unsetenv("DATABRICKS_CLIENT_SECRET");
	unsetenv("DATABRICKS_CLUSTER_ID");
}

/* The link /proc/self/fd/N names (an open file's identity), with a
 * newline as readlink(1) prints it. */
static void fd_link(int fd, char *out, size_t cap)
{
	char path[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, out, cap - 2);
	assert_true(n > 0);
	memcpy(out + n, "\n", 2);
}

/* An inherited stream is ours (the same open file), the other a pipe of
 * its own. Our stream is made a fresh pipe first, so it is known. */
static void test_spawn_inherits_one_stream(void **state)
{
	char *argv[] = { "readlink", "/proc/self/fd/1", "/proc/self/fd/2", NULL };
	struct dbr_child_options o;
	struct dbr_child c;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	for (int fd = 1; fd <= 2; fd++) {
		char ours[64], want[128], *got, *nothing;
		int p[2], saved = dup(fd);

		assert_true(saved >= 0);
		assert_int_equal(pipe(p), 0);
		assert_int_equal(dup2(p[1], fd), fd);
		close(p[1]);
		fd_link(fd, ours, sizeof(ours));
		memset(&o, 0, sizeof(o));
		o.struct_size = sizeof(o);
		o.argv = argv;
		o.capture_output = 1;
		o.inherit_stdout = fd == 1;
		o.inherit_stderr = fd == 2;
		assert_int_equal(dbr_child_spawn(&o, &c, &err), 0);
		assert_int_equal(dup2(saved, fd), fd); /* ours again: p's only writer is the child */
		close(saved);
		if (fd == 1) {
			assert_int_equal(c.out_fd, -1);
			got = read_all(p[0]);
			nothing = read_all(c.err_fd);
			/* line 1 is ours; line 2 the child's own stderr pipe */
			assert_true(strncmp(got, ours, strlen(ours)) == 0);
			assert_true(strncmp(got + strlen(ours), "pipe:[", 6) == 0);
			assert_true(strcmp(got + strlen(ours), ours) != 0);
		} else {
			assert_int_equal(c.err_fd, -1);
			got = read_all(c.out_fd);
			nothing = read_all(p[0]);
			/* line 1 the child's own stdout pipe; line 2 is ours */
			assert_true(strncmp(got, "pipe:[", 6) == 0);
			snprintf(want, sizeof(want), "%s", strchr(got, '\n') + 1);
			assert_string_equal(want, ours);
			assert_true(strncmp(got, ours, strlen(ours)) != 0);
		}
		assert_string_equal(nothing, "");
		assert_int_equal(wait_code(c.pid), 0);
		free(got);
		free(nothing);
	}
}

static void test_spawn_failures(void **state)
{
	char *missing[] = { "no-such-command-for-dbroker", NULL };
	char *empty[] = { "", NULL };
	char plain[] = "/tmp/dbroker-child-XXXXXX";
	char *noexec[] = { plain, NULL };
	int fd;
	char *host_nl[] = { "true", NULL };
	struct dbr_child_options o;
	struct dbr_child c;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.struct_size = sizeof(o);
	o.capture_output = 1;
	/* valgrind runs posix_spawn's vfork as a fork: exec errors then show
	 * as the child's exit 127, not as posix_spawn's answer */
	if (getenv("DBR_UNDER_VALGRIND"))
		goto checks;
	o.argv = missing;
	assert_int_equal(dbr_child_spawn(&o, &c, &err), DBR_E_IO);
	assert_int_equal(c.spawn_errno, ENOENT);
	assert_int_equal(c.out_fd, -1);
	assert_non_null(strstr(err.msg, "not found"));
	/* a file without the execute bit */
	fd = mkstemp(plain);
	assert_true(fd >= 0);
	close(fd);
	o.argv = noexec;
	assert_int_equal(dbr_child_spawn(&o, &c, &err), DBR_E_IO);
	assert_int_equal(c.spawn_errno, EACCES);
	assert_non_null(strstr(err.msg, "cannot run"));
	unlink(plain);
checks:
	o.argv = empty;
	assert_int_equal(dbr_child_spawn(&o, &c, &err), DBR_E_INVAL);
	o.argv = NULL;
	assert_int_equal(dbr_child_spawn(&o, &c, &err), DBR_E_INVAL);
	o.argv = host_nl;
	o.host = "http://x\nEVIL=1";
	assert_int_equal(dbr_child_spawn(&o, &c, &err), DBR_E_INVAL);
	assert_int_equal(c.pid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_credential_names),
		cmocka_unit_test(test_spawn_environment),
		cmocka_unit_test(test_spawn_inherits_one_stream),
		cmocka_unit_test(test_spawn_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
