/* dbroker login / logout: put a token into a store (the desktop keyring, or
 * with --store kernel the kernel keyring), take it out.
 *
 * The token is read from the terminal with echo off, or from stdin when it is
 * not a terminal, straight into a secret handle: it never sits in a normal
 * heap string, argv or a file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

#define LOGIN_PROVIDER "keyring"
#define TTL_MAX_MS (30L * 24 * 3600 * 1000)
#define LOGIN_MIN_TOKEN 8
#define CFG_MAX (1024 * 1024)

static const char login_usage[] =
"usage: dbroker [global options] login [--host URL] [--store keyring|kernel]\n"
"                                      [--ttl DURATION] [--session] [--verify]\n"
"                                      [--remove-plaintext]\n"
"\n"
"Reads a Databricks token (a no-echo prompt on a terminal, else one line of\n"
"stdin) and stores it for the profile, bound to its workspace host: in the\n"
"desktop keyring (Secret Service), or with --store kernel in the Linux kernel\n"
"keyring (no D-Bus needed: SSH sessions, CI runners). Later commands find it\n"
"there: no plaintext file. The token is never accepted as an argument.\n"
"\n"
"options:\n"
"      --host URL   the workspace (default: the profile's host)\n"
"      --store NAME where: 'keyring' (default) or 'kernel'\n"
"      --ttl DURATION\n"
"                   with --store kernel: the key expires after DURATION (90m,\n"
"                   12h, ...; default 12h, at most 720h). Same as 'kernel_ttl'\n"
"                   in the profile\n"
"      --session    store in the keyring's session collection (memory only, gone\n"
"                   when the desktop session ends; for shared hosts). Same as\n"
"                   'keyring_collection = session' in the profile. With --store\n"
"                   kernel: the login session's kernel keyring\n"
"                   ('kernel_keyring = session')\n"
"      --verify     check the token with the workspace (SCIM Me) before storing\n"
"      --remove-plaintext\n"
"                   once stored, delete the profile's plaintext 'token' line from\n"
"                   the configuration file (rewritten atomically, same mode)\n"
"\n"
"examples:\n"
"  dbroker -p prod login --host https://adb-123.azuredatabricks.net\n"
"  pass show databricks | dbroker login --verify\n"
"  dbroker login --store kernel --ttl 8h       (over SSH, no desktop keyring)\n"
"  dbroker logout\n";

static const char logout_usage[] =
"usage: dbroker [global options] logout [--store keyring|kernel]\n"
"\n"
"Removes the profile's token from the desktop keyring (or with --store kernel\n"
"from the kernel keyring: unlinked and invalidated) and says whether there\n"
"was one.\n";

/* What a store is called in messages. */
static const char *store_title(const char *store)
{
	if (strcmp(store, "kernel") == 0)
		return "the kernel keyring";
	if (strcmp(store, "keyring") == 0)
		return "the keyring";
	return store;
}

/* --store NAME: a provider that can store. Returns 0 or an exit code. */
static int check_store(struct cli *cli, const char *store, const char *cmd)
{
	if (strcmp(store, "keyring") == 0 || strcmp(store, "kernel") == 0)
		return 0;
	return cli_failf(cli, DBR_E_USAGE, "unknown store '%s' for '%s': use 'keyring' (the "
			 "desktop keyring) or 'kernel' (the kernel keyring)", store, cmd);
}

/* Terminal state to put back on every path, signals included. */
static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_changed;

static void tty_restore(void)
{
	if (tty_changed) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_changed = 0;
	}
}

static void on_signal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Read one line (at most DBR_SECRET_MAX bytes) from fd into a new handle.
 * Bytes pass through a stack buffer that is wiped. */
