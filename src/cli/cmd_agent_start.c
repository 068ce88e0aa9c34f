/* dbroker agent start: the socket, the detached process, the hardening;
 * then the server (agent_server.h) runs until stopped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


#include "cli.h"
#include "cmd_agent.h"
#include "banned.h"

/* What the agent's environment keeps: where configuration, plugins, Vault,
 * the keyring and CA bundles are, and the proxies libcurl reaches them
 * through. Credentials given in the environment are not served (a client
 * that has them resolves itself) and are wiped. */
static const char *const keep_exact[] = {
	"HOME", "USER", "LOGNAME", "PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
	"XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "DATABRICKS_CONFIG_FILE",
	"DATABRICKS_CONFIG_PROFILE", "DATABRICKS_HOST", "DATABRICKS_AUTH_TYPE", "DBROKER_CHAIN",
	"DBROKER_PLUGIN_DIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
	"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
};
static const char *const wipe_exact[] = {
	"DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CLIENT_ID",
};

static int kept(const char *name, size_t n)
{
	if (n > 6 && strncmp(name, "VAULT_", 6) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(keep_exact) / sizeof(keep_exact[0]); i++)
		if (strlen(keep_exact[i]) == n && strncmp(name, keep_exact[i], n) == 0)
			return 1;
	return 0;
}

/* A clean environment: the allow-list above, nothing else. */
static void clean_environment(void)
{
	extern char **environ;
	char name[256];

	for (size_t i = 0; i < sizeof(wipe_exact) / sizeof(wipe_exact[0]); i++)
		dbr_env_scrub(wipe_exact[i]);
	for (size_t i = 0; environ && environ[i];) {
		const char *eq = strchr(environ[i], '=');
		size_t n = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);

		if (kept(environ[i], n) || n >= sizeof(name)) {
			i++;
			continue;
		}
		memcpy(name, environ[i], n);
		name[n] = '\0';
		if (dbr_env_scrub(name) <= 0 && unsetenv(name) != 0)
			i++; /* cannot remove it: do not loop on it */
	}
}

/* The private directory of the default socket: created 0700, or an
 * existing one that is a real directory of ours that nobody else may use. */
