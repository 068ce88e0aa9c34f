/* Shared helpers for the libFuzzer targets in tests/fuzz (header-only).
 *
 * Every target aborts (via fuzz_fail) on a violated property so that
 * libFuzzer records the input as a crash and prints the reason first.
 */
#ifndef DBR_FUZZ_COMMON_H
#define DBR_FUZZ_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/runtime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((unused)) static void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
__attribute__((unused)) static void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==FUZZ PROPERTY VIOLATION== ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

__attribute__((unused)) static void fuzz_runtime_init(void)
{
	struct dbr_err err = DBR_ERR_INIT;
	int rc = dbr_runtime_init(0, NULL, &err);

	if (rc) {
		fprintf(stderr, "dbr_runtime_init: %d %s\n", rc, err.msg);
		abort();
	}
}

/* Consume bytes from the front of the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

__attribute__((unused)) static int fuzz_byte(struct fuzz_in *in, uint8_t *out)
{
	if (!in->n)
		return 0;
	*out = *in->p++;
	in->n--;
	return 1;
}

__attribute__((unused)) static uint8_t fuzz_byte_or(struct fuzz_in *in, uint8_t dflt)
{
	uint8_t b = dflt;

	fuzz_byte(in, &b);
	return b;
}

/* Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns the offset of the first byte that does not start a valid
 * character, or n when all of s[0..n) is valid. */
__attribute__((unused)) static size_t fuzz_utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], cp, len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, cp = c & 0x07;
		else
			return i;
		if (n - i < len)
			return i;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += len;
	}
	return n;
}

/* 1 when s[0..n) is valid UTF-8 (see fuzz_utf8_bad_at). */
__attribute__((unused)) static int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
	return fuzz_utf8_bad_at(s, n) == n;
}

/* Why s[0..n) is not one line of clean text, or NULL when it is: strict
 * UTF-8, no C0 control (tab and newline included), DEL, C1 control,
 * U+2028/U+2029 or bidi embedding/override/isolate (U+202A..U+202E,
 * U+2066..U+2069). *at gets the offset of the problem. */
__attribute__((unused)) static const char *fuzz_text_problem(const unsigned char *s, size_t n,
							    size_t *at)
{
	*at = fuzz_utf8_bad_at(s, n);
	if (*at != n)
		return "is not valid UTF-8";
	for (size_t i = 0; i < n; i++) {
		*at = i;
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "has a C0 control or DEL";
		if (s[i] == 0xC2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
			return "has a C1 control";
		if (s[i] == 0xE2 && i + 2 < n) {
			unsigned cp = (s[i] & 0x0Fu) << 12 | (s[i + 1] & 0x3Fu) << 6 |
				      (s[i + 2] & 0x3Fu);

			if (cp == 0x2028 || cp == 0x2029)
				return "has a line or paragraph separator";
			if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
				return "has a bidi control";
		}
	}
	return NULL;
}

/* Growable byte buffer for sinks and generated text. */
struct fuzz_buf {
	unsigned char *p;
	size_t len, cap;
};

__attribute__((unused)) static void fuzz_buf_add(struct fuzz_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

__attribute__((unused)) static void fuzz_buf_free(struct fuzz_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif
