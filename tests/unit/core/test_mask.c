#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dbroker/errors.h"
#include "dbroker/mask.h"
#include "dbroker/secret.h"
#include "mask_internal.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static struct dbr_mask *new_mask(void)
{
	struct dbr_mask *m = NULL;

	assert_int_equal(dbr_mask_new(&m), 0);
	assert_non_null(m);
	return m;
}

static int add_bytes(struct dbr_mask *m, const void *p, size_t len)
{
	struct dbr_secret *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;
	int rc;

	assert_int_equal(dbr_secret_new(p, len, &s), 0);
	rc = dbr_mask_add_secret(m, s, &err);
	dbr_secret_free(s);
	return rc;
}

static void add(struct dbr_mask *m, const char *s)
{
	assert_int_equal(add_bytes(m, s, strlen(s)), 0);
}

/* One-shot masking of len bytes; the result is NUL-terminated. */
static char *mask_n(const struct dbr_mask *m, const char *in, size_t len, size_t *outlen)
{
	char *out = NULL;
	size_t n = 99;

	assert_int_equal(dbr_mask_buffer(m, in, len, &out, &n), 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), n);
	if (outlen)
		*outlen = n;
	return out;
}

static char *mask_s(const struct dbr_mask *m, const char *in)
{
	return mask_n(m, in, strlen(in), NULL);
}

static int sink_buf(void *arg, const char *p, size_t len)
{
	return dbr_buf_add(arg, p, len);
}

static char *stream_cuts(const struct dbr_mask *m, const char *in, size_t len,
			 const size_t *cuts, size_t ncuts);

#define PAD 200

/* in masks to want: in one go, in 3-byte writes, and between PAD newlines
 * (long enough for the vector loops), with every scanning implementation. */
static void expect(struct dbr_mask *m, const char *in, const char *want)
{
	size_t len = strlen(in), three = 3;
	int best = mask_set_simd(m, 99);
	char *padded = malloc(len + 2 * PAD + 1), *pwant = malloc(strlen(want) + 2 * PAD + 1);

	assert_non_null(padded);
	assert_non_null(pwant);
	memset(padded, '\n', PAD);
	memcpy(padded + PAD, in, len);
	memset(padded + PAD + len, '\n', PAD);
	padded[len + 2 * PAD] = '\0';
	memset(pwant, '\n', PAD);
	memcpy(pwant + PAD, want, strlen(want));
	memset(pwant + PAD + strlen(want), '\n', PAD);
	pwant[strlen(want) + 2 * PAD] = '\0';
	for (int level = best; level >= 0; level--) {
		char *out;

		mask_set_simd(m, level);
		out = mask_s(m, in);
		if (strcmp(out, want) != 0)
			print_error("input:    \"%s\"\nexpected: \"%s\"\ngot:      \"%s\"\n",
				    in, want, out);
		assert_string_equal(out, want);
		free(out);
		out = mask_s(m, padded);
		assert_string_equal(out, pwant);
		free(out);
	}
	mask_set_simd(m, best);
	{
		char *out = stream_cuts(m, in, len, &three, 1);

		assert_string_equal(out, want);
		free(out);
	}
	free(padded);
	free(pwant);
}

/* Stream in[0..len) cut at the given sizes (cycled; 0 = the rest). */
static char *stream_cuts(const struct dbr_mask *m, const char *in, size_t len,
			 const size_t *cuts, size_t ncuts)
{
	struct dbr_buf b = DBR_BUF_INIT((size_t)1 << 30);
	struct dbr_mask_stream *s = NULL;
	size_t off = 0, k = 0;
	char *out;

	assert_int_equal(dbr_mask_stream_new(m, sink_buf, &b, &s), 0);
	while (off < len) {
		size_t n = ncuts ? cuts[k++ % ncuts] : len;

		if (n == 0 || n > len - off)
			n = len - off;
		assert_int_equal(dbr_mask_stream_write(s, in + off, n), 0);
		off += n;
	}
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	dbr_mask_stream_free(s);
	out = dbr_buf_detach(&b, NULL);
	assert_non_null(out);
	return out;
}

static char *stream_random(const struct dbr_mask *m, const char *in, size_t len,
			   size_t maxchunk)
{
	size_t cuts[64];

	for (size_t i = 0; i < 64; i++)
		cuts[i] = 1 + rng() % maxchunk;
	return stream_cuts(m, in, len, cuts, 64);
}

static int contains(const char *hay, const void *needle, size_t n)
{
	return memmem(hay, strlen(hay), needle, n) != NULL;
}

static size_t count_repl(const char *s)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, DBR_MASK_REPLACEMENT)); p += 3)
		n++;
	return n;
}