static int private_dir(const char *dir, struct dbr_err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return dbr_err_set(err, DBR_E_IO, "cannot create '%s': %s", dir, strerror(errno));
	if (lstat(dir, &st) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot examine '%s': %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return dbr_err_set(err, DBR_E_UNSAFE_PERM, "'%s' is not a directory of yours that "
				   "only you can use (mode 0700): remove it or pass --socket", dir);
	return 0;
}

/* The directory choose_path() made under /tmp, removed again at exit. */
static char made_dir[200];

/* Where to listen: --socket, $XDG_RUNTIME_DIR/dbroker/agent.sock, else a
 * fresh private directory under /tmp (as ssh-agent does). */
static int choose_path(const struct agent_start_opts *o, char *path, size_t cap,
		       struct dbr_err *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[200];
	int n, rc;

	if (o->socket && o->socket[0] == '/') {
		n = snprintf(path, cap, "%s", o->socket);
	} else if (o->socket) {
		/* absolute: the agent works from /, and its clients from anywhere */
		char cwd[108];

		if (!getcwd(cwd, sizeof(cwd)))
			return dbr_err_set(err, DBR_E_USAGE, "cannot make the socket path '%s' "
					   "absolute (%s): give a full path", o->socket,
					   strerror(errno));
		n = snprintf(path, cap, "%s/%s", strcmp(cwd, "/") ? cwd : "", o->socket);
	} else if (xdg && *xdg == '/') {
		n = snprintf(dir, sizeof(dir), "%s/dbroker", xdg);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return dbr_err_set(err, DBR_E_USAGE, "XDG_RUNTIME_DIR is too long for a "
					   "socket path: pass --socket");
		if ((rc = private_dir(dir, err)))
			return rc;
		n = snprintf(path, cap, "%s/agent.sock", dir);
	} else {
		const char *tmp = "/tmp";

		snprintf(dir, sizeof(dir), "%s/dbroker-XXXXXX", tmp);
		if (!mkdtemp(dir)) /* 0700, a new name: nobody can have planted it */
			return dbr_err_set(err, DBR_E_IO, "cannot create a private directory "
					   "under %s: %s", tmp, strerror(errno));
		memcpy(made_dir, dir, sizeof(made_dir));
		n = snprintf(path, cap, "%s/agent.%ld.sock", dir, (long)getpid());
	}
	if (n < 0 || (size_t)n >= cap)
		return dbr_err_set(err, DBR_E_USAGE, "the socket path is too long (at most %zu "
				   "bytes)", cap - 1);
	return 0;
}

/* Bind and listen on path (mode 0600). A socket left by an agent that is
 * gone is replaced; a live agent is not. */
static int listen_on(const char *path, int *out, struct dbr_err *err)
{
	struct sockaddr_un sun;
	struct dbr_err cerr = DBR_ERR_INIT;
	mode_t old;
	int fd, probe, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	rc = dbr_agent_connect(path, &probe, &cerr);
	if (rc == 0) {
		close(probe);
		return dbr_err_set(err, DBR_E_USAGE, "an agent is already listening on '%s': use "
				   "it (export %s='%s'), or stop it with 'dbroker agent stop'",
				   path, DBR_AGENT_SOCK_ENV, path);
	}
	if (rc == DBR_E_UNSAFE_PERM || rc == DBR_E_TIMEOUT)
		return dbr_err_set(err, rc, "%s", cerr.msg);
	if (rc == DBR_E_UNREACHABLE) {
		struct stat st;

		/* only a stale socket of ours is removed, never a file */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == getuid())
			unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dbr_err_set(err, DBR_E_IO, "cannot create a socket: %s", strerror(errno));
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc != 0 || listen(fd, 128) != 0) {
		rc = errno;
		close(fd);
		if (rc == EADDRINUSE)
			return dbr_err_set(err, DBR_E_IO, "cannot listen on '%s': something that is "
					   "not a socket of yours is there: remove it, or pass "
					   "another --socket", path);
		return dbr_err_set(err, DBR_E_IO, "cannot listen on '%s': %s", path, strerror(rc));
	}
	*out = fd;
	return 0;
}

/* systemd socket activation: LISTEN_PID is us and LISTEN_FDS >= 1, the
 * socket is descriptor 3. Returns it, or -1. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = 3, type = 0;
	socklen_t len = sizeof(type);

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid() || strtol(fds, NULL, 10) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
		return -1;
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* ours now, not an inherited stray */
	return fd;
}

/* Close every inherited descriptor above 2: what came through exec is
 * what lacks close-on-exec (everything dbroker opens has it). Every open
 * one, however high: the numbers come from /proc/self/fd (else up to the
 * descriptor limit). */
static void close_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	long max = sysconf(_SC_OPEN_MAX);
	struct dirent *de;

	if (!d) {
		for (long fd = 3; fd < (max > 0 ? max : 1024); fd++) {
			int flags = fcntl((int)fd, F_GETFD);

			if (flags >= 0 && !(flags & FD_CLOEXEC))
				close((int)fd);
		}
		return;
	}
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		int flags;

		if (*end || end == de->d_name || fd < 3 || fd == dirfd(d))
			continue;
		flags = fcntl((int)fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			close((int)fd);
	}
	closedir(d);
}


/* The line for eval, in sh syntax (the path single-quoted). */
static int print_eval(struct cli *cli, const char *path, long pid)
{
	struct dbr_buf_view { char b[1024]; } q;
	size_t n = 0;

	for (const char *p = path; *p && n + 5 < sizeof(q.b); p++) {
		if (*p == '\'') {
			memcpy(q.b + n, "'\\''", 4);
			n += 4;
		} else {
			q.b[n++] = *p;
		}
	}
	q.b[n] = '\0';
	return cli_printf(cli, "%s='%s'; export %s;\nDBROKER_AGENT_PID=%ld; export "
			  "DBROKER_AGENT_PID;\necho dbroker agent pid %ld;\n", DBR_AGENT_SOCK_ENV,
			  q.b, DBR_AGENT_SOCK_ENV, pid, pid);
}

