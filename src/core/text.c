/* Cutting text without leaving part of a secret behind (dbroker/text.h). */
#include "dbroker/text.h"

#include <string.h>

#include "banned.h"

size_t dbr_utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0], v;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, v = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, v = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, v = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3Fu);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static int is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~+/=", c));
}

/* Could the run u[a..b) be a secret? At least SECRET_RUN_MIN characters
 * with a digit, or upper and lower case: keys and tokens are, words and
 * padding ("mmmm", "ERROR_CODE") are not. */
#define SECRET_RUN_MIN 8
static int secret_like(const unsigned char *u, size_t a, size_t b)
{
	int digit = 0, upper = 0, lower = 0;

	if (b - a < SECRET_RUN_MIN)
		return 0;
	for (size_t i = a; i < b; i++) {
		digit |= u[i] >= '0' && u[i] <= '9';
		upper |= u[i] >= 'A' && u[i] <= 'Z';
		lower |= u[i] >= 'a' && u[i] <= 'z';
	}
	return digit || (upper && lower);
}

size_t dbr_text_cut_len(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = max, a, b;

	if (len <= max)
		return len;
	/* back to the start of a character */
	while (n > 0 && (u[n] & 0xC0) == 0x80)
		n--;
	if (n == 0 || !is_token_char(u[n]) || !is_token_char(u[n - 1]))
		return n;
	/* a secret-like run of token characters across the cut: drop all of it */
	for (a = n; a > 0 && is_token_char(u[a - 1]); a--)
		;
	for (b = n; b < len && is_token_char(u[b]); b++)
		;
	return secret_like(u, a, b) ? a : n;
}
