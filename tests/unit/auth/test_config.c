/* ~/.databrickscfg profiles: official-tool semantics, file safety, and the
 * plaintext token kept only in a secret handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/config.h"
#include "dbroker/log.h"
#include "dbroker/mask.h"
#include "dbroker/secret.h"

/* snprintf that fails the test instead of truncating. */
static void fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t n, const char *f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vsnprintf(buf, n, f, ap);
	va_end(ap);
	assert_true(r >= 0 && (size_t)r < n);
}

static const char tok_default[] = "dapi0123456789abcdef0123456789abcdef";
static const char tok_dev[] = "dapifedcba9876543210fedcba9876543210";

struct fx {
	char dir[64];
	char path[128];
	struct dbr_config *cfg;
	struct dbr_err err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fmt(f->dir, sizeof(f->dir), "/tmp/dbr-config-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fmt(f->path, sizeof(f->path), "%s/databrickscfg", f->dir);
	unsetenv("DATABRICKS_CONFIG_FILE");
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	dbr_config_free(f->cfg);
	fmt(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("DATABRICKS_CONFIG_FILE");
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	free(f);
	return 0;
}

static void write_file(const char *path, mode_t mode, const char *text, size_t len)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void write_text(const char *path, mode_t mode, const char *text)
{
	write_file(path, mode, text, strlen(text));
}

static void write_cfg(struct fx *f, mode_t mode, const char *text)
{
	write_text(f->path, mode, text);
}

/* Load f->path with profile; returns the code, the config lands in f->cfg. */
static int load(struct fx *f, const char *profile)
{
	dbr_config_free(f->cfg);
	f->cfg = NULL;
	dbr_err_clear(&f->err);
	return dbr_config_load(f->path, profile, NULL, &f->cfg, &f->err);
}

static void assert_msg_has(const struct fx *f, const char *needle)
{
	if (!strstr(f->err.msg, needle))
		fail_msg("message '%s' lacks '%s'", f->err.msg, needle);
}

static const char two_profiles[] =
	"; comment\n"
	"[DEFAULT]\n"
	"host = https://default.example\n"
	"warehouse_id = w1\n"
	"\n"
	"[dev]\n"
	"host = https://dev.example\n"
	"cluster_id = 0123-456789-abc\n";

static void test_default_and_named(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, two_profiles);
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_profile(f->cfg), "DEFAULT");
	assert_string_equal(dbr_config_path(f->cfg), f->path);
	assert_int_equal(dbr_config_profile_found(f->cfg), 1);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://default.example");
	assert_string_equal(dbr_config_get(f->cfg, "warehouse_id"), "w1");
	assert_null(dbr_config_get(f->cfg, "cluster_id"));
	assert_null(dbr_config_get(f->cfg, "nope"));
	assert_int_equal(dbr_config_has_token(f->cfg), 0);

	assert_int_equal(load(f, "dev"), 0);
	assert_string_equal(dbr_config_profile(f->cfg), "dev");
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://dev.example");
	assert_string_equal(dbr_config_get(f->cfg, "cluster_id"), "0123-456789-abc");
}

static void test_default_not_merged(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, two_profiles);
	assert_int_equal(load(f, "dev"), 0);
	/* the official tools do not fall back to [DEFAULT] */
	assert_null(dbr_config_get(f->cfg, "warehouse_id"));
	write_cfg(f, 0600, "[DEFAULT]\nhost = https://d.example\n[dev]\ncluster_id = c\n");
	assert_int_equal(load(f, "dev"), 0);
	assert_null(dbr_config_get(f->cfg, "host"));
}

