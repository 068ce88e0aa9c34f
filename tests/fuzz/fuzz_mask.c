/* Fuzz target: the masker (dbr_mask_buffer and the streaming masker).
 *
 * Input layout (missing bytes end the input early: nothing is tested):
 *   byte 0      bits 0-1: number of secrets - 1 (1..4)
 *               bits 2-4: chunking (max chunk size, see chunk_max[])
 *               bits 5-6: SIMD level of the streamed run (clamped by CPU)
 *   per secret  one length byte (8 + b % 57 -> 8..64 bytes), then that many
 *               bytes: the secret ('*' is replaced by '#', see below)
 *   4 bytes     seed of the harness's PRNG (chunk sizes, base64 neighbours,
 *               extra placements)
 *   the rest    text template: copied as is, except 0x00 followed by a
 *               selector byte s, which embeds secret (s & 3) % nsecrets in
 *               encoding (s >> 2) % ENC_COUNT there; "\0\xff" is a literal
 *               NUL. Each secret is also embedded once, in a PRNG-chosen
 *               encoding, at a PRNG-chosen place.
 *
 * Properties (abort on violation):
 *   P1  streaming (random chunk sizes, any SIMD level) gives exactly the
 *       bytes of dbr_mask_buffer's one-shot output;
 *   P2  one-shot output is the same at every SIMD level the CPU has;
 *   P3  the output contains none of the registered secrets nor any of
 *       their encodings (raw; the secret-only characters of base64 at
 *       offsets 0/1/2, standard and URL-safe; URL-encoding upper/lower/form;
 *       JSON escaping with/without "\/", lower/upper \u00XX), computed here
 *       independently of src/mask_encode.c;
 *   P4  the one-shot output is NUL-terminated at outlen;
 *   P5  streamed with a pause (dbr_mask_stream_pause) after about half of
 *       the chunks, the output still contains none of them (P3's list):
 *       a secret cut by a pause shows at most its first 7 bytes.
 *
 * Secrets never contain '*': then no pattern can overlap a "***" written by
 * the masker, so any occurrence in the output is made of input bytes the
 * masker let through (a real leak, not "ab" + "***" + "cd" coincidences).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/errors.h"
#include "dbroker/mask.h"
#include "dbroker/secret.h"
#include "fuzz_common.h"
#include "mask_internal.h"

#define MAX_SECRETS 4
#define MAX_SECRET_LEN 64
#define MAX_TEXT (64 * 1024)

enum {
	ENC_RAW,
	ENC_B64_0, ENC_B64_1, ENC_B64_2,       /* standard alphabet, k prefix bytes */
	ENC_B64URL_0, ENC_B64URL_1, ENC_B64URL_2,
	ENC_URL_UP, ENC_URL_LO, ENC_URL_FORM,
	ENC_JSON_LO, ENC_JSON_UP, ENC_JSON_SLASH_LO, ENC_JSON_SLASH_UP,
	ENC_COUNT
};

/* ---- PRNG (xorshift64*) ---- */

static uint64_t rs;

static uint32_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (uint32_t)((rs * 0x2545F4914F6CDD1Dull) >> 32);
}

/* ---- independent encoders ---- */

static const char B64STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Plain RFC 4648 base64 with padding. */
static void b64_encode(const unsigned char *s, size_t n, int url, struct fuzz_buf *out)
{
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
			     (i + 2 < n ? s[i + 2] : 0);
		char q[4];

		q[0] = B64STD[v >> 18 & 63];
		q[1] = B64STD[v >> 12 & 63];
		q[2] = i + 1 < n ? B64STD[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? B64STD[v & 63] : '=';
		if (url)
			for (int k = 0; k < 4; k++)
				q[k] = q[k] == '+' ? '-' : q[k] == '/' ? '_' : q[k];
		fuzz_buf_add(out, q, 4);
	}
}

/* The characters of base64(P + s + T), |P| = k, that depend on s alone:
 * character c covers bits [6c, 6c + 6) and s covers [8k, 8(k + n)). */
