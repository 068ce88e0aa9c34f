/* The --debug trace of the HTTP client: libcurl's debug callback, with
 * header lines reassembled whole, credential headers blanked and bodies
 * logged in one piece, all through the log's masker. */
#include "http_internal.h"

#include <string.h>
#include <strings.h>

#include "dbroker/bytes.h"

#include "dbroker/log.h"
#include "banned.h"

static void trace_text(struct dbr_http_trace *t, struct dbr_buf *b)
{
	dbr_http_scrub_credential(b, t->req);
	if (b->len)
		dbr_log_write(t->log, DBR_LOG_DEBUG, b->data, b->len);
}

/* One complete line: headers that carry credentials lose their value. */
static void trace_line(struct dbr_http_trace *t, int dir)
{
	static const char *const prefix[DBR_TRACE_NLINE] = { "* ", "< ", "> " };
	static const char *const masked[] = { "Cookie", "Set-Cookie" };
	struct dbr_buf *l = &t->line[dir];
	struct dbr_buf out = DBR_BUF_INIT_WIPE(DBR_HTTP_TRACE_LINE_MAX + 16);
	size_t n = l->len;
	const char *colon;

	while (n && (l->data[n - 1] == '\n' || l->data[n - 1] == '\r'))
		n--;
	if (!n)
		return;
	l->data[n] = '\0';
	colon = dir != DBR_TRACE_TEXT ? memchr(l->data, ':', n) : NULL;
	if (colon && colon != l->data) {
		size_t nlen = (size_t)(colon - l->data);
		char name[257];
		int hide = 0;

		if (nlen < sizeof(name)) {
			memcpy(name, l->data, nlen);
			name[nlen] = '\0';
			hide = dbr_http_is_credential_header(t->req, name);
			for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++)
				hide |= strcasecmp(name, masked[i]) == 0;
		}
		if (hide)
			n = nlen + 1;
		if (dbr_buf_addstr(&out, prefix[dir]) || dbr_buf_add(&out, l->data, n) ||
		    (hide && dbr_buf_addstr(&out, " ***")))
			goto out;
	} else if (dbr_buf_addstr(&out, prefix[dir]) || dbr_buf_add(&out, l->data, n)) {
		goto out;
	}
	trace_text(t, &out);
out:
	dbr_buf_release(&out);
}

/* libcurl hands header blocks over in pieces: log only whole lines. */
static void trace_lines(struct dbr_http_trace *t, int dir, const char *p, size_t n)
{
	struct dbr_buf *l = &t->line[dir];

	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;

		if (!t->skip[dir] && dbr_buf_add(l, p, take)) {
			dbr_buf_reset(l);
			t->skip[dir] = 1;
			dbr_log_msg(t->log, DBR_LOG_DEBUG,
				    "(a trace line over %u bytes was left out)", DBR_HTTP_TRACE_LINE_MAX);
		}
		if (nl) {
			if (!t->skip[dir])
				trace_line(t, dir);
			dbr_buf_reset(l);
			t->skip[dir] = 0;
		}
		p += take;
		n -= take;
	}
}

static int is_token_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr("+/=._~%-", ch));
}

