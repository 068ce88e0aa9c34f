#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>

#include "dbroker/runtime.h"
#include "dbroker/secret.h"
#include "secret_internal.h"

static const char pat[] = "dapi0123456789abcdef0123456789abcdef";

static int setup(void **state)
{
	(void)state;
	return dbr_runtime_init(0, NULL, NULL);
}

static void test_new_and_view(void **state)
{
	struct dbr_secret *s = (struct dbr_secret *)0x1;

	(void)state;
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &s), 0);
	assert_int_equal(dbr_secret_len(s), strlen(pat));
	assert_memory_equal(dbr_secret_bytes(s), pat, strlen(pat));
	/* NUL-terminated inside secure memory, for the signer */
	assert_int_equal(dbr_secret_bytes(s)[strlen(pat)], '\0');
	dbr_secret_free(s);
	dbr_secret_free(NULL);
}

struct fill_ctx {
	const char *text;
	int rc;
	size_t claim; /* the length fill() reports (0: strlen(text)) */
	unsigned char *seen;
	size_t seen_cap;
};

static int fill_cb(void *ctx, unsigned char *buf, size_t cap, size_t *len)
{
	struct fill_ctx *c = ctx;
	size_t n = strlen(c->text);

	c->seen = buf;
	c->seen_cap = cap;
	if (n > cap)
		n = cap;
	memcpy(buf, c->text, n);
	*len = c->claim ? c->claim : n;
	return c->rc;
}

/* secret_fill: bytes written in place, NUL-terminated; a failing or lying
 * fill() leaves no handle behind. */
static void test_fill_in_place(void **state)
{
	struct fill_ctx c = { pat, 0, 0, NULL, 0 };
	struct dbr_secret *s = (struct dbr_secret *)0x1;

	(void)state;
	assert_int_equal(dbr_secret_fill(64, fill_cb, &c, &s), 0);
	assert_int_equal(c.seen_cap, 64);
	assert_ptr_equal(c.seen, dbr_secret_bytes(s));
	assert_int_equal(dbr_secret_len(s), strlen(pat));
	assert_memory_equal(dbr_secret_bytes(s), pat, strlen(pat));
	assert_int_equal(dbr_secret_bytes(s)[strlen(pat)], '\0');
	dbr_secret_free(s);

	c.rc = DBR_E_IO;
	s = (struct dbr_secret *)0x1;
	assert_int_equal(dbr_secret_fill(64, fill_cb, &c, &s), DBR_E_IO);
	assert_null(s);
	c.rc = 0;
	c.claim = 65; /* more than it was given */
	s = (struct dbr_secret *)0x1;
	assert_int_equal(dbr_secret_fill(64, fill_cb, &c, &s), DBR_E_INTERNAL);
	assert_null(s);
	c.claim = 0;
	assert_int_equal(dbr_secret_fill(0, fill_cb, &c, &s), DBR_E_INVAL);
	assert_int_equal(dbr_secret_fill(DBR_SECRET_MAX + 1, fill_cb, &c, &s), DBR_E_TOO_LARGE);
	assert_int_equal(dbr_secret_fill(8, NULL, &c, &s), DBR_E_INVAL);
	assert_int_equal(dbr_secret_fill(8, fill_cb, &c, NULL), DBR_E_INVAL);
}

static void test_invalid_arguments(void **state)
{
	struct dbr_secret *s = (struct dbr_secret *)0x1;

	(void)state;
	assert_int_equal(dbr_secret_new(pat, 0, &s), DBR_E_INVAL);
	assert_null(s); /* out-param cleared on failure */
	assert_int_equal(dbr_secret_new(NULL, 4, &s), DBR_E_INVAL);
	assert_int_equal(dbr_secret_alloc(DBR_SECRET_MAX + 1, &s), DBR_E_TOO_LARGE);
	assert_int_equal(dbr_secret_alloc(0, &s), DBR_E_INVAL);
	assert_int_equal(dbr_secret_new(pat, 4, NULL), DBR_E_INVAL);
	assert_int_equal(dbr_secret_len(NULL), 0);
}