static void b64_stable(const unsigned char *s, size_t n, unsigned k, int url,
		       struct fuzz_buf *out)
{
	unsigned char blob[MAX_SECRET_LEN + 4] = { 0 };
	struct fuzz_buf full = { 0 };
	size_t first = (8 * k + 5) / 6, last = (8 * (k + n) - 6) / 6;

	memcpy(blob + k, s, n);
	b64_encode(blob, k + n + 2, url, &full);
	out->len = 0;
	fuzz_buf_add(out, full.p + first, last - first + 1);
	fuzz_buf_free(&full);
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static void url_encode(const unsigned char *s, size_t n, int lower, int form,
		       struct fuzz_buf *out)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		char e[3];

		if (unreserved(s[i])) {
			fuzz_buf_add(out, s + i, 1);
		} else if (form && s[i] == ' ') {
			fuzz_buf_add(out, "+", 1);
		} else {
			e[0] = '%';
			e[1] = hex[s[i] >> 4];
			e[2] = hex[s[i] & 15];
			fuzz_buf_add(out, e, 3);
		}
	}
}

static void json_escape(const unsigned char *s, size_t n, int slash, int upper,
			struct fuzz_buf *out)
{
	const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		const char *short_esc = NULL;

		switch (c) {
		case '"': short_esc = "\\\""; break;
		case '\\': short_esc = "\\\\"; break;
		case '\b': short_esc = "\\b"; break;
		case '\f': short_esc = "\\f"; break;
		case '\n': short_esc = "\\n"; break;
		case '\r': short_esc = "\\r"; break;
		case '\t': short_esc = "\\t"; break;
		case '/': short_esc = slash ? "\\/" : NULL; break;
		default: break;
		}
		if (short_esc) {
			fuzz_buf_add(out, short_esc, 2);
		} else if (c < 0x20) {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			fuzz_buf_add(out, u, 6);
		} else {
			fuzz_buf_add(out, &c, 1);
		}
	}
}

/* What the text gets for secret s in encoding enc (base64 with PRNG
 * neighbours). */
static void embed(const unsigned char *s, size_t n, unsigned enc, struct fuzz_buf *text)
{
	unsigned char blob[MAX_SECRET_LEN + 8];
	unsigned k, suf;

	switch (enc) {
	case ENC_RAW:
		fuzz_buf_add(text, s, n);
		return;
	case ENC_B64_0: case ENC_B64_1: case ENC_B64_2:
	case ENC_B64URL_0: case ENC_B64URL_1: case ENC_B64URL_2:
		k = (enc - ENC_B64_0) % 3;
		suf = rnd() % 4;
		for (unsigned i = 0; i < k; i++)
			blob[i] = (unsigned char)rnd();
		memcpy(blob + k, s, n);
		for (unsigned i = 0; i < suf; i++)
			blob[k + n + i] = (unsigned char)rnd();
		b64_encode(blob, k + n + suf, enc >= ENC_B64URL_0, text);
		return;
	case ENC_URL_UP: url_encode(s, n, 0, 0, text); return;
	case ENC_URL_LO: url_encode(s, n, 1, 0, text); return;
	case ENC_URL_FORM: url_encode(s, n, 0, 1, text); return;
	case ENC_JSON_LO: json_escape(s, n, 0, 0, text); return;
	case ENC_JSON_UP: json_escape(s, n, 0, 1, text); return;
	case ENC_JSON_SLASH_LO: json_escape(s, n, 1, 0, text); return;
	case ENC_JSON_SLASH_UP: json_escape(s, n, 1, 1, text); return;
	default: abort();
	}
}

/* The forbidden pattern for secret s and encoding enc. */
static void forbidden(const unsigned char *s, size_t n, unsigned enc, struct fuzz_buf *pat)
{
	pat->len = 0;
	switch (enc) {
	case ENC_RAW: fuzz_buf_add(pat, s, n); return;
	case ENC_B64_0: case ENC_B64_1: case ENC_B64_2:
		b64_stable(s, n, enc - ENC_B64_0, 0, pat);
		return;
	case ENC_B64URL_0: case ENC_B64URL_1: case ENC_B64URL_2:
		b64_stable(s, n, enc - ENC_B64URL_0, 1, pat);
		return;
	default:
		/* URL and JSON forms are whole: the embedding is the pattern */
		embed(s, n, enc, pat);
		return;
	}
}

