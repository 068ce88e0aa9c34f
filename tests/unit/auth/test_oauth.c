/* OAuth M2M: the answer parsers (discovery, token, errors), the client id
 * check, and the chain choosing an auth type (test plugins, env, profile). */
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

#include "credential_internal.h"
#include "dbroker/dbroker.h"
#include "http_internal.h"
#include "oauth_internal.h"
#include "testplugin.h"

#define HOST "https://adb-1.2.azuredatabricks.net"
#define TOK "eyJraWQiOiJ0ZXN0In0.payload-0123456789abcdef.sig"

static const struct dbr_oauth_who who = { HOST, "sp-client-1", "env" };

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

/* ---- client id ---- */

static void test_client_id(void **state)
{
	char long_id[DBR_OAUTH_CLIENT_ID_MAX + 2];

	(void)state;
	assert_true(dbr_oauth_client_id_valid("3f0c1a2b-0000-4000-8000-00000000c11d"));
	assert_false(dbr_oauth_client_id_valid(NULL));
	assert_false(dbr_oauth_client_id_valid(""));
	assert_false(dbr_oauth_client_id_valid("a:b")); /* would split Basic auth */
	assert_false(dbr_oauth_client_id_valid("a b"));
	assert_false(dbr_oauth_client_id_valid("a\nb"));
	assert_false(dbr_oauth_client_id_valid("caf\xc3\xa9"));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(dbr_oauth_client_id_valid(long_id));
	long_id[DBR_OAUTH_CLIENT_ID_MAX] = '\0';
	assert_true(dbr_oauth_client_id_valid(long_id));
}

/* Basic auth to a token endpoint: a user name that would split the pair,
 * or none, is refused before anything is sent. */
static void test_basic_auth_checks(void **state)
{
	struct dbr_http_request r;
	struct dbr_secret *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	static const char *const bad[] = { NULL, "", "a:b", "a\r\nX-Evil: 1" };

	(void)state;
	assert_int_equal(dbr_secret_new("dose0123456789abcdef", 20, &s), 0);
	memset(&r, 0, sizeof(r));
	r.struct_size = sizeof(r);
	r.url = HOST "/oidc/v1/token";
	r.auth = DBR_HTTP_AUTH_BASIC;
	r.auth_secret = s;
	r.auth_user = "sp-client-1";
	assert_int_equal(dbr_http_check_request(&r, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r.auth_user = bad[i];
		assert_int_equal(dbr_http_check_request(&r, &err), DBR_E_INVAL);
	}
	r.auth_user = "sp-client-1";
	r.auth_secret = NULL;
	assert_int_equal(dbr_http_check_request(&r, &err), DBR_E_INVAL);
	dbr_secret_free(s);
}

/* ---- discovery ---- */

static int disc(long status, const char *ctype, const char *body, char **ep,
		struct dbr_err *err)
{
	dbr_err_clear(err);
	return dbr_oauth_parse_discovery(HOST, status, ctype, body, body ? strlen(body) : 0, ep,
					 err);
}

static void test_discovery_ok(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *ep = NULL;

	(void)state;
	assert_int_equal(disc(200, "application/json", "{\"issuer\":\"" HOST "/oidc\","
			      "\"token_endpoint\":\"" HOST "/oidc/v1/token\"}", &ep, &err), 0);
	assert_string_equal(ep, HOST "/oidc/v1/token");
	free(ep);
	/* the default port spelled out is the same origin */
	assert_int_equal(disc(200, NULL, "{\"token_endpoint\":\"https://ADB-1.2.azuredatabricks"
			      ".net:443/oidc/v1/token\"}", &ep, &err), 0);
	free(ep);
}

static void test_discovery_hostile(void **state)
{
	static const char *const bad[] = {
		"{\"token_endpoint\":\"https://evil.example.com/oidc/v1/token\"}",
		"{\"token_endpoint\":\"https://adb-1.2.azuredatabricks.net.evil.example/t\"}",
		"{\"token_endpoint\":\"https://adb-1.2.azuredatabricks.net:8443/t\"}",
		"{\"token_endpoint\":\"http://adb-1.2.azuredatabricks.net/oidc/v1/token\"}",
		"{\"token_endpoint\":\"https://adb-1.2.azuredatabricks.net@evil.example/t\"}",
		"{\"token_endpoint\":\"//evil.example/t\"}",
		"{\"token_endpoint\":\"/oidc/v1/token\"}",
		"{\"token_endpoint\":\"file:///etc/passwd\"}",
	};
	struct dbr_err err = DBR_ERR_INIT;
	char *ep = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(disc(200, "application/json", bad[i], &ep, &err), DBR_E_AUTH);
		assert_null(ep);
		assert_contains(err.msg, "refusing the token endpoint");
	}
	assert_int_equal(disc(200, NULL, bad[0], &ep, &err), DBR_E_AUTH);
	assert_contains(err.msg, "not on the workspace's own host");
	assert_int_equal(disc(200, NULL, bad[3], &ep, &err), DBR_E_AUTH);
	assert_contains(err.msg, "not https://");
}