static void test_missing_named_profile(void **state)
{
	struct fx *f = *state;
	char want[256];

	write_cfg(f, 0600, two_profiles);
	assert_int_equal(load(f, "prod"), DBR_E_NO_PROFILE);
	assert_null(f->cfg);
	assert_int_equal(f->err.code, DBR_E_NO_PROFILE);
	fmt(want, sizeof(want), "'%s' has no 'prod' profile configured", f->path);
	assert_msg_has(f, want);
	/* the profiles that exist, by name only */
	assert_msg_has(f, "'DEFAULT'");
	assert_msg_has(f, "'dev'");
	assert_null(strstr(f->err.msg, "example"));
	assert_null(strstr(f->err.msg, "w1"));

	/* a section without keys does not count, like the Go SDK */
	write_cfg(f, 0600, "[empty]\n[DEFAULT]\nhost = h\n");
	assert_int_equal(load(f, "empty"), DBR_E_NO_PROFILE);
	write_cfg(f, 0600, "; nothing\n");
	assert_int_equal(load(f, "x"), DBR_E_NO_PROFILE);
	assert_msg_has(f, "no profiles");
}

static void test_implicit_default_absent(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, "[dev]\nhost = https://dev.example\n");
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_profile(f->cfg), "DEFAULT");
	assert_int_equal(dbr_config_profile_found(f->cfg), 0);
	assert_null(dbr_config_get(f->cfg, "host"));
	/* DEFAULT named explicitly is like any other name */
	assert_int_equal(load(f, "DEFAULT"), DBR_E_NO_PROFILE);
	assert_msg_has(f, "'dev'");
	/* keys before any section belong to DEFAULT */
	write_cfg(f, 0600, "host = https://top.example\n[dev]\nhost = x\n");
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_profile_found(f->cfg), 1);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://top.example");
}

static void test_missing_file(void **state)
{
	struct fx *f = *state;

	/* no file, no profile named: an empty config */
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_profile_found(f->cfg), 0);
	assert_string_equal(dbr_config_path(f->cfg), f->path);
	assert_null(dbr_config_get(f->cfg, "host"));
	/* named explicitly: an error that says the file is missing */
	assert_int_equal(load(f, "dev"), DBR_E_NO_PROFILE);
	assert_msg_has(f, "does not exist");
	assert_msg_has(f, f->path);
	setenv("DATABRICKS_CONFIG_PROFILE", "dev", 1);
	assert_int_equal(load(f, NULL), DBR_E_NO_PROFILE);
	assert_msg_has(f, "'dev'");
}

