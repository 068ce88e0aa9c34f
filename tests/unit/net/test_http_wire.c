/* HTTP/1.1 on the wire (src/net/http_wire.c): response heads (fields,
 * line ends, incomplete and malformed heads, the size and header caps),
 * which answers have no body, and the chunked decoder in one piece, byte
 * by byte and split anywhere. Every input is parsed from an exactly-sized
 * copy, so a read past its end is a valgrind error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_wire.h"

/* A literal that may hold NULs, with its length. */
struct bytes {
	const char *s;
	size_t n;
};

#define B(lit) { lit, sizeof(lit) - 1 }

/* ---- heads ---------------------------------------------------------------------------- */

/* One parse: the copy it parsed in place (the header strings point into
 * it) lives until the next parse or wire_done. */
struct wire {
	char *buf;
	size_t len;
	struct dbr_wire_head h;
};

static void wire_done(struct wire *w)
{
	free(w->buf);
	w->buf = NULL;
}

static long parse_n(struct wire *w, const char *s, size_t n)
{
	wire_done(w);
	w->buf = malloc(n ? n : 1);
	assert_non_null(w->buf);
	memcpy(w->buf, s, n);
	w->len = n;
	return dbr_wire_parse_head(w->buf, n, &w->h);
}

static long parse(struct wire *w, const char *s)
{
	return parse_n(w, s, strlen(s));
}

/* The value of the first header called name (any case), or NULL. */
static const char *value_of(const struct dbr_wire_head *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			return h->h[i].value;
	return NULL;
}

