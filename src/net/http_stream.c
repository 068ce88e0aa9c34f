/* Streaming answers to a caller of the HTTP client (http.h: on_headers,
 * on_data): the header lines of the latest response are kept, handed over
 * once before the first body byte, and the body goes to on_data when the
 * caller asks for it. */
#include "http_internal.h"

#include <string.h>

#include "banned.h"

/* response header block kept for on_headers */
#define RESPONSE_HEADERS_MAX (64u * 1024)
#define RESPONSE_HEADERS_COUNT 128

void dbr_http_stream_init(struct dbr_http_stream *s, const struct dbr_http_request *r)
{
	memset(s, 0, sizeof(*s));
	s->req = r;
	dbr_buf_init(&s->headers, RESPONSE_HEADERS_MAX, 1);
}

void dbr_http_stream_release(struct dbr_http_stream *s)
{
	dbr_buf_release(&s->headers);
}

/* A status line starts a new response (after a 1xx or a redirect). */
size_t dbr_http_stream_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct dbr_http_stream *s = arg;
	size_t n = size * nmemb;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		dbr_buf_reset(&s->headers);
		s->announced = 0;
		s->streaming = 0;
		return n;
	}
	/* an over-long block is cut: the caller sees the lines that fit */
	if (s->headers.len + n <= s->headers.max)
		dbr_buf_add(&s->headers, p, n);
	return n;
}

/* Split the kept header block into name/value pairs (in place) and hand
 * them to on_headers with the status. Returns its answer. */
static int announce(struct dbr_http_stream *s)
{
	struct dbr_http_header hv[RESPONSE_HEADERS_COUNT];
	size_t n = 0;
	long status = 0;
	char *line = s->headers.data, *end = line ? line + s->headers.len : NULL;

	s->announced = 1;
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	while (line && line < end && n < RESPONSE_HEADERS_COUNT) {
		char *eol = memchr(line, '\n', (size_t)(end - line)), *colon, *v, *ve;

		if (!eol)
			break;
		ve = eol;
		while (ve > line && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*ve = '\0';
		colon = strchr(line, ':');
		/* folded continuation lines (obsolete) and junk are dropped */
		if (colon && colon > line && line[0] != ' ' && line[0] != '\t') {
			*colon = '\0';
			for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
				;
			hv[n].name = line;
			hv[n].value = v;
			n++;
		}
		line = eol + 1;
	}
	return s->req->on_headers(s->req->stream_arg, status, hv, n);
}

int dbr_http_stream_write(struct dbr_http_stream *s, const char *p, size_t n)
{
	if (!s->req->on_headers)
		return 0;
	if (!s->announced) {
		int rc = announce(s);

		if (rc < 0)
			return -1;
		s->streaming = rc >= 1 && s->req->on_data;
	}
	if (!s->streaming)
		return 0;
	return s->req->on_data(s->req->stream_arg, p, n) ? -1 : 1;
}

int dbr_http_stream_finish(struct dbr_http_stream *s)
{
	if (!s->req->on_headers || s->announced)
		return 0;
	return announce(s) < 0 ? -1 : 0;
}
