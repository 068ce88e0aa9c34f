/* The exec proxy's check of a request's head as libmicrohttpd parsed it:
 * what the proxy would read one way and pass on, re-framed by libcurl, in
 * another (RFC 9112 sections 3.2, 5.2, 6.3; RFC 9110 section 5.5). */
#include "proxy_internal.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "http_wire.h"
#include "banned.h"

struct head_scan {
	int layout;              /* libmicrohttpd 0.9: the head parsed in place */
	const char *prev_end;    /* the NUL that ends the previous value */
	unsigned hosts, codings, lengths;
	const char *length;      /* the first Content-Length */
	const struct proxy_refusal *why;
};

static const struct proxy_refusal folded = {
	"a folded header line",
	"a header line starts with a space or tab, continuing the one before it (obsolete line "
	"folding): send each header on a line of its own"
};
static const struct proxy_refusal control = {
	"a control character in a header",
	"a header holds a NUL, a carriage return or another control character: send header "
	"values without them"
};
static const struct proxy_refusal bad_name = {
	"a malformed header name",
	"a header name is empty or holds a character a name cannot have (a space before the "
	"colon?): send each header as 'Name: value'"
};
static const struct proxy_refusal two_hosts = {
	"more than one Host header", "the request has more than one Host header: send one"
};
static const struct proxy_refusal two_lengths = {
	"Content-Length headers that differ",
	"the request has Content-Length headers that differ: send one"
};
static const struct proxy_refusal length_and_coding = {
	"both Content-Length and Transfer-Encoding",
	"the request has both Content-Length and Transfer-Encoding, so where its body ends is "
	"not clear: send one of them"
};
static const struct proxy_refusal two_codings = {
	"more than one Transfer-Encoding header",
	"the request has more than one Transfer-Encoding header: send one, 'chunked'"
};

/* libmicrohttpd 0.9 parses the head in place: a name, the NUL that
 * replaced its colon, blanks, its value, the value's NUL (the LF, or the
 * CR and the LF), then the next line. It cannot be told about obs-fold: it
 * glues a folded line to the name, copied elsewhere ("X-A: a\r\n\tb" is
 * read as "X-Ab: a"), and a NUL ends a value early ("a\0b" is read as
 * "a"). Either breaks that layout, which is all that is left to see of
 * them. WARNING: this knows how 0.9 keeps headers; it runs only there.
 * All pointers compared lie in the connection's one memory pool. */
static int out_of_place(const char *name, const char *value)
{
	uintptr_t p = (uintptr_t)name + strlen(name) + 1, v = (uintptr_t)value;

	if (v < p)
		return 1;
	for (; p < v; p++)
		if (*(const char *)p != ' ' && *(const char *)p != '\t')
			return 1;
	return 0;
}

/* The line after a value starts right after the value's NUL or NULs: one
 * further on, a NUL ended the value inside its line. For the last header,
 * the next line is the empty one. */
static int cut_short(const char *prev_end, const char *next)
{
	if (!next)
		return prev_end[1] != '\0';
	return !((uintptr_t)next == (uintptr_t)prev_end + 1 ||
		 ((uintptr_t)next == (uintptr_t)prev_end + 2 && prev_end[1] == '\0'));
}

static enum MHD_Result scan(void *cls, enum MHD_ValueKind kind, const char *name,
			    const char *value)
{
	struct head_scan *s = cls;

	(void)kind;
	value = value ? value : "";
	if (s->layout && out_of_place(name, value))
		s->why = &folded;
	else if (s->layout && s->prev_end && cut_short(s->prev_end, name))
		s->why = &control;
	else if (!dbr_wire_is_token(name))
		s->why = &bad_name;
	else if (dbr_wire_has_ctl(value))
		s->why = &control;
	if (s->why)
		return MHD_NO;
	s->prev_end = value + strlen(value);
	if (strcasecmp(name, "Host") == 0 && ++s->hosts > 1)
		s->why = &two_hosts;
	else if (strcasecmp(name, "Transfer-Encoding") == 0 && ++s->codings > 1)
		s->why = &two_codings;
	else if (strcasecmp(name, "Content-Length") == 0) {
		if (s->lengths++ == 0)
			s->length = value;
		else if (strcmp(value, s->length) != 0)
			s->why = &two_lengths;
	}
	return s->why ? MHD_NO : MHD_YES;
}

const struct proxy_refusal *proxy_request_malformed(struct MHD_Connection *conn)
{
	struct head_scan s;
	const char *version = MHD_get_version();

	memset(&s, 0, sizeof(s));
	s.layout = version && strncmp(version, "0.9.", 4) == 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, scan, &s);
	if (!s.why && s.layout && s.prev_end && cut_short(s.prev_end, NULL))
		s.why = &control;
	if (!s.why && s.lengths && s.codings)
		s.why = &length_and_coding;
	return s.why;
}