/* Log a captured body in one piece so the masker sees it whole. */
static void trace_body_flush(struct dbr_http_trace *t, int dir)
{
	const char *arrow = dir == DBR_TRACE_BODY_IN ? "<" : ">";
	struct dbr_buf *b = &t->body[dir];
	size_t total = t->body_total[dir], shown, j = 0;

	if (!total)
		return;
	if (!b->data) {
		dbr_log_msg(t->log, DBR_LOG_DEBUG, "%s body: %zu bytes, not shown (out of memory)",
			    arrow, total);
		t->body_total[dir] = 0;
		return;
	}
	if (dir == DBR_TRACE_BODY_IN && t->req->secret_response) {
		dbr_log_msg(t->log, DBR_LOG_DEBUG, "< body: %zu bytes, not shown (it holds a secret)",
			    total);
		dbr_buf_reset(b);
		t->body_total[dir] = 0;
		return;
	}
	if (dir == DBR_TRACE_BODY_OUT && t->req->secret_body) {
		dbr_log_msg(t->log, DBR_LOG_DEBUG, "> body: %zu bytes, not shown (it holds a secret)",
			    total);
		t->body_total[dir] = 0;
		return;
	}
	shown = b->len;
	/* cut short: drop a trailing run that could be the start of a token,
	 * so nothing is truncated that the masker would have caught whole */
	if (total > shown)
		while (shown && is_token_char((unsigned char)b->data[shown - 1]))
			shown--;
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)b->data[i];

		if (ch == '\r')
			continue;
		b->data[j++] = (ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f ? '.' : (char)ch;
	}
	dbr_wipe(b->data + j, b->len - j);
	b->len = j;
	b->data[j] = '\0';
	dbr_log_msg(t->log, DBR_LOG_DEBUG, "%s body: %zu bytes", arrow, total);
	trace_text(t, b);
	if (total > shown)
		dbr_log_msg(t->log, DBR_LOG_DEBUG, "%s (body cut: %zu of %zu bytes shown)", arrow,
			    shown, total);
	dbr_buf_reset(b);
	t->body_total[dir] = 0;
}

static void trace_body(struct dbr_http_trace *t, int dir, const char *p, size_t n)
{
	size_t room = DBR_HTTP_TRACE_BODY_MAX - t->body[dir].len;

	t->body_total[dir] += n;
	if (room)
		dbr_buf_add(&t->body[dir], p, n < room ? n : room);
}

int dbr_http_trace_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct dbr_http_trace *t = arg;

	(void)h;
	switch (type) {
	case CURLINFO_TEXT:
		trace_lines(t, DBR_TRACE_TEXT, data, size);
		break;
	case CURLINFO_HEADER_IN:
		trace_body_flush(t, DBR_TRACE_BODY_OUT);
		trace_lines(t, DBR_TRACE_HDR_IN, data, size);
		break;
	case CURLINFO_HEADER_OUT:
		trace_lines(t, DBR_TRACE_HDR_OUT, data, size);
		break;
	case CURLINFO_DATA_IN:
		trace_body(t, DBR_TRACE_BODY_IN, data, size);
		break;
	case CURLINFO_DATA_OUT:
		trace_body(t, DBR_TRACE_BODY_OUT, data, size);
		break;
	default:
		/* SSL_DATA_*: raw TLS records, never logged */
		break;
	}
	return 0;
}

void dbr_http_trace_finish(struct dbr_http_trace *t)
{
	if (!t->log)
		return;
	for (int d = 0; d < DBR_TRACE_NLINE; d++) {
		if (t->line[d].len && !t->skip[d])
			trace_line(t, d);
		dbr_buf_reset(&t->line[d]);
		t->skip[d] = 0;
	}
	trace_body_flush(t, DBR_TRACE_BODY_OUT);
	trace_body_flush(t, DBR_TRACE_BODY_IN);
}

void dbr_http_trace_init(struct dbr_http_trace *t, const struct dbr_http_request *r)
{
	memset(t, 0, sizeof(*t));
	t->req = r;
	if (r->trace && dbr_log_enabled(r->trace, DBR_LOG_DEBUG))
		t->log = r->trace;
	for (int d = 0; d < DBR_TRACE_NLINE; d++)
		dbr_buf_init(&t->line[d], DBR_HTTP_TRACE_LINE_MAX, 1);
	for (int d = 0; d < DBR_TRACE_NBODY; d++)
		dbr_buf_init(&t->body[d], DBR_HTTP_TRACE_BODY_MAX, 1);
}

void dbr_http_trace_release(struct dbr_http_trace *t)
{
	for (int d = 0; d < DBR_TRACE_NLINE; d++)
		dbr_buf_release(&t->line[d]);
	for (int d = 0; d < DBR_TRACE_NBODY; d++)
		dbr_buf_release(&t->body[d]);
}
