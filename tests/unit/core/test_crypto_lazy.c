/* libcrypto loaded on first use (core/crypto_lazy.c) and the byte helpers
 * that replaced OpenSSL's (core/bytes.c), checked against OpenSSL itself:
 * this test links libcrypto, libdbroker does not. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto_lazy.h"
#include "dbroker/bytes.h"
#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "secret_internal.h"

static const char pat[] = "dapi0123456789abcdef0123456789abcdef";

static void test_not_loaded_by_runtime_init(void **state)
{
	int locked = -1;

	(void)state;
	assert_int_equal(dbr_runtime_init(0, &locked, NULL), 0);
	assert_int_equal(locked, dbr_secmem_locked());
	/* nothing has needed it yet: neither loaded nor its arena up */
	assert_false(dbr_crypto_loaded());
	assert_false(dbr_crypto_secure_initialized());
	assert_non_null(dbr_secmem_describe());
	assert_false(dbr_crypto_loaded());
}

static void test_first_secret_loads_and_hooks(void **state)
{
	struct dbr_secret *s;
	int locked = dbr_secmem_locked();

	(void)state;
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &s), 0);
	/* without locked memory the handle is a private mapping of its own */
	assert_int_equal(dbr_crypto_loaded(), locked);
	assert_int_equal(dbr_crypto_load(NULL), 0);
	if (locked) {
		/* the handle is in OpenSSL's locked arena */
		assert_true(dbr_crypto_secure_initialized());
		assert_int_equal(CRYPTO_secure_allocated(s), 1);
	}
	assert_int_equal(dbr_secmem_locked(), locked);
	/* (test_alloc checks that OpenSSL allocates through the hooks) */
	dbr_secret_free(s);
	/* one copy of the library: the one this test links */
	assert_int_equal(dbr_crypto_load(NULL), 0);
	{
		void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);

		assert_non_null(h);
		assert_ptr_equal(dlsym(h, "CRYPTO_secure_allocated"),
				 (void *)CRYPTO_secure_allocated);
		dlclose(h);
	}
}

static void test_sha256_matches_openssl(void **state)
{
	unsigned char md[DBR_SHA256_LEN], want[EVP_MAX_MD_SIZE];
	unsigned int wlen = 0;

	(void)state;
	assert_int_equal(dbr_crypto_sha256(pat, strlen(pat), md), 0);
	assert_int_equal(EVP_Digest(pat, strlen(pat), want, &wlen, EVP_sha256(), NULL), 1);
	assert_int_equal(wlen, DBR_SHA256_LEN);
	assert_memory_equal(md, want, DBR_SHA256_LEN);
}

static void test_ct_equal(void **state)
{
	unsigned char a[64], b[64];

	(void)state;
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (unsigned char)(i * 37 + 1);
	assert_int_equal(dbr_ct_equal(a, b, 0), 1);
	assert_int_equal(dbr_ct_equal(a, b, sizeof(a)), 1);
	for (size_t i = 0; i < sizeof(a); i++)
		for (unsigned bit = 0; bit < 8; bit++) {
			b[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(dbr_ct_equal(a, b, sizeof(a)), 0);
			assert_int_equal(dbr_ct_equal(a, b, sizeof(a)),
					 CRYPTO_memcmp(a, b, sizeof(a)) == 0);
			b[i] ^= (unsigned char)(1u << bit);
		}
	/* 0x80 vs 0x00: the top bit alone */
	a[0] = 0x80;
	b[0] = 0x00;
	assert_int_equal(dbr_ct_equal(a, b, 1), 0);
}

static void test_random_bytes(void **state)
{
	unsigned char a[4096], b[4096];
	unsigned seen[256] = { 0 };
	size_t distinct = 0;

	(void)state;
	memset(a, 0, sizeof(a));
	assert_int_equal(dbr_random_bytes(a, sizeof(a)), 0);
	assert_int_equal(dbr_random_bytes(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		seen[a[i]]++;
	for (size_t i = 0; i < 256; i++)
		distinct += seen[i] > 0;
	assert_true(distinct > 200);
	assert_int_equal(dbr_random_bytes(a, 0), 0);
}

static void test_base64_matches_openssl(void **state)
{
	unsigned char in[70];
	char got[DBR_BASE64_LEN(sizeof(in)) + 1];
	unsigned char want[DBR_BASE64_LEN(sizeof(in)) + 1];

	(void)state;
	assert_int_equal(dbr_random_bytes(in, sizeof(in)), 0);
	for (size_t n = 0; n <= sizeof(in); n++) {
		int wn = EVP_EncodeBlock(want, in, (int)n);

		memset(got, 'x', sizeof(got));
		assert_int_equal(dbr_base64_encode(got, in, n), (size_t)wn);
		assert_int_equal(DBR_BASE64_LEN(n), (size_t)wn);
		assert_string_equal(got, (const char *)want);
	}
	assert_int_equal(dbr_base64_encode(got, (const unsigned char *)"foobar", 6), 8);
	assert_string_equal(got, "Zm9vYmFy");
	assert_int_equal(dbr_base64_encode(got, (const unsigned char *)"fo", 2), 4);
	assert_string_equal(got, "Zm8=");
}

static void test_wipe(void **state)
{
	unsigned char buf[33];

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	dbr_wipe(buf + 1, sizeof(buf) - 2);
	assert_int_equal(buf[0], 0xa5);
	assert_int_equal(buf[sizeof(buf) - 1], 0xa5);
	for (size_t i = 1; i < sizeof(buf) - 1; i++)
		assert_int_equal(buf[i], 0);
	dbr_wipe(NULL, 0);
}

int main(void)
{
	/* the order matters: the first two watch libcrypto being loaded */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_loaded_by_runtime_init),
		cmocka_unit_test(test_first_secret_loads_and_hooks),
		cmocka_unit_test(test_sha256_matches_openssl),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_base64_matches_openssl),
		cmocka_unit_test(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
