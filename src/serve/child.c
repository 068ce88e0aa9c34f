/* Starting the child of 'dbroker exec' (child.h).
 *
 * Besides the signer, this is the one place that reads a token's bytes: to
 * put DATABRICKS_TOKEN in the child's environment (the capability, a minted
 * token, or with --pass-token the real one). The entry is built in secure
 * memory and wiped as soon as posix_spawn has copied it into the child.
 */
#include "dbroker/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "runtime_internal.h"
#include "secret_internal.h"
#include "banned.h"

extern char **environ;

#define TOKEN_VAR "DATABRICKS_TOKEN="

static const char *const credential_names[] = {
	"DATABRICKS_TOKEN", "DATABRICKS_HOST", "DATABRICKS_AUTH_TYPE",
	"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_USERNAME",
	"DATABRICKS_PASSWORD", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_ACCOUNT_ID",
	"DATABRICKS_METADATA_SERVICE_URL",
};
static const char *const credential_parts[] = {
	"TOKEN", "SECRET", "PASSWORD", "AZURE", "GOOGLE", "OIDC",
};

int dbr_child_env_is_credential(const char *e)
{
	size_t n;

	if (!e || strncmp(e, "DATABRICKS_", 11) != 0)
		return 0;
	n = strcspn(e, "=");
	for (size_t i = 0; i < sizeof(credential_names) / sizeof(credential_names[0]); i++)
		if (strlen(credential_names[i]) == n && memcmp(e, credential_names[i], n) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(credential_parts) / sizeof(credential_parts[0]); i++)
		if (memmem(e + 11, n - 11, credential_parts[i], strlen(credential_parts[i])))
			return 1;
	return 0;
}

static int one_line(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

static const char *const no_proxy_names[] = { "NO_PROXY", "no_proxy" };

/* Which of no_proxy_names e sets, or -1. */
static int no_proxy_entry(const char *e)
{
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(no_proxy_names[i]);

		if (strncmp(e, no_proxy_names[i], n) == 0 && e[n] == '=')
			return i;
	}
	return -1;
}

static char *var(const char *name, const char *value)
{
	size_t a = strlen(name), b = strlen(value);
	char *s = malloc(a + b + 2);

	if (s) {
		memcpy(s, name, a);
		s[a] = '=';
		memcpy(s + a + 1, value, b + 1);
	}
	return s;
}

struct child_env {
	char **envp;
	char *host, *auth_type;
	char *no_proxy[2];          /* no_proxy_names[i] with the host added */
	struct dbr_secret *token; /* "DATABRICKS_TOKEN=<value>" */
};

static void env_release(struct child_env *ce)
{
	free(ce->envp);
	free(ce->host);
	free(ce->auth_type);
	free(ce->no_proxy[0]);
	free(ce->no_proxy[1]);
	dbr_secret_free(ce->token);
	memset(ce, 0, sizeof(*ce));
}