static void test_normal_head(void **state)
{
	static const char text[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/json\r\n"
				   "content-length: 42\r\n"
				   "X-Empty:\r\n"
				   "X-Spaces: \t a  b \t\r\n"
				   "X-Odd-Token!#$%&'*+-.^_`|~: v\r\n"
				   "\r\n"
				   "{\"body\": 1}";
	struct wire w = { 0 };
	long n;

	(void)state;
	n = parse(&w, text);
	assert_int_equal(n, strstr(text, "{") - text);
	assert_int_equal(w.h.minor, 1);
	assert_int_equal(w.h.status, 200);
	assert_int_equal(w.h.n, 5);
	assert_string_equal(w.h.h[0].name, "Content-Type");
	assert_string_equal(w.h.h[0].value, "application/json");
	assert_string_equal(w.h.h[1].name, "content-length");
	assert_string_equal(w.h.h[1].value, "42");
	assert_string_equal(w.h.h[2].name, "X-Empty");
	assert_string_equal(w.h.h[2].value, "");
	/* leading and trailing blanks go, inner ones stay */
	assert_string_equal(w.h.h[3].value, "a  b");
	assert_string_equal(w.h.h[4].name, "X-Odd-Token!#$%&'*+-.^_`|~");
	assert_int_equal(w.h.content_length, 42);
	assert_int_equal(w.h.chunked, 0);
	assert_int_equal(w.h.other_coding, 0);
	assert_int_equal(w.h.close, 0);
	/* in place: the strings are the buffer's, the body after it untouched */
	assert_ptr_equal(w.h.h[0].name, w.buf + strlen("HTTP/1.1 200 OK\r\n"));
	assert_memory_equal(w.buf + n, "{\"body\": 1}", strlen("{\"body\": 1}"));
	for (size_t i = 0; i < w.h.n; i++) {
		assert_true(w.h.h[i].name >= w.buf && w.h.h[i].name < w.buf + n);
		assert_true(w.h.h[i].value >= w.buf && w.h.h[i].value < w.buf + n);
	}

	/* other statuses and HTTP/1.0 */
	assert_int_equal(parse(&w, "HTTP/1.0 404 Not Found\r\n\r\n"), 26);
	assert_int_equal(w.h.minor, 0);
	assert_int_equal(w.h.status, 404);
	assert_true(parse(&w, "HTTP/1.1 999 x\r\n\r\n") > 0);
	assert_int_equal(w.h.status, 999);
	assert_true(parse(&w, "HTTP/1.1 100 Continue\r\n\r\n") > 0);
	assert_int_equal(w.h.status, 100);
	/* a reason may hold tabs and bytes past ASCII */
	assert_true(parse(&w, "HTTP/1.1 200 O\tK \xc3\xa9\r\n\r\n") > 0);
	wire_done(&w);
}

static void test_lf_only(void **state)
{
	static const char text[] = "HTTP/1.1 404 Not Found\nContent-Length: 0\nA: b\n\nrest";
	struct wire w = { 0 };

	(void)state;
	assert_int_equal(parse(&w, text), strlen(text) - 4);
	assert_int_equal(w.h.status, 404);
	assert_int_equal(w.h.n, 2);
	assert_string_equal(value_of(&w.h, "A"), "b");
	assert_int_equal(w.h.content_length, 0);
	/* mixed line ends, and an LF-only empty line after CRLF lines */
	assert_int_equal(parse(&w, "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\nx"), 29);
	assert_string_equal(value_of(&w.h, "A"), "b");
	assert_string_equal(value_of(&w.h, "C"), "d");
	assert_int_equal(parse(&w, "HTTP/1.1 200 OK\nA: b\r\n\r\nx"), 24);
	assert_string_equal(value_of(&w.h, "A"), "b");
	/* a CR is only a line end's when an LF follows */
	assert_int_equal(parse(&w, "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"), -1);
	wire_done(&w);
}

static void test_incomplete(void **state)
{
	static const char text[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Length: 3\r\n"
				   "Connection: close\r\n"
				   "\r\n"
				   "abc";
	size_t head = strlen(text) - 3;
	struct wire w = { 0 };

	(void)state;
	/* every prefix short of the empty line's LF is not complete yet, and
	 * the buffer stays as it was */
	for (size_t k = 0; k < head; k++) {
		long n = parse_n(&w, text, k);

		if (n != 0)
			print_message("prefix of %zu bytes: %ld\n", k, n);
		assert_int_equal(n, 0);
		assert_memory_equal(w.buf, text, k);
	}
	/* from there on, whatever follows, the same head */
	for (size_t k = head; k <= strlen(text); k++) {
		assert_int_equal(parse_n(&w, text, k), head);
		assert_int_equal(w.h.content_length, 3);
		assert_int_equal(w.h.close, 1);
	}
	/* the same for LF-only lines */
	for (size_t k = 0; k < 22; k++)
		assert_int_equal(parse_n(&w, "HTTP/1.1 200 OK\nA: b\n\n", k), 0);
	assert_int_equal(parse_n(&w, "HTTP/1.1 200 OK\nA: b\n\n", 22), 22);
	/* a final CR waits for its LF */
	assert_int_equal(parse(&w, "HTTP/1.1 200 OK\r\n\r"), 0);
	wire_done(&w);
}

static void test_no_headers(void **state)
{
	struct wire w = { 0 };

	(void)state;
	assert_int_equal(parse(&w, "HTTP/1.1 204 No Content\r\n\r\n"), 27);
	assert_int_equal(w.h.status, 204);
	assert_int_equal(w.h.n, 0);
	assert_int_equal(w.h.content_length, -1);
	assert_int_equal(w.h.chunked, 0);
	assert_int_equal(w.h.close, 0);
	/* no reason, with and without the space before it */
	assert_int_equal(parse(&w, "HTTP/1.1 200\r\n\r\n"), 16);
	assert_int_equal(w.h.status, 200);
	assert_int_equal(parse(&w, "HTTP/1.1 200 \r\n\r\n"), 17);
	assert_int_equal(parse(&w, "HTTP/1.1 302\n\n"), 14);
	assert_int_equal(w.h.status, 302);
	assert_int_equal(w.h.n, 0);
	wire_done(&w);
}

static void test_connection(void **state)
{
	static const struct {
		const char *text;
		int close;
	} rows[] = {
		{ "HTTP/1.1 200 OK\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: CLOSE\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: upgrade ,\t close\t, x\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: ,,close,,\r\n\r\n", 1 },
		{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 1 },
		/* the token, not a word that contains it */
		{ "HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: not-close, xclose\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\nX-Connection: close\r\n\r\n", 0 },
		/* HTTP/1.0 closes unless it says keep-alive */
		{ "HTTP/1.0 200 OK\r\n\r\n", 1 },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", 1 },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 0 },
		{ "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", 0 },
		{ "HTTP/1.0 200 OK\r\nConnection: x, keep-alive \r\n\r\n", 0 },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alived\r\n\r\n", 1 },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n", 1 },
		{ "HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\n\r\n", 1 },
	};
	struct wire w = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long n = parse(&w, rows[i].text);

		if (n <= 0 || w.h.close != rows[i].close)
			print_message("row %zu: %ld close %d\n", i, n, w.h.close);
		assert_int_equal(n, strlen(rows[i].text));
		assert_int_equal(w.h.close, rows[i].close);
	}
	wire_done(&w);
}

