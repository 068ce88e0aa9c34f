#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "crypto_lazy.h"
#include "curl_lazy.h"
#include "dbroker/runtime.h"

static int setup(void **state)
{
	(void)state;
	return dbr_runtime_init(0, NULL, NULL);
}

static void test_realloc_keeps_content(void **state)
{
	char *p = dbr_wipe_malloc(8), *q;

	(void)state;
	assert_non_null(p);
	memcpy(p, "abcdefg", 8);
	q = dbr_wipe_realloc(p, 4096);
	assert_non_null(q);
	assert_string_equal(q, "abcdefg");
	q = dbr_wipe_realloc(q, 4);
	assert_memory_equal(q, "abcd", 4);
	/* shrunk in place: the rest of the block is wiped */
	for (size_t i = 4; i < malloc_usable_size(q); i++)
		assert_int_equal(q[i], 0);
	dbr_wipe_free(q);
	assert_null(dbr_wipe_realloc(dbr_wipe_malloc(4), 0));
	assert_null(dbr_wipe_calloc(SIZE_MAX / 2, 4)); /* overflow refused */
	p = dbr_wipe_strdup("copy");
	assert_string_equal(p, "copy");
	dbr_wipe_free(p);
	dbr_wipe_free(NULL);
}

/* A large block's whole pages are discarded rather than zeroed: they read
 * as zero all the same (shrinking wipes the cut-off part like free does). */
static void test_large_block_wiped(void **state)
{
	size_t n = 256 * 1024;
	unsigned char *p = dbr_wipe_malloc(n), *q;

	(void)state;
	assert_non_null(p);
	memset(p, 0xa5, n);
	q = dbr_wipe_realloc(p, 10);
	assert_ptr_equal(q, p);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(q[i], 0xa5);
	for (size_t i = 10; i < malloc_usable_size(q); i++)
		if (q[i] != 0)
			fail_msg("byte %zu of the cut-off part is 0x%02x", i, q[i]);
	dbr_wipe_free(q);
}

static void test_live_blocks_balance(void **state)
{
	size_t before = dbr_alloc_live_blocks();
	void *a = dbr_wipe_malloc(100), *b = dbr_wipe_calloc(10, 10);

	(void)state;
	assert_int_equal(dbr_alloc_live_blocks(), before + 2);
	dbr_wipe_free(a);
	dbr_wipe_free(b);
	assert_int_equal(dbr_alloc_live_blocks(), before);
}

/* Each library really allocates through the wiping hooks: its allocations
 * show up in the hooks' live-block count and are given back on release. */
static void test_cjson_uses_hooks(void **state)
{
	size_t before = dbr_alloc_live_blocks();
	cJSON *o = cJSON_CreateObject();
	char *s;

	(void)state;
	cJSON_AddStringToObject(o, "token", "not-a-real-token-value");
	assert_true(dbr_alloc_live_blocks() > before);
	s = cJSON_PrintUnformatted(o);
	assert_non_null(s);
	cJSON_free(s);
	cJSON_Delete(o);
	assert_int_equal(dbr_alloc_live_blocks(), before);
}

static void test_curl_uses_hooks(void **state)
{
	size_t before;
	struct curl_slist *l;
	CURL *c;

	(void)state;
	/* libcurl is loaded on first use, and its global state stays */
	assert_int_equal(dbr_curl_load(NULL), 0);
	assert_true(dbr_curl_loaded());
	before = dbr_alloc_live_blocks();
	l = curl_slist_append(NULL, "X-Test: value");
	assert_non_null(l);
	assert_true(dbr_alloc_live_blocks() > before);
	curl_slist_free_all(l);
	c = curl_easy_init();
	assert_non_null(c);
	curl_easy_cleanup(c);
	assert_int_equal(dbr_alloc_live_blocks(), before);
}

static void test_openssl_uses_hooks(void **state)
{
	size_t before;
	EVP_MD_CTX *ctx;

	(void)state;
	/* libdbroker loads libcrypto and hooks it before anything uses it */
	assert_int_equal(dbr_crypto_load(NULL), 0);
	before = dbr_alloc_live_blocks();
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_true(dbr_alloc_live_blocks() > before);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(dbr_alloc_live_blocks(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realloc_keeps_content),
		cmocka_unit_test(test_large_block_wiped),
		cmocka_unit_test(test_live_blocks_balance),
		cmocka_unit_test(test_cjson_uses_hooks),
		cmocka_unit_test(test_curl_uses_hooks),
		cmocka_unit_test(test_openssl_uses_hooks),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
