/* The forms a registered secret takes on its way into a log: base64 inside
 * a larger blob, URL-encoding, JSON string escaping (after GitHub Actions'
 * secret masker, which registers the same variants). */
#include "mask_internal.h"
#include "dbroker/mask.h"
#include "secret_internal.h"

#include <string.h>

#include "banned.h"

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char hex_up[] = "0123456789ABCDEF";
static const char hex_lo[] = "0123456789abcdef";

size_t mask_encodings_scratch(size_t n)
{
	/* the widest form is JSON's \u00XX: 6 bytes for each input byte */
	return 6 * n + 16;
}

/* base64 of k unknown bytes followed by s, keeping only the characters
 * that depend on nothing but s: with k = 1 the first two characters carry
 * bits of the unknown byte, with k = 2 the first three; at the end, a
 * character is kept only when all six of its bits come from s. The unknown
 * bytes are taken as zero, their characters are dropped anyway. */
static size_t b64_middle(const unsigned char *s, size_t n, unsigned k,
			 unsigned char *out)
{
	size_t total = n + k, o = 0, keep_end, skip = k == 0 ? 0 : k + 1;
	uint32_t acc;

	for (size_t i = 0; i < total; i += 3) {
		unsigned char b[3];

		for (size_t j = 0; j < 3; j++) {
			size_t at = i + j;

			b[j] = (at < k || at >= total) ? 0 : s[at - k];
		}
		acc = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
		out[o++] = (unsigned char)b64_std[acc >> 18 & 63];
		out[o++] = (unsigned char)b64_std[acc >> 12 & 63];
		out[o++] = (unsigned char)b64_std[acc >> 6 & 63];
		out[o++] = (unsigned char)b64_std[acc & 63];
	}
	keep_end = total / 3 * 4 + (total % 3 == 1 ? 1 : total % 3 == 2 ? 2 : 0);
	memmove(out, out + skip, keep_end - skip);
	return keep_end - skip;
}

static int url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Percent-encoding; form != 0 writes space as '+' (HTML forms). */
static size_t url_encode(const unsigned char *s, size_t n, const char *hex,
			 int form, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (url_unreserved(c)) {
			out[o++] = c;
		} else if (form && c == ' ') {
			out[o++] = '+';
		} else {
			out[o++] = '%';
			out[o++] = (unsigned char)hex[c >> 4];
			out[o++] = (unsigned char)hex[c & 15];
		}
	}
	return o;
}

/* JSON string escaping as encoders write it: short escapes where JSON has
 * them, \u00XX for other control characters, "/" optionally as "\/". */
static size_t json_escape(const unsigned char *s, size_t n, int slash,
			  const char *hex, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i], e = 0;

		switch (c) {
		case '"': e = '"'; break;
		case '\\': e = '\\'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		case '/': e = slash ? '/' : 0; break;
		default: break;
		}
		if (e) {
			out[o++] = '\\';
			out[o++] = e;
		} else if (c < 0x20) {
			memcpy(out + o, "\\u00", 4);
			o += 4;
			out[o++] = (unsigned char)hex[c >> 4];
			out[o++] = (unsigned char)hex[c & 15];
		} else {
			out[o++] = c;
		}
	}
	return o;
}

/* Public prefixes of Databricks credentials: a personal access token
 * ("dapi"), a service principal's OAuth secret ("dose"). A server that
 * quotes the rest of one (a request id, an error message) gives the secret
 * away as surely as if it quoted all of it. */
static const char *const public_prefix[] = { "dapi", "dose" };

static int encodings_of(const unsigned char *s, size_t n, unsigned char *scratch,
			int (*add)(void *arg, const unsigned char *p, size_t len),
			void *arg)
{
	size_t len;
	int rc;

	if ((rc = add(arg, s, n)))
		return rc;
	for (unsigned k = 0; k < 3; k++) {
		len = b64_middle(s, n, k, scratch);
		if ((rc = add(arg, scratch, len)))
			return rc;
		/* the URL-safe alphabet differs only in '+' and '/' */
		for (size_t i = 0; i < len; i++) {
			if (scratch[i] == '+')
				scratch[i] = '-';
			else if (scratch[i] == '/')
				scratch[i] = '_';
		}
		if ((rc = add(arg, scratch, len)))
			return rc;
	}
	for (int v = 0; v < 3; v++) {
		len = url_encode(s, n, v == 1 ? hex_lo : hex_up, v == 2, scratch);
		if ((rc = add(arg, scratch, len)))
			return rc;
	}
	for (int v = 0; v < 4; v++) {
		len = json_escape(s, n, v & 1, v & 2 ? hex_up : hex_lo, scratch);
		if ((rc = add(arg, scratch, len)))
			return rc;
	}
	return 0;
}

/* The rest of a secret after a public prefix is masked on its own only when
 * it could be a secret by itself: at least 16 bytes. The whole secret only
 * has to reach DBR_MASK_MIN_SECRET (8), but a rest of 8 to 15 bytes is the
 * size of what ordinary text is full of: a date (20240101), a date and time
 * (202401011200), a Unix time in milliseconds (13 digits). Registering
 * "dapi20240101" must not turn "release 20240101" into "release ***". 16
 * bytes is also where dbr_secret_hint() takes a token for a real one, and
 * every Databricks credential's rest is longer (a PAT's is 32 hex digits). */
#define REST_MIN 16

int mask_encodings(const unsigned char *s, size_t n, unsigned char *scratch,
		   int (*add)(void *arg, const unsigned char *p, size_t len),
		   void *arg)
{
	int rc = encodings_of(s, n, scratch, add, arg);

	/* A PAT, "dapi" + 32 hex digits + optionally "-" and digits: the hex
	 * digits are the secret. Registering them alone covers the rest with
	 * its suffix too: percent-encoding and JSON escaping leave hex digits
	 * as they are, and base64 of the longer run holds the base64 of the
	 * digits at one of the three offsets. The "-N" after them is not
	 * secret and may show. */
	if (dbr_secret_bytes_pat_shaped(s, n))
		return rc ? rc : encodings_of(s + 4, 32, scratch, add, arg);
	for (size_t i = 0; rc == 0 && i < sizeof(public_prefix) / sizeof(public_prefix[0]); i++) {
		size_t k = strlen(public_prefix[i]);

		if (n >= k + REST_MIN && memcmp(s, public_prefix[i], k) == 0)
			rc = encodings_of(s + k, n - k, scratch, add, arg);
	}
	return rc;
}
