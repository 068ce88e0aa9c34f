/* Fuzz target: HTTP/1.1 on the wire (src/net/http_wire.c), what an upstream
 * server sends down the kept connection: a response head parsed in place and
 * a chunked body decoded in place.
 *
 * Input layout (missing bytes count as 0):
 *   byte 0      seed of the harness's PRNG (split points, prefixes tried)
 *   byte 1      the longest piece the chunked body is fed in, less one
 *   byte 2      bit 0: pad, a filler header line of DBR_WIRE_HEAD_MAX - 128
 *               + byte 3 bytes put after the first line (heads around the
 *               cap without 64 KiB inputs)
 *   byte 3      the pad's length (see byte 2)
 *   the rest    the response: parsed as a head; its chunked body is what
 *               follows the head (all of it when it is no head)
 *
 * Properties (abort on violation), from src/net/http_wire.h:
 *   W1  parsing is deterministic (a second copy, a differently pre-filled
 *       head: the same result, fields and bytes) and reads nothing past len
 *       (exactly-sized copies, ASan with strict_string_checks: no str*
 *       function may look for a NUL after them); it returns -1, 0 or a
 *       length in 1..min(len, DBR_WIRE_HEAD_MAX);
 *   W2  0 leaves the buffer untouched; a head changes only bytes inside
 *       it, into NULs, and only line ends, a name's colon and the blanks
 *       after a value (CR, LF, ':', SP, HT); nothing after it;
 *   W3  a prefix of the input gives 0 or what the whole input gives (an
 *       incomplete head is never refused unless its start cannot be
 *       HTTP/1.x or it reached the cap, and then the longer input is refused
 *       too); every prefix shorter than a head gives 0, untouched;
 *   W4  a head keeps at most DBR_WIRE_HEADERS_MAX headers inside it: names
 *       non-empty tokens, values with no control character but tab, no CR or
 *       LF, no blank at either end;
 *   W5  the result is the reference reading's, the harness's own line by
 *       line reading of the rules http_wire.h states: refused or not, the
 *       head's end, status, minor version, every kept header (where it
 *       points), Content-Length, chunked, other coding, close;
 *   W6  decoding a chunked body in one call, in one call in place and in
 *       pieces (split at PRNG points, each piece decoded in place) gives the
 *       same result, the same body bytes and the same bytes consumed;
 *   W7  each call: made <= used <= n, 0 only with all n used, and once
 *       ended nothing more is taken;
 *   W8  the result, bytes consumed and body are the reference decoder's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "http_wire.h"

/* A str* function is checked to its string's end: buf is len bytes, not a
 * string (the unit tests run with the same option in scripts/test.sh). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "strict_string_checks=1";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_runtime_init();
	return 0;
}

/* ---- PRNG (xorshift32) ---- */

static uint32_t rs;

static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 17;
	rs ^= rs << 5;
	return rs;
}

static char *dup_exact(const char *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

/* ---- the reference reading of a head ---------------------------------------------------- */

enum { REF_REFUSED = -1, REF_INCOMPLETE = 0, REF_HEAD = 1, REF_EITHER = 2 };

struct span {
	size_t at, n;
};

struct ref_head {
	int verdict;
	size_t end;
	int minor;
	long status;
	struct span name[DBR_WIRE_HEADERS_MAX], value[DBR_WIRE_HEADERS_MAX];
	size_t n;
	int64_t content_length;
	int chunked, other_coding, close;
};

static int ref_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && memchr("!#$%&'*+-.^_`|~", c, 15));
}

static int ref_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int ref_is(const char *d, struct span s, const char *word)
{
	return s.n == strlen(word) && strncasecmp(d + s.at, word, s.n) == 0;
}

/* 1 if the comma-separated list s holds word (any case, blanks around an
 * element ignored). */