static void test_env_vars(void **state)
{
	struct fx *f = *state;
	char home_cfg[160], other[160];

	write_cfg(f, 0600, two_profiles);
	setenv("DATABRICKS_CONFIG_FILE", f->path, 1);
	setenv("DATABRICKS_CONFIG_PROFILE", "dev", 1);
	assert_int_equal(dbr_config_load(NULL, NULL, NULL, &f->cfg, &f->err), 0);
	assert_string_equal(dbr_config_path(f->cfg), f->path);
	assert_string_equal(dbr_config_profile(f->cfg), "dev");
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://dev.example");

	/* arguments beat the environment */
	fmt(other, sizeof(other), "%s/other.cfg", f->dir);
	write_text(other, 0600, "[DEFAULT]\nhost = https://other.example\n");
	dbr_config_free(f->cfg);
	f->cfg = NULL;
	assert_int_equal(dbr_config_load(other, "DEFAULT", NULL, &f->cfg, &f->err), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://other.example");
	dbr_config_free(f->cfg);
	f->cfg = NULL;

	/* no argument, no DATABRICKS_CONFIG_FILE: $HOME/.databrickscfg */
	unsetenv("DATABRICKS_CONFIG_FILE");
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	{
		const char *old = getenv("HOME");
		char *saved = old ? strdup(old) : NULL;

		setenv("HOME", f->dir, 1);
		fmt(home_cfg, sizeof(home_cfg), "%s/.databrickscfg", f->dir);
		write_text(home_cfg, 0600, "[DEFAULT]\nhost = https://home.example\n");
		assert_int_equal(dbr_config_load(NULL, NULL, NULL, &f->cfg, &f->err), 0);
		assert_string_equal(dbr_config_path(f->cfg), home_cfg);
		assert_string_equal(dbr_config_get(f->cfg, "host"), "https://home.example");
		dbr_config_free(f->cfg);
		f->cfg = NULL;
		/* "~/" is expanded like the official tools do */
		setenv("DATABRICKS_CONFIG_FILE", "~/.databrickscfg", 1);
		assert_int_equal(dbr_config_load(NULL, NULL, NULL, &f->cfg, &f->err), 0);
		assert_string_equal(dbr_config_path(f->cfg), home_cfg);
		if (saved)
			setenv("HOME", saved, 1);
		else
			unsetenv("HOME");
		free(saved);
	}
	/* an empty profile argument is a mistake, not "DEFAULT" */
	assert_int_equal(load(f, ""), DBR_E_INVAL);
}

static void test_syntax_error_line(void **state)
{
	struct fx *f = *state;
	char want[200];

	write_cfg(f, 0600, "[DEFAULT]\nhost = h\n\nthis line is not ini\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	fmt(want, sizeof(want), "'%s' line 4", f->path);
	assert_msg_has(f, want);

	write_cfg(f, 0600, "[DEFAULT\nhost = h\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 1");

	/* the bad line's text is never echoed: it may be a token */
	write_cfg(f, 0600, "[DEFAULT]\ntoken dapi0123456789abcdef0123456789abcdef\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 2");
	assert_null(strstr(f->err.msg, "dapi"));

	write_cfg(f, 0600, "[DEFAULT]\n= value\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 2");

	/* the first error is reported, in another profile too */
	write_cfg(f, 0600, "[a]\nx = 1\nbad\n[DEFAULT]\nbad too\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 3");
}

static void test_long_lines_and_nul(void **state)
{
	struct fx *f = *state;
	char text[2048];
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* a long comment is fine */
	fmt(text, sizeof(text), "# %s\n[DEFAULT]\nhost = h\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "h");
	/* a value longer than inih's 200-byte line is read whole, in its section */
	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\nlong = %s ; note\n[other]\nlong = x\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_get(f->cfg, "long"), big);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "h");
	assert_int_equal(load(f, "other"), 0);
	assert_string_equal(dbr_config_get(f->cfg, "long"), "x");
	/* the same after a UTF-8 BOM before the first section: the long line
	 * is that section's, never DEFAULT's */
	fmt(text, sizeof(text), "\xef\xbb\xbf [other]\nhost = o\ntoken = dapi%s\n"
	    "[DEFAULT]\nhost = h\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_false(dbr_config_has_token(f->cfg));
	assert_string_equal(dbr_config_get(f->cfg, "host"), "h");
	assert_int_equal(load(f, "other"), 0);
	assert_true(dbr_config_has_token(f->cfg));
	/* a long line without '=' is a syntax error on that line */
	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\n%s\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 3: syntax error");
	/* an earlier syntax error wins */
	fmt(text, sizeof(text), "[DEFAULT]\nbad\nlong = %s\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 2");

	{
		static const char nul_text[] = "[DEFAULT]\nhost = a\0b\n";

		write_file(f->path, 0600, nul_text, sizeof(nul_text) - 1);
	}
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 2 contains a NUL byte");

	/* inih would cut a long profile name, merging look-alikes: refused */
	write_cfg(f, 0600, "[DEFAULT]\nhost = h\n"
		  "[a-profile-name-much-longer-than-inih-keeps-in-its-buffer-1]\nhost = x\n");
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 3: the profile name is longer than 49 bytes");
	/* 49 bytes is the longest name that fits */
	write_cfg(f, 0600, "[p123456789-123456789-123456789-123456789-12345678]\nhost = x\n");
	assert_int_equal(load(f, "p123456789-123456789-123456789-123456789-12345678"), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "x");
}

static void test_very_long_lines(void **state)
{
	struct fx *f = *state;
	size_t n = 70000;
	char *big = malloc(n + 1), *text = malloc(n + 64);

	assert_non_null(big);
	assert_non_null(text);
	/* 4 KiB and more: Azure resource ids, long hosts */
	memset(big, 'r', 5000);
	big[5000] = '\0';
	snprintf(text, n + 64, "[DEFAULT]\nazure_workspace_resource_id = %s\nhost = h\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_get(f->cfg, "azure_workspace_resource_id"), big);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "h");
	/* a long token line goes into the secret, whole */
	snprintf(text, n + 64, "[DEFAULT]\nhost = h\ntoken = dapi%s\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_true(dbr_config_has_token(f->cfg));
	/* past the limit: reported, never cut */
	memset(big, 'r', n);
	big[n] = '\0';
	snprintf(text, n + 64, "[DEFAULT]\nhost = h\nlong = %s\n", big);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, "line 3 is too long (the limit is 65536 bytes)");
	free(big);
	free(text);
}

static void test_quoted_values(void **state)
{
	struct fx *f = *state;

	/* double quotes are read off, as the Go SDK does */
	write_cfg(f, 0600, "[DEFAULT]\nhost = \"https://h.example\"\ncluster_id=\"a b\"\n"
		  "half = \"x\nempty = \"\"\nsingle = 'y'\n");
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://h.example");
	assert_string_equal(dbr_config_get(f->cfg, "cluster_id"), "a b");
	assert_string_equal(dbr_config_get(f->cfg, "half"), "\"x");
	assert_string_equal(dbr_config_get(f->cfg, "empty"), "");
	assert_string_equal(dbr_config_get(f->cfg, "single"), "'y'");
	/* a quoted token: the token without its quotes; "" is no token */
	write_cfg(f, 0600, "[DEFAULT]\nhost = h\ntoken = \"dapi0123456789abcdef0123456789abcdef\"\n");
	assert_int_equal(load(f, NULL), 0);
	assert_true(dbr_config_has_token(f->cfg));
	write_cfg(f, 0600, "[DEFAULT]\nhost = h\ntoken = \"\"\n");
	assert_int_equal(load(f, NULL), 0);
	assert_false(dbr_config_has_token(f->cfg));
	/* a key in double quotes is that key, as the Go SDK reads it: a token
	 * or secret under it is one, not a plain string (before: "token" was
	 * an ordinary key, its value kept outside the secret heap, unwarned) */
	write_cfg(f, 0600, "[DEFAULT]\n\"host\" = h\n\"Token\" = "
		  "dapi0123456789abcdef0123456789abcdef\n\"client_secret\": s3cret-value\n"
		  "\"password\" = hunter22\n");
	assert_int_equal(load(f, NULL), 0);
	assert_true(dbr_config_has_token(f->cfg));
	assert_true(dbr_config_has_client_secret(f->cfg));
	assert_non_null(dbr_config_get(f->cfg, "host"));
	assert_string_equal(dbr_config_get(f->cfg, "host"), "h");
	assert_null(dbr_config_get(f->cfg, "\"Token\""));
	assert_null(dbr_config_get(f->cfg, "\"password\""));
	assert_null(dbr_config_key_with_prefix(f->cfg, "\""));
}

static void test_keys_sections_indentation(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600,
		  "[dev]\n"
		  "Host = https://first.example\n"
		  "[other]\n"
		  "host = https://other.example\n"
		  "[dev]\n"
		  "HOST = https://last.example\n"
		  "Cluster_ID : c1\n"
		  "  warehouse_id = indented\n"
		  "\tauth_type = pat ; inline comment\n");
	assert_int_equal(load(f, "dev"), 0);
	/* case-insensitive keys, last wins, repeated sections merge */
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://last.example");
	assert_string_equal(dbr_config_get(f->cfg, "cluster_id"), "c1");
	/* indentation is not a continuation line (Go SDK semantics) */
	assert_string_equal(dbr_config_get(f->cfg, "warehouse_id"), "indented");
	assert_string_equal(dbr_config_get(f->cfg, "auth_type"), "pat");

	/* CRLF files and a UTF-8 BOM */
	write_cfg(f, 0600, "\xef\xbb\xbf[DEFAULT]\r\nhost = https://crlf.example\r\n");
	assert_int_equal(load(f, NULL), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://crlf.example");
}

static void test_writable_refused(void **state)
{
	struct fx *f = *state;
	char want[200];

	write_cfg(f, 0620, two_profiles);
	assert_int_equal(load(f, NULL), DBR_E_UNSAFE_PERM);
	assert_null(f->cfg);
	fmt(want, sizeof(want), "chmod go-w %s", f->path);
	assert_msg_has(f, want);
	assert_msg_has(f, "0620");
	write_cfg(f, 0602, two_profiles);
	assert_int_equal(load(f, "dev"), DBR_E_UNSAFE_PERM);
	assert_msg_has(f, want);
	/* not even a missing profile is reported before the permissions */
	assert_int_equal(load(f, "nope"), DBR_E_UNSAFE_PERM);
}

static void test_foreign_owner_refused(void **state)
{
	struct fx *f = *state;

	if (geteuid() != 0)
		skip();
	write_cfg(f, 0600, two_profiles);
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(load(f, NULL), DBR_E_UNSAFE_PERM);
	assert_msg_has(f, "owned by uid 65534");
	assert_msg_has(f, "chown 0 ");
}

static void test_not_regular_and_symlink(void **state)
{
	struct fx *f = *state;
	char target[160];

	fmt(target, sizeof(target), "%s/real.cfg", f->dir);
	write_text(target, 0600, "[DEFAULT]\nhost = h\n");
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(load(f, NULL), DBR_E_UNSAFE_PERM);
	assert_msg_has(f, "symbolic link");
	assert_int_equal(unlink(f->path), 0);

	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(load(f, NULL), DBR_E_UNSAFE_PERM);
	assert_msg_has(f, "not a regular file");
	assert_int_equal(rmdir(f->path), 0);

	/* a FIFO must not hang the load */
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_int_equal(load(f, NULL), DBR_E_UNSAFE_PERM);
}

static void test_dev_null_is_no_file(void **state)
{
	struct fx *f = *state;
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_config *c = NULL;

	(void)f;
	/* DATABRICKS_CONFIG_FILE=/dev/null: no profiles, not an error */
	assert_int_equal(dbr_config_load("/dev/null", NULL, NULL, &c, &err), 0);
	assert_int_equal(dbr_config_profile_found(c), 0);
	assert_null(dbr_config_get(c, "host"));
	dbr_config_free(c);
	/* but a named profile still has to exist */
	assert_int_equal(dbr_config_load("/dev/null", "prod", NULL, &c, &err), DBR_E_NO_PROFILE);
	assert_null(c);
	/* any other device is refused */
	assert_int_equal(dbr_config_load("/dev/zero", NULL, NULL, &c, &err), DBR_E_UNSAFE_PERM);
}

static void test_token_in_handle_only(void **state)
{
	struct fx *f = *state;
	struct dbr_secret *s = NULL;
	char text[256];

	fmt(text, sizeof(text),
		 "[DEFAULT]\nhost = https://d.example\ntoken = %s\n"
		 "[dev]\nhost = https://dev.example\ntoken = %s\n", tok_default, tok_dev);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_has_token(f->cfg), 1);
	assert_int_equal(dbr_config_token_exposed(f->cfg), 0);
	assert_null(dbr_config_get(f->cfg, "token"));
	assert_null(dbr_config_get(f->cfg, "TOKEN"));
	assert_int_equal(dbr_config_copy_token(f->cfg, &s), 0);
	assert_true(dbr_secret_equal_bytes(s, tok_default, strlen(tok_default)));
	dbr_secret_free(s);
	/* a fresh handle every time */
	assert_int_equal(dbr_config_copy_token(f->cfg, &s), 0);
	assert_true(dbr_secret_equal_bytes(s, tok_default, strlen(tok_default)));
	dbr_secret_free(s);

	assert_int_equal(load(f, "dev"), 0);
	assert_int_equal(dbr_config_copy_token(f->cfg, &s), 0);
	assert_true(dbr_secret_equal_bytes(s, tok_dev, strlen(tok_dev)));
	dbr_secret_free(s);
	dbr_config_free(f->cfg);
	f->cfg = NULL;
	assert_int_equal(dbr_config_copy_token(NULL, &s), DBR_E_NOT_HERE);
	assert_null(s);
}

static void test_other_profiles_tokens_ignored(void **state)
{
	struct fx *f = *state;
	struct dbr_secret *s = (struct dbr_secret *)1;
	char text[256];

	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\n[dev]\ntoken = %s\n", tok_dev);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_has_token(f->cfg), 0);
	assert_int_equal(dbr_config_copy_token(f->cfg, &s), DBR_E_NOT_HERE);
	assert_null(s);

	/* last token wins; an empty one clears it */
	fmt(text, sizeof(text), "[DEFAULT]\ntoken = %s\ntoken = %s\n", tok_dev, tok_default);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_copy_token(f->cfg, &s), 0);
	assert_true(dbr_secret_equal_bytes(s, tok_default, strlen(tok_default)));
	dbr_secret_free(s);
	fmt(text, sizeof(text), "[DEFAULT]\nToken = %s\ntoken =\n", tok_dev);
	write_cfg(f, 0600, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_has_token(f->cfg), 0);
	assert_int_equal(dbr_config_profile_found(f->cfg), 1);

	/* other secret-looking keys are not kept either */
	write_cfg(f, 0600, "[DEFAULT]\nclient_secret = s3cr3t-value\npassword = pw\n"
		  "azure_client_secret = x\nclient_id = id\n");
	assert_int_equal(load(f, NULL), 0);
	assert_null(dbr_config_get(f->cfg, "client_secret"));
	assert_null(dbr_config_get(f->cfg, "password"));
	assert_null(dbr_config_get(f->cfg, "azure_client_secret"));
	assert_string_equal(dbr_config_get(f->cfg, "client_id"), "id");
}

static void test_world_readable_token_exposed(void **state)
{
	struct fx *f = *state;
	char text[256];

	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\ntoken = %s\n", tok_default);
	write_cfg(f, 0644, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_has_token(f->cfg), 1);
	assert_int_equal(dbr_config_token_exposed(f->cfg), 1);
	write_cfg(f, 0640, text);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_token_exposed(f->cfg), 1);
	/* readable but without a token: nothing is exposed */
	write_cfg(f, 0644, "[DEFAULT]\nhost = h\n");
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_token_exposed(f->cfg), 0);
}

