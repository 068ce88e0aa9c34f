/* Fuzz target: dbr_api_error_parse (every Databricks error format).
 *
 * Input layout:
 *   byte 0      flags: bit 0 content type NULL, bit 1 request id NULL,
 *               bit 2 body NULL when empty; bits 3-4 pick a content type
 *               prefix (application/json, text/html, text/plain, none)
 *   bytes 1-2   HTTP status (little endian; 0..65535, bit 7 of byte 0
 *               makes it negative)
 *   byte 3      length of the content-type suffix, then that many bytes
 *   byte        length of the request id, then that many bytes
 *   the rest    body (copied to an exactly-sized buffer, no NUL after it)
 *
 * Properties (abort on violation), from include/dbroker/request.h:
 *   A1  status is copied through;
 *   A2  code, message and request_id are NUL-terminated inside their arrays;
 *   A3  each is valid UTF-8, one line, with no control characters (C0, DEL,
 *       C1, U+2028/U+2029) and no bidi overrides/isolates (U+202A..U+202E,
 *       U+2066..U+2069);
 *   A4  code holds only [A-Za-z0-9_.-];
 *   A5  pure function: a second call into a differently pre-filled struct
 *       gives the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/request.h"
#include "fuzz_common.h"

static void check_clean(const char *what, const char *f, size_t cap)
{
	size_t n = strnlen(f, cap), at;
	const char *why;

	if (n == cap)
		fuzz_fail("A2: %s is not NUL-terminated inside its %zu bytes", what, cap);
	why = fuzz_text_problem((const unsigned char *)f, n, &at);
	if (why)
		fuzz_fail("A3: %s %s (at byte %zu): \"%s\"", what, why, at, f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ct_prefix[4] = {
		"application/json", "text/html", "text/plain", "",
	};
	struct fuzz_in in = { data, size };
	struct dbr_api_error a, b;
	char ct[300], rid[300], *body;
	const char *ctp, *ridp, *bodyp;
	uint8_t flags, lo, hi, n;
	long status;

	if (!fuzz_byte(&in, &flags) || !fuzz_byte(&in, &lo) || !fuzz_byte(&in, &hi))
		return 0;
	status = (long)(lo | hi << 8);
	if (flags & 0x80)
		status = -status;
	n = fuzz_byte_or(&in, 0);
	if (n > in.n)
		n = (uint8_t)in.n;
	snprintf(ct, sizeof(ct), "%s", ct_prefix[flags >> 3 & 3]);
	{
		size_t l = strlen(ct);

		memcpy(ct + l, in.p, n);
		ct[l + n] = '\0';
	}
	in.p += n;
	in.n -= n;
	n = fuzz_byte_or(&in, 0);
	if (n > in.n)
		n = (uint8_t)in.n;
	memcpy(rid, in.p, n);
	rid[n] = '\0';
	in.p += n;
	in.n -= n;

	body = malloc(in.n ? in.n : 1);
	if (!body)
		abort();
	memcpy(body, in.p, in.n);
	ctp = flags & 1 ? NULL : ct;
	ridp = flags & 2 ? NULL : rid;
	bodyp = (flags & 4) && in.n == 0 ? NULL : body;

	memset(&a, 0x00, sizeof(a));
	memset(&b, 0xA5, sizeof(b));
	dbr_api_error_parse(status, ctp, bodyp, in.n, ridp, &a);
	dbr_api_error_parse(status, ctp, bodyp, in.n, ridp, &b);
	dbr_api_error_parse(status, ctp, bodyp, in.n, ridp, NULL); /* no-op */

	if (a.status != status)
		fuzz_fail("A1: status %ld came out as %ld", status, a.status);
	check_clean("code", a.code, sizeof(a.code));
	check_clean("message", a.message, sizeof(a.message));
	check_clean("request_id", a.request_id, sizeof(a.request_id));
	for (const char *c = a.code; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			fuzz_fail("A4: code has '%c' (0x%02x): \"%s\"", *c, (unsigned char)*c,
				  a.code);
	check_clean("code (2nd call)", b.code, sizeof(b.code));
	check_clean("message (2nd call)", b.message, sizeof(b.message));
	check_clean("request_id (2nd call)", b.request_id, sizeof(b.request_id));
	if (a.status != b.status || strcmp(a.code, b.code) || strcmp(a.message, b.message) ||
	    strcmp(a.request_id, b.request_id))
		fuzz_fail("A5: two calls on the same input differ: code \"%s\"/\"%s\" "
			  "message \"%s\"/\"%s\" request_id \"%s\"/\"%s\"", a.code, b.code,
			  a.message, b.message, a.request_id, b.request_id);
	free(body);
	return 0;
}