static void test_transfer_encoding(void **state)
{
	static const struct {
		const char *headers;
		int chunked, other, close;
		int64_t length;
	} rows[] = {
		{ "Transfer-Encoding: chunked\r\n", 1, 0, 0, -1 },
		{ "transfer-encoding: Chunked \r\n", 1, 0, 0, -1 },
		{ "Transfer-Encoding: gzip, chunked\r\n", 1, 0, 0, -1 },
		{ "Transfer-Encoding: gzip,chunked\r\n", 1, 0, 0, -1 },
		{ "Transfer-Encoding: gzip\t,\tchunked, \r\n", 1, 0, 0, -1 },
		/* Transfer-Encoding overrides Content-Length, before or after it */
		{ "Content-Length: 10\r\nTransfer-Encoding: chunked\r\n", 1, 0, 0, -1 },
		{ "Transfer-Encoding: chunked\r\nContent-Length: 10\r\n", 1, 0, 0, -1 },
		/* another coding last: the body runs to the connection's end */
		{ "Transfer-Encoding: gzip\r\n", 0, 1, 1, -1 },
		{ "Transfer-Encoding: chunked, gzip\r\n", 0, 1, 1, -1 },
		{ "Transfer-Encoding: xchunked\r\n", 0, 1, 1, -1 },
		{ "Transfer-Encoding: chunked;x=1\r\n", 0, 1, 1, -1 },
		{ "Transfer-Encoding: gzip\r\nContent-Length: 10\r\n", 0, 1, 1, -1 },
		/* several lines are one list: its last coding decides */
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", 0, 1, 1, -1 },
		{ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 1, 0, 0, -1 },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n", 1, 0, 0, -1 },
		/* no coding at all */
		{ "Transfer-Encoding:\r\nContent-Length: 10\r\n", 0, 0, 0, 10 },
	};
	struct wire w = { 0 };
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long n;

		snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n%s\r\n", rows[i].headers);
		n = parse(&w, text);
		if (n <= 0 || w.h.chunked != rows[i].chunked || w.h.other_coding != rows[i].other ||
		    w.h.close != rows[i].close || w.h.content_length != rows[i].length)
			print_message("row %zu: %ld chunked %d other %d close %d length %lld\n", i,
				      n, w.h.chunked, w.h.other_coding, w.h.close,
				      (long long)w.h.content_length);
		assert_int_equal(n, strlen(text));
		assert_int_equal(w.h.chunked, rows[i].chunked);
		assert_int_equal(w.h.other_coding, rows[i].other);
		assert_int_equal(w.h.close, rows[i].close);
		assert_true(w.h.content_length == rows[i].length);
	}
	wire_done(&w);
}