static const char *const enc_name[ENC_COUNT] = {
	"raw", "base64@0", "base64@1", "base64@2", "base64url@0", "base64url@1",
	"base64url@2", "url-upper", "url-lower", "url-form", "json-lower",
	"json-upper", "json-slash-lower", "json-slash-upper",
};

/* ---- masker runs ---- */

static int sink(void *arg, const char *p, size_t len)
{
	fuzz_buf_add(arg, p, len);
	return 0;
}

static void stream_run(const struct dbr_mask *m, const unsigned char *text, size_t len,
		       size_t maxchunk, int pauses, struct fuzz_buf *out)
{
	struct dbr_mask_stream *st = NULL;
	size_t off = 0;

	if (dbr_mask_stream_new(m, sink, out, &st) != 0)
		fuzz_fail("dbr_mask_stream_new failed");
	while (off < len) {
		size_t c = maxchunk ? 1 + rnd() % maxchunk : len;

		if (c > len - off)
			c = len - off;
		if (dbr_mask_stream_write(st, text + off, c) != 0)
			fuzz_fail("dbr_mask_stream_write failed");
		off += c;
		if (pauses && rnd() % 2 && dbr_mask_stream_pause(st) != 0)
			fuzz_fail("dbr_mask_stream_pause failed");
	}
	if (dbr_mask_stream_flush(st) != 0)
		fuzz_fail("dbr_mask_stream_flush failed");
	dbr_mask_stream_free(st);
}

static char *one_shot(const struct dbr_mask *m, const unsigned char *text, size_t len,
		      size_t *outlen)
{
	char *out = NULL;
	size_t n = (size_t)-1;

	if (dbr_mask_buffer(m, (const char *)text, len, &out, &n) != 0 || !out)
		fuzz_fail("dbr_mask_buffer failed");
	if (out[n] != '\0')
		fuzz_fail("P4: one-shot output not NUL-terminated at outlen %zu", n);
	*outlen = n;
	return out;
}

