/* The credential chain: order, not-here moves on, errors stop, plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dbroker/dbroker.h"
#include "../../plugins/testplugin.h"

static const char env_tok[] = "dapi11111111111111111111111111111111";
static const char file_tok[] = "dapi22222222222222222222222222222222";

struct fx {
	char dir[64];
	char cfgpath[128];
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	struct dbr_err err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(dbr_runtime_init(0, NULL, NULL), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dbr-chain-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cfgpath, sizeof(f->cfgpath), "%s/databrickscfg", f->dir);
	assert_int_equal(dbr_mask_new(&f->mask), 0);
	assert_int_equal(dbr_log_new(f->mask, &f->log), 0);
	unsetenv("DATABRICKS_TOKEN");
	unsetenv("DATABRICKS_HOST");
	unsetenv("DBROKER_CHAIN");
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	dbr_credential_free(f->cred);
	dbr_chain_free(f->chain);
	dbr_config_free(f->cfg);
	dbr_log_free(f->log);
	dbr_mask_free(f->mask);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void write_cfg(struct fx *f, mode_t mode, const char *text)
{
	int fd = open(f->cfgpath, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	assert_int_equal(dbr_config_load(f->cfgpath, NULL, NULL, &f->cfg, &f->err), 0);
}

static int build(struct fx *f, const char *spec, const char *plugin_dir)
{
	struct dbr_chain_options opt = { .spec = spec, .plugin_dir = plugin_dir };

	if (!f->cfg)
		assert_int_equal(dbr_config_new_empty(&f->cfg), 0);
	return dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, &f->err);
}

static const char *test_plugin_dir(void)
{
	const char *d = getenv("DBR_TEST_PLUGIN_DIR");

	assert_non_null(d);
	return d;
}

/* A plugin whose descriptor says ABI 1.1 (built before env_scrub and
 * write_all were appended) loads and resolves on this 1.5 host. */
static void test_abi_1_1_plugin_still_loads(void **state)
{
	struct fx *f = *state;

	assert_int_equal(DBR_PROVIDER_ABI_MINOR, 5);
	assert_int_equal(build(f, "testabi11", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_source(f->cred), "testabi11");
	assert_string_equal(dbr_credential_host(f->cred), TESTOK_HOST);
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), TESTOK_TOKEN,
					   strlen(TESTOK_TOKEN)));
}

/* ABI 1.2: a plugin wipes a variable with the host's one env scrub, the
 * same code the env provider uses (no copy in the plugin). */
static void test_plugin_scrubs_env_through_services(void **state)
{
	struct fx *f = *state;

	setenv(TESTSCRUB_VAR, "hvs.CAESIscrubmeplease0123456789", 1);
	assert_int_equal(build(f, "testscrub", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_null(getenv(TESTSCRUB_VAR));
	assert_string_equal(dbr_chain_reason(f->chain, 0), "scrubbed 1");
}

/* ABI 1.2 plugins (built before secret_fill) load on this 1.3 host. */
static void test_abi_1_2_plugin_still_loads(void **state)
{
	struct fx *f = *state;

	assert_int_equal(build(f, "testabi12", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_source(f->cred), "testabi12");
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), TESTOK_TOKEN,
					   strlen(TESTOK_TOKEN)));
}

/* ABI 1.3: a plugin writes the token straight into a handle's secure
 * memory (secret_fill), and the chain takes it like any other. */
static void test_plugin_fills_secret_in_place(void **state)
{
	struct fx *f = *state;

	assert_int_equal(build(f, "testfill", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_chain_reason(f->chain, 0), "filled in place");
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), TESTOK_TOKEN,
					   strlen(TESTOK_TOKEN)));
	assert_int_equal(dbr_secret_len(dbr_credential_token(f->cred)), strlen(TESTOK_TOKEN));
}