static void test_warnings_through_log(void **state)
{
	struct fx *f = *state;
	struct dbr_mask *mask = NULL;
	struct dbr_log *log = NULL;
	char text[256], out[4096];
	int p[2];
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(dbr_mask_new(&mask), 0);
	assert_int_equal(dbr_log_new(mask, &log), 0);
	assert_int_equal(dbr_log_add_fd(log, p[1]), 0);
	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\ntoken = %s\n", tok_default);
	write_cfg(f, 0644, text);
	assert_int_equal(dbr_config_load(f->path, NULL, log, &f->cfg, &f->err), 0);
	n = read(p[0], out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "plaintext token"));
	assert_non_null(strstr(out, "dbroker login -p DEFAULT"));
	assert_non_null(strstr(out, "chmod 600"));
	assert_null(strstr(out, "dapi"));
	dbr_log_free(log);
	dbr_mask_free(mask);
	close(p[0]);
	close(p[1]);
}

/* How many times needle appears in the dead stack below the caller: called
 * right after dbr_config_load() from the same frame, the probe covers what
 * the load's callees (inih's line buffer among them) left behind. */
static __attribute__((noinline)) int stack_residue(const char *needle)
{
	unsigned char probe[16384];
	size_t n = strlen(needle);
	int hits = 0;

	/* tell the compiler the array is "written": we want the old bytes */
	__asm__ __volatile__("" : "=m"(probe));
	for (size_t i = 0; i + n <= sizeof(probe); i++)
		if (probe[i] == (unsigned char)needle[0] && !memcmp(probe + i, needle, n))
			hits++;
	return hits;
}

