/* dbr_chain_store / dbr_chain_erase / dbr_credential_new and the
 * secret_bytes host service that only shows a token during its own store().
 * The real Secret Service is covered by tests/integration/test_keyring.py;
 * here the keyring plugin is loaded without a bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chain_internal.h"
#include "dbroker/dbroker.h"
#include "host_internal.h"

static const char tok[] = "dapi33333333333333333333333333333333";

struct fx {
	struct dbr_mask *mask;
	struct dbr_log *log;
	struct dbr_config *cfg;
	struct dbr_chain *chain;
	struct dbr_secret *tok;
	struct dbr_err err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(dbr_runtime_init(0, NULL, NULL), 0);
	assert_int_equal(dbr_mask_new(&f->mask), 0);
	assert_int_equal(dbr_log_new(f->mask, &f->log), 0);
	assert_int_equal(dbr_config_new_empty(&f->cfg), 0);
	assert_int_equal(dbr_secret_new(tok, strlen(tok), &f->tok), 0);
	unsetenv("DBROKER_CHAIN");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	dbr_secret_free(f->tok);
	dbr_chain_free(f->chain);
	dbr_config_free(f->cfg);
	dbr_log_free(f->log);
	dbr_mask_free(f->mask);
	free(f);
	return 0;
}

static void build(struct fx *f, const char *spec, const char *dir_env)
{
	struct dbr_chain_options opt = { .spec = spec };

	opt.plugin_dir = getenv(dir_env);
	assert_non_null(opt.plugin_dir);
	assert_int_equal(dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, &f->err), 0);
}

static void test_cannot_store(void **state)
{
	struct fx *f = *state;

	build(f, "env,testok", "DBR_TEST_PLUGIN_DIR");
	assert_int_equal(dbr_chain_store(f->chain, "env", "https://a.example.com", f->tok,
					 &f->err), DBR_E_USAGE);
	assert_non_null(strstr(f->err.msg, "cannot store"));
	assert_int_equal(dbr_chain_store(f->chain, "testok", "https://a.example.com", f->tok,
					 &f->err), DBR_E_USAGE);
	assert_int_equal(dbr_chain_erase(f->chain, "testok", &f->err), DBR_E_USAGE);
	assert_non_null(strstr(f->err.msg, "cannot remove"));
	assert_int_equal(dbr_chain_store(f->chain, "Bad-Name", "https://a.example.com", f->tok,
					 &f->err), DBR_E_USAGE);
	assert_int_equal(dbr_chain_store(f->chain, "env", "https://u:p@a.example.com", f->tok,
					 &f->err), DBR_E_INVAL);
	assert_int_equal(dbr_chain_store(f->chain, "env", NULL, f->tok, &f->err), DBR_E_INVAL);
	assert_int_equal(dbr_chain_store(f->chain, "env", "https://a.example.com", NULL,
					 &f->err), DBR_E_INVAL);
}

/* Not in the chain's order and not installed: an error, never "not here". */
static void test_missing_plugin_is_an_error(void **state)
{
	struct fx *f = *state;
	struct dbr_chain_options opt = { 0 };
	int rc;

	opt.plugin_dir = getenv("DBR_TEST_PLUGIN_DIR");
	assert_int_equal(dbr_chain_new(&opt, f->cfg, f->mask, f->log, &f->chain, &f->err), 0);
	assert_string_equal(dbr_chain_origin(f->chain), "default");
	rc = dbr_chain_store(f->chain, "nosuchplugin", "https://a.example.com", f->tok, &f->err);
	assert_int_equal(rc, DBR_E_PLUGIN);
	rc = dbr_chain_erase(f->chain, "keyring", &f->err);
	assert_int_equal(rc, DBR_E_PLUGIN);
}

/* The real keyring.so without a session bus: a quick "not here" with the
 * reason, for store, erase and resolve alike. */
static void test_keyring_without_bus(void **state)
{
	struct fx *f = *state;
	struct dbr_credential *cr = NULL;
	char *save = getenv("DBUS_SESSION_BUS_ADDRESS");

	save = save ? strdup(save) : NULL;
	unsetenv("DBUS_SESSION_BUS_ADDRESS");
	setenv("XDG_RUNTIME_DIR", "/nonexistent-dbroker-test", 1);
	build(f, "keyring", "DBR_BUILD_PLUGIN_DIR");
	assert_int_equal(dbr_chain_store(f->chain, "keyring", "a.example.com", f->tok, &f->err),
			 DBR_E_NOT_HERE);
	assert_non_null(strstr(f->err.msg, "no D-Bus session bus"));
	/* logout must not say "nothing was there" when it could not look */
	assert_int_equal(dbr_chain_erase(f->chain, "keyring", &f->err), DBR_E_IO);
	assert_non_null(strstr(f->err.msg, "no D-Bus session bus"));
	assert_int_equal(dbr_chain_resolve(f->chain, &cr, &f->err), DBR_E_NO_CREDENTIAL);
	assert_null(cr);
	assert_int_equal(dbr_chain_answer(f->chain, 0), DBR_ANSWER_NOT_HERE);
	assert_non_null(strstr(dbr_chain_reason(f->chain, 0), "no D-Bus session bus"));
	if (save) {
		setenv("DBUS_SESSION_BUS_ADDRESS", save, 1);
		free(save);
	}
}

static void test_secret_bytes_only_during_store(void **state)
{
	struct fx *f = *state;
	const struct dbr_host_services *svc = dbr_host_services_table();
	struct dbr_host h;
	const unsigned char *b;

	assert_true(svc->struct_size >= offsetof(struct dbr_host_services, secret_bytes) +
		    sizeof(svc->secret_bytes));
	memset(&h, 0, sizeof(h));
	assert_null(svc->secret_bytes(&h, f->tok));
	h.storing = f->tok;
	b = svc->secret_bytes(&h, f->tok);
	assert_non_null(b);
	assert_memory_equal(b, tok, strlen(tok));
	assert_null(svc->secret_bytes(&h, NULL));
}

static void test_credential_new(void **state)
{
	struct fx *f = *state;
	struct dbr_credential *cr = NULL;

	assert_int_equal(dbr_credential_new("a.example.com/", f->tok, "login", &cr, &f->err), 0);
	assert_string_equal(dbr_credential_host(cr), "https://a.example.com");
	assert_string_equal(dbr_credential_source(cr), "login");
	assert_true(dbr_secret_equal(dbr_credential_token(cr), f->tok));
	assert_ptr_not_equal(dbr_credential_token(cr), f->tok);
	dbr_credential_free(cr);
	assert_int_equal(dbr_credential_new("http://a b", f->tok, "login", &cr, &f->err),
			 DBR_E_INVAL);
	assert_null(cr);
	assert_int_equal(dbr_credential_new("a.example.com", NULL, "login", &cr, &f->err),
			 DBR_E_INVAL);
	assert_int_equal(dbr_credential_new("a.example.com", f->tok, "Bad Name", &cr, &f->err),
			 DBR_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cannot_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_plugin_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyring_without_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_bytes_only_during_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential_new, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