static void test_spec_parsing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(build(f, "env, profile", NULL), 0);
	assert_int_equal(dbr_chain_count(f->chain), 2);
	assert_string_equal(dbr_chain_name(f->chain, 1), "profile");
	assert_string_equal(dbr_chain_origin(f->chain), "--chain");
	dbr_chain_free(f->chain);
	f->chain = NULL;
	assert_int_equal(build(f, "env,env", NULL), DBR_E_USAGE);
	assert_non_null(strstr(f->err.msg, "twice"));
	assert_int_equal(build(f, "Env", NULL), DBR_E_USAGE);
	assert_int_equal(build(f, " , ", NULL), DBR_E_USAGE);
	assert_int_equal(build(f, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", NULL), DBR_E_USAGE);
}

static void test_spec_origins(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, "[DEFAULT]\nhost = h.example\nbroker_chain = profile\n");
	assert_int_equal(build(f, NULL, NULL), 0);
	assert_string_equal(dbr_chain_origin(f->chain), "profile broker_chain");
	dbr_chain_free(f->chain);
	setenv("DBROKER_CHAIN", "env", 1);
	assert_int_equal(build(f, NULL, NULL), 0);
	assert_string_equal(dbr_chain_origin(f->chain), "DBROKER_CHAIN");
	assert_int_equal(dbr_chain_count(f->chain), 1);
	dbr_chain_free(f->chain);
	assert_int_equal(build(f, "profile,env", NULL), 0);
	assert_string_equal(dbr_chain_origin(f->chain), "--chain");
	unsetenv("DBROKER_CHAIN");
}

static void test_not_here_moves_on(void **state)
{
	struct fx *f = *state;
	char text[256];

	snprintf(text, sizeof(text), "[DEFAULT]\nhost = https://file.example\ntoken = %s\n", file_tok);
	write_cfg(f, 0600, text);
	assert_int_equal(build(f, "env,profile", NULL), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_int_equal(dbr_chain_answer(f->chain, 0), DBR_ANSWER_NOT_HERE);
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_FOUND);
	assert_string_equal(dbr_credential_source(f->cred), "profile");
	assert_string_equal(dbr_credential_host(f->cred), "https://file.example");
	assert_string_equal(dbr_credential_host_origin(f->cred), "profile");
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), file_tok,
					   strlen(file_tok)));
}

static void test_first_found_wins(void **state)
{
	struct fx *f = *state;
	char text[256];

	snprintf(text, sizeof(text), "[DEFAULT]\nhost = https://file.example\ntoken = %s\n", file_tok);
	write_cfg(f, 0600, text);
	setenv("DATABRICKS_TOKEN", env_tok, 1);
	assert_int_equal(build(f, "env,profile", NULL), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_source(f->cred), "env");
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_NOT_ASKED);
	/* no DATABRICKS_HOST: the profile's host is used */
	assert_string_equal(dbr_credential_host_origin(f->cred), "profile");
}

static void test_error_stops_chain(void **state)
{
	struct fx *f = *state;
	char text[256];

	/* a world-readable plaintext token is an error, and the chain must not
	 * fall back to the env token after it */
	snprintf(text, sizeof(text), "[DEFAULT]\nhost = https://file.example\ntoken = %s\n", file_tok);
	write_cfg(f, 0644, text);
	setenv("DATABRICKS_TOKEN", env_tok, 1);
	assert_int_equal(build(f, "profile,env", NULL), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_UNSAFE_PERM);
	assert_null(f->cred);
	assert_int_equal(dbr_chain_answer(f->chain, 0), DBR_ANSWER_ERROR);
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_NOT_ASKED);
	assert_non_null(strstr(f->err.msg, "'profile' failed"));
	assert_non_null(strstr(f->err.msg, "chmod 600"));
	assert_non_null(getenv("DATABRICKS_TOKEN")); /* env was never read */
	unsetenv("DATABRICKS_TOKEN");
}

static void test_nothing_found_lists_reasons(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, "[DEFAULT]\nhost = https://file.example\n");
	assert_int_equal(build(f, "env,profile", NULL), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_NO_CREDENTIAL);
	assert_non_null(strstr(f->err.msg, "env: DATABRICKS_TOKEN is not set"));
	assert_non_null(strstr(f->err.msg, "profile: profile 'DEFAULT'"));
	assert_non_null(strstr(f->err.msg, "dbroker login"));
}