static void test_token_not_left_on_stack(void **state)
{
	struct fx *f = *state;
	char text[256];
	int rc;

	/* valgrind rightly calls reading dead stack an error */
	if (getenv("DBR_UNDER_VALGRIND"))
		skip();
	fmt(text, sizeof(text), "[DEFAULT]\nhost = h\ntoken = %s\n", tok_default);
	write_cfg(f, 0600, text);
	explicit_bzero(text, sizeof(text));
	rc = dbr_config_load(f->path, NULL, NULL, &f->cfg, &f->err);
	assert_int_equal(stack_residue(tok_default + 4), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(dbr_config_has_token(f->cfg), 1);
}

static void test_set_refusals(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, two_profiles);
	assert_int_equal(load(f, NULL), 0);
	assert_int_equal(dbr_config_set(f->cfg, "token", "dapi0000"), DBR_E_SECRET_FLAG);
	assert_int_equal(dbr_config_set(f->cfg, "Token", "x"), DBR_E_SECRET_FLAG);
	assert_int_equal(dbr_config_set(f->cfg, "password", "x"), DBR_E_SECRET_FLAG);
	assert_int_equal(dbr_config_set(f->cfg, "client_secret", "x"), DBR_E_SECRET_FLAG);
	assert_int_equal(dbr_config_set(f->cfg, "host", "https://a\nb"), DBR_E_INVAL);
	assert_int_equal(dbr_config_set(f->cfg, "host", "https://a\rb"), DBR_E_INVAL);
	assert_int_equal(dbr_config_set(f->cfg, "", "x"), DBR_E_INVAL);
	assert_int_equal(dbr_config_set(f->cfg, "host", NULL), DBR_E_INVAL);
	assert_int_equal(dbr_config_set(NULL, "host", "x"), DBR_E_INVAL);
	assert_null(dbr_config_get(f->cfg, "token"));
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://default.example");
	/* a flag overrides the file */
	assert_int_equal(dbr_config_set(f->cfg, "HOST", "https://flag.example"), 0);
	assert_string_equal(dbr_config_get(f->cfg, "host"), "https://flag.example");
	assert_int_equal(dbr_config_set(f->cfg, "broker_chain", "env,vault"), 0);
	assert_string_equal(dbr_config_get(f->cfg, "broker_chain"), "env,vault");
}