static void test_content_length(void **state)
{
	struct wire w = { 0 };

	(void)state;
	assert_true(parse(&w, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") > 0);
	assert_int_equal(w.h.content_length, 0);
	assert_true(parse(&w, "HTTP/1.1 200 OK\r\nContent-Length:007\r\n\r\n") > 0);
	assert_int_equal(w.h.content_length, 7);
	assert_true(parse(&w, "HTTP/1.1 200 OK\r\nContent-Length: 1125899906842624\r\n\r\n") > 0);
	assert_true(w.h.content_length == INT64_C(1125899906842624));
	/* the same value twice is one length */
	assert_true(parse(&w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n"
			  "CONTENT-LENGTH: 5\r\n\r\n") > 0);
	assert_int_equal(w.h.content_length, 5);
	assert_int_equal(w.h.n, 3);
	wire_done(&w);
}

/* A malformed head and the nearest well-formed one: the second parses, so
 * the first fails for the flaw it shows. */
#define OK200 "HTTP/1.1 200 OK\r\n"

static void test_malformed(void **state)
{
	static const struct {
		struct bytes bad, good;
	} rows[] = {
		/* not HTTP/1.x */
		{ B("HTTP/2 200 OK\r\n\r\n"), B(OK200 "\r\n") },
		{ B("HTTP/1.2 200 OK\r\n\r\n"), B(OK200 "\r\n") },
		{ B("HTTP/1.11 200 OK\r\n\r\n"), B(OK200 "\r\n") },
		{ B("http/1.1 200 OK\r\n\r\n"), B(OK200 "\r\n") },
		{ B("ICY 200 OK\r\n\r\n"), B("HTTP/1.0 200 OK\r\n\r\n") },
		{ B(" HTTP/1.1 200 OK\r\n\r\n"), B(OK200 "\r\n") },
		/* the status: three digits, the first not 0, then a space or the end */
		{ B("HTTP/1.1 20x OK\r\n\r\n"), B("HTTP/1.1 209 OK\r\n\r\n") },
		{ B("HTTP/1.1 2x0 OK\r\n\r\n"), B("HTTP/1.1 290 OK\r\n\r\n") },
		{ B("HTTP/1.1 099 OK\r\n\r\n"), B("HTTP/1.1 199 OK\r\n\r\n") },
		{ B("HTTP/1.1 2000 OK\r\n\r\n"), B("HTTP/1.1 200 0 OK\r\n\r\n") },
		{ B("HTTP/1.1 20 OK\r\n\r\n"), B(OK200 "\r\n") },
		{ B("HTTP/1.1  200 OK\r\n\r\n"), B("HTTP/1.1 200  OK\r\n\r\n") },
		{ B("HTTP/1.1 -20 OK\r\n\r\n"), B("HTTP/1.1 120 OK\r\n\r\n") },
		{ B("HTTP/1.1\t200 OK\r\n\r\n"), B("HTTP/1.1 200\r\n\r\n") },
		{ B("HTTP/1.1 200\tOK\r\n\r\n"), B("HTTP/1.1 200 \tOK\r\n\r\n") },
		{ B("HTTP/1.1 200 O\x01K\r\n\r\n"), B("HTTP/1.1 200 O\tK\r\n\r\n") },
		{ B("HTTP/1.1 200 O\x7fK\r\n\r\n"), B("HTTP/1.1 200 O~K\r\n\r\n") },
		/* header lines */
		{ B(OK200 "Name : v\r\n\r\n"), B(OK200 "Name: v\r\n\r\n") },
		{ B(OK200 "Name\t: v\r\n\r\n"), B(OK200 "Name:\tv\r\n\r\n") },
		{ B(OK200 "A: b\r\n c\r\n\r\n"), B(OK200 "A: b c\r\n\r\n") },
		{ B(OK200 "A: b\r\n\tc\r\n\r\n"), B(OK200 "A: b\tc\r\n\r\n") },
		{ B(OK200 " A: b\r\n\r\n"), B(OK200 "A: b\r\n\r\n") },
		{ B(OK200 "NoColon\r\n\r\n"), B(OK200 "NoColon:\r\n\r\n") },
		{ B(OK200 ": v\r\n\r\n"), B(OK200 "n: v\r\n\r\n") },
		{ B(OK200 "A(b: c\r\n\r\n"), B(OK200 "Ab: (c\r\n\r\n") },
		{ B(OK200 "A\xc3\xa9: c\r\n\r\n"), B(OK200 "A: \xc3\xa9\r\n\r\n") },
		/* control characters in a value (tab and bytes past ASCII are fine) */
		{ B(OK200 "A: b\x01\r\n\r\n"), B(OK200 "A: b\x80\r\n\r\n") },
		{ B(OK200 "A: \x1b[2Jb\r\n\r\n"), B(OK200 "A: [2Jb\r\n\r\n") },
		{ B(OK200 "A: b\x7f\r\n\r\n"), B(OK200 "A: b~\r\n\r\n") },
		{ B(OK200 "A: b\rc\r\n\r\n"), B(OK200 "A: b\tc\r\n\r\n") },
		{ B(OK200 "A: b\r\r\n\r\n"), B(OK200 "A: b\r\n\r\n") },
		/* a NUL anywhere in the head */
		{ B(OK200 "A: b\0c\r\n\r\n"), B(OK200 "A: b c\r\n\r\n") },
		{ B("HTTP/1.1 200 O\0K\r\n\r\n"), B("HTTP/1.1 200 O K\r\n\r\n") },
		{ B(OK200 "A\0: b\r\n\r\n"), B(OK200 "A: b\r\n\r\n") },
		{ B(OK200 "\0\r\n\r\n"), B(OK200 "\r\n\0\r\n") },
		/* Content-Length: one decimal number */
		{ B(OK200 "Content-Length: abc\r\n\r\n"),
		  B(OK200 "Content-Length: 123\r\n\r\n") },
		{ B(OK200 "Content-Length: +5\r\n\r\n"),
		  B(OK200 "Content-Length: 5\r\n\r\n") },
		{ B(OK200 "Content-Length: -5\r\n\r\n"),
		  B(OK200 "Content-Length: 5\r\n\r\n") },
		{ B(OK200 "Content-Length: 0x10\r\n\r\n"),
		  B(OK200 "Content-Length: 010\r\n\r\n") },
		{ B(OK200 "Content-Length: 5 5\r\n\r\n"),
		  B(OK200 "Content-Length:  55 \r\n\r\n") },
		{ B(OK200 "Content-Length: 5, 5\r\n\r\n"),
		  B(OK200 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n") },
		{ B(OK200 "Content-Length:\r\n\r\n"),
		  B(OK200 "Content-Length:0\r\n\r\n") },
		{ B(OK200 "Content-Length: 99999999999999999999\r\n\r\n"),
		  B(OK200 "Content-Length: 9999999999999999\r\n\r\n") },
		{ B(OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"),
		  B(OK200 "Content-Length: 6\r\nContent-Length: 6\r\n\r\n") },
		{ B(OK200 "Content-Length: 5\r\nContent-Length: 5\r\n"
		    "Content-Length: 50\r\n\r\n"),
		  B(OK200 "Content-Length: 5\r\nContent-Length: 5\r\n"
		    "Content-Length: 05\r\n\r\n") },
		/* ... also beside a Transfer-Encoding that would override it */
		{ B(OK200 "Transfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n"),
		  B(OK200 "Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n") },
	};
	struct wire w = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		long bad = parse_n(&w, rows[i].bad.s, rows[i].bad.n);
		long good = parse_n(&w, rows[i].good.s, rows[i].good.n);

		if (bad != -1 || good <= 0)
			print_message("row %zu: bad %ld good %ld\n", i, bad, good);
		assert_int_equal(bad, -1);
		assert_true(good > 0);
	}
	wire_done(&w);
}

static void test_early_refusal(void **state)
{
	struct wire w = { 0 };

	(void)state;
	/* what cannot start a response fails at once, without its end */
	assert_int_equal(parse(&w, "<html>"), -1);
	assert_int_equal(parse(&w, "HTTX"), -1);
	assert_int_equal(parse(&w, "HTTP/2"), -1);
	assert_int_equal(parse(&w, "\r\n"), -1);
	/* ... and a start that may still become one waits */
	assert_int_equal(parse(&w, "H"), 0);
	assert_int_equal(parse(&w, "HTTP/1"), 0);
	assert_int_equal(parse(&w, "HTTP/1.1 200 OK\r\n"), 0);
	/* an empty buffer */
	assert_int_equal(parse_n(&w, "", 0), 0);
	wire_done(&w);
}

/* A head of exactly total bytes (a filler header, then the empty line) in
 * a buffer of len bytes (its tail being the start of a body), or with the
 * empty line left out. */
static char *big_head(size_t total, size_t len, int complete)
{
	static const char start[] = "HTTP/1.1 200 OK\r\nX-Fill: ";
	char *b = malloc(len);

	assert_non_null(b);
	assert_true(total >= sizeof(start) + 4 && len >= total - (complete ? 0 : 4));
	memset(b, 'a', len);
	memcpy(b, start, sizeof(start) - 1);
	if (complete)
		memcpy(b + total - 4, "\r\n\r\n", 4);
	return b;
}

static void test_head_max(void **state)
{
	struct dbr_wire_head *h = malloc(sizeof(*h));
	char *b;

	(void)state;
	assert_non_null(h);
	/* the longest head there may be, with and without a body after it */
	b = big_head(DBR_WIRE_HEAD_MAX, DBR_WIRE_HEAD_MAX, 1);
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX, h), DBR_WIRE_HEAD_MAX);
	assert_int_equal(strlen(h->h[0].value), DBR_WIRE_HEAD_MAX - 4 - 25);
	free(b);
	b = big_head(DBR_WIRE_HEAD_MAX, DBR_WIRE_HEAD_MAX + 100, 1);
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX + 100, h), DBR_WIRE_HEAD_MAX);
	free(b);
	/* one byte more is too long, complete or not */
	b = big_head(DBR_WIRE_HEAD_MAX + 1, DBR_WIRE_HEAD_MAX + 1, 1);
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX + 1, h), -1);
	free(b);
	b = big_head(DBR_WIRE_HEAD_MAX + 4, DBR_WIRE_HEAD_MAX + 100, 0);
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX + 100, h), -1);
	/* a not-yet-complete head is refused once it reaches the cap */
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX, h), -1);
	assert_int_equal(dbr_wire_parse_head(b, DBR_WIRE_HEAD_MAX - 1, h), 0);
	assert_int_equal(dbr_wire_parse_head(b, 1000, h), 0);
	free(b);
	free(h);
}