static void test_discovery_bad_answers(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	char *ep = NULL;

	(void)state;
	assert_int_equal(disc(404, "application/json", "{}", &ep, &err), DBR_E_API);
	assert_contains(err.msg, "may not support OAuth");
	assert_int_equal(disc(200, "text/html", "<html>login</html>", &ep, &err), DBR_E_API);
	assert_contains(err.msg, "HTML");
	assert_int_equal(disc(200, NULL, "  <!doctype html>", &ep, &err), DBR_E_API);
	assert_contains(err.msg, "HTML");
	assert_int_equal(disc(503, "application/json", "{}", &ep, &err), DBR_E_API);
	assert_contains(err.msg, "status 503");
	assert_int_equal(disc(200, NULL, "{\"issuer\":\"x\"}", &ep, &err), DBR_E_API);
	assert_contains(err.msg, "names no token_endpoint");
	assert_int_equal(disc(200, NULL, "{\"token_endpoint\":7}", &ep, &err), DBR_E_API);
	assert_int_equal(disc(200, NULL, "[\"token_endpoint\"]", &ep, &err), DBR_E_API);
	assert_int_equal(disc(200, NULL, "{\"token_endpoint\":", &ep, &err), DBR_E_API);
	assert_int_equal(disc(200, NULL, NULL, &ep, &err), DBR_E_API);
	assert_null(ep);
}

/* ---- token answers ---- */

static int tok(long status, const char *ctype, const char *body, struct dbr_secret **s,
	       long *exp, struct dbr_err *err)
{
	dbr_err_clear(err);
	return dbr_oauth_parse_token(&who, status, ctype, body, body ? strlen(body) : 0, s, exp,
				     err);
}

static void test_token_ok(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *s = NULL;
	long exp = 0;

	(void)state;
	assert_int_equal(tok(200, "application/json", "{\"access_token\":\"" TOK "\","
			     "\"token_type\":\"Bearer\",\"expires_in\":3600}", &s, &exp, &err), 0);
	assert_true(dbr_secret_equal_bytes(s, TOK, strlen(TOK)));
	assert_int_equal(exp, 3600);
	dbr_secret_free(s);
	/* no token_type, a numeric string, a lifetime capped at a day */
	assert_int_equal(tok(200, NULL, "{\"access_token\":\"" TOK "\",\"expires_in\":\"60\"}",
			     &s, &exp, &err), 0);
	assert_int_equal(exp, 60);
	dbr_secret_free(s);
	assert_int_equal(tok(200, NULL, "{\"access_token\":\"" TOK "\",\"token_type\":"
			     "\"bearer\",\"expires_in\":1e300}", &s, &exp, &err), 0);
	assert_int_equal(exp, DBR_OAUTH_MAX_LIFETIME_S);
	dbr_secret_free(s);
}