static char *b64(const void *p, size_t len)
{
	char *out = malloc(4 * (len / 3 + 1) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

static void rand_secret(char *out, size_t n, const char *alphabet)
{
	size_t a = strlen(alphabet);

	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[rng() % a];
	out[n] = '\0';
}

static const char ALNUM[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* ---- API basics ---- */

static void test_empty_and_plain(void **state)
{
	struct dbr_mask *m = new_mask();
	struct dbr_buf b = DBR_BUF_INIT(1024);
	struct dbr_mask_stream *s = NULL;
	char *out;

	(void)state;
	expect(m, "", "");
	out = NULL;
	assert_int_equal(dbr_mask_buffer(m, NULL, 0, &out, NULL), 0);
	assert_string_equal(out, "");
	free(out);
	expect(m, "nothing to see here\n", "nothing to see here\n");
	add(m, "correct-horse-battery");
	expect(m, "plain text, no secrets.", "plain text, no secrets.");

	assert_int_equal(dbr_mask_stream_new(m, sink_buf, &b, &s), 0);
	assert_int_equal(dbr_mask_stream_write(s, "", 0), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_int_equal(b.len, 0);
	dbr_mask_stream_free(s);
	dbr_buf_release(&b);
	dbr_mask_free(m);
}

static void test_invalid_args(void **state)
{
	struct dbr_mask *m = new_mask();
	struct dbr_mask_stream *s = (void *)1;
	char *out = (void *)1;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	assert_int_equal(dbr_mask_new(NULL), DBR_E_INVAL);
	assert_int_equal(dbr_mask_add_secret(m, NULL, &err), DBR_E_INVAL);
	assert_int_equal(dbr_mask_add_secret(NULL, NULL, NULL), DBR_E_INVAL);
	assert_int_equal(dbr_mask_buffer(m, NULL, 3, &out, NULL), DBR_E_INVAL);
	assert_null(out);
	assert_int_equal(dbr_mask_buffer(NULL, "x", 1, &out, NULL), DBR_E_INVAL);
	assert_int_equal(dbr_mask_stream_new(m, NULL, NULL, &s), DBR_E_INVAL);
	assert_null(s);
	assert_int_equal(dbr_mask_stream_write(NULL, "x", 1), DBR_E_INVAL);
	assert_int_equal(dbr_mask_stream_flush(NULL), DBR_E_INVAL);
	assert_int_equal(dbr_mask_count(NULL), 0);
	dbr_mask_stream_free(NULL);
	dbr_mask_free(NULL);
	dbr_mask_free(m);
}

static void test_short_secret_refused(void **state)
{
	struct dbr_mask *m = new_mask();
	struct dbr_secret *s = NULL;
	struct dbr_err err = DBR_ERR_INIT;

	(void)state;
	assert_int_equal(dbr_secret_new("1234567", 7, &s), 0);
	assert_int_equal(dbr_mask_add_secret(m, s, &err), DBR_E_SHORT_SECRET);
	assert_int_equal(err.code, DBR_E_SHORT_SECRET);
	assert_true(strlen(err.msg) > 0);
	assert_null(strstr(err.msg, "1234567"));
	dbr_secret_free(s);
	assert_int_equal(add_bytes(m, "a", 1), DBR_E_SHORT_SECRET);
	assert_int_equal(dbr_mask_count(m), 0);
	/* nothing was registered */
	expect(m, "pin 1234567 ok", "pin 1234567 ok");
	/* the minimum is accepted */
	assert_int_equal(add_bytes(m, "12345678", 8), 0);
	assert_int_equal(dbr_mask_count(m), 1);
	expect(m, "pin 12345678 ok", "pin *** ok");
	dbr_mask_free(m);
}

static void test_duplicates_and_count(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	assert_int_equal(dbr_mask_count(m), 0);
	add(m, "s3cr3t-value-one");
	add(m, "s3cr3t-value-one");
	add(m, "s3cr3t-value-one");
	assert_int_equal(dbr_mask_count(m), 1);
	add(m, "another-secret-2");
	add(m, "third secret here!");
	assert_int_equal(dbr_mask_count(m), 3);
	add(m, "another-secret-2");
	assert_int_equal(dbr_mask_count(m), 3);
	expect(m, "a=s3cr3t-value-one b=another-secret-2 c=third secret here!",
	       "a=*** b=*** c=***");
	dbr_mask_free(m);
}

/* ---- encodings ---- */

static void test_raw(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "hunter2hunter2");
	expect(m, "hunter2hunter2", "***");
	expect(m, "pw=hunter2hunter2;", "pw=***;");
	expect(m, "hunter2hunter2hunter2hunter2", "***");
	expect(m, "hunter2hunter", "hunter2hunter");
	expect(m, "xhunter2hunter2hunter2y", "x***y");
	dbr_mask_free(m);
}

/* The literal check alone: registered secrets and their encodings,
 * wherever they stand; nothing for shapes or near misses. */
static void test_has_secret(void **state)
{
	static const char *const yes[] = {
		"hunter2hunter2", "Authorization: Bearer hunter2hunter2",
		"{\"access_token\": \"hunter2hunter2\"}", "pw=hunter2%21hunter2", "aHVudGVyMmh1bnRlcjI=",
	};
	static const char *const no[] = {
		"", "hunter2hunter", "Bearer dapi0123456789abcdef0123456789abcdef", "plain text",
	};
	struct dbr_mask *m = new_mask();

	(void)state;
	assert_int_equal(dbr_mask_has_secret(m, "hunter2hunter2", 14), 0); /* none registered */
	assert_int_equal(dbr_mask_longest(m), 0);
	add(m, "hunter2hunter2");
	add(m, "hunter2!hunter2");
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_int_equal(dbr_mask_has_secret(m, yes[i], strlen(yes[i])), 1);
	/* cut anywhere, each look overlapping the one before by longest - 1
	 * bytes: the secret is seen in one of them */
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		size_t len = strlen(yes[i]), keep = dbr_mask_longest(m) - 1;

		for (size_t cut = 1; cut < len; cut++) {
			size_t from = cut > keep ? cut - keep : 0;

			assert_true(dbr_mask_has_secret(m, yes[i], cut) ||
				    dbr_mask_has_secret(m, yes[i] + from, len - from));
		}
	}
	assert_int_equal(dbr_mask_longest(NULL), 0);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(dbr_mask_has_secret(m, no[i], strlen(no[i])), 0);
	assert_int_equal(dbr_mask_has_secret(NULL, "x", 1), 0);
	dbr_mask_free(m);
}

/* Readers masking while another thread registers secrets (the exec
 * proxy renewing an OAuth token while the child's output and the answers
 * are looked at): a secret registered before stays masked throughout. */
struct race {
	struct dbr_mask *m;
	atomic_int writing;
	atomic_int misses;
	atomic_long looks;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	static const char text[] = "x-token: hunter2hunter2 and the rest of a line";

	do {
		char *out = NULL;
		size_t n = 0;

		if (!dbr_mask_has_secret(r->m, text, sizeof(text) - 1) ||
		    dbr_mask_buffer(r->m, text, sizeof(text) - 1, &out, &n) != 0 ||
		    memmem(out, n, "hunter2", 7) != NULL || dbr_mask_longest(r->m) < 14)
			atomic_fetch_add(&r->misses, 1);
		free(out);
		atomic_fetch_add(&r->looks, 1);
		sched_yield(); /* under valgrind, one thread runs at a time */
	} while (atomic_load(&r->writing) || atomic_load(&r->looks) < 200);
	return NULL;
}

static void test_registration_while_others_mask(void **state)
{
	struct race r = { .m = new_mask() };
	pthread_t t[3];
	char secret[64];

	(void)state;
	add(r.m, "hunter2hunter2");
	atomic_store(&r.writing, 1);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race_reader, &r), 0);
	for (int i = 0; i < 64; i++) {
		snprintf(secret, sizeof(secret), "renewed-%04d-%08x", i, rng());
		add(r.m, secret);
	}
	atomic_store(&r.writing, 0);
	for (size_t i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&r.misses), 0);
	assert_int_equal(dbr_mask_count(r.m), 65);
	dbr_mask_free(r.m);
}

static void test_base64_known(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "hunter2hunter2");
	/* base64("user:hunter2hunter2"): the secret starts at byte 5
	 * (offset 2 in its group), only characters of the secret alone go */
	expect(m, "blob=dXNlcjpodW50ZXIyaHVudGVyMg==", "blob=dXNlcjp***g==");
	/* base64("hunter2hunter2") and base64("x" + it) */
	expect(m, "aHVudGVyMmh1bnRlcjI=", "***I=");
	expect(m, "eGh1bnRlcjJodW50ZXIy", "eG***");
	dbr_mask_free(m);
}

/* The secret inside base64(prefix + secret + suffix), for many prefix and
 * suffix lengths, in both alphabets. */
static void test_base64_offsets(void **state)
{
	static const char *secrets[] = {
		"hunter2hunter2", "Zx9/+q==8?>~~~~", "\xff\xfe\xfd\x01\x02\x03\x04\x05\x06",
		"dGhpcyBpcyBiYXNlNjQ=",
	};
	struct dbr_mask *m = new_mask();

	(void)state;
	for (size_t i = 0; i < 4; i++)
		add(m, secrets[i]);
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(secrets[i]);

		for (size_t pre = 0; pre < 7; pre++) {
			for (size_t suf = 0; suf < 4; suf++) {
				unsigned char raw[64];
				char *enc, *out, *out2;
				size_t elen, kept, bound;

				for (size_t k = 0; k < pre; k++)
					raw[k] = (unsigned char)(0x41 + k * 7);
				memcpy(raw + pre, secrets[i], n);
				for (size_t k = 0; k < suf; k++)
					raw[pre + n + k] = (unsigned char)(0x61 + k * 5);
				enc = b64(raw, pre + n + suf);
				elen = strlen(enc);
				out = mask_s(m, enc);
				assert_int_equal(count_repl(out), 1);
				/* what stays: the characters touching the prefix
				 * and the suffix (and padding) only */
				kept = strlen(out) - 3;
				bound = (pre + 2) / 3 * 4 + 1 + (suf + 2) / 3 * 4 + 4;
				assert_true(kept <= bound);
				assert_true(elen > kept);
				/* URL-safe alphabet */
				for (char *c = enc; *c; c++) {
					if (*c == '+')
						*c = '-';
					else if (*c == '/')
						*c = '_';
				}
				out2 = mask_s(m, enc);
				assert_int_equal(count_repl(out2), 1);
				assert_int_equal(strlen(out2), strlen(out));
				free(out);
				free(out2);
				free(enc);
			}
		}
	}
	dbr_mask_free(m);
}

static void test_url_encoded(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "p@ss w/rd:se~cret!");
	expect(m, "q=p%40ss%20w%2Frd%3Ase~cret%21&x=1", "q=***&x=1");
	expect(m, "q=p%40ss%20w%2frd%3ase~cret%21&x=1", "q=***&x=1");
	expect(m, "q=p%40ss+w%2Frd%3Ase~cret%21&x=1", "q=***&x=1");
	expect(m, "raw p@ss w/rd:se~cret! end", "raw *** end");
	dbr_mask_free(m);
}

/* What follows a public prefix is the secret: masked on its own too. */
static void test_rest_after_public_prefix(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "dapi0123456789abcdef0123456789abcdef");
	add(m, "dose1a2b3c4d5e6f7a8b");
	add(m, "dapi1234567");
	expect(m, "id 0123456789abcdef0123456789abcdef end", "id *** end");
	expect(m, "q=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "q=***Y=");
	expect(m, "secret 1a2b3c4d5e6f7a8b.", "secret ***.");
	/* a rest too short to be a secret of its own is not masked alone */
	expect(m, "build 1234567 ok", "build 1234567 ok");
	expect(m, "dapi1234567", "***");
	dbr_mask_free(m);
}

/* A PAT with a "-N" suffix: the 32 hex digits are the secret, quoted with or
 * without the prefix or the suffix. */
static void test_rest_of_suffixed_pat(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "dapi0123456789abcdef0123456789abcdef-2");
	expect(m, "id 0123456789abcdef0123456789abcdef end", "id *** end");
	expect(m, "q=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "q=***Y=");
	expect(m, "t 0123456789abcdef0123456789abcdef-2 end", "t ***-2 end");
	expect(m, "t dapi0123456789abcdef0123456789abcdef-2 end", "t *** end");
	dbr_mask_free(m);
}

/* The rest of a secret with a public prefix is masked alone only when it is
 * long enough to be a secret by itself: a date or a build number after
 * "dapi" is not. */
static void test_short_rest_not_masked_alone(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "dapi20240101");
	add(m, "dose202401011200");
	expect(m, "release 20240101 out", "release 20240101 out");
	expect(m, "at 202401011200.", "at 202401011200.");
	expect(m, "token dapi20240101 x", "token *** x");
	expect(m, "token dose202401011200 x", "token *** x");
	dbr_mask_free(m);
}

static void test_json_escaped(void **state)
{
	const char secret[] = "a\"b\\c/d\ne\x01" "f\tg";
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, secret);
	expect(m, "{\"note\":\"a\\\"b\\\\c/d\\ne\\u0001f\\tg\"}", "{\"note\":\"***\"}");
	expect(m, "{\"note\":\"a\\\"b\\\\c\\/d\\ne\\u0001f\\tg\"}", "{\"note\":\"***\"}");
	expect(m, "{\"note\":\"a\\\"b\\\\c/d\\ne\\u0001f\\tg\"}", "{\"note\":\"***\"}");
	expect(m, "{\"note\":\"a\\\"b\\\\c\\/d\\ne\\u0001F\\tg\"}",
	       "{\"note\":\"a\\\"b\\\\c\\/d\\ne\\u0001F\\tg\"}");
	expect(m, "[a\\\"b\\\\c\\/d\\ne\\u0001f\\tg]", "[***]");
	expect(m, "x a\\\"b\\\\c/d\\ne\\u0001f\\tg y", "x *** y");
	dbr_mask_free(m);
}

static void test_json_escaped_upper_hex(void **state)
{
	const char secret[] = "ctl\x1f\x1e-char-secret";
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, secret);
	expect(m, "v=ctl\\u001f\\u001e-char-secret", "v=***");
	expect(m, "v=ctl\\u001F\\u001E-char-secret", "v=***");
	dbr_mask_free(m);
}

/* ---- shapes ---- */

static void test_shape_pat(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	expect(m, "token dapi0123456789abcdef0123456789abcdef now",
	       "token *** now");
	expect(m, "dapi0123456789ABCDEF0123456789ABCDEF", "***");
	expect(m, "x=dapi0123456789abcdef0123456789abcdef-2;",
	       "x=***;");
	expect(m, "dapi0123456789abcdef0123456789abcdef-123 ok", "*** ok");
	/* 31 digits, non-hex, no prefix: not a PAT */
	expect(m, "dapi0123456789abcdef0123456789abcde ok",
	       "dapi0123456789abcdef0123456789abcde ok");
	expect(m, "dapi0123456789abcdef0123456789abcdeg",
	       "dapi0123456789abcdef0123456789abcdeg");
	expect(m, "the dapi prefix", "the dapi prefix");
	dbr_mask_free(m);
}

static void test_shape_vault(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	expect(m, "VAULT_TOKEN=hvs.CAESIJ1234567890abcdefghijkl\n", "VAULT_TOKEN=***\n");
	expect(m, "hvb.AAAAAQJ-ab_cdEFGHIJKLMNOPQRSTUVWXYZ", "***");
	expect(m, "t=hvr.abcdefghijklmnopqrst;", "t=***;");
	/* namespaced tokens keep going over a dot; a full stop stays */
	expect(m, "use hvs.CAESIabcdefghijklmnopqrstu.AbCd now",
	       "use *** now");
	expect(m, "it was hvs.CAESIabcdefghijklmnopqrstu. Next", "it was ***. Next");
	expect(m, "it was hvs.CAESIabcdefghijklmnopqrstu..x", "it was ***..x");
	/* too short, wrong prefix */
	expect(m, "hvs.abcdefghijklmnopqrs", "hvs.abcdefghijklmnopqrs");
	expect(m, "hvx.abcdefghijklmnopqrstuvwxyz", "hvx.abcdefghijklmnopqrstuvwxyz");
	/* legacy: "s." + 24 alphanumerics, not glued to a word */
	expect(m, "token s.AbCdEfGhIjKlMnOpQrStUvWx ok", "token *** ok");
	expect(m, "s.AbCdEfGhIjKlMnOpQrStUvWx", "***");
	expect(m, "(s.AbCdEfGhIjKlMnOpQrStUvWx)", "(***)");
	expect(m, "items.AbCdEfGhIjKlMnOpQrStUvWx", "items.AbCdEfGhIjKlMnOpQrStUvWx");
	expect(m, "s.AbCdEfGhIjKlMnOpQrStUvW", "s.AbCdEfGhIjKlMnOpQrStUvW");
	expect(m, "see s. 24 of the items. It is metrics.json",
	       "see s. 24 of the items. It is metrics.json");
	dbr_mask_free(m);
}

static void test_shape_authorization(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	expect(m, "> GET / HTTP/1.1\r\n> Authorization: Bearer abc.def\r\n> Host: x\r\n",
	       "> GET / HTTP/1.1\r\n> Authorization: ***\r\n> Host: x\r\n");
	expect(m, "authorization:basic Zm9vOmJhcg==\nnext", "authorization:***\nnext");
	expect(m, "AUTHORIZATION:    token xyz", "AUTHORIZATION:    ***");
	expect(m, "Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: ***");
	expect(m, "Authorization: x", "Authorization: ***");
	/* nothing to hide */
	expect(m, "Authorization:\r\nHost: x", "Authorization:\r\nHost: x");
	expect(m, "Authorization: ", "Authorization: ");
	expect(m, "no authorization here", "no authorization here");
	expect(m, "authorization required", "authorization required");
	dbr_mask_free(m);
}

static void test_shape_bearer_basic(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	expect(m, "sent Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln rest",
	       "sent Bearer *** rest");
	expect(m, "BASIC dXNlcjpwYXNzd29yZA==", "BASIC ***");
	expect(m, "bearer\tabcdefgh12345", "bearer\t***");
	expect(m, "Bearer    Abc12345x", "Bearer    ***");
	expect(m, "Bearer abcdefghijklmnopqrstuvwxyz", "Bearer ***");
	expect(m, "{'Authorization': 'Bearer 0123456789abcdef'}",
	       "{'Authorization': 'Bearer ***'}");
	/* English stays readable */
	expect(m, "the Bearer tokens expire", "the Bearer tokens expire");
	expect(m, "Bearer authentication failed", "Bearer authentication failed");
	expect(m, "Basic Authentication is simple", "Basic Authentication is simple");
	expect(m, "a basic check, a classic bearer of news",
	       "a basic check, a classic bearer of news");
	expect(m, "Bearer abc123", "Bearer abc123");
	expect(m, "\"token_type\": \"Bearer\",", "\"token_type\": \"Bearer\",");
	expect(m, "Basic realm=\"Databricks\"", "Basic realm=\"Databricks\"");
	dbr_mask_free(m);
}

static void test_shape_json_keys(void **state)
{
	static const char *keys[] = {
		"token", "access_token", "refresh_token", "id_token", "client_secret",
		"secret_id", "password", "client_token", "secret", "passwd", "api_key",
		"apikey", "authorization", "Password", "ACCESS_TOKEN", "Api_Key",
	};
	struct dbr_mask *m = new_mask();
	char in[256], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(in, sizeof(in), "{\"id\":1,\"%s\":\"v4lue \\\" x\",\"n\":2}", keys[i]);
		snprintf(want, sizeof(want), "{\"id\":1,\"%s\":\"***\",\"n\":2}", keys[i]);
		expect(m, in, want);
		snprintf(in, sizeof(in), "{\n  \"%s\" :\n    \"abc\"\n}", keys[i]);
		snprintf(want, sizeof(want), "{\n  \"%s\" :\n    \"***\"\n}", keys[i]);
		expect(m, in, want);
	}
	expect(m, "{\"token\": \"abc\\\\\", \"x\": \"y\"}", "{\"token\": \"***\", \"x\": \"y\"}");
	expect(m, "{\"secret\": \"a\\\"b\"}", "{\"secret\": \"***\"}");
	/* not strings, empty, other keys */
	expect(m, "{\"token\": null, \"password\": 12}", "{\"token\": null, \"password\": 12}");
	expect(m, "{\"token\": \"\"}", "{\"token\": \"\"}");
	expect(m, "{\"tokens\": \"x\", \"token_type\": \"Bearer\", \"cluster_id\": \"1-2\"}",
	       "{\"tokens\": \"x\", \"token_type\": \"Bearer\", \"cluster_id\": \"1-2\"}");
	expect(m, "the token is \"abc\" and password: \"x\"",
	       "the token is \"abc\" and password: \"x\"");
	/* an unterminated value stops at the end of the line */
	expect(m, "{\"password\": \"abc\ndef\"}", "{\"password\": \"***\ndef\"}");
	dbr_mask_free(m);
}

static void test_shape_limits(void **state)
{
	struct dbr_mask *m = new_mask();
	char in[600], want[600];

	(void)state;
	/* more blanks after "Authorization:" than looked at: fail closed */
	snprintf(in, sizeof(in), "Authorization:%*s secret-value\nok", 200, "");
	snprintf(want, sizeof(want), "Authorization:%*s***\nok", 128, "");
	expect(m, in, want);
	/* a JSON separator that long is not recognised as one (documented) */
	snprintf(in, sizeof(in), "{\"token\"%*s: \"abc\"}", 129, "");
	expect(m, in, in);
	snprintf(in, sizeof(in), "{\"token\"%*s: \"abc\"}", 128, "");
	snprintf(want, sizeof(want), "{\"token\"%*s: \"***\"}", 128, "");
	expect(m, in, want);
	/* after a non-ASCII byte: "\xc3\xa9" is not alphanumeric */
	expect(m, "caf\xc3\xa9s.AbCdEfGhIjKlMnOpQrStUvWx", "caf\xc3\xa9***");
	expect(m, "\xffhvs.abcdefghijklmnopqrstuv\xff", "\xff***\xff");
	dbr_mask_free(m);
}

static void test_plain_english(void **state)
{
	const char *text =
		"Processing items. Basic checks passed; the Bearer of bad news, s. Smith, "
		"said the secret is safe and the password policy holds; see "
		"docs.databricks.com/api. Authorization failed? Retry with a new token.";
	struct dbr_mask *m = new_mask();

	(void)state;
	expect(m, text, text);
	dbr_mask_free(m);
}

/* ---- merging ---- */

static void test_overlaps_merge(void **state)
{
	struct dbr_mask *m = new_mask();

	(void)state;
	add(m, "abcdefghij");
	add(m, "ghijklmnop");
	add(m, "QRSTUVWXYZ");
	expect(m, "xx abcdefghijklmnop yy", "xx *** yy");
	expect(m, "xx abcdefghijQRSTUVWXYZ yy", "xx *** yy");
	expect(m, "xx abcdefghij QRSTUVWXYZ yy", "xx *** *** yy");
	expect(m, "Authorization: Bearer abcdefghij\n", "Authorization: ***\n");
	expect(m, "{\"token\": \"abcdefghij\"}", "{\"token\": \"***\"}");
	expect(m, "{\"token\": \"abcdefghij\"}abcdefghij", "{\"token\": \"***\"}***");
	expect(m, "dapi0123456789abcdef0123456789abcdefabcdefghij", "***");
	dbr_mask_free(m);
}

static void test_many_secrets(void **state)
{
	struct dbr_mask *m = new_mask();
	char secrets[24][41];
	struct dbr_buf text = DBR_BUF_INIT(1 << 20);
	char *out, *out2;

	(void)state;
	rng_seed(42);
	for (size_t i = 0; i < 24; i++) {
		rand_secret(secrets[i], 40, i % 2 ? ALNUM : "abcXYZ019+/=_-:@!\"\\");
		add(m, secrets[i]);
	}
	assert_int_equal(dbr_mask_count(m), 24);
	for (size_t r = 0; r < 3; r++)
		for (size_t i = 0; i < 24; i++) {
			char *e = b64(secrets[i], 40);

			dbr_buf_addf(&text, "line %zu: secret=%s and b64 %s.\n", i, secrets[i], e);
			free(e);
		}
	out = mask_s(m, text.data);
	for (size_t i = 0; i < 24; i++)
		assert_false(contains(out, secrets[i], 40));
	assert_int_equal(count_repl(out), 3 * 24 * 2);
	out2 = stream_random(m, text.data, text.len, 300);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	dbr_buf_release(&text);
	dbr_mask_free(m);
}

/* ---- streaming ---- */

static const char *const stream_samples[] = {
	"pre hunter2hunter2 mid aHVudGVyMmh1bnRlcjI= post\n",
	"Authorization: Bearer eyJabc.def-ghi_jkl\r\nHost: example\r\n",
	"{\"access_token\" : \"abc\\\"def\", \"n\": 1} s.AbCdEfGhIjKlMnOpQrStUvWx.\n",
	"x dapi0123456789abcdef0123456789abcdef-3 hvs.CAESIabcdefghijklmnopqrstu.ns y",
	"Bearer tokens are fine, Basic dXNlcjpodW50ZXIyaHVudGVyMg== is not",
	"q=p%40ss%20w%2Frd%3Ase~cret%21 and p@ss w/rd:se~cret! twice",
};

static struct dbr_mask *stream_mask(void)
{
	struct dbr_mask *m = new_mask();

	add(m, "hunter2hunter2");
	add(m, "p@ss w/rd:se~cret!");
	return m;
}

static void test_stream_every_split(void **state)
{
	struct dbr_mask *m = stream_mask();

	(void)state;
	for (size_t t = 0; t < sizeof(stream_samples) / sizeof(stream_samples[0]); t++) {
		const char *in = stream_samples[t];
		size_t len = strlen(in);
		char *want = mask_s(m, in);

		assert_true(count_repl(want) > 0);
		for (size_t cut = 0; cut <= len; cut++) {
			size_t cuts[2] = { cut, 0 };
			char *got = stream_cuts(m, in, len, cuts, cut ? 2 : 0);

			assert_string_equal(got, want);
			free(got);
		}
		/* byte by byte */
		{
			size_t one = 1;
			char *got = stream_cuts(m, in, len, &one, 1);

			assert_string_equal(got, want);
			free(got);
		}
		free(want);
	}
	dbr_mask_free(m);
}

/* Every split of each secret across two writes. */
static void test_stream_secret_split(void **state)
{
	struct dbr_mask *m = new_mask();
	const char *secret = "Xk9-secret-Value+/=!";
	char in[256];
	size_t len, slen = strlen(secret);

	(void)state;
	add(m, secret);
	len = (size_t)snprintf(in, sizeof(in), "left %s right", secret);
	for (size_t cut = 5; cut <= 5 + slen; cut++) {
		size_t cuts[2] = { cut, 0 };
		char *got = stream_cuts(m, in, len, cuts, 2);

		assert_string_equal(got, "left *** right");
		free(got);
	}
	dbr_mask_free(m);
}

/* A random mix of secrets, encodings, shapes and noise, cut at random. */
static size_t build_mix(struct dbr_buf *b, size_t approx, const char *const *secrets,
			size_t nsec)
{
	static const char *const shapes[] = {
		"dapi0123456789abcdef0123456789abcdef", "dapiFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF-12",
		"hvs.CAESIabcdefghijklmnopqrstuvw", "s.AbCdEfGhIjKlMnOpQrStUvWx",
		"Authorization: Bearer abc\n", "Bearer 0123456789abcdefXYZ",
		"{\"password\": \"x\\\"y\"}", "{\"token\":\"t\"}", "Basic dXNlcjpwYXNz",
		"the bearer of items. basic s. \"tokens\" ", "\"secret\"  :\n \"zz\"",
		"authorization:", "dapi", "hvs.", "\"api_key\":", "Bearer", "\\", "\"",
	};
	size_t n = 0;

	while (b->len < approx) {
		uint32_t r = rng() % 10;

		if (r < 4) {
			const char *sec = secrets[rng() % nsec];
			char *e;

			switch (rng() % 3) {
			case 0:
				dbr_buf_addstr(b, sec);
				break;
			case 1:
				e = b64(sec, strlen(sec));
				dbr_buf_addstr(b, e);
				free(e);
				break;
			default:
				dbr_buf_addf(b, "x%s", sec);
				break;
			}
			n++;
		} else if (r < 6) {
			dbr_buf_addstr(b, shapes[rng() % (sizeof(shapes) / sizeof(shapes[0]))]);
		} else if (r < 7) {
			/* shapes with separators near the limits */
			size_t k = 120 + rng() % 20;

			switch (rng() % 3) {
			case 0:
				dbr_buf_addstr(b, "Authorization:");
				for (size_t i = 0; i < k; i++)
					dbr_buf_addch(b, ' ');
				dbr_buf_addstr(b, "tok\r\n");
				break;
			case 1:
				dbr_buf_addstr(b, "\"Password\"");
				for (size_t i = 0; i < k / 2; i++)
					dbr_buf_addch(b, " \n\t"[rng() % 3]);
				dbr_buf_addch(b, ':');
				for (size_t i = 0; i < k - k / 2; i++)
					dbr_buf_addch(b, " \r\n"[rng() % 3]);
				dbr_buf_addstr(b, "\"va\\\"l\"");
				break;
			default:
				dbr_buf_addstr(b, "bearer");
				for (size_t i = 0; i < k; i++)
					dbr_buf_addch(b, '\t');
				dbr_buf_addstr(b, "Abc.def-ghi_jkl~mno");
				break;
			}
		} else {
			size_t k = 1 + rng() % 40;

			for (size_t i = 0; i < k; i++)
				dbr_buf_addch(b, "ab .:\"\n\tsxyz0123=/"[rng() % 18]);
		}
	}
	return n;
}