static void test_many_headers(void **state)
{
	struct dbr_wire_head *h = malloc(sizeof(*h));
	char *text = malloc(16384), *copy;
	size_t len = 0, total = DBR_WIRE_HEADERS_MAX + 72;
	long n;

	(void)state;
	assert_non_null(h);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, 16384 - len, "HTTP/1.1 200 OK\r\n");
	for (size_t i = 0; i < total; i++) {
		if (i == DBR_WIRE_HEADERS_MAX + 10)
			len += (size_t)snprintf(text + len, 16384 - len, "Content-Length: 12\r\n");
		else if (i == DBR_WIRE_HEADERS_MAX + 20)
			len += (size_t)snprintf(text + len, 16384 - len, "Connection: close\r\n");
		else
			len += (size_t)snprintf(text + len, 16384 - len, "H%zu: v%zu\r\n", i, i);
	}
	len += (size_t)snprintf(text + len, 16384 - len, "\r\n");
	assert_true(len < 16384);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, text, len);
	n = dbr_wire_parse_head(copy, len, h);
	assert_int_equal(n, len);
	/* the first ones are kept, the rest still count */
	assert_int_equal(h->n, DBR_WIRE_HEADERS_MAX);
	assert_string_equal(h->h[0].name, "H0");
	assert_string_equal(h->h[DBR_WIRE_HEADERS_MAX - 1].name, "H127");
	assert_string_equal(h->h[DBR_WIRE_HEADERS_MAX - 1].value, "v127");
	assert_int_equal(h->content_length, 12);
	assert_int_equal(h->close, 1);
	/* ... and are still checked: a bad line far past the cap */
	memcpy(copy, text, len);
	copy[strstr(text, "H190:") - text + 3] = ' ';
	copy[strstr(text, "H190:") - text + 4] = ':';
	assert_int_equal(dbr_wire_parse_head(copy, len, h), -1);
	memcpy(copy, text, len);
	copy[strstr(text, "v190") - text] = '\x01';
	assert_int_equal(dbr_wire_parse_head(copy, len, h), -1);
	free(copy);
	free(text);
	free(h);
}

static void test_interim_then_final(void **state)
{
	static const char text[] = "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
				   "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
	struct wire w = { 0 };
	long n;

	(void)state;
	/* a head ends at its empty line: the next answer is not part of it */
	n = parse(&w, text);
	assert_int_equal(n, strstr(text, "\r\n\r\n") + 4 - text);
	assert_int_equal(w.h.status, 103);
	assert_int_equal(w.h.n, 1);
	assert_int_equal(w.h.content_length, -1);
	assert_int_equal(parse(&w, text + n), strlen(text + n) - 1);
	assert_int_equal(w.h.status, 200);
	wire_done(&w);
}