static int ref_list_has(const char *d, struct span s, const char *word)
{
	size_t i = s.at, stop = s.at + s.n;

	while (i < stop) {
		size_t a = i, b;

		while (i < stop && d[i] != ',')
			i++;
		b = i++;
		while (a < b && ref_blank((unsigned char)d[a]))
			a++;
		while (b > a && ref_blank((unsigned char)d[b - 1]))
			b--;
		if (ref_is(d, (struct span){ a, b - a }, word))
			return 1;
	}
	return 0;
}

/* The last coding of a Transfer-Encoding value (codings are separated by
 * commas or blanks); n == 0 when it names none. */
static struct span ref_last_coding(const char *d, struct span s)
{
	size_t b = s.at + s.n, a;

	while (b > s.at && (ref_blank((unsigned char)d[b - 1]) || d[b - 1] == ','))
		b--;
	a = b;
	while (a > s.at && !ref_blank((unsigned char)d[a - 1]) && d[a - 1] != ',')
		a--;
	return (struct span){ a, b - a };
}

static void ref_read_head(const char *d, size_t len, struct ref_head *r)
{
	size_t lim = len < DBR_WIRE_HEAD_MAX ? len : DBR_WIRE_HEAD_MAX, pos = 0, line = 0;
	int keep_alive = 0, te_codings = 0;
	struct span last = { 0, 0 };

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->verdict = REF_REFUSED;
	if (len && memcmp(d, "HTTP/1.", len < 7 ? len : 7) != 0)
		return;
	/* lines end in LF; the first empty one after the status line (or a
	 * lone CR before its LF) ends the head */
	for (;;) {
		const char *lf = memchr(d + pos, '\n', lim - pos);

		if (!lf)
			break;
		if (line > 0 && ((size_t)(lf - d) == pos ||
				 ((size_t)(lf - d) == pos + 1 && d[pos] == '\r'))) {
			r->end = (size_t)(lf - d) + 1;
			break;
		}
		pos = (size_t)(lf - d) + 1;
		line++;
	}
	if (!r->end) {
		r->verdict = len >= DBR_WIRE_HEAD_MAX ? REF_REFUSED : REF_INCOMPLETE;
		return;
	}
	if (memchr(d, '\0', r->end))
		return;
	pos = 0;
	for (line = 0;; line++) {
		size_t lf = (size_t)((const char *)memchr(d + pos, '\n', r->end - pos) - d), e = lf;
		struct span name, value;

		if (e > pos && d[e - 1] == '\r')
			e--;
		if (line == 0) {
			const char *s = d + pos;
			size_t n = e - pos;

			if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 ||
			    (s[7] != '0' && s[7] != '1') || s[8] != ' ' || s[9] < '1' ||
			    s[9] > '9' || s[10] < '0' || s[10] > '9' || s[11] < '0' ||
			    s[11] > '9' || (n > 12 && s[12] != ' '))
				return;
			for (size_t i = 13; i < n; i++)
				if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
					return;
			r->minor = s[7] - '0';
			r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
			pos = lf + 1;
			continue;
		}
		if (e == pos)
			break; /* the empty line */
		name.at = pos;
		while (pos < e && ref_tchar((unsigned char)d[pos]))
			pos++;
		name.n = pos - name.at;
		if (!name.n || pos == e || d[pos] != ':')
			return;
		pos++;
		while (pos < e && ref_blank((unsigned char)d[pos]))
			pos++;
		while (e > pos && ref_blank((unsigned char)d[e - 1]))
			e--;
		value = (struct span){ pos, e - pos };
		for (size_t i = pos; i < e; i++)
			if (((unsigned char)d[i] < 0x20 && d[i] != '\t') || d[i] == 0x7f)
				return;
		if (ref_is(d, name, "Content-Length")) {
			int64_t v = 0;
			size_t lead = 0;

			if (!value.n)
				return;
			for (size_t i = 0; i < value.n; i++)
				if (d[value.at + i] < '0' || d[value.at + i] > '9')
					return;
			while (lead < value.n && d[value.at + lead] == '0')
				lead++;
			/* the cap on a length is the parser's own choice */
			if (value.n - lead > 15) {
				r->verdict = REF_EITHER;
				return;
			}
			for (size_t i = 0; i < value.n; i++)
				v = v * 10 + (d[value.at + i] - '0');
			if (r->content_length >= 0 && r->content_length != v)
				return;
			r->content_length = v;
		} else if (ref_is(d, name, "Transfer-Encoding")) {
			/* several lines are one list; one naming no coding but not
			 * empty (",") is not chunked */
			if (value.n) {
				last = ref_last_coding(d, value);
				te_codings = 1;
			}
		} else if (ref_is(d, name, "Connection")) {
			if (ref_list_has(d, value, "close"))
				r->close = 1;
			if (ref_list_has(d, value, "keep-alive"))
				keep_alive = 1;
		}
		if (r->n < DBR_WIRE_HEADERS_MAX) {
			r->name[r->n] = name;
			r->value[r->n] = value;
			r->n++;
		}
		pos = lf + 1;
	}
	if (te_codings) {
		r->chunked = ref_is(d, last, "chunked");
		r->other_coding = !r->chunked;
		r->content_length = -1;
	}
	if ((r->minor == 0 && !keep_alive) || r->other_coding)
		r->close = 1;
	r->verdict = REF_HEAD;
}

/* ---- heads ------------------------------------------------------------------------------ */

static void check_same_heads(const struct dbr_wire_head *a, const char *abuf,
			     const struct dbr_wire_head *b, const char *bbuf)
{
	if (a->minor != b->minor || a->status != b->status || a->n != b->n ||
	    a->content_length != b->content_length || a->chunked != b->chunked ||
	    a->other_coding != b->other_coding || a->close != b->close)
		fuzz_fail("W1: two parses of the same head differ");
	for (size_t i = 0; i < a->n; i++)
		if (a->h[i].name - abuf != b->h[i].name - bbuf ||
		    a->h[i].value - abuf != b->h[i].value - bbuf)
			fuzz_fail("W1: header %zu is elsewhere in the second parse", i);
}

/* W3: prefix k of d gives 0 (untouched) or what the whole gives (r). */
static void check_prefix(const char *d, size_t k, long r, struct dbr_wire_head *h)
{
	char *p = dup_exact(d, k);
	long pr = dbr_wire_parse_head(p, k, h);

	if (r > 0 && (size_t)r > k && pr != 0)
		fuzz_fail("W3: a prefix of %zu bytes of a %ld-byte head gave %ld", k, r, pr);
	if (pr != 0 && pr != r)
		fuzz_fail("W3: a prefix of %zu bytes gave %ld, the whole %ld", k, pr, r);
	if (pr == 0 && k && memcmp(p, d, k) != 0)
		fuzz_fail("W2: an incomplete head (%zu bytes) was changed", k);
	free(p);
}

