/* What the response heads of one libcurl transfer may be (http_internal.h,
 * struct dbr_http_head): no more than DBR_WIRE_HEAD_MAX bytes in all, as
 * the kept connection reads them (http_wire.h), and one Content-Length.
 * libcurl alone lets a server send 300 KiB of headers and, of several
 * Content-Length headers that disagree, believes the last: the body would
 * be cut (or run on) where the server did not mean it to end. */
#include "http_internal.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http_wire.h"
#include "banned.h"

int dbr_http_head_line(struct dbr_http_head *h, const char *p, size_t n)
{
	static const char cl[] = "content-length:";
	int64_t v = 0;
	int rc;

	if (h->refused)
		return -1;
	h->bytes += n;
	if (h->bytes > DBR_WIRE_HEAD_MAX) {
		h->refused = DBR_HTTP_HEAD_TOO_LARGE;
		return -1;
	}
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx): its own Content-Length */
		h->in_head = 1;
		h->have_length = 0;
		return 0;
	}
	if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		h->in_head = 0;
		return 0;
	}
	if (n < sizeof(cl) - 1 || strncasecmp(p, cl, sizeof(cl) - 1) != 0)
		return 0;
	/* a list "2, 2" is one value too (RFC 9110 8.6); not a length:
	 * libcurl decides */
	rc = dbr_wire_content_length(p + sizeof(cl) - 1, n - (sizeof(cl) - 1), &v);
	if (rc == DBR_WIRE_LENGTH_BAD)
		return 0;
	if (rc == DBR_WIRE_LENGTH_DIFFER || (h->have_length && (uint64_t)v != h->length)) {
		h->refused = DBR_HTTP_HEAD_TWO_LENGTHS;
		return -1;
	}
	h->length = (uint64_t)v;
	h->have_length = 1;
	return 0;
}