static void test_stream_random_chunks(void **state)
{
	const char *secrets[] = { "hunter2hunter2", "Zx9/+q==8?>~~~~", "p@ss w/rd:se~cret!",
				  "0123456789012345678901234567890123456789" };
	struct dbr_mask *m = new_mask();
	size_t maxchunks[] = { 1, 3, 17, 200, 700, 5000 };

	(void)state;
	for (size_t i = 0; i < 4; i++)
		add(m, secrets[i]);
	rng_seed(7);
	for (size_t iter = 0; iter < 30; iter++) {
		struct dbr_buf text = DBR_BUF_INIT(1 << 20);
		char *want;

		build_mix(&text, 2000 + rng() % 20000, secrets, 4);
		want = mask_s(m, text.data);
		for (size_t i = 0; i < 4; i++)
			assert_false(contains(want, secrets[i], strlen(secrets[i])));
		for (size_t c = 0; c < sizeof(maxchunks) / sizeof(maxchunks[0]); c++) {
			char *got;

			if (maxchunks[c] == 1 && text.len > 4000)
				continue;
			got = stream_random(m, text.data, text.len, maxchunks[c]);
			assert_string_equal(got, want);
			free(got);
		}
		free(want);
		dbr_buf_release(&text);
	}
	dbr_mask_free(m);
}

static void url_enc(const char *s, char *out, int lower)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (((unsigned)c | 32u) - (unsigned)'a' < 26u || (unsigned)c - (unsigned)'0' < 10u || strchr("-._~", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, 4, lower ? "%%%02x" : "%%%02X", c);
	}
	out[o] = '\0';
}

static void json_esc(const char *s, char *out)
{
	size_t o = 0;

	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* Property: no registered secret, nor its URL/JSON/base64 forms, survives. */
static void test_no_secret_survives(void **state)
{
	struct dbr_mask *m = new_mask();
	char secrets[8][33];
	const char *ptrs[8];

	(void)state;
	rng_seed(99);
	for (size_t i = 0; i < 8; i++) {
		rand_secret(secrets[i], 32, "abcdefXYZ0123456789+/=-_.~ !\"#%&'()*,:;<>?@[\\]^`{|}");
		ptrs[i] = secrets[i];
		add(m, secrets[i]);
	}
	for (size_t iter = 0; iter < 20; iter++) {
		struct dbr_buf text = DBR_BUF_INIT(1 << 20);
		char *out;

		build_mix(&text, 10000, ptrs, 8);
		/* each secret in base64 after 0..2 junk bytes, URL-encoded and
		 * JSON-escaped */
		for (size_t i = 0; i < 8; i++) {
			char tmp[40], enc[200], *e;

			memcpy(tmp, "@@", 2);
			memcpy(tmp + 2, secrets[i], 32);
			e = b64(tmp + iter % 3, 34 - iter % 3);
			dbr_buf_addf(&text, " %s ", e);
			free(e);
			url_enc(secrets[i], enc, iter % 2);
			dbr_buf_addf(&text, "?q=%s&", enc);
			json_esc(secrets[i], enc);
			dbr_buf_addf(&text, "{\"v\":\"%s\"}", enc);
		}
		out = stream_random(m, text.data, text.len, 1 + iter * 50);
		for (size_t i = 0; i < 8; i++) {
			char enc[200];

			assert_false(contains(out, secrets[i], 32));
			url_enc(secrets[i], enc, 0);
			assert_false(contains(out, enc, strlen(enc)));
			url_enc(secrets[i], enc, 1);
			assert_false(contains(out, enc, strlen(enc)));
			json_esc(secrets[i], enc);
			assert_false(contains(out, enc, strlen(enc)));
			/* no 16-character run of any base64 form survives */
			for (size_t k = 0; k < 3; k++) {
				char tmp[40], *e;

				memcpy(tmp, "##", 2);
				memcpy(tmp + 2, secrets[i], 32);
				e = b64(tmp + 2 - k, 32 + k);
				assert_false(contains(out, e + 4, 16));
				free(e);
			}
		}
		free(out);
		dbr_buf_release(&text);
	}
	dbr_mask_free(m);
}

struct rec {
	struct dbr_buf out;
	int fail;
};

static int sink_rec(void *arg, const char *p, size_t len)
{
	struct rec *r = arg;

	if (r->fail)
		return DBR_E_IO;
	return dbr_buf_add(&r->out, p, len);
}

/* Regions longer than the held-back tail are masked whole, emitted early,
 * and never leak. */
static void test_stream_long_regions(void **state)
{
	static const char *const heads[] = {
		"Authorization: Bearer ", "{\"password\": \"", "x dapi0123456789abcdef0123456789abcdef",
		"hvs.abcdefghijklmnopqrstuvwxyz", "Bearer abcdef0123456789",
	};
	struct dbr_mask *m = new_mask();
	char chunk[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = "0123456789abcdef"[i % 16];
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		struct rec r = { DBR_BUF_INIT(1 << 20), 0 };
		struct dbr_mask_stream *s = NULL;
		char *want;
		size_t want_len;

		assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
		assert_int_equal(dbr_mask_stream_write(s, heads[h], strlen(heads[h])), 0);
		for (size_t k = 0; k < 200; k++)
			assert_int_equal(dbr_mask_stream_write(s, chunk, sizeof(chunk)), 0);
		/* 200 KiB in, the masked head is out and little is held */
		assert_non_null(r.out.data);
		assert_non_null(strstr(r.out.data, "***"));
		assert_true(r.out.len < 64);
		assert_false(contains(r.out.data, "0123456789abcdef", 16));
		assert_int_equal(dbr_mask_stream_write(s, "\" end\n", 6), 0);
		assert_int_equal(dbr_mask_stream_flush(s), 0);
		dbr_mask_stream_free(s);
		assert_int_equal(count_repl(r.out.data), 1);
		assert_false(contains(r.out.data, "0123456789abcdef", 16));
		/* same as one-shot */
		{
			struct dbr_buf all = DBR_BUF_INIT(1 << 20);

			dbr_buf_addstr(&all, heads[h]);
			for (size_t k = 0; k < 200; k++)
				dbr_buf_add(&all, chunk, sizeof(chunk));
			dbr_buf_addstr(&all, "\" end\n");
			want = mask_n(m, all.data, all.len, &want_len);
			assert_string_equal(r.out.data, want);
			free(want);
			dbr_buf_release(&all);
		}
		dbr_buf_release(&r.out);
	}
	dbr_mask_free(m);
}

static void test_stream_flush(void **state)
{
	struct dbr_mask *m = new_mask();
	struct rec r = { DBR_BUF_INIT(1 << 20), 0 };
	struct dbr_mask_stream *s = NULL;

	(void)state;
	add(m, "hunter2hunter2");
	assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
	/* a possible secret start is held back until flush */
	assert_int_equal(dbr_mask_stream_write(s, "hello hunter2", 13), 0);
	assert_true(r.out.len < 13);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "hello hunter2");
	/* flush ends the input: the stream starts over afterwards */
	assert_int_equal(dbr_mask_stream_write(s, "hunter2hunter2!", 15), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "hello hunter2***!");
	assert_int_equal(dbr_mask_stream_write(s, "Authorization: abc", 18), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_int_equal(dbr_mask_stream_write(s, "def\n", 4), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "hello hunter2***!Authorization: ***def\n");
	/* flushing twice is harmless */
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "hello hunter2***!Authorization: ***def\n");
	/* legacy token right after a flush counts as the start of input */
	assert_int_equal(dbr_mask_stream_write(s, "s.AbCdEfGhIjKlMnOpQrStUvWx", 26), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "hello hunter2***!Authorization: ***def\n***");
	dbr_mask_stream_free(s);
	/* free without flush drops what was held */
	r.out.len = 0;
	assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
	assert_int_equal(dbr_mask_stream_write(s, "hunter2hunter", 13), 0);
	dbr_mask_stream_free(s);
	assert_int_equal(r.out.len, 0);
	dbr_buf_release(&r.out);
	dbr_mask_free(m);
}

