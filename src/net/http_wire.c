/* HTTP/1.1 response heads and chunked bodies (http_wire.h). */
#include "http_wire.h"

#include <string.h>
#include <strings.h>

#include "banned.h"

/* A control character (DEL too) other than tab: never in a value, a
 * reason phrase, a chunk extension or a trailer. */
static int is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* RFC 9110 token characters (a header name). */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

int dbr_wire_is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

int dbr_wire_has_ctl(const char *s)
{
	for (; *s; s++)
		if (is_ctl((unsigned char)*s))
			return 1;
	return 0;
}

/* The end of the head (the byte after its empty line) in buf[0..len), or 0.
 * Lines end in LF, optionally preceded by CR. */
static size_t head_end(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		p++;
		if (p < end && *p == '\n')
			return (size_t)(p + 1 - buf);
		if (p + 1 < end && p[0] == '\r' && p[1] == '\n')
			return (size_t)(p + 2 - buf);
		if (p >= end || (p + 1 >= end && *p == '\r'))
			break;
	}
	return 0;
}

/* Cut the line at p (its LF, and a CR before it, become NULs); returns the
 * next line. The LF is found before end, the head's: buf is len bytes, not a
 * string, so no NUL need follow it. */
static char *cut_line(char *p, const char *end)
{
	char *lf = memchr(p, '\n', (size_t)(end - p));

	*lf = '\0';
	if (lf > p && lf[-1] == '\r')
		lf[-1] = '\0';
	return lf + 1;
}

int dbr_wire_content_length(const char *v, size_t n, int64_t *len)
{
	enum { BEFORE, IN, AFTER } at = BEFORE; /* where in an element */
	int rc = DBR_WIRE_LENGTH_ONE, elements = 0;
	int64_t cur = 0;

	*len = 0;
	/* the end closes the last element as a comma would */
	for (size_t i = 0; i <= n; i++) {
		char ch = i < n ? v[i] : ',';

		if (ch >= '0' && ch <= '9') {
			if (at == AFTER || cur > (INT64_MAX - 9) / 10)
				return DBR_WIRE_LENGTH_BAD;
			cur = cur * 10 + (ch - '0');
			at = IN;
		} else if (ch == ',') {
			if (i < n)
				rc = DBR_WIRE_LENGTH_LIST;
			if (at == BEFORE)
				continue; /* an empty element */
			if (elements++ && cur != *len)
				return DBR_WIRE_LENGTH_DIFFER;
			*len = cur;
			cur = 0;
			at = BEFORE;
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			if (at == IN)
				at = AFTER;
		} else {
			return DBR_WIRE_LENGTH_BAD;
		}
	}
	return elements ? rc : DBR_WIRE_LENGTH_BAD;
}