static void test_default_chain_skips_missing_plugins(void **state)
{
	struct fx *f = *state;
	char text[256];

	snprintf(text, sizeof(text), "[DEFAULT]\nhost = https://file.example\ntoken = %s\n", file_tok);
	write_cfg(f, 0600, text);
	/* an empty plugin directory: vault and keyring are not installed */
	assert_int_equal(build(f, NULL, f->dir), 0);
	assert_string_equal(dbr_chain_origin(f->chain), "default");
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_chain_name(f->chain, 1), "vault");
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_NOT_HERE);
	assert_non_null(strstr(dbr_chain_reason(f->chain, 1), "not installed"));
	assert_string_equal(dbr_credential_source(f->cred), "profile");
}

static void test_explicit_missing_plugin_is_error(void **state)
{
	struct fx *f = *state;

	setenv("DATABRICKS_TOKEN", env_tok, 1);
	assert_int_equal(build(f, "vault,env", f->dir), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_PLUGIN);
	assert_non_null(strstr(f->err.msg, "'vault'"));
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_NOT_ASKED);
	unsetenv("DATABRICKS_TOKEN");
}

static void test_plugin_found_and_host_precedence(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, "[DEFAULT]\nhost = https://file.example\n");
	setenv("DATABRICKS_HOST", TESTOK_HOST, 1);
	assert_int_equal(build(f, "testok", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_source(f->cred), "testok");
	/* the host bound to the token beats the profile's */
	assert_string_equal(dbr_credential_host_origin(f->cred), "testok");
	assert_int_equal(dbr_mask_count(f->mask), 1);
	dbr_credential_free(f->cred);
	f->cred = NULL;
	/* and DATABRICKS_HOST may not send the token elsewhere */
	setenv("DATABRICKS_HOST", "https://env.example", 1);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_CONFIG);
	assert_null(f->cred);
	assert_non_null(strstr(f->err.msg, "DATABRICKS_HOST names 'https://env.example'"));
	unsetenv("DATABRICKS_HOST");
}

static void test_env_host_beats_profile(void **state)
{
	struct fx *f = *state;

	write_cfg(f, 0600, "[DEFAULT]\nhost = https://file.example\n");
	setenv("DATABRICKS_HOST", "https://env.example", 1);
	setenv("DATABRICKS_TOKEN", env_tok, 1);
	assert_int_equal(build(f, "env", NULL), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_host(f->cred), "https://env.example");
	unsetenv("DATABRICKS_HOST");
}

static void test_plugin_error_stops_chain(void **state)
{
	struct fx *f = *state;

	setenv("DATABRICKS_TOKEN", env_tok, 1);
	assert_int_equal(build(f, "testfail,env", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_AUTH);
	assert_non_null(strstr(f->err.msg, "'testfail' failed"));
	assert_non_null(strstr(f->err.msg, "permission denied by policy"));
	assert_string_equal(dbr_chain_reason(f->chain, 0), "permission denied by policy");
	assert_int_equal(dbr_chain_answer(f->chain, 1), DBR_ANSWER_NOT_ASKED);
	unsetenv("DATABRICKS_TOKEN");
}

static void test_incompatible_plugin_is_error_even_by_default(void **state)
{
	struct fx *f = *state;

	/* present but unusable is never "not here", whoever chose the chain */
	assert_int_equal(build(f, "testold,env", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), DBR_E_PLUGIN_ABI);
}

static void test_resolve_twice(void **state)
{
	struct fx *f = *state;

	assert_int_equal(build(f, "testok", test_plugin_dir()), 0);
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	dbr_credential_free(f->cred);
	f->cred = NULL;
	assert_int_equal(dbr_chain_resolve(f->chain, &f->cred, &f->err), 0);
	assert_string_equal(dbr_credential_source(f->cred), "testok");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spec_parsing),
		T(test_spec_origins),
		T(test_not_here_moves_on),
		T(test_first_found_wins),
		T(test_error_stops_chain),
		T(test_nothing_found_lists_reasons),
		T(test_default_chain_skips_missing_plugins),
		T(test_explicit_missing_plugin_is_error),
		T(test_plugin_found_and_host_precedence),
		T(test_env_host_beats_profile),
		T(test_plugin_error_stops_chain),
		T(test_incompatible_plugin_is_error_even_by_default),
		T(test_resolve_twice),
		T(test_abi_1_1_plugin_still_loads),
		T(test_plugin_scrubs_env_through_services),
		T(test_abi_1_2_plugin_still_loads),
		T(test_plugin_fills_secret_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