static int env_build(const struct dbr_child_options *o, struct child_env *ce)
{
	size_t n = 0, k = 0;

	memset(ce, 0, sizeof(*ce));
	while (environ && environ[n])
		n++;
	ce->envp = calloc(n + 6, sizeof(*ce->envp));
	if (!ce->envp)
		return DBR_E_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!dbr_child_env_is_credential(environ[i]) &&
		    !(o->no_proxy && no_proxy_entry(environ[i]) >= 0))
			ce->envp[k++] = environ[i];
	for (int i = 0; o->no_proxy && i < 2; i++) {
		/* the value getenv() finds, the host added; one entry each */
		const char *old = getenv(no_proxy_names[i]);
		size_t len = (old ? strlen(old) : 0) + strlen(o->no_proxy) + 2;
		char *v = malloc(len);

		if (!v)
			return DBR_E_NOMEM;
		snprintf(v, len, "%s%s%s", old && *old ? old : "", old && *old ? "," : "",
			 o->no_proxy);
		ce->no_proxy[i] = var(no_proxy_names[i], v);
		free(v);
		if (!ce->no_proxy[i])
			return DBR_E_NOMEM;
		ce->envp[k++] = ce->no_proxy[i];
	}
	if (o->host) {
		if (!(ce->host = var("DATABRICKS_HOST", o->host)))
			return DBR_E_NOMEM;
		ce->envp[k++] = ce->host;
	}
	if (o->auth_type) {
		if (!(ce->auth_type = var("DATABRICKS_AUTH_TYPE", o->auth_type)))
			return DBR_E_NOMEM;
		ce->envp[k++] = ce->auth_type;
	}
	if (o->token) {
		size_t len = dbr_secret_len(o->token);
		int rc = dbr_secret_alloc(strlen(TOKEN_VAR) + len, &ce->token);

		if (rc || (rc = dbr_secret_append(ce->token, TOKEN_VAR, strlen(TOKEN_VAR))) ||
		    (rc = dbr_secret_append(ce->token, dbr_secret_bytes(o->token), len)))
			return rc;
		ce->envp[k++] = (char *)dbr_secret_bytes(ce->token);
	}
	ce->envp[k] = NULL;
	return 0;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* The signals as this process started: those ignored then stay ignored
 * (nohup, trap ''), every other one is at its default (SIGPIPE and
 * SIGXFSZ, which dbroker ignores, included); the mask it started with. */
static int setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
		 const struct dbr_child_options *o, const struct dbr_start_state *st,
		 int out[2], int errp[2])
{
	sigset_t def;
	int rc = 0;

	sigfillset(&def);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&st->ignored, sig) == 1)
			sigdelset(&def, sig);
	rc = rc ? rc : posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = rc ? rc : posix_spawnattr_setsigmask(at, &st->mask);
	rc = rc ? rc : posix_spawnattr_setsigdefault(at, &def);
	if (o->capture_output && !o->inherit_stdout) {
		if (pipe2(out, O_CLOEXEC))
			return errno;
		rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out[1], STDOUT_FILENO);
	}
	if (o->capture_output && !o->inherit_stderr && o->merge_stderr && out[1] >= 0) {
		rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out[1], STDERR_FILENO);
	} else if (o->capture_output && !o->inherit_stderr) {
		if (pipe2(errp, O_CLOEXEC))
			return errno;
		rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, errp[1], STDERR_FILENO);
	}
	/* nothing of dbroker's (sockets, the listener) reaches the child */
	rc = rc ? rc : posix_spawn_file_actions_addclosefrom_np(fa, 3);
	return rc;
}

/* posix_spawn cannot set the umask or a limit: the child takes this
 * process's, so for the moment of the spawn they are the ones it started
 * with, then hardened again (the process stays undumpable meanwhile, so
 * a crash leaves no core the user could read). */
static void as_started(const struct dbr_start_state *st, mode_t *umask_was,
		       struct rlimit *core_was)
{
	*umask_was = umask(st->umask);
	if (getrlimit(RLIMIT_CORE, core_was) != 0)
		core_was->rlim_cur = core_was->rlim_max = 0;
	(void)setrlimit(RLIMIT_CORE, &st->core); /* best effort: a lowered hard limit */
}

static void hardened_again(mode_t umask_was, const struct rlimit *core_was)
{
	umask(umask_was);
	(void)setrlimit(RLIMIT_CORE, core_was);
}

/* Where name is found as an executable file, into full: by its path, or
 * in PATH as posix_spawnp searches it (unset is "/bin:/usr/bin", an empty
 * entry the current directory). 1 if found. */
static int command_path(const char *name, char *full, size_t cap)
{
	const char *path = getenv("PATH"), *dir;
	struct stat sb;

	if (strchr(name, '/'))
		return (size_t)snprintf(full, cap, "%s", name) < cap && stat(name, &sb) == 0 &&
		       S_ISREG(sb.st_mode) && access(name, X_OK) == 0;
	for (dir = path ? path : "/bin:/usr/bin";; dir += strcspn(dir, ":") + 1) {
		int n = (int)strcspn(dir, ":");

		if ((size_t)snprintf(full, cap, "%.*s%s%s", n, dir, n ? "/" : "", name) < cap &&
		    stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && access(full, X_OK) == 0)
			return 1;
		if (!dir[n])
			return 0;
	}
}