/* 1 if the comma-separated list v holds the token t (any case). */
static int list_has(const char *v, const char *t)
{
	size_t n = strlen(t);

	while (*v) {
		size_t len;

		v += strspn(v, " \t,");
		len = strcspn(v, ",");
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(v, t, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

/* The last coding of a Transfer-Encoding list is chunked. */
static int ends_chunked(const char *v)
{
	size_t len = strlen(v);

	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == ','))
		len--;
	return len >= 7 && strncasecmp(v + len - 7, "chunked", 7) == 0 &&
	       (len == 7 || v[len - 8] == ' ' || v[len - 8] == ',' || v[len - 8] == '\t');
}

/* The status line: "HTTP/1.x NNN[ reason]". 0 or -1. */
static int status_line(const char *s, struct dbr_wire_head *h)
{
	if (strncmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return -1;
	h->minor = s[7] - '0';
	s += 9;
	if (s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    (s[3] != ' ' && s[3] != '\0'))
		return -1;
	h->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	for (s += 3; *s; s++)
		if (is_ctl((unsigned char)*s))
			return -1;
	return 0;
}

/* One header line, cut in place into name and value. 0 or -1. */
static int header_line(char *line, struct dbr_wire_head *h, int *keep_alive)
{
	char *colon = line, *v, *end;
	int64_t n;

	while (is_tchar((unsigned char)*colon))
		colon++;
	if (colon == line || *colon != ':')
		return -1; /* no name, a space before the colon, or a folded line */
	*colon = '\0';
	v = colon + 1;
	v += strspn(v, " \t");
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	for (const char *c = v; *c; c++)
		if (is_ctl((unsigned char)*c))
			return -1;
	if (strcasecmp(line, "Content-Length") == 0) {
		/* one decimal number: a list, even "5, 5", is malformed here */
		if (dbr_wire_content_length(v, strlen(v), &n) != DBR_WIRE_LENGTH_ONE ||
		    (h->content_length >= 0 && h->content_length != n))
			return -1;
		h->content_length = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		/* several lines are one list whose last coding decides: a later
		 * line overrides ("chunked" then "gzip" runs to the close) */
		if (ends_chunked(v)) {
			h->chunked = 1;
			h->other_coding = 0;
		} else if (*v) {
			h->chunked = 0;
			h->other_coding = 1;
		}
	} else if (strcasecmp(line, "Connection") == 0) {
		if (list_has(v, "close"))
			h->close = 1;
		if (list_has(v, "keep-alive"))
			*keep_alive = 1;
	}
	if (h->n < DBR_WIRE_HEADERS_MAX) {
		h->h[h->n].name = line;
		h->h[h->n].value = v;
		h->n++;
	}
	return 0;
}

long dbr_wire_parse_head(char *buf, size_t len, struct dbr_wire_head *h)
{
	size_t end, scan = len < DBR_WIRE_HEAD_MAX ? len : DBR_WIRE_HEAD_MAX;
	char *p, *stop;
	int keep_alive = 0;

	/* what cannot start a response fails at once, not after 64 KiB */
	if (len && memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
		return -1;
	end = head_end(buf, scan);
	if (!end)
		return len >= DBR_WIRE_HEAD_MAX ? -1 : 0;
	/* a NUL inside the head would hide the rest of a line */
	if (memchr(buf, '\0', end))
		return -1;
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	/* the empty line that ends the head starts here; every line before it
	 * ends in LF, so each cut stays inside the head */
	stop = buf + end - (end >= 2 && buf[end - 2] == '\r' ? 2 : 1);
	p = cut_line(buf, buf + end);
	if (status_line(buf, h))
		return -1;
	while (p < stop) {
		char *next = cut_line(p, buf + end);

		if (header_line(p, h, &keep_alive))
			return -1;
		p = next;
	}
	if (h->chunked || h->other_coding)
		h->content_length = -1; /* Transfer-Encoding overrides it */
	if (h->minor == 0 && !keep_alive)
		h->close = 1;
	/* a coding dbroker cannot decode: read to the end, then close */
	if (h->other_coding && !h->chunked)
		h->close = 1;
	return (long)end;
}

int dbr_wire_no_body(const char *method, long status)
{
	return (method && strcmp(method, "HEAD") == 0) || (status >= 100 && status <= 199) ||
	       status == 204 || status == 304;
}

/* ---- chunked ---------------------------------------------------------------------- */

enum {
	CH_SIZE,      /* hex digits of a chunk size */
	CH_SIZE_BWS,  /* blanks after the size: then only ';' or the line's end */
	CH_EXT,       /* a chunk extension, up to the line's end */
	CH_SIZE_LF,   /* the LF after the size line's CR */
	CH_DATA,      /* left bytes of data */
	CH_DATA_CR,   /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,   /* the start of a trailer line, or the final empty line */
	CH_TRAILER_LINE,
	CH_TRAILER_LF, /* the LF after a trailer line's CR */
	CH_END_LF,    /* the LF of the final empty line */
	CH_DONE,
};

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The size line ended: data follows, or the trailers after the last chunk. */
static void size_done(struct dbr_wire_chunked *c)
{
	c->state = c->left ? CH_DATA : CH_TRAILER;
}

int dbr_wire_chunked_feed(struct dbr_wire_chunked *c, const char *in, size_t n, char *out,
			  size_t *used, size_t *made)
{
	size_t i = 0, o = 0;
	int rc = 0;

	while (i < n && rc == 0) {
		unsigned char ch = (unsigned char)in[i];
		int v;

		switch (c->state) {
		case CH_SIZE:
			if ((v = hexval(ch)) >= 0) {
				/* 15 hex digits: far past any body dbroker takes */
				if (++c->digits > 15)
					return -1;
				c->left = c->left * 16 + (uint64_t)v;
			} else if (c->digits == 0) {
				return -1;
			} else if (ch == ';') {
				c->state = CH_EXT;
			} else if (ch == ' ' || ch == '\t') {
				c->state = CH_SIZE_BWS;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (ch == '\n') {
				size_done(c);
			} else {
				return -1;
			}
			i++;
			break;
		case CH_SIZE_BWS:
			/* "1 0" is not a size of 0x10, nor 1 with an extension */
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n')
				size_done(c);
			else if (ch != ' ' && ch != '\t')
				return -1;
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n')
				size_done(c);
			else if (is_ctl(ch))
				return -1;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -1;
			size_done(c);
			i++;
			break;
		case CH_DATA: {
			size_t k = n - i;

			if (k > c->left)
				k = (size_t)c->left;
			memmove(out + o, in + i, k);
			o += k;
			i += k;
			c->left -= k;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				return -1;
			c->digits = 0;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -1;
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			if (ch == '\r') {
				c->state = CH_END_LF;
			} else if (ch == '\n') {
				c->state = CH_DONE;
				rc = 1;
			} else if (is_ctl(ch)) {
				return -1; /* a trailer line's first byte is checked too */
			} else {
				c->state = CH_TRAILER_LINE;
			}
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				c->state = CH_TRAILER;
			else if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (is_ctl(ch))
				return -1;
			i++;
			break;
		case CH_TRAILER_LF:
			/* a CR only before the LF: a bare one ends no line */
			if (ch != '\n')
				return -1;
			c->state = CH_TRAILER;
			i++;
			break;
		case CH_END_LF:
			if (ch != '\n')
				return -1;
			c->state = CH_DONE;
			rc = 1;
			i++;
			break;
		default:
			rc = 1;
			break;
		}
	}
	if (c->state == CH_DONE)
		rc = 1;
	*used = i;
	*made = o;
	return rc;
}