static int serve(struct cli *cli, const struct agent_start_opts *o, int lfd, const char *path,
		 int log_fd, int tty)
{
	struct dbr_agent_options ao;
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	memset(&ao, 0, sizeof(ao));
	ao.struct_size = sizeof(ao);
	ao.listen_fd = lfd;
	ao.socket_path = path;
	ao.ttl_ms = o->ttl_ms;
	ao.reread_ms = o->reread_ms;
	ao.config_file = cli->config_file;
	ao.chain_spec = cli->chain_spec;
	ao.auth_type = cli->auth_type;
	ao.plugin_dir = cli->plugin_dir;
	ao.ca_file = cli->ca_cert;
	ao.allow_insecure_loopback = cli->allow_http_loopback;
	ao.log_fd = log_fd;
	ao.log_file = cli->log_file;
	ao.level = dbr_log_get_level(cli->log);
	ao.confirm_fd = tty;
	ao.remove_socket = path && !o->activated; /* systemd's socket is systemd's */
	rc = dbr_agent_run(&ao, &err);
	if (made_dir[0])
		rmdir(made_dir);
	return rc ? cli_fail(cli, rc, err.msg) : EXIT_OK;
}

/* A start that failed after listening: nothing stays behind. */
static void give_up(const struct agent_start_opts *o, int lfd, const char *path)
{
	close(lfd);
	if (!o->activated)
		unlink(path);
	if (made_dir[0])
		rmdir(made_dir);
}

static int start(struct cli *cli, const struct agent_start_opts *o_in)
{
	struct agent_start_opts o = *o_in;
	struct dbr_err err = DBR_ERR_INIT;
	char path[108];
	int lfd = activated_socket(), rc, tty = -1, log_fd = -1;
	pid_t pid;

	o.activated = lfd >= 0;
	path[0] = '\0';
	/* the agent will hold every credential: its secure heap (and
	 * libcrypto) now, not on a client's first call */
	if ((rc = dbr_secmem_start(&err))) {
		if (lfd >= 0)
			close(lfd);
		return cli_fail(cli, rc, err.msg);
	}
	if (!o.activated) {
		if ((rc = choose_path(&o, path, sizeof(path), &err)) ||
		    (rc = listen_on(path, &lfd, &err))) {
			if (made_dir[0])
				rmdir(made_dir);
			return cli_fail(cli, rc, err.msg);
		}
	} else {
		snprintf(path, sizeof(path), "%s", o.socket ? o.socket : "(systemd socket)");
	}
	if (o.confirm && (tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
		give_up(&o, lfd, path);
		return cli_failf(cli, DBR_E_USAGE, "--confirm asks on the agent's terminal, and "
				 "there is none: run 'agent start --confirm --foreground' in one");
	}
	if (o.foreground) {
		if (!o.activated)
			print_eval(cli, path, (long)getpid());
		fflush(stdout);
		log_fd = STDERR_FILENO;
	} else {
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			give_up(&o, lfd, path);
			return cli_failf(cli, DBR_E_IO, "cannot start the agent: %s", strerror(errno));
		}
		if (pid > 0) {
			close(lfd);
			return print_eval(cli, path, (long)pid) ? EXIT_FAILURE_GENERIC : EXIT_OK;
		}
		/* the agent: its own session, no terminal, nothing inherited */
		setsid();
		dbr_secmem_relock();
		rc = open("/dev/null", O_RDWR);
		if (rc >= 0) {
			dup2(rc, STDIN_FILENO);
			dup2(rc, STDOUT_FILENO);
			dup2(rc, STDERR_FILENO);
			if (rc > STDERR_FILENO)
				close(rc);
		}
	}
	close_inherited();
	if (chdir("/") != 0)
		(void)0;
	clean_environment();
	return serve(cli, &o, lfd, o.activated && !o.socket ? NULL : path, log_fd, tty);
}

/* The agent's signals stay blocked from here until the server has its
 * handlers (dbr_agent_run unblocks them): one sent right after the eval
 * line is held, not lost to the command's own handlers or the default
 * action. */
int agent_start(struct cli *cli, const struct agent_start_opts *o)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1 };
	sigset_t set, saved;
	int rc;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, &saved);
	rc = start(cli, o);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return rc;
}