/* Feed text, then pause (helper of the pause tests). */
static void write_pause(struct dbr_mask_stream *s, const char *text)
{
	assert_int_equal(dbr_mask_stream_write(s, text, strlen(text)), 0);
	assert_int_equal(dbr_mask_stream_pause(s), 0);
}

/* A pause emits what is held, and the input goes on: a secret cut by a
 * pause is masked from where it goes on, its first 8 bytes and more are
 * masked at the pause itself, and an open region stays open. */
static void test_stream_pause(void **state)
{
	static const char tok[] = "dapi0123456789abcdef0123456789abcdef";
	struct dbr_mask *m = new_mask();
	struct rec r = { DBR_BUF_INIT(1 << 20), 0 };
	struct dbr_mask_stream *s = NULL;
	char half[64];

	(void)state;
	add(m, tok);
	assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
	/* the first half: masked at the pause, the rest swallowed after it */
	snprintf(half, sizeof(half), "token=%.18s", tok);
	write_pause(s, half);
	assert_string_equal(r.out.data, "token=***");
	write_pause(s, tok + 18);
	write_pause(s, " done\n");
	assert_string_equal(r.out.data, "token=*** done\n");
	/* a start shorter than 8 bytes is shown; the rest is not */
	r.out.len = 0;
	write_pause(s, "x dapi01");
	assert_string_equal(r.out.data, "x dapi01");
	write_pause(s, tok + 6);
	assert_int_equal(dbr_mask_stream_write(s, "!\n", 2), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "x dapi01***!\n");
	/* one byte at a time, a pause after each: 7 bytes at most are shown */
	r.out.len = 0;
	for (size_t i = 0; i < sizeof(tok) - 1; i++) {
		char c[2] = { tok[i], '\0' };

		write_pause(s, c);
	}
	write_pause(s, "\n");
	assert_string_equal(r.out.data, "dapi012***\n");
	/* an Authorization line open at the pause stays open */
	r.out.len = 0;
	write_pause(s, "Authorization: Bearer abc");
	write_pause(s, "def");
	write_pause(s, "ghi\nnext");
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_string_equal(r.out.data, "Authorization: ***\nnext");
	/* a token shape (not registered) cut by a pause: the part after it
	 * is masked */
	r.out.len = 0;
	write_pause(s, "k dapiffffeeeeddddcccc");
	write_pause(s, "bbbbaaaa9999888877 z");
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_false(contains(r.out.data, "bbbbaaaa", 8));
	assert_int_equal(count_repl(r.out.data), 1);
	/* pauses with nothing new, and text without secrets, change nothing */
	r.out.len = 0;
	write_pause(s, "plain text ");
	assert_int_equal(dbr_mask_stream_pause(s), 0);
	assert_int_equal(dbr_mask_stream_pause(s), 0);
	write_pause(s, "and more\n");
	assert_string_equal(r.out.data, "plain text and more\n");
	/* a flush still ends the input */
	r.out.len = 0;
	write_pause(s, "y dapi01");
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_int_equal(dbr_mask_stream_write(s, tok + 6, strlen(tok + 6)), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_int_equal(strncmp(r.out.data, "y dapi01", 8), 0);
	assert_int_equal(dbr_mask_stream_pause(NULL), DBR_E_INVAL);
	dbr_mask_stream_free(s);
	dbr_buf_release(&r.out);
	dbr_mask_free(m);
}

/* Whole secrets in random text, cut into random chunks with random
 * pauses: no 8 consecutive bytes of a secret ever come out. */
static void test_stream_pause_random(void **state)
{
	static const char *const secs[] = { "dapi00112233445566778899aabbccddeeff",
					    "dbrcap_Qx7Lm2Vr9Tz4Kp1Ws8Hd3Nf6Jb5Gc0Ya" };
	struct dbr_mask *m = new_mask();

	(void)state;
	for (size_t i = 0; i < 2; i++)
		add(m, secs[i]);
	rng_seed(42);
	for (int round = 0; round < 400; round++) {
		struct dbr_buf in = DBR_BUF_INIT(1 << 20);
		struct rec r = { DBR_BUF_INIT(1 << 20), 0 };
		struct dbr_mask_stream *s = NULL;
		size_t at = 0;

		for (int k = 0, n = 1 + (int)(rng() % 6); k < n; k++) {
			size_t pad = rng() % 700;

			for (size_t j = 0; j < pad; j++)
				dbr_buf_add(&in, &"abc xyz\n="[rng() % 9], 1);
			dbr_buf_addstr(&in, secs[rng() % 2]);
		}
		dbr_buf_addstr(&in, " end");
		assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
		while (at < in.len) {
			size_t n = 1 + rng() % (rng() % 4 ? 12 : 900);

			if (n > in.len - at)
				n = in.len - at;
			assert_int_equal(dbr_mask_stream_write(s, in.data + at, n), 0);
			at += n;
			if (rng() % 2)
				assert_int_equal(dbr_mask_stream_pause(s), 0);
		}
		assert_int_equal(dbr_mask_stream_flush(s), 0);
		dbr_buf_add(&r.out, "", 1);
		for (size_t i = 0; i < 2; i++)
			for (size_t o = 0; o + 8 <= strlen(secs[i]); o++)
				assert_false(contains(r.out.data, secs[i] + o, 8));
		assert_true(count_repl(r.out.data) >= 1);
		dbr_mask_stream_free(s);
		dbr_buf_release(&r.out);
		dbr_buf_release(&in);
	}
	dbr_mask_free(m);
}

static void test_stream_sink_error(void **state)
{
	struct dbr_mask *m = new_mask();
	struct rec r = { DBR_BUF_INIT(1 << 20), 1 };
	struct dbr_mask_stream *s = NULL;
	char big[5000];

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
	assert_int_equal(dbr_mask_stream_write(s, big, sizeof(big)), DBR_E_IO);
	assert_int_equal(dbr_mask_stream_write(s, "x", 1), DBR_E_IO);
	assert_int_equal(dbr_mask_stream_flush(s), DBR_E_IO);
	dbr_mask_stream_free(s);
	dbr_buf_release(&r.out);
	dbr_mask_free(m);
}

/* A secret registered while a stream runs masks what is not out yet. */
static void test_secret_added_midstream(void **state)
{
	struct dbr_mask *m = new_mask();
	struct rec r = { DBR_BUF_INIT(1 << 20), 0 };
	struct dbr_mask_stream *s = NULL;
	char pad[3000];

	(void)state;
	memset(pad, '.', sizeof(pad));
	assert_int_equal(dbr_mask_stream_new(m, sink_rec, &r, &s), 0);
	assert_int_equal(dbr_mask_stream_write(s, pad, sizeof(pad)), 0);
	assert_int_equal(dbr_mask_stream_write(s, "late-secret-123 ", 16), 0);
	add(m, "late-secret-123");
	add(m, "later-secret-456");
	assert_int_equal(dbr_mask_stream_write(s, "later-secret-456 ", 17), 0);
	assert_int_equal(dbr_mask_stream_write(s, pad, sizeof(pad)), 0);
	assert_int_equal(dbr_mask_stream_flush(s), 0);
	assert_false(contains(r.out.data, "late-secret-123", 15));
	assert_false(contains(r.out.data, "later-secret-456", 16));
	dbr_mask_stream_free(s);
	dbr_buf_release(&r.out);
	dbr_mask_free(m);
}

/* Every scanning implementation gives the same output. */
static void test_simd_paths_agree(void **state)
{
	const char *secrets[] = { "hunter2hunter2", "p@ss w/rd:se~cret!" };
	struct dbr_mask *m = new_mask();
	struct dbr_buf text = DBR_BUF_INIT(1 << 22);
	char *want = NULL;
	int best;

	(void)state;
	add(m, secrets[0]);
	add(m, secrets[1]);
	rng_seed(5);
	build_mix(&text, 300000, secrets, 2);
	/* bytes >= 0x80 around anchors too */
	for (size_t i = 0; i < text.len; i += 97)
		text.data[i] = (char)(0x80 | (rng() & 0x7f));
	text.data[text.len] = '\0';
	for (size_t i = 0; i + 1 < text.len; i += 1013)
		if (!text.data[i])
			text.data[i] = 'x';
	best = mask_set_simd(m, 99);
	for (int level = best; level >= 0; level--) {
		char *got;

		assert_int_equal(mask_set_simd(m, level), level);
		got = mask_n(m, text.data, strlen(text.data), NULL);
		if (want) {
			assert_string_equal(got, want);
			free(got);
		} else {
			want = got;
		}
	}
	free(want);
	dbr_buf_release(&text);
	dbr_mask_free(m);
}

static void test_long_secret(void **state)
{
	struct dbr_mask *m = new_mask();
	struct dbr_buf text = DBR_BUF_INIT(1 << 22);
	char *secret = malloc(DBR_SECRET_MAX + 1);
	char *want, *got, *e;

	(void)state;
	assert_non_null(secret);
	rng_seed(11);
	rand_secret(secret, DBR_SECRET_MAX, "abc\"\\/\n\x01xyz0123 %");
	assert_int_equal(add_bytes(m, secret, DBR_SECRET_MAX), 0);
	add(m, "short-one");
	dbr_buf_addstr(&text, "begin ");
	dbr_buf_add(&text, secret, DBR_SECRET_MAX);
	dbr_buf_addstr(&text, " middle ");
	e = b64(secret, DBR_SECRET_MAX);
	dbr_buf_addstr(&text, e);
	free(e);
	dbr_buf_addstr(&text, " short-one end");
	want = mask_s(m, text.data);
	/* base64 of 8192 bytes ends with a character that also holds bits of
	 * what would follow, and the padding: those stay */
	assert_int_equal(strncmp(want, "begin *** middle ***", 20), 0);
	assert_int_equal(count_repl(want), 3);
	assert_true(strlen(want) < 40);
	assert_non_null(strstr(want, " *** end"));
	got = stream_random(m, text.data, text.len, 3000);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(secret);
	dbr_buf_release(&text);
	dbr_mask_free(m);
}

/* With the secure heap on, a full arena falls back to private locked
 * mappings instead of failing. */
static void test_secure_heap(void **state)
{
	struct dbr_mask *m;
	char secret[2001];
	int locked = 0;

	(void)state;
	assert_int_equal(dbr_secmem_init(DBR_SECMEM_DEFAULT_SIZE, 0, &locked, NULL), 0);
	m = new_mask();
	rng_seed(3);
	for (int i = 0; i < 12; i++) {
		char *out;
		char in[2100];

		rand_secret(secret, 2000, ALNUM);
		assert_int_equal(add_bytes(m, secret, 2000), 0);
		snprintf(in, sizeof(in), "<%s>", secret);
		out = mask_s(m, in);
		assert_string_equal(out, "<***>");
		free(out);
	}
	assert_int_equal(dbr_mask_count(m), 12);
	dbr_mask_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_plain),
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_short_secret_refused),
		cmocka_unit_test(test_duplicates_and_count),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_has_secret),
		cmocka_unit_test(test_registration_while_others_mask),
		cmocka_unit_test(test_base64_known),
		cmocka_unit_test(test_base64_offsets),
		cmocka_unit_test(test_url_encoded),
		cmocka_unit_test(test_rest_after_public_prefix),
		cmocka_unit_test(test_rest_of_suffixed_pat),
		cmocka_unit_test(test_short_rest_not_masked_alone),
		cmocka_unit_test(test_json_escaped),
		cmocka_unit_test(test_json_escaped_upper_hex),
		cmocka_unit_test(test_shape_pat),
		cmocka_unit_test(test_shape_vault),
		cmocka_unit_test(test_shape_authorization),
		cmocka_unit_test(test_shape_bearer_basic),
		cmocka_unit_test(test_shape_json_keys),
		cmocka_unit_test(test_shape_limits),
		cmocka_unit_test(test_plain_english),
		cmocka_unit_test(test_overlaps_merge),
		cmocka_unit_test(test_many_secrets),
		cmocka_unit_test(test_stream_every_split),
		cmocka_unit_test(test_stream_secret_split),
		cmocka_unit_test(test_stream_random_chunks),
		cmocka_unit_test(test_no_secret_survives),
		cmocka_unit_test(test_stream_long_regions),
		cmocka_unit_test(test_stream_flush),
		cmocka_unit_test(test_stream_pause),
		cmocka_unit_test(test_stream_pause_random),
		cmocka_unit_test(test_stream_sink_error),
		cmocka_unit_test(test_secret_added_midstream),
		cmocka_unit_test(test_simd_paths_agree),
		cmocka_unit_test(test_long_secret),
		cmocka_unit_test(test_secure_heap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