static void test_no_body(void **state)
{
	(void)state;
	assert_int_equal(dbr_wire_no_body("HEAD", 200), 1);
	assert_int_equal(dbr_wire_no_body("HEAD", 404), 1);
	assert_int_equal(dbr_wire_no_body("GET", 100), 1);
	assert_int_equal(dbr_wire_no_body("GET", 101), 1);
	assert_int_equal(dbr_wire_no_body("GET", 199), 1);
	assert_int_equal(dbr_wire_no_body("GET", 204), 1);
	assert_int_equal(dbr_wire_no_body("POST", 304), 1);
	assert_int_equal(dbr_wire_no_body(NULL, 204), 1);
	assert_int_equal(dbr_wire_no_body("GET", 200), 0);
	assert_int_equal(dbr_wire_no_body("POST", 200), 0);
	assert_int_equal(dbr_wire_no_body("GET", 205), 0);
	assert_int_equal(dbr_wire_no_body("GET", 300), 0);
	assert_int_equal(dbr_wire_no_body("GET", 303), 0);
	assert_int_equal(dbr_wire_no_body("GET", 404), 0);
	assert_int_equal(dbr_wire_no_body("HEADER", 200), 0);
	assert_int_equal(dbr_wire_no_body(NULL, 200), 0);
}

/* ---- chunked -------------------------------------------------------------------------- */

/* Decode s[0..n) in one call from an exactly-sized copy: rc, and the body
 * (NUL-terminated) in out. */
static int decode(const char *s, size_t n, char *out, size_t *used, size_t *made)
{
	struct dbr_wire_chunked c = { 0 };
	char *copy = malloc(n ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, n);
	*used = *made = 12345;
	rc = dbr_wire_chunked_feed(&c, copy, n, out, used, made);
	if (rc >= 0) {
		assert_true(*made <= *used && *used <= n);
		out[*made] = '\0';
	}
	free(copy);
	return rc;
}

/* The same, one byte per call (what a slow connection does): the result of
 * the call that ended it; *used counts the bytes consumed in all. Asserts
 * that every call before the last wanted more. */
static int decode_bytewise(const char *s, size_t n, char *out, size_t *used, size_t *made)
{
	struct dbr_wire_chunked c = { 0 };
	int rc = 0;

	*used = *made = 0;
	for (size_t i = 0; i < n; i++) {
		char *one = malloc(1);
		size_t u = 99, m = 99;

		assert_non_null(one);
		one[0] = s[i];
		rc = dbr_wire_chunked_feed(&c, one, 1, out + *made, &u, &m);
		free(one);
		if (rc < 0)
			return rc;
		assert_true(m <= u && u <= 1);
		*used += u;
		*made += m;
		if (rc == 1) {
			/* ended: the next byte is the next answer's, not taken */
			if (i + 1 < n) {
				int end = dbr_wire_chunked_feed(&c, s + i + 1, 1, out, &u, &m);

				assert_int_equal(end, 1);
				assert_int_equal(u, 0);
				assert_int_equal(m, 0);
			}
			break;
		}
		assert_int_equal(u, 1);
	}
	out[*made] = '\0';
	return rc;
}

static void test_chunked_one_piece(void **state)
{
	static const char text[] = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
				   "HTTP/1.1 200 OK\r\n";
	static const char body[] = "Wikipedia in\r\n\r\nchunks.";
	size_t end = strlen(text) - strlen("HTTP/1.1 200 OK\r\n"), used, made;
	struct dbr_wire_chunked c = { 0 };
	char out[256], *copy;

	(void)state;
	assert_int_equal(decode(text, strlen(text), out, &used, &made), 1);
	assert_int_equal(used, end);
	assert_int_equal(made, strlen(body));
	assert_string_equal(out, body);
	/* in place: out is in */
	copy = malloc(strlen(text));
	assert_non_null(copy);
	memcpy(copy, text, strlen(text));
	assert_int_equal(dbr_wire_chunked_feed(&c, copy, strlen(text), copy, &used, &made), 1);
	assert_int_equal(used, end);
	assert_int_equal(made, strlen(body));
	assert_memory_equal(copy, body, strlen(body));
	/* the next answer's bytes are left where they were */
	assert_memory_equal(copy + end, "HTTP/1.1 200 OK\r\n", 17);
	/* once ended, nothing more is taken */
	assert_int_equal(dbr_wire_chunked_feed(&c, copy + end, 17, out, &used, &made), 1);
	assert_int_equal(used, 0);
	assert_int_equal(made, 0);
	free(copy);
}

