/* HTTP/1.1 on the wire, for the kept connection (http_kept.c): a response
 * head parsed in place and a chunked body decoded in place. Pure functions,
 * no I/O; fuzzed (tests/fuzz/fuzz_http_wire.c). Internal to libdbroker.
 *
 * Strict where a lenient reading could be exploited (RFC 9112): a head
 * that is not "HTTP/1.x NNN", a header line without a colon or with a
 * space before it, a folded line, a control character (DEL too) in a
 * value or the reason, a Content-Length that is not one decimal number
 * (or several that differ) are malformed; so are a chunk size followed by
 * anything but blanks, ';' and the line's end, and a CR in a trailer that
 * does not end its line; the caller then leaves the connection and asks libcurl,
 * which decides about such an answer as it always has.
 */
#ifndef DBROKER_HTTP_WIRE_H
#define DBROKER_HTTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* The longest head read, status line and headers together. */
#define DBR_WIRE_HEAD_MAX (64u * 1024)
/* Headers past this many are not kept (they are still checked). */
#define DBR_WIRE_HEADERS_MAX 128

/* A header line, cut in place: both point into the parsed buffer. */
struct dbr_wire_header {
	const char *name;
	const char *value;
};

struct dbr_wire_head {
	int minor;               /* HTTP/1.minor */
	long status;             /* 100..999 */
	struct dbr_wire_header h[DBR_WIRE_HEADERS_MAX];
	size_t n;
	int64_t content_length;  /* -1 when absent */
	int chunked;             /* Transfer-Encoding ends with chunked */
	int other_coding;        /* another transfer coding: the body runs
				    to the end of the connection */
	int close;               /* the server closes after this answer
				    (Connection: close, or HTTP/1.0 without
				    keep-alive) */
};

/* Parse the response head at the start of buf[0..len). When the head is
 * complete, it is parsed in place (its line ends, each name's colon and
 * the blanks after each value become NULs) and its length, the body's
 * first byte, is returned (> 0).
 * Returns 0 when the head is not complete yet (buf untouched), -1 when it
 * is malformed or longer than DBR_WIRE_HEAD_MAX. */
long dbr_wire_parse_head(char *buf, size_t len, struct dbr_wire_head *h);

/* 1 when s is a header name (RFC 9110 token: one or more token
 * characters), else 0. */
int dbr_wire_is_token(const char *s);

/* 1 when s holds a control character other than tab (DEL too), which a
 * header value never holds, else 0. */
int dbr_wire_has_ctl(const char *s);

/* What a Content-Length value is (RFC 9110 section 8.6). */
enum dbr_wire_length {
	DBR_WIRE_LENGTH_BAD = -1,   /* not decimal digits (a sign, "5 5", empty,
				       over INT64_MAX) */
	DBR_WIRE_LENGTH_ONE = 0,    /* one decimal number */
	DBR_WIRE_LENGTH_LIST = 1,   /* a list of one number repeated: "2, 2" */
	DBR_WIRE_LENGTH_DIFFER = 2, /* a list of numbers that differ: "2, 3" */
};

/* Read the Content-Length value v[0..n) (blanks, a CR and an LF around its
 * elements allowed): the kind, and in *len the number (ONE, LIST). Both
 * readers of heads use it: the kept connection takes ONE only; the check
 * of libcurl's heads (http_head.c) takes a LIST as its number too, as
 * libcurl does, and refuses DIFFER. */
int dbr_wire_content_length(const char *v, size_t n, int64_t *len);

/* 1 if a response of this status to this request method has no body
 * whatever its headers say (HEAD, 1xx, 204, 304). */
int dbr_wire_no_body(const char *method, long status);

/* Incremental chunked decoding (RFC 9112 section 7.1). Zero it to start. */
struct dbr_wire_chunked {
	int state;
	int digits;
	uint64_t left; /* data bytes left in the current chunk */
};

/* Decode in[0..n): the body bytes found are written to out (which may be
 * in itself: out never gets ahead of in), *used gets the input bytes
 * consumed and *made the body bytes written. Returns 1 when the body ended
 * (the last chunk and the trailers read; *used stops there), 0 when more
 * input is needed (all n were used), -1 when the input is malformed. */
int dbr_wire_chunked_feed(struct dbr_wire_chunked *c, const char *in, size_t n, char *out,
			  size_t *used, size_t *made);

#endif
