/* dbroker login / logout: put a token into a store (the desktop keyring, or
 * with --store kernel the kernel keyring), take it out.
 *
 * The token is read from the terminal with echo off, or from stdin when it is
 * not a terminal, straight into a secret handle: it never sits in a normal
 * heap string, argv or a file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "banned.h"

#define LOGIN_PROVIDER "keyring"
#define TTL_MAX_MS (30L * 24 * 3600 * 1000)
#define LOGIN_MIN_TOKEN 8

static const char login_usage[] =
"usage: dbroker [global options] login [--host URL] [--store keyring|kernel]\n"
"                                      [--ttl DURATION] [--session] [--verify]\n"
"                                      [--remove-plaintext]\n"
"                                      [--oauth-m2m --client-id ID]\n"
"\n"
"Reads a Databricks token (a no-echo prompt on a terminal, else one line of\n"
"stdin), or with --oauth-m2m a service principal's OAuth client secret, and\n"
"stores it for the profile, bound to its workspace host: in the\n"
"desktop keyring (Secret Service), or with --store kernel in the Linux kernel\n"
"keyring (no D-Bus needed: SSH sessions, CI runners). Later commands find it\n"
"there: no plaintext file. The token is never accepted as an argument.\n"
"\n"
"A locked desktop keyring is unlocked only when stdin is a terminal: its\n"
"unlock prompt appears on the desktop, once, and dbroker waits up to 2 min\n"
"for it (Ctrl-C stops). With the token on stdin nothing is asked, and login\n"
"into a locked keyring fails (exit 4).\n"
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
"                   (with --oauth-m2m: mint an access token with the secret first)\n"
"      --oauth-m2m  store a service principal's client secret (auth type\n"
"                   oauth-m2m): access tokens are minted from it when needed\n"
"      --client-id ID\n"
"                   the service principal's client (application) id, stored with\n"
"                   the secret (not secret itself)\n"
"      --remove-plaintext\n"
"                   once stored, delete the profile's plaintext 'token' line (with\n"
"                   --oauth-m2m: 'client_secret') from the configuration file\n"
"                   (rewritten atomically, same mode)\n"
"\n"
"examples:\n"
"  dbroker -p prod login --host https://adb-123.azuredatabricks.net\n"
"  pass show databricks | dbroker login --verify\n"
"  dbroker login --store kernel --ttl 8h       (over SSH, no desktop keyring)\n"
"  dbroker login --oauth-m2m --client-id 3f0c...  (a service principal)\n"
"  dbroker logout\n"
"\n"
"exit status: 0 stored, 2 invalid options, no host or nothing read, 4 the store\n"
"cannot be used or the host is refused, 5 --verify: the workspace rejected it\n"
"(see 'dbroker --help' for the others).\n";

static const char logout_usage[] =
"usage: dbroker [global options] logout [--store keyring|kernel]\n"
"\n"
"Removes the profile's token from the desktop keyring (or with --store kernel\n"
"from the kernel keyring: unlinked and invalidated) and says whether there\n"
"was one.\n"
"\n"
"examples:\n"
"  dbroker -p prod logout                    the desktop keyring's token of 'prod'\n"
"  dbroker -p ci logout --store kernel       the kernel keyring's (headless hosts)\n"
"\n"
"exit status: 0 removed or nothing to remove (-o json: {\"removed\": false, ...}),\n"
"4 the store cannot be used (a locked keyring, no plugin), 2 invalid options\n"
"(see 'dbroker --help' for the others).\n";

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
static struct termios tty_noecho;
static volatile sig_atomic_t tty_changed;
static volatile sig_atomic_t prompting;

/* Every signal that can end or stop the prompt (SIGKILL and SIGSTOP cannot
 * be caught); SIGCONT turns echo off again. */
static const int prompt_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN,
				      SIGTTOU, SIGCONT };
#define N_PROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

static void tty_restore(void)
{
	if (tty_changed) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		tty_changed = 0;
	}
}

/* Hide the input again, when the prompt is still up and we own the
 * terminal (in the background, the next SIGCONT does it). */
static void tty_hide_again(void)
{
	if (prompting && !tty_changed && tcgetpgrp(tty_fd) == getpgrp() &&
	    tcsetattr(tty_fd, TCSAFLUSH, &tty_noecho) == 0)
		tty_changed = 1;
}