static void test_too_large(void **state)
{
	struct fx *f = *state;
	size_t n = (size_t)DBR_CONFIG_MAX_BYTES + 1;
	char *text = malloc(n);

	assert_non_null(text);
	/* comment lines: valid INI, just too much of it */
	memset(text, '#', n);
	for (size_t i = 99; i < n; i += 100)
		text[i] = '\n';
	write_file(f->path, 0600, text, n);
	/* a configuration error (exit 4) for every caller, not an answer's
	 * size cap (DBR_E_TOO_LARGE, exit 6) */
	assert_int_equal(load(f, NULL), DBR_E_CONFIG);
	assert_msg_has(f, f->path);
	assert_msg_has(f, "--config-file"); /* what to do next */
	/* exactly at the limit is fine */
	write_file(f->path, 0600, text, n - 1);
	assert_int_equal(load(f, NULL), 0);
	free(text);
}

static void test_empty_config(void **state)
{
	struct dbr_config *c = NULL;
	struct dbr_secret *s = NULL;

	(void)state;
	assert_int_equal(dbr_config_new_empty(&c), 0);
	assert_string_equal(dbr_config_profile(c), "DEFAULT");
	assert_non_null(dbr_config_path(c));
	assert_int_equal(dbr_config_profile_found(c), 0);
	assert_int_equal(dbr_config_has_token(c), 0);
	assert_int_equal(dbr_config_copy_token(c, &s), DBR_E_NOT_HERE);
	assert_null(dbr_config_get(c, "host"));
	assert_int_equal(dbr_config_set(c, "host", "https://x.example"), 0);
	assert_string_equal(dbr_config_get(c, "host"), "https://x.example");
	dbr_config_free(c);
	dbr_config_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_and_named),
		T(test_default_not_merged),
		T(test_missing_named_profile),
		T(test_implicit_default_absent),
		T(test_missing_file),
		T(test_env_vars),
		T(test_syntax_error_line),
		T(test_long_lines_and_nul),
		T(test_very_long_lines),
		T(test_quoted_values),
		T(test_keys_sections_indentation),
		T(test_writable_refused),
		T(test_foreign_owner_refused),
		T(test_not_regular_and_symlink),
		T(test_dev_null_is_no_file),
		T(test_token_in_handle_only),
		T(test_other_profiles_tokens_ignored),
		T(test_world_readable_token_exposed),
		T(test_warnings_through_log),
		T(test_token_not_left_on_stack),
		T(test_set_refusals),
		T(test_too_large),
		T(test_empty_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