static int read_line_secret(int fd, struct dbr_secret **out, struct dbr_err *err)
{
	unsigned char chunk[256];
	struct dbr_secret *s = NULL;
	int rc, eol = 0;

	*out = NULL;
	rc = dbr_secret_alloc(DBR_SECRET_MAX, &s);
	if (rc)
		return dbr_err_set(err, rc, "cannot allocate secure memory for the token");
	while (!eol) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		size_t take;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = dbr_err_set(err, DBR_E_IO, "cannot read the token: %s",
					 strerror(errno));
			break;
		}
		if (n == 0)
			break;
		for (take = 0; take < (size_t)n && chunk[take] != '\n'; take++)
			;
		eol = take < (size_t)n;
		rc = dbr_secret_append(s, chunk, take);
		if (rc) {
			rc = dbr_err_set(err, rc, "the token is longer than %d bytes",
					 DBR_SECRET_MAX);
			break;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	if (rc) {
		dbr_secret_free(s);
		return rc;
	}
	dbr_secret_trim(s);
	*out = s;
	return 0;
}

/* From the terminal with echo off, or from stdin when it is not one. */
static int read_token(struct cli *cli, const char *profile, const char *host,
		      struct dbr_secret **out, struct dbr_err *err)
{
	struct sigaction sa, old_int, old_term, old_hup;
	struct termios t;
	int rc;

	if (!isatty(STDIN_FILENO))
		return read_line_secret(STDIN_FILENO, out, err);
	tty_fd = STDIN_FILENO;
	if (tcgetattr(tty_fd, &tty_saved) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot read the terminal settings: %s",
				   strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	t = tty_saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON;
	tty_changed = 1;
	if (tcsetattr(tty_fd, TCSAFLUSH, &t) != 0) {
		tty_changed = 0;
		rc = dbr_err_set(err, DBR_E_IO, "cannot turn off terminal echo: %s",
				 strerror(errno));
	} else {
		char prompt[512];
		int n = snprintf(prompt, sizeof(prompt),
				 "Databricks token for profile '%s' (%s), input hidden: ",
				 profile, host);

		if (n > 0)
			cli_eprint(cli, prompt, (size_t)n < sizeof(prompt) ? (size_t)n
				   : sizeof(prompt) - 1);
		rc = read_line_secret(tty_fd, out, err);
		cli_eprint(cli, "\n", 1);
	}
	tty_restore();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	return rc;
}

/* GET SCIM Me with the new token; prints who it belongs to. */
static int verify_token(struct cli *cli, const char *host, const struct dbr_secret *tok)
{
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char user[256];
	int rc;

	rc = dbr_credential_new(host, tok, "login", &cr, &err);
	if (rc == 0)
		rc = cli_whoami(cli, cr, user, sizeof(user), &err);
	if (rc == 0 && cli->output == CLI_OUTPUT_TEXT)
		cli_printf(cli, "verified: the token signs in to %s as '%s'\n",
			   dbr_credential_host(cr), user);
	else if (rc == 0 && (cli_result_bool(cli, "verified", 1) ||
			     cli_result_str(cli, "user", user)))
		rc = dbr_err_set(&err, DBR_E_NOMEM, "out of memory");
	dbr_credential_free(cr);
	if (rc)
		return cli_failf(cli, rc, "%s (nothing was stored)", err.msg);
	return 0;
}

/* Is line (leading blanks skipped) a "token = ..." / "token: ..." key? */
static int is_token_line(const char *l, size_t len)
{
	size_t i = 0;

	while (i < len && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (len - i < 5 || strncasecmp(l + i, "token", 5) != 0)
		return 0;
	for (i += 5; i < len && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	return i < len && (l[i] == '=' || l[i] == ':');
}

/* Copy in to out without the token lines of section profile, with the
 * config reader's rules (keys before any [section] are DEFAULT's, repeated
 * sections merge, keys compare case-insensitively). Returns lines dropped. */
static size_t drop_token_lines(const char *in, size_t len, const char *profile, char *out,
			       size_t *outlen)
{
	const char *p = in, *end = in + len;
	int in_profile = strcmp(profile, "DEFAULT") == 0;
	size_t dropped = 0, o = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		const char *q = p;

		while (q < p + n && (*q == ' ' || *q == '\t'))
			q++;
		if (q < p + n && *q == '[') {
			const char *close = memchr(q, ']', (size_t)(p + n - q));

			if (close)
				in_profile = (size_t)(close - q - 1) == strlen(profile) &&
					     memcmp(q + 1, profile, strlen(profile)) == 0;
		}
		if (in_profile && is_token_line(p, n)) {
			dropped++;
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	*outlen = o;
	return dropped;
}

/* Remove the profile's plaintext token lines from the configuration file:
 * a temporary file in the same directory with the same mode and owner,
 * fsync'ed, renamed over the original. Buffers are wiped. */
static int remove_plaintext(struct cli *cli, struct dbr_err *err)
{
	const char *path = dbr_config_path(cli->cfg);
	char *in = NULL, *out = NULL, *dir = NULL, *tmp = NULL;
	size_t len = 0, outlen = 0, dropped = 0;
	struct stat st;
	int fd, tfd = -1, rc = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot open '%s': %s", path,
				 fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	if (st.st_size > CFG_MAX) {
		rc = dbr_err_set(err, DBR_E_TOO_LARGE, "'%s' is larger than %d bytes", path,
				 CFG_MAX);
		goto out;
	}
	in = calloc(1, (size_t)st.st_size + 1);
	out = calloc(1, (size_t)st.st_size + 1);
	dir = strdup(path);
	if (!in || !out || !dir) {
		rc = DBR_E_NOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, in + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	dropped = drop_token_lines(in, len, dbr_config_profile(cli->cfg), out, &outlen);
	if (dropped == 0) {
		if (cli->output == CLI_OUTPUT_TEXT)
			cli_printf(cli, "'%s' has no plaintext token for profile '%s': nothing "
				   "to remove\n", path, dbr_config_profile(cli->cfg));
		else if (cli_result_bool(cli, "plaintext_removed", 0))
			rc = DBR_E_NOMEM;
		goto out;
	}
	tmp = malloc(strlen(path) + 32);
	if (!tmp) {
		rc = DBR_E_NOMEM;
		goto out;
	}
	snprintf(tmp, strlen(path) + 32, "%s/.dbroker-cfg-XXXXXX", dirname(dir));
	tfd = mkstemp(tmp);
	if (tfd < 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot create a temporary file beside '%s': %s",
				 path, strerror(errno));
		goto out;
	}
	if (fchmod(tfd, st.st_mode & 07777) != 0 ||
	    (fchown(tfd, st.st_uid, st.st_gid) != 0 && errno != EPERM) ||
	    write(tfd, out, outlen) != (ssize_t)outlen || fsync(tfd) != 0 ||
	    close(tfd) != 0 || rename(tmp, path) != 0) {
		rc = dbr_err_set(err, DBR_E_IO, "cannot rewrite '%s': %s (the file is unchanged)",
				 path, strerror(errno));
		unlink(tmp);
		tfd = -1;
		goto out;
	}
	tfd = -1;
	memcpy(dir, path, strlen(path) + 1); /* dirname() wrote into it */
	{
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (cli->output == CLI_OUTPUT_TEXT)
		cli_printf(cli, "removed the plaintext token of profile '%s' from '%s'\n",
			   dbr_config_profile(cli->cfg), path);
	else if (cli_result_bool(cli, "plaintext_removed", 1))
		rc = DBR_E_NOMEM;
out:
	if (tfd >= 0) {
		close(tfd);
		unlink(tmp);
	}
	if (fd >= 0)
		close(fd);
	if (in)
		explicit_bzero(in, len);
	if (out)
		explicit_bzero(out, outlen);
	free(in);
	free(out);
	free(dir);
	free(tmp);
	return rc;
}

/* --ttl as whole seconds for the kernel store's kernel_ttl. Returns 0 or
 * an exit code. */
static int set_ttl(struct cli *cli, const char *ttl)
{
	char secs[32];
	long ms;

	if (cli_parse_duration_ms(ttl, &ms) || ms < 1000 || ms > TTL_MAX_MS || ms % 1000)
		return cli_failf(cli, DBR_E_USAGE, "'--ttl %s' is not a duration from 1s to 720h "
				 "in whole seconds (e.g. 90m, 12h)", ttl);
	snprintf(secs, sizeof(secs), "%ld", ms / 1000);
	if (dbr_config_set(cli->cfg, "kernel_ttl", secs))
		return cli_fail(cli, DBR_E_NOMEM, "cannot set the key's lifetime");
	return 0;
}

/* Where the token went, for the success line. */
static void print_stored(struct cli *cli, const char *store, const char *fp,
			 const char *profile, const char *host, const char *note)
{
	const char *coll = dbr_config_get(cli->cfg, "keyring_collection");

	if (cli->output == CLI_OUTPUT_JSON) {
		/* a failure here only loses fields: cli_result_flush() reports it */
		cli_result_bool(cli, "stored", 1);
		cli_result_str(cli, "profile", profile);
		cli_result_str(cli, "host", host);
		cli_result_str(cli, "store", store);
		cli_result_str(cli, "fingerprint", fp);
		if (strcmp(store, "keyring") == 0)
			cli_result_str(cli, "collection", coll && strcmp(coll, "session") == 0
				       ? "session" : "default");
		else if (*note)
			cli_result_str(cli, "note", note);
		return;
	}
	if (strcmp(store, "keyring") == 0)
		cli_printf(cli, "stored the token (%s) for profile '%s' and %s in the keyring's "
			   "%s\n", fp, profile, host, coll && strcmp(coll, "session") == 0
			   ? "session collection (memory only: gone when the keyring daemon stops)"
			   : "default collection");
	else
		cli_printf(cli, "stored the token (%s) for profile '%s' and %s in %s%s%s\n", fp,
			   profile, host, store_title(store), *note ? ": " : "", note);
}

static int run_login(struct cli *cli, int argc, char **argv)
{
	struct dbr_chain_options copt = { 0 };
	struct dbr_chain *chain = NULL;
	struct dbr_secret *tok = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	const char *host = NULL, *profile, *store = LOGIN_PROVIDER, *ttl = NULL;
	char fp[DBR_SECRET_FP_MAX];
	int session = 0, verify = 0, remove = 0, rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(login_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--host", &host, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--store", &store, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--ttl", &ttl, &missing)) {
			if (missing)
				return cli_failf(cli, DBR_E_USAGE, "option '%s' needs a value",
						 argv[i]);
		} else if (strcmp(argv[i], "--session") == 0) {
			session = 1;
		} else if (strcmp(argv[i], "--verify") == 0) {
			verify = 1;
		} else if (strcmp(argv[i], "--remove-plaintext") == 0) {
			remove = 1;
		} else {
			return cli_failf(cli, DBR_E_USAGE,
					 "unexpected argument '%s' to 'login' (see 'dbroker login "
					 "--help'; the token is read from the terminal or stdin)",
					 argv[i]);
		}
	}
	if ((rc = check_store(cli, store, "login")))
		return rc;
	if (ttl && strcmp(store, "kernel") != 0)
		return cli_failf(cli, DBR_E_USAGE, "'--ttl' is for '--store kernel': the desktop "
				 "keyring keeps a token until 'dbroker logout'");
	rc = cli_config(cli, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	profile = dbr_config_profile(cli->cfg);
	if (!host || !*host)
		host = dbr_config_get(cli->cfg, "host");
	if (!host || !*host)
		return cli_failf(cli, DBR_E_USAGE,
				 "no workspace host for profile '%s': pass --host https://<workspace> "
				 "or add 'host = ...' to the profile in '%s'", profile,
				 dbr_config_path(cli->cfg));
	if (session && (rc = dbr_config_set(cli->cfg, strcmp(store, "kernel") == 0
					    ? "kernel_keyring" : "keyring_collection", "session")))
		return cli_fail(cli, rc, "cannot select the session store");
	if (ttl && (rc = set_ttl(cli, ttl)))
		return rc;

	rc = read_token(cli, profile, host, &tok, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	if (dbr_secret_len(tok) == 0) {
		dbr_secret_free(tok);
		return cli_failf(cli, DBR_E_USAGE, "no token given: type or paste it at the "
				 "prompt, or pipe it on stdin");
	}
	if (dbr_secret_len(tok) < LOGIN_MIN_TOKEN) {
		dbr_secret_free(tok);
		/* the caller's input, like an empty one: a usage error */
		return cli_failf(cli, DBR_E_USAGE, "that is not a token: it is shorter than %d "
				 "bytes; nothing was stored: paste the whole personal access "
				 "token", LOGIN_MIN_TOKEN);
	}
	/* before it can appear anywhere */
	rc = dbr_mask_add_secret(cli->mask, tok, &err);
	if (rc) {
		dbr_secret_free(tok);
		return cli_fail(cli, rc, err.msg);
	}
	if (!dbr_secret_is_pat_shaped(tok))
		dbr_log_warn(cli->log, "the token does not look like a Databricks personal access "
			     "token ('dapi' + 32 hex digits); storing it anyway");
	if (verify && (rc = verify_token(cli, host, tok))) {
		dbr_secret_free(tok);
		return rc;
	}
	copt.spec = store;
	copt.plugin_dir = cli->plugin_dir;
	copt.interactive = isatty(STDIN_FILENO);
	rc = dbr_chain_new(&copt, cli->cfg, cli->mask, cli->log, &chain, &err);
	if (rc == 0)
		rc = dbr_chain_store(chain, store, host, tok, &err);
	dbr_chain_free(chain);
	if (rc == 0)
		dbr_secret_fingerprint(tok, fp, sizeof(fp));
	dbr_secret_free(tok);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	print_stored(cli, store, fp, profile, host, err.msg);
	if (remove) {
		rc = remove_plaintext(cli, &err);
		if (rc)
			return cli_fail(cli, rc, err.msg);
	} else if (dbr_config_has_token(cli->cfg)) {
		dbr_log_warn(cli->log, "profile '%s' still has a plaintext 'token' line in '%s': "
			     "delete it ('dbroker login --remove-plaintext'), %s now holds the "
			     "token", profile, dbr_config_path(cli->cfg), store_title(store));
	}
	return cli_result_flush(cli, EXIT_OK);
}

static int run_logout(struct cli *cli, int argc, char **argv)
{
	struct dbr_chain_options copt = { 0 };
	struct dbr_chain *chain = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	const char *store = LOGIN_PROVIDER;
	int rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(logout_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--store", &store, &missing)) {
			if (missing)
				return cli_failf(cli, DBR_E_USAGE, "option '--store' needs a value");
			continue;
		}
		return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' to 'logout'",
				 argv[i]);
	}
	if ((rc = check_store(cli, store, "logout")))
		return rc;
	rc = cli_config(cli, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	copt.spec = store;
	copt.plugin_dir = cli->plugin_dir;
	copt.interactive = isatty(STDIN_FILENO);
	rc = dbr_chain_new(&copt, cli->cfg, cli->mask, cli->log, &chain, &err);
	if (rc == 0)
		rc = dbr_chain_erase(chain, store, &err);
	dbr_chain_free(chain);
	if (rc && rc != DBR_E_NOT_HERE)
		return cli_fail(cli, rc, err.msg);
	if (cli->output == CLI_OUTPUT_JSON) {
		cli_result_bool(cli, "removed", rc == 0);
		cli_result_str(cli, "profile", dbr_config_profile(cli->cfg));
		cli_result_str(cli, "store", store);
		if (rc)
			cli_result_str(cli, "reason", err.msg);
		return cli_result_flush(cli, EXIT_OK);
	}
	if (rc == DBR_E_NOT_HERE)
		cli_printf(cli, "nothing removed: %s\n", err.msg);
	else
		cli_printf(cli, "removed the token for profile '%s' from %s\n",
			   dbr_config_profile(cli->cfg), store_title(store));
	return EXIT_OK;
}

const struct cli_command cli_cmd_login = {
	.name = "login",
	.summary = "store a token in the desktop or kernel keyring (no-echo prompt or stdin)",
	.run = run_login,
};

const struct cli_command cli_cmd_logout = {
	.name = "logout",
	.summary = "remove the profile's token from the desktop or kernel keyring",
	.run = run_logout,
};