static void check_fields(const struct dbr_wire_head *h, const char *buf, long r)
{
	if (h->n > DBR_WIRE_HEADERS_MAX)
		fuzz_fail("W4: %zu headers kept", h->n);
	if (h->status < 100 || h->status > 999 || (h->minor != 0 && h->minor != 1))
		fuzz_fail("W4: status %ld, HTTP/1.%d", h->status, h->minor);
	for (size_t i = 0; i < h->n; i++) {
		const char *nm = h->h[i].name, *v = h->h[i].value;
		size_t vn;

		if (nm < buf || nm >= buf + r || v < buf || v >= buf + r ||
		    !memchr(nm, '\0', (size_t)(buf + r - nm)) ||
		    !memchr(v, '\0', (size_t)(buf + r - v)))
			fuzz_fail("W4: header %zu is not a string inside the head", i);
		if (!*nm)
			fuzz_fail("W4: header %zu has an empty name", i);
		for (const char *c = nm; *c; c++)
			if (!ref_tchar((unsigned char)*c))
				fuzz_fail("W4: header %zu's name holds 0x%02x", i,
					  (unsigned char)*c);
		for (const char *c = v; *c; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
				fuzz_fail("W4: header %zu's value holds 0x%02x", i,
					  (unsigned char)*c);
		vn = strlen(v);
		if (vn && (ref_blank((unsigned char)v[0]) || ref_blank((unsigned char)v[vn - 1])))
			fuzz_fail("W4: header %zu's value has a blank at an end", i);
	}
}

static void check_reference(const char *d, size_t len, long r, const struct dbr_wire_head *h,
			    const char *buf)
{
	static struct ref_head ref;

	ref_read_head(d, len, &ref);
	if (ref.verdict == REF_EITHER)
		return;
	if (ref.verdict == REF_HEAD ? r != (long)ref.end : r != ref.verdict)
		fuzz_fail("W5: parsed %ld, the reference reading %d (head end %zu)", r,
			  ref.verdict, ref.end);
	if (r <= 0)
		return;
	if (h->minor != ref.minor || h->status != ref.status || h->n != ref.n)
		fuzz_fail("W5: HTTP/1.%d %ld with %zu headers, the reference 1.%d %ld with %zu",
			  h->minor, h->status, h->n, ref.minor, ref.status, ref.n);
	for (size_t i = 0; i < h->n; i++)
		if (h->h[i].name != buf + ref.name[i].at ||
		    strlen(h->h[i].name) != ref.name[i].n ||
		    h->h[i].value != buf + ref.value[i].at ||
		    strlen(h->h[i].value) != ref.value[i].n)
			fuzz_fail("W5: header %zu is not the reference's", i);
	if (h->content_length != ref.content_length || h->chunked != ref.chunked ||
	    h->other_coding != ref.other_coding || h->close != ref.close)
		fuzz_fail("W5: length %lld chunked %d other %d close %d; the reference: "
			  "%lld %d %d %d", (long long)h->content_length, h->chunked,
			  h->other_coding, h->close, (long long)ref.content_length, ref.chunked,
			  ref.other_coding, ref.close);
}

/* The head's checks; its length, or <= 0. */
static long check_head(const char *d, size_t len)
{
	static struct dbr_wire_head h1, h2;
	char *b1 = dup_exact(d, len), *b2 = dup_exact(d, len);
	long r1, r2;

	memset(&h1, 0, sizeof(h1));
	memset(&h2, 0xa5, sizeof(h2));
	r1 = dbr_wire_parse_head(b1, len, &h1);
	r2 = dbr_wire_parse_head(b2, len, &h2);
	if (r1 != r2 || (len && memcmp(b1, b2, len) != 0))
		fuzz_fail("W1: two parses gave %ld and %ld", r1, r2);
	if (r1 < -1 || (r1 > 0 && ((size_t)r1 > len || r1 > (long)DBR_WIRE_HEAD_MAX)))
		fuzz_fail("W1: returned %ld for %zu bytes", r1, len);
	if (r1 == 0 && len && memcmp(b1, d, len) != 0)
		fuzz_fail("W2: an incomplete head was changed");
	if (r1 > 0) {
		check_same_heads(&h1, b1, &h2, b2);
		for (size_t i = 0; i < len; i++)
			if (b1[i] != d[i] && ((long)i >= r1 || b1[i] != '\0' ||
					      !memchr("\r\n: \t", d[i], 5)))
				fuzz_fail("W2: byte %zu changed from 0x%02x to 0x%02x (head %ld)",
					  i, (unsigned char)d[i], (unsigned char)b1[i], r1);
		check_fields(&h1, b1, r1);
	}
	check_reference(d, len, r1, &h1, b1);
	/* prefixes: the one just short of a head, half of it, and a few more */
	if (r1 > 0) {
		check_prefix(d, (size_t)r1 - 1, r1, &h2);
		check_prefix(d, (size_t)r1 / 2, r1, &h2);
	}
	for (int i = 0; i < 4 && len; i++)
		check_prefix(d, rnd() % len, r1, &h2);
	free(b1);
	free(b2);
	return r1;
}

/* ---- the reference chunked decoder ---------------------------------------------------- */

static int ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int ref_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* A line end at in[*i]: CRLF or LF. 1, 0 (the input ended), -1. */
static int ref_eol(const char *in, size_t n, size_t *i)
{
	if (*i < n && in[*i] == '\r')
		++*i;
	else if (*i < n && in[*i] != '\n')
		return -1;
	if (*i == n)
		return 0;
	if (in[*i] != '\n')
		return -1;
	++*i;
	return 1;
}

/* RFC 9112 section 7.1 as http_wire.h reads it, over the whole input at
 * once: 1 (ended: *used bytes), 0 (more needed), -1. */
static int ref_chunked(const char *in, size_t n, char *out, size_t *used, size_t *made)
{
	size_t i = 0, o = 0;
	int rc;

	*used = *made = 0;
	for (;;) {
		uint64_t size = 0;
		int digits = 0;

		for (; i < n && ref_hex((unsigned char)in[i]) >= 0; i++) {
			if (++digits > 15)
				return -1;
			size = size * 16 + (uint64_t)ref_hex((unsigned char)in[i]);
		}
		if (i == n)
			goto more;
		if (!digits)
			return -1;
		/* blanks, then an extension (anything but control characters)
		 * or the line's end */
		while (i < n && (in[i] == ' ' || in[i] == '\t'))
			i++;
		if (i == n)
			goto more;
		if (in[i] == ';') {
			for (i++; i < n && in[i] != '\r' && in[i] != '\n'; i++)
				if (ref_ctl((unsigned char)in[i]))
					return -1;
		}
		if ((rc = ref_eol(in, n, &i)) <= 0)
			goto end;
		if (!size)
			break;
		if (n - i < size) {
			memcpy(out + o, in + i, n - i);
			o += n - i;
			i = n;
			goto more;
		}
		memcpy(out + o, in + i, (size_t)size);
		o += (size_t)size;
		i += (size_t)size;
		if (i == n)
			goto more;
		if ((rc = ref_eol(in, n, &i)) <= 0)
			goto end;
	}
	/* trailer lines, up to an empty one; no control characters but tab */
	for (;;) {
		if (i == n)
			goto more;
		if (in[i] == '\r' || in[i] == '\n') {
			if ((rc = ref_eol(in, n, &i)) <= 0)
				goto end;
			*used = i;
			*made = o;
			return 1;
		}
		for (; i < n && in[i] != '\n' && in[i] != '\r'; i++)
			if (ref_ctl((unsigned char)in[i]))
				return -1;
		/* the line's end: a CR only before its LF */
		if ((rc = ref_eol(in, n, &i)) <= 0)
			goto end;
	}
end:
	if (rc < 0)
		return -1;
more:
	*used = n;
	*made = o;
	return 0;
}

/* ---- chunked ---------------------------------------------------------------------------- */

/* One call, with W7's checks. */
static int feed(struct dbr_wire_chunked *c, const char *in, size_t n, char *out, size_t *used,
		size_t *made)
{
	int rc;

	*used = *made = (size_t)-1;
	rc = dbr_wire_chunked_feed(c, in, n, out, used, made);
	if (rc < -1 || rc > 1)
		fuzz_fail("W7: returned %d", rc);
	if (rc < 0)
		return rc;
	if (*made > *used || *used > n || (rc == 0 && *used != n))
		fuzz_fail("W7: rc %d used %zu made %zu of %zu", rc, *used, *made, n);
	if (rc == 1 && *used < n) {
		/* ended: what follows is the next answer's */
		size_t u = 1, m = 1;

		if (dbr_wire_chunked_feed(c, in + *used, n - *used, out, &u, &m) != 1 || u || m)
			fuzz_fail("W7: %zu more bytes after the end: used %zu made %zu", n - *used,
				  u, m);
	}
	return rc;
}

static void check_chunked(const char *d, size_t n, size_t max_piece)
{
	struct dbr_wire_chunked c1 = { 0 }, c2 = { 0 }, c3 = { 0 };
	char *in1 = dup_exact(d, n), *out1 = malloc(n ? n : 1), *in2 = dup_exact(d, n);
	char *out3 = malloc(n ? n : 1), *outr = malloc(n ? n : 1);
	size_t used1, made1, used2, made2, used3 = 0, made3 = 0, usedr, mader, at = 0;
	int rc1, rc2, rc3 = 0, rcr;

	if (!out1 || !out3 || !outr)
		abort();
	rc1 = feed(&c1, in1, n, out1, &used1, &made1);
	rc2 = feed(&c2, in2, n, in2, &used2, &made2);
	/* in pieces, each from its own exactly-sized copy, decoded in place */
	while (at < n && rc3 == 0) {
		size_t k = 1 + rnd() % max_piece, used, made;
		char *piece;

		if (k > n - at)
			k = n - at;
		piece = dup_exact(d + at, k);
		rc3 = feed(&c3, piece, k, piece, &used, &made);
		if (rc3 >= 0) {
			memcpy(out3 + made3, piece, made);
			used3 += used;
			made3 += made;
		}
		free(piece);
		at += k;
	}
	if (rc1 != rc2 || rc1 != rc3)
		fuzz_fail("W6: one call %d, in place %d, in pieces %d", rc1, rc2, rc3);
	if (rc1 >= 0 && (used1 != used2 || used1 != used3 || made1 != made2 || made1 != made3 ||
			 memcmp(out1, in2, made1) != 0 || memcmp(out1, out3, made1) != 0))
		fuzz_fail("W6: used %zu/%zu/%zu made %zu/%zu/%zu, or other bytes", used1, used2,
			  used3, made1, made2, made3);
	rcr = ref_chunked(d, n, outr, &usedr, &mader);
	if (rc1 != rcr || (rc1 >= 0 && (used1 != usedr || made1 != mader ||
					memcmp(out1, outr, made1) != 0)))
		fuzz_fail("W8: rc %d used %zu made %zu; the reference: %d %zu %zu", rc1,
			  rc1 >= 0 ? used1 : 0, rc1 >= 0 ? made1 : 0, rcr, usedr, mader);
	free(in1);
	free(out1);
	free(in2);
	free(out3);
	free(outr);
}

/* ---- the input -------------------------------------------------------------------------- */

/* The response with a pad line of padlen bytes after its first line. */
static char *padded(const uint8_t *p, size_t n, size_t padlen, size_t *len)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t first = lf ? (size_t)(lf - p) + 1 : n;
	char *b = malloc(n + padlen);

	if (!b)
		abort();
	memcpy(b, p, first);
	memcpy(b + first, "X-Pad: ", 7);
	memset(b + first + 7, 'a', padlen - 9);
	memcpy(b + first + padlen - 2, "\r\n", 2);
	memcpy(b + first + padlen, p + first, n - first);
	*len = n + padlen;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t seed = fuzz_byte_or(&in, 0), piece = fuzz_byte_or(&in, 0);
	uint8_t flags = fuzz_byte_or(&in, 0), pad = fuzz_byte_or(&in, 0);
	char *resp;
	size_t len;
	long head;

	rs = 0x9e3779b9u ^ (uint32_t)seed * 0x01000193u;
	if (flags & 1) {
		resp = padded(in.p, in.n, DBR_WIRE_HEAD_MAX - 128 + pad, &len);
	} else {
		resp = dup_exact((const char *)in.p, in.n);
		len = in.n;
	}
	head = check_head(resp, len);
	if (head > 0)
		check_chunked(resp + head, len - (size_t)head, (size_t)piece + 1);
	else
		check_chunked(resp, len, (size_t)piece + 1);
	free(resp);
	return 0;
}