static void hexdump(const char *what, const void *p, size_t n)
{
	const unsigned char *s = p;

	fprintf(stderr, "%s (%zu bytes): ", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", s[i]);
	fprintf(stderr, "\n");
}

static void first_diff(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	fprintf(stderr, "lengths %zu vs %zu, first difference at byte %zu\n", na, nb, i);
	hexdump("one-shot from there (<=64)", a + i, na - i < 64 ? na - i : 64);
	hexdump("other    from there (<=64)", b + i, nb - i < 64 ? nb - i : 64);
}

static const size_t chunk_max[8] = { 1, 2, 7, 33, 300, 1000, 4096, 0 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned char secrets[MAX_SECRETS][MAX_SECRET_LEN];
	size_t slen[MAX_SECRETS];
	struct fuzz_buf text = { 0 }, streamed = { 0 }, paused = { 0 }, pat = { 0 };
	struct dbr_mask *m = NULL;
	uint8_t b0, b;
	unsigned nsec, best, slevel;
	size_t maxchunk, outlen, outlen2;
	char *out, *out2;

	if (!fuzz_byte(&in, &b0))
		return 0;
	nsec = 1 + (b0 & 3);
	maxchunk = chunk_max[b0 >> 2 & 7];
	for (unsigned i = 0; i < nsec; i++) {
		if (!fuzz_byte(&in, &b))
			return 0;
		slen[i] = 8 + b % (MAX_SECRET_LEN - 8 + 1);
		if (in.n < slen[i])
			return 0;
		memcpy(secrets[i], in.p, slen[i]);
		in.p += slen[i];
		in.n -= slen[i];
		for (size_t k = 0; k < slen[i]; k++)
			if (secrets[i][k] == '*')
				secrets[i][k] = '#';
	}
	if (in.n < 4)
		return 0;
	rs = 0x9E3779B97F4A7C15ull ^ ((uint64_t)in.p[0] | (uint64_t)in.p[1] << 8 |
				      (uint64_t)in.p[2] << 16 | (uint64_t)in.p[3] << 24);
	in.p += 4;
	in.n -= 4;
	if (in.n > MAX_TEXT)
		return 0;

	/* build the text: template with embeddings */
	{
		size_t extra_at[MAX_SECRETS];

		for (unsigned i = 0; i < nsec; i++)
			extra_at[i] = in.n ? rnd() % (in.n + 1) : 0;
		for (size_t i = 0; i <= in.n; i++) {
			for (unsigned k = 0; k < nsec; k++)
				if (extra_at[k] == i)
					embed(secrets[k], slen[k], rnd() % ENC_COUNT, &text);
			if (i == in.n)
				break;
			if (in.p[i] == 0 && i + 1 < in.n) {
				uint8_t s = in.p[++i];

				if (s == 0xff)
					fuzz_buf_add(&text, "", 1);
				else
					embed(secrets[(s & 3) % nsec], slen[(s & 3) % nsec],
					      (s >> 2) % ENC_COUNT, &text);
			} else {
				fuzz_buf_add(&text, in.p + i, 1);
			}
		}
	}

	if (dbr_mask_new(&m) != 0)
		fuzz_fail("dbr_mask_new failed");
	for (unsigned i = 0; i < nsec; i++) {
		struct dbr_secret *sec = NULL;
		struct dbr_err err = DBR_ERR_INIT;

		if (dbr_secret_new(secrets[i], slen[i], &sec) != 0)
			fuzz_fail("dbr_secret_new failed");
		if (dbr_mask_add_secret(m, sec, &err) != 0)
			fuzz_fail("dbr_mask_add_secret refused a %zu-byte secret: %s", slen[i],
				  err.msg);
		dbr_secret_free(sec);
	}

	/* P2: one-shot at every SIMD level */
	best = (unsigned)mask_set_simd(m, 99);
	out = one_shot(m, text.p, text.len, &outlen);
	for (unsigned lvl = 0; lvl < best; lvl++) {
		mask_set_simd(m, (int)lvl);
		out2 = one_shot(m, text.p, text.len, &outlen2);
		if (outlen2 != outlen || memcmp(out, out2, outlen) != 0) {
			first_diff(out, outlen, out2, outlen2);
			fuzz_fail("P2: one-shot output at SIMD level %u differs from level %u",
				  lvl, best);
		}
		free(out2);
	}

	/* P1: streamed == one-shot */
	slevel = (unsigned)(b0 >> 5 & 3);
	mask_set_simd(m, (int)(slevel > best ? best : slevel));
	stream_run(m, text.p, text.len, maxchunk, 0, &streamed);
	if (streamed.len != outlen || memcmp(streamed.p, out, outlen) != 0) {
		first_diff(out, outlen, (const char *)streamed.p, streamed.len);
		fuzz_fail("P1: streamed output (max chunk %zu, SIMD level %u) differs from "
			  "one-shot output", maxchunk, slevel > best ? best : slevel);
	}

	/* P3: nothing registered survives, in any encoding; P5: nor with pauses */
	paused.len = 0;
	stream_run(m, text.p, text.len, maxchunk ? maxchunk : 64, 1, &paused);
	for (unsigned i = 0; i < nsec; i++) {
		for (unsigned e = 0; e < ENC_COUNT; e++) {
			const char *hit, *phit;

			forbidden(secrets[i], slen[i], e, &pat);
			hit = memmem(out, outlen, pat.p, pat.len);
			phit = memmem(paused.p, paused.len, pat.p, pat.len);
			if (hit || phit) {
				hexdump("secret", secrets[i], slen[i]);
				hexdump("pattern", pat.p, pat.len);
				fuzz_fail("%s: secret %u (%zu bytes) leaks in encoding %s at "
					  "output offset %zu", hit ? "P3" : "P5 (pauses)", i,
					  slen[i], enc_name[e],
					  hit ? (size_t)(hit - out)
					      : (size_t)(phit - (const char *)paused.p));
			}
		}
	}

	free(out);
	fuzz_buf_free(&text);
	fuzz_buf_free(&streamed);
	fuzz_buf_free(&paused);
	fuzz_buf_free(&pat);
	dbr_mask_free(m);
	return 0;
}