static void test_chunked_bytewise_and_split(void **state)
{
	static const char text[] = "4;a=b\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
				   "0\r\nT: 1\r\n\r\nNEXT";
	static const char body[] = "Wikipedia in\r\n\r\nchunks.";
	size_t n = strlen(text), end = n - 4, used, made;
	char out[256];

	(void)state;
	/* one byte at a time: 1 only with the last byte of the end, and the
	 * bytes after it are not taken */
	assert_int_equal(decode_bytewise(text, n, out, &used, &made), 1);
	assert_int_equal(used, end);
	assert_string_equal(out, body);
	/* split in two anywhere: the same body and end */
	for (size_t at = 0; at <= n; at++) {
		struct dbr_wire_chunked c = { 0 };
		char *a = malloc(at ? at : 1), *b = malloc(n - at ? n - at : 1);
		size_t u1 = 0, m1 = 0, u2 = 0, m2 = 0;
		int rc;

		assert_non_null(a);
		assert_non_null(b);
		memcpy(a, text, at);
		memcpy(b, text + at, n - at);
		rc = dbr_wire_chunked_feed(&c, a, at, out, &u1, &m1);
		if (at < end) {
			assert_int_equal(rc, 0);
			assert_int_equal(u1, at);
			rc = dbr_wire_chunked_feed(&c, b, n - at, out + m1, &u2, &m2);
		}
		assert_int_equal(rc, 1);
		assert_int_equal(u1 + u2, end);
		assert_int_equal(m1 + m2, strlen(body));
		assert_memory_equal(out, body, strlen(body));
		free(a);
		free(b);
	}
}

static void test_chunked_forms(void **state)
{
	static const struct {
		struct bytes in;
		const char *body;
	} rows[] = {
		/* extensions, with and without values, blanks before them */
		{ B("5;name=value;x\r\nhello\r\n0;last\r\n\r\n"), "hello" },
		{ B("5 ;q=\"a;b\"\r\nhello\r\n0\t\r\n\r\n"), "hello" },
		/* trailers */
		{ B("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY:2\r\n\r\n"), "abc" },
		{ B("0\r\nExpires: never\r\n\r\n"), "" },
		/* hex in either case, leading zeros, the most digits there may be */
		{ B("A\r\n0123456789\r\n1F\r\nabcdefghijklmnopqrstuvwxyz01234\r\n0\r\n\r\n"),
		  "0123456789abcdefghijklmnopqrstuvwxyz01234" },
		{ B("a\r\n0123456789\r\n0\r\n\r\n"), "0123456789" },
		{ B("00003\r\nabc\r\n000\r\n\r\n"), "abc" },
		{ B("000000000000003\r\nabc\r\n000000000000000\r\n\r\n"), "abc" },
		/* LF-only lines, alone and mixed with CRLF */
		{ B("3\nabc\n0\n\n"), "abc" },
		{ B("3\nabc\r\n2;x\nde\n0\r\nT: v\n\r\n"), "abcde" },
		/* no body at all */
		{ B("0\r\n\r\n"), "" },
		{ B("0\n\n"), "" },
		/* data may hold anything, line ends and NULs too */
		{ B("4\r\n\r\n\r\n\r\n0\r\n\r\n"), "\r\n\r\n" },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t used = 0, made = 0;
		int rc = decode(rows[i].in.s, rows[i].in.n, out, &used, &made);

		if (rc != 1 || used != rows[i].in.n || strcmp(out, rows[i].body) != 0)
			print_message("row %zu: rc %d used %zu made %zu\n", i, rc, used, made);
		assert_int_equal(rc, 1);
		assert_int_equal(used, rows[i].in.n);
		assert_string_equal(out, rows[i].body);
		/* byte by byte: the same */
		assert_int_equal(decode_bytewise(rows[i].in.s, rows[i].in.n, out, &used, &made), 1);
		assert_int_equal(used, rows[i].in.n);
		assert_string_equal(out, rows[i].body);
	}
	/* a NUL in the data */
	{
		static const char nul[] = "3\r\na\0b\r\n0\r\n\r\n";
		size_t used, made;

		assert_int_equal(decode(nul, sizeof(nul) - 1, out, &used, &made), 1);
		assert_int_equal(made, 3);
		assert_memory_equal(out, "a\0b", 3);
	}
}

static void test_chunked_need_more(void **state)
{
	struct dbr_wire_chunked c = { 0 };
	char in1[] = "5\r\nhel", in2[] = "lo\r\n0\r\n", in3[] = "\r\n", out[64];
	size_t used, made;

	(void)state;
	/* a chunk cut in its data: what came is given, the rest awaited */
	assert_int_equal(dbr_wire_chunked_feed(&c, in1, 6, out, &used, &made), 0);
	assert_int_equal(used, 6);
	assert_int_equal(made, 3);
	assert_int_equal(dbr_wire_chunked_feed(&c, in2, 7, out + 3, &used, &made), 0);
	assert_int_equal(used, 7);
	assert_int_equal(made, 2);
	assert_memory_equal(out, "hello", 5);
	/* nothing new: still not ended */
	assert_int_equal(dbr_wire_chunked_feed(&c, in3, 0, out, &used, &made), 0);
	assert_int_equal(used, 0);
	assert_int_equal(dbr_wire_chunked_feed(&c, in3, 2, out, &used, &made), 1);
	assert_int_equal(used, 2);
	assert_int_equal(made, 0);
	/* a big chunk (15 digits) takes what comes */
	memset(&c, 0, sizeof(c));
	{
		char big[] = "fffffffffffffff\r\nab";

		assert_int_equal(dbr_wire_chunked_feed(&c, big, 19, out, &used, &made), 0);
		assert_int_equal(used, 19);
		assert_int_equal(made, 2);
		assert_true(c.left == UINT64_C(0xfffffffffffffff) - 2);
	}
}