/* Async-signal-safe (tcsetattr, tcgetpgrp, sigprocmask, signal, raise). */
static void on_signal(int sig)
{
	int saved = errno;
	sigset_t self;

	if (sig != SIGCONT) {
		/* echo back on, then what the signal would have done: end or
		 * stop the process (delivered at once: unblocked first) */
		tty_restore();
		signal(sig, SIG_DFL);
		sigemptyset(&self);
		sigaddset(&self, sig);
		sigprocmask(SIG_UNBLOCK, &self, NULL);
		raise(sig);
		/* only a stop returns here: continued, or not stopped at all
		 * (an orphaned process group) */
		signal(sig, on_signal);
	}
	tty_hide_again();
	errno = saved;
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
		if (rc == DBR_E_TOO_LARGE) {
			/* the caller's input, like a short one: a usage error */
			rc = dbr_err_set(err, DBR_E_USAGE, "the line read is longer than %d bytes, "
					 "more than any token or client secret: nothing was "
					 "stored; give the token alone, on one line",
					 DBR_SECRET_MAX);
			break;
		}
		if (rc) {
			rc = dbr_err_set(err, rc, "cannot hold the token: %s", dbr_strerror(rc));
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

/* From the terminal with echo off, or from stdin when it is not one. what
 * names it at the prompt. */
static int read_token(struct cli *cli, const char *what, const char *profile,
		      const char *host, struct dbr_secret **out, struct dbr_err *err)
{
	struct sigaction sa, old[N_PROMPT_SIGNALS];
	int rc;

	if (!isatty(STDIN_FILENO))
		return read_line_secret(STDIN_FILENO, out, err);
	tty_fd = STDIN_FILENO;
	if (tcgetattr(tty_fd, &tty_saved) != 0)
		return dbr_err_set(err, DBR_E_IO, "cannot read the terminal settings: %s",
				   strerror(errno));
	tty_noecho = tty_saved;
	tty_noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	tty_noecho.c_lflag |= ICANON;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaddset(&sa.sa_mask, prompt_signals[i]); /* one handler at a time */
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &sa, &old[i]);
	prompting = 1;
	tty_changed = 1;
	if (tcsetattr(tty_fd, TCSAFLUSH, &tty_noecho) != 0) {
		tty_changed = 0;
		rc = dbr_err_set(err, DBR_E_IO, "cannot turn off terminal echo: %s",
				 strerror(errno));
	} else {
		char prompt[512];
		int n = snprintf(prompt, sizeof(prompt),
				 "%s for profile '%s' (%s), input hidden: ", what,
				 profile, host);

		if (n > 0)
			cli_eprint(cli, prompt, (size_t)n < sizeof(prompt) ? (size_t)n
				   : sizeof(prompt) - 1);
		rc = read_line_secret(tty_fd, out, err);
		cli_eprint(cli, "\n", 1);
	}
	prompting = 0;
	tty_restore();
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
	return rc;
}

/* GET SCIM Me with the new token (or, with a client id, an access token
 * minted from the client secret); prints who it belongs to. */
static int verify_token(struct cli *cli, const char *host, const char *client_id,
			const struct dbr_secret *tok)
{
	struct dbr_credential *cr = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	char user[256];
	int rc;

	if (client_id)
		rc = dbr_credential_new_m2m(host, client_id, tok, "login", cli->mask, &cr, &err);
	else
		rc = dbr_credential_new(host, tok, "login", &cr, &err);
	if (rc == 0)
		rc = cli_whoami(cli, cr, user, sizeof(user), &err);
	if (rc == 0 && cli->output == CLI_OUTPUT_TEXT) {
		char *who = cli_field(cli, user, 0);

		cli_printf(cli, "verified: the token signs in to %s as '%s'\n",
			   dbr_credential_host(cr), who ? who : "?");
		free(who);
	} else if (rc == 0 && (cli_result_bool(cli, "verified", 1) ||
			       cli_result_str(cli, "user", user))) {
		rc = dbr_err_set(&err, DBR_E_NOMEM, "out of memory");
	}
	dbr_credential_free(cr);
	if (rc)
		return cli_failf(cli, rc, "%s (nothing was stored)", err.msg);
	return 0;
}

/* Remove the profile's plaintext key lines ("token", "client_secret") from
 * the configuration file, through the config reader's own parser
 * (dbr_config_remove_secret). */
static int remove_plaintext(struct cli *cli, const char *key, struct dbr_err *err)
{
	const char *what = strcmp(key, "token") == 0 ? "token" : "client secret";
	size_t removed = 0;
	int rc = dbr_config_remove_secret(cli->cfg, key, &removed, err);

	if (rc)
		return rc;
	if (cli->output != CLI_OUTPUT_TEXT)
		return cli_result_bool(cli, "plaintext_removed", removed > 0) ? DBR_E_NOMEM : 0;
	if (removed == 0)
		cli_printf(cli, "'%s' has no plaintext %s for profile '%s': nothing to remove\n",
			   dbr_config_path(cli->cfg), what, dbr_config_profile(cli->cfg));
	else
		cli_printf(cli, "removed the plaintext %s of profile '%s' from '%s'\n", what,
			   dbr_config_profile(cli->cfg), dbr_config_path(cli->cfg));
	return 0;
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

/* Where the token (what) went, for the success line. */
static void print_stored(struct cli *cli, const char *what, const char *store, const char *fp,
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
		cli_printf(cli, "stored the %s (%s) for profile '%s' and %s in the keyring's "
			   "%s\n", what, fp, profile, host, coll && strcmp(coll, "session") == 0
			   ? "session collection (memory only: gone when the keyring daemon stops)"
			   : "default collection");
	else
		cli_printf(cli, "stored the %s (%s) for profile '%s' and %s in %s%s%s\n", what, fp,
			   profile, host, store_title(store), *note ? ": " : "", note);
}

/* What 'login' was asked to do. */
struct login_opts {
	const char *store, *ttl, *client_id, *what;
	int session, verify, remove, m2m;
	char prompt[320];
};

/* Read the token (or client secret) for host (normalised), check it and
 * store it. Returns an exit code. */
static int login_to(struct cli *cli, const struct login_opts *o, const char *host)
{
	struct dbr_chain_options copt = { 0 };
	struct dbr_chain *chain = NULL;
	struct dbr_secret *tok = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	const char *profile = dbr_config_profile(cli->cfg), *store = o->store;
	char fp[DBR_SECRET_FP_MAX];
	int rc;

	rc = read_token(cli, o->m2m ? o->prompt : "Databricks token", profile, host, &tok, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	if (dbr_secret_len(tok) == 0) {
		dbr_secret_free(tok);
		return cli_failf(cli, DBR_E_USAGE, "no %s given: type or paste it at the "
				 "prompt, or pipe it on stdin", o->what);
	}
	if (dbr_secret_len(tok) < LOGIN_MIN_TOKEN) {
		dbr_secret_free(tok);
		/* the caller's input, like an empty one: a usage error */
		return cli_failf(cli, DBR_E_USAGE, "that is not a %s: it is shorter than %d "
				 "bytes; nothing was stored: paste the whole %s", o->what,
				 LOGIN_MIN_TOKEN, o->m2m ? "client secret" : "personal access token");
	}
	if (!dbr_secret_is_one_word(tok)) {
		dbr_secret_free(tok);
		return cli_failf(cli, DBR_E_USAGE, "that is not a %s: it contains a space or a "
				 "control character, which no %s has; nothing was stored: paste "
				 "the %s alone, on one line", o->what, o->what, o->what);
	}
	/* before it can appear anywhere */
	rc = dbr_mask_add_secret(cli->mask, tok, &err);
	if (rc) {
		dbr_secret_free(tok);
		return cli_fail(cli, rc, err.msg);
	}
	if (!o->m2m && !dbr_secret_is_pat_shaped(tok))
		dbr_log_warn(cli->log, "the token does not look like a Databricks personal access "
			     "token ('dapi' + 32 hex digits); storing it anyway");
	if (o->verify && (rc = verify_token(cli, host, o->client_id, tok))) {
		dbr_secret_free(tok);
		return rc;
	}
	copt.spec = store;
	copt.plugin_dir = cli->plugin_dir;
	copt.interactive = isatty(STDIN_FILENO);
	rc = dbr_chain_new(&copt, cli->cfg, cli->mask, cli->log, &chain, &err);
	if (rc == 0)
		rc = o->m2m ? dbr_chain_store_client(chain, store, host, o->client_id, tok, &err)
			    : dbr_chain_store(chain, store, host, tok, &err);
	dbr_chain_free(chain);
	if (rc == 0)
		dbr_secret_fingerprint(tok, fp, sizeof(fp));
	dbr_secret_free(tok);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	print_stored(cli, o->what, store, fp, profile, host, err.msg);
	if (o->remove) {
		rc = remove_plaintext(cli, o->m2m ? "client_secret" : "token", &err);
		if (rc)
			return cli_fail(cli, rc, err.msg);
	} else if (o->m2m && dbr_config_has_client_secret(cli->cfg)) {
		dbr_log_warn(cli->log, "profile '%s' still has a plaintext 'client_secret' line in "
			     "'%s', and %s now holds the client secret: delete the line, or log "
			     "in again with it removed ('dbroker -p %s login --oauth-m2m "
			     "--client-id %s --remove-plaintext', which asks for the secret again)",
			     profile, dbr_config_path(cli->cfg), store_title(store), profile,
			     o->client_id);
	} else if (!o->m2m && dbr_config_has_token(cli->cfg)) {
		dbr_log_warn(cli->log, "profile '%s' still has a plaintext 'token' line in '%s', and "
			     "%s now holds the token: delete the line, or log in again with it "
			     "removed ('dbroker -p %s login --remove-plaintext', which asks for the "
			     "token again)", profile, dbr_config_path(cli->cfg), store_title(store),
			     profile);
	}
	return cli_result_flush(cli, EXIT_OK);
}

static int run_login(struct cli *cli, int argc, char **argv)
{
	struct login_opts o = { .what = "token" };
	struct dbr_err err = DBR_ERR_INIT;
	const char *host = NULL, *profile;
	char *norm = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(login_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--host", &host, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--store", &o.store, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--ttl", &o.ttl, &missing) ||
		    cli_take_value(argc, argv, &i, NULL, "--client-id", &o.client_id, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
		} else if (strcmp(argv[i], "--session") == 0) {
			o.session = 1;
		} else if (strcmp(argv[i], "--verify") == 0) {
			o.verify = 1;
		} else if (strcmp(argv[i], "--remove-plaintext") == 0) {
			o.remove = 1;
		} else if (strcmp(argv[i], "--oauth-m2m") == 0) {
			o.m2m = 1;
		} else {
			return cli_failf(cli, DBR_E_USAGE,
					 "unexpected argument '%s' to 'login' (see 'dbroker login "
					 "--help'; the token is read from the terminal or stdin)",
					 argv[i]);
		}
	}
	/* "" is an unset variable ('--host "$HOST"'), not a choice */
	if (host && !*host)
		return cli_failf(cli, DBR_E_USAGE, "the host is empty: give --host "
				 "https://<workspace>, or leave it out for the profile's host");
	if (o.client_id && !*o.client_id)
		return cli_failf(cli, DBR_E_USAGE, "the client id is empty: give --client-id the "
				 "service principal's client (application) id");
	if (!o.store)
		o.store = LOGIN_PROVIDER;
	if ((rc = check_store(cli, o.store, "login")))
		return rc;
	if (o.m2m != (o.client_id != NULL))
		return cli_failf(cli, DBR_E_USAGE, "'--oauth-m2m' and '--client-id ID' go together: "
				 "give both to store a service principal's client secret (read at "
				 "the prompt or from stdin), or neither to store a token");
	if (o.m2m) {
		o.what = "client secret";
		snprintf(o.prompt, sizeof(o.prompt), "Client secret of service principal '%.200s'",
			 o.client_id);
	}
	if (o.ttl && strcmp(o.store, "kernel") != 0)
		return cli_failf(cli, DBR_E_USAGE, "'--ttl' is for '--store kernel': the desktop "
				 "keyring keeps a token until 'dbroker logout'");
	rc = cli_config(cli, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	profile = dbr_config_profile(cli->cfg);
	if (!host)
		host = dbr_config_get(cli->cfg, "host");
	if (!host || !*host)
		return cli_failf(cli, DBR_E_USAGE,
				 "no workspace host for profile '%s': pass --host https://<workspace> "
				 "or add 'host = ...' to the profile in '%s'", profile,
				 dbr_config_path(cli->cfg));
	if (o.session && (rc = dbr_config_set(cli->cfg, strcmp(o.store, "kernel") == 0
					      ? "kernel_keyring" : "keyring_collection", "session")))
		return cli_fail(cli, rc, "cannot select the session store");
	if (o.ttl && (rc = set_ttl(cli, o.ttl)))
		return rc;
	/* before the prompt, which shows it: a host the store would refuse
	 * (a password in it) is refused before anyone types a token */
	rc = dbr_normalize_host(host, &norm, &err);
	if (rc)
		return cli_fail(cli, rc, err.msg);
	rc = login_to(cli, &o, norm);
	free(norm);
	return rc;
}

static int run_logout(struct cli *cli, int argc, char **argv)
{
	struct dbr_chain_options copt = { 0 };
	struct dbr_chain *chain = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	const char *store = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if (cli_is_help(argv[i])) {
			fputs(logout_usage, stdout);
			return EXIT_OK;
		}
		if (cli_take_value(argc, argv, &i, NULL, "--store", &store, &missing)) {
			if (missing)
				return cli_option_fail(cli, argv[i], missing);
			continue;
		}
		return cli_failf(cli, DBR_E_USAGE, "unexpected argument '%s' to 'logout'",
				 argv[i]);
	}
	if (!store)
		store = LOGIN_PROVIDER;
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
	.summary = "store a token in the desktop or kernel keyring (prompt or stdin)",
	.run = run_login,
};

const struct cli_command cli_cmd_logout = {
	.name = "logout",
	.summary = "remove the profile's token from the desktop or kernel keyring",
	.run = run_logout,
};
