/* What the response heads of one libcurl transfer may be (http_internal.h,
 * struct dbr_http_head): no more than DBR_WIRE_HEAD_MAX bytes in all, as
 * the kept connection reads them (http_wire.h). libcurl alone lets a
 * server send 300 KiB of headers. */
#include "http_internal.h"

#include <string.h>

#include "http_wire.h"
#include "banned.h"

int dbr_http_head_line(struct dbr_http_head *h, const char *p, size_t n)
{
	if (h->refused)
		return -1;
	h->bytes += n;
	if (h->bytes > DBR_WIRE_HEAD_MAX) {
		h->refused = DBR_HTTP_HEAD_TOO_LARGE;
		return -1;
	}
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0)
		h->in_head = 1; /* a new response (after a 1xx) */
	else if (n <= 2 && (p[0] == '\r' || p[0] == '\n'))
		h->in_head = 0;
	return 0;
}