static void test_token_malformed(void **state)
{
	static const char *const bad[] = {
		"{\"token_type\":\"Bearer\",\"expires_in\":3600}",
		"{\"access_token\":\"\",\"expires_in\":3600}",
		"{\"access_token\":7,\"expires_in\":3600}",
		"{\"access_token\":\"" TOK "\"}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":0}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":-5}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":1.5}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":\"soon\"}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":null}",
		"{\"access_token\":\"" TOK "\",\"expires_in\":NaN}",
		"{\"access_token\":\"" TOK "\",\"token_type\":\"mac\",\"expires_in\":60}",
		"{\"access_token\":\"a b\\nc\",\"expires_in\":60}",
		"[1]",
		"not json",
		"",
	};
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *s = NULL;
	long exp = 1;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tok(200, "application/json", bad[i], &s, &exp, &err), DBR_E_API);
		assert_null(s);
		assert_int_equal(exp, 0);
		assert_null(strstr(err.msg, TOK)); /* never the token's bytes */
	}
	/* a type that carries the token itself (found by fuzz_oauth) */
	assert_int_equal(tok(200, NULL, "{\"access_token\":\"tok-12345678\",\"token_type\":"
			     "\"Bear-tok-12345678\",\"expires_in\":60}", &s, &exp, &err), DBR_E_API);
	assert_null(strstr(err.msg, "tok-12345678"));
	assert_contains(err.msg, "not Bearer");
	/* one the cleaning makes: "\x8e" + "yJhbGciOi" shows as ...8eyJhbGciOi */
	assert_int_equal(tok(200, NULL, "{\"access_token\":\"eyJhbGciOi\",\"token_type\":"
			     "\"Bear\x8eyJhbGciOi\",\"expires_in\":60}", &s, &exp, &err), DBR_E_API);
	assert_null(strstr(err.msg, "eyJhbGciOi"));
	assert_contains(err.msg, "not Bearer");
	assert_int_equal(tok(200, NULL, bad[4], &s, &exp, &err), DBR_E_API);
	assert_contains(err.msg, "positive whole expires_in");
	assert_int_equal(tok(200, NULL, bad[0], &s, &exp, &err), DBR_E_API);
	assert_contains(err.msg, "without an access_token for client id 'sp-client-1'");
}

static void test_token_errors(void **state)
{
	struct dbr_err err = DBR_ERR_INIT;
	struct dbr_secret *s = NULL;
	long exp = 0;

	(void)state;
	assert_int_equal(tok(401, "application/json", "{\"error\":\"invalid_client\","
			     "\"error_description\":\"Client authentication failed\"}", &s, &exp,
			     &err), DBR_E_AUTH);
	assert_contains(err.msg, "refused the client id 'sp-client-1'");
	assert_contains(err.msg, "provider 'env'");
	assert_contains(err.msg, "invalid_client: Client authentication failed");
	assert_contains(err.msg, "DATABRICKS_CLIENT_SECRET");
	assert_int_equal(tok(400, NULL, "{\"error\":\"invalid_client\"}", &s, &exp, &err),
			 DBR_E_AUTH);
	assert_int_equal(tok(400, NULL, "{\"error\":\"invalid_request\"}", &s, &exp, &err),
			 DBR_E_API);
	assert_int_equal(tok(500, NULL, "{}", &s, &exp, &err), DBR_E_API);
	assert_contains(err.msg, "answered 500");
	assert_int_equal(tok(200, "text/html; charset=utf-8", "<html></html>", &s, &exp, &err),
			 DBR_E_API);
	assert_contains(err.msg, "HTML");
	/* server text is cleaned: no line break reaches the message */
	assert_int_equal(tok(401, NULL, "{\"error\":\"invalid_client\",\"error_description\":"
			     "\"a\\nb\\u001b[31m\"}", &s, &exp, &err), DBR_E_AUTH);
	assert_null(strchr(err.msg, '\n'));
	assert_null(strchr(err.msg, '\x1b'));
	assert_null(s);
}