static void test_append_respects_capacity(void **state)
{
	struct dbr_secret *s;

	(void)state;
	assert_int_equal(dbr_secret_alloc(10, &s), 0);
	assert_int_equal(dbr_secret_append(s, "hello", 5), 0);
	assert_int_equal(dbr_secret_append(s, "world", 5), 0);
	assert_int_equal(dbr_secret_append(s, "!", 1), DBR_E_TOO_LARGE);
	assert_int_equal(dbr_secret_len(s), 10);
	assert_true(dbr_secret_equal_bytes(s, "helloworld", 10));
	dbr_secret_free(s);
}

static void test_trim_wipes_tail(void **state)
{
	struct dbr_secret *s;
	const unsigned char *b;

	(void)state;
	assert_int_equal(dbr_secret_new("  token-value\r\n", 15, &s), 0);
	dbr_secret_trim(s);
	assert_int_equal(dbr_secret_len(s), 11);
	b = dbr_secret_bytes(s);
	assert_memory_equal(b, "token-value", 11);
	/* the bytes past the new end are zero, not a stale copy */
	for (int i = 11; i < 15; i++)
		assert_int_equal(b[i], 0);
	dbr_secret_free(s);

	assert_int_equal(dbr_secret_new(" \n", 2, &s), 0);
	dbr_secret_trim(s);
	assert_int_equal(dbr_secret_len(s), 0);
	dbr_secret_free(s);
}

static void test_dup(void **state)
{
	struct dbr_secret *a, *b = (struct dbr_secret *)0x1;

	(void)state;
	assert_int_equal(dbr_secret_dup(NULL, &b), DBR_E_INVAL);
	assert_null(b);
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &a), 0);
	assert_int_equal(dbr_secret_dup(a, &b), 0);
	assert_ptr_not_equal(a, b);
	assert_true(dbr_secret_equal(a, b));
	dbr_secret_free(a);
	/* an independent copy: still intact after the original is gone */
	assert_true(dbr_secret_equal_bytes(b, pat, strlen(pat)));
	dbr_secret_free(b);
}

static void test_equality(void **state)
{
	struct dbr_secret *a, *b, *c;

	(void)state;
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &a), 0);
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &b), 0);
	assert_int_equal(dbr_secret_new(pat, strlen(pat) - 1, &c), 0);
	assert_true(dbr_secret_equal(a, b));
	assert_false(dbr_secret_equal(a, c));
	assert_false(dbr_secret_equal(a, NULL));
	assert_false(dbr_secret_equal_bytes(a, "dapi", 4));
	dbr_secret_free(a);
	dbr_secret_free(b);
	dbr_secret_free(c);
}

static void test_fingerprint_and_hint(void **state)
{
	struct dbr_secret *s;
	char fp[DBR_SECRET_FP_MAX], hint[DBR_SECRET_HINT_MAX];

	(void)state;
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &s), 0);
	assert_int_equal(dbr_secret_fingerprint(s, fp, sizeof(fp)), 0);
	/* sha256("dapi0123456789abcdef0123456789abcdef") = 033a2607 45662d05…
	 * (sha256sum); and the same as OpenSSL's EVP digest */
	assert_string_equal(fp, "sha256:033a2607");
	{
		unsigned char md[32];
		char want[16];
		unsigned int n;

		EVP_Digest(pat, strlen(pat), md, &n, EVP_sha256(), NULL);
		snprintf(want, sizeof(want), "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
		assert_memory_equal(fp, "sha256:", 7);
		assert_string_equal(fp + 7, want);
	}
	assert_int_equal(dbr_secret_hint(s, hint, sizeof(hint)), 0);
	assert_string_equal(hint, "dapi\xe2\x80\xa6" "cdef");
	assert_int_equal(dbr_secret_hint(s, hint, 4), DBR_E_INVAL);
	dbr_secret_free(s);

	/* short or unknown-shape secrets reveal less */
	assert_int_equal(dbr_secret_new("shortsecret", 11, &s), 0);
	assert_int_equal(dbr_secret_hint(s, hint, sizeof(hint)), 0);
	assert_string_equal(hint, "\xe2\x80\xa6");
	dbr_secret_free(s);
	assert_int_equal(dbr_secret_new("a-much-longer-opaque-secret", 27, &s), 0);
	assert_int_equal(dbr_secret_hint(s, hint, sizeof(hint)), 0);
	assert_string_equal(hint, "\xe2\x80\xa6" "cret");
	dbr_secret_free(s);
}

