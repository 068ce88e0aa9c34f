/* The local HTTPS double and its TLS material, shared by test_http.c and
 * test_request.c (see tls_server_fixture.h). */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/runtime.h"
#include "tls_server_fixture.h"

#define PYTHON "/usr/bin/python3"

/* Room for PYTHON, the script, --port 0, --port-file F, --log F and NULL. */
#define SERVER_ARGV_MAX 24

/* The whole file, NUL-terminated (malloc'd), or NULL if it cannot be opened. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t r;

		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Run argv (argv[0] an absolute path) to completion: its exit status, or -1. */
static int run_wait(char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tls_fixture_path(const struct tls_fixture *fx, char *out, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", fx->dir, name);

	assert_true(n > 0 && n < PATH_MAX);
}

int tls_fixture_setup(struct tls_fixture *fx, const char *prefix)
{
	const char *src = getenv("DBR_SOURCE_DIR");
	const char *tmp = getenv("TMPDIR");
	char mkca[PATH_MAX];
	char *mkca_argv[] = { "/bin/sh", mkca, fx->dir, NULL };

	if (dbr_runtime_init(0, NULL, NULL) != 0 || !src)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(mkca, sizeof(mkca), "%s/tests/doubles/mkca.sh", src);
	if (run_wait(mkca_argv) != 0)
		return -1;
	tls_fixture_path(fx, fx->ca, "ca.pem");
	tls_fixture_path(fx, fx->cert, "server.pem");
	tls_fixture_path(fx, fx->key, "server.key");
	return 0;
}

int tls_fixture_group_teardown(void **state)
{
	struct tls_fixture *fx = *state;

	for (size_t i = 0; i < fx->n_servers; i++)
		tls_server_stop(fx->servers[i]);
	if (fx->dir[0])
		nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	dbr_runtime_cleanup();
	return 0;
}

int tls_fixture_scratch_fd(const struct tls_fixture *fx, const char *stem)
{
	char name[64], path[PATH_MAX];
	int fd;

	snprintf(name, sizeof(name), "dbroker-%s", stem);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(name, sizeof(name), "%s-XXXXXX", stem);
	tls_fixture_path(fx, path, name);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	/* only the descriptor is needed: nothing to clean up later */
	unlink(path);
	return fd;
}

char *tls_fixture_read_fd(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)end + 1);
	ssize_t n;

	assert_non_null(buf);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, (size_t)end);
	assert_int_equal(n, end);
	buf[n] = '\0';
	return buf;
}

int tls_server_start(struct tls_server *s, struct tls_fixture *fx, const char *const *extra)
{
	const char *src = getenv("DBR_SOURCE_DIR");
	char script[PATH_MAX], portfile[PATH_MAX], errfile[PATH_MAX], name[64];
	const char *argv[SERVER_ARGV_MAX];
	size_t n = 0;
	pid_t parent = getpid();

	if (!src)
		return -1;
	snprintf(script, sizeof(script), "%s/tests/doubles/https_test_server.py", src);
	snprintf(name, sizeof(name), "%s.port", s->name);
	tls_fixture_path(fx, portfile, name);
	snprintf(name, sizeof(name), "%s.log", s->name);
	tls_fixture_path(fx, s->log, name);
	snprintf(name, sizeof(name), "%s.err", s->name);
	tls_fixture_path(fx, errfile, name);
	argv[n++] = PYTHON;
	argv[n++] = script;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--log";
	argv[n++] = s->log;
	for (; extra && *extra; extra++) {
		assert_true(n < SERVER_ARGV_MAX - 1);
		argv[n++] = *extra;
	}
	argv[n] = NULL;

	/* kept before the fork: teardown must reach a server that never got ready */
	assert_true(fx->n_servers < TLS_FIXTURE_SERVERS_MAX);
	fx->servers[fx->n_servers++] = s;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* never outlive the test, even if it crashes */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	/* bounded wait for the port file: the server writes it after listen() */
	for (int i = 0; i < 1000; i++) {
		char *txt = slurp(portfile);
		int st;

		if (txt) {
			char *end;
			long port = strtol(txt, &end, 10);
			int ok = port > 0 && port < 65536 && *end == '\n';

			free(txt);
			if (ok) {
				s->port = (int)port;
				return 0;
			}
		}
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

void tls_server_stop(struct tls_server *s)
{
	int st;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
}

char *tls_server_log_read(const struct tls_server *s)
{
	return slurp(s->log);
}

size_t tls_server_log_lines(const struct tls_server *s)
{
	char *txt = slurp(s->log);
	size_t n = 0;

	for (char *p = txt; p && *p; p++)
		n += *p == '\n';
	free(txt);
	return n;
}
