/* Shared fixture for the unit tests that talk to the local HTTPS double
 * (tests/doubles/https_test_server.py): a throw-away directory with TLS
 * material from tests/doubles/mkca.sh, and servers started in it.
 *
 * Needs DBR_SOURCE_DIR in the environment (set by tests/CMakeLists.txt).
 * Functions that can only fail on a broken test environment fail the running
 * cmocka test (assert_*); the rest return -1 so a group setup can give up. */
#ifndef DBROKER_TLS_SERVER_FIXTURE_H
#define DBROKER_TLS_SERVER_FIXTURE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/* A test group's whole environment: the library runtime, the temp
 * directory with the mkca.sh material every test uses (the other files it
 * makes, wrong.pem, client.pem, other-ca.pem, capath/, ..., are reached with
 * tls_fixture_path()) and the servers started in it, so that one teardown
 * can stop them all. Zero it (a static) before tls_fixture_setup(). */
#define TLS_FIXTURE_SERVERS_MAX 8

struct tls_server;

struct tls_fixture {
	char dir[PATH_MAX];    /* "" until setup made it */
	char ca[PATH_MAX];     /* the test CA (ca.pem) */
	char cert[PATH_MAX];   /* localhost certificate by ca (server.pem) */
	char key[PATH_MAX];    /* its key (server.key) */
	struct tls_server *servers[TLS_FIXTURE_SERVERS_MAX]; /* started so far */
	size_t n_servers;
};

/* One https_test_server.py process. Set name (a file stem: the server's
 * <name>.port, <name>.log and <name>.err live in the fixture directory) and
 * zero the rest; tls_server_start() fills them in. */
struct tls_server {
	const char *name;
	pid_t pid;          /* > 0 while running */
	int port;           /* on 127.0.0.1 / localhost, once started */
	char log[PATH_MAX]; /* the server's JSON-lines request log */
};

/* dbr_runtime_init(), then make $TMPDIR/<prefix>-XXXXXX (/tmp without
 * TMPDIR), run mkca.sh in it and fill in fx. Returns 0, or -1 (runtime init
 * failed, no DBR_SOURCE_DIR, mkdtemp or mkca.sh failed). Whatever it did is
 * undone by tls_fixture_group_teardown(). */
int tls_fixture_setup(struct tls_fixture *fx, const char *prefix);

/* cmocka group teardown; *state is the struct tls_fixture (the group setup
 * sets it first thing). Stops every server started with fx, removes the
 * fixture directory and everything in it (if setup made one), then
 * dbr_runtime_cleanup(). Returns 0. */
int tls_fixture_group_teardown(void **state);

/* Write <fixture dir>/<name> into out (PATH_MAX bytes); fails the test if it
 * does not fit. */
void tls_fixture_path(const struct tls_fixture *fx, char *out, const char *name);

/* A scratch file for a log to write to: a memfd named "dbroker-<stem>", or,
 * where memfd_create is not available (e.g. older valgrind), an unlinked
 * <fixture dir>/<stem>-XXXXXX. Returns the descriptor, which the caller
 * closes; fails the test if neither works. */
int tls_fixture_scratch_fd(const struct tls_fixture *fx, const char *stem);

/* Everything written to fd so far (read from offset 0), NUL-terminated.
 * Returns a malloc'd string the caller frees; fails the test on a short
 * read. */
char *tls_fixture_read_fd(int fd);

/* Start https_test_server.py on a free port, with its files in fx's
 * directory and the NULL-terminated extra arguments (e.g. "--cert", path,
 * ..., or "--plain"; may be NULL; at most 15). The server dies with the test
 * process (PR_SET_PDEATHSIG). Waits up to ~10 s for it to write its port
 * file. Returns 0 with s->pid and s->port set, or -1. Either way fx keeps s
 * (it must outlive the group) and its teardown stops it, also one that
 * never got ready. */
int tls_server_start(struct tls_server *s, struct tls_fixture *fx, const char *const *extra);

/* SIGTERM the server, wait up to ~5 s, then SIGKILL; reaps it and sets
 * s->pid to 0. Does nothing when it is not running. */
void tls_server_stop(struct tls_server *s);

/* The server's request log as it is now, NUL-terminated: a malloc'd string
 * the caller frees, or NULL if there is no log yet. */
char *tls_server_log_read(const struct tls_server *s);

/* How many requests the server has logged so far (lines in its log; 0
 * without a log). */
size_t tls_server_log_lines(const struct tls_server *s);

#endif