static void test_pat_shape(void **state)
{
	static const struct { const char *s; int want; } cases[] = {
		{ "dapi0123456789abcdef0123456789abcdef", 1 },
		{ "dapi0123456789abcdef0123456789abcdef-2", 1 },
		{ "dapi0123456789abcdef0123456789abcdef-", 0 },
		{ "dapi0123456789abcdef0123456789abcdeX", 0 },
		{ "dapi0123456789ABCDEF0123456789abcdef", 0 },
		{ "dapi0123", 0 },
		{ "hvs.0123456789abcdef0123456789abcdef", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dbr_secret *s;

		assert_int_equal(dbr_secret_new(cases[i].s, strlen(cases[i].s), &s), 0);
		assert_int_equal(dbr_secret_is_pat_shaped(s), cases[i].want);
		dbr_secret_free(s);
	}
}

static void test_one_word(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		int want;
	} cases[] = {
#define C(str, w) { str, sizeof(str) - 1, w }
		C("dapi0123456789abcdef0123456789abcdef", 1),
		C("hvs.a-b_c~d+e/f=", 1),
		C("caf\xc3\xa9-secret", 1),
		C("dapi0123 456789", 0),
		C("dapi0123\t456789", 0),
		C("dapi0123\x1b[2J", 0),
		C("dapi0123456789\x7f", 0),
		C("dapi0123\r\nX: y", 0),
		C("dapi0123\0" "456789", 0),
#undef C
	};

	(void)state;
	assert_int_equal(dbr_secret_is_one_word(NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dbr_secret *s;

		assert_int_equal(dbr_secret_new(cases[i].s, cases[i].n, &s), 0);
		if (dbr_secret_is_one_word(s) != cases[i].want)
			fail_msg("case %zu", i);
		dbr_secret_free(s);
	}
}

static void test_arena_full_falls_back(void **state)
{
	enum { N = 80 };
	struct dbr_secret *s[N];
	static unsigned char big[DBR_SECRET_MAX];

	(void)state;
	memset(big, 'k', sizeof(big));
	/* 80 x 8 KiB is more than the locked arena holds: every handle must
	 * still be created, hold its bytes, and be released cleanly */
	for (int i = 0; i < N; i++) {
		big[0] = (unsigned char)i;
		assert_int_equal(dbr_secret_new(big, sizeof(big), &s[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		big[0] = (unsigned char)i;
		assert_true(dbr_secret_equal_bytes(s[i], big, sizeof(big)));
		dbr_secret_free(s[i]);
	}
}

static void test_secure_heap(void **state)
{
	struct dbr_secret *s;
	int locked = -1;

	(void)state;
	assert_int_equal(dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 0, &locked, NULL), 0);
	assert_int_equal(locked, dbr_secmem_locked());
	assert_int_equal(dbr_secret_new(pat, strlen(pat), &s), 0);
	if (locked) {
		/* the bytes really live in OpenSSL's locked arena */
		assert_int_equal(CRYPTO_secure_allocated(s), 1);
	} else {
		/* strict mode refuses when memory cannot be locked */
		assert_int_equal(dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 1, NULL, NULL),
				 DBR_E_SECMEM);
	}
	dbr_secret_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_view),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_fill_in_place),
		cmocka_unit_test(test_append_respects_capacity),
		cmocka_unit_test(test_trim_wipes_tail),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_equality),
		cmocka_unit_test(test_fingerprint_and_hint),
		cmocka_unit_test(test_pat_shape),
		cmocka_unit_test(test_one_word),
		cmocka_unit_test(test_secure_heap),
		cmocka_unit_test(test_arena_full_falls_back),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