/* ---- the chain chooses the auth type ---- */

struct fx {
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
	struct dbr_credential *cred;
	struct dbr_err err;
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(dbr_mask_new(&f->mask), 0);
	assert_int_equal(dbr_log_new(f->mask, &f->log), 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/dbr-oauth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	unsetenv("DATABRICKS_TOKEN");
	unsetenv("DATABRICKS_HOST");
	unsetenv("DATABRICKS_CLIENT_ID");
	unsetenv("DATABRICKS_CLIENT_SECRET");
	unsetenv("DATABRICKS_AUTH_TYPE");
	unsetenv("DATABRICKS_CONFIG_PROFILE");
	unsetenv("DBROKER_CHAIN");
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

static int resolve(struct fx *f, const char *spec, const char *auth_type)
{
	struct dbr_chain_options opt = { .spec = spec, .plugin_dir = getenv("DBR_TEST_PLUGIN_DIR"),
					 .auth_type = auth_type };
	int rc;

	if (!f->cfg)
		assert_int_equal(dbr_config_new_empty(&f->cfg), 0);
	rc = dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, &f->err);
	return rc ? rc : dbr_chain_resolve(f->chain, &f->cred, &f->err);
}

static void test_plugin_client(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testclient", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "oauth-m2m");
	assert_string_equal(dbr_credential_client_id(f->cred), TESTCLIENT_ID);
	assert_null(dbr_credential_token(f->cred));
	assert_true(dbr_secret_equal_bytes(dbr_credential_client_secret(f->cred),
					   TESTCLIENT_SECRET, strlen(TESTCLIENT_SECRET)));
	assert_true(dbr_credential_refreshable(f->cred));
	assert_int_equal(dbr_credential_expires_at(f->cred), 0);
	assert_string_equal(dbr_chain_auth_type_origin(f->chain), "testclient");
	/* the client secret is masked before anything can show it */
	assert_true(dbr_mask_count(f->mask) >= 1);
}

static void test_both_needs_auth_type(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testboth", NULL), DBR_E_CONFIG);
	assert_contains(f->err.msg, "both a token and an OAuth client id and secret");
	assert_contains(f->err.msg, "auth_type = oauth-m2m");
	assert_contains(f->err.msg, "DATABRICKS_AUTH_TYPE");
	assert_contains(f->err.msg, "--auth-type");
	assert_null(f->cred);
}

static void test_both_with_auth_type(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testboth", "pat"), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "pat");
	assert_false(dbr_credential_refreshable(f->cred));
	assert_string_equal(dbr_chain_auth_type_origin(f->chain), "--auth-type");
	dbr_credential_free(f->cred);
	f->cred = NULL;
	dbr_chain_free(f->chain);
	f->chain = NULL;
	setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m", 1);
	assert_int_equal(resolve(f, "testboth", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "oauth-m2m");
	assert_string_equal(dbr_chain_auth_type_origin(f->chain), "DATABRICKS_AUTH_TYPE");
	unsetenv("DATABRICKS_AUTH_TYPE");
}

/* with an auth type, a source holding only the other kind is passed over */
static void test_other_kind_moves_on(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testok,testclient", "oauth-m2m"), 0);
	assert_string_equal(dbr_credential_source(f->cred), "testclient");
	assert_int_equal(dbr_chain_answer(f->chain, 0), DBR_ANSWER_NOT_HERE);
	assert_contains(dbr_chain_reason(f->chain, 0), "has a token, not a client id");
	dbr_credential_free(f->cred);
	f->cred = NULL;
	dbr_chain_free(f->chain);
	f->chain = NULL;
	assert_int_equal(resolve(f, "testclient", "pat"), DBR_E_NO_CREDENTIAL);
	assert_contains(f->err.msg, "has a client id and secret, not a token");
}

static void test_unknown_auth_type(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testok", "oauth"), DBR_E_USAGE);
	assert_contains(f->err.msg, "unknown auth type 'oauth' (from --auth-type)");
}

static void test_abi_1_3_plugin_still_loads(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testabi13", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "pat");
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), TESTOK_TOKEN,
					   strlen(TESTOK_TOKEN)));
}