/* A malformed body and the nearest well-formed one, both in one call and
 * byte by byte. */
static void test_chunked_malformed(void **state)
{
	static const struct {
		struct bytes bad, good;
	} rows[] = {
		/* no digits */
		{ B("\r\nabc\r\n0\r\n\r\n"), B("0\r\n\r\n") },
		{ B(";x\r\n\r\n"), B("0;x\r\n\r\n") },
		{ B(" 3\r\nabc\r\n0\r\n\r\n"), B("3 \r\nabc\r\n0\r\n\r\n") },
		{ B("3\r\nabc\r\n\r\n"), B("3\r\nabc\r\n0\r\n\r\n") },
		/* a digit that is not hex */
		{ B("g\r\n\r\n"), B("f\r\n0123456789abcde\r\n0\r\n\r\n") },
		{ B("3x\r\nabc\r\n0\r\n\r\n"), B("3;x\r\nabc\r\n0\r\n\r\n") },
		{ B("-3\r\nabc\r\n0\r\n\r\n"), B("3\r\nabc\r\n0\r\n\r\n") },
		{ B("0x3\r\nabc\r\n0\r\n\r\n"), B("03\r\nabc\r\n0\r\n\r\n") },
		/* more than 15 hex digits, even zeros */
		{ B("0000000000000003\r\nabc\r\n0\r\n\r\n"),
		  B("000000000000003\r\nabc\r\n0\r\n\r\n") },
		{ B("0000000000000000\r\n\r\n"), B("000000000000000\r\n\r\n") },
		/* no line end after the data */
		{ B("3\r\nabcX\r\n0\r\n\r\n"), B("3\r\nabc\r\n0\r\n\r\n") },
		{ B("3\r\nabc\rX\n0\r\n\r\n"), B("3\r\nabc\r\n0\r\n\r\n") },
		{ B("3\r\nabcd0\r\n\r\n"), B("3\r\nabc\n0\r\n\r\n") },
		{ B("2\r\nabc\r\n0\r\n\r\n"), B("3\r\nabc\r\n0\r\n\r\n") },
		/* a CR not followed by LF after the size or at the end */
		{ B("3\rabc\r\n0\r\n\r\n"), B("3\nabc\r\n0\r\n\r\n") },
		{ B("0\r\n\rX\n"), B("0\r\n\r\n") },
		/* control characters in an extension or a trailer */
		{ B("3;\x01\r\nabc\r\n0\r\n\r\n"), B("3;\t\r\nabc\r\n0\r\n\r\n") },
		{ B("0\r\nT: a\x01\r\n\r\n"), B("0\r\nT: a\t\r\n\r\n") },
		{ B("0\r\nT: a\0b\r\n\r\n"), B("0\r\nT: a b\r\n\r\n") },
		{ B("0\r\n\x1bT: a\r\n\r\n"), B("0\r\nT: a\r\n\r\n") },
		{ B("0\r\n\x01\r\n\r\n"), B("0\r\n!\r\n\r\n") },
		{ B("0\r\n\0\r\n\r\n"), B("0\r\n0\r\n\r\n") },
		{ B("3;\x7f\r\nabc\r\n0\r\n\r\n"), B("3;~\r\nabc\r\n0\r\n\r\n") },
		/* after the size's blanks only ';' or the line's end: "1 0" is
		 * neither 0x10 nor 1 */
		{ B("1 0\r\na\r\n0\r\n\r\n"), B("1 \t;0\r\na\r\n0\r\n\r\n") },
		/* a CR in a trailer only before its LF */
		{ B("0\r\nT: a\rb\r\n\r\n"), B("0\r\nT: ab\r\n\r\n") },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t used, made;
		int bad = decode(rows[i].bad.s, rows[i].bad.n, out, &used, &made);
		int bad_bytewise = decode_bytewise(rows[i].bad.s, rows[i].bad.n, out, &used, &made);
		int good = decode(rows[i].good.s, rows[i].good.n, out, &used, &made);

		if (bad != -1 || bad_bytewise != -1 || good != 1)
			print_message("row %zu: bad %d (bytewise %d) good %d\n", i, bad,
				      bad_bytewise, good);
		assert_int_equal(bad, -1);
		assert_int_equal(bad_bytewise, -1);
		assert_int_equal(good, 1);
		assert_int_equal(used, rows[i].good.n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal_head),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_no_headers),
		cmocka_unit_test(test_connection),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_early_refusal),
		cmocka_unit_test(test_head_max),
		cmocka_unit_test(test_many_headers),
		cmocka_unit_test(test_interim_then_final),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_chunked_one_piece),
		cmocka_unit_test(test_chunked_bytewise_and_split),
		cmocka_unit_test(test_chunked_forms),
		cmocka_unit_test(test_chunked_need_more),
		cmocka_unit_test(test_chunked_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