/* The kernel refused the file's format (ENOEXEC): an executable script
 * without a "#!" line. A shell, and execvp, run it with /bin/sh; so does
 * this, with the file found as posix_spawnp found it. */
static int spawn_with_sh(pid_t *pid, const posix_spawn_file_actions_t *fa,
			 const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
	char full[4096], **shv;
	size_t n = 0;
	int rc;

	if (!command_path(argv[0], full, sizeof(full)))
		return ENOEXEC;
	while (argv[n])
		n++;
	shv = calloc(n + 2, sizeof(*shv));
	if (!shv)
		return ENOMEM;
	shv[0] = (char *)"/bin/sh";
	shv[1] = full;
	memcpy(shv + 2, argv + 1, (n - 1) * sizeof(*shv));
	rc = posix_spawn(pid, "/bin/sh", fa, at, shv, envp);
	free(shv);
	return rc;
}

int dbr_child_spawn(const struct dbr_child_options *in, struct dbr_child *out,
		    struct dbr_err *err)
{
	struct dbr_child_options o;
	struct dbr_start_state st;
	struct child_env ce;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct rlimit core_was;
	mode_t umask_was;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc;

	dbr_err_clear(err);
	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no child to fill in");
	memset(out, 0, sizeof(*out));
	out->out_fd = out->err_fd = -1;
	if (!in || in->struct_size < sizeof(in->struct_size))
		return dbr_err_set(err, DBR_E_INVAL, "no child options");
	memset(&o, 0, sizeof(o));
	memcpy(&o, in, in->struct_size < sizeof(o) ? in->struct_size : sizeof(o));
	if (!o.argv || !o.argv[0] || !o.argv[0][0])
		return dbr_err_set(err, DBR_E_INVAL, "no command to run: give it after the "
				   "options, e.g. 'dbroker exec -- databricks clusters list'");
	if ((o.host && !one_line(o.host)) || (o.auth_type && !one_line(o.auth_type)))
		return dbr_err_set(err, DBR_E_INVAL, "the host or auth type for the child has a "
				   "line break: check the workspace URL");
	rc = env_build(&o, &ce);
	if (rc) {
		env_release(&ce);
		return dbr_err_set(err, rc, "cannot prepare the environment of '%s': %s",
				   o.argv[0], dbr_strerror(rc));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	dbr_process_start_state(&st);
	rc = setup(&fa, &at, &o, &st, po, pe);
	if (rc == 0) {
		as_started(&st, &umask_was, &core_was);
		rc = posix_spawnp(&out->pid, o.argv[0], &fa, &at, o.argv, ce.envp);
		if (rc == ENOEXEC)
			rc = spawn_with_sh(&out->pid, &fa, &at, o.argv, ce.envp);
		hardened_again(umask_was, &core_was);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	env_release(&ce);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc) {
		char found[4096];

		close_pair(po);
		close_pair(pe);
		out->pid = 0;
		if (rc == ENOENT && command_path(o.argv[0], found, sizeof(found))) {
			/* there, but cannot be run: a shell's 126, not 127 */
			out->spawn_errno = ENOEXEC;
			return dbr_err_set(err, DBR_E_IO, "cannot run '%s': the interpreter it "
					   "needs was not found (a script's '#!' line, or the "
					   "dynamic loader a program was built for): check that "
					   "line, or install the interpreter", o.argv[0]);
		}
		out->spawn_errno = rc;
		if (rc == ENOENT)
			return dbr_err_set(err, DBR_E_IO, "command '%s' not found: check the name "
					   "and PATH", o.argv[0]);
		return dbr_err_set(err, DBR_E_IO, "cannot run '%s': %s", o.argv[0],
				   strerror(rc));
	}
	out->out_fd = po[0];
	out->err_fd = pe[0];
	return 0;
}