/* Built before sleep_ms was appended (ABI 1.5): still loads. */
static void test_abi_1_4_plugin_still_loads(void **state)
{
	struct fx *f = *state;

	assert_int_equal(resolve(f, "testabi14", NULL), 0);
	assert_true(dbr_secret_equal_bytes(dbr_credential_token(f->cred), TESTOK_TOKEN,
					   strlen(TESTOK_TOKEN)));
}

/* A store built before ABI 1.4 would keep a client secret as a token and
 * lose its client id: the host refuses to ask it. */
static void test_old_store_refuses_client_secrets(void **state)
{
	struct fx *f = *state;
	struct dbr_chain_options opt = { .spec = "teststore13",
					 .plugin_dir = getenv("DBR_TEST_PLUGIN_DIR") };
	struct dbr_secret *s = NULL;

	assert_int_equal(dbr_config_new_empty(&f->cfg), 0);
	assert_int_equal(dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, &f->err), 0);
	assert_int_equal(dbr_secret_new(TESTCLIENT_SECRET, strlen(TESTCLIENT_SECRET), &s), 0);
	assert_int_equal(dbr_chain_store_client(f->chain, "teststore13", HOST, TESTCLIENT_ID, s,
						&f->err), DBR_E_PLUGIN_ABI);
	assert_contains(f->err.msg, "was built for ABI 1.3 and cannot store OAuth client secrets");
	assert_int_equal(dbr_chain_store_client(f->chain, "teststore13", HOST, "a:b", s, &f->err),
			 DBR_E_USAGE);
	assert_int_equal(dbr_chain_store(f->chain, "teststore13", HOST, s, &f->err), 0);
	assert_string_equal(f->err.msg, "stored");
	dbr_secret_free(s);
}

static void test_env_client(void **state)
{
	struct fx *f = *state;

	setenv("DATABRICKS_HOST", HOST, 1);
	setenv("DATABRICKS_CLIENT_ID", "sp-client-1", 1);
	setenv("DATABRICKS_CLIENT_SECRET", "  dose0123456789abcdef0123456789abcdef\n", 1);
	assert_int_equal(resolve(f, "env", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "oauth-m2m");
	assert_string_equal(dbr_credential_client_id(f->cred), "sp-client-1");
	assert_true(dbr_secret_equal_bytes(dbr_credential_client_secret(f->cred),
					   "dose0123456789abcdef0123456789abcdef", 36));
	assert_string_equal(dbr_credential_host(f->cred), HOST);
	/* scrubbed like the token */
	assert_null(getenv("DATABRICKS_CLIENT_SECRET"));
	unsetenv("DATABRICKS_CLIENT_ID");
	unsetenv("DATABRICKS_HOST");
}

static void test_env_secret_without_id(void **state)
{
	struct fx *f = *state;

	setenv("DATABRICKS_CLIENT_SECRET", "dose0123456789abcdef0123456789abcdef", 1);
	assert_int_equal(resolve(f, "env", NULL), DBR_E_CONFIG);
	assert_contains(f->err.msg, "DATABRICKS_CLIENT_SECRET is set without DATABRICKS_CLIENT_ID");
	assert_null(getenv("DATABRICKS_CLIENT_SECRET"));
}

static void test_env_bad_id(void **state)
{
	struct fx *f = *state;

	setenv("DATABRICKS_CLIENT_ID", "a:b", 1);
	setenv("DATABRICKS_CLIENT_SECRET", "dose0123456789abcdef0123456789abcdef", 1);
	assert_int_equal(resolve(f, "env", NULL), DBR_E_CONFIG);
	assert_contains(f->err.msg, "DATABRICKS_CLIENT_ID is not a client id");
	unsetenv("DATABRICKS_CLIENT_ID");
}

static void write_cfg(struct fx *f, const char *text, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/cfg", f->dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	assert_int_equal(dbr_config_load(path, NULL, NULL, &f->cfg, &f->err), 0);
}

static void test_profile_client(void **state)
{
	struct fx *f = *state;

	write_cfg(f, "[DEFAULT]\nhost = " HOST "\nclient_id = sp-client-1\n"
		  "client_secret = dose0123456789abcdef0123456789abcdef\n", 0600);
	assert_true(dbr_config_has_client_secret(f->cfg));
	assert_null(dbr_config_get(f->cfg, "client_secret"));
	assert_int_equal(resolve(f, "profile", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "oauth-m2m");
	assert_string_equal(dbr_credential_client_id(f->cred), "sp-client-1");
	assert_contains(dbr_chain_reason(f->chain, 0), "plaintext client secret");
}

static void test_profile_client_refused(void **state)
{
	struct fx *f = *state;

	write_cfg(f, "[DEFAULT]\nhost = " HOST "\n"
		  "client_secret = dose0123456789abcdef0123456789abcdef\n", 0600);
	assert_int_equal(resolve(f, "profile", NULL), DBR_E_CONFIG);
	assert_contains(f->err.msg, "has a client_secret but no client_id");
	dbr_chain_free(f->chain);
	f->chain = NULL;
	dbr_config_free(f->cfg);
	f->cfg = NULL;
	write_cfg(f, "[DEFAULT]\nhost = " HOST "\nclient_id = sp\n"
		  "client_secret = dose0123456789abcdef0123456789abcdef\n", 0644);
	assert_int_equal(resolve(f, "profile", NULL), DBR_E_UNSAFE_PERM);
	assert_contains(f->err.msg, "plaintext client secret and is readable by group/others");
}

static void test_profile_auth_type_key(void **state)
{
	struct fx *f = *state;

	write_cfg(f, "[DEFAULT]\nhost = " HOST "\nauth_type = pat\nclient_id = sp\n"
		  "client_secret = dose0123456789abcdef0123456789abcdef\n"
		  "token = dapi00112233445566778899aabbccddeeff\n", 0600);
	assert_int_equal(resolve(f, "profile", NULL), 0);
	assert_string_equal(dbr_credential_auth_type(f->cred), "pat");
	assert_string_equal(dbr_chain_auth_type_origin(f->chain), "profile auth_type");
	dbr_credential_free(f->cred);
	f->cred = NULL;
	dbr_chain_free(f->chain);
	f->chain = NULL;
	dbr_config_free(f->cfg);
	f->cfg = NULL;
	write_cfg(f, "[DEFAULT]\nhost = " HOST "\nauth_type = m2m\n", 0600);
	assert_int_equal(resolve(f, "profile", NULL), DBR_E_CONFIG);
	assert_contains(f->err.msg, "unknown auth type 'm2m' (from profile auth_type)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_id),
		cmocka_unit_test(test_basic_auth_checks),
		cmocka_unit_test(test_discovery_ok),
		cmocka_unit_test(test_discovery_hostile),
		cmocka_unit_test(test_discovery_bad_answers),
		cmocka_unit_test(test_token_ok),
		cmocka_unit_test(test_token_malformed),
		cmocka_unit_test(test_token_errors),
		cmocka_unit_test_setup_teardown(test_plugin_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_needs_auth_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_with_auth_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_kind_moves_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_auth_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abi_1_3_plugin_still_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abi_1_4_plugin_still_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_store_refuses_client_secrets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_env_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_secret_without_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_bad_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_client_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_auth_type_key, setup, teardown),
	};

	if (dbr_runtime_init(0, NULL, NULL))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
